"""End to end on MIRACL-format data through ir_datasets' own ``miracl/<lang>/dev`` ids.

``harness run`` (a subprocess with ``IR_DATASETS_HOME`` pointing at the fixture laid out
as ir_datasets keeps MIRACL) with a tiny BERT saved by ``save_pretrained`` and bitext TSVs:
zero-shot, bm25, ot-distill and contrastive over two seeds; the report is rendered.  A
second run with one more metric re-scores stored runs: the cache log shows no document
index built and no run computed, and the shared per-query scores are identical.  Removing a
language recomputes nothing for zero-shot and bm25 (no teacher trained either), and adding
it back recomputes nothing at all.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

VOCAB = (
    "[PAD] [UNK] [CLS] [SEP] [MASK] the a of in is and to river nile longest africa flows north sea "
    "lion lions live savanna mountain highest mto ni mrefu simba mlima tanzania which where do "
    "##s ##a ##i ##o ##e ##ni odo omi"
).split()


def _tiny_bert(path: Path) -> Path:
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    from harness.models.encoder import BiEncoder

    tok = BertTokenizerFast(vocab={w: i for i, w in enumerate(VOCAB)})  # transformers 5: vocab=, not vocab_file=
    cfg = BertConfig(
        vocab_size=len(VOCAB),
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = BertModel(cfg).eval()
    BiEncoder(model, tok, pooling="mean", max_length=32).save_pretrained(path)
    return path


CONFIG = """
name = "miracl-e2e"
seeds = [0, 1]
metrics = {metrics}
device = "cpu"
top_k = 100
[index]
shard_size = 2
[benchmark]
name = "miracl"
languages = {languages}
pivot = "en"
split = "dev"
bitext_dir = "{bitext}"
tiers = {{ en = "high", sw = "low", yo = "low" }}
[model]
base = "{model}"
max_length = 32
[teacher]
epochs = 1
batch_size = 2
max_length = 32
[training]
num_threads = 1
[methods.zero-shot]
[methods.bm25]
[methods.ot-distill]
[methods.contrastive]
[analysis]
n_permutations = 200
n_bootstrap = 100
"""


ALL = '["en", "sw", "yo"]'


def _harness_run(cfg: Path, out: Path, home: Path, cache: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "IR_DATASETS_HOME": str(home), "IR_DATASETS_DL_TRIES": "1", "HARNESS_CACHE": str(cache)}
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", "run", str(cfg), "--out", str(out), "--quiet"],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


@pytest.mark.slow
def test_harness_run_on_miracl_ids(miracl_home, tmp_path):
    from harness.index import read_cache_log

    bitext = tmp_path / "bitext"
    bitext.mkdir()
    (bitext / "sw.tsv").write_text("the longest river\tmto mrefu\nthe lion\tsimba\nthe mountain\tmlima\n")
    (bitext / "yo.tsv").write_text("the river\todo\nthe sea\tomi\n")
    model = _tiny_bert(tmp_path / "tiny-bert")
    cache = tmp_path / "cache"
    cfg = tmp_path / "c.toml"
    cfg.write_text(CONFIG.format(metrics='["ndcg@10", "recall@100"]', bitext=bitext, model=model, languages=ALL))
    proc = _harness_run(cfg, tmp_path / "run", miracl_home, cache)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    run = tmp_path / "run"
    assert (run / "report.html").is_file() and (run / "analysis.json").is_file()
    res = pd.read_parquet(run / "results.parquet")
    assert set(res["method"]) == {"zero-shot", "bm25", "ot-distill", "contrastive"}
    assert set(res["seed"]) == {0, 1} and set(res["language"]) == {"en", "sw", "yo"}
    manifest = json.loads((run / "manifest.json").read_text())
    assert all(c["status"] == "done" for c in manifest["cells"]) if "cells" in manifest else True
    for m in ("zero-shot", "bm25", "ot-distill", "contrastive"):
        assert (run / "runs" / m / "0" / "sw.trec").is_file()
    log1 = read_cache_log(cache)
    built = [e for e in log1 if e["stage"] == "docindex" and e["event"] == "built"]
    assert built and all(e["shards"] >= 1 for e in built)
    assert any(e["shards"] > 1 for e in built)  # en: 5 passages in shards of 2

    cfg.write_text(
        CONFIG.format(metrics='["ndcg@10", "recall@100", "mrr@10"]', bitext=bitext, model=model, languages=ALL)
    )
    proc = _harness_run(cfg, tmp_path / "run2", miracl_home, cache)
    assert proc.returncode == 0, proc.stderr[-4000:]
    new = read_cache_log(cache)[len(log1) :]
    assert new and all(e["stage"] == "run" and e["event"] == "hit" for e in new), new
    res2 = pd.read_parquet(tmp_path / "run2" / "results.parquet")
    cols = ["method", "seed", "language", "query_id", "metric"]
    a = res.sort_values(cols).reset_index(drop=True)
    b = res2[res2["metric"] != "mrr@10"].sort_values(cols).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)

    # removing a language: methods whose fit ignores the language set (zero-shot, bm25) reuse
    # every stored run and the cached teachers; the alignment methods train on the language set
    teachers = sorted(p.name for p in (cache / "teacher").iterdir() if not p.name.startswith("."))
    n_log = len(read_cache_log(cache))
    cfg.write_text(
        CONFIG.format(
            metrics='["ndcg@10", "recall@100", "mrr@10"]', bitext=bitext, model=model, languages='["en", "sw"]'
        )
    )
    proc = _harness_run(cfg, tmp_path / "run3", miracl_home, cache)
    assert proc.returncode == 0, proc.stderr[-4000:]
    new = read_cache_log(cache)[n_log:]
    fixed = [e for e in new if e.get("method") in ("zero-shot", "bm25")]
    assert fixed and all(e["stage"] == "run" and e["event"] == "hit" for e in fixed), fixed
    assert sorted(p.name for p in (cache / "teacher").iterdir() if not p.name.startswith(".")) == teachers
    res3 = pd.read_parquet(tmp_path / "run3" / "results.parquet")
    keep = res2[res2["method"].isin(["zero-shot", "bm25"]) & (res2["language"] != "yo")]
    pd.testing.assert_frame_equal(
        res3[res3["method"].isin(["zero-shot", "bm25"])].sort_values(cols).reset_index(drop=True)[["value"]],
        keep.sort_values(cols).reset_index(drop=True)[["value"]],
    )
    # ... and adding it back recomputes nothing at all
    n_log = len(read_cache_log(cache))
    cfg.write_text(
        CONFIG.format(metrics='["ndcg@10", "recall@100", "mrr@10"]', bitext=bitext, model=model, languages=ALL)
    )
    proc = _harness_run(cfg, tmp_path / "run4", miracl_home, cache)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert all(e["event"] == "hit" for e in read_cache_log(cache)[n_log:])
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "run4" / "results.parquet"), res2)
