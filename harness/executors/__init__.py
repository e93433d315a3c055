"""Executors run cells: in-process by default, on a Ray cluster when asked.

An executor takes the cells still to compute and yields a :class:`~harness.engine.CellOutput`
for each as it finishes; the driver (``harness.runner``) caches them and writes the run
directory, so executors never write results themselves.
"""

from __future__ import annotations

from typing import Any

from harness.errors import ConfigError, did_you_mean

EXECUTORS = ("local", "ray")


def make_executor(kind: str, *, config, engine, address: str | None = None) -> Any:
    if kind == "local":
        from harness.executors.local import LocalExecutor

        return LocalExecutor(engine)
    if kind == "ray":
        from harness.executors.ray import RayExecutor

        return RayExecutor(config, engine, address=address)
    raise ConfigError("executor.kind", kind, f"one of {', '.join(EXECUTORS)}", hint=did_you_mean(kind, EXECUTORS).strip())
