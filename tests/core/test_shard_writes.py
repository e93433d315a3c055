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
