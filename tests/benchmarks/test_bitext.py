"""Bitext TSV reader and writer."""

from __future__ import annotations

import pytest

from harness.benchmarks._common import DataFormatError
from harness.benchmarks.base import BitextPair
from harness.benchmarks.bitext import bitext_path, read_bitext_tsv, write_bitext_tsv
from harness.errors import DataUnavailableError

PAIRS = [BitextPair("the water", "maji"), BitextPair("Ọ̀rọ̀ — “quoted”", "ìgbẹ́ 42")]


def test_round_trip_preserves_pairs_and_order(tmp_path):
    p = bitext_path(tmp_path / "bitext", "yo")
    assert p == tmp_path / "bitext" / "yo.tsv"
    write_bitext_tsv(p, PAIRS)
    assert read_bitext_tsv(p) == PAIRS
    assert p.read_text(encoding="utf-8") == "the water\tmaji\nỌ̀rọ̀ — “quoted”\tìgbẹ́ 42\n"
    assert [q.name for q in p.parent.iterdir()] == ["yo.tsv"]  # no temporary file left


def test_reader_skips_blank_lines_and_handles_crlf_and_bom(tmp_path):
    p = tmp_path / "sw.tsv"
    p.write_bytes("\ufeffwater\tmaji\r\n\r\n  \nlion\tsimba".encode())
    assert read_bitext_tsv(p) == [BitextPair("water", "maji"), BitextPair("lion", "simba")]


@pytest.mark.parametrize(
    "content, line, fragment",
    [
        (b"a\tb\n\nno tab\n", 3, "expected 2 tab-separated fields (pivot<TAB>other), got 1"),
        (b"a\tb\tc\n", 1, "got 3"),
        (b"a\tb\n\tb\n", 2, "empty field 'pivot'"),
        (b"a\tb\nc\t\xff\xfe\n", 2, "not valid UTF-8"),
    ],
)
def test_reader_errors_name_file_and_line(tmp_path, content, line, fragment):
    p = tmp_path / "sw.tsv"
    p.write_bytes(content)
    with pytest.raises(DataFormatError) as ei:
        read_bitext_tsv(p)
    assert ei.value.line == line and fragment in str(ei.value)
    assert str(ei.value).startswith(f"{p}, line {line}: ")


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(DataUnavailableError, match="sw.tsv' does not exist"):
        read_bitext_tsv(tmp_path / "sw.tsv")
    (tmp_path / "sw.tsv").write_text("\n")
    with pytest.raises(DataFormatError, match="no bitext pairs"):
        read_bitext_tsv(tmp_path / "sw.tsv")


@pytest.mark.parametrize("bad", [BitextPair("a\tb", "c"), BitextPair("a", "line\nbreak"), BitextPair("a", " ")])
def test_writer_refuses_unreadable_pairs_and_leaves_nothing_behind(tmp_path, bad):
    p = tmp_path / "sw.tsv"
    write_bitext_tsv(p, PAIRS)
    with pytest.raises(ValueError, match="row 1 of .*cannot be written as TSV"):
        write_bitext_tsv(p, [PAIRS[0], bad])
    assert read_bitext_tsv(p) == PAIRS  # the old file is untouched
    assert [q.name for q in tmp_path.iterdir()] == ["sw.tsv"]
