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
    protocol = json.loads((run / "analysis.json").read_text())["protocol"]
    assert protocol["tuned_on"] is None and "set benchmark.tuning to tune on dev" in protocol["rule"]
    assert not (run / "dev_results.parquet").exists()
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


TUNING_CONFIG = """
name = "miracl-tuning"
seeds = [0, 1]
metrics = ["ndcg@10", "recall@100"]
device = "cpu"
top_k = 100
[index]
shard_size = 4
[benchmark]
name = "miracl"
languages = ["en", "sw", "yo"]
pivot = "en"
bitext_dir = "{bitext}"
tiers = {{ en = "high", sw = "low", yo = "low" }}
{tuning}
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
sweep = {{ b = [0.3, 0.9] }}
[methods.ot-distill]
epochs = 2
eval_at = [1]
batch_size = 2
[methods.contrastive]
epochs = 2
eval_at = [1]
batch_size = 2
[analysis]
n_permutations = 200
n_bootstrap = 100
"""


def _query_ids(df: pd.DataFrame, language: str) -> set[str]:
    return set(df[df["language"] == language]["query_id"])


@pytest.mark.slow
def test_tuning_on_miracl_chooses_on_dev_and_reports_test_only(miracl_tuning_home, tuning_sizes, tmp_path):
    """A sweep and checkpoint budgets on MIRACL-format data (real ``miracl/<lang>/<split>`` ids):
    with a seeded holdout the dev rule sees only the tuning queries and every reported number
    only the rest; then MIRACL train topics as the tuning split (yo, without one, falls back to
    the holdout) on the same cache: no stored run of the first run is reused (run keys hold the
    tuning choice), the document index is, and no teacher is trained again."""
    from harness.benchmarks.tuning import holdout_split
    from harness.index import read_cache_log

    bitext = tmp_path / "bitext"
    bitext.mkdir()
    (bitext / "sw.tsv").write_text("the longest river\tmto mrefu\nthe lion\tsimba\nthe mountain\tmlima\n")
    (bitext / "yo.tsv").write_text("the river\todo\nthe sea\tomi\n")
    model = _tiny_bert(tmp_path / "tiny-bert")
    cache = tmp_path / "cache"
    cfg = tmp_path / "c.toml"
    cfg.write_text(TUNING_CONFIG.format(bitext=bitext, model=model, tuning='tuning = "holdout"\nholdout_seed = 3'))
    proc = _harness_run(cfg, tmp_path / "run", miracl_tuning_home, cache)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    run = tmp_path / "run"
    res = pd.read_parquet(run / "results.parquet")
    dev = pd.read_parquet(run / "dev_results.parquet")
    budgets = pd.read_parquet(run / "budgets.parquet")
    dev_ids = {lang: {f"1{k:02d}" for k in range(n)} for lang, (n, _) in tuning_sizes.items()}
    for lang, ids in dev_ids.items():
        split = holdout_split(ids, 0.5, 3)
        assert _query_ids(res, lang) == set(split.test)  # reported: never a tuning query
        assert _query_ids(dev, lang) == set(split.dev)
        assert _query_ids(budgets[budgets.split == "test"], lang) == set(split.test)
        assert _query_ids(budgets[budgets.split == "dev"], lang) == set(split.dev)
        qrels = (run / "qrels" / f"{lang}.qrels").read_text().split()
        assert set(qrels[0::4]) == set(split.test)
        trec = (run / "runs" / "bm25@b=0.3" / "0" / f"{lang}.trec").read_text().split()
        assert set(trec[0::6]) <= set(split.test)
    manifest = json.loads((run / "manifest.json").read_text())
    tuning = manifest["benchmark"]["tuning"]
    assert tuning["scheme"] == "holdout" and tuning["holdout"]["seed"] == 3
    assert tuning["queries"] == {"en": {"dev": 6, "test": 6}, "sw": {"dev": 5, "test": 5}, "yo": {"dev": 3, "test": 3}}
    protocol = json.loads((run / "analysis.json").read_text())["protocol"]
    assert protocol["tuned_on"] == "dev" and "seed 3" in protocol["dev_split"]
    sel = protocol["selections"]
    assert set(sel) == {"zero-shot", "bm25", "ot-distill", "contrastive"}
    assert sel["bm25"]["grid_size"] == 2 and sel["ot-distill"]["grid_size"] == sel["contrastive"]["grid_size"] == 2
    assert sel["bm25"]["chosen"]["method"] in ("bm25@b=0.3", "bm25@b=0.9")
    assert "Dev queries: MIRACL dev queries split by a seeded holdout" in (run / "report.html").read_text()

    # MIRACL train topics for tuning, yo's holdout as before, same cache
    teachers = sorted(p.name for p in (cache / "teacher").iterdir() if not p.name.startswith("."))
    n_log = len(read_cache_log(cache))
    cfg.write_text(
        TUNING_CONFIG.format(
            bitext=bitext, model=model, tuning='tuning = "train"\ntuning_fallback = "holdout"\nholdout_seed = 3'
        )
    )
    proc = _harness_run(cfg, tmp_path / "run2", miracl_tuning_home, cache)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    res2 = pd.read_parquet(tmp_path / "run2" / "results.parquet")
    dev2 = pd.read_parquet(tmp_path / "run2" / "dev_results.parquet")
    yo = holdout_split(dev_ids["yo"], 0.5, 3)
    for lang in ("en", "sw"):
        assert _query_ids(res2, lang) == dev_ids[lang]  # the whole dev split is reported
        assert _query_ids(dev2, lang) == {f"2{k:02d}" for k in range(tuning_sizes[lang][1])}
    assert (_query_ids(res2, "yo"), _query_ids(dev2, "yo")) == (set(yo.test), set(yo.dev))
    new = read_cache_log(cache)[n_log:]
    computed: set[tuple] = set()
    earlier = []  # runs stored by the first run and found again (bm25's seed 1 reuses seed 0's of this run)
    for e in (e for e in new if e["stage"] == "run"):
        what = (e["language"], e["method"], e["split"])
        if e["event"] == "computed":
            computed.add(what)
        elif what not in computed:
            earlier.append(what)
    assert earlier == []  # run keys hold the benchmark's evaluation_identity (the tuning choice): nothing reused
    assert any(e["stage"] == "docindex" and e["event"] == "hit" for e in new)  # one index for every split
    assert sorted(p.name for p in (cache / "teacher").iterdir() if not p.name.startswith(".")) == teachers
    protocol2 = json.loads((tmp_path / "run2" / "analysis.json").read_text())["protocol"]
    assert "MIRACL train topics" in protocol2["dev_split"] and "yo (no train split)" in protocol2["dev_split"]


@pytest.mark.slow
def test_bad_tuning_options_on_miracl_fail_before_any_work(miracl_home, tmp_path):
    """Exit code 2 and a one-line ConfigError, no run directory, nothing cached: an unknown
    tuning split (config load) and a holdout of a language with one judged query (data check)."""
    model = _tiny_bert(tmp_path / "tiny-bert")
    cache = tmp_path / "cache"
    bitext = tmp_path / "bitext"
    bitext.mkdir()
    for lang in ("sw", "yo"):
        (bitext / f"{lang}.tsv").write_text("the river\todo\n")
    for tuning, fragment in (
        ('tuning = "dev-holdout"', "`benchmark.tuning` = 'dev-holdout'"),
        ('tuning = "holdout"', "language 'yo' has 1 judged query"),
    ):
        cfg = tmp_path / "c.toml"
        cfg.write_text(
            TUNING_CONFIG.format(bitext=bitext, model=model, tuning=tuning).replace(
                'languages = ["en", "sw", "yo"]', 'languages = ["sw", "yo"]'
            )
        )
        proc = _harness_run(cfg, tmp_path / "run", miracl_home, cache)
        assert proc.returncode == 2, proc.stderr[-3000:]
        assert fragment in proc.stderr and "Traceback" not in proc.stderr
        assert not (tmp_path / "run").exists()
        assert not (cache / "teacher").exists() and not (cache / "cell").exists()
