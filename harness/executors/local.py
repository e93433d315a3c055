"""In-process executor (default), or a pool of local worker processes with ``workers > 1``.

Every cell runs with the config's pinned torch thread count (``training.num_threads``,
default 1), so the same cell gives identical per-query scores whether it runs here, in a
local worker process or on a Ray worker.  To use more cores, run cells side by side:
``[executor] kind = "local"``, ``workers = 2`` starts two worker processes (spawned, each
builds its own engine over the same cache; a stage two workers need at once, such as the
base encoder, is built by one while the other waits on the cache's lock).  Plugins must
then be installed (found through entry points), not only registered in the driver process.

Stage lines (``Executor.log``): the base encoder, shared by all seeds, is built (or loaded)
before the first cell and, in-process, each seed's teacher before that seed's first cell,
each with a start and an end line, so that a cold run says which stage is running (on a
terminal and in a log file alike) and the progress bar's rate (hence its ETA) counts cells,
not one-off work (the bar starts after the base encoder and is unpaused after each teacher).
Building them early changes no result: both are cached stages keyed and seeded by their own
identity.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from harness.engine import CellOutput, CellSpec, execute_cell_remote
from harness.options import Options
from harness.plugin import Executor

if TYPE_CHECKING:
    from harness.engine import Engine


class LocalOptions(Options):
    """``[executor]`` options of ``kind = "local"``."""

    workers: int = Field(1, ge=1, le=256, description="cells computed side by side in worker processes (1: in-process)")


class LocalExecutor(Executor):
    """In-process executor: one cell after another, or ``workers`` local processes side by side."""

    Config = LocalOptions
    options: LocalOptions

    def __init__(self, options: BaseModel | None, engine: "Engine") -> None:
        super().__init__(options, engine)
        self.stage_seconds: dict[str, float] = {}  # shared stages built outside cells: name -> seconds

    def _stage(self, name: str, what: str, build: Callable[[], object]) -> None:
        """Build a shared stage with a start and an end line; a failure is left to the cells that need it."""
        self.log(f"{what} ...")
        t0 = time.perf_counter()
        try:
            build()
        except Exception as e:  # noqa: BLE001 - the cells that need this stage fail with the full traceback
            self.log(f"{what}: failed ({type(e).__name__}); the cells that need it will report the error")
            return
        self.stage_seconds[name] = round(time.perf_counter() - t0, 3)
        self.log(f"{what}: ready in {self.stage_seconds[name]:.1f} s")

    def run(self, cells: Sequence[CellSpec], progress: bool = False) -> Iterator[CellOutput]:
        from tqdm.auto import tqdm

        engine = self.engine
        workers = min(self.options.workers, len(cells)) if cells else 1
        teacher_seeds = {s.seed for s in cells if engine.config.method(s.method).cls.needs_teacher}
        if teacher_seeds and engine.config.model.base == "mini":
            self._stage(
                "base encoder",
                "base encoder (tokenizer + MLM pre-training, shared by all seeds; from the cache when built before)",
                engine.base_dir,
            )
        bar = tqdm(total=len(cells), desc="cells", unit="cell", disable=not progress or not cells)
        try:
            if workers <= 1:
                for spec in cells:
                    if spec.seed in teacher_seeds:
                        teacher_seeds.discard(spec.seed)
                        bar.set_postfix_str(f"teacher seed={spec.seed}")
                        self._stage(
                            f"teacher seed={spec.seed}",
                            f"teacher for seed {spec.seed} (the base encoder "
                            "fine-tuned on pivot pairs; from the cache when built before)",
                            functools.partial(engine.teacher, spec.seed),
                        )
                        bar.unpause()  # the ETA counts cells: leave the one-off teacher out of the rate
                    bar.set_postfix_str(spec.label)
                    if not progress:
                        self.log(f"cell {spec.label}: running")
                    yield engine.run_cell(spec)
                    bar.update(1)
            else:
                self.log(
                    f"{len(cells)} cells on {workers} worker processes (each builds or loads the teachers it needs)"
                )
                for out in self._pool(cells, workers):
                    bar.update(1)
                    yield out
        finally:
            bar.close()

    def _pool(self, cells: Sequence[CellSpec], workers: int) -> Iterator[CellOutput]:
        import multiprocessing
        from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

        engine = self.engine
        text, source = engine.config.to_toml(), engine.config.source
        ctx = multiprocessing.get_context("spawn")  # no fork of a process holding torch threads
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker) as pool:
            pending = {
                pool.submit(execute_cell_remote, text, source, spec, str(engine.cache.root), engine.device): spec
                for spec in cells
            }
            while pending:
                done, _ = wait(list(pending), return_when=FIRST_COMPLETED)
                for fut in done:
                    spec = pending.pop(fut)
                    try:
                        yield fut.result()
                    except Exception as e:  # noqa: BLE001 - a worker process died: report the cell as failed
                        yield CellOutput(
                            spec.method,
                            spec.seed,
                            spec.key,
                            "failed",
                            error=f"{type(e).__name__} in a local worker process: {e}",
                            traceback=repr(e),
                        )


def _init_worker() -> None:
    """In a worker process, warnings print as the driver's do: one ``warning: ...`` line."""
    import warnings

    from harness.runner import show_warning_line

    warnings.showwarning = show_warning_line
