"""``set_deployment``: the writer behind ``flowless deploy``, which edits ``flowless.yaml``.

It validates the whole new file with the reader's rules before anything is written, and
replaces the file atomically, so a failed deploy never leaves a half-written or invalid
project behind.
"""

from __future__ import annotations

import copy
import os
import stat
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped, unused-ignore]

from flowless.deploy._config_fields import At, kind_of
from flowless.deploy._config_model import FILENAME, ProjectError
from flowless.deploy._config_parse import parse_project, read_yaml

__all__ = ["set_deployment"]


def set_deployment(
    path: Path,
    *,
    entrypoint: str,
    name: str,
    cron: str | None = None,
    interval: float | None = None,
    timezone: str | None = None,
    parameters: Mapping[str, Any] | None = None,
    description: str | None = None,
    tags: Sequence[str] | None = None,
) -> str:
    """Add the deployment ``name`` to ``flowless.yaml``, or update the one of that name.

    Behind ``flowless deploy flows.py:my_flow -n daily-greeting --cron "0 9 * * *"``.
    An update sets the entrypoint and whatever else is given (replacing a single schedule
    keeps its slug); its schedules are replaced
    only when ``cron`` or ``interval`` is given (one schedule, with ``timezone``). The
    other deployments and fields stay as they were, in their order. The file (``path``,
    or ``flowless.yaml`` in the folder ``path``) is created if missing.

    The result is checked with the same rules as ``load_project`` *before* anything is
    written: on a ``ProjectError`` the file is untouched. The write is atomic (a temporary
    file in the same folder, then ``os.replace``).

    PyYAML does not keep comments: only the comment lines at the top of the file survive
    an update; comments elsewhere, and YAML anchors, are lost (values are kept).

    Returns ``"Created"`` (a new deployment, in a new file or not) or ``"Updated"``.
    """
    path = Path(path)
    if path.is_dir():
        path = path / FILENAME
    at = At(path.name, f"deployment '{name}'")
    if cron is not None and interval is not None:
        raise at.error(
            "schedules", "got both a cron and an interval", "Give one (add the other later)."
        )
    if timezone is not None and cron is None and interval is None:
        raise at.error(
            "schedules",
            "a time zone was given without a cron or an interval",
            "Give the schedule's cron or interval with its time zone.",
        )

    existed = path.exists()
    header = ""
    if existed:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ProjectError(f"{path.name}: cannot read {path.absolute()}: {exc}.") from None
        data = read_yaml(text, path.name)
        header = _leading_comments(text)
    else:
        data = None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise At(path.name).error(
            None,
            f"the file holds {kind_of(data)}, not a mapping",
            "Fix it (or move it away) before adding a deployment.",
        )
    deployments = data.get("deployments")
    if deployments is None:
        deployments = data["deployments"] = []
    if not isinstance(deployments, list):
        raise At(path.name).error(
            "deployments",
            f"expected a list of deployments, got {kind_of(deployments)}",
            "Fix it before adding a deployment.",
        )

    schedule: dict[str, Any] | None = None
    if cron is not None:
        schedule = {"cron": cron}
    elif interval is not None:
        schedule = {"interval": int(interval) if float(interval).is_integer() else interval}
    if schedule is not None and timezone is not None:
        schedule["timezone"] = timezone

    entry = next(
        (d for d in deployments if isinstance(d, dict) and d.get("name") == name),
        None,
    )
    created = entry is None
    if entry is None:
        entry = {"name": name}
        deployments.append(entry)
    entry["entrypoint"] = entrypoint
    if description is not None:
        entry["description"] = description
    if tags is not None:
        entry["tags"] = list(tags)
    if parameters is not None:
        entry["parameters"] = copy.deepcopy(dict(parameters))
    if schedule is not None:
        # Replacing the one schedule keeps its slug: the slug is the dedupe key of its
        # slots, and a new slug would be a new schedule (its slots could fire again).
        old = entry.get("schedules")
        if (
            isinstance(old, list)
            and len(old) == 1
            and isinstance(old[0], dict)
            and isinstance(old[0].get("slug"), str)
        ):
            schedule["slug"] = old[0]["slug"]
        entry["schedules"] = [schedule]

    body = yaml.safe_dump(data, sort_keys=False, default_flow_style=False, allow_unicode=True)
    new_text = header + body
    parse_project(new_text, path)  # raises ProjectError: nothing written
    _write_atomically(path, new_text)

    return "Created" if created else "Updated"


def _leading_comments(text: str) -> str:
    lines: list[str] = []
    for line in text.splitlines(keepends=True):
        if line.lstrip().startswith("#") or (lines and not line.strip()):
            lines.append(line)
        else:
            break
    header = "".join(lines).rstrip()
    return header + "\n" if header else ""


def _write_atomically(path: Path, text: str) -> None:
    directory = path.absolute().parent
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
