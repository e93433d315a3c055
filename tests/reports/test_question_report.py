"""The question in the report and the terminal: the verdict at each shared budget when it flips,
every mode's detailed sections (in page order in the table of contents), the MixedLM note, the
budget figure by method, the too-few-seeds warning, and the untrained candidate of the dev rule."""

from __future__ import annotations

import io
import json
import re
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from harness.stats.simulate import SimulationDesign, simulate_results

TIERS = {"en": "high", "de": "high", "sw": "low", "yo": "low"}
BUDGETS = (219, 438, 657)
#: low-tier lift (ot-distill, contrastive) per budget: OT ahead at 219 steps, contrastive ahead later
LIFTS = {219: (0.14, 0.0), 438: (0.0, 0.12), 657: (0.0, 0.06)}
FAST = {"n_permutations": 199, "n_bootstrap": 200, "fit_mixedlm": False}


def sim(lift_ot: float, lift_con: float, seed: int) -> pd.DataFrame:
    design = SimulationDesign(
        methods=("zero-shot", "ot-distill", "contrastive"),
        tiers=TIERS,
        n_queries=80,
        n_seeds=3,
        sd={
            "language": 0.02,
            "method_x_language": 0.01,
            "seed": 0.005,
            "seed_x_language": 0.004,
            "query": 0.2,
            "method_x_query": 0.05,
            "seed_x_query": 0.03,
        },
        mean=0.5,
        tier_effects={"low": -0.15},
        method_tier_effects={("ot-distill", "low"): lift_ot, ("contrastive", "low"): lift_con},
        metrics=("ndcg@10",),
        clip=True,
        grid=1 / 64,
    )
    return simulate_results(design, np.random.default_rng(seed)).results


@pytest.fixture(scope="module")
def flipping_run(tmp_path_factory):
    """A stored run whose verdict flips with the budget: yes at 219 steps, no at 438 and 657.

    The dev rule chose 219 steps for ot-distill and the final budget (657) for contrastive:
    alone, its answer would be "yes".
    """
    from harness.analysis import budget_curves
    from harness.config import load_config
    from harness.stats import analyze

    tmp = tmp_path_factory.mktemp("flip")
    cfg = tmp / "c.toml"
    cfg.write_text(
        'name = "flip"\nseeds = [0, 1, 2]\nmetrics = ["ndcg@10"]\n[benchmark]\nname = "synthetic"\n'
        "[methods.zero-shot]\n[methods.ot-distill]\n[methods.contrastive]\n"
        f"[analysis]\n{chr(10).join(f'{k} = {str(v).lower()}' for k, v in FAST.items())}\n"
    )
    config = load_config(cfg)
    frames = {b: sim(*LIFTS[b], seed=b) for b in BUDGETS}
    budgets = pd.concat(
        [
            f[f.method != "zero-shot"].assign(budget_steps=b, budget_examples=16 * b, budget_seconds=1.0)
            for b, f in frames.items()
        ],
        ignore_index=True,
    )
    final = frames[657]
    headline = pd.concat(
        [final[final.method != "ot-distill"], frames[219][frames[219].method == "ot-distill"]], ignore_index=True
    )
    bench = SimpleNamespace(languages=list(TIERS), tier=TIERS.get, pivot="en")
    a = analyze(headline, config.analysis, tiers=TIERS).to_dict()
    a["budget_curves"] = budget_curves(budgets, headline, config, bench)
    a["protocol"] = {
        "rule": "chosen on dev",
        "tuned_on": "dev",
        "warnings": [],
        "selections": {
            "ot-distill": {"chosen": {"method": "ot-distill", "steps": 219, "dev_score": 0.5}, "grid_size": 3},
            "contrastive": {"chosen": {"method": "contrastive", "steps": None, "dev_score": 0.5}, "grid_size": 3},
        },
    }
    return a


def test_the_budget_flip_is_in_the_headline_and_the_terminal(flipping_run, tmp_path, make_run):
    from harness_reports.report import render_report
    from harness_reports.terminal import print_summary
    from harness_reports.verdict import verdict_summary

    a = flipping_run
    assert [p["verdict"] for p in a["budget_curves"]["points"]] == ["yes", "no", "no"]
    assert a["question"]["verdict"] == "yes"  # the dev-chosen answer, alone, would be "yes"
    flip = "yes at 219 steps, no at 438 and 657"
    v = verdict_summary(a)
    assert v.lead == "Depends on the budget" and v.body.startswith(flip)
    assert "At the budgets chosen on dev (ot-distill: 219 steps, contrastive: final (657 steps)): yes" in v.body
    out = io.StringIO()
    print_summary(a, file=out)
    text = " ".join(out.getvalue().split())
    assert f"Verdict: Depends on the budget: {flip}" in text
    run = make_run(tmp_path / "run", sim(0.0, 0.0, seed=0))
    html = render_report(run, manifest=json.loads((run / "manifest.json").read_text()), analysis=a).read_text()
    sentence = re.search(r'id="verdict-sentence">(.*?)</span>', html, re.S).group(1)
    assert " ".join(sentence.split()).startswith(flip)
    badge = re.search(r'id="verdict">(.*?)</span>', html, re.S).group(1)
    assert badge == "yes at the dev budgets; depends on the budget"  # the badge never says "yes" alone


def test_a_verdict_that_holds_across_budgets_is_stated_alone(flipping_run):
    from harness_reports.verdict import verdict_summary

    a = json.loads(json.dumps(flipping_run))
    for p in a["budget_curves"]["points"]:
        p["verdict"] = "yes"
    v = verdict_summary(a)
    assert v.lead == "Yes" and v.budgets == "" and "steps" not in v.body


def two_mode_analysis(make_results, make_manifest):
    from harness.modes import combine
    from harness.stats import analyze

    parts = {}
    for i, mode in enumerate(("monolingual", "cross-lingual")):
        r = make_results(seed=i)
        parts[mode] = analyze(r, make_manifest(r)["config"]["analysis"], tiers=TIERS).to_dict()
    return combine(parts)


def test_every_mode_has_its_detailed_sections_in_page_order(tmp_path, make_results, make_run, make_manifest):
    from harness_reports.report import render_report

    a = two_mode_analysis(make_results, make_manifest)
    run = make_run(tmp_path / "run", make_results(seed=0))
    html = render_report(run, manifest=json.loads((run / "manifest.json").read_text()), analysis=a).read_text()
    for section in ("leaderboard", "tiers", "variance", "pairwise", "seeds", "power"):
        for sfx in ("", "-cross-lingual"):
            assert f'<section id="{section}{sfx}"' in html, section + sfx
    assert 'id="leaderboard-table-cross-lingual"' in html and 'id="pairwise-matrix-cross-lingual"' in html
    assert "Leaderboard (cross-lingual mode)" in html and "Leaderboard (monolingual mode)" in html
    ids = set(re.findall(r' id="([^"]+)"', html))
    assert len(re.findall(r' id="([^"]+)"', html)) == len(ids)  # no id twice
    # the table of contents follows the page order
    toc = re.search(r'<nav class="toc".*?</nav>', html, re.S).group(0)
    targets = re.findall(r'href="#([^"]+)"', toc)
    assert targets and all(t in ids for t in targets)
    positions = [html.index(f'<section id="{t}"') for t in targets]
    assert positions == sorted(positions), targets


def test_the_mixed_model_note_replaces_optimiser_messages_in_the_headline(tmp_path, make_results, make_run):
    from harness.stats import analyze
    from harness.stats.question import Interaction, interaction_note
    from harness_reports.report import render_report

    messages = ["Gradient optimization failed, |grad| = 0.696305", "Retrying MixedLM optimization with cg"]
    bad = Interaction(-0.01, 0.02, (-0.05, 0.03), 0.6, False, "MixedLM", tuple(messages))
    note = interaction_note(bad)
    assert "did not converge" in note and "hierarchical bootstrap interval" in note and "\n" not in note
    assert interaction_note(Interaction(-0.01, 0.02, (-0.05, 0.03), 0.6, True, "MixedLM")) is None
    r = make_results(seed=3)
    run = make_run(tmp_path / "run", r)
    manifest = json.loads((run / "manifest.json").read_text())
    a = analyze(r, manifest["config"]["analysis"], tiers=TIERS).to_dict()
    a["question"]["interaction"].update(converged=False, messages=messages, note=note)
    html = render_report(run, manifest=manifest, analysis=a).read_text()
    head = html[html.index('<section id="headline"') : html.index("</section>", html.index('<section id="headline"'))]
    assert note in head and "Gradient optimization" not in head and "Retrying" not in head
    assert "Gradient optimization" in html  # still listed, under the detailed sections


def test_budget_figure_tells_methods_apart(monkeypatch):
    from harness_reports import plots

    captured = {}
    monkeypatch.setattr(plots, "_encode", lambda fig, alt, caption: captured.setdefault("fig", fig))
    curves = {
        f"{m} · {t}": [(s, 0.5 + 0.01 * i) for i, s in enumerate(BUDGETS)]
        for t in ("high", "low")
        for m in ("ot-distill", "contrastive")
    }  # tier-major, as the analysis lists tier means
    plots.budget_curves(
        list(BUDGETS),
        [0.01, -0.01, 0.02],
        [0, -0.02, 0.01],
        [0.02, 0.0, 0.03],
        curves,
        delta=0.02,
        metric="ndcg@10",
        crossovers=[],
        alt="a",
        caption="c",
        treatment="ot-distill",
        comparator="contrastive",
    )
    ax, bx = captured["fig"].axes[:2]
    lines = {ln.get_label(): ln for ln in bx.get_lines()}
    colour = {k: ln.get_color() for k, ln in lines.items()}
    style = {k: ln.get_linestyle() for k, ln in lines.items()}
    assert colour["ot-distill · high"] == colour["ot-distill · low"] != colour["contrastive · high"]
    assert colour["contrastive · high"] == colour["contrastive · low"]
    assert style["ot-distill · high"] == style["contrastive · high"] != style["ot-distill · low"]
    assert "ot-distill" in ax.get_ylabel() and "\n" in ax.get_ylabel()  # two short lines: not clipped


def test_two_seeds_warn_in_the_terminal_and_the_report(tmp_path, make_results, make_run):
    from harness_reports.report import rerender
    from harness_reports.terminal import print_summary

    run = make_run(tmp_path / "run", make_results(seed=1, n_seeds=2))
    html = rerender(run, force=True).read_text()
    a = json.loads((run / "analysis.json").read_text())
    out = io.StringIO()
    print_summary(a, file=out)
    text = " ".join(out.getvalue().split())
    assert "warning: too few seeds for an interval" in text and "too few seeds for an interval" in html
    assert 'id="few-seeds-warning"' in html


def test_untrained_candidate_lets_the_dev_rule_choose_no_training(tmp_path):
    from harness.config import load_config
    from harness.protocol import select_on_dev, tuned_results

    cfg = tmp_path / "c.toml"
    cfg.write_text(
        'name = "u"\nseeds = [0, 1, 2]\nmetrics = ["ndcg@10"]\n[benchmark]\nname = "synthetic"\n'
        "[methods.zero-shot]\n[methods.ot-distill]\n[methods.contrastive]\n[question]\nuntrained_candidate = true\n"
    )
    config = load_config(cfg)
    dev = sim(-0.05, 0.04, seed=1)  # on dev, training hurts ot-distill and helps contrastive
    test = sim(-0.05, 0.04, seed=2)
    budgets = pd.concat(
        [
            d[d.method != "zero-shot"].assign(split=split, budget_steps=s, budget_examples=s, budget_seconds=1.0)
            for split, d in (("dev", dev), ("test", test))
            for s in (100, 200)
        ],
        ignore_index=True,
    )
    sel = select_on_dev(config, dev, budgets)
    for g in ("ot-distill", "contrastive"):
        assert sel[g].candidates[0].steps == 0 and sel[g].candidates[0].method == "zero-shot"
        assert len(sel[g].candidates) == 3  # the same grid for every trained method: 0, 100, final
    assert sel["ot-distill"].chosen.steps == 0 and sel["contrastive"].chosen.steps != 0
    table = tuned_results(test, budgets.drop(columns=[]), sel)
    ot = table[table.method == "ot-distill"].drop(columns="method").reset_index(drop=True)
    teacher = test[test.method == "zero-shot"].drop(columns="method").reset_index(drop=True)
    pd.testing.assert_frame_equal(ot, teacher)
