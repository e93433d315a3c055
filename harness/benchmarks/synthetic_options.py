"""Generator parameters of the embedded benchmark (config ``[benchmark]`` with ``name = "synthetic"``).

What each parameter does to the generated world is described in
:mod:`harness.benchmarks.synthetic`; the generator itself is
:mod:`harness.benchmarks.synthetic_world`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)

from harness.benchmarks.base import TIERS
from harness.errors import ConfigError
from harness.options import validate_section

__all__ = ["GENERATOR_VERSION", "MODES", "SyntheticOptions", "TIERS"]

_LANG_RE = re.compile(r"^[a-z][a-z0-9_-]{0,15}$")
#: Version of the generator algorithm; part of every fingerprint and cache key.
# 2: streams from harness.seeding (2026-12-02); 3: bitext word alignments and query translations; 4: loanwords,
# cognates, shared syllables, code-switched pre-training text, inflections, paraphrases (2026-12-07)
GENERATOR_VERSION = "4"
#: Evaluation modes of the embedded world (see ``SyntheticOptions.modes``).
MODES = ("monolingual", "cross-lingual")
Mode = Literal["monolingual", "cross-lingual"]


class SyntheticOptions(BaseModel):
    """Generator parameters of the embedded benchmark (config section ``[benchmark]``).

    Counts are per language unless stated otherwise.  ``pretrain_sentences`` and
    ``bitext_pairs`` are given per resource tier, as are the initial-alignment rates
    (``loanword_rate``, ``cognate_rate``, ``shared_syllables``, ``code_switch``), whose
    defaults, with ``inflection_rate`` and ``paraphrase_rate``, were chosen by
    ``perf/calibrate_world.py`` from teacher-level measures only (figures in
    :mod:`harness.benchmarks.synthetic`).  ``alignment_scale`` moves those four rates
    together, as one knob of initial alignment (the sensitivity map's axis,
    ``harness run sensitivity``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    seed: int = Field(
        13,
        ge=0,
        description="world seed (one world; the same as worlds = [seed]; after validation: the first of worlds)",
    )
    worlds: tuple[int, ...] | None = Field(
        None,
        description="world seeds: each draws its own world, base encoder and teachers, and the analysis treats "
        "the worlds as a sample of benchmark instances (harness.stats: world -> seed -> query); default: [seed]",
    )
    pivot: str = Field("en", description="pivot language (retrieval training data, teacher)")
    languages: dict[str, str] = Field(
        default_factory=lambda: {"en": "high", "h1": "high", "l1": "low", "l2": "low", "l3": "low", "l4": "low"},
        description="language code -> resource tier (high, mid or low)",
    )
    n_topics: int = Field(50, ge=2, le=10_000, description="topics the concepts are grouped into")
    n_concepts: int = Field(1500, ge=20, le=200_000, description="concepts in the world's inventory (>= 4 * n_topics)")
    synonyms: int = Field(2, ge=1, le=5, description="surface forms per non-anchor concept and language")
    synonym_weights: tuple[float, ...] = Field(
        (0.6, 0.4), description="probability of each synonym (length = synonyms; normalised)"
    )
    anchor_fraction: float = Field(
        0.2, ge=0.0, le=0.5, description="share of concepts that are names or numbers, written alike everywhere"
    )
    loanword_rate: dict[str, float] = Field(
        default_factory=lambda: {"high": 0.3, "mid": 0.15, "low": 0.06},
        description="by tier: share of a non-pivot language's other concepts whose first form is the pivot's "
        "(a loanword, spelled alike)",
    )
    cognate_rate: dict[str, float] = Field(
        default_factory=lambda: {"high": 0.6, "mid": 0.3, "low": 0.15},
        description="by tier: share of a non-pivot language's other concepts whose first form is a cognate of the "
        "pivot's (its syllables but the last, then one of the language's own)",
    )
    code_switch: dict[str, float] = Field(
        default_factory=lambda: {"high": 0.6, "mid": 0.36, "low": 0.24},
        description="by tier: share of a non-pivot language's pre-training sentences that switch to the pivot "
        "at a concept boundary",
    )
    shared_syllables: dict[str, float] = Field(
        default_factory=lambda: {"high": 0.9, "mid": 0.45, "low": 0.15},
        description="by tier: share of a non-pivot language's syllable inventory taken from the pivot's (a shared "
        "script and orthography: sub-word pieces in common, without shared meaning)",
    )
    alignment_scale: float = Field(
        1.0,
        ge=0.0,
        le=10.0,
        description="initial-alignment level: scales loanword_rate, cognate_rate, code_switch and shared_syllables "
        "of every tier (0: only the anchors are shared; 1: the rates as given; each rate capped at 1, loanword and "
        "cognate together at 1, keeping their ratio); resolved into the four rates at validation, which then "
        "read 1 (the normalised config shows the rates used)",
    )
    inflection_rate: float = Field(
        0.0,
        ge=0.0,
        le=1.0,
        description="probability that a content word carries one of its language's inflection suffixes (in every "
        "text, drawn independently: BM25 on whole words misses an inflected match, sub-words keep the stem)",
    )
    inflections: int = Field(3, ge=1, le=20, description="inflection suffixes per language")
    paraphrase_rate: float = Field(
        0.0,
        ge=0.0,
        le=1.0,
        description="probability that a query, bitext or pre-training sentence renders a concept by its paraphrase "
        "(a form passages never use: relevance BM25 cannot see)",
    )
    function_words: int = Field(20, ge=1, le=200, description="function words per language")
    function_word_rate: float = Field(0.35, ge=0.0, le=2.0, description="function words per content word")
    zipf_exponent: float = Field(0.8, ge=0.0, le=2.0, description="concept frequency ~ rank ** -zipf_exponent")
    background_concepts: int = Field(4, ge=0, le=50, description="once-mentioned topical concepts per passage")
    associates: int = Field(4, ge=0, le=50, description="concepts that co-occur specifically with each concept")
    pretrain_sentences: dict[str, int] = Field(
        default_factory=lambda: {"high": 8000, "mid": 1500, "low": 300},
        description="MLM/tokenizer sentences per language, by tier",
    )
    bitext_pairs: dict[str, int] = Field(
        default_factory=lambda: {"high": 3000, "mid": 1500, "low": 1000},
        description="pivot <-> language parallel sentences, by tier",
    )
    train_pairs: int = Field(4000, ge=10, le=10_000_000, description="pivot (query, positive) pairs")
    queries: int = Field(800, ge=1, le=1_000_000, description="judged test queries per language (reported)")
    mode: Mode = Field(
        "monolingual",
        description="the evaluation mode (monolingual: queries and passages in each language; cross-lingual: the "
        "pivot's information needs asked in each language against the pivot's passages); with modes: the first of "
        "them (the report's primary mode)",
    )
    modes: tuple[Mode, ...] | None = Field(
        None,
        description="several evaluation modes in one run (each cell trains once and is evaluated in every mode; "
        "results carry the mode and the question is answered per mode); default: [mode]",
    )
    dev_queries: int | None = Field(
        None,
        ge=0,
        le=1_000_000,
        description="judged dev queries per language (tuning only; disjoint from the test queries); default: "
        "queries // 4, or fewer if the corpus has no room for more",
    )
    confusers_per_query: int = Field(
        1, ge=0, le=20, description="same-topic passages sharing 1-2 key concepts with each relevant passage"
    )
    corpus_docs: int = Field(2000, ge=1, le=10_000_000, description="passages per language")

    @model_validator(mode="after")
    def _check(self) -> "SyntheticOptions":
        self._resolve_modes()
        self._resolve_worlds()
        for lang, tier in self.languages.items():
            if not _LANG_RE.match(lang):
                raise ConfigError(
                    "benchmark.languages",
                    lang,
                    "codes of 1-16 lower-case letters, digits, '-' or '_' starting with a letter",
                )
            if tier not in TIERS:
                raise ConfigError(f"benchmark.languages.{lang}", tier, f"one of {TIERS}")
        if self.pivot not in self.languages:
            raise ConfigError("benchmark.pivot", self.pivot, f"one of the languages {sorted(self.languages)}")
        if self.languages[self.pivot] != "high":
            raise ConfigError(
                f"benchmark.languages.{self.pivot}", self.languages[self.pivot], "'high' (the pivot is high-resource)"
            )
        tiers = list(self.languages.values())
        for tier in ("high", "low"):
            if tiers.count(tier) < 2:
                raise ConfigError(
                    "benchmark.languages",
                    dict(self.languages),
                    f"at least 2 {tier!r}-tier languages (the pivot counts as high)",
                    hint="the high-minus-low gap needs two languages on each side",
                )
        for field in ("pretrain_sentences", "bitext_pairs"):
            counts = getattr(self, field)
            for tier, n in counts.items():
                if tier not in TIERS:
                    raise ConfigError(f"benchmark.{field}.{tier}", n, f"keys among {TIERS}")
                if not isinstance(n, int) or n < 1 or n > 10_000_000:
                    raise ConfigError(f"benchmark.{field}.{tier}", n, "an integer in [1, 10000000]")
            for tier in set(tiers):
                if tier not in counts:
                    raise ConfigError(
                        f"benchmark.{field}", dict(counts), f"a count for every tier in use, including {tier!r}"
                    )
        for field in ("loanword_rate", "cognate_rate", "code_switch", "shared_syllables"):
            rates = getattr(self, field)
            for tier, r in rates.items():
                if tier not in TIERS:
                    raise ConfigError(f"benchmark.{field}.{tier}", r, f"keys among {TIERS}")
                if not 0.0 <= r <= 1.0:
                    raise ConfigError(f"benchmark.{field}.{tier}", r, "a share in [0, 1]")
            for tier in set(tiers):
                if tier not in rates:
                    raise ConfigError(
                        f"benchmark.{field}", dict(rates), f"a share for every tier in use, including {tier!r}"
                    )
        self._resolve_alignment_scale()  # the given rates are checked above, the scaled ones below
        for tier in set(tiers):
            total = self.loanword_rate[tier] + self.cognate_rate[tier]
            if total > 1.0:
                raise ConfigError(
                    f"benchmark.cognate_rate.{tier}",
                    self.cognate_rate[tier],
                    f"<= 1 - loanword_rate.{tier} = {1.0 - self.loanword_rate[tier]:g} (a concept is a loanword, "
                    "a cognate or neither)",
                )
        if len(self.synonym_weights) != self.synonyms or any(w <= 0 for w in self.synonym_weights):
            raise ConfigError(
                "benchmark.synonym_weights", self.synonym_weights, f"{self.synonyms} positive numbers (one per synonym)"
            )
        if self.n_concepts < 4 * self.n_topics:
            raise ConfigError("benchmark.n_concepts", self.n_concepts, f">= 4 * n_topics = {4 * self.n_topics}")
        if self.dev_queries is None:  # resolved here, so the normalised config shows the number used
            room = max(0, self.corpus_docs // (1 + self.confusers_per_query) - self.queries)
            object.__setattr__(self, "dev_queries", min(self.queries // 4, room))
        needed = (self.queries + self.n_dev) * (1 + self.confusers_per_query)
        if self.corpus_docs < needed:
            raise ConfigError(
                "benchmark.corpus_docs",
                self.corpus_docs,
                f">= (queries + dev_queries) * (1 + confusers_per_query) = {needed}",
            )
        return self

    @model_serializer(mode="wrap")
    def _drop_unset_modes(self, handler: SerializerFunctionWrapHandler, info: SerializationInfo) -> dict[str, Any]:
        """Without ``modes`` the dump is what it was before modes existed (one-mode configs keep their sha256).

        The world seeds are dumped as ``worlds`` only (``seed`` is the first of them): the normalised
        config re-loads without naming the worlds twice.
        """
        data = handler(self)
        if self.modes is None:
            data.pop("modes", None)
        data.pop("seed", None)
        data.pop("alignment_scale", None)  # resolved into the four rates (always 1 after validation)
        return data

    def _resolve_alignment_scale(self) -> None:
        """``alignment_scale`` s applied to the shared-form rates of every tier t, then reset to 1.

        The rates are the config's (or the defaults); with ``l, c, w, y`` = loanword, cognate,
        code-switch and shared-syllable rates::

            w'_t = min(1, s * w_t),   y'_t = min(1, s * y_t),
            (l'_t, c'_t) = s * (l_t, c_t) * min(1, 1 / (s * (l_t + c_t)))

        (a concept is a loanword, a cognate or neither, so their sum is capped at 1 with their
        ratio kept).  ``s = 0`` leaves the anchors (``anchor_fraction``) as the only shared forms.
        The resolved rates replace the given ones and ``alignment_scale`` reads 1, so the
        normalised config (and the world's cache key) names the rates used and re-loads as is.
        A rate table missing a tier is left for :meth:`_check` to report.
        """
        s = self.alignment_scale
        if s == 1.0:
            return
        capped = {
            field: {t: min(1.0, s * r) for t, r in getattr(self, field).items()}
            for field in ("code_switch", "shared_syllables")
        }
        loan, cog = dict(self.loanword_rate), dict(self.cognate_rate)
        for t in set(loan) & set(cog):
            total = s * (loan[t] + cog[t])
            shrink = 1.0 / total if total > 1.0 else 1.0
            loan[t], cog[t] = s * loan[t] * shrink, s * cog[t] * shrink
        for t in set(loan) - set(cog):
            loan[t] = min(1.0, s * loan[t])
        for t in set(cog) - set(loan):
            cog[t] = min(1.0, s * cog[t])
        for field, value in (*capped.items(), ("loanword_rate", loan), ("cognate_rate", cog)):
            object.__setattr__(self, field, value)
        object.__setattr__(self, "alignment_scale", 1.0)

    def _resolve_worlds(self) -> None:
        """``seed`` and ``worlds`` resolved to ``worlds`` (``seed`` = its first); both given is an error."""
        if self.worlds is None:
            object.__setattr__(self, "worlds", (self.seed,))
            return
        if "seed" in self.model_fields_set:
            raise ConfigError(
                "benchmark.seed",
                self.seed,
                "absent when benchmark.worlds is given",
                hint=f"write worlds = {[self.seed]!r} (one world) or worlds = {list(self.worlds)!r} alone",
            )
        worlds = list(self.worlds)
        if not worlds:
            raise ConfigError("benchmark.worlds", worlds, "one or more world seeds, e.g. worlds = [13, 14, 15]")
        if any(w < 0 or w > 2**32 - 1 for w in worlds):
            bad = next(w for w in worlds if w < 0 or w > 2**32 - 1)
            raise ConfigError("benchmark.worlds", bad, "non-negative integers below 2**32")
        if len(set(worlds)) != len(worlds):
            raise ConfigError("benchmark.worlds", worlds, "distinct world seeds", hint="remove the repeated seed")
        object.__setattr__(self, "seed", worlds[0])

    def for_world(self, world: int) -> "SyntheticOptions":
        """These options drawing the one world ``world`` (one of :attr:`worlds`)."""
        assert self.worlds is not None and world in self.worlds, (world, self.worlds)
        return self.model_copy(update={"seed": world, "worlds": (world,)})

    def _resolve_modes(self) -> None:
        """``modes`` given: validated, and ``mode`` set to its first (so the normalised config re-loads as is)."""
        if self.modes is None:
            return
        modes = list(self.modes)
        if not modes:
            raise ConfigError("benchmark.modes", modes, f"one or more of {list(MODES)}")
        if len(set(modes)) != len(modes):
            raise ConfigError("benchmark.modes", modes, "each mode at most once", hint="remove the repeated mode")
        if "mode" in self.model_fields_set and self.mode != modes[0]:
            raise ConfigError(
                "benchmark.mode",
                self.mode,
                f"absent, or the first of benchmark.modes ({modes[0]!r})",
                hint=f"write modes = {modes!r} alone; mode names the primary mode, the first of modes",
            )
        object.__setattr__(self, "mode", modes[0])

    @property
    def evaluation_modes(self) -> tuple[str, ...]:
        """The resolved modes, in the configured order (the first is the report's primary mode)."""
        return tuple(self.modes) if self.modes else (self.mode,)

    @property
    def n_dev(self) -> int:
        """Dev queries per language (``dev_queries`` as resolved at validation)."""
        return int(self.dev_queries or 0)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None, source: str = "") -> "SyntheticOptions":
        """Validate a config mapping, raising :class:`ConfigError` naming ``benchmark.<field>``."""
        return validate_section(cls, data or {}, "benchmark", source)


# ---------------------------------------------------------------------------- lexicon
