"""Per-query evaluation with ranx, following MIRACL / ``trec_eval -c`` conventions.

Ties: the run is ranked by the harness's one rule (:func:`harness.search.rank_items`:
score descending, then doc id descending, as trec_eval orders a run file) and ranx is
given ``score = n - rank + 1``, so ranx (whose sort among tied scores is unspecified)
evaluates exactly the list that the TREC run file holds; rank-based metrics depend on
nothing else.

Every judged query is scored: a judged query for which the run retrieved nothing, or
nothing relevant, scores 0 and is never dropped (``-c``).  Queries in the run that have
no judgments are ignored.  Relevance >= 1 counts as relevant.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

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


def evaluate_per_query(
    qrels: Mapping[str, Mapping[str, int]],
    run: Mapping[str, Mapping[str, float]],
    metrics: Sequence[str] = DEFAULT_METRICS,
) -> pd.DataFrame:
    """Per-query scores: a DataFrame with columns ``query_id, metric, value``.

    One row per (judged query, metric), in sorted query-id order.
    """
    from ranx import Qrels, Run, evaluate

    if not qrels:
        from harness.errors import StatisticsError

        raise StatisticsError("missing qrels: no judged queries to evaluate")
    qrels_d = {q: {d: int(r) for d, r in docs.items()} for q, docs in qrels.items() if docs}
    unjudged = sorted(set(qrels) - set(qrels_d))
    if unjudged:
        from harness.errors import StatisticsError

        raise StatisticsError(f"missing qrels: queries {unjudged[:5]} have an empty judgment list")
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
