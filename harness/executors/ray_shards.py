"""Document-index shards as Ray tasks: one cell's corpus encoding spread over the cluster.

A cell running on a Ray worker builds each document index with :class:`RayShards` as the
shard runner (:func:`harness.index.build_index`): every unfinished shard becomes one Ray
task requesting ``num_gpus`` GPUs (1 when the executor declares GPUs, so one cell uses as
many GPUs as the cluster lends it; none on a CPU-only cluster) and ``num_cpus`` CPUs.
The cell streams the corpus and keeps at most ``max_in_flight`` shards' texts in Ray's
object store at a time.

Where shards are written
------------------------
With a cache every worker sees at the same path (``shared = True``: a local Ray instance,
or ``[executor] shared_cache``), the shard task writes its shard into the index directory
itself (:func:`harness.index.write_shard`: temporary files renamed into place, the record
committed last with ``os.link``), so a finished shard is on disk the moment its task ends:
a driver (or cell) that dies loses no finished shard, and a re-run resumes at the missing
ones.  Without a shared cache, the task returns the embeddings by value and the cell
writes them into its own node's cache.

The encoder
-----------
The document side (the encoder and its token cache, a closure) is serialised once per index
(:func:`dumps_encoder`), put in the object store and shipped to each task; the task pins
torch to the engine's CPU thread count and runs the same ``encode`` on the same shard texts
with the same batch size as an in-process build, so on the same device kind the embeddings
-- and the per-query scores -- are identical to the local executor's
(``tests/core/test_ray_shards.py``, ``tests/core/test_ray_trained.py``).

A ``transformers`` model travels as what determines it, never as the live object: its
class, its config, its weights (``state_dict``) and its modules' train/eval flags, rebuilt
in the task (:func:`_rebuild_pretrained`).  The live object cannot travel: once a forward
pass has asked for hidden states or attentions (OT distillation reads a middle layer),
transformers installs output-capturing forward hooks on its layers, closures over a
``contextvars.ContextVar``, which no pickler can serialise.  The rebuilt model has no such
hooks (transformers installs them again when a forward pass needs them).  An encoder that
still cannot be serialised (a plugin's own unpicklable state) is encoded by the cell itself,
shard by shard, with a warning: slower, never a failed cell, the same embeddings.

No deadlock on GPUs
-------------------
A cell that waits on its shard tasks keeps its own GPU (Ray frees only CPUs of a blocked
task).  So a shard is submitted only while the cluster shows a free GPU for it; otherwise
the cell encodes it itself.  If the cell's last shard tasks make no progress for
``stall_s`` seconds while no GPU is free (every GPU held by cells waiting on each other),
they are cancelled and encoded in the cell; a cancelled task that had already committed its
shard simply wins the record (see the race rule of :func:`~harness.index.write_shard`).
"""

from __future__ import annotations

import io
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from harness.index import ShardJob, ShardRecord, write_shard

__all__ = ["RayShards", "dumps_encoder", "encode_shard_task", "loads_encoder"]


def _rebuild_pretrained(
    cls: type,
    config: Any,
    state: dict[str, Any],
    training: dict[str, bool],
    frozen: list[str],
    device: str,
) -> Any:
    """A ``transformers`` model from its class, config and weights (see :func:`dumps_encoder`).

    The model is constructed on the CPU (its random initialisation, under a forked torch
    generator, is overwritten), the weights are assigned as they were saved (same dtype and
    device), buffers that are not saved (position ids) follow them to ``device``, and each
    module's train/eval flag and each parameter's ``requires_grad`` are restored.
    """
    import torch

    with torch.random.fork_rng(devices=[]):
        model = cls(config)
    model.load_state_dict(state, strict=True, assign=True)
    model.to(torch.device(device))
    for name, module in model.named_modules():
        module.training = training.get(name, module.training)
    for name, param in model.named_parameters():
        param.requires_grad_(name not in frozen)
    return model


def _reduce_pretrained(model: Any) -> tuple[Any, tuple[Any, ...]]:
    """``model`` as what determines it, for :func:`_rebuild_pretrained` (a pickle reduce value)."""
    state = {k: v.detach() for k, v in model.state_dict().items()}
    training = {name: m.training for name, m in model.named_modules()}
    frozen = [name for name, p in model.named_parameters() if not p.requires_grad]
    device = str(next(model.parameters()).device) if any(True for _ in model.parameters()) else "cpu"
    return _rebuild_pretrained, (type(model), model.config, state, training, frozen, device)


def _pretrained_class() -> type | None:
    import sys

    if "transformers" not in sys.modules:  # nothing of transformers can be in the object
        return None
    from transformers import PreTrainedModel

    return PreTrainedModel


def dumps_encoder(encode: Callable[[list[str]], Any]) -> bytes:
    """Serialise a shard encoder (a closure over the document-side model) for the shard tasks.

    cloudpickle (Ray's), except that every ``transformers.PreTrainedModel`` inside is reduced
    to ``(class, config, state_dict, train/eval flags, frozen parameters, device)`` and
    rebuilt by :func:`_rebuild_pretrained`: forward hooks that transformers installs on a
    model's layers (closures over a ``ContextVar``) are not part of it.  Raises what the
    pickler raises for anything else that cannot be serialised.
    """
    from ray import cloudpickle

    pretrained = _pretrained_class()

    class _Pickler(cloudpickle.CloudPickler):
        def reducer_override(self, obj: Any) -> Any:
            if pretrained is not None and isinstance(obj, pretrained):
                return _reduce_pretrained(obj)
            return super().reducer_override(obj)

    buf = io.BytesIO()
    _Pickler(buf, protocol=5).dump(encode)
    return buf.getvalue()


def loads_encoder(payload: bytes) -> Callable[[list[str]], Any]:
    """The shard encoder serialised by :func:`dumps_encoder`."""
    from ray import cloudpickle

    return cloudpickle.loads(payload)


def encode_shard_task(
    payload: bytes, path: str, job: ShardJob, dtype: str, threads: int, write: bool
) -> ShardRecord | np.ndarray:
    """Body of one shard task: encode ``job``'s texts; write the shard (``write``) or return them.

    ``payload`` is the shard encoder serialised by :func:`dumps_encoder`.  Returns the
    committed :class:`ShardRecord` when ``write`` (the cache is shared), else the
    ``(n, dim)`` float32 embeddings for the cell to write.
    """
    from harness.training import set_cpu_threads

    set_cpu_threads(threads)  # the engine's thread count: float sums as in an in-process build
    encode = loads_encoder(payload)
    emb = np.asarray(encode(job.texts), dtype=np.float32)  # (n, dim)
    if not write:
        return emb
    return write_shard(Path(path), job, emb, dtype, tag=uuid.uuid4().hex[:12])


@dataclass(frozen=True)
class RayShards:
    """Shard runner of a cell on a Ray worker (see the module docstring).

    Attributes
    ----------
    num_cpus, num_gpus : float
        Resources of each shard task.
    max_in_flight : int
        Shards of one index submitted and not yet finished, at most.
    max_retries : int
        Ray retries of a shard task whose worker was lost.
    shared : bool
        Whether the cache root is the same directory for every worker (tasks write shards).
    stall_s : float
        Seconds without a finished shard, with no GPU free, before the cell encodes its
        remaining shards itself.
    """

    num_cpus: float = 1.0
    num_gpus: float = 0.0
    max_in_flight: int = 4
    max_retries: int = 2
    shared: bool = True
    stall_s: float = 120.0

    def _gpu_free(self, ray: Any) -> bool:
        return self.num_gpus <= 0 or ray.available_resources().get("GPU", 0.0) >= self.num_gpus

    def encode(
        self, path: Path, jobs: Iterator[ShardJob], encode: Callable[[list[str]], Any], dtype: str
    ) -> Iterator[ShardRecord]:
        """Encode ``jobs`` as Ray tasks; yield each shard's record once committed (any order)."""
        import ray
        import torch

        threads = torch.get_num_threads()  # the cell engine's pinned count: each task uses the same
        task = ray.remote(
            num_cpus=self.num_cpus, num_gpus=self.num_gpus, max_retries=self.max_retries, retry_exceptions=False
        )(encode_shard_task)
        pending: dict[Any, ShardJob] = {}

        def local(job: ShardJob) -> ShardRecord:
            return write_shard(path, job, np.asarray(encode(job.texts), dtype=np.float32), dtype)

        try:
            payload = dumps_encoder(encode)
        except Exception as e:  # noqa: BLE001 - a plugin's unpicklable state: encode here instead
            warnings.warn(
                f"the document encoder of index {path.name} cannot be sent to Ray shard tasks "
                f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else e!r}); this cell encodes its shards "
                "itself (same embeddings, no shard parallelism): make the encoder picklable, or set "
                "[executor] shard_tasks = false to silence this",
                RuntimeWarning,
                stacklevel=2,
            )
            for job in jobs:
                yield local(job)
            return
        encode_ref = ray.put(payload)

        def collect(refs: list[Any]) -> Iterator[ShardRecord]:
            for ref in refs:
                job = pending.pop(ref)
                got = ray.get(ref)
                yield got if isinstance(got, ShardRecord) else write_shard(path, job, got, dtype)

        for job in jobs:
            while len(pending) >= self.max_in_flight:
                done, _ = ray.wait(list(pending), num_returns=1)
                yield from collect(done)
            if not self._gpu_free(ray):
                yield local(job)  # no GPU to lend: the cell's own GPU encodes this shard
                continue
            pending[task.remote(encode_ref, str(path), job, dtype, threads, self.shared)] = job
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1, timeout=self.stall_s)
            if done:
                yield from collect(done)
            elif not self._gpu_free(ray):  # stalled: take the remaining shards back
                for ref, job in list(pending.items()):
                    ray.cancel(ref)
                    del pending[ref]
                    yield local(job)
