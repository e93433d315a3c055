"""Bitext from the formats people have: TSV, Moses-style file pairs, TMX, Hugging Face datasets.

A benchmark's ``[benchmark.bitext]`` table maps each language to one *source* (a
:class:`BitextSource`), exactly one of:

* ``tsv = "path"``: one ``pivot<TAB>other`` pair per line (:mod:`harness.benchmarks.bitext`);
* ``moses = "prefix"`` or ``moses = ["corpus.en", "corpus.sw"]``: two aligned plain-text files,
  line *i* of one the translation of line *i* of the other (OPUS' Moses downloads:
  ``<prefix>.<pivot>`` and ``<prefix>.<language>``; the pivot's file first when listed);
* ``tmx = "path"``: a Translation Memory eXchange file; each ``<tu>`` with a ``<tuv>`` in the
  pivot and one in the language (matched on ``xml:lang``'s primary subtag, case-insensitively:
  ``EN-US`` is ``en``) gives a pair, other ``<tu>`` are skipped and counted;
* ``hf = "name"`` (with ``hf_config``, ``hf_split``, default ``"train"``): a Hugging Face dataset
  read **offline** from the local ``datasets`` cache (``HF_DATASETS_CACHE``, default
  ``~/.cache/huggingface/datasets``), or ``hf_disk = "path"``: a dataset written by
  ``Dataset.save_to_disk``.  The two sides are ``pivot_field`` and ``other_field`` (dotted paths
  into a row; default ``translation.<pivot>`` and ``translation.<language>``, the layout of
  OPUS-100, Tatoeba and WMT datasets; FLORES has ``sentence_eng_Latn`` and the like).

Optional on every source: ``max_pairs = N`` keeps N pairs, the first N in file order, or with
``sample_seed = s`` a fixed seeded sample of N: the pairs with the N smallest
``sha256(f"{s}\\t{i}")`` over their 0-based index ``i`` among the usable pairs, kept in file
order (a function of the seed and the positions only: the same on every machine and library
version).  Pairs with an empty side (after stripping) are skipped and counted.

Identity: :meth:`BitextSource.identity` is the source's options (not its paths) plus the sha256
of the pairs read, ``sha256`` over ``pivot\\tother\\n`` lines after capping and sampling, so
moving a file changes nothing and editing one changes the key.

Bad input is refused by :meth:`BitextSource.check` before any work: a missing file, Moses files
with unequal line counts (both counts named), an HF dataset absent from the cache (naming the
dataset and the commands that fix it).

Example
-------
>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> _ = (d / "c.en").write_text("the water\\nthe lion\\n"); _ = (d / "c.sw").write_text("maji\\nsimba\\n")
>>> src = BitextSource.parse({"moses": str(d / "c")}, "benchmark.bitext.sw")
>>> [(p.pivot, p.other) for p in src.read("en", "sw").pairs]
[('the water', 'maji'), ('the lion', 'simba')]
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, StrictInt, field_validator, model_validator

from harness.benchmarks._common import DataFormatError, parse_options
from harness.benchmarks.base import BitextPair
from harness.errors import ConfigError, DataUnavailableError

__all__ = ["BitextSource", "BitextRead", "FORMATS", "sample_indices"]

#: The keys that name a source's format (exactly one per source).
FORMATS = ("tsv", "moses", "tmx", "hf", "hf_disk")
_SAMPLE_RULE = "sha256(seed\\tindex)-rank/1"


def sample_indices(n: int, k: int, seed: int) -> list[int]:
    """The ``k`` of ``range(n)`` with the smallest ``sha256(f"{seed}\\t{i}")``, in increasing order.

    >>> sample_indices(5, 2, 0) == sorted(sample_indices(5, 2, 0))
    True
    """
    if k >= n:
        return list(range(n))
    keyed = sorted(range(n), key=lambda i: (hashlib.sha256(f"{seed}\t{i}".encode()).hexdigest(), i))
    return sorted(keyed[:k])


@dataclass(frozen=True)
class BitextRead:
    """Pairs of one source, and what was left out while reading them."""

    pairs: list[BitextPair]
    read: int
    skipped_empty: int = 0
    skipped_other: int = 0
    digest: str = ""
    notes: dict[str, Any] = field(default_factory=dict)

    def stats(self) -> dict[str, Any]:
        return {
            "pairs": len(self.pairs),
            "read": self.read,
            "skipped_empty_side": self.skipped_empty,
            "skipped_without_both_languages": self.skipped_other,
            "sha256": self.digest,
            **self.notes,
        }


def _digest(pairs: list[BitextPair]) -> str:
    h = hashlib.sha256()
    for p in pairs:
        h.update(p.pivot.encode())
        h.update(b"\t")
        h.update(p.other.encode())
        h.update(b"\n")
    return h.hexdigest()


def _count_lines(path: Path) -> int:
    n = 0
    with path.open("rb") as f:
        for _ in f:
            n += 1
    return n


def _primary(tag: str) -> str:
    return tag.replace("_", "-").split("-")[0].lower()


class BitextSource(BaseModel):
    """Where one language's bitext comes from (module docstring).

    Attributes
    ----------
    tsv, tmx, hf_disk : Path or None
        A ``pivot<TAB>other`` file, a TMX file, a ``save_to_disk`` directory.
    moses : str or tuple of two str, or None
        A prefix (``<prefix>.<pivot>``, ``<prefix>.<language>``) or the two files, pivot's first.
    hf, hf_config, hf_split : str or None
        A Hugging Face dataset name, its configuration and split (``"train"``), read offline.
    pivot_field, other_field : str or None
        Dotted paths of the two sides in a dataset row (HF sources only).
    max_pairs : int or None
        Keep this many pairs (the first, or a seeded sample with ``sample_seed``).
    sample_seed : int or None
        Seed of the fixed sample (only with ``max_pairs``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    tsv: Path | None = None
    moses: str | tuple[str, str] | None = None
    tmx: Path | None = None
    hf: str | None = None
    hf_disk: Path | None = None
    hf_config: str | None = None
    hf_split: str = "train"
    pivot_field: str | None = None
    other_field: str | None = None
    max_pairs: StrictInt | None = None
    sample_seed: StrictInt | None = None

    @field_validator("moses", mode="before")
    @classmethod
    def _check_moses(cls, v: Any) -> Any:
        if isinstance(v, list):
            v = tuple(v)
        if isinstance(v, tuple) and (len(v) != 2 or not all(isinstance(x, str) and x for x in v)):
            raise ConfigError("moses", list(v), "a file prefix, or a list of two files (the pivot's first)")
        return v

    @model_validator(mode="after")
    def _check_one_format(self) -> "BitextSource":
        given = [f for f in FORMATS if getattr(self, f) is not None]
        if len(given) != 1:
            raise ConfigError(
                "(source)",
                given or None,
                f"exactly one of {', '.join(FORMATS)}",
                "e.g. { moses = 'opus/OPUS-100.en-sw' } or { tsv = 'bitext/sw.tsv' } or "
                "{ hf = 'Helsinki-NLP/opus-100', hf_config = 'en-sw' }",
            )
        hf_keys = ("hf_config", "pivot_field", "other_field")
        if given[0] not in ("hf", "hf_disk"):
            for k in hf_keys:
                if getattr(self, k) is not None:
                    raise ConfigError(k, getattr(self, k), "only with hf or hf_disk", f"remove {k}")
        if self.max_pairs is not None and self.max_pairs < 1:
            raise ConfigError("max_pairs", self.max_pairs, "a positive integer, or absent for all pairs")
        if self.sample_seed is not None:
            if self.max_pairs is None:
                raise ConfigError(
                    "sample_seed", self.sample_seed, "only with max_pairs", "a sample needs a size: set max_pairs"
                )
            if self.sample_seed < 0:
                raise ConfigError("sample_seed", self.sample_seed, "a non-negative integer")
        return self

    @classmethod
    def parse(cls, data: Any, prefix: str, source: str = "", base_dir: Path | None = None) -> "BitextSource":
        """Validate one source (a table; a bare string is a TSV path); errors name ``prefix.<key>``.

        Relative paths are resolved against ``base_dir`` (the config file's directory).
        """
        if isinstance(data, (str, os.PathLike)):
            data = {"tsv": str(data)}
        if not isinstance(data, (Mapping, BitextSource)):
            raise ConfigError(
                prefix, data, "a path to a TSV file or a table such as { moses = 'corpus' }", source=source
            )
        try:
            got = parse_options(cls, data, prefix=prefix, source=source)
        except ConfigError as e:
            if not e.path.endswith(".(source)"):
                raise
            raise ConfigError(prefix, e.value, e.allowed, e.hint, e.source) from None
        return got.resolved(base_dir) if base_dir is not None else got

    def resolved(self, base_dir: Path) -> "BitextSource":
        """Relative paths made absolute against ``base_dir``."""

        def r(p: Any) -> Any:
            if p is None:
                return None
            q = Path(os.path.expanduser(str(p)))
            return str(q if q.is_absolute() else base_dir / q)

        upd: dict[str, Any] = {}
        for k in ("tsv", "tmx", "hf_disk"):
            if getattr(self, k) is not None:
                upd[k] = Path(r(getattr(self, k)))
        if isinstance(self.moses, tuple):
            upd["moses"] = (r(self.moses[0]), r(self.moses[1]))
        elif self.moses is not None:
            upd["moses"] = r(self.moses)
        return self.model_copy(update=upd)

    # ------------------------------------------------------------------ description
    @property
    def format(self) -> str:
        return next(f for f in FORMATS if getattr(self, f) is not None)

    def files(self, pivot: str, language: str) -> list[Path]:
        """The files this source reads (none for ``hf``)."""
        f = self.format
        if f == "moses":
            if isinstance(self.moses, tuple):
                return [Path(self.moses[0]), Path(self.moses[1])]
            return [Path(f"{self.moses}.{pivot}"), Path(f"{self.moses}.{language}")]
        if f in ("tsv", "tmx"):
            return [Path(getattr(self, f))]
        return []

    def options_identity(self) -> dict[str, Any]:
        """What selects pairs besides the data (paths left out: a moved file is the same bitext)."""
        out: dict[str, Any] = {"format": self.format, "max_pairs": self.max_pairs}
        if self.sample_seed is not None:
            out["sample"] = {"rule": _SAMPLE_RULE, "seed": self.sample_seed}
        if self.format in ("hf", "hf_disk"):
            out.update(hf=self.hf, config=self.hf_config, split=self.hf_split)
            out.update(pivot_field=self.pivot_field, other_field=self.other_field)
        return out

    def describe(self, pivot: str, language: str) -> dict[str, Any]:
        out = self.options_identity()
        if self.format == "hf_disk":
            out["path"] = str(self.hf_disk)
        files = self.files(pivot, language)
        if files:
            out["files"] = [str(p) for p in files]
        return out

    # ------------------------------------------------------------------ checks
    def check(self, pivot: str, language: str) -> None:
        """Refuse now (before any work) what :meth:`read` would refuse later.

        Raises
        ------
        DataUnavailableError
            A file or directory is missing, or an HF dataset is not in the local cache.
        DataFormatError
            Moses files with unequal line counts.
        """
        f = self.format
        for p in self.files(pivot, language):
            if not p.is_file():
                what = {"moses": "Moses-style bitext file", "tsv": "bitext file", "tmx": "TMX file"}[f]
                extra = (
                    f" (moses = {self.moses!r} names '<prefix>.{pivot}' and '<prefix>.{language}')"
                    if f == "moses" and not isinstance(self.moses, tuple)
                    else ""
                )
                raise DataUnavailableError(f"{what} {str(p)!r} for {language!r} does not exist{extra}")
        if f == "moses":
            a, b = self.files(pivot, language)
            na, nb = _count_lines(a), _count_lines(b)
            if na != nb:
                raise DataFormatError(
                    b,
                    f"{nb} lines, but {a} has {na}; Moses-style bitext must have one sentence per line on both "
                    "sides, line i of one file translating line i of the other",
                    hint="re-export the pair from the same corpus (e.g. both files of one OPUS Moses download)",
                )
        if f == "hf_disk" and not Path(self.hf_disk).is_dir():  # type: ignore[arg-type]
            raise DataUnavailableError(
                f"Hugging Face dataset directory {str(self.hf_disk)!r} for {language!r} does not exist "
                "(hf_disk names a directory written by datasets' Dataset.save_to_disk)"
            )
        if f == "hf":
            self._hf_dataset(language)

    # ------------------------------------------------------------------ reading
    def read(self, pivot: str, language: str) -> BitextRead:
        """The pairs (pivot side first), capped and sampled, with their digest."""
        self.check(pivot, language)
        f = self.format
        skipped_other = 0
        notes: dict[str, Any] = {}
        if f == "tsv":
            from harness.benchmarks.bitext import read_bitext_tsv

            raw: Iterator[tuple[str, str]] = ((p.pivot, p.other) for p in read_bitext_tsv(self.tsv))  # type: ignore[arg-type]
        elif f == "moses":
            raw = self._moses(pivot, language)
        elif f == "tmx":
            counter = {"other": 0}
            raw = self._tmx(pivot, language, counter)
        else:
            raw = self._hf_rows(pivot, language)
        usable: list[BitextPair] = []
        empty = n = 0
        for a, b in raw:
            n += 1
            a, b = a.strip(), b.strip()
            if not a or not b:
                empty += 1
                continue
            usable.append(BitextPair(pivot=a, other=b))
        if f == "tmx":
            skipped_other = counter["other"]
        if not usable:
            raise DataFormatError(
                self._where(pivot, language),
                f"no usable {pivot}-{language} pairs ({n} read, {empty} with an empty side, {skipped_other} without "
                "both languages)",
                hint="check the files and the language codes",
            )
        k = self.max_pairs
        if k is not None and len(usable) > k:
            if self.sample_seed is None:
                usable = usable[:k]
            else:
                usable = [usable[i] for i in sample_indices(len(usable), k, self.sample_seed)]
            notes["capped_from"] = n - empty - skipped_other
        return BitextRead(usable, n, empty, skipped_other, _digest(usable), notes)

    def _where(self, pivot: str, language: str) -> str:
        if self.format == "hf":
            return f"Hugging Face dataset {self.hf!r}" + (f" ({self.hf_config})" if self.hf_config else "")
        if self.format == "hf_disk":
            return str(self.hf_disk)
        return " + ".join(str(p) for p in self.files(pivot, language))

    def _moses(self, pivot: str, language: str) -> Iterator[tuple[str, str]]:
        a, b = self.files(pivot, language)
        with a.open("rb") as fa, b.open("rb") as fb:
            for lineno, (la, lb) in enumerate(zip(fa, fb), start=1):
                yield _decode(la, a, lineno), _decode(lb, b, lineno)

    def _tmx(self, pivot: str, language: str, counter: dict[str, int]) -> Iterator[tuple[str, str]]:
        import xml.etree.ElementTree as ET

        xml_lang = "{http://www.w3.org/XML/1998/namespace}lang"
        path = Path(self.tmx)  # type: ignore[arg-type]
        try:
            for _, el in ET.iterparse(path, events=("end",)):
                if el.tag != "tu":
                    continue
                sides: dict[str, str] = {}
                for tuv in el.findall("tuv"):
                    code = _primary(tuv.get(xml_lang) or tuv.get("lang") or "")
                    seg = tuv.find("seg")
                    if seg is not None and code not in sides:
                        sides[code] = "".join(seg.itertext())
                el.clear()
                if pivot.lower() in sides and language.lower() in sides:
                    yield sides[pivot.lower()], sides[language.lower()]
                else:
                    counter["other"] += 1
        except ET.ParseError as e:
            raise DataFormatError(path, f"not well-formed TMX ({e})", e.position[0] if e.position else None) from e

    def _hf_dataset(self, language: str) -> Any:
        try:
            import datasets
        except ImportError as e:  # pragma: no cover - datasets is a dependency of this feature
            raise DataUnavailableError(
                "reading bitext from a Hugging Face dataset needs the `datasets` library: pip install datasets"
            ) from e
        if self.format == "hf_disk":
            try:
                ds = datasets.load_from_disk(str(self.hf_disk))
            except Exception as e:  # noqa: BLE001 - any failure: the directory is not a saved dataset
                raise DataFormatError(
                    str(self.hf_disk), f"not a dataset written by save_to_disk ({type(e).__name__}: {e})"
                ) from e
            if isinstance(ds, datasets.DatasetDict):
                if self.hf_split not in ds:
                    raise ConfigError(f"benchmark.bitext.{language}.hf_split", self.hf_split, f"one of {', '.join(ds)}")
                ds = ds[self.hf_split]
            return ds
        return _hf_offline(self.hf, self.hf_config, self.hf_split, language)  # type: ignore[arg-type]

    def _hf_rows(self, pivot: str, language: str) -> Iterator[tuple[str, str]]:
        ds = self._hf_dataset(language)
        pf = self.pivot_field or f"translation.{pivot}"
        of = self.other_field or f"translation.{language}"
        for i, row in enumerate(ds):
            yield _field(row, pf, i, self._where(pivot, language)), _field(row, of, i, self._where(pivot, language))


def _decode(raw: bytes, path: Path, lineno: int) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise DataFormatError(path, f"not valid UTF-8 ({e.reason} at byte {e.start})", lineno) from e
    if lineno == 1:
        text = text.removeprefix("\ufeff")
    return text.rstrip("\r\n")


def _field(row: Mapping[str, Any], dotted: str, index: int, where: str) -> str:
    cur: Any = row
    for part in dotted.split("."):
        if not isinstance(cur, Mapping) or part not in cur:
            keys = sorted(cur) if isinstance(cur, Mapping) else []
            from harness.errors import did_you_mean

            raise DataFormatError(
                where,
                f"row {index}: no field {dotted!r} ({part!r} missing{did_you_mean(part, keys)}; fields there: "
                f"{', '.join(map(str, keys)) or '(none)'})",
                hint="set pivot_field / other_field to the dotted paths of the two sides",
            )
        cur = cur[part]
    return "" if cur is None else str(cur)


def _hf_offline(name: str, config: str | None, split: str, language: str) -> Any:
    """``datasets.load_dataset(name, config, split=split)`` with the hub forced offline."""
    import datasets
    import datasets.config as dconf

    saved = dconf.HF_HUB_OFFLINE
    dconf.HF_HUB_OFFLINE = True
    try:
        return datasets.load_dataset(name, config, split=split)
    except Exception as e:  # noqa: BLE001 - every failure here means: not in the local cache
        cfg = f", {config!r}" if config else ""
        raise DataUnavailableError(
            f"bitext for {language!r}: the Hugging Face dataset {name!r}"
            f"{f' (config {config!r})' if config else ''}, split {split!r}, is not in the local datasets cache "
            f"({dconf.HF_DATASETS_CACHE}); reading it offline failed with {type(e).__name__}: {e}. To fix: on a "
            f'machine with internet access run\n    python -c "import datasets; datasets.load_dataset({name!r}{cfg}, '
            f"split={split!r})\"\nthen copy that machine's ~/.cache/huggingface/datasets (or its HF_DATASETS_CACHE) "
            "to this machine's HF_DATASETS_CACHE; or there call .save_to_disk(DIR) on the loaded split, copy DIR "
            "here and set hf_disk = DIR instead of hf"
        ) from e
    finally:
        dconf.HF_HUB_OFFLINE = saved
