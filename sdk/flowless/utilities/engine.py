"""What a run receives: its inputs with upstream futures and states resolved, by the rules
of Prefect's ``prefect.utilities.engine`` (``resolve_inputs_sync``,
``resolve_to_final_result``) and of its engines' ``_wait_for_dependencies``.

An upstream must have completed; inside ``allow_failure`` a failed one (type ``FAILED``,
so also ``TimedOut``) is accepted and gives its exception. Anything else (crashed,
cancelled, pending, a user-made ``Failed``) stops the run before it starts: the
``UpstreamTaskError`` becomes its ``NotReady`` state. The annotation that counts is the
nearest one around the future, as in Prefect: ``unmapped(allow_failure(f))`` allows,
``allow_failure(unmapped(f))`` does not.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flowless._traversal import _ATOMIC, visit_futures
from flowless.exceptions import PrefectException, UpstreamTaskError
from flowless.futures import PrefectFuture
from flowless.states import State, StateType

__all__ = ["final_result", "resolve_inputs_sync", "wait_for_dependencies"]


def _upstream_state(expr: PrefectFuture[Any] | State[Any], allow_failed: bool) -> State[Any]:
    if isinstance(expr, PrefectFuture):
        expr.wait()
        state = expr.state
        run_id: str | None = expr.task_run_id
    else:
        state = expr
        run_id = state.state_details.task_run_id
    if state.type is not StateType.COMPLETED and not (
        allow_failed and state.type is StateType.FAILED
    ):
        raise UpstreamTaskError(f"Upstream task run '{run_id}' did not reach a 'COMPLETED' state.")
    return state


def final_result(expr: PrefectFuture[Any] | State[Any], allow_failed: bool = False) -> Any:
    """The value a future or a state stands for as an input: its result once it has
    completed (waiting for a future), its exception when it failed and ``allow_failed``."""
    return _upstream_state(expr, allow_failed).result(raise_on_failure=False)


def _checked(expr: PrefectFuture[Any] | State[Any], allow_failed: bool) -> Any:
    _upstream_state(expr, allow_failed)
    return expr  # unchanged: nothing is rebuilt, and its result is not searched


def resolve_inputs_sync(parameters: dict[str, Any], return_data: bool = True) -> dict[str, Any]:
    """Each parameter as the run receives it (see ``flowless.futures.
    resolve_futures_to_results``). An error other than ``UpstreamTaskError`` (a container
    that cannot be rebuilt, say a named tuple or a dataclass with an ``init=False``
    field) becomes Prefect's ``PrefectException`` naming the parameter, with the error as
    its cause. With ``return_data=False`` the upstreams are only waited for and checked,
    and every value is ``None``, as in Prefect."""
    if return_data:
        for value in parameters.values():
            if type(value) not in _ATOMIC:
                break
        else:
            return parameters  # numbers and strings only: nothing to resolve (the common call)
    resolved: dict[str, Any] = {}
    for name, value in parameters.items():
        try:
            if return_data:
                resolved[name] = visit_futures(value, final_result, states=True)
            else:
                visit_futures(value, _checked, states=True)
                resolved[name] = None
        except UpstreamTaskError:
            raise
        except Exception as exc:
            raise PrefectException(
                f"Failed to resolve inputs in parameter {name!r}. If your parameter type is "
                "not supported, consider using the `quote` annotation to skip resolution of "
                "inputs."
            ) from exc
    return resolved


def wait_for_dependencies(wait_for: Iterable[Any]) -> None:
    """Wait for the futures (and check the states) in a ``wait_for``, also inside
    containers; ``UpstreamTaskError`` for one that did not complete (unless a failed one
    is wrapped in ``allow_failure``)."""
    visit_futures(list(wait_for), _checked, states=True)
