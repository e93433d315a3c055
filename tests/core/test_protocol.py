"""The dev rule: the highest dev score wins (ties: the first candidate); the headline uses test rows only."""

from __future__ import annotations

import pandas as pd

from harness.config import config_from_dict
from harness.protocol import select_on_dev, tuned_results


def _rows(method, split_tag, values, steps=None):
    rows = []
    for seed in (0, 1):
        for lang, v in values.items():
            for q in range(3):
                rows.append(
                    {
                        "method": method,
                        "seed": seed,
                        "language": lang,
                        "tier": "high" if lang == "en" else "low",
                        "query_id": f"{lang}-{split_tag}{q}",
                        "metric": "ndcg@10",
                        "value": v,
                    }
                )
    df = pd.DataFrame(rows)
    if steps is not None:
        df["split"] = "dev" if split_tag == "dev" else "test"
        df["budget_steps"], df["budget_examples"], df["budget_seconds"] = steps, steps * 8, 1.0
    return df


def test_dev_rule_picks_the_best_dev_candidate_and_reports_its_test_rows():
    config = config_from_dict({"methods": {"bm25": {"sweep": {"b": [0.3, 0.7]}}, "zero-shot": {}}})
    names = [m.name for m in config.methods]
    dev = pd.concat(
        [
            _rows(names[0], "dev", {"en": 0.5, "sw": 0.3}),
            _rows(names[1], "dev", {"en": 0.6, "sw": 0.3}),
            _rows("zero-shot", "dev", {"en": 0.4, "sw": 0.1}),
        ]
    )
    test = pd.concat(
        [
            _rows(names[0], "q", {"en": 0.9, "sw": 0.9}),
            _rows(names[1], "q", {"en": 0.2, "sw": 0.2}),
            _rows("zero-shot", "q", {"en": 0.4, "sw": 0.1}),
        ]
    )
    sel = select_on_dev(config, dev, None)
    assert sel["bm25"].chosen.method == "bm25@b=0.7"  # chosen on dev, although its test score is worse
    assert sel["bm25"].swept == {"b": 0.7} and len(sel["bm25"].candidates) == 2
    head = tuned_results(test, None, sel)
    assert set(head.method) == {"bm25", "zero-shot"}
    assert head[head.method == "bm25"].value.eq(0.2).all()
    assert not head.query_id.str.contains("dev").any()


def test_checkpoint_budgets_are_candidates_and_ties_keep_the_first():
    config = config_from_dict({"methods": {"zero-shot": {}}})
    budgets = pd.concat(
        [_rows("zero-shot", "dev", {"en": 0.5}, steps=s) for s in (10, 20)]
        + [_rows("zero-shot", "q", {"en": v}, steps=s) for s, v in ((10, 0.7), (20, 0.1))]
    )
    dev = _rows("zero-shot", "dev", {"en": 0.5})
    sel = select_on_dev(config, dev, budgets)["zero-shot"]
    assert [c.steps for c in sel.candidates] == [10, None]  # 20 is the final budget = the cell's own result
    assert sel.chosen.steps == 10  # tie on dev: the smaller budget, first in grid order
    test = _rows("zero-shot", "q", {"en": 0.1})
    head = tuned_results(test, budgets, {"zero-shot": sel})
    assert head.value.eq(0.7).all() and list(head.columns) == list(test.columns)
