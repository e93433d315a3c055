"""A third-party benchmark adapter and a third-party executor, installed as a distribution, run a matrix.

Nothing in the harness is touched: a package with entry points in ``harness.benchmarks`` and
``harness.executors`` is put on ``sys.path`` (a wheel-style ``dist-info``), discovered, listed
by ``harness plugins``, named in a config, and used to run ``bm25`` over two seeds.
"""

from __future__ import annotations

import json
import sys
import textwrap

import pytest

from harness import registry
from harness.cache import Cache
from harness.config import config_from_dict
from harness.runner import run_matrix

SOURCE = '''
import hashlib
from pydantic import Field
from harness import Benchmark, Executor, Options
from harness.benchmarks.base import LanguageData

WORDS = {"aa": ["sun", "moon", "star", "rain", "snow", "wind"], "bb": ["sol", "luna", "astro", "lluvia", "nieve", "viento"]}


class TableOptions(Options):
    docs: int = Field(12, ge=6, description="passages per language")


class TableBenchmark(Benchmark):
    """Two tiny languages made of word lists (a third-party adapter)."""

    Config = TableOptions
    pivot = "aa"

    def __init__(self, options, cache=None, *, base_dir=None):
        self.options = options
        self.languages = ("aa", "bb")
        self.tiers = {"aa": "high", "bb": "low"}

    def language_data(self, language):
        self.check_language(language)
        w = WORDS[language]
        corpus = {f"{language}-d{i:02d}": f"{w[i % 6]} {w[(i + 1) % 6]} {w[(i * 5) % 6]}" for i in range(self.options.docs)}
        queries = {f"{language}-q{j}": f"{w[j]} {w[(j + 1) % 6]}" for j in range(6)}
        qrels = {f"{language}-q{j}": {f"{language}-d{j:02d}": 1} for j in range(6)}
        return LanguageData(language, self.tiers[language], corpus, queries, qrels)

    def train_pairs(self):
        return ()

    def bitext(self, language):
        return ()

    def fingerprint(self):
        return hashlib.sha256(f"table-v1 {self.options.docs}".encode()).hexdigest()


class SerialOptions(Options):
    reverse: bool = True


class ReverseSerial(Executor):
    """Runs cells one by one in this process, last cell first (a third-party executor)."""

    Config = SerialOptions
    calls = []

    def run(self, cells, progress=False):
        order = list(reversed(cells)) if self.options.reverse else list(cells)
        for spec in order:
            ReverseSerial.calls.append(spec.label)
            yield self.engine.run_cell(spec)
'''


@pytest.fixture
def third_party(tmp_path, monkeypatch):
    (tmp_path / "table_plugins.py").write_text(textwrap.dedent(SOURCE))
    info = tmp_path / "table_plugins-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: table-plugins\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[harness.benchmarks]\ntable = table_plugins:TableBenchmark\n"
        "[harness.executors]\nreverse-serial = table_plugins:ReverseSerial\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    registry.discover(force=True)
    yield sys.modules.get("table_plugins")
    registry.BENCHMARKS.unregister("table")
    registry.EXECUTORS.unregister("reverse-serial")
    sys.modules.pop("table_plugins", None)
    monkeypatch.undo()
    registry.discover(force=True)


def test_third_party_benchmark_and_executor_run_a_matrix(third_party, tmp_path, capsys):
    from harness.cli import main

    assert main(["plugins", "--json"]) == 0
    listed = {(p["kind"], p["name"]): p for p in json.loads(capsys.readouterr().out)}
    assert listed[("benchmark", "table")]["distribution"] == "table-plugins 1.0"
    assert listed[("executor", "reverse-serial")]["error"] is None

    config = config_from_dict({
        "name": "third-party", "seeds": [0, 1], "device": "cpu", "metrics": ["ndcg@10", "mrr@10"], "top_k": 10,
        "benchmark": {"name": "table", "docs": 8}, "model": {"base": "unused-lexical-only"},
        "executor": {"kind": "reverse-serial"}, "methods": {"bm25": {}},
    })
    res = run_matrix(config, run_dir=tmp_path / "run", cache=Cache(tmp_path / "cache"), progress=False,
                     log=lambda s: None)
    assert res.status == "complete"
    assert sys.modules["table_plugins"].ReverseSerial.calls == ["bm25/seed=1", "bm25/seed=0"]
    import pandas as pd

    df = pd.read_parquet(tmp_path / "run" / "results.parquet")
    assert set(df.language) == {"aa", "bb"} and set(df.seed) == {0, 1} and len(df) == 2 * 2 * 6 * 2
    assert df.value.between(0, 1).all() and df.value.max() > 0
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["benchmark"]["name"] == "table"


def test_unknown_benchmark_and_executor_are_config_errors(third_party):
    from harness.errors import ConfigError

    base = {"methods": {"bm25": {}}, "model": {"base": "x"}}
    with pytest.raises(ConfigError, match=r"benchmark\.name.*did you mean 'table'"):
        config_from_dict({**base, "benchmark": {"name": "tabel"}})
    with pytest.raises(ConfigError, match=r"executor\.kind.*did you mean 'reverse-serial'"):
        config_from_dict({**base, "benchmark": {"name": "table"}, "executor": {"kind": "reverse-serail"}})
    with pytest.raises(ConfigError, match=r"executor\.reverse_order.*unknown key"):
        config_from_dict({**base, "benchmark": {"name": "table"},
                          "executor": {"kind": "reverse-serial", "reverse_order": True}})
