"""``harness compare DIR_A DIR_B``: a paired, per-query comparison of two runs.

Typical use: run B holds a method's new version, run A its old one, on the same benchmark.
For every method present in both runs, every language whose data have the same fingerprint
in both, and every metric both runs evaluated:

* each query's score is averaged over the run's seeds (``a_q``, ``b_q``), queries are
  paired by id, and ``d_q = b_q - a_q``;
* the difference ``mean(d)``, its t interval, the paired t-test, the sign-flip randomization
  test and Cohen's ``d_z`` come from :mod:`harness.stats.two_runs` (see there for formulas);
* p-values are adjusted over the family of per-language comparisons of one metric
  (Holm by default, or run B's ``analysis.correction``), and separately over the macro
  averages (one per method) of that metric;
* the queries whose score changed most (largest ``|d_q|``) are listed per method.

How the two runs relate is stated first (``Comparison.relation``):

* the same directory is refused;
* ``"identical"``: every per-query score is equal (the same config run twice, or a copy): flagged;
* ``"same-config"``: one config (sha256) with different scores: flagged, with the numerics
  environment fields that differ (:func:`harness.numerics.numerics_differences`);
* ``"seeds-only"``: the configs differ only in ``seeds``.  Then every difference is seed
  noise: the query-paired tests (which hold the checkpoints fixed) are shown but never called
  significant, and each method's seed sets are compared over seeds instead
  (:func:`harness.stats.two_runs.seed_set_difference`, Welch t on per-seed macro means);
* ``"different"``: anything else (a new method version, other options, other data).

Analysis settings (primary metric, alpha, interval level, permutations, correction, seed)
come from run B's ``[analysis]`` section.  Output, in ``out_dir`` (default: a new directory
``compare-<name of run_a>-vs-<name of run_b>`` beside run B; no finished run directory is
ever modified, and an existing output directory is refused): ``compare.html`` (self-contained), ``compare.json``
(every number shown), ``compare_languages.csv``, ``compare_queries.csv`` and
``compare_languages.tex`` (booktabs).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.errors import HarnessError
from harness_reports.rundir import config_differences, load_manifest, load_results

TOP_QUERIES = 15


class IncomparableRunsError(HarnessError, ValueError):
    """Two runs share no method, language or metric that can be compared."""


@dataclass(frozen=True)
class LanguageDiff:
    """One paired comparison (``language == "macro"``: the average over compared languages)."""

    method: str
    metric: str
    language: str
    tier: str
    n_queries: int
    mean_a: float
    mean_b: float
    difference: float
    ci_low: float
    ci_high: float
    p_t: float
    p_randomization: float
    p_adjusted: float
    effect_size: float
    #: None: not tested (two worlds: too few for a test over worlds)
    significant: bool | None
    degenerate: str
    #: both runs with the same K >= 2 worlds: the test over worlds (OverWorlds as a dict) that decides, and its p
    worlds: dict[str, Any] | None = None
    p_worlds: float | None = None


@dataclass(frozen=True)
class QueryChange:
    method: str
    metric: str
    language: str
    query_id: str
    score_a: float
    score_b: float
    difference: float


@dataclass(frozen=True)
class Comparison:
    """Everything ``compare.html`` shows."""

    run_a: dict[str, Any]
    run_b: dict[str, Any]
    options: dict[str, Any]
    methods: list[dict[str, Any]]
    languages: list[str]
    excluded_languages: list[dict[str, str]]
    metrics: list[str]
    rows: list[LanguageDiff]
    queries: list[QueryChange]
    config_differences: list[dict[str, Any]]
    warnings: list[str]
    #: "identical" | "same-config" | "seeds-only" | "different" (see the module docstring)
    relation: str = "different"
    #: seeds-only comparisons: per method, the seed sets compared over seeds (SeedSetDifference as a dict)
    seed_sets: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        return _json_safe(d)


def _json_safe(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, np.generic):
        return _json_safe(obj.item())
    return obj


def _run_info(run_dir: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    return {
        "dir": str(run_dir),
        "name": manifest.get("name", run_dir.name),
        "config_sha256": manifest.get("config_sha256", ""),
        "started": manifest.get("started"),
        "finished": manifest.get("finished"),
        "device": manifest.get("device"),
        "seeds": manifest.get("seeds", []),
        "benchmark": (manifest.get("benchmark") or {}).get("name"),
        "synthetic": bool((manifest.get("benchmark") or {}).get("synthetic", False)),
        "harness_version": manifest.get("harness_version"),
    }


def _analysis_options(manifest: dict[str, Any]) -> dict[str, Any]:
    a = (manifest.get("config") or {}).get("analysis") or {}
    return {
        "primary_metric": a.get("primary_metric", "ndcg@10"),
        "alpha": float(a.get("alpha", 0.05)),
        "ci_level": float(a.get("ci_level", 0.95)),
        "n_permutations": int(a.get("n_permutations", 10_000)),
        "correction": a.get("correction", "holm"),
        "seed": int(a.get("seed", 0)),
    }


def _mode_languages(
    res_a: pd.DataFrame, man_a: dict[str, Any], res_b: pd.DataFrame, man_b: dict[str, Any]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """When the two runs hold more than one evaluation mode between them, a language is compared within its
    mode: languages become ``mode/language`` (a table without a mode column has its manifest's one mode)."""

    def modes(res: pd.DataFrame, man: dict[str, Any]) -> pd.Series:
        if "mode" in res.columns:
            return res["mode"].astype(str)
        one = (man.get("benchmark") or {}).get("mode")
        return pd.Series(one if isinstance(one, str) else "monolingual", index=res.index)

    ma, mb = modes(res_a, man_a), modes(res_b, man_b)
    if len(set(ma) | set(mb)) <= 1:
        return res_a, res_b
    return (
        res_a.assign(language=ma + "/" + res_a["language"].astype(str)),
        res_b.assign(language=mb + "/" + res_b["language"].astype(str)),
    )


def _seed_means(results: pd.DataFrame) -> pd.Series:
    """Per-query scores averaged over seeds: index (method, language, metric, query_id)."""
    df = results.assign(query_id=results["query_id"].astype(str))
    if "world" in df.columns and df["world"].nunique() > 1:  # query ids are per world
        df = df.assign(query_id=df["world"].astype(str) + ":" + df["query_id"])
    return df.groupby(["method", "language", "metric", "query_id"], sort=True)["value"].mean()


def build_comparison(run_a: Path, run_b: Path, *, top_queries: int = TOP_QUERIES) -> Comparison:
    """Compute the comparison of ``run_b`` against ``run_a`` (see the module docstring)."""
    from harness.stats.streams import stream
    from harness.stats.two_runs import adjust_pvalues, paired_differences

    run_a, run_b = Path(run_a), Path(run_b)
    _refuse_same_directory(run_a, run_b)
    man_a, man_b = load_manifest(run_a), load_manifest(run_b)
    raw_a, raw_b = load_results(run_a), load_results(run_b)
    res_a, res_b = _mode_languages(raw_a, man_a, raw_b, man_b)
    opts = _analysis_options(man_b)
    warnings: list[str] = []
    cfg_diffs = config_differences(man_a.get("config") or {}, man_b.get("config") or {})
    relation, note = _relation(man_a, man_b, raw_a, raw_b, cfg_diffs)
    if note:
        warnings.append(note)
    seeds_only = relation == "seeds-only"

    methods = sorted(set(res_a["method"].unique()) & set(res_b["method"].unique()))
    if not methods:
        raise IncomparableRunsError(
            f"runs {run_a} (methods: {', '.join(sorted(res_a['method'].unique())) or 'none'}) and {run_b} "
            f"(methods: {', '.join(sorted(res_b['method'].unique())) or 'none'}) have no finished method in common; "
            "`harness compare` pairs a method with itself across runs (e.g. its old and new version)"
        )
    metrics = [
        m
        for m in dict.fromkeys([opts["primary_metric"], *sorted(res_b["metric"].unique())])
        if m in set(res_a["metric"]) and m in set(res_b["metric"])
    ]
    if not metrics:
        raise IncomparableRunsError(
            f"runs {run_a} and {run_b} evaluated no metric in common "
            f"({sorted(res_a['metric'].unique())} vs {sorted(res_b['metric'].unique())})"
        )
    if opts["primary_metric"] not in metrics:
        warnings.append(f"primary metric {opts['primary_metric']} is not in both runs; using {metrics[0]}")
        opts["primary_metric"] = metrics[0]

    fp_a = (man_a.get("dataset_fingerprints") or {}).get("languages") or {}
    fp_b = (man_b.get("dataset_fingerprints") or {}).get("languages") or {}
    languages, excluded = [], []
    for lang in sorted(set(res_a["language"].unique()) | set(res_b["language"].unique())):
        if lang not in set(res_a["language"]) or lang not in set(res_b["language"]):
            excluded.append(
                {"language": lang, "reason": f"only in run {'A' if lang in set(res_a['language']) else 'B'}"}
            )
        elif lang in fp_a and lang in fp_b and fp_a[lang] != fp_b[lang]:
            excluded.append(
                {
                    "language": lang,
                    "reason": f"different data (fingerprint {str(fp_a[lang])[:10]} vs "
                    f"{str(fp_b[lang])[:10]}): queries cannot be paired",
                }
            )
        else:
            languages.append(lang)
    if not languages:
        raise IncomparableRunsError(
            f"runs {run_a} and {run_b} have no language with the same data: "
            + "; ".join(f"{e['language']}: {e['reason']}" for e in excluded)
        )
    tiers = dict(zip(res_b["language"].astype(str), res_b["tier"].astype(str)))

    k_a, k_b = _n_worlds(res_a), _n_worlds(res_b)
    by_worlds = k_a >= 2 and k_b >= 2
    if by_worlds:
        warnings.append(
            f"both runs drew several worlds (A: {k_a}, B: {k_b}): significance is decided over the worlds they share "
            "(t over per-world differences, K - 1 df; the world is the unit of replication); the query-level p-values "
            "pool the queries of all worlds and hold them fixed"
        )
    elif max(k_a, k_b) >= 2:
        warnings.append(
            f"run {'A' if k_a >= 2 else 'B'} has several worlds and the other one: queries of different worlds cannot "
            "be paired"
        )
    sa, sb = _seed_means(res_a), _seed_means(res_b)
    rows: list[LanguageDiff] = []
    queries: list[QueryChange] = []
    for metric in metrics:
        per_lang: list[tuple[str, str, Any, Any]] = []  # (method, language, PairedDifference, OverWorlds | None)
        macro: list[tuple[str, Any, Any]] = []
        for method in methods:
            pairs: list[Any] = []
            langs_done: list[str] = []
            changes: list[Any] = []
            worlds_of: list[Any] = []
            for lang in languages:
                joined = _paired_queries(sa, sb, method, lang, metric, warnings)
                if joined is None:
                    continue
                a, b = joined["a"].to_numpy(), joined["b"].to_numpy()  # (n_queries,)
                pairs.append((a, b))
                langs_done.append(lang)
                worlds_of.append([str(q).split(":", 1)[0] for q in joined.index])
                if metric == opts["primary_metric"]:
                    changes.extend(
                        QueryChange(method, metric, lang, str(q), float(x), float(y), float(y - x))
                        for q, x, y in zip(joined.index, a, b)
                    )
            if pairs:
                rngs = [stream(opts["seed"], "compare", metric, method, lang) for lang in langs_done]
                per, mac = paired_differences(
                    pairs, rngs, n_permutations=opts["n_permutations"], ci_level=opts["ci_level"]
                )
                ow_per, ow_mac = (
                    _over_worlds(pairs, worlds_of, opts, metric, method, warnings) if by_worlds else (None, None)
                )
                per_lang.extend(
                    (method, lang, r, None if ow_per is None else ow_per[j])
                    for j, (lang, r) in enumerate(zip(langs_done, per))
                )
                macro.append((method, mac, ow_mac))
            changes.sort(key=lambda c: (-abs(c.difference), c.language, c.query_id))
            queries.extend(changes[:top_queries])
        # seeds-only: the query-paired tests measure seed noise; they are shown, never called significant
        alpha = 0.0 if seeds_only else opts["alpha"]
        adj = adjust_pvalues([_deciding_p(r, ow, by_worlds) for _, _, r, ow in per_lang], opts["correction"])
        for (method, lang, r, ow), p_adj in zip(per_lang, adj):
            rows.append(_row(method, metric, lang, tiers.get(lang, ""), r, float(p_adj), alpha, ow, by_worlds))
        adj_m = adjust_pvalues([_deciding_p(r, ow, by_worlds) for _, r, ow in macro], opts["correction"])
        for (method, r, ow), p_adj in zip(macro, adj_m):
            rows.append(_row(method, metric, "macro", "all", r, float(p_adj), alpha, ow, by_worlds))

    order = {m: i for i, m in enumerate(metrics)}
    rows.sort(key=lambda r: (order[r.metric], r.method, r.language == "macro", r.language))
    mi_a, mi_b = man_a.get("methods") or {}, man_b.get("methods") or {}
    method_info = [
        {
            "name": m,
            "version_a": str((mi_a.get(m) or {}).get("version", "?")),
            "version_b": str((mi_b.get(m) or {}).get("version", "?")),
            "options_a": json.dumps((mi_a.get(m) or {}).get("options", {}), sort_keys=True),
            "options_b": json.dumps((mi_b.get(m) or {}).get("options", {}), sort_keys=True),
        }
        for m in methods
    ]
    return Comparison(
        run_a=_run_info(run_a, man_a),
        run_b=_run_info(run_b, man_b),
        options=opts,
        methods=method_info,
        languages=languages,
        excluded_languages=excluded,
        metrics=metrics,
        rows=rows,
        queries=queries,
        config_differences=cfg_diffs,
        warnings=list(dict.fromkeys(warnings)),
        relation=relation,
        seed_sets=_seed_sets(res_a, res_b, methods, languages, opts) if seeds_only else [],
    )


def _refuse_same_directory(run_a: Path, run_b: Path) -> None:
    if run_a.resolve() == run_b.resolve():
        raise IncomparableRunsError(
            f"run A and run B are the same directory ({run_a.resolve()}): a run compared with itself differs in "
            "nothing; give two run directories"
        )


#: config keys that name or describe a run without changing a number
_LABEL_KEYS = {"name", "description"}


def _relation(
    man_a: dict[str, Any],
    man_b: dict[str, Any],
    res_a: pd.DataFrame,
    res_b: pd.DataFrame,
    diffs: list[dict[str, Any]],
) -> tuple[str, str]:
    """How two runs relate (``identical``, ``same-config``, ``seeds-only``, ``different``) and a note saying so."""
    from harness.numerics import numerics_differences

    keys = {d["key"] for d in diffs} - _LABEL_KEYS
    if _same_scores(res_a, res_b):
        return "identical", (
            "run A and run B hold identical per-query scores (the same config run twice, or a copy of one run): "
            "every difference below is exactly 0 and nothing was compared that could differ"
        )
    if not keys:
        env = numerics_differences(man_a.get("numerics"), man_b.get("numerics"))
        where = (
            "; numerics environment fields that differ: "
            + "; ".join(f"{k}: {json.dumps(a)} -> {json.dumps(b)}" for k, a, b in env[:8])
            if env
            else "; the recorded numerics environments do not differ (see `harness reproduce`)"
        )
        return "same-config", (
            f"run A and run B ran the same config (sha256 {str(man_b.get('config_sha256'))[:12]}) but their scores "
            f"differ: the differences below come from where they ran, not from a change of method{where}"
        )
    if keys == {"seeds"}:
        sa, sb = man_a.get("seeds") or [], man_b.get("seeds") or []
        shared = sorted(set(sa) & set(sb))
        return "seeds-only", (
            f"run A and run B differ only in their seeds (A: {', '.join(map(str, sa))}; B: "
            f"{', '.join(map(str, sb))}): every difference is seed-to-seed variation of the trained models, not a "
            "difference between methods or versions. The query-paired tests hold those checkpoints fixed, so none "
            "is called significant; each method's seed sets are compared over seeds instead (Welch t)"
            + (f". Seeds in both runs ({', '.join(map(str, shared))}) give the same cells" if shared else "")
        )
    return "different", ""


def _same_scores(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    cols = [
        c for c in ("method", "seed", "mode", "language", "query_id", "metric") if c in a.columns and c in b.columns
    ]
    if len(a) != len(b) or not cols:
        return False
    ka = a[[*cols, "value"]].astype({"query_id": str}).sort_values(cols, ignore_index=True)
    kb = b[[*cols, "value"]].astype({"query_id": str}).sort_values(cols, ignore_index=True)
    return bool(
        ka[cols].equals(kb[cols]) and np.array_equal(ka["value"].to_numpy(), kb["value"].to_numpy(), equal_nan=True)
    )


def _seed_sets(
    res_a: pd.DataFrame, res_b: pd.DataFrame, methods: list[str], languages: list[str], opts: dict[str, Any]
) -> list[dict[str, Any]]:
    """Per method, its per-seed macro means (primary metric, compared languages) tested over seeds."""
    from harness.stats.two_runs import seed_set_difference

    def per_seed(res: pd.DataFrame, method: str) -> dict[int, float]:
        r = res[(res["method"] == method) & (res["metric"] == opts["primary_metric"]) & res["language"].isin(languages)]
        by_lang = r.groupby(["seed", "language"])["value"].mean()  # mean over queries
        return {int(s): float(v) for s, v in by_lang.groupby(level="seed").mean().items()}  # mean over languages

    out = []
    for m in methods:
        a, b = per_seed(res_a, m), per_seed(res_b, m)
        if a and b:
            out.append({"method": m, **asdict(seed_set_difference(a, b, ci_level=opts["ci_level"]))})
    return out


def _paired_queries(
    sa: pd.Series, sb: pd.Series, method: str, lang: str, metric: str, warnings: list[str]
) -> pd.DataFrame | None:
    """Seed-averaged scores of both runs on the queries they share (columns ``a``, ``b``), or None."""
    try:
        qa, qb = sa.loc[(method, lang, metric)], sb.loc[(method, lang, metric)]
    except KeyError:
        warnings.append(f"{method} / {lang} / {metric}: no scores in one of the runs; not compared")
        return None
    joined = pd.concat([qa.rename("a"), qb.rename("b")], axis=1, join="inner")
    bad = ~np.isfinite(joined.to_numpy()).all(axis=1)
    if bad.any():
        warnings.append(
            f"{method} / {lang} / {metric}: {int(bad.sum())} queries without a finite score in one run were left out"
        )
        joined = joined[~bad]
    only = len(qa.index.symmetric_difference(qb.index))
    if only:
        warnings.append(f"{method} / {lang} / {metric}: {only} queries present in one run only were left out")
    if len(joined) < 2:
        warnings.append(f"{method} / {lang} / {metric}: fewer than 2 paired queries; not compared")
        return None
    return joined


def _csv_row(r: LanguageDiff) -> dict[str, Any]:
    """A row of ``compare_languages.csv``: the test over worlds flattened (``per_world``: ``world:B-A;...``)."""
    row = asdict(r)
    w = row.pop("worlds")
    row["per_world"] = ";".join(f"{x['world']}:{x['mean_diff']:.6g}" for x in w["per_world"]) if w else ""
    return row


def _n_worlds(res: pd.DataFrame) -> int:
    return int(res["world"].nunique()) if "world" in res.columns else 1


def _over_worlds(
    pairs: list[tuple[np.ndarray, np.ndarray]],
    worlds_of: list[list[str]],
    opts: dict[str, Any],
    metric: str,
    method: str,
    warnings: list[str],
) -> tuple[list[Any], Any] | tuple[None, None]:
    """Per-language and macro tests over the worlds both runs share (None, with a warning, when < 2 do)."""
    from harness.stats.streams import stream
    from harness.stats.two_runs import world_differences

    try:
        return world_differences(
            pairs,
            worlds_of,
            ci_level=opts["ci_level"],
            alpha=opts["alpha"],
            rng=stream(opts["seed"], "compare-worlds", metric, method),
        )
    except ValueError as e:
        warnings.append(f"{method} / {metric}: no test over worlds ({e}); decided on queries")
        return None, None


def _deciding_p(r: Any, ow: Any, by_worlds: bool) -> float:
    """The p-value that decides: over worlds (NaN when too few worlds) or the randomization test over queries."""
    if by_worlds and ow is not None:
        return float("nan") if ow.p_value is None else ow.p_value
    return r.p_randomization


def _row(
    method: str,
    metric: str,
    lang: str,
    tier: str,
    r: Any,
    p_adj: float,
    alpha: float,
    ow: Any = None,
    by_worlds: bool = False,
) -> LanguageDiff:
    worlds = asdict(ow) if by_worlds and ow is not None else None
    return LanguageDiff(
        method=method,
        metric=metric,
        language=lang,
        tier=tier,
        n_queries=int(r.n),
        mean_a=r.mean_a,
        mean_b=r.mean_b,
        difference=r.difference,
        ci_low=r.ci_low,
        ci_high=r.ci_high,
        p_t=r.p_t,
        p_randomization=r.p_randomization,
        p_adjusted=p_adj,
        effect_size=r.effect_size,
        significant=None if math.isnan(p_adj) else bool(p_adj < alpha),
        degenerate=r.degenerate,
        worlds=worlds,
        p_worlds=None if worlds is None else worlds["p_value"],
    )


def headline(c: Comparison) -> list[str]:
    """One sentence per method, generated from the primary metric's numbers."""
    pm, o = c.options["primary_metric"], c.options
    if c.relation == "seeds-only":
        return _seed_headline(c)
    out = []
    if c.relation == "identical":
        out.append("Run A and run B hold identical per-query scores: there is no difference to test.")
    elif c.relation == "same-config":
        out.append(
            "Run A and run B ran the same config: any difference comes from the machine or environment, not a method."
        )
    for m in c.methods:
        name = m["name"]
        macro = [r for r in c.rows if r.method == name and r.metric == pm and r.language == "macro"]
        langs = [r for r in c.rows if r.method == name and r.metric == pm and r.language != "macro"]
        if not macro:
            out.append(f"{name}: no language could be compared on {pm}.")
            continue
        r = macro[0]
        up = sum(1 for x in langs if x.significant and x.difference > 0)
        down = sum(1 for x in langs if x.significant and x.difference < 0)
        direction = "higher" if r.difference > 0 else "lower" if r.difference < 0 else "unchanged"
        verdict = "a significant" if r.significant else "no significant"
        if r.worlds is not None:
            out.append(_worlds_headline(name, m, pm, r, up, down, len(langs), o))
            continue
        out.append(
            f"{name} (version {m['version_a']} in A, {m['version_b']} in B): run B is {direction} on {pm} averaged over "
            f"{len(langs)} languages by {r.difference:+.4f} ({int(round(100 * o['ci_level']))}% CI "
            f"[{r.ci_low:+.4f}, {r.ci_high:+.4f}], randomization p = {r.p_randomization:.4g}, "
            f"{o['correction']}-adjusted p = {r.p_adjusted:.4g}): {verdict} difference at alpha = {o['alpha']:g}. "
            f"Significantly higher in {up} and lower in {down} of {len(langs)} languages ({o['correction']}-adjusted)."
        )
    return out


def _worlds_headline(
    name: str, m: dict[str, Any], pm: str, r: LanguageDiff, up: int, down: int, n_langs: int, o: dict[str, Any]
) -> str:
    """The headline of one method when both runs drew the same worlds: decided over worlds."""
    w = r.worlds or {}
    per = "; ".join(
        f"{x['world']}: {x['mean_diff']:+.4f}"
        + ("" if x["p_value"] is None else f" (p = {x['p_value']:.3g} in that world)")
        for x in w["per_world"]
    )
    start = (
        f"{name} (version {m['version_a']} in A, {m['version_b']} in B): B - A on {pm} averaged over {n_langs} "
        f"languages, per world: {per}."
    )
    if w["p_value"] is None:
        return f"{start} {w['reason']}."
    lo, hi = w["ci"]
    verdict = "a significant" if r.significant else "no significant"
    return (
        f"{start} Over {w['n_worlds']} worlds: {w['estimate']:+.4f} ({int(round(100 * o['ci_level']))}% CI "
        f"[{lo:+.4f}, {hi:+.4f}], t over worlds p = {w['p_value']:.4g}, {o['correction']}-adjusted p = "
        f"{r.p_adjusted:.4g}): {verdict} difference at alpha = {o['alpha']:g}, the world being the unit of "
        f"replication. Significantly higher in {up} and lower in {down} of {n_langs} languages (over worlds, "
        f"{o['correction']}-adjusted)."
    )


def _seed_headline(c: Comparison) -> list[str]:
    """The headline of two runs that differ only in seeds: seed noise, tested over seeds."""
    pm, level = c.options["primary_metric"], int(round(100 * c.options["ci_level"]))
    out = [
        f"Runs A and B differ only in their seeds (A: {', '.join(map(str, c.run_a['seeds']))}; B: "
        f"{', '.join(map(str, c.run_b['seeds']))}). Their differences are seed-to-seed variation, not differences "
        "between methods or versions."
    ]
    for s in c.seed_sets:
        test = (
            f"over seeds, Welch t p = {s['p_value']:.3g} ({level}% CI [{s['ci_low']:+.4f}, {s['ci_high']:+.4f}]): "
            + (
                "consistent with seed noise"
                if s["p_value"] >= c.options["alpha"]
                else f"the two seed sets differ more than seed noise usually does (alpha = {c.options['alpha']:g})"
            )
            if math.isfinite(s["p_value"])
            else f"not tested ({s['note']})"
        )
        out.append(
            f"{s['method']}: mean {pm} over seeds {s['mean_a']:.4f} in A and {s['mean_b']:.4f} in B "
            f"(B - A {s['difference']:+.4f}); {test}."
        )
    return out


def _forest_plots(c: Comparison) -> list[Any]:
    from harness_reports.plots import Interval, forest

    pm = c.options["primary_metric"]
    items = [
        Interval(
            label=f"{r.method} · {r.language}", estimate=r.difference, low=r.ci_low, high=r.ci_high, group=r.method
        )
        for r in c.rows
        if r.metric == pm
    ]
    if not items:
        return []
    level = int(round(100 * c.options["ci_level"]))
    return [
        forest(
            items,
            xlabel=f"difference in {pm} (B - A)",
            reference=0.0,
            alt=f"Forest plot of the per-language differences in {pm} between run B and run A, with {level}% "
            "confidence intervals, one row per method and language, including the macro average.",
            caption=f"Per-language differences in {pm} (B - A), seed-averaged and paired over queries, "
            f"with {level}% t intervals; the dashed line marks no difference.",
        )
    ]


def compare_runs(run_a: str | Path, run_b: str | Path, out_dir: str | Path | None = None) -> Path:
    """Write the comparison of ``run_b`` against ``run_a`` and return the path of ``compare.html``."""
    return write_comparison(run_a, run_b, out_dir)[1]


def write_comparison(
    run_a: str | Path, run_b: str | Path, out_dir: str | Path | None = None
) -> tuple[Comparison, Path]:
    """:func:`build_comparison` written to ``out_dir``: the comparison and the path of ``compare.html``."""
    from harness.cache import atomic_write_text
    from harness_reports._render import render_html, render_latex

    run_a, run_b = Path(run_a), Path(run_b)
    _refuse_same_directory(run_a, run_b)
    out = (
        Path(out_dir)
        if out_dir is not None
        else run_b.resolve().parent / f"compare-{run_a.resolve().name}-vs-{run_b.resolve().name}"
    )
    for run in (run_a, run_b):
        if out.resolve() == run.resolve() or run.resolve() in out.resolve().parents:
            raise IncomparableRunsError(
                f"--out {out} lies inside run directory {run}; a finished run is never "
                "modified: choose a directory outside both runs"
            )
    if out.exists() and any(out.iterdir()) and not (out / "compare.json").is_file():
        raise IncomparableRunsError(
            f"output directory {out} already exists and holds something other than a "
            "comparison; remove it or give another with --out"
        )
    c = build_comparison(run_a, run_b)
    data = c.to_dict()
    lang_df = pd.DataFrame([_csv_row(r) for r in c.rows])
    query_df = pd.DataFrame(
        [asdict(q) for q in c.queries],
        columns=["method", "metric", "language", "query_id", "score_a", "score_b", "difference"],
    )
    pm = c.options["primary_metric"]
    html = render_html(
        "compare.html.j2",
        c=c,
        headline=headline(c),
        plots=_forest_plots(c),
        primary=pm,
        level=int(round(100 * c.options["ci_level"])),
    )
    tex = render_latex(
        "compare_languages.tex.j2",
        c=c,
        rows=[r for r in c.rows if r.metric == pm],
        primary=pm,
        level=int(round(100 * c.options["ci_level"])),
    )
    atomic_write_text(out / "compare.json", json.dumps(data, indent=2, allow_nan=False))
    atomic_write_text(out / "compare_languages.csv", lang_df.to_csv(index=False, float_format="%.6g"))
    atomic_write_text(out / "compare_queries.csv", query_df.to_csv(index=False, float_format="%.6g"))
    atomic_write_text(out / "compare_languages.tex", tex)
    atomic_write_text(out / "compare.html", html)
    return c, out / "compare.html"
