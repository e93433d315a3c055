"""Issue 16: "significant" means the methods; the hierarchical df; the "no" qualifier; the REML option.

The long simulation (family-wise error and power of the default pairwise test under heavy seed
variance) is slow-marked; ``perf/bench_pairwise_type1.py`` prints the full table.
"""

from __future__ import annotations

import numpy as np
import pytest
from stats_world import FAST, TIERS

from harness.stats import AnalysisOptions, analyze
from harness.stats.calibration import default_run_design, pairwise_rates
from harness.stats.common import Stat
from harness.stats.inference import contrast_inference, hierarchical_p
from harness.stats.question import decide, qualify
from harness.stats.simulate import SimulationDesign, simulate_metric

ALPHA = 0.05


def test_default_pairwise_decisions_are_method_level(world_results):
    a = analyze(world_results, AnalysisOptions(**FAST, metrics=["ndcg@10"]), tiers=TIERS).to_dict()
    pw = a["pairwise"]
    assert pw["test"] == "hierarchical" and pw["test_label"] == "method-level"
    assert "methods" in pw["claim"] and "seed variance" in pw["claim"]
    for c in pw["comparisons"]:
        assert c["p_adjusted"] == c["p_adjusted_by_test"]["hierarchical"]
        assert c["significant"] == (c["p_adjusted"] < ALPHA)
        assert set(c["p_adjusted_by_test"]) == {"t", "randomization", "hierarchical", "seed"}
    for s in pw["summaries"]:
        per_lang = [
            c
            for c in pw["comparisons"]
            if (c["method_a"], c["method_b"]) == (s["method_a"], s["method_b"]) and c["language"] != "all"
        ]
        assert s["significant_languages"] == sum(c["significant_by_test"]["hierarchical"] for c in per_lang)
    assert not any("trained checkpoints" in w for w in a["warnings"])


@pytest.mark.parametrize("test", ["randomization", "t"])
def test_conditional_tests_stay_available_and_say_so(world_results, test):
    a = analyze(world_results, AnalysisOptions(**FAST, metrics=["ndcg@10"], pairwise_test=test), tiers=TIERS).to_dict()
    pw = a["pairwise"]
    assert pw["test"] == test and pw["test_label"] == "for these trained checkpoints"
    assert "not a claim about the methods" in pw["claim"]
    assert any("claim about these trained checkpoints" in w for w in a["warnings"])
    assert all(c["significant"] == c["significant_by_test"][test] for c in pw["comparisons"])


def test_hierarchical_p_between_the_query_and_seed_level_references():
    """p = E_W[2 T_Q(|theta| / sqrt(V_s / W + V_n))]: the query-level t without a seed part, t_{S-1} without a query
    part, in between otherwise, and equal to a Monte Carlo evaluation of its definition."""
    from scipy import stats as sps

    est, vs, vn, ds, dq = 0.02, 4e-5, 1e-5, 2.0, 999.0
    p = hierarchical_p(est, vs, ds, vn, dq)
    assert hierarchical_p(est, 0.0, ds, vn, dq) == pytest.approx(2 * sps.t.sf(est / np.sqrt(vn), dq), rel=1e-12)
    assert hierarchical_p(est, vs, ds, 0.0, dq) == pytest.approx(2 * sps.t.sf(est / np.sqrt(vs), ds), rel=1e-12)
    assert 2 * sps.t.sf(est / np.sqrt(vs + vn), dq) < p < 2 * sps.t.sf(est / np.sqrt(vs + vn), ds)
    w = np.random.default_rng(0).chisquare(ds, 400_000) / ds
    mc = (2 * sps.t.sf(est / np.sqrt(vs / w + vn), dq)).mean()
    assert p == pytest.approx(mc, rel=0.01)
    assert np.isnan(hierarchical_p(est, 0.0, ds, 0.0, dq))
    # small p-values are accurate too (Holm over 90 tests needs p ~ 1e-4)
    big = hierarchical_p(0.5, vs, ds, vn, dq)
    assert 0 < big < 1e-3 and big == pytest.approx(
        float(np.mean(2 * sps.t.sf(0.5 / np.sqrt(vs / w + vn), dq))), rel=0.05
    )


def test_contrast_inference_uses_the_hierarchical_p_and_reports_the_seed_df():
    design = SimulationDesign(
        methods=("a", "b"),
        tiers={"x": "high", "y": "low"},
        n_queries=300,
        n_seeds=3,
        sd={"seed": 0.01, "query": 0.2, "method_x_query": 0.1, "seed_x_query": 0.05},
    )
    groups = {"a": "g", "b": "g"}
    data, _ = simulate_metric(design, "m", np.random.default_rng(3))
    inf = contrast_inference(data, {("a", "x"): 0.5, ("a", "y"): 0.5, ("b", "x"): -0.5, ("b", "y"): -0.5}, groups)
    seed_part = inf.seed_var["g"] / 3
    assert inf.hierarchical.df[0] == 2.0
    assert inf.hierarchical.p[0] == hierarchical_p(inf.estimate, seed_part, 2.0, inf.query_net, 299.0)
    deterministic = SimulationDesign(
        methods=("a", "b"), tiers={"x": "high"}, n_queries=300, n_seeds=3, sd={"query": 0.2, "method_x_query": 0.1}
    )  # identical seeds
    data, _ = simulate_metric(deterministic, "m", np.random.default_rng(0))
    inf = contrast_inference(data, {("a", "x"): 1.0, ("b", "x"): -1.0}, groups)
    assert inf.hierarchical.df[0] == 299.0 and inf.hierarchical.p[0] == pytest.approx(inf.query.p[0], rel=1e-12)


def test_hierarchical_test_calibrated_under_heavy_seed_variance_fast():
    """A fast version of the slow test: 150 null tables (raw rates only; 2,250 correlated tests)."""
    rates = pairwise_rates(default_run_design(seed_scale=2.5), 150, np.random.default_rng(7), scopes=("pooled",))[
        "pooled"
    ]
    raw = rates.raw_null["hierarchical"]
    assert 0.02 <= raw <= 0.07, raw
    assert rates.raw_null["t"] > 0.15  # the conditional test: these checkpoints differ, the methods do not


@pytest.mark.slow
def test_default_pairwise_test_controls_familywise_error_under_heavy_seed_variance():
    """1,000 null tables (6 methods x 3 seeds x 6 languages x 1,000 shared queries, seed SDs 2.5 x the default
    run's): the default (hierarchical) test's Holm family-wise error over the 15 pooled comparisons is at most
    0.05 + 2 Monte Carlo SE and its raw rejection rate is in [0.03, 0.07]; the conditional test and the former
    Satterthwaite df fail here.  Power against a known effect is asserted to be non-trivial."""
    n_rep = 1000
    null = pairwise_rates(default_run_design(seed_scale=2.5), n_rep, np.random.default_rng(2026), scopes=("pooled",))[
        "pooled"
    ]
    fwer = null.fwer["hierarchical"]
    assert fwer <= ALPHA + 2 * null.mc_se(ALPHA), fwer
    assert 0.03 <= null.raw_null["hierarchical"] <= 0.07, null.raw_null
    assert null.fwer["t"] > ALPHA + 2 * null.mc_se(ALPHA)  # for these checkpoints, not the methods
    assert null.fwer["hierarchical_satterthwaite"] > fwer
    alt = pairwise_rates(
        default_run_design(seed_scale=2.5, effect=0.05), 300, np.random.default_rng(2027), scopes=("pooled",)
    )["pooled"]
    assert alt.raw_effect["hierarchical"] >= 0.5, alt.raw_effect  # a 0.05 nDCG@10 difference, 3 seeds
    assert alt.fwer["hierarchical"] <= ALPHA + 2 * alt.mc_se(ALPHA)


def _stat(est: float, lo: float, hi: float, p_seed: float = 0.001, p_query: float = 0.001) -> Stat:
    return Stat(est, (lo, hi), p_value_seed=p_seed, p_value_query=p_query)


@pytest.mark.parametrize("p_query", [0.001, 0.3])
def test_no_with_the_whole_ci_inside_minus_delta_and_zero_is_qualified(p_query):
    """D = -0.01 with CI [-0.015, -0.005] inside (-0.02, 0): "yes" when both tests reject (smaller than delta,
    qualified), otherwise "no" -- never a bare "no" that hides a real, smaller reduction."""
    gap = _stat(-0.01, -0.015, -0.005, p_query=p_query)
    diff = {
        "gap": gap,
        "dispersion": _stat(-0.004, -0.006, -0.002),
        "high_tier": _stat(0.0, -0.01, 0.01),
        "low_tier": _stat(0.01, 0.005, 0.015),
    }
    verdict, reasons = decide(diff, "gap", ALPHA, 0.02, "ot", "con", {"ot": (0, 1, 2), "con": (0, 1, 2)})
    from harness.stats.question import Interaction

    quals = qualify(
        diff,
        [],
        Interaction(None, None, None, None, None, "not fitted"),
        "gap",
        verdict,
        ALPHA,
        0.02,
        "ot",
        "con",
        "high",
        "low",
    )
    if p_query < ALPHA:
        assert verdict == "yes" and any("smaller than target_difference" in q for q in quals)
    else:
        assert verdict == "no"
        assert "inside (-delta, 0)" in reasons[-1] and "reduces the gap more" in reasons[-1]
        assert any("'no' here means no extra reduction of 0.02 or more" in q and "smaller gap" in q for q in quals)


def test_no_with_ci_straddling_zero_gets_no_such_qualifier():
    diff = {
        "gap": _stat(0.0, -0.01, 0.01, 0.9, 0.9),
        "dispersion": _stat(0.0, -0.01, 0.01),
        "high_tier": _stat(0.0, -0.01, 0.01),
        "low_tier": _stat(0.0, -0.01, 0.01),
    }
    verdict, _ = decide(diff, "gap", ALPHA, 0.02, "ot", "con", {"ot": (0, 1, 2), "con": (0, 1, 2)})
    from harness.stats.question import Interaction

    quals = qualify(
        diff,
        [],
        Interaction(None, None, None, None, None, "not fitted"),
        "gap",
        verdict,
        ALPHA,
        0.02,
        "ot",
        "con",
        "high",
        "low",
    )
    assert verdict == "no" and not any("'no' here means" in q for q in quals)


def test_reml_variance_check_option_writes_a_converged_check(world_results):
    a = analyze(
        world_results, AnalysisOptions(**FAST, metrics=["ndcg@10"], reml_variance_check=True), tiers=TIERS
    ).to_dict()
    check = a["variance_components"][0]["reml_check"]
    assert check["converged"] and check["error"] is None
    assert check["max_relative_difference"] < 1e-4
    for name, v in check["anova"].items():
        assert check["reml"][name] == pytest.approx(v, rel=1e-4, abs=1e-9), name
    off = analyze(world_results, AnalysisOptions(**FAST, metrics=["ndcg@10"]), tiers=TIERS).to_dict()
    assert off["variance_components"][0]["reml_check"] is None


def test_former_option_name_of_the_variance_check_still_loads():
    """Configs stored before schema 2 carry ``mixedlm_variance_check``; it now means the REML check."""
    assert AnalysisOptions(mixedlm_variance_check=True).reml_variance_check is True
    assert AnalysisOptions(mixedlm_variance_check=True, reml_variance_check=False).reml_variance_check is False
    assert "mixedlm_variance_check" not in AnalysisOptions().model_dump()
