"""Translator options shared by ``translate-test`` and ``translate-train``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from harness.errors import ConfigError

if TYPE_CHECKING:
    from harness.plugin import FitContext
    from harness_methods.translation import Translator

#: Translate-test and translate-train as cross-lingual baselines (both methods cite it).
XNLI_CITATION = """@inproceedings{conneau2018xnli,
  title = {{XNLI}: Evaluating Cross-lingual Sentence Representations},
  author = {Conneau, Alexis and Rinott, Ruty and Lample, Guillaume and Williams, Adina and Bowman, Samuel and Schwenk, Holger and Stoyanov, Veselin},
  booktitle = {Proceedings of the 2018 Conference on Empirical Methods in Natural Language Processing},
  year = {2018}
}"""


class TranslatorOptions(BaseModel):
    """Which translator to use, per language.

    * ``translator = "lexicon"``: :class:`harness_methods.translation.LexiconTranslator` induced
      from the benchmark's bitext for that language (IBM Model 1); needs bitext.
    * ``translator = "seq2seq"``: :class:`harness_methods.translation.Seq2SeqTranslator` over a
      local ``transformers`` model: ``models[language]`` (or ``default_model``) is the
      directory of the model translating in the direction the method needs; multilingual
      models (NLLB, M2M100) also need ``model_languages`` mapping the harness's language
      codes, pivot included, to the model's language tokens (``{"sw": "swh_Latn",
      "en": "eng_Latn"}``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    translator: Literal["lexicon", "seq2seq"] = Field(
        "lexicon", description="lexicon (from bitext) or seq2seq (local model)"
    )
    lexicon_iterations: int = Field(5, ge=1, le=100, description="IBM Model 1 EM iterations")
    lexicon_min_count: int = Field(1, ge=1, description="bitext sentences a word must occur in to be translated")
    lexicon_min_prob: float = Field(0.0, ge=0.0, le=1.0, description="minimum t(f|e) for a table entry")
    models: dict[str, str] = Field(default_factory=dict, description="language -> local seq2seq model directory")
    default_model: str | None = Field(None, description="model directory for languages not in `models`")
    model_languages: dict[str, str] = Field(default_factory=dict, description="language -> the model's language token")
    translate_batch_size: int = Field(16, ge=1, le=4096, description="sentences per seq2seq generation batch")
    num_beams: int = Field(
        1, ge=1, le=64, description="1: greedy decoding; > 1: beam search (deterministic either way)"
    )
    max_input_tokens: int = Field(512, ge=1, le=65536, description="seq2seq input truncation, in tokens")
    max_new_tokens: int = Field(256, ge=1, le=65536, description="seq2seq output limit, in tokens")

    @model_validator(mode="after")
    def _check(self) -> "TranslatorOptions":
        if self.translator == "lexicon" and (self.models or self.default_model):
            raise ConfigError(
                "translator",
                "lexicon",
                "'seq2seq' when `models` or `default_model` is given",
                hint="set translator = 'seq2seq' to use the models, or remove them",
            )
        return self


def make_translator(ctx: "FitContext", opts: TranslatorOptions, language: str, to_pivot: bool) -> "Translator":
    """The translator ``language -> pivot`` (``to_pivot``) or ``pivot -> language``."""
    from harness_methods.translation import Seq2SeqTranslator, lexicon_from_bitext

    bench = ctx.benchmark
    pivot = bench.pivot
    if opts.translator == "lexicon":
        bitext = bench.bitext(language)
        if not bitext:
            raise ConfigError(
                f"methods.{ctx.method}.translator",
                "lexicon",
                "'seq2seq' for languages without bitext",
                hint=f"benchmark {bench.name!r} has no bitext for {language!r} to induce a word table from; "
                "give bitext or a translation model (translator = 'seq2seq', models = {...})",
            )
        return lexicon_from_bitext(
            bitext,
            pivot=pivot,
            language=language,
            to_pivot=to_pivot,
            iterations=opts.lexicon_iterations,
            min_count=opts.lexicon_min_count,
            min_prob=opts.lexicon_min_prob,
        )
    path = opts.models.get(language, opts.default_model)
    if path is None:
        raise ConfigError(
            f"methods.{ctx.method}.models",
            dict(opts.models),
            f"a model directory for language {language!r}",
            hint=f"add models.{language} = '<dir>' (translating {'to' if to_pivot else 'from'} {pivot!r}) or default_model",
        )
    src, tgt = (language, pivot) if to_pivot else (pivot, language)
    return Seq2SeqTranslator(
        path,
        source=src,
        target=tgt,
        source_lang=opts.model_languages.get(src),
        target_lang=opts.model_languages.get(tgt),
        batch_size=opts.translate_batch_size,
        num_beams=opts.num_beams,
        max_input_tokens=opts.max_input_tokens,
        max_new_tokens=opts.max_new_tokens,
        device=ctx.device,
    )
