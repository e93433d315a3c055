"""From ``analysis.json`` (``harness.stats.Analysis.to_dict()``) to the records a report shows.

Only reshaping: selecting the primary metric, arranging per-language means into a
method x language table, marking the best mean of a column, negating a pairwise difference
to fill the other half of a matrix.  Every number comes from the analysis; none is computed
here.  A key the report needs but the analysis lacks raises :class:`ReportDataError` naming
the key, so a schema change is an error, not a silently blank section.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.errors import HarnessError


class ReportDataError(HarnessError, KeyError):
    """``analysis.json`` lacks a value the report needs (or has an unexpected shape)."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True)
class Estimate:
    """A mean or difference with its interval (None where the analysis has none)."""

    value: float | None
    low: float | None = None
    high: float | None = None
    best: bool = False

    @property
    def ci(self) -> tuple[float | None, float | None]:
        return (self.low, self.high)


def _ci(x: Any) -> tuple[float | None, float | None]:
    if not x:
        return (None, None)
    lo, hi = x
    return (lo, hi)


def est(value: Any, ci: Any = None, best: bool = False) -> Estimate:
    lo, hi = _ci(ci)
    return Estimate(value, lo, hi, best)


@dataclass(frozen=True)
class LeaderRow:
    method: str
    languages: tuple[Estimate, ...]
    tiers: tuple[Estimate, ...]
    overall: Estimate
    seed_sd: float | None
    n_seeds: int
    vs_baseline: "PairCell | None" = None  # this method minus the baseline over all languages (pairwise analysis)


@dataclass(frozen=True)
class Leaderboard:
    metric: str
    languages: tuple[str, ...]
    language_tiers: tuple[str, ...]
    n_queries: tuple[int, ...]
    tiers: tuple[str, ...]
    rows: tuple[LeaderRow, ...]
    tier_spans: tuple[tuple[str, int], ...]  # (tier, number of its languages), in column order
    baseline: str | None = None  # the analysis's baseline method, when it is in this table


@dataclass(frozen=True)
class PairCell:
    diff: float | None
    low: float | None
    high: float | None
    p_adjusted: float | None
    effect: float | None
    significant: bool | None
    mirrored: bool  # the comparison was stored as (column, row): the difference is shown negated


@dataclass(frozen=True)
class PairMatrix:
    metric: str
    methods: tuple[str, ...]
    cells: tuple[tuple[PairCell | None, ...], ...]  # [row][col]; None on the diagonal / missing


@dataclass
class AnalysisView:
    """Everything the report shows from the analysis (``available`` false: ``error`` says why)."""

    available: bool
    error: str = ""
    primary_metric: str = ""
    metrics: tuple[str, ...] = ()
    methods: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    tiers: dict[str, str] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    leaderboards: tuple[Leaderboard, ...] = ()
    tier_means: tuple[dict[str, Any], ...] = ()
    question: dict[str, Any] = field(default_factory=dict)
    variance: tuple[dict[str, Any], ...] = ()
    pairwise: dict[str, Any] = field(default_factory=dict)
    pair_matrix: PairMatrix | None = None
    pair_summaries: tuple[dict[str, Any], ...] = ()
    comparisons: tuple[dict[str, Any], ...] = ()
    seeds: tuple[dict[str, Any], ...] = ()
    power: dict[str, Any] = field(default_factory=dict)
    schema_version: Any = None

    @property
    def level(self) -> int:
        return int(round(100 * float(self.options.get("ci_level", 0.95))))


def _by(records: Iterable[Mapping[str, Any]], **match: Any) -> list[Mapping[str, Any]]:
    return [r for r in records if all(r.get(k) == v for k, v in match.items())]


def _tier_order(tier: str) -> tuple[int, str]:
    """high, mid, low first (in that order), other tier names alphabetically after them."""
    known = {"high": 0, "mid": 1, "medium": 1, "low": 2}
    return (known.get(tier, 3), tier)


def leaderboard(a: Mapping[str, Any], metric: str) -> Leaderboard:
    d = a["design"]
    methods = list(d["methods"])
    tiers_of = dict(d["tiers"])
    tier_names = sorted(set(tiers_of.values()), key=_tier_order)
    langs = sorted(d["languages"], key=lambda lang: (tier_names.index(tiers_of[lang]), lang))  # grouped by tier
    cells = {(r["method"], r["language"]): r for r in _by(a["per_method_language"], metric=metric)}
    tmeans = {(r["method"], r["tier"]): r for r in _by(a["tier_means"], metric=metric)}
    overall = {r["method"]: r for r in _by(a["method_means"], metric=metric)}

    def best_of(values: list[float | None]) -> float | None:
        vals = [v for v in values if v is not None]
        return max(vals) if vals else None

    best_lang = {lang: best_of([cells[(m, lang)]["mean"] for m in methods if (m, lang) in cells]) for lang in langs}
    best_tier = {t: best_of([tmeans[(m, t)]["mean"] for m in methods if (m, t) in tmeans]) for t in tier_names}
    best_all = best_of([overall[m]["mean"] for m in methods if m in overall])
    baseline = a["options"].get("baseline")
    baseline = baseline if baseline in methods else None
    if baseline is not None:
        mx = pair_matrix(a, metric)
        vs_base = {m: mx.cells[methods.index(m)][methods.index(baseline)] for m in methods}
    else:
        vs_base = {}
    rows = []
    for m in methods:
        lang_est = tuple(
            est(cells[(m, lang)]["mean"], cells[(m, lang)]["ci"], cells[(m, lang)]["mean"] == best_lang[lang])
            if (m, lang) in cells
            else Estimate(None)
            for lang in langs
        )
        tier_est = tuple(
            est(tmeans[(m, t)]["mean"], tmeans[(m, t)]["ci"], tmeans[(m, t)]["mean"] == best_tier[t])
            if (m, t) in tmeans
            else Estimate(None)
            for t in tier_names
        )
        o = overall.get(m)
        rows.append(
            LeaderRow(
                method=m,
                languages=lang_est,
                tiers=tier_est,
                overall=est(o["mean"], o["ci"], o["mean"] == best_all) if o else Estimate(None),
                seed_sd=o["seed_sd"] if o else None,
                n_seeds=int(o["n_seeds"]) if o else 0,
                vs_baseline=vs_base.get(m),
            )
        )
    nq = d["n_queries"].get(metric, {})
    spans = tuple((t, sum(1 for lang in langs if tiers_of[lang] == t)) for t in tier_names)
    return Leaderboard(
        metric,
        tuple(langs),
        tuple(tiers_of[lang] for lang in langs),
        tuple(int(nq.get(lang, 0)) for lang in langs),
        tuple(tier_names),
        tuple(rows),
        spans,
        baseline,
    )


def pair_matrix(a: Mapping[str, Any], metric: str) -> PairMatrix:
    methods = list(a["design"]["methods"])
    pooled = {
        (c["method_a"], c["method_b"]): c for c in _by(a["pairwise"]["comparisons"], metric=metric, language="all")
    }
    rows = []
    for ma in methods:
        row: list[PairCell | None] = []
        for mb in methods:
            c, mirrored = pooled.get((ma, mb)), False
            if c is None and (mb, ma) in pooled:
                c, mirrored = pooled[(mb, ma)], True
            if c is None or ma == mb:
                row.append(None)
                continue
            sign = -1.0 if mirrored else 1.0
            # several worlds: the interval over worlds (the unit that decides; none with 2 worlds)
            lo, hi = _ci(c["worlds"]["ci"] if c.get("worlds") else c["ci"])
            if mirrored and lo is not None and hi is not None:
                lo, hi = -hi, -lo
            diff = c["worlds"]["estimate"] if c.get("worlds") else c["mean_diff"]
            eff = c["effect"]["value"]
            row.append(
                PairCell(
                    None if diff is None else sign * diff,
                    lo,
                    hi,
                    c["p_adjusted"],
                    None if eff is None else sign * eff,
                    c["significant"],
                    mirrored,
                )
            )
        rows.append(tuple(row))
    return PairMatrix(metric, tuple(methods), tuple(rows))


def build_view(analysis: Mapping[str, Any] | None) -> AnalysisView:
    """The report's view of ``analysis`` (``None`` or ``{"error": ...}``: an unavailable view)."""
    if not analysis:
        return AnalysisView(available=False, error="analysis.json is missing or empty")
    if "error" in analysis and "design" not in analysis:
        return AnalysisView(available=False, error=str(analysis["error"]))
    try:
        return _build(analysis)
    except (KeyError, TypeError, IndexError, StopIteration) as e:
        raise ReportDataError(
            f"analysis.json (schema_version {analysis.get('schema_version')!r}) lacks or mis-shapes a value the "
            f"report needs ({type(e).__name__}: {e}); it was probably written by another harness version: delete "
            "analysis.json and run `harness report DIR` to recompute it from results.parquet"
        ) from e


def _build(a: Mapping[str, Any]) -> AnalysisView:
    d = a["design"]
    pm = d["primary_metric"]
    metrics = tuple(dict.fromkeys([pm, *d["metrics"]]))
    pw = a["pairwise"]
    for key in ("test_label", "claim"):  # which claim "significant" makes: the report must say it
        if key not in pw:
            raise KeyError(f"pairwise.{key}")
    comparisons = tuple(c for c in pw["comparisons"])
    summaries = tuple(s for s in pw["summaries"])
    tier_means = tuple(dict(r) for r in _by(a["tier_means"], metric=pm))
    seed_rows = []
    for m in d["methods"]:
        scores = _by(a["seed_scores"], metric=pm, method=m)
        overall = _by(a["method_means"], metric=pm, method=m)
        seed_rows.append(
            {
                "method": m,
                "scores": scores,
                "seed_sd": overall[0]["seed_sd"] if overall else None,
                "mean": overall[0]["mean"] if overall else None,
            }
        )
    variance = tuple(sorted(a["variance_components"], key=lambda v: v["metric"] != pm))
    from harness_reports.verdict import question_of

    question = question_of(a)
    question["by_role"] = {s["role"]: s for s in question["per_method"]}
    return AnalysisView(
        available=True,
        primary_metric=pm,
        metrics=metrics,
        methods=tuple(d["methods"]),
        languages=tuple(d["languages"]),
        tiers=dict(d["tiers"]),
        options=dict(a["options"]),
        warnings=tuple(a.get("warnings") or ()),
        leaderboards=tuple(leaderboard(a, m) for m in metrics),
        tier_means=tier_means,
        question=question,
        variance=variance,
        pairwise=dict(pw),
        pair_matrix=pair_matrix(a, pm),
        pair_summaries=summaries,
        comparisons=comparisons,
        seeds=tuple(seed_rows),
        power=dict(a["power"]),
        schema_version=a.get("schema_version"),
    )
