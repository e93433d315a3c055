"""``translate-train``: translate the pivot training data and fine-tune the teacher on the mixture."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

import numpy as np
from pydantic import Field

from harness.fitted import SavesFittedRetriever
from harness.plugin import Encoder, FitContext, Method
from harness.registry import register_method
from harness_methods._alignment import stats_info
from harness_methods._translation import XNLI_CITATION, TranslatorOptions, make_translator

if TYPE_CHECKING:
    import torch

    from harness.models.encoder import BiEncoder


class TranslateTrainConfig(TranslatorOptions):
    """Options of ``translate-train``: the translator (``models`` translate pivot -> language) and the fine-tuning."""

    pairs_per_language: int | None = Field(
        1000, ge=1, description="pivot training pairs translated into each language (None: all); a seeded sample"
    )
    lr: float = Field(5e-5, gt=0, le=1.0, description="AdamW peak learning rate")
    epochs: float = Field(1.0, gt=0, le=1000, description="passes over the mixture")
    steps: int | None = Field(None, ge=1, description="optimizer steps (overrides epochs)")
    batch_size: int = Field(32, ge=2, le=65536, description="(query, passage) pairs per step, one language per batch")
    temperature: float = Field(0.05, gt=0, le=10.0, description="InfoNCE temperature (the teacher's)")
    max_length: int = Field(64, ge=4, le=4096, description="tokens per text")
    weight_decay: float = Field(0.01, ge=0.0, description="AdamW weight decay")
    warmup: float = Field(0.1, ge=0.0, lt=1.0, description="share of steps with linear warm-up")


@register_method("translate-train")
class TranslateTrain(SavesFittedRetriever, Method[TranslateTrainConfig]):
    """Fine-tune the teacher on its pivot training pairs plus their translations into each language.

    For every non-pivot language ``l`` a sample of ``pairs_per_language`` pivot
    (query, passage) pairs is translated pivot -> ``l`` (same translators as
    ``translate-test``: a bitext-induced IBM Model 1 word table, or a local seq2seq
    model), and a copy of the teacher is fine-tuned on the mixture of the pivot sample and
    all translations with the teacher's own objective, InfoNCE with in-batch negatives::

        L = -1/B sum_i log( exp(cos(f(q_i), f(d_i)) / tau) / sum_j exp(cos(f(q_i), f(d_j)) / tau) )

    Each batch holds pairs of one language (languages in shuffled rounds), so negatives are
    in the language of the query.  Translations are cached by content hash.

    Example
    -------
    >>> enc = TranslateTrain({"pairs_per_language": 500}).fit(ctx)    # doctest: +SKIP
    """

    version = "1.0"
    cost = 4
    citation = XNLI_CITATION
    kind = "dense"

    def fit(self, ctx: FitContext) -> Encoder:
        from harness.training import Schedule, info_nce, total_steps
        from harness_methods.translation import translate_cached

        cfg = self.config
        bench = ctx.benchmark
        pairs = list(bench.train_pairs())
        if not pairs:
            raise ValueError(
                f"method {ctx.method!r}: benchmark {bench.name!r} has no pivot training pairs to translate"
            )
        n = len(pairs) if cfg.pairs_per_language is None else min(cfg.pairs_per_language, len(pairs))
        cache = ctx.cache
        data: dict[str, tuple[list[str], list[str]]] = {}
        sample = sorted(ctx.rng.choice(len(pairs), size=n, replace=False).tolist())
        queries = [pairs[i].query for i in sample]
        passages = [pairs[i].positive for i in sample]
        data[bench.pivot] = (queries, passages)
        translators = {}
        for lang in bench.languages:
            if lang == bench.pivot:
                continue
            tr = make_translator(ctx, cfg, lang, to_pivot=False)
            translators[lang] = tr.id
            data[lang] = (translate_cached(tr, queries, cache), translate_cached(tr, passages, cache))
        langs = list(data)
        total = sum(len(q) for q, _ in data.values())
        steps = total_steps(cfg.steps, cfg.epochs, total, cfg.batch_size)
        rng = ctx.rng

        def batches():
            orders = {lang: _endless(len(data[lang][0]), rng) for lang in langs}
            while True:
                for li in rng.permutation(len(langs)).tolist():
                    lang = langs[li]
                    k = min(cfg.batch_size, len(data[lang][0]))
                    yield lang, [next(orders[lang]) for _ in range(k)]

        student = cast("BiEncoder", ctx.require_teacher()).copy().to(ctx.device)  # Teacher: a BiEncoder
        for p in student.parameters():
            p.requires_grad_(True)

        def loss_fn(item) -> "torch.Tensor":
            lang, idx = item
            q_texts, d_texts = data[lang]
            q = student(student.tokenize([q_texts[i] for i in idx], cfg.max_length))  # (B, H)
            d = student(student.tokenize([d_texts[i] for i in idx], cfg.max_length))  # (B, H)
            return info_nce(q, d, cfg.temperature)

        stats = ctx.train(
            student,
            batches(),
            loss_fn,
            Schedule(steps=steps, lr=cfg.lr, warmup=cfg.warmup, weight_decay=cfg.weight_decay),
            hint=f"lower methods.{ctx.method}.lr or raise methods.{ctx.method}.temperature",
        )
        ctx.diagnostics.update(stats_info(stats, translators=translators, pairs_per_language=n))
        return student


def _endless(n: int, rng: np.random.Generator):
    while True:
        yield from rng.permutation(n).tolist()
