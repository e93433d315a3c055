"""The short summary ``harness run`` and ``harness report`` print at the end.

The question, the verdict sentence (:func:`reports.verdict.verdict_summary`: with the verdict
at each shared budget when it depends on the budget), the co-primary endpoint (the low
tier's gain over the baseline), a warning when there are too few seeds for an interval, and
a table of tier means per method (:func:`reports.verdict.headline_rows`), drawn with ``rich``.  On a
terminal the verdict is coloured; in a pipe or a log file the same text comes out plain, at
a width that keeps the table on one line per method.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

#: colour per finding (reports.verdict.FINDINGS): a reduction smaller than delta is not painted red
FINDING_STYLE = {
    "reduces": "bold green",
    "reduces-below-delta": "bold blue",
    "no-extra-reduction": "bold",
    "larger": "bold red",
    "inconclusive": "bold yellow",
    "unanswered": "bold",
}
PLAIN_WIDTH = 120  # columns when stdout is not a terminal (rich's own default, 80, would wrap the table)


def _console(file: IO[str] | None):
    from rich.console import Console

    file = file or sys.stdout
    tty = file.isatty() if hasattr(file, "isatty") else False
    return Console(
        file=file,
        highlight=False,
        soft_wrap=False,
        emoji=False,
        markup=False,
        width=None if tty else PLAIN_WIDTH,
        force_terminal=tty or None,
        no_color=not tty,
    )


def print_summary(
    analysis: Mapping[str, Any] | None, *, report: Path | None = None, file: IO[str] | None = None, title: str = ""
) -> None:
    """Print the question, the verdict and the tier-means table of ``analysis`` (``analysis.json`` data).

    A run evaluated in several modes prints one such block per mode, each headed by its mode.
    """
    from harness.modes import analyses

    parts = analyses(analysis)
    if len(parts) < 2:
        _print_one(analysis, report=report, file=file, title=title)
        return
    con = _console(file)
    if title:
        from rich.text import Text

        con.print(Text(title, style="bold"))
    for mode, a in parts:
        _print_one(a, report=None, file=file, title=f"Mode: {mode}")
    if report is not None:
        con.print(f"report: {report}")


def _print_one(
    analysis: Mapping[str, Any] | None, *, report: Path | None = None, file: IO[str] | None = None, title: str = ""
) -> None:
    from rich.text import Text

    from harness_reports.verdict import headline_rows, plain_rows, verdict_summary

    con = _console(file)
    if title:
        con.print(Text(title, style="bold"))
    if not analysis or ("error" in analysis and "design" not in analysis):
        why = (analysis or {}).get("error", "analysis.json is missing or empty")
        con.print(f"No statistics for this run: {why}.")
        if report is not None:
            con.print(f"report: {report}")
        return
    v = verdict_summary(analysis)
    con.print(Text.assemble(("Question: ", "bold"), v.question))
    con.print(Text.assemble(("Verdict: ", "bold"), (v.lead, FINDING_STYLE[v.finding]), ": ", v.body))
    if v.gain:
        con.print(Text.assemble(("Co-primary: ", "bold"), v.gain))
    for w in v.warnings:
        con.print(Text.assemble(("warning: ", "bold yellow"), w))
    opts = analysis["options"]
    hi, lo = opts["high_tier"], opts["low_tier"]
    q = analysis["question"]
    baseline = q["methods"].get("baseline")
    pm = analysis["design"]["primary_metric"]
    table = _table(f"{pm}, mean over seeds [{v.level}% CI]")
    rows = plain_rows(headline_rows(analysis))
    one_line = max(len(r[0]) for r in rows) + sum(max(len(r[i]) for r in rows) + 2 for i in range(1, 5))
    stacked = con.width < one_line  # narrow terminal: interval under the value
    if stacked:
        rows = plain_rows(headline_rows(analysis), sep="\n")
    table.add_column("method", no_wrap=True)
    for name in (
        f"{hi} tier",
        f"{lo} tier",
        f"gap\n({hi} - {lo})",
        f"gap reduction\nvs {baseline}" if baseline else "gap reduction\nvs baseline",
    ):
        table.add_column(name, justify="right", no_wrap=True)
    for row in rows:
        table.add_row(*row)
    con.print(table)
    for w in analysis.get("warnings") or []:  # intervals clipped to the metric's range (few seeds or worlds)
        if w.startswith("too few"):
            con.print(Text.assemble(("warning: ", "bold yellow"), w))
    if report is not None:
        con.print(f"report: {report}")


def print_comparison(c: Any, *, report: Path | None = None, file: IO[str] | None = None) -> None:
    """Print a comparison of two runs (:class:`reports.compare.Comparison`): how the runs relate,
    the headline sentences and, per method, the macro difference on the primary metric.

    Runs that differ only in seeds get a table of the seed sets compared over seeds (Welch t)
    instead of query-paired significance.
    """
    from rich.text import Text

    from harness_reports.compare import headline

    con = _console(file)
    pm, level = c.options["primary_metric"], int(round(100 * c.options["ci_level"]))
    con.print(
        Text(
            f"Comparison: B = {c.run_b['dir']} ({c.run_b['name']}) vs A = {c.run_a['dir']} ({c.run_a['name']})",
            style="bold",
        )
    )
    flag = {"identical": "IDENTICAL RUNS", "same-config": "SAME CONFIG", "seeds-only": "SEEDS ONLY"}.get(c.relation)
    for w in c.warnings:
        if flag and w == c.warnings[0]:
            con.print(Text.assemble((f"{flag}: ", "bold yellow"), w))
        else:
            con.print(f"note: {w}")
    for sentence in headline(c):
        con.print(sentence)
    table = _table(f"{pm}, macro over {len(c.languages)} languages, B - A [{level}% CI]")
    table.add_column("method", justify="left", no_wrap=True)
    for name in ("A", "B", "B - A"):
        table.add_column(name, justify="right", no_wrap=True)
    if c.relation == "seeds-only":
        table.add_column("over seeds (Welch p)", justify="right", no_wrap=True)
        for s in c.seed_sets:
            p = s["p_value"]
            table.add_row(
                s["method"],
                f"{s['mean_a']:.4f}",
                f"{s['mean_b']:.4f}",
                _diff(s["difference"], s["ci_low"], s["ci_high"]),
                f"{p:.3g}" if p == p else "not tested",
            )
    else:
        table.add_column(f"{c.options['correction']}-adj. p", justify="right", no_wrap=True)
        table.add_column("significant", no_wrap=True)
        for r in c.rows:
            if r.metric == pm and r.language == "macro":
                w = r.worlds  # several worlds: the mean and interval over worlds decide (none with 2 worlds)
                lo, hi = (w["ci"] or (float("nan"),) * 2) if w else (r.ci_low, r.ci_high)
                table.add_row(
                    r.method,
                    f"{r.mean_a:.4f}",
                    f"{r.mean_b:.4f}",
                    _diff(w["estimate"] if w else r.difference, lo, hi),
                    "not tested" if r.p_adjusted != r.p_adjusted else f"{r.p_adjusted:.3g}",
                    "not tested" if r.significant is None else "yes" if r.significant else "no",
                )
    con.print(table)
    if report is not None:
        con.print(f"comparison report: {report}")


def _table(title: str) -> Any:
    """A borderless rich table with a left-aligned plain title (the summaries' one style)."""
    from rich import box
    from rich.table import Table

    return Table(
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        show_edge=False,
        padding=(0, 1),
        collapse_padding=True,
        title=title,
        title_justify="left",
        title_style="",
    )


def _diff(d: float, lo: float, hi: float) -> str:
    return f"{d:+.4f}" + (f" [{lo:+.4f}, {hi:+.4f}]" if lo == lo and hi == hi else "")
