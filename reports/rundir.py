"""Reading a run directory (``manifest.json``, ``results.parquet``) and diffing normalised configs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from harness.errors import HarnessError


class RunDirectoryError(HarnessError, FileNotFoundError):
    """A run directory lacks a file a command needs, or holds inconsistent files."""


def require_file(run_dir: Path, name: str, what: str) -> Path:
    """``run_dir / name``, or a :class:`RunDirectoryError` saying what is missing and why it matters."""
    path = Path(run_dir) / name
    if not path.is_file():
        hint = "is this a run directory written by `harness run`?"
        if not Path(run_dir).is_dir():
            hint = 'the directory does not exist; pass the directory printed by `harness run` ("run directory: ...")'
        raise RunDirectoryError(f"{path} not found: {what} is needed; {hint}")
    return path


def load_manifest(run_dir: Path) -> dict[str, Any]:
    return json.loads(require_file(run_dir, "manifest.json", "the run's manifest").read_text())


def load_results(run_dir: Path) -> pd.DataFrame:
    return pd.read_parquet(require_file(run_dir, "results.parquet", "the per-query results table"))


def _flatten(d: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(d, dict):
        out: dict[str, Any] = {}
        for k, v in d.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: d}


def config_differences(config_a: dict[str, Any], config_b: dict[str, Any]) -> list[dict[str, str]]:
    """Dotted key paths whose values differ between two normalised configs (``output`` ignored).

    Each entry: ``{"key", "a", "b"}`` with JSON-encoded values, ``"(absent)"`` for a missing key.
    """
    fa = {k: v for k, v in _flatten(config_a).items() if not k.startswith("output.")}
    fb = {k: v for k, v in _flatten(config_b).items() if not k.startswith("output.")}
    keys = sorted(set(fa) | set(fb))
    return [
        {
            "key": k,
            "a": json.dumps(fa.get(k)) if k in fa else "(absent)",
            "b": json.dumps(fb.get(k)) if k in fb else "(absent)",
        }
        for k in keys
        if fa.get(k, ...) != fb.get(k, ...)
    ]
