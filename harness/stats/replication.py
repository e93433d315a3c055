"""A difference replicated over benchmark instances (worlds): the test with the world as the unit.

With ``K >= 2`` drawn worlds (each with its own base encoder, teachers, seeds and queries), a
difference between two systems (two methods of one run, or one method in two runs) has one
estimate per world, ``d_w``, and each ``d_w`` already contains its world's seed and query
noise.  The claim "A beats B" is about worlds like these, so the spread of the ``d_w`` is the
uncertainty that counts (issue 23 measured the world SD of the question's D at about 2.5 times a
run's own standard error; a query-level test pooled over worlds treats the worlds as fixed and
can be "significant" when the method is better in some worlds and worse in others)::

    d_bar = mean_w d_w,   SE = sd_w(d_w) / sqrt(K),   t = d_bar / SE  on K - 1 df,
    CI = d_bar -+ t_{K-1, (1+level)/2} SE

(exact for normal ``d_w``), and, beside it, the exact sign-flip randomization test over worlds
(:func:`scipy.stats.permutation_test`, one sample: every one of the ``2^K`` sign patterns of
the ``d_w``; two-sided ``p = min(1, 2 min(P(T* <= T), P(T* >= T)))``, ``T = mean_w d_w``).  Its
smallest attainable p-value is ``2^(1-K)``: 0.125 for K = 4, 0.0625 for K = 5, 0.031 for
K = 6, so it can reject at alpha = 0.05 only from K = 6 on (``p_min_sign_flip`` says so).  The
t-test over worlds decides; the sign-flip test is a distribution-free check where K allows.

Too few worlds (:data:`MIN_WORLDS` = 3).  With K = 2 the t-test has one degree of freedom
(``t_{1, .975} = 12.7``) and the sign-flip test's smallest p-value is 0.5: no test over worlds
can say anything, so none is reported (p-value, interval and significance are ``None``), and
the per-world differences with each world's own query-level test are given instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

from harness.stats.common import finite

#: Fewest worlds for a test over worlds (see the module docstring).
MIN_WORLDS = 3
#: Most worlds whose 2^K sign patterns are enumerated exactly (more: Monte Carlo with this many flips).
EXACT_SIGN_FLIP_WORLDS = 16


@dataclass(frozen=True)
class WorldDiff:
    """The difference in one world, with that world's own tests (worlds held apart).

    ``p_value``: the query-level test in this world (paired t over queries of seed-averaged
    scores; pooled over languages: Welch over languages), a claim about this world's trained
    checkpoints.  ``p_value_hierarchical``: seeds and queries random within this world (the
    method-level test for this world; None where not computed, e.g. ``harness compare``).
    """

    world: str
    mean_diff: float
    n_queries: int
    p_value: float | None
    p_value_hierarchical: float | None = None


@dataclass(frozen=True)
class OverWorlds:
    """A difference tested with the world as the unit of replication (module docstring)."""

    n_worlds: int
    per_world: tuple[WorldDiff, ...]
    #: mean over worlds of the per-world differences (each world weighted equally)
    estimate: float
    sd_between_worlds: float | None
    se: float | None
    df: int
    ci: tuple[float, float] | None
    #: t over worlds, K - 1 df (None with fewer than MIN_WORLDS worlds)
    p_value: float | None
    p_value_sign_flip: float | None
    #: smallest p-value the sign-flip test over these K worlds can give: 2^(1-K)
    p_min_sign_flip: float
    #: worlds whose difference has the sign of ``estimate``
    same_sign: int
    #: worlds whose own query-level test (``WorldDiff.p_value``) is below alpha, unadjusted, per direction
    query_level_positive: int
    query_level_negative: int
    method: str
    reason: str | None = None


def over_worlds(
    per_world: Sequence[WorldDiff], *, level: float, alpha: float, rng: np.random.Generator | None = None
) -> OverWorlds:
    """Test mean_w d_w = 0 over the worlds of ``per_world`` (module docstring).

    ``rng`` is used only when K > :data:`EXACT_SIGN_FLIP_WORLDS` (Monte Carlo sign flips).
    """
    k = len(per_world)
    if k < 2:
        raise ValueError(f"a test over worlds needs at least 2 worlds, got {k}")
    d = np.array([w.mean_diff for w in per_world], dtype=np.float64)
    if not np.isfinite(d).all():
        raise ValueError("every per-world difference must be finite")
    est = float(d.mean())
    sd = float(d.std(ddof=1))
    se = sd / np.sqrt(k)
    same = int(np.sum(np.sign(d) == np.sign(est))) if est != 0 else int(np.sum(d == 0))
    pos = sum(1 for w in per_world if w.p_value is not None and w.p_value < alpha and w.mean_diff > 0)
    neg = sum(1 for w in per_world if w.p_value is not None and w.p_value < alpha and w.mean_diff < 0)
    p_min = float(min(1.0, 2.0 ** (1 - k)))
    method = (
        f"t over the {k} per-world differences with {k - 1} df (the world is the unit of replication), "
        f"and the sign-flip test over worlds ({'all 2^K patterns' if k <= EXACT_SIGN_FLIP_WORLDS else 'Monte Carlo'})"
    )
    if k < MIN_WORLDS:
        return OverWorlds(
            k,
            tuple(per_world),
            est,
            finite(sd),
            finite(se),
            k - 1,
            None,
            None,
            None,
            p_min,
            same,
            pos,
            neg,
            method,
            f"{k} worlds: too few for a test over worlds (t with {k - 1} df: t_(1, .975) = 12.7; the sign-flip "
            f"test's smallest p-value is {p_min:.3g}); no p-value or interval is given, only the per-world "
            f"differences and each world's own tests. Run at least {MIN_WORLDS} worlds",
        )
    if se > 0:
        tq = float(sps.t.ppf((1 + level) / 2, k - 1))
        ci: tuple[float, float] = (float(est - tq * se), float(est + tq * se))
        p_t = float(2 * sps.t.sf(abs(est) / se, k - 1))
        n_res = 2**k if k <= EXACT_SIGN_FLIP_WORLDS else 9_999
        res = sps.permutation_test(
            (d,),
            np.mean,
            permutation_type="samples",
            alternative="two-sided",
            n_resamples=n_res,
            vectorized=False,
            random_state=rng if rng is not None else np.random.default_rng(0),
        )
        p_flip = float(res.pvalue)
        reason = None
    else:  # every world gives the same difference
        ci = (est, est)
        p_t = 0.0 if est != 0 else 1.0
        p_flip = p_min if est != 0 else 1.0
        reason = "every world gives the same difference: the t statistic is undefined (p set to 0, or 1 if it is 0)"
    return OverWorlds(
        k, tuple(per_world), est, finite(sd), finite(se), k - 1, ci, p_t, p_flip, p_min, same, pos, neg, method, reason
    )
