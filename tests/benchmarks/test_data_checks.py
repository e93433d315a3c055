"""Bad data refused before any training, naming file, line or id (issue 25): MIRACL through ir_datasets,
local files, and any adapter (:mod:`harness.validation`)."""

from __future__ import annotations

import gzip
import json

import pytest

from harness.benchmarks._common import DataFormatError
from harness.benchmarks.miracl import MiraclBenchmark
from harness.validation import validate_benchmark


def _bench(fx: dict, languages=("sw", "yo", "en")) -> MiraclBenchmark:
    return MiraclBenchmark(
        {"languages": list(languages)}, dataset_id=fx["dataset_id"], train_dataset_id=fx["train_dataset_id"]
    )


def _validate(b) -> dict:
    return validate_benchmark(b, b.languages, b.splits, [b])


def test_the_miracl_fixture_passes_and_counts_its_documents(miracl_fixture):
    b = _bench(miracl_fixture)
    facts = _validate(b)
    assert set(facts) == {"sw", "yo", "en"} and facts["yo"]["documents"] == len(b.language_data("yo").corpus)


def test_a_truncated_jsonl_gz_corpus_names_the_file(miracl_fixture):
    home = miracl_fixture["home"]
    files = [p for p in sorted(home.glob("miracl/v1.0/yo/docs/*.jsonl.gz")) if gzip.decompress(p.read_bytes())]
    big = files[0]
    data = big.read_bytes()
    big.write_bytes(data[: len(data) // 2])  # cut mid-stream: gzip raises EOFError
    with pytest.raises(DataFormatError) as e:
        _validate(_bench(miracl_fixture, ("yo",)))
    msg = str(e.value)
    assert str(big) in msg and "ends early or is corrupt" in msg and "EOFError" in msg


def test_duplicate_doc_ids_in_a_streamed_corpus_are_named(miracl_fixture):
    home = miracl_fixture["home"]
    files = [p for p in sorted(home.glob("miracl/v1.0/yo/docs/*.jsonl.gz")) if gzip.decompress(p.read_bytes())]
    first = gzip.decompress(files[0].read_bytes()).splitlines(keepends=True)[0]
    doc_id = json.loads(first)["docid"]
    with gzip.open(files[-1], "ab") as f:
        f.write(first)  # the same passage again, at the end of the corpus
    with pytest.raises(
        DataFormatError, match=rf"duplicate doc id {doc_id!r} \(documents \d+ and \d+ of the corpus of 'yo'\)"
    ):
        _validate(_bench(miracl_fixture, ("yo",)))


def test_an_empty_query_text_is_named_with_its_line(miracl_fixture):
    topics = miracl_fixture["home"] / "miracl/v1.0/sw/dev/topics.tsv"
    lines = topics.read_text().splitlines()
    qid = lines[1].split("\t")[0]
    lines[1] = f"{qid}\t "
    topics.write_text("\n".join(lines) + "\n")
    b = _bench(miracl_fixture, ("sw",))
    with pytest.raises(DataFormatError) as e:
        b.topics("sw")
    assert f"{b.dataset_id('sw')} queries: judged query {qid!r} (record 2) has an empty text" in str(e.value)


def test_an_empty_query_text_in_any_adapter_is_refused():
    from harness.benchmarks.base import LanguageData
    from harness.corpus import Topics

    with pytest.raises(DataFormatError, match=r"queries of language 'xx'.*empty text: \['q2'\]"):
        LanguageData("xx", "high", {"d": "t"}, {"q1": "a", "q2": "  "}, {"q1": {"d": 1}, "q2": {"d": 1}})
    with pytest.raises(DataFormatError, match=r"empty text: \['q1'\]"):
        Topics("xx", "high", {"q1": ""}, {"q1": {"d": 1}})


def test_local_files_with_an_empty_query_text_are_refused_with_the_line(local_dir, local_options):
    from harness.benchmarks.local import LocalBenchmark

    q = local_dir / "sw" / "queries.tsv"
    lines = q.read_text().splitlines()
    qid = lines[0].split("\t")[0]
    lines[0] = f"{qid}\t\u00a0"
    q.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataFormatError) as e:
        LocalBenchmark(local_options, base_dir=local_dir).language_data("sw")
    assert str(q) in str(e.value) and qid in str(e.value) and "line 1" in str(e.value)
