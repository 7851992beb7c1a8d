"""Reading a ``flowless.runtime`` attribute, with the environment variables that stand in
for it in tests, as Prefect's ``PREFECT__RUNTIME__...`` variables do.

``FLOWLESS__RUNTIME__FLOW_RUN__NAME=x`` (or Prefect's own spelling,
``PREFECT__RUNTIME__FLOW_RUN__NAME``, so a Prefect test suite that sets it keeps working
after its imports change; the flowless one wins when both are set) makes
``flow_run.name`` read ``"x"``. The text is cast to the type of the attribute's real
value: ``"true"`` for a bool, a number for ``run_count``, ISO 8601 for a datetime (a
naive one is UTC); an attribute whose value is a dict or list (``parameters``, ``tags``)
cannot be set this way (``ValueError``, Prefect's message). A variable for a name the
module does not have makes that name exist, as a string.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any

__all__ = ["read_attribute"]


def _parse_utc(text: str) -> datetime:
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


_CASTS: dict[type, Callable[[str], Any]] = {
    bool: lambda text: text.lower() == "true",
    int: int,
    float: float,
    str: str,
    datetime: _parse_utc,
    # an attribute that is None now (outside a run) is mocked as text
    type(None): str,
}


def _override(module: str, name: str) -> str | None:
    key = f"RUNTIME__{module.upper()}__{name.upper()}"
    for prefix in ("FLOWLESS__", "PREFECT__"):
        value = os.environ.get(prefix + key)
        if value is not None:
            return value
    return None


def read_attribute(
    module: str, fields: Mapping[str, Callable[[], Any]], name: str, *, qualified: str
) -> Any:
    """``name`` of runtime module ``module`` (``flow_run``): its overriding variable cast
    to the real value's type, else its real value."""
    getter = fields.get(name)
    mocked = _override(module, name)
    if getter is None:
        if mocked is not None:
            return mocked
        raise AttributeError(f"{qualified} has no attribute {name!r}")
    real = getter()
    if mocked is None:
        return real
    cast = _CASTS.get(type(real))
    if cast is None:
        raise ValueError(
            "This runtime context attribute cannot be mocked using an environment variable. "
            "Please use monkeypatch instead."
        )
    return cast(mocked)
