"""A tiny third-party plugin distribution for tests: a benchmark adapter, an executor and two test methods.

:func:`install` writes ``table_plugins.py`` and a wheel-style ``dist-info`` (with entry points
in ``harness.benchmarks``, ``harness.executors`` and ``harness.methods``) into a directory; put
it on ``sys.path`` (or ``PYTHONPATH`` for a subprocess) and the harness discovers them.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

SOURCE = '''
import hashlib
from pydantic import Field
import torch
from harness import Benchmark, Executor, Method, Options
from harness.benchmarks.base import LanguageData

WORDS = {"aa": ["sun", "moon", "star", "rain", "snow", "wind"], "bb": ["sol", "luna", "astro", "lluvia", "nieve", "viento"]}


class TableOptions(Options):
    docs: int = Field(12, ge=6, description="passages per language")
    ghost_judgements: bool = Field(False, description="judge documents that are not in the corpus (a data problem)")


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
        if self.options.ghost_judgements:
            qrels[f"{language}-q0"] = {f"{language}-ghost": 1}
            qrels[f"{language}-q1"][f"{language}-ghost2"] = 1
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


class NanVectors(Method):
    """Test method: an encoder whose vectors are all NaN (a diverged model)."""

    version = "1"
    citation = "@misc{nan, title={NaN}}"
    needs_teacher = False

    def fit(self, ctx):
        class Enc:
            def encode_queries(self, texts, language):
                return torch.full((len(texts), 4), float("nan"))

            encode_documents = encode_queries

        return Enc()


class SleepyOptions(Options):
    marker: str = ""


class Sleepy(Method):
    """Test method: writes a marker file, then sleeps (to be interrupted)."""

    version = "1"
    citation = "@misc{sleepy, title={Sleepy}}"
    kind = "lexical"
    needs_teacher = False
    Config = SleepyOptions

    def fit(self, ctx):
        import time
        from pathlib import Path

        Path(self.config.marker).write_text("fitting")
        time.sleep(120)
        raise RuntimeError("not interrupted")
'''


def install(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "table_plugins.py").write_text(textwrap.dedent(SOURCE))
    info = root / "table_plugins-1.0.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: table-plugins\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[harness.benchmarks]\ntable = table_plugins:TableBenchmark\n"
        "[harness.executors]\nreverse-serial = table_plugins:ReverseSerial\n"
        "[harness.methods]\nnan-vectors = table_plugins:NanVectors\nsleepy = table_plugins:Sleepy\n"
    )
    return root


CONFIG = """
name = "table-run"
seeds = [0, 1]
device = "cpu"
metrics = ["ndcg@10", "mrr@10"]
top_k = 10
[benchmark]
name = "table"
docs = 8
[model]
base = "unused-lexical-only"
[methods.bm25]
"""
