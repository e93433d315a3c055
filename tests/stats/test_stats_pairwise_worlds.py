"""Pairwise comparisons with the world as the unit of replication (harness.stats.pairwise, .replication)."""

from __future__ import annotations

from itertools import product

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from harness.stats import analyze
from harness.stats.inference import adjust
from harness.stats.replication import WorldDiff, over_worlds
from harness.stats.simulate import SimulationDesign, simulate_results, simulate_worlds

OPTS = dict(
    n_bootstrap=200,
    n_permutations=200,
    fit_mixedlm=False,
    reml_variance_check=False,
    treatment="a",
    comparator="b",
    baseline=None,
)
DESIGN = SimulationDesign(
    methods=("a", "b", "c"),
    tiers={"h1": "high", "l1": "low"},
    n_queries=200,
    n_seeds=2,
    sd={"query": 0.15, "method_x_query": 0.03, "seed_x_query": 0.02},
    mean=0.5,
)


def planted(offsets: list[float], seed: int = 1) -> pd.DataFrame:
    """Worlds drawn from DESIGN (no world terms), method a's scores moved by ``offsets[w]`` in world w."""
    t = simulate_worlds(DESIGN, len(offsets), {}, np.random.default_rng(seed)).results
    for w, o in enumerate(offsets):
        t.loc[(t["world"] == str(w)) & (t["method"] == "a"), "value"] += o
    return t


def pooled(a: dict, x: str = "a", y: str = "b") -> dict:
    return next(
        c for c in a["pairwise"]["comparisons"] if (c["method_a"], c["method_b"], c["language"]) == (x, y, "all")
    )


def test_world_by_method_interaction_is_not_significant_at_world_level():
    """a beats b by ~.05 in three worlds and loses by ~.05 in two, each strongly significant within its world:
    the queries pooled over worlds call a better, the worlds do not."""
    a = analyze(planted([0.06, -0.05, 0.05, -0.06, 0.04]), OPTS).to_dict()
    pw = a["pairwise"]
    assert (pw["unit"], pw["test"], pw["n_worlds"]) == ("worlds", "worlds", 5)
    c = pooled(a)
    assert c["p_value"] < 1e-3  # query level, worlds fixed: "significant"
    w = c["worlds"]
    assert [x["world"] for x in w["per_world"]] == ["0", "1", "2", "3", "4"]
    signs = [np.sign(x["mean_diff"]) for x in w["per_world"]]
    assert signs == [1, -1, 1, -1, 1]
    assert all(x["p_value"] < 1e-6 and x["p_value_hierarchical"] < 0.05 for x in w["per_world"])
    assert (w["query_level_positive"], w["query_level_negative"]) == (3, 2)
    assert w["df"] == 4 and w["p_value"] > 0.3 and w["ci"][0] < 0 < w["ci"][1]
    assert c["significant"] is False and c["p_adjusted"] == pytest.approx(c["p_adjusted_by_test"]["worlds"])
    summary = next(s for s in pw["summaries"] if (s["method_a"], s["method_b"]) == ("a", "b"))
    assert summary["pooled_significant"] is False
    assert any("5 worlds: pairwise significance is decided over worlds" in n for n in pw["notes"])


def test_consistent_effect_over_five_worlds_is_significant():
    a = analyze(planted([0.03, 0.025, 0.035, 0.03, 0.028]), OPTS).to_dict()
    c = pooled(a)
    w = c["worlds"]
    assert w["same_sign"] == 5 and w["p_value"] < 0.01 and w["ci"][0] > 0
    assert c["significant"] is True
    # the exact sign-flip test over 5 worlds bottoms out at 2^(1-5) = 0.0625: a check, never the decision
    assert w["p_value_sign_flip"] == pytest.approx(0.0625) and w["p_min_sign_flip"] == pytest.approx(0.0625)
    # b vs c: no planted effect
    assert pooled(a, "b", "c")["significant"] is False


def test_holm_over_pairs_adjusts_the_world_level_p_values():
    a = analyze(planted([0.03, 0.025, 0.035, 0.03, 0.028]), OPTS).to_dict()
    fam = [c for c in a["pairwise"]["comparisons"] if c["metric"] == "ndcg@10" and c["language"] == "all"]
    raw = np.array([c["worlds"]["p_value"] for c in fam])
    assert [c["p_adjusted"] for c in fam] == pytest.approx(list(adjust(raw, "holm")))


def test_two_worlds_give_no_test_over_worlds():
    a = analyze(planted([0.03, 0.03]), OPTS).to_dict()
    pw = a["pairwise"]
    assert pw["unit"] == "worlds" and "no test" in pw["decided_by"]
    assert any("too few for a test over worlds" in n for n in pw["notes"])
    for c in pw["comparisons"]:
        w = c["worlds"]
        assert len(w["per_world"]) == 2 and w["p_value"] is None and w["ci"] is None
        assert w["p_value_sign_flip"] is None and "too few" in w["reason"]
        assert c["p_adjusted"] is None and c["significant"] is None
        assert c["p_value"] is not None  # the pooled query-level test is still reported (for these worlds)
    assert all(s["pooled_significant"] is None and s["significant_languages"] is None for s in pw["summaries"])


def test_one_world_is_unchanged_and_labelled_for_this_world():
    table = simulate_results(DESIGN, np.random.default_rng(5)).results
    plain = analyze(table, OPTS).to_dict()
    one = analyze(table.assign(world="13")[["world", *table.columns]], OPTS).to_dict()
    assert plain["pairwise"] == one["pairwise"]
    pw = one["pairwise"]
    assert (pw["unit"], pw["n_worlds"], pw["test"]) == ("for this world", 1, "hierarchical")
    assert "for this world" in pw["decided_by"]
    assert all(c["worlds"] is None and "worlds" not in c["p_adjusted_by_test"] for c in pw["comparisons"])
    assert pooled(one)["p_adjusted"] == pooled(one)["p_adjusted_by_test"]["hierarchical"]


def test_over_worlds_matches_scipy_and_exact_enumeration():
    d = np.array([0.02, -0.01, 0.03, 0.015, 0.005, 0.025])
    r = over_worlds([WorldDiff(str(i), x, 10, None) for i, x in enumerate(d)], level=0.95, alpha=0.05)
    ref = sps.ttest_1samp(d, 0.0)
    assert r.p_value == pytest.approx(ref.pvalue) and r.df == 5
    ci = ref.confidence_interval(0.95)
    assert r.ci == pytest.approx((ci.low, ci.high))
    flips = np.array([np.mean(np.array(s) * d) for s in product((-1, 1), repeat=len(d))])
    t = d.mean()
    exact = min(1.0, 2 * min(np.mean(flips <= t + 1e-12), np.mean(flips >= t - 1e-12)))
    assert r.p_value_sign_flip == pytest.approx(exact)
    assert r.p_min_sign_flip == pytest.approx(2.0**-5)
    with pytest.raises(ValueError, match="at least 2 worlds"):
        over_worlds([WorldDiff("0", 0.1, 10, None)], level=0.95, alpha=0.05)


def test_world_rates_pooled_tests_over_reject_a_method_x_world_null_the_world_test_does_not():
    """harness.stats.calibration.world_pairwise_rates (perf/bench_pairwise_type1.py --worlds): methods that differ
    world by world but not on average; the pooled query tests reject most tables, the test over worlds ~alpha."""
    from harness.stats.calibration import default_run_design, world_pairwise_rates

    design = default_run_design(seed_scale=1.0, n_queries=40, n_seeds=2, n_methods=3, n_languages=2)
    r = world_pairwise_rates(design, 5, 0.05, 30, np.random.default_rng(7))
    assert r.fwer["t"] > 0.6 and r.raw_null["t"] > 0.4
    assert r.fwer["worlds"] <= 0.2 and r.raw_null["worlds"] <= 0.15
