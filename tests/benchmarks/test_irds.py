"""The ``ir_datasets`` adapter: options, languages and modes, shared corpora, tuning, bitext sources, offline failures.

In-process tests read fixture datasets registered with ir_datasets' registry through
ir_datasets' own MIRACL and CLIRMatrix classes (``conftest.py``, ``irds_fixtures.py``).  The
tests of real ``clirmatrix/...`` ids start a fresh Python process with ``IR_DATASETS_HOME``
pointing at files laid out as ir_datasets keeps CLIRMatrix (its downloads manifest
included), with every socket call blocked and recorded.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from irds_fixtures import CLIR_DOCS, MRTYDI_SW, register_clirmatrix_fixture, write_clirmatrix_home, write_mrtydi_home

from harness.benchmarks._common import DataFormatError
from harness.benchmarks.bitext_sources import BitextSource, sample_indices
from harness.benchmarks.irds import IrDatasetsBenchmark, IrDatasetsOptions
from harness.benchmarks.miracl import MiraclBenchmark
from harness.benchmarks.wikipedia_sizes import MBERT_WIKIPEDIA_TOKENS, wikipedia_tier
from harness.errors import ConfigError, DataUnavailableError


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


@pytest.fixture
def ids(tmp_path: Path) -> dict:
    """MIRACL and CLIRMatrix fixtures in one home, registered in-process: ``{"home", "m", "c"}`` (id prefixes)."""
    build_miracl_home, register_miracl_fixture = (
        _fixtures_module().build_miracl_home,
        _fixtures_module().register_miracl_fixture,
    )

    home = write_clirmatrix_home(tmp_path / "home")
    build_miracl_home(home)
    return {"home": home, "m": register_miracl_fixture(home), "c": register_clirmatrix_fixture(home)}


def clir(ids: dict, **extra) -> dict:
    c, m = ids["c"], ids["m"]
    opts = {
        "datasets": {"en": f"{m}/en/dev", "sw": f"{c}/en/bi139-base/sw/test1", "yo": f"{c}/en/bi139-base/yo/test1"},
        "teacher_pairs": f"{m}/en/train",
        "pivot": "en",
        "tiers": {"high": ["en"], "low": ["sw", "yo"]},
    }
    opts.update(extra)
    return opts


# --------------------------------------------------------------------------- options
def test_the_issue_example_parses_with_tiers_given_per_tier():
    o = IrDatasetsOptions.parse(
        {
            "datasets": {"en": "miracl/en/dev", "sw": "miracl/sw/dev"},
            "teacher_pairs": "miracl/en/train",
            "pivot": "en",
            "tiers": {"high": ["en"], "low": ["sw"]},
        }
    )
    assert o.tier_map() == {"en": "high", "sw": "low"}
    assert list(o.datasets) == ["en", "sw"]


def test_tiers_not_given_come_from_the_documented_wikipedia_table():
    o = IrDatasetsOptions.parse(
        {
            "datasets": {"en": "miracl/en/dev", "hi": "miracl/hi/dev", "yo": "miracl/yo/dev"},
            "teacher_pairs": "miracl/en/train",
            "tiers": {"hi": "low"},
        }
    )
    assert o.tier_map() == {"en": "high", "hi": "low", "yo": "low"}  # hi given; en and yo from the table
    assert wikipedia_tier("hi") == "mid" and wikipedia_tier("am") is None
    assert MBERT_WIKIPEDIA_TOKENS["en"] > MBERT_WIKIPEDIA_TOKENS["sw"] > MBERT_WIKIPEDIA_TOKENS["yo"]


@pytest.mark.parametrize(
    "change, path, fragment",
    [
        ({"datasets": {"sw": "miracl/sw/deve"}}, "benchmark.datasets.sw", "did you mean 'miracl/sw/dev'"),
        ({"datasets": {"yo": "miracl/yo/train"}}, "benchmark.datasets.yo", "miracl/yo has: dev"),
        ({"datasets": {"sw": "mr-tydi/sw/tset"}}, "benchmark.datasets.sw", "mr-tydi/sw has: dev, test, train"),
        ({"datasets": {"sw": "clirmatrix/en/bi139-base/sw/tset1"}}, "benchmark.datasets.sw", "{train|dev|test1|test2}"),
        ({"teacher_pairs": "miracl/en/trian"}, "benchmark.teacher_pairs", "did you mean 'miracl/en/train'"),
        ({"datasets": {}}, "benchmark.datasets", "non-empty"),
        ({"tiers": {"hihg": ["sw"]}}, "benchmark.tiers.hihg", "did you mean 'high'"),
        ({"tiers": {"sw": "lwo"}}, "benchmark.tiers.sw", "did you mean 'low'"),
        ({"tiers": {"fr": "low"}}, "benchmark.tiers.fr", "not in benchmark.datasets"),
        ({"datasets": {"am": "clirmatrix/en/bi139-base/am/test1"}}, "benchmark.tiers", "'am' is not in the mbert"),
        ({"modes": {"sw": "crosslingual"}}, "benchmark.modes.sw", "did you mean 'cross-lingual'"),
        ({"tier_table": "wikipedia"}, "benchmark.tier_table", "did you mean 'mbert-wikipedia'"),
        ({"tuning": "train", "datasets": {"yo": "miracl/yo/dev"}}, "benchmark.tuning", "yo (miracl/yo/dev)"),
        ({"tuning_fallback": "holdout"}, "benchmark.tuning_fallback", "only with tuning = 'train'"),
        ({"bitext": {"sw": {"moses": "c", "tsv": "x.tsv"}}}, "benchmark.bitext.sw", "exactly one of"),
        ({"bitext": {"sw": {"tsv": "x.tsv", "hf_config": "en-sw"}}}, "benchmark.bitext.sw.hf_config", "only with hf"),
        ({"bitext": {"sw": {"tsv": "x.tsv", "sample_seed": 1}}}, "benchmark.bitext.sw.sample_seed", "max_pairs"),
        ({"bitext": {"sw": {"moses": ["only-one"]}}}, "benchmark.bitext.sw.moses", "two files"),
        ({"bitext": {"sw": {"tsvv": "x.tsv"}}}, "benchmark.bitext.sw.tsvv", "did you mean 'tsv'"),
    ],
)
def test_bad_options_are_refused_naming_the_key_and_the_fix(change, path, fragment):
    opts = {"datasets": {"en": "miracl/en/dev", "sw": "miracl/sw/dev"}, "teacher_pairs": "miracl/en/train"}
    for k, v in change.items():
        opts[k] = {**opts[k], **v} if k == "datasets" and v else v
    with pytest.raises(ConfigError) as ei:
        IrDatasetsOptions.parse(opts, source="run.toml")
    assert ei.value.path == path, str(ei.value)
    assert fragment in str(ei.value)


# --------------------------------------------------------------------------- languages and modes
def test_cross_lingual_mode_is_inferred_from_the_collection_and_the_corpus_is_shared(ids):
    b = IrDatasetsBenchmark(clir(ids))
    assert b.modes == ("cross-lingual",)
    assert {lang: (s.query_language, s.document_language, s.mode) for lang, s in b.specs.items()} == {
        "en": ("en", "en", "monolingual"),
        "sw": ("sw", "en", "cross-lingual"),
        "yo": ("yo", "en", "cross-lingual"),
    }
    b.check_available()
    sw = b.language_data("sw")
    assert sw.document_language == "en" and sw.corpus == CLIR_DOCS["en"]
    assert sw.queries["s1"] == "mto nile" and sw.qrels["s3"] == {"103": 5, "106": 0}
    assert dict(b.iter_corpus("yo")) == CLIR_DOCS["en"]
    from harness import corpus

    assert corpus.document_language(b, "sw") == "en"
    # one corpus for sw and yo (one document index), another for en (MIRACL's English passages)
    assert b.corpus_fingerprint("sw") == b.corpus_fingerprint("yo") != b.corpus_fingerprint("en")
    assert b.describe()["languages_detail"]["yo"] == {
        "queries": "yo",
        "documents": "en",
        "mode": "cross-lingual",
        "said_by": "ir_datasets",
    }


def test_the_document_index_key_is_shared_by_languages_searching_one_corpus(ids, tmp_path):
    """dense_run keys the index by (document side, corpus fingerprint, document language): sw and yo build one."""
    import torch

    from harness.index import dense_run, read_cache_log

    class Enc:
        document_identity = staticmethod(lambda language: {"enc": "bag", "language": language})

        def encode_documents(self, texts, language):
            return torch.tensor([[float(len(t)), 1.0] for t in texts])

        encode_queries = encode_documents

    b = IrDatasetsBenchmark(clir(ids))
    for lang in ("sw", "yo"):
        dense_run(Enc(), b, lang, [b.topics(lang).queries], 3, root=tmp_path / "cache")
    built = [e for e in read_cache_log(tmp_path / "cache") if e["stage"] == "docindex"]
    assert [(e["event"], e["label"]) for e in built] == [("built", "sw"), ("hit", "yo")]


def test_a_monolingual_collection_stays_monolingual_and_mixed_modes_are_refused(ids):
    m, c = ids["m"], ids["c"]
    b = IrDatasetsBenchmark({"datasets": {"en": f"{m}/en/dev", "sw": f"{m}/sw/dev"}, "teacher_pairs": f"{m}/en/train"})
    assert b.modes == ("monolingual",) and b.document_language("sw") == "sw"
    assert b.tiers == {"en": "high", "sw": "low"}  # from the table
    with pytest.raises(ConfigError, match="monolingual: yo; cross-lingual: sw"):
        IrDatasetsBenchmark(
            {
                "datasets": {"sw": f"{c}/en/bi139-base/sw/test1", "yo": f"{m}/yo/dev"},
                "teacher_pairs": f"{m}/en/train",
            }
        )


def test_queries_in_another_language_than_the_key_are_refused(ids):
    with pytest.raises(ConfigError) as ei:
        IrDatasetsBenchmark(clir(ids, datasets={"yo": f"{ids['c']}/en/bi139-base/sw/test1"}, tiers={}))
    assert ei.value.path == "benchmark.datasets.yo" and "queries are in 'sw'" in str(ei.value)


def test_documents_in_neither_the_query_language_nor_the_pivot_are_refused(ids):
    with pytest.raises(ConfigError, match="its documents are in 'en'"):
        IrDatasetsBenchmark(clir(ids, pivot="fr", datasets={"sw": f"{ids['c']}/en/bi139-base/sw/test1"}, tiers={}))


def test_a_stated_mode_that_contradicts_the_collection_is_refused(ids):
    with pytest.raises(ConfigError) as ei:
        IrDatasetsBenchmark(clir(ids, modes={"sw": "monolingual"}))
    assert ei.value.path == "benchmark.modes.sw" and "documents in 'en'" in str(ei.value)


def test_the_mode_is_taken_from_the_config_where_the_collection_does_not_say(ids, tmp_path):
    """A dataset whose handlers name no language: the key is the queries' language, ``modes`` says the rest."""
    import ir_datasets
    from ir_datasets.datasets.base import Dataset
    from ir_datasets.formats import TrecQrels, TsvDocs, TsvQueries
    from ir_datasets.util import LocalDownload

    d = tmp_path / "plain"
    d.mkdir()
    (d / "docs.tsv").write_text("a\tnile river\nb\tlion savanna\n")
    (d / "queries.tsv").write_text("q1\tmto nile\n")
    (d / "qrels.txt").write_text("q1 0 a 1\n")
    name = f"harness-test-plain-{tmp_path.name}"
    ir_datasets.registry.register(
        name,
        Dataset(
            TsvDocs(LocalDownload(d / "docs.tsv")),
            TsvQueries(LocalDownload(d / "queries.tsv")),
            TrecQrels(LocalDownload(d / "qrels.txt"), {1: "relevant"}),
        ),
    )
    m = ids["m"]
    stated = IrDatasetsBenchmark(
        {"datasets": {"sw": name}, "teacher_pairs": f"{m}/en/train", "modes": {"sw": "cross-lingual"}}
    )
    assert stated.modes == ("cross-lingual",) and stated.specs["sw"].said_by == "config"
    assert stated.language_data("sw").document_language == "en"
    default = IrDatasetsBenchmark({"datasets": {"sw": name}, "teacher_pairs": f"{m}/en/train"})
    assert default.modes == ("monolingual",) and default.specs["sw"].said_by == "default"


def test_miracl_through_the_generic_adapter_reads_what_the_miracl_adapter_reads(ids):
    m = ids["m"]
    g = IrDatasetsBenchmark(
        {
            "datasets": {lang: f"{m}/{lang}/dev" for lang in ("sw", "yo", "en")},
            "teacher_pairs": f"{m}/en/train",
            "tiers": {"en": "high", "sw": "low", "yo": "low"},
        }
    )
    mi = MiraclBenchmark(
        {"languages": ["sw", "yo", "en"]}, dataset_id=m + "/{lang}/{split}", train_dataset_id=m + "/{lang}/train"
    )
    for lang in ("sw", "yo", "en"):
        assert g.language_data(lang) == mi.language_data(lang)
        assert g.topics(lang) == mi.topics(lang)
        assert list(g.iter_corpus(lang)) == list(mi.iter_corpus(lang))
    assert g.train_pairs() == mi.train_pairs()
    assert g.language_fingerprints() == mi.language_fingerprints()
    assert g.modes == ("monolingual",)


# --------------------------------------------------------------------------- tuning
def test_train_tuning_uses_the_collection_train_split_and_falls_back_to_a_holdout(ids):
    c = ids["c"]
    opts = clir(
        ids,
        tuning="train",
        datasets={"sw": f"{c}/en/bi139-base/sw/test1", "yo": f"{c}/en/bi139-base/yo/test1"},
        tiers={"low": ["sw", "yo"]},
    )
    with pytest.raises(ConfigError) as ei:
        IrDatasetsBenchmark(opts)
    assert ei.value.path == "benchmark.tuning" and f"yo ({c}/en/bi139-base/yo/test1)" in str(ei.value)
    assert "tuning_fallback = 'holdout'" in str(ei.value)
    b = IrDatasetsBenchmark({**opts, "tuning_fallback": "holdout"})
    assert b.splits == ("dev", "test")
    assert b.tuning_scheme("sw") == "train" and b.tuning_scheme("yo") == "holdout"
    assert b.tuning_dataset_id("sw") == f"{ids['c']}/en/bi139-base/sw/train"
    b.check_available()
    assert set(b.topics("sw", "dev").queries) == {"s9", "s8"}
    assert set(b.topics("sw", "test").queries) == {"s1", "s2", "s3", "s4"}
    yo_dev, yo_test = set(b.topics("yo", "dev").queries), set(b.topics("yo", "test").queries)
    assert yo_dev and yo_test and not yo_dev & yo_test and yo_dev | yo_test == {"y1", "y2", "y3"}
    assert "bi139-base/sw/train" in b.split_statement() and "yo (no train split)" in b.split_statement()


# --------------------------------------------------------------------------- offline failures
def test_missing_files_are_named_with_the_dataset_id_and_the_fix(ids):
    (ids["home"] / "clirmatrix" / "bi139-base" / "yo_en" / "test1.jsonl.gz").unlink()
    b = IrDatasetsBenchmark(clir(ids))
    with pytest.raises(DataUnavailableError) as ei:
        b.check_available()
    msg = str(ei.value)
    assert f"{ids['c']}/en/bi139-base/yo/test1" in msg and "test1.jsonl.gz" in msg
    assert "ir_datasets export" in msg and "docs/real-data.md" in msg


# --------------------------------------------------------------------------- bitext
def _moses(d: Path, other: str = "maji\nsimba\nmlima\n") -> Path:
    d.mkdir(parents=True, exist_ok=True)
    (d / "corpus.en").write_text("the water\nthe lion\nthe mountain\n")
    (d / "corpus.sw").write_text(other)
    return d / "corpus"


def test_moses_bitext_by_prefix_or_file_pair_and_unequal_lengths_refused_before_any_work(ids, tmp_path):
    prefix = _moses(tmp_path / "opus")
    b = IrDatasetsBenchmark(
        clir(ids, bitext={"sw": {"moses": str(prefix)}, "yo": {"moses": [str(prefix) + ".en", str(prefix) + ".sw"]}})
    )
    assert [(p.pivot, p.other) for p in b.bitext("sw")] == [
        ("the water", "maji"),
        ("the lion", "simba"),
        ("the mountain", "mlima"),
    ]
    assert b.bitext("yo") == b.bitext("sw") and b.bitext("en") == []
    _moses(tmp_path / "bad", other="maji\nsimba\n")
    bad = IrDatasetsBenchmark(clir(ids, bitext={"sw": {"moses": str(tmp_path / "bad" / "corpus")}}))
    with pytest.raises(DataFormatError) as ei:
        bad.check_available()
    assert "2 lines" in str(ei.value) and "has 3" in str(ei.value) and "corpus.sw" in str(ei.value)


def test_relative_bitext_paths_resolve_against_the_config_directory_and_missing_files_are_named(ids, tmp_path):
    _moses(tmp_path / "cfg" / "opus")
    b = IrDatasetsBenchmark(clir(ids, bitext={"sw": {"moses": "opus/corpus"}}), base_dir=tmp_path / "cfg")
    assert len(b.bitext("sw")) == 3
    missing = IrDatasetsBenchmark(clir(ids, bitext={"sw": {"moses": "nowhere/corpus"}}), base_dir=tmp_path / "cfg")
    with pytest.raises(DataUnavailableError, match=r"nowhere/corpus\.en.*'<prefix>\.en' and '<prefix>\.sw'"):
        missing.check_available()


def test_tmx_pairs_match_language_subtags_and_skip_units_without_both(tmp_path):
    tmx = tmp_path / "en-sw.tmx"
    tmx.write_text(
        """<?xml version="1.0" encoding="utf-8"?>
<tmx version="1.4"><header srclang="en"/><body>
<tu><tuv xml:lang="EN-US"><seg>the water</seg></tuv><tuv xml:lang="sw"><seg>maji</seg></tuv></tu>
<tu><tuv xml:lang="en"><seg>only english</seg></tuv><tuv xml:lang="fr"><seg>que du français</seg></tuv></tu>
<tu><tuv xml:lang="sw_KE"><seg>simba</seg></tuv><tuv xml:lang="en"><seg>the <b>lion</b></seg></tuv></tu>
</body></tmx>""",
        encoding="utf-8",
    )
    got = BitextSource.parse({"tmx": str(tmx)}, "benchmark.bitext.sw").read("en", "sw")
    assert [(p.pivot, p.other) for p in got.pairs] == [("the water", "maji"), ("the lion", "simba")]
    assert got.skipped_other == 1


def test_caps_take_the_first_pairs_or_a_fixed_seeded_sample_in_file_order(tmp_path):
    d = tmp_path / "b"
    d.mkdir()
    (d / "c.en").write_text("".join(f"e{i}\n" for i in range(20)))
    (d / "c.sw").write_text("".join(f"s{i}\n" for i in range(20)))
    first = BitextSource.parse({"moses": str(d / "c"), "max_pairs": 5}, "x").read("en", "sw")
    assert [p.other for p in first.pairs] == [f"s{i}" for i in range(5)]
    s1 = BitextSource.parse({"moses": str(d / "c"), "max_pairs": 5, "sample_seed": 7}, "x").read("en", "sw")
    s2 = BitextSource.parse({"moses": str(d / "c"), "max_pairs": 5, "sample_seed": 7}, "x").read("en", "sw")
    s3 = BitextSource.parse({"moses": str(d / "c"), "max_pairs": 5, "sample_seed": 8}, "x").read("en", "sw")
    idx = sample_indices(20, 5, 7)
    assert [p.other for p in s1.pairs] == [f"s{i}" for i in idx] and idx == sorted(idx)
    assert s1.pairs == s2.pairs and s1.digest == s2.digest
    assert s1.pairs != first.pairs and s3.pairs != s1.pairs


def test_hf_bitext_from_a_saved_dataset_and_a_clear_error_when_the_cache_lacks_one(tmp_path, monkeypatch):
    import datasets

    saved = tmp_path / "opus100-en-sw"
    datasets.Dataset.from_dict(
        {"translation": [{"en": "the water", "sw": "maji"}, {"en": "the lion", "sw": "simba"}]}
    ).save_to_disk(str(saved))
    got = BitextSource.parse({"hf_disk": str(saved)}, "x").read("en", "sw")
    assert [(p.pivot, p.other) for p in got.pairs] == [("the water", "maji"), ("the lion", "simba")]
    flores = tmp_path / "flores"
    datasets.Dataset.from_dict({"sentence_eng_Latn": ["the water"], "sentence_swh_Latn": ["maji"]}).save_to_disk(
        str(flores)
    )
    got = BitextSource.parse(
        {"hf_disk": str(flores), "pivot_field": "sentence_eng_Latn", "other_field": "sentence_swh_Latn"}, "x"
    ).read("en", "sw")
    assert [(p.pivot, p.other) for p in got.pairs] == [("the water", "maji")]
    with pytest.raises(DataFormatError, match="did you mean 'sentence_swh_Latn'"):
        BitextSource.parse(
            {"hf_disk": str(flores), "pivot_field": "sentence_eng_Latn", "other_field": "sentence_swh_Latm"}, "x"
        ).read("en", "sw")
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "empty-hf-cache")
    src = BitextSource.parse({"hf": "harness-test/no-such-opus", "hf_config": "en-sw"}, "x")
    with pytest.raises(DataUnavailableError) as ei:
        src.check("en", "sw")
    msg = str(ei.value)
    assert "'harness-test/no-such-opus'" in msg and "config 'en-sw'" in msg
    assert "datasets.load_dataset('harness-test/no-such-opus', 'en-sw', split='train')" in msg and "hf_disk" in msg


def _hf_cache_entry(cache: Path, name: str, config: str, rows: list[dict], work: Path) -> None:
    """Put ``rows`` in a datasets cache as ``load_dataset(name, config)`` leaves them (built through the json
    builder, then filed under ``<ns>___<name>/<config>/<version>/<hash>``, the layout it reads offline)."""
    import glob

    import datasets

    work.mkdir(parents=True, exist_ok=True)
    (work / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    datasets.load_dataset("json", data_files=str(work / "rows.jsonl"), split="train", cache_dir=str(work / "c"))
    src = Path(next(p for p in glob.glob(str(work / "c" / "json" / "*" / "*" / "*")) if os.path.isdir(p)))
    ns, short = name.split("/")
    dst = cache / f"{ns}___{short}" / config / src.parts[-2] / src.parts[-1]
    shutil.copytree(src, dst)
    (dst / "json-train.arrow").rename(dst / f"{short}-train.arrow")
    info = json.loads((dst / "dataset_info.json").read_text())
    info.update(config_name=config, builder_name=short, dataset_name=short)
    (dst / "dataset_info.json").write_text(json.dumps(info))


def test_hf_bitext_by_name_is_read_offline_from_the_local_datasets_cache(tmp_path, monkeypatch):
    import datasets

    cache = tmp_path / "hf-cache"
    rows = [{"translation": {"en": "the water", "sw": "maji"}}, {"translation": {"en": "the lion", "sw": "simba"}}]
    _hf_cache_entry(cache, "harness-test/tiny-opus", "en-sw", rows, tmp_path / "work")
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", cache)
    online = datasets.config.HF_HUB_OFFLINE
    got = BitextSource.parse({"hf": "harness-test/tiny-opus", "hf_config": "en-sw"}, "x").read("en", "sw")
    assert [(p.pivot, p.other) for p in got.pairs] == [("the water", "maji"), ("the lion", "simba")]
    assert datasets.config.HF_HUB_OFFLINE == online  # forced offline only while reading


def test_bitext_is_fingerprinted_by_content_not_path(ids, tmp_path):
    a = _moses(tmp_path / "a")
    b = _moses(tmp_path / "b")
    fa = IrDatasetsBenchmark(clir(ids, bitext={"sw": {"moses": str(a)}})).fingerprint()
    fb = IrDatasetsBenchmark(clir(ids, bitext={"sw": {"moses": str(b)}})).fingerprint()
    assert fa == fb
    (tmp_path / "b" / "corpus.sw").write_text("maji\nsimba\nmlima mrefu\n")
    assert IrDatasetsBenchmark(clir(ids, bitext={"sw": {"moses": str(b)}})).fingerprint() != fa
    capped = IrDatasetsBenchmark(clir(ids, bitext={"sw": {"moses": str(a), "max_pairs": 2}})).fingerprint()
    assert capped != fa


def test_editing_a_qrels_file_changes_that_language_only(ids):
    before = IrDatasetsBenchmark(clir(ids)).language_fingerprints()
    p = ids["home"] / "clirmatrix" / "bi139-base" / "yo_en" / "test1.jsonl.gz"
    rows = [json.loads(x) for x in gzip.decompress(p.read_bytes()).decode().splitlines()]
    rows[0]["tgt_results"] = [["101", 5]]
    p.write_bytes(gzip.compress("".join(json.dumps(r) + "\n" for r in rows).encode()))
    after = IrDatasetsBenchmark(clir(ids)).language_fingerprints()
    assert after["yo"] != before["yo"] and after["sw"] == before["sw"] and after["en"] == before["en"]


# --------------------------------------------------------------------------- real CLIRMatrix ids
_SCRIPT = textwrap.dedent(
    """
    import json, socket, sys
    attempts = []
    def blocked(*args, **kwargs):
        attempts.append(repr(args)[:80])
        raise OSError("network disabled by the test")
    socket.socket.connect = blocked
    socket.socket.connect_ex = blocked
    socket.getaddrinfo = blocked
    socket.create_connection = blocked
    from harness.benchmarks.irds import IrDatasetsBenchmark
    from harness.errors import ConfigError, DataUnavailableError
    out = {"attempts": attempts}
    try:
        b = IrDatasetsBenchmark(json.loads(sys.argv[1]))
        b.check_available()
        out["mode"] = b.modes
        out["sw"] = {k: dict(v) for k, v in vars(b.language_data("sw")).items() if k in ("corpus", "queries", "qrels")}
        out["shared"] = "yo" in b.languages and b.corpus_fingerprint("sw") == b.corpus_fingerprint("yo")
        out["dev"] = {lang: sorted(b.topics(lang, "dev").queries) for lang in b.languages if "dev" in b.splits}
        out["fingerprint"] = b.fingerprint()
    except (DataUnavailableError, ConfigError) as e:
        out["error"] = type(e).__name__ + ": " + str(e)
    print(json.dumps(out))
    """
)
_REAL = {
    "datasets": {"sw": "clirmatrix/en/bi139-base/sw/test1", "yo": "clirmatrix/en/bi139-base/yo/test1"},
    "teacher_pairs": "miracl/en/train",
    "tiers": {"low": ["sw", "yo"]},
}


def _real_home(tmp_path: Path, manifest: bool = True) -> Path:
    build_miracl_home = _fixtures_module().build_miracl_home

    return build_miracl_home(write_clirmatrix_home(tmp_path / "home", manifest=manifest))


def _run_real(home: Path, options: dict) -> dict:
    env = {**os.environ, "IR_DATASETS_HOME": str(home), "IR_DATASETS_DL_TRIES": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", _SCRIPT, json.dumps(options)], env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_real_clirmatrix_ids_read_files_through_the_downloads_manifest_offline(tmp_path):
    out = _run_real(_real_home(tmp_path), _REAL)
    assert "error" not in out, out["error"]
    assert out["attempts"] == []
    assert out["mode"] == ["cross-lingual"] and out["shared"] is True
    assert out["sw"]["corpus"] == CLIR_DOCS["en"]
    assert out["sw"]["queries"]["s2"] == "mlima kilimanjaro" and out["sw"]["qrels"]["s1"] == {"101": 6, "105": 0}


def test_a_missing_clirmatrix_manifest_is_refused_before_any_download(tmp_path):
    home = _real_home(tmp_path, manifest=False)
    out = _run_real(home, _REAL)
    assert out["attempts"] == []
    assert out["error"].startswith("DataUnavailableError")
    assert "clirmatrix/en/bi139-base/sw/test1" in out["error"]
    assert str(home / "clirmatrix" / "clirmatrix_downloads.json.gz") in out["error"]
    assert "ir_datasets export clirmatrix/en/bi139-base/sw/test1 docs" in out["error"]


def test_clirmatrix_ids_in_the_wrong_order_are_refused_with_the_right_id(tmp_path):
    out = _run_real(
        _real_home(tmp_path), {**_REAL, "datasets": {"sw": "clirmatrix/sw/bi139-base/en/test1"}, "tiers": {}}
    )
    assert out["attempts"] == []
    assert out["error"].startswith("ConfigError") and "benchmark.datasets.sw" in out["error"]
    assert "use 'clirmatrix/en/bi139-base/sw/test1'" in out["error"]


def test_real_mr_tydi_ids_read_an_unpacked_release_offline_and_tune_on_its_train_split(tmp_path):
    home = write_mrtydi_home(tmp_path / "home")
    opts = {
        "datasets": {"sw": "mr-tydi/sw/test"},
        "teacher_pairs": "mr-tydi/sw/train",
        "pivot": "sw",
        "tuning": "train",
    }
    out = _run_real(home, opts)
    assert "error" not in out, out["error"]
    assert out["attempts"] == [] and out["mode"] == ["monolingual"]
    assert out["sw"]["corpus"] == dict(MRTYDI_SW["docs"])
    assert out["sw"]["queries"] == dict(MRTYDI_SW["test"][0]) and out["sw"]["qrels"] == {
        "t1": {"1#0": 1},
        "t2": {"2#0": 1},
    }
    # the unpacked release is what ir_datasets reads: without it, the archive is named as missing
    shutil.rmtree(home / "mr-tydi" / "sw.data")
    out = _run_real(home, opts)
    assert out["attempts"] == [] and out["error"].startswith("DataUnavailableError")
    assert "mr-tydi/sw/test" in out["error"] and "~/.ir_datasets/mr-tydi" in out["error"]
