"""Turning results into bytes: JSON when it round-trips exactly, cloudpickle otherwise.

JSON is tried first because it is readable (``flow-run inspect`` can show it), portable
across Python versions, and safe to load. It is used only when decoding gives back an
equal value of the same types: tuples, non-string dict keys, sets, and objects go to
cloudpickle instead of being silently changed.

Every pickle is signed with the store's key when it is made and checked before it is
loaded (``_signing``): unpickling runs code, so only pickles this store made are loaded.
"""

from __future__ import annotations

import json
from typing import Any

from flowless.exceptions import CorruptRecordError, ResultSerializationError
from flowless.results._signing import Signer

__all__ = ["JSON", "PICKLE", "deserialize", "serialize"]

JSON = "json"
PICKLE = "pickle"
_MAX_DEPTH = 64
_SCALARS = (str, int, float, bool, type(None))
#: One encoder for all calls: ``json.dumps`` with non-default options builds a new one each time.
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def _json_text(value: Any) -> str:
    """``_ENCODER.encode(value)``, the same text. ``JSONEncoder.encode`` builds a C
    encoder for every value but a str (~1 us); a task's result is often one int, or
    None, written here as the encoder writes them (``int.__repr__``, also for an int
    too long to print: the same ``ValueError``)."""
    if type(value) is int:
        return int.__repr__(value)
    if value is None:
        return "null"
    return _ENCODER.encode(value)


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


def serialize(value: Any, signer: Signer) -> tuple[str, bytes]:
    """``(serializer, bytes)``, a pickle signed by ``signer``; ``ResultSerializationError``
    if neither format can do it."""
    if _json_exact(value):
        try:
            return JSON, _json_text(value).encode()
        except (UnicodeEncodeError, RecursionError):
            pass  # e.g. a lone surrogate from os.listdir: pickle keeps it exactly
    try:
        import cloudpickle

        pickled = cloudpickle.dumps(value, protocol=5)
    except Exception as exc:  # anything pickling can raise (incl. a __reduce__'s own)
        raise ResultSerializationError(
            f"a value of type {type(value).__name__!r} cannot be serialized "
            f"({type(exc).__name__}: {exc})"
        ) from exc
    return PICKLE, signer.sign(pickled)  # outside the try: a key error is the store's


def deserialize(serializer: str, data: bytes, signer: Signer, what: str = "a stored value") -> Any:
    """The value back; ``UntrustedPayloadError`` (before any unpickling) for a pickle
    ``signer`` did not sign, naming it as ``what`` (``the stored result of task run
    ...``); ``CorruptRecordError`` if the bytes do not decode."""
    if serializer == PICKLE:
        pickled = signer.verify(data, what)
    try:
        if serializer == JSON:
            return json.loads(data)
        if serializer == PICKLE:
            import cloudpickle

            return cloudpickle.loads(pickled)
    except Exception as exc:
        raise CorruptRecordError(
            f"stored {serializer} data cannot be decoded ({type(exc).__name__}: {exc})"
        ) from exc
    raise CorruptRecordError(f"unknown serializer {serializer!r}")
