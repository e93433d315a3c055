"""The analysis entry point: :func:`analyze` and the :class:`Analysis` it returns."""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from harness.stats.bootstrap import BootstrapReplicates, calibrated_interval, hierarchical_bootstrap
from harness.stats.common import PowerEstimate, power_curve, power_from, seed_groups
from harness.stats.data import MetricScores, prepare
from harness.stats.inference import contrast_inference, residual_mean_square
from harness.stats.options import AnalysisOptions
from harness.stats.pairwise import Comparison, Pairwise, assemble, compare_metric
from harness.stats.question import Question, answer
from harness.stats.streams import stream
from harness.stats.variance import VarianceDecomposition, WorldComponents, decompose, world_components
from harness.stats.worlds import WorldPower, generalise, language_sample, world_level

#: 2: pairwise ``test_label``/``claim``, the ``seed`` test, hierarchical df of the seed part, ``reml_check``
#: (was ``mixedlm``) in variance components.  3: the question's roles ``treatment / comparator / baseline``
#: (were ``ot / contrastive``), ``low_tier_gain`` (co-primary), ``excluded_languages`` (the pivot).  4: pairwise
#: ``unit``, ``decided_by``, ``n_worlds`` and ``comparisons[].worlds`` (with two or more worlds the test over worlds
#: decides).  ``harness report`` recomputes an analysis.json of another version.
SCHEMA_VERSION = 4


@dataclass(frozen=True)
class CellSummary:
    """Per (metric, method, language): seed-averaged mean with its hierarchical bootstrap CI."""

    metric: str
    method: str
    language: str
    tier: str
    mean: float
    ci: tuple[float, float]
    ci_queries: tuple[float, float]
    se: float
    seed_sd: float | None
    n_seeds: int
    n_queries: int
    #: the calibrated interval reached beyond the metric's range [0, 1] (few seeds or worlds) and was clipped
    ci_clipped: bool = False


@dataclass(frozen=True)
class GroupMean:
    """Mean over a set of languages (a tier, or all: ``tier = None``) of per-language means."""

    metric: str
    method: str
    tier: str | None
    languages: tuple[str, ...]
    mean: float
    ci: tuple[float, float]
    ci_queries: tuple[float, float]
    se: float
    seed_sd: float | None
    n_seeds: int
    #: the calibrated interval reached beyond the metric's range [0, 1] (few seeds or worlds) and was clipped
    ci_clipped: bool = False


#: Every metric of the harness (nDCG, recall, MRR, MAP, precision, ...) is a mean of per-query values in [0, 1].
METRIC_RANGE = (0.0, 1.0)


def clip_to_range(lo: float, hi: float) -> tuple[tuple[float, float], bool]:
    """A per-method mean's interval within the metric's range :data:`METRIC_RANGE`, and whether it was clipped.

    With 2 seeds (or worlds) the calibrated interval uses t with 1 df (t_{1, .975} = 12.7) and can
    reach far beyond [0, 1] ("0.132 [-0.263, 0.591]").  The true mean lies in [0, 1], so clipping
    never removes it: the clipped interval covers at least as often as the unclipped one.  It is
    flagged (``ci_clipped``) and the analysis warns, since such an interval says little.
    """
    a, b = METRIC_RANGE
    clipped = lo < a or hi > b
    return (max(lo, a), min(hi, b)), clipped


@dataclass(frozen=True)
class SeedScore:
    metric: str
    method: str
    seed: int
    overall: float
    per_language: Mapping[str, float]


@dataclass(frozen=True)
class PairPower:
    metric: str
    method_a: str
    method_b: str
    power: PowerEstimate


@dataclass(frozen=True)
class Power:
    """Power analysis on the primary metric (see the package docstring)."""

    metric: str
    alpha: float
    power: float
    target_difference: float
    question: PowerEstimate | None
    pairwise: tuple[PairPower, ...]
    typical_pair: PowerEstimate | None
    notes: tuple[str, ...]
    #: worlds (and seeds per world) the question's D needs (two or more worlds; else None)
    worlds: WorldPower | None = None


@dataclass(frozen=True)
class Analysis:
    """Everything :func:`analyze` computed; :meth:`to_dict` is the content of ``analysis.json``."""

    design: Mapping[str, Any]
    options: AnalysisOptions
    per_method_language: tuple[CellSummary, ...]
    method_means: tuple[GroupMean, ...]
    tier_means: tuple[GroupMean, ...]
    seed_scores: tuple[SeedScore, ...]
    variance_components: tuple[VarianceDecomposition, ...]
    #: per metric: world, method x world, seed within world and residual components of run means
    world_components: tuple[WorldComponents, ...]
    pairwise: Pairwise
    question: Question
    power: Power
    warnings: tuple[str, ...]
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable data: no NaN or infinity (None instead, and a warning naming the path)."""
        problems: list[str] = []
        body = {
            "schema_version": SCHEMA_VERSION,
            "worlds": {
                "n": len(self.design.get("worlds") or ()) or 1,
                "kind": self.design.get("worlds_kind"),
                "labels": list(self.design.get("worlds") or ()),
            },
            "design": self.design,
            "options": self.options.model_dump(mode="json"),
            "per_method_language": self.per_method_language,
            "method_means": self.method_means,
            "tier_means": self.tier_means,
            "seed_scores": self.seed_scores,
            "variance_components": self.variance_components,
            "world_components": self.world_components,
            "pairwise": self.pairwise,
            "question": self.question,
            "power": self.power,
        }
        out = jsonable(body, "", problems)
        out["warnings"] = list(self.warnings) + [f"non-finite value replaced by null at {p}" for p in problems]
        return out


def jsonable(obj: Any, path: str, problems: list[str]) -> Any:
    """Dataclasses, mappings, sequences and numpy values to JSON data; floats to 12 significant digits."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: jsonable(getattr(obj, f.name), f"{path}.{f.name}", problems) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v, f"{path}.{k}", problems) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, np.ndarray)):
        return [jsonable(v, f"{path}[{i}]", problems) for i, v in enumerate(obj)]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        x = float(obj)
        if not math.isfinite(x):
            problems.append(path.lstrip("."))
            return None
        return float(f"{x:.12g}")
    if obj is None or isinstance(obj, str):
        return obj
    raise TypeError(f"cannot serialise {type(obj).__name__} at {path}")


def _cells(data: MetricScores, boot: BootstrapReplicates, level: float) -> list[CellSummary]:
    out = []
    dq = np.array([data.n_queries(lang) - 1 for lang in data.languages], dtype=np.float64)
    for m in data.methods:
        obs = boot.observed[m]  # (S, L)
        n_s = obs.shape[0]
        noise = np.array(
            [residual_mean_square(data.scores[(m, lang)]) / (data.n_queries(lang) * n_s) for lang in data.languages]
        )  # seed x query noise counted twice by the bootstrap
        iv = calibrated_interval(
            obs.mean(axis=0),
            boot.hierarchical[m].mean(axis=1),
            boot.queries_only[m].mean(axis=1),
            n_s - 1,
            dq,
            level,
            overcount=noise,
        )
        qiv = calibrated_interval(
            obs.mean(axis=0), boot.queries_only[m].mean(axis=1), boot.queries_only[m].mean(axis=1), 0, dq, level
        )
        sd = obs.std(axis=0, ddof=1) if obs.shape[0] > 1 else None
        for j, lang in enumerate(data.languages):
            ci, clipped = clip_to_range(float(iv.lo[j]), float(iv.hi[j]))
            out.append(
                CellSummary(
                    data.metric,
                    m,
                    lang,
                    data.tiers[lang],
                    float(iv.estimate[j]),
                    ci,
                    clip_to_range(float(qiv.lo[j]), float(qiv.hi[j]))[0],
                    float(iv.se[j]),
                    None if sd is None else float(sd[j]),
                    obs.shape[0],
                    data.n_queries(lang),
                    clipped,
                )
            )
    return out


def _group_means(
    data: MetricScores, boot: BootstrapReplicates, level: float
) -> tuple[list[GroupMean], list[GroupMean]]:
    langs = list(data.languages)
    groups: list[tuple[str | None, list[str]]] = [(None, langs)]
    groups += [(t, list(data.tier_languages(t))) for t in sorted(set(data.tiers.values()))]
    overall: list[Any] = []
    tiers: list[Any] = []
    for tier, members in groups:
        idx = np.array([langs.index(x) for x in members])
        dq = min(data.n_queries(x) for x in members) - 1
        for m in data.methods:
            per_seed = boot.observed[m][:, idx].mean(axis=1)  # (S,)
            h = boot.hierarchical[m][:, :, idx].mean(axis=(1, 2))
            q = boot.queries_only[m][:, :, idx].mean(axis=(1, 2))
            noise = sum(residual_mean_square(data.scores[(m, x)]) / data.n_queries(x) for x in members) / (
                len(members) ** 2 * len(per_seed)
            )
            iv = calibrated_interval(
                np.array([per_seed.mean()]), h[:, None], q[:, None], len(per_seed) - 1, dq, level, overcount=noise
            )
            qiv = calibrated_interval(np.array([per_seed.mean()]), q[:, None], q[:, None], 0, dq, level)
            ci, clipped = clip_to_range(float(iv.lo[0]), float(iv.hi[0]))
            rec = GroupMean(
                data.metric,
                m,
                tier,
                tuple(members),
                float(per_seed.mean()),
                ci,
                clip_to_range(float(qiv.lo[0]), float(qiv.hi[0]))[0],
                float(iv.se[0]),
                float(per_seed.std(ddof=1)) if len(per_seed) > 1 else None,
                len(per_seed),
                clipped,
            )
            (overall if tier is None else tiers).append(rec)
    return overall, tiers


def _seed_scores(data: MetricScores, boot: BootstrapReplicates) -> list[SeedScore]:
    out = []
    for m in data.methods:
        obs = boot.observed[m]
        for i, s in enumerate(data.seeds[m]):
            out.append(
                SeedScore(
                    data.metric,
                    m,
                    s,
                    float(obs[i].mean()),
                    {lang: float(obs[i, j]) for j, lang in enumerate(data.languages)},
                )
            )
    return out


def _typical_pair(vd: VarianceDecomposition, data: MetricScores, opts: AnalysisOptions) -> PowerEstimate | None:
    comp = {c.name: c for c in vd.components}
    if vd.degenerate or comp["seed"].variance is None or comp["seed_x_language"].variance is None:
        return PowerEstimate(
            "pooled mean difference of two methods with independent seeds (from the variance components)",
            vd.n_seeds,
            None,
            None,
            opts.target_difference,
            None,
            None,
            "seed components are not estimable (one seed) or the scores are constant",
        )
    s2, sl2 = comp["seed"].variance, comp["seed_x_language"].variance
    mq2 = comp["residual"].parts.get("method_x_query") or 0.0
    sq2 = comp["residual"].parts.get("seed_x_query") or 0.0
    n_l = len(data.languages)
    inv_q = float(np.mean([1.0 / data.n_queries(lang) for lang in data.languages]))
    dq = min(data.n_queries(lang) for lang in data.languages) - 1

    def variance_at(s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        seed_part = 2.0 * (s2 / s + sl2 / (s * n_l))
        query_part = 2.0 * (mq2 + sq2 / s) * inv_q / n_l
        total = seed_part + query_part
        with np.errstate(divide="ignore", invalid="ignore"):
            den = np.where(total > 0, (seed_part / (2 * (s - 1)) + query_part / dq) / total, 1.0)
        return total, np.where(den > 0, 1.0 / den, np.inf)

    return power_curve(
        "pooled mean difference of two methods with independent seeds (from the variance components: "
        "2 [seed/S + seed_x_language/(S L) + (method_x_query + seed_x_query/S) mean(1/Q_l) / L])",
        vd.n_seeds,
        variance_at,
        opts.alpha,
        opts.power,
        opts.target_difference,
        opts.max_seeds,
    )


def _power(
    data: MetricScores,
    groups: Mapping[str, Any],
    comps: tuple[Comparison, ...],
    question: Question,
    vd: VarianceDecomposition,
    opts: AnalysisOptions,
) -> Power:
    """Power on the primary metric: the question, every pooled pair, and a typical pair from the components."""
    n_l = len(data.languages)
    pair_power = []
    for c in comps:
        if c.metric != data.metric or c.language != "all":
            continue
        inf = contrast_inference(
            data,
            {(m, lang): s / n_l for lang in data.languages for m, s in ((c.method_a, 1.0), (c.method_b, -1.0))},
            groups,
        )
        pair_power.append(
            PairPower(
                c.metric,
                c.method_a,
                c.method_b,
                power_from(
                    f"pooled mean difference ({c.method_a} - {c.method_b})",
                    inf,
                    opts.alpha,
                    opts.power,
                    opts.target_difference,
                    opts.max_seeds,
                ),
            )
        )
    return Power(
        data.metric,
        opts.alpha,
        opts.power,
        opts.target_difference,
        question.power,
        tuple(pair_power),
        _typical_pair(vd, data, opts),
        (
            "minimum detectable difference = (t_{1-alpha/2} + t_{power}) x SE, two-sided, SE from the seed and "
            "query variance of each comparison; seeds_needed: per method",
        ),
        question.world_level.power if question.world_level is not None else None,  # type: ignore[attr-defined]
    )


def _prepared(results: pd.DataFrame, opts: AnalysisOptions, tiers, metrics) -> Any:
    """:func:`harness.stats.data.prepare` with the options' selection (``metrics``: None = the options')."""
    return prepare(
        results,
        metrics=opts.metrics if metrics is None else metrics,
        primary_metric=opts.primary_metric,
        methods=opts.methods,
        languages=opts.languages,
        tiers=tiers,
        nan_policy=opts.nan_policy,
    )


def _question(
    primary: MetricScores,
    boot: BootstrapReplicates,
    groups,
    opts: AnalysisOptions,
    exclude: tuple[str, ...] = (),
    worlds_kind: str | None = None,
) -> Question:
    """The question's answer on the primary metric (:func:`harness.stats.question.answer`) with the options,
    generalised over worlds and languages (:func:`harness.stats.worlds.generalise`: D per world, "languages
    like these", and the interval that decides)."""
    kw: dict[str, Any] = dict(
        treatment=opts.treatment,
        comparator=opts.comparator,
        baseline=opts.baseline,
        high=opts.high_tier,
        low=opts.low_tier,
        endpoint=opts.question_endpoint,
        alpha=opts.alpha,
        level=opts.ci_level,
        delta=opts.target_difference,
        power=opts.power,
        max_seeds=opts.max_seeds,
        fit_mixedlm=opts.fit_mixedlm,
        exclude=exclude,
    )
    q = answer(primary, boot, groups, **kw)
    if q.degenerate:
        return q
    treatment, comparator = opts.treatment, opts.comparator
    wl = (
        world_level(
            primary,
            groups,
            kw,
            treatment=treatment,
            comparator=comparator,
            endpoint=q.endpoint,
            kind=worlds_kind or "drawn",
            n_bootstrap=opts.n_bootstrap,
            seed=opts.seed,
            alpha=opts.alpha,
            level=opts.ci_level,
            delta=opts.target_difference,
            power=opts.power,
            max_seeds=opts.max_seeds,
        )
        if primary.n_worlds > 1
        else None
    )
    ls = language_sample(
        boot,
        q,
        treatment=treatment,
        comparator=comparator,
        high=opts.high_tier,
        low=opts.low_tier,
        level=opts.ci_level,
        seed=opts.seed,
    )
    return generalise(
        q,
        worlds=wl,
        languages=ls,
        alpha=opts.alpha,
        delta=opts.target_difference,
        treatment=treatment,
        comparator=comparator,
        language_scope=opts.language_scope,
    )


#: The tier under which an excluded pivot's cells are listed (``analysis.exclude_pivot``).
PIVOT_TIER = "pivot"


def _excluded(data: MetricScores, opts: AnalysisOptions, pivot: str | None) -> tuple[str, ...]:
    """Languages that leave the tier means: the pivot when ``exclude_pivot`` is true (None reads as false)."""
    return (pivot,) if opts.exclude_pivot and pivot is not None and pivot in data.languages else ()


def _without(data: MetricScores, excluded: tuple[str, ...]) -> MetricScores:
    """``data`` with the excluded languages listed under the tier :data:`PIVOT_TIER` (their own group)."""
    if not excluded:
        return data
    return dataclasses.replace(data, tiers={k: (PIVOT_TIER if k in excluded else t) for k, t in data.tiers.items()})


def _few_seeds_warning(data: MetricScores) -> list[str]:
    """The warning for fewer than ``MIN_UNITS`` units of replication: seeds, or worlds when there are
    several (then the world is the unit the question's interval resamples: ``BootstrapReplicates.df_seed``)."""
    from harness.stats.question import MIN_UNITS, TOO_FEW

    if data.n_worlds > 1:
        if data.n_worlds >= MIN_UNITS:
            return []
        return [
            f"too few worlds for an interval: {data.n_worlds} (fewer than {MIN_UNITS}); the question's intervals "
            f"are omitted and its verdict is inconclusive; intervals of means are t intervals with "
            f"{data.n_worlds - 1} df, cut to the metric's range [0, 1]"
        ]
    few = {m: len(s) for m, s in data.seeds.items() if len(s) < MIN_UNITS}
    if not few:
        return []
    return [
        f"{TOO_FEW}: {', '.join(f'{m} has {n}' for m, n in few.items())} (fewer than {MIN_UNITS}); the question's "
        "intervals are omitted and its verdict is inconclusive; intervals of means are t intervals with "
        f"{min(few.values()) - 1 if min(few.values()) > 1 else 0} df, cut to the metric's range [0, 1]"
    ]


def analyze_question(
    results: pd.DataFrame,
    options: AnalysisOptions | Mapping[str, Any] | None = None,
    *,
    tiers: Mapping[str, str] | None = None,
    pivot: str | None = None,
    worlds_kind: str | None = None,
) -> dict[str, Any]:
    """The question and the primary metric's tier means, as :func:`analyze` computes them.

    The part of :meth:`Analysis.to_dict` that a budget curve needs (``question`` and the
    primary metric's ``tier_means``), without the other metrics, the pairwise tests, the
    variance decomposition and the power analysis.  Every random stream is named by its
    metric (and language, or seed group), never by what else is analysed, so the values
    equal those of ``analyze(results, options, tiers=tiers).to_dict()`` (tested).
    """
    opts = options if isinstance(options, AnalysisOptions) else AnalysisOptions(**dict(options or {}))
    primary = _prepared(results, opts, tiers, [opts.primary_metric]).metrics[opts.primary_metric]
    groups = seed_groups(primary, opts.seed_pairing)
    boot = hierarchical_bootstrap(primary, groups, opts.n_bootstrap, opts.seed)
    excluded = _excluded(primary, opts, pivot)
    _, tier_means = _group_means(_without(primary, excluded), boot, opts.ci_level)
    kind = worlds_kind or ("drawn" if primary.n_worlds > 1 else "fixed")
    question = _question(primary, boot, groups, opts, excluded, kind)
    problems: list[str] = []
    return jsonable({"question": question, "tier_means": tuple(tier_means)}, "", problems)


def analyze(
    results: pd.DataFrame,
    options: AnalysisOptions | Mapping[str, Any] | None = None,
    *,
    tiers: Mapping[str, str] | None = None,
    worlds_kind: str | None = None,
    pivot: str | None = None,
) -> Analysis:
    """Analyse a long results table (schema in the package docstring).

    Parameters
    ----------
    results : DataFrame with columns ``method, seed, language, tier, query_id, metric, value``.
    options : :class:`AnalysisOptions` (or the mapping of its fields; ``None``: defaults).
    tiers : ``language -> tier`` from the benchmark; checked against the table's ``tier``.
    worlds_kind : ``"drawn"`` (the worlds are seeded draws of a generator: a sample) or ``"fixed"`` (one
        given benchmark); default: drawn when the table has two or more worlds, else fixed.
    pivot : the benchmark's pivot language.  With ``options.exclude_pivot`` it leaves the tier
        means and the question (its cells are listed under the tier ``"pivot"``).

    Raises
    ------
    StatisticsError
        The table cannot support the analysis (see :func:`harness.stats.data.prepare`).
    """
    t0 = time.perf_counter()
    opts = options if isinstance(options, AnalysisOptions) else AnalysisOptions(**dict(options or {}))
    prepared = _prepared(results, opts, tiers, None)
    warnings = list(prepared.warnings)
    primary = prepared.metrics[opts.primary_metric]

    cells: list[CellSummary] = []
    overall: list[GroupMean] = []
    tier_means: list[GroupMean] = []
    seed_scores: list[SeedScore] = []
    decomps: list[VarianceDecomposition] = []
    comps: list[Comparison] = []
    boots: dict[str, BootstrapReplicates] = {}
    groups_by_metric = {}
    for metric, data in prepared.metrics.items():
        groups = seed_groups(data, opts.seed_pairing)
        groups_by_metric[metric] = groups
        boot = hierarchical_bootstrap(data, groups, opts.n_bootstrap, opts.seed)
        boots[metric] = boot
        excluded = _excluded(data, opts, pivot)
        cells += _cells(_without(data, excluded), boot, opts.ci_level)
        o, t = _group_means(_without(data, excluded), boot, opts.ci_level)
        overall += o
        tier_means += t
        seed_scores += _seed_scores(data, boot)
        decomps.append(
            decompose(
                data,
                stream(opts.seed, "variance", metric),
                opts.n_bootstrap,
                opts.ci_level,
                reml=opts.reml_variance_check,
            )
        )
        comps += compare_metric(
            data,
            boot,
            groups,
            seed=opts.seed,
            n_permutations=opts.n_permutations,
            alpha=opts.alpha,
            power=opts.power,
            level=opts.ci_level,
        )
    pairwise = assemble(
        comps,
        test=opts.pairwise_test,
        correction=opts.correction,
        family=opts.correction_family,
        alpha=opts.alpha,
        n_permutations=opts.n_permutations,
    )
    warnings += pairwise.notes

    kind = worlds_kind or ("drawn" if primary.n_worlds > 1 else "fixed")
    n_clipped = sum(c.ci_clipped for c in cells) + sum(g.ci_clipped for g in (*overall, *tier_means))
    if n_clipped:
        few = min(min(len(s) for s in d.seeds.values()) for d in prepared.metrics.values())
        unit = f"{primary.n_worlds} worlds" if primary.n_worlds > 1 else f"{few} seed(s)"
        warnings.append(
            f"too few {'worlds' if primary.n_worlds > 1 else 'seeds'} for informative intervals: {n_clipped} "
            f"interval(s) of per-method means reached beyond the metric's range [0, 1] with {unit} (t with "
            f"{(primary.n_worlds if primary.n_worlds > 1 else few) - 1} df) and were clipped to it (ci_clipped)"
            + (
                f"; with {unit} already, only more of them (each adds a degree of freedom) narrows these intervals"
                if (primary.n_worlds if primary.n_worlds > 1 else few) >= 3
                else "; run at least 3 seeds (or worlds)"
            )
        )
    excluded = _excluded(primary, opts, pivot)
    question = _question(
        primary, boots[opts.primary_metric], groups_by_metric[opts.primary_metric], opts, excluded, kind
    )
    if question.degenerate and question.reason:
        warnings.append(f"question not answered: {question.reason}")
    warnings += _few_seeds_warning(primary)

    vd_primary = next(v for v in decomps if v.metric == opts.primary_metric)
    power = _power(primary, groups_by_metric[opts.primary_metric], pairwise.comparisons, question, vd_primary, opts)
    wcomps = [
        world_components(d, stream(opts.seed, "world-variance", m), opts.n_bootstrap, opts.ci_level)
        for m, d in prepared.metrics.items()
        if d.n_worlds > 1
    ]
    for vd in decomps:
        if vd.degenerate and vd.reason:
            warnings.append(f"variance decomposition of {vd.metric}: {vd.reason}")
    design = {
        "methods": list(primary.methods),
        "languages": list(primary.languages),
        "tiers": dict(_without(primary, excluded).tiers),  # an excluded pivot is listed under the tier "pivot"
        "metrics": list(prepared.metrics),
        "primary_metric": opts.primary_metric,
        "seeds": {m: list(s) for m, s in primary.seeds.items()},
        "seed_groups": {m: str(g) for m, g in groups_by_metric[opts.primary_metric].items()},
        "n_queries": {
            metric: {lang: d.n_queries(lang) for lang in d.languages} for metric, d in prepared.metrics.items()
        },
        "dropped_queries": {metric: dict(d.dropped_queries) for metric, d in prepared.metrics.items()},
        "n_rows": int(len(results)),
        "worlds": list(primary.worlds),
        "pivot": pivot,
        "excluded_from_tiers": list(excluded),
        "worlds_kind": kind,
    }
    return Analysis(
        design,
        opts,
        tuple(cells),
        tuple(overall),
        tuple(tier_means),
        tuple(seed_scores),
        tuple(decomps),
        tuple(wcomps),
        pairwise,
        question,
        power,
        tuple(warnings),
        round(time.perf_counter() - t0, 3),
    )
