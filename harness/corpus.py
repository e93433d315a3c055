"""Corpora as streams: documents in order, with ids, never all texts at once.

Three verbs every benchmark adapter answers, either natively or through the defaults here:

* :func:`iter_documents` ``(bench, language)`` -> iterator of ``(doc_id, text)`` in the
  corpus's own order.  An adapter implements ``iter_corpus(language)`` to stream (MIRACL
  and local files do: ir_datasets' ``docs_iter``); otherwise the in-memory
  ``language_data(language).corpus`` is iterated (the embedded benchmark is small).
* :func:`topics` ``(bench, language, split)`` -> :class:`Topics` (queries, qrels, tier) without the
  corpus.  Adapters implement ``topics(language[, split])``; otherwise ``language_data`` is used.
* :func:`corpus_fingerprint` ``(bench, language)`` -> identity of the corpus alone (not of
  queries or qrels, which do not change a document index).  Adapters implement
  ``corpus_fingerprint(language)`` from metadata (MIRACL: the md5s ir_datasets pins; local
  files: a sha256 computed once per file state and cached on disk, :func:`file_digest`); otherwise a sha256
  streamed over ``(doc_id, text)`` pairs.

Shards: :func:`iter_shards` groups a stream into lists of at most ``shard_size`` pairs;
memory is bounded by one shard.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "Topics",
    "document_language",
    "iter_documents",
    "iter_shards",
    "topics",
    "corpus_fingerprint",
    "file_digest",
    "file_stamp",
]


@dataclass(frozen=True)
class Topics:
    """The evaluation side of one language: queries, qrels and tier (no corpus)."""

    language: str
    tier: str
    queries: Mapping[str, str]
    qrels: Mapping[str, Mapping[str, int]]

    def __post_init__(self) -> None:
        from harness.benchmarks.base import check_query_texts

        check_query_texts(self.queries, source=f"queries of language {self.language!r}")


def iter_documents(bench: Any, language: str) -> Iterator[tuple[str, str]]:
    """``(doc_id, text)`` of ``language``'s corpus, streamed when the adapter can."""
    native = getattr(bench, "iter_corpus", None)
    if native is not None:
        yield from native(language)
        return
    yield from bench.language_data(language).corpus.items()


def document_language(bench: Any, language: str) -> str:
    """Language of ``language``'s corpus: itself, or the pivot in a cross-lingual setting
    (queries in ``language``, documents in the pivot).  Adapters may answer natively."""
    native = getattr(bench, "document_language", None)
    if native is not None:
        return native(language)
    if getattr(bench, "iter_corpus", None) is not None:  # streamed adapters are monolingual
        return language
    return bench.language_data(language).doc_language


def iter_shards(docs: Iterator[tuple[str, str]], shard_size: int) -> Iterator[tuple[list[str], list[str]]]:
    """``(ids, texts)`` lists of at most ``shard_size`` documents, in stream order."""
    if shard_size < 1:
        raise ValueError(f"shard_size must be >= 1, got {shard_size}")
    ids: list[str] = []
    texts: list[str] = []
    for did, text in docs:
        ids.append(did)
        texts.append(text)
        if len(ids) == shard_size:
            yield ids, texts
            ids, texts = [], []
    if ids:
        yield ids, texts


def topics(bench: Any, language: str, split: str = "test") -> Topics:
    """Queries, qrels and tier of ``language`` (query ``split``), without the corpus when possible.

    A native ``topics`` is called as ``topics(language)`` for the test split and as
    ``topics(language, split)`` for another (MIRACL's tuning split: no corpus read).
    """
    native = getattr(bench, "topics", None)
    if native is not None:
        return native(language) if split == "test" else native(language, split)
    d = bench.language_data(language) if split == "test" else bench.language_data(language, split)
    return Topics(language, d.tier, d.queries, d.qrels)


@dataclass(frozen=True)
class JudgedView:
    """Qrels with the judged documents that exist in the corpus (``corpus``: a set of ids)."""

    language: str
    qrels: Mapping[str, Mapping[str, int]]
    corpus: frozenset


def judged_view(bench: Any, language: str) -> Any:
    """What a qrels check needs: ``.qrels`` and ``.corpus`` (membership of judged doc ids).

    An in-memory adapter returns its ``language_data``; a streaming one (``topics``) streams
    the corpus's ids once, keeping those that are judged (memory: the judged documents).
    """
    if getattr(bench, "topics", None) is None:
        return bench.language_data(language)
    top = topics(bench, language)
    judged = {d for rels in top.qrels.values() for d in rels}
    present = frozenset(d for d, _ in iter_documents(bench, language) if d in judged)
    return JudgedView(language, top.qrels, present)


def corpus_fingerprint(bench: Any, language: str) -> str:
    """Identity of ``language``'s corpus (ids and texts, in order)."""
    native = getattr(bench, "corpus_fingerprint", None)
    if native is not None:
        return native(language)
    h = hashlib.sha256()
    for did, text in iter_documents(bench, language):
        h.update(did.encode())
        h.update(b"\t")
        h.update(text.encode())
        h.update(b"\n")
    return "sha256:" + h.hexdigest()


def _digest_cache_dir() -> Path:
    from harness.cache import default_cache_root

    return default_cache_root() / "file-digests"


def file_stamp(path: str | os.PathLike) -> dict[str, Any]:
    """What identifies a file's *state* without reading it, as git's index does: path, size,
    ``mtime_ns``, ``ctime_ns``, inode and device.

    The change time cannot be set by a user (``os.utime`` and ``touch -d`` set the
    modification time, and themselves update the change time), so an edit that keeps the
    size and restores the mtime still changes the stamp; so does replacing the file (new inode).
    """
    p = Path(path).resolve()
    st = p.stat()
    return {
        "path": str(p),
        "size": st.st_size,
        "mtime_ns": st.st_mtime_ns,
        "ctime_ns": st.st_ctime_ns,
        "inode": st.st_ino,
        "device": st.st_dev,
    }


#: A file changed less than this long ago (ns) is hashed on every call, never memoised: file
#: systems stamp times with a coarse clock (a few ms), so two edits within one tick keep the
#: same ``ctime`` (git's "racily clean" entries, handled the same way).
RACY_NS = 2_000_000_000


def memoisable(stamp: Mapping[str, Any]) -> bool:
    """Whether a digest may be remembered under ``stamp`` (its file last changed over :data:`RACY_NS` ago)."""
    import time

    return time.time_ns() - max(int(stamp["ctime_ns"]), int(stamp["mtime_ns"])) > RACY_NS


def file_digest(path: str | os.PathLike, cache_dir: Path | None = None) -> str:
    """sha256 of a file, computed once per state (:func:`file_stamp`) and cached on disk.

    A corpus file of tens of GB is hashed the first time it is seen, not on every run; an
    edited file is hashed again, even when the edit kept its size and restored its mtime
    (the change time and inode are part of the stamp); a file changed in the last two seconds
    is not memoised (:data:`RACY_NS`).  A copy, a ``chmod`` or a restore
    from backup changes the stamp too: the file is then hashed once more, to the same digest.
    """
    from harness.cache import atomic_write_text, file_sha256

    p = Path(path).resolve()
    stamp = file_stamp(p)
    d = cache_dir or _digest_cache_dir()
    entry = d / (hashlib.sha256(json.dumps(stamp, sort_keys=True).encode()).hexdigest()[:32] + ".json")
    if entry.is_file():
        try:
            return json.loads(entry.read_text())["sha256"]
        except (ValueError, KeyError):
            pass  # a damaged memo entry: hash again and rewrite it
    digest = file_sha256(p)
    if memoisable(stamp):
        atomic_write_text(entry, json.dumps({**stamp, "sha256": digest}))
    return digest
