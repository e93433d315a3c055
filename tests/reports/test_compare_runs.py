"""`harness compare`: paired per-query comparison of two hand-made runs."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from harness.stats.streams import stream
from harness.stats.two_runs import adjust_pvalues, paired_differences
from harness_reports.compare import IncomparableRunsError, build_comparison, compare_runs

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
