"""In-process executor: one cell at a time, with a progress bar on a terminal."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from harness.engine import CellOutput, CellSpec, Engine


class LocalExecutor:
    def __init__(self, engine: Engine):
        self.engine = engine

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
