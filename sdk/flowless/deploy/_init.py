"""``flowless init``: a working project in an empty folder.

What it writes runs as it is: ``python flows.py`` runs the flow once, ``flowless serve``
serves its deployment, ``flowless build && sam build && sam deploy`` ships it.
"""

from __future__ import annotations

import re
from pathlib import Path

from flowless.exceptions import FlowlessException

__all__ = ["InitError", "init_project"]


class InitError(FlowlessException):
    """The folder already holds a file ``init`` would write."""


FLOWS = '''"""The project's flows. Run one here with `python flows.py`."""

from flowless import flow, task


@task(retries=2, retry_delay_seconds=1)
def greet(name: str) -> str:
    return f"Hello, {name}!"


@flow(log_prints=True)
def hello(name: str = "World") -> str:
    message = greet(name)
    print(message)
    return message


if __name__ == "__main__":
    hello()
'''

CONFIG = """# flowless deployments (prefect.yaml's field names). `flowless serve` runs them here;
# `flowless build` compiles them for `sam build && sam deploy`. See `flowless --help`.
name: {name}
deployments:
  - name: daily-greeting
    entrypoint: flows.py:hello
    description: Say hello every morning.
    parameters:
      name: World
    schedules:
      - cron: "0 9 * * *"
        timezone: UTC
        slug: morning
"""

REQUIREMENTS = """# What your flows import, installed into the Lambda functions by `sam build`.
# flowless itself ships in the stack's layer: do not list it here.
"""

SAMCONFIG = """# sam CLI defaults for this project: `flowless build` writes template.yaml.
version = 0.1

[default.global.parameters]
stack_name = "{name}"

[default.build.parameters]
cached = true

[default.deploy.parameters]
capabilities = "CAPABILITY_IAM"
confirm_changeset = true
resolve_s3 = true
"""

GITIGNORE = """.flowless/
.aws-sam/
__pycache__/
.venv/
"""

README = """# {name}

A [flowless](https://pypi.org/project/flowless/) project: Prefect-style flows that run here
on an embedded store, or on AWS Lambda with no server.

```console
python flows.py                 # run the flow once, here
flowless serve                  # run flowless.yaml's deployments on their schedules, here
flowless deployment run hello/daily-greeting --watch   # (in another shell) start one now
flowless schedule explain daily-greeting               # when it fires, in UTC and locally

flowless build                  # compile for AWS: template.yaml + the staged code
sam build && sam deploy --guided
```

Add a deployment: `flowless deploy flows.py:hello -n hourly --cron "0 * * * *"`.
"""


def _stack_name(folder: str) -> str:
    name = re.sub(r"[^A-Za-z0-9-]+", "-", folder).strip("-") or "flowless-project"
    if not name[0].isalpha():
        name = f"flowless-{name}"
    return name[:40]


def init_project(root: Path, name: str | None = None, force: bool = False) -> list[str]:
    """Write the project's files into ``root``; returns what to tell the user."""
    name = _stack_name(name or root.resolve().name)
    files = {
        "flows.py": FLOWS,
        "flowless.yaml": CONFIG.format(name=name),
        "requirements.txt": REQUIREMENTS,
        "samconfig.toml": SAMCONFIG.format(name=name),
        ".gitignore": GITIGNORE,
        "README.md": README.format(name=name),
    }
    existing = [f for f in files if (root / f).exists()]
    if existing and not force:
        raise InitError(
            f"{root} already has {', '.join(existing)}; nothing was written. Run `flowless "
            "init` in an empty folder, or pass --force to overwrite them."
        )
    root.mkdir(parents=True, exist_ok=True)
    for filename, text in files.items():
        (root / filename).write_text(text)
    return [
        f"Created a flowless project {name!r} in {root}:",
        *(f"  {f}" for f in files),
        "Next:",
        "  python flows.py                                  # run the flow once",
        "  flowless serve                                   # serve its deployment here",
        "  flowless deployment run hello/daily-greeting --watch   # from another shell",
        "  flowless build && sam build && sam deploy --guided     # on AWS",
    ]
