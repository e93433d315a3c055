"""Statistics that ``harness compare`` needs and ``harness.stats`` does not (yet) expose publicly.

Reports compute no statistics of their own; this module is the one, clearly separated place
where ``reports`` calls scipy / statsmodels directly, for the comparison of *two runs*
(a method's new version against its old one).  It follows ``harness.stats``' conventions
(deterministic streams from :func:`harness.stats.streams.stream`, p = (b + 1) / (B + 1),
statsmodels ``multipletests``) and should be replaced by ``harness.stats``' public
functions once they cover a paired comparison of two per-query score vectors.

The paired comparison of scores ``a, b`` (shape ``(n_queries,)``, seed-averaged) uses
``d = b - a``:

* difference ``mean(d)``; t interval ``mean(d) +- t_{n-1, (1+level)/2} * sd(d) / sqrt(n)``;
* paired t-test ``t = mean(d) / (sd(d) / sqrt(n))``, two-sided;
* sign-flip randomization test: ``B`` random sign vectors ``s`` (from a seeded stream),
  ``b = #{ |mean(s * d)| >= |mean(d)| }``, ``p = (b + 1) / (B + 1)``;
* effect size Cohen's ``d_z = mean(d) / sd(d)`` (0 when every difference is 0).

The stratified variant (:func:`paired_difference_stratified`) compares the macro average
over languages, ``mean_l mean(d_l)``: sign flips within every language, t interval with
``se = sqrt(sum_l se_l^2) / L`` and Welch-Satterthwaite degrees of freedom.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

_CHUNK = 512  # sign-flip replicates per block: memory (chunk, n_queries) float64


@dataclass(frozen=True)
class PairedDifference:
    """Paired comparison of two score vectors (``b - a``)."""

    n: int
    mean_a: float
    mean_b: float
    difference: float
    ci_low: float
    ci_high: float
    p_t: float
    p_randomization: float
    effect_size: float


def _flip_null(ds: Sequence[np.ndarray], weights: Sequence[float], observed: float, rng: np.random.Generator,
               n_permutations: int) -> float:
    """p = (b + 1) / (B + 1) of ``|sum_l w_l mean(s_l * d_l)| >= |observed|`` under random signs."""
    target = abs(observed) * (1 - 1e-12) - 1e-15  # ties (e.g. all-zero d) count as extreme
    b, done = 0, 0
    while done < n_permutations:
        k = min(_CHUNK, n_permutations - done)
        stat = np.zeros(k)
        for d, w in zip(ds, weights):
            signs = rng.integers(0, 2, size=(k, d.size), dtype=np.int8) * 2 - 1  # (k, n_l)
            stat += w * (signs * d).mean(axis=1)
        b += int((np.abs(stat) >= target).sum())
        done += k
    return (b + 1) / (n_permutations + 1)


def _t_parts(d: np.ndarray) -> tuple[float, float, int]:
    n = d.size
    sd = float(d.std(ddof=1)) if n > 1 else 0.0
    return float(d.mean()), sd / np.sqrt(n), n - 1


def paired_difference(a: np.ndarray, b: np.ndarray, *, rng: np.random.Generator, n_permutations: int = 10_000,
                      ci_level: float = 0.95) -> PairedDifference:
    """Compare ``b`` against ``a`` paired by position (see the module docstring for formulas).

    ``a``, ``b``: shape ``(n,)`` with ``n >= 2``, finite.
    """
    from scipy import stats

    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape or a.ndim != 1 or a.size < 2:
        raise ValueError(f"paired vectors need the same 1-d shape with >= 2 entries, got {a.shape} and {b.shape}")
    d = b - a  # (n,)
    mean, se, dof = _t_parts(d)
    sd = float(d.std(ddof=1))
    if se > 0:
        half = float(stats.t.ppf((1 + ci_level) / 2, dof)) * se
        p_t = float(2 * stats.t.sf(abs(mean) / se, dof))
        effect = mean / sd
    else:
        half, p_t, effect = 0.0, (1.0 if mean == 0 else 0.0), 0.0
    p_r = _flip_null([d], [1.0], mean, rng, n_permutations)
    return PairedDifference(n=a.size, mean_a=float(a.mean()), mean_b=float(b.mean()), difference=mean,
                            ci_low=mean - half, ci_high=mean + half, p_t=p_t, p_randomization=p_r, effect_size=effect)


def paired_difference_stratified(pairs: Sequence[tuple[np.ndarray, np.ndarray]], *, rng: np.random.Generator,
                                 n_permutations: int = 10_000, ci_level: float = 0.95) -> PairedDifference:
    """Macro-average comparison over strata (languages): ``pairs[l] = (a_l, b_l)``, each shape ``(n_l,)``.

    ``effect_size`` is the macro difference over the root mean within-stratum variance of ``d``.
    """
    from scipy import stats

    if not pairs:
        raise ValueError("no strata to compare")
    ds = [np.asarray(b, dtype=float) - np.asarray(a, dtype=float) for a, b in pairs]
    L = len(ds)
    parts = [_t_parts(d) for d in ds]
    mean = float(np.mean([p[0] for p in parts]))
    var_terms = np.array([p[1] ** 2 for p in parts])  # se_l^2
    se = float(np.sqrt(var_terms.sum()) / L)
    if se > 0:
        dofs = np.array([max(p[2], 1) for p in parts], dtype=float)
        nz = var_terms > 0
        dof = float(var_terms.sum() ** 2 / np.sum(var_terms[nz] ** 2 / dofs[nz]))  # Welch-Satterthwaite
        half = float(stats.t.ppf((1 + ci_level) / 2, dof)) * se
        p_t = float(2 * stats.t.sf(abs(mean) / se, dof))
        pooled_sd = float(np.sqrt(np.mean([d.var(ddof=1) for d in ds])))
        effect = mean / pooled_sd if pooled_sd > 0 else 0.0
    else:
        half, p_t, effect = 0.0, (1.0 if mean == 0 else 0.0), 0.0
    p_r = _flip_null(ds, [1.0 / L] * L, mean, rng, n_permutations)
    n = int(sum(d.size for d in ds))
    mean_a = float(np.mean([np.mean(a) for a, _ in pairs]))
    mean_b = float(np.mean([np.mean(b) for _, b in pairs]))
    return PairedDifference(n=n, mean_a=mean_a, mean_b=mean_b, difference=mean, ci_low=mean - half,
                            ci_high=mean + half, p_t=p_t, p_randomization=p_r, effect_size=effect)


def adjust_pvalues(pvalues: Sequence[float], method: str = "holm") -> np.ndarray:
    """Family-wise (``"holm"``) or false-discovery-rate (``"fdr_bh"``) adjusted p-values (statsmodels)."""
    from statsmodels.stats.multitest import multipletests

    p = np.asarray(pvalues, dtype=float)
    if p.size == 0:
        return p
    return multipletests(p, method=method)[1]
