"""The question: verdicts on simulated worlds, the stated rule, degenerate cases."""

from __future__ import annotations

import numpy as np
import pytest
from stats_world import FAST, TIERS, WORLD

from harness.stats import AnalysisOptions, analyze
from harness.stats.common import Stat
from harness.stats.question import decide
from harness.stats.simulate import SimulationDesign, simulate_results

# no method x language effects: the methods differ only by the configured lifts of the low tier
BASE_SD = {
    "language": 0.03,
    "method_x_language": 0.0,
    "seed": 0.01,
    "seed_x_language": 0.005,
    "query": 0.25,
    "method_x_query": 0.06,
    "seed_x_query": 0.05,
}


def run_world(lift_ot: float, lift_con: float, n_queries: int, n_seeds: int = 5, seed: int = 0, **opts):
    design = SimulationDesign(
        methods=("zero-shot", "ot-distill", "contrastive"),
        tiers=TIERS,
        n_queries=n_queries,
        n_seeds=n_seeds,
        sd=BASE_SD,
        mean=0.45,
        tier_effects={"low": -0.15},
        method_tier_effects={("ot-distill", "low"): lift_ot, ("contrastive", "low"): lift_con},
    )
    df = simulate_results(design, np.random.default_rng(seed)).results
    return analyze(df, AnalysisOptions(**FAST, **opts), tiers=TIERS).to_dict()["question"]


def test_yes_when_ot_lifts_the_low_tier_more(world_analysis):
    q = world_analysis.to_dict()["question"]
    assert q["verdict"] == "yes" and not q["degenerate"]
    d = q["difference"]["gap"]
    assert d["estimate"] < 0 and d["ci"][1] < 0 and d["p_value_seed"] < 0.05 and d["p_value_query"] < 0.05
    assert -0.12 < d["estimate"] < -0.04  # simulated: -(0.10 - 0.02) plus noise
    assert q["difference"]["low_tier"]["ci"][0] > 0  # OT raises the low tier
    # the rule is stated with the configured names and numbers, and the reasons quote the numbers
    assert "gap(ot-distill) - gap(contrastive)" in q["rule"] and "alpha = 0.05" in q["rule"]
    assert "-delta = -0.02" in q["rule"]
    assert f"{d['estimate']:.4g}" in q["reasons"][0]
    # per seed: 3 methods x 4 seeds; gap = high mean - low mean
    assert len(q["per_seed"]) == 12
    assert all(abs(s["gap"] - (s["high_mean"] - s["low_mean"])) < 1e-9 for s in q["per_seed"])
    by_role = {m["role"]: m for m in q["per_method"]}
    assert by_role["baseline"]["gap"]["estimate"] > 0.1
    red = by_role["treatment"]["gap_reduction_vs_baseline"]
    assert red["estimate"] == pytest.approx(
        by_role["baseline"]["gap"]["estimate"] - by_role["treatment"]["gap"]["estimate"]
    )
    # the mixed model's interaction is the same difference of gaps (balanced design)
    assert q["interaction"]["estimate"] == pytest.approx(d["estimate"], abs=1e-6)
    assert q["interaction"]["ci"][1] < 0
    assert q["power"]["mdd"] > 0


def test_no_when_both_methods_lift_the_low_tier_equally():
    q = run_world(0.05, 0.05, n_queries=600)
    d = q["difference"]["gap"]
    assert q["verdict"] == "no", (q["reasons"], d)
    assert d["ci"][0] > -0.02


def test_inconclusive_when_the_data_are_too_few():
    q = run_world(0.04, 0.02, n_queries=20, n_seeds=3)  # 28 of 30 simulation seeds: inconclusive, 2: yes
    assert q["verdict"] == "inconclusive", q["reasons"]
    assert q["reasons"][-1].endswith("inconclusive")


def test_dispersion_endpoint():
    q = run_world(0.10, 0.0, n_queries=300, question_endpoint="dispersion")
    assert q["endpoint"] == "dispersion" and "SD over languages" in q["rule"]
    assert q["difference"]["dispersion"]["p_value_query"] is None
    assert "nonlinear" in q["difference"]["dispersion"]["reason"]
    assert q["verdict"] == "yes", q["reasons"]


def test_missing_baseline_is_noted():
    q = run_world(0.08, 0.0, n_queries=200, baseline="bm25")
    assert q["verdict"] == "yes"
    assert any("baseline 'bm25' is not in the results table" in x for x in q["qualifiers"])
    assert all(m["gap_reduction_vs_baseline"] is None for m in q["per_method"])


def stat(est, lo, hi, p_seed=0.001, p_query=0.001):
    return Stat(est, (lo, hi), p_value_seed=p_seed, p_value_query=p_query)


@pytest.mark.parametrize(
    ("gap", "verdict"),
    [
        (stat(-0.05, -0.08, -0.02), "yes"),
        (stat(-0.01, -0.015, -0.005), "yes"),  # significant but smaller than delta: yes, with a qualifier
        (stat(-0.05, -0.08, -0.02, p_query=0.2), "inconclusive"),  # the query-level test does not reject
        (stat(-0.05, -0.08, -0.02, p_seed=0.06), "inconclusive"),  # the seed-level test does not reject
        (stat(0.0, -0.01, 0.01, 0.9, 0.9), "no"),  # an extra reduction of delta is ruled out
        (stat(0.05, 0.02, 0.08), "no"),  # OT reduces the gap less
        (stat(-0.01, -0.04, 0.02, 0.4, 0.4), "inconclusive"),
    ],
)
def test_rule_table(gap, verdict):
    seeds = {"ot": (0, 1, 2), "con": (0, 1, 2)}
    got, reasons = decide({"gap": gap}, "gap", 0.05, 0.02, "ot", "con", seeds)
    assert got == verdict and reasons[-1].endswith(verdict)


def test_single_seed_is_always_inconclusive():
    got, reasons = decide({"gap": stat(-0.05, -0.08, -0.02)}, "gap", 0.05, 0.02, "ot", "con", {"ot": (0,), "con": (0,)})
    assert got == "inconclusive" and "single seed" in reasons[0]


def test_world_design_constant_is_what_the_fixture_used(world_results):
    assert set(world_results.method.unique()) == set(WORLD.methods)
