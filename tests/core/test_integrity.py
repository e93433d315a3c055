"""No silently wrong result, bad data stopped at the door (issue 25).

Each test here fails on the main branch before issue 25: a restored mtime fooled the
digest memo, unnormalised embeddings and unknown doc ids were scored, stale temporary
directories were never swept, the disk-full message named the wrong device.
"""

from __future__ import annotations

import os
import time

import pytest


# ----------------------------------------------------------------------------- digests of files
def _same_size_edit_restoring_mtime(path, old: bytes, new: bytes) -> None:
    st = os.stat(path)
    data = path.read_bytes()
    assert old in data and len(old) == len(new)
    path.write_bytes(data.replace(old, new, 1))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # size and mtime as before the edit
    assert os.stat(path).st_size == st.st_size and os.stat(path).st_mtime_ns == st.st_mtime_ns


@pytest.mark.parametrize("racy_ns", [0, None])
def test_file_digest_sees_a_same_size_edit_with_the_mtime_restored(tmp_path, monkeypatch, racy_ns):
    """qrels edited in place (same size), mtime put back: the digest (and so every cache key) changes.

    ``racy_ns=0`` memoises every digest (the memo is consulted after the edit); ``None``
    keeps the default, under which a file changed in the last two seconds is not memoised.
    """
    import harness.corpus as corpus

    if racy_ns is not None:
        monkeypatch.setattr(corpus, "RACY_NS", racy_ns, raising=False)
    qrels = tmp_path / "qrels.txt"
    qrels.write_text("q1 0 d1 1\nq2 0 d2 1\n")
    time.sleep(0.05)  # past the file system clock's tick: the edit gets another ctime
    memo = tmp_path / "memo"
    before = corpus.file_digest(qrels, memo)
    assert corpus.file_digest(qrels, memo) == before
    _same_size_edit_restoring_mtime(qrels, b"d2 1", b"d2 0")
    after = corpus.file_digest(qrels, memo)
    assert after != before
    from harness.cache import file_sha256

    assert after == file_sha256(qrels)
