"""Stable hashes of Python values, for cache keys and deterministic run ids.

JSON first (readable, stable across processes and Python versions), cloudpickle when
JSON cannot express the value. ``None`` means "cannot hash": callers decide whether
that disables caching or is an error.
"""

from __future__ import annotations

import hashlib
import json
import sys
from typing import Any

__all__ = ["hash_objects", "short_digest"]


def _model_as_json(obj: Any) -> Any:
    """A pydantic model as its own serializer makes it (as Prefect's JSON hashing does):
    a ``model_serializer`` that leaves a field out leaves it out of the cache key too, so
    a model holding something unpicklable can still be a cache input."""
    pydantic = sys.modules.get("pydantic")  # not imported: obj cannot be a model
    if pydantic is not None and isinstance(obj, pydantic.BaseModel):
        kind = type(obj)
        return {
            "__class__": f"{kind.__module__}.{kind.__qualname__}",
            "data": obj.model_dump(mode="json"),
        }
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=_model_as_json)


def short_digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def _canonical(value: Any) -> Any:
    """Containers rewritten so equal values encode equally in every process: sets (whose
    order follows the per-process string hash seed) become sorted, tagged lists."""
    kind = type(value)
    if kind is set or kind is frozenset:
        items = [_canonical(v) for v in value]
        return {"__set__": sorted(items, key=repr)}
    if kind is list or kind is tuple:
        return [_canonical(v) for v in value]
    if kind is dict:
        if all(type(k) is str for k in value):
            return {k: _canonical(v) for k, v in value.items()}
        pairs = [[_canonical(k), _canonical(v)] for k, v in value.items()]
        return {"__items__": sorted(pairs, key=repr)}
    return value


def hash_objects(*objects: Any) -> str | None:
    canonical = _canonical(list(objects))
    try:
        encoded = _ENCODER.encode(canonical).encode()
    except (TypeError, ValueError, UnicodeEncodeError, RecursionError):
        try:
            import cloudpickle

            encoded = cloudpickle.dumps(canonical)
        except Exception:
            return None
    return short_digest(encoded)
