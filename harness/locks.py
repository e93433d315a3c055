"""Cache locks that cannot deadlock a Ray cluster.

Cells that need the same cache entry (a document index, a trained stage) build it once: the
first takes the entry's file lock and builds it, the others wait for the lock and then find
the entry.  In one process that wait is a plain blocking ``FileLock.acquire``.

Inside a Ray task it must not be.  Ray lends the CPU of a task blocked in ``ray.get`` or
``ray.wait`` to other tasks, but it cannot see a task blocked in a file lock: that task keeps
its CPU.  A cell building a document index with shard tasks
(:mod:`harness.executors.ray_shards`) waits in ``ray.wait`` while holding the index's lock;
Ray lends its CPU to the next queued cell, which needs the same index and blocks on the lock,
holding that CPU; once every CPU is held that way, the shard tasks never start.  Seen on a
2-CPU local instance (issue #17's CI hang): two cells in ``RayShards.encode``, two in
``FileLock.acquire``, no shard task running, for ever.

:func:`cache_lock` therefore waits *through Ray* inside a Ray task: it blocks in ``ray.get`` on
a zero-CPU task, pinned to its own node (the lock file is a path on that node), that returns
once the lock is free; meanwhile Ray lends the waiting cell's CPU to the shard tasks.  Then the
cell takes the lock itself (looping if another waiter was faster).  Outside Ray tasks (the
local executor, the driver) it is the plain blocking lock.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from filelock import FileLock, Timeout

__all__ = ["cache_lock", "wait_until_free"]


@contextmanager
def cache_lock(path: str | os.PathLike[str]) -> Iterator[None]:
    """Hold the file lock ``path`` for the block; wait for it without holding a Ray CPU.

    Within a Ray task, a lock held by another process is awaited in ``ray.get`` (see the
    module docstring); elsewhere the wait is ``FileLock.acquire``.
    """
    lock = FileLock(str(path))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        ray = _ray_task()
        if ray is None:
            lock.acquire()
        else:
            _acquire_through_ray(ray, lock, str(path))
    try:
        yield
    finally:
        lock.release()


def wait_until_free(path: str) -> bool:
    """Body of the waiting task: block until the lock ``path`` is free (take it, release it).

    Returns True (a value for ``ray.get`` to wait on).
    """
    with FileLock(path):
        return True


def _ray_task() -> Any:
    """The ``ray`` module when this code runs inside a Ray task, else None (driver, no Ray)."""
    ray = sys.modules.get("ray")  # never import Ray here: a local run must not start it
    if ray is None or not ray.is_initialized():
        return None
    try:
        if ray.get_runtime_context().get_task_id() is None:  # the driver
            return None
    except Exception:  # noqa: BLE001 - an unusual Ray context: behave as outside Ray
        return None
    return ray


def _acquire_through_ray(ray: Any, lock: FileLock, path: str) -> None:
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=False)
    waiter = ray.remote(num_cpus=0, max_retries=3)(wait_until_free).options(scheduling_strategy=here)
    while True:
        ray.get(waiter.remote(path))  # blocked in ray.get: Ray lends this task's CPU meanwhile
        try:
            lock.acquire(timeout=0.05)
            return
        except Timeout:  # another waiter took it first: wait again
            continue
