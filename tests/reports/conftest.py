"""Fixtures of the report tests: hand-made run directories from simulated results tables.

``write_run(dir, results, **manifest_overrides)`` writes ``results.parquet`` and a
``manifest.json`` shaped like :func:`harness.runner.run_matrix`'s (a hand-made one: the
report tests must not train anything).  Real runs are built once per session by the browser
tests (``smoke_run`` fixture in ``test_report_browser.py``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

TIERS = {"en": "high", "de": "high", "sw": "low", "yo": "low"}
METHODS = ("zero-shot", "bm25", "ot-distill", "contrastive")


def simulated_results(
    seed: int = 0,
    *,
    methods=METHODS,
    n_seeds: int = 3,  # the question states intervals from 3 seeds on (harness.stats.question.MIN_UNITS)
    n_queries: int = 40,
    shift: dict[str, float] | None = None,
    metrics=("ndcg@10", "recall@100"),
) -> pd.DataFrame:
    """A results table with a high/low tier gap, seed and query noise (harness.stats' simulator)."""
    from harness.stats.simulate import SimulationDesign, simulate_results

    design = SimulationDesign(
        methods=tuple(methods),
        tiers=dict(TIERS),
        n_queries=n_queries,
        n_seeds=n_seeds,
        sd={
            "language": 0.03,
            "method_x_language": 0.02,
            "seed": 0.01,
            "seed_x_language": 0.005,
            "query": 0.2,
            "method_x_query": 0.08,
            "seed_x_query": 0.05,
        },
        mean=0.45,
        method_effects=dict(shift or {}),
        tier_effects={"low": -0.1},
        method_tier_effects={("ot-distill", "low"): 0.04, ("contrastive", "low"): 0.02},
        metrics=tuple(metrics),
        clip=True,
        grid=1 / 64,
    )
    return simulate_results(design, np.random.default_rng(seed)).results


def hand_manifest(results: pd.DataFrame, **overrides: Any) -> dict[str, Any]:
    """A manifest with every field the runner writes, filled from ``results``."""
    methods = sorted(results["method"].unique())
    seeds = sorted(int(s) for s in results["seed"].unique())
    langs = sorted(results["language"].unique())
    tiers = dict(zip(results["language"], results["tier"]))
    config = {
        "name": "hand",
        "description": "hand-made",
        "seeds": seeds,
        "metrics": sorted(results["metric"].unique()),
        "device": "cpu",
        "top_k": 100,
        "benchmark": {"name": "synthetic", "seed": 13},
        "methods": {m: {} for m in methods},
        "question": {"treatment": "ot-distill", "comparator": "contrastive", "baseline": "zero-shot"},
        "analysis": {
            "primary_metric": "ndcg@10",
            "alpha": 0.05,
            "ci_level": 0.95,
            "n_permutations": 999,
            "n_bootstrap": 200,
            "correction": "holm",
            "seed": 0,
            "high_tier": "high",
            "low_tier": "low",
        },
        "output": {"dir": "harness-runs"},
    }
    manifest: dict[str, Any] = {
        "harness_version": "0.1.0",
        "status": "complete",
        "name": "hand",
        "started": "2026-01-01T00:00:00+00:00",
        "finished": "2026-01-01T00:01:00+00:00",
        "seconds": 60.0,
        "command": "harness run hand.toml",
        "reproduce": "harness run /runs/hand/config.toml --out /runs/hand",
        "config": config,
        "config_sha256": "0" * 64,
        "config_source": "hand.toml",
        "seeds": seeds,
        "metrics": config["metrics"],
        "benchmark": {
            "name": "synthetic",
            "pivot": "en",
            "languages": langs,
            "tiers": tiers,
            "synthetic": True,
            "generator_version": "1",
            "parameters": {"seed": 13},
        },
        "dataset_fingerprints": {"benchmark": "f" * 64, "languages": {lang: lang * 32 for lang in langs}},
        "methods": {
            m: {
                "version": "1.0",
                "kind": "dense",
                "distribution": "xling-harness 0.1.0",
                "description": f"the {m} method",
                "citation": "@misc{x}",
                "options": {"lr": 1e-4},
            }
            for m in methods
        },
        "device": "cpu",
        "python": "3.12.0",
        "platform": "Linux",
        "accelerator": {"cuda_available": False},
        "packages": {"numpy": "2.0", "torch": None},
        "cache_root": "/tmp/cache",
        "cells": [
            {"method": m, "seed": s, "status": "done", "from_cache": False, "timings": {"fit": 1.0, "retrieve": 0.5}}
            for m in methods
            for s in seeds
        ],
        "failed_cells": [],
    }
    for k, v in overrides.items():
        manifest[k] = v
    return manifest


def write_run(run_dir: Path, results: pd.DataFrame, **overrides: Any) -> Path:
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    results.to_parquet(run_dir / "results.parquet", index=False)
    (run_dir / "manifest.json").write_text(json.dumps(hand_manifest(results, **overrides), indent=1))
    return run_dir


@pytest.fixture
def sim_results() -> pd.DataFrame:
    return simulated_results()


@pytest.fixture(scope="session")
def make_results():
    """``make_results(seed=0, **design)``: a simulated results table (see :func:`simulated_results`)."""
    return simulated_results


@pytest.fixture(scope="session")
def make_run():
    """``make_run(dir, results, **manifest_overrides)``: a hand-made run directory."""
    return write_run


@pytest.fixture(scope="session")
def make_manifest():
    return hand_manifest
