"""MIRACL adapter: options, reading through ir_datasets, offline failures, fingerprints.

In-process tests read fixture datasets registered with ir_datasets' registry in MIRACL's
exact structure (see conftest.py).  Two tests start a fresh Python process with
``IR_DATASETS_HOME`` set (ir_datasets fixes MIRACL's paths when it first loads a MIRACL
id) and read the *real* ``miracl/<lang>/<split>`` datasets, with every socket call
blocked and recorded, so they also prove that no network access is attempted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from harness.benchmarks._common import DataFormatError
from harness.benchmarks.base import BitextPair, LanguageData, TrainPair
from harness.benchmarks.bitext import write_bitext_tsv
from harness.benchmarks.miracl import DEFAULT_TIERS, MIRACL_LANGUAGES, MiraclBenchmark, MiraclOptions
from harness.errors import ConfigError, DataUnavailableError, UnknownLanguageError


def bench(fx: dict, **options) -> MiraclBenchmark:
    options.setdefault("languages", ["sw", "yo", "en"])
    return MiraclBenchmark(options, dataset_id=fx["dataset_id"], train_dataset_id=fx["train_dataset_id"])


# --------------------------------------------------------------------------- options
def test_default_options_cover_all_18_languages_with_the_documented_tiers():
    o = MiraclOptions.parse({})
    assert o.languages == MIRACL_LANGUAGES and len(o.languages) == 18
    assert (o.split, o.pivot, o.allow_download, o.max_train_pairs) == ("dev", "en", False, None)
    tiers = o.tier_map()
    assert sorted(lang for lang, t in tiers.items() if t == "low") == ["bn", "sw", "te", "yo"]
    assert sorted(lang for lang, t in tiers.items() if t == "mid") == ["hi", "th"]
    assert sum(t == "high" for t in tiers.values()) == 12
    assert MiraclBenchmark({"languages": ["sw", "en"]}).tiers == {"sw": "low", "en": "high"}


def test_tier_override_applies_to_the_named_language_only():
    o = MiraclOptions.parse({"languages": ["th", "sw"], "tiers": {"th": "low"}})
    assert o.tier_map() == {"th": "low", "sw": "low"}
    assert DEFAULT_TIERS["th"] == "mid"


@pytest.mark.parametrize(
    "options, path, fragment",
    [
        ({"languages": ["sw", "sww"]}, "benchmark.languages", "did you mean 'sw'"),
        ({"languages": []}, "benchmark.languages", "non-empty"),
        ({"languages": ["sw", "sw"]}, "benchmark.languages", "listed twice"),
        ({"langauges": ["sw"]}, "benchmark.langauges", "did you mean 'languages'"),
        ({"split": "testA"}, "benchmark.split", "held out"),
        ({"split": "deve"}, "benchmark.split", "did you mean 'dev'"),
        ({"split": "train", "languages": ["sw", "yo"]}, "benchmark.languages", "yo have no MIRACL train split"),
        ({"pivot": "yo"}, "benchmark.pivot", "with a train split"),
        ({"pivot": "english"}, "benchmark.pivot", "a MIRACL language"),
        ({"tiers": {"sw": "hihg"}}, "benchmark.tiers.sw", "did you mean 'high'"),
        ({"tiers": {"xx": "low"}}, "benchmark.tiers.xx", "a MIRACL language"),
        ({"max_train_pairs": 0}, "benchmark.max_train_pairs", "positive integer"),
        ({"max_train_pairs": "many"}, "benchmark.max_train_pairs", "integer"),
    ],
)
def test_invalid_options_name_the_key_path_and_what_is_allowed(options, path, fragment):
    with pytest.raises(ConfigError) as ei:
        MiraclOptions.parse(options, source="run.toml")
    assert ei.value.path == path
    assert fragment in str(ei.value)
    assert "run.toml" in str(ei.value)


def test_options_are_frozen():
    o = MiraclOptions.parse({"languages": ["sw"]})
    with pytest.raises(Exception, match="frozen"):
        o.split = "train"  # type: ignore[misc]


# --------------------------------------------------------------------------- reading
def test_language_data_is_read_through_ir_datasets_with_title_and_text(miracl_fixture):
    b = bench(miracl_fixture)
    sw = b.language_data("sw")
    assert isinstance(sw, LanguageData) and (sw.language, sw.tier) == ("sw", "low")
    assert sw.corpus == {
        "2001#0": "Mto Nile Mto Nile ni mto mrefu zaidi barani Afrika.",
        "2002#0": "Simba Simba ni mnyama wa porini anayeishi savana.",
        "2003#0": "Kilimanjaro Mlima Kilimanjaro uko Tanzania.",
    }
    # Query 7 has no judgments and is dropped; judgments are kept as given, including the
    # judgment of passage 2999#0, which is not in the corpus (as trec_eval would count it).
    assert sw.queries == {"5": "mto mrefu zaidi afrika", "6": "simba anaishi wapi"}
    assert sw.qrels == {"5": {"2001#0": 1}, "6": {"2002#0": 1, "2003#0": 0, "2999#0": 1}}
    en = b.language_data("en")
    assert en.corpus["1004#0"] == "Water covers most of the surface of the Earth."  # empty title: text only
    assert b.language_data("yo").corpus["3002#0"] == "Kìnìún Kìnìún jẹ́ ẹranko ìgbẹ́."
    stats = b.describe()["stats"]
    assert stats["sw"] == {
        "docs": 3,
        "queries": 2,
        "queries_read": 3,
        "dropped_unjudged_queries": 1,
        "judgments": 4,
        "judgments_of_docs_not_in_corpus": 1,
    }
    assert set(stats) == {"sw", "yo", "en"}


def test_language_data_is_loaded_lazily_and_memoised(miracl_fixture):
    b = bench(miracl_fixture)
    assert b.describe()["stats"] == {}
    first = b.language_data("yo")
    assert b.language_data("yo") is first
    assert set(b.describe()["stats"]) == {"yo"}


def test_unknown_language_is_refused_with_did_you_mean(miracl_fixture):
    b = bench(miracl_fixture, languages=["sw"])
    with pytest.raises(UnknownLanguageError, match="did you mean 'sw'"):
        b.language_data("sww")


def test_train_pairs_take_the_first_positive_of_each_judged_training_query(miracl_fixture):
    b = bench(miracl_fixture)
    expected = [
        TrainPair("which sea does the nile flow into", "Nile The Nile flows north into the Mediterranean Sea."),
        TrainPair("highest mountain in africa", "Kilimanjaro Mount Kilimanjaro is the highest mountain in Africa."),
    ]
    assert list(b.train_pairs()) == expected  # query 12 (only a 0 judgment) and 13 (none) are skipped
    assert b.describe()["train_stats"] == {"pairs": 2, "queries_with_positive": 2, "skipped_missing_passage": 0}
    # Same pairs when the pivot corpus is already in memory (another code path).
    b2 = bench(miracl_fixture)
    b2.language_data("en")
    assert list(b2.train_pairs()) == expected
    assert list(bench(miracl_fixture, max_train_pairs=1).train_pairs()) == expected[:1]


def test_bitext_is_read_from_the_bitext_dir(miracl_fixture, tmp_path):
    write_bitext_tsv(tmp_path / "sw.tsv", [BitextPair("water", "maji"), BitextPair("lion", "simba")])
    b = bench(miracl_fixture, bitext_dir=str(tmp_path))
    assert list(b.bitext("sw")) == [BitextPair("water", "maji"), BitextPair("lion", "simba")]
    assert list(b.bitext("en")) == []  # the pivot
    with pytest.raises(DataUnavailableError, match="yo.tsv"):
        b.bitext("yo")
    with pytest.raises(DataUnavailableError, match="bitext_dir"):
        bench(miracl_fixture).bitext("sw")


# --------------------------------------------------------------------------- failures
def test_missing_file_gives_data_unavailable_naming_dataset_and_file(miracl_fixture):
    qrels = next(miracl_fixture["home"].glob("miracl/v1.0/sw/dev/qrels.tsv"))
    qrels.unlink()
    b = bench(miracl_fixture)
    with pytest.raises(DataUnavailableError) as ei:
        b.language_data("sw")
    msg = str(ei.value)
    assert b.dataset_id("sw") in msg and str(qrels) in msg
    assert f"ir_datasets export {b.dataset_id('sw')} docs" in msg and "IR_DATASETS_HOME" in msg
    with pytest.raises(DataUnavailableError, match="qrels.tsv"):
        b.check_available()
    assert b.language_data("yo").queries == {"8": "odò tó gùn jùlọ"}  # other languages still load


def test_with_downloads_allowed_a_failed_read_is_still_an_actionable_error(miracl_fixture):
    # allow_download skips the offline check; the failure inside ir_datasets is converted.
    (miracl_fixture["home"] / "miracl/v1.0/sw/dev/topics.tsv").unlink()
    with pytest.raises(DataUnavailableError, match="queries: cannot read the data") as ei:
        bench(miracl_fixture, allow_download=True).language_data("sw")
    assert isinstance(ei.value.__cause__, FileNotFoundError)


def test_malformed_qrels_line_is_a_data_format_error(miracl_fixture):
    p = miracl_fixture["home"] / "miracl/v1.0/yo/dev/qrels.tsv"
    p.write_text("8\tQ0\t3001#0\t1\n8\tQ0\t3002#0\n")
    with pytest.raises(DataFormatError, match="qrels: record 2: malformed.*expected 4 columns, got 3"):
        bench(miracl_fixture).language_data("yo")


def test_unregistered_dataset_id_is_data_unavailable():
    b = MiraclBenchmark({"languages": ["sw"]}, dataset_id="no-such-collection/{lang}/{split}")
    with pytest.raises(DataUnavailableError, match="no dataset 'no-such-collection/sw/dev'"):
        b.language_data("sw")


# --------------------------------------------------------------------------- fingerprint
def test_fingerprint_is_stable_and_follows_content_and_options(miracl_fixture, tmp_path):
    fp = bench(miracl_fixture).fingerprint()
    assert fp == bench(miracl_fixture).fingerprint() and len(fp) == 64
    assert bench(miracl_fixture, languages=["sw", "yo"]).fingerprint() != fp
    assert bench(miracl_fixture, max_train_pairs=1).fingerprint() != fp
    assert bench(miracl_fixture, allow_download=True).fingerprint() == fp  # how, not what
    write_bitext_tsv(tmp_path / "sw.tsv", [BitextPair("water", "maji")])
    with_bitext = bench(miracl_fixture, bitext_dir=str(tmp_path)).fingerprint()
    assert with_bitext != fp
    write_bitext_tsv(tmp_path / "sw.tsv", [BitextPair("water", "maji"), BitextPair("lion", "simba")])
    assert bench(miracl_fixture, bitext_dir=str(tmp_path)).fingerprint() != with_bitext
    p = miracl_fixture["home"] / "miracl/v1.0/sw/dev/qrels.tsv"  # fixture files have no pinned md5:
    p.write_text(p.read_text().replace("2001#0\t1", "2001#0\t0"))  # hashed by content
    assert bench(miracl_fixture).fingerprint() != fp


# --------------------------------------------------------------------------- real MIRACL ids
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
    from harness.benchmarks.miracl import MiraclBenchmark
    from harness.errors import DataUnavailableError
    b = MiraclBenchmark({"languages": ["sw", "yo"]})
    out = {"attempts": attempts}
    try:
        b.check_available()
        out["sw"] = {k: dict(v) for k, v in vars(b.language_data("sw")).items() if k in ("corpus", "queries", "qrels")}
        out["yo_queries"] = dict(b.language_data("yo").queries)
        out["train"] = [[p.query, p.positive] for p in b.train_pairs()]
        out["fingerprint"] = b.fingerprint()
    except DataUnavailableError as e:
        out["error"] = str(e)
    print(json.dumps(out))
    """
)


def _run_real_miracl(home: Path) -> dict:
    env = {**os.environ, "IR_DATASETS_HOME": str(home), "IR_DATASETS_DL_TRIES": "1"}
    proc = subprocess.run([sys.executable, "-c", _SCRIPT], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_real_miracl_ids_read_files_laid_out_as_ir_datasets_keeps_them(miracl_home):
    out = _run_real_miracl(miracl_home)
    assert "error" not in out, out.get("error")
    assert out["attempts"] == []
    assert out["sw"]["queries"] == {"5": "mto mrefu zaidi afrika", "6": "simba anaishi wapi"}
    assert out["sw"]["qrels"]["6"] == {"2002#0": 1, "2003#0": 0, "2999#0": 1}
    assert out["sw"]["corpus"]["2001#0"] == "Mto Nile Mto Nile ni mto mrefu zaidi barani Afrika."
    assert out["yo_queries"] == {"8": "odò tó gùn jùlọ"}
    assert out["train"][0] == [
        "which sea does the nile flow into",
        "Nile The Nile flows north into the Mediterranean Sea.",
    ]
    assert len(out["train"]) == 2 and len(out["fingerprint"]) == 64


def test_real_miracl_missing_offline_fails_fast_without_network(tmp_path):
    empty = tmp_path / "empty_irds_home"
    empty.mkdir()
    out = _run_real_miracl(empty)
    assert out["attempts"] == [], "the adapter must not try the network"
    msg = out["error"]
    assert "miracl/sw/dev" in msg and "not available offline" in msg
    assert str(empty / "miracl" / "v1.0" / "sw" / "dev" / "topics.tsv") in msg
    assert "ir_datasets export miracl/sw/dev docs" in msg and "huggingface.co" in msg


def test_a_built_docstore_replaces_the_raw_corpus_files(miracl_fixture):
    import ir_datasets

    ds = ir_datasets.load(miracl_fixture["train_dataset_id"].format(lang="en"))
    ds.docs_store().build()  # what ir_datasets does on a first docs lookup
    for gz in (miracl_fixture["home"] / "miracl/v1.0/en/docs").glob("*.jsonl.gz"):
        gz.unlink()
    b = bench(miracl_fixture)
    b.check_available()
    assert b.train_pairs()[1].positive == "Kilimanjaro Mount Kilimanjaro is the highest mountain in Africa."
    assert len(b.language_data("en").corpus) == 5


def test_training_queries_whose_positives_are_missing_are_skipped_with_a_warning(miracl_fixture):
    p = miracl_fixture["home"] / "miracl/v1.0/en/train/qrels.tsv"
    p.write_text(p.read_text().replace("11\tQ0\t1003#0\t1", "11\tQ0\t9999#0\t1"))
    b = bench(miracl_fixture)
    with pytest.warns(UserWarning, match="1 training queries skipped"):
        pairs = b.train_pairs()
    assert [t.query for t in pairs] == ["which sea does the nile flow into"]
    assert b.describe()["train_stats"]["skipped_missing_passage"] == 1


def test_a_file_with_a_pinned_md5_is_identified_by_its_bytes(tmp_path):
    """Editing a file that ir_datasets pins (e.g. MIRACL's qrels) changes its identity: the bytes count, not the pin."""
    from harness.benchmarks._irds import SourceFile

    p = tmp_path / "qrels.tsv"
    p.write_text("q1\t0\td1\t1\n")
    pinned = "0123456789abcdef0123456789abcdef"
    before = SourceFile("qrels", str(p), True, md5=pinned).content_id()
    p.write_text("q1\t0\td1\t0\n")
    after = SourceFile("qrels", str(p), True, md5=pinned).content_id()
    assert before.startswith("sha256:") and before != after
    assert SourceFile("qrels", str(tmp_path / "absent"), False, md5=pinned).content_id() == f"md5:{pinned}"
