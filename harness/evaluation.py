"""Per-query evaluation with ranx, following MIRACL / ``trec_eval -c`` conventions.

Ties: the run is ranked by the harness's one rule (:func:`harness.search.rank_items`:
score descending, then doc id descending, as trec_eval orders a run file) and ranx is
given ``score = n - rank + 1``, so ranx (whose sort among tied scores is unspecified)
evaluates exactly the list that the TREC run file holds; rank-based metrics depend on
nothing else.

Every judged query is scored: a judged query for which the run retrieved nothing, or
nothing relevant, scores 0 and is never dropped (``-c``).  Queries in the run that have
no judgments are ignored.  Relevance >= 1 counts as relevant.

How ranx is called (:func:`evaluate_per_query`): with ranx's own per-query metric kernels
(``ranx.metrics.ndcg._ndcg`` and its siblings, the functions its ``evaluate`` runs for each
query), one call per query, on plain ``(n, 2)`` float64 arrays of (doc, relevance) and (doc,
score), docs numbered per query.  ``ranx.evaluate`` would first convert both sides into numba
typed dicts and lists, and numba compiles those containers' methods anew in every process
(they cannot be cached): about 10 s of CPU per process with a warm numba cache on a 2-core machine,
paid by every worker of a matrix, and ~0.25 s per call to build them (``perf/bench_ranx_compile.py``).  The kernels themselves are compiled
once per environment and cached on disk.  The values are ranx's: the same kernels on the
same ranked lists (tested against ``ranx.evaluate`` on random runs, every supported metric);
ranx's own path numbers docs by a float64 of their string hash, which can merge two ids, and
per-query numbering cannot.  :func:`evaluate_per_query_ranx` is ranx's public path, kept as the
reference and as the fallback if a future ranx moves its kernels.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence

import pandas as pd

DEFAULT_METRICS = ("ndcg@10", "recall@100", "mrr@10")
SUPPORTED_PREFIXES = (
    "ndcg",
    "ndcg_burges",
    "recall",
    "precision",
    "mrr",
    "map",
    "hits",
    "hit_rate",
    "r-precision",
    "bpref",
)


def check_metric(name: str) -> int | None:
    """Validate a metric name (``base`` or ``base@k``, k a positive integer); return its cut-off k or None."""
    from harness.errors import ConfigError, did_you_mean

    if not isinstance(name, str):
        raise ConfigError("metrics", name, "metric names (strings) such as 'ndcg@10'")
    base, at, cut = name.partition("@")
    if base not in SUPPORTED_PREFIXES:
        raise ConfigError(
            "metrics",
            name,
            f"ranx metric names such as {', '.join(DEFAULT_METRICS)}{did_you_mean(base, SUPPORTED_PREFIXES)}",
        )
    if not at:
        return None
    if not cut.isdigit() or int(cut) < 1:
        raise ConfigError(
            "metrics",
            name,
            f"'{base}' or '{base}@k' with a cut-off k >= 1 (e.g. '{base}@10')",
            hint=f"the cut-off {cut!r} is not a positive integer",
        )
    return int(cut)


def _checked_qrels(qrels: Mapping[str, Mapping[str, int]]) -> dict[str, dict[str, int]]:
    """The judged queries' qrels as ``{query: {doc: int relevance}}``; an error on none or an empty list."""
    from harness.errors import StatisticsError

    if not qrels:
        raise StatisticsError("missing qrels: no judged queries to evaluate")
    qrels_d = {q: {d: int(r) for d, r in docs.items()} for q, docs in qrels.items() if docs}
    unjudged = sorted(set(qrels) - set(qrels_d))
    if unjudged:
        raise StatisticsError(f"missing qrels: queries {unjudged[:5]} have an empty judgment list")
    return qrels_d


def _kernels() -> dict[str, Callable[..., float]] | None:
    """ranx's per-query metric kernels by metric name: ``f(qrels, run, k) -> float`` (None if ranx moved them)."""
    try:
        from ranx.metrics.average_precision import _average_precision
        from ranx.metrics.hit_rate import _hit_rate
        from ranx.metrics.hits import _hits
        from ranx.metrics.ndcg import _ndcg
        from ranx.metrics.precision import _precision
        from ranx.metrics.r_precision import _r_precision
        from ranx.metrics.recall import _recall
        from ranx.metrics.reciprocal_rank import _reciprocal_rank
    except ImportError:  # pragma: no cover - a ranx without these private kernels: use its public path
        return None
    rel = 1  # relevance >= 1 is relevant (ranx's default rel_lvl)
    return {
        "ndcg": lambda q, r, k: _ndcg(q, r, k, rel, True),
        "ndcg_burges": lambda q, r, k: _ndcg(q, r, k, rel, False),
        "recall": lambda q, r, k: _recall(q, r, k, rel),
        "precision": lambda q, r, k: _precision(q, r, k, rel),
        "mrr": lambda q, r, k: _reciprocal_rank(q, r, k, rel),
        "map": lambda q, r, k: _average_precision(q, r, k, rel),
        "hits": lambda q, r, k: _hits(q, r, k, rel),
        "hit_rate": lambda q, r, k: _hit_rate(q, r, k, rel),
        "r-precision": lambda q, r, k: _r_precision(q, r, rel),
        # bpref is not here: its kernel divides by min(R, N), which raises for a query without judged
        # non-relevant docs where ranx's parallel loop gives NaN; it goes through ranx's public path.
    }


def evaluate_per_query(
    qrels: Mapping[str, Mapping[str, int]],
    run: Mapping[str, Mapping[str, float]],
    metrics: Sequence[str] = DEFAULT_METRICS,
) -> pd.DataFrame:
    """Per-query scores: a DataFrame with columns ``query_id, metric, value``.

    One row per (judged query, metric), in sorted query-id order.  Computed by ranx's
    per-query kernels (see the module docstring); equal to :func:`evaluate_per_query_ranx`.
    """
    import numpy as np

    from harness.search import rank_items

    qrels_d = _checked_qrels(qrels)
    cuts = [check_metric(m) or 0 for m in metrics]  # a clear ConfigError before either path runs
    kernels = _kernels()
    if kernels is None or any(m.partition("@")[0] not in kernels for m in metrics):
        return evaluate_per_query_ranx(qrels_d, run, metrics)  # e.g. bpref (see _kernels)
    queries = sorted(qrels_d)
    arrays = []
    for q in queries:
        judged = qrels_d[q]
        # ranx's order: judgments by relevance, highest first (the ideal ranking of nDCG's IDCG)
        docs = sorted(judged, key=lambda d: -judged[d])
        number = {d: float(i) for i, d in enumerate(docs)}
        q_arr = np.array([(number[d], float(judged[d])) for d in docs], dtype=np.float64).reshape(-1, 2)
        ranked = rank_items(run.get(q) or {})
        n = len(ranked)
        # ranx is given score = n - rank + 1 (see the module docstring), docs outside the qrels numbered apart
        r_arr = np.array(
            [(number.get(d, float(len(docs) + i)), float(n - i)) for i, (d, _) in enumerate(ranked)],
            dtype=np.float64,
        ).reshape(-1, 2)
        arrays.append((q_arr, r_arr))
    rows = []
    with warnings.catch_warnings():
        from numba.core.errors import NumbaTypeSafetyWarning

        warnings.filterwarnings("ignore", category=NumbaTypeSafetyWarning)  # ranx's own index casts, at compile
        for m, k in zip(metrics, cuts):  # rows grouped by metric, queries sorted within (the ranx path's order)
            fn = kernels[m.partition("@")[0]]
            rows += [(q, m, float(fn(q_arr, r_arr, k))) for q, (q_arr, r_arr) in zip(queries, arrays)]
    return pd.DataFrame(rows, columns=["query_id", "metric", "value"])


def evaluate_per_query_ranx(
    qrels: Mapping[str, Mapping[str, int]],
    run: Mapping[str, Mapping[str, float]],
    metrics: Sequence[str] = DEFAULT_METRICS,
) -> pd.DataFrame:
    """:func:`evaluate_per_query` through ranx's public ``Qrels`` / ``Run`` / ``evaluate`` (the reference)."""
    from ranx import Qrels, Run, evaluate

    qrels_d = _checked_qrels(qrels)
    from harness.search import rank_items

    run_d = {}
    for q, docs in run.items():
        if q in qrels_d and docs:
            ranked = rank_items(docs)
            run_d[q] = {d: float(len(ranked) - r) for r, (d, _) in enumerate(ranked)}
    with warnings.catch_warnings():
        # ranx's numba kernels warn, when they are compiled, about ranx's own index casts
        # ("unsafe cast from uint64 to int64"): nothing about the user's data, so not shown.
        from numba.core.errors import NumbaTypeSafetyWarning

        warnings.filterwarnings("ignore", category=NumbaTypeSafetyWarning)
        qr = Qrels.from_dict(qrels_d)
        if run_d:
            rn = Run.from_dict(run_d)
        else:
            rn = Run.from_dict({next(iter(qrels_d)): {"\x00no-result": 0.0}})
        rn = rn.make_comparable(qr)  # adds empty result lists for unretrieved judged queries (-c)
        evaluate(qr, rn, list(metrics), return_mean=False, threads=1, save_results_in_run=True)
    rows = []
    for m in metrics:
        per_q = rn.scores[m]
        for q in sorted(qrels_d):
            rows.append((q, m, float(per_q[q])))
    df = pd.DataFrame(rows, columns=["query_id", "metric", "value"])
    return df
