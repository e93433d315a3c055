"""One seeding scheme for every random stream of a run.

Every stream (the generated world, the tokenizer, MLM pre-training, each seed's teacher,
each method's data order and dropout, each statistic) is derived from an integer seed and
a *stage identity*, a tuple of names that says what is drawn::

    seed_sequence(seed, *stage) = SeedSequence(entropy=seed, spawn_key=words(sha256(json(stage))))

* :func:`rng` gives a numpy ``Generator`` (PCG64) on that sequence;
* :func:`torch_seed` gives a 63-bit integer from it, for ``torch.manual_seed`` inside
  ``torch.random.fork_rng`` (dropout, initialisation).

Two streams share numbers only if seed and stage identity are equal, so two methods of the
same run seed never share a data-order or dropout stream unless they use the same stage
name on purpose; adding a method or reordering stages changes no other stream; nothing
depends on ``PYTHONHASHSEED``, the process or the thread count.

Stage identities used by the harness (``seed`` is the run seed unless said otherwise):

======================================  ==========================================
``("world", part)``                     generator seed ``benchmark.seed``
``("mini", "init" | "mlm" | ...)``      ``mini.seed``
``("teacher",)``                        teacher fine-tuning of a run seed
``("method", name, "data")``            a method's ``ctx.rng``
``("method", name, "train")``           a method's dropout stream (``ctx.train``)
statistics: ``(purpose, metric, ...)``  ``analysis.seed`` (``harness.stats.streams``)
======================================  ==========================================
"""

from __future__ import annotations

import hashlib
import json

import numpy as np

__all__ = ["rng", "seed_sequence", "torch_seed"]


def seed_sequence(seed: int, *stage: object) -> np.random.SeedSequence:
    """The ``SeedSequence`` of ``seed`` and the stage identity ``stage`` (parts are turned into strings)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"a seed must be a non-negative integer, got {seed!r}")
    digest = hashlib.sha256(json.dumps([str(k) for k in stage]).encode()).digest()
    words = tuple(int(w) for w in np.frombuffer(digest[:16], dtype="<u4"))
    return np.random.SeedSequence(entropy=int(seed), spawn_key=words)


def rng(seed: int, *stage: object) -> np.random.Generator:
    """A PCG64 generator for ``seed`` and ``stage``."""
    return np.random.Generator(np.random.PCG64(seed_sequence(seed, *stage)))


def torch_seed(seed: int, *stage: object) -> int:
    """A 63-bit integer for ``torch.manual_seed``, derived from ``seed`` and ``stage``."""
    hi, lo = (int(x) for x in seed_sequence(seed, *stage).generate_state(2, dtype=np.uint32))
    return ((hi << 32) | lo) & ((1 << 63) - 1)
