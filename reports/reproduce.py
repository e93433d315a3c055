"""``harness reproduce DIR``: re-run a run directory's config and check every per-query score.

The stored ``config.toml`` (the normalised config) is run again with
:func:`harness.runner.run_matrix` into a new directory, with a fresh, empty cache unless the
caller passes one, so every stage (base encoder, teacher, methods, retrieval, evaluation) is
recomputed.  Then every row of the two ``results.parquet`` tables is matched on
``(method, seed, language, query_id, metric)`` and compared:

* CPU runs must be **identical**: ``|a - b| <= tolerance`` with ``tolerance = 0``, i.e. the
  same floating-point value (two NaNs count as equal).
* If either run used CUDA (manifest ``device == "cuda"``), kernels are not bitwise
  deterministic, so the default tolerance is :data:`GPU_TOLERANCE` (absolute, per score).

A row present in only one table is a difference too.  Differences are grouped by cell
``(method, seed, language)`` and reported with their number and the largest absolute
difference, so a user sees at once which cells did not reproduce and by how much.

When scores differ, the result also names the two numerics environments (the manifests'
``numerics``: CPU ISA, torch's CPU capability, BLAS/oneDNN builds, kernel-selecting
environment variables, GPU/driver/CUDA; :mod:`harness.numerics`), lists the fields in which
they differ, and says whether the verdict holds: per evaluation mode, the question's verdict
and its estimate ``D`` in the original's ``analysis.json`` against the reproduction's.
"""

from __future__ import annotations

import json
import math
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness_reports.rundir import RunDirectoryError, config_differences, load_manifest, load_results, require_file

#: default absolute tolerance per per-query score when either run used a GPU.
GPU_TOLERANCE = 1e-3
#: default tolerance on CPU: exact equality.
CPU_TOLERANCE = 0.0

KEY = ["method", "seed", "language", "query_id", "metric"]


@dataclass(frozen=True)
class CellDifference:
    """Per-query scores of one cell that differ beyond the tolerance.

    ``n_rows`` counts (query, metric) rows compared in the cell; ``n_differ`` those with
    ``|a - b| > tolerance``; ``n_missing_original`` / ``n_missing_new`` rows present in only
    one run; ``max_abs_diff`` the largest ``|a - b|`` (NaN against a number counts as inf);
    ``worst_query`` / ``worst_metric`` where it occurs.
    """

    method: str
    seed: int
    language: str
    n_rows: int
    n_differ: int
    n_missing_original: int
    n_missing_new: int
    max_abs_diff: float
    worst_query: str | None
    worst_metric: str | None

    def describe(self) -> str:
        parts = [f"{self.n_differ} of {self.n_rows} scores differ"]
        if self.n_differ and self.worst_query is not None:
            parts.append(f"max |diff| {self.max_abs_diff:.3g} ({self.worst_metric}, query {self.worst_query})")
        if self.n_missing_new:
            parts.append(f"{self.n_missing_new} rows missing in the reproduction")
        if self.n_missing_original:
            parts.append(f"{self.n_missing_original} rows only in the reproduction")
        return f"{self.method} seed={self.seed} {self.language}: " + "; ".join(parts)


@dataclass(frozen=True)
class ScoreComparison:
    """Result of comparing two results tables row by row (see :func:`compare_scores`)."""

    tolerance: float
    n_rows: int
    n_differ: int
    max_abs_diff: float
    cells: tuple[CellDifference, ...]

    @property
    def identical(self) -> bool:
        return not self.cells


@dataclass(frozen=True)
class ReproduceResult:
    """Outcome of :func:`reproduce_run`.

    ``identical`` is true when every per-query score of the original run is matched by the
    reproduction within ``tolerance`` (0 on CPU: the same value), no row is missing on
    either side and no cell failed in the reproduction.
    """

    original_dir: Path
    new_dir: Path
    tolerance: float
    device_original: str
    device_new: str
    comparison: ScoreComparison
    failed_cells: tuple[str, ...] = field(default_factory=tuple)
    config_changes: tuple[str, ...] = field(default_factory=tuple)
    #: one-line numerics environments (:func:`harness.numerics.numerics_summary`) of the two runs
    numerics_original: str = "not recorded"
    numerics_new: str = "not recorded"
    #: ``(field, original, reproduction)`` for every numerics field that differs
    numerics_changes: tuple[tuple[str, Any, Any], ...] = ()
    #: per mode: the question's verdict and D in both runs (:class:`VerdictCheck`)
    verdicts: tuple["VerdictCheck", ...] = ()

    @property
    def identical(self) -> bool:
        return self.comparison.identical and not self.failed_cells

    @property
    def verdict_holds(self) -> bool | None:
        """Every mode's verdict is the same in both runs (None when neither run has one)."""
        return all(v.holds for v in self.verdicts) if self.verdicts else None

    def summary(self) -> str:
        c = self.comparison
        how = "exactly equal" if self.tolerance == 0 else f"within an absolute tolerance of {self.tolerance:g}"
        head = (
            f"reproduction of {self.original_dir} in {self.new_dir} "
            f"(device {self.device_original} -> {self.device_new}); criterion: every per-query score {how}"
        )
        lines = [head]
        if self.config_changes:
            lines.append(
                "warning: the stored config.toml, as this harness version reads it, differs from the run's "
                "normalised config (manifest.json); the reproduction ran the former. Changed keys:"
            )
            lines.extend(f"  {c}" for c in self.config_changes)
        if self.identical:
            lines.append(
                f"REPRODUCED: all {c.n_rows} per-query scores match"
                + (f" (max |diff| {c.max_abs_diff:.3g})" if c.max_abs_diff > 0 else "")
            )
            return "\n".join(lines)
        lines.append(
            f"NOT REPRODUCED: {c.n_differ} of {c.n_rows} per-query scores differ, "
            f"in {len(c.cells)} cell(s) (method, seed, language):"
        )
        lines.extend(f"  {d.describe()}" for d in c.cells)
        lines.extend(f"  failed in the reproduction: {f}" for f in self.failed_cells)
        lines.append("numerics environment (what makes floating-point results depend on the machine):")
        lines.append(f"  original:     {self.numerics_original}")
        lines.append(f"  reproduction: {self.numerics_new}")
        if self.numerics_changes:
            lines.append("  fields that differ (original -> reproduction):")
            lines.extend(f"    {k}: {_show(a)} -> {_show(b)}" for k, a, b in self.numerics_changes)
        else:
            lines.append(
                "  no recorded field differs: look at the thread counts, a GPU's non-deterministic kernels, or the "
                "cells above"
            )
        for v in self.verdicts:
            lines.append(v.describe())
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        c = self.comparison
        return {
            "original_dir": str(self.original_dir),
            "new_dir": str(self.new_dir),
            "tolerance": self.tolerance,
            "device_original": self.device_original,
            "device_new": self.device_new,
            "identical": self.identical,
            "n_rows": c.n_rows,
            "n_differ": c.n_differ,
            "max_abs_diff": _json_float(c.max_abs_diff),
            "failed_cells": list(self.failed_cells),
            "config_changes": list(self.config_changes),
            "numerics_original": self.numerics_original,
            "numerics_new": self.numerics_new,
            "numerics_changes": [{"field": k, "original": a, "new": b} for k, a, b in self.numerics_changes],
            "verdict_holds": self.verdict_holds,
            "verdicts": [asdict(v) for v in self.verdicts],
            "cells": [{**asdict(d), "max_abs_diff": _json_float(d.max_abs_diff)} for d in c.cells],
        }


@dataclass(frozen=True)
class VerdictCheck:
    """The question's verdict and estimate ``D`` (its endpoint's difference) in the original and the reproduction."""

    mode: str | None
    verdict_original: str | None
    verdict_new: str | None
    d_original: float | None
    d_new: float | None

    @property
    def holds(self) -> bool:
        return self.verdict_original == self.verdict_new

    def describe(self) -> str:
        where = f" ({self.mode})" if self.mode else ""
        d = f"D {_signed(self.d_original)} -> {_signed(self.d_new)}"
        if self.holds:
            return f"verdict{where} holds: {self.verdict_original!r} in both runs ({d})"
        return f"verdict{where} CHANGED: {self.verdict_original!r} -> {self.verdict_new!r} ({d})"


def _signed(x: float | None) -> str:
    return "n/a" if x is None else f"{x:+.4f}"


def _show(v: Any) -> str:
    return "unset" if v is None else json.dumps(v)


def verdict_checks(original: dict[str, Any] | None, new: dict[str, Any] | None) -> tuple[VerdictCheck, ...]:
    """Per mode, the question's verdict and ``D`` in two ``analysis.json`` documents."""
    from harness.modes import analyses

    def per_mode(a: dict[str, Any] | None) -> dict[str | None, tuple[str | None, float | None]]:
        out: dict[str | None, tuple[str | None, float | None]] = {}
        for mode, part in analyses(a):
            q = (part or {}).get("question") or {}
            diff = ((q.get("difference") or {}).get(q.get("endpoint", "gap")) or {}).get("estimate")
            out[mode] = (q.get("verdict"), float(diff) if isinstance(diff, (int, float)) else None)
        return out

    a, b = per_mode(original), per_mode(new)
    checks = []
    for mode in dict.fromkeys([*a, *b]):
        (va, da), (vb, db) = a.get(mode, (None, None)), b.get(mode, (None, None))
        if va is None and vb is None:
            continue
        checks.append(VerdictCheck(mode, va, vb, da, db))
    return tuple(checks)


def _analysis(run_dir: Path) -> dict[str, Any] | None:
    path = run_dir / "analysis.json"
    return json.loads(path.read_text()) if path.is_file() else None


def _json_float(x: float) -> float | str:
    return x if math.isfinite(x) else str(x)


def compare_scores(original: pd.DataFrame, new: pd.DataFrame, tolerance: float = 0.0) -> ScoreComparison:
    """Match two long results tables on ``(method, seed, language, query_id, metric)``.

    A row differs when ``|a - b| > tolerance`` (NaN equals NaN; NaN against a number is an
    infinite difference) or when it is present in one table only.
    """
    if not (tolerance >= 0 and math.isfinite(tolerance)):
        raise ValueError(f"tolerance must be a finite number >= 0, got {tolerance!r}")
    for name, df in (("original", original), ("new", new)):
        missing = [c for c in [*KEY, "value"] if c not in df.columns]
        if missing:
            raise ValueError(f"{name} results table lacks columns {missing}; expected {[*KEY, 'value']}")
    # rows of several evaluation modes are matched within their mode (a table from before modes has none)
    key = [*KEY, "mode"] if "mode" in original.columns and "mode" in new.columns else KEY
    # and within their world (query ids are per world; a table from before worlds has one)
    key = ["world", *key] if "world" in original.columns and "world" in new.columns else key
    a = original[[*key, "value"]].astype(
        {"seed": "int64", "query_id": str, **({"world": str} if "world" in key else {})}
    )
    b = new[[*key, "value"]].astype({"seed": "int64", "query_id": str, **({"world": str} if "world" in key else {})})
    m = a.merge(b, on=key, how="outer", suffixes=("_a", "_b"), indicator=True)
    va, vb = m["value_a"].to_numpy(dtype=float), m["value_b"].to_numpy(dtype=float)
    both = (m["_merge"] == "both").to_numpy()
    nan_a, nan_b = np.isnan(va), np.isnan(vb)
    with np.errstate(invalid="ignore"):
        diff = np.abs(va - vb)
    diff = np.where(nan_a & nan_b, 0.0, np.where(nan_a | nan_b, np.inf, diff))
    diff = np.where(both, diff, np.inf)
    m["abs_diff"] = diff
    m["differs"] = diff > tolerance
    m["only_a"] = (m["_merge"] == "left_only").to_numpy()
    m["only_b"] = (m["_merge"] == "right_only").to_numpy()

    cells: list[CellDifference] = []
    for (method, seed, lang), g in m.groupby(["method", "seed", "language"], sort=True):
        if not g["differs"].any():
            continue
        shown = g[g["differs"]]
        worst = shown.loc[shown["abs_diff"].idxmax()]
        cells.append(
            CellDifference(
                method=str(method),
                seed=int(seed),
                language=str(lang),
                n_rows=len(g),
                n_differ=int(g["differs"].sum()),
                n_missing_original=int(g["only_b"].sum()),
                n_missing_new=int(g["only_a"].sum()),
                max_abs_diff=float(shown["abs_diff"].max()),
                worst_query=str(worst["query_id"]),
                worst_metric=str(worst["metric"]),
            )
        )
    return ScoreComparison(
        tolerance=float(tolerance),
        n_rows=len(m),
        n_differ=int(m["differs"].sum()),
        max_abs_diff=float(diff.max()) if len(diff) else 0.0,
        cells=tuple(cells),
    )


def default_tolerance(*devices: str) -> float:
    """0 when every run was on CPU, :data:`GPU_TOLERANCE` when any used CUDA."""
    return GPU_TOLERANCE if any(str(d).startswith("cuda") for d in devices) else CPU_TOLERANCE


def _check_threads(manifest: dict[str, Any], config: Any) -> None:
    """Refuse to re-run when this machine would train with another torch thread count than the run did.

    The count is part of every trained stage's identity (``training.num_threads``, and
    ``mini.threads`` for the base encoder's pre-training): with ``0`` (all cores) it is the
    original machine's core count.
    """
    used = manifest.get("torch_threads")
    if used is None:
        return  # older manifests did not record it
    from harness.training import usable_cpus

    wanted = config.training.num_threads
    here = int(wanted) if wanted else usable_cpus()
    if int(used) != here:
        raise RunDirectoryError(
            f"the run trained with {used} torch thread(s) (training.num_threads = {wanted}"
            f"{': every core of that machine' if not wanted else ''}), but this machine would use {here}; torch's CPU "
            f"sums depend on the thread count, so the scores could not match. Reproduce on a machine with {used} "
            f"core(s), or re-run the config with training.num_threads = {used} (the default, 1, avoids this)"
        )
    base_used = manifest.get("base_threads")
    mini = getattr(config, "mini", None)
    if base_used is not None and mini is not None and mini.threads == 0 and int(base_used) != usable_cpus():
        raise RunDirectoryError(
            f"the run pre-trained its mini base encoder with {base_used} torch thread(s) (mini.threads = 0: every "
            f"core of that machine), but this machine would use {usable_cpus()}; torch's CPU sums depend on the "
            f"thread count, so the scores could not match. Reproduce on a machine with {base_used} core(s), or "
            f"re-run the config with mini.threads = {base_used}"
        )


def reproduce_run(
    run_dir: str | Path,
    out_dir: str | Path | None = None,
    cache_dir: str | Path | None = None,
    tolerance: float | None = None,
) -> ReproduceResult:
    """Re-run ``run_dir``'s stored config into ``out_dir`` and compare every per-query score.

    Parameters
    ----------
    run_dir : path
        A finished run directory (``config.toml``, ``manifest.json``, ``results.parquet``).
    out_dir : path, optional
        Directory of the new run; default ``<run_dir>-reproduce``.
    cache_dir : path, optional
        Cache root for the new run.  Default: a fresh temporary directory (deleted
        afterwards), so nothing computed before is reused.
    tolerance : float, optional
        Allowed absolute difference per score; default 0 on CPU, :data:`GPU_TOLERANCE` if
        either run used CUDA.

    The verdict is also written to ``<out_dir>/reproduce.json``.  If ``config.toml``, loaded
    by this harness version, normalises differently from the config recorded in
    ``manifest.json`` (it was edited, or this version added or changed options), the
    changed keys are listed in the result and its summary; the scores remain the judge.
    """
    from harness.cache import Cache, atomic_write_text
    from harness.config import load_config
    from harness.numerics import numerics_differences
    from harness.runner import run_matrix
    from harness_reports.report import render_report

    run_dir = Path(run_dir)
    manifest = load_manifest(run_dir)
    original = load_results(run_dir)
    config = load_config(require_file(run_dir, "config.toml", "the run's normalised config"))
    changed = tuple(
        f"{d['key']}: {d['a']} -> {d['b']}"
        for d in config_differences(manifest.get("config") or {}, config.normalized())
    )
    _check_threads(manifest, config)
    new_dir = Path(out_dir) if out_dir is not None else run_dir.with_name(run_dir.name + "-reproduce")
    if new_dir.resolve() == run_dir.resolve():
        raise RunDirectoryError(f"--out {new_dir} is the run directory itself; choose a new directory")
    if new_dir.exists() and any(new_dir.iterdir()):
        raise RunDirectoryError(
            f"--out {new_dir} already exists and is not empty (an earlier reproduction?); a finished run is never "
            "rewritten: remove it or choose a new directory with --out"
        )

    with tempfile.TemporaryDirectory(prefix="harness-reproduce-cache-") as tmp:
        cache = Cache(cache_dir) if cache_dir is not None else Cache(tmp)
        res = run_matrix(config, run_dir=new_dir, cache=cache, render=render_report)
    new_manifest = load_manifest(new_dir)
    new = load_results(new_dir)
    dev_a, dev_b = str(manifest.get("device", "cpu")), str(new_manifest.get("device", "cpu"))
    tol = default_tolerance(dev_a, dev_b) if tolerance is None else float(tolerance)
    comparison = compare_scores(original, new, tol)
    failed = tuple(f"{c.method} seed={c.seed}: {c.error}" for c in res.failed)
    num_a, num_b = manifest.get("numerics"), new_manifest.get("numerics")
    result = ReproduceResult(
        original_dir=run_dir,
        new_dir=new_dir,
        tolerance=tol,
        device_original=dev_a,
        device_new=dev_b,
        comparison=comparison,
        failed_cells=failed,
        config_changes=changed,
        numerics_original=str((num_a or {}).get("summary") or "not recorded (a manifest older than numerics records)"),
        numerics_new=str((num_b or {}).get("summary") or "not recorded"),
        numerics_changes=tuple(numerics_differences(num_a, num_b)),
        verdicts=verdict_checks(_analysis(run_dir), _analysis(new_dir)),
    )
    atomic_write_text(new_dir / "reproduce.json", json.dumps(result.to_dict(), indent=2, allow_nan=False))
    return result
