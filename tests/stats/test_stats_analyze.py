"""analyze() end to end: the analysis.json contract and consistency between its sections."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats as sps
from stats_world import FAST, TIERS, WORLD

from harness.stats import AnalysisOptions, analyze

TOP_LEVEL = {
    "schema_version",
    "worlds",
    "world_components",
    "design",
    "options",
    "per_method_language",
    "method_means",
    "tier_means",
    "seed_scores",
    "variance_components",
    "pairwise",
    "question",
    "power",
    "warnings",
}


@pytest.fixture(scope="module")
def result(world_analysis):
    return world_analysis.to_dict()


def test_contract_keys_and_strict_json(result):
    assert set(result) == TOP_LEVEL
    text = json.dumps(result, allow_nan=False)  # no NaN / Infinity anywhere
    assert json.loads(text) == result
    assert result["warnings"] == []
    assert result["options"]["n_permutations"] == FAST["n_permutations"]
    assert result["design"]["seed_groups"] == {m: "seeds:0,1,2,3" for m in WORLD.methods}


def test_per_method_language_and_means_are_consistent(result, world_results):
    cells = result["per_method_language"]
    assert len(cells) == 2 * 4 * 6
    for c in cells:
        assert c["ci"][0] <= c["mean"] <= c["ci"][1] and c["n_queries"] == 120 and c["n_seeds"] == 4
        assert c["ci_queries"][0] <= c["mean"] <= c["ci_queries"][1]
        raw = world_results[
            (world_results.metric == c["metric"])
            & (world_results.method == c["method"])
            & (world_results.language == c["language"])
        ]
        assert c["mean"] == pytest.approx(raw.value.mean(), abs=1e-10)
        assert c["seed_sd"] == pytest.approx(raw.groupby("seed").value.mean().std(ddof=1), abs=1e-10)
    for t in result["tier_means"]:
        members = [
            c["mean"]
            for c in cells
            if (c["metric"], c["method"]) == (t["metric"], t["method"]) and c["tier"] == t["tier"]
        ]
        assert len(members) == 3 and t["mean"] == pytest.approx(np.mean(members), abs=1e-10)
    for s in result["seed_scores"]:
        assert s["overall"] == pytest.approx(np.mean(list(s["per_language"].values())), abs=1e-10)
    for m in result["method_means"]:
        assert m["tier"] is None and len(m["languages"]) == 6


def test_pairwise_matches_scipy_and_is_internally_consistent(result, world_results):
    comps = result["pairwise"]["comparisons"]
    assert len(comps) == 2 * 6 * 7
    ndcg = world_results[world_results.metric == "ndcg@10"]
    seed_avg = ndcg.groupby(["method", "language", "query_id"]).value.mean()
    for c in comps:
        assert c["p_adjusted"] >= c["p_value_hierarchical"] - 1e-12  # decision test: hierarchical (method-level)
        assert c["significant"] == (c["p_adjusted"] < 0.05)
        assert c["ci"][0] <= c["mean_diff"] <= c["ci"][1]
        assert c["mean_diff"] == pytest.approx(c["mean_a"] - c["mean_b"], abs=1e-10)
        if c["metric"] == "ndcg@10" and c["language"] != "all":
            a = seed_avg.loc[(c["method_a"], c["language"])]
            b = seed_avg.loc[(c["method_b"], c["language"])]
            ref = sps.ttest_rel(a.to_numpy(), b.loc[a.index].to_numpy())
            assert c["p_value"] == pytest.approx(ref.pvalue, rel=1e-8)
            assert c["effect"]["value"] == pytest.approx((a - b).mean() / (a - b).std(ddof=1), rel=1e-8)
    for s in result["pairwise"]["summaries"]:
        per_lang = [
            c
            for c in comps
            if (c["metric"], c["method_a"], c["method_b"]) == (s["metric"], s["method_a"], s["method_b"])
            and c["language"] != "all"
        ]
        assert s["significant_languages"] == sum(c["significant"] for c in per_lang)
        assert s["a_better"] + s["b_better"] == s["significant_languages"] and s["n_languages"] == 6
    # the effect OT-distillation has on the low tier is found: significant in the low-tier languages
    ot_vs_zero = next(
        s
        for s in result["pairwise"]["summaries"]
        if s["metric"] == "ndcg@10" and {s["method_a"], s["method_b"]} == {"zero-shot", "ot-distill"}
    )
    assert ot_vs_zero["significant_languages"] >= 3


def test_variance_components_and_power(result):
    for vd in result["variance_components"]:
        shares = [c["share"] for c in vd["components"] if c["share"] is not None]
        assert sum(shares) == pytest.approx(1.0)
        names = [c["name"] for c in vd["components"]]
        assert names == [
            "method",
            "tier",
            "language",
            "method_x_language",
            "seed",
            "seed_x_language",
            "query",
            "residual",
        ]
        comp = {c["name"]: c for c in vd["components"]}
        assert comp["query"]["share"] > 0.4  # per-query variation dominates a single score, as simulated
    p = result["power"]
    assert p["metric"] == "ndcg@10" and len(p["pairwise"]) == 6
    for entry in p["pairwise"]:
        est = entry["power"]
        assert est["mdd"] > 0 and est["n_seeds"] == 4
        assert est["seeds_needed"] is not None or est["reason"]
    assert p["typical_pair"]["mdd"] > 0


def test_mdd_shrinks_with_more_seeds(world_analysis):
    from harness.stats.common import mdd

    # the MDD formula: at 80% power and alpha 0.05 with large df it is (1.96 + 0.84) * SE
    assert mdd(np.array([1.0]), np.array([1e9]), 0.05, 0.8)[0] == pytest.approx(2.8016, abs=1e-3)
    q = world_analysis.question
    assert q.power is not None and q.power.mdd_infinite_seeds < q.power.mdd


def test_other_corrections_families_and_tests(world_results):
    a = analyze(
        world_results,
        AnalysisOptions(
            **FAST,
            correction="fdr_bh",
            correction_family="all",
            pairwise_test="hierarchical",
            metrics=["ndcg@10"],
            fit_mixedlm=False,
        ),
        tiers=TIERS,
    ).to_dict()
    comps = a["pairwise"]["comparisons"]
    assert a["pairwise"]["test"] == "hierarchical" and a["design"]["metrics"] == ["ndcg@10"]
    for c in comps:
        assert c["p_adjusted"] == c["p_adjusted_by_test"]["hierarchical"]
        assert c["significant"] == c["significant_by_test"]["hierarchical"]
    assert a["question"]["interaction"]["reason"] == "analysis.fit_mixedlm = false"


def test_coarse_permutations_are_warned_about(world_results):
    a = analyze(
        world_results,
        AnalysisOptions(n_permutations=99, n_bootstrap=200, metrics=["ndcg@10"], pairwise_test="randomization"),
        tiers=TIERS,
    ).to_dict()
    assert any("can never reject" in w for w in a["warnings"])


def test_analyze_question_equals_the_full_analysis_parts(result, world_results):
    """The budget curves' light analysis gives the full analysis's question and tier means, value for value."""
    from harness.stats.analysis import analyze_question

    light = analyze_question(world_results, AnalysisOptions(**FAST), tiers=TIERS)
    assert light["question"] == result["question"]
    primary = AnalysisOptions(**FAST).primary_metric
    assert light["tier_means"] == [t for t in result["tier_means"] if t["metric"] == primary]
    assert len({t["metric"] for t in result["tier_means"]}) > 1  # the full analysis had other metrics to skip
    # the other metrics are not analysed: a table without them gives the same answer
    only_primary = world_results[world_results.metric == primary]
    assert analyze_question(only_primary, AnalysisOptions(**FAST), tiers=TIERS) == light
