"""What a task run was called with, as the run UI shows it: a bounded repr per argument.

A task run's record keeps ``inputs`` (parameter name -> repr of the value it got, once
upstream futures are resolved) so the run UI can show what each task was called with.
The reprs are bounded (at most ``MAX_CHARS`` characters each, ``MAX_TOTAL`` for all of
them; a cut ends with ``...``), so a DataFrame or a long list costs little to describe
and little to store, and they are stored in plain text, like a flow run's parameters
(docs/security.md). ``reprlib`` bounds containers before their items are formatted, but
an object's own ``__repr__`` runs in full (only its output is cut); a ``__repr__`` that
raises gives ``<unrepresentable TypeName>``: describing an argument never fails a run.

An argument whose parameter is named like a secret (``password``, ``token``,
``api_key``, ``secret``, ``credentials``...) is not described at all, only marked
``<not kept: its name looks secret>``: the surest way to keep a secret out of the store is
to pass its name, not its value (docs/security.md), but a task written the other way
should not leak it to everyone who can read the table.

Computed once per task run (not per retry), on the thread running the task, just after
its inputs are resolved: the hot path, so plain values take a short cut.
"""

from __future__ import annotations

import re
import reprlib
from typing import Any

__all__ = ["MAX_CHARS", "MAX_TOTAL", "task_inputs"]

#: The longest repr kept for one argument, ``...`` included.
MAX_CHARS = 200
#: The most characters kept for all of a run's arguments (names and reprs); arguments
#: past it are left out, and the key ``...`` says how many.
MAX_TOTAL = 2048
_MARK = "..."
#: Exact types whose repr is short once a long str or bytes is cut first.
_PLAIN = frozenset({int, float, bool, type(None), complex})
#: Parameter names whose values are not described: one of these words in a snake_case
#: or camelCase name (``db_password``, ``apiKey``, ``github_token``).
_SECRET = re.compile(
    r"(?:^|_)(?:password|passwd|passphrase|secret|token|credentials?|api_?key|private_?key"
    r"|access_?key|secret_?key)(?:_|$)"
)
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
SECRET_MARK = "<not kept: its name looks secret>"
#: Names already judged (a program has few parameter names; each is judged once).
_judged: dict[str, bool] = {}


def _looks_secret(name: str) -> bool:
    judged = _judged.get(name)
    if judged is None:
        judged = _SECRET.search(_CAMEL.sub("_", name).lower()) is not None
        if len(_judged) < 4096:
            _judged[name] = judged
    return judged


class _Bounded(reprlib.Repr):
    def repr_instance(self, x: Any, level: int) -> str:
        try:
            text = repr(x)
        except Exception:
            return f"<unrepresentable {type(x).__name__}>"
        return text if len(text) <= MAX_CHARS else text[: MAX_CHARS - len(_MARK)] + _MARK


_REPR = _Bounded()
_REPR.maxlevel = 3
_REPR.maxstring = MAX_CHARS
_REPR.maxlong = MAX_CHARS
_REPR.maxother = MAX_CHARS
for _name in ("maxlist", "maxtuple", "maxdict", "maxset", "maxfrozenset", "maxdeque"):
    setattr(_REPR, _name, 10)
_REPR.maxarray = 10


def _other(value: Any) -> str:
    if isinstance(value, (str, bytes, bytearray)):
        return repr(value[: MAX_CHARS + 1])  # a long one is cut first (marked below)
    return _REPR.repr(value)


def task_inputs(parameters: dict[str, Any]) -> dict[str, str]:
    """Each parameter's bounded repr, in order, within ``MAX_TOTAL`` characters."""
    inputs: dict[str, str] = {}
    total = 0
    for name, value in parameters.items():
        try:
            if _looks_secret(name):
                text = SECRET_MARK
            else:
                text = repr(value) if type(value) in _PLAIN else _other(value)
        except Exception:  # a huge int (Python's digit limit), a failing __repr__...
            text = f"<unrepresentable {type(value).__name__}>"
        if len(text) > MAX_CHARS:
            text = text[: MAX_CHARS - len(_MARK)] + _MARK
        if not text.isascii():  # a lone surrogate cannot be stored: kept as its escape
            text = text.encode("utf-8", "backslashreplace").decode()
        total += len(name) + len(text)
        if total > MAX_TOTAL:
            inputs[_MARK] = f"{len(parameters) - len(inputs)} more argument(s) not shown"
            break
        inputs[name] = text
    return inputs
