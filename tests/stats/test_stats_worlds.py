"""Worlds as a factor and languages as a sample: the world bootstrap, world components, per-world D, the
world-level t interval, "languages like these", world power, and intervals within [0, 1]."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from harness.stats import AnalysisOptions, analyze
from harness.stats.bootstrap import hierarchical_bootstrap
from harness.stats.common import seed_groups
from harness.stats.data import prepare
from harness.stats.simulate import SimulationDesign, simulate_results, simulate_worlds
from harness.stats.streams import stream
from harness.stats.variance import world_components

OPTS = dict(n_bootstrap=400, n_permutations=200, fit_mixedlm=False, reml_variance_check=False)
TIERS6 = {"h1": "high", "h2": "high", "h3": "high", "l1": "low", "l2": "low", "l3": "low"}


def design(**kw) -> SimulationDesign:
    base = dict(
        methods=("ot-distill", "contrastive", "zero-shot"),
        tiers=TIERS6,
        n_queries=40,
        n_seeds=3,
        sd={"query": 0.15, "method_x_query": 0.05, "seed_x_query": 0.03, "seed_x_language": 0.01, "seed": 0.01},
        mean=0.5,
        metrics=("ndcg@10",),
    )
    base.update(kw)
    return SimulationDesign(**base)


def test_bootstrap_resamples_worlds_a_planted_world_effect_widens_the_interval():
    """The same within-world draws, with and without a planted world effect: the per-method mean's
    interval and the hierarchical replicates widen with it (the worlds are resampled first)."""
    d = design()
    flat = simulate_worlds(d, 4, {}, np.random.default_rng(3)).results
    planted = simulate_worlds(d, 4, {"world": 0.08, "method_x_world": 0.03}, np.random.default_rng(3)).results
    width = {}
    for name, table in (("flat", flat), ("planted", planted)):
        data = prepare(table).metrics["ndcg@10"]
        assert data.n_worlds == 4 and data.worlds == ("0", "1", "2", "3")
        boot = hierarchical_bootstrap(data, seed_groups(data, "auto"), 400, 0)
        assert boot.n_worlds == 4 and boot.df_seed(["ot-distill"]) == 3
        a = analyze(table, OPTS).to_dict()
        m = next(g for g in a["method_means"] if g["method"] == "ot-distill")
        width[name] = (m["ci"][1] - m["ci"][0], boot.hierarchical["ot-distill"].mean(axis=(1, 2)).std())
    assert width["planted"][0] > 3 * width["flat"][0]
    assert width["planted"][1] > 3 * width["flat"][1]


def test_one_world_column_changes_nothing():
    """A table with a one-world ``world`` column is analysed exactly as the table without it."""
    table = simulate_results(design(), np.random.default_rng(5)).results
    a = analyze(table, OPTS).to_dict()
    b = analyze(table.assign(world="13")[["world", *table.columns]], OPTS).to_dict()
    for key in ("method_means", "tier_means", "per_method_language"):
        assert a[key] == b[key]
    assert a["question"]["difference"] == b["question"]["difference"]
    assert b["worlds"] == {"n": 1, "kind": "fixed", "labels": ["13"]}


def test_world_components_recover_planted_variances():
    """World and method x world components of run means recover the planted variances (many worlds)."""
    d = design(
        sd={"query": 0.1, "seed": 0.02}, n_queries=30, tiers={"h1": "high", "h2": "high", "l1": "low", "l2": "low"}
    )
    sim = simulate_worlds(d, 80, {"world": 0.06, "method_x_world": 0.04}, np.random.default_rng(11))
    data = prepare(sim.results).metrics["ndcg@10"]
    wc = world_components(data, stream(0, "test"), 500, 0.95)
    comp = {c.name: c for c in wc.components}
    # query noise of a run mean adds 0.1^2 / (30 x 4) ~ 8e-5 to the world component; seeds are per method
    assert comp["world"].variance == pytest.approx(0.06**2, rel=0.35)
    assert comp["method_x_world"].variance == pytest.approx(0.04**2, rel=0.35)
    assert comp["world"].ci_variance[0] < 0.06**2 < comp["world"].ci_variance[1]
    assert comp["residual"].variance == pytest.approx(0.02**2, rel=0.35)


def test_per_world_d_and_the_world_level_t_interval_decide():
    """With a planted world-to-world variation of D the verdict is decided on the t interval over the
    per-world D (K - 1 df), which is wider than the pooled hierarchical interval."""
    d = design(method_tier_effects={("ot-distill", "low"): 0.05})
    sim = simulate_worlds(d, 3, {"method_x_tier_x_world": 0.03}, np.random.default_rng(7))
    a = analyze(sim.results, OPTS).to_dict()
    q = a["question"]
    wl = q["world_level"]
    assert a["worlds"] == {"n": 3, "kind": "drawn", "labels": ["0", "1", "2"]}
    per = np.array([w["estimate"] for w in wl["per_world"]])
    assert [w["world"] for w in wl["per_world"]] == ["0", "1", "2"]
    se = per.std(ddof=1) / np.sqrt(3)
    t = sps.t.ppf(0.975, 2)
    assert wl["estimate"] == pytest.approx(per.mean())
    assert wl["ci"] == pytest.approx([per.mean() - t * se, per.mean() + t * se])
    assert wl["df"] == 2 and "t over the 3 per-world" in wl["method"]
    assert q["decisive_interval"]["scope"] == "worlds"
    assert q["decisive_interval"]["ci"] == wl["ci"]
    pooled = q["difference"]["gap"]["ci"]
    assert wl["ci"][1] - wl["ci"][0] > pooled[1] - pooled[0]
    # each world's D is that world analysed alone
    one = analyze(sim.results[sim.results.world == "1"], OPTS).to_dict()
    assert wl["per_world"][1]["estimate"] == pytest.approx(one["question"]["difference"]["gap"]["estimate"])
    # power: worlds needed per seed count, the between-world variance estimated
    pw = a["power"]["worlds"]
    assert pw["n_worlds"] == 3 and pw["tau2"] > 0
    rows = {r["seeds"]: r for r in pw["by_seeds"]}
    assert {1, 2, 3, 5, 10} <= set(rows)
    needed = [rows[s]["worlds_needed"] for s in (1, 3, 10)]
    assert all(n is not None and n >= 2 for n in needed) and needed == sorted(needed, reverse=True)
    # world components in analysis.json
    names = [c["name"] for c in a["world_components"][0]["components"]]
    assert names == ["world", "method_x_world", "seed_within_world", "residual"]


def test_languages_like_these_is_wider_with_language_variance():
    """One world, 3 languages per tier, method x language variance: the interval that treats languages as a
    sample of their tier is wider than the fixed-language one, and decides."""
    d = design(sd={**design().sd, "method_x_language": 0.05}, method_tier_effects={("ot-distill", "low"): 0.05})
    table = simulate_results(d, np.random.default_rng(2)).results
    q = analyze(table, OPTS).to_dict()["question"]
    ls = q["language_sample"]
    these, like = ls["ci_these_languages"], ls["ci_languages_like_these"]
    assert like[1] - like[0] > 1.5 * (these[1] - these[0])
    assert ls["languages_per_tier"] == {"high": 3, "low": 3} and ls["reason"] is None
    assert q["decisive_interval"]["scope"] == "languages like these"
    assert q["decisive_interval"]["ci"] == like


def test_too_few_languages_for_the_wider_interval_is_said():
    d = design(tiers={"h1": "high", "h2": "high", "l1": "low", "l2": "low", "l3": "low"})
    q = analyze(simulate_results(d, np.random.default_rng(4)).results, OPTS).to_dict()["question"]
    assert q["language_sample"]["ci_languages_like_these"] is None
    assert "tier 'high' has 2 language(s): too few languages" in q["language_sample"]["reason"]
    assert q["decisive_interval"]["scope"] == "these languages"
    assert any("for these languages and this world" in x for x in q["qualifiers"])


def test_no_interval_outside_the_metric_range_with_two_seeds():
    """Two seeds and a low mean (the smoke config's "0.132 [-0.263, 0.591]"): every per-method interval stays
    in [0, 1], clipped ones are flagged, and the analysis warns."""
    d = design(n_seeds=2, mean=0.13, sd={"seed": 0.08, "seed_x_language": 0.05, "query": 0.1})
    a = analyze(simulate_results(d, np.random.default_rng(8)).results, OPTS).to_dict()
    rows = a["per_method_language"] + a["method_means"] + a["tier_means"]
    assert all(0.0 <= r["ci"][0] <= r["ci"][1] <= 1.0 for r in rows)
    assert all(0.0 <= r["ci_queries"][0] <= r["ci_queries"][1] <= 1.0 for r in rows)
    assert any(r["ci_clipped"] for r in rows)
    assert any("too few seeds for informative intervals" in w and "clipped" in w for w in a["warnings"])


def test_analysis_options_accept_worlds_kind():
    table = simulate_worlds(design(), 2, {}, np.random.default_rng(1)).results
    a = analyze(table, AnalysisOptions(**OPTS), worlds_kind="drawn").to_dict()
    assert a["worlds"]["n"] == 2 and a["question"]["world_level"]["n"] == 2


@pytest.mark.parametrize("n_worlds, warned", [(3, False), (2, True)])
def test_worlds_are_the_units_the_too_few_warning_counts(n_worlds, warned):
    """One seed in each of 3 worlds is 3 units of replication (no "too few" warning, the question has
    intervals); in 2 worlds it is too few, and the warning names worlds, not seeds."""
    table = simulate_worlds(design(n_seeds=1), n_worlds, {"world": 0.02}, np.random.default_rng(5)).results
    a = analyze(table, OPTS).to_dict()
    few = [w for w in a["warnings"] if w.startswith("too few")]
    assert bool(few) is warned
    assert not any("too few seeds" in w for w in few)
    if warned:
        assert "too few worlds for an interval: 2" in few[0]
