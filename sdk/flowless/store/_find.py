"""One flow run from what a person types for it: a full id, a unique id prefix, or a name.

Shared by every CLI command and by ``resume_flow_run``, so what ``flowless flow-run ls``
prints works everywhere. A name may repeat (a flow with a fixed ``flow_run_name``): the
newest run of that name is meant, as in Prefect's UI search. A prefix must be unique:
guessing between two runs would resume or delete the wrong one.
"""

from __future__ import annotations

from flowless.exceptions import RecordNotFoundError
from flowless.store._protocol import Store
from flowless.store._records import FlowRunRecord

__all__ = ["AmbiguousFlowRunError", "find_flow_run"]

#: How many of the runs an ambiguous prefix matches the error names.
_SHOWN = 5


class AmbiguousFlowRunError(RecordNotFoundError):
    """An id prefix matches more than one run (a ``RecordNotFoundError``: no one run was
    found, so callers that handle a missing run handle this too)."""


def find_flow_run(store: Store, ref: str) -> FlowRunRecord:
    """The run ``ref`` names; ``RecordNotFoundError`` if none, ``AmbiguousFlowRunError``
    if ``ref`` is a prefix of several ids and no run's name."""
    if not ref.strip():
        raise ValueError("A flow run id, id prefix, or name is needed; got an empty string.")
    try:
        return store.read_flow_run(ref)
    except RecordNotFoundError:
        pass
    matches = [run for run in store.match_flow_runs(ref) if isinstance(run, FlowRunRecord)]
    named = [run for run in matches if run.name == ref]
    if named:
        return named[0]
    if not matches:
        raise RecordNotFoundError(
            f"No flow run with id, id prefix or name {ref!r} in {store.location}."
        )
    if len(matches) > 1:
        shown = ", ".join(f"{run.id} ({run.name})" for run in matches[:_SHOWN])
        more = f" and {len(matches) - _SHOWN} more" if len(matches) > _SHOWN else ""
        raise AmbiguousFlowRunError(
            f"{ref!r} is the start of {len(matches)} flow run ids: {shown}{more}. "
            "Give more of the id, or the run's name."
        )
    return matches[0]
