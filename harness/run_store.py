"""The run directory as a record: written atomically under a lock, never rewritten once finished."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
from filelock import FileLock, Timeout

from harness.cache import atomic_write_bytes, atomic_write_text
from harness.config import HarnessConfig
from harness.errors import RunLockedError
from harness.manifest import now

__all__ = ["RunStore", "finished_run"]


def finished_run(run_dir: Path, config: HarnessConfig) -> dict[str, Any] | None:
    """The manifest of ``config``'s complete run in ``run_dir``, or None when there is none to keep.

    A finished run directory is a record and is never rewritten: a complete run of the same
    config (same sha256) is returned as is; a run of another config there (complete, partial
    or interrupted) is refused with :class:`~harness.errors.RunFinishedError`, since writing
    into it would mix two configs' files.  A partial or interrupted run of the same config is
    not finished: a re-run resumes it (failed cells are retried).
    """
    path = Path(run_dir) / "manifest.json"
    if not path.is_file():
        return None
    from harness.errors import RunFinishedError

    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise RunFinishedError(
            f"run directory {run_dir} holds an unreadable manifest.json ({e}); it is not overwritten: "
            "choose another directory with --out, or remove this one"
        ) from None
    sha = manifest.get("config_sha256")
    if sha != config.sha256():
        raise RunFinishedError(
            f"run directory {run_dir} holds a run of another config ({manifest.get('name')!r}, sha256 "
            f"{str(sha)[:12]}, status {manifest.get('status')}) than this one (sha256 {config.sha256()[:12]}); "
            "a run directory is never rewritten with another config: choose another directory with --out, "
            "or leave --out out (each config gets its own <name>-<sha256[:8]> directory)"
        )
    if manifest.get("status") == "complete" and (Path(run_dir) / "results.parquet").is_file():
        return manifest
    return None


class RunStore:
    """Writes one run directory atomically under a lock."""

    def __init__(self, run_dir: Path):
        self.dir = Path(run_dir)
        self._lock: FileLock | None = None
        self._manifest: dict[str, Any] | None = None  # the manifest last written

    def __enter__(self) -> "RunStore":
        self._created = not self.dir.exists()
        self.dir.mkdir(parents=True, exist_ok=True)
        self._lock = FileLock(str(self.dir / ".lock"))
        try:
            self._lock.acquire(timeout=0)
        except Timeout:
            self._cleanup_if_empty()
            raise RunLockedError(
                f"run directory {self.dir} is being written by another harness process (lock {self.dir / '.lock'}); "
                "wait for it to finish, or choose another directory with --out"
            ) from None
        return self

    def __exit__(self, *exc) -> None:
        if exc[0] is not None and issubclass(exc[0], KeyboardInterrupt) and self._manifest is not None:
            # Ctrl-C / SIGTERM: the record says so (never "running" with nobody running it, never finished)
            self._manifest.update(status="interrupted", finished=None, interrupted=now(), signal=_signal_name(exc[1]))
            try:
                self.write_json("manifest.json", self._manifest)
            except OSError:  # e.g. the disk is full: the manifest keeps saying "running", never finished
                pass
        if self._lock is not None:
            self._lock.release()
        if exc[0] is not None:
            self._cleanup_if_empty()

    def _cleanup_if_empty(self) -> None:
        """A directory this store created and never wrote a file into is removed (a refused run creates nothing)."""
        if (
            getattr(self, "_created", False)
            and self.dir.is_dir()
            and all(p.name == ".lock" for p in self.dir.iterdir())
        ):
            (self.dir / ".lock").unlink(missing_ok=True)
            try:
                self.dir.rmdir()
            except OSError:
                pass  # another process wrote into it meanwhile: leave it

    def write_json(self, rel: str, obj: Any) -> None:
        if rel == "manifest.json":
            self._manifest = obj  # marked "interrupted" if the run is stopped (__exit__)
        atomic_write_text(self.dir / rel, json.dumps(obj, indent=2, sort_keys=False, default=str, allow_nan=False))

    def write_text(self, rel: str, text: str) -> None:
        atomic_write_text(self.dir / rel, text)

    def write_results(self, df: pd.DataFrame) -> None:
        self.write_parquet("results.parquet", df)

    def write_parquet(self, rel: str, df: pd.DataFrame) -> None:
        import io

        buf = io.BytesIO()
        df.to_parquet(buf, index=False)
        atomic_write_bytes(self.dir / rel, buf.getvalue())


def _signal_name(exc: BaseException | None) -> str:
    """``SIGTERM`` for the command line's SIGTERM exception (``harness.cli.Terminated``), else ``SIGINT``."""
    from harness.interrupts import sigterm_received

    return "SIGTERM" if type(exc).__name__ == "Terminated" or sigterm_received() else "SIGINT"
