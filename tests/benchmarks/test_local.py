"""Local-files adapter: reading through ir_datasets' readers, checks, errors, fingerprint."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from harness.benchmarks._common import DataFormatError
from harness.benchmarks.base import BitextPair, TrainPair
from harness.benchmarks.local import LocalBenchmark, LocalOptions
from harness.errors import ConfigError, DataUnavailableError


def test_reads_both_corpus_layouts_and_drops_unjudged_queries(local_dir, local_options):
    b = LocalBenchmark(local_options, base_dir=local_dir)
    assert (b.name, b.pivot, b.languages, dict(b.tiers)) == ("local", "en", ("sw", "en"), {"sw": "low", "en": "high"})
    sw = b.language_data("sw")  # doc_id<TAB>text, with a blank line in the middle
    assert list(sw.corpus) == ["sw-d1", "sw-d2", "sw-d3", "sw-d4", "sw-d5"]
    assert sw.corpus["sw-d4"] == "Kiswahili ni lugha ya Afrika Mashariki."
    assert sw.queries == {
        "sw-q1": "mto mrefu zaidi Afrika",
        "sw-q2": "simba anaishi wapi",
        "sw-q3": "mlima mrefu Tanzania",
    }
    assert sw.qrels == {"sw-q1": {"sw-d2": 1, "sw-d1": 0}, "sw-q2": {"sw-d3": 1}, "sw-q3": {"sw-d5": 1}}
    en = b.language_data("en")  # doc_id<TAB>title<TAB>text
    assert en.corpus["en-d2"] == "Nile The Nile is the longest river in Africa."
    assert b.language_data("sw") is sw  # memoised
    stats = b.describe()["stats"]
    assert stats["sw"]["queries_read"] == 4 and stats["sw"]["dropped_unjudged_queries"] == 1
    assert stats["en"]["dropped_unjudged_queries"] == 0 and stats["en"]["docs"] == 4


def test_train_pairs_and_bitext(local_dir, local_options):
    b = LocalBenchmark(local_options, base_dir=local_dir)
    assert b.train_pairs()[0] == TrainPair("longest river in Africa", "The Nile is the longest river in Africa.")
    assert len(b.train_pairs()) == 3
    assert b.bitext("sw")[1] == BitextPair("the river is long", "mto ni mrefu")
    assert list(b.bitext("en")) == []  # the pivot
    b.check_available()


def test_absolute_paths_and_no_optional_files(local_dir, local_options):
    opts = copy.deepcopy(local_options)
    del opts["train_pairs"], opts["bitext_dir"]
    for files in opts["languages"].values():
        for k in ("corpus", "queries", "qrels"):
            files[k] = str(local_dir / files[k])
    b = LocalBenchmark(opts, base_dir="/nonexistent")
    assert len(b.language_data("en").queries) == 3
    with pytest.raises(DataUnavailableError, match="benchmark.train_pairs is not set"):
        b.train_pairs()
    with pytest.raises(DataUnavailableError, match="set benchmark.bitext_dir"):
        b.bitext("sw")


def test_missing_file_is_named_with_its_config_key_and_no_directory_is_created(local_dir, local_options):
    opts = copy.deepcopy(local_options)
    opts["languages"]["sw"]["corpus"] = "nowhere/corpus.tsv"
    b = LocalBenchmark(opts, base_dir=local_dir)
    with pytest.raises(DataUnavailableError) as ei:
        b.language_data("sw")
    assert "benchmark.languages.sw.corpus" in str(ei.value) and str(local_dir / "nowhere/corpus.tsv") in str(ei.value)
    assert not (local_dir / "nowhere").exists()
    with pytest.raises(DataUnavailableError, match="languages.sw.corpus"):
        b.check_available()
    (local_dir / "bitext" / "sw.tsv").unlink()
    with pytest.raises(DataUnavailableError, match="sw.tsv"):
        LocalBenchmark(local_options, base_dir=local_dir).check_available()


@pytest.mark.parametrize(
    "file, content, line, fragment",
    [
        ("sw/queries.tsv", "sw-q1\tmto\n\nsw-q2\tsimba\textra\n", 3, "expected 2 fields, got 3"),
        ("sw/qrels.txt", "sw-q1 0 sw-d2 1\n\nsw-q2 0 sw-d3\n", 3, "expected 4 columns, got 3"),
        ("sw/qrels.txt", "sw-q1 0 sw-d2 1\nsw-q2 0 sw-d3 yes\n", 2, "invalid literal for int()"),
        ("sw/corpus.tsv", "sw-d1\tMaji\n\n\nsw-d2\tMto\tNile ni mto\n", 4, "first line has the layout doc_id<TAB>text"),
        ("en/corpus.tsv", "en-d1\ta\tb\tc\n", 1, "got 4 fields"),
        ("sw/corpus.tsv", "sw-d1\tMaji\nsw-d2\t \n", 2, "empty text"),
        ("sw/corpus.tsv", "sw-d1\tMaji\nsw-d1\tMto\n", 2, "duplicate doc id 'sw-d1'"),
        ("sw/queries.tsv", "sw-q1\tmto\nsw-q1\tsimba\n", 2, "duplicate query id 'sw-q1'"),
        ("sw/qrels.txt", "sw-q1 0 sw-d2 1\nsw-q1 0 sw-d2 0\n", 2, "judged twice with different relevance"),
    ],
)
def test_malformed_lines_name_file_and_line(local_dir, local_options, file, content, line, fragment):
    (local_dir / file).write_text(content)
    lang = file.split("/")[0]
    with pytest.raises(DataFormatError) as ei:
        LocalBenchmark(local_options, base_dir=local_dir).language_data(lang)
    assert ei.value.line == line, str(ei.value)
    assert ei.value.source == str(local_dir / file)
    assert f"{local_dir / file}, line {line}: " in str(ei.value) and fragment in str(ei.value)


@pytest.mark.parametrize(
    "qrels, fragment",
    [
        ("", "missing qrels for language 'sw'"),
        ("\n\n", "missing qrels for language 'sw'"),
        ("sw-q1 0 sw-d2 1\nsw-q9 0 sw-d2 1\nsw-q8 0 sw-d1 1\n", "2 judged query ids are not in the queries"),
        ("sw-q1 0 sw-d2 1\nsw-q2 0 sw-d77 1\n", "1 judgments name doc ids that are not in the corpus"),
    ],
)
def test_inconsistent_qrels_are_errors_naming_some_ids(local_dir, local_options, qrels, fragment):
    (local_dir / "sw/qrels.txt").write_text(qrels)
    with pytest.raises(DataFormatError) as ei:
        LocalBenchmark(local_options, base_dir=local_dir).language_data("sw")
    assert fragment in str(ei.value)
    for name in ("sw-q8", "sw-q9", "sw-d77"):
        if name in qrels:
            assert name in str(ei.value)


def test_malformed_train_pairs_name_file_and_line(local_dir, local_options):
    (local_dir / "train.tsv").write_text("a query\ta passage\nno tab here\n")
    with pytest.raises(
        DataFormatError, match=r"train.tsv, line 2: expected 2 tab-separated fields \(query<TAB>positive\)"
    ):
        LocalBenchmark(local_options, base_dir=local_dir).train_pairs()


@pytest.mark.parametrize(
    "mutate, path, fragment",
    [
        (lambda o: o["languages"]["sw"].update(corpsu="x"), "benchmark.languages.sw.corpsu", "did you mean 'corpus'"),
        (lambda o: o["languages"]["sw"].update(tier="lwo"), "benchmark.languages.sw.tier", "did you mean 'low'"),
        (lambda o: o["languages"]["sw"].pop("qrels"), "benchmark.languages.sw.qrels", "required"),
        (lambda o: o["languages"].update({"s w": o["languages"]["sw"]}), "benchmark.languages.s w", "language code"),
        (lambda o: o.update(languages={}), "benchmark.languages", "non-empty"),
        (lambda o: o.update(bitext="b"), "benchmark.bitext", "did you mean 'bitext_dir'"),
        (lambda o: o.update(pivot="e/n"), "benchmark.pivot", "language code"),
    ],
)
def test_invalid_options_name_the_key_path(local_options, mutate, path, fragment):
    opts = copy.deepcopy(local_options)
    mutate(opts)
    with pytest.raises(ConfigError) as ei:
        LocalOptions.parse(opts)
    assert ei.value.path == path
    assert fragment in str(ei.value)


def test_fingerprint_follows_file_contents_and_tiers(local_dir, local_options):
    fp = LocalBenchmark(local_options, base_dir=local_dir).fingerprint()
    assert fp == LocalBenchmark(local_options, base_dir=local_dir).fingerprint() and len(fp) == 64
    opts = copy.deepcopy(local_options)
    opts["languages"]["sw"]["tier"] = "mid"
    assert LocalBenchmark(opts, base_dir=local_dir).fingerprint() != fp
    with (local_dir / "bitext/sw.tsv").open("a") as f:
        f.write("a lion\tsimba\n")
    fp2 = LocalBenchmark(local_options, base_dir=local_dir).fingerprint()
    assert fp2 != fp
    with (local_dir / "en/qrels.txt").open("a") as f:
        f.write("en-q1 0 en-d1 0\n")
    assert LocalBenchmark(local_options, base_dir=local_dir).fingerprint() not in (fp, fp2)


def test_a_moved_copy_has_the_same_fingerprint(local_dir, local_options, tmp_path):
    import shutil

    moved = Path(shutil.copytree(local_dir, tmp_path / "elsewhere"))
    assert (
        LocalBenchmark(local_options, base_dir=moved).fingerprint()
        == LocalBenchmark(local_options, base_dir=local_dir).fingerprint()
    )


# ----------------------------------------------------------------------------- streamed access (issue 12)
def test_streamed_corpus_and_topics_match_language_data_without_loading_it(local_dir, local_options, monkeypatch):
    from harness import corpus
    from harness.cache import Cache

    monkeypatch.setattr(corpus, "RACY_NS", 0)  # the fixture's files were just written: memoise them anyway

    cache = Cache(local_dir.parent / "cache")
    s = LocalBenchmark(local_options, cache, base_dir=local_dir)
    full = LocalBenchmark(local_options, base_dir=local_dir)
    for lang in ("sw", "en"):
        assert list(s.iter_corpus(lang)) == list(full.language_data(lang).corpus.items())
        t = s.topics(lang)
        d = full.language_data(lang)
        assert (t.queries, t.qrels, t.tier) == (d.queries, d.qrels, d.tier)
        assert corpus.judged_view(s, lang).qrels == d.qrels
    assert s._data == {}  # nothing was loaded whole
    assert s.describe()["stats"] == full.describe()["stats"]
    assert s._data == {}
    # fingerprints come from file digests memoised by the file's state (corpus.file_stamp), not from parsing
    fp = s.corpus_fingerprint("sw")
    assert len(list((local_dir.parent / "cache" / "file-digests").glob("*.json"))) >= 1
    assert fp == LocalBenchmark(local_options, cache, base_dir=local_dir).corpus_fingerprint("sw")
    assert s.fingerprint() == full.fingerprint()  # the same sha256s: cell keys are unchanged
    langs = s.language_fingerprints()
    with (local_dir / "sw/corpus.tsv").open("a") as f:
        f.write("sw-d9\tMaji mengi\n")
    again = LocalBenchmark(local_options, cache, base_dir=local_dir)
    assert again.corpus_fingerprint("sw") != fp and again.corpus_fingerprint("en") == s.corpus_fingerprint("en")
    new = again.language_fingerprints()
    assert new["sw"] != langs["sw"] and new["en"] == langs["en"]


@pytest.mark.parametrize(
    "content, line, fragment",
    [
        (
            "sw-d1\tMaji\nsw-d2\tMto\nsw-d3\tSimba\nsw-d5\tMlima\nsw-d4\tKiswahili\nsw-d4\tTena\n",
            6,
            "duplicate doc id 'sw-d4'",
        ),
        ("sw-d1\tMaji\nsw-d2\tMto\nsw-d1\tTena\nsw-d3\tSimba\nsw-d5\tMlima\n", 3, "duplicate doc id 'sw-d1'"),
        ("sw-d1\tMaji\n\nsw-d2\tMto\tNile ni mto\n", 3, "first line has the layout doc_id<TAB>text"),
    ],
)
def test_streamed_topics_find_duplicate_ids_with_their_line(local_dir, local_options, content, line, fragment):
    (local_dir / "sw/corpus.tsv").write_text(content)
    with pytest.raises(DataFormatError) as ei:
        LocalBenchmark(local_options, base_dir=local_dir).topics("sw")
    assert ei.value.line == line and fragment in str(ei.value), str(ei.value)


def test_streamed_topics_reject_judgments_of_missing_documents(local_dir, local_options):
    (local_dir / "sw/qrels.txt").write_text("sw-q1 0 sw-d2 1\nsw-q2 0 sw-d77 1\n")
    with pytest.raises(DataFormatError, match="1 judgments name doc ids that are not in the corpus.*sw-d77"):
        LocalBenchmark(local_options, base_dir=local_dir).topics("sw")
