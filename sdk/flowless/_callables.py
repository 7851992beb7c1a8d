"""Binding call arguments to a function's parameters, and calling it back with them.

Tasks and flows record their inputs as a ``{name: value}`` dict (for cache keys, run
names, validation, and the store) and later call the function with that dict. Both
directions run once per task call, so the signature analysis is done once per function.
"""

from __future__ import annotations

import inspect
import os
import sys
from collections.abc import Callable
from typing import Any

from flowless.exceptions import ParameterBindError

__all__ = ["CallShape", "module_name"]

_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


class CallShape:
    """A function's signature, analysed once: bind ``(args, kwargs)`` and call back."""

    __slots__ = (
        "defaults",
        "fn_name",
        "kinds",
        "name_set",
        "names",
        "positional",
        "signature",
        "simple",
    )

    def __init__(self, fn: Callable[..., Any], fn_name: str) -> None:
        self.fn_name = fn_name
        self.signature = inspect.signature(fn)
        params = list(self.signature.parameters.values())
        self.names = [p.name for p in params]
        self.kinds = [p.kind for p in params]
        # "simple": every parameter can be passed by keyword, so fn(**parameters) works.
        self.simple = all(
            k in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
            for k in self.kinds
        )
        self.name_set = frozenset(self.names)
        self.positional = [
            p.name for p in params if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
        ]
        self.defaults = {p.name: p.default for p in params if p.default is not p.empty}

    def bind(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        """``{name: value}`` for every parameter, defaults applied; clear error on misfit."""
        if not self.simple or len(args) > len(self.positional):
            return self._bind_slowly(args, kwargs)
        # The common case, on the per-task hot path: plain parameters. Anything unusual
        # (a duplicate, an unknown name, a missing argument) takes the slow path, which
        # produces Python's own error message.
        parameters = dict(zip(self.positional, args, strict=False))
        for key in kwargs:
            if key in parameters or key not in self.name_set:
                return self._bind_slowly(args, kwargs)
        parameters.update(kwargs)
        if len(parameters) < len(self.names):
            for name in self.names:
                if name not in parameters:
                    if name not in self.defaults:
                        return self._bind_slowly(args, kwargs)
                    parameters[name] = self.defaults[name]
        return parameters

    def _bind_slowly(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        try:
            bound = self.signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise ParameterBindError.from_bind_failure(self.fn_name, exc, args, kwargs) from None
        bound.apply_defaults()
        return dict(bound.arguments)

    def split(self, parameters: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """Turn a parameters dict back into ``(args, kwargs)`` for a call."""
        if self.simple:
            return (), parameters
        args: list[Any] = []
        kwargs: dict[str, Any] = {}
        for name, kind in zip(self.names, self.kinds, strict=True):
            if name not in parameters:
                continue
            value = parameters[name]
            if kind in _POSITIONAL:
                args.append(value)
            elif kind is inspect.Parameter.VAR_POSITIONAL:
                args.extend(value)
            elif kind is inspect.Parameter.VAR_KEYWORD:
                kwargs.update(value)
            else:
                kwargs[name] = value
        return tuple(args), kwargs


def module_name(fn: Callable[..., Any]) -> str:
    """The function's module, with ``__main__`` replaced by the script's own name.

    Task and flow identities must not change between ``python pipeline.py`` and an
    import of ``pipeline`` (on Lambda, or in a test), or caches and journals would miss.
    """
    module = str(getattr(fn, "__module__", None) or "__main__")
    if module != "__main__":
        return module
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    spec_name = getattr(spec, "name", None)
    if spec_name:
        return str(spec_name)
    path = getattr(main, "__file__", None)
    if path:
        return os.path.splitext(os.path.basename(str(path)))[0]
    return module
