"""Tests: paired t, paired randomization (sign flip), linear contrasts over seeds and queries.

Notation.  ``Y[m, l]`` is the ``(S_m, Q_l)`` matrix of per-query scores of method ``m`` in
language ``l`` (rows: seeds, columns: the language's queries, the same for every method).
A *linear contrast* is ``theta = sum_{m,l} c[m,l] * mean(Y[m, l])``: a mean, a pairwise
difference in one language or pooled over languages (``c = +-1/L``), a tier mean, the
high-minus-low tier gap, or a difference of gaps between two methods.

Three tests of ``theta = 0`` answer three questions:

* **query level** (conditional on the trained seeds): ``u[l, q] = sum_m c[m,l] *
  mean_s Y[m,l][s, q]`` (seed-averaged, paired over queries); ``V_q = sum_l var(u_l) / Q_l``,
  Welch-Satterthwaite df.  In one language with ``c = (+1, -1)`` this is exactly the paired
  t-test on seed-averaged scores.  The paired randomization test (:func:`sign_flip_test`)
  flips the signs of ``u[l, q]``.
* **seed level** (conditional on the queries): the per-seed values ``theta_s`` of each seed
  group (paired methods share seeds: one group; independent methods: one group each);
  paired t-test over seeds (one group) or Welch's t-test (several).
* **hierarchical** (seeds and queries both random; crossed design) -- the *method-level*
  test, the default decision test of pairwise comparisons: ``V = sum_g A_g / S_g
  + max(V_q - sum_g R_g / S_g, 0)`` with ``A_g = var_s(theta_{g,s})`` the seed-level
  variance (it contains the seed x query noise) and ``R_g = sum_l MSE_{g,l} / Q_l`` that
  noise, ``MSE_{g,l}`` being the seed x query interaction mean square of the group's
  contrast matrix ``E_{g,l} = sum_{m in g} c[m,l] Y[m,l]``: the seed part keeps a clean
  ``S - 1`` df and the noise is removed from the query part, where it is estimated with
  many df.  p-value (a Behrens-Fisher-type fiducial test, :func:`hierarchical_p`): the seed
  part ``V_s`` rests on ``nu = S - 1`` df (paired seeds; Welch-Satterthwaite over
  independent groups), the query part ``V_n`` on ``min Q_l - 1``::

      p = E_W [ 2 T_{Q-1}( |theta| / sqrt(V_s / W + V_n) ) ],   W ~ chi2_nu / nu

  (``T``: Student's upper tail).  It is the query-level t-test when ``V_s = 0`` and the
  seed-level t-test (``t_nu``) when ``V_n = 0``.

  Why not Welch-Satterthwaite df over both parts: with ``S = 3`` the seed variance is
  estimated on 2 df, and a small estimate both shrinks ``V`` and moves the Satterthwaite df
  towards ``Q - 1``; the two errors compound.  With ``lambda = (sigma_seed^2 / S) / V_n``
  (exact rejection rates at alpha = 0.05 by simulation of ``(Z, W)``, 200,000 draws):
  Satterthwaite 0.050-0.078, and up to 7 x nominal at alpha/15 (the first step of Holm
  over 15 pairs); this test 0.024-0.050 and at most nominal at alpha/15 (it is conservative
  in between, most near lambda = 0.3-1); the plain ``t_{S-1}`` reference 0.000-0.043
  (0.006 at lambda = 4: no power).  The price of
  validity is some power with few seeds; ``perf/bench_pairwise_type1.py`` prints
  type-I error and power side by side.

Under an A/A comparison (the same method trained twice) the seed-averaged systems differ by
their seed effects, so the query-level tests (paired t, randomization) reject more often
than alpha when seed variance is material: they make claims about *these trained
checkpoints*, not about the methods.  The seed-level and hierarchical tests are calibrated
(tests/stats).
"""

from __future__ import annotations

import gc
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np
from scipy import stats as sps

from harness.stats.data import MetricScores

#: Relative tolerance of "at least as extreme" in randomization tests: sums that are equal in exact
#: arithmetic differ in the last bits depending on summation order (threads); such ties count.
REL_TOL = 1e-9
#: Sign-flip rows per chunk (fixed, so the random streams do not depend on memory or threads).
PERM_CHUNK = 512


def two_sided_t_p(t: np.ndarray, df: np.ndarray) -> np.ndarray:
    """Two-sided p-value of Student's t with ``df`` degrees of freedom (vectorised)."""
    return 2.0 * sps.t.sf(np.abs(t), df)


@dataclass(frozen=True)
class TTest:
    """Vectorised t-test results: arrays of equal shape; ``p`` is NaN where ``degenerate`` is non-empty."""

    estimate: np.ndarray
    se: np.ndarray
    df: np.ndarray
    t: np.ndarray
    p: np.ndarray
    degenerate: tuple[str, ...]


def t_test_from(estimate: np.ndarray, var: np.ndarray, df: np.ndarray) -> TTest:
    """t-test of ``estimate = 0`` with variance ``var``: degenerate cases named, never silent.

    ``var == 0`` and ``estimate == 0`` (identical scores): p = 1, reason "no variation";
    ``var == 0`` and ``estimate != 0`` (a constant non-zero difference): p undefined (NaN here,
    ``None`` in the report) with reason "constant non-zero difference".
    """
    est = np.atleast_1d(np.asarray(estimate, dtype=np.float64))
    var = np.broadcast_to(np.asarray(var, dtype=np.float64), est.shape)
    df = np.broadcast_to(np.asarray(df, dtype=np.float64), est.shape)
    # variances at rounding-noise level (identical or constant-shifted scores) count as 0
    zero_var = ~(var > (1e-10 * np.maximum(np.abs(est), 1e-12)) ** 2)
    se = np.sqrt(np.where(zero_var, 0.0, var))
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(zero_var, np.where(est == 0, 0.0, np.nan), est / np.where(zero_var, 1.0, se))
        p = np.where(zero_var, np.nan, two_sided_t_p(t, np.where(df > 0, df, 1.0)))
    p = np.where(zero_var & (est == 0), 1.0, p)
    p = np.where(df > 0, p, np.nan)
    reasons = np.full(est.shape, "", dtype=object)
    reasons[zero_var & (est == 0)] = "no variation: all compared scores are identical"
    reasons[zero_var & (est != 0)] = "constant non-zero difference: the t statistic is undefined"
    reasons[(df <= 0) & ~zero_var] = "no degrees of freedom"
    return TTest(est, se, df, t, p, tuple(reasons.ravel()))


def paired_t(u: np.ndarray) -> TTest:
    """Paired t-test of mean(u) = 0 over rows, for each column of ``u`` ``(Q, P)``."""
    u = np.asarray(u, dtype=np.float64)
    if u.ndim == 1:
        u = u[:, None]
    n = u.shape[0]
    return t_test_from(u.mean(axis=0), u.var(axis=0, ddof=1) / n, np.full(u.shape[1], n - 1.0))


def welch_contrast(means: np.ndarray, variances: np.ndarray, counts: np.ndarray, weights: np.ndarray) -> TTest:
    """t-test of ``sum_l w_l * mean_l = 0`` over independent groups (Welch-Satterthwaite df).

    Parameters
    ----------
    means, variances : (L, P) per-group sample means and sample variances (ddof 1).
    counts : (L,) group sizes.  weights : (L,) contrast weights.
    """
    w = np.asarray(weights, dtype=np.float64)[:, None]
    n = np.asarray(counts, dtype=np.float64)[:, None]
    terms = w**2 * variances / n  # (L, P)
    var = terms.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        den = (terms**2 / np.maximum(n - 1, 1)).sum(axis=0)
        df = np.where(den > 0, var**2 / np.where(den > 0, den, 1.0), (n - 1).sum())
    return t_test_from((w * means).sum(axis=0), var, df)


@dataclass(frozen=True)
class RandomizationResult:
    """Counts and p-values of paired sign-flip tests.

    ``exceed[l, p]``: flips with ``|T*| >= |T|`` (within :data:`REL_TOL`) in language ``l``
    for comparison ``p``; ``p_value = (exceed + 1) / (B + 1)``.  ``pooled_*``: the same for
    the weighted statistic over all languages.
    """

    n_permutations: int
    exceed: np.ndarray  # (L, P) int64
    p_value: np.ndarray  # (L, P)
    pooled_exceed: np.ndarray  # (P,) int64
    pooled_p_value: np.ndarray  # (P,)


def sign_flip_test(
    diffs: Sequence[np.ndarray],
    rngs: Sequence[np.random.Generator],
    n_permutations: int,
    weights: Sequence[float] | None = None,
) -> RandomizationResult:
    """Paired randomization tests, per language and pooled, for P comparisons at once.

    Statistic in language ``l``: ``T_l = sum_q d[l][q]`` (equivalent to the mean
    difference); pooled: ``T = sum_l w_l * T_l / Q_l`` (default ``w_l = 1/L``: the mean over
    languages of per-language mean differences).  A flip draws independent signs
    ``s_q in {-1, +1}`` for every query of every language; ``T*_l = sum_q s_q d[l][q]``.
    Two-sided: ``b = #{|T*| >= |T| - tol}``, ``p = (b + 1) / (B + 1)`` with
    ``tol = REL_TOL * sum_q |d_q|`` (ties from exact symmetries count, independent of
    floating-point summation order, so counts are identical across thread counts).

    The same flips serve every comparison of a language (valid for each; it makes the test
    a matrix product).  Language ``l`` draws packed random bits from ``rngs[l]`` in chunks
    of :data:`PERM_CHUNK` rows, so results depend only on those generators.

    Parameters
    ----------
    diffs : per language, ``(Q_l, P)`` paired differences (seed-averaged).
    rngs : one generator per language.
    n_permutations : B.
    weights : per-language weights of the pooled statistic.
    """
    n_l = len(diffs)
    if n_l == 0 or len(rngs) != n_l:
        raise ValueError("sign_flip_test needs one generator per language and at least one language")
    d = [np.asarray(x, dtype=np.float64).reshape(x.shape[0], -1) for x in diffs]
    n_p = d[0].shape[1]
    w = np.full(n_l, 1.0 / n_l) if weights is None else np.asarray(weights, dtype=np.float64)
    obs = np.stack([x.sum(axis=0) for x in d])  # (L, P)
    tol = REL_TOL * np.stack([np.abs(x).sum(axis=0) for x in d])  # (L, P)
    qn = np.array([x.shape[0] for x in d], dtype=np.float64)
    pooled_obs = (w[:, None] * obs / qn[:, None]).sum(axis=0)  # (P,)
    pooled_tol = REL_TOL * (np.abs(w)[:, None] * np.stack([np.abs(x).sum(axis=0) for x in d]) / qn[:, None]).sum(0)
    exceed = np.zeros((n_l, n_p), dtype=np.int64)
    pooled_exceed = np.zeros(n_p, dtype=np.int64)
    sums = [x.sum(axis=0) for x in d]
    for start in range(0, n_permutations, PERM_CHUNK):
        c = min(PERM_CHUNK, n_permutations - start)
        pooled = np.zeros((c, n_p))
        for j in range(n_l):
            n_q = d[j].shape[0]
            packed = rngs[j].integers(0, 256, size=(c, (n_q + 7) // 8), dtype=np.uint8)
            bits = np.unpackbits(packed, axis=1, count=n_q).astype(np.float64)  # (c, Q): 1 -> +1, 0 -> -1
            t = 2.0 * (bits @ d[j]) - sums[j]  # (c, P): sum_q s_q d_q with s = 2 bit - 1
            exceed[j] += (np.abs(t) >= np.abs(obs[j]) - tol[j]).sum(axis=0)
            pooled += (w[j] / qn[j]) * t
        pooled_exceed += (np.abs(pooled) >= np.abs(pooled_obs) - pooled_tol).sum(axis=0)
    b = float(n_permutations)
    return RandomizationResult(
        n_permutations, exceed, (exceed + 1) / (b + 1), pooled_exceed, (pooled_exceed + 1) / (b + 1)
    )


def residual_mean_square(e: np.ndarray) -> float:
    """Seed x query interaction mean square of a ``(S, Q)`` matrix: ``sum r^2 / ((S-1)(Q-1))``.

    ``r = e - rowmean - colmean + grandmean``; 0.0 when S < 2.
    """
    n_s, n_q = e.shape
    if n_s < 2 or n_q < 2:
        return 0.0
    r = e - e.mean(axis=1, keepdims=True) - e.mean(axis=0, keepdims=True) + e.mean()
    return float((r * r).sum() / ((n_s - 1) * (n_q - 1)))


@dataclass(frozen=True)
class ContrastInference:
    """Everything known about one linear contrast ``theta`` (see the module docstring).

    Attributes
    ----------
    estimate : float
    query : TTest
        Query-level test (seed-averaged, paired over queries).
    seed : TTest or None
        Seed-level test (None when a group has a single seed).
    hierarchical : TTest
        Seeds and queries random.  With a single seed the seed part is absent and
        ``seed_variance_estimable`` is False.
    seed_values : Mapping[Hashable, numpy.ndarray]
        ``group -> (S_g,)`` per-seed values ``theta_{g,s}`` of the group's part.
    seed_var : Mapping[Hashable, float]
        ``A_g = var_s(theta_{g,s})`` (ddof 1; includes seed x query noise ``R_g``).
    noise : Mapping[Hashable, float]
        ``R_g = sum_l MSE_{g,l} / Q_l``: the seed x query noise in one per-seed value.
    query_net : float
        ``max(sum_l var(u_l) / Q_l - sum_g R_g / S_g, 0)``: query sampling variance of the
        estimate that does not shrink with more seeds.
    query_var, n_queries : numpy.ndarray
        ``(L,)`` ``var(u_l)`` (ddof 1) and ``Q_l``.
    n_seeds : Mapping[Hashable, int]
    """

    estimate: float
    query: TTest
    seed: TTest | None
    hierarchical: TTest
    seed_values: Mapping[Hashable, np.ndarray]
    seed_var: Mapping[Hashable, float]
    noise: Mapping[Hashable, float]
    query_net: float
    query_var: np.ndarray
    n_queries: np.ndarray
    n_seeds: Mapping[Hashable, int]
    seed_variance_estimable: bool

    @property
    def noise_overcount(self) -> float:
        """``sum_g R_g / S_g`` over groups with several seeds: the noise a crossed bootstrap counts twice."""
        return float(sum(self.noise[g] / self.n_seeds[g] for g in self.noise if self.n_seeds[g] >= 2))

    def variance_at(self, n_seeds: int | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Hierarchical variance and df of the estimate if every group had ``n_seeds`` seeds.

        ``V(S) = sum_g max(A_g, R_g) / S + query_net`` (a seed's variance is at least its
        seed x query noise); Welch-Satterthwaite df of the seed part (the groups' parts with
        ``S - 1`` df each) and the query part (``min Q_l - 1`` df) -- for minimum detectable
        differences, where the parts are the expected ones, not a test's estimates.
        Vectorised over ``n_seeds``.
        """
        s = np.asarray(n_seeds, dtype=np.float64)
        per_seed = np.array([max(self.seed_var[g], self.noise[g]) for g in self.seed_var])
        seed_part = per_seed.sum() / s
        total = seed_part + self.query_net
        ratio = per_seed.sum() ** 2 / (per_seed**2).sum() if (per_seed**2).sum() > 0 else 1.0
        dq = float(self.n_queries.min() - 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            den = seed_part**2 / (ratio * (s - 1)) + self.query_net**2 / dq
            df = np.where(den > 0, total**2 / np.where(den > 0, den, 1.0), np.inf)
        return total, df


#: Gauss-Legendre nodes of :func:`hierarchical_p` (against adaptive quadrature: relative error < 1e-5 for
#: p > 1e-5, < 1e-3 down to p = 1e-8; tests/stats).
HIERARCHICAL_NODES = 256


@lru_cache(maxsize=64)
def _chi2_nodes(df_seed: float, n: int = HIERARCHICAL_NODES) -> tuple[np.ndarray, np.ndarray]:
    """Nodes ``x`` and weights of ``E[g(X)]``, ``X ~ chi2_df``, written as ``integral_0^1 g(F^-1(v^2)) 2 v dv``
    (the substitution ``u = v^2`` removes the square-root behaviour of ``g`` at ``u = 0``)."""
    from scipy.special import roots_legendre

    r, w = roots_legendre(n)
    v = (r + 1.0) / 2.0
    return sps.chi2.ppf(v**2, df_seed), w * v  # (n,), (n,): weights (w / 2) * 2 v


def hierarchical_p(estimate: float, seed_part: float, df_seed: float, query_part: float, df_query: float) -> float:
    """Two-sided p-value of the hierarchical test (module docstring)::

        p = E_X[ 2 T_{df_query}( |estimate| / sqrt(seed_part * df_seed / X + query_part) ) ],  X ~ chi2_{df_seed}

    ``seed_part``: estimated variance of the estimate due to seeds (``df_seed`` df);
    ``query_part``: due to queries (``df_query`` df).  Fixed Gauss-Legendre quadrature
    (:func:`_chi2_nodes`), elementwise numpy, no BLAS: the value does not depend on threads.
    NaN when both parts are 0.
    """
    a = abs(float(estimate))
    if seed_part <= 0 or df_seed <= 0:
        if query_part <= 0:
            return float("nan")
        return float(2.0 * sps.t.sf(a / np.sqrt(query_part), df_query))
    if query_part <= 0:
        return float(2.0 * sps.t.sf(a / np.sqrt(seed_part), df_seed))
    x, w = _chi2_nodes(float(df_seed))
    with np.errstate(divide="ignore"):
        g = 2.0 * sps.t.sf(a / np.sqrt(seed_part * df_seed / x + query_part), df_query)  # (n,)
    return float(min(max(float((w * g).sum()), 0.0), 1.0))


def seed_df(parts: Sequence[float], n_seeds: Sequence[int]) -> float:
    """Welch-Satterthwaite df of a sum of independent seed-variance parts ``v_g`` with ``S_g - 1`` df each."""
    v = np.asarray(parts, dtype=np.float64)
    d = np.asarray(n_seeds, dtype=np.float64) - 1
    den = float((v**2 / np.maximum(d, 1)).sum())
    return float(v.sum() ** 2 / den) if den > 0 else float(d.min())


def _grouping(methods: Sequence[str], seed_groups: Mapping[str, Hashable]) -> dict[Hashable, list[str]]:
    groups: dict[Hashable, list[str]] = {}
    for m in methods:
        groups.setdefault(seed_groups[m], []).append(m)
    return groups


def contrast_inference(
    data: MetricScores, coefs: Mapping[tuple[str, str], float], seed_groups: Mapping[str, Hashable]
) -> ContrastInference:
    """Query-level, seed-level and hierarchical inference for ``sum c[m,l] mean(Y[m,l])``.

    ``coefs`` maps (method, language) to its coefficient; absent pairs are 0.
    ``seed_groups[m]`` is the seed group of ``m`` (paired methods share a group; all
    methods of a group must have the same seeds).

    Hierarchical variance: ``V = sum_g A_g / S_g + query_net`` -- the seed-level variance
    (which already contains the seed x query noise, with a clean ``S_g - 1`` df) plus the
    part of the query-level variance not explained by that noise.
    """
    coefs = {k: float(v) for k, v in coefs.items() if v != 0.0}
    methods = [m for m in data.methods if any(k[0] == m for k in coefs)]
    langs = [lang for lang in data.languages if any(k[1] == lang for k in coefs)]
    if not methods:
        raise ValueError("empty contrast")
    groups = _grouping(methods, seed_groups)
    n_q = np.array([data.n_queries(lang) for lang in langs], dtype=np.float64)
    estimate = 0.0
    u_var = np.empty(len(langs))
    seed_values: dict[Hashable, np.ndarray] = {}
    noise: dict[Hashable, float] = {}
    n_seeds: dict[Hashable, int] = {}
    for g, ms in groups.items():
        n_seeds[g] = len(data.seeds[ms[0]])
        seed_values[g] = np.zeros(n_seeds[g])
        noise[g] = 0.0
    for j, lang in enumerate(langs):
        u = np.zeros(data.n_queries(lang))
        for g, ms in groups.items():
            e = np.zeros((n_seeds[g], data.n_queries(lang)))  # (S_g, Q_l) the group's contrast matrix
            for m in ms:
                c = coefs.get((m, lang), 0.0)
                if c:
                    e += c * data.scores[(m, lang)]
            u += e.mean(axis=0)
            seed_values[g] += e.mean(axis=1)
            noise[g] += residual_mean_square(e) / n_q[j]
        estimate += float(u.mean())
        u_var[j] = u.var(ddof=1)
    # query level: u_l independent across languages
    q_terms = u_var / n_q
    q_var = q_terms.sum()
    q_den = (q_terms**2 / np.maximum(n_q - 1, 1)).sum()
    q_df = q_var**2 / q_den if q_den > 0 else float((n_q - 1).sum())
    query = t_test_from(np.array([estimate]), np.array([q_var]), np.array([q_df]))
    multi = [g for g in groups if n_seeds[g] >= 2]  # groups whose seed variance is estimable
    query_net = max(float(q_var - sum(noise[g] / n_seeds[g] for g in multi)), 0.0)
    dq = float(n_q.min() - 1)
    estimable = len(multi) == len(groups)
    seed_var = {g: float(seed_values[g].var(ddof=1)) if n_seeds[g] >= 2 else 0.0 for g in groups}
    parts = [seed_var[g] / n_seeds[g] for g in multi]
    seed_part = float(sum(parts))
    ds = seed_df(parts, [n_seeds[g] for g in multi]) if multi else 0.0
    seed_test = None
    if estimable:
        seed_test = t_test_from(np.array([estimate]), np.array([seed_part]), np.array([ds]))
    # a group with a single seed contributes no seed variance (unknown); flagged by seed_variance_estimable
    total = seed_part + query_net
    # reported df: the seed part's when there is one (the p-value mixes it with the query part's, see
    # hierarchical_p); the query part's otherwise
    h_df = ds if seed_part > 0 and ds > 0 else dq
    hier = t_test_from(np.array([estimate]), np.array([total]), np.array([h_df]))
    if not hier.degenerate[0]:
        hier = replace(hier, p=np.array([hierarchical_p(estimate, seed_part, ds, query_net, dq)]))
    return ContrastInference(
        estimate, query, seed_test, hier, seed_values, seed_var, noise, query_net, u_var, n_q, n_seeds, estimable
    )


def adjust(p_values: np.ndarray, method: str) -> np.ndarray:
    """Multiple-comparison adjustment (statsmodels ``multipletests``); NaN entries are left out."""
    from statsmodels.stats.multitest import multipletests

    p = np.asarray(p_values, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    if ok.any():
        # multipletests' Holm branch calls gc.collect(), which costs ~0.1 s per call in a large
        # process; freezing the existing objects makes that collection trivial (results unchanged).
        gc.freeze()
        try:
            out[ok] = multipletests(p[ok], method=method)[1]
        finally:
            gc.unfreeze()
    return out


def prob_superiority(a: np.ndarray, b: np.ndarray) -> float:
    """P(A > B) + 0.5 P(A = B) over all pairs of per-seed values (common-language effect size)."""
    diff = np.asarray(a, dtype=np.float64)[:, None] - np.asarray(b, dtype=np.float64)[None, :]
    return float(((diff > 0).sum() + 0.5 * (diff == 0).sum()) / diff.size)
