"""Prefect's ``prefect.client`` paths, for the names user code imports from them.

flowless has no API server and so no API client; what user code takes from here is
type annotations for state hooks and ``retry_condition_fn``
(``flowless.client.schemas.objects.{FlowRun, TaskRun, State}``).
"""

__all__: list[str] = []
