"""AWS test helpers: the state table in moto (in process), created from template.yaml.

moto handles requests from several threads at once without a per-table lock, so a
conditional write could race another in ways DynamoDB itself never allows. The client
handed to the code under test serialises its calls, as DynamoDB's per-item atomicity
would; the local cloud's server does the same for HTTP clients.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from infra.template import table_definition
from moto import mock_aws

REGION = "us-east-1"


class SerializedClient:
    """A boto3 client whose calls run one at a time."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._lock = threading.Lock()
        self.meta = client.meta

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)
        if not callable(method):
            return method

        def call(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return method(*args, **kwargs)

        return call


def signing_secret(monkeypatch: Any, name: str = "flowless-signing-key") -> str:
    """The stack's signing key as the template makes it (a Secrets Manager secret of 64
    letters and digits), in the moto that is active, named by FLOWLESS_SIGNING_SECRET."""
    client = boto3.client(
        "secretsmanager",
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    arn: str = client.create_secret(Name=name, SecretString=secrets.token_hex(32))["ARN"]
    monkeypatch.setenv("FLOWLESS_SIGNING_SECRET", arn)
    return arn


@contextmanager
def dynamodb_table(name: str = "flowless-test") -> Iterator[tuple[SerializedClient, str]]:
    with mock_aws():
        client = boto3.client(
            "dynamodb",
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        client.create_table(**table_definition(name))
        yield SerializedClient(client), name
