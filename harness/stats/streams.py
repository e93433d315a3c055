"""Deterministic random streams, one per purpose and identity.

Every random draw of the analysis comes from ``stream(seed, *key)``: a numpy ``Generator``
seeded by ``SeedSequence(seed, spawn_key=<words of sha256(key)>)``.  The key names the
purpose and the identity of what is drawn (``("randomization", metric, language)``,
``("bootstrap-queries", metric, language)``, ...), so a comparison's p-value does not
change when a method is added or the analysis order changes, and results do not depend on
thread count.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np


def stream(seed: int, *key: object) -> np.random.Generator:
    """A PCG64 generator for ``seed`` and the identity ``key`` (JSON-serialisable parts)."""
    digest = hashlib.sha256(json.dumps([str(k) for k in key]).encode()).digest()
    words = tuple(int(w) for w in np.frombuffer(digest[:16], dtype="<u4"))
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(entropy=int(seed), spawn_key=words)))
