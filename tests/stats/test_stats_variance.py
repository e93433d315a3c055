"""Variance decomposition: recovery of known components, agreement with statsmodels, degenerate designs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from harness.stats.simulate import (
    SimulationDesign,
    nominal_components,
    realised_components,
    simulate_metric,
)
from harness.stats.variance import decompose, run_level_mean_squares

LANGS18 = {f"l{i:02d}": ("high" if i < 10 else "low") for i in range(18)}
SIX = tuple(f"m{i}" for i in range(6))

#: MIRACL-like balanced design: 6 methods, 5 seeds, 18 languages in two tiers.
MIRACL_LIKE = SimulationDesign(
    methods=SIX,
    tiers=LANGS18,
    n_queries=100,
    n_seeds=5,
    sd={
        "language": 0.05,
        "method_x_language": 0.03,
        "seed": 0.02,
        "seed_x_language": 0.015,
        "query": 0.25,
        "method_x_query": 0.12,
        "seed_x_query": 0.08,
    },
    method_effects={m: 0.02 * i for i, m in enumerate(SIX)},
    tier_effects={"low": -0.1},
)


def shares(d: dict[str, float]) -> dict[str, float]:
    total = sum(d.values())
    return {k: v / total for k, v in d.items()}


def test_recovery_on_average_over_replicates():
    """200 replicates of the MIRACL-like design: each mean estimated share within 15% of the true share."""
    truth = shares(nominal_components(MIRACL_LIKE))
    rng = np.random.default_rng(100)
    est: dict[str, list[float]] = {k: [] for k in truth}
    for _ in range(200):
        data, _ = simulate_metric(MIRACL_LIKE, "ndcg@10", rng)
        for c in decompose(data, rng, n_draws=100, reml=False).components:
            est[c.name].append(c.share)
    for name, t in truth.items():
        assert abs(np.mean(est[name]) / t - 1) < 0.15, (name, np.mean(est[name]), t)


def test_recovery_of_one_large_design():
    """One draw of a large balanced design: every share within 15% of the share realised in the draw.

    Components resting on few levels (tier: 2, methods: 12) get effects large against the
    noise that leaks into their means, so a single draw can pin them down.
    """
    tiers = {f"l{i:02d}": ("high" if i % 2 == 0 else "low") for i in range(40)}
    methods = tuple(f"m{i:02d}" for i in range(12))
    design = SimulationDesign(
        methods=methods,
        tiers=tiers,
        n_queries=400,
        n_seeds=10,
        sd={
            "language": 0.08,
            "method_x_language": 0.04,
            "seed": 0.03,
            "seed_x_language": 0.03,
            "query": 0.2,
            "method_x_query": 0.1,
            "seed_x_query": 0.08,
        },
        method_effects={m: 0.04 * i for i, m in enumerate(methods)},
        tier_effects={"low": -1.2},
    )
    data, effects = simulate_metric(design, "ndcg@10", np.random.default_rng(7))
    truth = shares(realised_components(design, effects))
    vd = decompose(data, np.random.default_rng(1), n_draws=200, reml=False)
    for c in vd.components:
        assert abs(c.share / truth[c.name] - 1) < 0.15, (c.name, c.share, truth[c.name])
        assert c.ci_share[0] <= c.share <= c.ci_share[1]


def test_mean_squares_match_statsmodels_anova():
    """The run-level sums of squares equal statsmodels' sequential OLS ANOVA on the same means."""
    import statsmodels.formula.api as smf
    from statsmodels.stats.anova import anova_lm

    data, _ = simulate_metric(MIRACL_LIKE, "ndcg@10", np.random.default_rng(3))
    y = np.stack([data.run_means(m) for m in data.methods])  # (M, S, L)
    tier_names = sorted(set(data.tiers.values()))
    tier_index = np.array([tier_names.index(data.tiers[x]) for x in data.languages])
    ms, df = run_level_mean_squares(y, tier_index)
    mi, si, li = np.meshgrid(*(np.arange(n) for n in y.shape), indexing="ij")
    frame = pd.DataFrame(
        {"y": y.ravel(), "m": mi.ravel(), "s": si.ravel(), "l": li.ravel(), "t": tier_index[li.ravel()]}
    )
    table = anova_lm(smf.ols("y ~ C(m) + C(l) + C(m):C(l) + C(m):C(s)", data=frame).fit(), typ=1)
    expected = {"method": "C(m)", "method_x_language": "C(m):C(l)", "seed": "C(m):C(s)", "seed_x_language": "Residual"}
    for ours, theirs in expected.items():
        assert df[ours] == table.loc[theirs, "df"]
        assert ms[ours] == pytest.approx(table.loc[theirs, "mean_sq"], rel=1e-8)
    # languages: tier + language within tier together; tier alone from a one-way model
    ss_lang = ms["tier"] * df["tier"] + ms["language"] * df["language"]
    assert ss_lang == pytest.approx(table.loc["C(l)", "sum_sq"], rel=1e-8)
    tiers_only = anova_lm(smf.ols("y ~ C(t)", data=frame).fit(), typ=1)
    assert ms["tier"] * df["tier"] == pytest.approx(tiers_only.loc["C(t)", "sum_sq"], rel=1e-8)


def _positive_design() -> SimulationDesign:
    return SimulationDesign(
        methods=SIX[:4],
        tiers={k: v for k, v in list(LANGS18.items())[:8]},
        n_queries=50,
        n_seeds=4,
        sd=dict(MIRACL_LIKE.sd) | {"method_x_language": 0.04, "seed": 0.03},
        method_effects=MIRACL_LIKE.method_effects,
        tier_effects={"low": -0.1},
    )


def test_anova_agrees_with_dense_reml_and_reml_with_statsmodels_mixedlm():
    """On a balanced design with positive components, the ANOVA, the dense REML cross-check and statsmodels'
    MixedLM (an independent REML implementation, which converges on this design) agree."""
    import warnings

    from statsmodels.regression.mixed_linear_model import MixedLM
    from statsmodels.tools.sm_exceptions import ConvergenceWarning

    data, _ = simulate_metric(_positive_design(), "ndcg@10", np.random.default_rng(11))
    check = decompose(data, np.random.default_rng(0), n_draws=100, reml=True).reml_check
    assert check is not None and check.converged and check.error is None
    names = ("method", "language", "method_x_language", "seed", "seed_x_language")
    for name in names:
        assert check.anova[name] > 0
        assert check.reml[name] == pytest.approx(check.anova[name], rel=1e-6), name
    assert check.max_relative_difference < 1e-6
    assert check.criterion == pytest.approx(check.criterion_at_anova, abs=1e-6)
    y = np.stack([data.run_means(m) for m in data.methods])  # (M, S, L)
    n_m, n_s, n_l = y.shape
    mi, si, li = (a.ravel() for a in np.meshgrid(np.arange(n_m), np.arange(n_s), np.arange(n_l), indexing="ij"))
    frame = pd.DataFrame({"y": y.ravel(), "g": 1, "m": mi, "l": li, "ml": mi * n_l + li, "s": mi * n_s + si})
    vc = {"method": "0 + C(m)", "language": "0 + C(l)", "method_x_language": "0 + C(ml)", "seed": "0 + C(s)"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # "may be on the boundary": checked by the values below
        res = MixedLM.from_formula("y ~ 1", groups="g", vc_formula=vc, re_formula="0", data=frame).fit(reml=True)
    assert res.converged
    theirs = dict(zip(res.model.exog_vc.names, res.vcomp, strict=True)) | {"seed_x_language": res.scale}
    for name in names:
        assert check.reml[name] == pytest.approx(theirs[name], rel=0.02), name


def test_dense_reml_reaches_the_optimum_from_a_bad_start_and_handles_boundaries():
    """A design whose seed variance is tiny next to the others (like the default run): the fit converges to the
    ANOVA solution; with a zero component (no seed effects, negative moment estimate) it stops at the boundary."""
    from harness.stats.reml import RemlCriterion, design_matrices, reml_fit
    from harness.stats.variance import anova_run_components

    tiny = SimulationDesign(
        methods=SIX,
        tiers={k: v for k, v in list(LANGS18.items())[4:10]},
        n_queries=50,
        n_seeds=3,
        sd={"language": 0.1, "method_x_language": 0.05, "seed": 0.003, "seed_x_language": 0.01},
        method_effects={m: 0.05 * i for i, m in enumerate(SIX)},
    )
    for seed_sd, rng_seed in ((0.003, 5), (0.0, 6)):
        design = SimulationDesign(**{**tiny.__dict__, "sd": {**tiny.sd, "seed": seed_sd}})
        data, _ = simulate_metric(design, "x", np.random.default_rng(rng_seed))
        y = np.stack([data.run_means(m) for m in data.methods])
        ms, df = run_level_mean_squares(y, np.zeros(y.shape[2], dtype=int))
        anova = anova_run_components(ms, df, *y.shape)
        check = reml_fit(y, anova)
        assert check.converged, check.messages
        crit = RemlCriterion(y, design_matrices(*y.shape))
        # the optimum is no worse than the clipped ANOVA point and than a start far away from it
        far = np.array([1.0, 1.0, 1.0, 1.0, 1.0]) * float(np.var(y))
        assert check.criterion <= crit(far)[0]
        assert check.criterion <= check.criterion_at_anova + 1e-6
        if anova["seed"] > 0:
            assert check.reml["seed"] == pytest.approx(anova["seed"], rel=1e-4)
        else:  # negative moment estimate: REML stops at 0 and keeps the others close
            assert check.reml["seed"] < 1e-3 * check.reml["seed_x_language"]


def test_single_seed_and_single_method_are_reported_not_estimable():
    one_seed = SimulationDesign(methods=SIX[:3], tiers=LANGS18, n_queries=30, n_seeds=1, sd=MIRACL_LIKE.sd)
    vd = decompose(
        simulate_metric(one_seed, "x", np.random.default_rng(0))[0], np.random.default_rng(0), 100, reml=False
    )
    comps = {c.name: c for c in vd.components}
    assert comps["seed"].variance is None and comps["seed"].absorbed_into == "method"
    assert comps["residual"].parts["seed_x_query"] is None
    assert any("not estimable" in n for n in vd.notes)
    assert abs(sum(c.share for c in vd.components if c.share is not None) - 1) < 1e-9

    one_method = SimulationDesign(methods=("solo",), tiers=LANGS18, n_queries=30, n_seeds=3, sd=MIRACL_LIKE.sd)
    vd = decompose(
        simulate_metric(one_method, "x", np.random.default_rng(0))[0], np.random.default_rng(0), 100, reml=False
    )
    comps = {c.name: c for c in vd.components}
    assert comps["method"].variance is None and comps["method_x_language"].variance is None
    assert comps["method_x_language"].absorbed_into == "language"


def test_unbalanced_seeds_use_the_largest_balanced_subdesign():
    design = SimulationDesign(
        methods=("a", "b", "c"), tiers=LANGS18, n_queries=30, n_seeds={"a": 5, "b": 5, "c": 1}, sd=MIRACL_LIKE.sd
    )
    vd = decompose(simulate_metric(design, "x", np.random.default_rng(0))[0], np.random.default_rng(0), 100, reml=False)
    assert vd.methods == ("a", "b") and vd.excluded_methods == ("c",) and vd.n_seeds == 5
    assert any("fewer than 5 seeds" in n for n in vd.notes)
