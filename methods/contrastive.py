"""``contrastive``: sentence-level InfoNCE alignment over bitext (Hu et al., 2023)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, model_validator

from harness.fitted import SavesFittedRetriever
from harness.plugin import Encoder, FitContext, Method
from harness.registry import register_method
from harness_methods._alignment import AlignmentConfig, AlignmentStep, fit_alignment

if TYPE_CHECKING:
    import torch

__all__ = ["Contrastive", "ContrastiveConfig", "semantic_contrastive_loss", "language_contrastive_loss"]


def semantic_contrastive_loss(
    other: "torch.Tensor", pivot: "torch.Tensor", temperature: float = 0.05, symmetric: bool = False
) -> "torch.Tensor":
    """Hu et al.'s semantic contrastive loss: InfoNCE over parallel sentences.

    ``L_sem = -1/B sum_i log( exp(cos(o_i, p_i)/tau) / sum_j exp(cos(o_i, p_j)/tau) )``

    with ``o_i`` the embedding of the other-language sentence, ``p_i`` that of its pivot
    translation and every other ``p_j`` of the batch a negative.  ``symmetric`` averages it
    with the pivot-to-other direction.  Inputs ``(B, H)`` are L2-normalised here.
    """
    import torch

    from harness.training import info_nce

    o = torch.nn.functional.normalize(other.float(), dim=-1)  # (B, H)
    p = torch.nn.functional.normalize(pivot.float(), dim=-1)  # (B, H)
    loss = info_nce(o, p, temperature)
    if symmetric:
        loss = 0.5 * (loss + info_nce(p, o, temperature))
    return loss


def language_contrastive_loss(
    other: "torch.Tensor", pivot: "torch.Tensor", languages: Sequence[str], temperature: float = 0.05
) -> "torch.Tensor":
    """The harness's reading of Hu et al.'s language contrastive loss.

    A sentence should be closer to its translation than to *other sentences of its own
    language*, so that language identity is not what embeddings encode::

        L_lang = -1/B sum_i log( e^{cos(o_i, p_i)/tau} /
                                 (e^{cos(o_i, p_i)/tau} + sum_{j != i, lang_j = lang_i} e^{cos(o_i, o_j)/tau}) )

    Rows with no same-language negative contribute ``0``.  Inputs ``(B, H)``.
    """
    import torch

    o = torch.nn.functional.normalize(other.float(), dim=-1)  # (B, H)
    p = torch.nn.functional.normalize(pivot.float(), dim=-1)  # (B, H)
    pos = (o * p).sum(-1, keepdim=True) / temperature  # (B, 1)
    same = (o @ o.T) / temperature  # (B, B)
    lang_ids = {lang: k for k, lang in enumerate(dict.fromkeys(languages))}
    ids = torch.tensor([lang_ids[lang] for lang in languages], device=o.device)
    neg_mask = (ids[:, None] == ids[None, :]) & ~torch.eye(len(ids), dtype=torch.bool, device=o.device)  # (B, B)
    same = same.masked_fill(~neg_mask, float("-inf"))
    logits = torch.cat([pos, same], dim=1)  # (B, 1 + B); column 0 is the positive
    loss = -torch.log_softmax(logits, dim=1)[:, 0]  # (B,)
    return loss.mean()


class ContrastiveConfig(AlignmentConfig):
    """Options of ``contrastive``: the shared alignment options plus the objective's."""

    temperature: float = Field(0.05, gt=0, le=10.0, description="InfoNCE temperature tau (scale = 1/tau)")
    symmetric: bool = Field(False, description="also contrast pivot -> other")
    pivot_encoder: Literal["teacher", "student"] = Field(
        "teacher",
        description="who embeds the pivot side: the frozen teacher (as in ot-distill) or the student (Hu et al.)",
    )
    language_weight: float = Field(
        0.0, ge=0.0, le=100.0, description="weight of the language contrastive term (0: off)"
    )
    recipe: Literal["distill", "hu2023"] = Field(
        "distill",
        description="'distill' (default): multilingual distillation with InfoNCE, pivot side embedded by "
        "the frozen teacher; 'hu2023': Hu et al. as published, see the class docstring",
    )

    @model_validator(mode="before")
    @classmethod
    def _recipe(cls, data: Any) -> Any:
        """``recipe = "hu2023"`` fills Hu et al.'s settings for every option the user did not set."""
        if isinstance(data, dict) and data.get("recipe") == "hu2023":
            data = {**HU2023, **data}
        return data


#: Hu et al. (2023) as published, as far as it can be read offline (abstract and method summary):
#: the student embeds both sides, the semantic and the language contrastive terms are weighted
#: equally, and retrieval training on the pivot pairs continues alongside (InfoNCE co-training).
HU2023 = {
    "pivot_encoder": "student",
    "language_weight": 1.0,
    "pivot_anchor": "retrieval",
    "anchor_weight": 1.0,
    "symmetric": True,
}


class _ContrastiveObjective:
    def __init__(self, cfg: ContrastiveConfig):
        self.cfg = cfg

    def __call__(self, step: AlignmentStep) -> "torch.Tensor":
        cfg = self.cfg
        o = step.student(step.other_features)  # (B, H)
        p = step.pivot.embedding if cfg.pivot_encoder == "teacher" else step.student(step.pivot.features)  # (B, H)
        loss = semantic_contrastive_loss(o, p, cfg.temperature, cfg.symmetric)
        if cfg.language_weight > 0:
            loss = loss + cfg.language_weight * language_contrastive_loss(o, p, step.batch.languages, cfg.temperature)
        return loss


@register_method("contrastive")
class Contrastive(SavesFittedRetriever, Method[ContrastiveConfig]):
    """Sentence-level contrastive alignment over bitext, student initialised from the teacher.

    Hu et al. (Findings of ACL 2023)'s semantic contrastive loss: for a batch of ``B``
    bitext pairs (pivot ``p_i``, translation ``o_i``), with ``f_S`` the student's and
    ``f_T`` the frozen teacher's pooled, normalised embeddings, ::

        L_align = -1/B sum_i log( exp(cos(f_S(o_i), f_T(p_i)) / tau) / sum_j exp(cos(f_S(o_i), f_T(p_j)) / tau) )

    (in-batch negatives; temperature ``tau``, i.e. scale ``1/tau``), optionally plus
    ``language_weight`` times their language contrastive term
    (:func:`language_contrastive_loss`).  By default the pivot side is embedded by the
    frozen teacher, as in ``ot-distill``, so the two methods share their structure and
    differ only in the alignment objective (sentence InfoNCE here, token OT there);
    ``pivot_encoder = "student"`` embeds both sides with the student as Hu et al. do.

    The total loss is ``L_align + lambda * L_anchor`` with the pivot anchor shared with
    ``ot-distill`` (:mod:`methods._alignment`): by default ``lambda = 30`` times
    ``mean_x (1 - cos(f_S(x), f_T(x)))`` over pivot retrieval queries and passages ``x``,
    distilling the teacher's pivot embeddings (no relevance labels) so alignment does not
    drift the student's pivot-side behaviour.  Learning rate, steps, batch size,
    language-balanced sampling, the anchor and training without dropout are the same
    options with the same defaults as ``ot-distill``.

    Two recipes.  ``recipe = "distill"`` (default) is the behaviour above: multilingual
    distillation with InfoNCE, the structure ``ot-distill`` shares (it is *not* Hu et al. as
    published).  ``recipe = "hu2023"`` is Hu et al. as published, as far as the paper can be
    read offline: the student embeds both sides (``pivot_encoder = "student"``), the loss is
    ``L = L_sem + L_lang + L_IR`` with the semantic and language contrastive terms weighted
    equally (``language_weight = 1``, ``symmetric = true``) and retrieval training continued on
    the pivot pairs (``pivot_anchor = "retrieval"``, ``anchor_weight = 1``); any of these set
    explicitly wins.

    Example
    -------
    >>> encoder = Contrastive({"temperature": 0.1}).fit(ctx)      # doctest: +SKIP
    >>> published = Contrastive({"recipe": "hu2023"}).fit(ctx)    # doctest: +SKIP
    """

    version = "1.1"  # 1.1: teacher outputs from a once-per-run table (float-rounding change)
    citation = """@inproceedings{hu2023language,
  title = {Language Agnostic Multilingual Information Retrieval with Contrastive Learning},
  author = {Hu, Xiyang and Chen, Xinchi and Qi, Peng and Kong, Deguang and Liu, Kunlun and Wang, William Yang and Huang, Zhiheng},
  booktitle = {Findings of the Association for Computational Linguistics: ACL 2023},
  year = {2023},
  eprint = {2210.06633},
  archivePrefix = {arXiv}
}"""
    kind = "dense"
    cost = 10

    def fit(self, ctx: FitContext) -> Encoder:
        cfg = self.config
        student, stats = fit_alignment(ctx, cfg, _ContrastiveObjective(cfg))
        ctx.diagnostics.update(stats.info())
        return student
