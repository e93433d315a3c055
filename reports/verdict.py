"""The answer to the question in words: one sentence and a compact table, from ``analysis.json``.

This module is the single place where the verdict is phrased; the HTML headline
(``report.html.j2``) and the terminal summary (:mod:`reports.terminal`) both show
:func:`verdict_summary` and :func:`headline_rows`.  It reads only fields of
``analysis["question"]`` and ``analysis["options"]``:

* ``verdict`` (``yes`` / ``no`` / ``inconclusive``, decided by :mod:`harness.stats.question`),
* ``difference[endpoint]``: ``D = E(treatment) - E(comparator)`` with its interval ``[lo, hi]``,
  ``p_value_seed`` and ``p_value_query``,
* ``low_tier_gain``: the co-primary endpoint, each compared method's low-tier gain over the
  baseline (shown beside D, never instead of it),
* ``options.target_difference`` (delta), ``options.alpha``, ``options.ci_level``,
* ``budget_curves`` (beside the question): when the verdict differs between the budgets
  the compared methods share, the sentence starts with the verdict at each budget ("yes at
  219 steps, no at 438 and 657") and then gives the answer at the budgets chosen on dev:
  the dev-chosen answer is never shown alone.

Analyses written before the roles were generic (``methods: {ot, contrastive}``) read the
same (:func:`question_of`).

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
    lead: str  # "Yes", "No", "Yes, but by less than delta", "Inconclusive", "Not answered", "Depends on the budget"
    body: str  # the rest of the sentence (what was found, with D and its interval)
    treatment: str
    comparator: str
    metric: str
    endpoint: str
    d: float | None
    low: float | None
    high: float | None
    delta: float
    level: int
    gain: str = ""  # the co-primary endpoint in words ("" without a baseline)
    budgets: str = ""  # the verdict per shared budget, when it differs between budgets ("" otherwise)
    warnings: tuple[str, ...] = ()  # what the reader must know beside the verdict (too few seeds)

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


#: role names of analyses written before the roles were generic
_OLD_ROLES = {"ot": "treatment", "contrastive": "comparator"}


def question_of(analysis: Mapping[str, Any]) -> dict[str, Any]:
    """``analysis["question"]`` with the generic role names (``treatment``, ``comparator``, ``baseline``).

    Analyses of schema 2 named the roles ``ot`` and ``contrastive``; they are renamed here, so
    every reader sees one shape.
    """
    q = dict(analysis["question"])
    q["methods"] = {_OLD_ROLES.get(k, k): v for k, v in (q.get("methods") or {}).items()}
    q["per_method"] = [{**s, "role": _OLD_ROLES.get(s["role"], s["role"])} for s in q.get("per_method") or ()]
    if isinstance(q.get("interaction"), Mapping):
        q["interaction"] = {"note": None, **q["interaction"]}
    q.setdefault("low_tier_gain", {})
    q.setdefault("excluded_languages", [])
    return q


def question_text(q: Mapping[str, Any], options: Mapping[str, Any]) -> str:
    ot, con = q["methods"]["treatment"], q["methods"]["comparator"]
    hi, lo = options["high_tier"], options["low_tier"]
    text = f"Does {ot} reduce the {q['metric']} gap between {hi}- and {lo}-resource languages more than {con}?"
    if q.get("excluded_languages"):
        text += f" (pivot {', '.join(q['excluded_languages'])} left out of the tiers)"
    return text


def _steps_list(steps: Sequence[int]) -> str:
    """``[438, 657]`` -> ``"438 and 657"``."""
    words = [str(s) for s in steps]
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def budget_sentence(analysis: Mapping[str, Any]) -> str:
    """``"yes at 219 steps, no at 438 and 657"`` when the verdict differs between shared budgets, else ``""``."""
    curves = analysis.get("budget_curves") or {}
    points = [p for p in curves.get("points") or () if p.get("verdict")]
    if len({p["verdict"] for p in points}) < 2:
        return ""
    by: dict[str, list[int]] = {}
    for p in sorted(points, key=lambda p: p["steps"]):
        by.setdefault(p["verdict"], []).append(int(p["steps"]))
    return ", ".join(f"{v} at {_steps_list(s)} step{'s' if len(s) > 1 or s[0] != 1 else ''}" for v, s in by.items())


def dev_choices(analysis: Mapping[str, Any], methods: Sequence[str]) -> str:
    """The budgets the dev rule chose for ``methods`` (``"ot-distill: 219 steps, contrastive: final (657 steps)"``)."""
    sel = ((analysis.get("protocol") or {}).get("selections")) or {}
    steps = [int(p["steps"]) for p in ((analysis.get("budget_curves") or {}).get("points") or ()) if "steps" in p]
    final = f"final ({max(steps)} steps)" if steps else "final"
    parts = []
    for m in methods:
        c = (sel.get(m) or {}).get("chosen") or {}
        if not c:
            continue
        st = c.get("steps")
        parts.append(f"{m}: {final if st is None else ('untrained, 0 steps' if st == 0 else f'{st} steps')}")
    return ", ".join(parts)


def gain_sentence(q: Mapping[str, Any], low: str = "low", level: int = 95, digits: int = 3) -> str:
    """The co-primary endpoint in words: each compared method's low-tier gain over the baseline."""
    base, gains = q["methods"].get("baseline"), q.get("low_tier_gain") or {}
    parts = []
    for m in (q["methods"]["treatment"], q["methods"]["comparator"]):
        g = gains.get(m) or {}
        if g.get("estimate") is None:
            continue
        ci = g.get("ci")
        iv = (
            f"{level}% CI [{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]"
            if ci and None not in ci
            else (g.get("reason") or "no interval").split(";")[0]
        )
        parts.append(f"{m} {g['estimate']:+.{digits}f} ({iv})")
    if not base or not parts:
        return ""
    return f"Gain of the {low} tier over {base} (co-primary endpoint): {'; '.join(parts)}."


def verdict_summary(analysis: Mapping[str, Any]) -> VerdictSummary:
    """The verdict sentence for ``analysis`` (an ``analysis.json`` mapping with a ``question``)."""
    opts = analysis["options"]
    q = question_of(analysis)
    ot, con = q["methods"]["treatment"], q["methods"]["comparator"]
    endpoint = q["endpoint"]
    what = ENDPOINT_WORDS.get(endpoint, endpoint)
    delta = float(opts["target_difference"])
    level = int(round(100 * float(opts.get("ci_level", 0.95))))
    verdict = q["verdict"]
    diff = (q.get("difference") or {}).get(endpoint) or {}
    d = diff.get("estimate")
    lo, hi = diff.get("ci") or (None, None)
    # the sentence quotes the interval that decided the verdict (worlds, languages like these, these languages)
    dec = q.get("decisive_interval") or {}
    scope = ""
    if dec.get("estimate") is not None and dec.get("ci") and None not in dec["ci"]:
        d, (lo, hi) = dec["estimate"], dec["ci"]
        scope = {"worlds": " over worlds", "languages like these": " for languages like these"}.get(
            str(dec.get("scope")), ""
        )
    common = dict(
        verdict=verdict,
        question=question_text(q, opts),
        treatment=ot,
        comparator=con,
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
    few = lo is None and "too few seeds" in str(diff.get("reason") or "")
    numbers = (
        f"D = {_f(d)}, {level}% CI [{_f(lo, signed=False)}, {_f(hi, signed=False)}]{scope}"
        if lo is not None
        else f"D = {_f(d)}, {'too few seeds for an interval' if few else 'no interval'}"
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
        if few:
            body = (
                f"too few seeds for an interval: {ot} minus {con} in the {what} is {_f(d)}, with fewer than 3 seeds "
                "per method no interval is given and nothing is decided; run at least 3 seeds."
            )
        elif hi is not None and hi < 0:
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
    budgets = budget_sentence(analysis)
    if budgets:  # the dev-chosen answer is never shown alone
        chosen = dev_choices(analysis, (ot, con))
        body = (
            f"{budgets} (budgets shared by {ot} and {con}). At the budgets chosen on dev"
            f"{f' ({chosen})' if chosen else ''}: {lead.lower() if lead != 'Yes, but by less than delta' else lead}, "
            f"{body}"
        )
        lead = "Depends on the budget"
    warn = tuple(w for w in analysis.get("warnings") or () if w.startswith("too few seeds"))
    return VerdictSummary(
        finding=finding,
        lead=lead,
        body=body,
        gain=gain_sentence(q, str(opts.get("low_tier", "low")), level),
        budgets=budgets,
        warnings=warn,
        **common,
    )


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
    for m in (q["methods"]["treatment"], q["methods"]["comparator"]):
        r = red.get(m) or {}
        ci = r.get("ci")
        if r.get("estimate") is not None and ci and ci[1] is not None and ci[1] < 0:
            widened.append((m, f"by {abs(r['estimate']):.3f} [{-ci[1]:.3f}, {-ci[0]:.3f}]"))
    if not widened:
        return ""
    if len(widened) == 1:
        (m, by), verb = widened[0], "widens"
        said = f"{m} {verb} the {what} {by}"
    else:
        said = f"{widened[0][0]} widens the {what} {widened[0][1]} and {widened[1][0]} {widened[1][1]}"
    return (
        f"Relative to {base}, {said} ({level}% CI); the verdict compares the two methods with each other, "
        f"not with {base}."
    )


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
    role: str  # "treatment" | "comparator" | "baseline" | ""
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
    """Rows of the headline table: the question's methods first (treatment, comparator, baseline), then the others."""
    q, opts = question_of(analysis), analysis["options"]
    pm = analysis["design"]["primary_metric"]
    hi_t, lo_t = opts["high_tier"], opts["low_tier"]
    rows: list[HeadlineRow] = []
    seen: set[str] = set()
    order = {"treatment": 0, "comparator": 1, "baseline": 2}
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
