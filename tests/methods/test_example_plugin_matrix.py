"""The example third-party plugin, exposed as a distribution, runs in a matrix without harness changes."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

_spec = importlib.util.spec_from_file_location(
    "harness_tests_e2e_cfg", Path(__file__).parents[1] / "core" / "tiny_config.py"
)
_e2e = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_e2e)


@pytest.mark.slow
def test_example_plugin_listed_run_and_reported(example_plugin, tmp_path):
    env = example_plugin.env()
    harness = [sys.executable, "-m", "harness.cli"]
    listing = subprocess.run([*harness, "methods"], env=env, capture_output=True, text=True, timeout=300)
    assert listing.returncode == 0, listing.stderr
    line = next(ln for ln in listing.stdout.splitlines() if ln.startswith("lang-center"))
    assert example_plugin.distribution in line and example_plugin.version in line

    cfg = tmp_path / "c.toml"
    cfg.write_text(_e2e.TINY.format(extra="[methods.lang-center]"))
    out = tmp_path / "run"
    run = subprocess.run(
        [*harness, "run", str(cfg), "--out", str(out), "--cache-dir", str(tmp_path / "cache"), "--quiet"],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    df = pd.read_parquet(out / "results.parquet")
    assert set(df["method"]) == {"zero-shot", "bm25", "lang-center"}
    assert len(df[df["method"] == "lang-center"]) == 2 * 4 * 40 * 3
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["methods"]["lang-center"]["distribution"].startswith(example_plugin.distribution)
    assert "lang-center" in (out / "report.html").read_text()
    assert (out / "runs" / "lang-center" / "1" / "l2.trec").is_file()
