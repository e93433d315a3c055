"""Shared pieces: seed groups, records of estimates, minimum detectable differences."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

from harness.errors import StatisticsError
from harness.stats.data import MetricScores
from harness.stats.inference import ContrastInference


def seed_groups(data: MetricScores, pairing: str) -> dict[str, Hashable]:
    """``method -> seed group``: methods in one group share (and pair) their seeds.

    ``auto``: methods with identical seed sets form a group (the harness trains every
    method of seed s from teacher(s), so their seed s are matched); ``paired``: the same,
    but every method must have the same seeds; ``independent``: one group per method.
    """
    if pairing == "independent":
        return {m: f"method:{m}" for m in data.methods}
    sets = {m: data.seeds[m] for m in data.methods}
    if pairing == "paired" and len(set(sets.values())) > 1:
        detail = "; ".join(f"{m}: {list(s)}" for m, s in sets.items())
        raise StatisticsError(
            f"analysis.seed_pairing = 'paired' needs the same seeds for every method, got {detail}; "
            "use 'auto' (pairs methods with identical seed sets) or 'independent'"
        )
    return {m: "seeds:" + ",".join(map(str, s)) for m, s in sets.items()}


@dataclass(frozen=True)
class Stat:
    """A statistic with its interval and tests (any field may be None, with ``reason``).

    ``ci``: hierarchical bootstrap (seeds and queries), ``ci_queries``: queries resampled
    only (seeds fixed).  ``p_value_seed``: t-test over seeds (``seed_test`` names it);
    ``p_value_query``: t-test over seed-averaged queries; ``p_value_hierarchical``: test
    with seed and query variance (:func:`harness.stats.inference.hierarchical_p`).
    """

    estimate: float | None
    ci: tuple[float, float] | None = None
    ci_queries: tuple[float, float] | None = None
    se: float | None = None
    p_value_seed: float | None = None
    seed_test: str | None = None
    df_seed: float | None = None
    p_value_query: float | None = None
    df_query: float | None = None
    p_value_hierarchical: float | None = None
    df_hierarchical: float | None = None
    reason: str | None = None


def finite(x: float | np.floating | None) -> float | None:
    """``float(x)`` when finite, else None."""
    if x is None:
        return None
    x = float(x)
    return x if np.isfinite(x) else None


def seed_test_name(inf: ContrastInference) -> str:
    return "paired t over seeds" if len(inf.n_seeds) == 1 else "Welch t over seeds"


def stat_from(
    inf: ContrastInference | None,
    estimate: float,
    ci: tuple[float, float] | None,
    ci_q: tuple[float, float] | None,
    se: float | None,
    reason: str | None = None,
) -> Stat:
    """A :class:`Stat` from a contrast's inference and its bootstrap intervals."""
    if inf is None:
        return Stat(finite(estimate), ci, ci_q, finite(se), reason=reason)
    reasons = [r for r in (reason,) if r]
    seed_p = seed_df = None
    if inf.seed is not None:
        seed_p, seed_df = finite(inf.seed.p[0]), finite(inf.seed.df[0])
        if inf.seed.degenerate[0]:
            reasons.append(f"seed-level test: {inf.seed.degenerate[0]}")
    else:
        reasons.append(
            "a method has one seed: its seed variance is not estimable (no seed-level test; the "
            "hierarchical test counts it as 0)"
        )
    if inf.query.degenerate[0]:
        reasons.append(f"query-level test: {inf.query.degenerate[0]}")
    return Stat(
        finite(estimate),
        ci,
        ci_q,
        finite(se),
        seed_p,
        seed_test_name(inf),
        seed_df,
        finite(inf.query.p[0]),
        finite(inf.query.df[0]),
        finite(inf.hierarchical.p[0]),
        finite(min(inf.hierarchical.df[0], 1e9)),
        "; ".join(reasons) or None,
    )


def mdd(variance: np.ndarray, df: np.ndarray, alpha: float, power: float) -> np.ndarray:
    """Minimum detectable difference ``(t_{1-alpha/2, df} + t_{power, df}) * sqrt(variance)`` (two-sided)."""
    df = np.where(np.isfinite(df), df, 1e9)
    return (sps.t.ppf(1 - alpha / 2, df) + sps.t.ppf(power, df)) * np.sqrt(variance)


@dataclass(frozen=True)
class PowerEstimate:
    """Minimum detectable difference now, and seeds needed for the target difference."""

    statistic: str
    n_seeds: int
    se: float | None
    mdd: float | None
    target_difference: float
    seeds_needed: int | None
    mdd_infinite_seeds: float | None
    reason: str | None


def power_curve(
    statistic: str, n_now: int, variance_at, alpha: float, power: float, target: float, max_seeds: int
) -> PowerEstimate:
    """MDD at ``n_now`` seeds and the smallest seed count (per method) whose MDD <= ``target``.

    ``variance_at(S)`` returns (variance, df) of the estimate with S seeds per method,
    vectorised over an array of S.
    """
    v_now, df_now = variance_at(np.array([float(n_now)]))
    grid = np.arange(2, max_seeds + 1, dtype=np.float64)
    v, df = variance_at(grid)
    m = mdd(v, df, alpha, power)
    ok = np.nonzero(m <= target)[0]
    v_inf, _ = variance_at(np.array([1e12]))
    m_inf = float(mdd(v_inf, np.array([1e9]), alpha, power)[0])
    needed = int(grid[ok[0]]) if len(ok) else None
    reason = None
    if needed is None:
        reason = (
            f"even infinitely many seeds leave a detectable difference of {m_inf:.4g} (query sampling) > "
            f"target {target}; more queries are needed"
            if m_inf > target
            else f"more than analysis.max_seeds = {max_seeds} seeds are needed"
        )
    return PowerEstimate(
        statistic,
        n_now,
        finite(np.sqrt(v_now[0])),
        finite(mdd(v_now, df_now, alpha, power)[0]),
        target,
        needed,
        m_inf,
        reason,
    )


def power_from(
    statistic: str, inf: ContrastInference, alpha: float, power: float, target: float, max_seeds: int
) -> PowerEstimate:
    """:func:`power_curve` for a linear contrast (its seed and query variance parts)."""
    n_now = min(inf.n_seeds.values())
    if not inf.seed_variance_estimable:
        return PowerEstimate(
            statistic,
            n_now,
            None,
            None,
            target,
            None,
            None,
            "a method has one seed: its seed variance is not estimable, so neither the "
            "detectable difference nor the seeds needed can be computed; run at least 2 seeds",
        )
    return power_curve(statistic, n_now, inf.variance_at, alpha, power, target, max_seeds)


def by_method(groups: Mapping[str, Hashable]) -> dict[Hashable, list[str]]:
    out: dict[Hashable, list[str]] = {}
    for m, g in groups.items():
        out.setdefault(g, []).append(m)
    return out
