"""Content-hash cache for stage outputs.

Each entry is a directory ``<root>/<stage>/<key-hash>/`` holding the files a stage
produced plus ``.entry.json`` (the key, the sha256 and size of every file, and when it was
written).  Entries are built in a temporary sibling directory and renamed into place, so a
reader sees either nothing or a complete entry; a per-entry file lock stops two processes
building the same entry at once.  A build directory's name records its owner's pid and host
(``.tmp-<entry>-<pid>-<host>-<uuid>``); :meth:`Cache.sweep_stale` removes those whose owner
died (a run killed by SIGKILL while building the base encoder leaves one).  On every read the checksums are verified; a corrupt
entry (truncated or edited file) is reported with a :class:`CacheCorruptWarning` and rebuilt.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shutil
import socket
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from harness.errors import CacheCorruptError
from harness.hashing import hash_json
from harness.locks import cache_lock

ENTRY_META = ".entry.json"


class CacheCorruptWarning(UserWarning):
    """A cache entry failed its checksum and is being recomputed."""


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def default_cache_root() -> Path:
    """``$HARNESS_CACHE`` if set, else ``~/.cache/harness``."""
    env = os.environ.get("HARNESS_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "harness"


def disk_full(e: OSError) -> bool:
    """Whether ``e`` says the device (or the user's quota) is full."""
    return e.errno in (errno.ENOSPC, errno.EDQUOT)


@contextmanager
def writing(path: str | os.PathLike) -> Iterator[None]:
    """Name ``path`` in a disk-full error raised inside the block that names no file.

    ``write()``, ``np.save`` or parquet writers raise ``ENOSPC`` without a file name, and the
    message would otherwise have to guess the device (it named the working directory's while
    the cache's tmpfs was the full one).  Other errors pass through unchanged.
    """
    try:
        yield
    except OSError as e:
        if e.errno is not None and disk_full(e) and not e.filename:
            raise OSError(e.errno, os.strerror(e.errno), str(path)) from e
        raise


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with writing(tmp), open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


#: This machine, in the names of temporary directories (a pid means nothing on another host).
_HOST = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]
_TMP_RE = re.compile(r"^\.tmp-(?P<name>[^-]+)-(?P<pid>\d+)-(?P<host>[0-9a-f]{8})-[0-9a-f]{32}$")


def tmp_name(name: str) -> str:
    """``.tmp-<name>-<pid>-<host>-<uuid>``: a build directory that names its owner process."""
    return f".tmp-{name}-{os.getpid()}-{_HOST}-{uuid.uuid4().hex}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: someone else's live process
        return True
    return True


def _owner_dead(tmp: Path) -> bool:
    """Whether the process that made the build directory ``tmp`` is gone.

    Its name gives the owner's pid and host: on this host a dead pid settles it.  Otherwise
    (a live pid may be a reused one; another host; a name from before pids were recorded)
    the entry's build lock decides: every build holds it while its directory exists, and the
    operating system releases it when the owner dies, so a lock taken at once has no owner.
    """
    m = _TMP_RE.match(tmp.name)
    if m is not None and m["host"] == _HOST and not _pid_alive(int(m["pid"])):
        return True
    name = m["name"] if m is not None else tmp.name[len(".tmp-") :].split("-")[0]
    lock = FileLock(str(tmp.with_name(name)) + ".lock")
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return False
    lock.release()
    return True


class Cache:
    """A directory of content-addressed stage outputs.

    Parameters
    ----------
    root : path-like
        Cache root directory (created on demand).
    """

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root).expanduser()

    @classmethod
    def default(cls) -> "Cache":
        return cls(default_cache_root())

    def key_hash(self, stage: str, key: dict[str, Any]) -> str:
        return hash_json({"stage": stage, "key": key})

    def entry_dir(self, stage: str, key: dict[str, Any]) -> Path:
        return self.root / stage / self.key_hash(stage, key)[:32]

    # -------------------------------------------------------------- verification
    @staticmethod
    def _manifest(directory: Path) -> dict[str, Any]:
        files = {}
        for p in sorted(directory.rglob("*")):
            if p.is_file() and p.name != ENTRY_META:
                rel = p.relative_to(directory).as_posix()
                files[rel] = {"sha256": file_sha256(p), "size": p.stat().st_size}
        return files

    def verify(self, directory: Path) -> None:
        """Raise :class:`CacheCorruptError` if any file is missing, extra or altered."""
        meta_path = directory / ENTRY_META
        try:
            meta = json.loads(meta_path.read_text())
            expected = meta["files"]
        except (OSError, ValueError, KeyError) as e:
            raise CacheCorruptError(f"cache entry {directory}: unreadable {ENTRY_META} ({e})") from e
        for rel, info in expected.items():
            p = directory / rel
            if not p.is_file():
                raise CacheCorruptError(f"cache entry {directory}: file {rel} is missing")
            if p.stat().st_size != info["size"]:
                raise CacheCorruptError(
                    f"cache entry {directory}: file {rel} has {p.stat().st_size} bytes, expected {info['size']}"
                )
            if file_sha256(p) != info["sha256"]:
                raise CacheCorruptError(f"cache entry {directory}: file {rel} fails its sha256 checksum")

    # -------------------------------------------------------------- access
    def lookup(self, stage: str, key: dict[str, Any]) -> Path | None:
        """The verified entry directory, or None if absent; a corrupt entry is removed with a warning."""
        d = self.entry_dir(stage, key)
        if not (d / ENTRY_META).is_file():
            return None
        try:
            self.verify(d)
        except CacheCorruptError as e:
            warnings.warn(f"{e}; recomputing it", CacheCorruptWarning, stacklevel=3)
            self._discard(d)
            return None
        return d

    def _discard(self, d: Path) -> None:
        trash = d.with_name(f".trash-{d.name}-{uuid.uuid4().hex}")
        try:
            os.replace(d, trash)
        except OSError:
            return
        shutil.rmtree(trash, ignore_errors=True)

    def sweep_stale(self) -> list[Path]:
        """Remove build directories (``<stage>/.tmp-*``, also in nested plugin caches ``methods/<plugin>/``)
        and half-removed entries (``.trash-*``) left by processes that died (SIGKILL, power loss):
        only those whose owner is dead (:func:`_owner_dead`), so a concurrent run's builds are
        untouched.  Returns what was removed (called when an engine starts)."""
        removed: list[Path] = []
        if not self.root.is_dir():
            return removed
        for pattern in ("*/.tmp-*", "*/.trash-*", "methods/*/*/.tmp-*", "methods/*/*/.trash-*"):
            for d in self.root.glob(pattern):
                if not d.is_dir():
                    continue
                if d.name.startswith(".trash-") or _owner_dead(d):
                    shutil.rmtree(d, ignore_errors=True)
                    removed.append(d)
        return removed

    def get_or_build(self, stage: str, key: dict[str, Any], build: Callable[[Path], None]) -> Path:
        """Return the entry for ``(stage, key)``, building it with ``build(tmp_dir)`` if needed.

        ``build`` writes its files into the given empty directory.  If it raises, nothing
        is left behind and the exception propagates.
        """
        found = self.lookup(stage, key)
        if found is not None:
            return found
        final = self.entry_dir(stage, key)
        final.parent.mkdir(parents=True, exist_ok=True)
        with cache_lock(str(final) + ".lock"):
            found = self.lookup(stage, key)  # another process may have built it meanwhile
            if found is not None:
                return found
            if final.exists():  # leftover without a valid meta file: remove
                self._discard(final)
            tmp = final.with_name(tmp_name(final.name))
            tmp.mkdir()
            try:
                with writing(tmp):
                    build(tmp)
                meta = {"stage": stage, "key": key, "created": time.time(), "files": self._manifest(tmp)}
                (tmp / ENTRY_META).write_text(json.dumps(meta, indent=1, sort_keys=True, default=str))
                os.replace(tmp, final)
            finally:
                if tmp.exists():
                    shutil.rmtree(tmp, ignore_errors=True)
        return final
