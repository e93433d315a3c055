"""What a run directory's ``manifest.json`` records: config, versions, platform, data fingerprints, cells.

:func:`build_manifest` is the manifest of a run as it starts (``"status": "running"``, every
cell ``"pending"``); :func:`harness.runner.run_matrix` updates it as cells finish and when the
run ends.
"""

from __future__ import annotations

import os
import platform
import shlex
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from harness.cache import Cache
from harness.config import HarnessConfig
from harness.engine import Engine

PACKAGES = (
    "xling-harness",
    "torch",
    "transformers",
    "tokenizers",
    "ranx",
    "ir_datasets",
    "POT",
    "statsmodels",
    "scipy",
    "numpy",
    "pandas",
    "pyarrow",
    "bm25s",
    "jinja2",
    "pydantic",
    "matplotlib",
    "numba",
    "ray",
)


def package_versions() -> dict[str, str | None]:
    from importlib import metadata

    out: dict[str, str | None] = {}
    for p in PACKAGES:
        try:
            out[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            out[p] = None
    return out


def accelerator() -> dict[str, Any]:
    import torch

    info: dict[str, Any] = {
        "cuda_available": torch.cuda.is_available(),
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
    }
    if torch.cuda.is_available():
        info["cuda_device"] = torch.cuda.get_device_name(0)
        info["cuda_version"] = torch.version.cuda
    return info


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def command_line(config: HarnessConfig, run_dir: Path) -> str:
    return f"harness run {shlex.quote(str(run_dir / 'config.toml'))} --out {shlex.quote(str(run_dir))}"


def build_manifest(
    config: HarnessConfig, engine: Engine, run_dir: Path, cache: Cache, preflight: dict[str, Any]
) -> dict[str, Any]:
    """The manifest of a run as it starts: ``"status": "running"``, no cells yet (the plan adds them)."""
    from harness.numerics import numerics_environment

    bench = engine.benchmark
    worlds = config.worlds
    multi = len(worlds) > 1
    return {
        "harness_version": _harness_version(),
        "status": "running",
        "name": config.name,
        "started": now(),
        "finished": None,
        "command": " ".join(shlex.quote(a) for a in sys.argv) if sys.argv and sys.argv[0].endswith("harness") else None,
        "reproduce": command_line(config, run_dir),
        "config": config.normalized(),
        "config_sha256": config.sha256(),
        "config_source": config.source,
        "config_overrides": list(config.overrides),  # --set KEY=VALUE, in order (part of "config")
        "seeds": config.seeds,
        "worlds": {"labels": worlds, "kind": config.worlds_kind},
        "metrics": config.metrics,
        "benchmark": bench.describe(),
        "dataset_fingerprints": {
            "benchmark": bench.fingerprint(),
            "languages": bench.language_fingerprints(),  # the first (primary) mode's
            **(
                {"by_mode": {m: engine.view(m).language_fingerprints() for m in engine.modes}}
                if len(engine.modes) > 1
                else {}
            ),
            # each world's (the first world's are the ones above)
            **(
                {
                    "by_world": {
                        w: {
                            "benchmark": engine.for_world(w).benchmark.fingerprint(),
                            "languages": engine.for_world(w).benchmark.language_fingerprints(),
                        }
                        for w in worlds
                    }
                }
                if multi
                else {}
            ),
        },
        "methods": {
            m.name: {
                "plugin": m.plugin,
                "group": m.group,
                "swept": dict(m.swept),
                "version": m.cls.version,
                "kind": m.cls.kind,
                "distribution": _dist(m.plugin),
                "description": m.cls.description(),
                "citation": m.cls.citation,
                "options": m.options.model_dump(mode="json"),
                # non-empty: a control, not a method under study (the report marks it beside the name)
                "control": m.cls.control_role(m.options),
            }
            for m in config.methods
        },
        "device": engine.device,
        # torch CPU threads of every trained stage (training.num_threads resolved): part of their identity
        "torch_threads": engine.threads,
        # the mini base encoder's MLM pre-training (mini.threads; null: no mini base)
        "base_threads": engine.base_threads(),
        "preflight": preflight,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "accelerator": accelerator(),
        # what makes floats depend on the machine: CPU ISA, torch's kernels, BLAS/oneDNN, GPU and driver
        "numerics": numerics_environment(),
        "packages": package_versions(),
        "cache_root": str(cache.root),
        "cells": [],
    }


def _dist(name: str) -> str:
    from harness.registry import method_distribution

    return method_distribution(name)


def _harness_version() -> str:
    from harness import __version__

    return __version__
