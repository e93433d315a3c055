"""The answer to the question in words: one sentence and a compact table, from ``analysis.json``.

This module is the single place where the verdict is phrased; the HTML headline
(``report.html.j2``) and the terminal summary (:mod:`reports.terminal`) both show
:func:`verdict_summary` and :func:`headline_rows`.  It reads only fields of
``analysis["question"]`` and ``analysis["options"]``:

* ``verdict`` (``yes`` / ``no`` / ``inconclusive``, decided by :mod:`harness.stats.question`),
* ``difference[endpoint]``: ``D = E(ot) - E(contrastive)`` with its interval ``[lo, hi]``,
  ``p_value_seed`` and ``p_value_query``,
* ``options.target_difference`` (delta), ``options.alpha``, ``options.ci_level``.

The sentence never changes the verdict; it says *which* "no" (or "yes") it is:

========================  =====================================  =================================
verdict                   interval of D                          finding
========================  =====================================  =================================
yes                       ``hi < 0``, ``|D| >= delta``           reduces it more, by delta or more
yes                       ``hi < 0``, ``|D| < delta``            reduces it more, by less than delta
no                        ``hi < 0`` (``lo > -delta``)           reduces it more, by less than
                                                                 delta; delta or more ruled out
no                        ``lo <= 0 <= hi`` (``lo > -delta``)    does not reduce it more; delta or
                                                                 more ruled out
no                        ``lo > 0``                             leaves a larger gap
inconclusive              anything                               cannot tell (interval reaches
                                                                 below -delta, or untestable)
========================  =====================================  =================================
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: finding -> short label (terminal and report badges)
FINDINGS = {
    "reduces": "reduces the gap more",
    "reduces-below-delta": "reduces the gap more, by less than delta",
    "no-extra-reduction": "does not reduce the gap more",
    "larger": "leaves a larger gap",
    "inconclusive": "cannot tell",
    "unanswered": "not answered",
}

ENDPOINT_WORDS = {"gap": "high-minus-low gap", "dispersion": "cross-language dispersion"}


@dataclass(frozen=True)
class VerdictSummary:
    """The verdict in words.  ``d``/``low``/``high``: D and its interval (None if not estimable)."""

    verdict: str  # the analysis's verdict, unchanged
    finding: str  # a key of FINDINGS
    question: str
    lead: str  # "Yes", "No", "Yes, but by less than delta", "Inconclusive", "Not answered"
    body: str  # the rest of the sentence (what was found, with D and its interval)
    ot: str
    contrastive: str
    metric: str
    endpoint: str
    d: float | None
    low: float | None
    high: float | None
    delta: float
    level: int

    @property
    def label(self) -> str:
        return FINDINGS[self.finding]

    @property
    def sentence(self) -> str:
        return f"{self.lead}: {self.body}"


def _f(x: float | None, digits: int = 4, signed: bool = True) -> str:
    if x is None:
        return "—"
    return f"{x:+.{digits}f}" if signed else f"{x:.{digits}f}"


def question_text(q: Mapping[str, Any], options: Mapping[str, Any]) -> str:
    ot, con = q["methods"]["ot"], q["methods"]["contrastive"]
    hi, lo = options["high_tier"], options["low_tier"]
    return f"Does {ot} reduce the {q['metric']} gap between {hi}- and {lo}-resource languages more than {con}?"


def verdict_summary(analysis: Mapping[str, Any]) -> VerdictSummary:
    """The verdict sentence for ``analysis`` (an ``analysis.json`` mapping with a ``question``)."""
    q, opts = analysis["question"], analysis["options"]
    ot, con = q["methods"]["ot"], q["methods"]["contrastive"]
    endpoint = q["endpoint"]
    what = ENDPOINT_WORDS.get(endpoint, endpoint)
    delta = float(opts["target_difference"])
    level = int(round(100 * float(opts.get("ci_level", 0.95))))
    verdict = q["verdict"]
    diff = (q.get("difference") or {}).get(endpoint) or {}
    d = diff.get("estimate")
    lo, hi = diff.get("ci") or (None, None)
    common = dict(
        verdict=verdict,
        question=question_text(q, opts),
        ot=ot,
        contrastive=con,
        metric=q["metric"],
        endpoint=endpoint,
        d=d,
        low=lo,
        high=hi,
        delta=delta,
        level=level,
    )
    if q["degenerate"] or d is None:
        why = q.get("reason") or "the difference could not be estimated"
        return VerdictSummary(
            finding="unanswered", lead="Not answered", body=f"the question could not be answered: {why}.", **common
        )
    numbers = (
        f"D = {_f(d)}, {level}% CI [{_f(lo, signed=False)}, {_f(hi, signed=False)}]"
        if lo is not None
        else f"D = {_f(d)}, no interval"
    )
    by = _f(abs(d), signed=False)
    ruled_out = f"an extra reduction of delta = {delta:g} or more is ruled out"
    if verdict == "yes":
        if abs(d) >= delta:
            finding, lead = "reduces", "Yes"
            body = f"{ot} reduces the {what} by {by} more than {con} ({numbers})."
        else:
            finding, lead = "reduces-below-delta", "Yes, but by less than delta"
            body = (
                f"{ot} reduces the {what} by {by} more than {con}, which is smaller than the target difference "
                f"delta = {delta:g} ({numbers})."
            )
    elif verdict == "no":
        lead = "No"
        if hi is not None and hi < 0:
            finding = "reduces-below-delta"
            body = f"{ot} reduces the {what} by {by} more than {con}, but by less than delta: {ruled_out} ({numbers})."
        elif lo is not None and lo > 0:
            finding = "larger"
            body = f"{ot} leaves a {what} larger by {by} than {con} does ({numbers})."
        else:
            finding = "no-extra-reduction"
            body = f"{ot} does not reduce the {what} detectably more than {con}, and {ruled_out} ({numbers})."
    else:
        finding, lead = "inconclusive", "Inconclusive"
        if hi is not None and hi < 0:
            from harness_reports._render import fmt_p_rel

            body = (
                f"the interval says {ot} reduces the {what} more than {con} ({numbers}), but the tests do not "
                f"reject at alpha = {opts.get('alpha')} (seed-level p {fmt_p_rel(diff.get('p_value_seed'))}, "
                f"query-level p {fmt_p_rel(diff.get('p_value_query'))})."
            )
        else:
            body = (
                f"the data allow both no extra reduction of the {what} by {ot} over {con} and one of "
                f"delta = {delta:g} or more ({numbers})."
            )
    context = baseline_context(q, what, level)
    if context:
        body = f"{body} {context}"
    return VerdictSummary(finding=finding, lead=lead, body=body, **common)


def baseline_context(q: Mapping[str, Any], what: str = "gap", level: int = 95) -> str:
    """A sentence when a compared method *widens* the gap relative to the baseline (its gap
    reduction vs the baseline has an interval entirely below 0), else ``""``.

    The verdict compares the two methods with each other; "reduces the gap more" is also true
    when both widen it and one widens it less.  This says so, with the figures.
    """
    base = q["methods"].get("baseline")
    if not base:
        return ""
    red = {s["method"]: s.get("gap_reduction_vs_baseline") for s in q.get("per_method") or ()}
    widened = []
    for m in (q["methods"]["ot"], q["methods"]["contrastive"]):
        r = red.get(m) or {}
        ci = r.get("ci")
        if r.get("estimate") is not None and ci and ci[1] is not None and ci[1] < 0:
            widened.append(f"{m} by {abs(r['estimate']):.4f} ({level}% CI [{-ci[1]:.4f}, {-ci[0]:.4f}])")
    if not widened:
        return ""
    verb = "widens" if len(widened) == 1 else "widen"
    return f"Relative to {base}, {' and '.join(widened)} {verb} the {what}: the comparison is between the two methods."


# --------------------------------------------------------------------------- the compact table
@dataclass(frozen=True)
class Cell:
    value: float | None
    low: float | None = None
    high: float | None = None

    @property
    def ci(self) -> tuple[float | None, float | None]:
        return (self.low, self.high)


@dataclass(frozen=True)
class HeadlineRow:
    """One method in the headline table: tier means, gap and gap reduction vs the baseline.

    For the question's methods every value and interval comes from ``question.per_method``.
    For the other methods the tier means and their intervals come from ``tier_means``; their
    gap is the difference of the two tier means (exact, the gap is linear in them) and has no
    interval, and no reduction vs the baseline is computed.
    """

    method: str
    role: str  # "ot" | "contrastive" | "baseline" | ""
    high: Cell
    low: Cell
    gap: Cell
    reduction: Cell | None


def _stat(s: Mapping[str, Any] | None) -> Cell:
    if not s:
        return Cell(None)
    lo, hi = s.get("ci") or (None, None)
    return Cell(s.get("estimate"), lo, hi)


def headline_rows(analysis: Mapping[str, Any]) -> list[HeadlineRow]:
    """Rows of the headline table: the question's methods first (ot, contrastive, baseline), then the others."""
    q, opts = analysis["question"], analysis["options"]
    pm = analysis["design"]["primary_metric"]
    hi_t, lo_t = opts["high_tier"], opts["low_tier"]
    rows: list[HeadlineRow] = []
    seen: set[str] = set()
    order = {"ot": 0, "contrastive": 1, "baseline": 2}
    for s in sorted(q.get("per_method") or (), key=lambda s: order.get(s["role"], 3)):
        rows.append(
            HeadlineRow(
                s["method"],
                s["role"],
                _stat(s["high_mean"]),
                _stat(s["low_mean"]),
                _stat(s["gap"]),
                _stat(s.get("gap_reduction_vs_baseline")) if s.get("gap_reduction_vs_baseline") else None,
            )
        )
        seen.add(s["method"])
    means = {(r["method"], r["tier"]): r for r in analysis["tier_means"] if r["metric"] == pm}
    for m in analysis["design"]["methods"]:
        if m in seen:
            continue
        h, lw = means.get((m, hi_t)), means.get((m, lo_t))
        high = Cell(h["mean"], *(h["ci"] or (None, None))) if h else Cell(None)
        low = Cell(lw["mean"], *(lw["ci"] or (None, None))) if lw else Cell(None)
        gap = Cell(high.value - low.value) if high.value is not None and low.value is not None else Cell(None)
        rows.append(HeadlineRow(m, "", high, low, gap, None))
    return rows


def plain_rows(rows: Sequence[HeadlineRow], digits: int = 3, sep: str = " ") -> list[list[str]]:
    """The headline table as text cells (terminal): method, high, low, gap, reduction vs baseline.

    A cell is ``"value [low, high]"``; ``sep`` goes between the value and its interval (``"\\n"``
    stacks them, for narrow terminals)."""

    def cell(c: Cell | None, signed: bool = False) -> str:
        if c is None or c.value is None:
            return "—"
        v = f"{c.value:+.{digits}f}" if signed else f"{c.value:.{digits}f}"
        if c.low is None or c.high is None:
            return v
        return f"{v}{sep}[{c.low:.{digits}f}, {c.high:.{digits}f}]"

    return [[r.method, cell(r.high), cell(r.low), cell(r.gap), cell(r.reduction, signed=True)] for r in rows]
