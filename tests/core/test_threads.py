"""Same config, same numbers, whatever runs the cells: the torch thread count is pinned and part of the identity.

An alignment cell (ot-distill) is computed in-process and in two local worker processes
(``[executor] workers = 2``): every per-query score is identical.  Another thread count is
another identity: its cells get other cache keys (never a stale reuse) and the manifest
records the count each run used.  (Local vs Ray: ``test_ray.py``.)
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
from tiny_config import TINY

from harness.cache import Cache
from harness.config import load_config
from harness.engine import Engine
from harness.runner import run_matrix

EXTRA = "[methods.ot-distill]\nsteps = 4\nbatch_size = 16\n"


def _config(tmp_path, name: str, threads: int, executor: str = ""):
    text = (
        TINY.format(extra=EXTRA)
        .replace("num_threads = 1", f"num_threads = {threads}")
        .replace("seeds = [0, 1]", "seeds = [0]")
        + executor
    )
    path = tmp_path / f"{name}.toml"
    path.write_text(text)
    return load_config(path)


@pytest.mark.slow
def test_worker_processes_give_identical_scores_and_threads_are_part_of_the_identity(tmp_path):
    quiet = {"progress": False, "log": lambda s: None}
    one = run_matrix(_config(tmp_path, "a", 1), run_dir=tmp_path / "inproc", cache=Cache(tmp_path / "c1"), **quiet)
    pool = run_matrix(
        _config(tmp_path, "b", 1, '[executor]\nkind = "local"\nworkers = 2\n'),
        run_dir=tmp_path / "pool",
        cache=Cache(tmp_path / "c2"),
        **quiet,
    )
    assert one.status == pool.status == "complete"
    a = pd.read_parquet(tmp_path / "inproc" / "results.parquet")
    b = pd.read_parquet(tmp_path / "pool" / "results.parquet")
    assert set(a.method) == {"zero-shot", "bm25", "ot-distill"}
    pd.testing.assert_frame_equal(
        a.sort_values(list(a.columns[:-1])).reset_index(drop=True),
        b.sort_values(list(b.columns[:-1])).reset_index(drop=True),
        check_exact=True,
    )

    # another thread count: another identity for every trained stage
    cache = Cache(tmp_path / "c3")
    keys1 = {s.method: s.key for s in Engine(_config(tmp_path, "a", 1), cache).plan()}
    e2 = Engine(_config(tmp_path, "c", 2), cache)
    keys2 = {s.method: s.key for s in e2.plan()}
    assert keys1["ot-distill"] != keys2["ot-distill"] and keys1["zero-shot"] != keys2["zero-shot"]
    assert keys1["bm25"] == keys2["bm25"]  # lexical: no torch arithmetic
    assert e2.threads == 2
    manifest = json.loads((tmp_path / "inproc" / "manifest.json").read_text())
    assert manifest["accelerator"]["torch_threads"] == 1
    assert manifest["config"]["training"]["num_threads"] == 1
    import torch

    torch.set_num_threads(1)


def test_worker_processes_print_warnings_as_one_line(capsys):
    """The local pool's initializer makes a worker's warnings look like the driver's: one ``warning:`` line."""
    import warnings

    from harness.executors.local import _init_worker

    with warnings.catch_warnings():  # restores showwarning and the filters afterwards
        warnings.simplefilter("always")
        _init_worker()
        warnings.warn_explicit("Sinkhorn did not converge; raise max_iter", UserWarning, "/x/harness/mod.py", 3)
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["warning: Sinkhorn did not converge; raise max_iter (UserWarning from harness/mod.py:3)"]


def test_base_encoder_threads_are_its_own_pinned_identity(tmp_path):
    """``mini.threads``: the MLM pre-training's thread count, part of the base's identity and restored after it.

    The base encoder is built by a worker while nothing else can run (every dense stage needs it),
    so the default config gives it both cores; teachers and cells keep ``training.num_threads``.
    """
    import torch

    from harness.models.mini import mlm_threads

    torch.set_num_threads(1)
    one = _config(tmp_path, "one", 1)
    text = (tmp_path / "one.toml").read_text().replace("[mini]\n", "[mini]\nthreads = 2\n")
    (tmp_path / "two.toml").write_text(text)
    two = load_config(tmp_path / "two.toml")
    assert mlm_threads(one.mini, 1) == 1 and mlm_threads(two.mini, 1) == 2
    zero = two.mini.model_copy(update={"threads": 0})
    from harness.training import usable_cpus

    assert mlm_threads(zero, 1) == usable_cpus()
    (tmp_path / "zero.toml").write_text(text.replace("threads = 2", "threads = 0"))
    zero_cfg = load_config(tmp_path / "zero.toml")  # all cores: the resolved count names the base downstream
    assert Engine(zero_cfg, Cache(tmp_path / "c0")).base_key()["mlm_threads"] == usable_cpus()

    cache = Cache(tmp_path / "cache")
    e1, e2 = Engine(one, cache), Engine(two, cache)
    assert e1.base_threads() == 1 and e2.base_threads() == 2 and e2.threads == 1
    assert e1.base_key() != e2.base_key()  # another thread count: another base, teacher and cell identity
    assert e1.teacher_key(0) != e2.teacher_key(0)
    d1, d2 = e1.base_dir(), e2.base_dir()
    assert d1 != d2
    assert json.loads((d2 / "mini.json").read_text())["threads"] == 2
    assert json.loads((d1 / "mini.json").read_text())["threads"] == 1
    assert torch.get_num_threads() == 1  # the caller's count is back for its teachers and cells
    # two threads are deterministic too: a second build in a fresh cache gives the same weights, byte for byte
    again = Engine(two, Cache(tmp_path / "cache2")).base_dir()
    assert again != d2
    assert (again / "model.safetensors").read_bytes() == (d2 / "model.safetensors").read_bytes()
    run = run_matrix(two, run_dir=tmp_path / "run", cache=cache, progress=False, log=lambda s: None)
    assert run.status == "complete"
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["base_threads"] == 2 and manifest["torch_threads"] == 1
