"""A benchmark from local files, read with ir_datasets' own TSV and TREC readers.

Per language:

* ``corpus``: TSV, ``doc_id<TAB>text`` or ``doc_id<TAB>title<TAB>text`` (one layout per
  file; the first line decides); a document's text is ``title + " " + text``;
* ``queries``: TSV, ``query_id<TAB>text``;
* ``qrels``: TREC qrels, ``query_id 0 doc_id relevance`` (whitespace-separated);
* ``tier``: ``low``, ``mid`` or ``high``.

Optional per language, for tuning (``tuning = "dev-files"``, the default when given):
``dev_queries`` and ``dev_qrels``, the same formats over the same corpus, disjoint from the
reported queries.  Or ``tuning = "holdout"`` (with ``holdout_fraction``, ``holdout_seed``): a
seeded holdout of each language's judged queries is for tuning only and the rest is reported
(:mod:`harness.benchmarks.tuning`).  Without either there is no dev split and every method
keeps its configured options and budget.

Shared: ``pivot`` (language code), ``train_pairs`` (TSV ``query<TAB>positive passage``,
the teacher's training data) and ``bitext_dir`` (``<language>.tsv`` files of
``pivot<TAB>other`` pairs).  Relative paths are resolved against ``base_dir`` (the
config file's directory), else the working directory.

Checks: a missing file is named (with its config key); a malformed line is reported with
its file and line number; duplicate ids, judgments of unknown query or doc ids (some are
named) and an empty qrels ("missing qrels") are errors.  Queries without judgments are
dropped, as every evaluated query must be judged, and counted in :meth:`describe`.

Example config::

    [benchmark]
    name = "local"
    pivot = "en"
    train_pairs = "data/en-train.tsv"
    bitext_dir = "data/bitext"
    [benchmark.languages.sw]
    corpus = "data/sw/corpus.tsv"
    queries = "data/sw/queries.tsv"
    qrels = "data/sw/qrels.txt"
    tier = "low"
    dev_queries = "data/sw/dev-queries.tsv"   # optional: the dev rule's tuning queries
    dev_qrels = "data/sw/dev-qrels.txt"
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, NamedTuple, Tuple  # noqa: UP035 - ir_datasets needs typing.Tuple (see _LocalDoc)

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from harness.benchmarks._common import TIERS, DataFormatError, check_language_code, iter_tsv, parse_options
from harness.benchmarks._filebased import FileBenchmark
from harness.benchmarks.base import LanguageData, TrainPair, hash_json
from harness.benchmarks.tuning import TuningOptions
from harness.errors import ConfigError, DataUnavailableError, did_you_mean

__all__ = ["LocalOptions", "LocalLanguageOptions", "LocalBenchmark"]

ADAPTER_VERSION = "1"


class LocalLanguageOptions(BaseModel):
    """Files and tier of one language (config table ``[benchmark.languages.<code>]``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    corpus: Path = Field(description="TSV of doc_id<TAB>text, one passage per line")
    queries: Path = Field(description="TSV of query_id<TAB>text (the reported queries)")
    qrels: Path = Field(description="TREC qrels of the queries (query_id 0 doc_id relevance)")
    tier: str = Field(description="resource tier: high, mid or low")
    dev_queries: Path | None = Field(None, description="TSV of dev queries (tuning only; with dev_qrels)")
    dev_qrels: Path | None = Field(None, description="TREC qrels of the dev queries")

    @field_validator("tier", mode="before")
    @classmethod
    def _check_tier(cls, v: Any) -> Any:
        if v not in TIERS:
            raise ConfigError("tier", v, f"one of {', '.join(TIERS)}", f"unknown tier{did_you_mean(str(v), TIERS)}")
        return v

    def has_dev_files(self) -> bool:
        return self.dev_queries is not None or self.dev_qrels is not None


class LocalOptions(TuningOptions):
    """Options of the ``local`` benchmark.

    Attributes
    ----------
    languages : dict
        ``language code -> LocalLanguageOptions``, in report order.
    pivot : str
        Pivot language code (need not be evaluated).
    train_pairs : Path or None
        TSV of ``query<TAB>positive passage`` pivot training pairs.
    bitext_dir : Path or None
        Directory of ``<language>.tsv`` bitext files.
    tuning : {"none", "dev-files", "holdout"}
        The dev split (module docstring); default ``"dev-files"`` when languages have dev
        files, else ``"none"``.
    holdout_fraction, holdout_seed : float, int
        The holdout (:mod:`harness.benchmarks.tuning`); only with ``tuning = "holdout"``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    TOPIC_SOURCES: ClassVar[tuple[str, ...]] = ("dev-files",)

    languages: dict[str, LocalLanguageOptions]
    pivot: str = "en"
    train_pairs: Path | None = None
    bitext_dir: Path | None = None

    @field_validator("languages", mode="before")
    @classmethod
    def _check_languages(cls, v: Any) -> Any:
        if not isinstance(v, Mapping) or not v:
            raise ConfigError("languages", v, "a non-empty table of language code = {corpus, queries, qrels, tier}")
        for code in v:
            check_language_code(f"languages.{code}", code)
        return v

    @field_validator("pivot", mode="before")
    @classmethod
    def _check_pivot(cls, v: Any) -> Any:
        return check_language_code("pivot", v)

    @model_validator(mode="before")
    @classmethod
    def _default_tuning(cls, data: Any) -> Any:
        """Dev files given and no ``tuning``: tune on them (written out in the normalised config)."""
        if isinstance(data, Mapping) and "tuning" not in data and isinstance(data.get("languages"), Mapping):
            langs = data["languages"].values()
            if any(isinstance(o, Mapping) and (o.get("dev_queries") or o.get("dev_qrels")) for o in langs):
                return {**data, "tuning": "dev-files"}
        return data

    @model_validator(mode="after")
    def _check_dev_files(self) -> "LocalOptions":
        for lang, o in self.languages.items():
            if (o.dev_queries is None) != (o.dev_qrels is None):
                have, lack = ("dev_queries", "dev_qrels") if o.dev_queries is not None else ("dev_qrels", "dev_queries")
                raise ConfigError(
                    f"languages.{lang}.{lack}", None, "a file path", f"{have} is set: a dev split needs both files"
                )
        with_files = [lang for lang, o in self.languages.items() if o.has_dev_files()]
        if self.tuning == "dev-files":
            lacking = [lang for lang in self.languages if lang not in with_files]
            if lacking:
                raise ConfigError(
                    "tuning",
                    "dev-files",
                    "dev_queries and dev_qrels for every language",
                    f"{', '.join(lacking)} {'has' if len(lacking) == 1 else 'have'} none; give "
                    f"[benchmark.languages.<code>] dev_queries and dev_qrels for each, or set tuning = 'holdout'",
                )
        elif with_files:
            raise ConfigError(
                f"languages.{with_files[0]}.dev_queries",
                str(self.languages[with_files[0]].dev_queries),
                f"only with tuning = 'dev-files' (tuning is {self.tuning!r})",
                "remove the dev files, or drop the tuning key to tune on them",
            )
        return self

    @classmethod
    def parse(cls, data: "LocalOptions | Mapping[str, Any] | None", source: str = "") -> "LocalOptions":
        """Validate options; problems raise ConfigError with key path ``benchmark.<field>``."""
        return parse_options(cls, data, prefix="benchmark", source=source)


# ir_datasets' TsvIter accepts any number (>= 1) of fields after the id when the last
# field is annotated ``typing.Tuple[str, ...]``; the layout is then checked here.
# (The functional form keeps the annotation object, which TsvIter compares by equality.)
# ir_datasets reads the annotation: it must be typing.Tuple, not tuple (otherwise text is split into characters).
_LocalDoc = NamedTuple("_LocalDoc", [("doc_id", str), ("fields", Tuple[str, ...])])  # noqa: UP006, UP014


class _Doc(NamedTuple):
    doc_id: str
    title: str
    text: str


class LocalBenchmark(FileBenchmark):
    """Benchmark from local files (see the module docstring).

    Parameters
    ----------
    options : LocalOptions or mapping
    cache : harness.cache.Cache, optional
        Where file digests are memoised (``<cache>/file-digests``; default: the default
        cache root).  The files themselves are read directly.
    base_dir : path, optional
        Directory relative paths are resolved against (the config file's directory).
    """

    name = "local"
    Config = LocalOptions

    def __init__(
        self, options: LocalOptions | Mapping[str, Any], cache: Any = None, *, base_dir: str | os.PathLike | None = None
    ):
        self.options = LocalOptions.parse(options)
        self.base_dir = (Path(base_dir) if base_dir is not None else Path.cwd()).resolve()
        self.pivot = self.options.pivot
        self.languages = tuple(self.options.languages)
        self.tiers = {lang: o.tier for lang, o in self.options.languages.items()}
        self._digest_dir = Path(cache.root) / "file-digests" if getattr(cache, "root", None) is not None else None
        self._init_state()
        self._dev_stats: dict[str, dict[str, int]] = {}

    def _path(self, p: Path) -> Path:
        return p if p.is_absolute() else self.base_dir / p

    def _existing(self, key: str, p: Path, what: str) -> Path:
        path = self._path(p)
        if not path.is_file():
            raise DataUnavailableError(
                f"{what} file {str(path)!r} (benchmark.{key}) does not exist"
                + (f" (relative paths are resolved against {str(self.base_dir)!r})" if not p.is_absolute() else "")
            )
        return path

    def files(self, language: str) -> dict[str, Path]:
        """Resolved ``corpus``, ``queries`` and ``qrels`` paths of ``language``."""
        self.check_language(language)
        o = self.options.languages[language]
        return {"corpus": self._path(o.corpus), "queries": self._path(o.queries), "qrels": self._path(o.qrels)}

    def data_source(self, language: str, entity: str) -> str:
        """The file of ``language``'s ``entity`` (``docs``: the corpus)."""
        return str(self.files(language)["corpus" if entity == "docs" else entity])

    def dev_files(self, language: str) -> dict[str, Path]:
        """Resolved ``dev_queries`` and ``dev_qrels`` paths of ``language`` (empty without dev files)."""
        self.check_language(language)
        o = self.options.languages[language]
        if o.dev_queries is None or o.dev_qrels is None:
            return {}
        return {"dev_queries": self._path(o.dev_queries), "dev_qrels": self._path(o.dev_qrels)}

    # ------------------------------------------------------------------ tuning split
    def _read_tuning_topics(self, language: str) -> LanguageData:
        """``dev_queries`` / ``dev_qrels`` over the language's corpus (its judged queries only)."""
        from ir_datasets.formats import TrecQrels, TsvQueries
        from ir_datasets.util import LocalDownload

        from harness.benchmarks import _irds

        o = self.options.languages[language]
        key = f"languages.{language}"
        assert o.dev_queries is not None and o.dev_qrels is not None  # the options guarantee both (dev-files)
        queries = self._existing(f"{key}.dev_queries", o.dev_queries, "dev queries")
        qrels = self._existing(f"{key}.dev_qrels", o.dev_qrels, "dev qrels")
        paths = {"queries": queries, "qrels": qrels}
        blanks = {"queries": _irds.tsv_blank, "qrels": _irds.trec_blank}
        # judged documents must exist: the corpus if loaded, else its ids streamed once
        corpus = (
            self._data[language].corpus
            if language in self._data
            else dict.fromkeys((d for d, _ in self.iter_corpus(language)), "")
        )
        got = _irds.collect_topics(
            language,
            o.tier,
            corpus,
            _irds.iter_records(
                TsvQueries(LocalDownload(queries, mkdir=False)).queries_iter, source=str(queries), path=queries
            ),
            _irds.iter_records(
                TrecQrels(LocalDownload(qrels, mkdir=False), {}).qrels_iter,
                source=str(qrels),
                path=qrels,
                blank=_irds.trec_blank,
            ),
            sources={"docs": str(self.files(language)["corpus"]), "queries": str(queries), "qrels": str(qrels)},
            unknown_docs="error",
            line_of=lambda entity, index: _irds._physical_line(paths[entity], index, blanks[entity]),
        )
        self._dev_stats[language] = {
            "dev_queries": len(got.data.queries),
            "dev_dropped_unjudged_queries": got.n_dropped_unjudged,
        }
        return got.data

    def _tuning_identity(self, language: str) -> dict[str, object] | None:
        t = self.options.tuning
        if t == "none":
            return None
        if t == "holdout":
            return {"scheme": "holdout", **self.options.holdout_identity()}
        return {
            "scheme": t,
            **{k: self._digest(p) for k, p in self.dev_files(language).items()},
        }

    def evaluation_identity(self) -> dict[str, object]:
        """The tuning split (none: ``{}``, so keys without tuning are unchanged)."""
        o = self.options
        if o.tuning == "none":
            return {}
        return {"tuning": o.tuning, "holdout": o.holdout_identity() if o.uses_holdout() else None}

    def split_statement(self) -> str | None:
        """The dev split in words (for the protocol summary and report), or None without one."""
        o = self.options
        if o.tuning == "none":
            return None
        if o.tuning == "holdout":
            return f"the local queries split by {o.holdout_words()}"
        return "each language's dev_queries / dev_qrels files (same corpus, disjoint from the reported queries)"

    def _read_language(self, language: str) -> LanguageData:
        from ir_datasets.formats import TrecQrels, TsvDocs, TsvQueries
        from ir_datasets.util import LocalDownload

        from harness.benchmarks import _irds

        o = self.options.languages[language]
        key = f"languages.{language}"
        corpus = self._existing(f"{key}.corpus", o.corpus, "corpus")
        queries = self._existing(f"{key}.queries", o.queries, "queries")
        qrels = self._existing(f"{key}.qrels", o.qrels, "qrels")
        docs_h = TsvDocs(LocalDownload(corpus, mkdir=False), doc_cls=_LocalDoc)
        queries_h = TsvQueries(LocalDownload(queries, mkdir=False))
        qrels_h = TrecQrels(LocalDownload(qrels, mkdir=False), {})
        paths = {"docs": corpus, "queries": queries, "qrels": qrels}
        blanks = {"docs": _irds.tsv_blank, "queries": _irds.tsv_blank, "qrels": _irds.trec_blank}

        def line_of(entity: str, index: int) -> int | None:
            return _irds._physical_line(paths[entity], index, blanks[entity])

        # TsvDocs.docs_iter would use a docstore ``<corpus>.pklz4`` if one had been built
        # next to the file; read the file itself (``_iter``) so nothing stale is used.
        docs = _irds.iter_records(docs_h._iter, source=str(corpus), path=corpus)
        got = _irds.collect_language(
            language,
            o.tier,
            _doc_layout(docs, corpus, line_of),
            _irds.iter_records(queries_h.queries_iter, source=str(queries), path=queries),
            _irds.iter_records(qrels_h.qrels_iter, source=str(qrels), path=qrels, blank=_irds.trec_blank),
            sources={"docs": str(corpus), "queries": str(queries), "qrels": str(qrels)},
            unknown_docs="error",
            line_of=line_of,
        )
        self._stats[language] = got.stats()
        return got.data

    def train_pairs(self) -> Sequence[TrainPair]:
        with self._lock:
            if self._train is None:
                if self.options.train_pairs is None:
                    raise DataUnavailableError(
                        "benchmark.train_pairs is not set: the teacher needs pivot-language training pairs, a TSV "
                        f"file of '{self.pivot} query<TAB>positive passage' lines"
                    )
                path = self._existing("train_pairs", self.options.train_pairs, "train pairs")
                pairs = [TrainPair(query=f[0], positive=f[1]) for _, f in iter_tsv(path, ("query", "positive"))]
                if not pairs:
                    raise DataFormatError(path, "no training pairs (the file is empty)")
                self._train = pairs
            return self._train

    # ------------------------------------------------------------------ streamed access (issue 12)
    # The corpus is streamed (``iter_corpus``) and never held whole by the index stage;
    # ``topics`` reads queries and qrels and checks them against one streamed pass over the
    # corpus's ids; fingerprints come from file digests memoised by each file's state: path, size, mtime, ctime, inode.
    def _digest(self, p: Path) -> str:
        """sha256 of a file, computed once per file state (:func:`harness.corpus.file_digest`)."""
        from harness.corpus import file_digest

        return file_digest(p, self._digest_dir) if p.is_file() else "missing"

    def _corpus_file(self, language: str) -> Path:
        self.check_language(language)
        return self._existing(f"languages.{language}.corpus", self.options.languages[language].corpus, "corpus")

    def iter_corpus(self, language: str) -> Iterator[tuple[str, str]]:
        """``(doc_id, text)`` in file order, streamed (nothing is kept), with the line checks of
        :meth:`language_data` (layout, empty texts); duplicate ids are checked by :meth:`topics`."""
        from harness.benchmarks import _irds

        for i, d in _stream_docs(self._corpus_file(language)):
            yield (d.doc_id.removeprefix("\ufeff") if i == 0 else d.doc_id), _irds.doc_text(d)

    def topics(self, language: str, split: str = "test") -> Any:
        """Queries, qrels and tier of ``language`` without holding its corpus (memoised).

        The same checks as :meth:`language_data`: queries and qrels are read by the same
        code, then given only the *judged* documents of one streamed pass over the corpus,
        so a judgment of a missing document is the same error; duplicate doc ids anywhere in
        the corpus are found from a 64-bit hash per id (8 bytes per document; a hash
        collision is told from a real duplicate by a second pass) and reported with their line.
        """
        from harness.corpus import Topics

        def read() -> Topics:
            judged = {doc for rels in self._collect(language, iter(()), "keep").data.qrels.values() for doc in rels}
            counted: dict[str, int] = {}
            got = self._collect(language, self._judged_docs(language, judged, counted), "error")
            self._stats[language] = {**got.stats(), "docs": counted["docs"]}
            return Topics(language, got.data.tier, got.data.queries, got.data.qrels)

        self.check_split(split)
        return self._topics_view(language, split, self._memoised_topics(language, read))

    def _collect(self, language: str, docs: Iterator[tuple[int, Any]], unknown_docs: str) -> Any:
        """``_irds.collect_language`` over ``docs`` and the language's queries and qrels files."""
        from ir_datasets.formats import TrecQrels, TsvQueries
        from ir_datasets.util import LocalDownload

        from harness.benchmarks import _irds

        o = self.options.languages[language]
        files = {
            "docs": self._corpus_file(language),
            "queries": self._existing(f"languages.{language}.queries", o.queries, "queries"),
            "qrels": self._existing(f"languages.{language}.qrels", o.qrels, "qrels"),
        }
        blanks = {"docs": _irds.tsv_blank, "queries": _irds.tsv_blank, "qrels": _irds.trec_blank}
        queries_h = TsvQueries(LocalDownload(files["queries"], mkdir=False))
        qrels_h = TrecQrels(LocalDownload(files["qrels"], mkdir=False), {})
        return _irds.collect_language(
            language,
            o.tier,
            docs,
            _irds.iter_records(queries_h.queries_iter, source=str(files["queries"]), path=files["queries"]),
            _irds.iter_records(
                qrels_h.qrels_iter, source=str(files["qrels"]), path=files["qrels"], blank=_irds.trec_blank
            ),
            sources={k: str(v) for k, v in files.items()},
            unknown_docs=unknown_docs,
            line_of=lambda entity, index: _irds._physical_line(files[entity], index, blanks[entity]),
        )

    def _judged_docs(self, language: str, judged: set[str], counted: dict[str, int]) -> Iterator[tuple[int, Any]]:
        """The corpus's judged records, streamed; duplicate ids anywhere are errors; sets ``counted["docs"]``."""
        import hashlib
        from array import array

        import numpy as np

        from harness.benchmarks import _irds

        path = self._corpus_file(language)

        def key(did: str) -> int:
            return int.from_bytes(hashlib.blake2b(did.encode(), digest_size=8).digest(), "little")

        hashes = array("Q")
        for i, d in _stream_docs(path):
            did = d.doc_id.removeprefix("\ufeff") if i == 0 else d.doc_id
            hashes.append(key(did))
            if did in judged:
                yield i, d
        counted["docs"] = len(hashes)
        h = np.frombuffer(hashes, dtype=np.uint64)  # a view: sorted in place, no copy
        h.sort()
        suspects = set(h[1:][h[1:] == h[:-1]].tolist())  # the mask: 1 byte per document
        if suspects:  # a second pass names the first real duplicate (a bare hash collision is not one)
            seen: set[str] = set()
            for i, d in _stream_docs(path):
                did = d.doc_id.removeprefix("\ufeff") if i == 0 else d.doc_id
                if key(did) in suspects:
                    if did in seen:
                        raise DataFormatError(
                            path, f"duplicate doc id {did!r}", _irds._physical_line(path, i, _irds.tsv_blank)
                        )
                    seen.add(did)

    def corpus_fingerprint(self, language: str) -> str:
        """The corpus file's sha256 (memoised by the file's state, :func:`harness.corpus.file_stamp`) and the adapter version."""
        return hash_json({"adapter": f"local/{ADAPTER_VERSION}", "corpus": self._digest(self._corpus_file(language))})

    def language_fingerprints(self) -> dict[str, str]:
        """Per language: tier and the digests of its three files (no file is parsed); with a tuning
        split, also what selects its dev and test queries (run keys of each split follow it)."""
        out = {}
        for lang in self.languages:
            content: dict[str, object] = {
                "tier": self.tiers[lang],
                **{k: self._digest(p) for k, p in self.files(lang).items()},
            }
            ident = self._tuning_identity(lang)
            if ident is not None:
                content["tuning"] = ident
            out[lang] = hash_json(content)
        return out

    # ------------------------------------------------------------------ provenance
    def check_available(self) -> None:
        """Raise DataUnavailableError now if a configured file is missing (reads nothing); with a
        tuning split, read every language's splits now (a holdout with too few queries, dev
        queries that are also reported, dev judgments of unknown documents: before any work)."""
        for lang, o in self.options.languages.items():
            for key in ("corpus", "queries", "qrels", "dev_queries", "dev_qrels"):
                if getattr(o, key) is not None:
                    self._existing(f"languages.{lang}.{key}", getattr(o, key), key.replace("_", " "))
        if self.options.train_pairs is not None:
            self._existing("train_pairs", self.options.train_pairs, "train pairs")
        self._check_bitext_files()
        if self.options.tuning != "none":
            for lang in self.languages:
                for split in self.splits:
                    self.topics(lang, split)

    def _bitext_dir(self) -> Path | None:
        return self._path(self.options.bitext_dir) if self.options.bitext_dir is not None else None

    def fingerprint(self) -> str:
        """sha256 over the adapter version, pivot, tiers and the sha256 of every file's bytes."""

        digest = self._digest

        with self._lock:
            if self._fingerprint is None:
                langs = {
                    lang: {"tier": self.tiers[lang], **{k: digest(p) for k, p in self.files(lang).items()}}
                    for lang in self.languages
                }
                train = digest(self._path(self.options.train_pairs)) if self.options.train_pairs else None
                content: dict[str, object] = {
                    "adapter": f"local/{ADAPTER_VERSION}",
                    "pivot": self.pivot,
                    "languages": langs,
                    "train": train,
                    "bitext": self._bitext_digests(),
                }
                if self.options.tuning != "none":  # without tuning, fingerprints stay as they were
                    content["tuning"] = {lang: self._tuning_identity(lang) for lang in self.languages}
                self._fingerprint = hash_json(content)
            return self._fingerprint

    def train_fingerprint(self) -> str:
        """The training-pairs file's sha256 (not the evaluated files): an edit of a corpus, queries or qrels
        file leaves the teacher's and the fitted methods' cache entries valid."""
        train = self._digest(self._path(self.options.train_pairs)) if self.options.train_pairs else None
        return hash_json({"adapter": f"local/{ADAPTER_VERSION}", "pivot": self.pivot, "train": train})

    def bitext_fingerprint(self) -> str:
        """The sha256 of every language's bitext file (``bitext_dir/<language>.tsv``)."""
        return hash_json({"adapter": f"local/{ADAPTER_VERSION}", "pivot": self.pivot, "bitext": self._bitext_digests()})

    def describe(self) -> dict[str, object]:
        """Summary with per-language counts (streams every language's corpus ids once), including
        ``dropped_unjudged_queries``: queries in the file that had no judgments."""
        for lang in self.languages:
            if lang not in self._stats:
                self.topics(lang)
        out = super().describe()
        out.update(
            {
                "files": {lang: {k: str(p) for k, p in self.files(lang).items()} for lang in self.languages},
                "train_pairs": str(self._path(self.options.train_pairs)) if self.options.train_pairs else None,
                "bitext_dir": str(self._path(self.options.bitext_dir)) if self.options.bitext_dir else None,
                "stats": {lang: {**self._stats[lang], **self._dev_stats.get(lang, {})} for lang in self.languages},
            }
        )
        if self.options.tuning != "none":
            for lang in self.languages:
                self.language_data(lang, "dev")
            o = self.options
            out["tuning"] = {
                "scheme": o.tuning,
                "statement": self.split_statement(),
                "holdout": o.holdout_identity() if o.uses_holdout() else None,
                "dev_files": {lang: {k: str(p) for k, p in self.dev_files(lang).items()} for lang in self.languages}
                if o.tuning == "dev-files"
                else None,
                "queries": self.tuning_counts(),
            }
        return out


def _stream_docs(path: Path) -> Iterator[tuple[int, _Doc]]:
    """Numbered records of a corpus TSV read by ir_datasets' reader, layout-checked (:func:`_doc_layout`)."""
    from ir_datasets.formats import TsvDocs
    from ir_datasets.util import LocalDownload

    from harness.benchmarks import _irds

    docs_h = TsvDocs(LocalDownload(path, mkdir=False), doc_cls=_LocalDoc)
    records = _irds.iter_records(docs_h._iter, source=str(path), path=path)  # the file itself, never a docstore
    yield from _doc_layout(records, path, lambda entity, index: _irds._physical_line(path, index, _irds.tsv_blank))


def _doc_layout(docs: Iterator[tuple[int, Any]], path: Path, line_of) -> Iterator[tuple[int, _Doc]]:
    """Check that every corpus line has the first line's layout (text, or title and text)."""
    width = None
    for i, d in docs:
        n = len(d.fields)
        if n not in (1, 2):
            raise DataFormatError(
                path,
                f"expected doc_id<TAB>text or doc_id<TAB>title<TAB>text, got {n + 1} fields",
                line_of("docs", i),
                "a field may not contain a tab or a newline",
            )
        if width is None:
            width = n
        elif n != width:
            layout = "doc_id<TAB>text" if width == 1 else "doc_id<TAB>title<TAB>text"
            raise DataFormatError(
                path, f"got {n + 1} fields, but the first line has the layout {layout}", line_of("docs", i)
            )
        text = d.fields[-1]
        if not text.strip():
            raise DataFormatError(path, f"document {d.doc_id!r} has an empty text", line_of("docs", i))
        yield i, _Doc(d.doc_id, d.fields[0] if n == 2 else "", text)
