"""Ray executor: each (method, seed) cell is a Ray task with declared CPU/GPU resources,
and each cell's corpus encoding is split into shard tasks.

The driver sends each task the normalised config (TOML text) and the cell's spec; the
worker builds its own engine over its cache, computes the cell and returns the outputs by
value (per-query scores, TREC runs, timings).  The driver writes the cell's cache entry and
the run directory.

Resources: a cell of a dense method (or one that needs the teacher) asks for
``num_gpus_per_cell`` GPUs; others (BM25) ask for none.  Within a cell, every unfinished
shard of a document index is one Ray task (:mod:`harness.executors.ray_shards`) asking for
``num_gpus_per_shard`` GPUs (default: 1 when ``num_gpus_per_cell > 0``, else 0), so one
cell's encoding uses several GPUs.  The statistics run in the driver and ask Ray for nothing.
The driver submits at most ``max_cells_in_flight`` cells at a time (default: as many as the
cluster's CPUs hold), so the CPU a cell lends while it waits on its shard tasks goes to those
tasks, not to yet another cell (:meth:`RayExecutor.cells_in_flight`); a cell that waits for a
cache entry another cell is building waits through Ray too (:mod:`harness.locks`).

Caches: a local instance shares the driver's cache root.  On a cluster, each worker uses
its node's ``$HARNESS_CACHE`` unless ``shared_cache = true`` (or ``HARNESS_SHARED_CACHE=1``
in the driver's environment): then the driver's cache root is a directory every node mounts
at the same path, every worker reads and writes it (indexes, teachers, runs are reused by
all), and shard tasks write their shards into it, so a driver that dies loses no finished
shard.  Writes are atomic (temporary file + rename; records committed last), see
:func:`harness.index.write_shard` for what happens when two workers race on one shard.

Failures: an exception inside a cell is returned as a failed cell (like the local
executor).  A worker process or node lost mid-cell is retried by Ray (``max_retries``);
nothing is written until a task returns, so a lost attempt never leaves a half-written
result.  If every retry is lost, the cell is reported as failed and retried on the next run.
"""

from __future__ import annotations

import collections
import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator, Sequence

from pydantic import Field, model_validator

from harness.cells import CellFailed, CellOutput, CellSpec
from harness.engine import Engine
from harness.executors import CellOptions
from harness.plugin import Executor
from harness.progress import cells_bar
from harness.worker import execute_cell_remote


class RayOptions(CellOptions):
    """``[executor]`` options of ``kind = "ray"``."""

    address: str | None = Field(None, description="Ray cluster address; None starts a local instance")
    num_cpus_per_cell: float = Field(1.0, gt=0, description="CPUs each cell task asks Ray for")
    num_gpus_per_cell: float = Field(
        0.0, ge=0, description="GPUs each dense cell asks for (> 0: cells run on CUDA; BM25 cells ask for none)"
    )
    max_retries: int = Field(2, ge=0, le=10, description="Ray retries of a task whose worker was lost")
    shard_tasks: bool = Field(True, description="encode each document-index shard as its own Ray task")
    num_gpus_per_shard: float | None = Field(None, ge=0, description="None: 1 if num_gpus_per_cell > 0, else 0")
    num_cpus_per_shard: float = Field(1.0, gt=0, description="CPUs each shard-encoding task asks for")
    max_shards_in_flight: int = Field(4, ge=1, le=1024, description="per index being built")
    max_cells_in_flight: int | None = Field(
        None,
        ge=1,
        description="cells submitted to Ray at once; None: the cluster's CPUs / num_cpus_per_cell when the run starts",
    )
    shared_cache: bool = Field(
        False, description="the driver's cache root is mounted at the same path on every node (HARNESS_SHARED_CACHE=1)"
    )

    @model_validator(mode="after")
    def _shards_on_the_cells_device(self) -> "RayOptions":
        # a shard is encoded on the cell's device (part of the index's identity), so GPU cells need GPU shards
        g = self.num_gpus_per_shard
        if g is not None and self.shard_tasks and (g > 0) != (self.num_gpus_per_cell > 0):
            from harness.errors import ConfigError

            raise ConfigError(
                "executor.num_gpus_per_shard",
                g,
                "> 0 when num_gpus_per_cell > 0 (cells on CUDA), else 0",
                "shards are encoded on the cell's device; omit the key for 1 GPU per shard on GPU cells, "
                "or set shard_tasks = false",
            )
        return self


class RayExecutor(Executor):
    """Ray executor: each (method, seed) cell is a Ray task with declared CPU/GPU resources."""

    Config = RayOptions
    options: RayOptions

    @classmethod
    def device(cls, options) -> str:
        """CUDA when the config asks Ray for GPUs per cell, else CPU."""
        return "cuda" if options.num_gpus_per_cell > 0 else "cpu"

    def __init__(self, options: RayOptions | None, engine: Engine):
        super().__init__(options, engine)
        config = engine.config
        address = self.options.address
        try:
            import ray
        except ImportError as e:  # pragma: no cover - depends on the environment
            from harness.errors import ConfigError

            raise ConfigError(
                "executor.kind", "ray", "'local', or install Ray: pip install 'xling-harness[ray]'"
            ) from e
        self.ray = ray
        self.config = config
        self.engine = engine
        self.address = address
        self._started = False
        if not ray.is_initialized():
            with _keep_sigterm_handler():  # ray.init installs its own (sys.exit): the driver's must stay
                self._init(engine)
            self._started = True

    def _init(self, engine: Engine) -> None:
        """``ray.init``: connect to ``address``, or start a local instance."""
        ray = self.ray
        if self.address:
            ray.init(address=self.address, log_to_driver=False)
        else:
            # A local instance: workers inherit the driver's import path (plugins, tests).
            from harness.training import usable_cpus

            path = os.pathsep.join(p for p in sys.path if p)
            ray.init(
                num_cpus=usable_cpus(),  # as training.num_threads = 0 counts them
                include_dashboard=False,
                log_to_driver=False,
                runtime_env={
                    "env_vars": {
                        "PYTHONPATH": path,
                        "HARNESS_CACHE": str(engine.cache.root),
                        "TOKENIZERS_PARALLELISM": "false",
                    }
                },
            )

    def run(self, cells: Sequence[CellSpec], progress: bool = False) -> Iterator[CellOutput]:
        ray = self.ray
        ex = self.options
        task = ray.remote(
            num_cpus=ex.num_cpus_per_cell,
            num_gpus=ex.num_gpus_per_cell,
            max_retries=ex.max_retries,
            retry_exceptions=False,
        )(execute_cell_remote)
        # each world's config travels with its cells (HarnessConfig.for_world)
        texts = {w: self.engine.for_world(w).config.to_toml() for w in self.engine.worlds}
        source = self.config.source
        shared = self.shared_cache()
        cache_root = str(self.engine.cache.root) if shared else None
        shards = self.shard_runner(shared)
        pending = {}
        queue = collections.deque(cells)
        limit = self.cells_in_flight()

        def submit() -> None:
            spec = queue.popleft()
            gpu = self.needs_gpu(spec.method)
            t = task if gpu else task.options(num_gpus=0)
            device = self.engine.device if gpu else "cpu"  # cells without a GPU: keys say device "any"
            text = texts[spec.world or self.engine.world]
            pending[t.remote(text, source, spec, cache_root, device, shards, ex.cell_timeout)] = spec

        while queue and len(pending) < limit:
            submit()
        # The bar counts cells; its ETA comes from work units (harness.progress), not from the cell rate.
        bar = cells_bar(len(cells), "cells (ray)", progress)
        t0 = time.perf_counter()
        work = self.work
        try:
            while pending:
                # a bounded wait: the driver's signal handlers (Ctrl-C, a test's timeout) run between waits
                done, _ = ray.wait(list(pending), num_returns=1, timeout=1.0)
                if work is not None:
                    bar.set_postfix_str(work.postfix(time.perf_counter() - t0))
                bar.refresh()  # the clock moves while cells run
                for ref in done:
                    spec = pending.pop(ref)
                    try:
                        out = ray.get(ref)
                    except Exception as e:  # noqa: BLE001 - worker lost after all retries, or a Ray error
                        out = CellFailed(
                            spec.method,
                            spec.seed,
                            spec.key,
                            error=f"{type(e).__name__} on the Ray worker (retries allowed for lost "
                            f"workers: {ex.max_retries}): {_first_lines(e)}",
                            traceback=str(e),
                            world=spec.world,
                        )
                    if queue:
                        submit()
                    if work is not None:
                        world = spec.world or self.engine.world
                        # a cell that needs the teacher built the shared stages (base, its seed's teacher) in its task
                        stages = [("base", world), ("teacher", world, spec.seed)] if self.needs_teacher(spec) else []
                        for piece in (*stages, (world, spec.method, spec.seed)):
                            work.finish(piece)
                        bar.set_postfix_str(work.postfix(time.perf_counter() - t0))
                    bar.update(1)
                    yield out
        finally:
            bar.close()
            if pending:  # SIGTERM, Ctrl-C, or the driver stopped reading: cells are still in flight
                self._abandon(list(pending))
            if self._started:
                ray.shutdown()

    def _abandon(self, refs: list, grace: float = 15.0) -> None:
        """Cancel the cells in flight (and their shard tasks) and give them ``grace`` seconds to unwind.

        A cancelled task gets a ``KeyboardInterrupt`` (``ray.cancel(force=False)``): it unwinds
        like Ctrl-C, removing its temporary cache entries and shards, before ``ray.shutdown``
        stops its worker.  Cells not started are dropped.  Their errors are collected here, so
        Ray prints no "unhandled error" for them.
        """
        ray = self.ray
        for ref in refs:
            try:
                ray.cancel(ref, force=False, recursive=True)
            except Exception:  # noqa: BLE001 - already finished, or Ray is going away
                pass
        try:
            done, _ = ray.wait(refs, num_returns=len(refs), timeout=grace)
        except Exception:  # noqa: BLE001
            return
        for ref in done:
            try:
                ray.get(ref, timeout=0)
            except Exception:  # noqa: BLE001 - cancelled: TaskCancelledError
                pass

    def cells_in_flight(self) -> int:
        """How many cells are submitted to Ray at once (``max_cells_in_flight``).

        Default: as many as the cluster's CPUs hold when the run starts (at least 1).  Ray lends
        the CPU of a cell blocked on its shard tasks to other tasks; with every cell submitted
        up front it lends it to the next queued cell instead of the shards, so all cells end up
        running at once (each a process holding its models: memory grows with the matrix).
        Submitting no more cells than fit keeps a blocked cell's CPU for its shard tasks.  On an
        autoscaling cluster, set the option: the default counts the nodes present at the start.
        """
        if self.options.max_cells_in_flight is not None:
            return self.options.max_cells_in_flight
        cpus = float(self.ray.cluster_resources().get("CPU", 1.0))
        return max(1, int(cpus // self.options.num_cpus_per_cell))

    def shared_cache(self) -> bool:
        """Whether every worker uses the driver's cache root (a local instance, or declared shared)."""
        return not self.address or self.options.shared_cache or os.environ.get("HARNESS_SHARED_CACHE") == "1"

    def needs_teacher(self, spec: CellSpec) -> bool:
        return bool(self.config.method(spec.method).cls.needs_teacher)

    def needs_gpu(self, method: str) -> bool:
        """A cell asks for GPUs if its method encodes (dense) or trains on the teacher."""
        cls = self.config.method(method).cls
        return cls.kind == "dense" or bool(cls.needs_teacher)

    def shard_runner(self, shared: bool):
        """The cells' shard runner (:class:`~harness.executors.ray_shards.RayShards`), or None."""
        from harness.executors.ray_shards import RayShards

        ex = self.options
        if not ex.shard_tasks:
            return None
        gpus = ex.num_gpus_per_shard
        if gpus is None:
            gpus = 1.0 if ex.num_gpus_per_cell > 0 else 0.0
        return RayShards(
            num_cpus=ex.num_cpus_per_shard,
            num_gpus=gpus,
            max_in_flight=ex.max_shards_in_flight,
            max_retries=ex.max_retries,
            shared=shared,
        )


@contextlib.contextmanager
def _keep_sigterm_handler() -> Iterator[None]:
    """Restore this process's SIGTERM handler after the block (``ray.init`` replaces it with ``sys.exit``).

    The command line's handler turns SIGTERM into an exception that unwinds the run (cells in
    flight cancelled, manifest marked interrupted, exit status 143, one line saying so).
    """
    main = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGTERM) if main else None
    try:
        yield
    finally:
        if main and previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _first_lines(e: BaseException, n: int = 3) -> str:
    text = str(e).strip()
    return " | ".join(text.splitlines()[:n]) if text else repr(e)
