"""The question's roles and endpoints: generic roles (a third-party plugin as treatment), the old
``[analysis]`` names read with a note, per-mode questions, the pivot out of the tiers in
cross-lingual mode, the low tier's gain as co-primary endpoint, and no interval with 2 seeds."""

from __future__ import annotations

import dataclasses
import importlib.util
import math
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from stats_world import FAST, TIERS, WORLD

from harness.config import load_config
from harness.errors import ConfigError
from harness.stats import analyze
from harness.stats.options import ConfigNote, resolve_for_mode
from harness.stats.simulate import simulate_results

HEAD = """
name = "roles"
seeds = [0, 1, 2]
[benchmark]
name = "synthetic"
modes = ["monolingual", "cross-lingual"]
[methods.zero-shot]
[methods.ot-distill]
[methods.contrastive]
"""


def config(tmp_path: Path, extra: str, head: str = HEAD):
    path = tmp_path / "c.toml"
    path.write_text(head + extra)
    return load_config(path)


def results(design=WORLD, seed: int = 7):
    return simulate_results(design, np.random.default_rng(seed)).results


# ----------------------------------------------------------------------------- roles in the config
def test_question_table_sets_the_roles_per_mode(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConfigNote)  # the new names: no note
        c = config(
            tmp_path,
            '[methods.ot-both]\nuses = "ot-distill"\nstudent_side = "both"\n'
            '[question]\ntreatment = "ot-distill"\ncomparator = "contrastive"\n'
            '[question.monolingual]\ntreatment = "ot-both"\n',
        )
    assert (c.analysis_for("monolingual").treatment, c.analysis_for("monolingual").comparator) == (
        "ot-both",
        "contrastive",
    )
    assert c.analysis_for("cross-lingual").treatment == "ot-distill"
    # the pivot leaves the tier means in cross-lingual mode only, unless set
    assert c.analysis_for("cross-lingual").exclude_pivot is True
    assert c.analysis_for("monolingual").exclude_pivot is False
    c2 = config(tmp_path, "[question]\nexclude_pivot = false\n")
    assert c2.analysis_for("cross-lingual").exclude_pivot is False
    # the normalised config keeps the roles in [question] and reloads to the same config
    again = config(tmp_path, "", head=c.to_toml())
    assert again.sha256() == c.sha256() and again.analysis_for("monolingual").treatment == "ot-both"


def test_old_analysis_names_are_read_with_a_one_line_note(tmp_path):
    with pytest.warns(ConfigNote) as rec:
        c = config(tmp_path, '[analysis]\not_method = "contrastive"\ncontrastive_method = "ot-distill"\n')
    notes = [str(w.message) for w in rec if issubclass(w.category, ConfigNote)]
    assert len(notes) == 1 and "\n" not in notes[0]
    assert "ot_method, contrastive_method read as [question] treatment, comparator" in notes[0]
    assert (c.analysis.treatment, c.analysis.comparator) == ("contrastive", "ot-distill")
    assert c.analysis.ot_method == "contrastive"  # the old attribute still reads
    assert "ot_method" not in c.normalized()["analysis"] and c.normalized()["question"]["treatment"] == "contrastive"


@pytest.mark.parametrize(
    "extra, path, words",
    [
        ('[analysis]\not_method = "ot-distill"\n[question]\ntreatment = "contrastive"\n', "analysis.ot_method", "once"),
        ('[analysis]\ntreatment = "ot-distill"\n', "analysis.treatment", "[question]"),
        ('[question]\ntreatment = "ot-distil"\n', "question.treatment", "did you mean 'ot-distill'"),
        ('[question.monolingal]\ntreatment = "ot-distill"\n', "question.monolingal", "did you mean 'monolingual'"),
        ('[question.monolingual]\ncomparator = "ot-distill"\n', "question.monolingual.comparator", "different"),
        ('[question.monolingual]\nbaseline = "zero-shoot"\n', "question.monolingual.baseline", "zero-shot"),
        ("[question]\nuntrained_candidate = true\n", "question.untrained_candidate", "zero-shot"),
    ],
)
def test_bad_roles_are_config_errors_in_the_house_style(tmp_path, extra, path, words):
    head = HEAD.replace("[methods.zero-shot]\n", "") if "untrained" in extra else HEAD
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConfigNote)
        with pytest.raises(ConfigError) as e:
            config(tmp_path, extra, head=head)
    assert e.value.path == path and words in str(e.value), str(e.value)


def test_science_config_asks_each_mode_with_its_own_students():
    c = load_config("science")
    mono, cross = c.analysis_for("monolingual"), c.analysis_for("cross-lingual")
    sides = {m.name: getattr(m.options, "student_side", None) for m in c.methods}
    assert sides[mono.treatment] == sides[mono.comparator] == "both"
    assert sides[cross.treatment] == sides[cross.comparator] == "query"
    assert cross.exclude_pivot and not mono.exclude_pivot


def test_a_third_party_plugin_as_treatment_gets_the_verdict_and_the_reduction(tmp_path, monkeypatch):
    from harness_reports.verdict import headline_rows, verdict_summary

    spec = importlib.util.spec_from_file_location(
        "harness_tests_example_plugin", Path(__file__).parents[1] / "methods" / "example_plugin.py"
    )
    helper = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, helper)
    spec.loader.exec_module(helper)
    with helper.exposed_example_plugin(tmp_path / "site"):
        c = config(tmp_path, '[methods.lang-center]\n[question]\ntreatment = "lang-center"\n')
    assert c.analysis.treatment == "lang-center"
    design = dataclasses.replace(
        WORLD,
        methods=("zero-shot", "lang-center", "contrastive"),
        method_tier_effects={("lang-center", "low"): 0.10, ("contrastive", "low"): 0.02},
    )
    a = analyze(results(design), c.analysis.model_copy(update=FAST), tiers=TIERS).to_dict()
    q = a["question"]
    assert q["methods"]["treatment"] == "lang-center" and q["verdict"] == "yes" and not q["degenerate"]
    row = next(r for r in headline_rows(a) if r.method == "lang-center")
    assert row.role == "treatment" and row.reduction is not None and row.reduction.value > 0
    assert verdict_summary(a).body.startswith("lang-center reduces the high-minus-low gap")


# ----------------------------------------------------------------------------- endpoints
def test_the_pivot_leaves_the_tiers_in_cross_lingual_mode():
    df = results()
    # the pivot's own score is monolingual retrieval: far above the others, more so for contrastive
    en = df.language == "en"
    df.loc[en, "value"] = np.minimum(1.0, df.loc[en, "value"] + 0.3)
    df.loc[en & (df.method == "contrastive"), "value"] = np.minimum(
        1.0, df.loc[en & (df.method == "contrastive"), "value"] + 0.2
    )
    opts = {**FAST, "exclude_pivot": resolve_for_mode({}, None, "cross-lingual")["exclude_pivot"]}
    assert opts["exclude_pivot"] is True and resolve_for_mode({}, None, "monolingual")["exclude_pivot"] is False
    out = analyze(df, opts, tiers=TIERS, pivot="en").to_dict()
    kept = analyze(df, {**FAST, "exclude_pivot": False}, tiers=TIERS, pivot="en").to_dict()
    without = analyze(df[~en], FAST, tiers={k: v for k, v in TIERS.items() if k != "en"}).to_dict()
    q = out["question"]
    assert q["tiers"]["high"] == ["de", "fr"] and q["excluded_languages"] == ["en"]
    assert "en" in kept["question"]["tiers"]["high"] and kept["question"]["excluded_languages"] == []
    # D and the tier means are those of the table without the pivot, not those with it
    d = q["difference"]["gap"]["estimate"]
    assert d == pytest.approx(without["question"]["difference"]["gap"]["estimate"], abs=1e-12)
    assert abs(d - kept["question"]["difference"]["gap"]["estimate"]) > 0.05
    high = {r["method"]: r["mean"] for r in out["tier_means"] if r["tier"] == "high" and r["metric"] == "ndcg@10"}
    high_wo = {
        r["method"]: r["mean"] for r in without["tier_means"] if r["tier"] == "high" and r["metric"] == "ndcg@10"
    }
    assert high == pytest.approx(high_wo, abs=1e-12)
    # the pivot's cells are still reported, under their own tier
    assert {r["tier"] for r in out["per_method_language"] if r["language"] == "en"} == {"pivot"}
    assert out["design"]["excluded_from_tiers"] == ["en"] and out["design"]["tiers"]["en"] == "pivot"


def test_low_tier_gain_is_a_co_primary_endpoint(world_analysis):
    q = world_analysis.to_dict()["question"]
    gains = q["low_tier_gain"]
    assert set(gains) == {"ot-distill", "contrastive"}
    low = {s["method"]: s["low_mean"]["estimate"] for s in q["per_method"]}
    for m, g in gains.items():
        assert g["estimate"] == pytest.approx(low[m] - low["zero-shot"], abs=1e-12)
        assert g["ci"][0] < g["estimate"] < g["ci"][1] and g["p_value_seed"] is not None
    assert gains["ot-distill"]["ci"][0] > 0  # simulated: +0.10 for OT distillation


def test_two_seeds_give_no_question_interval_and_no_interval_outside_the_metric_range():
    design = dataclasses.replace(WORLD, n_seeds=2, n_queries=15, sd={**WORLD.sd, "seed": 0.08, "seed_x_language": 0.06})
    a = analyze(results(design, seed=3), FAST, tiers=TIERS).to_dict()
    means = [*a["per_method_language"], *a["tier_means"], *a["method_means"]]
    assert means and all(0.0 <= r["ci"][0] <= r["ci"][1] <= 1.0 for r in means)
    assert all(0.0 <= r["ci_queries"][0] <= r["ci_queries"][1] <= 1.0 for r in means)
    q = a["question"]
    stats = [*q["difference"].values(), *q["low_tier_gain"].values()]
    stats += [s[k] for s in q["per_method"] for k in ("gap", "dispersion", "high_mean", "low_mean")]
    assert stats and all(s["ci"] is None and "too few seeds for an interval" in s["reason"] for s in stats)
    assert q["verdict"] == "inconclusive" and "too few seeds for an interval" in q["reasons"][-1]
    assert any(w.startswith("too few seeds for an interval") for w in a["warnings"])
    # without the rule a t interval with 1 df leaves [0, 1]: the situation it guards against
    assert any(math.isfinite(r["se"]) and r["mean"] - 12.7 * r["se"] < 0 for r in a["per_method_language"])
