"""Helpers shared by the file-backed benchmark adapters (``miracl``, ``local``, bitext).

* :class:`DataFormatError`: a data file is malformed (names the file and the line).
* :func:`parse_options`: validate a benchmark's options, turning pydantic's errors into
  :class:`~harness.errors.ConfigError` with the key path ``benchmark.<field>``.
* :func:`iter_tsv` / :func:`write_tsv`: tab-separated files with line-numbered errors.
* :func:`sha256_file`: content hash of a file, for fingerprints.

Nothing here imports ir_datasets or torch.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from harness.benchmarks.base import TIERS
from harness.errors import ConfigError, DataFormatError
from harness.options import validate_section

__all__ = ["TIERS", "DataFormatError", "check_language_code", "iter_tsv", "parse_options", "sha256_file", "write_tsv"]


#: A language code usable in file names (``runs/<method>/<seed>/<language>.trec``).
LANGUAGE_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")

M = TypeVar("M", bound=BaseModel)


# --------------------------------------------------------------------------- options
def parse_options(
    model: type[M], data: M | Mapping[str, Any] | None, *, prefix: str = "benchmark", source: str = ""
) -> M:
    """Validate a benchmark's options (:func:`harness.options.validate_section` under ``prefix``)."""
    return validate_section(model, data, prefix, source)


def check_language_code(path: str, code: str) -> str:
    """Raise ConfigError unless ``code`` is a usable language code."""
    if not isinstance(code, str) or not LANGUAGE_CODE.match(code):
        raise ConfigError(path, code, "a language code of letters, digits, '_' or '-', e.g. 'sw'")
    return code


# --------------------------------------------------------------------------- TSV files
def iter_tsv(path: str | os.PathLike, columns: Sequence[str]) -> Iterator[tuple[int, list[str]]]:
    """Yield ``(line_number, fields)`` for each non-blank line of a UTF-8 TSV file.

    Every line must have exactly ``len(columns)`` tab-separated, non-empty fields; blank
    lines are skipped; a UTF-8 byte-order mark is ignored.  Errors name the file, the
    1-based line number and the expected layout.
    """
    path = Path(path)
    layout = "<TAB>".join(columns)
    with path.open("rb") as f:
        for lineno, raw in enumerate(f, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise DataFormatError(
                    path, f"not valid UTF-8 ({e.reason} at byte {e.start})", lineno, "re-encode the file as UTF-8"
                ) from e
            if lineno == 1:
                line = line.removeprefix("\ufeff")
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            fields = line.split("\t")
            if len(fields) != len(columns):
                raise DataFormatError(
                    path,
                    f"expected {len(columns)} tab-separated fields ({layout}), got {len(fields)}",
                    lineno,
                    "a field may not contain a tab or a newline",
                )
            empty = [c for c, v in zip(columns, fields) if not v.strip()]
            if empty:
                raise DataFormatError(path, f"empty field {empty[0]!r} (layout {layout})", lineno)
            yield lineno, fields


def write_tsv(path: str | os.PathLike, rows: Iterable[Sequence[str]], columns: Sequence[str]) -> None:
    """Write rows as UTF-8 TSV atomically (temporary file, then rename).

    Raises ``ValueError`` naming the row if a field is empty or holds a tab or newline,
    which :func:`iter_tsv` could not read back.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            for i, row in enumerate(rows):
                if len(row) != len(columns):
                    raise ValueError(
                        f"row {i} of {path} has {len(row)} fields, expected {len(columns)} ({', '.join(columns)})"
                    )
                for c, v in zip(columns, row):
                    if not isinstance(v, str) or not v.strip() or any(ch in v for ch in "\t\r\n"):
                        raise ValueError(
                            f"row {i} of {path}: field {c!r} = {v!r} cannot be written as TSV "
                            "(it must be a non-empty string without tabs or newlines)"
                        )
                f.write("\t".join(row) + "\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()
