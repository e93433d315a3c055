"""The sensitivity report: the question's verdict and D per point of a sweep, as a robustness map.

Input is ``sensitivity.json`` (:func:`harness.sweep.summarise`); nothing is computed here but
the layout: one panel per axis (the default point and the points that move that axis alone),
one panel for the other points (corners, grid points), and a table of every point.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from harness_reports import plots
from harness_reports._render import render_html


def _value_text(v: Any) -> str:
    return format(v, "g") if isinstance(v, float) else str(v).lower() if isinstance(v, bool) else str(v)


def _row(point: Mapping[str, Any], label: str) -> plots.MapRow:
    ci = point.get("ci") or (None, None)
    return plots.MapRow(
        label=label,
        estimate=point.get("D"),
        low=ci[0],
        high=ci[1],
        verdict=str(point.get("verdict") or "missing"),
        default=point.get("kind") == "default",
    )


def map_panels(sensitivity: Mapping[str, Any]) -> list[tuple[str, list[plots.MapRow]]]:
    """Panels of the map: per axis, its values in order (the default point at the base value);
    then the points that move two or more axes, labelled by their settings."""
    points: Sequence[Mapping[str, Any]] = sensitivity["points"]
    default = next((p for p in points if p["kind"] == "default"), None)
    panels: list[tuple[str, list[plots.MapRow]]] = []
    for axis in sensitivity["axes"]:
        key = axis["key"]
        rows = []
        for v in axis["values"]:
            if default is not None and _value_text(v) == _value_text(axis["base"]):
                rows.append(_row(default, f"{_value_text(v)}"))
                continue
            p = next((p for p in points if list(p["settings"]) == [key] and p["settings"][key] == v), None)
            if p is not None:
                rows.append(_row(p, _value_text(v)))
        if rows:
            panels.append((f"{axis['label']} ({key})", rows))
    labels = {a["key"]: a["label"] for a in sensitivity["axes"]}
    others = [p for p in points if len(p["settings"]) > 1]
    if others:
        rows = [_row(p, ", ".join(f"{labels[k]} = {_value_text(v)}" for k, v in p["settings"].items())) for p in others]
        if default is not None:
            rows.insert(0, _row(default, "all at the default"))
        panels.append(("points moving several axes", rows))
    return panels


def figure(sensitivity: Mapping[str, Any]) -> plots.Plot | None:
    """The robustness map (None when no point has a D)."""
    panels = map_panels(sensitivity)
    if not any(r.estimate is not None for _, rows in panels for r in rows):
        return None
    q = sensitivity["question"]
    n_worlds = len(sensitivity["worlds"])
    return plots.robustness_map(
        panels,
        delta=float(sensitivity["target_difference"]),
        xlabel=f"D = gap({q['treatment']}) - gap({q['comparator']})",
        alt=f"Robustness map: D and its interval per sweep point, one panel per axis, coloured by verdict "
        f"({', '.join(sensitivity['verdicts'])})",
        caption=f"D per point with the interval that decided its verdict (over {n_worlds} worlds per point); "
        f"negative D: {q['treatment']} leaves a smaller high-low gap than {q['comparator']}. The diamond is the "
        "default point; dashed line: 0, dotted: -delta, the verdict rule's margin.",
    )


def headline(sensitivity: Mapping[str, Any]) -> list[str]:
    """Sentences derived from the points' verdicts (never written by hand)."""
    points = sensitivity["points"]
    q = sensitivity["question"]
    out = []
    default = next((p for p in points if p["kind"] == "default"), None)
    if default is not None:
        out.append(
            f'At the default point the answer to "does {q["treatment"]} reduce the high-low gap more than '
            f'{q["comparator"]}?" is {default.get("verdict") or "missing"}.'
        )
    counts: dict[str, int] = {}
    for p in points:
        counts[str(p.get("verdict") or "missing")] = counts.get(str(p.get("verdict") or "missing"), 0) + 1
    parts = ", ".join(f"{v} at {n}" for v, n in sorted(counts.items(), key=lambda kv: -kv[1]))
    out.append(f"Over the {len(points)} points: {parts}.")
    if sensitivity.get("verdict_holds_everywhere"):
        out.append("The verdict is the same at every point of this map.")
    else:
        moved = [
            p["id"]
            for p in points
            if default is not None and p["kind"] != "default" and p.get("verdict") != default.get("verdict")
        ]
        if moved:
            out.append("The verdict differs from the default's at: " + ", ".join(moved) + ".")
    return out


def render_sensitivity(
    run_dir: str | Path, *, sensitivity: Mapping[str, Any], out_dir: str | Path | None = None
) -> Path:
    """Write ``sensitivity.html`` into ``out_dir`` (default ``run_dir``, the sweep directory) and return its path;
    the links to the points' reports are relative to it."""
    import os

    from harness import __version__
    from harness.cache import atomic_write_text

    out = Path(out_dir) if out_dir is not None else Path(run_dir)
    prefix = os.path.relpath(Path(run_dir).resolve(), out.resolve())
    html = render_html(
        "sensitivity.html.j2",
        s=sensitivity,
        fig=figure(sensitivity),
        headline=headline(sensitivity),
        axes_keys=[a["key"] for a in sensitivity["axes"]],
        fmt_value=_value_text,
        href=lambda rel: rel if prefix == "." else f"{prefix}/{rel}",
        harness_version=__version__,
    )
    path = out / "sensitivity.html"
    atomic_write_text(path, html)
    return path


def rerender_sensitivity(sweep_dir: str | Path, out_dir: str | Path | None = None, *, force: bool = False) -> Path:
    """``harness report SWEEP_DIR``: the robustness map again from ``sensitivity.json``, beside the sweep
    directory (default ``<SWEEP_DIR>-report``; ``force``: inside it, replacing its ``sensitivity.html``)."""
    import json

    from harness_reports.report import report_dir
    from harness_reports.rundir import RunDirectoryError, require_file

    sweep_dir = Path(sweep_dir)
    sensitivity = json.loads(require_file(sweep_dir, "sensitivity.json", "the sweep's per-point summary").read_text())
    out = sweep_dir if force else Path(out_dir) if out_dir is not None else report_dir(sweep_dir)
    if not force:
        r, o = sweep_dir.resolve(), out.resolve()
        if o == r or r in o.parents:
            raise RunDirectoryError(
                f"--out {out} lies inside the sweep directory {sweep_dir}, which is never modified; choose a "
                "directory outside it, or pass --force to overwrite its sensitivity.html"
            )
        out.mkdir(parents=True, exist_ok=True)
    return render_sensitivity(sweep_dir, sensitivity=sensitivity, out_dir=out)
