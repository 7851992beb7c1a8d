"""The current run, as module attributes: ``from flowless.runtime import flow_run, task_run``.

Prefect's ``prefect.runtime``: ``flow_run.name``, ``flow_run.parameters``,
``task_run.task_name`` and so on, read at access time. Outside a run they are ``None``
(``parameters`` is ``{}``), so code that uses them also runs in plain tests.
"""

from flowless.runtime import flow_run, task_run

__all__ = ["flow_run", "task_run"]
