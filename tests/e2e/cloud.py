"""What the end-to-end tests see of the local cloud: its store, its results, the
invocations it counted, and the environment that switches a script onto it."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.local_cloud import LocalCloud

from fake_github_api import FakeGitHubAPI
from flowless.results import Results, S3BlobStorage, secret_signer
from flowless.store import DynamoDBStore


@dataclass
class Cloud:
    """The running local cloud, with the views the tests read it through."""

    cloud: LocalCloud
    github: FakeGitHubAPI

    @property
    def store(self) -> DynamoDBStore:
        return DynamoDBStore(self.cloud.provisioned.table_name, self.cloud.client("dynamodb"))

    @property
    def results(self) -> Results:
        p = self.cloud.provisioned
        bucket = S3BlobStorage(p.bucket_name, self.cloud.client("s3"))
        signer = secret_signer(p.signing_secret or "", lambda: self.cloud.client("secretsmanager"))
        return Results(bucket, 100 * 1024, signer)

    def invocations(self) -> dict[str, int]:
        """Invocations so far as ``{"flow": n, "task": n}``."""
        counts = self.cloud.invocations
        p = self.cloud.provisioned
        return {
            "flow": counts.get(p.flow_function_name, 0),
            "task": counts.get(p.task_function_name, 0),
        }

    @contextmanager
    def counting(self) -> Iterator[dict[str, int]]:
        """Invocations made inside the block (filled in when it ends)."""
        before = self.invocations()
        delta: dict[str, int] = {}
        try:
            yield delta
        finally:
            after = self.invocations()
            delta.update({k: after[k] - before[k] for k in after})

    def invoke_flow(self, event: Any, expect_error: bool = False) -> dict[str, Any]:
        """Invoke the flow-run function as ``aws lambda invoke`` would; its JSON answer
        (with ``expect_error``: the function error it must answer instead)."""
        response = self.cloud.client("lambda").invoke(
            FunctionName=self.cloud.provisioned.flow_function_name,
            Payload=json.dumps(event).encode(),
        )
        assert response["StatusCode"] == 200
        body = json.loads(response["Payload"].read())
        assert ("FunctionError" in response) is expect_error, body
        return dict(body)

    def script_env(self, home: Path, **extra: str) -> dict[str, str]:
        """The environment of ``python my_flow.py`` switched onto this cloud."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "FLOWLESS_"))}
        env.update(self.cloud.env)
        env.update({"FLOWLESS_HOME": str(home), "GITHUB_API_URL": self.github.url, **extra})
        return env
