"""Pairwise comparisons between all methods, per language and pooled over languages.

For methods ``a`` and ``b`` (``a`` before ``b`` in analysis order) and a scope (one
language, or ``"all"``: the mean over languages of per-language means):

* ``mean_diff`` = mean(a) - mean(b) over seed-averaged, query-paired scores;
* ``ci``: hierarchical bootstrap interval (seeds and queries), ``ci_queries``: queries only;
* ``p_value``: paired t-test over queries (pooled: a Welch contrast over languages);
* ``p_value_randomization``: paired sign-flip test over queries, p = (b + 1)/(B + 1)
  (:func:`harness.stats.inference.sign_flip_test`), exactly reproducible;
* ``p_value_hierarchical``: test counting seed and query variance (the seed part on
  ``S - 1`` df with paired seeds; :func:`harness.stats.inference.hierarchical_p`), the
  *method-level* test and the default decision test;
* ``effect``: Cohen's d_z = mean(u) / sd(u) of the seed-averaged paired differences ``u``
  (pooled: the mean difference over the root mean within-language variance of ``u``);
* ``p_adjusted`` / ``significant``: the adjusted p-value of ``analysis.pairwise_test`` over
  its family, and ``p_adjusted < alpha``; ``p_adjusted_by_test`` has all four tests
  (``t``, ``randomization``, ``hierarchical``, ``seed``);
* ``seed_level``: the distribution of per-seed means (t-test over seeds and the
  probability that a seed of ``a`` beats a seed of ``b``);
* ``mdd``: minimum detectable difference at alpha and the configured power.

Pair summaries give "significant in k of N languages" (and in which direction).

Worlds (``MetricScores.worlds``, K >= 2 drawn benchmark instances).  Every test above pools
the queries of all worlds and holds the worlds fixed, so a method better in some worlds and
worse in others can look "significant" on strong within-world query effects.  With K >= 2 the
**world is the unit of replication** and decides (``Pairwise.unit = "worlds"``,
``pairwise.test = "worlds"`` whatever ``analysis.pairwise_test`` says): each comparison gets
``worlds`` (:class:`harness.stats.replication.OverWorlds`): per world ``w`` the difference
``d_w`` of the contrast on that world's data alone, with that world's query-level and
hierarchical p-values, and over worlds ``t = mean_w d_w / (sd_w(d_w) / sqrt(K))`` on ``K - 1``
df (its interval, and the exact sign-flip test over worlds as a check).  The world-level
p-values are adjusted over the same families (Holm by default) and decide ``significant``.
With K = 2 no test over worlds is meaningful: ``p_adjusted`` and ``significant`` are ``None``
and the per-world differences are given.  With one world nothing changes, and every claim is
labelled :data:`THIS_WORLD` (``Pairwise.unit``).

Which claim a "significant" makes depends on the decision test (:data:`TEST_CLAIMS`, written
to ``analysis.json`` as ``pairwise.claim`` and ``pairwise.test_label``):

* ``hierarchical`` (default): about the **methods** -- a re-training with new seeds, on new
  queries of the same kind, is expected to show the difference too (seed and query
  variance counted);
* ``seed``: about the methods **on these queries** (seed variance counted, queries held
  fixed; methods that differ query by query but not on average are "different" for it);
* ``t`` and ``randomization``: about **these trained checkpoints** -- seed-averaged scores
  paired over queries, conditional on the seeds that were trained.  Two trainings of one
  method differ by their seed effects, so these tests call such A/A pairs "significant"
  far more often than alpha (tests/stats, ``perf/bench_pairwise_type1.py``).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

import numpy as np

from harness.stats.bootstrap import BootstrapReplicates, calibrated_interval
from harness.stats.common import finite, mdd, seed_test_name
from harness.stats.data import MetricScores
from harness.stats.inference import (
    RandomizationResult,
    adjust,
    contrast_inference,
    paired_t,
    prob_superiority,
    sign_flip_test,
    welch_contrast,
)
from harness.stats.replication import OverWorlds, WorldDiff, over_worlds
from harness.stats.streams import stream

ALL = "all"
TESTS = ("t", "randomization", "hierarchical", "seed", "worlds")
#: The decision test with two or more worlds (not a user option: the worlds decide whenever there are several).
WORLDS_TEST = "worlds"
#: Decision test -> (short label of the claim, the test and its claim in words).
TEST_CLAIMS: dict[str, tuple[str, str]] = {
    "hierarchical": (
        "method-level",
        (
            "hierarchical t-test (seeds and queries random; df of the seed part, S - 1 "
            "with paired seeds): a difference between the methods, counting seed variance"
        ),
    ),
    "seed": (
        "method-level, for these queries",
        (
            "t-test over per-seed means (paired when methods share seeds, Welch "
            "otherwise): a difference between the methods on these queries, "
            "counting seed variance"
        ),
    ),
    "t": (
        "for these trained checkpoints",
        (
            "paired t-test over queries of seed-averaged scores: a difference "
            "between these trained checkpoints, conditional on their seeds; not a "
            "claim about the methods"
        ),
    ),
    "randomization": (
        "for these trained checkpoints",
        (
            "paired sign-flip randomization test over queries of "
            "seed-averaged scores: a difference between these trained "
            "checkpoints, conditional on their seeds; not a claim about "
            "the methods"
        ),
    ),
    WORLDS_TEST: (
        "method-level, over worlds",
        (
            "t-test over the per-world differences (K - 1 df; the world is the unit of replication, each "
            "world's difference containing its own seed and query noise): a difference between the methods "
            "in worlds like these"
        ),
    ),
}
#: ``Pairwise.unit`` with one world: every test holds the benchmark instance fixed.
THIS_WORLD = "for this world"


@dataclass(frozen=True)
class Effect:
    name: str
    value: float | None
    definition: str


@dataclass(frozen=True)
class SeedLevel:
    """Comparison of the per-seed means of the two methods in this scope."""

    test: str
    mean_diff: float
    p_value: float | None
    df: float | None
    prob_superiority: float
    n_seeds_a: int
    n_seeds_b: int
    reason: str | None = None


@dataclass(frozen=True)
class Comparison:
    metric: str
    method_a: str
    method_b: str
    language: str
    n_languages: int
    n_queries: int
    mean_a: float
    mean_b: float
    mean_diff: float
    ci: tuple[float, float]
    ci_queries: tuple[float, float]
    se: float
    effect: Effect
    p_value: float | None
    p_value_randomization: float
    p_value_hierarchical: float | None
    df_t: float | None
    df_hierarchical: float | None
    seed_level: SeedLevel
    mdd: float | None
    p_adjusted: float | None = None
    significant: bool | None = None
    p_adjusted_by_test: Mapping[str, float | None] = field(default_factory=dict)
    significant_by_test: Mapping[str, bool | None] = field(default_factory=dict)
    degenerate: bool = False
    reason: str | None = None
    #: two or more worlds: the difference per world (with each world's own tests) and the test over worlds
    worlds: OverWorlds | None = None


@dataclass(frozen=True)
class PairSummary:
    metric: str
    method_a: str
    method_b: str
    test: str
    n_languages: int
    #: None when no per-language comparison was tested (two worlds)
    significant_languages: int | None
    a_better: int | None
    b_better: int | None
    pooled_significant: bool | None
    pooled_mean_diff: float


@dataclass(frozen=True)
class Pairwise:
    test: str
    test_label: str
    claim: str
    correction: str
    family: str
    alpha: float
    n_permutations: int
    comparisons: tuple[Comparison, ...]
    summaries: tuple[PairSummary, ...]
    notes: tuple[str, ...]
    #: the unit of replication that decided ``significant``: ``"worlds"`` (K >= 2) or :data:`THIS_WORLD`
    unit: str = THIS_WORLD
    #: the test that decided, in words (with K = 2: that none could)
    decided_by: str = ""
    n_worlds: int = 1


def compare_metric(
    data: MetricScores,
    boot: BootstrapReplicates,
    groups: Mapping[str, Hashable],
    *,
    seed: int,
    n_permutations: int,
    alpha: float,
    power: float,
    level: float,
) -> list[Comparison]:
    """Unadjusted comparisons of every pair of methods, per language and pooled (``"all"``)."""
    methods, langs = data.methods, data.languages
    pairs = list(combinations(methods, 2))
    if not pairs:
        return []
    n_l = len(langs)
    seed_avg = {(m, lang): data.scores[(m, lang)].mean(axis=0) for m in methods for lang in langs}  # (Q_l,)
    u = [np.stack([seed_avg[(a, lang)] - seed_avg[(b, lang)] for a, b in pairs], axis=1) for lang in langs]
    rand: RandomizationResult = sign_flip_test(
        u, [stream(seed, "randomization", data.metric, lang) for lang in langs], n_permutations
    )
    n_q = np.array([x.shape[0] for x in u], dtype=np.float64)
    means = np.stack([x.mean(axis=0) for x in u])  # (L, P)
    variances = np.stack([x.var(axis=0, ddof=1) for x in u])  # (L, P)
    pooled_t = welch_contrast(means, variances, n_q, np.full(n_l, 1.0 / n_l))
    worlds = [(w, data.for_world(w)) for w in data.worlds] if data.n_worlds >= 2 else []
    out: list[Comparison] = []
    for p, (a, b) in enumerate(pairs):
        scopes = [*langs, ALL]
        coefs = [
            {(m, lang): c / n_l for lang in langs for m, c in ((a, 1.0), (b, -1.0))}
            if scope == ALL
            else {(a, scope): 1.0, (b, scope): -1.0}
            for scope in scopes
        ]
        infs = [contrast_inference(data, c, groups) for c in coefs]
        over = [
            contrast_over_worlds(
                worlds, c, groups, level=level, alpha=alpha, rng=stream(seed, "worlds", data.metric, a, b, s)
            )
            if worlds
            else None
            for c, s in zip(coefs, scopes)
        ]
        # bootstrap replicates of the difference: per language (B, L) and pooled (B,)
        h = boot.hierarchical[a].mean(axis=1) - boot.hierarchical[b].mean(axis=1)
        q = boot.queries_only[a].mean(axis=1) - boot.queries_only[b].mean(axis=1)
        est = boot.observed[a].mean(axis=0) - boot.observed[b].mean(axis=0)  # (L,)
        h_all = np.concatenate([h, h.mean(axis=1, keepdims=True)], axis=1)
        q_all = np.concatenate([q, q.mean(axis=1, keepdims=True)], axis=1)
        est_all = np.append(est, est.mean())
        dq = np.append(n_q - 1, n_q.min() - 1)
        iv = calibrated_interval(
            est_all,
            h_all,
            q_all,
            boot.df_seed([a, b]),
            dq,
            level,
            overcount=np.array([i.noise_overcount for i in infs]),
        )
        qiv = calibrated_interval(est_all, q_all, q_all, 0, dq, level)
        obs_a, obs_b = boot.observed[a], boot.observed[b]  # (S, L)
        for j, scope in enumerate(scopes):
            inf = infs[j]
            if scope == ALL:
                tt = pooled_t
                col = p
                p_rand = float(rand.pooled_p_value[p])
                sd = float(np.sqrt(variances[:, p].mean()))
                per_seed_a, per_seed_b = obs_a.mean(axis=1), obs_b.mean(axis=1)
                nq = int(n_q.sum())
                effect_def = (
                    "mean difference / sqrt(mean over languages of var(u)), u = seed-averaged paired difference"
                )
            else:
                tt = paired_t(u[j][:, p])
                col = 0
                p_rand = float(rand.p_value[j, p])
                sd = float(np.sqrt(variances[j, p]))
                per_seed_a, per_seed_b = obs_a[:, j], obs_b[:, j]
                nq = int(n_q[j])
                effect_def = "Cohen's d_z: mean(u) / sd(u), u = seed-averaged paired difference per query"
            v_now, df_now = inf.variance_at(np.array([float(min(inf.n_seeds.values()))]))
            reasons = [r for r in (tt.degenerate[col], inf.hierarchical.degenerate[0]) if r]
            if inf.seed is not None:
                seed_level = SeedLevel(
                    seed_test_name(inf),
                    float(inf.estimate),
                    finite(inf.seed.p[0]),
                    finite(inf.seed.df[0]),
                    prob_superiority(per_seed_a, per_seed_b),
                    len(per_seed_a),
                    len(per_seed_b),
                    inf.seed.degenerate[0] or None,
                )
            else:
                seed_level = SeedLevel(
                    seed_test_name(inf),
                    float(inf.estimate),
                    None,
                    None,
                    prob_superiority(per_seed_a, per_seed_b),
                    len(per_seed_a),
                    len(per_seed_b),
                    "one seed: no seed-level test",
                )
                reasons.append(
                    "one seed: that method's seed variance is unknown and counted as 0 by the "
                    "hierarchical test and the interval"
                )
            diff = float(tt.estimate[col])
            out.append(
                Comparison(
                    metric=data.metric,
                    method_a=a,
                    method_b=b,
                    language=scope,
                    n_languages=n_l if scope == ALL else 1,
                    n_queries=nq,
                    mean_a=float(per_seed_a.mean()),
                    mean_b=float(per_seed_b.mean()),
                    mean_diff=diff,
                    ci=(float(iv.lo[j]), float(iv.hi[j])),
                    ci_queries=(float(qiv.lo[j]), float(qiv.hi[j])),
                    se=float(iv.se[j]),
                    effect=Effect("d_z", finite(diff / sd) if sd > 0 else None, effect_def),
                    p_value=finite(tt.p[col]),
                    p_value_randomization=p_rand,
                    p_value_hierarchical=finite(inf.hierarchical.p[0]),
                    df_t=finite(tt.df[col]),
                    df_hierarchical=finite(min(float(inf.hierarchical.df[0]), 1e9)),
                    seed_level=seed_level,
                    mdd=finite(mdd(v_now, df_now, alpha, power)[0]),
                    degenerate=bool(reasons),
                    reason="; ".join(dict.fromkeys(reasons)) or None,
                    worlds=over[j],
                )
            )
    return out


def contrast_over_worlds(
    worlds: Sequence[tuple[str, MetricScores]],
    coefs: Mapping[tuple[str, str], float],
    groups: Mapping[str, Hashable],
    *,
    level: float,
    alpha: float,
    rng: np.random.Generator,
) -> OverWorlds:
    """The contrast in each world alone (its query-level and hierarchical tests) and the test over worlds."""
    per = []
    for w, d in worlds:
        inf = contrast_inference(d, coefs, groups)
        n_q = sum(d.n_queries(lang) for lang in {k[1] for k in coefs})
        per.append(WorldDiff(w, float(inf.estimate), n_q, finite(inf.query.p[0]), finite(inf.hierarchical.p[0])))
    return over_worlds(per, level=level, alpha=alpha, rng=rng)


def family_key(c: Comparison, family: str) -> tuple[str, ...]:
    scope = "pooled" if c.language == ALL else "per-language"
    return {"metric-scope": (c.metric, scope), "metric": (c.metric,), "all": ()}[family]


def adjust_comparisons(
    comps: Sequence[Comparison], *, test: str, correction: str, family: str, alpha: float
) -> list[Comparison]:
    """Adjust each test's p-values over the declared families; set ``significant`` from ``test``."""
    from dataclasses import replace

    keys = [family_key(c, family) for c in comps]
    raw: dict[str, list[Any]] = {
        "t": [c.p_value for c in comps],
        "randomization": [c.p_value_randomization for c in comps],
        "hierarchical": [c.p_value_hierarchical for c in comps],
        "seed": [c.seed_level.p_value for c in comps],
        WORLDS_TEST: [c.worlds.p_value if c.worlds is not None else None for c in comps],
    }
    # the test over worlds exists with two or more worlds only (one world: the four tests, as before)
    tests = TESTS if any(c.worlds is not None for c in comps) else tuple(t for t in TESTS if t != WORLDS_TEST)
    adjusted = {k: np.full(len(comps), np.nan) for k in tests}
    for key in dict.fromkeys(keys):
        idx = [i for i, k in enumerate(keys) if k == key]
        for name in tests:
            vals = np.array([np.nan if raw[name][i] is None else raw[name][i] for i in idx], dtype=np.float64)
            adjusted[name][idx] = adjust(vals, correction)
    out = []
    for i, c in enumerate(comps):
        by_test = {k: finite(adjusted[k][i]) for k in tests}
        sig = {k: (None if v is None else bool(v < alpha)) for k, v in by_test.items()}
        out.append(
            replace(
                c, p_adjusted=by_test[test], significant=sig[test], p_adjusted_by_test=by_test, significant_by_test=sig
            )
        )
    return out


def summarise(comps: Sequence[Comparison], test: str) -> list[PairSummary]:
    """ "Significant in k of N languages" per (metric, pair)."""
    out = []
    keys = dict.fromkeys((c.metric, c.method_a, c.method_b) for c in comps)
    for metric, a, b in keys:
        group = [c for c in comps if (c.metric, c.method_a, c.method_b) == (metric, a, b)]
        per_lang = [c for c in group if c.language != ALL]
        pooled = next(c for c in group if c.language == ALL)
        sig = [c for c in per_lang if c.significant]
        tested = any(c.significant is not None for c in per_lang)
        out.append(
            PairSummary(
                metric,
                a,
                b,
                test,
                len(per_lang),
                len(sig) if tested else None,
                sum(c.mean_diff > 0 for c in sig) if tested else None,
                sum(c.mean_diff < 0 for c in sig) if tested else None,
                pooled.significant,
                pooled.mean_diff,
            )
        )
    return out


FAMILIES = {
    "metric-scope": "per metric: per-language comparisons form one family, pooled comparisons another",
    "metric": "per metric: all comparisons",
    "all": "all comparisons of all metrics",
}


def assemble(
    comps: Sequence[Comparison], *, test: str, correction: str, family: str, alpha: float, n_permutations: int
) -> Pairwise:
    """Adjust over the declared families, summarise per pair, and note p-values too coarse for the family.

    With two or more worlds the test over worlds (:data:`WORLDS_TEST`) decides whatever ``test`` says;
    ``test``'s p-values stay in ``p_adjusted_by_test``, for these worlds.
    """
    n_worlds = max((c.worlds.n_worlds for c in comps if c.worlds is not None), default=1)
    configured = test
    if n_worlds >= 2:
        test = WORLDS_TEST
    adjusted = adjust_comparisons(comps, test=test, correction=correction, family=family, alpha=alpha)
    notes = []
    sizes: dict[tuple[str, ...], int] = {}
    for c in adjusted:
        key = family_key(c, family)
        sizes[key] = sizes.get(key, 0) + 1
    p_min = 1.0 / (n_permutations + 1)
    if sizes and test == "randomization" and correction == "holm" and p_min * max(sizes.values()) >= alpha:
        notes.append(
            f"with n_permutations = {n_permutations} the smallest randomization p-value is {p_min:.2g}; "
            f"Holm over a family of {max(sizes.values())} tests can never reject at alpha = {alpha}. "
            "Increase analysis.n_permutations"
        )
    label, claim = TEST_CLAIMS[test]
    if n_worlds >= 2:
        unit = "worlds"
        worlds_note, decided_by = _worlds_decision(n_worlds, configured, alpha)
        notes.append(worlds_note)
    else:
        unit = THIS_WORLD
        decided_by = f"{TEST_CLAIMS[test][1]}; {THIS_WORLD} (one benchmark instance: the world is held fixed)"
    if label == "for these trained checkpoints":
        notes.append(
            f"analysis.pairwise_test = {test!r}: every 'significant' flag and 'k of N languages' count is a "
            "claim about these trained checkpoints, not about the methods (seed variance is not counted); "
            "use 'hierarchical' (default) for claims about the methods"
        )
    return Pairwise(
        test,
        label,
        claim,
        correction,
        FAMILIES[family],
        alpha,
        n_permutations,
        tuple(adjusted),
        tuple(summarise(adjusted, test)),
        tuple(notes),
        unit,
        decided_by,
        n_worlds,
    )


def _worlds_decision(n_worlds: int, configured: str, alpha: float) -> tuple[str, str]:
    """The note and the ``decided_by`` sentence of a run with ``n_worlds >= 2`` worlds."""
    from harness.stats.replication import MIN_WORLDS

    held = (
        f"the configured test ({configured!r}) pools queries over the worlds and holds them fixed; its p-values "
        "are reported for these worlds, and each world's own query-level and hierarchical tests per comparison"
    )
    if n_worlds < MIN_WORLDS:
        return (
            f"{n_worlds} worlds: too few for a test over worlds (needs >= {MIN_WORLDS}); no pairwise difference "
            f"is called significant or not; the per-world differences are given ({held})",
            f"no test: {n_worlds} worlds are too few for a test with the world as the unit of replication",
        )
    p_min = 2.0 ** (1 - n_worlds)
    flip = (
        f"; the sign-flip test over {n_worlds} worlds cannot give p below {p_min:.3g} >= alpha = {alpha}, so it "
        "is shown as a check only"
        if p_min >= alpha
        else ""
    )
    return (
        f"{n_worlds} worlds: pairwise significance is decided over worlds (t over per-world differences, "
        f"{n_worlds - 1} df); {held}{flip}",
        TEST_CLAIMS[WORLDS_TEST][1],
    )
