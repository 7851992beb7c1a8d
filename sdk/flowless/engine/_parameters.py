"""Validating and coercing flow parameters with pydantic, before anything runs.

A flow's signature becomes a ``TypedDict`` validated by a ``TypeAdapter`` (built once per
flow, when first needed): any parameter name is allowed (a pydantic model would reserve
names such as ``schema`` or ``json``), and arbitrary classes in annotations are checked
with ``isinstance``. Arguments that already are exactly their annotated simple types
(``int``, ``str``, ``list[str]``, ...) need no coercion, so pydantic is only imported
when something might need converting or rejecting.
"""

from __future__ import annotations

import contextlib
import inspect
import typing
from typing import TYPE_CHECKING, Any

from flowless.exceptions import ParameterTypeError

if TYPE_CHECKING:
    from flowless.flows import Flow

__all__ = ["validate_parameters"]


def _resolve(annotation: Any, fn: Any) -> Any:
    """An annotation as a type; string annotations (``from __future__ import annotations``)
    are evaluated one by one, so one unresolvable name skips only its own parameter."""
    if not isinstance(annotation, str):
        return annotation
    namespace = dict(getattr(fn, "__globals__", {}))
    with contextlib.suppress(TypeError, ValueError):
        namespace.update(inspect.getclosurevars(fn).nonlocals)
    try:
        return eval(annotation, namespace)  # the user's own annotation text
    except Exception:
        return inspect.Parameter.empty


def _annotations(flow: Flow[..., Any]) -> dict[str, Any]:
    fn = flow.fn
    try:
        hints = typing.get_type_hints(fn, include_extras=True)
    except Exception:
        hints = {}
    fields: dict[str, Any] = {}
    for param in inspect.signature(fn).parameters.values():
        if param.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            continue
        annotation = hints.get(param.name) or _resolve(param.annotation, fn)
        if annotation is inspect.Parameter.empty or annotation is Any:
            continue
        fields[param.name] = annotation
    return fields


def _adapter(annotations: dict[str, Any]) -> Any:
    from pydantic import ConfigDict, TypeAdapter
    from typing_extensions import TypedDict

    schema: Any = TypedDict("FlowParameters", annotations, total=False)  # type: ignore[misc]
    setattr(schema, "__pydantic_config__", ConfigDict(arbitrary_types_allowed=True))  # noqa: B010
    return TypeAdapter(schema)


def _usable(fields: dict[str, Any]) -> dict[str, Any]:
    """The annotations pydantic can validate; one it cannot handle is skipped rather
    than failing the flow. Tries them all at once first: one build is the usual cost."""
    try:
        _adapter(fields)
    except Exception:
        usable = {}
        for name, annotation in fields.items():
            try:
                _adapter({name: annotation})
            except Exception:
                continue
            usable[name] = annotation
        return usable
    return fields


_EXACT = frozenset({int, str, float, bool, type(None)})


def _conforms(value: Any, annotation: Any) -> bool:
    """True when ``value`` already is exactly of the annotated simple type, so pydantic
    would hand back an equal value. False means "ask pydantic", never "invalid"."""
    if annotation in _EXACT:
        return type(value) is annotation
    if annotation is list or annotation is dict:
        return type(value) is annotation
    origin = typing.get_origin(annotation)
    if origin is list:
        (item,) = typing.get_args(annotation) or (Any,)
        return type(value) is list and all(_conforms(v, item) for v in value)
    if origin is dict:
        key, item = typing.get_args(annotation) or (Any, Any)
        return type(value) is dict and all(
            _conforms(k, key) and _conforms(v, item) for k, v in value.items()
        )
    return False


class _Validator:
    """A flow's parameter annotations, and the pydantic adapter built on first need."""

    def __init__(self, fields: dict[str, Any]) -> None:
        self.fields = fields
        self._adapter: Any = None

    def validate(self, parameters: dict[str, Any]) -> dict[str, Any]:
        fields = self.fields
        if all(name not in fields or _conforms(v, fields[name]) for name, v in parameters.items()):
            # Already exactly the annotated types: skipping pydantic here keeps a flow
            # like show_stars(repos: list[str]) from paying ~0.2 s to import it.
            return parameters
        if self._adapter is None:
            usable = _usable(fields)
            self._adapter = _adapter(usable) if usable else False
        if self._adapter is False:
            return parameters
        from pydantic import ValidationError

        try:
            coerced = self._adapter.validate_python(parameters)
        except ValidationError as exc:
            problems = [
                (".".join(str(part) for part in error["loc"]) or "parameters", error["msg"])
                for error in exc.errors()
            ]
            raise ParameterTypeError(problems) from None
        return {**parameters, **coerced}


def validate_parameters(flow: Flow[..., Any], parameters: dict[str, Any]) -> dict[str, Any]:
    """The parameters, coerced to their annotated types; ``ParameterTypeError`` naming
    each bad parameter otherwise."""
    validator = flow.parameter_validator
    if validator is None:
        validator = flow.parameter_validator = _Validator(_annotations(flow))
    result: dict[str, Any] = validator.validate(parameters)
    return result
