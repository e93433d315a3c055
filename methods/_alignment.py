"""Shared machinery of the bitext alignment methods (``ot-distill`` and ``contrastive``).

A fair comparison needs the two methods to differ *only* in their alignment objective.
Everything else lives here and is used by both:

* :class:`AlignmentConfig`: the options both share (learning rate, steps, batch size,
  bitext sampling, sequence length, the pivot anchor and its weight), with one set of
  defaults; each method's config subclasses it and adds its objective's own knobs.
* :func:`fit_alignment`: student initialised from the frozen teacher; bitext batches
  with languages balanced (``p_l ∝ n_l ** sampling_alpha``, default uniform: without it
  low-resource pairs were ~17 % of batches in the feasibility prototype); the shared
  training loop of :mod:`harness.training` (AdamW, warm-up then linear decay, gradient
  clipping, bf16 autocast on CUDA, seeded order, stop on a non-finite loss); and the
  *pivot anchor* below.

The total loss of one step over a bitext batch ``{(p_i, o_i)}`` (pivot sentence, its
translation) is ::

    L = L_align(teacher, student; batch) + lambda * L_anchor

with ``L_align`` the method's objective and ``lambda = anchor_weight``.  The anchor keeps
the student's pivot-side behaviour close to the teacher's, against the "pivot drift" the
prototype showed (both methods pulled the high tier down by 0.02-0.04):

* ``pivot_anchor = "distill"`` (default): ``L_anchor = 1/B sum_i (1 - cos(s(p_i), t(p_i)))``,
  the student's pooled embedding of each pivot sentence of the batch is pulled to the
  frozen teacher's (sentence-embedding distillation on pivot text);
* ``"retrieval"``: ``L_anchor`` is InfoNCE over a batch of the pivot retrieval training
  pairs (the teacher's own objective, Hu et al.'s co-training with the IR loss);
* ``"none"``: no anchor.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from harness.errors import ConfigError

if TYPE_CHECKING:
    import torch

    from harness.models.encoder import BiEncoder
    from harness.plugin import FitContext
    from harness.training import BitextBatch, TrainStats


class AlignmentConfig(BaseModel):
    """Options shared, with identical defaults, by ``ot-distill`` and ``contrastive``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    lr: float = Field(5e-5, gt=0, le=1.0, description="peak learning rate (AdamW)")
    epochs: float = Field(1.0, gt=0, le=1000, description="passes over the bitext (all languages together)")
    steps: int | None = Field(None, ge=1, description="optimizer steps (overrides epochs)")
    batch_size: int = Field(32, ge=2, le=65536, description="bitext pairs per step")
    max_length: int = Field(64, ge=4, le=4096, description="tokens per bitext sentence (special tokens included)")
    sampling_alpha: float = Field(0.0, ge=0.0, le=1.0, description="language sampling p_l ∝ n_l ** alpha (0: balanced)")
    mixed_batches: bool = Field(False, description="mix languages within a batch (default: one language per batch)")
    languages: tuple[str, ...] | None = Field(None, description="bitext languages to use (default: every one with bitext)")
    pivot_anchor: Literal["distill", "retrieval", "none"] = Field(
        "distill", description="term keeping the student's pivot behaviour close to the teacher's"
    )
    anchor_weight: float = Field(1.0, ge=0.0, le=1000.0, description="weight lambda of the pivot anchor")
    anchor_temperature: float = Field(0.05, gt=0, le=10, description="InfoNCE temperature of the 'retrieval' anchor")
    weight_decay: float = Field(0.01, ge=0.0)
    warmup: float = Field(0.1, ge=0.0, lt=1.0, description="share of steps with linear warm-up")

    def total_steps(self, n_pairs: int) -> int:
        """``steps`` if set, else ``ceil(epochs * n_pairs / batch_size)``."""
        if self.steps is not None:
            return self.steps
        return max(1, math.ceil(self.epochs * n_pairs / self.batch_size))


#: The fields of :class:`AlignmentConfig`: what the two alignment methods must share.
SHARED_FIELDS = tuple(AlignmentConfig.model_fields)


class PivotSide:
    """The frozen teacher's outputs on a batch's pivot sentences, computed once per step.

    ``hidden_states[k]`` is layer ``k``'s ``(B, L, H)`` token states (0: embeddings);
    :attr:`embedding` is the teacher's pooled, normalised sentence embedding ``(B, H)``.
    """

    def __init__(self, teacher: "BiEncoder", texts: Sequence[str], max_length: int):
        import torch

        self.teacher = teacher
        self.features = teacher.tokenize(texts, max_length)
        with torch.no_grad():
            out = teacher.model(**self.features, output_hidden_states=True)
        self.hidden_states = out.hidden_states

    def tokens(self, layer: int) -> "torch.Tensor":
        return self.hidden_states[layer]

    @cached_property
    def embedding(self) -> "torch.Tensor":
        import torch

        with torch.no_grad():
            return self.teacher.pool(self.hidden_states[-1], self.features["attention_mask"])  # (B, H)


@dataclass
class AlignmentStep:
    """What an objective receives for one bitext batch."""

    batch: "BitextBatch"
    student: "BiEncoder"
    teacher: "BiEncoder"
    pivot: PivotSide
    max_length: int


#: ``objective(step) -> scalar loss``; it may record diagnostics on itself.
Objective = Callable[[AlignmentStep], "torch.Tensor"]


def content_mask(encoder: "BiEncoder", features: dict[str, "torch.Tensor"], exclude_special: bool) -> "torch.Tensor":
    """``(B, L)`` float mask of tokens that carry mass: real tokens, optionally minus [CLS]/[SEP]-like ones.

    A text whose only real tokens are special keeps them (so no row is all-zero unless the
    text itself is empty).
    """
    import torch

    mask = features["attention_mask"].to(torch.float32)  # (B, L)
    if not exclude_special:
        return mask
    special = torch.tensor(sorted(set(encoder.tokenizer.all_special_ids)), device=mask.device)
    content = mask * (~torch.isin(features["input_ids"], special)).to(mask.dtype)
    empty = content.sum(1) == 0
    if bool(empty.any()):
        content[empty] = mask[empty]
    return content


def bitext_languages(ctx: "FitContext", cfg: AlignmentConfig, method: str) -> dict[str, Sequence[Any]]:
    """``language -> bitext pairs`` for the languages the method trains on."""
    bench = ctx.benchmark
    if cfg.languages is not None:
        for lang in cfg.languages:
            if lang not in bench.tiers:
                raise ConfigError(f"methods.{method}.languages", lang, f"languages of the benchmark: {sorted(bench.tiers)}")
        langs = list(cfg.languages)
    else:
        langs = [lang for lang in bench.languages if lang != bench.pivot]
    bitext = {lang: bench.bitext(lang) for lang in langs}
    bitext = {lang: pairs for lang, pairs in bitext.items() if len(pairs) > 0}
    if not bitext:
        raise ConfigError(
            f"methods.{method}.languages", list(langs), "languages with at least one bitext pair",
            hint=f"benchmark {bench.name!r} has no bitext for them; give bitext (e.g. bitext_dir) or other languages",
        )
    return bitext


def fit_alignment(ctx: "FitContext", cfg: AlignmentConfig, objective: Objective) -> tuple["BiEncoder", "TrainStats"]:
    """Train a student (a copy of ``ctx.teacher``) on ``objective + anchor_weight * anchor``.

    Returns the student in eval mode and the training statistics.  Data order comes from
    ``ctx.rng``; dropout is seeded from ``ctx.seed`` by :func:`harness.training.train`.
    """
    import torch

    from harness.training import balanced_bitext_batches, info_nce, shuffled_batches, train

    method = ctx.method
    teacher: "BiEncoder" = ctx.teacher
    if teacher is None:
        raise ValueError(f"method {method!r} needs the seed's teacher, but the context has none")
    teacher.eval()
    student = teacher.copy().to(ctx.device)
    for p in student.parameters():
        p.requires_grad_(True)
    bitext = bitext_languages(ctx, cfg, method)
    n_pairs = sum(len(v) for v in bitext.values())
    steps = cfg.total_steps(n_pairs)
    stream = balanced_bitext_batches(bitext, cfg.batch_size, ctx.rng, alpha=cfg.sampling_alpha, mixed=cfg.mixed_batches)
    train_pairs = ctx.benchmark.train_pairs() if cfg.pivot_anchor == "retrieval" and cfg.anchor_weight > 0 else ()
    if cfg.pivot_anchor == "retrieval" and cfg.anchor_weight > 0 and not train_pairs:
        raise ConfigError(f"methods.{method}.pivot_anchor", "retrieval", "'distill' or 'none' for this benchmark",
                          hint="the benchmark has no pivot retrieval training pairs")
    anchor_stream = (
        shuffled_batches(len(train_pairs), min(cfg.batch_size, len(train_pairs)), ctx.rng) if train_pairs else None
    )

    def batches() -> Iterator[tuple["BitextBatch", Any]]:
        while True:
            yield next(stream), (next(anchor_stream) if anchor_stream is not None else None)

    def loss_fn(item: tuple["BitextBatch", Any]) -> "torch.Tensor":
        batch, anchor_idx = item
        pivot = PivotSide(teacher, batch.pivot, cfg.max_length)
        step = AlignmentStep(batch=batch, student=student, teacher=teacher, pivot=pivot, max_length=cfg.max_length)
        loss = objective(step)
        if cfg.anchor_weight > 0 and cfg.pivot_anchor == "distill":
            s_p = student(pivot.features)  # (B, H), same tokenisation as the teacher's
            loss = loss + cfg.anchor_weight * (1.0 - (s_p * pivot.embedding).sum(-1)).mean()
        elif cfg.anchor_weight > 0 and cfg.pivot_anchor == "retrieval":
            q = student.embed([train_pairs[i].query for i in anchor_idx])  # (B', H)
            d = student.embed([train_pairs[i].positive for i in anchor_idx])  # (B', H)
            loss = loss + cfg.anchor_weight * info_nce(q, d, cfg.anchor_temperature)
        return loss

    stats = train(
        student, batches(), loss_fn,
        steps=steps, lr=cfg.lr, method=method, seed=ctx.seed, device=ctx.device,
        weight_decay=cfg.weight_decay, grad_clip=ctx.training.get("grad_clip", 1.0), warmup=cfg.warmup,
        progress=ctx.progress, hint=f"lower methods.{method}.lr",
    )
    student.eval()
    for p in student.parameters():
        p.requires_grad_(False)
    return student, stats


def stats_info(stats: "TrainStats", **extra: Any) -> dict[str, Any]:
    """JSON-serialisable training summary for the cell's ``info``."""
    return {
        "steps": stats.steps, "first_loss": stats.first_loss, "final_loss": stats.final_loss,
        "loss_curve": list(stats.loss_curve), "curve_every": stats.curve_every,
        "train_seconds": round(stats.seconds, 3), "device": stats.device, **extra,
    }
