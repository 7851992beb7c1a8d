"""The manifest ``flowless build`` puts beside the function code, read as data.

It names each deployment's flow by module and attribute; the flow is imported from the
function's own code (the user's project, packaged by ``sam build``), so nothing read
here becomes code that the package did not already contain.
"""

from __future__ import annotations

import importlib
import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from flowless.deployments import DeploymentDefinition, UnknownDeploymentError
from flowless.exceptions import ConfigurationError
from flowless.flows import Flow

__all__ = ["Manifest", "import_flow", "manifest"]


class Manifest:
    def __init__(self, path: Path, data: Any) -> None:
        if not isinstance(data, dict) or data.get("format") != 1:
            raise ConfigurationError(f"{path} is not a flowless manifest (format 1).")
        self.path = path
        self.code_hash: str | None = data.get("code_hash")
        try:
            self.deployments = [DeploymentDefinition.from_json(d) for d in data["deployments"]]
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigurationError(f"{path} is not a valid flowless manifest: {exc}") from exc


@lru_cache(maxsize=1)
def manifest() -> Manifest | None:
    """The function's manifest, or None when it has none (the repo's own stack, whose
    events name flows directly)."""
    name = os.environ.get("FLOWLESS_MANIFEST", "")
    if not name:
        return None
    path = Path(os.environ.get("LAMBDA_TASK_ROOT", ".")) / name
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigurationError(
            f"FLOWLESS_MANIFEST names {path}, which is not there: run `flowless build` "
            "and `sam build` before `sam deploy`."
        ) from None
    except ValueError as exc:
        raise ConfigurationError(f"{path} is not valid JSON: {exc}") from exc
    return Manifest(path, data)


def import_flow(module: str, attribute: str, reference: str) -> Flow[..., Any]:
    try:
        target: Any = importlib.import_module(module)
        for part in attribute.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as exc:
        raise UnknownDeploymentError(f"flow {reference!r} cannot be imported: {exc}") from None
    if not isinstance(target, Flow):
        raise UnknownDeploymentError(f"{reference!r} is not a flow (it is {type(target).__name__})")
    return target
