"""Turning results into bytes: JSON when it round-trips exactly, cloudpickle otherwise.

JSON is tried first because it is readable (``flow-run inspect`` can show it), portable
across Python versions, and safe to load. It is used only when decoding gives back an
equal value of the same types: tuples, non-string dict keys, sets, and objects go to
cloudpickle instead of being silently changed.
"""

from __future__ import annotations

import json
from typing import Any

from flowless.exceptions import CorruptRecordError, ResultSerializationError

__all__ = ["JSON", "PICKLE", "deserialize", "serialize"]

JSON = "json"
PICKLE = "pickle"
_MAX_DEPTH = 64
_SCALARS = (str, int, float, bool, type(None))
#: One encoder for all calls: ``json.dumps`` with non-default options builds a new one each time.
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def _json_exact(value: Any, depth: int = 0) -> bool:
    kind = type(value)
    if kind in _SCALARS:
        return True
    if depth > _MAX_DEPTH:
        return False
    if kind is list:
        return all(_json_exact(v, depth + 1) for v in value)
    if kind is dict:
        return all(type(k) is str and _json_exact(v, depth + 1) for k, v in value.items())
    return False


def serialize(value: Any) -> tuple[str, bytes]:
    """``(serializer, bytes)``; ``ResultSerializationError`` if neither format can do it."""
    if _json_exact(value):
        try:
            return JSON, _ENCODER.encode(value).encode()
        except (UnicodeEncodeError, RecursionError):
            pass  # e.g. a lone surrogate from os.listdir: pickle keeps it exactly
    try:
        import cloudpickle

        return PICKLE, cloudpickle.dumps(value, protocol=5)
    except Exception as exc:  # anything pickling can raise (incl. a __reduce__'s own)
        raise ResultSerializationError(
            f"a value of type {type(value).__name__!r} cannot be serialized "
            f"({type(exc).__name__}: {exc})"
        ) from exc


def deserialize(serializer: str, data: bytes) -> Any:
    """The value back; ``CorruptRecordError`` if the bytes do not decode."""
    try:
        if serializer == JSON:
            return json.loads(data)
        if serializer == PICKLE:
            import cloudpickle

            return cloudpickle.loads(data)
    except Exception as exc:
        raise CorruptRecordError(
            f"stored {serializer} data cannot be decoded ({type(exc).__name__}: {exc})"
        ) from exc
    raise CorruptRecordError(f"unknown serializer {serializer!r}")
