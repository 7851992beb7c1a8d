"""``flowless.yaml``: a project's deployments, read into frozen configuration.

The file uses ``prefect.yaml``'s field names where they apply::

    name: my-project                      # optional: the folder's name
    deployments:
      - name: daily-greeting
        entrypoint: flows.py:hello        # a file of the project, or package.module:attr
        description: Say hello every morning
        tags: [demo]
        parameters: {name: World}
        paused: false
        concurrency_limit: 1              # or {limit: 1, collision_strategy: CANCEL_NEW}
        schedules:
          - cron: "0 9 * * *"
            timezone: America/New_York
            slug: morning
          - interval: 3600                # seconds
            anchor_date: "2027-01-01T00:00:00"

``load_project`` checks everything that can be checked without importing the user's
code and raises ``ProjectError`` with one message naming the file, the deployment, the
field and the fix. ``flowless build`` then imports the entrypoints (filling
``DeploymentConfig.flow_name``) and checks the parameters against the flows.

``set_deployment`` is the writer behind ``flowless deploy``: it adds or updates one
deployment, validates the whole file before writing, and replaces it atomically.

This module is the surface the CLI and ``flowless build`` import; the work is in
``_config_model`` (the frozen shapes), ``_config_parse`` (the file, each deployment),
``_config_fields`` and ``_config_schedules`` (each field's checks and messages) and
``_config_edit`` (the writer).

Build-time only: nothing in the engine or the Lambda handlers imports this module.
"""

from __future__ import annotations

from pathlib import Path

from flowless.deploy._config_edit import set_deployment
from flowless.deploy._config_model import (
    COLLISION_STRATEGIES,
    DEPLOYMENT_FIELDS,
    FILENAME,
    PROJECT_FIELDS,
    SCHEDULE_FIELDS,
    ConcurrencyLimitConfig,
    DeploymentConfig,
    ProjectConfig,
    ProjectError,
    ScheduleConfig,
)
from flowless.deploy._config_parse import parse_project

__all__ = [
    "COLLISION_STRATEGIES",
    "DEPLOYMENT_FIELDS",
    "FILENAME",
    "PROJECT_FIELDS",
    "SCHEDULE_FIELDS",
    "ConcurrencyLimitConfig",
    "DeploymentConfig",
    "ProjectConfig",
    "ProjectError",
    "ScheduleConfig",
    "load_project",
    "set_deployment",
]


def load_project(path: Path) -> ProjectConfig:
    """Read and check ``flowless.yaml`` (``path`` may also be the folder holding it)."""
    path = Path(path)
    if path.is_dir():
        path = path / FILENAME
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ProjectError(
            f"{path.name}: not found at {path.absolute()}. Run `flowless init` in your "
            "project folder to create it, or `flowless deploy <file.py>:<flow> -n <name>` "
            "to add a deployment."
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ProjectError(
            f"{path.name}: cannot read {path.absolute()}: {exc}. Check that it is a UTF-8 "
            "text file you can read."
        ) from None
    return parse_project(text, path)
