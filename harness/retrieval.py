"""Exact dense search and TREC run files.

Search is brute force (exact): scores are inner products of L2-normalised vectors (cosine
similarity), computed in float32 on every device; the corpus is processed in chunks and a
running top-k is merged (:mod:`harness.search`), so memory is ``O(n_queries * (chunk + k))``
whatever the corpus size.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import torch

from harness.cache import atomic_write_text


def dense_search(
    queries: torch.Tensor,
    docs: torch.Tensor,
    k: int = 100,
    *,
    doc_chunk: int = 65536,
    query_chunk: int = 4096,
    device: str | torch.device = "cpu",
    doc_ids: Sequence[str] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-``k`` documents per query by inner product (float32, exact).

    Parameters
    ----------
    queries : Tensor, shape (n_queries, dim)
    docs : Tensor, shape (n_docs, dim)
    k : int
        Results per query (``min(k, n_docs)`` are returned).
    doc_ids : sequence of str, optional
        Ids of ``docs``; ties are then broken by the harness's rule (doc id descending,
        :mod:`harness.search`).  Without ids, ties go to the lower document index.

    Returns
    -------
    scores : Tensor, shape (n_queries, k'), float32, in rank order
    indices : Tensor, shape (n_queries, k'), int64 indices into ``docs``

    Runs :func:`harness.search.sharded_search` over ``doc_chunk``-row shards, so results do
    not depend on chunking.
    """
    import numpy as np

    from harness.search import DocShard, id_bytes, sharded_search

    if queries.ndim != 2 or docs.ndim != 2 or queries.shape[1] != docs.shape[1]:
        raise ValueError(f"shape mismatch: queries {tuple(queries.shape)}, docs {tuple(docs.shape)}")
    n_d = docs.shape[0]
    if doc_ids is not None:
        ids = id_bytes(list(doc_ids))
    else:  # larger id for a lower index: ties go to the lower index
        width = len(str(n_d))
        ids = np.array([str(n_d - j).zfill(width).encode() for j in range(n_d)], dtype=bytes)
    d = docs.detach().float().cpu().numpy()
    shards = [DocShard(d[o : o + doc_chunk], ids[o : o + doc_chunk], o) for o in range(0, n_d, doc_chunk)]
    s, i = sharded_search(queries.detach().float().cpu(), shards, k, query_chunk=query_chunk, device=str(device))
    return torch.from_numpy(s), torch.from_numpy(i)


def to_run_dict(
    query_ids: Sequence[str], doc_ids: Sequence[str], scores: torch.Tensor, indices: torch.Tensor
) -> dict[str, dict[str, float]]:
    """``{query_id: {doc_id: score}}`` from :func:`dense_search` output."""
    s, ix = scores.tolist(), indices.tolist()
    return {q: {doc_ids[j]: float(v) for j, v in zip(ix[r], s[r])} for r, q in enumerate(query_ids)}


def trec_run_text(run: Mapping[str, Mapping[str, float]], tag: str, k: int = 100) -> str:
    """A standard TREC run (``qid Q0 docid rank score tag``), top ``k`` per query.

    Ranks follow :func:`harness.search.rank_items` (score descending, then doc id
    descending: trec_eval's order); scores are written in full precision (``repr``), so
    trec_eval re-sorting the file finds exactly this order.
    """
    from harness.search import rank_items

    lines = []
    for qid in sorted(run):
        for rank, (doc, score) in enumerate(rank_items(run[qid], k), 1):
            lines.append(f"{qid} Q0 {doc} {rank} {float(score)!r} {tag}\n")
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
