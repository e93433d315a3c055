"""Cache locks inside Ray tasks (harness.locks): a waiter lends its CPU, so the lock's holder
can still get its nested tasks scheduled.

The scenario of the CI hang, made deterministic on a 1-CPU local instance: task A holds an
entry's lock and needs a nested 1-CPU task S to finish; task B waits for the same lock.  With
a plain ``FileLock`` wait, B keeps the only CPU and S never starts (checked here too, so the
scenario is known to bite); with :func:`harness.locks.cache_lock`, B waits in ``ray.get`` and
Ray lends its CPU to S.
"""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

pytest.importorskip("ray")

from filelock import FileLock  # noqa: E402
from ray_local import start_local_ray  # noqa: E402  (tests/core is on sys.path)

from harness.locks import cache_lock  # noqa: E402

pytestmark = [pytest.mark.ray, pytest.mark.slow]


@contextmanager
def plain_lock(path: str):
    """The lock wait of the harness before the fix: a blocking ``FileLock.acquire``."""
    with FileLock(path):
        yield


def _child() -> str:
    return "encoded"


def _sleep(seconds: float) -> None:
    time.sleep(seconds)


def _ray_sleep(ray, seconds: float) -> None:
    """Sleep while lending this task's CPU (blocked in ray.get on a zero-CPU task)."""
    ray.get(ray.remote(num_cpus=0)(_sleep).remote(seconds))


def holder(root: str, kind: str, wait_s: float) -> str:
    """Task A: take the lock, let the waiter start, then wait up to ``wait_s`` seconds on a nested 1-CPU task."""
    import ray

    lock = cache_lock if kind == "cache_lock" else plain_lock
    with lock(os.path.join(root, "entry.lock")):
        Path(root, "held").write_text("A")
        deadline = time.monotonic() + 120
        while not Path(root, "waiting").exists():  # B needs A's CPU to start: lend it meanwhile
            assert time.monotonic() < deadline, "the waiter never started"
            _ray_sleep(ray, 0.2)
        _ray_sleep(ray, 1.0)  # B is now inside its lock wait
        child = ray.remote(num_cpus=1)(_child).remote()
        ready, _ = ray.wait([child], timeout=wait_s)  # a CPU for the child only if B lent its own
        if not ready:
            ray.cancel(child, force=True)
            return "deadlock"
        Path(root, "built").write_text(ray.get(child))
        return "built"


def waiter(root: str, kind: str) -> str:
    """Task B: needs the entry A is building; waits for its lock, then reads it."""
    lock = cache_lock if kind == "cache_lock" else plain_lock
    Path(root, "waiting").write_text("B")
    with lock(os.path.join(root, "entry.lock")):
        return Path(root, "built").read_text() if Path(root, "built").exists() else "missing"


@pytest.fixture(scope="module")
def one_cpu_ray():
    ray = start_local_ray(num_cpus=1)
    yield ray
    ray.shutdown()


@pytest.mark.timeout(300)
@pytest.mark.parametrize("kind", ["plain", "cache_lock"])
def test_a_lock_waiter_lends_its_cpu_to_the_holders_nested_task(tmp_path, one_cpu_ray, kind):
    ray = one_cpu_ray
    root = str(tmp_path)
    # The child is a trivial task on a worker Ray starts for it: a few seconds once it has a CPU.  The
    # deadlock verdict needs only a wait well past that (10 s); the fixed lock gets 20 s, so load cannot fail it.
    a = ray.remote(num_cpus=1, max_retries=0)(holder).remote(root, kind, 10.0 if kind == "plain" else 20.0)
    b = ray.remote(num_cpus=1, max_retries=0)(waiter).remote(root, kind)
    got_a = ray.get(a, timeout=150)
    if kind == "plain":
        # the scenario bites: B holds the CPU in its file-lock wait, A's child never starts
        assert got_a == "deadlock"
        ray.cancel(b, force=True)
        return
    assert got_a == "built"
    assert ray.get(b, timeout=60) == "encoded"  # B waited for the lock, then found the entry


def test_outside_ray_the_lock_is_a_plain_blocking_file_lock(tmp_path):
    path = str(tmp_path / "x.lock")
    with cache_lock(path):
        other = FileLock(path)
        with pytest.raises(Exception, match="(?i)timeout|could not be acquired"):
            other.acquire(timeout=0.1)
    after = FileLock(path)
    after.acquire(timeout=1)  # released after the block
    after.release()
