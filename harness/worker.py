"""Worker glue: how a worker process (a local pool's, or a Ray worker) runs cells and shared stages.

A worker builds one :class:`~harness.engine.Engine` per config (from its TOML text) and reuses
its memoised benchmark, base encoder and teachers across the cells it runs
(:func:`execute_cell_remote`, :func:`build_stage_remote`); :func:`run_cell_timed` enforces
``[executor] cell_timeout``.  Executors (:mod:`harness.executors`) call these; nothing in the
engine imports this module.
"""

from __future__ import annotations

import time
from typing import Any

from harness.cache import Cache
from harness.cells import CellFailed, CellOutput, CellSpec
from harness.engine import Engine

__all__ = ["build_stage_remote", "execute_cell_remote", "run_cell_timed"]

#: Engines of this process by (config text, cache root, device): a worker process (local pool
#: or Ray) builds one per config and reuses its memoised benchmark, base encoder and teachers
#: across the cells it runs.  Engines hold no per-cell state, so reuse changes no result.
_WORKER_ENGINES: dict[tuple[str, str, str | None, str | None], Engine] = {}


def _worker_engine(config_text: str, config_source: str, cache_root: str | None, device: str | None) -> Engine:
    key = (config_text, config_source, cache_root, device)
    engine = _WORKER_ENGINES.get(key)
    if engine is None:
        import tomllib

        from harness.config import config_from_dict

        config = config_from_dict(tomllib.loads(config_text), source=config_source, text=config_text)
        cache = Cache(cache_root) if cache_root else Cache.default()
        engine = Engine(config, cache, progress=False, device=device)
        _WORKER_ENGINES.clear()  # one config at a time: do not hold another run's teachers
        _WORKER_ENGINES[key] = engine
    return engine


def run_cell_timed(engine: Engine, spec: CellSpec, timeout: float | None) -> CellOutput:
    """``engine.run_cell(spec)`` stopped after ``timeout`` seconds (``[executor] cell_timeout``; None: no limit).

    The shared stages the cell needs (base encoder, the seed's teacher) are built or loaded
    first, outside the limit: the timeout measures the cell's own work (fit, encoding,
    retrieval, evaluation).  A cell past its limit is stopped (:func:`harness.interrupts.cell_deadline`:
    it unwinds, its temporary files are removed) and returned as failed, naming the cell and the limit.
    """
    from harness.interrupts import CellTimeout, cell_deadline

    if timeout is not None and engine.config.method(spec.method).cls.needs_teacher:
        try:
            engine.teacher(spec.seed)
        except Exception:  # noqa: BLE001 - the cell itself reports the error, with its traceback
            pass
    t0 = time.perf_counter()
    try:
        with cell_deadline(timeout, spec.label):
            return engine.run_cell(spec)
    except CellTimeout as e:
        return CellFailed.of(spec, e, {"timeout": round(time.perf_counter() - t0, 3)})


def execute_cell_remote(
    config_text: str,
    config_source: str,
    spec: CellSpec,
    cache_root: str | None,
    device: str | None = None,
    shard_runner: Any = None,
    timeout: float | None = None,
) -> CellOutput:
    """Run one cell in a worker process (e.g. a Ray worker) from the config's TOML text.

    Uses the worker's own cache (``cache_root`` or the default); returns outputs to the driver,
    which writes them: no shared file system is assumed.  ``shard_runner`` encodes the
    document-index shards (e.g. one Ray task per shard; None: in this process).  ``timeout``:
    seconds the cell may run (:func:`run_cell_timed`).
    """
    from harness.interrupts import working

    with working():  # SIGTERM from the driver unwinds the cell, then the worker exits
        engine = _worker_engine(config_text, config_source, cache_root, device)
        engine.shard_runner = shard_runner  # per cell: the runner holds no state
        cached = engine.load_cached_cell(spec)
        if cached is not None:
            return cached
        out = run_cell_timed(engine, spec, timeout)
        if out.status == "done":
            engine.store_cell(out)
        return out


def build_stage_remote(
    config_text: str, config_source: str, stage: str, seed: int | None, cache_root: str | None, device: str | None
) -> float:
    """Build (or load) a shared stage in a worker process: ``"base"`` or ``"teacher"`` (of ``seed``).

    Returns the seconds it took.  The stage lands in the cache (keyed by its own identity), where
    the cells that need it find it; a worker that needs a stage another is building waits on the
    cache's lock.
    """
    from harness.interrupts import working

    with working():  # SIGTERM from the driver unwinds the build, then the worker exits
        engine = _worker_engine(config_text, config_source, cache_root, device)
        engine.progress = True  # a stage's training reports its steps (as lines in a worker: harness.training)
        try:
            if stage == "teacher" and engine.config.model.base == "mini":
                engine.base_dir()  # waits while another worker builds it: not part of the teacher's time
            t0 = time.perf_counter()
            if stage == "base":
                engine.base_dir()
            elif stage == "teacher" and seed is not None:
                engine.teacher(seed)
            else:
                raise ValueError(f"unknown stage {stage!r}")
            return time.perf_counter() - t0
        finally:
            engine.progress = False  # the worker's cells stay quiet (the driver's bar counts them)
