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

    __slots__ = ("fn_name", "kinds", "names", "signature", "simple")

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

    def bind(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        """``{name: value}`` for every parameter, defaults applied; clear error on misfit."""
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
