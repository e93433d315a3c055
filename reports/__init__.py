"""Reports of runs: the self-contained HTML report, CSV/LaTeX exports, comparisons, reproduction checks.

Rendering only: every number comes from ``analysis.json`` (:func:`harness.stats.analyze`) or
from the run's manifest; templates are jinja2 with autoescape and ``StrictUndefined``.

* :func:`render_report` -- ``report.html`` + exports for a run (called by the runner);
* :func:`rerender` -- ``harness report DIR``;
* :func:`compare_runs` -- ``harness compare DIR_A DIR_B`` (module :mod:`reports.compare`);
* :func:`reproduce_run` -- ``harness reproduce DIR`` (module :mod:`reports.reproduce`).
"""

from __future__ import annotations

from typing import Any

__all__ = ["compare_runs", "render_report", "reproduce_run", "rerender"]


def __getattr__(name: str) -> Any:
    # Lazy: `import reports` must stay cheap (matplotlib, pandas and the runner load on use).
    if name in ("render_report", "rerender"):
        from reports import report

        return getattr(report, name)
    if name == "compare_runs":
        from reports.compare import compare_runs

        return compare_runs
    if name == "reproduce_run":
        from reports.reproduce import reproduce_run

        return reproduce_run
    raise AttributeError(f"module 'reports' has no attribute {name!r}")
