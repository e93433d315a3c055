"""The bottom floor of a run: a cell's name (:class:`CellSpec`) and what computing it gave
(:class:`CellDone` or :class:`CellFailed`).

Imports nothing from ``harness``: every other module (engine, executors, runner, plugin API)
may import it, so no import circle goes through these records.

A *cell* is one (world, method, seed) of the matrix.  Its output is one of two classes, a
tagged union on :attr:`CellDone.status` / :attr:`CellFailed.status` (``"done"`` /
``"failed"``), so ``if out.status == "done":`` narrows the type for a checker.
"""

from __future__ import annotations

import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import pandas as pd

__all__ = [
    "RESULT_COLUMNS",
    "CellDone",
    "CellFailed",
    "CellOutput",
    "CellSpec",
    "run_name",
    "with_mode_column",
    "with_world_column",
]

#: Columns of per-query results (``results.parquet``): one row per (cell, mode, language, query, metric).
RESULT_COLUMNS = ["world", "method", "seed", "mode", "language", "tier", "query_id", "metric", "value"]


@dataclass(frozen=True)
class CellSpec:
    """One (world, method, seed) of the matrix, with the content key of its results.

    ``world`` is one of ``HarnessConfig.worlds`` (``""`` in a spec made by hand: the engine's
    first world).
    """

    method: str
    seed: int
    key: str
    world: str = ""

    @property
    def label(self) -> str:
        return f"{self.method}/seed={self.seed}"


@dataclass
class CellDone:
    """A finished cell: per-query results (``RESULT_COLUMNS``) and everything stored with them."""

    method: str
    seed: int
    key: str
    results: pd.DataFrame
    #: run name (language, or mode/language) -> TREC run text of the test split
    runs: dict[str, str] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    from_cache: bool = False
    #: checkpoint results (budget curves): RESULT_COLUMNS + split, budget_steps, budget_examples, budget_seconds
    budgets: pd.DataFrame | None = None
    #: per-query results on the benchmark's dev split (tuning only), RESULT_COLUMNS
    dev_results: pd.DataFrame | None = None
    #: the cell's world (``CellSpec.world``)
    world: str = ""
    status: ClassVar[Literal["done"]] = "done"


@dataclass
class CellFailed:
    """A cell that raised: the error (``"Type: message"``) and its traceback; never cached."""

    method: str
    seed: int
    key: str
    error: str
    traceback: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    world: str = ""
    status: ClassVar[Literal["failed"]] = "failed"
    #: a failed cell is never loaded from the cache
    from_cache: ClassVar[bool] = False

    @classmethod
    def of(cls, spec: CellSpec, error: BaseException, timings: dict[str, float] | None = None) -> "CellFailed":
        """The failure of ``spec`` by ``error`` (call it in the ``except`` block: the traceback is the one handled)."""
        return cls(
            spec.method,
            spec.seed,
            spec.key,
            error=f"{type(error).__name__}: {error}",
            traceback=traceback.format_exc(),
            timings=dict(timings or {}),
            world=spec.world,
        )


#: What running (or loading) a cell produced.
CellOutput = CellDone | CellFailed


def run_name(mode: str, language: str, modes: Sequence[str]) -> str:
    """A cell's name for the run of ``(mode, language)``: ``language`` in a one-mode run, else ``mode/language``
    (``runs/<method>/<seed>/<name>.trec``)."""
    return language if len(modes) == 1 else f"{mode}/{language}"


def with_mode_column(results: pd.DataFrame, mode: str) -> pd.DataFrame:
    """``results`` with a ``mode`` column (results of cells cached before modes existed lack it; their key
    names their one mode)."""
    if "mode" in results.columns:
        return results
    out = results.copy()
    out.insert(out.columns.get_loc("language") if "language" in out.columns else 0, "mode", mode)
    return out


def with_world_column(frame: pd.DataFrame, world: str) -> pd.DataFrame:
    """``frame`` with a first column ``world`` (string) set to ``world``.

    A cell's stored results hold no world label (its key names the world's data); the label is
    the run's (``HarnessConfig.worlds``), set whenever a cell is loaded or computed.
    """
    out = frame.drop(columns="world") if "world" in frame.columns else frame.copy()
    out.insert(0, "world", pd.Series([world] * len(out), index=out.index, dtype="string"))
    return out
