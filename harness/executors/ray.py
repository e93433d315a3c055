"""Ray executor: each (method, seed) cell is a Ray task with declared CPU/GPU resources.

The driver sends each task the normalised config (TOML text) and the cell's spec; the
worker builds its own engine over its *own* cache (``$HARNESS_CACHE`` on that node, or the
driver's cache root for a local instance), computes the cell and returns the outputs by
value (per-query scores, TREC runs, timings).  The driver alone writes the cache entry and
the run directory, so no shared file system is assumed.

Failures: an exception inside a cell is returned as a failed cell (like the local
executor).  A worker process or node lost mid-cell is retried by Ray (``max_retries``);
nothing is written until a task returns, so a lost attempt never leaves a half-written
result.  If every retry is lost, the cell is reported as failed and retried on the next run.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Sequence

from pydantic import Field

from harness.engine import CellOutput, CellSpec, Engine, execute_cell_remote
from harness.options import Options
from harness.plugin import Executor


class RayOptions(Options):
    """``[executor]`` options of ``kind = "ray"``."""

    address: str | None = Field(None, description="Ray cluster address; None starts a local instance")
    num_cpus_per_cell: float = Field(1.0, gt=0)
    num_gpus_per_cell: float = Field(0.0, ge=0)
    max_retries: int = Field(2, ge=0, le=10)


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
            if self.address:
                ray.init(address=self.address, log_to_driver=False)
            else:
                # A local instance: workers inherit the driver's import path (plugins, tests).
                path = os.pathsep.join(p for p in sys.path if p)
                ray.init(
                    num_cpus=max(1, os.cpu_count() or 1),
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
            self._started = True

    def run(self, cells: Sequence[CellSpec], progress: bool = False) -> Iterator[CellOutput]:
        from tqdm.auto import tqdm

        ray = self.ray
        ex = self.options
        task = ray.remote(
            num_cpus=ex.num_cpus_per_cell,
            num_gpus=ex.num_gpus_per_cell,
            max_retries=ex.max_retries,
            retry_exceptions=False,
        )(execute_cell_remote)
        text, source = self.config.to_toml(), self.config.source
        cache_root = None if self.address else str(self.engine.cache.root)
        pending = {task.remote(text, source, spec, cache_root, self.engine.device): spec for spec in cells}
        bar = tqdm(total=len(cells), desc="cells (ray)", unit="cell", disable=not progress or not cells)
        try:
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                for ref in done:
                    spec = pending.pop(ref)
                    try:
                        out = ray.get(ref)
                    except Exception as e:  # noqa: BLE001 - worker lost after all retries, or a Ray error
                        out = CellOutput(
                            spec.method,
                            spec.seed,
                            spec.key,
                            "failed",
                            error=f"{type(e).__name__} on the Ray worker (retries allowed for lost "
                            f"workers: {ex.max_retries}): {_first_lines(e)}",
                            traceback=str(e),
                        )
                    bar.update(1)
                    yield out
        finally:
            bar.close()
            if self._started:
                ray.shutdown()


def _first_lines(e: BaseException, n: int = 3) -> str:
    text = str(e).strip()
    return " | ".join(text.splitlines()[:n]) if text else repr(e)
