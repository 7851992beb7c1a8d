"""Traversal: futures and states inside what a task receives and a flow returns.

Prefect's rules (``prefect.utilities.collections.visit_collection``), specialised to
what the engine looks for, so that the per-call cost stays small: atomic values and
containers of them are recognised without a call per element, and a container is
rebuilt only when something inside it changed (otherwise the very same object comes
back, as in Prefect: a task called directly receives the caller's list, not a copy).
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable
from itertools import chain
from operator import is_not
from typing import Any

from flowless._annotations import BaseAnnotation, allow_failure, quote
from flowless.states import State

__all__ = ["Leaf", "visit_futures"]

#
# Prefect's rules (``prefect.utilities.collections.visit_collection``), specialised to
# what the engine looks for, so that the per-call cost stays small: atomic values and
# containers of them are recognised without a call per element, and a container is
# rebuilt only when something inside it changed (otherwise the very same object comes
# back, as in Prefect: a task called directly receives the caller's list, not a copy).
#
# Entered: lists, tuples, sets and their subclasses (rebuilt as ``type(x)(items)``, so a
# ``PrefectFutureList`` stays one and a named tuple of two or more fields cannot be
# rebuilt: Prefect fails the same way), dicts and their subclasses (keys too; rebuilt as
# ``type(x)(pairs)``, which a ``defaultdict`` refuses), dataclass instances (rebuilt with
# ``dataclasses.replace`` and every field, so ``__post_init__`` runs again and a field
# with ``init=False`` or an ``InitVar`` makes it fail), pydantic v2 models (rebuilt with
# ``model_construct``, keeping the fields set, extra fields and private attributes), and
# the annotations. Not entered: frozensets, generators and other iterators, mocks, and
# anything else. No depth limit; each object is visited once per traversal (a shared
# object is rebuilt once; a cycle leads back to the original).

_ATOMIC: frozenset[type] = frozenset({str, int, float, bool, type(None), bytes})

# What each type of value is to the traversal, decided once per type with Prefect's
# isinstance checks, in Prefect's order (a mock before any container: one made with a
# spec passes isinstance checks for its spec).
_OTHER, _FUTURE, _STATE, _ANNOTATION, _SEQUENCE, _MAPPING, _DATACLASS, _MODEL = range(8)
_CATEGORIES: dict[type, int] = dict.fromkeys(_ATOMIC, _OTHER)
_MAX_CATEGORIES = 4096  # classes made at run time (one per mock, say) must not pile up


def _category(value: Any) -> int:
    kind = type(value)
    category = _CATEGORIES.get(kind)
    if category is not None:
        return category
    mock = sys.modules.get("unittest.mock")
    main = sys.modules.get("pydantic.main")  # not imported: no model can exist
    from flowless.futures import PrefectFuture  # here: futures imports this module

    if isinstance(value, PrefectFuture):
        category = _FUTURE
    elif isinstance(value, State):
        category = _STATE
    elif mock is not None and isinstance(value, mock.Mock):
        return _OTHER  # not kept: every mock has a class of its own
    elif isinstance(value, BaseAnnotation):
        category = _ANNOTATION
    elif isinstance(value, (list, tuple, set)):
        category = _SEQUENCE
    elif isinstance(value, dict):
        category = _MAPPING
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        category = _DATACLASS
    elif main is not None and isinstance(value, main.BaseModel):
        category = _MODEL
    else:
        category = _OTHER
    if value.__class__ is kind:  # a proxy's isinstance answers depend on what it wraps
        if len(_CATEGORIES) >= _MAX_CATEGORIES:
            _CATEGORIES.clear()
            _CATEGORIES.update(dict.fromkeys(_ATOMIC, _OTHER))
        _CATEGORIES[kind] = category
    return category


#: ``leaf(future_or_state, allow_failed)``: what a leaf becomes.
Leaf = Callable[[Any, bool], Any]


class _Walk:
    """One traversal: what replaces a leaf, whether states are leaves too, whether
    annotations are removed (task arguments) or kept (flow returns), and the objects
    already seen."""

    __slots__ = ("leaf", "seen", "states", "unwrap")

    def __init__(self, leaf: Leaf, states: bool, unwrap: bool) -> None:
        self.leaf = leaf
        self.states = states
        self.unwrap = unwrap
        self.seen: dict[int, Any] = {}


def visit_futures(
    value: Any,
    on_future: Leaf,
    allow_failed: bool = False,
    *,
    states: bool = False,
    unwrap: bool = True,
) -> Any:
    """``value`` with every future in it replaced by ``on_future(future, allow_failed)``,
    by Prefect's traversal rules (see above), and then whatever that gave searched in turn.

    ``allow_failed`` is whether the nearest enclosing annotation is ``allow_failure``.
    ``states``: states are replaced too. ``unwrap``: annotations are replaced by their
    (visited) contents, as for task arguments; otherwise they stay, as in a flow's return
    value. ``quote`` stops the search either way: its contents come back untouched.
    """
    if type(value) in _ATOMIC or _category(value) == _OTHER:
        return value
    return _visit(value, _Walk(on_future, states, unwrap), allow_failed)


def _visit(value: Any, walk: _Walk, allow: bool) -> Any:
    category = _category(value)
    if category == _FUTURE or (category == _STATE and walk.states):
        value = walk.leaf(value, allow)
        category = _category(value)
    if category == _ANNOTATION:
        return _annotation(value, walk, allow)
    rebuild = _CONTAINERS.get(category)
    if rebuild is None:
        return value
    if category == _SEQUENCE and _ATOMIC.issuperset(map(type, value)):
        return value  # nothing to find, and no cycle possible
    # each container once per traversal: a shared one is rebuilt once, and a cycle leads
    # back to the original (recorded before its contents are visited)
    seen = walk.seen
    key = id(value)
    if key in seen:
        return seen[key]
    seen[key] = value
    result = seen[key] = rebuild(value, walk, allow)
    return result


def _annotation(value: BaseAnnotation[Any], walk: _Walk, allow: bool) -> Any:
    inner = value.unwrap()
    if isinstance(value, quote):
        return inner if walk.unwrap else value
    visited = _visit(inner, walk, isinstance(value, allow_failure))
    if walk.unwrap:
        return visited
    return value if visited is inner else value.rewrap(visited)


def _sequence(value: Any, walk: _Walk, allow: bool) -> Any:
    items = [v if type(v) in _ATOMIC else _visit(v, walk, allow) for v in value]
    result = value
    if any(map(is_not, items, value)):
        kind = type(value)
        result = items if kind is list else kind(items)
    return result


def _mapping(value: Any, walk: _Walk, allow: bool) -> Any:
    result = value
    if _ATOMIC.issuperset(map(type, value)):  # the usual keys: only values to visit
        values = [v if type(v) in _ATOMIC else _visit(v, walk, allow) for v in value.values()]
        if any(map(is_not, values, value.values())):
            result = type(value)(list(zip(value, values, strict=True)))
    else:  # each key, then its value, as Prefect visits them: k1, v1, k2, v2, ...
        flat = [
            x if type(x) in _ATOMIC else _visit(x, walk, allow)
            for pair in value.items()
            for x in pair
        ]
        if any(map(is_not, flat, chain.from_iterable(value.items()))):
            result = type(value)(list(zip(flat[::2], flat[1::2], strict=True)))
    return result


def _dataclass(value: Any, walk: _Walk, allow: bool) -> Any:
    fields = dataclasses.fields(value)
    before = [getattr(value, f.name) for f in fields]
    after = [v if type(v) in _ATOMIC else _visit(v, walk, allow) for v in before]
    result = value
    if any(map(is_not, after, before)):
        changes = {f.name: v for f, v in zip(fields, after, strict=True)}
        result = dataclasses.replace(value, **changes)
    return result


def _model(value: Any, walk: _Walk, allow: bool) -> Any:
    before = dict(value)  # the fields, and extra fields when the model allows them
    after = {k: v if type(v) in _ATOMIC else _visit(v, walk, allow) for k, v in before.items()}
    result = value
    if any(map(is_not, after.values(), before.values())):
        # model_construct: no validation (a model of futures would not validate as one of
        # their results), and it works for frozen models too.
        result = value.model_construct(_fields_set=value.model_fields_set, **after)
        for name in value.__private_attributes__:
            setattr(result, name, getattr(value, name))
    return result


#: How each kind of container is rebuilt (``_visit`` keeps the objects already seen).
_CONTAINERS: dict[int, Callable[[Any, _Walk, bool], Any]] = {
    _SEQUENCE: _sequence,
    _MAPPING: _mapping,
    _DATACLASS: _dataclass,
    _MODEL: _model,
}
