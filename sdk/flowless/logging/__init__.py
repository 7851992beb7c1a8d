"""Run logging: ``get_run_logger()``, Prefect's console format, and ``disable_run_logger``.

The same four names as ``prefect.logging``; the rest of Prefect's ``prefect.logging.loggers``
is in ``flowless.logging.loggers``.
"""

from flowless.logging._stored import install as _keep_run_lines
from flowless.logging.loggers import (
    LogEavesdropper,
    disable_run_logger,
    get_logger,
    get_run_logger,
)

__all__ = ["LogEavesdropper", "disable_run_logger", "get_logger", "get_run_logger"]

_keep_run_lines()
