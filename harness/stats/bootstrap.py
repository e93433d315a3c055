"""Hierarchical (seed, query) bootstrap of per-(method, seed, language) means.

Design.  Every seed of a method is evaluated on the same queries, so seeds and queries are
*crossed*: a query's difficulty is shared by all seeds and methods.  One replicate

1. resamples the queries of each language with replacement (multinomial counts
   ``w_q``, shared by every method and seed, which keeps the pairing between methods and
   the crossing with seeds)::

       M*[m, s, l] = sum_q w_q * y[m, s, l, q] / Q_l

2. then resamples the seeds of each method (or of each group of paired methods, with the
   same indices for the whole group) and rescales their deviations::

       Z*[m, j, l] = C*[m, l] + k_m * (M*[m, s*_j, l] - C*[m, l]),
       C*[m, l] = mean_s M*[m, s, l],  k_m = sqrt(S_m / (S_m - 1)),

   which makes the seed part of the bootstrap variance unbiased for S_m seeds (a plain
   resample of S values has variance (S - 1)/S of the truth: 0.8 for five seeds).

Resampling queries separately within each seed (a nested scheme) would understate the
query component by a factor of the number of seeds, because the query effect is shared.

Any statistic ``f`` of the per-seed language means is evaluated on the observed means, on
``Z*`` (hierarchical replicates) and on ``M*`` (query-only replicates).  The interval
(:func:`calibrated_interval`) is the percentile interval of the hierarchical replicates,
widened around the estimate by ``t_{nu, 1-a/2} / z_{1-a/2}``, where ``nu`` is the
Welch-Satterthwaite degrees of freedom of the seed part (``S - 1`` df) and the query part
(``Q - 1`` df) of the bootstrap variance, in the conservative form ``1/nu = w_s/(S - 1) +
w_q/(Q - 1)`` (``w``: the two parts' shares; plain Satterthwaite with shares estimated from
few seeds is liberal).  With few seeds the seed variance is itself uncertain; the plain
percentile interval then covers ~85-90% instead of 95% when seed variance dominates (five
seeds), the calibrated one ~95% (tests/stats).  Crossing also makes the bootstrap count the
seed x query noise three times; for linear statistics the excess is removed (``overcount``
of :func:`calibrated_interval`).

Worlds.  With two or more benchmark instances (``MetricScores.worlds``: drawn synthetic worlds,
each with its own base encoder, teachers and queries), seeds and queries are nested in worlds and
a replicate resamples the worlds first::

    0. world counts c_w ~ Multinomial(K, 1/K), shared by every method, seed and language;
    1. within each world, its queries (per language) and its seeds, as above (own streams);
    2. M*[m, s, l] = sum_w c_w Q_lw M*_w[m, s, l] / sum_w c_w Q_lw   (Q_lw: world w's queries of l),
       rescaled around the world-fixed mean C_w by sqrt(K / (K - 1)) as the seeds are.

``queries_only`` keeps the worlds fixed (c_w = 1): the hierarchical minus the query-only variance
is then the world and seed part, whose degrees of freedom are those of the worlds, K - 1
(:meth:`BootstrapReplicates.df_seed`; seeds within worlds have K (S - 1) >= K - 1).  A world
effect (every score of a world moved, or one method's scores in a world) thus widens every
interval built on these replicates (tested on a planted world effect).  One world: the streams
and replicates are exactly those of a table without worlds.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

from harness.stats.data import MetricScores
from harness.stats.streams import stream

#: Replicates drawn per chunk (fixed, so the random streams do not depend on memory or threads).
CHUNK = 256


@dataclass(frozen=True)
class BootstrapReplicates:
    """Replicates of per-(method, seed, language) means.

    Attributes
    ----------
    observed : Mapping[str, numpy.ndarray]
        ``method -> (S_m, L)`` observed per-seed language means.
    queries_only : Mapping[str, numpy.ndarray]
        ``method -> (B, S_m, L)``: queries resampled, seeds fixed.
    hierarchical : Mapping[str, numpy.ndarray]
        ``method -> (B, S_m, L)``: queries resampled, then seeds resampled and rescaled.
    n_queries : Mapping[str, int]
        ``language -> Q_l``.
    """

    metric: str
    methods: tuple[str, ...]
    languages: tuple[str, ...]
    observed: Mapping[str, np.ndarray]
    queries_only: Mapping[str, np.ndarray]
    hierarchical: Mapping[str, np.ndarray]
    n_queries: Mapping[str, int]
    #: benchmark instances resampled first (1: no world level)
    n_worlds: int = 1

    def df_seed(self, methods: Sequence[str]) -> int:
        """Seed degrees of freedom of a statistic of ``methods``: min(S_m) - 1 over the methods with
        several seeds (conservative); 0 when every method has a single seed.  With K >= 2 worlds the
        replicates' between-run part is the worlds' (and their seeds'): K - 1."""
        if self.n_worlds > 1:
            return self.n_worlds - 1
        counts = [self.observed[m].shape[0] for m in methods if self.observed[m].shape[0] > 1]
        return min(counts) - 1 if counts else 0

    def df_query(self, languages: Sequence[str]) -> int:
        """Query degrees of freedom of a statistic of ``languages``: min(Q_l) - 1."""
        return min(self.n_queries[lang] for lang in languages) - 1


def query_counts(rng: np.random.Generator, n_rows: int, n_queries: int) -> np.ndarray:
    """Multinomial resampling counts: ``(n_rows, n_queries)`` int64, each row summing to ``n_queries``."""
    idx = rng.integers(0, n_queries, size=(n_rows, n_queries))
    flat = idx + (np.arange(n_rows) * n_queries)[:, None]
    return np.bincount(flat.ravel(), minlength=n_rows * n_queries).reshape(n_rows, n_queries)


def resample_matrix_means(x: np.ndarray, rng: np.random.Generator, n_bootstrap: int) -> np.ndarray:
    """Means of the rows of ``x`` ``(R, Q)`` under query resampling: ``(n_bootstrap, R)``."""
    n_rows, n_q = x.shape
    out = np.empty((n_bootstrap, n_rows))
    xt = np.ascontiguousarray(x.T)  # (Q, R)
    for start in range(0, n_bootstrap, CHUNK):
        c = min(CHUNK, n_bootstrap - start)
        w = query_counts(rng, c, n_q).astype(np.float64)  # (c, Q)
        # numpy's own sum-of-products loop, not BLAS: a BLAS product splits the sum over Q by thread
        # count, which changed analysis.json in the 12th digit between 1 and 2 threads
        out[start : start + c] = np.einsum("cq,qr->cr", w, xt, optimize=False) / n_q  # (c, R)
    return out


def resample_seeds(means: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Rescaled seed resampling of query-resampled means.

    Parameters
    ----------
    means : (B, S, L) per-seed means of one method under query resampling.
    idx : (B, S) resampled seed indices (shared by a group of paired methods).

    Returns
    -------
    (B, S, L): ``C + sqrt(S/(S-1)) * (means[b, idx[b]] - C)`` with ``C = means.mean(axis=1)``;
    ``means`` itself when S = 1.
    """
    n_b, n_s, _ = means.shape
    if n_s < 2:
        return means
    centre = means.mean(axis=1, keepdims=True)  # (B, 1, L)
    picked = np.take_along_axis(means, idx[:, :, None], axis=1)  # (B, S, L)
    return centre + np.sqrt(n_s / (n_s - 1)) * (picked - centre)


def hierarchical_bootstrap(
    data: MetricScores, seed_groups: Mapping[str, Hashable], n_bootstrap: int, seed: int
) -> BootstrapReplicates:
    """Draw the replicates of every method's per-(seed, language) means.

    ``seed_groups[m]`` names the group of methods whose seeds are resampled with the same
    indices (paired seeds); use the method's own name for independent seeds.  Streams:
    ``("bootstrap-queries", metric, language)`` and ``("bootstrap-seeds", metric, group)``.
    """
    methods, langs = data.methods, data.languages
    if data.n_worlds > 1:
        return _world_bootstrap(data, seed_groups, n_bootstrap, seed)
    n_l = len(langs)
    q_only = {m: np.empty((n_bootstrap, len(data.seeds[m]), n_l)) for m in methods}
    offsets = np.cumsum([0] + [len(data.seeds[m]) for m in methods])
    for j, lang in enumerate(langs):
        x = np.concatenate([data.scores[(m, lang)] for m in methods], axis=0)  # (sum_m S_m, Q_l)
        reps = resample_matrix_means(x, stream(seed, "bootstrap-queries", data.metric, lang), n_bootstrap)
        for i, m in enumerate(methods):
            q_only[m][:, :, j] = reps[:, offsets[i] : offsets[i + 1]]
    hier: dict[str, np.ndarray] = {}
    indices: dict[Hashable, np.ndarray] = {}
    for m in methods:
        n_s = len(data.seeds[m])
        g = seed_groups[m]
        if g not in indices:
            indices[g] = stream(seed, "bootstrap-seeds", data.metric, str(g)).integers(0, n_s, size=(n_bootstrap, n_s))
        if indices[g].shape[1] != n_s:
            raise ValueError(f"seed group {g!r} mixes methods with different seed counts")
        hier[m] = resample_seeds(q_only[m], indices[g])
    observed = {m: data.run_means(m) for m in methods}
    return BootstrapReplicates(
        data.metric, methods, langs, observed, q_only, hier, {lang: data.n_queries(lang) for lang in langs}
    )


def _world_bootstrap(
    data: MetricScores, seed_groups: Mapping[str, Hashable], n_bootstrap: int, seed: int
) -> BootstrapReplicates:
    """:func:`hierarchical_bootstrap` with worlds resampled first (see the module docstring).

    Streams: ``("bootstrap-worlds", metric)``, ``("bootstrap-queries", metric, language, world)`` and
    ``("bootstrap-seeds", metric, group, world)``.
    """
    methods, langs, worlds = data.methods, data.languages, data.worlds
    n_l, n_w = len(langs), len(worlds)
    offsets = np.cumsum([0] + [len(data.seeds[m]) for m in methods])
    # per world: (B, S_m, L) query-resampled means, and each world's query counts (W, L)
    q_w = {m: np.empty((n_w, n_bootstrap, len(data.seeds[m]), n_l)) for m in methods}
    n_q = np.zeros((n_w, n_l))
    for j, lang in enumerate(langs):
        x = np.concatenate([data.scores[(m, lang)] for m in methods], axis=0)
        for k, w in enumerate(worlds):
            cols = data.world_columns(lang, w)
            n_q[k, j] = len(cols)
            reps = resample_matrix_means(
                x[:, cols], stream(seed, "bootstrap-queries", data.metric, lang, w), n_bootstrap
            )
            for i, m in enumerate(methods):
                q_w[m][k, :, :, j] = reps[:, offsets[i] : offsets[i + 1]]
    h_w: dict[str, np.ndarray] = {}
    indices: dict[tuple[Hashable, str], np.ndarray] = {}
    for m in methods:
        n_s = len(data.seeds[m])
        g = seed_groups[m]
        out = np.empty_like(q_w[m])
        for k, w in enumerate(worlds):
            if (g, w) not in indices:
                indices[(g, w)] = stream(seed, "bootstrap-seeds", data.metric, str(g), w).integers(
                    0, n_s, size=(n_bootstrap, n_s)
                )
            if indices[(g, w)].shape[1] != n_s:
                raise ValueError(f"seed group {g!r} mixes methods with different seed counts")
            out[k] = resample_seeds(q_w[m][k], indices[(g, w)])
        h_w[m] = out
    counts = query_counts(stream(seed, "bootstrap-worlds", data.metric), n_bootstrap, n_w).astype(np.float64)
    scale = np.sqrt(n_w / (n_w - 1))
    fixed_w = n_q / n_q.sum(axis=0, keepdims=True)  # (W, L): each world's share of a language's queries
    drawn = counts[:, :, None] * n_q[None]  # (B, W, L)
    drawn_w = drawn / drawn.sum(axis=1, keepdims=True)
    q_only, hier = {}, {}
    for m in methods:
        q_only[m] = np.einsum("wl,wbsl->bsl", fixed_w, q_w[m])
        centre = np.einsum("wl,wbsl->bsl", fixed_w, h_w[m])
        resampled = np.einsum("bwl,wbsl->bsl", drawn_w, h_w[m])
        hier[m] = centre + scale * (resampled - centre)
    observed = {m: data.run_means(m) for m in methods}
    return BootstrapReplicates(
        data.metric,
        methods,
        langs,
        observed,
        q_only,
        hier,
        {lang: data.n_queries(lang) for lang in langs},
        n_w,
    )


@dataclass(frozen=True)
class Intervals:
    """Vectorised intervals: every field has the shape of the estimates."""

    estimate: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    se: np.ndarray  # bootstrap SD of the hierarchical replicates
    df: np.ndarray  # Welch-Satterthwaite df (inf when the variance is 0)


def calibrated_interval(
    estimate: np.ndarray,
    hierarchical: np.ndarray,
    queries_only: np.ndarray,
    df_seed: np.ndarray | float,
    df_query: np.ndarray | float,
    level: float,
    overcount: np.ndarray | float | None = None,
) -> Intervals:
    """Small-sample calibrated percentile interval (see the module docstring).

    Parameters
    ----------
    estimate : (K,) statistics on the observed data.
    hierarchical, queries_only : (B, K) replicates.
    df_seed, df_query : scalars or (K,): degrees of freedom of the two variance parts
        (``df_seed <= 0``: no seed part).
    level : confidence level, e.g. 0.95.
    overcount : scalars or (K,), optional
        For linear statistics: the variance ``N = sum_g R_g / S_g`` that the seed x query
        noise adds to the estimate (:attr:`harness.stats.inference.ContrastInference.noise_overcount`).
        The crossed bootstrap counts it three times instead of once: in the query part, in
        the observed seed deviations, and again through the query resampling of those
        deviations (Owen 2007, "the pigeonhole bootstrap").  ``N`` is removed from the seed
        part and from the query part, and the replicates' spread around the estimate is
        scaled to the corrected variance.  It matters when query effects cancel
        (differences between similar methods, gaps), where such intervals over-cover
        (~99% for a nominal 95%) without it.
    """
    est = np.atleast_1d(np.asarray(estimate, dtype=np.float64))
    h = hierarchical.reshape(hierarchical.shape[0], -1)
    q = queries_only.reshape(queries_only.shape[0], -1)
    v_tot = h.var(axis=0, ddof=1)
    v_q = np.minimum(q.var(axis=0, ddof=1), v_tot)
    v_s = v_tot - v_q
    shrink = np.ones_like(v_tot)
    if overcount is not None:
        extra = np.broadcast_to(np.asarray(overcount, dtype=np.float64), est.shape)
        v_q = v_q - np.minimum(extra, v_q)
        v_s = v_s - np.minimum(extra, v_s)
        with np.errstate(divide="ignore", invalid="ignore"):
            shrink = np.where(v_tot > 0, np.sqrt((v_s + v_q) / np.where(v_tot > 0, v_tot, 1.0)), 1.0)
        v_tot = v_s + v_q
    d_s = np.broadcast_to(np.asarray(df_seed, dtype=np.float64), est.shape)
    d_q = np.broadcast_to(np.asarray(df_query, dtype=np.float64), est.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        denom = np.where(d_s > 0, v_s * v_tot / np.maximum(d_s, 1), 0.0) + v_q * v_tot / np.maximum(d_q, 1)
        nu = np.where(denom > 0, v_tot**2 / np.where(denom > 0, denom, 1.0), np.inf)
    a = (1.0 + level) / 2.0
    factor = np.where(np.isfinite(nu), sps.t.ppf(a, np.where(np.isfinite(nu), nu, 1.0)), sps.norm.ppf(a))
    factor = factor / sps.norm.ppf(a) * shrink
    q_lo, q_hi = np.quantile(h, [1.0 - a, a], axis=0)
    lo = np.minimum(est - (est - q_lo) * factor, est)
    hi = np.maximum(est + (q_hi - est) * factor, est)
    zero = v_tot <= 0
    lo, hi = np.where(zero, est, lo), np.where(zero, est, hi)
    return Intervals(est, lo, hi, np.sqrt(v_tot), nu)
