"""Stable hashes of Python values, for cache keys and deterministic run ids.

JSON first (readable, stable across processes and Python versions), cloudpickle when
JSON cannot express the value. ``None`` means "cannot hash": callers decide whether
that disables caching or is an error.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

__all__ = ["hash_objects", "short_digest"]

_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"))


def short_digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def hash_objects(*objects: Any) -> str | None:
    try:
        encoded = _ENCODER.encode(objects).encode()
    except (TypeError, ValueError):
        try:
            import cloudpickle

            encoded = cloudpickle.dumps(objects)
        except Exception:
            return None
    return short_digest(encoded)
