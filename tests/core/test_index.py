"""The document-index stage and sharded search: exactness, ties, caching, resumption."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from harness.cache import CacheCorruptWarning
from harness.index import DocIndex, build_index, read_cache_log
from harness.search import DocShard, id_bytes, rank_items, sharded_search


def _corpus(n=1000, dim=16, seed=0):
    g = np.random.default_rng(seed)
    emb = g.standard_normal((n, dim)).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    emb[n // 2] = emb[7]  # exact ties
    emb[n - 1] = emb[7]
    ids = [f"d{g.integers(10**6):07d}-{j}" for j in range(n)]  # not in sorted order
    return ids, emb


def _brute(q, emb, ids, k):
    s = q @ emb.T
    return [rank_items(dict(zip(ids, row.tolist())), k) for row in s]


@pytest.mark.parametrize("shard", [1000, 97, 7])
def test_sharded_search_equals_brute_force_with_tie_rule(shard):
    ids, emb = _corpus()
    q = np.concatenate([emb[[7, 3]], np.zeros((1, 16), np.float32)])  # a zero query: every score ties
    b = id_bytes(ids)
    shards = [DocShard(emb[o : o + shard], b[o : o + shard], o) for o in range(0, len(ids), shard)]
    s, i = sharded_search(torch.from_numpy(q), shards, 20, query_chunk=2)
    want = _brute(torch.from_numpy(q).double().numpy().astype(np.float32), emb, ids, 20)
    for r in range(len(q)):
        got = [ids[j] for j in i[r]]
        assert got == [d for d, _ in want[r]]
    assert {ids[j] for j in i[0][:3]} == {ids[7], ids[500], ids[999]}


def test_index_is_cached_resumed_and_verified(tmp_path):
    ids, emb = _corpus(n=230)
    calls = []

    def docs():
        return iter([(d, str(j)) for j, d in enumerate(ids)])

    def encode(texts):
        calls.append(len(texts))
        return emb[[int(t) for t in texts]]

    class Killed(RuntimeError):
        pass

    def kill_after_two(i, n):
        if i == 1:
            raise Killed

    key = {"document_side": "x", "corpus": "c"}
    with pytest.raises(Killed):
        build_index(tmp_path, key, docs, encode, shard_size=50, dtype="float32", on_shard=kill_after_two)
    assert calls == [50, 50]
    idx = build_index(tmp_path, key, docs, encode, shard_size=64, dtype="float32")  # resumed: keeps 50
    assert calls == [50, 50, 50, 50, 30]  # shards 0 and 1 reused, 2..4 encoded
    assert idx.n_docs == 230 and [r.n for r in idx.shards] == [50, 50, 50, 50, 30]
    q = emb[[7, 11]]
    s1, i1 = sharded_search(q, idx.iter_shards, 10)
    fresh = build_index(tmp_path / "fresh", key, docs, encode, shard_size=230, dtype="float32")
    s2, i2 = sharded_search(q, fresh.iter_shards, 10)
    assert np.array_equal(i1, i2) and np.array_equal(s1, s2)
    assert set(idx.doc_ids_of(i1)[0][:3]) == {ids[7], ids[115], ids[229]}
    n_calls = len(calls)
    again = build_index(tmp_path, key, docs, encode, dtype="float32")
    assert len(calls) == n_calls and again.path == idx.path
    events = [(e["stage"], e["event"]) for e in read_cache_log(tmp_path)]
    assert events == [("docindex", "resumed"), ("docindex", "hit")]
    # a truncated shard is caught by the size check and rebuilt
    f = idx.path / "shard-00002.emb.npy"
    f.write_bytes(f.read_bytes()[:-8])
    with pytest.warns(CacheCorruptWarning, match="bytes, expected"):
        rebuilt = build_index(tmp_path, key, docs, encode, shard_size=50, dtype="float32")
    assert DocIndex(rebuilt.path).n_docs == 230


def test_fp16_storage_keeps_rankings_of_distinct_scores(tmp_path):
    ids, emb = _corpus(n=400)
    docs = lambda: iter([(d, str(j)) for j, d in enumerate(ids)])  # noqa: E731
    enc = lambda texts: emb[[int(t) for t in texts]]  # noqa: E731
    i16 = build_index(tmp_path, {"k": 1}, docs, enc, dtype="float16")
    i32 = build_index(tmp_path, {"k": 1}, docs, enc, dtype="float32")
    assert i16.path != i32.path
    q = emb[:5]
    s16, _ = sharded_search(q, i16.iter_shards, 50)
    s32, _ = sharded_search(q, i32.iter_shards, 50)
    assert np.abs(s16 - s32).max() < 2e-3  # fp16 storage moves cosines by ~1e-4..1e-3


def test_changed_corpus_under_same_key_is_an_error(tmp_path):
    ids, emb = _corpus(n=120)
    enc = lambda texts: emb[[int(t) for t in texts]]  # noqa: E731

    def stop(i, n):
        raise KeyboardInterrupt

    docs = lambda: iter([(d, str(j)) for j, d in enumerate(ids)])  # noqa: E731
    with pytest.raises(KeyboardInterrupt):
        build_index(tmp_path, {"k": 2}, docs, enc, shard_size=50, on_shard=stop)
    other = lambda: iter([(d + "x", str(j)) for j, d in enumerate(ids)])  # noqa: E731
    from harness.errors import CacheCorruptError

    with pytest.raises(CacheCorruptError, match="other doc ids"):
        build_index(tmp_path, {"k": 2}, other, enc, shard_size=50)


def test_query_side_student_shares_the_teachers_document_index():
    from harness.index import document_identity
    from harness_methods._alignment import QuerySideEncoder

    class Teacher:
        def document_identity(self, language):
            return f"teacher:{language}"

    assert document_identity(QuerySideEncoder(object(), Teacher()), "sw") == "teacher:sw"
    assert document_identity(object(), "sw") is None  # declares none: a private index
