"""Teacher-level measures of a benchmark's initial cross-lingual alignment.

Two measures per non-pivot language, computed on the teacher (the pivot-fine-tuned base
encoder) before any alignment method runs, in the style of the references that document
mBERT's initial alignment:

* **Bitext retrieval top-1** (Tatoeba, as XTREME measures it, Hu et al. 2020): for each of
  ``n`` parallel pairs (``n = 1000`` by default), the sentence in the language is the query
  and the ``n`` pivot sentences are the candidates; sentence vectors are the teacher's
  mean-pooled token vectors, compared by cosine.  Accuracy =
  ``1/n * sum_i [argmax_j cos(o_i, p_j) == i]``; chance is ``1/n``.
* **Token-alignment F1** (SimAlign's argmax matching, Jalili Sabet et al. 2020): each word's
  vector is the mean of its sub-word token vectors (``layer`` of the teacher); with
  ``S_ij = cos(p_i, o_j)`` over the words of a pair, the predicted links are the
  intersection of both directions' argmax, ``{(i, j): j = argmax_j' S_ij' and
  i = argmax_i' S_i'j}``.  Against the true links G (pairs of words that render the same
  concept; function words are in none): ``P = sum |A & G| / sum |A|``,
  ``R = sum |A & G| / sum |G|`` (summed over pairs), ``F1 = 2PR / (P + R)``.  Needs
  ``BitextPair.alignment``; a benchmark without it gets retrieval only.

The synthetic benchmark measures on held-out parallel sentences that no method trains on
(:func:`harness.benchmarks.synthetic_world.measurement_bitext`); other benchmarks on their
first ``n`` bitext pairs.  :meth:`harness.engine.Engine.world_measures` caches the result
(stage ``world-measures``, keyed by the teacher's key and a digest of the pairs).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from harness.benchmarks.base import BitextPair

__all__ = ["MEASURES_VERSION", "AlignmentMeasures", "alignment_f1", "bitext_digest", "bitext_top1", "measure"]

#: Version of the measures' definition; part of their cache key.
MEASURES_VERSION = "1"


@dataclass(frozen=True)
class AlignmentMeasures:
    """One language's teacher-level alignment measures (``None``: not measurable, e.g. no true alignment)."""

    language: str
    tier: str
    pairs: int
    bitext_top1: float
    chance: float
    alignment_precision: float | None
    alignment_recall: float | None
    alignment_f1: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def bitext_digest(pairs: Sequence[BitextPair]) -> str:
    """sha256 over the pairs' texts and true alignments (what the measures depend on)."""
    h = hashlib.sha256()
    for p in pairs:
        h.update(f"{p.pivot}\t{p.other}\t{p.alignment}\n".encode())
    return h.hexdigest()


def bitext_top1(encoder: Any, pairs: Sequence[BitextPair]) -> float:
    """Share of ``pairs`` whose other-language sentence retrieves its own pivot sentence first (cosine)."""
    import torch

    p = torch.nn.functional.normalize(encoder.encode([x.pivot for x in pairs]).float(), dim=-1)  # (n, H)
    o = torch.nn.functional.normalize(encoder.encode([x.other for x in pairs]).float(), dim=-1)  # (n, H)
    best = (o @ p.T).argmax(dim=1).numpy()  # (n,)
    return float(np.mean(best == np.arange(len(pairs))))


def word_vectors(encoder: Any, texts: Sequence[str], layer: int = -1, batch_size: int = 128) -> list[np.ndarray]:
    """Per text, ``(n_words, H)`` unit vectors: the mean of each whitespace word's sub-word token vectors
    at ``layer`` (rows of all zeros for words cut off by ``max_length``)."""
    import torch

    out: list[np.ndarray] = []
    for start in range(0, len(texts), batch_size):
        chunk = list(texts[start : start + batch_size])
        words = [t.split() for t in chunk]
        enc = encoder.tokenizer(
            words,
            is_split_into_words=True,
            padding=True,
            truncation=True,
            max_length=encoder.max_length,
            return_tensors="pt",
        )
        feats = {k: enc[k].to(encoder.device) for k in ("input_ids", "attention_mask")}
        with torch.no_grad():
            tokens = encoder.token_embeddings(feats, layer=layer).float().cpu().numpy()  # (B, L, H)
        for b, ws in enumerate(words):
            ids = np.array([-1 if w is None else w for w in enc.word_ids(b)])  # (L,) word of each token
            vec = np.zeros((len(ws), tokens.shape[-1]), dtype=np.float64)
            counts = np.bincount(ids[ids >= 0], minlength=len(ws))[: len(ws)]
            np.add.at(vec, ids[ids >= 0], tokens[b, ids >= 0])
            vec /= np.maximum(counts, 1)[:, None]
            norms = np.linalg.norm(vec, axis=1, keepdims=True)
            out.append(vec / np.where(norms > 0, norms, 1.0))
    return out


def alignment_f1(encoder: Any, pairs: Sequence[BitextPair], layer: int = -1) -> tuple[float, float, float]:
    """``(precision, recall, F1)`` of argmax-intersection word alignment against ``pair.alignment``."""
    pv = word_vectors(encoder, [p.pivot for p in pairs], layer)
    ov = word_vectors(encoder, [p.other for p in pairs], layer)
    hit = pred = gold = 0
    for p, a, b in zip(pairs, pv, ov):
        truth = set(p.alignment or ())
        gold += len(truth)
        live_a, live_b = np.abs(a).sum(1) > 0, np.abs(b).sum(1) > 0  # words within max_length
        if not live_a.any() or not live_b.any():
            continue
        sim = a @ b.T  # (n_pivot_words, n_other_words)
        sim[~live_a] = -np.inf
        sim[:, ~live_b] = -np.inf
        fwd = sim.argmax(axis=1)  # best other word of each pivot word
        bwd = sim.argmax(axis=0)  # best pivot word of each other word
        links = {(i, int(fwd[i])) for i in np.flatnonzero(live_a).tolist() if bwd[fwd[i]] == i}
        pred += len(links)
        hit += len(links & truth)
    precision = hit / pred if pred else 0.0
    recall = hit / gold if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def measure(
    encoder: Any, bitext: dict[str, Sequence[BitextPair]], tiers: dict[str, str], layer: int = -1
) -> list[AlignmentMeasures]:
    """The measures of every language of ``bitext`` (``language -> pairs``) for ``encoder``."""
    rows = []
    for lang, pairs in bitext.items():
        if not pairs:
            continue
        top1 = bitext_top1(encoder, pairs)
        has_truth = all(p.alignment is not None for p in pairs)
        prf = alignment_f1(encoder, pairs, layer) if has_truth else (None, None, None)
        rows.append(
            AlignmentMeasures(
                language=lang,
                tier=tiers[lang],
                pairs=len(pairs),
                bitext_top1=round(top1, 6),
                chance=round(1.0 / len(pairs), 6),
                alignment_precision=None if prf[0] is None else round(prf[0], 6),
                alignment_recall=None if prf[1] is None else round(prf[1], 6),
                alignment_f1=None if prf[2] is None else round(prf[2], 6),
            )
        )
    return rows
