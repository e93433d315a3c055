import json
import warnings

import pytest

from harness.cache import Cache, CacheCorruptWarning


def _build(payload: bytes, calls: list):
    def build(d):
        calls.append(1)
        (d / "a.bin").write_bytes(payload)
        (d / "sub").mkdir()
        (d / "sub" / "b.txt").write_text("hello")

    return build


def test_build_once_then_hit(tmp_path):
    cache, calls = Cache(tmp_path), []
    p1 = cache.get_or_build("stage", {"x": 1}, _build(b"abc", calls))
    p2 = cache.get_or_build("stage", {"x": 1}, _build(b"abc", calls))
    assert p1 == p2 and calls == [1]
    assert (p1 / "a.bin").read_bytes() == b"abc"
    meta = json.loads((p1 / ".entry.json").read_text())
    assert set(meta["files"]) == {"a.bin", "sub/b.txt"}


def test_different_key_different_entry(tmp_path):
    cache, calls = Cache(tmp_path), []
    a = cache.get_or_build("stage", {"x": 1}, _build(b"1", calls))
    b = cache.get_or_build("stage", {"x": 2}, _build(b"2", calls))
    assert a != b and len(calls) == 2


def test_truncated_file_is_detected_and_rebuilt(tmp_path):
    cache, calls = Cache(tmp_path), []
    p = cache.get_or_build("stage", {"x": 1}, _build(b"abcdef" * 100, calls))
    with open(p / "a.bin", "r+b") as f:
        f.truncate(10)
    with pytest.warns(CacheCorruptWarning, match="a.bin"):
        p2 = cache.get_or_build("stage", {"x": 1}, _build(b"abcdef" * 100, calls))
    assert len(calls) == 2
    assert (p2 / "a.bin").read_bytes() == b"abcdef" * 100


def test_same_size_edit_fails_checksum(tmp_path):
    cache, calls = Cache(tmp_path), []
    p = cache.get_or_build("stage", {"x": 1}, _build(b"abc", calls))
    (p / "a.bin").write_bytes(b"abd")
    with pytest.warns(CacheCorruptWarning, match="checksum"):
        assert cache.lookup("stage", {"x": 1}) is None


def test_failed_build_leaves_nothing(tmp_path):
    cache = Cache(tmp_path)

    def boom(d):
        (d / "partial").write_text("x")
        raise RuntimeError("build failed")

    with pytest.raises(RuntimeError, match="build failed"):
        cache.get_or_build("stage", {"x": 1}, boom)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cache.lookup("stage", {"x": 1}) is None
    leftovers = [p for p in (tmp_path / "stage").iterdir() if not p.name.endswith(".lock")]
    assert leftovers == []


def test_default_root_honours_env(monkeypatch, tmp_path):
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "c"))
    assert Cache.default().root == tmp_path / "c"
