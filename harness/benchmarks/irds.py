"""Any ir_datasets collection as a benchmark (registered as ``ir_datasets``), monolingual or cross-lingual.

Each evaluated language is one ir_datasets id (corpus, queries, qrels)::

    [benchmark]
    name = "ir_datasets"
    datasets = { en = "miracl/en/dev", sw = "miracl/sw/dev" }   # language -> ir_datasets id, report order
    teacher_pairs = "miracl/en/train"                           # the pivot's retrieval training pairs
    pivot = "en"
    tiers = { high = ["en"], low = ["sw"] }                     # or { sw = "low" }; default: tier_table
    bitext = { sw = { moses = "opus/OPUS-100.en-sw" } }         # or bitext_dir = "<dir of <lang>.tsv>"

Cross-lingual retrieval into the pivot (queries in each language, documents in the pivot's)
is the same table with cross-lingual ids, e.g. CLIRMatrix, whose ids name the *document*
language first: ``clirmatrix/<document language>/bi139-base/<query language>/<split>``, so
Swahili queries over English Wikipedia are ``sw = "clirmatrix/en/bi139-base/sw/test1"``.

Languages and mode
------------------
For every language, the query and document languages are what ir_datasets says
(``queries_lang()``, ``docs_lang()``); where it says nothing they are the language's key,
unless ``modes = { <lang> = "cross-lingual" }`` states that its documents are the pivot's.
Then:

* queries in another language than the key: an error (CLIRMatrix ids given in the wrong order
  are named with the right one);
* documents in the queries' language: ``monolingual``; in the pivot's: ``cross-lingual``;
  in a third language: an error (the harness evaluates retrieval into the pivot);
* a stated mode that contradicts the collection: an error.

A run evaluates one mode (results carry it; the question is answered per mode): the mode of
the non-pivot languages, which must agree.  The pivot language, if evaluated, is always
monolingual; in a cross-lingual run it is the pivot's own score, as in the embedded world.

Shared corpora
--------------
A corpus's identity (:meth:`IrDatasetsBenchmark.corpus_fingerprint`) is the content of its
document files, not a dataset id, so every language whose dataset reads the same corpus (CLIR
into English: every ``clirmatrix/en/.../<q>/...``) searches one document index, encoded once.

Tiers
-----
``tiers`` gives some or all languages' tiers (``{ high = [...], low = [...] }`` or
``{ sw = "low" }``); the others come from ``tier_table`` (default ``"mbert-wikipedia"``:
:mod:`harness.benchmarks.wikipedia_sizes`, the size of each language's Wikipedia, with its
source).  ``tier_table = "none"`` requires every tier to be given.

Tuning splits and bitext
------------------------
``tuning``: ``"none"`` (default), ``"holdout"`` (a seeded holdout of each language's judged
queries, :mod:`harness.benchmarks.tuning`) or ``"train"``: the collection's train topics over
the same corpus, ``tuning_datasets = { <lang> = "<id>" }`` or else the evaluated id with its last
part replaced by ``train`` where ir_datasets knows that id (``mr-tydi/sw/test`` ->
``mr-tydi/sw/train``); a language without one is an error unless ``tuning_fallback = "holdout"``.

Bitext: ``bitext = { <lang> = <source> }`` (:mod:`harness.benchmarks.bitext_sources`: TSV,
Moses-style file pairs, TMX, Hugging Face datasets; caps and seeded samples), and for the
languages without a source, ``bitext_dir``'s ``<lang>.tsv``.

Checks before any work
----------------------
At construction: an id ir_datasets does not know (did-you-mean, and the splits its collection
has), queries in the wrong language, an impossible mode, a language without a tier, without a
train split for ``tuning = "train"``.  In :meth:`IrDatasetsBenchmark.check_available` (called
before any training): missing files of any dataset (CLIRMatrix's downloads manifest included),
missing bitext files, Moses files of unequal length, an HF dataset absent from the cache.

Fingerprint
-----------
sha256 over: the adapter version, the normalised options (minus paths and ``allow_download``),
the ir_datasets version, each dataset's source files by content
(:meth:`harness.benchmarks._irds.SourceFile.content_id`), and each language's bitext by content
(the sha256 of the pairs read, after caps and sampling).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from pydantic import ConfigDict, StrictInt, field_validator, model_validator

from harness.benchmarks._common import TIERS, check_language_code, parse_options
from harness.benchmarks._irds_base import IrdsBenchmark
from harness.benchmarks.base import BitextPair, LanguageData
from harness.benchmarks.bitext_sources import BitextRead, BitextSource
from harness.benchmarks.tuning import TuningOptions
from harness.benchmarks.wikipedia_sizes import TABLE_NAME, TABLE_SOURCE, wikipedia_tier
from harness.errors import ConfigError, DataUnavailableError, did_you_mean

__all__ = ["IrDatasetsOptions", "IrDatasetsBenchmark", "LanguageSpec", "MODES", "known_dataset_id"]

ADAPTER_VERSION = "1"
MODES = ("monolingual", "cross-lingual")
TIER_TABLES = (TABLE_NAME, "none")
_CLIRMATRIX = re.compile(r"^clirmatrix/([^/]+)/([^/]+)/([^/]+)/([^/]+)$")


# --------------------------------------------------------------------------- ids
def _registry() -> Any:
    import ir_datasets

    return ir_datasets.registry


def known_dataset_id(dataset_id: str) -> bool:
    """Whether ir_datasets knows ``dataset_id`` (registered, or matching a registered pattern), without loading it."""
    reg = _registry()
    registered = getattr(reg, "_registered", None)
    patterns = getattr(reg, "_patterns", None)
    if registered is None or patterns is None:  # a future ir_datasets: ask it the slow way
        try:
            reg[dataset_id]
        except KeyError:
            return False
        return True
    return dataset_id in registered or any(p.match(dataset_id) for p, _ in patterns)


def _unknown_id_hint(dataset_id: str) -> str:
    """Did-you-mean over registered ids, and the splits its collection has."""
    reg = _registry()
    ids = list(getattr(reg, "_registered", {}))
    parent = dataset_id.rsplit("/", 1)[0] if "/" in dataset_id else ""
    siblings = sorted(
        i.rsplit("/", 1)[1] for i in ids if parent and i.startswith(parent + "/") and "/" not in i[len(parent) + 1 :]
    )
    hint = f"ir_datasets does not know this id{did_you_mean(dataset_id, ids)}"
    if siblings:
        hint += f"; {parent} has: {', '.join(siblings)}"
    if dataset_id.startswith("clirmatrix/"):
        hint += (
            "; CLIRMatrix ids are clirmatrix/<document lang>/{bi139-base|bi139-full}/<query lang>/"
            "{train|dev|test1|test2} (multi8: ar de en es fr ja ru zh only)"
        )
    return hint + " (`ir_datasets list` shows every id; ir_datasets.com documents each collection)"


def _check_id(path: str, dataset_id: Any) -> str:
    if not isinstance(dataset_id, str) or not dataset_id:
        raise ConfigError(path, dataset_id, "an ir_datasets id, e.g. 'miracl/sw/dev'")
    if not known_dataset_id(dataset_id):
        raise ConfigError(path, dataset_id, "an id ir_datasets knows", _unknown_id_hint(dataset_id))
    return dataset_id


def _sibling_split(dataset_id: str, split: str) -> str | None:
    """``dataset_id`` with its last part replaced by ``split``, if ir_datasets knows that id."""
    if "/" not in dataset_id:
        return None
    cand = dataset_id.rsplit("/", 1)[0] + "/" + split
    return cand if cand != dataset_id and known_dataset_id(cand) else None


# --------------------------------------------------------------------------- options
class IrDatasetsOptions(TuningOptions):
    """Options of the ``ir_datasets`` benchmark (config table ``[benchmark]``; module docstring).

    Attributes
    ----------
    datasets : dict
        ``language -> ir_datasets id`` of the evaluated data, in report order.
    teacher_pairs : str
        ir_datasets id of the pivot's retrieval training pairs (queries, qrels, corpus).
    pivot : str
        The teacher's language, the pivot side of the bitext, the documents' language in
        cross-lingual mode.
    tiers : dict
        ``language -> tier`` (given as such, or as ``tier -> [languages]``); the rest from ``tier_table``.
    tier_table : {"mbert-wikipedia", "none"}
        Where the tiers not given come from (:mod:`harness.benchmarks.wikipedia_sizes`).
    modes : dict
        ``language -> "monolingual" | "cross-lingual"`` where the collection does not say it.
    bitext : dict
        ``language -> bitext source`` (:class:`~harness.benchmarks.bitext_sources.BitextSource`).
    bitext_dir : Path or None
        ``<language>.tsv`` files for the languages without a ``bitext`` source.
    max_train_pairs : int or None
        Keep at most this many pivot training pairs (the first in file order).
    allow_download : bool
        Let ir_datasets download missing files (needs network); off by default.
    tuning, tuning_datasets, tuning_fallback, holdout_fraction, holdout_seed
        The tuning split (module docstring).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    TOPIC_SOURCES: ClassVar[tuple[str, ...]] = ("train",)

    datasets: dict[str, str]
    teacher_pairs: str
    pivot: str = "en"
    tiers: dict[str, str] = {}
    tier_table: str = TABLE_NAME
    modes: dict[str, str] = {}
    bitext: dict[str, BitextSource] = {}
    bitext_dir: Path | None = None
    max_train_pairs: StrictInt | None = None
    allow_download: bool = False
    tuning_datasets: dict[str, str] = {}
    tuning_fallback: str | None = None

    def uses_holdout(self) -> bool:
        return self.tuning == "holdout" or (self.tuning == "train" and self.tuning_fallback == "holdout")

    @field_validator("datasets", mode="before")
    @classmethod
    def _check_datasets(cls, v: Any) -> Any:
        if not isinstance(v, Mapping) or not v:
            raise ConfigError(
                "datasets", v, "a non-empty table of language = ir_datasets id, e.g. { sw = 'miracl/sw/dev' }"
            )
        for lang, ds_id in v.items():
            check_language_code(f"datasets.{lang}", lang)
            _check_id(f"datasets.{lang}", ds_id)
        return dict(v)

    @field_validator("teacher_pairs", mode="before")
    @classmethod
    def _check_teacher(cls, v: Any) -> Any:
        return _check_id("teacher_pairs", v)

    @field_validator("pivot", mode="before")
    @classmethod
    def _check_pivot(cls, v: Any) -> Any:
        return check_language_code("pivot", v)

    @field_validator("tiers", mode="before")
    @classmethod
    def _check_tiers(cls, v: Any) -> Any:
        if not isinstance(v, Mapping):
            raise ConfigError("tiers", v, "a table such as { high = ['en'], low = ['sw'] } or { sw = 'low' }")
        out: dict[str, str] = {}
        for key, val in v.items():
            if isinstance(val, (list, tuple)):  # tier = [languages]
                if key not in TIERS:
                    raise ConfigError(
                        f"tiers.{key}",
                        list(val),
                        f"a tier: {', '.join(TIERS)}",
                        f"unknown tier{did_you_mean(str(key), TIERS)}",
                    )
                pairs = [(lang, key) for lang in val]
            else:
                pairs = [(key, val)]
            for lang, tier in pairs:
                if tier not in TIERS:
                    raise ConfigError(
                        f"tiers.{lang}",
                        tier,
                        f"one of {', '.join(TIERS)}",
                        f"unknown tier{did_you_mean(str(tier), TIERS)}",
                    )
                if lang in out and out[lang] != tier:
                    raise ConfigError(f"tiers.{lang}", [out[lang], tier], "one tier per language", "it is listed twice")
                out[str(lang)] = str(tier)
        return out

    @field_validator("tier_table", mode="before")
    @classmethod
    def _check_table(cls, v: Any) -> Any:
        if v not in TIER_TABLES:
            raise ConfigError(
                "tier_table", v, f"one of {', '.join(TIER_TABLES)}", f"unknown table{did_you_mean(str(v), TIER_TABLES)}"
            )
        return v

    @field_validator("modes", mode="before")
    @classmethod
    def _check_modes(cls, v: Any) -> Any:
        if not isinstance(v, Mapping):
            raise ConfigError("modes", v, "a table of language = 'monolingual' | 'cross-lingual'")
        for lang, mode in v.items():
            if mode not in MODES:
                raise ConfigError(
                    f"modes.{lang}", mode, f"one of {', '.join(MODES)}", f"unknown mode{did_you_mean(str(mode), MODES)}"
                )
        return dict(v)

    @field_validator("bitext", mode="before")
    @classmethod
    def _check_bitext(cls, v: Any) -> Any:
        if not isinstance(v, Mapping):
            raise ConfigError("bitext", v, "a table of language = bitext source, e.g. { sw = { moses = 'corpus' } }")
        return {str(lang): BitextSource.parse(src, f"bitext.{lang}") for lang, src in v.items()}

    @field_validator("tuning_datasets", mode="before")
    @classmethod
    def _check_tuning_datasets(cls, v: Any) -> Any:
        if not isinstance(v, Mapping):
            raise ConfigError("tuning_datasets", v, "a table of language = ir_datasets id")
        for lang, ds_id in v.items():
            _check_id(f"tuning_datasets.{lang}", ds_id)
        return dict(v)

    @field_validator("tuning_fallback", mode="before")
    @classmethod
    def _check_fallback(cls, v: Any) -> Any:
        if v is not None and v != "holdout":
            raise ConfigError(
                "tuning_fallback", v, "'holdout' (or absent)", f"unknown fallback{did_you_mean(str(v), ['holdout'])}"
            )
        return v

    @model_validator(mode="after")
    def _check_whole(self) -> "IrDatasetsOptions":
        langs = list(self.datasets)
        for key, table in (
            ("tiers", self.tiers),
            ("modes", self.modes),
            ("bitext", self.bitext),
            ("tuning_datasets", self.tuning_datasets),
        ):
            for lang in table:
                if lang not in langs:
                    raise ConfigError(
                        f"{key}.{lang}",
                        table[lang],
                        f"an evaluated language: {', '.join(langs)}",
                        f"{lang!r} is not in benchmark.datasets{did_you_mean(lang, langs)}",
                    )
        for lang in langs:
            if lang not in self.tiers and (self.tier_table == "none" or wikipedia_tier(lang) is None):
                raise ConfigError(
                    "tiers",
                    dict(self.tiers),
                    f"a tier for every evaluated language ({lang!r} has none)",
                    f"{lang!r} is not in the {TABLE_NAME} table (mBERT's Wikipedia languages)"
                    if self.tier_table != "none"
                    else "tier_table = 'none' needs every tier given" + f"; add e.g. tiers = {{ {lang} = 'low' }}",
                )
        if self.max_train_pairs is not None and self.max_train_pairs < 1:
            raise ConfigError("max_train_pairs", self.max_train_pairs, "a positive integer, or absent for all pairs")
        if self.tuning_fallback is not None and self.tuning != "train":
            raise ConfigError("tuning_fallback", self.tuning_fallback, "only with tuning = 'train'", "remove it")
        if self.tuning_datasets and self.tuning != "train":
            raise ConfigError(
                "tuning_datasets",
                dict(self.tuning_datasets),
                "only with tuning = 'train'",
                "remove it, or set tuning = 'train'",
            )
        if self.tuning == "train":
            bad = [lang for lang in langs if self.tuning_dataset(lang) is None]
            if bad and self.tuning_fallback is None:
                raise ConfigError(
                    "tuning",
                    "train",
                    "languages whose collection has a train split",
                    f"{', '.join(f'{lang} ({self.datasets[lang]})' for lang in bad)}: ir_datasets knows no train split "
                    "next to the evaluated id; name one in tuning_datasets, set tuning = 'holdout', or set "
                    "tuning_fallback = 'holdout' (a holdout for these languages only)",
                )
            same = [lang for lang in langs if self.tuning_dataset(lang) == self.datasets[lang]]
            if same:
                raise ConfigError(
                    "tuning",
                    "train",
                    "tuning topics other than the reported ones",
                    f"{', '.join(same)} would tune on the evaluated split itself; evaluate another split or use tuning = 'holdout'",
                )
        return self

    def tuning_dataset(self, language: str) -> str | None:
        """The tuning topics' id of ``language`` with ``tuning = "train"`` (given, else the train sibling), or None."""
        return self.tuning_datasets.get(language) or _sibling_split(self.datasets[language], "train")

    @classmethod
    def parse(cls, data: "IrDatasetsOptions | Mapping[str, Any] | None", source: str = "") -> "IrDatasetsOptions":
        """Validate options; problems raise ConfigError with key path ``benchmark.<field>``."""
        return parse_options(cls, data, prefix="benchmark", source=source)

    def tier_map(self) -> dict[str, str]:
        """Tier of every evaluated language: given, else from ``tier_table``."""
        return {lang: self.tiers.get(lang) or wikipedia_tier(lang) or "" for lang in self.datasets}


# --------------------------------------------------------------------------- languages
@dataclass(frozen=True)
class LanguageSpec:
    """One evaluated language: its dataset, the languages of its queries and documents, its mode and tier.

    ``said_by`` records where the languages come from: ``"ir_datasets"`` (the collection's own
    ``queries_lang`` / ``docs_lang``), ``"config"`` (``modes``) or ``"default"`` (the key).
    """

    language: str
    dataset_id: str
    query_language: str
    document_language: str
    mode: str
    tier: str
    said_by: str


def _lang_of(ds: Any, what: str) -> str | None:
    fn = getattr(ds, f"{what}_lang", None)
    if fn is None:
        return None
    try:
        got = fn()
    except Exception:  # noqa: BLE001 - a collection that cannot say: the config or the key decides
        return None
    return str(got) if isinstance(got, str) and got else None


def _wrong_order_hint(ds_id: str, key: str, pivot: str) -> str:
    m = _CLIRMATRIX.match(ds_id)
    if m and m.group(1) == key:
        right = f"clirmatrix/{m.group(3)}/{m.group(2)}/{m.group(1)}/{m.group(4)}"
        return (
            f"ir_datasets' CLIRMatrix ids name the document language first (clirmatrix/<doc lang>/<set>/<query lang>/"
            f"<split>); for {key} queries over {m.group(3)} documents use {right!r}"
        )
    return f"use a dataset whose queries are in {key!r}, or rename the key to the queries' language"


# --------------------------------------------------------------------------- benchmark
class IrDatasetsBenchmark(IrdsBenchmark):
    """Any ir_datasets collection (see the module docstring).

    Parameters
    ----------
    options : IrDatasetsOptions or mapping
        Validated with :meth:`IrDatasetsOptions.parse`.
    cache : harness.cache.Cache, optional
        Unused (ir_datasets' own files are this adapter's cache).
    base_dir : path, optional
        Relative bitext paths are resolved against it (the config file's directory).
    loader : callable, optional
        ``dataset_id -> ir_datasets dataset``; default ``ir_datasets.load``.
    """

    name = "ir_datasets"
    Config = IrDatasetsOptions
    bitext_missing_reason = "no bitext source is configured for it; "
    data_label = "ir_datasets data"
    adapter_tag = f"ir_datasets/{ADAPTER_VERSION}"

    def __init__(
        self,
        options: IrDatasetsOptions | Mapping[str, Any],
        cache: Any = None,
        *,
        base_dir: Any = None,
        loader: Callable[[str], Any] | None = None,
    ):
        self.options = IrDatasetsOptions.parse(options)
        self.base_dir = (Path(base_dir) if base_dir is not None else Path.cwd()).resolve()
        self.pivot = self.options.pivot
        self.languages = tuple(self.options.datasets)
        self.tiers = self.options.tier_map()
        self._loader = loader
        self._train_stats: dict[str, int] = {}
        self._bitext_reads: dict[str, BitextRead] = {}
        self._init_state()
        self.specs = {lang: self._spec(lang) for lang in self.languages}
        self._check_teacher_language()
        self.mode = self._run_mode()
        self.modes = (self.mode,)

    # ------------------------------------------------------------------ languages and mode
    def _spec(self, lang: str) -> LanguageSpec:
        ds_id = self.options.datasets[lang]
        stated = self.options.modes.get(lang)
        ds = self._load(ds_id)
        q, d = _lang_of(ds, "queries"), _lang_of(ds, "docs")
        path = f"benchmark.datasets.{lang}"
        if q is not None and q != lang:
            raise ConfigError(
                path,
                ds_id,
                f"a dataset whose queries are in {lang!r}",
                f"ir_datasets says its queries are in {q!r} and its documents in {d!r}; "
                + _wrong_order_hint(ds_id, lang, self.pivot),
            )
        said = "ir_datasets" if d is not None else ("config" if stated else "default")
        if d is None:
            d = self.pivot if stated == "cross-lingual" else lang
        if d == lang:
            mode = "monolingual"
        elif d == self.pivot:
            mode = "cross-lingual"
        else:
            raise ConfigError(
                path,
                ds_id,
                f"documents in {lang!r} (monolingual) or in the pivot {self.pivot!r} (cross-lingual)",
                f"its documents are in {d!r}; the harness evaluates retrieval in each language or into the pivot",
            )
        if stated is not None and stated != mode:
            raise ConfigError(
                f"benchmark.modes.{lang}",
                stated,
                f"{mode!r}, as {ds_id} says",
                f"ir_datasets says its queries are in {lang!r} and its documents in {d!r}; remove modes.{lang}",
            )
        return LanguageSpec(lang, ds_id, lang, d, mode, self.tiers[lang], said)

    def _check_teacher_language(self) -> None:
        ds_id = self.options.teacher_pairs
        ds = self._load(ds_id)
        q = _lang_of(ds, "queries")
        if q is not None and q != self.pivot:
            raise ConfigError(
                "benchmark.teacher_pairs",
                ds_id,
                f"training pairs in the pivot language {self.pivot!r}",
                f"ir_datasets says its queries are in {q!r}",
            )

    def _run_mode(self) -> str:
        modes = {s.mode for s in self.specs.values() if s.language != self.pivot}
        if len(modes) > 1:
            by = {
                m: [s.language for s in self.specs.values() if s.mode == m and s.language != self.pivot] for m in MODES
            }
            raise ConfigError(
                "benchmark.datasets",
                dict(self.options.datasets),
                "languages of one mode (a run evaluates one mode)",
                f"monolingual: {', '.join(by['monolingual'])}; cross-lingual: {', '.join(by['cross-lingual'])}; "
                "split them into two configs",
            )
        return modes.pop() if modes else "monolingual"

    def document_language(self, language: str) -> str:
        """Language of ``language``'s documents: itself (monolingual) or the pivot (cross-lingual)."""
        self.check_language(language)
        return self.specs[language].document_language

    def _finish_language(self, language: str, data: LanguageData) -> LanguageData:
        d = self.specs[language].document_language
        return data if d == language else dataclasses.replace(data, document_language=d)

    # ------------------------------------------------------------------ ids
    def dataset_id(self, language: str) -> str:
        return self.options.datasets[language]

    def train_dataset_id(self) -> str:
        return self.options.teacher_pairs

    def tuning_scheme(self, language: str) -> str:
        t = self.options.tuning
        if t == "train" and self.options.tuning_dataset(language) is None:
            return "holdout"  # allowed only with tuning_fallback = "holdout"
        return t

    def tuning_dataset_id(self, language: str) -> str | None:
        if self.tuning_scheme(language) != "train":
            return None
        return self.options.tuning_dataset(language)

    def _before_load(self, dataset_id: str) -> None:
        """CLIRMatrix reads a downloads manifest when an id is *loaded*: refuse if it is missing."""
        if not dataset_id.startswith("clirmatrix/"):
            return
        from ir_datasets.util import DownloadConfig, home_path

        dl = DownloadConfig.context("clirmatrix", home_path() / "clirmatrix")["downloads"]
        cache = getattr(dl, "_cache_path", None)
        local = [Path(m._path) for m in getattr(dl, "mirrors", []) if hasattr(m, "_path")]
        present = (cache is not None and Path(cache).is_file()) or any(p.is_file() for p in local)
        if cache is not None and not present:
            raise DataUnavailableError(
                f"ir_datasets data (ir_datasets id {dataset_id!r}) is not available offline: CLIRMatrix's downloads "
                f"manifest {cache} is missing (ir_datasets reads it to find every CLIRMatrix file). "
                + self._how_to_get(dataset_id)
            )

    def _how_to_get(self, dataset_id: str) -> str:
        collection = dataset_id.split("/", 1)[0]
        return (
            "To fix: on a machine with internet access, download it once with\n"
            f"    ir_datasets export {dataset_id} docs > /dev/null\n"
            f"    ir_datasets export {dataset_id} queries > /dev/null\n"
            f"    ir_datasets export {dataset_id} qrels > /dev/null\n"
            "(or run the harness there with benchmark.allow_download = true), then copy that machine's "
            f"~/.ir_datasets/{collection} directory into this machine's ir_datasets home ({_home()}), or set "
            "IR_DATASETS_HOME to a copy before starting the harness (docs/real-data.md)."
        )

    def _pivot_corpus_is_training_corpus(self) -> bool:
        if self.pivot not in self.languages:
            return False
        return self.corpus_fingerprint(self.pivot) == self._corpus_fp_of(self.train_dataset_id())

    def _corpus_fp_of(self, ds_id: str) -> str:
        import ir_datasets

        from harness.benchmarks.base import hash_json

        docs = [f for f in self._files(ds_id) if f[0] == "docs"]
        if not docs:
            return hash_json({"docs_of": self._docs_namespace(ds_id), "ir_datasets": ir_datasets.__version__})
        return hash_json({"docs": docs, "ir_datasets": ir_datasets.__version__})

    def corpus_fingerprint(self, language: str) -> str:
        """The content of ``language``'s document files (shared by every dataset reading them)."""
        self.check_language(language)
        return self._corpus_fp_of(self.dataset_id(language))

    # ------------------------------------------------------------------ bitext
    def _bitext_dir(self) -> Path | None:
        d = self.options.bitext_dir
        if d is None:
            return None
        return d if d.is_absolute() else self.base_dir / d

    def bitext_source(self, language: str) -> BitextSource | None:
        """The configured source of ``language``'s bitext (``bitext``, else ``bitext_dir``'s TSV), or None."""
        src = self.options.bitext.get(language)
        if src is not None:
            return src.resolved(self.base_dir)
        d = self._bitext_dir()
        return BitextSource(tsv=d / f"{language}.tsv") if d is not None else None

    def _read_bitext(self, language: str) -> BitextRead:
        with self._lock:
            if language not in self._bitext_reads:
                src = self.bitext_source(language)
                if src is None:
                    raise DataUnavailableError(
                        f"no bitext for {language!r}: {self.bitext_missing_reason}set benchmark.bitext.{language} "
                        f"(e.g. {{ moses = 'opus/corpus' }} for corpus.{self.pivot} + corpus.{language}) or "
                        "benchmark.bitext_dir (docs/real-data.md)"
                    )
                self._bitext_reads[language] = src.read(self.pivot, language)
            return self._bitext_reads[language]

    def bitext(self, language: str) -> Sequence[BitextPair]:
        """Pairs of ``language``'s bitext source (empty for the pivot)."""
        if language == self.pivot:
            return []
        self.check_language(language)
        return self._read_bitext(language).pairs

    def _check_bitext_files(self) -> None:
        for lang in self.languages:
            if lang == self.pivot:
                continue
            src = self.bitext_source(lang)
            if src is not None:
                src.check(self.pivot, lang)

    def _bitext_identity(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for lang in self.languages:
            src = self.bitext_source(lang) if lang != self.pivot else None
            if src is None:
                continue
            try:
                got = self._read_bitext(lang)
            except (DataUnavailableError, OSError):
                out[lang] = {**src.options_identity(), "sha256": "missing"}
                continue
            out[lang] = {**src.options_identity(), "sha256": got.digest}
        return out

    # ------------------------------------------------------------------ provenance
    def bitext_fingerprint(self) -> str:
        """The bitext's identity only (its sources' content), not the evaluated collections: an edit of those
        leaves a fit-cached method's stored fit valid (:meth:`~harness.benchmarks.base.Benchmark.training_fingerprints`)."""
        from harness.hashing import hash_json

        return hash_json({"adapter": self.adapter_tag, "pivot": self.pivot, "bitext": self._bitext_identity()})

    def _fingerprint_payload(self) -> dict[str, Any]:
        import ir_datasets

        return {
            "adapter": self.adapter_tag,
            "options": self._options_identity(
                {"allow_download", "bitext_dir", "bitext"},
                {"tuning", "tuning_fallback", "tuning_datasets", "holdout_fraction", "holdout_seed"},
            ),
            "ir_datasets": ir_datasets.__version__,
            "files": {i: self._files(i) for i in self._dataset_ids()},
            "bitext": self._bitext_identity(),
        }

    def split_statement(self) -> str | None:
        o = self.options
        if o.tuning == "none":
            return None
        if o.tuning == "holdout":
            return f"each language's evaluated queries split by {o.holdout_words()}"
        ids = {lang: i for lang in self.languages if (i := self.tuning_dataset_id(lang))}
        words = "train topics and qrels over the same corpus (" + ", ".join(f"{k}: {v}" for k, v in ids.items()) + ")"
        words += "; the reported queries are the whole evaluated split"
        if self.pivot in ids and ids[self.pivot] == self.train_dataset_id():
            words += f"; the {self.pivot} train queries also trained the teacher, so its tuning scores are optimistic"
        fallback = [lang for lang in self.languages if self.tuning_scheme(lang) == "holdout"]
        if fallback:
            words += f"; {', '.join(fallback)} (no train split): {o.holdout_words()}"
        return words

    def describe(self) -> dict[str, object]:
        """Summary: datasets, the languages of queries and documents, the mode, tiers and their source."""
        out = super().describe()
        given = set(self.options.tiers)
        out.update(
            {
                "mode": self.mode,
                "modes": list(self.modes),
                "dataset_ids": {lang: self.dataset_id(lang) for lang in self.languages},
                "train_dataset_id": self.train_dataset_id(),
                "languages_detail": {
                    lang: {
                        "queries": s.query_language,
                        "documents": s.document_language,
                        "mode": s.mode,
                        "said_by": s.said_by,
                    }
                    for lang, s in self.specs.items()
                },
                "tier_source": {
                    lang: "config" if lang in given else f"{self.options.tier_table} ({TABLE_SOURCE})"
                    for lang in self.languages
                },
                "max_train_pairs": self.options.max_train_pairs,
                "bitext": {
                    lang: {
                        **src.describe(self.pivot, lang),
                        **({"read": self._bitext_reads[lang].stats()} if lang in self._bitext_reads else {}),
                    }
                    for lang in self.languages
                    if lang != self.pivot and (src := self.bitext_source(lang)) is not None
                },
                "stats": {lang: dict(self._stats[lang]) for lang in self.languages if lang in self._stats},
                "train_stats": dict(self._train_stats),
            }
        )
        if self.options.tuning != "none":
            out["tuning"] = self._tuning_description()
        return out


def _home() -> str:
    import os

    return os.environ.get("IR_DATASETS_HOME", "~/.ir_datasets")
