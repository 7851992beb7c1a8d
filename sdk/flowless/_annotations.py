"""Argument wrappers, as ``prefect.utilities.annotations`` has them.

``unmapped`` (pass whole to every mapped run), ``allow_failure`` (run even if this
upstream failed; receive its exception), ``quote`` (do not look inside for futures),
``freeze`` (a deployment parameter nobody may override) and ``NotSet``.

They are one-element tuples, as in Prefect, because code written for Prefect may unpack
or index them; that also makes them unhashable (``__eq__`` is by type and value). The one
change from Prefect: they pickle as themselves (Prefect's come back as
``quote((value,))``), because flowless stores every result and replays it.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from typing import Self

__all__ = [
    "BaseAnnotation",
    "NotSet",
    "Quote",
    "allow_failure",
    "freeze",
    "quote",
    "unmapped",
]

T = TypeVar("T")


class BaseAnnotation(tuple[T]):
    """A value marked for the engine; the traversal of task arguments and flow returns
    (``flowless.futures.visit_futures``) looks at the mark, then at the value inside."""

    __slots__ = ()

    def __new__(cls, value: T) -> Self:
        return super().__new__(cls, (value,))

    @property
    def value(self) -> T:
        return tuple.__getitem__(self, 0)

    def unwrap(self) -> T:
        return tuple.__getitem__(self, 0)

    def rewrap(self, value: T) -> Self:
        return type(self)(value)

    def __getnewargs__(self) -> tuple[T]:
        return (tuple.__getitem__(self, 0),)

    def __eq__(self, other: object) -> bool:
        if type(self) is not type(other):
            return False
        return tuple.__eq__(self, other)

    __hash__ = None  # type: ignore[assignment]  # as Prefect's: __eq__ without __hash__

    def __repr__(self) -> str:
        return f"{type(self).__name__}({tuple.__getitem__(self, 0)!r})"


class unmapped(BaseAnnotation[T]):
    """In ``task.map``, pass this argument whole to every run instead of iterating it."""

    def __getitem__(self, _: object) -> T:  # type: ignore[override]
        # Every position holds the same value: an endless sequence for the mapping.
        return tuple.__getitem__(self, 0)


class allow_failure(BaseAnnotation[T]):
    """Let a task run even if this upstream future (or state) failed; it receives the
    exception. Only ``Failed`` upstreams qualify: a crashed or cancelled one still makes
    the task ``NotReady``."""


class quote(BaseAnnotation[T]):
    """Pass this argument as it is: its contents are not searched for futures and states
    (also the way to skip that search for a large collection), and a flow returning it
    does not take on the states inside."""

    def unquote(self) -> T:
        return self.unwrap()


class Quote(quote[T]):
    """Prefect's deprecated spelling of ``quote``."""

    def __new__(cls, expr: T) -> Self:
        warnings.warn(
            "Use of `Quote` is deprecated. Use `quote` instead.",
            DeprecationWarning,
            stacklevel=2,
        )
        return super().__new__(cls, expr)


class NotSet:
    """Singleton to distinguish ``None`` from a value that is not provided by the user."""


class freeze(BaseAnnotation[T]):
    """A deployment parameter whose value runs of the deployment cannot change.

    The value must be JSON-serializable (it is stored with the deployment); pydantic
    serializes a frozen value as the value itself.
    """

    def __new__(cls, value: T) -> Self:
        from pydantic_core import to_json

        try:
            to_json(value)
        except Exception:
            raise ValueError("Value must be JSON serializable") from None
        return super().__new__(cls, value)

    def unfreeze(self) -> T:
        """Return the unwrapped value."""
        return self.unwrap()

    @classmethod
    def __get_pydantic_core_schema__(cls, source: type[Any], handler: Any) -> Any:
        from pydantic_core import core_schema

        return core_schema.no_info_after_validator_function(
            cls,
            core_schema.any_schema(),
            serialization=core_schema.plain_serializer_function_ser_schema(lambda x: x.unfreeze()),
        )
