"""Issue 25: a cell that hangs is stopped by ``[executor] cell_timeout``; SIGTERM stops a run
on local worker processes and on Ray within seconds.  Either way the cells in flight unwind:
no ``.tmp-*`` cache entry is left, nothing of them is cached, and the manifest says what
happened ("partial" with the timed-out cells named, or "interrupted"), never "running".

The ``stall`` plugin builds a cache entry that never finishes: while it hangs, a ``.tmp-*``
directory with a partly written file is in flight, which is what must not survive.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from thirdparty import CONFIG

from harness import registry
from harness.cache import Cache
from harness.cli import EXIT_TERMINATED
from harness.config import config_from_dict, load_config
from harness.errors import ConfigError
from harness.runner import run_matrix

STALL = '''
import time
from pathlib import Path
from harness import Method, Options

class StallOptions(Options):
    marker: str = ""

class Stall(Method):
    """Test plugin: builds a cache entry that never finishes (a .tmp-* directory stays in flight)."""
    version = "1"
    citation = "@misc{stall, title={Stall}}"
    kind = "lexical"
    needs_teacher = False
    Config = StallOptions

    def fit(self, ctx):
        def build(tmp):
            (tmp / "partial.bin").write_bytes(b"x" * 4096)
            Path(f"{self.config.marker}.{ctx.seed}").write_text("building")
            while True:
                time.sleep(0.2)
        ctx.cache.get_or_build("stall", {"seed": ctx.seed}, build)
        raise RuntimeError("the build never returns")
'''


@pytest.fixture
def stall_plugin(table_plugins, tmp_path, monkeypatch):
    """The ``stall`` method (and the ``table`` benchmark of ``table_plugins``) installed and discovered."""
    root = tmp_path / "stall-site"
    root.mkdir()
    (root / "stall_plugin.py").write_text(textwrap.dedent(STALL))
    info = root / "stall_plugin-1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: stall-plugin\nVersion: 1\n")
    (info / "entry_points.txt").write_text("[harness.methods]\nstall = stall_plugin:Stall\n")
    monkeypatch.syspath_prepend(str(root))
    registry.discover(force=True)
    yield os.pathsep.join([str(root), str(table_plugins)])
    registry.METHODS.unregister("stall")
    sys.modules.pop("stall_plugin", None)


def _config(tmp_path: Path, executor: str) -> Path:
    p = tmp_path / "c.toml"
    p.write_text(CONFIG + f'[methods.stall]\nmarker = "{tmp_path / "marker"}"\n[executor]\n{executor}\n')
    return p


def _no_temporaries(cache: Path) -> None:
    left = [str(p.relative_to(cache)) for p in cache.rglob("*") if p.name.startswith((".tmp-", ".trash-"))]
    assert not left, left
    assert not (cache / "stall").exists() or not any(p.name == "partial.bin" for p in (cache / "stall").rglob("*"))


# ------------------------------------------------------------------ cell_timeout


@pytest.mark.parametrize(("value", "needle"), [(0, "> 0"), (-3, "> 0"), ("soon", "number"), (10**9, "<= 2592000")])
def test_cell_timeout_is_validated(value, needle):
    with pytest.raises(ConfigError) as e:
        config_from_dict({"methods": {"bm25": {}}, "executor": {"kind": "local", "cell_timeout": value}})
    assert e.value.path == "executor.cell_timeout" and needle in str(e.value)


def test_cell_timeout_is_recorded_not_hashed_and_kept_across_executors():
    plain = config_from_dict({"methods": {"bm25": {}}})
    timed = config_from_dict({"methods": {"bm25": {}}, "executor": {"kind": "local", "cell_timeout": 90}})
    assert timed.normalized()["executor"] == {"kind": "local", "workers": 1, "cell_timeout": 90.0}
    assert timed.sha256() == plain.sha256()  # a limit changes no result
    pytest.importorskip("ray")
    assert timed.with_executor("ray").executor.cell_timeout == 90.0  # `--executor ray` keeps the limit


@pytest.mark.parametrize("workers", [1, 2])
def test_a_hanging_fit_fails_its_cell_and_the_run_goes_on(stall_plugin, tmp_path, workers):
    # 5 s: enough for a bm25 cell on a loaded machine (it must finish), while the stall cells hang for ever
    config = load_config(_config(tmp_path, f"cell_timeout = 5\nworkers = {workers}"))
    cache = tmp_path / "cache"
    t0 = time.monotonic()
    res = run_matrix(config, run_dir=tmp_path / "run", cache=Cache(cache), progress=False, log=lambda s: None)
    assert time.monotonic() - t0 < 90
    assert res.status == "partial"
    failed = {(f.method, f.seed): f.error for f in res.failed}
    assert set(failed) == {("stall", 0), ("stall", 1)}, failed
    for seed in (0, 1):
        assert f"cell stall/seed={seed} exceeded executor.cell_timeout = 5 s" in failed[("stall", seed)]
        assert Path(f"{tmp_path / 'marker'}.{seed}").exists()  # it did hang inside the build
    m = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert m["status"] == "partial" and m["config"]["executor"]["cell_timeout"] == 5.0
    assert {c["method"]: c["status"] for c in m["cells"]}["bm25"] == "done"
    _no_temporaries(cache)


@pytest.mark.ray
@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_hanging_fit_fails_its_cell_on_ray(stall_plugin, tmp_path):
    pytest.importorskip("ray")
    config = load_config(_config(tmp_path, 'kind = "ray"\ncell_timeout = 5\nshard_tasks = false'))
    cache = tmp_path / "cache"
    res = run_matrix(config, run_dir=tmp_path / "run", cache=Cache(cache), progress=False, log=lambda s: None)
    assert res.status == "partial"
    assert {(f.method, f.seed) for f in res.failed} == {("stall", 0), ("stall", 1)}
    assert all("exceeded executor.cell_timeout = 5 s" in f.error for f in res.failed), [f.error for f in res.failed]
    _no_temporaries(cache)


# ------------------------------------------------------------------ SIGTERM


def _terminate(
    stall_plugin: str, tmp_path: Path, executor: str, within: float, group_gone: bool = False
) -> tuple[str, float]:
    """``harness run`` in a subprocess; SIGTERM once a stall cell hangs. Returns (stderr, seconds to exit).

    ``group_gone``: also check that every process the run started has exited within 5 s.
    """
    cfg = _config(tmp_path, executor)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([stall_plugin, os.environ.get("PYTHONPATH", "")])}
    cmd = [sys.executable, "-m", "harness.cli", "run", str(cfg), "--out", str(tmp_path / "run")]
    proc = subprocess.Popen(
        [*cmd, "--cache-dir", str(tmp_path / "cache"), "--quiet"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: the test can see (and end) every worker it started
    )
    try:
        out = _signal_and_check(proc, tmp_path, within)
        if group_gone:
            deadline = time.time() + 5
            while time.time() < deadline and _alive(proc.pid):
                time.sleep(0.2)
            assert not _alive(proc.pid), "worker processes outlived the run"
        return out
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # nothing of a failed attempt outlives the test


def _alive(pgid: int) -> bool:
    """Whether a process of the process group ``pgid`` is still running (zombies waiting to be reaped do not count)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            state, _ppid, group = stat.read_text().rsplit(")", 1)[1].split()[:3]
        except (OSError, IndexError, ValueError):
            continue
        if int(group) == pgid and state != "Z":
            return True
    return False


def _signal_and_check(proc: subprocess.Popen, tmp_path: Path, within: float) -> tuple[str, float]:
    deadline = time.time() + 240
    markers = lambda: list(tmp_path.glob("marker.*"))  # noqa: E731
    while not markers() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert markers(), proc.communicate(timeout=30)
    time.sleep(0.5)
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=within + 30)
    except subprocess.TimeoutExpired:
        pytest.fail(f"harness run still running {within + 30:.0f} s after SIGTERM")
    seconds = time.monotonic() - t0
    assert proc.returncode == EXIT_TERMINATED, err
    harness_lines = [ln for ln in err.splitlines() if ln.startswith("harness ")]
    assert harness_lines == [
        "harness run: terminated (SIGTERM); finished cells are cached, temporary files were removed, and a re-run "
        "resumes"
    ], err
    assert "Traceback" not in err and "Aborted" not in err, err
    assert seconds < within, (seconds, err)
    _no_temporaries(tmp_path / "cache")
    m = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert m["status"] == "interrupted" and m["signal"] == "SIGTERM" and m["finished"] is None
    return err, seconds


@pytest.mark.slow
def test_sigterm_with_local_workers_abandons_the_cells_in_flight(stall_plugin, tmp_path):
    # two workers, both hanging in a stall cell: the pool must not wait for them (or the queued bm25 cells),
    # and no worker process outlives the run (an orphaned worker would hang in its cell forever)
    _terminate(stall_plugin, tmp_path, "workers = 2", within=15, group_gone=True)


@pytest.mark.ray
@pytest.mark.slow
@pytest.mark.timeout(300)
def test_sigterm_under_ray_exits_143_with_one_line_and_no_temporaries(stall_plugin, tmp_path):
    pytest.importorskip("ray")
    _terminate(stall_plugin, tmp_path, 'kind = "ray"\nshard_tasks = false', within=30)
