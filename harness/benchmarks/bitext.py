"""Bitext files: one ``pivot<TAB>other`` translation pair per line (UTF-8).

A benchmark's ``bitext_dir`` holds one file per language, ``<language>.tsv``.  Blank
lines are skipped; any other line must have exactly two non-empty tab-separated fields.
Moses-style file pairs, TMX and Hugging Face datasets: :mod:`harness.benchmarks.bitext_sources`.

Example
-------
>>> import tempfile, pathlib
>>> from harness.benchmarks.base import BitextPair
>>> p = pathlib.Path(tempfile.mkdtemp()) / "sw.tsv"
>>> write_bitext_tsv(p, [BitextPair("the water", "maji")])
>>> read_bitext_tsv(p)
[BitextPair(pivot='the water', other='maji', alignment=None)]
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from harness.benchmarks._common import DataFormatError, iter_tsv, write_tsv
from harness.benchmarks.base import BitextPair
from harness.errors import DataUnavailableError

__all__ = ["read_bitext_tsv", "write_bitext_tsv", "bitext_path", "DataFormatError"]

_COLUMNS = ("pivot", "other")


def bitext_path(bitext_dir: str | os.PathLike, language: str) -> Path:
    """The bitext file of ``language`` in ``bitext_dir``: ``<bitext_dir>/<language>.tsv``."""
    return Path(bitext_dir) / f"{language}.tsv"


def read_bitext_tsv(path: str | os.PathLike) -> list[BitextPair]:
    """Read ``pivot<TAB>other`` pairs, in file order.

    Raises
    ------
    DataUnavailableError
        The file does not exist.
    DataFormatError
        A line does not have two non-empty fields, or is not UTF-8 (names file and line).
    """
    path = Path(path)
    if not path.is_file():
        raise DataUnavailableError(
            f"bitext file {str(path)!r} does not exist; it must hold one 'pivot<TAB>other' "
            "translation pair per line (write one with harness.benchmarks.bitext.write_bitext_tsv)"
        )
    pairs = [BitextPair(pivot=f[0], other=f[1]) for _, f in iter_tsv(path, _COLUMNS)]
    if not pairs:
        raise DataFormatError(
            path, "no bitext pairs (the file is empty)", hint="give at least one 'pivot<TAB>other' line"
        )
    return pairs


def write_bitext_tsv(path: str | os.PathLike, pairs: Iterable[BitextPair]) -> None:
    """Write pairs as ``pivot<TAB>other`` lines, atomically.

    Raises ``ValueError`` naming the pair if a side is empty or holds a tab or newline.
    """
    write_tsv(path, ((p.pivot, p.other) for p in pairs), _COLUMNS)
