"""End to end through the ``ir_datasets`` adapter, on files laid out as ir_datasets keeps them.

``harness run`` in a subprocess whose ``IR_DATASETS_HOME`` holds the MIRACL fixture and the
CLIRMatrix fixture (with its downloads manifest), with a tiny BERT saved by ``save_pretrained``:

* monolingual: the issue's example config (``datasets = { en = "miracl/en/dev", sw = "miracl/sw/dev" }``,
  ``teacher_pairs = "miracl/en/train"``, tiers given per tier) with Moses-style bitext gives
  per-query scores identical to the ``miracl`` adapter's on the same data (bitext as TSV);
* cross-lingual: ``clirmatrix/en/bi139-base/{sw,yo}/test1`` (queries in sw and yo, English
  documents), bitext from TMX and a saved Hugging Face dataset: the results carry the
  cross-lingual mode, BM25's answer is the known one (nDCG@10 = 1 on every query: each
  query names an entity found in its one relevant document only), and the English corpus
  shared by sw and yo is encoded once per document encoder (yo hits the index sw built).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from irds_fixtures import CLIR_DOCS, CLIR_TOPICS, write_clirmatrix_home
from test_miracl_e2e import _harness_run, _tiny_bert


def _fixtures_module():
    """``tests/benchmarks/conftest.py`` by path: ``from conftest import`` can reach another directory's
    conftest when the whole suite runs (pytest puts each test directory on sys.path)."""
    import importlib.util
    import sys

    name = "_benchmarks_conftest"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("conftest.py"))
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
    return sys.modules[name]


COMMON = """
name = "{run}"
seeds = [0, 1]
metrics = ["ndcg@10", "recall@100"]
device = "cpu"
top_k = 100
[index]
shard_size = 4
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
[methods.contrastive]
epochs = 1
batch_size = 2
[analysis]
n_permutations = 200
n_bootstrap = 100
"""

IRDS_MONO = """
[benchmark]
name = "ir_datasets"
datasets = {{ en = "miracl/en/dev", sw = "miracl/sw/dev" }}
teacher_pairs = "miracl/en/train"
pivot = "en"
tiers = {{ high = ["en"], low = ["sw"] }}
bitext = {{ sw = {{ moses = "{bitext}/corpus" }} }}
"""

MIRACL_MONO = """
[benchmark]
name = "miracl"
languages = ["en", "sw"]
pivot = "en"
split = "dev"
bitext_dir = "{bitext}"
tiers = {{ en = "high", sw = "low" }}
"""

IRDS_CLIR = """
[benchmark]
name = "ir_datasets"
datasets = {{ en = "miracl/en/dev", sw = "clirmatrix/en/bi139-base/sw/test1", yo = "clirmatrix/en/bi139-base/yo/test1" }}
teacher_pairs = "miracl/en/train"
pivot = "en"
tiers = {{ high = ["en"], low = ["sw", "yo"] }}
[benchmark.bitext.sw]
tmx = "{tmx}"
[benchmark.bitext.yo]
hf_disk = "{hf}"
"""

PAIRS_SW = [("the longest river", "mto mrefu"), ("the lion", "simba"), ("the mountain", "mlima")]
KEY = ["method", "seed", "language", "query_id", "metric"]


@pytest.mark.slow
def test_monolingual_ir_datasets_run_equals_the_miracl_adapter(tmp_path):
    build_miracl_home = _fixtures_module().build_miracl_home

    home = build_miracl_home(tmp_path / "home")
    model = _tiny_bert(tmp_path / "tiny-bert")
    moses = tmp_path / "opus"
    moses.mkdir()
    (moses / "corpus.en").write_text("".join(p + "\n" for p, _ in PAIRS_SW))
    (moses / "corpus.sw").write_text("".join(o + "\n" for _, o in PAIRS_SW))
    tsv = tmp_path / "tsv"
    tsv.mkdir()
    (tsv / "sw.tsv").write_text("".join(f"{p}\t{o}\n" for p, o in PAIRS_SW))
    out = {}
    for name, text, bitext in (("irds", IRDS_MONO, moses), ("miracl", MIRACL_MONO, tsv)):
        cfg = tmp_path / f"{name}.toml"
        cfg.write_text(COMMON.format(model=model, run=name) + text.format(bitext=bitext))
        proc = _harness_run(cfg, tmp_path / name, home, tmp_path / f"cache-{name}")
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
        out[name] = pd.read_parquet(tmp_path / name / "results.parquet")
    a, b = (out[k].sort_values(KEY).reset_index(drop=True) for k in ("irds", "miracl"))
    assert set(a["method"]) == {"zero-shot", "bm25", "contrastive"} and set(a["mode"]) == {"monolingual"}
    pd.testing.assert_frame_equal(
        a.drop(columns=["world"], errors="ignore"), b.drop(columns=["world"], errors="ignore")
    )
    manifest = json.loads((tmp_path / "irds" / "manifest.json").read_text())
    bench = manifest["benchmark"]
    assert bench["name"] == "ir_datasets" and bench["mode"] == "monolingual"
    assert bench["bitext"]["sw"]["read"]["pairs"] == 3 and bench["bitext"]["sw"]["format"] == "moses"


@pytest.mark.slow
def test_cross_lingual_ir_datasets_run_on_clirmatrix(tmp_path):
    import datasets

    build_miracl_home = _fixtures_module().build_miracl_home

    from harness.index import read_cache_log

    home = build_miracl_home(write_clirmatrix_home(tmp_path / "home"))
    model = _tiny_bert(tmp_path / "tiny-bert")
    tmx = tmp_path / "en-sw.tmx"
    units = "".join(
        f'<tu><tuv xml:lang="en"><seg>{p}</seg></tuv><tuv xml:lang="sw"><seg>{o}</seg></tuv></tu>' for p, o in PAIRS_SW
    )
    tmx.write_text(f'<?xml version="1.0"?><tmx version="1.4"><header/><body>{units}</body></tmx>', encoding="utf-8")
    hf = tmp_path / "tatoeba-en-yo"
    datasets.Dataset.from_dict(
        {"translation": [{"en": "the river", "yo": "odo"}, {"en": "the sea", "yo": "omi"}]}
    ).save_to_disk(str(hf))
    cfg = tmp_path / "clir.toml"
    cfg.write_text(COMMON.format(model=model, run="irds-clir") + IRDS_CLIR.format(tmx=tmx, hf=hf))
    cache = tmp_path / "cache"
    proc = _harness_run(cfg, tmp_path / "run", home, cache)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    res = pd.read_parquet(tmp_path / "run" / "results.parquet")
    assert set(res["mode"]) == {"cross-lingual"}
    assert set(res["language"]) == {"en", "sw", "yo"}
    # the known answer: BM25 ranks each query's one relevant document first
    bm = res[(res["method"] == "bm25") & (res["metric"] == "ndcg@10") & res["language"].isin(["sw", "yo"])]
    n_queries = sum(len(rows) for (q, _, split), rows in CLIR_TOPICS.items() if split == "test1")
    assert len(bm) == 2 * n_queries and (bm["value"] == 1.0).all()
    # the English CLIRMatrix corpus (6 documents) is encoded once per document encoder, shared by sw and yo
    n_clir = len(CLIR_DOCS["en"])
    log = [e for e in read_cache_log(cache) if e["stage"] == "docindex" and e.get("n_docs") == n_clir]
    built = [e["key"] for e in log if e["event"] == "built"]
    hits = [e["key"] for e in log if e["event"] == "hit"]
    assert built and len(built) == len(set(built))
    assert sorted(built) == sorted(hits)  # each index sw built, yo searched without encoding again
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    bench = manifest["benchmark"]
    assert bench["mode"] == "cross-lingual"
    assert bench["languages_detail"]["sw"] == {
        "queries": "sw",
        "documents": "en",
        "mode": "cross-lingual",
        "said_by": "ir_datasets",
    }
    assert bench["bitext"]["sw"]["read"]["pairs"] == 3 and bench["bitext"]["yo"]["read"]["pairs"] == 2
