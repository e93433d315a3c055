"""``bm25``: ranking through bm25s, analyzer."""

from __future__ import annotations

import math

import pytest

from harness.benchmarks.base import LanguageData
from harness_methods.bm25 import BM25, BM25Config, analyze


def _data():
    corpus = {
        "d1": "the river water is clean water",
        "d2": "a tree grows near the house",
        "d3": "clean house clean tree",
        "d4": "nothing in common here",
    }
    queries = {"q1": "clean water", "q2": "tree"}
    qrels = {"q1": {"d1": 1}, "q2": {"d2": 1}}
    return LanguageData("xx", "high", corpus, queries, qrels)


def test_bm25_ranks_by_the_formula():
    data = _data()
    searcher = BM25().fit(None)
    run = searcher.search(data.queries, data, k=10)
    assert list(run["q1"])[0] == "d1"
    assert "d4" not in run["q1"] and "d4" not in run["q2"]  # no shared term, no result
    assert set(run["q2"]) == {"d2", "d3"}
    # Hand-computed Lucene BM25 of q2 ("tree") for d2 (k1 = 0.9, b = 0.4).
    n, df = 4, 2
    idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
    lengths = {d: len(analyze(t)) for d, t in data.corpus.items()}
    avgdl = sum(lengths.values()) / n
    tf = 1
    # Lucene (>= 8) drops BM25's constant (k1 + 1) numerator factor; rankings are the same.
    expected = idf * tf / (tf + 0.9 * (1 - 0.4 + 0.4 * lengths["d2"] / avgdl))
    assert run["q2"]["d2"] == pytest.approx(expected, rel=1e-5)


def test_bm25_respects_k():
    data = _data()
    run = BM25().fit(None).search(data.queries, data, k=1)
    assert all(len(r) <= 1 for r in run.values())


def test_bm25_config_is_validated():
    with pytest.raises(ValueError):
        BM25Config(b=1.5)
    with pytest.raises(ValueError):
        BM25Config(variant="bm26")


def test_analyzer_splits_space_less_scripts_into_bigrams():
    assert analyze("Hello 東京都 abc東京") == ["hello", "東京", "京都", "abc", "東京"]
    assert analyze("東京都", bigrams=False) == ["東京都"]
    assert analyze("東") == ["東"]
