"""Running the SAM CLI and cfn-lint from tests: offline, with no AWS account.

``sam`` reads credentials and a region only to build clients it never calls for
``validate``/``build``; it also checks PyPI for a newer version once a week and may send
telemetry. The environment here gives it fake credentials, no config files, telemetry off,
and its own settings directory with the version check marked as just done. Where the
kernel allows it (``unshare -rn``), ``validate`` runs with no network at all, which proves
it does not need one.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SAM = BIN / "sam"
TEMPLATE = REPO / "template.yaml"


def offline_env(home: Path) -> dict[str, str]:
    """Environment for ``sam``: fake credentials, no telemetry, no version check."""
    settings = home / "sam-settings"
    settings.mkdir(parents=True, exist_ok=True)
    (settings / "metadata.json").write_text(
        json.dumps({"lastVersionCheck": time.time(), "telemetryEnabled": False})
    )
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "SAM_")) or key == "AWS_CA_BUNDLE"
    }
    env.update(
        {
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
            "SAM_CLI_TELEMETRY": "0",
            "__SAM_CLI_APP_DIR": str(settings),
        }
    )
    return env


@functools.cache
def can_unshare_network() -> bool:
    unshare = shutil.which("unshare")
    if not unshare:
        return False
    try:
        done = subprocess.run([unshare, "-rn", "true"], capture_output=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


def run(
    args: Sequence[str], env: Mapping[str, str], *, no_network: bool = False, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run a command in the repo; with ``no_network``, in a namespace with no network."""
    command = list(args)
    if no_network and can_unshare_network():
        command = ["unshare", "-rn", *command]
    return subprocess.run(
        command, cwd=REPO, env=dict(env), capture_output=True, text=True, timeout=timeout
    )
