"""Logging inside a flowless Lambda function: JSON lines through AWS Lambda Powertools.

flowless's own run logs (``Task run 'x' - Finished in state Completed()``) go through the
Powertools logger's own handler, so CloudWatch gets one JSON object per line with the
run's ids as keys (``flow_run_id``, ``task_run_id``, ...) and the invocation's
(``function_request_id``, ``cold_start``, ...). Sharing the handler, rather than a second
formatter, means ``inject_lambda_context(clear_state=True)`` resets both kinds of line at
each invocation: a warm function never labels one run's lines with another's keys.

No Powertools Tracer: it imports the X-Ray SDK (and botocore) at init even when tracing
is off, which doubled the functions' import time; the stack does not turn X-Ray on.
"""

from __future__ import annotations

import logging

from aws_lambda_powertools.logging import Logger
from aws_lambda_powertools.metrics import Metrics, MetricUnit

__all__ = ["MetricUnit", "logger", "metrics"]

logger = Logger()
metrics = Metrics()

_runs = logging.getLogger("flowless")
if logger.registered_handler not in _runs.handlers:
    _runs.addHandler(logger.registered_handler)
    _runs.propagate = False
