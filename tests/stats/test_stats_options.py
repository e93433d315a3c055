"""AnalysisOptions: defaults, validation with key paths, immutability."""

from __future__ import annotations

import pydantic
import pytest

from harness.errors import ConfigError
from harness.stats import AnalysisOptions


def test_defaults_are_the_documented_ones():
    o = AnalysisOptions()
    assert (o.primary_metric, o.metrics, o.alpha, o.n_permutations, o.n_bootstrap) == (
        "ndcg@10",
        None,
        0.05,
        10_000,
        2_000,
    )
    assert (o.correction, o.seed, o.treatment, o.comparator, o.baseline) == (
        "holm",
        0,
        "ot-distill",
        "contrastive",
        "zero-shot",
    )
    assert (o.high_tier, o.low_tier, o.target_difference, o.power) == ("high", "low", 0.02, 0.8)


@pytest.mark.parametrize(
    ("key", "value", "fragment"),
    [
        ("alpha", 0.7, "0 < alpha < 0.5"),
        ("n_permutations", 10, ">= 99"),
        ("correction", "bonferroni", "'holm' or 'fdr_bh'"),
        ("power", 1.5, "0 < power < 1"),
        ("target_difference", 0, "> 0"),
        ("metrics", [], "non-empty"),
        ("methods", ["a", "a"], "distinct"),
    ],
)
def test_bad_values_name_the_key_path(key, value, fragment):
    with pytest.raises(ConfigError) as e:
        AnalysisOptions(**{key: value})
    assert e.value.path == f"analysis.{key}"
    assert e.value.value == value
    assert fragment in e.value.allowed


def test_unknown_key_suggests_the_closest():
    with pytest.raises(ConfigError) as e:
        AnalysisOptions(n_permutation=100)
    assert e.value.path == "analysis.n_permutation"
    assert "did you mean 'n_permutations'" in str(e.value)


def test_cross_field_checks_name_the_field():
    with pytest.raises(ConfigError) as e:
        AnalysisOptions(high_tier="x", low_tier="x")
    assert e.value.path == "analysis.low_tier"
    with pytest.raises(ConfigError) as e:
        AnalysisOptions(treatment="m", comparator="m")
    assert e.value.path == "analysis.comparator"


def test_frozen_and_serialisable():
    o = AnalysisOptions(metrics=["ndcg@10"], baseline=None)
    with pytest.raises(pydantic.ValidationError):
        o.alpha = 0.1  # type: ignore[misc]
    dumped = o.model_dump(mode="json")
    assert dumped["metrics"] == ["ndcg@10"] and dumped["baseline"] is None
    assert AnalysisOptions(**dumped) == o
