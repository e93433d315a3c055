"""Evaluation modes in one run: results carry a ``mode``, and the question is answered per mode.

A benchmark may serve several *modes* (the embedded world: ``"monolingual"``, queries and
passages in each language; ``"cross-lingual"``, the pivot's information needs asked in each
language against the pivot's passages).  A cell trains once and is evaluated in every mode
(:meth:`harness.engine.Engine.evaluate`); ``results.parquet``, ``dev_results.parquet`` and
``budgets.parquet`` carry a ``mode`` column.  The protocol (choice on dev) and the analysis
are run once per mode, on that mode's rows only.

``analysis.json`` of a run with one mode is that mode's analysis, with ``"mode"`` naming it
(runs written before modes existed lack the key and read the same).  With several modes it
is the first mode's analysis (so every reader of one analysis reads the primary mode
unchanged) plus ``"modes"`` (their order) and ``"by_mode"``: ``{mode: analysis}`` for every
mode, the first included.  :func:`analyses` reads either shape.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pandas as pd

__all__ = ["analyses", "combine", "split_by_mode"]


def split_by_mode(df: pd.DataFrame | None, modes: Sequence[str]) -> dict[str, pd.DataFrame | None]:
    """``{mode: rows of that mode, without the mode column}`` (``None`` stays ``None`` for every mode).

    A table without a ``mode`` column (written before modes existed) is the first mode's.
    """
    if df is None:
        return {m: None for m in modes}
    if "mode" not in df.columns:
        return {m: (df if i == 0 else df.iloc[:0]) for i, m in enumerate(modes)}
    return {m: df[df["mode"] == m].drop(columns="mode").reset_index(drop=True) for m in modes}


def modes_of(df: pd.DataFrame | None, default: Sequence[str] = ("monolingual",)) -> tuple[str, ...]:
    """The modes present in a results table, in first-appearance order (``default`` without a mode column)."""
    if df is None or "mode" not in df.columns or df.empty:
        return tuple(default)
    return tuple(pd.unique(df["mode"]).tolist())


def combine(per_mode: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
    """One ``analysis.json`` from per-mode analyses (see the module docstring for the shape)."""
    modes = list(per_mode)
    if not modes:
        raise ValueError("combine() needs at least one mode's analysis")
    first = {**per_mode[modes[0]], "mode": modes[0]}
    if len(modes) == 1:
        return first
    return {**first, "modes": modes, "by_mode": {m: {**a, "mode": m} for m, a in per_mode.items()}}


def analyses(analysis: Mapping[str, Any] | None) -> list[tuple[str | None, Mapping[str, Any] | None]]:
    """``[(mode, analysis of that mode)]``: one entry per mode (``mode`` None for runs written before modes)."""
    if not analysis:
        return [(None, analysis)]
    by_mode = analysis.get("by_mode")
    if isinstance(by_mode, Mapping) and by_mode:
        order = analysis.get("modes") or list(by_mode)
        return [(m, by_mode[m]) for m in order if m in by_mode]
    return [(analysis.get("mode"), analysis)]


def analyse_per_mode(
    results: pd.DataFrame, modes: Sequence[str], analyse: Callable[[str, pd.DataFrame], dict[str, Any]]
) -> dict[str, Any]:
    """:func:`combine` of ``analyse(mode, rows of that mode)`` over ``modes`` (rows without the mode column)."""
    parts = split_by_mode(results, modes)
    return combine({m: analyse(m, parts[m]) for m in modes if parts[m] is not None})
