"""Which bitext the teacher-level alignment measures read (harness.engine.Engine.world_measures)."""

from __future__ import annotations

import copy
from types import SimpleNamespace

from harness.benchmarks.local import LocalBenchmark
from harness.engine import Engine


def _engine_over(bench, needs_teacher: bool = True) -> Engine:
    engine = object.__new__(Engine)  # only the benchmark and the methods are read before the teacher
    engine._benchmark = bench
    method = SimpleNamespace(cls=SimpleNamespace(needs_teacher=needs_teacher))
    engine.config = SimpleNamespace(methods=[method], seeds=[0])  # type: ignore[assignment]
    return engine


def test_a_benchmark_without_bitext_gets_no_measures_and_no_error(local_dir, local_options):
    opts = copy.deepcopy(local_options)
    del opts["bitext_dir"]
    bench = LocalBenchmark(opts, base_dir=local_dir)
    assert _engine_over(bench).world_measures() is None  # bitext unavailable: left out, the run goes on


def test_no_teacher_no_measures(local_dir, local_options):
    bench = LocalBenchmark(local_options, base_dir=local_dir)
    assert _engine_over(bench, needs_teacher=False).world_measures() is None
