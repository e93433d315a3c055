"""The one interface every benchmark adapter implements.

A benchmark gives, per evaluated language, a corpus, queries, qrels and a resource tier;
pivot-language retrieval training pairs; and bitext between the pivot and each language.
Adapters: ``synthetic`` (embedded default), ``miracl`` (ir_datasets), ``ir_datasets`` (any ir_datasets
collection, monolingual or cross-lingual), ``local`` (files).
"""

from __future__ import annotations

import abc
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from pydantic import BaseModel

from harness.errors import DataFormatError, UnknownLanguageError
from harness.hashing import hash_json

__all__ = ["TIERS", "Benchmark", "BitextPair", "LanguageData", "TrainPair", "check_query_texts", "hash_json"]

#: Resource tiers a benchmark may assign to a language, from most to least resourced.
TIERS = ("high", "mid", "low")


def check_query_texts(queries: Mapping[str, str], *, source: str) -> None:
    """Raise :class:`~harness.errors.DataFormatError` (naming ``source`` and the query ids) if a query's text is
    empty or blank: dense methods would score it 0 and BM25 fail with its own message."""
    empty = sorted(q for q, t in queries.items() if not isinstance(t, str) or not t.strip())
    if empty:
        raise DataFormatError(
            source,
            f"{len(empty)} judged quer{'y has' if len(empty) == 1 else 'ies have'} an empty text: {empty[:5]}",
            hint="give each query its text, or remove the query and its judgments",
        )


@dataclass(frozen=True)
class LanguageData:
    """Evaluation data for one language.

    Attributes
    ----------
    language : str
        Language code, e.g. ``"sw"``.
    tier : str
        Resource tier, e.g. ``"high"`` or ``"low"``.
    corpus : Mapping[str, str]
        ``doc_id -> text`` (for MIRACL: title and text joined by a space).
    queries : Mapping[str, str]
        ``query_id -> text``; only judged queries.
    qrels : Mapping[str, Mapping[str, int]]
        ``query_id -> {doc_id: relevance}`` (TREC qrels).
    document_language : str, optional
        Language of the corpus when it differs from the queries' (cross-lingual retrieval:
        queries in ``language``, documents in the pivot language); None: ``language``.
    query_translations : Mapping[str, str], optional
        ``query_id -> text``: each query's true rendering in the pivot language (one per
        query, same ids as ``queries``).  Only a generated world knows it (the synthetic
        benchmark sets it, for the pivot itself the query text); real adapters leave None.
        Controls that need the truth (e.g. a planted effect that blends in the teacher's
        embedding of the translation) read it; methods must not.
    """

    language: str
    tier: str
    corpus: Mapping[str, str]
    queries: Mapping[str, str]
    qrels: Mapping[str, Mapping[str, int]]
    document_language: str | None = None
    query_translations: Mapping[str, str] | None = None

    @property
    def doc_language(self) -> str:
        return self.document_language or self.language

    def __post_init__(self) -> None:
        missing = [q for q in self.qrels if q not in self.queries]
        if missing:
            raise ValueError(
                f"language {self.language!r}: {len(missing)} judged queries have no text "
                f"(e.g. {missing[:3]}); every query in the qrels must be in the query file"
            )
        unjudged = [q for q in self.queries if q not in self.qrels]
        if unjudged:
            raise ValueError(
                f"language {self.language!r}: {len(unjudged)} queries have no qrels "
                f"(e.g. {unjudged[:3]}); keep only judged queries, or supply their qrels"
            )
        if self.query_translations is not None and set(self.query_translations) != set(self.queries):
            extra = sorted(set(self.query_translations) - set(self.queries))
            lacking = sorted(set(self.queries) - set(self.query_translations))
            raise ValueError(
                f"language {self.language!r}: query_translations must give one pivot rendering per query "
                f"({len(lacking)} queries lack one, e.g. {lacking[:3]}; {len(extra)} are not queries, "
                f"e.g. {extra[:3]}); give exactly the query ids, or None"
            )
        check_query_texts(self.queries, source=f"queries of language {self.language!r}")

    def fingerprint(self) -> str:
        """sha256 over corpus, queries and qrels (order-independent), and ``query_translations``
        when given (data without them keeps the fingerprint it always had)."""
        h = hashlib.sha256()
        for part in (self.corpus, self.queries):
            for k in sorted(part):
                h.update(k.encode())
                h.update(b"\t")
                h.update(part[k].encode())
                h.update(b"\n")
        for q in sorted(self.qrels):
            for d in sorted(self.qrels[q]):
                h.update(f"{q}\t{d}\t{self.qrels[q][d]}\n".encode())
        if self.query_translations is not None:
            h.update(b"query_translations\n")
            for q in sorted(self.query_translations):
                h.update(f"{q}\t{self.query_translations[q]}\n".encode())
        return h.hexdigest()


@dataclass(frozen=True)
class TrainPair:
    """A pivot-language retrieval training example: a query and a relevant passage."""

    query: str
    positive: str


@dataclass(frozen=True)
class BitextPair:
    """A translation pair: ``pivot`` sentence and its ``other`` language rendering.

    ``alignment``, where known, is the true word alignment: pairs ``(i, j)`` meaning that
    whitespace token ``i`` of ``pivot`` (``pivot.split()[i]``) and token ``j`` of ``other``
    render the same concept; unaligned tokens (function words) appear in no pair.  Only a
    generated world knows it (the synthetic benchmark sets it); real bitext leaves None.
    """

    pivot: str
    other: str
    alignment: tuple[tuple[int, int], ...] | None = None

    def __post_init__(self) -> None:
        if self.alignment is None:
            return
        n, m = len(self.pivot.split()), len(self.other.split())
        bad = [(i, j) for i, j in self.alignment if not (0 <= i < n and 0 <= j < m)]
        if bad:
            raise ValueError(
                f"bitext alignment {bad[:3]} out of range: the pivot sentence has {n} whitespace tokens and the "
                f"other {m} ({self.pivot[:40]!r} / {self.other[:40]!r}); pairs are (pivot index, other index)"
            )


@dataclass(frozen=True)
class BaseModelSpec:
    """Where the base encoder comes from.

    ``path`` is a local directory or hub name loadable by ``from_pretrained``; for the
    synthetic benchmark it is produced by the benchmark itself (pre-trained MLM).
    """

    path: str
    fingerprint: str
    extra: Mapping[str, object] = field(default_factory=dict)


class Benchmark(abc.ABC):
    """Abstract benchmark adapter (registered in the ``harness.benchmarks`` entry-point group).

    Subclasses set ``Config`` (their closed pydantic options model: the ``[benchmark]``
    table's keys besides ``name``), ``pivot``, ``languages`` (evaluated languages, ordered)
    and ``tiers`` (``language -> tier``), and implement the loaders.  Loaders may be slow
    (they read data) and should cache what they load.  The harness constructs an adapter as
    ``cls(options, cache, base_dir=...)``: ``cache`` is a :class:`harness.cache.Cache` for
    whatever the adapter wants to keep, ``base_dir`` the config file's directory (relative
    paths in options are resolved against it) or None.
    """

    name: str
    Config: ClassVar[type[BaseModel]]
    pivot: str
    languages: tuple[str, ...]
    tiers: Mapping[str, str]

    def check_language(self, language: str) -> None:
        if language not in self.tiers:
            raise UnknownLanguageError(language, self.name, self.tiers)

    #: Query splits: ``"test"`` is reported; ``"dev"``, where an adapter has it, is for tuning only
    #: (disjoint queries and judgements over the same corpus).
    splits: tuple[str, ...] = ("test",)

    def evaluation_identity(self) -> dict[str, object]:
        """What selects the evaluated data from the data the fingerprint covers (default: nothing).

        Part of every cell's cache key; an adapter whose options pick among views of one
        dataset (e.g. monolingual or cross-lingual) names them here.  Never paths.
        """
        return {}

    def data_source(self, language: str, entity: str) -> str:
        """Where ``language``'s ``entity`` (``"docs"``, ``"queries"``, ``"qrels"``) comes from, for messages about
        bad data (:mod:`harness.validation`): a file path or a dataset id.  Default: the adapter and the language."""
        return f"{self.name} benchmark, {entity} of language {language!r}"

    def split_statement(self) -> str | None:
        """Where the dev split's queries come from, in words, for the protocol summary and the
        report (e.g. MIRACL's train topics, or a seeded holdout of the evaluated queries,
        :mod:`harness.benchmarks.tuning`); None: no dev split, or nothing to add."""
        return None

    #: Evaluation modes this adapter serves in one run (results carry the mode; the question is answered per
    #: mode).  ``"monolingual"``: queries and documents in each language; ``"cross-lingual"``: queries in each
    #: language, documents in the pivot's.  Adapters serving several set it and implement :meth:`with_mode`.
    modes: tuple[str, ...] = ("monolingual",)

    def check_mode(self, mode: str) -> None:
        if mode not in self.modes:
            from harness.errors import ConfigError, did_you_mean

            raise ConfigError(
                "mode", mode, f"one of this benchmark's modes: {', '.join(self.modes)}{did_you_mean(mode, self.modes)}"
            )

    def with_mode(self, mode: str) -> "Benchmark":
        """A view of this benchmark whose ``language_data`` serves ``mode`` (itself when it is the only mode).

        Engines evaluate every mode of :attr:`modes` through such views; a view's
        :meth:`evaluation_identity` names its one mode.
        """
        self.check_mode(mode)
        return self

    def check_split(self, split: str) -> None:
        if split not in self.splits:
            from harness.errors import ConfigError

            raise ConfigError("split", split, f"one of this benchmark's splits: {', '.join(self.splits)}")

    def tier(self, language: str) -> str:
        self.check_language(language)
        return self.tiers[language]

    @abc.abstractmethod
    def language_data(self, language: str) -> LanguageData:
        """Corpus, queries, qrels and tier for ``language`` (the test split; adapters with a
        ``"dev"`` split take ``language_data(language, split)``, and, if they implement
        ``topics(language)`` natively, ``topics(language, split)`` too)."""

    @abc.abstractmethod
    def train_pairs(self) -> Sequence[TrainPair]:
        """Pivot-language retrieval training pairs (used to fine-tune the teacher)."""

    @abc.abstractmethod
    def bitext(self, language: str) -> Sequence[BitextPair]:
        """Parallel sentences between the pivot and ``language`` (empty for the pivot)."""

    @abc.abstractmethod
    def fingerprint(self) -> str:
        """Content hash identifying the data (cache key and manifest provenance)."""

    def language_fingerprints(self) -> dict[str, str]:
        """Per-language data fingerprints, for the manifest."""
        return {lang: self.language_data(lang).fingerprint() for lang in self.languages}

    # -------------------------------------------------------------- per-part fingerprints (training inputs)
    def train_fingerprint(self) -> str:
        """Identity of :meth:`train_pairs` (the teacher's training data, and a method's pivot anchor).

        Default: the whole :meth:`fingerprint` (any edit of the data counts as a change of the
        training pairs).  An adapter that can name the files its training pairs come from
        overrides it, so that an edit of the evaluated data does not re-train the teacher.
        """
        return self.fingerprint()

    def bitext_fingerprint(self) -> str:
        """Identity of :meth:`bitext` over every language (the alignment methods' training data).

        Default: the whole :meth:`fingerprint`; adapters that read bitext from their own files
        override it (see :meth:`train_fingerprint`).
        """
        return self.fingerprint()

    def training_fingerprints(self) -> dict[str, str]:
        """Fingerprints of every part a method's fit may read: ``{"train_pairs": ..., "bitext": ...}``.

        Part of a fit's cache key (:meth:`harness.engine.Engine.fit_key`) together with the
        pivot, languages and tiers; the evaluated corpus, queries and qrels are not in it (a
        fit-cached method reads none of them while fitting).  An adapter with other training
        inputs (e.g. held-out alignment data a method trains on) adds them here.
        """
        return {"train_pairs": self.train_fingerprint(), "bitext": self.bitext_fingerprint()}

    def check_available(self) -> None:
        """Raise :class:`harness.errors.DataUnavailableError` now if data the run needs is missing (reads
        nothing large): the engine calls it before any training.  Default: nothing to check."""
        return None

    def measurement_bitext(self, language: str, n: int = 1000) -> Sequence[BitextPair] | None:
        """Held-out bitext (never trained on) for teacher-level alignment measures
        (:mod:`harness.world_measures`), or None (default): the first ``n`` pairs of :meth:`bitext` are used."""
        return None

    def describe(self) -> dict[str, object]:
        """JSON-serialisable summary for manifests and reports."""
        return {
            "name": self.name,
            "pivot": self.pivot,
            "languages": list(self.languages),
            "tiers": dict(self.tiers),
            "synthetic": False,
        }
