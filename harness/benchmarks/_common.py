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

from pydantic import BaseModel, ValidationError

from harness.errors import ConfigError, HarnessError, did_you_mean

#: Resource tiers a benchmark may assign to a language.
TIERS = ("low", "mid", "high")

#: A language code usable in file names (``runs/<method>/<seed>/<language>.trec``).
LANGUAGE_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")

M = TypeVar("M", bound=BaseModel)


class DataFormatError(HarnessError, ValueError):
    """A data file is malformed or inconsistent.

    Parameters
    ----------
    source : str or Path
        The file (or ir_datasets dataset id) that is wrong.
    problem : str
        What is wrong, including what was expected.
    line : int, optional
        1-based line number in ``source``.
    hint : str, optional
        How to fix it.
    """

    def __init__(self, source: str | os.PathLike, problem: str, line: int | None = None, hint: str = ""):
        self.source, self.problem, self.line, self.hint = str(source), problem, line, hint
        where = f"{source}, line {line}" if line is not None else f"{source}"
        msg = f"{where}: {problem}"
        if hint:
            msg += f". {hint}"
        super().__init__(msg)


# --------------------------------------------------------------------------- options
def parse_options(model: type[M], data: M | Mapping[str, Any] | None, *, prefix: str = "benchmark", source: str = "") -> M:
    """Validate ``data`` into ``model``; raise :class:`ConfigError` on the first problem.

    ``ConfigError`` raised inside a validator is re-raised with ``prefix`` prepended to its
    key path; pydantic's own errors (unknown keys, wrong types) become ``ConfigError`` with
    the key path ``<prefix>.<field>`` and, for unknown keys, a did-you-mean.
    """
    if isinstance(data, model):
        return data
    try:
        return model.model_validate(dict(data or {}))
    except ValidationError as e:
        raise _config_error(model, e, prefix, source) from e


def _config_error(model: type[BaseModel], e: ValidationError, prefix: str, source: str) -> ConfigError:
    err = e.errors()[0]
    loc = [str(p) for p in err.get("loc", ())]
    inner = (err.get("ctx") or {}).get("error")
    if isinstance(inner, ConfigError):  # raised by a validator: its path starts at its own field
        path = ".".join([prefix, *loc[:-1], inner.path])
        return ConfigError(path, inner.value, inner.allowed, inner.hint, source or inner.source)
    path = ".".join([prefix, *loc])
    if err.get("type") == "extra_forbidden":
        fields = _fields_at(model, loc[:-1])
        return ConfigError(
            path,
            err.get("input"),
            f"known keys: {', '.join(sorted(fields)) or '(none)'}",
            f"unknown key {loc[-1]!r}{did_you_mean(loc[-1], fields)}; remove it or fix its spelling",
            source,
        )
    msg = str(err.get("msg", "invalid value"))
    return ConfigError(path, err.get("input"), msg[0].lower() + msg[1:] if msg else "a valid value", source=source)


def _fields_at(model: type[BaseModel], loc: Sequence[str]) -> list[str]:
    """Field names of the (nested) model at ``loc``, best effort (for did-you-mean)."""
    current: Any = model
    for part in loc:
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            break
        f = current.model_fields.get(part)
        if f is None:  # a dict key (e.g. a language code): descend into the value type
            continue
        current = f.annotation
        args = getattr(current, "__args__", ())
        models = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
        if models:
            current = models[0]
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


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
                raise DataFormatError(path, f"not valid UTF-8 ({e.reason} at byte {e.start})", lineno, "re-encode the file as UTF-8") from e
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
                    raise ValueError(f"row {i} of {path} has {len(row)} fields, expected {len(columns)} ({', '.join(columns)})")
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
