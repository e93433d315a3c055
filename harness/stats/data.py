"""From a long results table to aligned per-query score matrices.

The results table (``results.parquet``) has one row per (method, seed, language, query,
metric) with columns ``method, seed, language, tier, query_id, metric, value``.  For each
metric, :func:`prepare` returns a :class:`MetricScores` whose matrices are aligned: for a
language, every method and seed has a score for the same queries in the same order, so
queries are paired across methods and crossed with seeds.

Worlds.  A table with an optional first column ``world`` (benchmark instances: drawn synthetic
worlds) and two or more worlds nests queries in worlds: a language's matrix columns are the
queries of every world, named ``<world>:<query id>`` (query ids are per world), and
:attr:`MetricScores.query_worlds` says which world each column belongs to.  A matrix row is a
seed *label*: row ``s`` holds, in each world's columns, that world's seed ``s`` (its own
teacher and training), so seeds are nested in worlds (:mod:`harness.stats.bootstrap` resamples
them within each world).  :meth:`MetricScores.for_world` is one world's data alone.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from harness.errors import StatisticsError, did_you_mean

REQUIRED_COLUMNS = ("method", "seed", "language", "tier", "query_id", "metric", "value")


@dataclass(frozen=True)
class MetricScores:
    """Per-query scores of one metric, aligned for analysis.

    Attributes
    ----------
    metric : str
    methods : tuple[str, ...]
        In analysis order.
    languages : tuple[str, ...]
        Sorted.
    tiers : Mapping[str, str]
        ``language -> tier``.
    seeds : Mapping[str, tuple[int, ...]]
        ``method -> sorted seeds``; the rows of that method's matrices.
    query_ids : Mapping[str, tuple[str, ...]]
        ``language -> sorted query ids``; the columns of that language's matrices.
    scores : Mapping[tuple[str, str], numpy.ndarray]
        ``(method, language) -> (n_seeds[method], n_queries[language])`` float64 matrix.
    dropped_queries : Mapping[str, int]
        Queries dropped per language under ``nan_policy = "drop_queries"``.
    """

    metric: str
    methods: tuple[str, ...]
    languages: tuple[str, ...]
    tiers: Mapping[str, str]
    seeds: Mapping[str, tuple[int, ...]]
    query_ids: Mapping[str, tuple[str, ...]]
    scores: Mapping[tuple[str, str], np.ndarray]
    dropped_queries: Mapping[str, int] = field(default_factory=dict)
    #: benchmark instances, in table order (one world: the table's label, or () without a world column)
    worlds: tuple[str, ...] = ()
    #: ``language -> world of each column`` (only with two or more worlds)
    query_worlds: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def n_worlds(self) -> int:
        return max(1, len(self.worlds))

    def world_columns(self, language: str, world: str) -> np.ndarray:
        """Column indices of ``world``'s queries in ``language``'s matrices."""
        if self.n_worlds < 2:
            return np.arange(self.n_queries(language))
        return np.flatnonzero(np.asarray(self.query_worlds[language]) == world)

    def for_world(self, world: str) -> MetricScores:
        """``world``'s scores alone (query ids without the world prefix)."""
        if self.n_worlds < 2:
            return self
        if world not in self.worlds:
            raise StatisticsError(f"world {world!r} is not in the data (worlds: {', '.join(self.worlds)})")
        cols = {lang: self.world_columns(lang, world) for lang in self.languages}
        prefix = len(world) + 1
        return MetricScores(
            self.metric,
            self.methods,
            self.languages,
            self.tiers,
            self.seeds,
            {lang: tuple(self.query_ids[lang][i][prefix:] for i in cols[lang]) for lang in self.languages},
            {k: np.ascontiguousarray(v[:, cols[k[1]]]) for k, v in self.scores.items()},
            {},
            (world,),
            {},
        )

    def n_queries(self, language: str) -> int:
        return len(self.query_ids[language])

    def run_means(self, method: str) -> np.ndarray:
        """Per-(seed, language) means of ``method``: shape ``(n_seeds, n_languages)``."""
        return np.stack([self.scores[(method, lang)].mean(axis=1) for lang in self.languages], axis=1)

    def tier_languages(self, tier: str) -> tuple[str, ...]:
        return tuple(lang for lang in self.languages if self.tiers[lang] == tier)

    def subset(self, methods: Sequence[str]) -> MetricScores:
        """The same data restricted to ``methods`` (in that order)."""
        return MetricScores(
            self.metric,
            tuple(methods),
            self.languages,
            self.tiers,
            {m: self.seeds[m] for m in methods},
            self.query_ids,
            {k: v for k, v in self.scores.items() if k[0] in methods},
            self.dropped_queries,
            self.worlds,
            self.query_worlds,
        )


@dataclass(frozen=True)
class Prepared:
    """What :func:`prepare` returns: per-metric scores, the design, and soft problems."""

    metrics: Mapping[str, MetricScores]
    warnings: tuple[str, ...]


def _require_names(kind: str, requested: Sequence[str] | None, available: Sequence[str], option: str) -> list[str]:
    if requested is None:
        return list(available)
    missing = [x for x in requested if x not in available]
    if missing:
        name = missing[0]
        raise StatisticsError(
            f"{kind} {name!r} (requested by analysis.{option}) is not in the results table"
            f"{did_you_mean(name, available)}; available {kind}s: {', '.join(map(str, available)) or '(none)'}. "
            f"Remove it from analysis.{option} or run it first."
        )
    return list(requested)


def resolve_tiers(df: pd.DataFrame, tiers: Mapping[str, str] | None) -> dict[str, str]:
    """``language -> tier``, checked for consistency between the table and ``tiers``."""
    pairs = df[["language", "tier"]].drop_duplicates()
    counts = pairs.groupby("language")["tier"].nunique()
    multi = counts[counts > 1]
    if len(multi):
        lang = multi.index[0]
        found = sorted(pairs.loc[pairs.language == lang, "tier"].astype(str))
        raise StatisticsError(
            f"language {lang!r} has several tiers in the results table ({', '.join(found)}); "
            "each language must belong to exactly one tier"
        )
    table = dict(zip(pairs.language.astype(str), pairs.tier.astype(str), strict=True))
    if tiers is None:
        return table
    tiers = {str(k): str(v) for k, v in tiers.items()}
    missing = sorted(set(table) - set(tiers))
    if missing:
        raise StatisticsError(
            f"languages {missing} of the results table have no tier in `tiers` "
            f"(given for: {', '.join(sorted(tiers))}); pass a tier for every language"
        )
    for lang, t in table.items():
        if tiers[lang] != t:
            raise StatisticsError(
                f"language {lang!r} has tier {t!r} in the results table but {tiers[lang]!r} in "
                "`tiers`; the benchmark and the table disagree (re-run the evaluation or fix the "
                "benchmark's tier assignment)"
            )
    return {lang: tiers[lang] for lang in table}


def prepare(
    results: pd.DataFrame,
    *,
    metrics: Sequence[str] | None = None,
    primary_metric: str | None = None,
    methods: Sequence[str] | None = None,
    languages: Sequence[str] | None = None,
    tiers: Mapping[str, str] | None = None,
    nan_policy: str = "raise",
) -> Prepared:
    """Validate a long results table and align it into per-metric score matrices.

    Raises
    ------
    StatisticsError
        Missing columns, an empty table, a requested metric/method/language absent, duplicate
        rows, a (method, seed) without scores for some language, and (``nan_policy="raise"``)
        NaN/infinite scores or queries missing for some (method, seed).
    """
    if not isinstance(results, pd.DataFrame):
        raise StatisticsError(f"results must be a pandas DataFrame, got {type(results).__name__}")
    missing_cols = [c for c in REQUIRED_COLUMNS if c not in results.columns]
    if missing_cols:
        raise StatisticsError(
            f"results table lacks columns {missing_cols}; required: {', '.join(REQUIRED_COLUMNS)} "
            f"(found: {', '.join(map(str, results.columns))})"
        )
    if results.empty:
        raise StatisticsError("results table is empty: nothing to analyse")
    if not pd.api.types.is_numeric_dtype(results["value"]):
        raise StatisticsError(f"column `value` must be numeric, got dtype {results['value'].dtype}")
    if not pd.api.types.is_integer_dtype(results["seed"]):
        raise StatisticsError(f"column `seed` must hold integers, got dtype {results['seed'].dtype}")
    df = results[list(REQUIRED_COLUMNS)]
    for col in ("method", "language", "tier", "query_id", "metric"):
        df = df.assign(**{col: df[col].astype(str)})
    worlds: tuple[str, ...] = ()
    if "world" in results.columns:
        wcol = results["world"].astype(str)
        worlds = tuple(pd.unique(wcol).tolist())
        if len(worlds) > 1:  # queries are per world: a query id names a query within its world
            df = df.assign(query_id=wcol + ":" + df["query_id"])

    all_metrics = sorted(df.metric.unique())
    metric_list = _require_names("metric", metrics, all_metrics, "metrics")
    if primary_metric is not None and primary_metric not in all_metrics:
        _require_names("metric", [primary_metric], all_metrics, "primary_metric")
    if primary_metric is not None and primary_metric not in metric_list:
        metric_list = [primary_metric, *metric_list]
    method_list = _require_names("method", methods, sorted(df.method.unique()), "methods")
    lang_list = sorted(_require_names("language", languages, sorted(df.language.unique()), "languages"))
    df = df[df.metric.isin(metric_list) & df.method.isin(method_list) & df.language.isin(lang_list)]
    tier_map = resolve_tiers(df, tiers)

    warnings: list[str] = []
    out: dict[str, MetricScores] = {}
    for metric in metric_list:
        out[metric] = _align_metric(
            df[df.metric == metric], metric, method_list, lang_list, tier_map, nan_policy, warnings
        )
        if worlds:
            qw = (
                {lang: tuple(q.split(":", 1)[0] for q in out[metric].query_ids[lang]) for lang in lang_list}
                if len(worlds) > 1
                else {}
            )
            if len(worlds) > 1:
                for lang, ws in qw.items():
                    absent = [w for w in worlds if w not in ws]
                    if absent:
                        raise StatisticsError(
                            f"world(s) {absent} have no {metric!r} scores for language {lang!r}; every world "
                            "needs every language (re-run the missing cells)"
                        )
            out[metric] = dataclasses.replace(out[metric], worlds=worlds, query_worlds=qw)
    return Prepared(out, tuple(warnings))


def _align_metric(
    sub: pd.DataFrame,
    metric: str,
    methods: list[str],
    languages: list[str],
    tiers: dict[str, str],
    nan_policy: str,
    warnings: list[str],
) -> MetricScores:
    present_methods = set(sub.method.unique())
    absent = [m for m in methods if m not in present_methods]
    if absent:
        raise StatisticsError(
            f"metric {metric!r} has no scores for methods {absent}; every analysed method needs "
            f"every metric (restrict analysis.methods or analysis.metrics)"
        )
    seeds = {m: tuple(int(s) for s in np.sort(sub.loc[sub.method == m, "seed"].unique())) for m in methods}
    m_index = {m: i for i, m in enumerate(methods)}
    all_seeds = sorted({s for ss in seeds.values() for s in ss})
    s_index = {s: i for i, s in enumerate(all_seeds)}
    n_m, n_s = len(methods), len(all_seeds)

    scores: dict[tuple[str, str], np.ndarray] = {}
    query_ids: dict[str, tuple[str, ...]] = {}
    dropped: dict[str, int] = {}
    groups = dict(tuple(sub.groupby("language", sort=True)))
    for lang in languages:
        g = groups.get(lang)
        if g is None:
            raise StatisticsError(f"metric {metric!r} has no scores for language {lang!r}")
        q_codes, q_uniq = pd.factorize(g.query_id, sort=True)
        n_q = len(q_uniq)
        mi = g.method.map(m_index).to_numpy()
        si = g.seed.map(s_index).to_numpy()
        lin = (mi * n_s + si) * n_q + q_codes
        count = np.bincount(lin, minlength=n_m * n_s * n_q).reshape(n_m, n_s, n_q)
        if (count > 1).any():
            m, s, q = (int(x[0]) for x in np.nonzero(count > 1))
            raise StatisticsError(
                f"duplicate rows in the results table: method {methods[m]!r}, seed {all_seeds[s]}, "
                f"language {lang!r}, query {q_uniq[q]!r}, metric {metric!r} appears "
                f"{count[m, s, q]} times; each (method, seed, language, query, metric) must be "
                "unique"
            )
        flat = np.full(n_m * n_s * n_q, np.nan)
        flat[lin] = g.value.to_numpy(dtype=np.float64)
        values = flat.reshape(n_m, n_s, n_q)  # (methods, seeds, queries)
        per_method = {}
        for meth in methods:
            rows = [s_index[s] for s in seeds[meth]]
            per_method[meth] = (values[m_index[meth]][rows], count[m_index[meth]][rows])  # (n_seeds_m, n_q) each
            empty = [seeds[meth][i] for i in range(len(rows)) if per_method[meth][1][i].sum() == 0]
            if empty:
                raise StatisticsError(
                    f"method {meth!r} seed(s) {empty} have no {metric!r} scores for language {lang!r} "
                    "although they have scores for other languages; the run is incomplete "
                    "(re-run the missing cells or restrict analysis.languages)"
                )
        bad = np.zeros(n_q, dtype=bool)
        n_nan = 0
        for v, c in per_method.values():
            bad |= ~np.isfinite(v).all(axis=0)
            n_nan += int((~np.isfinite(v) & (c == 1)).sum())
        if bad.any():
            n_bad = int(bad.sum())
            example = q_uniq[int(np.argmax(bad))]
            what = (
                f"{n_bad} of {n_q} queries of language {lang!r} (metric {metric!r}, e.g. query {example!r}) "
                f"lack a finite score for some (method, seed) ({n_nan} NaN/infinite values, the rest missing rows)"
            )
            if nan_policy != "drop_queries":
                raise StatisticsError(
                    f"{what}; fix the evaluation, or set analysis.nan_policy = 'drop_queries' to "
                    "drop those queries for every method and seed"
                )
            if n_bad > n_q - 2:
                raise StatisticsError(f"{what}; fewer than 2 queries would remain")
            warnings.append(f"dropped {what}")
            dropped[lang] = n_bad
        keep = ~bad
        query_ids[lang] = tuple(str(q) for q in np.asarray(q_uniq)[keep])
        if len(query_ids[lang]) < 2:
            raise StatisticsError(
                f"language {lang!r} has {len(query_ids[lang])} query for metric {metric!r}; "
                "at least 2 queries per language are needed"
            )
        for meth in methods:
            scores[(meth, lang)] = np.ascontiguousarray(per_method[meth][0][:, keep])
    return MetricScores(
        metric,
        tuple(methods),
        tuple(languages),
        {lang: tiers[lang] for lang in languages},
        seeds,
        query_ids,
        scores,
        dropped,
    )
