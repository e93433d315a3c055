"""``translate-test``: translate queries and documents into the pivot, then use the teacher."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from harness.plugin import Encoder, FitContext, Method
from harness.registry import register_method
from harness_methods._translation import XNLI_CITATION, TranslatorOptions, make_translator

if TYPE_CHECKING:
    import torch

    from harness.cache import Cache
    from harness_methods.translation import Translator


class TranslateTestConfig(TranslatorOptions):
    """Options of ``translate-test``: the translator (``models`` translate language -> pivot)."""


class TranslateTestEncoder:
    """Encodes texts of language ``l`` as ``f_T(translate_{l -> pivot}(text))``; pivot texts as is."""

    def __init__(self, teacher, translators: Mapping[str, "Translator"], pivot: str, cache: "Cache", batch_size: int):
        self.teacher = teacher
        self.translators = dict(translators)
        self.pivot = pivot
        self.cache = cache
        self.batch_size = batch_size

    def _texts(self, texts: Sequence[str], language: str) -> Sequence[str]:
        from harness_methods.translation import translate_cached

        if language == self.pivot:
            return texts
        if language not in self.translators:
            raise KeyError(
                f"translate-test has no translator for language {language!r}; it was fitted for "
                f"{sorted(self.translators)} (and the pivot {self.pivot!r})"
            )
        return translate_cached(self.translators[language], texts, self.cache)

    def document_identity(self, language: str) -> str:
        """The teacher's on the pivot (its untranslated corpus shares the teacher's index);
        elsewhere the teacher's combined with the translator's id."""
        from harness.hashing import hash_json

        base = self.teacher.document_identity(language)
        if language == self.pivot:
            return base
        return "translate-test:" + hash_json([base, self.translators[language].id])

    def encode_queries(self, texts: Sequence[str], language: str) -> "torch.Tensor":
        return self.teacher.encode(self._texts(texts, language), batch_size=self.batch_size)

    def encode_documents(self, texts: Sequence[str], language: str) -> "torch.Tensor":
        return self.teacher.encode(self._texts(texts, language), batch_size=self.batch_size)


@register_method("translate-test")
class TranslateTest(Method[TranslateTestConfig]):
    """Translate queries and passages into the pivot language, then retrieve with the teacher.

    ``score(q, d) = cos(f_T(tr(q)), f_T(tr(d)))`` where ``tr`` translates language ``l``
    into the pivot and ``f_T`` is the pivot-trained teacher; pivot texts are not
    translated.  Objective: none (no training).  Translators (:mod:`harness_methods.translation`):
    a word table induced from the bitext by IBM Model 1 (``translator = "lexicon"``, the
    embedded benchmark's; its quality follows the bitext size, as MT quality does), or a
    local sequence-to-sequence model per language (``"seq2seq"``: Marian, NLLB).
    Translations are cached on disk by content hash (translator identity and texts).

    Example
    -------
    >>> enc = TranslateTest({"translator": "seq2seq", "models": {"sw": "/models/opus-mt-sw-en"}}).fit(ctx)  # doctest: +SKIP
    """

    version = "1.0"
    citation = XNLI_CITATION
    fit_uses_languages = False
    kind = "dense"

    def fit(self, ctx: FitContext) -> Encoder:
        bench = ctx.benchmark
        translators = {
            lang: make_translator(ctx, self.config, lang, to_pivot=True)
            for lang in bench.languages
            if lang != bench.pivot
        }
        ctx.diagnostics["translators"] = {lang: t.id for lang, t in translators.items()}
        return TranslateTestEncoder(ctx.teacher, translators, bench.pivot, ctx.cache, ctx.training.encode_batch_size)
