"""The document-index stage: a corpus's embeddings on disk, shard by shard, resumable.

Key
---
``(document-side identity, corpus fingerprint, dtype)``, where the document-side identity
of an encoder (:func:`document_identity`) already covers its weights, tokenizer, pooling,
normalisation, ``max_length`` and the device it encodes on.  Encoders that share a
document side (``zero-shot`` and the teacher; ``translate-test`` on the pivot; a student
that only trains its query tower) therefore share one index.  The shard size is not in
the key: it changes the layout, not a score (search is shard-independent); a resumed build
keeps the shard size it started with.

Layout (``<cache>/docindex/<key-hash>/``)
-----------------------------------------
* ``build.json`` -- the key, dim, dtype and shard size (written when a build starts);
* ``shard-00000.emb.npy`` -- ``(n, dim)`` embeddings, float16 by default (``float32``
  on request); read back as a ``numpy.memmap``;
* ``shard-00000.ids.npy`` -- ``(n,)`` doc ids as UTF-8 bytes (``S``);
* ``shard-00000.json`` -- written last, atomically: the shard's count, byte sizes and
  sha256s; its presence is what marks the shard finished;
* ``index.json`` -- written when every shard is finished: the totals and the shard list.

A killed build leaves finished shards and at most one unfinished one (temporary files,
removed on the next build); the next build skips finished shards (their doc ids are
compared with the stream's, so a changed corpus is caught) and encodes from the first
unfinished shard.

Verification policy
-------------------
sha256 of every file is computed **once, when it is written**, and stored in its shard
record.  Opening an index checks, for every shard, that the record exists and that each
file has the recorded byte size (a truncated or missing file is caught in microseconds).
**Every read verifies**: a shard's files are read into memory in 4 MiB blocks, each block
hashed as it arrives (:func:`read_verified`: one pass over the file, no second read), and
the digest compared with the record before the shard is searched or its ids used; a
mismatch raises :class:`~harness.errors.CacheCorruptError`, and
:func:`dense_run` then discards the index, rebuilds it and searches again (with a
:class:`~harness.cache.CacheCorruptWarning`).  So a same-size corruption (bit rot, an edited
file) can never change a score.  Cost: ``benchmarks/bench_scale.py`` measures search over
memory-mapped unverified shards against verified reads in one run (see its output and
BENCHMARKS).  :meth:`DocIndex.verify` re-hashes every file without searching (the former
``HARNESS_VERIFY_INDEX=1`` is no longer needed: every read is verified).

The cache log
-------------
Every stage decision (index hit / built / resumed, run hit / computed) is appended as one
JSON line to ``<cache>/cache.log`` and logged on the ``harness.cache`` logger, so "adding a
metric re-encoded nothing" can be checked by reading the log.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import logging
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from harness.cache import writing
from harness.errors import CacheCorruptError
from harness.hashing import hash_json
from harness.search import DocShard, id_bytes

__all__ = ["DocIndex", "build_index", "document_identity", "cache_log", "DTYPES", "DEFAULT_SHARD_SIZE"]

log = logging.getLogger("harness.cache")

DTYPES = {"float16": np.float16, "float32": np.float32}
#: Documents per shard: 65,536 x 768 x 2 bytes = 96 MiB of fp16 mBERT embeddings.
DEFAULT_SHARD_SIZE = 65536


def cache_log(root: Path, event: str, stage: str, **fields: Any) -> None:
    """Append ``{"time", "event", "stage", ...}`` to ``<root>/cache.log`` and log it."""
    rec = {"time": round(time.time(), 3), "event": event, "stage": stage, **fields}
    log.info("%s %s %s", stage, event, json.dumps(fields, sort_keys=True, default=str))
    try:
        root.mkdir(parents=True, exist_ok=True)
        with open(root / "cache.log", "a") as f:
            f.write(json.dumps(rec, sort_keys=True, default=str) + "\n")
    except OSError:  # a read-only cache still works; the log is best effort
        pass


def read_cache_log(root: Path) -> list[dict[str, Any]]:
    p = Path(root) / "cache.log"
    if not p.is_file():
        return []
    return [json.loads(line) for line in p.read_text().splitlines() if line.strip()]


def document_identity(retriever: Any, language: str) -> str | None:
    """The retriever's document-side identity for ``language``, or None if it declares none.

    An encoder declares it with ``document_identity(language) -> str``: a string that
    changes whenever ``encode_documents(texts, language)`` could return something else; or
    with a ``document_encoder`` attribute (a query-side student whose documents go through
    the frozen teacher), whose identity it then shares.
    """
    fn = getattr(retriever, "document_identity", None)
    if fn is None and getattr(retriever, "document_encoder", None) is not None:
        return document_identity(retriever.document_encoder, language)  # a query-side student: the teacher's index
    return None if fn is None else fn(language)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 22):
            h.update(block)
    return h.hexdigest()


#: Bytes read (and hashed) at a time by :func:`read_verified`.
READ_BLOCK = 1 << 22


def read_verified(path: Path, size: int, sha256: str, *, where: str) -> np.ndarray:
    """The ``.npy`` array in ``path``, read once into memory and hashed block by block as it is read.

    Raises :class:`CacheCorruptError` (naming ``where`` and the file) when the file's size or
    sha256 differs from the recorded ``size`` / ``sha256``: a corrupt shard is never searched.
    The array shares the buffer that was read (no further copy) and is writable.
    """
    import io

    buf = bytearray(size)
    view = memoryview(buf)
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            got = 0
            while got < size:
                n = f.readinto(view[got : got + READ_BLOCK])
                if not n:
                    break
                h.update(view[got : got + n])
                got += n
            extra = f.read(1)
    except OSError as e:
        raise CacheCorruptError(f"{where}: {path.name} is unreadable ({e})") from e
    if got != size or extra:
        raise CacheCorruptError(f"{where}: {path.name} changed size (expected {size} bytes)")
    if h.hexdigest() != sha256:
        raise CacheCorruptError(f"{where}: {path.name} fails its sha256 checksum (changed since it was written)")
    head = io.BytesIO(view[:4096].tobytes() if size > 4096 else bytes(buf))
    fmt = np.lib.format
    version = fmt.read_magic(head)
    read_header = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
    shape, fortran, dtype = read_header(head)
    count = int(np.prod(shape)) if shape else 1
    arr = np.frombuffer(buf, dtype=dtype, count=count, offset=head.tell())
    return arr.reshape(shape, order="F" if fortran else "C")


def _atomic_json(path: Path, obj: Any) -> None:
    tmp = path.with_name(f".tmp-{path.name}-{uuid.uuid4().hex}")
    tmp.write_text(json.dumps(obj, indent=1, sort_keys=True))
    os.replace(tmp, path)


def _shard_name(i: int) -> str:
    return f"shard-{i:05d}"


@dataclass(frozen=True)
class ShardRecord:
    index: int
    offset: int
    n: int
    files: dict[str, dict[str, Any]]  # name -> {"size", "sha256"}


class DocIndex:
    """A finished on-disk document index (see the module docstring).

    Attributes
    ----------
    path : Path
    n_docs, dim : int
    dtype : str
    shards : list[ShardRecord]
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        try:
            meta = json.loads((self.path / "index.json").read_text())
        except (OSError, ValueError) as e:
            raise CacheCorruptError(f"document index {self.path}: unreadable index.json ({e})") from e
        self.meta = meta
        self.n_docs = int(meta["n_docs"])
        self.dim = int(meta["dim"])
        self.dtype = meta["dtype"]
        self.shards = [ShardRecord(**r) for r in meta["shards"]]
        self._offsets = [r.offset for r in self.shards]
        self._ids_cache: tuple[int, np.ndarray] | None = None
        self.check_sizes()

    def check_sizes(self) -> None:
        """Every shard file exists with its recorded size (cheap; see the verification policy)."""
        for r in self.shards:
            for name, info in r.files.items():
                p = self.path / name
                try:
                    size = p.stat().st_size
                except OSError as e:
                    raise CacheCorruptError(f"document index {self.path}: {name} is missing") from e
                if size != info["size"]:
                    raise CacheCorruptError(
                        f"document index {self.path}: {name} has {size} bytes, expected {info['size']}"
                    )

    def verify(self) -> None:
        """Re-hash every file against the sha256 recorded when it was written."""
        for r in self.shards:
            for name in r.files:
                self._read(r, name)

    def _read(self, r: ShardRecord, name: str) -> np.ndarray:
        """The array in shard ``r``'s file ``name``, verified against its record while read."""
        info = r.files[name]
        return read_verified(self.path / name, int(info["size"]), info["sha256"], where=f"document index {self.path}")

    def shard_ids(self, i: int) -> np.ndarray:
        r = self.shards[i]
        return self._read(r, _record_file(r, "ids"))

    def iter_shards(self) -> Iterator[DocShard]:
        """Shards as :class:`DocShard`, each read into memory and verified as it is read (one shard at a time)."""
        for r in self.shards:
            emb = self._read(r, _record_file(r, "emb"))
            yield DocShard(emb, self.shard_ids(r.index), r.offset)

    def doc_id(self, j: int) -> str:
        """Doc id of global index ``j``."""
        s = bisect.bisect_right(self._offsets, j) - 1
        if self._ids_cache is None or self._ids_cache[0] != s:
            self._ids_cache = (s, np.asarray(self.shard_ids(s)))
        return self._ids_cache[1][j - self._offsets[s]].decode("utf-8")

    def doc_ids_of(self, indices: np.ndarray) -> list[list[str]]:
        """Doc ids for a ``(n_q, k)`` array of global indices (grouped by shard, one read each)."""
        flat = np.asarray(indices).ravel()
        out = np.empty(flat.shape, dtype=object)
        shard_of = np.searchsorted(np.asarray(self._offsets), flat, side="right") - 1
        for s in np.unique(shard_of):
            m = shard_of == s
            ids = self.shard_ids(int(s))
            out[m] = [b.decode("utf-8") for b in ids[flat[m] - self._offsets[s]]]
        return out.reshape(np.shape(indices)).tolist()


@dataclass(frozen=True)
class ShardJob:
    """One shard still to encode: its position in the stream and its documents."""

    index: int
    offset: int  # global index of its first document
    ids: list[str]
    texts: list[str]


def _payload_name(i: int, kind: str, tag: str) -> str:
    return f"{_shard_name(i)}{'-' + tag if tag else ''}.{kind}.npy"


def _record_file(r: ShardRecord, kind: str) -> str:
    """The shard's ``kind`` (``emb``/``ids``) file, as named by its record."""
    suffix = f".{kind}.npy"
    names = [n for n in r.files if n.endswith(suffix)]
    return names[0] if names else _payload_name(r.index, kind, "")


def _shard_dim(path: Path, r: ShardRecord) -> int:
    return int(np.load(path / _record_file(r, "emb"), mmap_mode="r").shape[1])


def _finished_shard(path: Path, i: int, ids: list[str]) -> ShardRecord | None:
    """Shard ``i``'s record if it is finished, after checking it holds the stream's doc ids."""
    rec_path = path / f"{_shard_name(i)}.json"
    if not rec_path.is_file():
        return None
    rec = ShardRecord(**json.loads(rec_path.read_text()))
    stored = np.load(path / _record_file(rec, "ids"), mmap_mode="r")
    if rec.n != len(ids) or not np.array_equal(np.asarray(stored), id_bytes(ids)):
        raise CacheCorruptError(
            f"document index {path}: shard {i} holds other doc ids than the corpus now yields; "
            f"the corpus changed under the same fingerprint: delete {path} and run again"
        )
    return rec


def write_shard(path: Path, job: ShardJob, emb: np.ndarray, dtype: str, tag: str = "") -> ShardRecord:
    """Write one encoded shard into the index directory ``path``; return its record.

    The embeddings (``(n, dim)``, stored as ``dtype``) and the doc ids go to temporary
    files renamed into place, then the record ``shard-NNNNN.json`` -- the commit point --
    is created with ``os.link``, which fails if it exists.  So readers never see a
    half-written shard, and when two writers race on one shard (a shard task retried by Ray
    while its first attempt still runs; a dead driver's task still running when the re-run
    starts) the first record wins and the loser deletes its own files and returns the
    winner's record.  Writers that may race pass a unique ``tag``, which is part of their
    file names, so a loser never overwrites the files a winner's record names; the build
    in the driver's process (one writer, under the index's lock) uses the plain names.
    Where the file system has no hard links, the record is renamed into place instead
    (the last writer wins; each record names its own writer's files, so it stays consistent;
    files no record names are deleted when the index is committed).
    """
    if emb.ndim != 2 or emb.shape[0] != len(job.ids):
        raise ValueError(f"encoder returned shape {emb.shape} for {len(job.ids)} documents")
    files = {}
    for kind, arr in (("emb", emb.astype(DTYPES[dtype])), ("ids", id_bytes(job.ids))):
        fname = _payload_name(job.index, kind, tag)
        tmp = path / f".tmp-{fname}-{uuid.uuid4().hex}.npy"
        with writing(tmp):  # a full disk names this file (np.save's ENOSPC names none)
            np.save(tmp, arr)
        files[fname] = {"size": tmp.stat().st_size, "sha256": _sha256(tmp)}
        os.replace(tmp, path / fname)
    rec = ShardRecord(index=job.index, offset=job.offset, n=len(job.ids), files=files)
    rec_path = path / f"{_shard_name(job.index)}.json"
    tmp = path / f".tmp-{rec_path.name}-{uuid.uuid4().hex}"
    tmp.write_text(json.dumps(rec.__dict__, indent=1, sort_keys=True))
    try:
        os.link(tmp, rec_path)
    except FileExistsError:  # another writer finished this shard first: keep its files, drop ours
        winner = ShardRecord(**json.loads(rec_path.read_text()))
        for fname in files:
            if fname not in winner.files:
                (path / fname).unlink(missing_ok=True)
        return winner
    except OSError:  # no hard links on this file system: rename (the last writer wins)
        os.replace(tmp, rec_path)
        return rec
    finally:
        tmp.unlink(missing_ok=True)
    return rec


class LocalShards:
    """Encodes shards one after another in this process (the default shard runner)."""

    def encode(
        self, path: Path, jobs: Iterator[ShardJob], encode: Callable[[list[str]], np.ndarray], dtype: str
    ) -> Iterator[ShardRecord]:
        """Encode and write each job in order, yielding its record once it is committed."""
        for job in jobs:
            yield write_shard(path, job, np.asarray(encode(job.texts), dtype=np.float32), dtype)


def build_index(
    root: Path,
    key: dict[str, Any],
    documents: Callable[[], Iterator[tuple[str, str]]],
    encode: Callable[[list[str]], np.ndarray],
    *,
    shard_size: int = DEFAULT_SHARD_SIZE,
    dtype: str = "float16",
    cache: bool = True,
    label: str = "",
    on_shard: Callable[[int, int], None] | None = None,
    runner: Any = None,
) -> DocIndex:
    """Open the index for ``key`` under ``root/docindex``, building (or resuming) it if needed.

    Parameters
    ----------
    documents : callable returning an iterator of ``(doc_id, text)``
        Called once per build; must yield the same order every time.
    encode : callable, ``texts -> (len(texts), dim)`` float32 array
        The document side of the encoder (L2-normalised vectors).
    dtype : ``"float16"`` (default) or ``"float32"``
        Storage type; search always computes in float32.
    cache : bool
        False: build under a private directory (for encoders that declare no identity);
        the caller removes it with :func:`discard_index`.
    on_shard : callable ``(shard_index, n_docs)``, optional
        Called after each shard is encoded and committed (progress; tests use it to kill).
    runner : object with ``encode(path, jobs, encode, dtype) -> iterator of ShardRecord``
        Where shards are encoded: :class:`LocalShards` (default, in this process, in order)
        or :class:`harness.executors.ray_shards.RayShards` (one Ray task per shard, in any
        order; records are put back in stream order here).
    """
    from harness.corpus import iter_shards
    from harness.locks import cache_lock

    if dtype not in DTYPES:
        raise ValueError(f"index dtype must be one of {sorted(DTYPES)}, got {dtype!r}")
    full_key = {**key, "dtype": dtype}
    name = hash_json({"stage": "docindex", "key": full_key})[:32] if cache else f"private-{uuid.uuid4().hex}"
    path = Path(root) / "docindex" / name
    if (path / "index.json").is_file():
        try:
            idx = DocIndex(path)  # sizes now; contents are verified as they are read (iter_shards)
            cache_log(Path(root), "hit", "docindex", key=name, label=label, n_docs=idx.n_docs)
            return idx
        except CacheCorruptError as e:
            import warnings

            from harness.cache import CacheCorruptWarning

            warnings.warn(f"{e}; rebuilding it", CacheCorruptWarning, stacklevel=2)
            shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True, exist_ok=True)
    with cache_lock(str(path) + ".lock"):
        if (path / "index.json").is_file():
            return DocIndex(path)
        for tmp in path.glob(".tmp-*"):  # an unfinished shard of a killed build
            tmp.unlink(missing_ok=True)
        build_meta = path / "build.json"
        if build_meta.is_file():
            started = json.loads(build_meta.read_text())
            shard_size = int(started["shard_size"])
        else:
            _atomic_json(
                build_meta, {"key": full_key, "dtype": dtype, "shard_size": shard_size, "started": time.time()}
            )
        finished: dict[int, ShardRecord] = {}
        counts = {"reused": 0, "encoded": 0}
        t0 = time.perf_counter()

        def todo() -> Iterator[ShardJob]:
            """The stream's shards not finished yet (finished ones are checked and kept)."""
            offset = 0
            for i, (ids, texts) in enumerate(iter_shards(documents(), shard_size)):
                rec = _finished_shard(path, i, ids)
                if rec is not None:
                    finished[i] = rec
                    counts["reused"] += rec.n
                else:
                    yield ShardJob(i, offset, ids, texts)
                offset += len(ids)

        for rec in (runner or LocalShards()).encode(path, todo(), encode, dtype):
            finished[rec.index] = rec
            counts["encoded"] += rec.n
            if on_shard is not None:
                on_shard(rec.index, rec.n)
        records = [finished[i] for i in sorted(finished)]
        if [r.index for r in records] != list(range(len(records))):
            raise CacheCorruptError(f"document index {path}: shards {sorted(finished)} are not contiguous")
        offset = sum(r.n for r in records)
        dim = _shard_dim(path, records[-1]) if records else 0
        reused, encoded = counts["reused"], counts["encoded"]
        meta = {
            "key": full_key,
            "n_docs": offset,
            "dim": dim or 0,
            "dtype": dtype,
            "shard_size": shard_size,
            "shards": [r.__dict__ for r in records],
            "seconds": time.perf_counter() - t0,
            "encoded": encoded,
            "reused": reused,
        }
        _atomic_json(path / "index.json", meta)
        _drop_unreferenced_payloads(path, records)
        cache_log(
            Path(root),
            "resumed" if reused else "built",
            "docindex",
            key=name,
            label=label,
            n_docs=offset,
            encoded=encoded,
            reused=reused,
            shards=len(records),
        )
    return DocIndex(path)


def _drop_unreferenced_payloads(path: Path, records: Sequence[ShardRecord]) -> None:
    """Delete shard payload files no record names (called once the index is committed).

    On a file system without hard links two writers of one shard both commit (the last
    record wins, see :func:`write_shard`) and the first writer's files are left unnamed;
    this removes them.  Files a record names are never touched.
    """
    named = {_record_file(r, kind) for r in records for kind in ("emb", "ids")}
    for f in path.glob("shard-*.npy"):
        if f.name not in named:
            f.unlink(missing_ok=True)


def _token_cache(retriever: Any, root: Path, corpus_fp: str, language: str, shard_size: int):
    """``texts -> token ids`` cached under ``<root>/tokens/<key>/<digest of the texts>.npz``.

    Key: (the retriever's ``tokenizer_identity()``: tokenizer digest and ``max_length``;
    corpus fingerprint; language; shard size), so the teacher, zero-shot and every student
    with the same tokenizer tokenise a corpus once (issue 12, item 6).  Within the key, a
    shard's file is named by the sha256 of its texts, so a resumed build finds its shards.
    Only for encoders whose documents are embedded straight from their texts
    (``encode_documents == encode_ids(tokenize_ids(texts))``: a plain ``BiEncoder``, or a
    class setting ``documents_are_plain_ids = True``); None otherwise.
    """
    from harness.models.encoder import BiEncoder

    if type(retriever) is not BiEncoder and not getattr(retriever, "documents_are_plain_ids", False):
        return None
    key = hash_json(
        {
            "stage": "tokens",
            "tokenizer": retriever.tokenizer_identity(),
            "corpus": corpus_fp,
            "language": language,
            "shard_size": shard_size,
        }
    )[:32]
    d = Path(root) / "tokens" / key
    d.mkdir(parents=True, exist_ok=True)

    def tokens(texts: list[str]) -> list[list[int]]:
        digest = hashlib.sha256("\x1e".join(texts).encode()).hexdigest()[:32]
        f = d / f"{digest}.npz"
        if f.is_file():
            try:
                z = np.load(f)
                flat, lengths = z["ids"], z["lengths"]
                cache_log(Path(root), "hit", "tokens", key=key, n=len(texts))
                return [x.tolist() for x in np.split(flat, np.cumsum(lengths)[:-1])] if len(lengths) else []
            except (OSError, ValueError, KeyError):
                f.unlink(missing_ok=True)
        ids = retriever.tokenize_ids(texts)
        lengths = np.fromiter((len(x) for x in ids), dtype=np.int64, count=len(ids))
        flat = np.fromiter((t for x in ids for t in x), dtype=np.int32, count=int(lengths.sum()))
        tmp = d / f".tmp-{digest}-{uuid.uuid4().hex}.npz"
        np.savez(tmp, ids=flat, lengths=lengths)
        os.replace(tmp, f)
        cache_log(Path(root), "built", "tokens", key=key, n=len(texts))
        return ids

    return tokens


def discard_index(idx: DocIndex) -> None:
    """Remove a private (uncached) index."""
    shutil.rmtree(idx.path, ignore_errors=True)
    Path(str(idx.path) + ".lock").unlink(missing_ok=True)


def dense_run(
    retriever: Any,
    bench: Any,
    language: str,
    query_sets: Sequence[Mapping[str, str]],
    k: int,
    *,
    root: Path,
    device: str = "cpu",
    dtype: str = "float16",
    shard_size: int = DEFAULT_SHARD_SIZE,
    corpus_fp: str | None = None,
    check: Callable[[Any, str], None] | None = None,
    cache: bool = True,
    runner: Any = None,
    private: dict[Any, DocIndex] | None = None,
) -> list[dict[str, dict[str, float]]]:
    """Top-``k`` runs of a dense retriever on ``language``: cached index, then sharded search.

    The index key is ``(document_identity(retriever, language), corpus fingerprint,
    language, dtype)``; a retriever that declares no document identity gets a private
    index, built shard by shard in the same way and removed afterwards (bounded memory, no
    sharing); so does any retriever when ``cache`` is False (e.g. a training checkpoint,
    evaluated once), except a query-side student (a ``document_encoder``, the frozen
    teacher), whose documents are the teacher's at every training step.  ``private``: the
    caller's memo of such uncached indexes by (corpus fingerprint, document language), for
    one retriever: the languages and modes that search one corpus (cross-lingual mode: the
    pivot's) then encode it once, and the caller removes them (:func:`discard_index`).
    ``check(array, what)`` is called on every block of embeddings (e.g. to reject NaNs).
    ``runner`` encodes the shards (:func:`build_index`; default: in this process).
    Returns, per query set, ``{query_id: {doc_id: score}}`` in rank order.
    """
    from harness import corpus
    from harness.search import sharded_search

    doc_lang = corpus.document_language(bench, language)  # the pivot in cross-lingual mode
    # A query-side student's documents go through its frozen teacher: even a training checkpoint of it
    # (cache=False) searches the teacher's cached index instead of encoding the corpus again.
    frozen_documents = (
        getattr(retriever, "document_identity", None) is None
        and getattr(retriever, "document_encoder", None) is not None
    )
    ident = document_identity(retriever, doc_lang) if cache or frozen_documents else None
    fp = corpus_fp or corpus.corpus_fingerprint(bench, language)
    doc_side = (
        retriever
        if getattr(retriever, "document_identity", None) is not None
        else (getattr(retriever, "document_encoder", None) or retriever)
    )
    tokens = _token_cache(doc_side, root, fp, doc_lang, shard_size) if ident is not None else None

    def encode(texts: list[str]) -> np.ndarray:
        if tokens is not None:  # tokenise once per (tokenizer, corpus, max_length): shared by every such encoder
            emb = doc_side.encode_ids(tokens(texts), batch_size=getattr(doc_side, "encode_batch_size", 256))
        else:
            emb = doc_side.encode_documents(texts, doc_lang)  # (n, dim)
        if check is not None:
            check(emb, "document embeddings")
        return emb.float().cpu().numpy()

    memo = private if ident is None else None  # only uncached indexes are memoised by the caller

    def open_index() -> DocIndex:
        idx = memo.get((fp, doc_lang, dtype)) if memo is not None else None
        if idx is None:
            idx = build_index(
                root,
                {"document_side": ident, "corpus": fp, "language": doc_lang},
                lambda: corpus.iter_documents(bench, language),
                encode,
                shard_size=shard_size,
                dtype=dtype,
                cache=ident is not None,
                label=language,
                runner=runner,
            )
            if memo is not None:
                memo[(fp, doc_lang, dtype)] = idx
        return idx

    queries_emb = []
    for queries in query_sets:
        qids = sorted(queries)
        q = retriever.encode_queries([queries[i] for i in qids], language)  # (n_queries, dim)
        if check is not None:
            check(q, "query embeddings")
        queries_emb.append((qids, q))

    def search(idx: DocIndex) -> list[dict[str, dict[str, float]]]:
        out = []
        for qids, q in queries_emb:
            scores, gidx = sharded_search(q, idx.iter_shards, k, device=device)  # every shard verified as read
            names = idx.doc_ids_of(gidx)
            out.append({qid: {d: float(s) for d, s in zip(names[r], scores[r].tolist())} for r, qid in enumerate(qids)})
        return out

    idx = open_index()
    try:
        try:
            return search(idx)
        except CacheCorruptError as e:  # a shard changed on disk since it was written: rebuild, search again
            import warnings

            from harness.cache import CacheCorruptWarning

            warnings.warn(f"{e}; rebuilding it", CacheCorruptWarning, stacklevel=2)
            discard_index(idx)
            if memo is not None:
                memo.pop((fp, doc_lang, dtype), None)
            idx = open_index()
            return search(idx)
    finally:
        if ident is None and memo is None:
            discard_index(idx)
