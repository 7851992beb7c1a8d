"""Argument wrappers for task calls: ``unmapped``, ``allow_failure``, ``quote``."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

__all__ = ["BaseAnnotation", "allow_failure", "quote", "unmapped"]

T = TypeVar("T")


class BaseAnnotation(Generic[T]):
    __slots__ = ("value",)

    def __init__(self, value: T) -> None:
        self.value = value

    def unwrap(self) -> T:
        return self.value

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, BaseAnnotation)
            and type(self) is type(other)
            and (self.value == other.value)
        )

    def __hash__(self) -> int:
        return hash((type(self), id(self.value)))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.value!r})"


class unmapped(BaseAnnotation[T]):
    """In ``task.map``, pass this argument whole to every run instead of iterating it."""

    def __getitem__(self, _: Any) -> T:
        return self.value


class allow_failure(BaseAnnotation[T]):
    """Let a task run even if this upstream future failed; it receives the exception."""


class quote(BaseAnnotation[T]):
    """Pass this argument as-is: do not look inside it for futures."""
