"""Validating and coercing flow parameters with pydantic, before anything runs.

A flow's signature becomes a ``TypedDict`` validated by a ``TypeAdapter`` (built once per
flow): any parameter name is allowed (a pydantic model would reserve names such as
``schema`` or ``json``), and arbitrary classes in annotations are checked with
``isinstance``. Flows without annotated parameters never import pydantic.
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


class _NoValidation:
    """Marker: the flow has nothing to validate."""


_NOTHING = _NoValidation()


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


def _build(flow: Flow[..., Any]) -> Any:
    fields = _annotations(flow)
    if not fields:
        return _NOTHING
    from pydantic import ConfigDict, TypeAdapter
    from typing_extensions import TypedDict

    config = ConfigDict(arbitrary_types_allowed=True)

    def adapter(annotations: dict[str, Any]) -> Any:
        schema: Any = TypedDict("FlowParameters", annotations, total=False)  # type: ignore[misc]
        setattr(schema, "__pydantic_config__", config)  # noqa: B010 - the class is dynamic
        return TypeAdapter(schema)

    usable: dict[str, Any] = {}
    for name, annotation in fields.items():
        try:  # an annotation pydantic cannot handle is skipped rather than failing the flow
            adapter({name: annotation})
        except Exception:
            continue
        usable[name] = annotation
    return adapter(usable) if usable else _NOTHING


def validate_parameters(flow: Flow[..., Any], parameters: dict[str, Any]) -> dict[str, Any]:
    """The parameters, coerced to their annotated types; ``ParameterTypeError`` naming
    each bad parameter otherwise."""
    validator = flow.parameter_validator
    if validator is None:
        validator = flow.parameter_validator = _build(flow)
    if validator is _NOTHING:
        return parameters
    from pydantic import ValidationError

    try:
        coerced = validator.validate_python(parameters)
    except ValidationError as exc:
        problems = [
            (".".join(str(part) for part in error["loc"]) or "parameters", error["msg"])
            for error in exc.errors()
        ]
        raise ParameterTypeError(problems) from None
    return {**parameters, **coerced}
