"""What a store keeps about deployments: whether each is paused, and (on the embedded
store) the deployments that ``serve`` registered and the scheduled runs that are due.

A deployment's definition is data compiled by ``flowless build`` (the manifest shipped
with the Lambda functions) or registered by a ``serve`` process; only its pause state
changes at run time, so that is all both stores must share. The pause state overrides
the definition's ``paused`` once someone has set it (``flowless deployment pause``).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

__all__ = ["DeploymentStateStore"]


@runtime_checkable
class DeploymentStateStore(Protocol):
    def read_paused(self, deployment: str) -> bool | None:
        """True/False once set for ``flow-name/deployment-name``; None if never set."""

    def set_paused(self, deployment: str, paused: bool) -> None:
        """Durable when it returns."""
