"""End to end: config -> matrix -> run directory, with caching, resumption and failures."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from tiny_config import TINY  # noqa: E402  (tests/core is on sys.path)

from harness.cache import Cache, CacheCorruptWarning
from harness.config import load_config
from harness.errors import NonFiniteLossError, RunLockedError
from harness.plugin import Method
from harness.registry import register_method, unregister_method
from harness_reports import run_and_report as run_matrix


def write_config(path: Path, extra: str = "") -> Path:
    path.write_text(TINY.format(extra=extra))
    return path


def test_run_directory_layout(tiny_run):
    res, _ = tiny_run
    d = res.run_dir
    assert res.status == "complete" and not res.failed
    for rel in ("manifest.json", "config.toml", "results.parquet", "analysis.json", "report.html"):
        assert (d / rel).is_file(), rel
    m = json.loads((d / "manifest.json").read_text())
    assert m["status"] == "complete" and m["finished"]
    assert len(m["config_sha256"]) == 64 and m["seeds"] == [0, 1]
    assert set(m["dataset_fingerprints"]["languages"]) == {"en", "h1", "l1", "l2"}
    assert m["packages"]["torch"] and m["packages"]["ranx"] and m["python"] and m["platform"]
    # the numerics environment: what makes floats depend on the machine
    num = m["numerics"]
    assert num["torch"]["cpu_capability"] in ("DEFAULT", "AVX2", "AVX512", "ZVECTOR", "VSX", "SVE256")
    assert num["torch"]["blas"] and num["numpy"]["blas"] and "ATEN_CPU_CAPABILITY" in num["env"]
    assert f"CPU capability {num['torch']['cpu_capability']}" in num["summary"]
    if os.path.exists("/proc/cpuinfo"):
        assert num["cpu"]["isa_flags"] and num["cpu"]["model"]
    assert m["config_overrides"] == []
    assert {(c["method"], c["seed"]) for c in m["cells"]} == {(x, s) for x in ("zero-shot", "bm25") for s in (0, 1)}
    assert all(c["status"] == "done" and "retrieve" in c["timings"] for c in m["cells"])
    assert m["methods"]["bm25"]["version"] and m["methods"]["zero-shot"]["citation"].startswith("@")

    df = pd.read_parquet(d / "results.parquet")
    assert list(df.columns) == ["world", "method", "seed", "mode", "language", "tier", "query_id", "metric", "value"]
    assert set(df["mode"]) == {"monolingual"}
    assert len(df) == 2 * 2 * 4 * 40 * 3  # methods x seeds x languages x queries x metrics
    assert df["value"].between(0, 1).all()
    assert set(df["tier"]) == {"high", "low"}

    for lang in ("en", "h1", "l1", "l2"):
        qrels = (d / "qrels" / f"{lang}.qrels").read_text().splitlines()
        assert qrels and all(len(line.split()) == 4 for line in qrels)
        for method in ("zero-shot", "bm25"):
            for seed in (0, 1):
                lines = (d / "runs" / method / str(seed) / f"{lang}.trec").read_text().splitlines()
                per_q = pd.Series([line.split()[0] for line in lines]).value_counts()
                assert per_q.max() <= 100 and len(per_q) == 40
                assert lines[0].split()[1] == "Q0" and lines[0].split()[3] == "1"
    analysis = json.loads((d / "analysis.json").read_text())
    for key in ("variance_components", "pairwise", "question", "power"):
        assert key in analysis


def test_rerun_recomputes_nothing_and_is_identical(tiny_run, tiny_cfg, tmp_path):
    res, cache = tiny_run
    t0 = time.perf_counter()
    res2 = run_matrix(
        load_config(tiny_cfg), run_dir=tmp_path / "again", cache=cache, progress=False, log=lambda s: None
    )
    assert all(c.get("from_cache") for c in res2.cells)
    a = pd.read_parquet(res.run_dir / "results.parquet")
    b = pd.read_parquet(res2.run_dir / "results.parquet")
    pd.testing.assert_frame_equal(a, b)
    assert time.perf_counter() - t0 < 60


def test_changing_one_method_reruns_only_its_cells(tiny_run, tmp_path):
    _, cache = tiny_run
    cfg = tmp_path / "c.toml"
    cfg.write_text(TINY.format(extra="").replace("[methods.bm25]", "[methods.bm25]\nk1 = 1.5"))
    res = run_matrix(load_config(cfg), run_dir=tmp_path / "r", cache=cache, progress=False, log=lambda s: None)
    cached = {(c["method"], c["seed"]): c["from_cache"] for c in res.cells}
    assert cached == {("zero-shot", 0): True, ("zero-shot", 1): True, ("bm25", 0): False, ("bm25", 1): False}


def test_corrupt_cell_is_detected_and_recomputed(tiny_run, tiny_cfg, tmp_path):
    res, cache = tiny_run
    # a cell of this config (other tests add cells of other configs to the same cache)
    entries = sorted(cache.entry_dir("cell", {"key": c["key"]}) / "results.parquet" for c in res.cells)
    assert entries and all(e.is_file() for e in entries)
    victim = entries[0]
    victim.write_bytes(victim.read_bytes()[:100])  # truncated
    with pytest.warns(CacheCorruptWarning, match="results.parquet"):
        res2 = run_matrix(
            load_config(tiny_cfg), run_dir=tmp_path / "r", cache=cache, progress=False, log=lambda s: None
        )
    assert sum(not c["from_cache"] for c in res2.cells) == 1
    pd.testing.assert_frame_equal(
        pd.read_parquet(res.run_dir / "results.parquet"), pd.read_parquet(res2.run_dir / "results.parquet")
    )


def _snapshot(d: Path) -> dict[str, tuple[bytes, int]]:
    return {str(p.relative_to(d)): (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(d.rglob("*")) if p.is_file()}


def test_rerunning_a_finished_run_writes_nothing_and_says_where_it_is(tiny_run, tiny_cfg, tmp_path, capsys):
    from harness.cli import main

    res, _ = tiny_run
    before = _snapshot(res.run_dir)
    empty = tmp_path / "empty-cache"
    again = run_matrix(load_config(tiny_cfg), run_dir=res.run_dir, cache=Cache(empty), progress=False, log=print)
    assert again.already_finished and again.status == "complete" and again.run_dir == res.run_dir
    assert "already complete in" in capsys.readouterr().out
    assert not empty.exists()  # nothing recomputed: not even the benchmark was loaded
    assert main(["run", str(tiny_cfg), "--out", str(res.run_dir), "--cache-dir", str(empty), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert f"already finished: {res.run_dir} holds the complete run" in out and "nothing was recomputed" in out
    assert _snapshot(res.run_dir) == before  # not a byte, not an mtime (manifest started/finished, report time)
    assert not empty.exists()


def test_a_run_directory_of_another_config_is_refused(tiny_run, tmp_path, capsys):
    from harness.cli import EXIT_USAGE, main
    from harness.errors import RunFinishedError

    res, _ = tiny_run
    before = _snapshot(res.run_dir)
    cfg = tmp_path / "other.toml"
    cfg.write_text(TINY.format(extra="").replace("[methods.bm25]", "[methods.bm25]\nk1 = 1.4"))
    with pytest.raises(RunFinishedError, match="holds a run of another config"):
        run_matrix(load_config(cfg), run_dir=res.run_dir, cache=Cache(tmp_path / "c"), progress=False)
    assert main(["run", str(cfg), "--out", str(res.run_dir), "--cache-dir", str(tmp_path / "c")]) == EXIT_USAGE
    assert "never rewritten with another config" in capsys.readouterr().err
    assert _snapshot(res.run_dir) == before and not (tmp_path / "c").exists()


def test_set_overrides_are_validated_recorded_and_hashed(tiny_run, tiny_cfg, tmp_path, capsys):
    from harness.cli import EXIT_USAGE, main

    _, cache = tiny_run
    sets = ["methods.bm25.k1=1.1", "analysis.n_bootstrap=150"]
    out = tmp_path / "r"
    argv = ["run", str(tiny_cfg), "--out", str(out), "--cache-dir", str(cache.root), "--quiet"]
    assert main([*argv, *(a for s in sets for a in ("--set", s))]) == 0
    m = json.loads((out / "manifest.json").read_text())
    assert m["config_overrides"] == sets
    assert m["config"]["methods"]["bm25"]["k1"] == 1.1 and m["config"]["analysis"]["n_bootstrap"] == 150
    want = load_config(tiny_cfg, sets=sets).sha256()
    assert m["config_sha256"] == want != load_config(tiny_cfg).sha256()
    assert load_config(out / "config.toml").sha256() == want  # the stored config carries the overrides
    # an unknown key is refused before any work, naming the key path and the likely intent
    bad = tmp_path / "bad"
    assert main(["run", str(tiny_cfg), "--out", str(bad), "--set", "methods.bm25.k2=1"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "`methods.bm25.k2`" in err and "did you mean 'k1'" in err and "--set methods.bm25.k2=1" in err
    assert not bad.exists()


def test_locked_run_directory(tiny_cfg, tmp_path):
    from filelock import FileLock

    d = tmp_path / "locked"
    d.mkdir()
    with FileLock(str(d / ".lock")):
        with pytest.raises(RunLockedError, match="another harness process"):
            run_matrix(
                load_config(tiny_cfg), run_dir=d, cache=Cache(tmp_path / "c"), progress=False, log=lambda s: None
            )


class _NanMethod(Method):
    """Test plugin whose training diverges."""

    version = "0"
    citation = "@misc{nan}"

    def fit(self, ctx):
        raise NonFiniteLossError(ctx.method, ctx.seed, 3, float("nan"), hint="lower test-nan.lr")


@pytest.fixture
def nan_plugin():
    """Registered only for the test that uses it (the method contract test iterates the registry)."""
    register_method("test-nan")(_NanMethod)
    yield
    unregister_method("test-nan")


def test_failed_cell_is_reported_and_retried(tiny_run, tmp_path, nan_plugin):
    _, cache = tiny_run
    cfg = write_config(tmp_path / "c.toml", extra="[methods.test-nan]")
    res = run_matrix(load_config(cfg), run_dir=tmp_path / "r", cache=cache, progress=False, log=lambda s: None)
    assert res.status == "partial"
    assert {(f.method, f.seed) for f in res.failed} == {("test-nan", 0), ("test-nan", 1)}
    m = json.loads((tmp_path / "r" / "manifest.json").read_text())
    assert m["status"] == "partial"
    errs = [f["error"] for f in m["failed_cells"]]
    assert all("test-nan" in e and "step 3" in e and "nan" in e for e in errs)
    df = pd.read_parquet(tmp_path / "r" / "results.parquet")
    assert set(df["method"]) == {"zero-shot", "bm25"}
    assert "test-nan" in (tmp_path / "r" / "report.html").read_text()
    # never cached as done: the next run tries it again
    res2 = run_matrix(load_config(cfg), run_dir=tmp_path / "r", cache=cache, progress=False, log=lambda s: None)
    assert {(c["method"], c["from_cache"]) for c in res2.cells if c["method"] == "test-nan"} == {("test-nan", False)}


@pytest.mark.slow
def test_sigkill_mid_matrix_then_resume_gives_identical_results(tiny_run, tiny_cfg, tmp_path):
    """A real subprocess is killed with SIGKILL after its first finished cell, then re-run."""
    res, _ = tiny_run
    out, cache = tmp_path / "run", tmp_path / "cache"
    cmd = [
        sys.executable,
        "-m",
        "harness.cli",
        "run",
        str(tiny_cfg),
        "--out",
        str(out),
        "--cache-dir",
        str(cache),
        "--quiet",
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.time() + 600
    try:
        while time.time() < deadline:
            if list((cache / "cell").glob("*/.entry.json")) if (cache / "cell").exists() else []:
                break
            if proc.poll() is not None:
                pytest.fail(f"run ended before it could be killed: {proc.stdout.read().decode()[-2000:]}")
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    m = json.loads((out / "manifest.json").read_text())
    assert m["status"] == "running" and not m["finished"]  # never looks finished
    assert not (out / "report.html").exists()
    done_before = len(list((cache / "cell").glob("*/.entry.json")))
    assert 1 <= done_before < 4

    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    assert again.returncode == 0, again.stdout + again.stderr
    m = json.loads((out / "manifest.json").read_text())
    assert m["status"] == "complete"
    assert sum(c["from_cache"] for c in m["cells"]) == done_before
    # identical per-query scores to the uninterrupted run (made with another, fresh cache)
    pd.testing.assert_frame_equal(
        pd.read_parquet(res.run_dir / "results.parquet"), pd.read_parquet(out / "results.parquet")
    )
