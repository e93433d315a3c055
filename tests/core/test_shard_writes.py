"""Writing one index shard (``harness.index.write_shard``): atomic, and safe when two writers race."""

from __future__ import annotations

import json

import numpy as np
import pytest

from harness.index import ShardJob, write_shard


def _job(n: int = 5) -> ShardJob:
    return ShardJob(index=3, offset=150, ids=[f"d{i}" for i in range(n)], texts=[f"t{i}" for i in range(n)])


def test_first_record_wins_and_the_loser_drops_its_files(tmp_path):
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((5, 4)), rng.standard_normal((5, 4))  # two writers, different bytes
    first = write_shard(tmp_path, _job(), a, "float32", tag="aaaa")
    second = write_shard(tmp_path, _job(), b, "float32", tag="bbbb")
    assert second == first  # the loser returns the winner's record
    rec = json.loads((tmp_path / "shard-00003.json").read_text())
    assert sorted(rec["files"]) == ["shard-00003-aaaa.emb.npy", "shard-00003-aaaa.ids.npy"]
    assert rec["offset"] == 150 and rec["n"] == 5
    np.testing.assert_array_equal(np.load(tmp_path / "shard-00003-aaaa.emb.npy"), a.astype(np.float32))
    assert not list(tmp_path.glob("*bbbb*")) and not list(tmp_path.glob(".tmp-*"))


def test_without_hard_links_the_last_record_names_its_own_files(tmp_path, monkeypatch):
    import os

    def no_link(src, dst):
        raise PermissionError("hard links not supported")

    monkeypatch.setattr(os, "link", no_link)
    rng = np.random.default_rng(1)
    write_shard(tmp_path, _job(), rng.standard_normal((5, 4)), "float16", tag="aaaa")
    b = rng.standard_normal((5, 4))
    rec = write_shard(tmp_path, _job(), b, "float16", tag="bbbb")
    stored = json.loads((tmp_path / "shard-00003.json").read_text())
    assert stored["files"] == rec.files and all("bbbb" in n for n in stored["files"])
    np.testing.assert_array_equal(np.load(tmp_path / "shard-00003-bbbb.emb.npy"), b.astype(np.float16))


def test_a_wrong_shape_is_an_error_and_writes_nothing(tmp_path):
    with pytest.raises(ValueError, match="shape"):
        write_shard(tmp_path, _job(), np.zeros((4, 4)), "float32")
    assert not list(tmp_path.iterdir())


def test_without_hard_links_the_finished_index_keeps_only_named_files(tmp_path, monkeypatch):
    """Each shard written twice (a retried task beside its first attempt) on a file system
    without hard links: both writers commit, and the committed index drops the files no
    record names; it reads back as the last writer wrote it."""
    import os

    from harness.index import build_index

    monkeypatch.setattr(os, "link", lambda src, dst: (_ for _ in ()).throw(PermissionError("no hard links")))

    def vectors(texts):
        return np.array([[len(t), i + 1.0] for i, t in enumerate(texts)], dtype=np.float32)

    class TwiceEach:
        def encode(self, path, jobs, encode, dtype):
            for job in jobs:
                write_shard(path, job, encode(job.texts) + 1, dtype, tag="first")
                yield write_shard(path, job, encode(job.texts), dtype, tag="second")

    docs = [(f"d{i}", "x" * (i % 7 + 1)) for i in range(25)]
    idx = build_index(
        tmp_path, {"k": 1}, lambda: iter(docs), vectors, shard_size=10, dtype="float32", runner=TwiceEach()
    )
    [d] = [p for p in (tmp_path / "docindex").iterdir() if p.is_dir()]
    payloads = sorted(p.name for p in d.glob("shard-*.npy"))
    assert payloads == sorted(f"shard-{i:05d}-second.{k}.npy" for i in range(3) for k in ("emb", "ids"))
    got = np.concatenate([np.asarray(s.embeddings) for s in idx.iter_shards()])
    want = np.concatenate([vectors([t for _, t in docs[i : i + 10]]) for i in range(0, 25, 10)])
    np.testing.assert_array_equal(got, want)
