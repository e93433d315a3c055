"""The local executor names the shared stages before the cells that need them (a stub engine: no training)."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd

from harness.cells import CellDone, CellOutput, CellSpec
from harness.executors.local import LocalExecutor


class StubEngine:
    """Records the order of calls; ``teacher`` of ``broken_seed`` raises.  One world (``for_world``: itself)."""

    world = "13"
    worlds = ["13"]

    def for_world(self, world: str) -> StubEngine:
        return self

    def __init__(self, needs_teacher: dict[str, bool], broken_seed: int | None = None):
        self.calls: list[str] = []
        self.broken_seed = broken_seed
        methods = {m: SimpleNamespace(cls=SimpleNamespace(needs_teacher=t)) for m, t in needs_teacher.items()}
        self.config = SimpleNamespace(method=methods.__getitem__, model=SimpleNamespace(base="mini"))

    def base_dir(self):
        self.calls.append("base")
        return "/base"

    def teacher(self, seed: int):
        self.calls.append(f"teacher {seed}")
        if seed == self.broken_seed:
            raise RuntimeError("teacher diverged")
        return object()

    def run_cell(self, spec: CellSpec) -> CellOutput:
        self.calls.append(f"cell {spec.label}")
        return CellDone(spec.method, spec.seed, spec.key, results=pd.DataFrame())


def run(engine: StubEngine, cells: list[CellSpec]) -> tuple[list[str], LocalExecutor]:
    ex = LocalExecutor(None, engine)
    lines: list[str] = []
    ex.log = lines.append
    outs = list(ex.run(cells, progress=False))
    assert [o.method for o in outs] == [c.method for c in cells]
    return lines, ex


def test_base_then_each_seeds_teacher_before_its_first_cell():
    engine = StubEngine({"zero-shot": True, "bm25": False})
    cells = [CellSpec(m, s, f"k{m}{s}") for s in (0, 1) for m in ("bm25", "zero-shot")]
    lines, ex = run(engine, cells)
    assert engine.calls == [
        "base",
        "teacher 0",
        "cell bm25/seed=0",
        "cell zero-shot/seed=0",
        "teacher 1",
        "cell bm25/seed=1",
        "cell zero-shot/seed=1",
    ]
    starts = [line for line in lines if line.endswith(": started") or line.endswith(": running")]
    assert [s.split(" (")[0] for s in starts] == [
        "base encoder",
        "teacher for seed 0",
        "cell bm25/seed=0: running",
        "cell zero-shot/seed=0: running",
        "teacher for seed 1",
        "cell bm25/seed=1: running",
        "cell zero-shot/seed=1: running",
    ]
    assert set(ex.stage_seconds) == {"base encoder", "teacher seed=0", "teacher seed=1"}
    assert sum(": ready in " in line for line in lines) == 3
    # every shared stage has a start line and, after it, an end line
    for stage in ("base encoder", "teacher for seed 0", "teacher for seed 1"):
        mine = [i for i, line in enumerate(lines) if line.startswith(stage + " (")]
        assert len(mine) == 2 and lines[mine[0]].endswith(": started") and ": ready in " in lines[mine[1]]


def test_the_executor_marks_planned_work_done():
    from harness.progress import WorkEta

    engine = StubEngine({"zero-shot": True, "bm25": False})
    cells = [CellSpec(m, 0, f"k{m}") for m in ("bm25", "zero-shot")]
    ex = LocalExecutor(None, engine)
    plan = {("base", "13"): 50.0, ("teacher", "13", 0): 30.0, ("13", "bm25", 0): 1.0, ("13", "zero-shot", 0): 19.0}
    ex.work = WorkEta(dict(plan))
    shares = []
    for _ in ex.run(cells, progress=False):
        shares.append(ex.work.share())
    # bm25 comes after the base (50) and the teacher (30): 81 of 100 units; then everything
    assert shares == [0.81, 1.0]


def test_no_teacher_no_shared_stage():
    engine = StubEngine({"bm25": False})
    lines, ex = run(engine, [CellSpec("bm25", 0, "k")])
    assert engine.calls == ["cell bm25/seed=0"] and ex.stage_seconds == {}


def test_a_failing_teacher_is_left_to_its_cells():
    engine = StubEngine({"zero-shot": True}, broken_seed=0)
    lines, ex = run(engine, [CellSpec("zero-shot", 0, "k")])
    assert any("teacher for seed 0" in line and "failed (RuntimeError)" in line for line in lines)
    assert engine.calls[-1] == "cell zero-shot/seed=0" and "teacher seed=0" not in ex.stage_seconds
