"""Method variants (``uses``) and sweeps run, cache and report each variant as a method of its own."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from thirdparty import CONFIG

from harness.cache import Cache
from harness.config import config_from_dict, load_config

VARIANTS = """
[methods.bm25-flat]
uses = "bm25"
b = 0.0
[methods.bm25-tuned]
uses = "bm25"
sweep = { k1 = [0.5, 1.2], b = [0.3, 0.75] }
"""


def test_variants_and_a_sweep_run_cache_and_report(table_plugins, tmp_path):
    from harness_reports import run_and_report

    cfg = tmp_path / "v.toml"
    cfg.write_text(CONFIG + VARIANTS)
    config = load_config(cfg)
    names = [m.name for m in config.methods]
    assert names == [
        "bm25",
        "bm25-flat",
        "bm25-tuned@k1=0.5,b=0.3",
        "bm25-tuned@k1=0.5,b=0.75",
        "bm25-tuned@k1=1.2,b=0.3",
        "bm25-tuned@k1=1.2,b=0.75",
    ]
    assert {m.plugin for m in config.methods} == {"bm25"}
    assert config.method("bm25-tuned@k1=1.2,b=0.3").options.k1 == 1.2

    cache = Cache(tmp_path / "cache")
    quiet = {"progress": False, "log": lambda s: None}
    res = run_and_report(config, run_dir=tmp_path / "run", cache=cache, **quiet)
    assert res.status == "complete"
    df = pd.read_parquet(tmp_path / "run" / "results.parquet")
    assert sorted(df.method.unique()) == sorted(names)
    runs = {n: (tmp_path / "run" / "runs" / n / "0" / "aa.trec").read_text() for n in names}
    assert len(set(runs.values())) == len(names)  # each variant really ran with its own options (BM25 scores)
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["methods"]["bm25-tuned@k1=0.5,b=0.3"]["plugin"] == "bm25"
    assert manifest["methods"]["bm25-tuned@k1=0.5,b=0.3"]["swept"] == {"k1": 0.5, "b": 0.3}
    assert manifest["methods"]["bm25-flat"]["group"] == "bm25-flat"
    html = (tmp_path / "run" / "report.html").read_text()
    assert all(n in html for n in names)

    # the normalised config (variants written out) re-runs from the cache, identically
    again = run_and_report(
        load_config(tmp_path / "run" / "config.toml"), run_dir=tmp_path / "again", cache=cache, **quiet
    )
    assert all(c.get("from_cache") for c in again.cells)
    pd.testing.assert_frame_equal(df, pd.read_parquet(tmp_path / "again" / "results.parquet"))
    assert load_config(tmp_path / "run" / "config.toml").sha256() == config.sha256()


def test_sweep_errors_name_the_key(table_plugins):
    from harness.errors import ConfigError

    base = {"benchmark": {"name": "table"}, "model": {"base": "x"}}
    with pytest.raises(ConfigError, match=r"methods\.v\.uses.*did you mean 'bm25'"):
        config_from_dict({**base, "methods": {"v": {"uses": "bm2"}}})
    with pytest.raises(ConfigError, match=r"methods\.bm25\.sweep\.k2.*did you mean 'k1'"):
        config_from_dict({**base, "methods": {"bm25": {"sweep": {"k2": [1.0]}}}})
    with pytest.raises(ConfigError, match=r"methods\.bm25\.b.*<= 1"):
        config_from_dict({**base, "methods": {"bm25": {"sweep": {"b": [0.5, 2.0]}}}})
