"""Stages cached by what determines them: a metric added re-scores stored runs (no teacher,
no fit, no encoding); BM25 runs are computed once per language, not per seed; a corpus is
tokenised once for every encoder with the same tokenizer."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from tiny_config import TINY  # noqa: E402  (tests/core is on sys.path)

from harness.cache import Cache
from harness.config import load_config
from harness.index import read_cache_log
from harness.runner import run_matrix


def _run(tmp: Path, name: str, cache: Cache, metrics: str):
    cfg = tmp / f"{name}.toml"
    cfg.write_text(
        TINY.format(extra="").replace('metrics = ["ndcg@10", "recall@100", "mrr@10"]', f"metrics = {metrics}")
    )
    return run_matrix(load_config(cfg), run_dir=tmp / name, cache=cache, progress=False, log=lambda s: None)


def test_adding_a_metric_encodes_nothing_and_bm25_is_seed_invariant(tmp_path):
    cache = Cache(tmp_path / "cache")
    first = _run(tmp_path, "a", cache, '["ndcg@10", "recall@100"]')
    assert first.status == "complete"
    log1 = read_cache_log(cache.root)
    bm25 = [e for e in log1 if e["stage"] == "run" and e["method"] == "bm25"]
    assert {e["event"] for e in bm25 if e["seed"] == 0} == {"computed"}
    assert {e["event"] for e in bm25 if e["seed"] == 1} == {"hit"}  # same run for every seed
    built = [e for e in log1 if e["stage"] == "docindex" and e["event"] == "built"]
    assert len(built) == 2 * 4  # zero-shot: one index per (seed's teacher, language)
    toks = [e["event"] for e in log1 if e["stage"] == "tokens"]
    assert toks.count("built") == 4 and toks.count("hit") == 4  # tokenised once: seed 1's teacher reuses seed 0's ids
    teachers = sorted(p.name for p in (cache.root / "teacher").iterdir() if not p.name.startswith("."))

    second = _run(tmp_path, "b", cache, '["ndcg@10", "recall@100", "mrr@10"]')
    assert second.status == "complete"
    new = read_cache_log(cache.root)[len(log1) :]
    assert new and all(e["stage"] == "run" and e["event"] == "hit" for e in new), new  # nothing encoded or fitted
    assert sorted(p.name for p in (cache.root / "teacher").iterdir() if not p.name.startswith(".")) == teachers
    a = pd.read_parquet(first.run_dir / "results.parquet")
    b = pd.read_parquet(second.run_dir / "results.parquet")
    assert set(b["metric"]) == {"ndcg@10", "recall@100", "mrr@10"}
    keep = b[b["metric"] != "mrr@10"].reset_index(drop=True)
    pd.testing.assert_frame_equal(
        a.sort_values(list(a.columns[:6])).reset_index(drop=True),
        keep.sort_values(list(a.columns[:6])).reset_index(drop=True),
    )
