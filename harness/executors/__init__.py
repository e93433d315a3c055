"""Executors run cells: in-process by default, on a Ray cluster when asked.

An executor is a :class:`harness.plugin.Executor` registered in the ``harness.executors``
entry-point group (built-ins: ``local``, ``ray``); the config's ``[executor]`` table names
it with ``kind`` and holds its options.  It takes the cells still to compute and yields a
:class:`~harness.engine.CellOutput` for each as it finishes; the driver
(``harness.runner``) caches them and writes the run directory, so executors never write
results themselves.

Options every built-in executor takes (:class:`CellOptions`): ``cell_timeout``, the seconds
one cell may run before it is stopped and reported as failed (the rest of the run goes on).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from harness.options import Options

if TYPE_CHECKING:
    from harness.config import HarnessConfig
    from harness.engine import Engine
    from harness.plugin import Executor


class CellOptions(Options):
    """``[executor]`` options shared by the built-in executors (``local``, ``ray``)."""

    cell_timeout: float | None = Field(
        None,
        gt=0,
        le=30 * 24 * 3600,
        description="seconds one cell may run (its fit, encoding, retrieval, evaluation; not the shared "
        "base encoder and teacher) before it is stopped and reported as failed; None: no limit",
    )


def make_executor(config: "HarnessConfig", engine: "Engine") -> "Executor":
    """The configured executor (``config.executor_name`` with ``config.executor`` options)."""
    return config.executor_cls(config.executor, engine)
