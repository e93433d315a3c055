"""What the ``miracl`` and ``local`` adapters share: memoised per-language loading, bitext
from a directory of ``<language>.tsv`` files, and the tuning split (:mod:`harness.benchmarks.tuning`).

With ``tuning`` set, :attr:`FileBenchmark.splits` is ``("dev", "test")`` and every split is a
view of the evaluated data read once: a holdout splits its judged queries (``"test"`` is the
reported part only), separate tuning topics (:meth:`FileBenchmark._read_tuning_topics`) give
``"dev"`` over the same corpus and leave ``"test"`` whole.  Dev and test query ids must be
disjoint (checked), so no tuning query is ever reported."""

from __future__ import annotations

import abc
import dataclasses
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.benchmarks._common import DataFormatError, sha256_file
from harness.benchmarks.base import Benchmark, BitextPair, LanguageData, TrainPair
from harness.benchmarks.bitext import bitext_path, read_bitext_tsv
from harness.benchmarks.tuning import HoldoutSplit, holdout_split, select_queries
from harness.errors import ConfigError, DataUnavailableError


class FileBenchmark(Benchmark):
    """A benchmark read from files: subclasses implement :meth:`_read_language` and
    :meth:`_bitext_dir`, and call :meth:`_init_state` in ``__init__``."""

    #: Said when no bitext directory is configured (why there is none).
    bitext_missing_reason: str = ""

    def _init_state(self) -> None:
        self._lock = threading.RLock()
        self._data: dict[str, LanguageData] = {}
        self._stats: dict[str, dict[str, int]] = {}
        self._train: list[TrainPair] | None = None
        self._bitext: dict[str, list[BitextPair]] = {}
        self._fingerprint: str | None = None
        self._views: dict[tuple[str, str], LanguageData] = {}
        self._holdouts: dict[str, HoldoutSplit] = {}
        self._tuning_topics: dict[str, Any] = {}
        self._counts: dict[str, dict[str, int]] = {}

    @abc.abstractmethod
    def _read_language(self, language: str) -> LanguageData:
        """Read ``language`` (called once; the result is memoised); record ``self._stats``."""

    # ------------------------------------------------------------------ tuning split
    options: Any

    @property
    def splits(self) -> tuple[str, ...]:  # type: ignore[override]  # a plain attribute in the base; options here
        return ("dev", "test") if self.options.tuning != "none" else ("test",)

    def tuning_scheme(self, language: str) -> str:
        """``"none"``, ``"holdout"`` or the adapter's topic source for ``language``'s dev split."""
        return str(self.options.tuning)

    def _read_tuning_topics(self, language: str) -> Any:
        """Separate tuning topics of ``language`` (``.queries``, ``.qrels``), for topic-source schemes."""
        raise NotImplementedError(f"{self.name}: no tuning topics source {self.tuning_scheme(language)!r}")

    def _holdout(self, language: str, queries: Mapping[str, str]) -> HoldoutSplit:
        """The memoised holdout of ``language``'s judged queries (a clear ConfigError if too few)."""
        with self._lock:
            if language not in self._holdouts:
                o = self.options
                try:
                    self._holdouts[language] = holdout_split(queries, o.holdout_fraction, o.holdout_seed)
                except ValueError as e:
                    n = len(queries)
                    raise ConfigError(
                        "benchmark.tuning",
                        o.tuning,
                        "a holdout of languages with at least 2 judged queries (one for tuning, one reported)",
                        f"language {language!r} has {n} judged quer{'y' if n == 1 else 'ies'}; drop it or tune on "
                        "separate topics",
                    ) from e
            return self._holdouts[language]

    def _tuning_topics_of(self, language: str, reported: Mapping[str, str]) -> Any:
        """Memoised separate tuning topics, checked disjoint from the ``reported`` queries."""
        with self._lock:
            if language not in self._tuning_topics:
                got = self._read_tuning_topics(language)
                shared = sorted(set(got.queries) & set(reported))
                if shared:
                    raise DataFormatError(
                        f"{self.name} {language!r} tuning topics ({self.tuning_scheme(language)})",
                        f"{len(shared)} query ids are also reported queries, e.g. {shared[:5]}",
                        hint="tuning and reported queries must be disjoint; remove them from one of the two",
                    )
                self._tuning_topics[language] = got
            return self._tuning_topics[language]

    def _split_of(self, language: str, split: str, whole: Any) -> Any:
        """``split`` of ``whole`` (the evaluated data or topics of ``language``): see the module docstring."""
        scheme = self.tuning_scheme(language)
        if scheme == "none":
            return whole
        if scheme == "holdout":
            out = select_queries(whole, self._holdout(language, whole.queries).part(split))
        elif split == "test":
            out = whole
        else:
            got = self._tuning_topics_of(language, whole.queries)
            out = dataclasses.replace(whole, queries=dict(got.queries), qrels=dict(got.qrels))
        self._counts.setdefault(language, {})[split] = len(out.queries)
        return out

    def _topics_view(self, language: str, split: str, whole: Any) -> Any:
        """``split`` of ``language``'s whole topics (memoised), for adapters with a native ``topics``."""
        if self.tuning_scheme(language) == "none":
            return whole
        with self._lock:
            memo = self.__dict__.setdefault("_topic_views", {})
            if (language, split) not in memo:
                memo[(language, split)] = self._split_of(language, split, whole)
            return memo[(language, split)]

    def tuning_counts(self) -> dict[str, dict[str, int]]:
        """``language -> {"dev": n, "test": n}`` judged queries of each split, as far as loaded."""
        return {lang: dict(sorted(self._counts[lang].items())) for lang in self.languages if lang in self._counts}

    @abc.abstractmethod
    def _bitext_dir(self) -> Path | None:
        """The resolved bitext directory, or None when not configured."""

    def language_data(self, language: str, split: str = "test") -> LanguageData:
        """Corpus, queries, qrels and tier of ``language``'s ``split`` (memoised; the corpus is shared)."""
        self.check_language(language)
        self.check_split(split)
        with self._lock:
            if language not in self._data:
                self._data[language] = self._read_language(language)
            if self.tuning_scheme(language) == "none":
                return self._data[language]
            if (language, split) not in self._views:
                self._views[(language, split)] = self._split_of(language, split, self._data[language])
            return self._views[(language, split)]

    def bitext(self, language: str) -> Sequence[BitextPair]:
        """Pairs of ``<bitext_dir>/<language>.tsv`` (empty for the pivot)."""
        if language == self.pivot:
            return []
        self.check_language(language)
        with self._lock:
            if language not in self._bitext:
                d = self._bitext_dir()
                if d is None:
                    raise DataUnavailableError(
                        f"no bitext for {language!r}: {self.bitext_missing_reason}set benchmark.bitext_dir to a "
                        f"directory of '<language>.tsv' files (one '{self.pivot}<TAB>{language}' pair per line)"
                    )
                self._bitext[language] = read_bitext_tsv(bitext_path(d, language))
            return self._bitext[language]

    def _bitext_files(self) -> dict[str, Path]:
        """``language -> bitext file`` for every evaluated non-pivot language (empty if no dir)."""
        d = self._bitext_dir()
        if d is None:
            return {}
        return {lang: bitext_path(d, lang) for lang in self.languages if lang != self.pivot}

    def _check_bitext_files(self) -> None:
        for lang, p in self._bitext_files().items():
            if not p.is_file():
                raise DataUnavailableError(f"bitext file {str(p)!r} for {lang!r} does not exist (benchmark.bitext_dir)")

    def _bitext_digests(self) -> dict[str, str]:
        return {lang: sha256_file(p) if p.is_file() else "missing" for lang, p in self._bitext_files().items()}

    def _memoised_topics(self, language: str, read: Callable[[], Any]) -> Any:
        """``language``'s :class:`~harness.corpus.Topics`: from its data if loaded, else ``read()`` once."""
        from harness.corpus import Topics

        self.check_language(language)
        with self._lock:
            if language in self._data:
                d = self._data[language]
                return Topics(language, d.tier, d.queries, d.qrels)
            memo = self.__dict__.setdefault("_topics", {})
            if language not in memo:
                memo[language] = read()
            return memo[language]
