"""Figures of the reports, drawn with matplotlib and embedded as SVG data URIs.

Every function takes numbers that the statistics package already computed (means, interval
ends, shares) and returns a :class:`Plot`: an ``<img>``-ready ``data:image/svg+xml`` URI plus
the alt text and caption the template shows.  An SVG loaded through ``<img>`` cannot run
scripts, so method names drawn into a figure are inert.  Figures use matplotlib's
object-oriented API (no pyplot, no global state) and fixed SVG ids and metadata, so the same
numbers give byte-identical files.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

# Okabe-Ito colour-blind-safe palette
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
RC: "dict[RcKeyType, Any]" = {  # keys checked by mypy against matplotlib's rc names
    "svg.fonttype": "none",  # text stays text: smaller files, selectable, scales when printed
    "svg.hashsalt": "harness-report",
    "font.family": "sans-serif",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 10,
}


@dataclass(frozen=True)
class Plot:
    """An embedded figure: ``uri`` (data URI of an SVG), ``alt`` text and ``caption``."""

    uri: str
    alt: str
    caption: str


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _encode(fig, alt: str, caption: str) -> Plot:
    import matplotlib

    buf = io.BytesIO()
    with matplotlib.rc_context(RC):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return Plot(uri=f"data:image/svg+xml;base64,{data}", alt=alt, caption=caption)


def _color(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def _style(fn):
    """Run a figure builder inside the report's rc settings (fonts, spines)."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        import matplotlib

        with matplotlib.rc_context(RC):
            return fn(*args, **kwargs)

    return wrapper


def _unclash_xticks(fig, ax, pad_px: float = 3.0) -> None:
    """Tilt ``ax``'s x tick labels if, laid out flat, two of them would come closer than ``pad_px``.

    Tilted labels are parallel lines ``dx`` apart along the axis (the tick spacing), so the
    gap between two of them is ``dx * sin(angle)`` minus the text height ``h``: 35 degrees
    (anchored at the right end) where ``dx * sin(35) >= h + pad_px``, else vertical.
    """
    import math

    fig.draw_without_rendering()
    labels = [t for t in ax.get_xticklabels() if t.get_text()]
    boxes = sorted((t.get_window_extent() for t in labels), key=lambda b: b.x0)
    if not any(a.x1 + pad_px > b.x0 for a, b in zip(boxes, boxes[1:])):
        return
    centers = [(b.x0 + b.x1) / 2 for b in boxes]
    dx = min(b - a for a, b in zip(centers, centers[1:]))
    h = max(b.height for b in boxes)
    angle = 35 if dx * math.sin(math.radians(35)) >= h + pad_px else 90
    for t in labels:
        t.set_rotation(angle)
        t.set_horizontalalignment("right" if angle < 90 else "center")
        t.set_rotation_mode("anchor" if angle < 90 else "default")


@_style
def heatmap(
    values: np.ndarray,
    rows: Sequence[str],
    cols: Sequence[str],
    *,
    label: str,
    alt: str,
    caption: str,
    center: float | None = None,
    fmt: str = "{:.3f}",
) -> Plot:
    """Annotated heatmap of ``values`` (shape ``(len(rows), len(cols))``; NaN cells left blank).

    ``center`` set: a diverging colour map symmetric around it (for differences).
    """
    return _encode(heatmap_figure(values, rows, cols, label=label, center=center, fmt=fmt), alt, caption)


@_style
def heatmap_figure(
    values: np.ndarray,
    rows: Sequence[str],
    cols: Sequence[str],
    *,
    label: str,
    center: float | None = None,
    fmt: str = "{:.3f}",
):
    """The matplotlib figure of :func:`heatmap` (column labels tilted where flat ones would touch)."""
    values = np.asarray(values, dtype=float)  # (n_rows, n_cols)
    fig = _figure(max(3.5, 0.75 * len(cols) + 2.2), max(1.6, 0.38 * len(rows) + 1.0))
    ax = fig.add_subplot()
    finite = values[np.isfinite(values)]
    if center is None:
        cmap = "viridis"
        vmin, vmax = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    else:
        cmap = "RdBu"
        half = float(np.max(np.abs(finite - center))) if finite.size else 1.0
        half = half or 1.0
        vmin, vmax = center - half, center + half
    if vmin == vmax:
        vmax = vmin + 1e-9
    im = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto")
    ax.set_xticks(range(len(cols)), labels=list(cols))
    ax.set_yticks(range(len(rows)), labels=list(rows))
    ax.spines[:].set_visible(False)
    norm = im.norm
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            v = values[i, j]
            if np.isfinite(v):
                shade = norm(v)
                dark = (shade < 0.2 or shade > 0.8) if center is not None else shade < 0.55
                ax.text(j, i, fmt.format(v), ha="center", va="center", fontsize=7, color="white" if dark else "black")
    fig.colorbar(im, ax=ax, label=label, shrink=0.9)
    _unclash_xticks(fig, ax)
    return fig


@dataclass(frozen=True)
class Interval:
    """One row of a forest plot: ``label``, point ``estimate``, interval ``[low, high]``, ``group`` (colour)."""

    label: str
    estimate: float
    low: float | None
    high: float | None
    group: str = ""


@_style
def forest(items: Sequence[Interval], *, xlabel: str, alt: str, caption: str, reference: float | None = None) -> Plot:
    """Dot-and-whisker (forest) plot, one row per item, top to bottom; optional vertical reference line."""
    groups = list(dict.fromkeys(it.group for it in items))
    fig = _figure(6.2, max(1.6, 0.24 * len(items) + 0.9))
    ax = fig.add_subplot()
    y = np.arange(len(items))[::-1]  # first item on top
    for g_i, g in enumerate(groups):
        idx = [i for i, it in enumerate(items) if it.group == g]
        est = np.array([items[i].estimate for i in idx], dtype=float)
        lo = np.array([np.nan if items[i].low is None else items[i].low for i in idx], dtype=float)
        hi = np.array([np.nan if items[i].high is None else items[i].high for i in idx], dtype=float)
        err = np.vstack([est - lo, hi - est])  # (2, n)
        err = np.where(np.isfinite(err), err, 0.0)
        ax.errorbar(
            est,
            y[idx],
            xerr=err,
            fmt="o",
            color=_color(g_i),
            ecolor=_color(g_i),
            capsize=2.5,
            markersize=4,
            label=g or None,
        )
    if reference is not None:
        ax.axvline(reference, color="#777777", linewidth=0.8, linestyle="--")
    ax.set_yticks(y, labels=[it.label for it in items])
    ax.set_xlabel(xlabel)
    ax.grid(axis="x", color="#dddddd", linewidth=0.6)
    if len(groups) > 1 and any(groups):
        ax.legend(loc="best", fontsize=7, frameon=False)
    return _encode(fig, alt, caption)


@_style
def bars(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    low: Sequence[float | None] | None = None,
    high: Sequence[float | None] | None = None,
    ylabel: str,
    alt: str,
    caption: str,
) -> Plot:
    """Vertical bars with optional interval whiskers ``[low, high]``."""
    v = np.asarray(values, dtype=float)
    fig = _figure(max(3.5, 0.7 * len(labels) + 1.5), 2.6)
    ax = fig.add_subplot()
    x = np.arange(len(labels))
    ax.bar(x, v, color=PALETTE[0], width=0.65)
    if low is not None and high is not None:
        lo = np.array([np.nan if a is None else a for a in low], dtype=float)
        hi = np.array([np.nan if a is None else a for a in high], dtype=float)
        ok = np.isfinite(lo) & np.isfinite(hi)
        if ok.any():
            err = np.vstack([v[ok] - lo[ok], hi[ok] - v[ok]]).clip(min=0)  # (2, n_ok)
            ax.errorbar(x[ok], v[ok], yerr=err, fmt="none", ecolor="#333333", capsize=3, linewidth=1)
    ax.set_xticks(
        x, labels=list(labels), rotation=30 if len(labels) > 4 else 0, ha="right" if len(labels) > 4 else "center"
    )
    ax.set_ylabel(ylabel)
    ax.grid(axis="y", color="#dddddd", linewidth=0.6)
    return _encode(fig, alt, caption)


@_style
def strip(
    points: Mapping[str, Sequence[tuple[str, float]]],
    *,
    ylabel: str,
    alt: str,
    caption: str,
    reference: float | None = None,
) -> Plot:
    """Strip plot: for each category (x), its labelled points, spread horizontally by a fixed offset.

    ``points[category] = [(label, value), ...]``; labels (e.g. seeds) get one colour each;
    ``reference`` draws a dashed horizontal line (e.g. 0 for deviations).
    The horizontal spread is deterministic (evenly spaced), not random jitter.
    """
    cats = list(points)
    labels = sorted({lab for pts in points.values() for lab, _ in pts}, key=lambda s: (len(s), s))
    fig = _figure(max(3.8, 0.8 * len(cats) + 1.8), 2.8)
    ax = fig.add_subplot()
    width = 0.5
    for li, lab in enumerate(labels):
        offset = (li - (len(labels) - 1) / 2) * (width / max(1, len(labels)))
        xs, ys = [], []
        for ci, cat in enumerate(cats):
            for plab, val in points[cat]:
                if plab == lab:
                    xs.append(ci + offset)
                    ys.append(val)
        ax.scatter(xs, ys, s=18, color=_color(li), label=lab, zorder=3)
    if reference is not None:
        ax.axhline(reference, color="#777777", linewidth=0.8, linestyle="--", zorder=1)
    ax.set_xticks(
        range(len(cats)), labels=cats, rotation=30 if len(cats) > 4 else 0, ha="right" if len(cats) > 4 else "center"
    )
    ax.set_ylabel(ylabel)
    ax.grid(axis="y", color="#dddddd", linewidth=0.6)
    if labels:
        ax.legend(loc="best", fontsize=7, frameon=False, title=None)
    return _encode(fig, alt, caption)


@_style
def difference_band(
    estimate: float,
    low: float | None,
    high: float | None,
    *,
    delta: float,
    label: str,
    better: str,
    worse: str,
    alt: str,
    caption: str,
) -> Plot:
    """One difference with its interval against the band ``[-delta, +delta]`` (the verdict figure).

    The band is shaded; 0 is a dashed line; the region left of ``-delta`` is labelled
    ``better`` ("reduces the gap by delta or more"), right of ``+delta`` ``worse``.
    """
    ends = [abs(x) for x in (estimate, low, high) if x is not None and np.isfinite(x)]
    half = max([1.6 * delta, *(1.15 * e for e in ends)])
    fig = _figure(6.2, 1.55)
    ax = fig.add_subplot()
    ax.axvspan(-delta, delta, color="#e8e8e8", zorder=0, linewidth=0)
    ax.axvline(0.0, color="#777777", linewidth=0.8, linestyle="--", zorder=1)
    for x in (-delta, delta):
        ax.axvline(x, color="#999999", linewidth=0.6, zorder=1)
    lo = estimate if low is None else low
    hi = estimate if high is None else high
    ax.errorbar(
        [estimate],
        [0],
        xerr=[[estimate - lo], [hi - estimate]],
        fmt="o",
        color=PALETTE[0],
        ecolor=PALETTE[0],
        capsize=4,
        markersize=6,
        linewidth=2,
        zorder=3,
    )
    ax.set_xlim(-half, half)
    ax.set_ylim(-1, 1.1)
    ax.set_yticks([0], labels=[label])
    ax.text(-delta, 0.62, f"−δ = −{delta:g}", ha="center", va="bottom", fontsize=7, color="#555555")
    ax.text(delta, 0.62, f"+δ = +{delta:g}", ha="center", va="bottom", fontsize=7, color="#555555")
    ax.text(-half * 0.98, -0.9, f"← {better}", ha="left", va="bottom", fontsize=7, color="#555555")
    ax.text(half * 0.98, -0.9, f"{worse} →", ha="right", va="bottom", fontsize=7, color="#555555")
    ax.spines["left"].set_visible(False)
    ax.tick_params(axis="y", length=0)
    ax.set_xlabel("D")
    return _encode(fig, alt, caption)


@_style
def dumbbell(rows: Sequence[tuple[str, Sequence[Interval]]], *, xlabel: str, alt: str, caption: str) -> Plot:
    """Per row (a method), one point with its interval per group (a tier), joined by a grey line.

    ``rows = [(method, [Interval(group=tier, ...), ...]), ...]``, drawn top to bottom; a
    group keeps its colour across rows, so each method's tiers sit side by side on one line.
    """
    groups = list(dict.fromkeys(it.group for _, items in rows for it in items))
    fig = _figure(6.2, max(1.8, 0.36 * len(rows) + 1.0))
    ax = fig.add_subplot()
    ys = np.arange(len(rows))[::-1]  # first row on top
    for y, (_, items) in zip(ys, rows):
        xs = [it.estimate for it in items if it.estimate is not None]
        if len(xs) > 1:
            ax.plot([min(xs), max(xs)], [y, y], color="#bbbbbb", linewidth=2.2, zorder=1, solid_capstyle="round")
    for g_i, g in enumerate(groups):
        est, lo, hi, yy = [], [], [], []
        for y, (_, items) in zip(ys, rows):
            for it in items:
                if it.group == g and it.estimate is not None:
                    est.append(it.estimate)
                    lo.append(np.nan if it.low is None else it.low)
                    hi.append(np.nan if it.high is None else it.high)
                    yy.append(y)
        e = np.array(est, dtype=float)
        err = np.vstack([e - np.array(lo, dtype=float), np.array(hi, dtype=float) - e])  # (2, n)
        err = np.where(np.isfinite(err), err, 0.0)
        ax.errorbar(
            e,
            yy,
            xerr=err,
            fmt="o",
            color=_color(g_i),
            ecolor=_color(g_i),
            capsize=2.5,
            markersize=5,
            label=g,
            zorder=3,
        )
    ax.set_yticks(ys, labels=[name for name, _ in rows])
    ax.set_xlabel(xlabel)
    ax.grid(axis="x", color="#dddddd", linewidth=0.6)
    if groups:
        ax.legend(
            loc="upper center",
            bbox_to_anchor=(0.5, 1.0 + 0.9 / max(2, len(rows) + 1)),
            ncol=len(groups),
            fontsize=7,
            frameon=False,
        )
    return _encode(fig, alt, caption)


@_style
def budget_curves(
    steps: Sequence[int],
    d: Sequence[float],
    low: Sequence[float | None],
    high: Sequence[float | None],
    tier_curves: Mapping[str, Sequence[tuple[int, float]]],
    *,
    delta: float,
    metric: str,
    crossovers: Sequence[tuple[int, int]],
    alt: str,
    caption: str,
    treatment: str = "OT",
    comparator: str = "contrastive",
) -> Plot:
    """Left: the question's D vs budget with its CI band and the ``[-delta, delta]`` band; right:
    each method's tier means vs budget (``tier_curves["<method> · <tier>"] = [(steps, mean), ...]``).

    On the right a method keeps one colour and a tier one line style and marker (high: solid,
    circles; low: dashed, squares; others: dotted, triangles), so both are told apart.
    """
    fig = _figure(7.4, 3.0)
    ax, bx = fig.subplots(1, 2)
    x = np.asarray(steps, dtype=float)
    ax.axhspan(-delta, delta, color="#e8e8e8", zorder=0, linewidth=0)
    ax.axhline(0.0, color="#777777", linewidth=0.8, linestyle="--")
    lo = np.array([np.nan if v is None else v for v in low], dtype=float)
    hi = np.array([np.nan if v is None else v for v in high], dtype=float)
    ax.fill_between(x, lo, hi, color=PALETTE[0], alpha=0.25, linewidth=0)
    ax.plot(x, d, "o-", color=PALETTE[0], markersize=4)
    for a, b in crossovers:
        ax.axvspan(a, b, color="#f3d9a4", alpha=0.5, zorder=0, linewidth=0)
    ax.set_xlabel("training steps")
    ax.set_ylabel(f"D = gap({treatment})\n− gap({comparator})", fontsize=8)
    methods = list(dict.fromkeys(label.split(" · ")[0] for label in tier_curves))
    styles = {"high": ("o", "-"), "low": ("s", "--")}
    for label, pts in tier_curves.items():
        if pts:
            method, _, tier = label.partition(" · ")
            marker, line = styles.get(tier, ("^", ":"))
            xs, ys = zip(*pts)
            bx.plot(
                xs,
                ys,
                marker=marker,
                linestyle=line,
                color=_color(methods.index(method)),
                markersize=3.5,
                label=label,
            )
    bx.set_xlabel("training steps")
    bx.set_ylabel(f"mean {metric}", fontsize=8)
    bx.legend(fontsize=6, frameon=False)
    return _encode(fig, alt, caption)


#: Fixed verdict colours of the robustness map (Okabe-Ito): the same verdict has the same colour in every panel.
VERDICT_COLORS = {"yes": "#009E73", "no": "#D55E00", "inconclusive": "#777777"}


@dataclass(frozen=True)
class MapRow:
    """One point of a robustness-map panel: ``label``, D ``estimate`` with ``[low, high]``, its ``verdict``,
    and whether it is the ``default`` (base) point."""

    label: str
    estimate: float | None
    low: float | None
    high: float | None
    verdict: str
    default: bool = False


@_style
def robustness_map(
    panels: Sequence[tuple[str, Sequence[MapRow]]], *, delta: float, xlabel: str, alt: str, caption: str
) -> Plot:
    """One dot-and-interval panel per axis (rows: the axis's values), coloured by verdict.

    The default point is drawn as a diamond with its label marked; dashed line at 0, dotted at
    ``-delta`` (the margin of the verdict rule).  All panels share the x axis.
    """
    from matplotlib.lines import Line2D

    n_rows = [max(1, len(rows)) for _, rows in panels]
    fig = _figure(6.4, 0.9 + sum(0.26 * n + 0.45 for n in n_rows))
    axes = fig.subplots(len(panels), 1, sharex=True, gridspec_kw={"height_ratios": n_rows}, squeeze=False)[:, 0]
    seen: set[str] = set()
    for ax, (title, rows) in zip(axes, panels):
        y = np.arange(len(rows))[::-1]
        for yi, r in zip(y, rows):
            color = VERDICT_COLORS.get(r.verdict, "#000000")
            if r.estimate is None:
                continue
            lo = r.estimate if r.low is None else r.low
            hi = r.estimate if r.high is None else r.high
            ax.plot([lo, hi], [yi, yi], color=color, linewidth=1.4, solid_capstyle="butt")
            ax.plot(
                [r.estimate],
                [yi],
                marker="D" if r.default else "o",
                markersize=6 if r.default else 4.5,
                color=color,
                markeredgecolor="#000000" if r.default else color,
                linestyle="none",
                label=None if r.verdict in seen else r.verdict,
            )
            seen.add(r.verdict)
        ax.axvline(0.0, color="#777777", linewidth=0.8, linestyle="--")
        ax.axvline(-delta, color="#aaaaaa", linewidth=0.8, linestyle=":")
        ax.set_yticks(y, labels=[f"{r.label} (default)" if r.default else r.label for r in rows])
        ax.set_ylim(-0.6, len(rows) - 0.4)
        ax.set_title(title, loc="left")
        ax.grid(axis="x", color="#dddddd", linewidth=0.6)
    axes[-1].set_xlabel(xlabel)
    handles = [
        Line2D([], [], color=VERDICT_COLORS[v], marker="o", linestyle="-", label=v) for v in VERDICT_COLORS if v in seen
    ]
    if handles:
        axes[0].legend(handles=handles, loc="best", fontsize=7, frameon=False, title="verdict")
    return _encode(fig, alt, caption)
