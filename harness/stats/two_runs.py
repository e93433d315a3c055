"""Two-run comparisons (``harness compare``): the same tests as one run's, on another pairing.

``harness.stats.analyze`` compares methods *within* one run; comparing *two runs* (a
method's new version against its old one) pairs the same (method, language, query) across
runs.  Built only from :mod:`harness.stats.inference` (paired t, sign-flip randomization,
multiple-comparison adjustment) plus the t quantile of the interval; reports format these
results and compute nothing.

For each stratum (language) ``l`` with paired seed-averaged scores ``a_l, b_l`` (shape
``(Q_l,)``) and ``d_l = b_l - a_l``:

* difference ``mean(d_l)``; paired t-test (``harness.stats.inference.paired_t``) and its
  interval ``mean(d_l) +- t_{Q_l - 1, (1 + level) / 2} * se``;
* sign-flip randomization test (``sign_flip_test``): ``p = (b + 1) / (B + 1)``;
* Cohen's ``d_z = mean(d_l) / sd(d_l)``.

The macro average ``mean_l mean(d_l)`` is tested the same way: Welch-Satterthwaite t over
the independent languages (``welch_contrast`` with weights ``1/L``) and the pooled sign-flip
statistic of the same flips.  Its effect size divides by the root mean within-language
variance of ``d``.

Worlds.  When both runs drew the same K >= 2 benchmark instances (worlds),
:func:`world_differences` tests each difference with the world as the unit of replication
(:mod:`harness.stats.replication`): per world ``w``, ``d_lw`` = the mean of ``d_l`` over ``w``'s
queries (macro: ``mean_l d_lw``), with that world's own paired t-test (macro: Welch over
languages); over worlds, t on ``K - 1`` df and the exact sign-flip test; with K = 2 no test.

These query-paired tests hold each run's trained checkpoints fixed.  When two runs differ
only in their seeds, the checkpoints are the only thing that differs, so a query-paired
"difference" is seed noise measured very precisely.  :func:`seed_set_difference` tests what
varies there, the seeds: with ``m_s`` the macro mean of seed ``s`` (mean over languages of the
mean over queries), Welch's two-sample t-test of ``{m_s : s in A}`` against
``{m_s : s in B}`` (``scipy.stats.ttest_ind(equal_var=False)``), whose false-positive rate
under pure seed noise is ``alpha``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from harness.stats.replication import OverWorlds


@dataclass(frozen=True)
class PairedDifference:
    """Paired comparison of ``b`` against ``a`` (difference ``b - a``).

    ``p_t`` is NaN (and ``degenerate`` says why) when the t statistic is undefined (every
    difference equal and non-zero).
    """

    n: int
    mean_a: float
    mean_b: float
    difference: float
    ci_low: float
    ci_high: float
    p_t: float
    p_randomization: float
    effect_size: float
    degenerate: str


def _interval(est: float, se: float, df: float, level: float) -> tuple[float, float]:
    from scipy import stats

    if not (se > 0 and df > 0):
        return est, est
    half = float(stats.t.ppf((1 + level) / 2, df)) * se
    return est - half, est + half


def paired_differences(
    pairs: Sequence[tuple[np.ndarray, np.ndarray]],
    rngs: Sequence[np.random.Generator],
    *,
    n_permutations: int,
    ci_level: float,
) -> tuple[list[PairedDifference], PairedDifference]:
    """Per-stratum comparisons and their macro average.

    Parameters
    ----------
    pairs : per stratum ``(a_l, b_l)``, each shape ``(Q_l,)`` with ``Q_l >= 2``.
    rngs : one generator per stratum (the sign flips of stratum ``l`` come from ``rngs[l]``).
    """
    from harness.stats.inference import paired_t, sign_flip_test, welch_contrast

    if not pairs:
        raise ValueError("no strata to compare")
    a_s = [np.asarray(a, dtype=np.float64) for a, _ in pairs]
    b_s = [np.asarray(b, dtype=np.float64) for _, b in pairs]
    for a, b in zip(a_s, b_s):
        if a.shape != b.shape or a.ndim != 1 or a.size < 2:
            raise ValueError(f"paired vectors need the same 1-d shape with >= 2 entries, got {a.shape} and {b.shape}")
    d_s = [b - a for a, b in zip(a_s, b_s)]  # per stratum (Q_l,)
    rand = sign_flip_test([d[:, None] for d in d_s], rngs, n_permutations)
    out = []
    for j, d in enumerate(d_s):
        t = paired_t(d)
        est, se, df = float(t.estimate[0]), float(t.se[0]), float(t.df[0])
        lo, hi = _interval(est, se, df, ci_level)
        sd = float(d.std(ddof=1))
        out.append(
            PairedDifference(
                n=d.size,
                mean_a=float(a_s[j].mean()),
                mean_b=float(b_s[j].mean()),
                difference=est,
                ci_low=lo,
                ci_high=hi,
                p_t=float(t.p[0]),
                p_randomization=float(rand.p_value[j, 0]),
                effect_size=est / sd if sd > 0 else 0.0,
                degenerate=str(t.degenerate[0]),
            )
        )
    n_l = len(d_s)
    means = np.array([[d.mean()] for d in d_s])  # (L, 1)
    variances = np.array([[d.var(ddof=1)] for d in d_s])  # (L, 1)
    counts = np.array([d.size for d in d_s])
    w = welch_contrast(means, variances, counts, np.full(n_l, 1.0 / n_l))
    est, se, df = float(w.estimate[0]), float(w.se[0]), float(w.df[0])
    lo, hi = _interval(est, se, df, ci_level)
    pooled_sd = float(np.sqrt(variances.mean()))
    macro = PairedDifference(
        n=int(counts.sum()),
        mean_a=float(np.mean([a.mean() for a in a_s])),
        mean_b=float(np.mean([b.mean() for b in b_s])),
        difference=est,
        ci_low=lo,
        ci_high=hi,
        p_t=float(w.p[0]),
        p_randomization=float(rand.pooled_p_value[0]),
        effect_size=est / pooled_sd if pooled_sd > 0 else 0.0,
        degenerate=str(w.degenerate[0]),
    )
    return out, macro


@dataclass(frozen=True)
class SeedSetDifference:
    """Welch's t-test of two sets of per-seed scores (``b - a``); NaN p and interval with < 2 seeds a side."""

    seeds_a: tuple[int, ...]
    seeds_b: tuple[int, ...]
    mean_a: float
    mean_b: float
    difference: float
    ci_low: float
    ci_high: float
    p_value: float
    note: str


def seed_set_difference(
    seed_means_a: dict[int, float], seed_means_b: dict[int, float], *, ci_level: float
) -> SeedSetDifference:
    """Difference of the mean per-seed score of two seed sets, tested over seeds (Welch t).

    Parameters
    ----------
    seed_means_a, seed_means_b : ``{seed: m_s}``, ``m_s`` one seed's macro mean score.
    ci_level : level of the Welch interval of ``mean(m_B) - mean(m_A)``.
    """
    from scipy import stats

    a = np.array([seed_means_a[s] for s in sorted(seed_means_a)], dtype=np.float64)  # (S_A,)
    b = np.array([seed_means_b[s] for s in sorted(seed_means_b)], dtype=np.float64)  # (S_B,)
    if a.size == 0 or b.size == 0:
        raise ValueError("each run needs at least one seed")
    diff = float(b.mean() - a.mean())
    p, lo, hi, note = float("nan"), float("nan"), float("nan"), ""
    if a.size < 2 or b.size < 2:
        note = "fewer than 2 seeds in a run: the seed-to-seed variance cannot be estimated, so nothing is tested"
    elif a.var(ddof=1) + b.var(ddof=1) == 0:
        note = "every seed scored the same: no seed variance to test against"
    else:
        res = stats.ttest_ind(b, a, equal_var=False)
        ci = res.confidence_interval(confidence_level=ci_level)
        p, lo, hi = float(res.pvalue), float(ci.low), float(ci.high)
    return SeedSetDifference(
        seeds_a=tuple(sorted(int(s) for s in seed_means_a)),
        seeds_b=tuple(sorted(int(s) for s in seed_means_b)),
        mean_a=float(a.mean()),
        mean_b=float(b.mean()),
        difference=diff,
        ci_low=lo,
        ci_high=hi,
        p_value=p,
        note=note,
    )


def world_differences(
    pairs: Sequence[tuple[np.ndarray, np.ndarray]],
    worlds_of: Sequence[Sequence[str]],
    *,
    ci_level: float,
    alpha: float,
    rng: np.random.Generator,
) -> tuple[list[OverWorlds], OverWorlds]:
    """Per-stratum and macro differences ``b - a`` tested over worlds (module docstring).

    Parameters
    ----------
    pairs : per stratum ``(a_l, b_l)``, each ``(Q_l,)``, queries of every world.
    worlds_of : per stratum, the world of each of its queries ``(Q_l,)``.  Worlds are those with at
        least 2 queries in every stratum (in order of first appearance); at least 2 are needed.
    """
    from harness.stats.common import finite
    from harness.stats.inference import paired_t, welch_contrast
    from harness.stats.replication import WorldDiff, over_worlds

    labels = [np.asarray(w).astype(str) for w in worlds_of]
    d_s = [np.asarray(b, dtype=np.float64) - np.asarray(a, dtype=np.float64) for a, b in pairs]
    if not d_s or any(d.shape != w.shape for d, w in zip(d_s, labels)):
        raise ValueError("one world label per paired query is needed in every stratum")
    worlds = [
        w
        for w in dict.fromkeys(x for lab in labels for x in lab.tolist())
        if all(int(np.sum(lab == w)) >= 2 for lab in labels)
    ]
    if len(worlds) < 2:
        raise ValueError(f"a test over worlds needs >= 2 worlds with >= 2 queries in every stratum, got {worlds}")
    per: list[list[WorldDiff]] = [[] for _ in d_s]
    macro: list[WorldDiff] = []
    for w in worlds:
        parts = [d[lab == w] for d, lab in zip(d_s, labels)]
        for j, x in enumerate(parts):
            t = paired_t(x)
            per[j].append(WorldDiff(w, float(x.mean()), x.size, finite(float(t.p[0]))))
        means = np.array([[x.mean()] for x in parts])
        variances = np.array([[x.var(ddof=1)] for x in parts])
        counts = np.array([x.size for x in parts])
        wt = welch_contrast(means, variances, counts, np.full(len(parts), 1.0 / len(parts)))
        macro.append(WorldDiff(w, float(wt.estimate[0]), int(counts.sum()), finite(float(wt.p[0]))))
    out = [over_worlds(p, level=ci_level, alpha=alpha, rng=rng) for p in per]
    return out, over_worlds(macro, level=ci_level, alpha=alpha, rng=rng)


def adjust_pvalues(pvalues: Sequence[float], method: str = "holm") -> np.ndarray:
    """Adjusted p-values over one family (``harness.stats.inference.adjust``; NaN entries stay NaN)."""
    from harness.stats.inference import adjust

    p = np.asarray(pvalues, dtype=np.float64)
    return p if p.size == 0 else adjust(p, method)
