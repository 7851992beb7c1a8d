"""Binding arguments: the fast path must agree with ``inspect.Signature.bind`` exactly."""

from __future__ import annotations

import inspect
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flowless._callables import CallShape
from flowless.exceptions import ParameterBindError


def plain(a: int, b: int, c: int = 3, *, d: int = 4) -> None: ...


def required_kw(a: int, *, k: int) -> None: ...


def varargs(a: int, /, *rest: int, **extra: int) -> None: ...


FUNCTIONS = [plain, required_kw, varargs]
names = st.sampled_from(["a", "b", "c", "d", "k", "rest", "extra", "zzz"])


def reference(fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any] | None:
    try:
        bound = inspect.signature(fn).bind(*args, **kwargs)
    except TypeError:
        return None
    bound.apply_defaults()
    return dict(bound.arguments)


@given(
    fn=st.sampled_from(FUNCTIONS),
    args=st.lists(st.integers(), max_size=5).map(tuple),
    kwargs=st.dictionaries(names, st.integers(), max_size=4),
)
def test_bind_agrees_with_signature_bind(
    fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    shape = CallShape(fn, fn.__name__)
    expected = reference(fn, args, kwargs)
    if expected is None:
        with pytest.raises(ParameterBindError, match=f"function '{fn.__name__}'"):
            shape.bind(args, kwargs)
    else:
        assert shape.bind(args, kwargs) == expected
        call_args, call_kwargs = shape.split(expected)
        assert reference(fn, call_args, call_kwargs) == expected


def test_bind_error_message() -> None:
    with pytest.raises(ParameterBindError) as info:
        CallShape(plain, "plain").bind((1, 2), {"zzz": 2})
    assert str(info.value) == (
        "Error binding parameters for function 'plain': got an unexpected keyword argument "
        "'zzz'. It was called with 2 positional argument(s) and keyword argument(s) ['zzz']."
    )
