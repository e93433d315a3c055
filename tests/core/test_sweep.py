"""Sensitivity sweeps (``[sweep]``, :mod:`harness.sweep`): validation before any work, a tiny sweep end to end,
the robustness map, and the initial-alignment knob ``benchmark.alignment_scale``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tiny_config import TINY  # noqa: E402  (tests/core is on sys.path)

from harness.config import load_config
from harness.errors import ConfigError, RunFinishedError
from harness.sweep import load_sweep, point_summary, run_sweep

TWO_WORLDS = TINY.replace("seed = 5\n", "worlds = [5, 6]\n")
QUESTION = "[methods.ot-distill]\nsteps = 4\n[methods.contrastive]\nsteps = 4\n"
SWEEP = '\n[sweep]\ndesign = "star"\n[sweep.axes]\n"methods.ot-distill.layer" = [-2]\n'


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sweep.toml"
    path.write_text(text)
    return path


def _sweep_text(sweep: str = SWEEP, base: str = TWO_WORLDS) -> str:
    return base.format(extra=QUESTION) + sweep


def test_star_design_expands_one_factor_at_a_time(tmp_path):
    text = _sweep_text(
        '\n[sweep]\npoints = [{ "mini.layers" = 2, "methods.ot-distill.layer" = -2 }]\n[sweep.axes]\n'
        '"benchmark.alignment_scale" = [0.0, 1.0, 2.0]\n"mini.layers" = [2]\n"methods.ot-distill.layer" = [-2]\n'
        '[sweep.labels]\n"benchmark.alignment_scale" = "alignment"\n'
    )
    sweep = load_sweep(_write(tmp_path, text))
    assert sweep is not None and sweep.design == "star"
    ids = [p.id for p in sweep.points]
    # base 1.0 is in the list (no point of its own); mini.layers base is 1 (TINY), so 2 is a move
    assert ids == ["default", "alignment=0", "alignment=2", "layers=2", "layer=-2", "layers=2,layer=-2"]
    assert [a.base for a in sweep.axes] == [1.0, 1, -1]
    by_id = {p.id: p for p in sweep.points}
    assert by_id["layers=2,layer=-2"].kind == "extra"
    # a point's config is the base config with --set applied: the same sha256 as loading it that way
    p = by_id["layers=2,layer=-2"]
    base_path = tmp_path / "base.toml"
    base_path.write_text(_sweep_text(sweep=""))
    assert p.config.sha256() == load_config(base_path, sets=p.sets).sha256()
    assert by_id["default"].config.sha256() == load_config(base_path).sha256() == sweep.base.sha256()
    # the alignment knob reaches the world: the shared-form rates are scaled, the normalised config shows them
    zero = by_id["alignment=0"].config.benchmark
    assert zero.loanword_rate == {t: 0.0 for t in zero.loanword_rate} and zero.alignment_scale == 1.0
    assert "alignment_scale" not in by_id["alignment=0"].config.normalized()["benchmark"]
    grid = load_sweep(_write(tmp_path, text.replace("[sweep]\n", '[sweep]\ndesign = "grid"\n')))
    assert grid is not None and len(grid.points) == 3 * 2 * 2  # the extra point is one of the grid's


@pytest.mark.parametrize(
    "sweep, path, fragment",
    [
        ('[sweep.axes]\n"benchmark.anchor_fracton" = [0.1]\n', "sweep.axes.benchmark.anchor_fracton", "did you mean"),
        ('[sweep.axes]\n"methods.ot-distill.layr" = [-2]\n', "sweep.axes.methods.ot-distill.layr", "unknown key"),
        ('[sweep.axes]\n"seeds" = [[0], [1]]\n', "sweep.axes.seeds", "replicates"),
        ('[sweep.axes]\n"benchmark.worlds" = [[1, 2]]\n', "sweep.axes.benchmark.worlds", "replicates"),
        ('[sweep.axes]\n"mini.layers" = [2, 2]\n', "sweep.axes.mini.layers", "distinct scalar"),
        ('[sweep.axes]\n"mini.layers" = []\n', "sweep.axes.mini.layers", "non-empty"),
        ('[sweep]\ndesign = "cube"\n[sweep.axes]\n"mini.layers" = [2]\n', "sweep.design", "star"),
        ("[sweep]\naxis = 1\n", "sweep.axis", "did you mean 'axes'"),
        ("[sweep]\n", "sweep.axes", "a table of config key"),
        ('[sweep]\npoints = [{ "mini.hidden" = 8 }]\n[sweep.axes]\n"mini.layers" = [2]\n', "sweep.points[0]", "axis"),
        ('[sweep.axes]\n"benchmark.anchor_fraction" = [0.9]\n', "benchmark.anchor_fraction", "sweep point"),
        ('[sweep.axes]\n"mini.layers" = [2]\n[sweep.labels]\n"mini.layer" = "depth"\n', "sweep.labels", "axis key"),
    ],
)
def test_bad_sweeps_are_config_errors_before_any_work(tmp_path, sweep, path, fragment):
    with pytest.raises(ConfigError) as e:
        load_sweep(_write(tmp_path, _sweep_text("\n" + sweep)), sets=())
    assert e.value.path.endswith(path) or path in e.value.path, e.value.path
    assert fragment in str(e.value)
    assert not (tmp_path / "harness-runs").exists()


def test_a_sweep_needs_two_worlds_and_load_config_refuses_it(tmp_path):
    with pytest.raises(ConfigError, match="at least 2 drawn worlds"):
        load_sweep(_write(tmp_path, _sweep_text(base=TINY)))
    with pytest.raises(ConfigError, match="harness run"):
        load_config(_write(tmp_path, _sweep_text()))
    assert load_sweep(_write(tmp_path, _sweep_text(sweep=""))) is None  # no [sweep]: an ordinary config


def test_shipped_sensitivity_config_is_a_valid_sweep():
    sweep = load_sweep("sensitivity")
    assert sweep is not None and len(sweep.base.worlds) >= 2
    keys = {a.key for a in sweep.axes}
    assert {"benchmark.alignment_scale", "benchmark.anchor_fraction", "mini.layers", "methods.ot-distill.layer"} <= keys
    roles = sweep.base.analysis
    assert {m.name for m in sweep.base.methods} == {roles.treatment, roles.comparator, roles.baseline}
    assert sum(p.kind == "default" for p in sweep.points) == 1


@pytest.fixture(scope="module")
def tiny_sweep(tmp_path_factory, tiny_cache):
    from harness_reports import render_report
    from harness_reports.sensitivity import render_sensitivity

    tmp = tmp_path_factory.mktemp("sweep")
    sweep = load_sweep(_write(tmp, _sweep_text()))
    assert sweep is not None
    cache = tiny_cache  # shared: the default point is test_worlds.py's two-world matrix (see conftest.py)
    res = run_sweep(
        sweep,
        run_dir=tmp / "out",
        cache=cache,
        progress=False,
        log=lambda s: None,
        render=render_report,
        render_map=render_sensitivity,
    )
    return sweep, res, cache, tmp


@pytest.mark.slow
def test_tiny_sweep_end_to_end(tiny_sweep):
    sweep, res, cache, tmp = tiny_sweep
    d = res.run_dir
    assert res.status == "complete" and [p.id for p in sweep.points] == ["default", "layer=-2"]
    man = json.loads((d / "manifest.json").read_text())
    assert man["status"] == "complete" and man["kind"] == "sweep" and man["sweep_sha256"] == sweep.sha256()
    s = json.loads((d / "sensitivity.json").read_text())
    assert [p["id"] for p in s["points"]] == ["default", "layer=-2"]
    for p, point in zip(s["points"], sweep.points):
        pm = json.loads((d / p["dir"] / "manifest.json").read_text())
        assert pm["status"] == "complete" and pm["config_sha256"] == point.config.sha256()
        a = json.loads((d / p["dir"] / "analysis.json").read_text())
        dec = a["question"]["decisive_interval"]
        assert dec["scope"] == "worlds"  # two worlds per point: the world is the unit of replication
        assert p["D"] == dec["estimate"] and p["ci"] == dec["ci"] and p["verdict"] == a["question"]["verdict"]
        assert p["verdict"] in ("yes", "no", "inconclusive")
        assert set(p["low_tier_gain"]) == {"ot-distill", "contrastive"}
    assert s["points"][1]["values"]["methods.ot-distill.layer"] == -2
    assert s["points"][0]["values"]["methods.ot-distill.layer"] == -1
    # the second point trains only ot-distill again: the other cells come from the cache
    second = json.loads((d / "points" / "layer=-2" / "manifest.json").read_text())
    cached = {c["method"] for c in second["cells"] if c["from_cache"]}
    assert cached == {"zero-shot", "bm25", "contrastive"}
    assert (d / "sensitivity.csv").read_text().count("\n") == 3
    html = (d / "sensitivity.html").read_text()
    assert 'id="fig-robustness-map"' in html and "(default)" in html and 'href="points/layer=-2/report.html"' in html
    assert "data:image/svg+xml;base64," in html
    # `harness report SWEEP_DIR` draws the map again beside the sweep, its links still reaching the points
    from harness.cli import main

    assert main(["report", str(d), "--out", str(tmp / "again")]) == 0
    again = (tmp / "again" / "sensitivity.html").read_text()
    assert 'href="../out/points/layer=-2/report.html"' in again
    assert again.replace('href="../out/', 'href="').split("<body>")[1] == html.split("<body>")[1]


@pytest.mark.slow
def test_finished_sweep_is_not_rewritten_and_another_is_refused(tiny_sweep, tmp_path):
    sweep, res, cache, tmp = tiny_sweep
    before = {p: p.stat().st_mtime_ns for p in res.run_dir.rglob("*") if p.is_file()}
    again = run_sweep(sweep, run_dir=res.run_dir, cache=cache, progress=False, log=lambda s: None)
    assert again.already_finished and again.sensitivity == json.loads((res.run_dir / "sensitivity.json").read_text())
    assert before == {p: p.stat().st_mtime_ns for p in res.run_dir.rglob("*") if p.is_file()}
    other = load_sweep(_write(tmp_path, _sweep_text().replace("[-2]", "[0]")))
    assert other is not None
    with pytest.raises(RunFinishedError, match="never rewritten"):
        run_sweep(other, run_dir=res.run_dir, cache=cache, progress=False, log=lambda s: None)


@pytest.mark.slow
def test_interrupted_sweep_resumes_and_never_looks_finished(tiny_sweep, tmp_path):
    """A sweep stopped after its first point says so, keeps that point, and a re-run finishes the rest."""
    sweep, res, cache, _ = tiny_sweep
    calls: list[str] = []

    def stop_at_second(msg: str) -> None:
        calls.append(msg)
        if msg.startswith("sweep point 2/"):
            raise KeyboardInterrupt

    out = tmp_path / "resumed"
    with pytest.raises(KeyboardInterrupt):
        run_sweep(sweep, run_dir=out, cache=cache, progress=False, log=stop_at_second)
    man = json.loads((out / "manifest.json").read_text())
    assert man["status"] == "interrupted" and not (out / "sensitivity.json").exists()
    assert [p["status"] for p in man["points"]] == ["complete", "pending"]
    done = run_sweep(sweep, run_dir=out, cache=cache, progress=False, log=lambda s: None)
    assert done.status == "complete" and done.sensitivity is not None
    first = json.loads((out / "points" / "default" / "manifest.json").read_text())
    assert first["status"] == "complete"
    assert [p["D"] for p in done.sensitivity["points"]] == [
        p["D"] for p in json.loads((res.run_dir / "sensitivity.json").read_text())["points"]
    ]


def test_point_summary_reads_the_deciding_interval():
    analysis = {
        "mode": "monolingual",
        "tier_means": [{"method": "ot", "tier": "low", "metric": "ndcg@10", "mean": 0.4}],
        "question": {
            "metric": "ndcg@10",
            "endpoint": "gap",
            "verdict": "no",
            "tiers": ["high", "low"],
            "methods": {"treatment": "ot", "comparator": "con", "baseline": "zs"},
            "difference": {"gap": {"estimate": 0.01, "ci": [0.0, 0.02]}},
            "decisive_interval": {"scope": "worlds", "estimate": 0.011, "ci": [-0.01, 0.03], "p_value": 0.3},
            "low_tier_gain": {"ot": {"estimate": 0.02, "ci": None}},
        },
    }
    s = point_summary(analysis)
    assert (s["D"], s["ci"], s["scope"], s["verdict"]) == (0.011, [-0.01, 0.03], "worlds", "no")
    assert s["tier_means"]["ot"] == {"high": None, "low": 0.4} and s["low_tier_gain"]["ot"]["estimate"] == 0.02
    assert point_summary({"error": "no finished cells"}) == {"error": "no finished cells"}


def test_robustness_map_renders_from_a_summary(tmp_path):
    from harness_reports.sensitivity import map_panels, render_sensitivity

    def point(pid, kind, settings, verdict, d):
        values = {"a.x": 1.0, "b.y": 2}
        values.update(settings)
        return {
            "id": pid,
            "kind": kind,
            "settings": settings,
            "values": values,
            "status": "complete",
            "seconds": 3.0,
            "dir": f"points/{pid}",
            "verdict": verdict,
            "D": d,
            "ci": [d - 0.01, d + 0.01],
            "metric": "ndcg@10",
            "low_tier_gain": {"ot": {"estimate": 0.01, "ci": None}},
        }

    s = {
        "name": "sens",
        "design": "star",
        "worlds": ["1", "2"],
        "seeds": [0],
        "question": {"treatment": "ot", "comparator": "con", "baseline": "zs"},
        "target_difference": 0.02,
        "axes": [
            {"key": "a.x", "label": "x", "values": [0.5, 1.0], "base": 1.0},
            {"key": "b.y", "label": "y", "values": [2, 4], "base": 2},
        ],
        "points": [
            point("default", "default", {}, "no", 0.001),
            point("x=0.5", "axis", {"a.x": 0.5}, "yes", -0.05),
            point("y=4", "axis", {"b.y": 4}, "inconclusive", -0.01),
            point("x=0.5,y=4", "extra", {"a.x": 0.5, "b.y": 4}, "no", 0.02),
        ],
        "verdicts": ["inconclusive", "no", "yes"],
        "verdict_holds_everywhere": False,
        "status": "complete",
        "seconds": 12.0,
    }
    panels = map_panels(s)
    assert [t for t, _ in panels] == ["x (a.x)", "y (b.y)", "points moving several axes"]
    assert [(r.label, r.verdict, r.default) for r in panels[0][1]] == [("0.5", "yes", False), ("1", "no", True)]
    html = render_sensitivity(tmp_path, sensitivity=s).read_text()
    assert 'id="fig-robustness-map"' in html and 'id="point-x=0.5,y=4"' in html
    assert "The verdict differs from the default&#39;s at: x=0.5, y=4." in html
    assert "+0.0010" in html and "[-0.0600, -0.0400]" in html


@pytest.mark.slow
def test_harness_run_of_a_sweep_config_from_the_cache(tiny_sweep, capsys):
    """`harness run` recognises the [sweep] table: every point from the shared cache, one line per point."""
    from harness.cli import main

    sweep, res, cache, tmp = tiny_sweep
    out = tmp / "cli"
    assert main(["run", str(tmp / "sweep.toml"), "--out", str(out), "--cache-dir", str(cache.root), "--quiet"]) == 0
    printed = capsys.readouterr().out
    stored = json.loads((res.run_dir / "sensitivity.json").read_text())
    for p in stored["points"]:
        assert f"  {p['id']}: complete, verdict {p['verdict']}, D {p['D']:+.4f}" in printed
    assert f"robustness map: {out / 'sensitivity.html'}" in printed
    for pid in ("default", "layer=-2"):
        cells = json.loads((out / "points" / pid / "manifest.json").read_text())["cells"]
        assert all(c["from_cache"] for c in cells)
    assert main(["run", str(tmp / "sweep.toml"), "--out", str(out), "--cache-dir", str(cache.root)]) == 0
    assert "already finished" in capsys.readouterr().out


def test_alignment_scale_scales_and_caps_the_shared_form_rates():
    base = load_config("default").benchmark
    two = load_config("default", sets=["benchmark.alignment_scale=2"]).benchmark
    for t in ("high", "low"):
        assert two.code_switch[t] == pytest.approx(min(1.0, 2 * base.code_switch[t]))
        assert two.shared_syllables[t] == pytest.approx(min(1.0, 2 * base.shared_syllables[t]))
        total = 2 * (base.loanword_rate[t] + base.cognate_rate[t])
        assert two.loanword_rate[t] + two.cognate_rate[t] == pytest.approx(min(1.0, total))
        assert two.loanword_rate[t] / two.cognate_rate[t] == pytest.approx(base.loanword_rate[t] / base.cognate_rate[t])
    # resolved once: the normalised config re-loads to the same rates, and scale 1 is the config itself
    cfg = load_config("default", sets=["benchmark.alignment_scale=2"])
    assert load_config("default", sets=["benchmark.alignment_scale=1"]).sha256() == load_config("default").sha256()
    from harness.config import config_from_dict

    assert config_from_dict(cfg.normalized()).sha256() == cfg.sha256() != load_config("default").sha256()
    with pytest.raises(ConfigError, match="alignment_scale"):
        load_config("default", sets=["benchmark.alignment_scale=-1"])
