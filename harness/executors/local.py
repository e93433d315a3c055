"""In-process executor (default), or a pool of local worker processes with ``workers > 1``.

Every cell runs with the config's pinned torch thread count (``training.num_threads``,
default 1), so the same cell gives identical per-query scores whether it runs here, in a
local worker process or on a Ray worker.  To use more cores, run cells side by side:
``[executor] kind = "local"``, ``workers = 2`` starts two worker processes (spawned, each
builds its own engine over the same cache; a stage two workers need at once, such as the
base encoder, is built by one while the other waits on the cache's lock).  Plugins must
then be installed (found through entry points), not only registered in the driver process.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from pydantic import Field

from harness.engine import CellOutput, CellSpec, execute_cell_remote
from harness.options import Options
from harness.plugin import Executor


class LocalOptions(Options):
    """``[executor]`` options of ``kind = "local"``."""

    workers: int = Field(1, ge=1, le=256, description="cells computed side by side in worker processes (1: in-process)")


class LocalExecutor(Executor):
    """In-process executor: one cell after another, or ``workers`` local processes side by side."""

    Config = LocalOptions

    def run(self, cells: Sequence[CellSpec], progress: bool = False) -> Iterator[CellOutput]:
        from tqdm.auto import tqdm

        workers = min(self.options.workers, len(cells)) if cells else 1
        bar = tqdm(total=len(cells), desc="cells", unit="cell", disable=not progress or not cells)
        try:
            if workers <= 1:
                for spec in cells:
                    bar.set_postfix_str(spec.label)
                    yield self.engine.run_cell(spec)
                    bar.update(1)
            else:
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
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            pending = {pool.submit(execute_cell_remote, text, source, spec, str(engine.cache.root), engine.device): spec
                       for spec in cells}
            while pending:
                done, _ = wait(list(pending), return_when=FIRST_COMPLETED)
                for fut in done:
                    spec = pending.pop(fut)
                    try:
                        yield fut.result()
                    except Exception as e:  # noqa: BLE001 - a worker process died: report the cell as failed
                        yield CellOutput(spec.method, spec.seed, spec.key, "failed",
                                         error=f"{type(e).__name__} in a local worker process: {e}", traceback=repr(e))
