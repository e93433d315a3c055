"""How far the answer generalises: over benchmark instances (worlds) and over languages.

The question's difference ``D`` (:mod:`harness.stats.question`) is estimated on the runs at
hand.  Its hierarchical interval treats seeds and queries as samples and everything else as
fixed: *this* world (for the synthetic benchmark: one draw of the generator, its base encoder
and its teachers) and *these* languages.  This module adds the two wider scopes and says which
one decides the verdict.

Worlds (``MetricScores.worlds``, two or more)
    Each world ``w`` is analysed alone (:func:`harness.stats.question.answer` on
    :meth:`MetricScores.for_world`): ``D_w`` with its own interval.  Over worlds::

        D_bar = mean_w D_w,   SE = sd_w(D_w) / sqrt(K),   CI = D_bar -+ t_{K-1, 1-a/2} SE,
        p = 2 P(T_{K-1} > |D_bar| / SE)

    The world is the unit of replication: ``D_w`` already contains its world's seed and query
    noise, so the spread of the ``D_w`` estimates the variance of ``D_bar`` under a redraw of
    everything (world, its languages' lexicons, base encoder, teachers, seeds, queries), and the
    t interval is exact for normal ``D_w`` at any K >= 2.  A bootstrap over K = 3 worlds has 10
    distinct resamples and a plain percentile interval covers far less than 95%; the t interval
    with K - 1 df is the small-K choice (wide for K = 2: t_{1, .975} = 12.7, as it must be).
    (:mod:`harness.stats.bootstrap` also resamples worlds first, for every other interval.)

Languages (one world, or a fixed benchmark)
    "For languages like these": the hierarchical replicates of the per-language differences
    ``d_l`` (treatment minus comparator) are resampled again over the languages of each tier
    of the question (with replacement, rescaled by ``sqrt(n_t / (n_t - 1))`` as seeds are), so
    the interval also covers the between-language variance of ``d_l`` within a tier::

        D* = mean_{l* in high*} d*_l - mean_{l* in low*} d*_l

    calibrated as the other intervals are (:func:`harness.stats.bootstrap.calibrated_interval`:
    the language part with ``min_t n_t - 1`` df).  A tier with fewer than
    :data:`MIN_TIER_LANGUAGES` = 3 languages gets no such interval: with 2 languages the
    between-language variance has one degree of freedom (t_{1, .975} = 12.7) and a resample of 2
    languages has 3 outcomes, so the interval would say nothing; the output names the tier.
    This is a bootstrap rather than a mixed model (``question.interaction`` is the MixedLM
    one) because it needs no convergence and follows the gap's exact definition.

Which interval decides (:class:`DecisiveInterval`, ``question.decisive_interval``)
    1. two or more drawn worlds: the world-level t interval and its p-value (languages are
       redrawn with each world, so it also covers "languages like these" of the generator);
    2. else, when every tier of the question has >= 3 languages: "languages like these"
       (``analysis.language_scope = "sample"``, the default; ``"fixed"`` skips this step);
    3. else "these languages" (the hierarchical interval), and the verdict says so.

    The verdict is :func:`harness.stats.question.decide` applied to the deciding interval
    (for 1: the world-level p-value is the replication test, and the pooled query-level test
    must also reject; for 2: the question's own tests).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

from harness.stats.bootstrap import BootstrapReplicates, calibrated_interval, hierarchical_bootstrap
from harness.stats.common import Stat, finite, mdd
from harness.stats.data import MetricScores
from harness.stats.inference import contrast_inference
from harness.stats.question import Question, answer, decide
from harness.stats.streams import stream

#: Fewest languages a tier needs for the "languages like these" interval (see the module docstring).
MIN_TIER_LANGUAGES = 3
#: Most worlds a power statement searches.
MAX_WORLDS = 1000


@dataclass(frozen=True)
class WorldD:
    """D of one world, analysed alone (its own seeds and queries)."""

    world: str
    estimate: float | None
    ci: tuple[float, float] | None
    se: float | None
    verdict: str


@dataclass(frozen=True)
class WorldPowerRow:
    seeds: int
    variance: float | None
    worlds_needed: int | None


@dataclass(frozen=True)
class WorldPower:
    """How many worlds (at a given number of seeds per world) detect ``target_difference``.

    ``Var(D_bar; K, S) = (tau2 + v(S)) / K`` with ``tau2`` the between-world variance of the true
    per-world D (``var_w(D_w) - mean_w SE_w^2``, truncated at 0) and ``v(S)`` the within-world
    variance of ``D_w`` with ``S`` seeds (seed part / S + query part, averaged over worlds;
    :meth:`ContrastInference.variance_at`); ``MDD = (t_{K-1, 1-a/2} + t_{K-1, power}) sqrt(Var)``.
    """

    target_difference: float
    alpha: float
    power: float
    n_worlds: int
    n_seeds: int
    tau2: float | None
    within_variance: float | None
    mdd_now: float | None
    by_seeds: tuple[WorldPowerRow, ...]
    reason: str | None


@dataclass(frozen=True)
class WorldLevel:
    """D per world and over worlds (the world as the unit of replication)."""

    n: int
    kind: str
    endpoint: str
    per_world: tuple[WorldD, ...]
    estimate: float | None
    se: float | None
    df: int
    ci: tuple[float, float] | None
    p_value: float | None
    sd_between_worlds: float | None
    method: str
    power: WorldPower | None
    reason: str | None = None


@dataclass(frozen=True)
class LanguageSample:
    """D "for these languages" (hierarchical interval) and "for languages like these" (languages resampled
    within their tier)."""

    endpoint: str
    estimate: float | None
    ci_these_languages: tuple[float, float] | None
    ci_languages_like_these: tuple[float, float] | None
    se_languages_like_these: float | None
    languages_per_tier: Mapping[str, int]
    min_languages: int
    method: str
    reason: str | None = None


@dataclass(frozen=True)
class DecisiveInterval:
    """The interval and tests that decide the verdict (see the module docstring for the rule)."""

    scope: str  # "worlds" | "languages like these" | "these languages"
    estimate: float | None
    ci: tuple[float, float] | None
    p_value: float | None
    test: str
    why: str


def _gap_coefs(t: str, c: str, hi: Sequence[str], lo: Sequence[str], which: str) -> dict[tuple[str, str], float]:
    out: dict[tuple[str, str], float] = {}
    for m, sign in ((t, 1.0), (c, -1.0)):
        if which in ("gap", "high_tier"):
            out.update({(m, x): sign / len(hi) for x in hi})
        if which in ("gap", "low_tier"):
            out.update({(m, x): out.get((m, x), 0.0) + (-sign if which == "gap" else sign) / len(lo) for x in lo})
    return out


def world_level(
    data: MetricScores,
    groups: Mapping[str, Hashable],
    question_kw: Mapping[str, object],
    *,
    treatment: str,
    comparator: str,
    endpoint: str,
    kind: str,
    n_bootstrap: int,
    seed: int,
    alpha: float,
    level: float,
    delta: float,
    power: float,
    max_seeds: int,
) -> WorldLevel:
    """D per world (each world analysed alone) and the t interval over worlds (module docstring)."""
    per: list[WorldD] = []
    infs = []
    for w in data.worlds:
        d = data.for_world(w)
        boot = hierarchical_bootstrap(d, groups, n_bootstrap, seed)
        q = answer(d, boot, groups, **{**question_kw, "fit_mixedlm": False})  # type: ignore[arg-type]
        st = q.difference.get(endpoint) if q.difference else None
        per.append(
            WorldD(
                w,
                None if st is None else st.estimate,
                None if st is None else st.ci,
                None if st is None else st.se,
                q.verdict,
            )
        )
        hi, lo = (q.tiers.get(str(question_kw["high"])) or (), q.tiers.get(str(question_kw["low"])) or ())
        if endpoint == "gap" and hi and lo and not q.degenerate:
            infs.append(contrast_inference(d, _gap_coefs(treatment, comparator, hi, lo, "gap"), groups))
    k = len(per)
    method = (
        f"t over the {k} per-world estimates of D with {k - 1} df (the world is the unit of replication; "
        "each world analysed alone)"
    )
    est = np.array([p.estimate for p in per if p.estimate is not None], dtype=np.float64)
    if len(est) < k or k < 2:
        return WorldLevel(
            k,
            kind,
            endpoint,
            tuple(per),
            None,
            None,
            k - 1,
            None,
            None,
            None,
            method,
            None,
            "D is not defined in every world (see each world's verdict)",
        )
    mean, sd = float(est.mean()), float(est.std(ddof=1))
    se = sd / np.sqrt(k)
    tq = float(sps.t.ppf((1 + level) / 2, k - 1))
    ci = (mean - tq * se, mean + tq * se) if se > 0 else (mean, mean)
    p = float(2 * sps.t.sf(abs(mean) / se, k - 1)) if se > 0 else (0.0 if mean != 0 else 1.0)
    ses = np.array([p_.se if p_.se is not None else np.nan for p_ in per])
    pw = _world_power(est, ses, infs, k, data, alpha, power, delta, max_seeds)
    return WorldLevel(k, kind, endpoint, tuple(per), mean, finite(se), k - 1, ci, p, finite(sd), method, pw)


def _world_power(
    est: np.ndarray,
    ses: np.ndarray,
    infs: list,
    k: int,
    data: MetricScores,
    alpha: float,
    power: float,
    delta: float,
    max_seeds: int,
) -> WorldPower:
    n_s = min(len(s) for s in data.seeds.values())
    within_now = float(np.nanmean(ses**2)) if np.isfinite(ses).any() else None
    tau2 = max(float(est.var(ddof=1)) - (within_now or 0.0), 0.0)
    grid_k = np.arange(2, MAX_WORLDS + 1, dtype=np.float64)

    def need(v: float) -> int | None:
        m = mdd((tau2 + v) / grid_k, grid_k - 1, alpha, power)
        ok = np.nonzero(m <= delta)[0]
        return int(grid_k[ok[0]]) if len(ok) else None

    rows: list[WorldPowerRow] = []
    reason = None
    estimable = bool(infs) and all(i.seed_variance_estimable for i in infs) and len(infs) == k
    seeds = sorted({1, 2, 3, 5, 10, n_s} & set(range(1, max_seeds + 1)))
    for s in seeds:
        if estimable:
            v = float(np.mean([float(i.variance_at(np.array([float(s)]))[0][0]) for i in infs]))
        elif s == n_s and within_now is not None:
            v = within_now
        else:
            continue
        rows.append(WorldPowerRow(s, finite(v), need(v)))
    if not estimable:
        reason = (
            "the within-world variance at other seed counts needs the gap endpoint and >= 2 seeds per world; "
            f"only the current {n_s} seed(s) per world is shown"
        )
    v_now = (tau2 + (within_now or 0.0)) / k
    mdd_now = float(mdd(np.array([v_now]), np.array([k - 1.0]), alpha, power)[0])
    return WorldPower(
        delta, alpha, power, k, n_s, finite(tau2), finite(within_now), finite(mdd_now), tuple(rows), reason
    )


def language_sample(
    boot: BootstrapReplicates,
    question: Question,
    *,
    treatment: str,
    comparator: str,
    high: str,
    low: str,
    level: float,
    seed: int,
) -> LanguageSample:
    """D with the languages of each tier resampled (module docstring); gap endpoint only."""
    endpoint = question.endpoint
    hi, lo = tuple(question.tiers.get(high) or ()), tuple(question.tiers.get(low) or ())
    counts = {high: len(hi), low: len(lo)}
    method = (
        "hierarchical bootstrap replicates of the per-language differences, resampled again over the languages "
        f"of each tier (rescaled by sqrt(n/(n-1))); calibrated with min(n_tier) - 1 df; needs >= "
        f"{MIN_TIER_LANGUAGES} languages per tier"
    )
    d = question.difference.get(endpoint) if question.difference else None
    these = d.ci if d is not None else None
    est = d.estimate if d is not None else None

    def none(reason: str) -> LanguageSample:
        return LanguageSample(endpoint, est, these, None, None, counts, MIN_TIER_LANGUAGES, method, reason)

    if question.degenerate or d is None:
        return none(question.reason or "the question is not answered")
    if endpoint != "gap":
        return none("the 'languages like these' interval is computed for the gap endpoint only")
    few = [f"tier {t!r} has {n} language(s)" for t, n in counts.items() if n < MIN_TIER_LANGUAGES]
    if few:
        return none(
            "; ".join(few) + f": too few languages for a 'languages like these' interval (needs >= "
            f"{MIN_TIER_LANGUAGES} per tier); the answer is for these languages"
        )
    langs = list(boot.languages)
    c_h = boot.hierarchical[treatment].mean(axis=1) - boot.hierarchical[comparator].mean(axis=1)  # (B, L)
    c_o = boot.observed[treatment].mean(axis=0) - boot.observed[comparator].mean(axis=0)  # (L,)
    n_b = c_h.shape[0]
    fixed = np.zeros(n_b)
    drawn = np.zeros(n_b)
    for tier, members, sign in ((high, hi, 1.0), (low, lo, -1.0)):
        idx = np.array([langs.index(x) for x in members])
        x = c_h[:, idx]  # (B, n)
        n = len(idx)
        centre = x.mean(axis=1)
        pick = stream(seed, "bootstrap-languages", boot.metric, tier).integers(0, n, size=(n_b, n))
        res = np.take_along_axis(x, pick, axis=1).mean(axis=1)
        fixed += sign * centre
        drawn += sign * (centre + np.sqrt(n / (n - 1)) * (res - centre))
    estimate = float(c_o[[langs.index(x) for x in hi]].mean() - c_o[[langs.index(x) for x in lo]].mean())
    df_fixed = boot.df_seed([treatment, comparator]) or boot.df_query(langs)
    iv = calibrated_interval(
        np.array([estimate]), drawn[:, None], fixed[:, None], min(counts.values()) - 1, df_fixed, level
    )
    ci = (float(iv.lo[0]), float(iv.hi[0]))
    if these is not None:  # never narrower than the fixed-language interval it contains
        ci = (min(ci[0], these[0]), max(ci[1], these[1]))
    return LanguageSample(endpoint, est, these, ci, finite(iv.se[0]), counts, MIN_TIER_LANGUAGES, method)


def generalise(
    question: Question,
    *,
    worlds: WorldLevel | None,
    languages: LanguageSample,
    alpha: float,
    delta: float,
    treatment: str,
    comparator: str,
    language_scope: str = "sample",
) -> Question:
    """``question`` with ``world_level``, ``language_sample`` and ``decisive_interval`` set, and its verdict
    decided on the deciding interval (module docstring)."""
    q = dataclasses.replace(question, world_level=worlds, language_sample=languages)
    if question.degenerate or not question.difference:
        return q
    endpoint = question.endpoint
    d: Stat = question.difference[endpoint]
    if worlds is not None and worlds.n >= 2 and worlds.ci is not None:
        decisive = DecisiveInterval(
            "worlds",
            worlds.estimate,
            worlds.ci,
            worlds.p_value,
            worlds.method,
            f"{worlds.n} {worlds.kind} worlds: a redraw of the world (its languages, base encoder and teachers) "
            "moves D more than its seeds and queries do, so the world is the unit of replication",
        )
        stat = dataclasses.replace(d, estimate=worlds.estimate, ci=worlds.ci, p_value_seed=worlds.p_value)
        replicates: Mapping[str, tuple[int, ...]] = {m: tuple(range(worlds.n)) for m in (treatment, comparator)}
    elif languages.ci_languages_like_these is not None and language_scope == "sample":
        decisive = DecisiveInterval(
            "languages like these",
            languages.estimate,
            languages.ci_languages_like_these,
            d.p_value_seed,
            languages.method,
            "the question is about languages of these tiers in general: the languages are a sample of their tier",
        )
        stat = dataclasses.replace(d, ci=languages.ci_languages_like_these)
        replicates = {m: _seeds_of(question, m) for m in (treatment, comparator)}
    else:
        decisive = DecisiveInterval(
            "these languages",
            d.estimate,
            d.ci,
            d.p_value_seed,
            "hierarchical bootstrap (seeds and queries) of this world, these languages",
            (
                (languages.reason or "no wider interval is available")
                if languages.ci_languages_like_these is None
                else "analysis.language_scope = 'fixed': the question is about these languages"
            )
            + "; one world: the answer is for this world",
        )
        return dataclasses.replace(
            q,
            decisive_interval=decisive,
            qualifiers=(*q.qualifiers, f"the verdict is for these languages and this world ({decisive.why})"),
        )
    verdict, reasons = decide(
        {**question.difference, endpoint: stat}, endpoint, alpha, delta, treatment, comparator, replicates
    )
    reasons.insert(1, f"decided on the {decisive.scope} interval ({decisive.test})")
    quals = list(q.qualifiers)
    if verdict != question.verdict:
        quals.append(
            f"on these languages and runs alone (hierarchical interval [{_fmt(d.ci)}]) the verdict would be "
            f"{question.verdict!r}; the {decisive.scope} interval decides"
        )
    return dataclasses.replace(
        q, verdict=verdict, reasons=tuple(reasons), qualifiers=tuple(quals), decisive_interval=decisive
    )


def _seeds_of(question: Question, method: str) -> tuple[int, ...]:
    return tuple(s.seed for s in question.per_seed if s.method == method) or (0,)


def _fmt(ci: tuple[float, float] | None) -> str:
    return "n/a" if ci is None else f"{ci[0]:.4g}, {ci[1]:.4g}"
