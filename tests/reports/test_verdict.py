"""The verdict sentence (reports.verdict): which "yes" / "no" / "inconclusive" it is, from analysis.json fields."""

from __future__ import annotations

import pytest

from harness_reports.verdict import headline_rows, plain_rows, verdict_summary


def analysis(
    verdict: str,
    d: float | None,
    lo: float | None,
    hi: float | None,
    *,
    delta: float = 0.02,
    degenerate: bool = False,
    reason: str | None = None,
) -> dict:
    return {
        "options": {
            "target_difference": delta,
            "ci_level": 0.95,
            "alpha": 0.05,
            "high_tier": "high",
            "low_tier": "low",
        },
        "question": {
            "metric": "ndcg@10",
            "endpoint": "gap",
            "verdict": verdict,
            "degenerate": degenerate,
            "reason": reason,
            "methods": {"ot": "ot-distill", "contrastive": "contrastive", "baseline": "zero-shot"},
            "difference": {
                "gap": {
                    "estimate": d,
                    "ci": None if lo is None else [lo, hi],
                    "p_value_seed": 0.2,
                    "p_value_query": 0.03,
                }
            },
        },
    }


@pytest.mark.parametrize(
    "verdict, d, lo, hi, finding, words",
    [
        (
            "yes",
            -0.05,
            -0.08,
            -0.03,
            "reduces",
            "ot-distill reduces the high-minus-low gap by 0.0500 more than contrastive",
        ),
        ("yes", -0.01, -0.015, -0.004, "reduces-below-delta", "smaller than the target difference delta = 0.02"),
        # the smoke run of issue 17: significant by the interval, smaller than delta; it used to read as a bare "NO"
        (
            "no",
            -0.0094,
            -0.0148,
            -0.0040,
            "reduces-below-delta",
            "reduces the high-minus-low gap by 0.0094 more than contrastive, but by less than delta: an extra reduction "
            "of delta = 0.02 or more is ruled out",
        ),
        (
            "no",
            0.004,
            -0.0092,
            0.0177,
            "no-extra-reduction",
            "does not reduce the high-minus-low gap detectably more than contrastive, and an extra reduction of delta = "
            "0.02 or more is ruled out",
        ),
        ("no", 0.03, 0.01, 0.05, "larger", "leaves a high-minus-low gap larger by 0.0300 than contrastive"),
        ("inconclusive", -0.01, -0.05, 0.03, "inconclusive", "both no extra reduction"),
        ("inconclusive", -0.03, -0.05, -0.01, "inconclusive", "the tests do not reject at alpha = 0.05"),
    ],
)
def test_each_finding_has_its_own_words(verdict, d, lo, hi, finding, words):
    v = verdict_summary(analysis(verdict, d, lo, hi))
    assert v.verdict == verdict and v.finding == finding
    assert words in v.body
    assert f"D = {d:+.4f}, 95% CI [{lo:.4f}, {hi:.4f}]" in v.body
    assert v.sentence.startswith(v.lead + ": ")
    assert v.question == (
        "Does ot-distill reduce the ndcg@10 gap between high- and low-resource languages more than contrastive?"
    )


def test_the_three_kinds_of_no_read_differently():
    bodies = {
        verdict_summary(analysis("no", d, lo, hi)).body
        for d, lo, hi in ((-0.0094, -0.0148, -0.004), (0.004, -0.0092, 0.0177), (0.03, 0.01, 0.05))
    }
    assert len(bodies) == 3
    reduces, no_more = (
        verdict_summary(analysis("no", d, lo, hi)).body
        for d, lo, hi in ((-0.0094, -0.0148, -0.004), (0.004, -0.0092, 0.0177))
    )
    assert "does not reduce" not in reduces and "does not reduce" in no_more


def test_unanswered_question_says_why():
    v = verdict_summary(
        analysis("inconclusive", None, None, None, degenerate=True, reason="tier 'low' has no language")
    )
    assert v.finding == "unanswered" and "could not be answered: tier 'low' has no language" in v.body


def test_headline_rows_put_the_question_methods_first(make_results, make_manifest):
    from harness.stats import analyze

    results = make_results(seed=5)
    manifest = make_manifest(results)
    a = analyze(results, manifest["config"]["analysis"], tiers=manifest["benchmark"]["tiers"]).to_dict()
    rows = headline_rows(a)
    assert [r.method for r in rows] == ["ot-distill", "contrastive", "zero-shot", "bm25"]
    assert [r.role for r in rows] == ["treatment", "comparator", "baseline", ""]
    bm25 = rows[-1]
    means = {r["tier"]: r for r in a["tier_means"] if r["method"] == "bm25" and r["metric"] == "ndcg@10"}
    assert bm25.high.value == means["high"]["mean"] and bm25.low.ci == tuple(means["low"]["ci"])
    assert bm25.gap.value == pytest.approx(means["high"]["mean"] - means["low"]["mean"]) and bm25.gap.low is None
    assert bm25.reduction is None and rows[0].reduction is not None
    text = plain_rows(rows)
    assert text[-1][4] == "—" and text[0][1].count("[") == 1


def test_a_yes_where_both_methods_widen_the_gap_says_so():
    """The science run's monolingual 'yes': ot-distill widened the gap less than contrastive did."""
    a = analysis("yes", -0.0878, -0.1009, -0.0742)
    a["question"]["per_method"] = [
        {
            "method": "ot-distill",
            "role": "ot",
            "gap_reduction_vs_baseline": {"estimate": -0.025, "ci": [-0.045, -0.007]},
        },
        {
            "method": "contrastive",
            "role": "contrastive",
            "gap_reduction_vs_baseline": {"estimate": -0.113, "ci": [-0.125, -0.101]},
        },
    ]
    v = verdict_summary(a)
    assert v.lead == "Yes"
    assert (
        "Relative to zero-shot, ot-distill widens the high-minus-low gap by 0.025 [0.007, 0.045] and contrastive "
        "by 0.113 [0.101, 0.125] (95% CI)" in v.body
    )
    # one widening method only (the sentence reads as English: subject, verb, object, amount, interval)
    a["question"]["per_method"][0]["gap_reduction_vs_baseline"] = {"estimate": -0.01, "ci": [-0.03, 0.01]}
    body = verdict_summary(a).body
    assert "Relative to zero-shot, contrastive widens the high-minus-low gap by 0.113 [0.101, 0.125] (95% CI)" in body
    assert "ot-distill widens" not in body
    a["question"]["per_method"][1]["gap_reduction_vs_baseline"] = {"estimate": 0.02, "ci": [0.01, 0.03]}
    assert "Relative to" not in verdict_summary(a).body
