"""A local Ray instance for the Ray tests: workers import what the test process imports."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any


def start_local_ray(num_cpus: int, num_gpus: int = 0) -> Any:
    """``ray.init`` a local instance with ``num_cpus`` CPUs and ``num_gpus`` (pretend) GPUs; the ``ray`` module."""
    import ray

    ray.init(
        num_cpus=num_cpus,
        num_gpus=num_gpus,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}},
    )
    return ray


def shard_records(index_dir: Path) -> list[dict]:
    """The shard records (``shard-NNNNN.json``) of a document index, in shard order."""
    return [json.loads(p.read_text()) for p in sorted(index_dir.glob("shard-?????.json"))]
