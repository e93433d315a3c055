"""``report.html`` of a run directory: figures, context and rendering.

:func:`render_report` is what :func:`harness.runner.run_matrix` calls at the end of a run;
:func:`rerender` is ``harness report DIR``.  The page is one self-contained file: CSS inline,
figures as SVG data URIs, no scripts and a Content-Security-Policy that forbids any fetch.
Given the same manifest, analysis and config, the output is byte-identical (figures carry
fixed ids and no dates), so a re-rendered report can be diffed against the original.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness_reports import plots
from harness_reports._render import fmt_ci
from harness_reports.setup import (
    SCOPE_NOTE,
    SYNTHETIC_NOTE,
    benchmark_info,
    cells_table,
    control_roles,
    failed_cells,
    hardware,
    methods_table,
    reproducibility,
)
from harness_reports.verdict import HeadlineRow, VerdictSummary, headline_rows, verdict_summary
from harness_reports.view import AnalysisView, _tier_order, build_view


def figures(v: AnalysisView, verdict: "VerdictSummary | None" = None) -> dict[str, plots.Plot | None]:
    """The report's figures (None where the analysis lacks the data)."""
    figs: dict[str, plots.Plot | None] = {
        k: None for k in ("verdict", "worlds", "leaderboard", "tiers", "dispersion", "variance", "pairwise", "seeds")
    }
    if not v.available:
        return figs
    pm, level = v.primary_metric, v.level
    board = v.leaderboards[0]
    cols = [*board.languages, *(f"{t} tier" for t in board.tiers), "all"]
    values = np.array(
        [[np.nan if e.value is None else e.value for e in (*r.languages, *r.tiers, r.overall)] for r in board.rows],
        dtype=float,
    )  # (n_methods, n_languages + n_tiers + 1)
    figs["leaderboard"] = plots.heatmap(
        values,
        [r.method for r in board.rows],
        cols,
        label=pm,
        alt=f"Heatmap of mean {pm} per method (rows: {', '.join(r.method for r in board.rows)}) and language "
        f"(columns: {', '.join(cols)}), with the value printed in each cell.",
        caption=f"Mean {pm} per method and language, per tier and over all languages (averaged over seeds). "
        "The same numbers, with intervals, are in the table above.",
    )

    tiers = sorted({t["tier"] for t in v.tier_means}, key=_tier_order)
    by_method = [
        (
            m,
            [
                plots.Interval(
                    label=f"{m} · {t['tier']}",
                    estimate=t["mean"],
                    low=(t["ci"] or [None])[0],
                    high=(t["ci"] or [None, None])[1],
                    group=f"{t['tier']} tier",
                )
                for tier in tiers
                for t in v.tier_means
                if t["method"] == m and t["tier"] == tier
            ],
        )
        for m in v.methods
    ]
    by_method = [(m, items) for m, items in by_method if items]
    if by_method:
        flat = [i for _, items in by_method for i in items]
        figs["tiers"] = plots.dumbbell(
            by_method,
            xlabel=f"mean {pm} over the tier's languages",
            alt=f"Dot plot of each method's mean {pm} per resource tier, one line per method with its tiers side by "
            f"side and {level}% intervals: " + "; ".join(f"{i.label} {i.estimate:.3f}" for i in flat),
            caption=f"Tier means per method ({pm}, mean of per-language means, averaged over seeds) with {level}% "
            "hierarchical-bootstrap intervals (seeds and queries resampled). The grey bar between a "
            "method's tiers is its gap.",
        )

    q = v.question
    if not q["degenerate"] and q["per_method"]:
        rows = []
        for stat in ("gap", "dispersion"):
            for s in q["per_method"]:
                st = s[stat]
                if st["estimate"] is not None:
                    rows.append(
                        plots.Interval(
                            f"{s['method']} · {stat}", st["estimate"], *(st["ci"] or (None, None)), group=stat
                        )
                    )
            d = q["difference"].get(stat)
            if d and d["estimate"] is not None:
                rows.append(
                    plots.Interval(
                        f"{q['methods']['treatment']} − {q['methods']['comparator']} · {stat}",
                        d["estimate"],
                        *(d["ci"] or (None, None)),
                        group="difference",
                    )
                )
        if rows:
            figs["dispersion"] = plots.forest(
                rows,
                xlabel=f"{pm}",
                reference=0.0,
                alt=f"Dot plot of the high-minus-low gap and the cross-language dispersion of {pm} per method, and "
                f"their differences between {q['methods']['treatment']} and {q['methods']['comparator']}, with "
                f"{level}% intervals: " + "; ".join(f"{i.label} {i.estimate:.4f}" for i in rows),
                caption=f"The question's statistics with {level}% hierarchical-bootstrap intervals: per method the "
                "high-minus-low gap and the dispersion (SD of per-language means), and the differences "
                f"{q['methods']['treatment']} minus {q['methods']['comparator']} (negative: smaller for "
                f"{q['methods']['treatment']}). The dashed line marks 0.",
            )

    vd = v.variance[0] if v.variance else None
    if vd is not None and not vd["degenerate"]:
        comps = vd["components"]
        figs["variance"] = plots.bars(
            [c["name"].replace("_x_", " × ") for c in comps],
            [c["share"] or 0.0 for c in comps],
            low=[(c["ci_share"] or [None])[0] for c in comps],
            high=[(c["ci_share"] or [None, None])[1] for c in comps],
            ylabel=f"share of {vd['metric']} variance",
            alt=f"Bar chart of the share of {vd['metric']} variance per component with {level}% intervals: "
            + "; ".join(f"{c['name']} {100 * (c['share'] or 0):.1f}%" for c in comps),
            caption=f"Variance components of {vd['metric']} as shares of the total, with {level}% intervals "
            "(whiskers). Negative moment estimates are reported as 0.",
        )

    mx = v.pair_matrix
    if mx is not None and len(mx.methods) > 1:
        vals = np.array([[np.nan if c is None or c.diff is None else c.diff for c in row] for row in mx.cells])
        figs["pairwise"] = plots.heatmap(
            vals,
            list(mx.methods),
            list(mx.methods),
            label=f"row − column ({pm})",
            center=0.0,
            fmt="{:+.3f}",
            alt=f"Heatmap of pairwise differences in {pm} over all languages, row method minus column method, "
            f"for methods {', '.join(mx.methods)}.",
            caption=f"Pairwise differences in {pm} over all languages (row minus column; blue: row better). "
            "Significance and intervals are in the matrix table above.",
        )

    # Each seed's score minus the method's mean over seeds: on one shared axis of raw scores the
    # differences between methods (tenths) would hide the seed spread (thousandths).
    points = {
        s["method"]: [(f"seed {x['seed']}", x["overall"] - s["mean"]) for x in s["scores"] if x["overall"] is not None]
        for s in v.seeds
        if s["mean"] is not None
    }
    if any(points.values()):
        figs["seeds"] = plots.strip(
            points,
            ylabel=f"{pm}: seed − mean over seeds",
            alt=f"Strip plot of each method's per-seed {pm} over all languages minus its mean over seeds: "
            + "; ".join(f"{m}: " + ", ".join(f"{val:+.4f}" for _, val in pts) for m, pts in points.items()),
            caption=f"Seed spread: each seed's {pm} (mean over languages) minus the method's mean over seeds, so "
            "methods of very different levels share one scale. How far apart a method's points are shows "
            "how much a single seed could mislead; the raw per-seed scores are in the table.",
            reference=0.0,
        )

    figs["worlds"] = generalisation_figure(v.question, level, pm)
    vs = verdict
    if vs is not None and vs.d is not None:
        what = vs.endpoint if vs.endpoint != "gap" else "gap"
        figs["verdict"] = plots.difference_band(
            vs.d,
            vs.low,
            vs.high,
            delta=vs.delta,
            label=f"D ({what})",
            better=f"{vs.treatment} reduces the {what} more",
            worse=f"{vs.comparator} reduces it more",
            alt=f"The difference D = {what}({vs.treatment}) − {what}({vs.comparator}) = {vs.d:+.4f} with its {level}% "
            f"interval {fmt_ci((vs.low, vs.high), 4)}, drawn against the band from −δ to +δ (δ = {vs.delta:g}).",
            caption=f"D = {what}({vs.treatment}) − {what}({vs.comparator}) with its {level}% hierarchical-bootstrap interval. "
            f"Grey band: ±δ (analysis.target_difference = {vs.delta:g}). An interval entirely left of −δ "
            "shows an extra reduction of δ or more; an interval whose lower end lies right of −δ rules such a "
            "reduction out.",
        )
    return figs


def generalisation_figure(q: Mapping[str, Any], level: Any, metric: str) -> plots.Plot | None:
    """Forest plot of D per world beside the pooled D (over worlds, and for these / languages like these)."""
    if q.get("degenerate"):
        return None
    wl, ls = q.get("world_level"), q.get("language_sample") or {}
    rows: list[plots.Interval] = []
    if wl:
        for w in wl["per_world"]:
            if w["estimate"] is not None:
                rows.append(
                    plots.Interval(f"world {w['world']}", w["estimate"], *(w["ci"] or (None, None)), "per world")
                )
        if wl["estimate"] is not None:
            rows.append(
                plots.Interval(
                    f"all {wl['n']} worlds (t, {wl['df']} df)", wl["estimate"], *(wl["ci"] or (None, None)), "pooled"
                )
            )
    d = (q.get("difference") or {}).get(q.get("endpoint", "gap")) or {}
    if d.get("estimate") is not None and (wl or ls.get("ci_languages_like_these")):
        rows.append(
            plots.Interval("these languages (bootstrap)", d["estimate"], *(d.get("ci") or (None, None)), "pooled")
        )
    if ls.get("ci_languages_like_these"):
        rows.append(plots.Interval("languages like these", ls["estimate"], *ls["ci_languages_like_these"], "pooled"))
    if not rows:
        return None
    decisive = (q.get("decisive_interval") or {}).get("scope", "")
    return plots.forest(
        rows,
        xlabel=f"D ({metric})",
        reference=0.0,
        alt="Forest plot of D: " + "; ".join(f"{r.label} {r.estimate:+.4f}" for r in rows),
        caption=f"D per world (each world analysed alone, {level}% hierarchical-bootstrap intervals) beside the pooled "
        "D: over worlds (t over the per-world D), for these languages (hierarchical bootstrap) and for languages "
        f"like these (languages resampled within their tier). The verdict is decided on: {decisive or 'n/a'}.",
    )


def protocol_context(analysis: Mapping[str, Any] | None, manifest: Mapping[str, Any]) -> dict[str, Any]:
    """The comparison protocol (what the dev rule chose), the budget curves and data warnings, for the report."""
    a = analysis or {}
    protocol = a.get("protocol") or {}
    curves = a.get("budget_curves") or {}
    points = [p for p in curves.get("points", []) if "D" in p]
    rows = []
    for group, sel in (protocol.get("selections") or {}).items():
        c = sel.get("chosen") or {}
        rows.append(
            {
                "group": group,
                "chosen": c.get("method"),
                "steps": c.get("steps"),
                "dev": c.get("dev_score"),
                "grid": sel.get("grid_size"),
                "swept": sel.get("swept") or {},
            }
        )
    fig = None
    if len(points) >= 2:
        delta = float(((a.get("options") or {}).get("target_difference")) or 0.02)
        metric = curves.get("primary_metric", "")
        tier_curves: dict[str, list[tuple[int, float]]] = {}
        for p in points:
            for t in p.get("tier_means") or []:
                if t.get("method") in (
                    curves.get("treatment") or curves.get("ot_method"),
                    curves.get("comparator") or curves.get("contrastive_method"),
                ):
                    tier_curves.setdefault(f"{t['method']} · {t['tier']}", []).append((p["steps"], t["mean"]))
        fig = plots.budget_curves(
            [p["steps"] for p in points],
            [p["D"] for p in points],
            [(p.get("ci") or [None])[0] for p in points],
            [(p.get("ci") or [None, None])[1] for p in points],
            tier_curves,
            delta=delta,
            metric=metric,
            crossovers=[tuple(c["between_steps"]) for c in curves.get("crossovers", [])],
            treatment=str(curves.get("treatment") or curves.get("ot_method") or "treatment"),
            comparator=str(curves.get("comparator") or curves.get("contrastive_method") or "comparator"),
            alt=f"D against the training budget at {len(points)} budgets, with its confidence band and the ±{delta:g} "
            "band; beside it each compared method's tier means against the budget.",
            caption="Left: the question's D (gap of the treatment minus gap of the comparator) at each shared budget, "
            "computed as the headline is (test queries), with its CI; shaded orange: budgets between which D changes "
            "sign. Right: high- and low-tier means of both methods at each budget (colour: method; line style and "
            "marker: tier).",
        )
    return {
        "rule": protocol.get("rule"),
        "tuned_on": protocol.get("tuned_on"),
        "warnings": protocol.get("warnings", []),
        "selections": rows,
        "points": points,
        "crossovers": curves.get("crossovers", []),
        "holds": curves.get("verdict_holds_across_budgets"),
        "verdicts": curves.get("verdicts", []),
        "curve_note": curves.get("note"),
        "figure": fig,
        "data_problems": dict(manifest.get("data_problems") or {}),
        "mode": a.get("mode") or (manifest.get("benchmark") or {}).get("mode"),
    }


MODE_WORDS = {
    "monolingual": "queries and passages in each language",
    "cross-lingual": "queries in each language, passages in the pivot language",
}


def mode_headlines(analysis: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """Per evaluation mode: its question, verdict and tier-means table (every method, controls included).

    One entry per mode of a run with several (:func:`harness.modes.analyses`); empty for a one-mode run,
    whose headline is the report's own.
    """
    from harness.modes import analyses

    parts = analyses(analysis)
    if len(parts) < 2:
        return []
    out = []
    for mode, a in parts:
        v = build_view(a)
        vs = verdict_summary(a) if v.available and a is not None else None
        out.append(
            {
                "mode": mode,
                "words": MODE_WORDS.get(str(mode), ""),
                "v": v,
                "figs": figures(v, vs),  # the mode's detailed sections (leaderboard, variance, pairwise, ...)
                "verdict": vs,
                "headline": headline_rows(a) if v.available and a is not None else [],
                "protocol": protocol_context(a, {}),
            }
        )
    return out


def build_context(
    run_dir: Path, manifest: Mapping[str, Any], analysis: Mapping[str, Any] | None, results: pd.DataFrame | None = None
) -> dict[str, Any]:
    """Everything ``report.html.j2`` renders.  ``results`` is not needed (every number is in the analysis).

    With several evaluation modes ``modes`` holds every mode's headline, view and figures: each
    mode gets its own detailed sections (leaderboard, tiers, variance, pairwise, seeds, power;
    the first mode's with the plain ids, the others' ids suffixed ``-<mode>``).
    """
    manifest = dict(manifest)
    view = build_view(analysis)
    verdict: VerdictSummary | None = verdict_summary(analysis) if view.available else None
    headline: list[HeadlineRow] = headline_rows(analysis) if view.available else []
    run = {
        "name": str(manifest.get("name", Path(run_dir).name)),
        "description": str((manifest.get("config") or {}).get("description") or ""),
        "status": str(manifest.get("status", "unknown")),
        "dir": str(run_dir),
        "seeds": manifest.get("seeds") or [],
        "metrics": manifest.get("metrics") or [],
    }
    return {
        "run": run,
        "bench": benchmark_info(manifest),
        "hw": hardware(manifest),
        "methods": methods_table(manifest),
        # method -> what it controls for: tables mark these entries as controls beside the methods
        "controls": control_roles(manifest),
        "cells": cells_table(manifest),
        "failed": failed_cells(manifest),
        "repro": reproducibility(run_dir, manifest),
        "v": view,
        "verdict": verdict,
        "headline": headline,
        "figs": figures(view, verdict),
        "notes": {"scope": SCOPE_NOTE, "synthetic": SYNTHETIC_NOTE},
        "harness_version": str(manifest.get("harness_version", "")),
        "protocol": protocol_context(analysis, manifest),
        "modes": mode_headlines(analysis),
    }


def render_report(
    run_dir: str | Path,
    *,
    manifest: Mapping[str, Any],
    analysis: Mapping[str, Any] | None,
    results: pd.DataFrame | None = None,
    out_dir: str | Path | None = None,
) -> Path:
    """Write ``report.html`` and the CSV/LaTeX exports (atomically) into ``out_dir`` (default ``run_dir``).

    Returns the report's path.  The runner renders into the run directory it is writing;
    :func:`rerender` renders a finished run beside it.
    """
    from harness.cache import atomic_write_text
    from harness_reports._render import render_html
    from harness_reports.exports import write_exports

    run_dir = Path(run_dir)
    out = Path(out_dir) if out_dir is not None else run_dir
    ctx = build_context(run_dir, manifest, analysis, results)
    html = render_html("report.html.j2", **ctx)
    write_exports(out, analysis or {}, ctx["v"], ctx["run"]["name"], controls=ctx["controls"])
    atomic_write_text(out / "report.html", html)
    return out / "report.html"


def report_dir(run_dir: str | Path) -> Path:
    """Where ``harness report DIR`` writes by default: ``<DIR>-report`` beside the run directory."""
    run_dir = Path(run_dir).resolve()
    return run_dir.with_name(run_dir.name + "-report")


def rerender(run_dir: str | Path, out_dir: str | Path | None = None, *, force: bool = False) -> Path:
    """``harness report DIR``: re-render from the stored files, without training, beside the run.

    A finished run directory is a record, so nothing inside it is rewritten: the report, its
    exports and (when recomputed) ``analysis.json`` go to ``out_dir`` (default
    :func:`report_dir`, ``<DIR>-report``; a directory holding anything but an earlier
    re-rendering is refused).  ``force=True`` writes them inside ``run_dir`` instead,
    replacing its ``report.html`` and exports (``harness report DIR --force``).

    ``analysis.json`` is recomputed from ``results.parquet`` (with the run's analysis options
    and tiers, through :func:`harness.stats.analyze`) only when it is missing or was written
    with another schema version; otherwise the stored numbers are shown as they are.
    """
    from harness.cache import atomic_write_text
    from harness_reports.rundir import RunDirectoryError, load_manifest, require_file

    run_dir = Path(run_dir)
    manifest = load_manifest(run_dir)
    if force:
        out = run_dir
    else:
        out = Path(out_dir) if out_dir is not None else report_dir(run_dir)
        r, o = run_dir.resolve(), out.resolve()
        if o == r or r in o.parents:
            raise RunDirectoryError(
                f"--out {out} lies inside the run directory {run_dir}, which is never modified; choose a directory "
                "outside it, or pass --force to overwrite the run's own report.html"
            )
        if o.is_dir() and any(p.name != "report.html" and not p.name.startswith(_EXPORTS) for p in o.iterdir()):
            raise RunDirectoryError(
                f"output directory {out} holds files other than an earlier re-rendered report; remove it or give "
                "another with --out"
            )
        out.mkdir(parents=True, exist_ok=True)
    path = run_dir / "analysis.json"
    analysis = json.loads(path.read_text()) if path.is_file() else None
    if _stale(analysis):
        results = pd.read_parquet(require_file(run_dir, "results.parquet", "the per-query results table"))
        analysis = analyze_stored(results, manifest)
        atomic_write_text(out / "analysis.json", json.dumps(analysis, indent=2, allow_nan=False))
    return render_report(run_dir, manifest=manifest, analysis=analysis, out_dir=out)


#: files a re-rendering writes (report.html aside): analysis.json, leaderboard/pairwise csv and tex
_EXPORTS = ("analysis", "leaderboard", "pairwise", ".tmp")


def _stale(analysis: Mapping[str, Any] | None) -> bool:
    from harness.stats.analysis import SCHEMA_VERSION

    if analysis is None:
        return True
    if "error" in analysis and "design" not in analysis:
        return False  # the run's own record that statistics were impossible (e.g. no finished cell)
    return analysis.get("schema_version") != SCHEMA_VERSION


def analyze_stored(results: pd.DataFrame, manifest: Mapping[str, Any]) -> dict[str, Any]:
    """``harness.stats.analyze`` on a stored run (its analysis options and tiers), as JSON data."""
    from harness.errors import StatisticsError
    from harness.modes import analyse_per_mode, modes_of
    from harness.stats import analyze

    if results.empty:
        return {"error": "no finished cells: nothing to analyse"}
    from harness.stats.options import resolve_for_mode

    config = manifest.get("config") or {}
    tiers = (manifest.get("benchmark") or {}).get("tiers") or None
    pivot = (manifest.get("benchmark") or {}).get("pivot")

    def one(mode: str, rows: pd.DataFrame) -> dict[str, Any]:
        options = resolve_for_mode(config.get("analysis") or {}, config.get("question"), mode or None)
        try:
            return analyze(rows, options, tiers=tiers, pivot=pivot).to_dict()
        except StatisticsError as e:
            return {"error": str(e)}

    if "mode" not in results.columns:  # a run written before results carried the mode
        return one("", results)
    return analyse_per_mode(results, modes_of(results), one)
