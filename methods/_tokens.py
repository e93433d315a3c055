"""Token-level helpers shared by the token-granularity alignment methods.

* :func:`aligned_tokens`: the student and teacher token states of a bitext batch at one
  layer, with their content masks and (optionally) the batch-mean centring that
  ``ot-distill`` applies, so ``ot-distill``, ``ot-oracle`` and ``token-contrastive`` see
  exactly the same vectors and differ only in the objective built on them.
* :func:`word_ids`: which whitespace word each token of a text belongs to (``-1`` for
  special tokens, padding and truncated words), from the tokenizer's own ``word_ids``.
* :func:`oracle_plans`: transport plans from a benchmark's true word alignment.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

    from harness_methods._alignment import AlignmentStep

__all__ = ["TokenSides", "aligned_tokens", "oracle_plans", "word_ids"]


def _masked_mean(tokens: "torch.Tensor", mask: "torch.Tensor") -> "torch.Tensor":
    """Mean of the tokens where ``mask`` is 1, over the whole batch: ``(B, L, H), (B, L) -> (1, 1, H)``."""
    m = mask.to(tokens.dtype).unsqueeze(-1)  # (B, L, 1)
    return (tokens * m).sum((0, 1), keepdim=True) / m.sum().clamp_min(1.0)


@dataclass
class TokenSides:
    """Token states of one bitext batch: teacher on the pivot side (frozen), student on the other side."""

    teacher: "torch.Tensor"  # (B, n, H), frozen
    teacher_mask: "torch.Tensor"  # (B, n) float, 1 = carries mass
    student: "torch.Tensor"  # (B, m, H), live
    student_mask: "torch.Tensor"  # (B, m)


def aligned_tokens(step: "AlignmentStep", layer: int, exclude_special: bool, center: bool) -> TokenSides:
    """Layer ``layer``'s token states of both sides of ``step``'s batch (see the module docstring).

    With ``center``, each side's mean content-token vector over the batch is subtracted
    (``t_i - mean(t)``, ``s_j - mean(s)``), as ``ot-distill`` does by default.
    """
    from harness_methods._alignment import content_mask

    feats = step.other_features
    s_tokens = step.student.token_embeddings(feats, layer=layer)  # (B, m, H)
    t_tokens = step.pivot.tokens(layer)  # (B, n, H), frozen
    t_mask = content_mask(step.teacher, step.pivot.features, exclude_special)  # (B, n)
    s_mask = content_mask(step.student, feats, exclude_special)  # (B, m)
    if center:
        t_tokens = t_tokens - _masked_mean(t_tokens, t_mask)
        s_tokens = s_tokens - _masked_mean(s_tokens, s_mask)
    return TokenSides(t_tokens, t_mask, s_tokens, s_mask)


def word_ids(tokenizer: Any, texts: Sequence[str], max_length: int, width: int) -> list[list[int]]:
    """``word_ids[b][k]``: the whitespace-word index of token ``k`` of ``texts[b]`` (``-1``: none).

    Tokenises exactly as :meth:`harness.models.encoder.BiEncoder.tokenize` does (truncation
    at ``max_length``, right padding to ``width``), so positions match the batch's features.
    Words are the tokenizer's pre-tokenised words; :func:`oracle_plans` checks that they are
    the whitespace words the alignment counts (the embedded world's words are letters only).
    """
    enc = tokenizer(list(texts), truncation=True, max_length=max_length)
    pre = getattr(getattr(tokenizer, "backend_tokenizer", None), "pre_tokenizer", None)
    out = []
    for b in range(len(texts)):
        if pre is not None and len(pre.pre_tokenize_str(texts[b])) != len(texts[b].split()):
            raise ValueError(
                f"the tokenizer splits {texts[b][:60]!r} into words other than its whitespace words, so the "
                "benchmark's word alignment (indices of whitespace words) cannot be mapped to tokens"
            )
        ids = [-1 if w is None else int(w) for w in enc.word_ids(b)]
        out.append(ids + [-1] * (width - len(ids)))
    return out


def oracle_plans(
    alignments: Sequence[Any],
    pivot_words: list[list[int]],
    other_words: list[list[int]],
    pivot_mask: "torch.Tensor",
    other_mask: "torch.Tensor",
) -> tuple["torch.Tensor", int]:
    """Transport plans ``(B, n, m)`` from true word alignments, and how many pairs had none.

    For a pair with word alignment ``A = {(a, c)}`` (pivot word ``a`` renders the concept
    that other-side word ``c`` renders), each aligned word pair gets mass ``1/|A'|`` spread
    evenly over its token pairs::

        T_ij = 1 / (|A'| * n_a * n_c)   for w_p(i) = a, w_o(j) = c, (a, c) in A'

    where ``A'`` keeps the aligned pairs with at least one content token on each side
    (words cut by truncation drop out) and ``n_a``, ``n_c`` count those tokens.  Rows of a
    pair with empty ``A'`` (or no alignment) are all zero and are counted.
    """
    import torch

    bsz, n = pivot_mask.shape
    m = other_mask.shape[1]
    plans = torch.zeros(bsz, n, m)
    empty = 0
    pm, om = pivot_mask.cpu().bool(), other_mask.cpu().bool()
    for b, align in enumerate(alignments):
        if not align:
            empty += 1
            continue
        p_tok: dict[int, list[int]] = {}
        for i, w in enumerate(pivot_words[b][:n]):
            if w >= 0 and bool(pm[b, i]):
                p_tok.setdefault(w, []).append(i)
        o_tok: dict[int, list[int]] = {}
        for j, w in enumerate(other_words[b][:m]):
            if w >= 0 and bool(om[b, j]):
                o_tok.setdefault(w, []).append(j)
        kept = [(a, c) for a, c in align if a in p_tok and c in o_tok]
        if not kept:
            empty += 1
            continue
        for a, c in kept:
            rows, cols = p_tok[a], o_tok[c]
            share = 1.0 / (len(kept) * len(rows) * len(cols))
            plans[b, torch.tensor(rows)[:, None], torch.tensor(cols)[None, :]] += share
    return plans, empty
