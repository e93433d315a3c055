"""CSV and LaTeX (booktabs) exports of the leaderboard and pairwise tables.

Written beside ``report.html``:

* ``leaderboard.csv`` -- every metric: per-language means (``scope = "language"``), tier
  means (``"tier"``) and means over all languages (``"all"``), with interval ends, standard
  error, seed SD and counts, exactly as in ``analysis.json``;
* ``pairwise.csv`` -- every comparison of every metric and scope, with all three p-values,
  the adjusted one and the decision;
* ``leaderboard.tex`` / ``pairwise.tex`` -- the primary metric's tables for a paper
  (``\\usepackage{booktabs}``; best mean per column in bold; significant differences starred).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from harness_reports.view import AnalysisView

LEADERBOARD_COLUMNS = [
    "metric",
    "method",
    "scope",
    "language",
    "tier",
    "mean",
    "ci_low",
    "ci_high",
    "ci_queries_low",
    "ci_queries_high",
    "se",
    "seed_sd",
    "n_seeds",
    "n_queries",
]
PAIRWISE_COLUMNS = [
    "metric",
    "method_a",
    "method_b",
    "language",
    "n_languages",
    "n_queries",
    "mean_a",
    "mean_b",
    "mean_diff",
    "ci_low",
    "ci_high",
    "effect_name",
    "effect",
    "p_t",
    "p_randomization",
    "p_hierarchical",
    "test",
    "correction",
    "p_adjusted",
    "significant",
    "mdd",
    "degenerate",
    "reason",
    "unit",
    "n_worlds",
    "diff_over_worlds",
    "ci_worlds_low",
    "ci_worlds_high",
    "p_worlds",
    "p_worlds_sign_flip",
    "per_world",
]


def _lohi(x: Any) -> tuple[Any, Any]:
    return (x[0], x[1]) if x else (None, None)


def leaderboard_frame(analysis: Mapping[str, Any]) -> pd.DataFrame:
    rows = []
    for scope, key in (("language", "per_method_language"), ("tier", "tier_means"), ("all", "method_means")):
        for r in analysis[key]:
            lo, hi = _lohi(r["ci"])
            qlo, qhi = _lohi(r["ci_queries"])
            rows.append(
                {
                    "metric": r["metric"],
                    "method": r["method"],
                    "scope": scope,
                    "language": r["language"] if scope == "language" else ";".join(r["languages"]),
                    "tier": r["tier"] if r["tier"] is not None else "all",
                    "mean": r["mean"],
                    "ci_low": lo,
                    "ci_high": hi,
                    "ci_queries_low": qlo,
                    "ci_queries_high": qhi,
                    "se": r["se"],
                    "seed_sd": r["seed_sd"],
                    "n_seeds": r["n_seeds"],
                    "n_queries": r.get("n_queries"),
                }
            )
    return pd.DataFrame(rows, columns=LEADERBOARD_COLUMNS)


def pairwise_frame(analysis: Mapping[str, Any]) -> pd.DataFrame:
    pw = analysis["pairwise"]
    rows = []
    for c in pw["comparisons"]:
        lo, hi = _lohi(c["ci"])
        rows.append(
            {
                "metric": c["metric"],
                "method_a": c["method_a"],
                "method_b": c["method_b"],
                "language": c["language"],
                "n_languages": c["n_languages"],
                "n_queries": c["n_queries"],
                "mean_a": c["mean_a"],
                "mean_b": c["mean_b"],
                "mean_diff": c["mean_diff"],
                "ci_low": lo,
                "ci_high": hi,
                "effect_name": c["effect"]["name"],
                "effect": c["effect"]["value"],
                "p_t": c["p_value"],
                "p_randomization": c["p_value_randomization"],
                "p_hierarchical": c["p_value_hierarchical"],
                "test": pw["test"],
                "correction": pw["correction"],
                "p_adjusted": c["p_adjusted"],
                "significant": c["significant"],
                "mdd": c["mdd"],
                "degenerate": c["degenerate"],
                "reason": c["reason"] or "",
                **_worlds_columns(pw, c.get("worlds")),
            }
        )
    return pd.DataFrame(rows, columns=PAIRWISE_COLUMNS)


def _worlds_columns(pw: Mapping[str, Any], w: Mapping[str, Any] | None) -> dict[str, Any]:
    """The test over worlds of one comparison (empty cells with one world); ``per_world``: ``world:diff:p``
    (``p``: that world's query-level test) joined by ``;``."""
    lo, hi = _lohi(w["ci"]) if w else (None, None)
    return {
        "unit": pw.get("unit", ""),
        "n_worlds": w["n_worlds"] if w else 1,
        "diff_over_worlds": w["estimate"] if w else None,
        "ci_worlds_low": lo,
        "ci_worlds_high": hi,
        "p_worlds": w["p_value"] if w else None,
        "p_worlds_sign_flip": w["p_value_sign_flip"] if w else None,
        "per_world": ";".join(
            f"{x['world']}:{x['mean_diff']:.6g}:{'' if x['p_value'] is None else format(x['p_value'], '.3g')}"
            for x in w["per_world"]
        )
        if w
        else "",
    }


def write_exports(
    run_dir: Path,
    analysis: Mapping[str, Any],
    view: AnalysisView,
    run_name: str,
    controls: Mapping[str, str] | None = None,
) -> list[Path]:
    """Write the CSV and LaTeX exports into ``run_dir`` atomically; return their paths.

    ``controls`` (method -> what it controls for, from the manifest) are marked in the LaTeX
    leaderboard with a dagger and named in its caption.

    With no analysis (``view.available`` false) nothing is written and stale exports are removed.
    """
    from harness.cache import atomic_write_text
    from harness_reports._render import render_latex

    run_dir = Path(run_dir)
    paths = [run_dir / n for n in ("leaderboard.csv", "pairwise.csv", "leaderboard.tex", "pairwise.tex")]
    if not view.available:
        for p in paths:
            p.unlink(missing_ok=True)
        return []
    pm = view.primary_metric
    board = view.leaderboards[0]
    pooled = [c for c in view.comparisons if c["metric"] == pm and c["language"] == "all"]
    summaries = {(s["method_a"], s["method_b"]): s for s in view.pair_summaries if s["metric"] == pm}
    ctx = {
        "board": board,
        "pooled": pooled,
        "summaries": summaries,
        "pw": view.pairwise,
        "name": run_name,
        "level": view.level,
        "primary": pm,
        "controls": dict(controls or {}),
    }
    atomic_write_text(paths[0], leaderboard_frame(analysis).to_csv(index=False, float_format="%.6g"))
    atomic_write_text(paths[1], pairwise_frame(analysis).to_csv(index=False, float_format="%.6g"))
    atomic_write_text(paths[2], render_latex("leaderboard.tex.j2", **ctx))
    atomic_write_text(paths[3], render_latex("pairwise.tex.j2", **ctx))
    return paths
