"""Statistical benchmarking harness for cross-lingual retrieval methods.

The few names a plugin author needs::

    from harness import FitContext, Method, Schedule, register_method

Benchmarks and executors register the same way (``register_benchmark``,
``register_executor``); see :mod:`harness.registry` and the architecture map in ``docs/plugins.md``.
"""

from harness.benchmarks.base import Benchmark
from harness.options import Options
from harness.plugin import EmptyConfig, Encoder, Executor, FitContext, Method, Searcher, Teacher
from harness.registry import register_benchmark, register_executor, register_method
from harness.training import Budget, Schedule

__version__ = "0.1.0"

__all__ = [
    "Benchmark",
    "Budget",
    "EmptyConfig",
    "Encoder",
    "Executor",
    "FitContext",
    "Method",
    "Options",
    "Schedule",
    "Searcher",
    "Teacher",
    "__version__",
    "register_benchmark",
    "register_executor",
    "register_method",
]
