"""The ETA of a run comes from planned work units, is hidden early, and does not jump on cheap cells."""

from __future__ import annotations

import pytest

from harness.progress import WorkEta, format_seconds


def _matrix() -> dict[tuple, float]:
    """A cold run's plan: a costly shared stage, cheap cells (bm25) and costly trained cells."""
    plan: dict[tuple, float] = {("base", "w"): 400.0}
    for seed in (0, 1, 2):
        plan[("w", "bm25", seed)] = 1.0
        plan[("w", "ot-distill", seed)] = 100.0
    return plan


def test_hidden_until_enough_work_is_done():
    eta = WorkEta(_matrix(), min_share=0.1, min_seconds=5.0)
    assert eta.eta(elapsed=100.0) is None  # nothing done
    for seed in (0, 1, 2):  # three cheap cells in 3 s: a cell-counting bar would forecast 2 cells/s
        eta.finish(("w", "bm25", seed))
    assert eta.eta(elapsed=3.0) is None  # 3 of 703 units (0.4 %): no forecast
    assert "ETA after 10% of the work" in eta.postfix(3.0)
    eta.finish(("base", "w"))
    assert eta.eta(elapsed=2.0) is None  # enough work, but too early to time it


def test_eta_from_work_units_not_cell_counts():
    plan = _matrix()
    eta = WorkEta(plan, min_seconds=0.0)
    for seed in (0, 1, 2):
        eta.finish(("w", "bm25", seed))
    eta.finish(("base", "w"))  # 403 of 703 units after 403 s: 300 units (300 s) left
    assert eta.eta(elapsed=403.0) == pytest.approx(300.0)
    # a count of cells (3 of 6 after 403 s) would have said 403 s: the units see the cells left are costly
    eta.finish(("w", "ot-distill", 0))
    assert eta.eta(elapsed=503.0) == pytest.approx(200.0)
    assert eta.postfix(503.0) == "work 72%, ETA 3:20"


def test_no_jump_when_cheap_cells_finish_first():
    """Forecasts along a run at a constant speed (1 unit/s) stay at the true time left, cheap cells first."""
    plan = _matrix()
    eta = WorkEta(plan, min_share=0.0, min_seconds=0.0)
    order = [("base", "w")] + [("w", "bm25", s) for s in (0, 1, 2)] + [("w", "ot-distill", s) for s in (0, 1, 2)]
    clock = 0.0
    for piece in order:
        clock += plan[piece]
        eta.finish(piece)
        left = eta.eta(clock)
        assert left == pytest.approx(sum(plan.values()) - clock)


def test_cached_work_leaves_the_plan_and_pieces_count_once():
    eta = WorkEta(_matrix(), min_seconds=0.0)
    eta.skip(("base", "w"))  # found in the cache
    assert eta.total == pytest.approx(303.0)
    eta.finish(("w", "ot-distill", 0))
    eta.finish(("w", "ot-distill", 0))
    eta.finish(("not", "planned", 0))
    assert eta.done == pytest.approx(100.0)
    assert WorkEta({}).share() == 1.0 and WorkEta({}).eta(10.0) is None


def test_format_seconds():
    assert format_seconds(59.2) == "1:00"
    assert format_seconds(3725) == "1:02:05"


def test_plan_units_orders_work_by_its_cost(tmp_path):
    """On the tiny world: a trained cell outweighs zero-shot, which outweighs BM25; stages are planned
    when not cached."""
    from tiny_config import TINY  # tests/core is on sys.path (rootdir-relative imports)

    from harness.cache import Cache
    from harness.config import load_config
    from harness.engine import Engine
    from harness.progress import plan_units

    path = tmp_path / "tiny.toml"
    path.write_text(TINY.format(extra="[methods.contrastive]\nsteps = 20\n"))
    engine = Engine(load_config(path), Cache(tmp_path / "cache"))
    cells = engine.plan()
    units = plan_units(engine, cells)
    w = engine.world
    assert units[(w, "contrastive", 0)] > units[(w, "zero-shot", 0)] > units[(w, "bm25", 0)] > 0
    assert ("base", w) in units and ("teacher", w, 0) in units and ("teacher", w, 1) in units
    assert units[("base", w)] > 0 and units[("teacher", w, 0)] > 0
