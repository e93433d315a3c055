"""Exact dense search and TREC run files.

Search is brute force (exact): scores are inner products of L2-normalised vectors (cosine
similarity); the corpus is processed in chunks and a running top-k is merged, so memory is
``O(n_queries * (chunk + k))`` whatever the corpus size.  It runs on the device given
(CUDA when available, through the encoder's device), in float32 on CPU.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import torch

from harness.cache import atomic_write_text


@torch.no_grad()
def dense_search(
    queries: torch.Tensor,
    docs: torch.Tensor,
    k: int = 100,
    *,
    doc_chunk: int = 65536,
    query_chunk: int = 4096,
    device: str | torch.device = "cpu",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-``k`` documents per query by inner product.

    Parameters
    ----------
    queries : Tensor, shape (n_queries, dim)
    docs : Tensor, shape (n_docs, dim)
    k : int
        Results per query (``min(k, n_docs)`` are returned).

    Returns
    -------
    scores : Tensor, shape (n_queries, k'), float32, descending per row
    indices : Tensor, shape (n_queries, k'), int64 indices into ``docs``

    Ties are broken by the lower document index, so results do not depend on chunking.
    """
    if queries.ndim != 2 or docs.ndim != 2 or queries.shape[1] != docs.shape[1]:
        raise ValueError(f"shape mismatch: queries {tuple(queries.shape)}, docs {tuple(docs.shape)}")
    n_q, n_d = queries.shape[0], docs.shape[0]
    k = min(k, n_d)
    device = torch.device(device)
    half = device.type == "cuda"
    out_s = torch.empty(n_q, k, dtype=torch.float32)
    out_i = torch.empty(n_q, k, dtype=torch.int64)
    if n_q == 0 or k == 0:
        return out_s, out_i
    dtype = torch.float16 if half else torch.float32
    for q0 in range(0, n_q, query_chunk):
        q = queries[q0 : q0 + query_chunk].to(device, dtype)  # (cq, dim)
        best_s = torch.full((q.shape[0], 0), float("-inf"), device=device)
        best_i = torch.zeros((q.shape[0], 0), dtype=torch.int64, device=device)
        for d0 in range(0, n_d, doc_chunk):
            d = docs[d0 : d0 + doc_chunk].to(device, dtype)  # (cd, dim)
            s = (q @ d.T).float()  # (cq, cd)
            kk = min(k, s.shape[1])
            cs, ci = _stable_topk(s, kk)
            best_s = torch.cat([best_s, cs], 1)
            best_i = torch.cat([best_i, ci + d0], 1)
            if best_s.shape[1] > k:
                best_s, sel = _stable_topk_with_index(best_s, best_i, k)
                best_i = torch.gather(best_i, 1, sel)
        out_s[q0 : q0 + q.shape[0]] = best_s.cpu()
        out_i[q0 : q0 + q.shape[0]] = best_i.cpu()
    return out_s, out_i


def _stable_topk(s: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-k by score descending, ties by ascending column index."""
    # A stable sort on -score keeps the original (ascending index) order among ties.
    order = torch.sort(-s, dim=1, stable=True).indices[:, :k]
    return torch.gather(s, 1, order), order


def _stable_topk_with_index(s: torch.Tensor, idx: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-k of a merged candidate list; ties by ascending document index."""
    # Sort by index first, then stably by score: ties end up in index order.
    by_idx = torch.sort(idx, dim=1, stable=True).indices
    s2 = torch.gather(s, 1, by_idx)
    order = torch.sort(-s2, dim=1, stable=True).indices[:, :k]
    sel = torch.gather(by_idx, 1, order)
    return torch.gather(s, 1, sel), sel


def to_run_dict(
    query_ids: Sequence[str], doc_ids: Sequence[str], scores: torch.Tensor, indices: torch.Tensor
) -> dict[str, dict[str, float]]:
    """``{query_id: {doc_id: score}}`` from :func:`dense_search` output."""
    s, ix = scores.tolist(), indices.tolist()
    return {q: {doc_ids[j]: float(v) for j, v in zip(ix[r], s[r])} for r, q in enumerate(query_ids)}


def trec_run_text(run: Mapping[str, Mapping[str, float]], tag: str, k: int = 100) -> str:
    """A standard TREC run (``qid Q0 docid rank score tag``), top ``k`` per query.

    Ranks follow descending score, ties by doc id, as trec_eval orders them.
    """
    lines = []
    for qid in sorted(run):
        ranked = sorted(run[qid].items(), key=lambda kv: (-kv[1], kv[0]))[:k]
        for rank, (doc, score) in enumerate(ranked, 1):
            lines.append(f"{qid} Q0 {doc} {rank} {score:.6f} {tag}\n")
    return "".join(lines)


def write_trec_run(run: Mapping[str, Mapping[str, float]], path: Path, tag: str, k: int = 100) -> None:
    """Write :func:`trec_run_text` to ``path`` atomically."""
    atomic_write_text(Path(path), trec_run_text(run, tag, k))


def read_trec_run(path: Path) -> dict[str, dict[str, float]]:
    run: dict[str, dict[str, float]] = {}
    with open(path) as f:
        for n, line in enumerate(f, 1):
            parts = line.split()
            if len(parts) != 6:
                raise ValueError(f"{path}:{n}: expected 6 fields 'qid Q0 docid rank score tag', got {line!r}")
            run.setdefault(parts[0], {})[parts[2]] = float(parts[4])
    return run


def write_trec_qrels(qrels: Mapping[str, Mapping[str, int]], path: Path) -> None:
    """Write TREC qrels (``qid 0 docid relevance``)."""
    lines = [f"{q} 0 {d} {int(r)}\n" for q in sorted(qrels) for d, r in sorted(qrels[q].items())]
    atomic_write_text(Path(path), "".join(lines))
