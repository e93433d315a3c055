"""In-process executor: one cell at a time, with a progress bar on a terminal.

The stages every cell of a seed shares (the base encoder, shared by all seeds; the seed's
teacher) are built before the seed's first cell, each with a log line (``Executor.log``), so
that a cold run says which stage is running (on a terminal and in a log file alike) and the
progress bar's rate (hence its ETA) counts cells, not one-off work (the bar starts after the
base encoder and is unpaused after each teacher).  Building them early changes no result:
both are memoised by the engine and seeded by their own keys.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence

from harness.engine import CellOutput, CellSpec
from harness.plugin import Executor


class LocalExecutor(Executor):
    """In-process executor: one cell after another, in this process."""

    def __init__(self, options, engine):
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
        teacher_seeds = {s.seed for s in cells if engine.config.method(s.method).cls.needs_teacher}
        if teacher_seeds and engine.config.model.base == "mini":
            self._stage("base encoder", "base encoder (tokenizer + MLM pre-training, shared by all seeds; "
                        "from the cache when built before)", engine.base_dir)
        bar = tqdm(total=len(cells), desc="cells", unit="cell", disable=not progress or not cells)
        try:
            for spec in cells:
                if spec.seed in teacher_seeds:
                    teacher_seeds.discard(spec.seed)
                    bar.set_postfix_str(f"teacher seed={spec.seed}")
                    self._stage(f"teacher seed={spec.seed}", f"teacher for seed {spec.seed} (the base encoder "
                                "fine-tuned on pivot pairs; from the cache when built before)",
                                lambda s=spec.seed: engine.teacher(s))
                    bar.unpause()  # the ETA counts cells: leave the one-off teacher out of the rate
                bar.set_postfix_str(spec.label)
                if not progress:
                    self.log(f"cell {spec.label}: running")
                yield engine.run_cell(spec)
                bar.update(1)
        finally:
            bar.close()
