"""The local cloud: a SAM template's stack in moto's server, and its functions on 127.0.0.1.

``LocalCloud`` starts moto's server (DynamoDB requests serialised, see ``moto_server``),
provisions the template's stack into it over HTTP (``provision``), and serves the two
functions from a local Lambda invoke endpoint that runs our handlers in worker processes,
with the configuration ``sam deploy`` would give them (handler, timeout, memory,
environment with the table's and the bucket's physical names).

Code under test reaches it the way it reaches AWS: through ``AWS_ENDPOINT_URL_*``
variables (``LocalCloud.env``), so it is the production code, unchanged. The functions
see the same variables, and nothing else of the caller's environment.

Its schedules (EventBridge Scheduler, which moto stores but never fires) are fired by a
``ScheduleTicker`` as Scheduler would: the target's ``Input`` with the nominal time.

``flowless local`` serves a project built by ``flowless build``; ``make local`` serves
this repository's own ``template.yaml`` (``infra/local_cloud.py``).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

from flowless.localcloud.lambda_endpoint import FunctionSpec, LambdaEndpoint
from flowless.localcloud.moto_server import MotoServer
from flowless.localcloud.provision import Provisioned, provision
from flowless.localcloud.ticker import ScheduleTicker

__all__ = ["REGION", "LocalCloud", "serve_until_stopped"]

REGION = "us-east-1"

#: Caller variables that would steer boto3 away from the local cloud's endpoints and
#: fake credentials; removed while ``LocalCloud.activated()`` is in force.
_STEERING = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
)


class LocalCloud:
    """One stack of ``template``, served on 127.0.0.1 until ``stop()``.

    ``code_paths`` are the functions' code (what ``sam build`` packages); tests add their
    own flow modules. ``ticker`` fires the stack's schedules on time. ``concurrency``
    is how many execution environments (worker processes) each function may run at
    once; further invocations wait for one, or get ``TooManyRequestsException`` with
    ``throttle=True`` (as with reserved concurrency).
    """

    def __init__(
        self,
        *,
        template: str | Path,
        code_paths: Sequence[str | Path],
        stack_name: str = "flowless",
        ticker: bool = False,
        parameters: Mapping[str, str] | None = None,
        concurrency: int = 4,
        throttle: bool = False,
        environment: Mapping[str, str] | None = None,
        log_path: str | Path | None = None,
    ) -> None:
        self.template = Path(template)
        self.stack_name = stack_name
        self.ticking = ticker
        self.ticker: ScheduleTicker | None = None
        self.code_paths = tuple(str(Path(p).resolve()) for p in code_paths)
        self.parameters = dict(parameters or {})
        self.concurrency = concurrency
        self.throttle = throttle
        #: Extra variables for the functions (e.g. ``FLOWLESS_RESULTS_INLINE_MAX_BYTES``).
        self.extra_environment = dict(environment or {})
        #: Where the functions' output goes (their CloudWatch logs); None: this process's.
        self.log_path = str(log_path) if log_path is not None else None
        self._moto: MotoServer | None = None
        self._lambda: LambdaEndpoint | None = None
        self._provisioned: Provisioned | None = None

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> LocalCloud:
        import boto3

        moto = MotoServer().start()
        self._moto = moto
        try:
            session = boto3.Session(
                region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
            )
            self._provisioned = provision(
                session,
                self.stack_name,
                endpoint_url=moto.url,
                parameters=self.parameters,
                template=self.template,
            )
            # Bound (port chosen) before the functions exist: their environment names it.
            self._lambda = LambdaEndpoint([])
            for spec in self._function_specs():
                self._lambda.add(spec)
            self._lambda.start()
            if self.ticking and self._provisioned.schedule_group:
                self.ticker = ScheduleTicker(
                    self.client("scheduler"), self.client("lambda"), self.provisioned
                ).start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.ticker is not None:
            self.ticker.stop()
            self.ticker = None
        if self._lambda is not None:
            self._lambda.stop()
            self._lambda = None
        if self._moto is not None:
            self._moto.stop()
            self._moto = None

    def __enter__(self) -> LocalCloud:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- what callers use --------------------------------------------------------------

    @property
    def provisioned(self) -> Provisioned:
        if self._provisioned is None:
            raise RuntimeError("The local cloud is not started.")
        return self._provisioned

    @property
    def moto_url(self) -> str:
        if self._moto is None:
            raise RuntimeError("The local cloud is not started.")
        return self._moto.url

    @property
    def lambda_url(self) -> str:
        if self._lambda is None:
            raise RuntimeError("The local cloud is not started.")
        return self._lambda.url

    @property
    def aws_env(self) -> dict[str, str]:
        """boto3's view of this cloud: endpoints, a region, fake credentials. Every
        service but Lambda goes to moto, so nothing can reach real AWS."""
        return {
            "AWS_ENDPOINT_URL": self.moto_url,
            "AWS_ENDPOINT_URL_DYNAMODB": self.moto_url,
            "AWS_ENDPOINT_URL_S3": self.moto_url,
            "AWS_ENDPOINT_URL_SCHEDULER": self.moto_url,
            "AWS_ENDPOINT_URL_LAMBDA": self.lambda_url,
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    @property
    def env(self) -> dict[str, str]:
        """What a caller sets to run flows on this cloud (``python my_flow.py``): the AWS
        variables and ``FLOWLESS_BACKEND=aws`` with the stack's names, as the stack's
        outputs give them after ``sam deploy``."""
        p = self.provisioned
        signing = {"FLOWLESS_SIGNING_SECRET": p.signing_secret} if p.signing_secret else {}
        return {
            **self.aws_env,
            "FLOWLESS_BACKEND": "aws",
            "FLOWLESS_TABLE": p.table_name,
            "FLOWLESS_BUCKET": p.bucket_name,
            "FLOWLESS_TASK_FUNCTION": p.task_function_name,
            "FLOWLESS_FLOW_FUNCTION": p.flow_function_name,
            **signing,
        }

    @contextmanager
    def activated(self) -> Iterator[dict[str, str]]:
        """``env`` in ``os.environ`` for the block (flows run in this process use the
        cloud), and the caller's variables restored after it."""
        saved = {k: os.environ.get(k) for k in (*self.env, *_STEERING)}
        for key in _STEERING:
            os.environ.pop(key, None)
        os.environ.update(self.env)
        try:
            yield self.env
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value

    def client(self, service: str) -> Any:
        """A boto3 client for ``service`` on this cloud (Lambda: the invoke endpoint)."""
        import boto3

        url = self.lambda_url if service == "lambda" else self.moto_url
        make: Any = boto3.client  # typed per service name; this one is dynamic
        return make(
            service,
            endpoint_url=url,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    @property
    def invocations(self) -> dict[str, int]:
        """Invocations received so far, by function name."""
        if self._lambda is None:
            return {}
        return self._lambda.counts()

    @property
    def requests(self) -> dict[str, int]:
        """Requests moto served so far, by service (``dynamodb``, ``s3``, ...)."""
        return self._moto.requests if self._moto is not None else {}

    # -- internals ---------------------------------------------------------------------

    def _function_specs(self) -> list[FunctionSpec]:
        specs = []
        for function in self.provisioned.functions.values():
            environment = {
                **function.environment,
                **self.aws_env,
                # Powertools' tracer needs the X-Ray daemon, which Lambda runs and we don't.
                "POWERTOOLS_TRACE_DISABLED": "true",
                **self.extra_environment,
            }
            specs.append(
                FunctionSpec(
                    name=function.name,
                    handler=function.handler,
                    code_paths=self.code_paths,
                    timeout=float(function.timeout),
                    memory_mb=function.memory_size,
                    environment=environment,
                    concurrency=self.concurrency,
                    throttle=self.throttle,
                    log_path=self.log_path,
                )
            )
        return specs


def serve_until_stopped(cloud: LocalCloud, out: Any = None) -> None:
    """Print the variables that point flowless at ``cloud``, then run until Ctrl-C or
    SIGTERM (``flowless local``, ``make local``)."""
    out = out if out is not None else sys.stdout
    print("# The local cloud is up. In another shell:", file=out, flush=True)
    for key, value in cloud.env.items():
        print(f"export {key}={value}", file=out, flush=True)
    if cloud.ticker is not None:
        names = ", ".join(cloud.ticker.names()) or "none"
        print(f"# Firing schedules on time: {names}.", file=out, flush=True)
    print("# Ctrl-C stops it (and forgets everything: moto keeps state in memory).", file=out)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        stopped.wait()
    except KeyboardInterrupt:
        pass
    finally:
        cloud.stop()
