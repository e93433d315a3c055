"""In-process executor: one cell at a time, with a progress bar on a terminal."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from harness.engine import CellOutput, CellSpec
from harness.plugin import Executor


class LocalExecutor(Executor):
    """In-process executor: one cell after another, in this process."""

    def run(self, cells: Sequence[CellSpec], progress: bool = False) -> Iterator[CellOutput]:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(cells), desc="cells", unit="cell", disable=not progress or not cells)
        try:
            for spec in cells:
                bar.set_postfix_str(spec.label)
                yield self.engine.run_cell(spec)
                bar.update(1)
        finally:
            bar.close()
