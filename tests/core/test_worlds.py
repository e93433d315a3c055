"""Benchmark instances as a factor: ``[benchmark] worlds``, cells (world, method, seed), the world column."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import tomllib
from tiny_config import TINY  # noqa: E402  (tests/core is on sys.path)

from harness.cache import Cache
from harness.config import config_from_dict, load_config
from harness.engine import RESULT_COLUMNS, Engine
from harness.errors import ConfigError
from harness_reports import run_and_report as run_matrix

TWO_WORLDS = TINY.replace("seed = 5\n", "worlds = [5, 6]\n")
#: the question's two methods, a few steps each (the analysis answers the question per world)
QUESTION_METHODS = "[methods.ot-distill]\nsteps = 4\n[methods.contrastive]\nsteps = 4\n"


def _cfg(text: str):
    return config_from_text(text.format(extra=""), source="<test>")


def config_from_text(text: str, source: str):
    return config_from_dict(tomllib.loads(text), source=source, text=text)


def test_seed_means_one_world_and_worlds_is_stored():
    one = _cfg(TINY)
    assert one.worlds == ["5"] and one.worlds_kind == "drawn"
    assert one.normalized()["benchmark"]["worlds"] == [5] and "seed" not in one.normalized()["benchmark"]
    again = config_from_text(one.to_toml(), source="<normalised>")  # re-loads without naming the world twice
    assert again.sha256() == one.sha256()
    two = _cfg(TWO_WORLDS)
    assert two.worlds == ["5", "6"]
    w6 = two.for_world("6")
    assert w6.worlds == ["6"] and w6.benchmark.seed == 6 and w6.methods == two.methods


def test_seed_and_worlds_together_is_a_config_error():
    with pytest.raises(ConfigError, match="benchmark.seed"):
        _cfg(TINY.replace("seed = 5\n", "seed = 5\nworlds = [5, 6]\n"))
    with pytest.raises(ConfigError, match="distinct"):
        _cfg(TINY.replace("seed = 5\n", "worlds = [5, 5]\n"))


def test_one_world_keeps_its_cache_key(tmp_path):
    """A world's cache key is what it was before worlds existed: its options with ``seed``, no ``worlds``."""
    from harness.config import make_benchmark

    cfg = _cfg(TINY)
    bench = make_benchmark(cfg, Cache(tmp_path))
    opts = bench.options.model_dump(mode="json", exclude={"mode", "modes", "worlds"})
    assert "seed" not in opts and "worlds" not in opts  # the dump names worlds only
    engine_a = Engine(_cfg(TWO_WORLDS), Cache(tmp_path))
    assert [s.world for s in engine_a.plan()] == ["5"] * 4 + ["6"] * 4
    # the first world's engine of a two-world matrix keys its cells as the one-world config does
    engine_one = Engine(cfg, Cache(tmp_path))
    assert [s.key for s in engine_one.plan()] == [s.key for s in engine_a.plan()[:4]]
    assert {s.key for s in engine_a.plan()[4:]}.isdisjoint(s.key for s in engine_one.plan())


@pytest.fixture(scope="module")
def two_world_run(tmp_path_factory, tiny_cache):
    cfg_path = tmp_path_factory.mktemp("cfg") / "two.toml"
    cfg_path.write_text(TWO_WORLDS.format(extra=QUESTION_METHODS))
    cache = tiny_cache  # shared: test_sweep.py's default point is this matrix (see conftest.py)
    out = tmp_path_factory.mktemp("runs") / "two"
    res = run_matrix(load_config(cfg_path), run_dir=out, cache=cache, progress=False, log=lambda s: None)
    return res, cache, cfg_path


def test_every_world_is_measured_stored_and_shown(two_world_run):
    """Teacher-level alignment measures for each world: the manifest and analysis.json carry both worlds'
    rows, each world's rows are that world's engine's measures, and the report shows a world column and
    each language's mean over the worlds."""
    res, cache, cfg_path = two_world_run
    man = json.loads((res.run_dir / "manifest.json").read_text())
    analysis = json.loads((res.run_dir / "analysis.json").read_text())
    wm = man["world_measures"]
    assert analysis["world_measures"] == wm
    assert wm["worlds"] == ["5", "6"]
    assert sorted((r["world"], r["language"]) for r in wm["languages"]) == [
        (w, lang) for w in ("5", "6") for lang in ("h1", "l1", "l2")
    ]
    engine = Engine(load_config(cfg_path), cache)
    for w in ("5", "6"):
        own = engine.for_world(w).world_measures()  # cached stage: read back, not recomputed
        assert own is not None
        assert [{k: v for k, v in r.items() if k != "world"} for r in wm["languages"] if r["world"] == w] == own[
            "languages"
        ]
    # two worlds, two teachers: their figures differ (one world's record copied to both would not)
    by = {(r["world"], r["language"]): r for r in wm["languages"]}
    assert any(by[("5", lang)]["alignment_f1"] != by[("6", lang)]["alignment_f1"] for lang in ("h1", "l1", "l2"))
    html = (res.run_dir / "report.html").read_text()
    table = html[html.index('id="alignment-table"') :]
    table = table[: table.index("</table>")]
    assert ">world</th>" in table and "mean of 2" in table
    assert table.count("<tr>") == 1 + 6 + 3  # header, one row per world and language, one mean per language


def test_two_world_run_has_a_world_column_and_per_world_files(two_world_run):
    res, _, _ = two_world_run
    d: Path = res.run_dir
    assert res.status == "complete"
    results = pd.read_parquet(d / "results.parquet")
    assert list(results.columns) == RESULT_COLUMNS and results.columns[0] == "world"
    assert str(results["world"].dtype) == "string"
    assert sorted(results.world.unique()) == ["5", "6"]
    methods = ("bm25", "zero-shot", "ot-distill", "contrastive")
    for w in ("5", "6"):
        for m in methods:
            for s in (0, 1):
                assert (d / "runs" / w / m / str(s) / "l1.trec").is_file()
        assert (d / "qrels" / w / "l1.qrels").is_file()
    # query ids are per world: the same id names different queries, judged differently
    q5 = (d / "qrels" / "5" / "l1.qrels").read_text()
    q6 = (d / "qrels" / "6" / "l1.qrels").read_text()
    assert q5 != q6
    man = json.loads((d / "manifest.json").read_text())
    assert man["worlds"] == {"labels": ["5", "6"], "kind": "drawn"}
    fps = man["dataset_fingerprints"]["by_world"]
    assert fps["5"]["benchmark"] != fps["6"]["benchmark"]
    assert {(c["world"], c["method"], c["seed"]) for c in man["cells"]} == {
        (w, m, s) for w in ("5", "6") for m in methods for s in (0, 1)
    }
    # the analysis: two drawn worlds, a world variance component, D per world and over worlds
    a = json.loads((d / "analysis.json").read_text())
    assert a["worlds"] == {"n": 2, "kind": "drawn", "labels": ["5", "6"]}
    comps = {c["name"]: c for c in a["world_components"][0]["components"]}
    assert comps["world"]["variance"] is not None and "method_x_world" in comps
    wl = a["question"]["world_level"]
    assert [w["world"] for w in wl["per_world"]] == ["5", "6"] and wl["df"] == 1
    assert a["question"]["decisive_interval"]["scope"] == "worlds"
    assert all(0.0 <= g["ci"][0] <= g["ci"][1] <= 1.0 for g in a["tier_means"])
    # the report draws D per world beside the pooled D and says which interval decides
    html = (d / "report.html").read_text()
    assert 'id="fig-worlds"' in html and 'id="decisive-interval"' in html and "world 6" in html


def test_two_world_rerun_recomputes_nothing(two_world_run, tmp_path):
    res, cache, cfg_path = two_world_run
    again = run_matrix(
        load_config(cfg_path), run_dir=tmp_path / "again", cache=cache, progress=False, log=lambda s: None
    )
    man = json.loads((again.run_dir / "manifest.json").read_text())
    assert all(c["from_cache"] for c in man["cells"])
    a = pd.read_parquet(res.run_dir / "results.parquet")
    b = pd.read_parquet(again.run_dir / "results.parquet")
    pd.testing.assert_frame_equal(a, b)


def test_two_worlds_on_a_local_pool_give_the_same_scores(two_world_run, tmp_path):
    """Each world's config text travels to the worker processes: the pool computes every world's cells
    (its own base encoder and teachers) and gets the in-process scores."""
    res, _, cfg_path = two_world_run
    text = (
        cfg_path.read_text().replace('[executor]\nkind = "local"', "") + '\n[executor]\nkind = "local"\nworkers = 2\n'
    )
    pool_cfg = tmp_path / "pool.toml"
    pool_cfg.write_text(text)
    pooled = run_matrix(
        load_config(pool_cfg),
        run_dir=tmp_path / "pool",
        cache=Cache(tmp_path / "c"),
        progress=False,
        log=lambda s: None,
    )
    assert pooled.status == "complete"
    a = pd.read_parquet(res.run_dir / "results.parquet")
    b = pd.read_parquet(pooled.run_dir / "results.parquet")
    key = ["world", "method", "seed", "language", "query_id", "metric"]
    pd.testing.assert_frame_equal(a.sort_values(key).reset_index(drop=True), b.sort_values(key).reset_index(drop=True))
