"""What the ``miracl`` and ``local`` adapters share: memoised per-language loading and
bitext from a directory of ``<language>.tsv`` files."""

from __future__ import annotations

import abc
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from harness.benchmarks._common import sha256_file
from harness.benchmarks.base import Benchmark, BitextPair, LanguageData, TrainPair
from harness.benchmarks.bitext import bitext_path, read_bitext_tsv
from harness.errors import DataUnavailableError


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

    @abc.abstractmethod
    def _read_language(self, language: str) -> LanguageData:
        """Read ``language`` (called once; the result is memoised); record ``self._stats``."""

    @abc.abstractmethod
    def _bitext_dir(self) -> Path | None:
        """The resolved bitext directory, or None when not configured."""

    def language_data(self, language: str) -> LanguageData:
        self.check_language(language)
        with self._lock:
            if language not in self._data:
                self._data[language] = self._read_language(language)
            return self._data[language]

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
