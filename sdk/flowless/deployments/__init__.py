"""Deployments: a flow with parameters, schedules and a name that runs can be started by
(``flow.serve()``, ``flowless serve``, ``flowless build`` + ``sam deploy``), and
``run_deployment`` to start one. Decisions: docs/deployments.md.
"""

from flowless.deployments._client import DeploymentError, FlowRun
from flowless.deployments._definition import (
    DeploymentDefinition,
    DeploymentParameterError,
    UnknownDeploymentError,
)
from flowless.deployments._run import run_deployment
from flowless.deployments._service import IdempotencyKeyReusedError

__all__ = [
    "DeploymentDefinition",
    "DeploymentError",
    "DeploymentParameterError",
    "FlowRun",
    "IdempotencyKeyReusedError",
    "UnknownDeploymentError",
    "run_deployment",
]
