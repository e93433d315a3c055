"""The cell store: finished cells in the cache's ``cell`` stage, and stored runs in its ``run`` stage.

A cell's entry (keyed by :meth:`harness.engine.Engine.cell_key`) holds ``results.parquet``,
optionally ``budgets.parquet`` (budget curves) and ``dev_results.parquet`` (tuning split),
``runs/<name>.trec`` (test-split runs; name: language, or mode/language) and ``cell.json``
(timings, info).  Entries are written atomically by :meth:`harness.cache.Cache.get_or_build`
(a temporary directory renamed into place); a failed cell is never stored.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from harness.cache import Cache
from harness.cells import CellDone, CellSpec, with_mode_column, with_world_column

__all__ = ["load_cell", "store_cell", "write_run"]


def load_cell(cache: Cache, spec: CellSpec, mode: str, world: str) -> CellDone | None:
    """The stored cell of ``spec`` (labelled ``world``; ``mode``: the mode of results stored without one), or None."""
    d = cache.lookup("cell", {"key": spec.key})
    if d is None:
        return None
    meta = json.loads((d / "cell.json").read_text())
    runs = {
        p.relative_to(d / "runs").with_suffix("").as_posix(): p.read_text()
        for p in sorted((d / "runs").rglob("*.trec"))
    }
    budgets = pd.read_parquet(d / "budgets.parquet") if (d / "budgets.parquet").is_file() else None
    dev = pd.read_parquet(d / "dev_results.parquet") if (d / "dev_results.parquet").is_file() else None
    return CellDone(
        method=spec.method,
        seed=spec.seed,
        key=spec.key,
        results=with_world_column(with_mode_column(pd.read_parquet(d / "results.parquet"), mode), world),
        runs=runs,
        timings=meta.get("timings", {}),
        from_cache=True,
        info=meta.get("info", {}),
        budgets=None if budgets is None else with_world_column(with_mode_column(budgets, mode), world),
        dev_results=None if dev is None else with_world_column(with_mode_column(dev, mode), world),
        world=world,
    )


def store_cell(cache: Cache, out: CellDone) -> None:
    """Put a finished cell into stage ``cell`` under ``out.key`` (an entry already there is kept)."""

    def build(tmp: Path) -> None:
        out.results.to_parquet(tmp / "results.parquet", index=False)
        if out.budgets is not None:
            out.budgets.to_parquet(tmp / "budgets.parquet", index=False)
        if out.dev_results is not None:
            out.dev_results.to_parquet(tmp / "dev_results.parquet", index=False)
        (tmp / "runs").mkdir()
        for name, text in out.runs.items():  # name: language, or mode/language
            (tmp / "runs" / f"{name}.trec").parent.mkdir(parents=True, exist_ok=True)
            (tmp / "runs" / f"{name}.trec").write_text(text)
        (tmp / "cell.json").write_text(
            json.dumps({"method": out.method, "seed": out.seed, "timings": out.timings, "info": out.info}, indent=1)
        )

    cache.get_or_build("cell", {"key": out.key}, build)


def write_run(tmp: Path, text: str) -> None:
    """Builder of a ``run`` stage entry: the TREC run text as ``run.trec``."""
    (tmp / "run.trec").write_text(text)
