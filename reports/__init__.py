"""Reports of runs: the self-contained HTML report, CSV/LaTeX exports, comparisons, reproduction checks.

Rendering only: every number comes from ``analysis.json`` (:func:`harness.stats.analyze`) or
from the run's manifest; templates are jinja2 with autoescape and ``StrictUndefined``.

* :func:`render_report` -- ``report.html`` + exports for a run (called by the runner);
* :func:`rerender` -- ``harness report DIR``;
* :func:`compare_runs` -- ``harness compare DIR_A DIR_B`` (module :mod:`reports.compare`);
* :func:`reproduce_run` -- ``harness reproduce DIR`` (module :mod:`reports.reproduce`);
* the verdict in words (:mod:`harness_reports.verdict`, the one place it is phrased) and the
  terminal summary that ``harness run`` / ``harness report`` print (:mod:`harness_reports.terminal`).
"""

from __future__ import annotations

from typing import Any

__all__ = ["compare_runs", "render_report", "reproduce_run", "rerender", "run_and_report"]


def run_and_report(config: Any, **kwargs: Any) -> Any:
    """:func:`harness.runner.run_matrix` with this package's report renderer (what ``harness run`` does)."""
    from harness.runner import run_matrix
    from harness_reports.report import render_report

    return run_matrix(config, render=render_report, **kwargs)


def __getattr__(name: str) -> Any:
    # Lazy: `import reports` must stay cheap (matplotlib, pandas and the runner load on use).
    if name in ("render_report", "rerender"):
        from harness_reports import report

        return getattr(report, name)
    if name == "compare_runs":
        from harness_reports.compare import compare_runs

        return compare_runs
    if name == "reproduce_run":
        from harness_reports.reproduce import reproduce_run

        return reproduce_run
    raise AttributeError(f"module 'harness_reports' has no attribute {name!r}")
