"""In-process executor (default), or a pool of local worker processes with ``workers > 1``.

Every cell runs with the config's pinned torch thread count (``training.num_threads``,
default 1), so the same cell gives identical per-query scores whether it runs here, in a
local worker process or on a Ray worker.  To use more cores, run cells side by side:
``[executor] kind = "local"``, ``workers = 2`` starts two worker processes (spawned, each
builds its own engine over the same cache; a stage two workers need at once, such as the
base encoder, is built by one while the other waits on the cache's lock).  Plugins must
then be installed (found through entry points), not only registered in the driver process.

Stage lines (``Executor.log``): the base encoder, shared by all seeds, and each seed's
teacher get a line when they start (in-process; in the pool: when queued, and from the worker
when its training starts) and one when they are ready, so that a cold run says which stage is running (on a terminal and in a
log file alike); in between, their training reports its steps (a bar in-process, a line per
quarter in a worker: :func:`harness.training.train`).  The bar counts cells, but its ETA comes
from the planned work units of the cells and stages (:attr:`Executor.work`,
:mod:`harness.progress`), so neither a one-off stage nor a cheap cell distorts it; in the pool
the bar is redrawn every second, so its clock moves while a stage runs.

Scheduling of the pool (:meth:`LocalExecutor.schedule`): the base encoder is the first task
(one worker builds it) and cells that need no teacher (BM25) run beside it; then each seed's
teacher is a task of its own, so two teachers train side by side; then the remaining cells,
costliest first (``Method.cost``), so the cheap ones fill the tail.  A worker keeps one engine
per config (its benchmark, base encoder and teachers stay loaded between its cells).
Building stages early and the order of cells change no result: stages and cells are cached
and seeded by their own identity.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from harness.cells import CellFailed, CellOutput, CellSpec
from harness.executors import CellOptions
from harness.plugin import Executor
from harness.progress import cells_bar
from harness.worker import execute_cell_remote, run_cell_timed

if TYPE_CHECKING:
    from harness.engine import Engine


class LocalOptions(CellOptions):
    """``[executor]`` options of ``kind = "local"``."""

    workers: int = Field(1, ge=1, le=256, description="cells computed side by side in worker processes (1: in-process)")


class LocalExecutor(Executor):
    """In-process executor: one cell after another, or ``workers`` local processes side by side."""

    Config = LocalOptions
    options: LocalOptions

    def __init__(self, options: BaseModel | None, engine: "Engine") -> None:
        super().__init__(options, engine)
        self.stage_seconds: dict[str, float] = {}  # shared stages built outside cells: name -> seconds

    def _stage(self, name: str, what: str, build: Callable[[], object], piece: tuple = ()) -> None:
        """Build a shared stage with a start and an end line; a failure is left to the cells that need it.

        ``piece``: the stage's key in :attr:`work` (marked finished when it is built)."""
        self.log(f"{what}: started")
        t0 = time.perf_counter()
        try:
            build()
        except Exception as e:  # noqa: BLE001 - the cells that need this stage fail with the full traceback
            self.log(f"{what}: failed ({type(e).__name__}); the cells that need it will report the error")
            return
        finally:
            if self.work is not None and piece:
                self.work.finish(piece)
        self.stage_seconds[name] = round(time.perf_counter() - t0, 3)
        self.log(f"{what}: ready in {self.stage_seconds[name]:.1f} s")

    def _show(self, bar: Any, label: str, t0: float) -> None:
        """The bar's postfix: what runs now, and the ETA from work units (:mod:`harness.progress`)."""
        eta = self.work.postfix(time.perf_counter() - t0) if self.work is not None else ""
        bar.set_postfix_str(f"{label}; {eta}" if eta and label else label or eta)

    def run(self, cells: Sequence[CellSpec], progress: bool = False) -> Iterator[CellOutput]:
        engine = self.engine
        workers = min(self.options.workers, len(cells)) if cells else 1
        # shared stages are per world: (world, seed) teachers, each world's base encoder
        teacher_seeds = {(s.world, s.seed) for s in cells if engine.config.method(s.method).cls.needs_teacher}
        needs_base = bool(teacher_seeds) and engine.config.model.base == "mini"
        base_worlds = sorted({w for w, _ in teacher_seeds}, key=_world_order(engine)) if needs_base else []
        t0 = time.perf_counter()
        if workers <= 1:
            for w in base_worlds:
                self._stage(
                    _named("base encoder", w, engine),
                    _named("base encoder", w, engine)
                    + " (tokenizer + MLM pre-training, shared by all seeds; from the cache when built before)",
                    engine.for_world(w).base_dir,
                    ("base", w or engine.world),
                )
        # The bar counts cells; its ETA comes from work units (harness.progress), not from the cell rate.
        bar = cells_bar(len(cells), "cells", progress)
        try:
            if workers <= 1:
                for spec in cells:
                    world = spec.world or engine.world
                    if (spec.world, spec.seed) in teacher_seeds:
                        teacher_seeds.discard((spec.world, spec.seed))
                        name = _named(f"teacher seed={spec.seed}", spec.world, engine)
                        self._show(bar, name, t0)
                        self._stage(
                            name,
                            _named(f"teacher for seed {spec.seed}", spec.world, engine) + " (the base encoder "
                            "fine-tuned on pivot pairs; from the cache when built before)",
                            functools.partial(engine.for_world(spec.world).teacher, spec.seed),
                            ("teacher", world, spec.seed),
                        )
                    label = _named(spec.label, spec.world, engine)
                    self._show(bar, label, t0)
                    if not progress:
                        self.log(f"cell {label}: running")
                    out = run_cell_timed(engine, spec, self.options.cell_timeout)
                    if self.work is not None:
                        self.work.finish((world, spec.method, spec.seed))
                    self._show(bar, "", t0)
                    bar.update(1)
                    yield out
            else:
                self.log(
                    f"{len(cells)} cells on {workers} worker processes (shared stages first: the base encoder, "
                    "then each seed's teacher, while cells that need neither run beside them)"
                )
                stages: list[tuple[str, str, int | None]] = [("base", w, None) for w in base_worlds] + [
                    ("teacher", w, seed)
                    for w, seed in sorted(teacher_seeds, key=lambda t: (_world_order(engine)(t[0]), t[1]))
                ]
                for out in self._pool(cells, workers, stages, bar=bar, t0=t0):
                    if self.work is not None:
                        self.work.finish((out.world or engine.world, out.method, out.seed))
                    self._show(bar, "", t0)
                    bar.update(1)
                    yield out
        finally:
            bar.close()

    def schedule(self, cells: Sequence[CellSpec]) -> list[CellSpec]:
        """The pool's submission order: cells that need no teacher first (they run beside the
        shared stages), then the rest costliest first (``Method.cost``; ties in matrix order),
        so that cheap cells fill the tail.  Order changes no result."""
        config = self.engine.config
        free = [c for c in cells if not config.method(c.method).cls.needs_teacher]
        rest = [c for c in cells if config.method(c.method).cls.needs_teacher]
        rank = {id(c): i for i, c in enumerate(rest)}
        world = _world_order(self.engine)  # world by world: a worker keeps one world's engine loaded
        rest.sort(key=lambda c: (world(c.world), -float(config.method(c.method).cls.cost), c.seed, rank[id(c)]))
        return free + rest

    def _pool(
        self,
        cells: Sequence[CellSpec],
        workers: int,
        stages: Sequence[tuple[str, str, int | None]] = (),
        bar: Any = None,
        t0: float = 0.0,
    ) -> Iterator[CellOutput]:
        import multiprocessing
        from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait

        from harness.worker import build_stage_remote

        engine = self.engine
        texts = {w: engine.for_world(w).config.to_toml() for w in engine.worlds}  # each world's config travels
        source = engine.config.source
        root, device = str(engine.cache.root), engine.device
        timeout = self.options.cell_timeout
        ctx = multiprocessing.get_context("spawn")  # no fork of a process holding torch threads
        order = self.schedule(cells)
        n_free = sum(1 for c in order if not engine.config.method(c.method).cls.needs_teacher)
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker)
        try:
            stage_futs: dict[Future, str] = {}
            stage_pieces: dict[Future, tuple] = {}
            pending: dict[Future, CellSpec] = {}

            def submit_stage(stage: str, world: str, seed: int | None) -> None:
                if stage == "base":
                    name = _named("base encoder", world, engine)
                    what = name + " (tokenizer + MLM pre-training, shared by all seeds)"
                else:
                    name = _named(f"teacher seed={seed}", world, engine)
                    what = _named(f"teacher for seed {seed}", world, engine) + " (the base fine-tuned on pivot pairs)"
                self.log(f"{what}: queued (built once, or loaded from the cache)")
                text = texts[world or engine.world]
                fut = pool.submit(build_stage_remote, text, source, stage, seed, root, device)
                stage_futs[fut] = name
                stage_pieces[fut] = (
                    ("base", world or engine.world)
                    if stage == "base"
                    else (
                        "teacher",
                        world or engine.world,
                        seed,
                    )
                )

            def submit_cell(spec: CellSpec) -> None:
                text = texts[spec.world or engine.world]
                pending[pool.submit(execute_cell_remote, text, source, spec, root, device, None, timeout)] = spec

            # The base first (one worker builds it) with teacher-free cells beside it, then the teachers,
            # then the other cells: a worker that reaches a stage another builds waits on the cache's lock.
            base = [st for st in stages if st[0] == "base"]
            for st in base:
                submit_stage(*st)
            for spec in order[:n_free]:
                submit_cell(spec)
            for st in stages:
                if st[0] != "base":
                    submit_stage(*st)
            for spec in order[n_free:]:
                submit_cell(spec)
            while pending or stage_futs:
                # a bounded wait: the bar's clock and ETA move while a worker builds a stage (which
                # reports its own start and steps: harness.training)
                done, _ = wait(list(pending) + list(stage_futs), timeout=1.0, return_when=FIRST_COMPLETED)
                if bar is not None:
                    self._show(bar, "", t0)
                    bar.refresh()
                for fut in done:
                    if fut in stage_futs:
                        name = stage_futs.pop(fut)
                        if self.work is not None:
                            self.work.finish(stage_pieces[fut])
                        try:
                            self.stage_seconds[name] = round(fut.result(), 3)
                            self.log(f"{name}: ready in {self.stage_seconds[name]:.1f} s")
                        except Exception as e:  # noqa: BLE001 - the cells that need it report the error
                            self.log(f"{name}: failed ({type(e).__name__}); the cells that need it will report it")
                        continue
                    spec = pending.pop(fut)
                    try:
                        yield fut.result()
                    except Exception as e:  # noqa: BLE001 - a worker process died: report the cell as failed
                        yield CellFailed(
                            spec.method,
                            spec.seed,
                            spec.key,
                            error=f"{type(e).__name__} in a local worker process: {e}",
                            traceback=repr(e),
                            world=spec.world,
                        )
        except BaseException:  # SIGTERM, Ctrl-C, or the driver stopped reading: abandon the cells in flight
            _abandon(pool)
            raise
        finally:
            pool.shutdown(wait=True)


def _abandon(pool: Any, grace: float = 10.0) -> None:
    """Stop a worker pool now: cells not started are cancelled, cells in flight are abandoned.

    Each worker process gets SIGTERM, which in a worker raises
    :class:`~harness.interrupts.WorkerTerminated` (:func:`_init_worker`): the cell it runs
    unwinds (its temporary cache entries and shards are removed, nothing is cached) and the
    worker exits; an idle worker exits at once.  A worker still alive after ``grace`` seconds
    is killed.  (``ProcessPoolExecutor.shutdown`` alone would wait for every queued cell.)
    """
    procs = list((getattr(pool, "_processes", None) or {}).values())  # the pool's worker processes
    pool.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        if p.is_alive():
            p.terminate()
    deadline = time.monotonic() + grace
    for p in procs:
        p.join(max(0.0, deadline - time.monotonic()))
    for p in procs:
        if p.is_alive():
            p.kill()


def _world_order(engine: "Engine") -> Callable[[str], int]:
    """Sort key of world labels: their order in the config (``""``: the engine's own world)."""
    order = {w: i for i, w in enumerate(engine.worlds)}
    return lambda w: order.get(w or engine.world, 0)


def _named(stage: str, world: str, engine: "Engine") -> str:
    """A stage's name, with its world when the matrix has several."""
    return f"{stage} world={world or engine.world}" if len(engine.worlds) > 1 else stage


def _init_worker() -> None:
    """In a worker process: warnings print as the driver's do (one ``warning: ...`` line), SIGTERM
    unwinds the running cell and exits (:func:`harness.interrupts.terminate_on_sigterm`), and
    the cyclic garbage collector runs less often.

    Training steps allocate many short-lived autograd objects, and the collector's first
    generation (threshold 700 objects by default) ran ~2,000 times in a 110 s three-cell run,
    ~2.5 % of its time; a threshold of 20,000 makes that ~30 times rarer.  No result depends
    on when garbage is collected, and the worker's memory stays bounded (a collection still
    runs after every 20,000 net allocations).
    """
    import gc
    import warnings

    from harness.interrupts import terminate_on_sigterm
    from harness.runner import show_warning_line

    warnings.showwarning = show_warning_line
    terminate_on_sigterm()
    gc.set_threshold(20_000)  # generations 1 and 2 keep their defaults (every 10 collections of the one below)
