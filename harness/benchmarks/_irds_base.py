"""What every ir_datasets-backed adapter shares (``miracl``, ``ir_datasets``).

:class:`IrdsBenchmark` reads, per evaluated language, one ir_datasets dataset (corpus,
queries, qrels) named by :meth:`IrdsBenchmark.dataset_id`, and the pivot's retrieval
training pairs from :meth:`IrdsBenchmark.train_dataset_id`:

* **offline first**: before ir_datasets opens a file, every file a dataset needs is checked to
  be under ``IR_DATASETS_HOME``; a missing one raises
  :class:`~harness.errors.DataUnavailableError` naming the id, the files and how to get them
  (:meth:`IrdsBenchmark._how_to_get`), unless ``allow_download`` is set;
* **streaming**: :meth:`IrdsBenchmark.iter_corpus` streams ``docs_iter`` (nothing kept), and
  :meth:`IrdsBenchmark.topics` reads queries and qrels without the corpus;
* **training pairs**: for each training query in file order with a positive judgment, the query
  and its first positive passage (in qrels order) that exists in the corpus; ``max_train_pairs``
  keeps the first N;
* **fingerprints** from file contents (:meth:`harness.benchmarks._irds.SourceFile.content_id`:
  sha256 of the bytes on disk, else the md5 ir_datasets pins), never from paths;
* **tuning splits** (:mod:`harness.benchmarks.tuning`): a seeded ``holdout`` of the evaluated
  queries, or separate ``train`` topics over the same corpus (:meth:`tuning_dataset_id`).

Subclasses name the datasets and say how to obtain them.
"""

from __future__ import annotations

import abc
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from harness.benchmarks._filebased import FileBenchmark
from harness.benchmarks.base import LanguageData, TrainPair, hash_json
from harness.errors import DataUnavailableError

__all__ = ["IrdsBenchmark"]


class IrdsBenchmark(FileBenchmark):
    """A benchmark whose every language is an ir_datasets dataset (module docstring).

    Subclasses set ``options`` (with ``allow_download``, ``max_train_pairs``, ``tuning``),
    ``pivot``, ``languages``, ``tiers``, ``_loader`` (``dataset_id -> dataset`` or None for
    ``ir_datasets.load``), implement :meth:`dataset_id`, :meth:`train_dataset_id`,
    :meth:`tuning_dataset_id`, :meth:`_how_to_get`, and call ``_init_state()``.
    """

    #: Names the data in "not available" messages, e.g. "MIRACL data".
    data_label: str = "ir_datasets data"
    #: ``adapter/version`` in the fingerprints.
    adapter_tag: str = "ir_datasets/1"
    #: Whether a corpus's identity includes the dataset id (MIRACL: yes, as it always did); without it,
    #: datasets that read the same document files (CLIR collections into one language) share one index.
    corpus_identity_names_dataset: bool = False

    _loader: Callable[[str], Any] | None
    _train_stats: dict[str, int]

    # ------------------------------------------------------------------ to implement
    @abc.abstractmethod
    def dataset_id(self, language: str) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    @abc.abstractmethod
    def train_dataset_id(self) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def tuning_dataset_id(self, language: str) -> str | None:
        """The ir_datasets id of ``language``'s tuning topics (``tuning = "train"``), else None."""
        return None

    def _how_to_get(self, dataset_id: str) -> str:
        """How to obtain ``dataset_id``'s files (the end of a DataUnavailableError)."""
        return (
            "To fix: on a machine with internet access, download it once with\n"
            f"    ir_datasets export {dataset_id} docs > /dev/null\n"
            f"    ir_datasets export {dataset_id} queries > /dev/null\n"
            f"    ir_datasets export {dataset_id} qrels > /dev/null\n"
            "then copy that machine's ir_datasets home (~/.ir_datasets, or IR_DATASETS_HOME) to this one's."
        )

    def _before_load(self, dataset_id: str) -> None:
        """Refuse a dataset whose *loading* alone would download (default: nothing to check)."""

    # ------------------------------------------------------------------ datasets
    def _load(self, dataset_id: str) -> Any:
        from harness.benchmarks import _irds

        loader = self._loader
        if loader is None:
            import ir_datasets

            loader = ir_datasets.load
        if not self.options.allow_download:
            self._before_load(dataset_id)
        return _irds.load_dataset(dataset_id, loader)

    def _open(self, dataset_id: str, entities: tuple[str, ...]) -> Any:
        """Load a dataset; unless downloads are allowed, refuse when files are missing."""
        from harness.benchmarks import _irds

        ds = self._load(dataset_id)
        if not self.options.allow_download:
            missing = [s for s in _irds.source_files(ds, entities) if not s.present]
            if missing:
                raise DataUnavailableError(
                    _irds.missing_message(self.data_label, dataset_id, missing, self._how_to_get(dataset_id))
                )
        return ds

    def data_source(self, language: str, entity: str) -> str:
        """The dataset id and its files (:func:`harness.benchmarks._irds.dataset_source`)."""
        from harness.benchmarks import _irds

        ds_id = self.dataset_id(language)
        return _irds.dataset_source(self._open(ds_id, (entity,)), ds_id, entity)

    def _files(self, dataset_id: str) -> list[list[str]]:
        from harness.benchmarks import _irds

        ds = self._load(dataset_id)
        return [[s.entity, Path(s.path).name, s.content_id()] for s in _irds.source_files(ds)]

    # ------------------------------------------------------------------ tuning split
    def _read_tuning_topics(self, language: str):
        ds_id = self.tuning_dataset_id(language)
        assert ds_id is not None  # called only for the "train" scheme, which has one
        return self._read_topics(language, ds_id)

    def _tuning_identity(self, language: str) -> dict[str, object] | None:
        """What selects ``language``'s dev and test queries beyond its evaluated files (None: no tuning)."""
        scheme = self.tuning_scheme(language)
        if scheme == "none":
            return None
        if scheme == "holdout":
            return {"scheme": "holdout", **self.options.holdout_identity()}
        ds_id = self.tuning_dataset_id(language)
        return {"scheme": "train", "dataset": ds_id, "files": self._files(ds_id)}  # type: ignore[arg-type]

    def evaluation_identity(self) -> dict[str, object]:
        """The tuning split (none: ``{}``, so keys without tuning are unchanged)."""
        o = self.options
        if o.tuning == "none":
            return {}
        return {
            "tuning": o.tuning,
            "fallback": o.tuning_fallback,
            "holdout": o.holdout_identity() if o.uses_holdout() else None,
        }

    def _tuning_description(self) -> dict[str, object]:
        """The tuning split for :meth:`describe` (scheme, statement, ids, holdout, query counts)."""
        o = self.options
        return {
            "scheme": o.tuning,
            "fallback": o.tuning_fallback,
            "statement": self.split_statement(),
            "schemes": {lang: self.tuning_scheme(lang) for lang in self.languages},
            "dataset_ids": {lang: i for lang in self.languages if (i := self.tuning_dataset_id(lang))},
            "holdout": o.holdout_identity() if o.uses_holdout() else None,
            "queries": self.tuning_counts(),
        }

    def _options_identity(self, exclude: set[str], tuning_keys: set[str]) -> dict[str, Any]:
        """The options in a fingerprint: without ``exclude``, and without ``tuning_keys`` when there is no
        tuning (so fingerprints of runs without tuning stay as they were)."""
        if self.options.tuning == "none":
            exclude = exclude | tuning_keys
        return self.options.model_dump(mode="json", exclude=exclude)

    # ------------------------------------------------------------------ Benchmark API
    def _read_language(self, language: str) -> LanguageData:
        from harness.benchmarks import _irds

        ds_id = self.dataset_id(language)
        ds = self._open(ds_id, _irds.ENTITIES)
        hint = self._how_to_get(ds_id)
        got = _irds.collect_language(
            language,
            self.tiers[language],
            _irds.iter_records(ds.docs_iter, source=f"{ds_id} docs", unavailable_hint=hint),
            _irds.iter_records(ds.queries_iter, source=f"{ds_id} queries", unavailable_hint=hint),
            _irds.iter_records(ds.qrels_iter, source=f"{ds_id} qrels", unavailable_hint=hint),
            sources={e: f"{ds_id} {e}" for e in _irds.ENTITIES},
            unknown_docs="keep",
        )
        self._stats[language] = got.stats()
        return self._finish_language(language, got.data)

    def _finish_language(self, language: str, data: LanguageData) -> LanguageData:
        """Hook: the adapter's last word on a language read (e.g. its document language)."""
        return data

    def iter_corpus(self, language: str):
        """``(doc_id, text)`` streamed from ir_datasets' ``docs_iter`` (nothing is kept)."""
        from harness.benchmarks import _irds

        self.check_language(language)
        ds_id = self.dataset_id(language)
        ds = self._open(ds_id, ("docs",))
        files = lambda: [s.path for s in _irds.source_files(ds, ("docs",))]  # noqa: E731 - names a damaged file
        hint = self._how_to_get(ds_id)
        for i, d in _irds.iter_records(ds.docs_iter, source=f"{ds_id} docs", unavailable_hint=hint, files=files):
            yield (d.doc_id.removeprefix("\ufeff") if i == 0 else d.doc_id), _irds.doc_text(d)

    def topics(self, language: str, split: str = "test"):
        """Queries, qrels and tier of ``language``'s ``split`` without reading its corpus (memoised)."""
        self.check_language(language)
        self.check_split(split)
        with self._lock:
            return self._topics_view(language, split, self._whole_topics(language))

    def _whole_topics(self, language: str):
        """Topics of the whole evaluated split of ``language`` (memoised)."""
        return self._memoised_topics(language, lambda: self._read_topics(language, self.dataset_id(language)))

    def _read_topics(self, language: str, ds_id: str):
        """Judged queries and qrels of the dataset ``ds_id`` (no corpus read)."""
        from harness.benchmarks import _irds
        from harness.corpus import Topics

        ds = self._open(ds_id, ("queries", "qrels"))
        hint = self._how_to_get(ds_id)
        got = _irds.collect_language(
            language,
            self.tiers[language],
            iter(()),
            _irds.iter_records(ds.queries_iter, source=f"{ds_id} queries", unavailable_hint=hint),
            _irds.iter_records(ds.qrels_iter, source=f"{ds_id} qrels", unavailable_hint=hint),
            sources={e: f"{ds_id} {e}" for e in _irds.ENTITIES},
            unknown_docs="keep",
        )
        return Topics(language, got.data.tier, got.data.queries, got.data.qrels)

    def corpus_fingerprint(self, language: str) -> str:
        """From metadata: the docs files' content ids (no corpus read); see :attr:`corpus_identity_names_dataset`."""
        import ir_datasets

        ds_id = self.dataset_id(language)
        docs = [f for f in self._files(ds_id) if f[0] == "docs"]
        if self.corpus_identity_names_dataset:
            return hash_json({"dataset": ds_id, "docs": docs, "ir_datasets": ir_datasets.__version__})
        if not docs:  # docs read from a built docstore only: its dataset's docs namespace names it
            return hash_json({"docs_of": self._docs_namespace(ds_id), "ir_datasets": ir_datasets.__version__})
        return hash_json({"docs": docs, "ir_datasets": ir_datasets.__version__})

    def _docs_namespace(self, ds_id: str) -> str:
        ds = self._load(ds_id)
        try:
            return str(ds.docs_namespace() or ds_id)
        except Exception:  # noqa: BLE001 - a dataset without a namespace is named by its id
            return ds_id

    def train_fingerprint(self) -> str:
        """What the teacher's training pairs depend on: the pivot's train files (content ids)
        and the options that select pairs; not the evaluated languages."""
        import ir_datasets

        return hash_json(
            {
                "adapter": self.adapter_tag,
                "pivot": self.pivot,
                "max_train_pairs": self.options.max_train_pairs,
                "ir_datasets": ir_datasets.__version__,
                "files": self._files(self.train_dataset_id()),
            }
        )

    def language_fingerprints(self) -> dict[str, str]:
        """Per language: its dataset's source files (content ids), not the texts; with a tuning
        split, also what selects its dev and test queries (run keys of each split follow it)."""
        out = {}
        for lang in self.languages:
            files = self._files(self.dataset_id(lang))
            ident = self._tuning_identity(lang)
            out[lang] = hash_json(files) if ident is None else hash_json({"files": files, "tuning": ident})
        return out

    def train_pairs(self) -> Sequence[TrainPair]:
        with self._lock:
            if self._train is None:
                self._train = self._read_train_pairs()
            return self._train

    def _read_train_pairs(self) -> list[TrainPair]:
        from harness.benchmarks import _irds

        ds_id = self.train_dataset_id()
        hint = self._how_to_get(ds_id)
        ds = self._open(ds_id, ("queries", "qrels"))
        queries: dict[str, str] = {}
        for _, q in _irds.iter_records(ds.queries_iter, source=f"{ds_id} queries", unavailable_hint=hint):
            queries.setdefault(q.query_id, q.text)
        positives: dict[str, list[str]] = {}
        for _, r in _irds.iter_records(ds.qrels_iter, source=f"{ds_id} qrels", unavailable_hint=hint):
            if int(r.relevance) > 0:
                positives.setdefault(r.query_id, []).append(r.doc_id)
        chosen = [q for q in queries if q in positives]
        limit = self.options.max_train_pairs
        needed = {d for q in chosen for d in positives[q]}
        texts = self._pivot_passages(ds, ds_id, needed, hint)
        pairs: list[TrainPair] = []
        skipped = 0
        for q in chosen:
            if limit is not None and len(pairs) >= limit:
                break
            doc = next((d for d in positives[q] if d in texts), None)
            if doc is None:
                skipped += 1
                continue
            pairs.append(TrainPair(query=queries[q], positive=texts[doc]))
        if not pairs:
            raise DataUnavailableError(
                f"{ds_id}: no training pair could be formed ({len(queries)} queries, {len(positives)} with a "
                f"positive judgment, {skipped} whose positives are missing from the corpus)"
            )
        if skipped:
            warnings.warn(
                f"{ds_id}: {skipped} training queries skipped because none of their positive passages is in the corpus",
                stacklevel=2,
            )
        self._train_stats = {
            "pairs": len(pairs),
            "queries_with_positive": len(chosen),
            "skipped_missing_passage": skipped,
        }
        return pairs

    def _pivot_passages(self, ds: Any, ds_id: str, needed: set[str], hint: str) -> dict[str, str]:
        """Texts of ``needed`` pivot passages: from memory if the pivot language is loaded (and reads
        the same dataset's corpus), else ir_datasets' docstore if built, else one streaming pass."""
        from harness.benchmarks import _irds

        if self.pivot in self._data and self._pivot_corpus_is_training_corpus():
            corpus = self._data[self.pivot].corpus
            return {d: corpus[d] for d in needed if d in corpus}
        if _irds.docstore_built(ds):
            found = ds.docs_store().get_many(needed)
            return {d: _irds.doc_text(doc) for d, doc in found.items()}
        if not self.options.allow_download:
            missing = [s for s in _irds.source_files(ds, ("docs",)) if not s.present]
            if missing:
                raise DataUnavailableError(
                    _irds.missing_message(f"{self.data_label} (pivot corpus)", ds_id, missing, hint)
                )
        out: dict[str, str] = {}
        for _, d in _irds.iter_records(ds.docs_iter, source=f"{ds_id} docs", unavailable_hint=hint):
            if d.doc_id in needed:
                out[d.doc_id] = _irds.doc_text(d)
        return out

    def _pivot_corpus_is_training_corpus(self) -> bool:
        """Whether the loaded pivot language's corpus is the training dataset's (MIRACL: always)."""
        return True

    # ------------------------------------------------------------------ provenance
    def _datasets_to_check(self) -> list[tuple[str, tuple[str, ...]]]:
        from harness.benchmarks import _irds

        tuning_ids = [i for i in (self.tuning_dataset_id(lang) for lang in self.languages) if i is not None]
        return [
            *((self.dataset_id(lang), _irds.ENTITIES) for lang in self.languages),
            (self.train_dataset_id(), _irds.ENTITIES),
            *((i, ("queries", "qrels")) for i in tuning_ids),
        ]

    def check_available(self) -> None:
        """Raise DataUnavailableError now if any evaluated language's files, the pivot
        training data or a bitext file is missing (reads nothing large)."""
        problems: list[str] = []
        seen: set[tuple[str, tuple[str, ...]]] = set()
        for dataset_id, entities in self._datasets_to_check():
            if (dataset_id, entities) in seen:
                continue
            seen.add((dataset_id, entities))
            try:
                self._open(dataset_id, entities)
            except DataUnavailableError as e:
                problems.append(str(e))
        try:
            self._check_bitext_files()
        except DataUnavailableError as e:
            problems.append(str(e))
        if len(problems) == 1:
            raise DataUnavailableError(problems[0])
        if problems:  # every incomplete dataset in one error, not only the first
            raise DataUnavailableError(
                f"{len(problems)} datasets are incomplete:\n" + "\n".join(f"  - {p}" for p in problems)
            )
        if self.options.tuning != "none":  # too few queries for a holdout, overlapping ids: before any work
            for lang in self.languages:  # (topics only: queries and qrels files, no corpus)
                for split in self.splits:
                    self.topics(lang, split)

    @abc.abstractmethod
    def _fingerprint_payload(self) -> dict[str, Any]:
        """What :meth:`fingerprint` hashes (subclasses name their options)."""
        raise NotImplementedError

    def fingerprint(self) -> str:
        """Content ids of ir_datasets' files (not their texts) and the options (see subclasses)."""
        with self._lock:
            if self._fingerprint is None:
                self._fingerprint = hash_json(self._fingerprint_payload())
            return self._fingerprint

    def _dataset_ids(self) -> list[str]:
        """Every dataset id the run reads, sorted."""
        tuning_ids = {i for i in (self.tuning_dataset_id(lang) for lang in self.languages) if i}
        return sorted({self.dataset_id(lang) for lang in self.languages} | {self.train_dataset_id()} | tuning_ids)
