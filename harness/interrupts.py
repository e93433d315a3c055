"""Stopping a cell from outside it: the per-cell timeout and SIGTERM in worker processes.

Both stop a cell by raising an exception in the thread that runs it, so the cell unwinds
as a Ctrl-C does: every ``finally`` runs, temporary cache entries and index shards are
removed (:meth:`harness.cache.Cache.get_or_build`, :func:`harness.index.write_shard`), and
nothing half-written is left.  Both exceptions subclass :class:`BaseException`, not
:class:`Exception`, so neither the engine's per-cell ``except Exception`` nor a plugin's
own ``except Exception`` can swallow them.

* :class:`CellTimeout` -- raised by :func:`cell_deadline` once a cell has run for
  ``[executor] cell_timeout`` seconds.  The executor turns it into a failed cell whose
  error names the cell and the timeout; the rest of the run continues.
* :class:`WorkerTerminated` -- raised in a worker process (local pool or Ray) when it
  receives SIGTERM from the driver that is shutting down (:func:`terminate_on_sigterm`).

Limits: the exception is raised when the thread next runs Python code.  A blocking
``time.sleep``, lock acquisition or socket read is interrupted (on the main thread, by
SIGALRM); a plugin stuck inside one call of a C extension that never returns to Python is
stopped only when that call returns.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator

__all__ = [
    "CellTimeout",
    "WorkerTerminated",
    "cell_deadline",
    "note_sigterm",
    "sigterm_received",
    "terminate_on_sigterm",
    "working",
]


class CellTimeout(BaseException):
    """A cell ran longer than ``[executor] cell_timeout`` (see :func:`cell_deadline`)."""

    def __init__(self, label: str, seconds: float):
        super().__init__(label, seconds)
        self.label = label
        self.seconds = seconds

    def __str__(self) -> str:
        return (
            f"cell {self.label} exceeded executor.cell_timeout = {self.seconds:g} s and was stopped; "
            "its unfinished work was discarded (nothing of it is cached); raise cell_timeout, or find "
            "where the method's fit hangs (the traceback shows where it was stopped)"
        )


class WorkerTerminated(KeyboardInterrupt):
    """SIGTERM in a worker process: the driver is stopping; unwind like Ctrl-C."""


@contextlib.contextmanager
def cell_deadline(seconds: float | None, label: str) -> Iterator[None]:
    """Raise :class:`CellTimeout` in this thread if the block runs longer than ``seconds``.

    ``None``: no limit.  On the main thread the timer is ``SIGALRM`` (``setitimer``), which
    also interrupts blocking calls such as ``time.sleep``; on another thread, a timer thread
    raises the exception asynchronously (``PyThreadState_SetAsyncExc``), which takes effect
    at the next Python bytecode.  The previous SIGALRM handler and timer are restored.
    """
    if seconds is None:
        yield
        return
    if threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer"):
        with _alarm(seconds, label):
            yield
    else:
        with _async_timer(seconds, label):
            yield


@contextlib.contextmanager
def _alarm(seconds: float, label: str) -> Iterator[None]:
    fired = False

    def on_alarm(signum, frame) -> None:
        nonlocal fired
        if not fired:  # once: a second raise inside the unwinding would skip its clean-up
            fired = True
            raise CellTimeout(label, seconds)

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def _async_timer(seconds: float, label: str) -> Iterator[None]:
    import ctypes

    # PyThreadState_SetAsyncExc raises a class, instantiated without arguments: one made for this cell
    exc_type = type(
        "CellTimeout", (CellTimeout,), {"__init__": lambda self: CellTimeout.__init__(self, label, seconds)}
    )
    target = threading.get_ident()
    lock = threading.Lock()
    active = [True]

    def fire() -> None:
        with lock:
            if active[0]:
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(target), ctypes.py_object(exc_type))

    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        with lock:
            active[0] = False
        timer.cancel()


#: Whether this process has received SIGTERM (:func:`note_sigterm`).
_sigterm = False


def note_sigterm(received: bool = True) -> None:
    """Record that SIGTERM arrived (the command line's handler calls it before raising).

    The exception the handler raises does not always reach the top as it was raised: a
    blocking Ray call (``ray.wait``, ``ray.get``) catches any ``KeyboardInterrupt`` raised by
    a signal handler inside it and raises a plain ``KeyboardInterrupt`` instead.  The flag
    still says which signal stopped the run (:func:`sigterm_received`).
    """
    global _sigterm
    _sigterm = received


def sigterm_received() -> bool:
    """Whether SIGTERM arrived since the last ``note_sigterm(False)``."""
    return _sigterm


#: Whether this worker process is running a cell or stage now (:func:`working`).
_working = False


def terminate_on_sigterm() -> None:
    """In a worker process: SIGTERM stops the worker cleanly.

    While a cell or stage runs (:func:`working`), SIGTERM raises :class:`WorkerTerminated`:
    the work unwinds (its temporary files are removed: a worker killed outright by SIGTERM's
    default action would leave them behind) and then the process exits with status 143.  An
    idle worker exits at once.
    """

    def on_term(signum, frame) -> None:
        if _working:
            raise WorkerTerminated()
        os._exit(128 + signal.SIGTERM)

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, on_term)


@contextlib.contextmanager
def working() -> Iterator[None]:
    """Mark a worker's cell or stage as running; after a :class:`WorkerTerminated` unwound it, exit.

    The exit (``os._exit(143)``) keeps a process pool from handing the terminated worker its
    next queued cell.  Outside a worker that called :func:`terminate_on_sigterm`, no
    :class:`WorkerTerminated` is ever raised and this changes nothing.
    """
    global _working
    _working = True
    try:
        yield
    except WorkerTerminated:
        os._exit(128 + signal.SIGTERM)
    finally:
        _working = False
