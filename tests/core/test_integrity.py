"""No silently wrong result, bad data stopped at the door (issue 25).

Each test here fails on the main branch before issue 25: a restored mtime fooled the
digest memo, unnormalised embeddings and unknown doc ids were scored, stale temporary
directories were never swept, the disk-full message named the wrong device.
"""

from __future__ import annotations

import os
import time

import pytest


# ----------------------------------------------------------------------------- digests of files
def _same_size_edit_restoring_mtime(path, old: bytes, new: bytes) -> None:
    st = os.stat(path)
    data = path.read_bytes()
    assert old in data and len(old) == len(new)
    path.write_bytes(data.replace(old, new, 1))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # size and mtime as before the edit
    assert os.stat(path).st_size == st.st_size and os.stat(path).st_mtime_ns == st.st_mtime_ns


@pytest.mark.parametrize("racy_ns", [0, None])
def test_file_digest_sees_a_same_size_edit_with_the_mtime_restored(tmp_path, monkeypatch, racy_ns):
    """qrels edited in place (same size), mtime put back: the digest (and so every cache key) changes.

    ``racy_ns=0`` memoises every digest (the memo is consulted after the edit); ``None``
    keeps the default, under which a file changed in the last two seconds is not memoised.
    """
    import harness.corpus as corpus

    if racy_ns is not None:
        monkeypatch.setattr(corpus, "RACY_NS", racy_ns, raising=False)
    qrels = tmp_path / "qrels.txt"
    qrels.write_text("q1 0 d1 1\nq2 0 d2 1\n")
    time.sleep(0.05)  # past the file system clock's tick: the edit gets another ctime
    memo = tmp_path / "memo"
    before = corpus.file_digest(qrels, memo)
    assert corpus.file_digest(qrels, memo) == before
    _same_size_edit_restoring_mtime(qrels, b"d2 1", b"d2 0")
    after = corpus.file_digest(qrels, memo)
    assert after != before
    from harness.cache import file_sha256

    assert after == file_sha256(qrels)


# ----------------------------------------------------------------------------- plugins that return wrong things
@pytest.fixture
def wrong_plugins(table_plugins):
    """Test methods registered in-process: unnormalised vectors, a searcher with unknown ids or left-out queries."""
    import torch

    from harness import Method, Options, register_method
    from harness.registry import METHODS

    class ScaledVectors(Method):
        """Test method: unit vectors scaled row by row by 0.5 to 5 (an encoder that forgot to normalise)."""

        version = "1"
        citation = "@misc{scaled, title={Scaled}}"
        needs_teacher = False

        def fit(self, ctx):
            class Enc:
                def encode_queries(self, texts, language):
                    g = torch.Generator().manual_seed(len(texts))
                    x = torch.nn.functional.normalize(torch.randn(len(texts), 8, generator=g), dim=-1)
                    return x * torch.linspace(0.5, 5.0, len(texts)).unsqueeze(1)

                encode_documents = encode_queries

            return Enc()

    class OddSearcherOptions(Options):
        unknown_ids: bool = False
        leave_out: int = 0

    class OddSearcher(Method):
        """Test method: a searcher that ranks ids not in the corpus, or returns nothing for some queries."""

        version = "1"
        citation = "@misc{odd, title={Odd}}"
        kind = "lexical"
        needs_teacher = False
        Config = OddSearcherOptions

        def fit(self, ctx):
            opts = self.config

            class S:
                def search(self, queries, data, k):
                    docs = sorted(data.corpus)
                    run = {q: {d: 1.0 / (i + 1) for i, d in enumerate(docs[:k])} for q in sorted(queries)}
                    if opts.unknown_ids:
                        for q in run:
                            run[q]["no-such-doc"] = 5.0
                    for q in sorted(run)[: opts.leave_out]:
                        del run[q]
                    return run

            return S()

    register_method("scaled-vectors")(ScaledVectors)
    register_method("odd-searcher")(OddSearcher)
    yield
    METHODS.unregister("scaled-vectors")
    METHODS.unregister("odd-searcher")


def _run(tmp_path, extra: str, name: str = "run"):
    import json

    from thirdparty import CONFIG

    from harness.cli import main

    cfg = tmp_path / f"{name}.toml"
    cfg.write_text(CONFIG + extra)
    out = tmp_path / name
    code = main(["run", str(cfg), "--out", str(out), "--cache-dir", str(tmp_path / "cache"), "--quiet"])
    return code, json.loads((out / "manifest.json").read_text())


def _failed(manifest) -> dict:
    return {(c["method"], c["seed"]): c["error"] for c in manifest["cells"] if c["status"] == "failed"}


def test_unnormalised_embeddings_fail_the_cell_naming_method_side_language_and_norms(wrong_plugins, tmp_path):
    from harness.cli import EXIT_FAILED_CELLS

    code, m = _run(tmp_path, "[methods.scaled-vectors]\n")
    assert code == EXIT_FAILED_CELLS and m["status"] == "partial"
    failed = _failed(m)
    assert set(failed) == {("scaled-vectors", 0), ("scaled-vectors", 1)}
    err = failed[("scaled-vectors", 0)]
    assert "scaled-vectors/seed=0 language=aa" in err and "not L2-normalised" in err
    assert "document-side" in err or "query-side" in err
    assert "norms seen 0.5 to 5" in err and "1e-03" not in err and "0.001" in err


def test_unit_norm_tolerance_and_opt_out():
    import torch

    from harness.cell_evaluation import UNIT_NORM_TOL, UnnormalisedEmbeddingError, _check_embeddings

    x = torch.nn.functional.normalize(torch.randn(6, 4), dim=-1)
    _check_embeddings(x, "query embeddings", "m/seed=0 language=xx", True)
    _check_embeddings(x * (1 + UNIT_NORM_TOL / 2), "query embeddings", "m/seed=0 language=xx", True)
    with pytest.raises(UnnormalisedEmbeddingError, match=r"m/seed=0 language=xx: query-side .* 1 of 6 rows"):
        _check_embeddings(
            torch.cat([x[:5], x[5:] * (1 + 2 * UNIT_NORM_TOL)]), "query embeddings", "m/seed=0 language=xx", True
        )
    _check_embeddings(x * 3, "document embeddings", "m", False)  # model.normalize = false: raw inner products


def test_a_searcher_naming_unknown_documents_fails_the_cell(wrong_plugins, tmp_path):
    code, m = _run(tmp_path, "[methods.odd-searcher]\nunknown_ids = true\n")
    err = _failed(m)[("odd-searcher", 0)]
    assert "odd-searcher/seed=0 language=aa" in err and "not in the corpus" in err and "no-such-doc" in err


def test_queries_a_searcher_leaves_out_are_counted_in_the_manifest(wrong_plugins, tmp_path):
    from harness.cli import EXIT_OK

    code, m = _run(tmp_path, "[methods.odd-searcher]\nleave_out = 2\n")
    assert code == EXIT_OK
    cell = next(c for c in m["cells"] if c["method"] == "odd-searcher" and c["seed"] == 0)
    left = cell["info"]["queries_left_out"]
    assert left["aa:test"] == {"n": 2, "of": 6, "examples": ["aa-q0", "aa-q1"]}
    assert left["bb:test"]["n"] == 2
    bm25 = next(c for c in m["cells"] if c["method"] == "bm25")
    assert "queries_left_out" not in bm25.get("info", {})


# ----------------------------------------------------------------------------- a full disk
def test_disk_full_without_a_file_name_names_the_cache_device_and_its_free_space(
    table_plugins, tmp_path, capsys, monkeypatch
):
    """pyarrow, np.save and write() raise ENOSPC naming no file: the message names the device being written
    (the cache's), not the working directory's."""
    import errno
    import json

    import pandas as pd
    from thirdparty import CONFIG

    from harness.cli import EXIT_ENVIRONMENT, main

    def full(self, path, *a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", full)
    cfg = tmp_path / "c.toml"
    cfg.write_text(CONFIG)
    cache, out = tmp_path / "cache", tmp_path / "run"
    assert main(["run", str(cfg), "--out", str(out), "--cache-dir", str(cache), "--quiet"]) == EXIT_ENVIRONMENT
    err = capsys.readouterr().err.strip()
    mount = tmp_path
    while not os.path.ismount(mount):
        mount = mount.parent
    assert len(err.splitlines()) == 1 and "no space left" in err
    assert f"mounted at {mount} " in err and f"writing {cache}{os.sep}cell{os.sep}" in err and "free there" in err
    assert str(os.getcwd()) + " " not in err
    assert json.loads((out / "manifest.json").read_text())["status"] != "complete"
    assert not list(cache.rglob(".tmp-*"))


# ----------------------------------------------------------------------------- temporary directories of dead processes
def test_build_directories_of_dead_processes_are_swept_when_an_engine_starts(tmp_path):
    """A run SIGKILLed while building the base encoder leaves ``.tmp-*``: the next engine removes it,
    and never a live build's directory."""
    import signal
    import subprocess
    import sys
    import textwrap

    from harness.cache import Cache

    cache_root = tmp_path / "cache"
    marker = tmp_path / "building"
    child = textwrap.dedent(
        f"""
        import time
        from pathlib import Path
        from harness.cache import Cache

        def build(tmp):
            (tmp / "weights.bin").write_bytes(b"half")
            Path({str(marker)!r}).write_text("x")
            time.sleep(60)

        Cache({str(cache_root)!r}).get_or_build("base-mini", {{"k": 1}}, build)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", child])
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        live = list(cache_root.glob("base-mini/.tmp-*"))
        assert len(live) == 1 and f"-{proc.pid}-" in live[0].name
        assert Cache(cache_root).sweep_stale() == [] and live[0].is_dir()  # its owner is alive: kept
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert live[0].is_dir()  # SIGKILL removes nothing
    # a directory from before pids were recorded, whose entry nobody is building: stale too
    legacy = cache_root / "teacher" / f".tmp-{'a' * 32}-{'b' * 32}"
    legacy.mkdir(parents=True)
    from harness.config import config_from_dict
    from harness.engine import Engine

    Engine(config_from_dict({"methods": {"bm25": {}}, "device": "cpu"}), Cache(cache_root))
    assert not live[0].exists() and not legacy.exists()
    from harness.index import read_cache_log

    assert any(r["event"] == "swept" for r in read_cache_log(cache_root))


# ----------------------------------------------------------------------------- index shards verified on every read
def test_a_same_size_corrupted_shard_is_caught_on_read_and_rebuilt(tmp_path):
    import numpy as np
    import torch

    from harness.benchmarks.base import LanguageData
    from harness.cache import CacheCorruptWarning
    from harness.errors import CacheCorruptError
    from harness.index import DocIndex, dense_run

    g = np.random.default_rng(0)
    emb = torch.nn.functional.normalize(torch.from_numpy(g.standard_normal((300, 16)).astype(np.float32)), dim=-1)
    corpus = {f"d{j:03d}": str(j) for j in range(300)}
    queries = {f"q{j}": str(j * 7) for j in range(20)}

    class Bench:
        def language_data(self, language):
            return LanguageData(language, "high", corpus, queries, {q: {"d000": 1} for q in queries})

    class Enc:
        encoded = 0

        def document_identity(self, language):
            return "enc-v1"

        def encode_documents(self, texts, language):
            Enc.encoded += len(texts)
            return emb[[int(t) for t in texts]]

        def encode_queries(self, texts, language):
            return emb[[int(t) for t in texts]]

    kw = {"root": tmp_path, "shard_size": 100, "dtype": "float32"}
    (first,) = dense_run(Enc(), Bench(), "xx", [queries], 10, **kw)
    assert Enc.encoded == 300
    shard = next(tmp_path.glob("docindex/*/shard-00001.emb.npy"))
    data = bytearray(shard.read_bytes())
    data[-64:] = bytes(64)  # same size, the last document's vector zeroed
    shard.write_bytes(bytes(data))
    with pytest.raises(CacheCorruptError, match="shard-00001.emb.npy fails its sha256"):
        list(DocIndex(shard.parent).iter_shards())
    with pytest.warns(CacheCorruptWarning, match="fails its sha256 checksum"):
        (again,) = dense_run(Enc(), Bench(), "xx", [queries], 10, **kw)
    assert Enc.encoded == 600  # rebuilt
    assert again == first
    (third,) = dense_run(Enc(), Bench(), "xx", [queries], 10, **kw)  # the rebuilt index verifies
    assert third == first and Enc.encoded == 600


# ----------------------------------------------------------------------------- bad data stopped at the door
@pytest.fixture
def flawed_benchmark():
    """A streamed third-party adapter whose data has one flaw (``flaw`` option)."""
    from harness import Benchmark, Options, register_benchmark
    from harness.benchmarks.base import LanguageData
    from harness.registry import BENCHMARKS

    class FlawedOptions(Options):
        flaw: str = "none"

    class Flawed(Benchmark):
        """Two languages of six passages, streamed, with one flaw."""

        Config = FlawedOptions
        pivot = "aa"

        def __init__(self, options, cache=None, *, base_dir=None):
            self.options = options
            self.languages = ("aa", "bb")
            self.tiers = {"aa": "high", "bb": "low"}

        def _docs(self, language):
            return [(f"{language}-d{i}", f"word{i} word{i + 1}") for i in range(6)]

        def iter_corpus(self, language):
            for i, (did, text) in enumerate(self._docs(language)):
                if self.options.flaw == "truncated" and language == "bb" and i == 3:
                    raise EOFError("Compressed file ended before the end-of-stream marker was reached")
                yield did, text
            if self.options.flaw == "duplicate" and language == "bb":
                yield "bb-d2", "another text under the same id"

        def data_source(self, language, entity):
            return f"/data/{language}/{entity}.jsonl.gz"

        def language_data(self, language):
            corpus = dict(self._docs(language))
            queries = {f"{language}-q{j}": f"word{j}" for j in range(4)}
            if self.options.flaw == "empty-query" and language == "bb":
                queries["bb-q3"] = " "
            return LanguageData(
                language, self.tiers[language], corpus, queries, {q: {f"{language}-d0": 1} for q in queries}
            )

        def train_pairs(self):
            return ()

        def bitext(self, language):
            return ()

        def fingerprint(self):
            return f"flawed-{self.options.flaw}"

    register_benchmark("flawed")(Flawed)
    yield
    BENCHMARKS.unregister("flawed")


@pytest.mark.parametrize(
    ("flaw", "needles"),
    [
        (
            "truncated",
            ["/data/bb/docs.jsonl.gz", "reading stopped after 3 documents", "EOFError", "truncated or corrupt"],
        ),
        ("duplicate", ["/data/bb/docs.jsonl.gz", "duplicate doc id 'bb-d2' (documents 3 and 7"]),
        ("empty-query", ["queries of language 'bb'", "empty text: ['bb-q3']"]),
    ],
)
def test_bad_data_is_refused_before_any_work_and_leaves_no_run_directory(
    flawed_benchmark, tmp_path, capsys, flaw, needles
):
    from harness.cli import EXIT_USAGE, main

    cfg = tmp_path / "c.toml"
    cfg.write_text(
        'name = "flawed"\nseeds = [0]\ndevice = "cpu"\nmetrics = ["ndcg@10"]\ntop_k = 10\n'
        f'[benchmark]\nname = "flawed"\nflaw = "{flaw}"\n[model]\nbase = "unused-lexical-only"\n[methods.bm25]\n'
    )
    out = tmp_path / "run"
    assert main(["run", str(cfg), "--out", str(out), "--cache-dir", str(tmp_path / "cache"), "--quiet"]) == EXIT_USAGE
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and all(n in err[0] for n in needles), err
    assert not out.exists()  # nothing that looks finished, nor "running"
