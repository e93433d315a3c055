"""One ranking rule, and exact dense search over a sharded document index.

The tie rule
------------
Every ranked list the harness produces, writes or evaluates is ordered the way
``trec_eval`` orders a run file: by score descending, then by document id **descending**
(``trec_eval``'s ``comp_sim_docno``: ``strcmp(docno2, docno1)``; Python compares ``str``
by code point, which is the byte order of UTF-8).  The cut at ``k`` follows the same rule,
so which of several documents tied at rank ``k`` survive is decided by it too.  Run files
carry full-precision scores (``repr`` of the float), so ``trec_eval``/``ir_measures``
reading a file see exactly the scores and therefore exactly the order the harness saw.

ranx sorts a run's scores with an unstable argsort, so its order among ties is
implementation-defined; :func:`harness.evaluation.evaluate_per_query` therefore hands ranx
``score = k - rank + 1`` of the ranked list (no ties, same order), which leaves every
rank-based metric (nDCG, recall, MRR, MAP, precision) unchanged.

Sharded exact search
--------------------
``score(q, d) = <e_q, e_d>`` over L2-normalised embeddings (cosine).  Queries are
processed in chunks and documents shard by shard: per (query chunk, shard) the scores
``(n_q, n_shard)`` are computed on the device: embeddings (float32 queries, float16 or
float32 documents) are upcast to float64, multiplied, and each score is rounded once to
float32, so a score is the float32 nearest to the exact inner product of the stored
vectors, whatever the device, the BLAS, the shard or the chunk (float32 GEMM results
change in the last bit with the matrix shape, which measurably moved scores between shard
sizes; float64 accumulation errors of ~1e-16 cross a float32 rounding boundary with
probability ~1e-9 per score).  No TF32 and no fp16 matmul (the old CUDA path multiplied in
fp16, resolving ~5e-4 and so creating ties CPU did not have).  The shard's candidates are taken with
``torch.topk`` and extended to every document tied with the ``k``-th, and candidates are
merged across shards with the tie rule.  Memory: ``O(query_chunk * shard_size)`` on the
device whatever the corpus size.  Results do not depend on shard or chunk sizes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Mapping, Sequence

import numpy as np

__all__ = ["rank_items", "rank_run", "id_bytes", "sharded_search", "DocShard"]


def rank_items(scores: Mapping[str, float], k: int | None = None) -> list[tuple[str, float]]:
    """``(doc_id, score)`` pairs in the harness's (trec_eval's) order, the first ``k``.

    Order: score descending, then doc id descending.

    Examples
    --------
    >>> rank_items({"d1": 0.5, "d2": 0.9, "d3": 0.5}, k=2)
    [('d2', 0.9), ('d3', 0.5)]
    """
    ranked = sorted(scores.items(), key=lambda kv: (kv[1], kv[0]), reverse=True)
    return ranked if k is None else ranked[:k]


def rank_run(run: Mapping[str, Mapping[str, float]], k: int | None = None) -> dict[str, dict[str, float]]:
    """Every query's results re-ordered (dict insertion order) and cut by :func:`rank_items`."""
    return {q: dict(rank_items(docs, k)) for q, docs in run.items()}


def id_bytes(doc_ids: Sequence[str]) -> np.ndarray:
    """Doc ids as a numpy ``S`` (UTF-8 bytes) array: its order is trec_eval's ``strcmp`` order."""
    return np.array([d.encode("utf-8") for d in doc_ids], dtype=bytes)


def local_keys(ids: np.ndarray) -> np.ndarray:
    """``int64`` rank of each id within ``ids`` (larger id, larger key)."""
    order = np.argsort(ids, kind="stable")
    keys = np.empty(len(ids), dtype=np.int64)
    keys[order] = np.arange(len(ids), dtype=np.int64)
    return keys


class DocShard:
    """One shard of document embeddings.

    Attributes
    ----------
    embeddings : array-like, shape (n, dim)
        float16 or float32 (a ``numpy.memmap`` for an on-disk index).
    ids : ndarray, shape (n,), bytes (``S``)
        UTF-8 doc ids (see :func:`id_bytes`); ties are broken by them.
    offset : int
        Global index of the shard's first document.
    """

    __slots__ = ("embeddings", "ids", "offset")

    def __init__(self, embeddings, ids: np.ndarray, offset: int):
        if len(ids) != len(embeddings):
            raise ValueError(f"shard at offset {offset}: {len(embeddings)} embeddings but {len(ids)} ids")
        self.embeddings = embeddings
        self.ids = ids
        self.offset = int(offset)


@contextlib.contextmanager
def _exact_fp32_matmul():
    """float32 matmul without TF32 (TF32 keeps 10 mantissa bits: ~5e-4, like fp16)."""
    import torch

    prev = torch.get_float32_matmul_precision()
    cuda = torch.cuda.is_available()
    prev_cuda = torch.backends.cuda.matmul.allow_tf32 if cuda else None
    torch.set_float32_matmul_precision("highest")
    if cuda:
        torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(prev)
        if cuda:
            torch.backends.cuda.matmul.allow_tf32 = prev_cuda


def _order(scores, keys, k: int):
    """Column order of the top ``k`` by (score desc, key desc): two stable sorts."""
    import torch

    by_key = torch.sort(keys, dim=1, descending=True, stable=True).indices
    s2 = torch.gather(scores, 1, by_key)
    order = torch.sort(s2, dim=1, descending=True, stable=True).indices[:, :k]
    return torch.gather(by_key, 1, order)


def _shard_candidates(s, keys_row, k: int):
    """Top ``k`` of one shard's ``(n_q, n)`` scores by the tie rule (exact at the cut).

    ``torch.topk`` gives the ``k``-th score per row; every document scoring at least that
    is a candidate (more than ``k`` only when there are ties at the cut), and the tie rule
    (score, then the shard-local rank of the id) picks ``k`` of them.
    """
    import torch

    kk = min(k, s.shape[1])
    kth = torch.topk(s, kk, dim=1).values[:, -1:]  # (n_q, 1)
    width = int((s >= kth).sum(1).max())  # >= kk; > kk only with ties at the cut
    cand_s, cand_i = torch.topk(s, width, dim=1)  # (n_q, width): every doc >= kth
    sel = _order(cand_s, keys_row[cand_i], kk)
    return torch.gather(cand_s, 1, sel), torch.gather(cand_i, 1, sel)


def _merge(parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]], k: int):
    """Merge ``(scores, global indices, id bytes)`` candidate blocks by the tie rule."""
    s = np.concatenate([p[0] for p in parts], 1)
    i = np.concatenate([p[1] for p in parts], 1)
    d = np.concatenate([p[2] for p in parts], 1)
    order = np.lexsort((d, s), axis=-1)[:, ::-1][:, :k]  # score desc, then id desc
    return (np.take_along_axis(s, order, 1), np.take_along_axis(i, order, 1), np.take_along_axis(d, order, 1))


def sharded_search(
    queries,
    shards: Iterable[DocShard] | Callable[[], Iterable[DocShard]],
    k: int = 100,
    *,
    query_chunk: int = 1024,
    device: str = "cpu",
) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-``k`` inner-product search over shards, ties by the harness's rule.

    Parameters
    ----------
    queries : Tensor or ndarray, shape (n_queries, dim)
    shards : iterable of :class:`DocShard` (a list, or a callable returning a fresh
        iterable, is re-read per query chunk)
    k : int

    Returns
    -------
    scores : ndarray, shape (n_queries, k'), float32, in rank order
    indices : ndarray, shape (n_queries, k'), int64 global document indices

    ``k' = min(k, n_docs)``.  Per (query chunk, shard) the device holds the float64
    ``(chunk, shard_size)`` score matrix (1,024 x 65,536 x 8 B = 512 MiB by default); candidates (``k`` per query, plus documents tied
    at the cut) come back to the host and are merged with ``numpy.lexsort``.
    """
    import torch

    q_all = queries.detach() if torch.is_tensor(queries) else torch.from_numpy(np.asarray(queries, dtype=np.float32))
    q_all = q_all.float().cpu()
    get_shards = shards if callable(shards) else (lambda s=list(shards): s)
    n_q = q_all.shape[0]
    dev = torch.device(device)
    out_s: list[np.ndarray] = []
    out_i: list[np.ndarray] = []
    kk = None
    with torch.no_grad(), _exact_fp32_matmul():
        for q0 in range(0, max(n_q, 1), query_chunk):
            q = q_all[q0 : q0 + query_chunk].to(dev).double()  # (cq, dim)
            best = None
            n_d = 0
            for sh in get_shards():
                n = len(sh.ids)
                n_d += n
                if n == 0:
                    continue
                if q.shape[0] == 0:
                    continue
                e = sh.embeddings  # a verified in-memory shard is used as it is; anything else is copied once
                e = e if type(e) is np.ndarray and e.flags.writeable else np.array(e)
                d = torch.from_numpy(e).to(dev).double()  # (n, dim)
                if d.shape[1] != q.shape[1]:
                    raise ValueError(f"query dim {q.shape[1]} != document dim {d.shape[1]} (shard at {sh.offset})")
                s = (q @ d.T).float()  # (cq, n): float64 accumulation, rounded once to float32
                keys = torch.from_numpy(local_keys(np.asarray(sh.ids))).to(dev)
                cs, ci = _shard_candidates(s, keys, k)
                cs, ci = cs.cpu().numpy(), ci.cpu().numpy()
                part = (cs, ci + sh.offset, np.asarray(sh.ids)[ci])
                best = part if best is None else _merge([best, part], k)
                if best[0].shape[1] > k:
                    best = _merge([best], k)
            kk = min(k, n_d)
            if best is None:
                best = (np.zeros((q.shape[0], 0), np.float32), np.zeros((q.shape[0], 0), np.int64), None)
            out_s.append(best[0].astype(np.float32, copy=False))
            out_i.append(best[1].astype(np.int64, copy=False))
    if n_q == 0:
        return np.zeros((0, kk or 0), np.float32), np.zeros((0, kk or 0), np.int64)
    return np.concatenate(out_s), np.concatenate(out_i)
