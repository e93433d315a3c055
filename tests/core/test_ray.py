"""The Ray executor on a local Ray instance: same per-query scores as in-process; lost workers retried."""

from __future__ import annotations

import json
import sys
import textwrap

import pandas as pd
import pytest

pytest.importorskip("ray")

from tiny_config import TINY  # noqa: E402  (tests/core is on sys.path: rootdir-relative imports)

from harness import registry  # noqa: E402
from harness.cache import Cache  # noqa: E402
from harness.config import load_config  # noqa: E402
from harness.runner import run_matrix  # noqa: E402

pytestmark = [pytest.mark.ray, pytest.mark.slow, pytest.mark.timeout(600)]  # a hang fails, with stacks

CRASHY = '''
import os
from pathlib import Path
from pydantic import BaseModel, ConfigDict
from harness.plugin import Method
from harness.registry import register_method

@register_method("crash-once")
class CrashOnce(Method):
    """Test plugin: the worker process dies the first time a cell runs, then the zero-shot teacher."""
    version = "1"
    citation = "@misc{crash}"
    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid", frozen=True)
        marker_dir: str = ""
    def fit(self, ctx):
        marker = Path(self.config.marker_dir) / f"seed{ctx.seed}"
        if not marker.exists():
            marker.write_text("crashed")
            os._exit(1)   # the worker is lost mid-cell
        return ctx.teacher
'''


@pytest.fixture
def crash_plugin(tmp_path, monkeypatch):
    root = tmp_path / "plugins"
    root.mkdir()
    (root / "crash_once_mod.py").write_text(textwrap.dedent(CRASHY))
    info = root / "crash_once-1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: crash-once\nVersion: 1\n")
    (info / "entry_points.txt").write_text("[harness.methods]\ncrash-once = crash_once_mod:CrashOnce\n")
    monkeypatch.syspath_prepend(str(root))
    registry.discover(force=True)
    yield
    registry.unregister_method("crash-once")
    sys.modules.pop("crash_once_mod", None)
    monkeypatch.undo()
    registry.discover(force=True)


def test_ray_matches_local_and_retries_lost_workers(tmp_path, crash_plugin):
    markers = tmp_path / "markers"
    markers.mkdir()
    extra = f'[methods.crash-once]\nmarker_dir = "{markers}"\n[executor]\nkind = "ray"\nmax_retries = 2\n'
    cfg = tmp_path / "tiny.toml"
    cfg.write_text(TINY.format(extra=extra))
    config = load_config(cfg)
    cache = Cache(tmp_path / "cache")
    quiet = dict(progress=False, log=lambda s: None)

    ray_res = run_matrix(config, run_dir=tmp_path / "ray", cache=cache, executor="ray", **quiet)
    assert ray_res.status == "complete", [f.error for f in ray_res.failed]
    # every crash-once cell lost its first worker and was retried by Ray
    assert sorted(p.name for p in markers.iterdir()) == ["seed0", "seed1"]
    m = json.loads((tmp_path / "ray" / "manifest.json").read_text())
    assert m["status"] == "complete" and all(c["status"] == "done" for c in m["cells"])

    # the in-process executor, from a fresh cache, gives identical per-query scores
    local_res = run_matrix(
        config, run_dir=tmp_path / "local", cache=Cache(tmp_path / "cache2"), executor="local", **quiet
    )
    a = pd.read_parquet(ray_res.run_dir / "results.parquet")
    b = pd.read_parquet(local_res.run_dir / "results.parquet")
    pd.testing.assert_frame_equal(a, b)
    for method in ("zero-shot", "bm25", "crash-once"):
        assert (tmp_path / "ray" / "runs" / method / "0" / "l1.trec").read_text() == (
            tmp_path / "local" / "runs" / method / "0" / "l1.trec"
        ).read_text()
