import numpy as np
import pytest
import torch

from harness.evaluation import evaluate_per_query
from harness.retrieval import read_trec_run, write_trec_qrels, write_trec_run
from harness.search import DocShard, id_bytes, sharded_search


def _search(q, d, k, doc_ids, shard=65536, query_chunk=1024):
    """The engine's search path over in-memory shards: ``{query_id: {doc_id: score}}`` and the indices."""
    ids = id_bytes(doc_ids)
    emb = d.numpy()
    shards = [DocShard(emb[o : o + shard], ids[o : o + shard], o) for o in range(0, len(doc_ids), shard)]
    return sharded_search(q, shards, k, query_chunk=query_chunk)


def test_sharded_search_exact_and_chunk_independent():
    g = torch.Generator().manual_seed(0)
    q = torch.nn.functional.normalize(torch.randn(7, 16, generator=g), dim=1)
    d = torch.nn.functional.normalize(torch.randn(503, 16, generator=g), dim=1)
    d[100] = d[5]  # an exact tie: the larger doc id ("d100" > "d005") must come first
    doc_ids = [f"d{j:03d}" for j in range(503)]
    s_full, i_full = _search(q, d, 20, doc_ids)
    s_chunk, i_chunk = _search(q, d, 20, doc_ids, shard=37, query_chunk=3)
    exact = (q.double() @ d.double().T).float()  # (7, 503)
    keys = torch.arange(503)  # doc id order is index order here
    brute = np.lexsort((keys.numpy()[None].repeat(7, 0), exact.numpy()), axis=-1)[:, ::-1][:, :20]
    assert (i_full == brute).all()
    assert (i_chunk == i_full).all() and (s_chunk == s_full).all()
    assert bool((s_full[:, :-1] >= s_full[:, 1:]).all())
    tied = np.flatnonzero((i_full == 5).any(1) & (i_full == 100).any(1))
    for r in tied:
        assert list(i_full[r]).index(100) < list(i_full[r]).index(5)


def test_sharded_search_k_larger_than_corpus():
    s, i = _search(torch.eye(3), torch.eye(3), 100, ["a", "b", "c"])
    assert s.shape == (3, 3) and i[:, 0].tolist() == [0, 1, 2]


def test_sharded_search_dimension_error():
    with pytest.raises(ValueError, match="query dim 3 != document dim 5"):
        _search(torch.zeros(2, 3), torch.zeros(4, 5), 10, ["a", "b", "c", "d"])


def test_one_search_path():
    """The second search path (``retrieval.dense_search``) and the dead helpers are gone."""
    import harness.engine
    import harness.retrieval
    import harness.search

    assert not hasattr(harness.retrieval, "dense_search") and not hasattr(harness.retrieval, "to_run_dict")
    assert not hasattr(harness.search, "run_from_search") and not hasattr(harness.search, "iter_chunks")
    assert not hasattr(harness.engine, "env_int") and not hasattr(harness.engine, "ProgressFn")


def test_evaluation_follows_trec_eval_c():
    qrels = {"q1": {"d1": 1, "d2": 0}, "q2": {"d3": 1}, "q3": {"d9": 1}}
    run = {"q1": {"d2": 2.0, "d1": 1.0}, "q2": {"d5": 1.0}, "qx": {"d1": 1.0}}
    df = evaluate_per_query(qrels, run, ["ndcg@10", "recall@100", "mrr@10"])
    v = df.set_index(["query_id", "metric"])["value"]
    # q1: relevant doc at rank 2 -> nDCG = 1/log2(3), MRR = 1/2
    assert v["q1", "ndcg@10"] == pytest.approx(1 / __import__("math").log2(3))
    assert v["q1", "mrr@10"] == pytest.approx(0.5)
    assert v["q1", "recall@100"] == pytest.approx(1.0)
    # q2 retrieved nothing relevant, q3 retrieved nothing: both kept with 0 (-c); qx unjudged: ignored
    for q in ("q2", "q3"):
        for m in ("ndcg@10", "recall@100", "mrr@10"):
            assert v[q, m] == 0.0
    assert set(df["query_id"]) == {"q1", "q2", "q3"}
    assert len(df) == 9


def test_evaluation_missing_qrels_is_an_error():
    from harness.errors import StatisticsError

    with pytest.raises(StatisticsError, match="missing qrels"):
        evaluate_per_query({}, {"q": {"d": 1.0}})


def test_trec_round_trip(tmp_path):
    q = torch.eye(4)[:2]
    d = torch.eye(4)
    docs = ["w", "x", "y", "z"]
    s, i = _search(q, d, 3, docs)
    run = {qid: {docs[j]: float(v) for j, v in zip(i[r], s[r])} for r, qid in enumerate(["a", "b"])}
    write_trec_run(run, tmp_path / "r.trec", tag="t")
    back = read_trec_run(tmp_path / "r.trec")
    assert back == {k: {dk: pytest.approx(dv) for dk, dv in v.items()} for k, v in run.items()}
    lines = (tmp_path / "r.trec").read_text().splitlines()
    assert lines[0].split()[:4] == ["a", "Q0", "w", "1"]
    write_trec_qrels({"a": {"w": 1}}, tmp_path / "q.qrels")
    assert (tmp_path / "q.qrels").read_text() == "a 0 w 1\n"


def _random_qrels_and_run(seed: int):
    import numpy as np

    rng = np.random.default_rng(seed)
    qrels, run = {}, {}
    for qi in range(300):
        q = f"q{qi}"
        docs = [f"d{j}" for j in rng.choice(300, 40, replace=False)]
        qrels[q] = {d: int(rng.integers(0, 3)) for d in docs[: int(rng.integers(1, 8))]}
        if qi % 7 == 0:
            qrels[q] = {docs[0]: 0, docs[1]: 1}  # judged non-relevant docs too
        if qi % 13 == 0:
            qrels[q] = {docs[0]: 0}  # nothing relevant: every metric 0
        if qi % 11 == 0:
            continue  # judged, retrieved nothing: scores 0 (-c)
        n = int(rng.integers(0, 120))
        cand = [f"d{j}" for j in rng.choice(300, n, replace=False)]
        run[q] = dict(zip(cand, rng.integers(0, 20, size=n).astype(float)))  # many tied scores
    run["unjudged"] = {"d1": 1.0}  # not in the qrels: ignored
    return qrels, run


def test_per_query_kernels_equal_ranx_evaluate():
    """The per-query kernel path gives exactly ranx.evaluate's values for every metric it serves."""
    from harness.evaluation import _kernels, evaluate_per_query_ranx

    metrics = ["ndcg@10", "recall@100", "mrr@10", "ndcg_burges@5", "precision@10", "map@100", "hits@10"]
    metrics += ["hit_rate@10", "r-precision", "ndcg", "recall", "map", "precision"]
    assert {m.partition("@")[0] for m in metrics} == set(_kernels())
    qrels, run = _random_qrels_and_run(3)
    ours, ref = evaluate_per_query(qrels, run, metrics), evaluate_per_query_ranx(qrels, run, metrics)
    assert list(ours.columns) == list(ref.columns)
    assert ours[["query_id", "metric"]].values.tolist() == ref[["query_id", "metric"]].values.tolist()
    assert (ours["value"].values == ref["value"].values).all()  # bit for bit
    assert ours["value"].gt(0).any() and ours["value"].eq(0).any()


def test_bpref_goes_through_ranx_public_path():
    import math

    df = evaluate_per_query({"q": {"a": 1, "b": 1}}, {"q": {"a": 1.0, "x": 0.5}}, ["bpref", "ndcg@10"])
    # no judged non-relevant doc: ranx gives NaN (its kernel divides by min(R, N) = 0)
    assert math.isnan(df.set_index("metric").loc["bpref", "value"])
    assert df.set_index("metric").loc["ndcg@10", "value"] > 0


def test_per_query_kernels_do_not_build_typed_containers(monkeypatch):
    """The default metrics never touch ranx's Qrels/Run (whose numba typed dicts compile in every process)."""
    import ranx

    def boom(*a, **k):
        raise AssertionError("ranx.Qrels/Run used")

    monkeypatch.setattr(ranx.Qrels, "from_dict", boom)
    monkeypatch.setattr(ranx.Run, "from_dict", boom)
    qrels, run = _random_qrels_and_run(4)
    df = evaluate_per_query(qrels, run)
    assert len(df) == 3 * len(qrels)


def test_unknown_metric_is_a_config_error_on_either_path():
    from harness.errors import ConfigError

    for metrics in (["ndcg@10", "nDCG@10"], ["bpref", "recall@x"]):
        with pytest.raises(ConfigError):
            evaluate_per_query({"q": {"a": 1}}, {"q": {"a": 1.0}}, metrics)
