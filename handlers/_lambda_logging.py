"""Logging inside a flowless Lambda function: JSON lines through AWS Lambda Powertools.

flowless's own run logs (``Task run 'x' - Finished in state Completed()``) go through the
same formatter, so CloudWatch gets one JSON object per line with the run's ids as keys
(``flow_run_id``, ``flow_run_name``, ``task_run_id``, ``task_run_name``).
"""

from __future__ import annotations

import logging
import sys

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

__all__ = ["logger", "metrics", "tracer"]

logger = Logger()
metrics = Metrics()
tracer = Tracer()  # disabled outside Lambda and under POWERTOOLS_TRACE_DISABLED

_runs = logging.getLogger("flowless")
if not _runs.handlers:
    _json = logging.StreamHandler(sys.stdout)
    _json.setFormatter(LambdaPowertoolsFormatter(service=logger.service))
    _runs.addHandler(_json)
    _runs.propagate = False
