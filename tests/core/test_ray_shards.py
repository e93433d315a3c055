"""Document-index shards as Ray tasks (issue 12, item 8), on a local Ray instance.

* a matrix on the Ray executor, with each corpus split into several shard tasks, gives the
  same per-query scores and runs as the local executor: checked, with the shard layout, by
  ``test_ray_trained.py::test_ray_runs_every_method_with_local_scores`` (the same tiny world,
  seed and shard size, plus every trained method: one pair of runs serves both);
* a shard task killed mid-build leaves the finished shards on disk, and the re-run encodes
  only the missing one, giving the same index as an uninterrupted in-process build;
* cells without a dense encoder (BM25) ask Ray for no GPU; shard tasks ask for one GPU
  each when the executor declares GPUs.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("ray")

from ray_local import shard_records, start_local_ray  # noqa: E402  (tests/core is on sys.path: rootdir-relative imports)
from tiny_config import TINY  # noqa: E402

from harness.cache import Cache  # noqa: E402
from harness.config import load_config  # noqa: E402
from harness.errors import ConfigError  # noqa: E402
from harness.index import build_index, read_cache_log  # noqa: E402

pytestmark = [pytest.mark.ray, pytest.mark.slow, pytest.mark.timeout(600)]  # a hang fails, with stacks


# ----------------------------------------------------------------------------- a killed shard task
def _vectors(texts: list[str]) -> np.ndarray:
    """A deterministic stand-in encoder: unit vectors from the texts' bytes, ``(n, 8)``."""
    out = np.zeros((len(texts), 8), dtype=np.float32)
    for r, t in enumerate(texts):
        b = np.frombuffer(t.encode().ljust(8, b"."), dtype=np.uint8)[:64].astype(np.float32)
        out[r, : min(8, len(b))] = b[:8]
        out[r] += np.arange(8) * (len(b) % 7)
    return out / np.linalg.norm(out, axis=1, keepdims=True)


class DiesOnce:
    """Encoder whose worker process dies (``os._exit``) on the shard holding ``victim``, once."""

    def __init__(self, victim: str, marker: Path, calls: Path):
        self.victim, self.marker, self.calls = victim, marker, calls

    def __call__(self, texts: list[str]) -> np.ndarray:
        if self.victim in texts and not self.marker.exists():
            self.marker.write_text("killed")
            os._exit(1)  # the worker is lost mid-shard
        with open(self.calls, "a") as f:
            f.write(f"{len(texts)}\n")
        return _vectors(texts)


@pytest.fixture(scope="module")
def local_ray():
    """A local instance declaring one (pretend) GPU, so GPU requests are scheduled and counted."""
    ray = start_local_ray(num_cpus=2, num_gpus=1)
    yield ray
    ray.shutdown()


def test_killed_shard_task_resumes_only_missing_shards(tmp_path, local_ray):
    from harness.executors.ray_shards import RayShards

    docs = [(f"d{i}", f"text number {i} " + "x" * (i % 13)) for i in range(230)]
    key = {"k": "shards"}
    enc = DiesOnce("text number 170 " + "x" * (170 % 13), tmp_path / "killed", tmp_path / "calls.txt")
    runner = RayShards(max_in_flight=1, max_retries=0)  # in order; a lost worker is not retried
    with pytest.raises(Exception, match="(?i)worker|died|crash|exit"):
        build_index(tmp_path, key, lambda: iter(docs), enc, shard_size=50, dtype="float32", runner=runner)
    assert (tmp_path / "killed").exists()
    [d] = [p for p in (tmp_path / "docindex").iterdir() if p.is_dir()]
    assert [r["index"] for r in shard_records(d)] == [0, 1, 2]  # finished shards survived the failed build
    assert not (d / "index.json").exists()
    (tmp_path / "calls.txt").unlink()

    idx = build_index(tmp_path, key, lambda: iter(docs), enc, shard_size=50, dtype="float32", runner=runner)
    assert (tmp_path / "calls.txt").read_text().split() == ["50", "30"]  # shards 3 and 4 only
    last = [e for e in read_cache_log(tmp_path) if e["stage"] == "docindex"][-1]
    assert (last["event"], last["encoded"], last["reused"], last["shards"]) == ("resumed", 80, 150, 5)

    ref = build_index(tmp_path / "ref", key, lambda: iter(docs), _vectors, shard_size=50, dtype="float32")
    got = np.concatenate([np.asarray(s.embeddings) for s in idx.iter_shards()])
    want = np.concatenate([np.asarray(s.embeddings) for s in ref.iter_shards()])
    np.testing.assert_array_equal(got, want)
    assert idx.doc_ids_of(np.arange(230)[None, :]) == ref.doc_ids_of(np.arange(230)[None, :])


def test_resources_declared_per_task(tmp_path, local_ray):
    from harness.engine import Engine
    from harness.executors.ray import RayExecutor

    extra = '[executor]\nkind = "ray"\nnum_gpus_per_cell = 1\n'
    cfg = tmp_path / "tiny.toml"
    cfg.write_text(TINY.format(extra=extra))
    config = load_config(cfg)
    engine = Engine(config, Cache(tmp_path / "cache"), device="cpu")
    ex = RayExecutor(config.executor, engine)
    assert ex.needs_gpu("zero-shot") and not ex.needs_gpu("bm25")
    shards = ex.shard_runner(shared=True)
    assert shards is not None and shards.num_gpus == 1.0  # one GPU per shard task
    cpu = RayExecutor(config.executor.model_copy(update={"num_gpus_per_cell": 0.0}), engine)
    cpu_shards = cpu.shard_runner(shared=True)
    assert cpu_shards is not None and cpu_shards.num_gpus == 0.0
    assert RayExecutor(config.executor.model_copy(update={"shard_tasks": False}), engine).shard_runner(True) is None
    # cells in flight: as many as the cluster's 2 CPUs hold, unless the config says
    assert ex.cells_in_flight() == 2
    assert RayExecutor(config.executor.model_copy(update={"num_cpus_per_cell": 2.0}), engine).cells_in_flight() == 1
    assert RayExecutor(config.executor.model_copy(update={"max_cells_in_flight": 5}), engine).cells_in_flight() == 5
    # shards are encoded on the cell's device: GPU cells with CPU shards are refused at load time
    cfg.write_text(TINY.format(extra=extra + "num_gpus_per_shard = 0\n"))
    with pytest.raises(ConfigError, match="num_gpus_per_shard"):
        load_config(cfg)


def _cell_build(root: str, docs: list[tuple[str, str]], runner) -> list[list[str]]:
    """Build an index as a cell would (inside a Ray task); return each shard's file names."""
    idx = build_index(Path(root), {"k": "cell"}, lambda: iter(docs), _vectors, shard_size=50, runner=runner)
    return [sorted(r.files) for r in idx.shards]


def test_a_cell_holding_the_only_gpu_encodes_its_shards_itself(tmp_path, local_ray):
    from harness.executors.ray_shards import RayShards

    ray = local_ray
    docs = [(f"d{i}", f"passage {i}") for i in range(120)]
    gpu_shards = RayShards(num_gpus=1.0, max_in_flight=2)
    # the cell holds the cluster's one GPU: no shard task could ever start; it encodes them itself
    holding = ray.get(ray.remote(num_gpus=1)(_cell_build).remote(str(tmp_path / "a"), docs, gpu_shards), timeout=120)
    assert [n[0] for n in holding] == ["shard-00000.emb.npy", "shard-00001.emb.npy", "shard-00002.emb.npy"]
    for _ in range(300):  # Ray's view of free resources lags a finished task by a moment
        if ray.available_resources().get("GPU", 0.0) >= 1.0:
            break
        time.sleep(0.1)
    # a CPU cell: the GPU is free, so its first shard goes to a GPU shard task (tagged files); later
    # ones go to tasks too, or to the cell itself while that task holds the GPU
    lending = ray.get(ray.remote(num_gpus=0)(_cell_build).remote(str(tmp_path / "b"), docs, gpu_shards), timeout=120)
    assert lending[0][0].startswith("shard-00000-"), lending
    # without a shared cache, the tasks return embeddings and the cell writes them (plain names)
    by_value = RayShards(max_in_flight=2, shared=False)
    returned = ray.get(ray.remote(num_gpus=0)(_cell_build).remote(str(tmp_path / "c"), docs, by_value), timeout=120)
    assert [n[0] for n in returned] == [n[0] for n in holding]
    embs = []
    for d in ("a", "b", "c"):
        [idx] = [p for p in (tmp_path / d / "docindex").iterdir() if p.is_dir()]
        embs.append(np.concatenate([np.load(idx / f) for f in sorted(idx.glob("shard-*.emb.npy"))]))
    np.testing.assert_array_equal(embs[0], embs[1])
    np.testing.assert_array_equal(embs[0], embs[2])
