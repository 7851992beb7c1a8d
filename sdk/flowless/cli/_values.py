"""Stored values as a person sees them (``flow-run inspect``, the run UI): JSON values
loaded, pickles only described."""

from __future__ import annotations

import json
from typing import Any

from flowless.exceptions import CorruptRecordError
from flowless.results import JSON, Results
from flowless.store import Payload

__all__ = ["Described", "stored_value", "value_text"]


class Described(str):
    """What is shown instead of a value that is not loaded: printed as it is, not quoted
    as the JSON string a value would be."""


def stored_value(results: Results, payload: Payload | None) -> Any:
    """A stored value to show. Pickles are described, not loaded: loading needs the
    program's own modules (and runs code), which a listing has no business doing."""
    if payload is None:
        return None
    if payload.serializer != JSON:
        where = "inline" if payload.data is not None else payload.location
        size = len(payload.data) if payload.data is not None else "?"
        return Described(f"<{payload.serializer}, {size} bytes, {where}>")
    try:
        return results.load(payload)
    except CorruptRecordError as exc:
        return Described(f"<unreadable: {exc}>")


def value_text(value: Any, width: int = 100) -> str:
    if value is None:
        return "-"
    if isinstance(value, Described):
        return value
    try:
        text = json.dumps(value, default=repr)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."
