"""Issue 25, item 1: the Ray executor runs every built-in method and the example plugin.

* a transformers model that has been asked for hidden states carries forward hooks that no
  pickler can serialise (transformers' output capturing: closures over a ``ContextVar``);
  the shard tasks receive it as class + config + weights, rebuilt bit-identically;
* a matrix of every built-in method (trained ones on a few steps) and the example plugin
  (``examples/harness-lang-center``), with every corpus split into shard tasks (at most two
  in flight), gives on Ray the same per-query scores and TREC runs as the in-process
  executor, and the same index layout (the shard tasks' files tagged, the local ones plain).
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("ray")

from ray_local import shard_records  # noqa: E402  (tests/core is on sys.path: rootdir-relative imports)
from tiny_config import TINY  # noqa: E402

from harness.cache import Cache  # noqa: E402
from harness.config import load_config  # noqa: E402
from harness.runner import run_matrix  # noqa: E402


def _example_plugin_helper():
    """``tests/methods/example_plugin.py`` (tests/ is not a package: loaded by path, once per process)."""
    name = "harness_tests_example_plugin"  # the name tests/methods/conftest.py gives it
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).parents[1] / "methods" / "example_plugin.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


TRAINED = """
[methods.contrastive]
steps = 3
batch_size = 8
[methods.ot-distill]
steps = 3
batch_size = 8
[methods.translate-test]
[methods.translate-train]
steps = 3
batch_size = 8
[methods.language-centring]
[methods.lang-center]
"""


def _hooked_bert():
    import torch
    from transformers import BertConfig, BertModel

    cfg = BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = BertModel(cfg)
    model.eval()
    model.encoder.layer[0].train()  # a mixed train/eval state travels as it is
    model.pooler.dense.weight.requires_grad_(False)
    ids = torch.randint(0, 50, (3, 7), generator=torch.Generator().manual_seed(1))
    model(input_ids=ids, output_hidden_states=True)  # transformers installs its output-capturing hooks
    return model, ids


def test_a_hooked_transformers_model_travels_to_shard_tasks_as_weights():
    import torch
    from ray import cloudpickle

    from harness.executors.ray_shards import dumps_encoder, loads_encoder

    model, ids = _hooked_bert()
    assert any(m._forward_hooks for m in model.modules())

    def encode(x):
        with torch.no_grad():
            return model(input_ids=x).last_hidden_state

    with pytest.raises(TypeError, match="ContextVar"):  # why the shard tasks could not receive it as it was
        cloudpickle.dumps(encode)
    back = loads_encoder(dumps_encoder(encode))
    rebuilt = back.__closure__[0].cell_contents
    assert rebuilt is not model and not any(m._forward_hooks for m in rebuilt.modules())
    assert [m.training for m in rebuilt.modules()] == [m.training for m in model.modules()]
    assert [p.requires_grad for p in rebuilt.parameters()] == [p.requires_grad for p in model.parameters()]
    model.eval(), rebuilt.eval()
    assert torch.equal(back(ids), encode(ids))  # bit-identical embeddings
    # and the rebuilt model still gives hidden states (transformers installs its hooks again)
    with torch.no_grad():
        a = rebuilt(input_ids=ids, output_hidden_states=True).hidden_states[1]
        b = model(input_ids=ids, output_hidden_states=True).hidden_states[1]
    assert torch.equal(a, b)


def test_an_unpicklable_encoder_is_encoded_by_the_cell_with_a_warning(tmp_path):
    import threading

    import numpy as np

    from harness.executors.ray_shards import RayShards
    from harness.index import ShardJob

    lock = threading.Lock()  # no pickler serialises a lock

    def encode(texts):
        with lock:
            return np.ones((len(texts), 4), dtype=np.float32) / 2.0

    jobs = [ShardJob(i, 3 * i, [f"d{i}{j}" for j in range(3)], [f"text {i} {j}" for j in range(3)]) for i in range(2)]
    with pytest.warns(RuntimeWarning, match="cannot be sent to Ray shard tasks"):
        records = list(RayShards().encode(tmp_path, iter(jobs), encode, "float32"))
    assert sorted(r.index for r in records) == [0, 1]


@pytest.mark.ray
@pytest.mark.slow
@pytest.mark.timeout(600)
def test_ray_runs_every_method_with_local_scores(tmp_path):
    text = TINY.format(extra=TRAINED).replace("seeds = [0, 1]", "seeds = [0]")
    # 4 shard tasks per corpus (120 documents), at most 2 in flight
    executor = '[executor]\nkind = "ray"\nmax_shards_in_flight = 2\n'
    text = text.replace('device = "cpu"\n', f'device = "cpu"\n[index]\nshard_size = 32\n{executor}')
    cfg = tmp_path / "tiny.toml"
    cfg.write_text(text)
    quiet = dict(progress=False, log=lambda s: None)
    with _example_plugin_helper().exposed_example_plugin(tmp_path / "site"):
        config = load_config(cfg)
        methods = [m.name for m in config.methods]
        ray_res = run_matrix(config, run_dir=tmp_path / "ray", cache=Cache(tmp_path / "c1"), executor="ray", **quiet)
        local_res = run_matrix(
            config, run_dir=tmp_path / "local", cache=Cache(tmp_path / "c2"), executor="local", **quiet
        )
    assert ray_res.status == "complete", [(f.method, f.error) for f in ray_res.failed]
    assert local_res.status == "complete", [(f.method, f.error) for f in local_res.failed]
    manifest = json.loads((tmp_path / "ray" / "manifest.json").read_text())
    assert manifest["config"]["executor"]["kind"] == "ray"
    a = pd.read_parquet(ray_res.run_dir / "results.parquet")
    b = pd.read_parquet(local_res.run_dir / "results.parquet")
    assert sorted(a.method.unique()) == sorted(methods) and len(methods) == 8
    pd.testing.assert_frame_equal(a, b)  # exact: every per-query value
    for method in methods:
        for lang in ("en", "h1", "l1", "l2"):
            rel = Path("runs") / method / "0" / f"{lang}.trec"
            assert (tmp_path / "ray" / rel).read_text() == (tmp_path / "local" / rel).read_text(), rel

    # every corpus was split into 4 shards, each written by a shard task (its files carry the task's
    # tag); the in-process build wrote the same layout, under the same keys, with plain names
    indexes = [p for p in (tmp_path / "c1" / "docindex").iterdir() if (p / "index.json").is_file()]
    assert len(indexes) >= 4  # at least the teacher's, one per language
    for d in indexes:
        recs = shard_records(d)
        assert [r["n"] for r in recs] == [32, 32, 32, 24]
        for r in recs:
            names = sorted(r["files"])
            assert all(n.startswith(f"shard-{r['index']:05d}-") for n in names), names  # a task's tag
    local_idx = [p for p in (tmp_path / "c2" / "docindex").iterdir() if (p / "index.json").is_file()]
    assert {p.name for p in local_idx} == {p.name for p in indexes}  # same keys: same document sides
    for d in local_idx:
        assert all(sorted(r["files"])[0] == f"shard-{r['index']:05d}.emb.npy" for r in shard_records(d))
