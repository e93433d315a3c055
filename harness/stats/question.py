"""The question: does the *treatment* reduce the high/low-resource performance gap more than
the *comparator*?  (Default roles: ``ot-distill`` and ``contrastive``, relative to the
baseline ``zero-shot``; any method may take a role, see :class:`harness.stats.options.QuestionOptions`.)

Per method ``m`` and seed ``s`` (``mean_l``: the per-language mean of seed ``s``)::

    gap_s(m)        = mean_{l in high} mean_l - mean_{l in low} mean_l
    dispersion_s(m) = SD over all languages of mean_l     (population SD, ddof 0)

and per method the mean over seeds.  The comparison is ``D = stat(treatment) - stat(comparator)``
for both statistics (negative: the treatment leaves a smaller gap / spread), with

* a 95% hierarchical bootstrap interval (seeds and queries resampled;
  :mod:`harness.stats.bootstrap`),
* a seed-level p-value (paired t over the per-seed values when the two methods share
  seeds, Welch otherwise) -- for both statistics,
* a query-level p-value (t-test of the linear contrast over seed-averaged, query-paired
  scores, languages independent, Welch-Satterthwaite df) and a hierarchical p-value
  (seed and query variance) -- for the gap, which is linear in the scores,
* the method x tier interaction of a statsmodels MixedLM on per-(method, seed, language)
  means (fixed: method, tier, method x tier; random: language, method x language, seed
  within method).  Its coefficient equals D_gap for balanced data; its standard error
  treats the languages as a sample of their tiers (wider than the bootstrap's, which
  holds the languages fixed).

Verdict rule (stated in the output as ``rule``), on the primary endpoint E (default the
gap, ``analysis.question_endpoint``), metric ``analysis.primary_metric``, level alpha, margin
delta = ``analysis.target_difference``:

* ``yes``: D_E < 0, the interval of D_E lies entirely below 0, and the seed-level p < alpha
  and (gap only) the query-level p < alpha;
* ``no``: otherwise, if the interval's lower bound is above -delta (an extra reduction of
  delta or more by the treatment is ruled out; this includes the treatment reducing
  the gap less than the comparator).  "No" is about reductions of at least delta:
  when the whole interval lies inside (-delta, 0) the treatment does reduce the gap
  more, by less than delta, and a qualifier (and the reason) says so;
* ``inconclusive``: otherwise, and always when a method has a single seed (seed variance
  not estimable), fewer than three (too few seeds for an interval), or a tier has no language.

Co-primary endpoint: the low tier's gain over the baseline,
``gain(m) = mean_{l in low} mean_l(m) - mean_{l in low} mean_l(baseline)`` for the treatment
and the comparator (``Question.low_tier_gain``, each with its interval and tests): a smaller
gap is progress only where the low tier rises.  It is reported beside D; it does not enter
the verdict rule.

Excluded languages (``exclude``, the pivot in cross-lingual mode by default) leave the tiers
and the dispersion: the pivot's own score in cross-lingual mode is monolingual retrieval.

Too few seeds: with fewer than :data:`MIN_UNITS` seeds (the units the interval resamples) of
a method, the question's intervals of statistics involving it are omitted (``ci = None``,
reason ``"too few seeds for an interval"``; a t interval with one or two degrees of freedom
leaves the metric's range), and the verdict is inconclusive.

Qualifiers (they do not change the verdict) flag: an effect smaller than delta (for
"yes"), a real reduction smaller than delta behind a "no" (interval inside (-delta, 0)), the other
endpoint disagreeing, a gap difference driven by a lower high tier rather than a higher
low tier, no positive baseline gap, a reversed gap, and a mixed-model interaction that is
not significant when languages are treated as random.
"""

from __future__ import annotations

import warnings as _warnings
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field, replace

import numpy as np
from scipy import stats as sps

from harness.stats.bootstrap import BootstrapReplicates, calibrated_interval
from harness.stats.common import PowerEstimate, Stat, finite, power_from, stat_from
from harness.stats.data import MetricScores
from harness.stats.inference import contrast_inference, t_test_from

#: Fewest seeds (units of replication) for which the question states intervals.
MIN_UNITS = 3
TOO_FEW = "too few seeds for an interval"


@dataclass(frozen=True)
class SeedValues:
    method: str
    seed: int
    gap: float | None
    dispersion: float
    high_mean: float | None
    low_mean: float | None


@dataclass(frozen=True)
class MethodSummary:
    method: str
    role: str
    n_seeds: int
    gap: Stat
    dispersion: Stat
    high_mean: Stat
    low_mean: Stat
    gap_reduction_vs_baseline: Stat | None


@dataclass(frozen=True)
class Interaction:
    """Method x tier interaction of the MixedLM (see the module docstring)."""

    estimate: float | None
    se: float | None
    ci: tuple[float, float] | None
    p_value: float | None
    converged: bool | None
    model: str
    messages: tuple[str, ...] = ()
    reason: str | None = None
    #: one line when the fit is not usable (see :func:`interaction_note`); the headline shows it, not ``messages``
    note: str | None = None


def interaction_note(i: Interaction) -> str | None:
    """One line when the MixedLM fit is not usable (did not converge, failed, singular), naming what is used instead.

    statsmodels' optimiser messages stay in ``Interaction.messages`` (the report lists them
    under the detailed sections); the headline shows only this line.
    """
    if i.model == "not fitted" or (i.converged is not False and i.se is not None) or i.estimate == 0.0 and i.se is None:
        return None
    what = "did not converge" if i.converged is False else "gave no usable fit" + (f" ({i.reason})" if i.reason else "")
    return (
        f"The mixed model (MixedLM, languages as random effects) {what}; its method x tier interaction is not used: "
        "the verdict rests on the hierarchical bootstrap interval and the seed- and query-level tests."
    )


@dataclass(frozen=True)
class Question:
    metric: str
    endpoint: str
    methods: Mapping[str, str | None]
    tiers: Mapping[str, tuple[str, ...]]
    verdict: str
    rule: str
    reasons: tuple[str, ...]
    qualifiers: tuple[str, ...]
    degenerate: bool
    reason: str | None
    per_seed: tuple[SeedValues, ...] = ()
    per_method: tuple[MethodSummary, ...] = ()
    difference: Mapping[str, Stat] = field(default_factory=dict)
    interaction: Interaction | None = None
    power: PowerEstimate | None = None
    #: co-primary endpoint: ``method -> gain of its low-tier mean over the baseline's`` (treatment, comparator)
    low_tier_gain: Mapping[str, Stat] = field(default_factory=dict)
    #: languages left out of the tiers and the dispersion (the pivot in cross-lingual mode)
    excluded_languages: tuple[str, ...] = ()
    #: the interval (and tests) that decided ``verdict``: worlds / languages like these / these languages
    #: (:class:`harness.stats.worlds.DecisiveInterval`; set by :func:`harness.stats.worlds.generalise`)
    decisive_interval: object | None = None
    #: D per world and over worlds (:class:`harness.stats.worlds.WorldLevel`; two or more worlds)
    world_level: object | None = None
    #: D with languages as a sample of their tiers (:class:`harness.stats.worlds.LanguageSample`)
    language_sample: object | None = None


def rule_text(
    metric: str, endpoint: str, ot: str, con: str, high: str, low: str, alpha: float, delta: float, level: float
) -> str:
    """``ot``: the treatment, ``con``: the comparator."""
    """The verdict rule as a sentence, with the configured names and numbers."""
    what = (
        f"the gap G = mean over {high!r}-tier languages minus mean over {low!r}-tier languages of per-language {metric}"
        if endpoint == "gap"
        else f"the dispersion = SD over languages of per-language {metric}"
    )
    tests = (
        "the seed-level test (t over seeds) and the query-level test (contrast t over seed-averaged, "
        "query-paired scores) both give p < alpha"
        if endpoint == "gap"
        else "the seed-level test (t over seeds) gives p < alpha"
    )
    return (
        f"Primary endpoint: D = {endpoint}({ot}) - {endpoint}({con}), where {what}, averaged over seeds; "
        f"D < 0 means {ot} leaves less difference between languages. Verdict 'yes' if D < 0, its "
        f"{level:.0%} hierarchical-bootstrap CI (seeds and queries resampled) lies entirely below 0, and {tests} "
        f"(alpha = {alpha}); 'no' otherwise if the CI's lower bound is above -delta = -{delta} (an extra "
        f"reduction of {delta} or more by {ot} is ruled out, including when it reduces the {endpoint} less; a "
        f"smaller reduction may remain: when the CI lies inside (-{delta}, 0) and a test does not reject, the "
        "verdict is 'no' with a qualifier saying so); 'inconclusive' otherwise, and whenever a method has fewer than "
        f"{MIN_UNITS} seeds (too few for an interval) or a tier has no language."
    )


def _per_seed(
    obs: np.ndarray, hi_idx: np.ndarray, lo_idx: np.ndarray, keep_idx: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """Per-seed statistics from (..., S, L) per-language means (dispersion over ``keep_idx``, default all)."""
    out = {"dispersion": (obs if keep_idx is None else obs[..., keep_idx]).std(axis=-1)}
    if len(hi_idx) and len(lo_idx):
        out["high"] = obs[..., hi_idx].mean(axis=-1)
        out["low"] = obs[..., lo_idx].mean(axis=-1)
        out["gap"] = out["high"] - out["low"]
    return out


def _seed_level_nonlinear(a: np.ndarray, b: np.ndarray, paired: bool) -> tuple[float | None, float | None, str]:
    """t-test of mean(a) - mean(b) over seeds: paired (same seeds) or Welch."""
    if len(a) < 2 or len(b) < 2:
        return None, None, "one seed"
    if paired:
        d = a - b
        t = t_test_from(np.array([d.mean()]), np.array([d.var(ddof=1) / len(d)]), np.array([len(d) - 1.0]))
        name = "paired t over seeds"
    else:
        va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
        den = va**2 / (len(a) - 1) + vb**2 / (len(b) - 1)
        df = (va + vb) ** 2 / den if den > 0 else len(a) + len(b) - 2.0
        t = t_test_from(np.array([a.mean() - b.mean()]), np.array([va + vb]), np.array([df]))
        name = "Welch t over seeds"
    return finite(t.p[0]), finite(t.df[0]), name


def _interval(
    est: float, h: np.ndarray, q: np.ndarray, df_seed: int, df_query: int, level: float, overcount: float | None = None
) -> tuple[tuple[float, float], tuple[float, float], float]:
    iv = calibrated_interval(np.array([est]), h[:, None], q[:, None], df_seed, df_query, level, overcount)
    qiv = calibrated_interval(np.array([est]), q[:, None], q[:, None], 0, df_query, level)
    return (float(iv.lo[0]), float(iv.hi[0])), (float(qiv.lo[0]), float(qiv.hi[0])), float(iv.se[0])


def answer(
    data: MetricScores,
    boot: BootstrapReplicates,
    groups: Mapping[str, Hashable],
    *,
    treatment: str,
    comparator: str,
    baseline: str | None,
    high: str,
    low: str,
    endpoint: str,
    alpha: float,
    level: float,
    delta: float,
    power: float,
    max_seeds: int,
    fit_mixedlm: bool,
    exclude: tuple[str, ...] = (),
) -> Question:
    """Answer the question on one metric (see the module docstring).

    ``exclude``: languages left out of the tiers and of the dispersion (the pivot in
    cross-lingual mode); their cells stay in every other table.
    """
    ot, con = treatment, comparator
    rule = rule_text(data.metric, endpoint, ot, con, high, low, alpha, delta, level)
    langs = list(data.languages)
    excluded = tuple(x for x in langs if x in exclude)
    if excluded:
        rule += f" Left out of the tiers and the dispersion: {', '.join(excluded)} (the pivot: analysis.exclude_pivot)."
    hi_langs = tuple(x for x in data.tier_languages(high) if x not in excluded)
    lo_langs = tuple(x for x in data.tier_languages(low) if x not in excluded)
    methods_cfg = {"treatment": ot, "comparator": con, "baseline": baseline}
    tiers = {high: hi_langs, low: lo_langs}

    def degenerate(reason: str) -> Question:
        return Question(
            data.metric,
            endpoint,
            methods_cfg,
            tiers,
            "inconclusive",
            rule,
            (reason,),
            (),
            True,
            reason,
            excluded_languages=excluded,
        )

    absent = [m for m in (ot, con) if m not in data.methods]
    if absent:
        return degenerate(
            f"method(s) {absent} of the question are not in the results table (available: "
            f"{', '.join(data.methods)}); set question.treatment / question.comparator"
        )
    if not hi_langs or not lo_langs:
        present = sorted(set(data.tiers.values()))
        return degenerate(
            f"tier {high if not hi_langs else low!r} has no language (tiers present: "
            f"{', '.join(present)}); set analysis.high_tier / analysis.low_tier"
            + (f" (left out: {', '.join(excluded)}; analysis.exclude_pivot)" if excluded else "")
        )
    notes_baseline = None
    if baseline is not None and baseline not in data.methods:
        notes_baseline = f"baseline {baseline!r} is not in the results table; reductions vs baseline are omitted"
        baseline = None
    roles = {ot: "treatment", con: "comparator", **({baseline: "baseline"} if baseline else {})}
    hi_idx = np.array([langs.index(x) for x in hi_langs])
    lo_idx = np.array([langs.index(x) for x in lo_langs])
    keep_idx = np.array([j for j, x in enumerate(langs) if x not in excluded]) if excluded else None

    # per-seed values and per-method summaries
    per_seed: list[SeedValues] = []
    obs_stats = {m: _per_seed(boot.observed[m], hi_idx, lo_idx, keep_idx) for m in roles}
    h_stats = {m: _per_seed(boot.hierarchical[m], hi_idx, lo_idx, keep_idx) for m in roles}
    q_stats = {m: _per_seed(boot.queries_only[m], hi_idx, lo_idx, keep_idx) for m in roles}
    for m in roles:
        for i, s in enumerate(data.seeds[m]):
            st = obs_stats[m]
            per_seed.append(
                SeedValues(
                    m, s, float(st["gap"][i]), float(st["dispersion"][i]), float(st["high"][i]), float(st["low"][i])
                )
            )
    dq = boot.df_query([x for x in langs if x not in excluded])

    def too_few(members: Mapping[str, float]) -> bool:
        """Fewer than MIN_UNITS seeds behind a statistic of ``members``: its interval is omitted."""
        return boot.df_seed(list(members)) + 1 < MIN_UNITS

    def bounded(stat: Stat, members: Mapping[str, float]) -> Stat:
        if not too_few(members):
            return stat
        why = "; ".join(r for r in (TOO_FEW, stat.reason) if r)
        return replace(stat, ci=None, ci_queries=None, reason=why)

    def gap_coefs(m: str, sign: float = 1.0, which: str = "gap") -> dict[tuple[str, str], float]:
        c: dict[tuple[str, str], float] = {}
        if which in ("gap", "high"):
            c.update({(m, x): sign / len(hi_langs) for x in hi_langs})
        if which in ("gap", "low"):
            c.update({(m, x): (-sign if which == "gap" else sign) / len(lo_langs) for x in lo_langs})
        return c

    def linear_stat(coefs: dict, key: str, members: dict[str, float], tests: bool = True) -> Stat:
        inf = contrast_inference(data, coefs, groups)
        est = sum(w * obs_stats[m][key].mean() for m, w in members.items())
        h = sum(w * h_stats[m][key].mean(axis=1) for m, w in members.items())
        q = sum(w * q_stats[m][key].mean(axis=1) for m, w in members.items())
        ci, ci_q, se = _interval(est, h, q, boot.df_seed(list(members)), dq, level, inf.noise_overcount)
        return bounded(stat_from(inf if tests else None, est, ci, ci_q, se), members)

    def dispersion_stat(members: dict[str, float]) -> Stat:
        est = sum(w * obs_stats[m]["dispersion"].mean() for m, w in members.items())
        h = sum(w * h_stats[m]["dispersion"].mean(axis=1) for m, w in members.items())
        q = sum(w * q_stats[m]["dispersion"].mean(axis=1) for m, w in members.items())
        ci, ci_q, se = _interval(est, h, q, boot.df_seed(list(members)), dq, level)
        p = df = None
        name = None
        reason = "nonlinear statistic: bootstrap interval only"
        if len(members) == 2:
            reason = "nonlinear statistic: seed-level test and bootstrap interval only"
            (a, _), (b, _) = members.items()
            p, df, name = _seed_level_nonlinear(
                obs_stats[a]["dispersion"], obs_stats[b]["dispersion"], groups[a] == groups[b]
            )
            if p is None:
                reason += "; one seed: no seed-level test"
        return bounded(Stat(finite(est), ci, ci_q, finite(se), p, name, df, reason=reason), members)

    summaries = []
    for m, role in roles.items():
        red = None
        if baseline and m != baseline:
            red = linear_stat({**gap_coefs(baseline), **gap_coefs(m, -1.0)}, "gap", {baseline: 1.0, m: -1.0})
        summaries.append(
            MethodSummary(
                m,
                role,
                len(data.seeds[m]),
                linear_stat(gap_coefs(m), "gap", {m: 1.0}),
                dispersion_stat({m: 1.0}),
                linear_stat(gap_coefs(m, which="high"), "high", {m: 1.0}, tests=False),
                linear_stat(gap_coefs(m, which="low"), "low", {m: 1.0}, tests=False),
                red,
            )
        )
    pair = {ot: 1.0, con: -1.0}
    diff = {
        "gap": linear_stat({**gap_coefs(ot), **gap_coefs(con, -1.0)}, "gap", pair),
        "dispersion": dispersion_stat(pair),
        "high_tier": linear_stat({**gap_coefs(ot, which="high"), **gap_coefs(con, -1.0, "high")}, "high", pair),
        "low_tier": linear_stat({**gap_coefs(ot, which="low"), **gap_coefs(con, -1.0, "low")}, "low", pair),
    }
    gains: dict[str, Stat] = {}
    if baseline:
        for m in (ot, con):
            gains[m] = linear_stat(
                {**gap_coefs(m, which="low"), **gap_coefs(baseline, -1.0, "low")}, "low", {m: 1.0, baseline: -1.0}
            )
    gap_inf = contrast_inference(data, {**gap_coefs(ot), **gap_coefs(con, -1.0)}, groups)
    pw = power_from(f"difference in the high-minus-low gap ({ot} - {con})", gap_inf, alpha, power, delta, max_seeds)
    interaction = (
        mixedlm_interaction(boot, ot, con, hi_idx, lo_idx, level)
        if fit_mixedlm
        else Interaction(None, None, None, None, None, "not fitted", reason="analysis.fit_mixedlm = false")
    )
    interaction = replace(interaction, note=interaction_note(interaction))

    verdict, reasons = decide(diff, endpoint, alpha, delta, ot, con, data.seeds)
    if too_few(pair) and all(len(data.seeds[m]) > 1 for m in (ot, con)):
        verdict, reasons = "inconclusive", [*reasons[:1], f"{TOO_FEW} (fewer than {MIN_UNITS} seeds): inconclusive"]
    qualifiers = qualify(diff, summaries, interaction, endpoint, verdict, alpha, delta, ot, con, high, low)
    if notes_baseline:
        qualifiers.append(notes_baseline)
    return Question(
        data.metric,
        endpoint,
        methods_cfg,
        tiers,
        verdict,
        rule,
        tuple(reasons),
        tuple(qualifiers),
        False,
        None,
        tuple(per_seed),
        tuple(summaries),
        diff,
        interaction,
        pw,
        gains,
        excluded,
    )


def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.4g}"


def decide(
    diff: Mapping[str, Stat],
    endpoint: str,
    alpha: float,
    delta: float,
    ot: str,
    con: str,
    seeds: Mapping[str, tuple[int, ...]],
) -> tuple[str, list[str]]:
    """Apply the verdict rule; return (verdict, the reasons as sentences)."""
    d = diff[endpoint]
    single = [m for m in (ot, con) if len(seeds[m]) < 2]
    if single:
        return "inconclusive", [f"method(s) {single} have a single seed: seed variance is not estimable"]
    lo, hi = d.ci if d.ci else (None, None)
    reasons = [
        f"D = {_fmt(d.estimate)}, CI [{_fmt(lo)}, {_fmt(hi)}], seed-level p = {_fmt(d.p_value_seed)}"
        + (f", query-level p = {_fmt(d.p_value_query)}" if endpoint == "gap" else "")
    ]
    tests_ok = (
        d.p_value_seed is not None
        and d.p_value_seed < alpha
        and (endpoint != "gap" or (d.p_value_query is not None and d.p_value_query < alpha))
    )
    if d.estimate is not None and d.estimate < 0 and hi is not None and hi < 0 and tests_ok:
        reasons.append("D < 0, the CI lies below 0 and the tests reject at alpha: yes")
        return "yes", reasons
    if lo is not None and lo > -delta:
        if hi is not None and hi < 0:
            reasons.append(
                f"the CI [{_fmt(lo)}, {_fmt(hi)}] lies inside (-delta, 0) = ({-delta}, 0): {ot} reduces the "
                f"{endpoint} more than {con}, but by less than delta = {delta}"
                + ("" if tests_ok else " (and a test does not reject at alpha)")
                + f"; an extra reduction of {delta} or more is ruled out: no"
            )
        else:
            reasons.append(
                f"the CI's lower bound {_fmt(lo)} is above -delta = {-delta}: an extra reduction of {delta} "
                f"or more by {ot} is ruled out: no"
            )
        return "no", reasons
    why = []
    if hi is not None and hi >= 0:
        why.append("the CI includes 0 or lies above it")
    elif not tests_ok:
        why.append("a test does not reject at alpha")
    if lo is not None and lo <= -delta:
        why.append(f"the CI reaches below -delta = {-delta}")
    reasons.append("; ".join(why) + ": inconclusive")
    return "inconclusive", reasons


def qualify(
    diff: Mapping[str, Stat],
    summaries: list[MethodSummary],
    interaction: Interaction,
    endpoint: str,
    verdict: str,
    alpha: float,
    delta: float,
    ot: str,
    con: str,
    high: str,
    low: str,
) -> list[str]:
    """Facts a careful reader should see next to the verdict (they do not change it)."""
    out = []
    d = diff[endpoint]
    if verdict == "yes" and d.estimate is not None and abs(d.estimate) < delta:
        out.append(f"the reduction ({_fmt(d.estimate)}) is smaller than target_difference = {delta}")
    if verdict == "no" and d.ci and d.ci[1] < 0:
        out.append(
            f"'no' here means no extra reduction of {delta} or more: the CI of D ([{_fmt(d.ci[0])}, "
            f"{_fmt(d.ci[1])}]) lies entirely inside (-{delta}, 0), so {ot} does leave a smaller {endpoint} "
            f"than {con}, by {_fmt(-d.estimate) if d.estimate is not None else 'n/a'} (less than the "
            "target difference)"
        )
    other = "dispersion" if endpoint == "gap" else "gap"
    o = diff[other]
    if o.ci and d.ci:
        d_below, o_below = d.ci[1] < 0, o.ci[1] < 0
        if d_below != o_below:
            out.append(
                f"the {other} difference ({_fmt(o.estimate)}, CI [{_fmt(o.ci[0])}, {_fmt(o.ci[1])}]) "
                f"{'does' if o_below else 'does not'} lie below 0, unlike the {endpoint} difference"
            )
    hi_d, lo_d = diff["high_tier"], diff["low_tier"]
    if verdict == "yes" and hi_d.ci and lo_d.ci:
        if hi_d.ci[1] < 0 and lo_d.ci[0] <= 0:
            out.append(
                f"{ot}'s smaller gap comes from a lower {high!r}-tier score ({_fmt(hi_d.estimate)} vs {con}), "
                f"not from a higher {low!r}-tier score ({_fmt(lo_d.estimate)})"
            )
        elif lo_d.ci[0] > 0:
            out.append(f"{ot} raises the {low!r} tier relative to {con} by {_fmt(lo_d.estimate)}")
    for s in summaries:
        if s.role == "baseline" and s.gap.ci and s.gap.ci[0] <= 0:
            out.append(
                f"the baseline {s.method!r} shows no clearly positive high-low gap (CI "
                f"[{_fmt(s.gap.ci[0])}, {_fmt(s.gap.ci[1])}]): there is little gap to reduce"
            )
        if s.role != "baseline" and s.gap.estimate is not None and s.gap.ci and s.gap.ci[1] < 0:
            out.append(
                f"{s.method} reverses the gap ({low!r} above {high!r}); the signed gap difference then "
                "overstates a reduction of the disparity"
            )
    if verdict == "yes" and interaction.converged and interaction.p_value is not None and interaction.p_value >= alpha:
        out.append(
            f"with languages as random effects (MixedLM), the method x tier interaction is not significant "
            f"(p = {_fmt(interaction.p_value)}): the result may not generalise to other languages of the tiers"
        )
    return out


def mixedlm_interaction(
    boot: BootstrapReplicates, ot: str, con: str, hi_idx: np.ndarray, lo_idx: np.ndarray, level: float
) -> Interaction:
    """statsmodels MixedLM: ``y ~ is_ot + is_high + is_ot:is_high`` with random language,
    method x language and seed-within-method intercepts, on per-(method, seed, language) means
    of the high and low tiers.  The interaction coefficient is the difference in gaps."""
    import pandas as pd
    from statsmodels.regression.mixed_linear_model import MixedLM

    model_txt = (
        "MixedLM (REML) on per-(method, seed, language) means: y ~ is_ot * is_high; random intercepts "
        "for language, method x language and seed within method; Wald z-test and interval (optimistic "
        "with few languages per tier)"
    )
    rows = []
    for m, is_ot in ((ot, 1), (con, 0)):
        obs = boot.observed[m]  # (S, L)
        for s in range(obs.shape[0]):
            for idx, is_high in ((hi_idx, 1), (lo_idx, 0)):
                for j in idx:
                    rows.append((float(obs[s, j]), is_ot, is_high, f"l{j}", f"{m}|l{j}", f"{m}|{s}"))
    frame = pd.DataFrame(rows, columns=["y", "is_ot", "is_high", "language", "ml", "seed"])
    frame["is_ot_high"] = frame.is_ot * frame.is_high
    frame["g"] = 1
    vc = {"language": "0 + C(language)", "ml": "0 + C(ml)"}
    if min(boot.observed[ot].shape[0], boot.observed[con].shape[0]) > 1:
        vc["seed"] = "0 + C(seed)"
    if frame.y.var() == 0:
        return Interaction(0.0, None, None, None, None, model_txt, reason="constant scores: nothing to fit")
    with _warnings.catch_warnings(record=True) as caught:
        _warnings.simplefilter("always")
        try:
            res = MixedLM.from_formula(
                "y ~ is_ot + is_high + is_ot_high", groups="g", vc_formula=vc, re_formula="0", data=frame
            ).fit(reml=True)
            est, se, p = (
                float(res.fe_params["is_ot_high"]),
                float(res.bse_fe["is_ot_high"]),
                float(res.pvalues["is_ot_high"]),
            )
        except (np.linalg.LinAlgError, ValueError, KeyError) as err:
            msgs = tuple(sorted({str(w.message) for w in caught}))
            return Interaction(
                None, None, None, None, False, model_txt, msgs, reason=f"MixedLM failed: {type(err).__name__}: {err}"
            )
    msgs = tuple(sorted({str(w.message) for w in caught}))
    z = sps.norm.ppf((1 + level) / 2)
    if not (np.isfinite(se) and se > 0):
        return Interaction(
            finite(est),
            None,
            None,
            None,
            bool(res.converged),
            model_txt,
            msgs,
            reason="the mixed model gives no standard error (singular fit)",
        )
    return Interaction(est, se, (est - z * se, est + z * se), finite(p), bool(res.converged), model_txt, msgs)
