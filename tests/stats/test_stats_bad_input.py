"""Bad input: clear errors, or explicitly reported degenerate results -- never silent NaNs."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from stats_world import FAST, TIERS

from harness.errors import StatisticsError
from harness.stats import AnalysisOptions, analyze
from harness.stats.data import prepare
from harness.stats.simulate import SimulationDesign, simulate_results


def small(n_seeds=3, methods=("zero-shot", "ot-distill", "contrastive"), grid=None, sd=None, seed=0, **kw):
    design = SimulationDesign(
        methods=methods,
        tiers=TIERS,
        n_queries=30,
        n_seeds=n_seeds,
        sd=sd
        if sd is not None
        else {"query": 0.2, "seed": 0.01, "seed_x_query": 0.05, "method_x_query": 0.05, "language": 0.03},
        tier_effects={"low": -0.1},
        grid=grid,
        **kw,
    )
    return simulate_results(design, np.random.default_rng(seed)).results


def no_nan(obj) -> None:
    """Fails if the JSON text has NaN/Infinity (json refuses them with allow_nan=False)."""
    json.dumps(obj, allow_nan=False)


def test_missing_columns_are_named():
    df = small().drop(columns=["tier"])
    with pytest.raises(StatisticsError, match=r"lacks columns \['tier'\]"):
        analyze(df, AnalysisOptions(**FAST))


def test_empty_table():
    with pytest.raises(StatisticsError, match="empty"):
        analyze(small().iloc[:0], AnalysisOptions(**FAST))


@pytest.mark.parametrize(
    ("option", "value", "kind"),
    [
        ("methods", ["zero-shot", "ot-distil"], "method"),
        ("languages", ["sw", "xx"], "language"),
        ("metrics", ["ndcg@10", "map"], "metric"),
        ("primary_metric", "recall@100", "metric"),
    ],
)
def test_requested_names_absent_raise_with_available(option, value, kind):
    with pytest.raises(StatisticsError) as e:
        analyze(small(), AnalysisOptions(**FAST, **{option: value}))
    msg = str(e.value)
    missing = value if isinstance(value, str) else value[-1]
    assert f"{kind} {missing!r}" in msg and f"analysis.{option}" in msg
    assert "available" in msg
    if option == "methods":
        assert "did you mean 'ot-distill'" in msg and "contrastive" in msg


def test_question_methods_absent_is_degenerate_not_fatal():
    df = small(methods=("zero-shot", "bm25", "contrastive"))
    a = analyze(df, AnalysisOptions(**FAST), tiers=TIERS).to_dict()
    q = a["question"]
    assert q["degenerate"] is True and q["verdict"] == "inconclusive"
    assert "ot-distill" in q["reason"] and "bm25" in q["reason"]
    assert any("question not answered" in w for w in a["warnings"])
    assert a["pairwise"]["comparisons"] and a["variance_components"]  # the rest still works
    no_nan(a)


def test_question_tier_absent_is_degenerate():
    a = analyze(small(), AnalysisOptions(**FAST, low_tier="mid"), tiers=TIERS).to_dict()
    assert a["question"]["degenerate"] and "'mid' has no language" in a["question"]["reason"]


def test_duplicate_rows():
    df = small()
    with pytest.raises(StatisticsError, match="duplicate rows"):
        analyze(pd.concat([df, df.iloc[:1]]), AnalysisOptions(**FAST))


def test_nan_values_raise_by_default_and_can_be_dropped():
    df = small().copy()
    df.loc[df.index[5], "value"] = np.nan
    with pytest.raises(StatisticsError, match="nan_policy = 'drop_queries'"):
        analyze(df, AnalysisOptions(**FAST))
    a = analyze(df, AnalysisOptions(**FAST, nan_policy="drop_queries"), tiers=TIERS).to_dict()
    lang = df.loc[df.index[5], "language"]
    metric = df.loc[df.index[5], "metric"]
    assert a["design"]["dropped_queries"][metric] == {lang: 1}
    assert a["design"]["n_queries"][metric][lang] == 29
    assert any("dropped 1 of 30 queries" in w for w in a["warnings"])
    no_nan(a)


def test_missing_language_for_a_seed_is_an_incomplete_run():
    df = small()
    df = df[~((df.method == "contrastive") & (df.seed == 1) & (df.language == "sw"))]
    with pytest.raises(StatisticsError, match=r"'contrastive' seed\(s\) \[1\].*language 'sw'"):
        analyze(df, AnalysisOptions(**FAST))


def test_tier_disagreement_between_table_and_benchmark():
    with pytest.raises(StatisticsError, match="tier 'low' in the results table but 'high'"):
        prepare(small(), tiers={**TIERS, "sw": "high"})
    with pytest.raises(StatisticsError, match="have no tier"):
        prepare(small(), tiers={"en": "high"})


def test_single_seed_reports_degenerate_seed_statistics():
    a = analyze(small(n_seeds=1), AnalysisOptions(**FAST), tiers=TIERS).to_dict()
    no_nan(a)
    assert all(c["seed_sd"] is None for c in a["per_method_language"])
    comps = {c["name"]: c for c in a["variance_components"][0]["components"]}
    # one seed per method: the seed effect is inside the method mean, seed x language inside method x language
    assert comps["seed"]["variance"] is None and comps["seed"]["absorbed_into"] == "method"
    assert comps["seed_x_language"]["variance"] is None
    assert comps["seed_x_language"]["absorbed_into"] == "method_x_language"
    pooled = [c for c in a["pairwise"]["comparisons"] if c["language"] == "all"]
    assert all(c["seed_level"]["p_value"] is None and "one seed" in c["reason"] for c in pooled)
    assert a["question"]["verdict"] == "inconclusive"
    assert "single seed" in a["question"]["reasons"][0]
    assert a["power"]["question"]["seeds_needed"] is None and "one seed" in a["power"]["question"]["reason"]


def test_a_method_with_fewer_seeds():
    """bm25 run once, the others three times: bm25's pairs are unpaired and flagged, the others are not."""
    df = small(methods=("zero-shot", "ot-distill", "contrastive"))
    bm25 = df[(df.method == "zero-shot") & (df.seed == 0)].assign(method="bm25")
    a = analyze(pd.concat([df, bm25], ignore_index=True), AnalysisOptions(**FAST), tiers=TIERS).to_dict()
    no_nan(a)
    assert a["design"]["seed_groups"]["bm25"] != a["design"]["seed_groups"]["zero-shot"]
    for c in a["pairwise"]["comparisons"]:
        if "bm25" in (c["method_a"], c["method_b"]):
            assert c["seed_level"]["p_value"] is None and "counted as 0" in c["reason"]
            assert c["p_value_hierarchical"] is not None and c["ci"][0] < c["ci"][1]
        else:
            assert c["seed_level"]["p_value"] is not None and c["seed_level"]["test"] == "paired t over seeds"
    assert a["variance_components"][0]["excluded_methods"] == ["bm25"]
    assert a["question"]["verdict"] in ("yes", "no", "inconclusive") and not a["question"]["degenerate"]


def test_constant_scores_are_degenerate_everywhere():
    df = small()
    df = df.assign(value=0.5)
    a = analyze(df, AnalysisOptions(**FAST), tiers=TIERS).to_dict()
    no_nan(a)
    vc = a["variance_components"][0]
    assert vc["degenerate"] and "constant scores" in vc["reason"] and vc["total"] is None
    assert all(c["share"] is None for c in vc["components"] if c["variance"] is not None)
    for c in a["pairwise"]["comparisons"]:
        assert c["mean_diff"] == 0 and c["p_value"] == 1 and c["p_value_randomization"] == 1
        assert c["effect"]["value"] is None and c["degenerate"] and "identical" in c["reason"]
        assert c["ci"] == [0, 0]
    assert a["question"]["verdict"] in ("no", "inconclusive")


def test_constant_shift_gives_undefined_t_not_nan():
    df = small()
    df.loc[df.method == "contrastive", "value"] = df.loc[df.method == "zero-shot", "value"].to_numpy() + 0.125
    a = analyze(df, AnalysisOptions(**FAST), tiers=TIERS).to_dict()
    no_nan(a)
    c = next(
        c
        for c in a["pairwise"]["comparisons"]
        if {c["method_a"], c["method_b"]} == {"zero-shot", "contrastive"} and c["language"] == "en"
    )
    assert c["p_value"] is None and "constant non-zero difference" in c["reason"]
    assert c["p_value_randomization"] == pytest.approx(1 / 1000)  # only the all-equal-signs flips tie


def test_ties_and_identical_methods():
    # two identical methods: every paired difference is exactly 0
    df = small(grid=0.25)
    twin = df[df.method == "contrastive"].assign(method="contrastive-copy")
    a = analyze(pd.concat([df, twin], ignore_index=True), AnalysisOptions(**FAST), tiers=TIERS).to_dict()
    no_nan(a)
    for c in a["pairwise"]["comparisons"]:
        if {c["method_a"], c["method_b"]} == {"contrastive", "contrastive-copy"}:
            assert c["p_value"] == 1 and c["p_value_randomization"] == 1 and c["significant"] is False
            assert c["seed_level"]["p_value"] == 1
