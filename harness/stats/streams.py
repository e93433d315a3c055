"""Deterministic random streams, one per purpose and identity.

Every random draw of the analysis comes from ``stream(seed, *key)``, which is
:func:`harness.seeding.rng` (the harness's one seeding scheme): a numpy ``Generator``
seeded by ``SeedSequence(seed, spawn_key=<words of sha256(key)>)``.  The key names the
purpose and the identity of what is drawn (``("randomization", metric, language)``,
``("bootstrap-queries", metric, language)``, ...), so a comparison's p-value does not
change when a method is added or the analysis order changes, and results do not depend on
thread count.
"""

from __future__ import annotations

import numpy as np

from harness.seeding import rng


def stream(seed: int, *key: object) -> np.random.Generator:
    """A PCG64 generator for ``seed`` and the identity ``key`` (parts are turned into strings)."""
    return rng(seed, *key)
