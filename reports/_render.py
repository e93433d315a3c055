"""jinja2 environments for HTML and LaTeX, and the number formatting both share.

HTML: autoescape on and ``StrictUndefined``, so every value from a run (method names, options,
plugin descriptions, error messages) is escaped and a missing value is an error rather than a
blank cell.  LaTeX: jinja2's autoescape knows only HTML, so the LaTeX environment escapes every
``<< value >>`` through ``finalize`` (:func:`latex_escape`); template text itself is trusted.
Nothing here builds markup by string concatenation.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import jinja2

DASH = "\u2014"  # shown for a missing or undefined number


def _is_missing(x: Any) -> bool:
    return x is None or (isinstance(x, float) and not math.isfinite(x))


def fmt_num(x: Any, digits: int = 3) -> str:
    """``x`` with ``digits`` decimals, or an em dash for None / NaN / inf."""
    if _is_missing(x):
        return DASH
    return f"{float(x):.{digits}f}"


def fmt_signed(x: Any, digits: int = 3) -> str:
    """Like :func:`fmt_num` with an explicit sign (differences)."""
    if _is_missing(x):
        return DASH
    return f"{float(x):+.{digits}f}"


def fmt_p(p: Any) -> str:
    """A p-value: ``< 0.001`` below 0.001, 4 decimals below 0.01, else 3 decimals."""
    if _is_missing(p):
        return DASH
    p = float(p)
    if p < 0.001:
        return "< 0.001"
    if p < 0.01:
        return f"{p:.4f}"
    return f"{p:.3f}"


def fmt_p_rel(p: Any) -> str:
    """A p-value after its name: ``= 0.026``, ``< 0.001`` (never ``= < 0.001``), or ``= —``."""
    text = fmt_p(p)
    return text if text.startswith("<") else f"= {text}"


def fmt_pct(x: Any, digits: int = 1) -> str:
    if _is_missing(x):
        return DASH
    return f"{100 * float(x):.{digits}f}%"


def fmt_ci(pair: Any, digits: int = 3) -> str:
    """``[lo, hi]`` of a (lo, hi) pair."""
    if pair is None:
        return DASH
    lo, hi = pair
    if _is_missing(lo) or _is_missing(hi):
        return DASH
    return f"[{float(lo):.{digits}f}, {float(hi):.{digits}f}]"


def fmt_seconds(s: Any) -> str:
    if _is_missing(s):
        return DASH
    s = float(s)
    if s < 120:
        return f"{s:.1f} s"
    if s < 7200:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.2f} h"


FILTERS = {
    "num": fmt_num,
    "signed": fmt_signed,
    "p": fmt_p,
    "prel": fmt_p_rel,
    "pct": fmt_pct,
    "ci": fmt_ci,
    "seconds": fmt_seconds,
}

_LATEX_SPECIALS = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
}


def latex_escape(value: Any) -> str:
    """Escape LaTeX's special characters in ``str(value)`` (the LaTeX environment's finalize)."""
    return "".join(_LATEX_SPECIALS.get(ch, ch) for ch in str(value))


@functools.cache
def html_env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("harness_reports", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(FILTERS)
    return env


@functools.cache
def latex_env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("harness_reports", "templates"),
        autoescape=False,
        finalize=latex_escape,
        undefined=jinja2.StrictUndefined,
        block_start_string="<%",
        block_end_string="%>",
        variable_start_string="<<",
        variable_end_string=">>",
        comment_start_string="<#",
        comment_end_string="#>",
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(FILTERS)
    return env


def render_html(template: str, **context: Any) -> str:
    return html_env().get_template(template).render(**context)


def render_latex(template: str, **context: Any) -> str:
    return latex_env().get_template(template).render(**context)
