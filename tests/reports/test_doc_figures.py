"""docs/results.md's run figures are the ones perf/doc_figures.py writes from the stored runs."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def script():
    spec = importlib.util.spec_from_file_location("doc_figures", ROOT / "perf" / "doc_figures.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_default_block_matches_the_stored_run():
    mod = script()
    stored = json.loads(mod.STORED.read_text())
    block = mod.doc_block(mod.DOC.read_text())
    assert block == mod.render(stored), "docs/results.md drifted: run `python perf/doc_figures.py RUN_DIR`"
    # the block quotes the stored D and the interval that decided the verdict, and every method's tier means
    q = stored["question"]
    d = q.get("decisive_interval") or q["difference"][q["endpoint"]]
    assert f"D = {d['estimate']:+.4f}, 95% CI [{d['ci'][0]:.4f}, {d['ci'][1]:.4f}]" in block
    for t in stored["tier_means"]:
        assert mod._f(t["mean"]) in block


def test_terminal_example_quotes_the_stored_run():
    import re

    mod = script()
    stored = json.loads(mod.STORED.read_text())
    text = mod.STATS_DOC.read_text()
    start = text.index("At the end of `harness run` and `harness report DIR`")
    example = text[text.index("```", start) : text.index("```", text.index("```", start) + 3)]
    numbers = re.findall(r"[+-]?\d\.\d{3}(?!\d)", example)
    assert numbers, "the terminal example of docs/statistics.md shows no figures"
    assert set(numbers) <= mod.quoted_numbers(stored), set(numbers) - mod.quoted_numbers(stored)


def test_stored_run_used_the_current_default_config():
    from harness.config import load_config

    mod = script()
    stored = json.loads(mod.STORED.read_text())
    assert stored["run"]["config_sha256"] == load_config("default").sha256()


def test_full_block_matches_the_stored_full_run():
    mod = script()
    stored = json.loads(mod.FULL.read_text())
    block = mod.doc_block(mod.DOC.read_text(), mod.FULL_BEGIN, mod.FULL_END)
    assert block == mod.render(stored, "full"), "run `python perf/doc_figures.py --full RUN_DIR`"
    assert "`harness run full`" in block and "--full RUN_DIR" in block
    for t in stored["tier_means"]:
        assert mod._f(t["mean"]) in block


def test_full_config_is_the_one_the_stored_full_run_used(tmp_path):
    """The stored full run predates this round's changes (world generator 4, the question's roles, OT's layer):
    it is marked superseded, its block says so, and without the mark ``--check`` refuses the stale figures."""
    mod = script()
    stored = json.loads(mod.FULL.read_text())
    sup = stored["run"]["superseded"]
    assert mod.config_sha("full", stored) != stored["run"]["config_sha256"]  # the config moved on since the run
    block = mod.doc_block(mod.DOC.read_text(), *mod.RUNS["full"][1])
    assert f"**Superseded (since {sup['since']}):**" in block and sup["by"] in block
    unmarked = json.loads(json.dumps(stored))
    del unmarked["run"]["superseded"]
    path = tmp_path / "full_run.json"
    path.write_text(json.dumps(unmarked))
    mod.RUNS["full"] = (path, *mod.RUNS["full"][1:])
    text = mod.DOC.read_text().replace(block, mod.render(unmarked, "full"))
    assert mod.check(text) == 1
    # options added since a run are left out of the hash only at the value the run used
    other = json.loads(json.dumps(stored))
    other["run"]["predates"] = {"mini.threads": 2}  # the run did not use 2 threads: today's null cannot match
    assert "mini.threads = None now" in mod.config_sha("full", other)


def test_check_passes_on_the_repository():
    assert script().check(script().DOC.read_text()) == 0


def test_a_changed_figure_is_caught(tmp_path):
    mod = script()
    stored = json.loads(mod.STORED.read_text())
    stored["tier_means"][0]["mean"] += 0.01
    assert mod.render(stored) != mod.doc_block(mod.DOC.read_text())


def test_extract_reads_a_run_directory(tmp_path, make_results, make_run):
    from harness_reports import rerender

    mod = script()
    run = make_run(tmp_path / "run", make_results(seed=2))
    rerender(run, force=True)  # analysis.json inside the hand-made run, as the runner writes it
    fig = mod.extract(run)
    block = mod.render(fig)
    assert block.startswith(mod.BEGIN) and block.endswith(mod.END)
    full = mod.render(fig, "full")
    assert full.startswith(mod.FULL_BEGIN) and full.endswith(mod.FULL_END) and "in the full run" in full
    assert "| high tier |" in block and "| low tier |" in block and "Verdict (" in block
    assert "Low-tier means per seed (seeds 0, 1, 2)" in block


def test_science_block_matches_the_stored_science_run():
    mod = script()
    stored = json.loads(mod.SCIENCE.read_text())
    block = mod.doc_block(mod.DOC.read_text(), mod.SCI_BEGIN, mod.SCI_END)
    assert block == mod.render_science(stored), "run `python perf/doc_figures.py --science RUN_DIR`"
    assert [m["mode"] for m in stored["modes"]] == ["monolingual", "cross-lingual"]
    for m in stored["modes"]:
        assert f"**{m['mode']}**" in block
        for t in m["tier_means"]:
            if t["tier"] in ("high", "low"):  # the pivot's own row (left out of the cross-lingual tiers) is not quoted
                assert mod._f(t["mean"]) in block


def test_science_controls_are_found_from_the_runs_methods():
    mod = script()
    fig = {
        "methods": {
            "ot-distill": {"plugin": "ot-distill", "student_side": "query", "shuffle_bitext": False, "align_weight": 1},
            "ot-shuffled": {"plugin": "ot-distill", "student_side": "query", "shuffle_bitext": True, "align_weight": 1},
            "ot-anchor-only": {
                "plugin": "ot-distill",
                "student_side": "query",
                "shuffle_bitext": False,
                "align_weight": 0.0,
            },
            "ot-both": {"plugin": "ot-distill", "student_side": "both", "shuffle_bitext": True, "align_weight": 1},
            "contrastive": {"plugin": "contrastive", "student_side": "query", "shuffle_bitext": False},
            "language-centring": {"plugin": "language-centring"},
        }
    }
    assert mod._controls(fig, "ot-distill") == {
        "shuffled bitext": "ot-shuffled",
        "anchor only": "ot-anchor-only",
        "per-language centring": "language-centring",
    }
    assert mod._controls(fig, "contrastive") == {"per-language centring": "language-centring"}


def test_figures_name_the_numerics_environment_they_came_from(tmp_path, make_results, make_run):
    from harness.numerics import numerics_environment
    from harness_reports import rerender

    mod = script()
    env = numerics_environment()
    run = make_run(tmp_path / "run", make_results(seed=2), numerics=env)
    rerender(run, force=True)
    assert mod.extract(run)["run"]["environment"] == env["summary"]
    old = make_run(tmp_path / "old", make_results(seed=2))  # a manifest from before numerics were recorded
    rerender(old, force=True)
    assert mod.extract(old)["run"]["environment"] is None
    assert f'id="numerics">{env["summary"]}' in (run / "report.html").read_text().replace("&#43;", "+")


def test_sensitivity_block_matches_the_stored_sweep():
    mod = script()
    stored = json.loads(mod.SENSITIVITY.read_text())
    block = mod.doc_block(mod.DOC.read_text(), mod.SENS_BEGIN, mod.SENS_END)
    assert block == mod.render_sensitivity(stored), "run `python perf/doc_figures.py --sensitivity SWEEP_DIR`"
    assert len(stored["points"]) >= 2 and len(stored["run"]["worlds"]) >= 2  # a map, >= 2 worlds per point
    for p in stored["points"]:
        assert f"| {p['id']} |" in block
        if p.get("D") is not None:
            assert f"{p['D']:+.4f}" in block


def test_a_changed_sensitivity_figure_is_caught():
    mod = script()
    stored = json.loads(mod.SENSITIVITY.read_text())
    text = mod.DOC.read_text()
    assert mod.check(text) == 0
    p = next(p for p in stored["points"] if p.get("D") is not None)
    p["D"] += 0.01
    changed = text.replace(mod.doc_block(text, mod.SENS_BEGIN, mod.SENS_END), mod.render_sensitivity(stored))
    assert changed != text and mod.check(changed) == 1
