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

Default budget: two passes over the bitext (``epochs = 2``: 438 steps of 32 pairs on the
embedded benchmark), for both methods.  At one pass the contrastive InfoNCE was still far
from its plateau and left the low tier at or below the zero-shot teacher; with three passes
at lr 5e-4 ``ot-distill`` lowered the low tier while ``contrastive`` lifted it.  ``docs/results.md``
("How the defaults came to be") gives both methods at every budget tried; read the default
run's verdict together with that table.

The student trains without dropout by default (``student_dropout = False``): with dropout
on, matching the frozen teacher's dropout-free outputs shifts the student's eval-mode
behaviour (measured on the embedded benchmark: distilling the teacher into a copy of
itself for one epoch at lr 2e-4 with dropout on cost the pivot 0.03 nDCG@10).

The total loss of one step over a bitext batch ``{(p_i, o_i)}`` (pivot sentence, its
translation) is ::

    L = L_align(teacher, student; batch) + lambda * L_anchor

with ``L_align`` the method's objective and ``lambda = anchor_weight``.  The anchor keeps
the student's pivot-side behaviour close to the teacher's, against the "pivot drift" the
prototype showed (both methods pulled the high tier down by 0.02-0.04):

* ``pivot_anchor = "distill-train"`` (default):
  ``L_anchor = 1/2B' sum_x (1 - cos(s(x), t(x)))`` over the queries and passages ``x`` of
  ``B' = anchor_batch_size`` pivot retrieval training pairs: the teacher's pivot embeddings are
  distilled into the student on the text the retrieval model serves; relevance labels
  are not used, so the anchor adds no retrieval supervision beyond the teacher's;
* ``"distill-bitext"``: the same on the pivot sentences of the bitext batch (cheaper, but
  bitext sentences are not queries or passages; on the embedded benchmark it let the
  pivot's nDCG@10 drift down by ~0.03-0.06);
* ``"retrieval"``: ``L_anchor`` is InfoNCE over a batch of the pivot retrieval training
  pairs (co-training with the IR loss, as Hu et al. do).  This is more supervised
  training of the retriever, not only an anchor: on the embedded benchmark the anchor
  alone (no alignment) already lifted every language, so gains over ``zero-shot`` then
  mix alignment with extra retrieval training;
* ``"none"``: no anchor.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, model_validator

from harness.errors import ConfigError

if TYPE_CHECKING:
    import torch

    from harness.models.encoder import BiEncoder
    from harness.plugin import FitContext
    from harness.training import BitextBatch, TrainStats


class AlignmentConfig(BaseModel):
    """Options shared, with identical defaults, by ``ot-distill`` and ``contrastive``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    lr: float = Field(2e-4, gt=0, le=1.0, description="peak learning rate (AdamW)")
    epochs: float = Field(2.0, gt=0, le=1000, description="passes over the bitext (all languages together)")
    steps: int | None = Field(None, ge=1, description="optimizer steps (overrides epochs)")
    batch_size: int = Field(32, ge=2, le=65536, description="bitext pairs per step")
    max_length: int = Field(64, ge=4, le=4096, description="tokens per bitext sentence (special tokens included)")
    sampling_alpha: float = Field(0.0, ge=0.0, le=1.0, description="language sampling p_l ∝ n_l ** alpha (0: balanced)")
    mixed_batches: bool = Field(False, description="mix languages within a batch (default: one language per batch)")
    languages: tuple[str, ...] | None = Field(
        None, description="bitext languages to use (default: every one with bitext)"
    )
    pivot_anchor: Literal["distill-train", "distill-bitext", "retrieval", "none"] = Field(
        "distill-train", description="term keeping the student's pivot behaviour close to the teacher's"
    )
    anchor_weight: float = Field(30.0, ge=0.0, le=1000.0, description="weight lambda of the pivot anchor")
    anchor_batch_size: int = Field(
        16, ge=1, le=65536, description="pivot training pairs per step for the 'distill-train' / 'retrieval' anchors"
    )
    anchor_temperature: float = Field(0.05, gt=0, le=10, description="InfoNCE temperature of the 'retrieval' anchor")
    student_dropout: bool = Field(
        False,
        description="keep the student's dropout on while training (off: it matches the dropout-free teacher exactly)",
    )
    weight_decay: float = Field(0.01, ge=0.0, description="AdamW weight decay")
    warmup: float = Field(0.1, ge=0.0, lt=1.0, description="share of steps with linear warm-up")
    eval_at: tuple[float, ...] = Field(
        (), description="budget curve: epochs (each below the final budget) at which the checkpoint is evaluated"
    )
    schedule_epochs: float | None = Field(
        None, gt=0, le=1000, description="horizon of the learning-rate schedule in epochs (default: the final budget)"
    )
    student_side: Literal["both", "query"] = Field(
        "both",
        description="'both': the student encodes queries and documents; 'query': documents stay with the "
        "frozen teacher and only queries use the student (OPTICAL's query-encoder structure)",
    )
    align_weight: float = Field(
        1.0, ge=0.0, le=1000.0, description="weight of the alignment objective (0: the anchor-only control)"
    )
    shuffle_bitext: bool = Field(
        False,
        description="control: permute the other side of the bitext within each "
        "language, so pairs carry no translation signal",
    )

    @model_validator(mode="after")
    def _budgets(self) -> "AlignmentConfig":
        if self.steps is None:
            if any(e <= 0 or e >= self.epochs for e in self.eval_at):
                raise ConfigError(
                    "eval_at",
                    list(self.eval_at),
                    f"epochs between 0 and epochs = {self.epochs:g}",
                    hint="a checkpoint must come before the final budget",
                )
            if self.schedule_epochs is not None and self.schedule_epochs < self.epochs:
                raise ConfigError(
                    "schedule_epochs",
                    self.schedule_epochs,
                    f">= epochs = {self.epochs:g}",
                    hint="training stops at `epochs`; the schedule cannot end earlier",
                )
        return self

    def total_steps(self, n_pairs: int) -> int:
        """``steps`` if set, else ``ceil(epochs * n_pairs / batch_size)``."""
        from harness.training import total_steps

        return total_steps(self.steps, self.epochs, n_pairs, self.batch_size)

    def epoch_steps(self, epochs: float, n_pairs: int) -> int:
        """Optimizer steps of ``epochs`` passes: ``ceil(epochs * n_pairs / batch_size)``."""
        from harness.training import total_steps

        return total_steps(None, epochs, n_pairs, self.batch_size)

    def control_role(self) -> str:
        """The negative control these options make of an entry ("" for none): shuffled bitext (no
        translation signal), or alignment weight 0 (the pivot anchor alone)."""
        if self.shuffle_bitext:
            return "negative control: shuffled bitext"
        if self.align_weight == 0.0:
            return "negative control: anchor only"
        return ""


#: The fields of :class:`AlignmentConfig`: what the two alignment methods must share.
SHARED_FIELDS = tuple(AlignmentConfig.model_fields)


#: Largest table of frozen-teacher outputs (token states of one layer, or pooled embeddings) kept
#: for one training run, in bytes; above it, or when the run will look up fewer texts than the
#: table holds (a short budget over a large bitext), the outputs are computed per step.  Both
#: tests depend on the data and the config only, so the choice is reproducible.
TOKEN_TABLE_BYTES = 1 << 30


class TextTable:
    """Token ids of a fixed set of texts and, on demand, the frozen teacher's outputs on them.

    The alignment methods see every pivot sentence and every anchor text several times (once
    per epoch); the teacher is frozen and dropout-free, so its outputs on a text never change.
    The table tokenises the distinct texts once and runs the teacher over them once, in
    length-sorted batches of ``batch_size`` (what :meth:`BiEncoder.encode` does), instead of
    once per step and epoch.  Rows agree with a per-batch forward up to float rounding (the
    padding width and batch shape differ; measured max abs difference ~1e-6 on the embedded
    teacher's hidden states).

    * :meth:`features` collates ``input_ids``/``attention_mask`` for a batch of texts exactly
      as ``encoder.tokenize(texts, max_length)`` does (right padding to the longest).
    * :meth:`embeddings` gives the teacher's pooled, normalised embeddings ``(B, H)``.
    * :meth:`tokens` gives layer ``layer``'s hidden states ``(B, L, H)`` (zeros past each
      text's length).

    Both are kept for all texts when the table fits in :data:`TOKEN_TABLE_BYTES` and the run
    will look up at least as many texts as the table holds (``lookups``, e.g. steps x batch
    size: one pass or more over the data); otherwise each batch's are computed when asked
    (the per-step behaviour).
    """

    def __init__(
        self,
        encoder: "BiEncoder",
        texts: Sequence[str],
        max_length: int,
        batch_size: int = 256,
        lookups: int | None = None,
    ):
        import numpy as np

        self.encoder, self.max_length, self.batch_size = encoder, max_length, batch_size
        distinct = list(dict.fromkeys(texts))
        self.row = {t: i for i, t in enumerate(distinct)}
        chunks: list[np.ndarray] = []
        lengths: list[int] = []  # token ids packed flat (int32): no Python int per token
        for start in range(0, len(distinct), 8192):
            part = encoder.tokenizer(
                distinct[start : start + 8192],
                truncation=True,
                max_length=max_length,
                return_attention_mask=False,
                return_token_type_ids=False,
            )["input_ids"]
            lengths.extend(len(x) for x in part)
            chunks.append(np.fromiter((i for x in part for i in x), dtype=np.int32))
        self.lengths = np.asarray(lengths, dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(self.lengths)]).astype(np.int64)
        self.flat_ids = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int32)
        self._embeddings: "torch.Tensor | None" = None
        self._tokens: dict[int, "torch.Tensor | None"] = {}
        #: whether a whole-table teacher pass pays off: the run reads every row about once or more
        self.worth_a_pass = lookups is None or lookups >= len(self.lengths)

    def _keep(self, n_floats: int) -> bool:
        return self.worth_a_pass and n_floats * 4 <= TOKEN_TABLE_BYTES

    def __len__(self) -> int:
        return len(self.lengths)

    def ids(self, r: int) -> "Any":
        return self.flat_ids[self.offsets[r] : self.offsets[r + 1]]

    def rows(self, texts: Sequence[str]) -> list[int]:
        return [self.row[t] for t in texts]

    def features(self, texts: Sequence[str]) -> dict[str, "torch.Tensor"]:
        return self.encoder.features_from_ids([self.ids(r) for r in self.rows(texts)])

    def _teacher_pass(self, layer: int | None) -> None:
        """One teacher pass over every distinct text: the pooled embeddings (``layer = None``)
        or layer ``layer``'s token states (the layers above it are not run)."""
        import numpy as np
        import torch

        enc = self.encoder
        n, dim, lengths, offsets = len(self), enc.dim, self.lengths, self.offsets
        order = np.argsort(lengths, kind="stable")
        emb = torch.empty(n, dim) if layer is None else None
        flat = torch.empty(int(lengths.sum()), dim) if layer is not None else None
        was_training = enc.training
        enc.eval()
        with torch.no_grad():
            for start in range(0, n, self.batch_size):
                idx = order[start : start + self.batch_size]
                feats = enc.features_from_ids([self.ids(i) for i in idx])
                if emb is not None:
                    emb[torch.from_numpy(idx)] = enc(feats).float().cpu()
                if flat is not None and layer is not None:
                    states = enc.token_embeddings(feats, layer).float().cpu()  # (b, L, H)
                    for r, i in enumerate(idx.tolist()):
                        flat[offsets[i] : offsets[i + 1]] = states[r, : lengths[i]]
        enc.train(was_training)
        if emb is not None:
            self._embeddings = emb
        if layer is not None:
            self._tokens[layer] = flat

    def embeddings(self, texts: Sequence[str]) -> "torch.Tensor":
        """The teacher's pooled (normalised) embeddings of ``texts``: ``(B, H)`` on its device."""
        import torch

        if self._embeddings is None:
            if not self._keep(len(self) * self.encoder.dim):  # not kept: this batch only
                with torch.no_grad():
                    return self.encoder(self.features(texts))
            self._teacher_pass(None)
        assert self._embeddings is not None
        return self._embeddings[torch.tensor(self.rows(texts))].to(self.encoder.device)

    def tokens(self, texts: Sequence[str], layer: int) -> "torch.Tensor":
        """Layer ``layer``'s teacher hidden states of ``texts``: ``(B, L, H)``, zero past each length."""
        import torch

        if layer not in self._tokens:
            if self._keep(int(self.lengths.sum()) * self.encoder.dim):
                self._teacher_pass(layer)
            else:
                self._tokens[layer] = None
        flat = self._tokens[layer]
        feats = self.features(texts)
        if flat is None:  # too large to keep: this batch only
            with torch.no_grad():
                return self.encoder.token_embeddings(feats, layer)
        rows = self.rows(texts)
        out = torch.zeros(len(rows), feats["input_ids"].shape[1], flat.shape[1])
        for b, r in enumerate(rows):
            out[b, : self.lengths[r]] = flat[self.offsets[r] : self.offsets[r + 1]]
        return out.to(self.encoder.device)


class PivotSide:
    """The frozen teacher's outputs on a batch's pivot sentences (from the run's :class:`TextTable`).

    :meth:`tokens` gives layer ``k``'s ``(B, L, H)`` token states (0: embeddings);
    :attr:`embedding` the teacher's pooled, normalised sentence embedding ``(B, H)``;
    :attr:`features` the batch's ``input_ids``/``attention_mask``.
    """

    def __init__(self, table: TextTable, texts: Sequence[str]):
        self.table, self.texts = table, texts
        self.teacher = table.encoder
        self.features = table.features(texts)

    def tokens(self, layer: int) -> "torch.Tensor":
        return self.table.tokens(self.texts, layer)

    @cached_property
    def embedding(self) -> "torch.Tensor":
        return self.table.embeddings(self.texts)  # (B, H)


@dataclass
class AlignmentStep:
    """What an objective receives for one bitext batch."""

    batch: "BitextBatch"
    student: "BiEncoder"
    teacher: "BiEncoder"
    pivot: PivotSide
    max_length: int
    other_table: TextTable | None = None

    @cached_property
    def other_features(self) -> dict[str, "torch.Tensor"]:
        """``student.tokenize(batch.other, max_length)``, collated from the run's token table."""
        if self.other_table is not None:
            return self.other_table.features(self.batch.other)
        return self.student.tokenize(self.batch.other, self.max_length)


#: ``objective(step) -> scalar loss``; it may record diagnostics on itself.
Objective = Callable[[AlignmentStep], "torch.Tensor"]


def content_mask(encoder: "BiEncoder", features: dict[str, "torch.Tensor"], exclude_special: bool) -> "torch.Tensor":
    """``(B, L)`` float mask of tokens that carry mass: real tokens, optionally minus [CLS]/[SEP]-like ones
    (the tokenizer's special tokens other than [UNK]).

    A text whose only real tokens are special keeps them (so no row is all-zero unless the
    text itself is empty).
    """
    import torch

    mask = features["attention_mask"].to(torch.float32)  # (B, L)
    if not exclude_special:
        return mask
    tok = encoder.tokenizer
    # Structural tokens ([CLS], [SEP], <s>, </s>...) carry no content; [UNK] stands for a word.
    ids = set(tok.all_special_ids) - {tok.unk_token_id}
    special = torch.tensor(sorted(ids), device=mask.device, dtype=features["input_ids"].dtype)
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
                raise ConfigError(
                    f"methods.{method}.languages", lang, f"languages of the benchmark: {sorted(bench.tiers)}"
                )
        langs = list(cfg.languages)
    else:
        langs = [lang for lang in bench.languages if lang != bench.pivot]
    bitext = {lang: bench.bitext(lang) for lang in langs}
    bitext = {lang: pairs for lang, pairs in bitext.items() if len(pairs) > 0}
    if cfg.shuffle_bitext:  # the shuffled-bitext control: same sentences, no translation pairs
        from harness import seeding
        from harness.benchmarks.base import BitextPair

        shuffled: dict[str, Sequence[BitextPair]] = {}
        for lang, pairs in bitext.items():
            perm = seeding.rng(ctx.seed, "method", method, "shuffle-bitext", lang).permutation(len(pairs))
            shuffled[lang] = [BitextPair(p.pivot, pairs[int(j)].other) for p, j in zip(pairs, perm)]
        bitext = shuffled
    if not bitext:
        raise ConfigError(
            f"methods.{method}.languages",
            list(langs),
            "languages with at least one bitext pair",
            hint=f"benchmark {bench.name!r} has no bitext for them; give bitext (e.g. bitext_dir) or other languages",
        )
    return bitext


@dataclass(frozen=True)
class AlignmentStats:
    """Training statistics, with the two terms of the loss per step."""

    train: "TrainStats"
    align_losses: tuple[float, ...]
    anchor_losses: tuple[float, ...]

    def info(self, **extra: Any) -> dict[str, Any]:
        """JSON-serialisable summary for the cell's ``info``."""
        k = max(1, len(self.align_losses) // 10)  # first and last tenth of training
        mean = lambda xs: float(sum(xs) / len(xs)) if xs else float("nan")  # noqa: E731
        return stats_info(
            self.train,
            align_loss_start=mean(self.align_losses[:k]),
            align_loss_end=mean(self.align_losses[-k:]),
            anchor_loss_start=mean(self.anchor_losses[:k]),
            anchor_loss_end=mean(self.anchor_losses[-k:]),
            **extra,
        )


def fit_alignment(ctx: "FitContext", cfg: AlignmentConfig, objective: Objective) -> tuple[Any, AlignmentStats]:
    """Train a student (a copy of ``ctx.teacher``) on ``objective + anchor_weight * anchor``.

    Returns the encoder (the student in eval mode, or a :class:`QuerySideEncoder` with
    ``student_side = "query"``) and the training statistics (with both loss terms).  Data order comes from
    ``ctx.rng``; dropout from the method's own stream (:meth:`harness.plugin.FitContext.train`).
    """
    import torch

    from harness.training import Budget, Schedule, balanced_bitext_batches, info_nce, shuffled_batches

    method = ctx.method
    teacher = cast("BiEncoder", ctx.require_teacher())  # the Teacher protocol's implementation
    teacher.eval()
    student = teacher.copy().to(ctx.device)
    for p in student.parameters():
        p.requires_grad_(True)
    dropouts = [m for m in student.modules() if isinstance(m, torch.nn.Dropout)]
    saved_p = [m.p for m in dropouts]
    if not cfg.student_dropout:
        for m in dropouts:
            m.p = 0.0
    bitext = bitext_languages(ctx, cfg, method)
    n_pairs = sum(len(v) for v in bitext.values())
    steps = cfg.total_steps(n_pairs)
    stream = balanced_bitext_batches(bitext, cfg.batch_size, ctx.rng, alpha=cfg.sampling_alpha, mixed=cfg.mixed_batches)
    uses_train = cfg.anchor_weight > 0 and cfg.pivot_anchor in ("retrieval", "distill-train")
    train_pairs = ctx.benchmark.train_pairs() if uses_train else ()
    if uses_train and not train_pairs:
        raise ConfigError(
            f"methods.{method}.pivot_anchor",
            cfg.pivot_anchor,
            "'distill-bitext' or 'none' for this benchmark",
            hint="the benchmark has no pivot retrieval training pairs",
        )
    anchor_stream = (
        shuffled_batches(len(train_pairs), min(cfg.anchor_batch_size, len(train_pairs)), ctx.rng)
        if train_pairs
        else None
    )

    # Token ids and frozen-teacher outputs of every text the run sees, computed once (see TextTable).
    width = ctx.training.encode_batch_size
    # Lookups over the schedule's horizon (not the steps): a run stopped at a checkpoint's budget
    # takes the same path as the longer run it reproduces (budget curves are exact).
    schedule = cfg.epoch_steps(cfg.schedule_epochs, n_pairs) if cfg.schedule_epochs is not None else None
    horizon = max(steps, schedule or 0)
    pivots = [p.pivot for pairs in bitext.values() for p in pairs]
    pivot_table = TextTable(teacher, pivots, cfg.max_length, width, lookups=horizon * cfg.batch_size)
    other_table = TextTable(student, [p.other for pairs in bitext.values() for p in pairs], cfg.max_length, width)
    anchor_table = (
        TextTable(
            teacher,
            [p.query for p in train_pairs] + [p.positive for p in train_pairs],
            teacher.max_length,
            width,
            lookups=horizon * 2 * min(cfg.anchor_batch_size, len(train_pairs)),
        )
        if train_pairs
        else None
    )
    trace: list[tuple[float, float]] = []  # (alignment loss, anchor loss) per step

    def batches() -> Iterator[tuple["BitextBatch", Any]]:
        while True:
            yield next(stream), (next(anchor_stream) if anchor_stream is not None else None)

    def loss_fn(item: tuple["BitextBatch", Any]) -> "torch.Tensor":
        batch, anchor_idx = item
        pivot = PivotSide(pivot_table, batch.pivot)
        step = AlignmentStep(
            batch=batch,
            student=student,
            teacher=teacher,
            pivot=pivot,
            max_length=cfg.max_length,
            other_table=other_table,
        )
        align = objective(step)
        anchor = None
        if cfg.anchor_weight > 0 and cfg.pivot_anchor == "distill-bitext":
            s_p = student(pivot.features)  # (B, H), same tokenisation as the teacher's
            anchor = (1.0 - (s_p * pivot.embedding).sum(-1)).mean()
        elif cfg.anchor_weight > 0 and cfg.pivot_anchor == "distill-train":
            assert anchor_table is not None
            queries = [train_pairs[i].query for i in anchor_idx]
            passages = [train_pairs[i].positive for i in anchor_idx]
            t_x = anchor_table.embeddings(queries + passages)  # (2B', H), frozen teacher
            # Queries and passages in two forwards: each padded to its own longest text (short
            # queries padded to passage length were ~60 % padding on the embedded benchmark).
            s_x = torch.cat([student(anchor_table.features(queries)), student(anchor_table.features(passages))])
            anchor = (1.0 - (s_x * t_x).sum(-1)).mean()
        elif cfg.anchor_weight > 0 and cfg.pivot_anchor == "retrieval":
            assert anchor_table is not None
            q = student(anchor_table.features([train_pairs[i].query for i in anchor_idx]))  # (B', H)
            d = student(anchor_table.features([train_pairs[i].positive for i in anchor_idx]))  # (B', H)
            anchor = info_nce(q, d, cfg.anchor_temperature)
        trace.append((float(align.detach()), float(anchor.detach()) if anchor is not None else 0.0))
        loss = cfg.align_weight * align if anchor is None else cfg.align_weight * align + cfg.anchor_weight * anchor
        return loss

    encoder = QuerySideEncoder(student, teacher) if cfg.student_side == "query" else student
    stats = ctx.train(
        student,
        batches(),
        loss_fn,
        Schedule(steps=steps, lr=cfg.lr, warmup=cfg.warmup, weight_decay=cfg.weight_decay, horizon=schedule),
        budget=Budget(
            eval_at=[cfg.epoch_steps(e, n_pairs) for e in cfg.eval_at],
            examples_per_step=cfg.batch_size,
            encoder=encoder,
        ),
    )
    for m, p_drop in zip(dropouts, saved_p):
        m.p = p_drop
    return encoder, AlignmentStats(stats, tuple(a for a, _ in trace), tuple(b for _, b in trace))


class QuerySideEncoder:
    """A query-side student: queries through the trained student, documents through the frozen teacher.

    OPTICAL's structure (Huang et al. 2023, read from the abstract and the harness's design
    notes: the paper body is not available offline): the teacher keeps query-document
    matching and the document index; the student learns the query language from bitext.
    ``encode_documents`` is exactly the teacher's, so a document index built for the teacher
    serves this encoder (:attr:`document_encoder`).
    """

    def __init__(self, student: Any, teacher: Any):
        self.student, self.document_encoder = student, teacher

    def encode_queries(self, texts: Sequence[str], language: str) -> "torch.Tensor":
        return self.student.encode_queries(texts, language)

    def encode_documents(self, texts: Sequence[str], language: str) -> "torch.Tensor":
        return self.document_encoder.encode_documents(texts, language)

    def save_fitted(self, directory: Any) -> None:
        """Fit-cache hook (:mod:`harness.fitted`): the student only (documents go through ``ctx.teacher`` on load)."""
        from harness.fitted import save_retriever

        save_retriever(self.student, Path(directory) / "student")

    @classmethod
    def load_fitted(cls, directory: Any, ctx: "FitContext") -> "QuerySideEncoder":
        """Fit-cache hook: the saved student over the seed's teacher (``ctx.teacher``)."""
        from harness.fitted import load_retriever

        if ctx.teacher is None:
            raise ValueError(f"method {ctx.method!r}: a query-side student needs the seed's teacher to load")
        return cls(load_retriever(Path(directory) / "student", ctx), ctx.teacher)


def stats_info(stats: "TrainStats", **extra: Any) -> dict[str, Any]:
    """JSON-serialisable training summary for the cell's ``info``."""
    return {
        "steps": stats.steps,
        "first_loss": stats.first_loss,
        "final_loss": stats.final_loss,
        "loss_curve": list(stats.loss_curve),
        "curve_every": stats.curve_every,
        "train_seconds": round(stats.seconds, 3),
        "device": stats.device,
        **extra,
    }
