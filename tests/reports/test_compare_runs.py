"""`harness compare`: paired per-query comparison of two hand-made runs."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from harness.stats.streams import stream
from harness.stats.two_runs import adjust_pvalues, paired_differences
from harness_reports.compare import IncomparableRunsError, build_comparison, compare_runs, headline

SHIFT = 0.05


def _run_b(results: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Run B: every score perturbed by small noise, ot-distill's also raised by SHIFT."""
    b = results.copy()
    b["value"] = b["value"] + rng.normal(0, 0.01, len(b)) + np.where(b["method"] == "ot-distill", SHIFT, 0.0)
    return b


@pytest.fixture
def two_runs(tmp_path, make_results, make_run):
    a = make_results(seed=5)
    b = _run_b(a, np.random.default_rng(1))
    run_a = make_run(tmp_path / "old", a)
    run_b = make_run(tmp_path / "new", b)
    man = json.loads((run_b / "manifest.json").read_text())
    man["methods"]["ot-distill"]["version"] = "2.0"
    man["methods"]["ot-distill"]["options"] = {"lr": 5e-5, "note": "<script>alert(1)</script>"}
    man["config"]["methods"]["ot-distill"] = {"lr": 5e-5}
    (run_b / "manifest.json").write_text(json.dumps(man))
    return run_a, run_b


def test_detects_the_shifted_method_only(two_runs):
    c = build_comparison(*two_runs)
    assert c.methods[[m["name"] for m in c.methods].index("ot-distill")]["version_b"] == "2.0"
    rows = [r for r in c.rows if r.metric == "ndcg@10"]
    ot = [r for r in rows if r.method == "ot-distill"]
    assert len(ot) == 5 and ot[-1].language == "macro"  # 4 languages + macro
    for r in ot:
        assert r.significant and r.ci_low < SHIFT < r.ci_high and r.difference == pytest.approx(SHIFT, abs=0.01)
    others = [r for r in rows if r.method != "ot-distill"]
    assert not any(r.significant for r in others)
    assert all(abs(r.difference) < 0.01 for r in others)
    # config differences name the changed option
    assert any(d["key"] == "methods.ot-distill.lr" for d in c.config_differences)
    # the queries that changed most are ot-distill's, largest |d| first
    changed = [q for q in c.queries if q.method == "ot-distill"]
    assert changed and all(abs(x.difference) >= abs(y.difference) for x, y in zip(changed, changed[1:]))


def test_writes_report_and_exports(two_runs):
    run_a, run_b = two_runs
    path = compare_runs(run_a, run_b)
    assert path == run_b.parent / "compare-old-vs-new" / "compare.html"  # beside the runs, never inside one
    html = path.read_text()
    for sid in ("headline", "setup", "differences", "queries"):
        assert f'<section id="{sid}"' in html
    assert "<script" not in html.lower() and "&lt;script&gt;" in html
    assert "ot-distill (version 1.0 in A, 2.0 in B): run B is higher" in html
    out = path.parent
    langs = pd.read_csv(out / "compare_languages.csv")
    assert {"method", "language", "difference", "ci_low", "ci_high", "p_adjusted", "significant"} <= set(langs.columns)
    assert set(langs.language) == {"de", "en", "sw", "yo", "macro"}
    assert len(pd.read_csv(out / "compare_queries.csv")) > 0
    tex = (out / "compare_languages.tex").read_text()
    assert "\\toprule" in tex and "\\bottomrule" in tex and "ot-distill & macro" in tex
    data = json.loads((out / "compare.json").read_text())
    again = compare_runs(run_a, run_b, out_dir=out)
    assert again == path and json.loads((out / "compare.json").read_text()) == data  # deterministic


def test_different_data_is_not_paired(two_runs):
    run_a, run_b = two_runs
    man = json.loads((run_b / "manifest.json").read_text())
    man["dataset_fingerprints"]["languages"]["sw"] = "changed"
    (run_b / "manifest.json").write_text(json.dumps(man))
    c = build_comparison(run_a, run_b)
    assert "sw" not in c.languages and c.excluded_languages[0]["language"] == "sw"
    assert "different data" in c.excluded_languages[0]["reason"]


def test_no_common_method(tmp_path, make_results, make_run):
    a = make_run(tmp_path / "a", make_results(methods=("bm25",)))
    b = make_run(tmp_path / "b", make_results(methods=("zero-shot",)))
    with pytest.raises(IncomparableRunsError, match="no finished method in common"):
        build_comparison(a, b)


def test_bridge_matches_scipy_and_is_reproducible():
    rng = np.random.default_rng(0)
    a = [rng.random(30), rng.random(50)]
    b = [x + 0.1 + rng.normal(0, 0.2, x.size) for x in a]
    per, macro = paired_differences(
        list(zip(a, b)), [stream(0, "t", i) for i in range(2)], n_permutations=999, ci_level=0.95
    )
    for r, x, y in zip(per, a, b):
        ref = stats.ttest_rel(y, x)
        assert r.p_t == pytest.approx(ref.pvalue, rel=1e-9)
        ci = ref.confidence_interval(0.95)
        assert (r.ci_low, r.ci_high) == pytest.approx((ci.low, ci.high), rel=1e-9)
        assert r.difference == pytest.approx(float(np.mean(y - x)))
        assert r.p_randomization * 1000 == pytest.approx(round(r.p_randomization * 1000))  # (b + 1) / (B + 1)
    assert macro.difference == pytest.approx(np.mean([r.difference for r in per]))
    again, macro2 = paired_differences(
        list(zip(a, b)), [stream(0, "t", i) for i in range(2)], n_permutations=999, ci_level=0.95
    )
    assert [r.p_randomization for r in again] == [r.p_randomization for r in per]
    assert macro2 == macro
    assert list(adjust_pvalues([0.01, 0.04, 0.03], "holm")) == pytest.approx([0.03, 0.06, 0.06])


# ------------------------------------------------------------------ how the two runs relate
def _split_seeds(make_results, make_run, tmp_path, seeds_a=(0, 1), seeds_b=(2, 3)):
    """Two runs of one config (one simulated world) that differ only in their seeds: pure seed noise."""
    res = make_results(seed=11, n_seeds=len(seeds_a) + len(seeds_b))
    a, b = res[res.seed.isin(seeds_a)], res[res.seed.isin(seeds_b)]
    run_a = make_run(tmp_path / "seeds-a", a)
    run_b = make_run(tmp_path / "seeds-b", b)
    return run_a, run_b


def test_a_run_compared_with_itself_is_refused(two_runs, capsys):
    from harness.cli import EXIT_USAGE, main

    run_a, _ = two_runs
    with pytest.raises(IncomparableRunsError, match="same directory"):
        build_comparison(run_a, run_a)
    assert main(["compare", str(run_a), str(run_a / ".." / run_a.name)]) == EXIT_USAGE
    assert "same directory" in capsys.readouterr().err
    assert not (run_a.parent / f"compare-{run_a.name}-vs-{run_a.name}").exists()


def test_a_copy_of_a_run_is_flagged_identical(two_runs, tmp_path):
    import shutil

    run_a, _ = two_runs
    copy = tmp_path / "copy"
    shutil.copytree(run_a, copy)
    c = build_comparison(run_a, copy)
    assert c.relation == "identical" and "identical per-query scores" in c.warnings[0]
    assert not any(r.significant for r in c.rows) and all(r.difference == 0 for r in c.rows)
    assert headline(c)[0].startswith("Run A and run B hold identical per-query scores")


def test_runs_differing_only_in_seeds_are_flagged_and_seed_noise_is_not_significant(tmp_path, make_results, make_run):
    run_a, run_b = _split_seeds(make_results, make_run, tmp_path)
    c = build_comparison(run_a, run_b)
    assert [d["key"] for d in c.config_differences] == ["seeds"]
    assert c.relation == "seeds-only" and "differ only in their seeds" in c.warnings[0]
    # query-paired tests hold the checkpoints fixed: shown, never called significant
    assert not any(r.significant for r in c.rows)
    text = " ".join(headline(c))
    assert "differ only in their seeds" in text and "significant difference" not in text
    # the seed sets are compared over seeds (Welch t on per-seed macro means, as scipy computes it)
    assert {s["method"] for s in c.seed_sets} == {m["name"] for m in c.methods}
    res = pd.read_parquet(run_a / "results.parquet"), pd.read_parquet(run_b / "results.parquet")
    per_seed = [
        r[(r.method == "ot-distill") & (r.metric == "ndcg@10")]
        .groupby(["seed", "language"])["value"]
        .mean()
        .groupby(level="seed")
        .mean()
        for r in res
    ]
    ot = next(s for s in c.seed_sets if s["method"] == "ot-distill")
    assert tuple(ot["seeds_a"]) == (0, 1) and tuple(ot["seeds_b"]) == (2, 3)
    assert ot["p_value"] == pytest.approx(stats.ttest_ind(per_seed[1], per_seed[0], equal_var=False).pvalue)
    assert ot["difference"] == pytest.approx(per_seed[1].mean() - per_seed[0].mean())
    assert json.loads(json.dumps(c.to_dict()))["relation"] == "seeds-only"
    html = compare_runs(run_a, run_b).read_text()
    assert 'id="seed-sets"' in html and f"{ot['p_value']:.3g}" in html and 'class="sig"' not in html


def test_seed_set_test_is_calibrated_under_pure_seed_noise():
    """Seed sets drawn from one distribution: the Welch test over seeds rejects at about alpha."""
    from harness.stats.two_runs import seed_set_difference

    rng = np.random.default_rng(0)
    p = np.array(
        [
            seed_set_difference(
                dict(enumerate(rng.normal(0.4, 0.01, 5))), dict(enumerate(rng.normal(0.4, 0.01, 5))), ci_level=0.95
            ).p_value
            for _ in range(2000)
        ]
    )
    assert 0.03 < (p < 0.05).mean() < 0.07
    one = seed_set_difference({0: 0.4}, {1: 0.5}, ci_level=0.95)
    assert np.isnan(one.p_value) and "fewer than 2 seeds" in one.note


def test_compare_prints_a_terminal_summary(two_runs, capsys):
    from harness.cli import main

    assert main(["compare", *map(str, two_runs)]) == 0
    out = capsys.readouterr().out
    assert "Comparison: B = " in out and "ndcg@10, macro over 4 languages" in out
    rows = {x.split()[0]: x.split() for x in out.splitlines() if re.match(r"^[\w-]+ +0\.\d{4} ", x)}
    assert set(rows) == {"bm25", "contrastive", "ot-distill", "zero-shot"}
    assert rows["ot-distill"][-1] == "yes" and abs(float(rows["ot-distill"][3]) - 0.05) < 0.005  # planted +0.05
    assert rows["bm25"][-1] == "no"
    assert "comparison report: " in out and out.rstrip().endswith("compare.html")


def test_compare_summary_flags_seed_only_runs(tmp_path, make_results, make_run, capsys):
    from harness.cli import main

    run_a, run_b = _split_seeds(make_results, make_run, tmp_path)
    assert main(["compare", str(run_a), str(run_b)]) == 0
    out = capsys.readouterr().out
    assert "SEEDS ONLY: run A and run B differ only in their seeds" in " ".join(out.split())
    assert "over seeds (Welch p)" in out and "significant" not in out.split("over seeds (Welch p)")[1]


def _world_runs(tmp_path, make_results, make_run, offsets: list[float]):
    """Two runs over the same len(offsets) worlds; B = A + small noise, ot-distill moved by offsets[w] in world w."""
    a = pd.concat(
        [make_results(seed=10 + w, metrics=("ndcg@10",)).assign(world=str(w)) for w in range(len(offsets))],
        ignore_index=True,
    )
    b = a.copy()
    b["value"] = b["value"] + np.random.default_rng(2).normal(0, 0.01, len(b))
    for w, o in enumerate(offsets):
        b.loc[(b["world"] == str(w)) & (b["method"] == "ot-distill"), "value"] += o
    return make_run(tmp_path / "a", a), make_run(tmp_path / "b", b)


def _macro(c, method="ot-distill"):
    return next(r for r in c.rows if r.method == method and r.language == "macro")


def test_compare_over_worlds_does_not_call_a_world_by_method_interaction_significant(tmp_path, make_results, make_run):
    c = build_comparison(*_world_runs(tmp_path, make_results, make_run, [0.06, -0.05, 0.05]))
    r = _macro(c)
    assert r.p_randomization < 0.01  # queries pooled over worlds: "significant"
    w = r.worlds
    assert [round(x["mean_diff"], 2) for x in w["per_world"]] == [0.06, -0.05, 0.05]
    assert all(x["p_value"] < 1e-3 for x in w["per_world"])  # each world's own paired t-test
    assert w["df"] == 2 and r.p_worlds == w["p_value"] > 0.3 and r.significant is False
    assert any("decided over the worlds" in x for x in c.warnings)
    assert "Over 3 worlds" in " ".join(headline(c))


def test_compare_over_worlds_finds_a_consistent_shift_and_gives_no_test_with_two(tmp_path, make_results, make_run):
    c = build_comparison(*_world_runs(tmp_path / "3", make_results, make_run, [0.05, 0.05, 0.05]))
    assert _macro(c).significant is True and _macro(c).p_worlds < 0.01
    assert not any(r.significant for r in c.rows if r.method != "ot-distill")
    two = build_comparison(*_world_runs(tmp_path / "2", make_results, make_run, [0.05, 0.05]))
    r = _macro(two)
    assert r.worlds is not None and r.p_worlds is None and r.significant is None
    assert "too few for a test over worlds" in " ".join(headline(two))


def test_compare_page_and_csv_show_the_test_over_worlds(tmp_path, make_results, make_run):
    path = compare_runs(*_world_runs(tmp_path, make_results, make_run, [0.06, -0.05, 0.05]))
    html = path.read_text()
    assert "p (worlds)" in html and "t over worlds" in html and "decided over the worlds" in html
    langs = pd.read_csv(path.parent / "compare_languages.csv")
    macro = langs[(langs.method == "ot-distill") & (langs.language == "macro")].iloc[0]
    per = [x.split(":") for x in macro["per_world"].split(";")]
    assert [w for w, _ in per] == ["0", "1", "2"] and [round(float(d), 2) for _, d in per] == [0.06, -0.05, 0.05]
    assert macro["p_worlds"] > 0.3 and not macro["significant"]
