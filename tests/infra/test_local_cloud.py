"""``make local`` (``python -m infra.local_cloud``): up, usable from another process, down."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import boto3

REPO = Path(__file__).resolve().parents[2]


def test_the_local_cloud_command_prints_what_to_export_and_stops_cleanly(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "FLOWLESS_"))}
    process = subprocess.Popen(
        [sys.executable, "-m", "infra.local_cloud", "--stack-name", "cli-test"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        exports: dict[str, str] = {}
        for line in process.stdout:
            if line.startswith("export "):
                key, _, value = line.removeprefix("export ").strip().partition("=")
                exports[key] = value
            if line.startswith("# Ctrl-C"):
                break
        assert exports["FLOWLESS_BACKEND"] == "aws"
        assert exports["FLOWLESS_TASK_FUNCTION"] == "cli-test-task-run"
        assert exports["FLOWLESS_FLOW_FUNCTION"] == "cli-test-flow-run"
        assert exports["AWS_ENDPOINT_URL_DYNAMODB"].startswith("http://127.0.0.1:")

        session = boto3.Session(
            region_name=exports["AWS_REGION"],
            aws_access_key_id=exports["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=exports["AWS_SECRET_ACCESS_KEY"],
        )
        dynamodb = session.client("dynamodb", endpoint_url=exports["AWS_ENDPOINT_URL_DYNAMODB"])
        table = dynamodb.describe_table(TableName=exports["FLOWLESS_TABLE"])["Table"]
        assert table["TableStatus"] == "ACTIVE"
        lambda_ = session.client("lambda", endpoint_url=exports["AWS_ENDPOINT_URL_LAMBDA"])
        answer = lambda_.invoke(FunctionName=exports["FLOWLESS_FLOW_FUNCTION"], Payload=b"{}")
        assert answer["FunctionError"] == "Unhandled"
        assert "Malformed flow-run event" in json.loads(answer["Payload"].read())["errorMessage"]
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
