"""Report figures (harness_reports.plots): column labels of a heatmap never touch."""

from __future__ import annotations

import math

import numpy as np

from harness_reports.plots import heatmap, heatmap_figure

METHODS = ["ot-distill", "contrastive", "zero-shot", "bm25", "translate-test", "translate-train"]


def _label_boxes(fig):
    fig.draw_without_rendering()
    ax = fig.axes[0]
    return sorted((t.get_window_extent() for t in ax.get_xticklabels() if t.get_text()), key=lambda b: b.x0)


def test_long_column_labels_are_tilted_so_that_none_touch():
    values = np.random.default_rng(0).uniform(-0.05, 0.05, (6, 6))
    fig = heatmap_figure(values, METHODS, METHODS, label="difference", center=0.0)
    labels = fig.axes[0].get_xticklabels()
    assert {t.get_rotation() for t in labels} == {35.0}
    # tilted labels are parallel: the gap between neighbours is (tick spacing) * sin(35) - text height
    boxes = _label_boxes(fig)
    centers = [t.get_window_extent().x1 for t in labels]  # anchored at the right end, on the tick
    dx = min(b - a for a, b in zip(centers, centers[1:]))
    for t in labels:
        t.set_rotation(0)
    flat = _label_boxes(fig)
    assert any(a.x1 > b.x0 for a, b in zip(flat, flat[1:]))  # flat, the method names would touch
    height = max(b.height for b in flat)
    assert dx * math.sin(math.radians(35)) > height + 2, (dx, height)
    assert len(boxes) == 6
    # short labels stay flat
    short = heatmap_figure(values[:3, :3], ["a", "b", "c"], ["a", "b", "c"], label="x")
    assert {t.get_rotation() for t in short.axes[0].get_xticklabels()} == {0.0}
    # the embedded figure is deterministic
    one = heatmap(values, METHODS, METHODS, label="d", alt="a", caption="c", center=0.0)
    two = heatmap(values, METHODS, METHODS, label="d", alt="a", caption="c", center=0.0)
    assert one.uri == two.uri and one.uri.startswith("data:image/svg+xml;base64,")
