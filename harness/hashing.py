"""Content hashes: the canonical JSON digest every cache key and fingerprint is built from."""

from __future__ import annotations

import hashlib
import json

__all__ = ["hash_json"]


def hash_json(obj: object) -> str:
    """sha256 of the canonical JSON encoding of ``obj`` (sorted keys, no whitespace)."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()
