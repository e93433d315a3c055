"""A third-party benchmark adapter and a third-party executor, installed as a distribution, run a matrix.

Nothing in the harness is touched: a package with entry points in ``harness.benchmarks`` and
``harness.executors`` is put on ``sys.path`` (a wheel-style ``dist-info``), discovered, listed
by ``harness plugins``, named in a config, and used to run ``bm25`` over two seeds.
"""

from __future__ import annotations

import json
import sys

import pytest

from harness.cache import Cache
from harness.config import config_from_dict
from harness.runner import run_matrix


def test_third_party_benchmark_and_executor_run_a_matrix(table_plugins, tmp_path, capsys):
    from harness.cli import main

    assert main(["plugins", "--json"]) == 0
    listed = {(p["kind"], p["name"]): p for p in json.loads(capsys.readouterr().out)}
    assert listed[("benchmark", "table")]["distribution"] == "table-plugins 1.0"
    assert listed[("executor", "reverse-serial")]["error"] is None

    config = config_from_dict(
        {
            "name": "third-party",
            "seeds": [0, 1],
            "device": "cpu",
            "metrics": ["ndcg@10", "mrr@10"],
            "top_k": 10,
            "benchmark": {"name": "table", "docs": 8},
            "model": {"base": "unused-lexical-only"},
            "executor": {"kind": "reverse-serial"},
            "methods": {"bm25": {}},
        }
    )
    res = run_matrix(
        config, run_dir=tmp_path / "run", cache=Cache(tmp_path / "cache"), progress=False, log=lambda s: None
    )
    assert res.status == "complete"
    assert sys.modules["table_plugins"].ReverseSerial.calls == ["bm25/seed=1", "bm25/seed=0"]
    import pandas as pd

    df = pd.read_parquet(tmp_path / "run" / "results.parquet")
    assert set(df.language) == {"aa", "bb"} and set(df.seed) == {0, 1} and len(df) == 2 * 2 * 6 * 2
    assert df.value.between(0, 1).all() and df.value.max() > 0
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["benchmark"]["name"] == "table"


def test_unknown_benchmark_and_executor_are_config_errors(table_plugins):
    from harness.errors import ConfigError

    base = {"methods": {"bm25": {}}, "model": {"base": "x"}}
    with pytest.raises(ConfigError, match=r"benchmark\.name.*did you mean 'table'"):
        config_from_dict({**base, "benchmark": {"name": "tabel"}})
    with pytest.raises(ConfigError, match=r"executor\.kind.*did you mean 'reverse-serial'"):
        config_from_dict({**base, "benchmark": {"name": "table"}, "executor": {"kind": "reverse-serail"}})
    with pytest.raises(ConfigError, match=r"executor\.reverse_order.*unknown key"):
        config_from_dict(
            {**base, "benchmark": {"name": "table"}, "executor": {"kind": "reverse-serial", "reverse_order": True}}
        )
