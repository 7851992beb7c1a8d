"""What ``@task`` and ``@flow`` share: their options checked when a function is
decorated (so a bad option fails at import, as in Prefect, not halfway through a run),
binding to an instance or class when the definition is a method, and the engine,
imported on a definition's first call rather than with it.
"""

from __future__ import annotations

import inspect
import math
from typing import Any, TypeVar

from flowless.exceptions import ConfigurationError

__all__ = ["MethodBinding", "check_hooks", "check_number", "check_options", "engine"]

Self = TypeVar("Self", bound="MethodBinding")


def check_number(name: str, value: Any, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise ConfigurationError(f"`{name}` must be a number, got {value!r}.")
    if value < 0 or (positive and value == 0):
        bound = "greater than 0" if positive else "0 or more"
        raise ConfigurationError(f"`{name}` must be {bound}, got {value!r}.")
    return float(value)


def check_hooks(kind: str, option: str, hooks: Any) -> list[Any]:
    """A hook option as a list, refused as Prefect refuses it (a single function instead
    of a list, a list holding something not callable), at decoration time."""
    if hooks is None:
        return []
    example = f"\n\n@{kind}({option}=[hook1, hook2])\ndef my_{kind}():\n\tpass"
    try:
        listed: list[Any] = list(hooks)
    except TypeError:
        raise TypeError(
            f"Expected iterable for '{option}'; got {type(hooks).__name__} instead. Please "
            f"provide a list of hooks to '{option}':{example}"
        ) from None
    for hook in listed:
        if not callable(hook):
            raise TypeError(
                f"Expected callables in '{option}'; got {type(hook).__name__} instead. "
                f"Please provide a list of hooks to '{option}':{example}"
            )
    return listed


_OPTION_NAMES: dict[type[Any], frozenset[str]] = {}


def _option_names(definition: type[Any]) -> frozenset[str]:
    names = _OPTION_NAMES.get(definition)
    if names is None:
        parameters = inspect.signature(definition.__init__).parameters
        names = _OPTION_NAMES[definition] = frozenset(parameters) - {"self", "fn"}
    return names


def check_options(decorator: str, definition: type[Any], options: dict[str, Any]) -> None:
    """Refuse an unknown option where Prefect does, naming the decorator as Python names
    Prefect's: ``@task(on_running=[...])`` is ``task() got an unexpected keyword
    argument 'on_running'`` before any function is decorated."""
    known = _option_names(definition)
    for name in options:
        if name not in known:
            raise TypeError(f"{decorator}() got an unexpected keyword argument {name!r}")


class MethodBinding:
    """``@task``/``@flow`` on methods, as Prefect 3 allows: read through an instance, the
    definition is a copy bound to it (``self`` becomes the first argument of every call,
    ``.submit`` and ``.map`` included); on a ``@classmethod`` it is bound to the class.

    The bound object is an ordinary parameter from then on, as in Prefect: it is part of
    the task's inputs (and so of an ``INPUTS`` cache key) and mapped over by ``.map`` if it
    is iterable. Unlike Prefect, which stores the bound object on the shared function
    (so one instance's binding leaks into the next access), each copy carries its own:
    ``Class.method(instance, x)`` and concurrent use of two instances work.
    """

    #: ``"classmethod"``, ``"staticmethod"``, or ``""`` for a plain function.
    method_kind: str = ""
    #: What is passed before the caller's arguments: ``(instance,)``, ``(cls,)`` or ``()``.
    bound_to: tuple[Any, ...] = ()

    @staticmethod
    def unwrap_method(fn: Any) -> tuple[Any, str]:
        """The function inside a ``classmethod``/``staticmethod`` (``@task`` written above
        ``@classmethod``), and which it was."""
        if isinstance(fn, classmethod):
            return fn.__func__, "classmethod"
        if isinstance(fn, staticmethod):
            return fn.__func__, "staticmethod"
        return fn, ""

    def __get__(self: Self, instance: Any, owner: type[Any] | None = None) -> Self:
        if self.method_kind == "classmethod":
            target: Any = owner if owner is not None else type(instance)
        elif instance is not None and self.method_kind != "staticmethod":
            target = instance
        else:
            return self  # read through the class, or a staticmethod: nothing to bind
        bound = object.__new__(type(self))
        bound.__dict__.update(self.__dict__)  # shares the lazily computed values too
        bound.bound_to = (target,)
        return bound

    def keep_binding(self: Self, copy: Self) -> Self:
        """``copy`` (made by ``with_options``) bound and classified as this one is."""
        copy.method_kind = self.method_kind
        copy.bound_to = self.bound_to
        return copy


_engine_module: Any = None


def engine() -> Any:
    """The engine, imported on first use: definitions never import it at module level."""
    global _engine_module
    if _engine_module is None:
        from flowless import engine

        _engine_module = engine
    return _engine_module
