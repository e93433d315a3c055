"""The embedded default benchmark: a generated multilingual retrieval world.

Why it exists: neither MIRACL nor mBERT weights can be downloaded everywhere this project
must run, so the default run uses a world of the same *shape*, in which the phenomenon
under study (a pivot-trained retriever working worse in low-resource languages) arises
from the same mechanism as in mBERT, rather than being written into scores.

The world (everything deterministic from ``SyntheticOptions.seed``)
--------------------------------------------------------------------
* **Concepts and topics.**  ``n_concepts`` concepts, each in one of ``n_topics`` topics,
  with Zipfian popularity (weight of the concept of popularity rank r is
  ``r ** -zipf_exponent``).  Each concept has ``associates`` concepts of its topic that
  co-occur with it specifically (as "Paris" with "France"), so distributional
  (MLM) learning can tell a concept's synonyms from its mere topic-mates.
* **Surface forms.**  Every language builds words from its own syllable inventory
  (letters are shared, as in Latin-script Wikipedias; inventories are disjoint but for
  ``shared_syllables``, below).  A non-anchor concept has ``synonyms`` forms per language (chosen with
  probabilities ``synonym_weights``); ``anchor_fraction`` of the concepts are *anchors*
  (numbers and names) written identically in every language (0.2, kept from the earlier
  world; its effect is part of what the calibration measures).  Each language also has
  ``function_words`` short function words and a fixed word order (some languages reverse
  the content order, so alignment is not positional).
* **Initial alignment** (what lets a pivot-trained encoder transfer at all, as shared
  strings do for mBERT, whose sentence embeddings retrieve translations well above chance:
  XTREME's Tatoeba task, Hu et al. 2020).  Besides the anchors, at rates by the language's
  tier (defaults: high-resource languages share more with the pivot, as European languages
  share more subwords with English than Swahili, Telugu or Thai do):

  - ``loanword_rate[tier]``: a concept's first form is the pivot's, spelled alike;
  - ``cognate_rate[tier]``: a concept's first form is the pivot's with its last syllable
    replaced by one of the language's own (shared sub-word pieces, not the whole word);
  - ``shared_syllables[tier]``: part of the language's syllable inventory is the pivot's (a
    shared script and orthography: common pieces without common meaning);
  - ``code_switch[tier]``: that share of the language's pre-training sentences switches to the
    pivot at a concept boundary (comparable and code-switched text in Wikipedia).

  How much initial alignment this gives the teacher is *measured*, not assumed: every run
  records the teacher's bitext retrieval top-1 (Tatoeba-style, 1,000 held-out pairs) and its
  word-alignment F1 against the world's true alignment (SimAlign-style) per language
  (:mod:`harness.world_measures`; the report's setup section shows them).
* **Non-lexical relevance.**  ``inflection_rate``: a content word carries one of its
  language's ``inflections`` suffixes, drawn independently in every text, so a query and its
  relevant passage often write the same concept differently; BM25 on whole words misses
  the match, a sub-word encoder keeps the stem.  ``paraphrase_rate``: a query (and any
  sentence, but never a passage) renders a concept by its paraphrase, a form passages never
  use.
* **How the defaults were chosen.**  ``perf/calibrate_world.py`` measures, for a fixed
  grid of candidate settings, only teacher-level quantities (the two alignment measures, the
  zero-shot teacher's nDCG@10 and BM25's) and applies a rule fixed in that script before any
  figure was seen (high tier in the tens of percent top-1, low tier clearly lower but above
  chance, the zero-shot gap kept, then BM25 and dense as close as possible); no alignment
  method is trained.  Of 7 candidates (``perf/results/calibrate_world.jsonl``, world
  seed 13, default-run sizes, 2-core CPU at load 1.3-2.1) one met the alignment targets and was
  chosen (``a3i0p0c4``: the rates above, ``inflection_rate`` and ``paraphrase_rate`` 0): the
  teacher's top-1 is 11.8 % for ``h1`` and 0.3-0.9 % for the low tier (chance 0.1 %), its
  word-alignment F1 .35 and .29-.32, the zero-shot high-minus-low gap .157 nDCG@10.  BM25 and
  dense are *not* of comparable strength (.768 vs .544 mean nDCG@10): inflections narrow it but
  cost the alignment targets.  ``anchor_fraction`` (0.2) was not varied.  A second grid (rule 5 of
  the script, fixed before its 7 candidates were measured: inflections .1/.2, paraphrases .1,
  three synonyms per concept and their combinations around ``a3i0p0c4``, at the default run's
  current, smaller sizes; load 1.3-3.2) found no candidate meeting its targets, so the defaults
  stayed: every candidate kept the alignment targets (``h1`` top-1 12-20 %, low tier 1.1-2.9 %),
  none kept a zero-shot gap of 0.10 at these sizes (0.002-0.069; ``a3i0p0c4`` itself 0.055),
  and BM25 led in every language in every candidate (.678-.812 vs .421-.616): the non-lexical
  mechanisms lower the dense teacher nearly as much as BM25 or more, since it trails BM25 in the pivot
  itself (.706 vs .811).  A diagnostic third grid (not used to choose) with 4,000 pivot training
  pairs instead of the default run's 1,000: the teacher beats BM25 in the pivot (.851 vs .811), the
  gap is 0.133, and BM25 still leads in every other language.  The default run therefore
  uses the world's own 4,000 pairs (the rule's gap floor, a teacher-level measure; its cost is
  the default run's).  All figures: ``docs/notes/world.md``.
* **Pre-training text** (tokenizer and MLM): ``pretrain_sentences[tier]`` topical
  sentences per language (one or two focus concepts with some of their associates, plus
  topical mentions): high-resource languages get far more than low-resource ones.
* **Pivot retrieval training pairs**: ``train_pairs`` (query, positive passage) pairs in
  the pivot language, drawn like the evaluation data but from a separate stream.
* **Bitext** pivot <-> language: ``bitext_pairs[tier]`` pairs; both sides render the
  same concept sequence with independent synonym and function-word choices, and each pair
  carries the true word alignment (``BitextPair.alignment``).  Each query carries its true
  pivot rendering (``LanguageData.query_translations``), for controls only.
* **Evaluation data per language**: ``queries`` target passages, each with
  ``confusers_per_query`` topical confusers sharing some of its key concepts, plus
  random passages up to ``corpus_docs``.  A passage is *about* its 3 key concepts (each
  written twice) and mentions ``background_concepts`` others once (an associate of each
  key, then topical ones) plus one off-topic concept.  A query renders
  2 or 3 of a target's key concepts with independently chosen synonyms (so lexical
  matching fails when a synonym differs).  Relevance is computed from content over the
  whole corpus: with Q the query's concepts and K_d the passage's key concepts,
  ``rel(d) = 2`` if Q is a subset of K_d, ``1`` if ``|Q & K_d| >= 2``, else unjudged.

The language bias then arises through the base encoder (:mod:`harness.models.mini`): its
shared WordPiece vocabulary is trained on the imbalanced pre-training text, so
low-resource words are split into more pieces, and its MLM pre-training sees little
low-resource text.  Generation takes a few seconds; the world is stored in the cache
(stage ``synthetic-world``, keyed by the options and the generator version) and its
fingerprint is a sha256 over the generated content.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.benchmarks.base import BaseModelSpec, Benchmark, BitextPair, LanguageData, TrainPair
from harness.benchmarks.synthetic_options import GENERATOR_VERSION, TIERS, SyntheticOptions
from harness.benchmarks.synthetic_world import SyntheticWorld, generate_world, world_from_json, world_to_json

if TYPE_CHECKING:
    from harness.cache import Cache
    from harness.models.mini import MiniOptions

__all__ = ["GENERATOR_VERSION", "TIERS", "SyntheticBenchmark", "SyntheticOptions", "SyntheticWorld", "generate_world"]

_WORLD_FILE = "world.json"


# ---------------------------------------------------------------------------- benchmark
class SyntheticBenchmark(Benchmark):
    """The embedded default benchmark (see the module docstring).

    Parameters
    ----------
    options : SyntheticOptions or mapping, optional
        Generator parameters (defaults: the documented default world).
    cache : harness.cache.Cache, optional
        Where the generated world (stage ``synthetic-world``, keyed by the options) and the
        base encoders (stage ``base-mini``) are kept.  None: ``Cache.default()``.

    Examples
    --------
    >>> from harness.cache import Cache
    >>> bench = SyntheticBenchmark({"queries": 50, "corpus_docs": 200}, Cache("/tmp/c"))  # doctest: +SKIP
    >>> bench.language_data("l1").tier                                                    # doctest: +SKIP
    'low'
    """

    name = "synthetic"
    Config = SyntheticOptions

    def __init__(
        self,
        options: SyntheticOptions | Mapping[str, Any] | None = None,
        cache: "Cache | None" = None,
        *,
        base_dir: Any = None,
    ):
        if not isinstance(options, SyntheticOptions):
            options = SyntheticOptions.from_mapping(options)
        if cache is None:
            from harness.cache import Cache

            cache = Cache.default()
        self.options = options
        self.cache = cache
        self.pivot = options.pivot
        self.languages = tuple(options.languages)
        self.tiers = dict(options.languages)
        self.modes = options.evaluation_modes
        #: the mode whose data ``language_data`` serves (:meth:`with_mode` gives a view of another)
        self.mode = self.modes[0]
        self._measurement_bitext: dict[int, dict[str, tuple[BitextPair, ...]]] = {}

    @cached_property
    def world(self) -> SyntheticWorld:
        """The generated world, loaded from the cache or generated (a few seconds) and stored."""
        import json

        # the world does not depend on the evaluation modes (they select views of it)
        key = {
            "generator": GENERATOR_VERSION,
            # one world's options: its seed, not the run's list of worlds (the key is what it was before worlds)
            "options": {
                **self.options.model_dump(mode="json", exclude={"mode", "modes", "worlds"}),
                "seed": self.options.seed,
            },
        }

        def build(tmp: Path) -> None:
            (tmp / _WORLD_FILE).write_text(json.dumps(world_to_json(generate_world(self.options))), encoding="utf-8")

        entry = self.cache.get_or_build("synthetic-world", key, build)
        return world_from_json(json.loads((entry / _WORLD_FILE).read_text(encoding="utf-8")))

    def evaluation_identity(self) -> dict[str, object]:
        """``{"mode": m}`` for a one-mode benchmark or a view (:meth:`with_mode`); ``{"modes": [...]}`` otherwise."""
        return {"mode": self.mode} if len(self.modes) == 1 else {"modes": list(self.modes)}

    def with_mode(self, mode: str) -> "SyntheticBenchmark":
        """A view serving ``mode``'s evaluation data (the same world, loaded once, shared with this object)."""
        import copy

        self.check_mode(mode)
        _ = self.world  # load it once here: a copy made before would load its own
        view = copy.copy(self)
        view.mode = mode
        view.modes = (mode,)
        return view

    @property
    def splits(self) -> tuple[str, ...]:  # type: ignore[override]  # a plain attribute in the base; options here
        return ("dev", "test") if self.options.dev_queries else ("test",)

    def language_data(self, language: str, split: str = "test") -> LanguageData:
        self.check_language(language)
        self.check_split(split)
        if self.mode == "cross-lingual":
            return self.world.crosslingual(language, self.tiers[language], self.pivot, split)
        return self.world.languages[language] if split == "test" else self.world.dev[language]

    def train_pairs(self) -> Sequence[TrainPair]:
        return self.world.train_pairs

    def bitext(self, language: str) -> Sequence[BitextPair]:
        self.check_language(language)
        return self.world.bitext.get(language, ())

    def measurement_bitext(self, language: str, n: int = 1000) -> Sequence[BitextPair]:
        """``n`` held-out parallel sentences pivot <-> ``language`` with their true alignment, which no method
        trains on (the teacher-level measures' test set; see
        :func:`~harness.benchmarks.synthetic_world.measurement_bitext`)."""
        from harness.benchmarks.synthetic_world import measurement_bitext

        self.check_language(language)
        if n not in self._measurement_bitext:
            self._measurement_bitext[n] = measurement_bitext(self.options, n)
        return self._measurement_bitext[n].get(language, ())

    def pretrain_sentences(self, language: str) -> Sequence[str]:
        """The MLM / tokenizer pre-training text of ``language``."""
        self.check_language(language)
        return self.world.pretrain[language]

    def fingerprint(self) -> str:
        return self.world.fingerprint

    def language_fingerprints(self) -> dict[str, str]:
        return {lang: self.language_data(lang).fingerprint() for lang in self.languages}

    def describe(self) -> dict[str, object]:
        out = super().describe()
        w = self.world
        out.update(
            synthetic=True,
            mode=self.mode if len(self.modes) == 1 else list(self.modes),
            modes=list(self.modes),
            generator_version=GENERATOR_VERSION,
            parameters=self.options.model_dump(mode="json"),
            fingerprint=w.fingerprint,
            sizes={
                lang: {
                    "corpus": len(d.corpus),
                    "queries": len(d.queries),
                    "bitext": len(w.bitext.get(lang, ())),
                    "pretrain_sentences": len(w.pretrain[lang]),
                }
                for lang, d in w.languages.items()
            },
            train_pairs=len(w.train_pairs),
        )
        return out

    # ------------------------------------------------------------------ base encoder
    def base_model_dir(
        self,
        options: "MiniOptions | Mapping[str, Any] | None" = None,
        device: str = "cpu",
        cache: "Cache | None" = None,
        progress: bool = False,
    ) -> Path:
        """Directory of the ``mini`` base encoder pre-trained on this world (see :func:`harness.models.mini.cached_mini`)."""
        from harness.models.mini import cached_mini

        return cached_mini(self, options, device, cache or self.cache, progress)

    def base_model(
        self,
        options: "MiniOptions | Mapping[str, Any] | None" = None,
        device: str = "cpu",
        cache: "Cache | None" = None,
        progress: bool = False,
    ) -> BaseModelSpec:
        """:meth:`base_model_dir` as a :class:`BaseModelSpec` (path, fingerprint, build summary)."""
        from harness.models.mini import mini_spec

        return mini_spec(self.base_model_dir(options, device, cache, progress))
