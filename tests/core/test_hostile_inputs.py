"""Wrong inputs are stopped at the door; broken outputs, full disks and SIGTERM leave nothing that looks finished."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from thirdparty import CONFIG

from harness.cli import EXIT_ENVIRONMENT, EXIT_FAILED_CELLS, EXIT_OK, EXIT_TERMINATED, EXIT_USAGE, main
from harness.config import config_from_dict, load_config
from harness.errors import ConfigError

BASE = {"methods": {"bm25": {}}}


@pytest.mark.parametrize(
    ("extra", "path", "needle"),
    [
        ({"metrics": ["ndcg@abc"]}, "metrics", "not a positive integer"),
        ({"metrics": ["ndcg@0"]}, "metrics", "not a positive integer"),
        ({"metrics": ["recall@1000"]}, "metrics", "silently equal recall@100"),
        ({"metrics": ["ndgc@10"]}, "metrics", "did you mean 'ndcg'"),
        ({"seeds": [99999999999999999999]}, "seeds", "2**32 - 1"),
        ({"seeds": [-3]}, "seeds", "integers from 0"),
    ],
)
def test_bad_metrics_and_seeds_are_config_errors(extra, path, needle):
    with pytest.raises(ConfigError) as e:
        config_from_dict({**BASE, **extra})
    assert e.value.path == path and needle in str(e.value)


def test_cutoff_at_top_k_is_fine():
    assert config_from_dict({**BASE, "top_k": 1000, "metrics": ["recall@1000"]}).metrics == ["recall@1000"]


def test_non_utf8_config_names_file_and_byte(tmp_path, capsys):
    p = tmp_path / "latin1.toml"
    p.write_bytes('name = "caf\xe9"\n[methods.bm25]\n'.encode("latin-1"))
    assert main(["run", str(p)]) == EXIT_USAGE
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(p) in err and "byte 11" in err and "UTF-8" in err


def _cfg(tmp_path: Path, extra: str = "", name: str = "c.toml") -> Path:
    p = tmp_path / name
    p.write_text(CONFIG + extra)
    return p


def test_nan_embeddings_fail_the_cell_naming_method_seed_language(table_plugins, tmp_path, capsys):
    cfg = _cfg(tmp_path, "[methods.nan-vectors]\n")
    code = main(["run", str(cfg), "--out", str(tmp_path / "run"), "--cache-dir", str(tmp_path / "cache"), "--quiet"])
    assert code == EXIT_FAILED_CELLS
    m = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert m["status"] == "partial"
    failed = {(c["method"], c["seed"]): c for c in m["cells"] if c["status"] == "failed"}
    assert set(failed) == {("nan-vectors", 0), ("nan-vectors", 1)}
    assert "nan-vectors/seed=0 language=aa" in failed[("nan-vectors", 0)]["error"]
    assert "NaN or infinite" in failed[("nan-vectors", 0)]["error"]
    assert not any((tmp_path / "cache" / "cell").glob("*/*/cell.json")) or all(
        json.loads(p.read_text())["method"] == "bm25" for p in (tmp_path / "cache" / "cell").rglob("cell.json")
    )


def test_refused_device_creates_no_run_directory(table_plugins, tmp_path, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is visible")
    cfg = _cfg(tmp_path)
    text = cfg.read_text().replace('device = "cpu"', 'device = "cuda"')
    cfg.write_text(text)
    out = tmp_path / "never"
    assert main(["run", str(cfg), "--out", str(out), "--cache-dir", str(tmp_path / "cache"), "--quiet"]) == EXIT_USAGE
    assert "no CUDA device" in capsys.readouterr().err
    assert not out.exists()


def test_full_disk_is_one_line_leaves_nothing_finished_and_a_rerun_completes(
    table_plugins, tmp_path, capsys, monkeypatch
):
    from harness import engine as engine_mod

    cfg = _cfg(tmp_path)
    out, cache = tmp_path / "run", tmp_path / "cache"
    real = engine_mod.Engine.store_cell

    def full(self, out_):
        raise OSError(errno.ENOSPC, "No space left on device", str(cache / "cell" / "x" / "results.parquet"))

    monkeypatch.setattr(engine_mod.Engine, "store_cell", full)
    assert main(["run", str(cfg), "--out", str(out), "--cache-dir", str(cache), "--quiet"]) == EXIT_ENVIRONMENT
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no space left" in err and "free" in err
    assert json.loads((out / "manifest.json").read_text())["status"] == "running"  # never looks finished
    assert not (out / "results.parquet").exists() and not (out / "report.html").exists()
    assert not list(cache.rglob(".tmp-*"))
    monkeypatch.setattr(engine_mod.Engine, "store_cell", real)
    assert main(["run", str(cfg), "--out", str(out), "--cache-dir", str(cache), "--quiet"]) == EXIT_OK
    assert json.loads((out / "manifest.json").read_text())["status"] == "complete"


@pytest.mark.slow
def test_sigterm_is_handled_like_ctrl_c(table_plugins, tmp_path):
    marker = tmp_path / "marker"
    cfg = _cfg(tmp_path, f'[methods.sleepy]\nmarker = "{marker}"\n')
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(table_plugins), os.environ.get("PYTHONPATH", "")])}
    cache = tmp_path / "cache"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "harness.cli",
            "run",
            str(cfg),
            "--out",
            str(tmp_path / "run"),
            "--cache-dir",
            str(cache),
            "--quiet",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 240
    while not marker.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert marker.exists(), proc.communicate(timeout=30)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == EXIT_TERMINATED, err
    assert "terminated (SIGTERM)" in err and "Traceback" not in err
    assert not list(cache.rglob(".tmp-*"))
    m = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert m["status"] == "interrupted" and m["signal"] == "SIGTERM" and m["finished"] is None
    # the lock was released: another run of the directory is not refused as locked
    assert "locked" not in json.dumps(m)


def test_methods_json_into_a_closed_pipe_is_quiet():
    proc = subprocess.run(
        f"{sys.executable} -m harness.cli methods --json | head -c 1",
        shell=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr


def test_load_config_rejects_a_directory(tmp_path):
    with pytest.raises(ConfigError, match="an existing TOML file"):
        load_config(tmp_path / "sub" / "x.toml")


def test_judgements_of_missing_documents_are_counted_per_language(table_plugins, tmp_path, capsys):
    cfg = _cfg(tmp_path)
    cfg.write_text(cfg.read_text().replace("docs = 8", "docs = 8\nghost_judgements = true"))
    assert main(["run", str(cfg), "--out", str(tmp_path / "run"), "--cache-dir", str(tmp_path / "cache")]) == EXIT_OK
    m = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert m["data_problems"]["aa"]["unknown_documents"] == 2
    assert m["data_problems"]["aa"]["queries_judged_only_on_missing"] == 1
    assert "aa-q0" in m["data_problems"]["aa"]["query_examples"]
    assert "judgement(s) name documents missing" in capsys.readouterr().err
