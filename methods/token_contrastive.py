"""``token-contrastive``: token-level contrastive word alignment over bitext (Hu et al., NAACL 2021, AMBER)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from harness.fitted import SavesFittedRetriever
from harness.plugin import Encoder, FitContext, Method
from harness.registry import register_method
from harness_methods._alignment import AlignmentConfig, AlignmentStep, fit_alignment

if TYPE_CHECKING:
    import torch

__all__ = ["TokenContrastive", "TokenContrastiveConfig", "word_alignment_loss"]


def word_alignment_loss(
    teacher: "torch.Tensor",
    teacher_mask: "torch.Tensor",
    student: "torch.Tensor",
    student_mask: "torch.Tensor",
    temperature: float = 0.1,
) -> "torch.Tensor":
    """Bidirectional token-attention agreement with in-batch token negatives.

    With ``t_i`` the pivot-side tokens and ``s_j`` the other-side tokens of all pairs of the
    batch (content tokens only), the two attention distributions ::

        P_{s->t}(i | j) = exp(cos(s_j, t_i)/tau) / sum_{i' in batch} exp(cos(s_j, t_i')/tau)
        P_{t->s}(j | i) = exp(cos(t_i, s_j)/tau) / sum_{j' in batch} exp(cos(t_i, s_j')/tau)

    run over every token of every sentence of the batch (tokens of other pairs are the
    negatives, as sentences of other pairs are for sentence-level InfoNCE), and the loss of
    pair ``b`` with ``n_b`` and ``m_b`` content tokens is AMBER's word-alignment objective ::

        L_b = 1 - 1/min(n_b, m_b) * sum_{i in b, j in b} P_{s->t}(i | j) * P_{t->s}(j | i)

    (Hu et al. 2021: ``1 - tr(A_{x->y}^T A_{y->x}) / min(m, n)``), averaged over the batch.
    It is 0 when each token attends, in both directions, to exactly one token of its own
    pair's translation (a one-to-one alignment found by the model itself), and it needs no
    alignment labels: the same information ``ot-distill``'s plan starts from.

    Parameters
    ----------
    teacher, student : torch.Tensor
        ``(B, n, H)`` and ``(B, m, H)`` token states (teacher frozen).
    teacher_mask, student_mask : torch.Tensor
        ``(B, n)`` and ``(B, m)`` float masks of content tokens.
    temperature : float
        Softmax temperature ``tau`` (scale = 1/tau).
    """
    import torch

    bsz, n, _ = teacher.shape
    m = student.shape[1]
    t = torch.nn.functional.normalize(teacher.float(), dim=-1).reshape(bsz * n, -1)  # (B*n, H)
    s = torch.nn.functional.normalize(student.float(), dim=-1).reshape(bsz * m, -1)  # (B*m, H)
    t_ok = teacher_mask.reshape(-1).bool()  # (B*n,)
    s_ok = student_mask.reshape(-1).bool()  # (B*m,)
    sim = (s @ t.T) / temperature  # (B*m, B*n)
    neg = torch.finfo(sim.dtype).min
    s_to_t = torch.softmax(sim.masked_fill(~t_ok[None, :], neg), dim=1)  # rows: student tokens
    t_to_s = torch.softmax(sim.masked_fill(~s_ok[:, None], neg), dim=0)  # columns: teacher tokens
    agree = (s_to_t * t_to_s).reshape(bsz, m, bsz, n)  # (B, m, B, n)
    own = agree[torch.arange(bsz), :, torch.arange(bsz), :]  # (B, m, n): each pair's own block
    own = own * student_mask[:, :, None] * teacher_mask[:, None, :]
    n_b = teacher_mask.sum(1).clamp_min(1.0)  # (B,)
    m_b = student_mask.sum(1).clamp_min(1.0)
    per_pair = 1.0 - own.sum((1, 2)) / torch.minimum(n_b, m_b)  # (B,)
    return per_pair.mean()


class TokenContrastiveConfig(AlignmentConfig):
    """Options of ``token-contrastive``: the shared alignment options, the token options of
    ``ot-distill`` (same defaults) and the softmax temperature."""

    temperature: float = Field(0.1, gt=0, le=10.0, description="softmax temperature tau of the token attention")
    layer: int = Field(-1, ge=-64, le=64, description="hidden layer whose token vectors are aligned (-1: last)")
    exclude_special_tokens: bool = Field(True, description="leave [CLS]/[SEP]-like tokens out (as padding)")
    center_tokens: bool = Field(
        True, description="subtract each side's mean content-token vector (over the batch) before the cosine"
    )


class _Objective:
    def __init__(self, cfg: TokenContrastiveConfig):
        self.cfg = cfg

    def __call__(self, step: AlignmentStep) -> "torch.Tensor":
        from harness_methods._tokens import aligned_tokens

        cfg = self.cfg
        sides = aligned_tokens(step, cfg.layer, cfg.exclude_special_tokens, cfg.center_tokens)
        return word_alignment_loss(
            sides.teacher.detach(), sides.teacher_mask, sides.student, sides.student_mask, cfg.temperature
        )


@register_method("token-contrastive")
class TokenContrastive(SavesFittedRetriever, Method[TokenContrastiveConfig]):
    """Token-level contrastive word alignment from the frozen pivot teacher to a student (AMBER-style).

    The token-granularity counterpart of ``contrastive`` and the contrastive counterpart of
    ``ot-distill``: the same student, teacher, tokens (layer, content mask, centring), anchor
    and training loop as ``ot-distill``, with the word-alignment objective of Hu et al.
    (NAACL 2021) in place of the transport plan ::

        L = word_alignment_loss(t, s)  +  lambda * L_anchor

    (see :func:`word_alignment_loss`: bidirectional token attention over the batch, agreement
    on each pair's own block).  With ``contrastive`` (sentence level, InfoNCE) and
    ``ot-distill`` (token level, transport) it separates the *objective* from the
    *granularity*: token-contrastive vs ot-distill differ in the objective only, token-
    contrastive vs contrastive in the granularity only.

    Deviations from AMBER (stated): AMBER trains both sides with one encoder and adds
    TLM and a sentence objective; here the pivot side is the frozen teacher (as in
    ``ot-distill``) and the in-batch tokens of other pairs are negatives.

    Example
    -------
    >>> encoder = TokenContrastive({"temperature": 0.1}).fit(ctx)   # doctest: +SKIP
    """

    version = "1.0"
    citation = """@inproceedings{hu2021explicit,
  title = {Explicit Alignment Objectives for Multilingual Bidirectional Encoders},
  author = {Hu, Junjie and Johnson, Melvin and Firat, Orhan and Siddhant, Aditya and Neubig, Graham},
  booktitle = {Proceedings of the 2021 Conference of the North American Chapter of the Association for Computational Linguistics (NAACL)},
  year = {2021},
  eprint = {2010.07972},
  archivePrefix = {arXiv}
}"""
    kind = "dense"
    cost = 10

    def fit(self, ctx: FitContext) -> Encoder:
        cfg = self.config
        student, stats = fit_alignment(ctx, cfg, _Objective(cfg))
        ctx.diagnostics.update(stats.info())
        return student
