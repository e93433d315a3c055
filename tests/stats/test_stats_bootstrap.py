"""Hierarchical bootstrap: coverage on designs with known seed and query variance."""

from __future__ import annotations

import numpy as np
import pytest

from harness.stats.bootstrap import (
    calibrated_interval,
    hierarchical_bootstrap,
    query_counts,
    resample_matrix_means,
    resample_seeds,
)
from harness.stats.inference import contrast_inference, residual_mean_square
from harness.stats.simulate import SimulationDesign, simulate_metric


def cell_interval(y: np.ndarray, rng: np.random.Generator, n_bootstrap: int = 1000):
    """The per-(method, language) interval exactly as analyze() builds it, for one (S, Q) matrix."""
    n_s, n_q = y.shape
    reps = resample_matrix_means(y, rng, n_bootstrap)[:, :, None]  # (B, S, 1)
    hier = resample_seeds(reps, rng.integers(0, n_s, size=(n_bootstrap, n_s)))
    noise = residual_mean_square(y) / (n_q * n_s)
    return calibrated_interval(
        np.array([y.mean()]), hier.mean(axis=1), reps.mean(axis=1), n_s - 1, n_q - 1, 0.95, overcount=noise
    )


@pytest.mark.parametrize(
    ("name", "sd_seed", "sd_query", "sd_inter", "n_seeds", "n_queries"),
    [
        ("seed variance dominates", 0.05, 0.20, 0.10, 5, 200),
        ("query variance dominates", 0.005, 0.30, 0.10, 5, 200),
        ("three seeds, mixed", 0.03, 0.30, 0.15, 3, 150),
    ],
)
def test_coverage_of_the_hierarchical_interval(name, sd_seed, sd_query, sd_inter, n_seeds, n_queries):
    """y[s, q] = mu + a_s + b_q + e_sq with known variances; 1,000 simulations, true mean 0."""
    rng = np.random.default_rng(12345)
    n_sim = 1000
    covered = 0
    for _ in range(n_sim):
        y = (
            rng.normal(0, sd_seed, (n_seeds, 1))
            + rng.normal(0, sd_query, (1, n_queries))
            + rng.normal(0, sd_inter, (n_seeds, n_queries))
        )
        iv = cell_interval(y, rng)
        covered += bool(iv.lo[0] <= 0.0 <= iv.hi[0])
    assert 0.92 <= covered / n_sim <= 0.98, f"{name}: coverage {covered / n_sim:.3f}"


def test_coverage_of_a_difference_of_gaps():
    """The question's interval: OT-minus-contrastive difference of high-minus-low gaps, two methods
    equal in truth (seed, seed x language, query and seed x query variance), 1,000 simulations.

    Query effects cancel in the difference, so the seed x query noise dominates the query
    part: without removing what the crossed bootstrap over-counts, this covers ~99%.
    """
    design = SimulationDesign(
        methods=("ot", "con"),
        tiers={"l1": "high", "l2": "high", "l3": "low", "l4": "low"},
        n_queries=40,
        n_seeds=5,
        sd={"seed": 0.03, "seed_x_language": 0.02, "query": 0.25, "seed_x_query": 0.1, "language": 0.05},
    )
    coefs = {}
    for m, s in (("ot", 1.0), ("con", -1.0)):
        coefs.update({(m, "l1"): s / 2, (m, "l2"): s / 2, (m, "l3"): -s / 2, (m, "l4"): -s / 2})
    weights = np.array([0.5, 0.5, -0.5, -0.5])
    rng = np.random.default_rng(31)
    covered = 0
    for i in range(1000):
        data, _ = simulate_metric(design, "m", rng)
        groups = {"ot": "g", "con": "g"}
        boot = hierarchical_bootstrap(data, groups, 400, seed=i)
        gap = {k: (v.mean(axis=-2) @ weights) for k, v in boot.hierarchical.items()}  # (B,)
        gap_q = {k: (v.mean(axis=-2) @ weights) for k, v in boot.queries_only.items()}
        est = float((boot.observed["ot"].mean(axis=0) - boot.observed["con"].mean(axis=0)) @ weights)
        inf = contrast_inference(data, coefs, groups)
        assert est == pytest.approx(inf.estimate)
        iv = calibrated_interval(
            np.array([est]),
            (gap["ot"] - gap["con"])[:, None],
            (gap_q["ot"] - gap_q["con"])[:, None],
            4,
            39,
            0.95,
            overcount=inf.noise_overcount,
        )
        covered += bool(iv.lo[0] <= 0.0 <= iv.hi[0])
    assert 0.92 <= covered / 1000 <= 0.98, covered / 1000


def test_plain_percentile_interval_undercovers_with_five_seeds():
    """Why the interval is calibrated: without rescaling and t-calibration, five seeds give ~0.85."""
    rng = np.random.default_rng(7)
    covered = 0
    for _ in range(1000):
        y = rng.normal(0, 0.05, (5, 1)) + rng.normal(0, 0.01, (1, 100))
        reps = resample_matrix_means(y, rng, 500)[:, :, None]
        plain = np.take_along_axis(reps, rng.integers(0, 5, (500, 5))[:, :, None], axis=1).mean(axis=1)[:, 0]
        lo, hi = np.quantile(plain, [0.025, 0.975])
        covered += bool(lo <= 0.0 <= hi)
    assert covered / 1000 < 0.9


def test_query_counts_are_multinomial():
    w = query_counts(np.random.default_rng(0), 300, 40)
    assert w.shape == (300, 40) and (w.sum(axis=1) == 40).all()
    assert abs(w.mean() - 1.0) < 1e-12 and 0.9 < w.var() < 1.1  # multinomial(40, 1/40): var ~ 0.975


def test_rescaled_seed_resampling_is_unbiased_for_the_seed_variance():
    """Var over replicates of the resampled seed mean ~ s^2 / S (a plain resample gives (S-1)/S of that)."""
    rng = np.random.default_rng(3)
    seeds = np.array([0.0, 0.1, 0.3, 0.35, 0.5])
    means = np.broadcast_to(seeds[None, :, None], (200_000, 5, 1))
    z = resample_seeds(means, rng.integers(0, 5, size=(200_000, 5)))
    assert z.mean(axis=1).var() == pytest.approx(seeds.var(ddof=1) / 5, rel=0.02)


def test_replicates_keep_pairing_and_crossing():
    """Methods share query resamples; paired methods share seed resamples."""
    design = SimulationDesign(
        methods=("a", "b", "c"),
        tiers={"x": "high", "y": "low"},
        n_queries=20,
        n_seeds=3,
        sd={"query": 0.3, "seed": 0.05},
    )
    data, _ = simulate_metric(design, "m", np.random.default_rng(0))
    # b is a copy of a: every replicate of a and b must coincide when they are in one seed group
    scores = dict(data.scores)
    scores.update({("b", lang): data.scores[("a", lang)] for lang in data.languages})
    from dataclasses import replace

    twin = replace(data, scores=scores)
    boot = hierarchical_bootstrap(twin, {"a": "g", "b": "g", "c": "g"}, 200, seed=1)
    assert np.array_equal(boot.hierarchical["a"], boot.hierarchical["b"])
    boot_ind = hierarchical_bootstrap(twin, {"a": "a", "b": "b", "c": "c"}, 200, seed=1)
    assert np.array_equal(boot_ind.queries_only["a"], boot_ind.queries_only["b"])
    assert not np.array_equal(boot_ind.hierarchical["a"], boot_ind.hierarchical["b"])


def test_constant_scores_give_a_point_interval():
    iv = cell_interval(np.full((4, 30), 0.25), np.random.default_rng(0), 200)
    assert iv.lo[0] == iv.hi[0] == 0.25 and np.isfinite(iv.se[0])
