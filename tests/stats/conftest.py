"""Session fixtures of the statistics tests."""

from __future__ import annotations

import numpy as np
import pytest
from stats_world import FAST, TIERS, WORLD

from harness.stats.simulate import simulate_results


@pytest.fixture(scope="session")
def world_results():
    """Results table of ``WORLD`` (session-cached; treat as read-only)."""
    return simulate_results(WORLD, np.random.default_rng(20240601)).results


@pytest.fixture(scope="session")
def world_analysis(world_results):
    from harness.stats import AnalysisOptions, analyze

    return analyze(world_results, AnalysisOptions(**FAST), tiers=TIERS)
