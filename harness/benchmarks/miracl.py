"""MIRACL (Zhang et al., TACL 2023, arXiv 2210.09984) through ir_datasets.

Per evaluated language ``lang``, ``ir_datasets.load(f"miracl/{lang}/{split}")`` gives the
corpus (Wikipedia passages; a document's text is ``title + " " + text``), the queries and
the qrels (MIRACL judges 0/1; kept as given, including judgments of passages that are
not in the corpus, so nDCG matches trec_eval over the official qrels).  Every judged
query is kept; queries without judgments are dropped and counted in :meth:`describe`.

Pivot-language retrieval training pairs come from ``miracl/<pivot>/train``: for each
training query in file order with a positive judgment, the query and its first positive
passage (in qrels order) that exists in the corpus; ``max_train_pairs`` keeps the first N.
Bitext comes from ``<bitext_dir>/<lang>.tsv`` files (``pivot<TAB>other``; MIRACL has none).

Tuning split
------------
The dev rule (:mod:`harness.protocol`) tunes on a ``"dev"`` split and reports on ``"test"``.
MIRACL's public qrels are train and dev, and ``split`` (default dev) is what is reported, so
``tuning`` says where the dev rule's queries come from (:mod:`harness.benchmarks.tuning`):

* ``"none"`` (default): no dev split; every method keeps its configured options and budget;
* ``"train"``: ``miracl/<lang>/train`` topics and qrels over the same corpus; the reported
  queries are the whole ``split``.  ``de`` and ``yo`` have no train split: an error, unless
  ``tuning_fallback = "holdout"`` asks for a holdout of their dev queries instead.  The
  pivot's train queries also trained the teacher, so its tuning scores are optimistic (for
  every method alike);
* ``"holdout"``: a seeded holdout of each language's judged ``split`` queries
  (``holdout_fraction``, default 0.5, and ``holdout_seed``, default 0): the tuning part is
  never reported; the reported part is the rest of the queries only.

MIRACL is *monolingual* retrieval (queries and passages in the same language); methods
that transfer a pivot retriever through bitext are evaluated here on monolingual search.

Offline use
-----------
The harness never downloads at run time unless ``allow_download = true``.  Before
reading, the adapter checks that every file ir_datasets needs is already under
``IR_DATASETS_HOME`` (default ``~/.ir_datasets``) and otherwise raises
:class:`~harness.errors.DataUnavailableError` naming the dataset id, the missing files
and how to obtain them.  ir_datasets fixes its MIRACL paths when it first loads a MIRACL
id in a process, so set ``IR_DATASETS_HOME`` before that.

Fingerprint
-----------
sha256 over: the adapter version, the normalised options (minus ``allow_download``, and
minus the tuning keys when ``tuning = "none"``), the ir_datasets version, and for every
dataset id used (each language's ``split``, ``<pivot>/train`` and, with ``tuning = "train"``,
each language's train split) the list of its source files as ``(entity, file name, md5)`` with the
md5 ir_datasets pins (so no corpus is read), plus the sha256 of each bitext file.  Files
without a pinned md5 (datasets registered by tests or users) are hashed by content.

Example
-------
>>> bench = MiraclBenchmark({"languages": ["sw", "yo"], "split": "dev"})  # doctest: +SKIP
>>> data = bench.language_data("sw")  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar

from pydantic import ConfigDict, field_validator, model_validator

from harness.benchmarks._common import TIERS, parse_options
from harness.benchmarks._irds_base import IrdsBenchmark
from harness.benchmarks.tuning import TuningOptions
from harness.errors import ConfigError, did_you_mean

__all__ = ["MiraclOptions", "MiraclBenchmark", "MIRACL_LANGUAGES", "DEFAULT_TIERS"]

#: The 18 MIRACL languages (the paper's order: 16 "known" then the two surprise languages).
MIRACL_LANGUAGES = (
    "ar",
    "bn",
    "en",
    "es",
    "fa",
    "fi",
    "fr",
    "hi",
    "id",
    "ja",
    "ko",
    "ru",
    "sw",
    "te",
    "th",
    "zh",
    "de",
    "yo",
)
#: Languages with a ``train`` split in ir_datasets (``de`` and ``yo`` only have dev/test).
TRAIN_LANGUAGES = tuple(lang for lang in MIRACL_LANGUAGES if lang not in ("de", "yo"))
#: Resource tiers by mBERT pre-training size: low sw yo bn te; mid th hi; high the rest.
DEFAULT_TIERS: dict[str, str] = {
    lang: ("low" if lang in ("sw", "yo", "bn", "te") else "mid" if lang in ("th", "hi") else "high")
    for lang in MIRACL_LANGUAGES
}
SPLITS = ("dev", "train")
_TEST_SPLITS = ("testA", "testB", "test-a", "test-b", "test")
ADAPTER_VERSION = "1"


def _language(path: str, code: object) -> str:
    if code not in MIRACL_LANGUAGES:
        raise ConfigError(
            path,
            code,
            f"a MIRACL language: {', '.join(MIRACL_LANGUAGES)}",
            f"unknown language{did_you_mean(str(code), MIRACL_LANGUAGES)}",
        )
    return str(code)


class MiraclOptions(TuningOptions):
    """Options of the ``miracl`` benchmark (config table ``[benchmark]``).

    Attributes
    ----------
    languages : tuple of str
        Evaluated languages, in report order (default: all 18).
    split : {"dev", "train"}
        Query/qrels split evaluated (MIRACL's test-A/B qrels are not public).
    pivot : str
        Language of the teacher's training pairs (``miracl/<pivot>/train``) and of the
        pivot side of the bitext.
    tiers : dict
        ``language -> tier`` overriding :data:`DEFAULT_TIERS` (tiers: low, mid, high).
    bitext_dir : Path or None
        Directory of ``<language>.tsv`` bitext files (``pivot<TAB>other``).
    max_train_pairs : int or None
        Keep at most this many pivot training pairs (the first in file order).
    allow_download : bool
        Let ir_datasets download missing files (needs network); off by default.
    tuning : {"none", "train", "holdout"}
        Where the dev rule's tuning queries come from (module docstring, "Tuning split").
    tuning_fallback : {"holdout"} or None
        With ``tuning = "train"``: languages without a train split (de, yo) use a holdout of
        their dev queries; None (default): such a language is an error.
    holdout_fraction, holdout_seed : float, int
        The holdout (:mod:`harness.benchmarks.tuning`); only with a holdout (defaults 0.5, 0).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    TOPIC_SOURCES: ClassVar[tuple[str, ...]] = ("train",)

    languages: tuple[str, ...] = MIRACL_LANGUAGES
    split: str = "dev"
    pivot: str = "en"
    tiers: dict[str, str] = {}
    bitext_dir: Path | None = None
    max_train_pairs: int | None = None
    allow_download: bool = False
    tuning_fallback: str | None = None

    def uses_holdout(self) -> bool:
        return self.tuning == "holdout" or (self.tuning == "train" and self.tuning_fallback == "holdout")

    @field_validator("tuning_fallback", mode="before")
    @classmethod
    def _check_fallback(cls, v: Any) -> Any:
        if v is not None and v != "holdout":
            raise ConfigError(
                "tuning_fallback",
                v,
                "'holdout' (or absent)",
                f"unknown fallback{did_you_mean(str(v), ['holdout'])}; it names the tuning split of languages "
                "without a MIRACL train split",
            )
        return v

    @field_validator("languages", mode="before")
    @classmethod
    def _check_languages(cls, v: Any) -> Any:
        if isinstance(v, str):
            v = [v]
        if not isinstance(v, (list, tuple)) or not v:
            raise ConfigError("languages", v, "a non-empty list of MIRACL language codes")
        seen: set[str] = set()
        for code in v:
            _language("languages", code)
            if code in seen:
                raise ConfigError("languages", list(v), "each language at most once", f"{code!r} is listed twice")
            seen.add(code)
        return tuple(v)

    @field_validator("split", mode="before")
    @classmethod
    def _check_split(cls, v: Any) -> Any:
        if v in _TEST_SPLITS:
            raise ConfigError(
                "split",
                v,
                f"one of {', '.join(SPLITS)}",
                "ir_datasets distributes only the topics of MIRACL's test-A/test-B sets (their qrels are "
                "held out), so they cannot be evaluated; use 'dev'",
            )
        if v not in SPLITS:
            raise ConfigError("split", v, f"one of {', '.join(SPLITS)}", f"unknown split{did_you_mean(str(v), SPLITS)}")
        return v

    @field_validator("pivot", mode="before")
    @classmethod
    def _check_pivot(cls, v: Any) -> Any:
        _language("pivot", v)
        if v not in TRAIN_LANGUAGES:
            raise ConfigError("pivot", v, f"a MIRACL language with a train split: {', '.join(TRAIN_LANGUAGES)}")
        return v

    @field_validator("tiers", mode="before")
    @classmethod
    def _check_tiers(cls, v: Any) -> Any:
        if not isinstance(v, Mapping):
            raise ConfigError("tiers", v, "a table of language = tier, e.g. { sw = 'low' }")
        for code, tier in v.items():
            _language(f"tiers.{code}", code)
            if tier not in TIERS:
                raise ConfigError(
                    f"tiers.{code}", tier, f"one of {', '.join(TIERS)}", f"unknown tier{did_you_mean(str(tier), TIERS)}"
                )
        return dict(v)

    @field_validator("max_train_pairs")
    @classmethod
    def _check_max(cls, v: int | None) -> int | None:
        if v is not None and v < 1:
            raise ConfigError("max_train_pairs", v, "a positive integer, or absent for all pairs")
        return v

    @model_validator(mode="after")
    def _check_split_languages(self) -> "MiraclOptions":
        if self.tuning_fallback is not None and self.tuning != "train":
            raise ConfigError(
                "tuning_fallback",
                self.tuning_fallback,
                "only with tuning = 'train'",
                "it names the tuning split of languages without a train split; remove it",
            )
        if self.tuning == "train":
            if self.split == "train":
                raise ConfigError(
                    "tuning",
                    "train",
                    "a split other than the reported one",
                    "split = 'train' reports the train queries, so they cannot also be the tuning queries; "
                    "use split = 'dev' (reported) with tuning = 'train', or tuning = 'holdout'",
                )
            bad = [lang for lang in self.languages if lang not in TRAIN_LANGUAGES]
            if bad and self.tuning_fallback is None:
                raise ConfigError(
                    "tuning",
                    "train",
                    f"languages with a MIRACL train split: {', '.join(TRAIN_LANGUAGES)}",
                    f"{', '.join(bad)} {'has' if len(bad) == 1 else 'have'} no MIRACL train split; drop "
                    f"{'it' if len(bad) == 1 else 'them'}, set tuning = 'holdout' (a seeded holdout of every "
                    "language's dev queries), or set tuning_fallback = 'holdout' (a holdout for these languages only)",
                )
        if self.split == "train":
            bad = [lang for lang in self.languages if lang not in TRAIN_LANGUAGES]
            if bad:
                raise ConfigError(
                    "languages",
                    list(self.languages),
                    f"languages with a train split: {', '.join(TRAIN_LANGUAGES)}",
                    f"{', '.join(bad)} have no MIRACL train split; drop them or use split = 'dev'",
                )
        return self

    @classmethod
    def parse(cls, data: "MiraclOptions | Mapping[str, Any] | None", source: str = "") -> "MiraclOptions":
        """Validate options; problems raise ConfigError with key path ``benchmark.<field>``."""
        return parse_options(cls, data, prefix="benchmark", source=source)

    def tier_map(self) -> dict[str, str]:
        """Tier of every evaluated language (defaults, then overrides)."""
        tiers = {**DEFAULT_TIERS, **self.tiers}
        return {lang: tiers[lang] for lang in self.languages}


def _how_to_get(dataset_id: str) -> str:
    return (
        "To fix: on a machine with internet access, download it once with\n"
        f"    ir_datasets export {dataset_id} docs > /dev/null\n"
        f"    ir_datasets export {dataset_id} queries > /dev/null\n"
        f"    ir_datasets export {dataset_id} qrels > /dev/null\n"
        "(or run the harness there with benchmark.allow_download = true), then copy that machine's "
        "~/.ir_datasets/miracl directory into this machine's ir_datasets home "
        f"({os.environ.get('IR_DATASETS_HOME', '~/.ir_datasets')}), or set IR_DATASETS_HOME to a copy before "
        "starting the harness. The MIRACL corpora are the Hugging Face dataset files of miracl/miracl-corpus; "
        "topics and qrels come from macavaney/miracl-noauth."
    )


class MiraclBenchmark(IrdsBenchmark):
    """MIRACL through ir_datasets (see the module docstring).

    Parameters
    ----------
    options : MiraclOptions or mapping, optional
        Validated with :meth:`MiraclOptions.parse`.
    cache : harness.cache.Cache, optional
        Accepted for the adapters' common constructor signature and unused: ir_datasets'
        own files (and docstore) are this adapter's cache.
    loader : callable, optional
        ``dataset_id -> ir_datasets dataset``; default ``ir_datasets.load``.
    dataset_id : str
        Template of the evaluated datasets' ids, with ``{lang}`` and ``{split}``.
    train_dataset_id : str
        Template of the pivot training dataset's id, with ``{lang}``.

    The last three are a seam for tests and for MIRACL-shaped datasets registered with
    ir_datasets under other ids; they go through exactly the same code.
    """

    name = "miracl"
    Config = MiraclOptions
    bitext_missing_reason = "MIRACL has no parallel text; "
    data_label = "MIRACL data"
    adapter_tag = f"miracl/{ADAPTER_VERSION}"
    corpus_identity_names_dataset = True

    def __init__(
        self,
        options: MiraclOptions | Mapping[str, Any] | None = None,
        cache: Any = None,
        *,
        base_dir: Any = None,
        loader: Callable[[str], Any] | None = None,
        dataset_id: str = "miracl/{lang}/{split}",
        train_dataset_id: str = "miracl/{lang}/train",
    ):
        self.options = MiraclOptions.parse(options)
        self.pivot = self.options.pivot
        self.languages = tuple(self.options.languages)
        self.tiers = self.options.tier_map()
        self._loader = loader
        self._dataset_id = dataset_id
        self._train_dataset_id = train_dataset_id
        self._train_stats: dict[str, int] = {}
        self._init_state()

    # ------------------------------------------------------------------ ids and datasets
    def dataset_id(self, language: str) -> str:
        """The ir_datasets id evaluated for ``language``."""
        return self._dataset_id.format(lang=language, split=self.options.split)

    def train_dataset_id(self) -> str:
        """The ir_datasets id of the pivot training data."""
        return self._train_dataset_id.format(lang=self.pivot)

    # ------------------------------------------------------------------ tuning split
    def tuning_scheme(self, language: str) -> str:
        """``language``'s dev split: ``"none"``, ``"train"`` or ``"holdout"`` (a fallback included)."""
        t = self.options.tuning
        if t == "train" and language not in TRAIN_LANGUAGES:
            return "holdout"  # the options allow this only with tuning_fallback = "holdout"
        return t

    def _how_to_get(self, dataset_id: str) -> str:
        return _how_to_get(dataset_id)

    def tuning_dataset_id(self, language: str) -> str | None:
        """The ir_datasets id of ``language``'s tuning topics (``tuning = "train"``), else None."""
        if self.tuning_scheme(language) != "train":
            return None
        return self._dataset_id.format(lang=language, split="train")

    def split_statement(self) -> str | None:
        """The dev split in words (for the protocol summary and report), or None without one."""
        o = self.options
        if o.tuning == "none":
            return None
        if o.tuning == "holdout":
            return f"MIRACL {o.split} queries split by {o.holdout_words()}"
        words = (
            f"MIRACL train topics and qrels (miracl/<lang>/train, same corpus); the reported queries are the whole "
            f"{o.split} split"
        )
        if self.pivot in self.languages:
            words += f"; the {self.pivot} train queries also trained the teacher, so {self.pivot}'s tuning scores are optimistic"
        fallback = [lang for lang in self.languages if self.tuning_scheme(lang) == "holdout"]
        if fallback:
            words += f"; {', '.join(fallback)} (no train split): {o.holdout_words()}"
        return words

    def _bitext_dir(self) -> Path | None:
        return self.options.bitext_dir

    def bitext_fingerprint(self) -> str:
        """The bitext's identity only (its sources' content), not the evaluated collections: an edit of those
        leaves a fit-cached method's stored fit valid (:meth:`~harness.benchmarks.base.Benchmark.training_fingerprints`)."""
        from harness.hashing import hash_json

        return hash_json({"adapter": self.adapter_tag, "pivot": self.pivot, "bitext": self._bitext_digests()})

    def _fingerprint_payload(self) -> dict[str, object]:
        """See the module docstring: content ids of ir_datasets' files, not their texts."""
        import ir_datasets

        return {
            "adapter": self.adapter_tag,
            "options": self._options_identity(
                {"allow_download", "bitext_dir"}, {"tuning", "tuning_fallback", "holdout_fraction", "holdout_seed"}
            ),
            "ir_datasets": ir_datasets.__version__,
            "files": {i: self._files(i) for i in self._dataset_ids()},
            "bitext": self._bitext_digests(),
        }

    def describe(self) -> dict[str, object]:
        """Summary; ``stats`` covers the languages loaded so far (all, after a run)."""
        out = super().describe()
        out.update(
            {
                "split": self.options.split,
                "dataset_ids": {lang: self.dataset_id(lang) for lang in self.languages},
                "train_dataset_id": self.train_dataset_id(),
                "max_train_pairs": self.options.max_train_pairs,
                "bitext_dir": str(self.options.bitext_dir) if self.options.bitext_dir else None,
                "stats": {lang: dict(self._stats[lang]) for lang in self.languages if lang in self._stats},
                "train_stats": dict(self._train_stats),
            }
        )
        if self.options.tuning != "none":
            out["tuning"] = self._tuning_description()
        return out
