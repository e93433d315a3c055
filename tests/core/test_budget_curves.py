"""Budget curves from one training run: a checkpoint equals a separate run trained to that budget.

``eval_at = [0.5]`` in a 1-epoch ``ot-distill`` cell evaluates the student after half an
epoch.  The learning-rate schedule is set for the final budget, so the matching separate run
is ``epochs = 0.5`` with ``schedule_epochs = 1`` (same seed; variants of one plugin share its
data and dropout streams): every per-query score must be identical on CPU.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
from tiny_config import TINY

from harness.config import load_config
from harness_reports import run_and_report

EXTRA = """
[methods.ot-distill]
epochs = 1
batch_size = 16
eval_at = [0.5]
[methods.ot-half]
uses = "ot-distill"
epochs = 0.5
schedule_epochs = 1
batch_size = 16
[methods.contrastive]
epochs = 1
batch_size = 16
eval_at = [0.5]
"""


@pytest.mark.slow
def test_checkpoint_equals_a_separate_run_and_curves_are_analysed(tmp_path, tiny_cache):
    cfg = tmp_path / "b.toml"
    cfg.write_text(TINY.format(extra=EXTRA))
    res = run_and_report(
        load_config(cfg), run_dir=tmp_path / "run", cache=tiny_cache, progress=False, log=lambda s: None
    )
    assert res.status == "complete", res.failed
    budgets = pd.read_parquet(tmp_path / "run" / "budgets.parquet")
    results = pd.read_parquet(tmp_path / "run" / "results.parquet")
    assert set(budgets.split) == {"dev", "test"}  # checkpoints are scored on both; only test is ever reported
    budgets = budgets[budgets.split == "test"].drop(columns=["split"])
    ot = budgets[budgets.method == "ot-distill"]
    steps = sorted(ot.budget_steps.unique())
    assert len(steps) == 2  # the checkpoint and the final budget
    half = ot[ot.budget_steps == steps[0]].drop(columns=["budget_steps", "budget_examples", "budget_seconds"])
    separate = results[results.method == "ot-half"].assign(method="ot-distill")
    key = ["seed", "language", "query_id", "metric"]
    a = half.sort_values(key).reset_index(drop=True)
    b = separate.sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b[a.columns], check_exact=True)
    # the final point of the curve is the cell's own result
    final = ot[ot.budget_steps == steps[1]].drop(columns=["budget_steps", "budget_examples", "budget_seconds"])
    pd.testing.assert_frame_equal(
        final.sort_values(key).reset_index(drop=True),
        results[results.method == "ot-distill"].sort_values(key).reset_index(drop=True),
        check_exact=True,
    )
    assert (ot.budget_examples == ot.budget_steps * 16).all() and (ot.budget_seconds > 0).all()

    analysis = json.loads((tmp_path / "run" / "analysis.json").read_text())
    curves = analysis["budget_curves"]
    assert [p["steps"] for p in curves["points"]] == [int(s) for s in steps]
    # two seeds: D at every budget, but too few seeds for an interval (the question's rule)
    assert all(isinstance(p["D"], float) and p["ci"] is None for p in curves["points"])
    assert isinstance(curves["verdict_holds_across_budgets"], bool)
    assert {m["method"] for m in curves["points"][0]["tier_means"]} >= {"ot-distill", "contrastive", "zero-shot"}

    # the protocol: budgets chosen on dev, headline on test only
    protocol = analysis["protocol"]
    assert protocol["tuned_on"] == "dev" and protocol["reported_on"] == "test"
    sel = protocol["selections"]["ot-distill"]
    assert sel["grid_size"] == 2 and sel["chosen"]["steps"] in (None, int(steps[0]))
    dev = pd.read_parquet(tmp_path / "run" / "dev_results.parquet")
    assert dev.query_id.str.contains("-dev").all() and not results.query_id.str.contains("-dev").any()

    # the report shows the protocol's choices and the curve, and says whether the verdict holds across budgets
    html = (tmp_path / "run" / "report.html").read_text()
    assert 'id="protocol-choices"' in html and 'id="budget-table"' in html and 'id="budget-verdict"' in html
    assert "ot-distill" in html and ("at every budget tried" in html or "changes with the budget" in html)
    # the dev rule is a sentence: it starts with a capital letter in the report
    assert '<p class="small" id="protocol-rule">Each method' in html
