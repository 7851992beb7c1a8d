"""The current run, as module attributes: ``from flowless.runtime import flow_run``.

Prefect's ``prefect.runtime``: ``flow_run.name``, ``flow_run.parameters``,
``task_run.task_name``, ``deployment.id`` and so on, read at access time, with
Prefect's attribute sets, order and empty values. Outside a run they are empty (``None``,
``{}``, ``[]``, ``0``), so code that uses them also runs in plain tests, where
``FLOWLESS__RUNTIME__...`` (or Prefect's ``PREFECT__RUNTIME__...``) environment
variables can stand in for them.
"""

from flowless.runtime import deployment, flow_run, task_run

__all__ = ["deployment", "flow_run", "task_run"]
