"""A user's project: staged by ``flowless.deploy._package``, its SAM template rendered by
``flowless.deploy._template`` from frozen models. The template passes cfn-lint and
``sam validate --lint``, grants least privilege, builds with ``sam build`` offline, and
provisions into moto with its schedules visible through the Scheduler API."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from moto import mock_aws

import flowless
from flowless.deploy import _package
from flowless.deploy._models import (
    FUNCTION_CODE_URI,
    LAYER_CONTENT_URI,
    MANIFEST_FILE,
    ScheduleModel,
    StackModel,
    schedule_name,
)
from flowless.deploy._package import (
    LAYER_REQUIREMENTS,
    code_hash,
    function_files,
    stage_function,
    stage_layer,
)
from flowless.deploy._template import render_template, template_yaml
from flowless.localcloud.provision import APPLIED_RESOURCE_TYPES, _for_moto, provision, translate
from flowless.localcloud.template import load_template
from tests.aws import REGION
from tests.infra.sam import BIN, SAM, offline_env, run

FLOWS = """\
from flowless import flow, task

from lib.util import shout


@task
def greet(name: str) -> str:
    return shout(f"hello, {name}")


@flow(log_prints=True)
def hello(name: str = "World") -> str:
    return greet(name)
"""

START = datetime(2031, 1, 1, 9, 30, tzinfo=timezone(timedelta(hours=-5)))
MANIFEST = {"format": 1, "project": "demo", "code_hash": "x", "deployments": []}


def _schedules() -> tuple[ScheduleModel, ...]:
    """Three schedules: a daily cron in New York; a cron restricting both day fields with
    day_or (the 1st of the month or any Monday), which EventBridge needs as two schedules
    sharing one slug; and a disabled hourly interval with a start date."""
    return (
        ScheduleModel.create(
            deployment="hello/daily-greeting",
            slug="morning",
            expression="cron(0 9 ? * * *)",
            timezone="America/New_York",
        ),
        ScheduleModel.create(
            deployment="hello/monthly",
            slug="first-or-monday",
            expression="cron(0 9 1 * ? *)",
            index=0,
            timezone="Europe/London",
        ),
        ScheduleModel.create(
            deployment="hello/monthly",
            slug="first-or-monday",
            expression="cron(0 9 ? * MON *)",
            index=1,
            timezone="Europe/London",
        ),
        ScheduleModel.create(
            deployment="hello/hourly",
            slug="interval-0a1b2c3d",
            expression="rate(1 hour)",
            start_date=START,
            enabled=False,
        ),
    )


def _write_project(root: Path) -> None:
    (root / "lib").mkdir(parents=True)
    (root / "flows.py").write_text(FLOWS)
    (root / "lib" / "__init__.py").write_text("")
    (root / "lib" / "util.py").write_text("def shout(text: str) -> str:\n    return text.upper()\n")
    (root / "data").mkdir()
    (root / "data" / "greetings.json").write_text('{"en": "hello"}\n')
    (root / "requirements.txt").write_text("httpx>=0.27\n")
    (root / "flowless.yaml").write_text(
        "deployments:\n  - {name: daily-greeting, entrypoint: 'flows.py:hello'}\n"
    )
    # none of these are the function's code
    (root / "samconfig.toml").write_text("version = 0.1\n")
    (root / ".env").write_text("SECRET=1\n")
    (root / ".git").mkdir()
    (root / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    for venv in (".venv", "venv", "my-env"):
        (root / venv / "lib").mkdir(parents=True)
        (root / venv / "pyvenv.cfg").write_text("home = /usr/bin\n")
        (root / venv / "lib" / "moto.py").write_text("")
    (root / "tests").mkdir()
    (root / "tests" / "test_flows.py").write_text("def test(): pass\n")
    (root / "__pycache__").mkdir()
    (root / "__pycache__" / "flows.cpython-311.pyc").write_bytes(b"\0")
    (root / "lib" / "util.pyc").write_bytes(b"\0")


#: What stage_function copies from the project above.
PROJECT_FILES = {"flows.py", "lib/__init__.py", "lib/util.py", "data/greetings.json"}
PROJECT_FILES |= {"requirements.txt"}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A staged project with its template.yaml (3 schedules: 4 EventBridge schedules)."""
    root = tmp_path_factory.mktemp("project") / "demo"
    _write_project(root)
    stage_layer(root / LAYER_CONTENT_URI)
    stage_function(root, root / FUNCTION_CODE_URI, MANIFEST)
    stack = StackModel(description="flowless project demo", schedules=_schedules())
    (root / "template.yaml").write_text(template_yaml(stack))
    return root


@pytest.fixture(scope="module")
def sam_template(project: Path) -> dict[str, Any]:
    return load_template(project / "template.yaml")


@pytest.fixture(scope="module")
def cfn_template(sam_template: dict[str, Any]) -> dict[str, Any]:
    return translate(sam_template, REGION)


def _files(directory: Path) -> set[str]:
    return {p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file()}


def _resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def _statements(role: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for policy in role["Properties"].get("Policies", []):
        yield from policy["PolicyDocument"]["Statement"]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# -- rendering --------------------------------------------------------------------------


def test_the_yaml_is_the_rendered_data_with_a_header(project: Path) -> None:
    stack = StackModel(description="flowless project demo", schedules=_schedules())
    text = (project / "template.yaml").read_text()
    assert text.startswith("# Generated by `flowless build` from flowless.yaml: do not edit")
    assert yaml.safe_load(text) == render_template(stack)
    assert template_yaml(stack) == text  # deterministic, and plain YAML (no !Ref tags)


def test_schedule_names_are_deterministic_and_valid() -> None:
    names = [s.name for s in _schedules()]
    assert names == [
        "hello.daily-greeting.morning.0",
        "hello.monthly.first-or-monday.0",
        "hello.monthly.first-or-monday.1",
        "hello.hourly.interval-0a1b2c3d.0",
    ]
    long = schedule_name("a-very-long-flow-name-indeed/" + "d" * 60, "slug", 3)
    assert len(long) == 64 and re.fullmatch(r"[0-9A-Za-z_.-]+", long)
    assert long == schedule_name("a-very-long-flow-name-indeed/" + "d" * 60, "slug", 3)
    assert long != schedule_name("a-very-long-flow-name-indeed/" + "d" * 60, "slug", 4)
    odd = schedule_name("My Flow/daily", "s", 0)
    assert re.fullmatch(r"My-Flow\.daily\.s\.0-[0-9a-f]{8}", odd)
    with pytest.raises(ValueError, match="share the name"):
        StackModel(description="x", schedules=(_schedules()[0], _schedules()[0]))
    with pytest.raises(ValueError, match="has no timezone"):
        ScheduleModel.create(
            deployment="f/d", slug="s", expression="rate(1 hour)", start_date=datetime(2031, 1, 1)
        )
    with pytest.raises(ValueError, match="relative path inside the project"):
        StackModel(description="x", function_code_uri="/abs")


def test_schedules_target_the_flow_run_function(sam_template: dict[str, Any]) -> None:
    schedules = _resources(sam_template, "AWS::Scheduler::Schedule")
    assert len(schedules) == 4
    by_name = {s["Properties"]["Name"]: s["Properties"] for s in schedules.values()}
    for model in _schedules():
        props = by_name[model.name]
        assert schedules[model.logical_id]["Properties"] is props
        assert props["GroupName"] == {"Ref": "ScheduleGroup"}
        assert props["ScheduleExpression"] == model.expression
        assert props["ScheduleExpressionTimezone"] == model.timezone
        assert props["State"] == ("ENABLED" if model.enabled else "DISABLED")
        assert props["FlexibleTimeWindow"] == {"Mode": "OFF"}
        target = props["Target"]
        assert target["Arn"] == {"Fn::GetAtt": ["FlowRunFunction", "Arn"]}
        assert target["RoleArn"] == {"Fn::GetAtt": ["SchedulerRole", "Arn"]}
        assert target["Input"] == (
            f'{{"deployment": "{model.deployment}", "schedule": "{model.slug}", '
            '"scheduled_time": "<aws.scheduler.scheduled-time>"}'
        )
        assert json.loads(target["Input"])["scheduled_time"] == "<aws.scheduler.scheduled-time>"
        # Scheduler's limits: 0-185 attempts, 60-86400 seconds
        assert target["RetryPolicy"] == {
            "MaximumRetryAttempts": 10,
            "MaximumEventAgeInSeconds": 3600,
        }
        assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}}
    # the day_or pair: two schedules, one slug
    pair = [json.loads(p["Target"]["Input"]) for p in by_name.values()]
    assert [i["schedule"] for i in pair].count("first-or-monday") == 2
    assert by_name["hello.hourly.interval-0a1b2c3d.0"]["StartDate"] == "2031-01-01T14:30:00Z"
    assert sum("StartDate" in p for p in by_name.values()) == 1
    group = sam_template["Resources"]["ScheduleGroup"]
    assert group == {
        "Type": "AWS::Scheduler::ScheduleGroup",
        "Properties": {"Name": {"Ref": "AWS::StackName"}},
    }


def test_functions_layer_queue_alarms_and_outputs(sam_template: dict[str, Any]) -> None:
    resources = sam_template["Resources"]
    env = sam_template["Globals"]["Function"]["Environment"]["Variables"]
    assert env == {
        "FLOWLESS_BACKEND": "aws",
        "FLOWLESS_TABLE": {"Ref": "StateTable"},
        "FLOWLESS_BUCKET": {"Ref": "ResultsBucket"},
        "FLOWLESS_TASK_FUNCTION": {"Fn::Sub": "${AWS::StackName}-task-run"},
        "FLOWLESS_FLOW_FUNCTION": {"Fn::Sub": "${AWS::StackName}-flow-run"},
        "FLOWLESS_SIGNING_SECRET": {"Ref": "SigningKey"},
        "FLOWLESS_MANIFEST": "flowless-manifest.json",
        "POWERTOOLS_SERVICE_NAME": {"Ref": "AWS::StackName"},
        "POWERTOOLS_METRICS_NAMESPACE": "flowless",
    }
    for name, handler, suffix in (
        ("FlowRunFunction", "flow_run", "flow-run"),
        ("TaskRunFunction", "task_run", "task-run"),
    ):
        function = resources[name]
        assert "Metadata" not in function  # SAM's default Python build (requirements.txt)
        props = function["Properties"]
        assert props["CodeUri"] == ".flowless/build/function"
        assert props["Handler"] == f"flowless.lambda_handlers.{handler}.handler"
        assert props["FunctionName"] == {"Fn::Sub": f"${{AWS::StackName}}-{suffix}"}
        assert env[f"FLOWLESS_{name[:4].upper()}_FUNCTION"] == props["FunctionName"]
    assert resources["FlowRunFunction"]["Properties"]["EventInvokeConfig"] == {
        "MaximumRetryAttempts": 0,
        "DestinationConfig": {
            "OnFailure": {"Type": "SQS", "Destination": {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}}
        },
    }
    layer = resources["FlowlessLayer"]
    assert layer["Metadata"] == {"BuildMethod": "python3.11", "BuildArchitecture": "x86_64"}
    assert layer["Properties"]["ContentUri"] == ".flowless/build/layer"
    queue = resources["DeadLetterQueue"]
    assert queue["Properties"] == {"SqsManagedSseEnabled": True, "MessageRetentionPeriod": 1209600}
    table = resources["StateTable"]["Properties"]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert table["GlobalSecondaryIndexes"][0]["IndexName"] == "gsi1"

    failures = resources["FlowRunFailuresAlarm"]["Properties"]
    assert (failures["Namespace"], failures["MetricName"], failures["Statistic"]) == (
        "flowless",
        "FlowRunFailures",
        "Sum",
    )
    assert failures["Dimensions"] == [{"Name": "service", "Value": {"Ref": "AWS::StackName"}}]
    dead = resources["DeadLetterAlarm"]["Properties"]
    assert (dead["Namespace"], dead["MetricName"]) == (
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
    )
    for alarm in (failures, dead):
        assert (alarm["Threshold"], alarm["Period"], alarm["EvaluationPeriods"]) == (1, 300, 1)
        assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert alarm["TreatMissingData"] == "notBreaching"
    assert {k: v["Value"] for k, v in sam_template["Outputs"].items()} == {
        "StateTableName": {"Ref": "StateTable"},
        "ResultsBucketName": {"Ref": "ResultsBucket"},
        "FlowRunFunctionName": {"Ref": "FlowRunFunction"},
        "TaskRunFunctionName": {"Ref": "TaskRunFunction"},
        "DeadLetterQueueUrl": {"Ref": "DeadLetterQueue"},
        "SigningKeySecretArn": {"Ref": "SigningKey"},
    }


def test_no_schedules_no_scheduler_resources() -> None:
    resources = render_template(StackModel(description="none"))["Resources"]
    assert not {"SchedulerRole", "ScheduleGroup"} & set(resources)
    assert not _resources({"Resources": resources}, "AWS::Scheduler::Schedule")
    assert "DeadLetterQueue" in resources


# -- lint and validation ----------------------------------------------------------------


def test_cfn_lint_passes_including_informational_rules(project: Path, tmp_path: Path) -> None:
    from cfnlint.api import ManualArgs, lint_file  # type: ignore[import-untyped]

    matches = lint_file(project / "template.yaml", ManualArgs(include_checks=["I"]))
    assert [str(m) for m in matches] == []
    bare = tmp_path / "template.yaml"
    bare.write_text(template_yaml(StackModel(description="no schedules")))
    assert [str(m) for m in lint_file(bare, ManualArgs(include_checks=["I"]))] == []


@pytest.mark.slow
@pytest.mark.parametrize("lint", [True, False], ids=["lint", "translate"])
def test_sam_validate_passes_offline(project: Path, tmp_path: Path, lint: bool) -> None:
    args = [str(SAM), "validate", "--template-file", str(project / "template.yaml")]
    if lint:
        args.append("--lint")
    done = run(args, offline_env(tmp_path), no_network=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "is a valid SAM Template" in done.stdout + done.stderr


# -- IAM: least privilege ---------------------------------------------------------------

RUN_ACTIONS = {
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:Query",
    "s3:GetObject",
    "s3:PutObject",
    "s3:ListBucket",
    "secretsmanager:GetSecretValue",
}
FUNCTION_ARN = "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:"


def test_every_action_is_listed_and_nothing_is_a_wildcard(cfn_template: dict[str, Any]) -> None:
    roles = _resources(cfn_template, "AWS::IAM::Role")
    assert set(roles) == {"FlowRunRole", "TaskRunRole", "SchedulerRole"}
    for kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
        assert _resources(cfn_template, kind) == {}
    granted = {
        name: {a for s in _statements(role) for a in _as_list(s["Action"])}
        for name, role in roles.items()
    }
    assert granted == {
        "FlowRunRole": RUN_ACTIONS | {"lambda:InvokeFunction", "sqs:SendMessage"},
        "TaskRunRole": RUN_ACTIONS,
        "SchedulerRole": {"lambda:InvokeFunction", "sqs:SendMessage"},
    }
    resources = set(cfn_template["Resources"])
    for name, role in roles.items():
        assert "ManagedPolicyArns" not in role["Properties"]
        for statement in _statements(role):
            assert statement["Effect"] == "Allow"
            assert not {"NotAction", "NotResource", "Condition"} & set(statement)
            for action in _as_list(statement["Action"]):
                assert "*" not in action, (name, action)
            for resource in _as_list(statement["Resource"]):
                assert isinstance(resource, dict), (name, resource)
                text = json.dumps(resource)
                assert "*" not in text.replace("}/*", "}"), (name, resource)
                refs = set(re.findall(r'"(?:Ref|Fn::GetAtt)": \[?"(\w+)', text))
                refs |= {v.split(".")[0] for v in re.findall(r"\$\{([\w.]+)\}", text)}
                assert refs & resources or "${AWS::StackName}" in text, (name, resource)


def test_each_role_reaches_only_its_own_resources(cfn_template: dict[str, Any]) -> None:
    roles = _resources(cfn_template, "AWS::IAM::Role")
    sid = {name: {s["Sid"]: s for s in _statements(role)} for name, role in roles.items()}
    queue = {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}
    flow = sid["FlowRunRole"]
    assert flow["InvokeTaskRuns"]["Resource"] == [
        {"Fn::Sub": FUNCTION_ARN + "${AWS::StackName}-task-run"}
    ]
    assert flow["StartFlowRuns"]["Resource"] == [
        {"Fn::Sub": FUNCTION_ARN + "${AWS::StackName}-flow-run"}
    ]
    assert flow["DeadLetters"] == {
        "Sid": "DeadLetters",
        "Effect": "Allow",
        "Action": ["sqs:SendMessage"],
        "Resource": queue,
    }
    scheduler = sid["SchedulerRole"]
    assert scheduler["StartScheduledFlowRuns"]["Resource"] == {
        "Fn::GetAtt": ["FlowRunFunction", "Arn"]
    }
    assert scheduler["DeadLetters"]["Resource"] == queue
    for name in ("FlowRunRole", "TaskRunRole"):
        logs = sid[name]["WriteOwnLogs"]["Resource"]
        assert logs == {"Fn::GetAtt": [name.replace("Role", "LogGroup"), "Arn"]}
        assert sid[name]["StateTable"]["Resource"] == {"Fn::GetAtt": ["StateTable", "Arn"]}
        assert sid[name]["SigningKey"]["Resource"] == {"Ref": "SigningKey"}
    trust = roles["SchedulerRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust == [
        {
            "Effect": "Allow",
            "Principal": {"Service": "scheduler.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}},
        }
    ]
    for name in ("FlowRunRole", "TaskRunRole"):
        principal = roles[name]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        assert principal[0]["Principal"] == {"Service": "lambda.amazonaws.com"}


# -- staging ----------------------------------------------------------------------------


def test_the_function_is_the_projects_code_and_the_manifest(project: Path) -> None:
    staged = project / FUNCTION_CODE_URI
    assert _files(staged) == PROJECT_FILES | {MANIFEST_FILE}
    assert json.loads((staged / MANIFEST_FILE).read_text()) == MANIFEST
    assert (staged / MANIFEST_FILE).read_text() == json.dumps(
        MANIFEST, sort_keys=True, indent=1
    ) + "\n"
    assert (staged / "flows.py").read_text() == FLOWS
    assert {p.as_posix() for p in function_files(project)} == PROJECT_FILES
    # nothing half-built or left over beside it
    assert sorted(p.name for p in staged.parent.iterdir()) == ["function", "layer"]


def test_a_project_without_requirements_gets_an_empty_file(tmp_path: Path) -> None:
    (tmp_path / "flows.py").write_text(FLOWS)
    stage_function(tmp_path, tmp_path / "out", {"format": 1})
    assert (tmp_path / "out" / "requirements.txt").read_text() == ""
    assert _files(tmp_path / "out") == {"flows.py", "requirements.txt", MANIFEST_FILE}


def test_the_layer_is_the_installed_sdk_without_build_code(project: Path) -> None:
    staged = project / LAYER_CONTENT_URI
    sdk = Path(flowless.__file__).resolve().parent
    expected = {
        f
        for f in _files(sdk)
        if f.split("/")[0] not in ("deploy", "cli", "localcloud")
        and "__pycache__" not in f
        and not f.endswith(".pyc")
    }
    assert _files(staged) == {f"flowless/{f}" for f in expected} | {"requirements.txt"}
    assert "flowless/__init__.py" in _files(staged)
    assert "flowless/schedules.py" in _files(staged)
    lines = (staged / "requirements.txt").read_text().splitlines()
    assert [line for line in lines if not line.startswith("#")] == list(LAYER_REQUIREMENTS)
    assert "aws-lambda-powertools==3.37.0" in lines
    assert not any("tracer" in line or "boto" in line for line in lines)


def test_restaging_replaces_the_directory(tmp_path: Path) -> None:
    root = tmp_path / "p"
    _write_project(root)
    dest = root / FUNCTION_CODE_URI
    stage_function(root, dest, MANIFEST)
    (root / "data" / "greetings.json").unlink()
    stage_function(root, dest, {**MANIFEST, "project": "again"})
    assert _files(dest) == (PROJECT_FILES - {"data/greetings.json"}) | {MANIFEST_FILE}
    assert json.loads((dest / MANIFEST_FILE).read_text())["project"] == "again"
    assert [p.name for p in dest.parent.iterdir()] == ["function"]


def test_an_interrupted_staging_leaves_the_previous_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "p"
    _write_project(root)
    dest = root / FUNCTION_CODE_URI
    stage_function(root, dest, MANIFEST)
    before = {f: (dest / f).read_bytes() for f in _files(dest)}
    copied: list[Path] = []
    real_copy = _package._copy

    def failing_copy(source: Path, target: Path) -> None:
        if copied:
            raise KeyboardInterrupt
        copied.append(target)
        real_copy(source, target)

    (root / "flows.py").write_text(FLOWS + "# changed\n")
    monkeypatch.setattr(_package, "_copy", failing_copy)
    with pytest.raises(KeyboardInterrupt):
        stage_function(root, dest, {"format": 1, "project": "new"})
    assert {f: (dest / f).read_bytes() for f in _files(dest)} == before
    assert [p.name for p in dest.parent.iterdir()] == ["function"]


def test_the_code_hash_covers_exactly_the_staged_files(tmp_path: Path) -> None:
    root = tmp_path / "p"
    _write_project(root)
    first = code_hash(root)
    assert first == code_hash(root) and re.fullmatch(r"[0-9a-f]{64}", first)
    # what is not staged does not count
    (root / "tests" / "test_flows.py").write_text("changed")
    (root / ".venv" / "lib" / "moto.py").write_text("changed")
    (root / "samconfig.toml").write_text("changed")
    (root / "template.yaml").write_text("changed")
    stage_function(root, root / FUNCTION_CODE_URI, MANIFEST)
    assert code_hash(root) == first
    # what is staged, and flowless.yaml, does
    for name, text in (("lib/util.py", "x = 1\n"), ("flowless.yaml", "deployments: []\n")):
        (root / name).write_text(text)
        assert code_hash(root) != first
        first = code_hash(root)
    (root / "data" / "greetings.json").rename(root / "data" / "renamed.json")
    assert code_hash(root) != first


# -- sam build --------------------------------------------------------------------------


@pytest.mark.slow
def test_sam_build_offline(project: Path, tmp_path: Path) -> None:
    if shutil.which("python3.11") is None:
        pytest.skip("sam build needs python3.11 on PATH (the layer's and the functions' build)")
    wheelhouse = BIN.parent / "wheelhouse"
    for needed in ("pydantic_core-", "croniter-", "aws_lambda_powertools-", "httpx-"):
        if not any(wheelhouse.glob(f"{needed}*.whl")):
            pytest.skip(f"no {needed}* wheel in {wheelhouse}: `make wheelhouse` fills it")
    env = offline_env(tmp_path)
    env.update({"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(wheelhouse)})
    build = tmp_path / "build"
    done = run(
        [
            str(SAM),
            "build",
            "--template-file",
            str(project / "template.yaml"),
            "--build-dir",
            str(build),
            "--cache-dir",
            str(tmp_path / "cache"),
        ],
        env,
        no_network=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr

    for function in ("FlowRunFunction", "TaskRunFunction"):
        root = build / function
        files = _files(root)
        assert PROJECT_FILES | {MANIFEST_FILE} <= files
        top = {p.name for p in root.iterdir()}
        assert "httpx" in top  # the project's requirements.txt, pip-installed
        assert not {"flowless", "moto", "tests", ".venv", "venv", "boto3"} & top, top
        assert not any(f.startswith("flowless/") for f in files)

    layer = build / "FlowlessLayer"
    assert {p.name for p in layer.iterdir()} == {"python"}
    python = layer / "python"
    top = {p.name for p in python.iterdir()}
    assert {"flowless", "pydantic", "pydantic_core", "cloudpickle", "croniter"} <= top
    assert "aws_lambda_powertools" in top
    assert not {"aws_xray_sdk", "botocore", "boto3", "moto", "yaml"} & top, top
    sdk = {p.name for p in (python / "flowless").iterdir()}
    assert not {"deploy", "cli", "localcloud", "__pycache__"} & sdk
    assert {"lambda_handlers", "schedules.py", "engine"} <= sdk

    built = load_template(build / "template.yaml")["Resources"]
    assert built["FlowRunFunction"]["Properties"]["CodeUri"] == "FlowRunFunction"
    assert built["FlowlessLayer"]["Properties"]["ContentUri"] == "FlowlessLayer"

    # With only the function and the layer (as on Lambda), the user's flow imports and
    # the build-time code is absent.
    code = (
        "import sys; sys.path[:0] = sys.argv[1:]\n"
        "import flows, flowless, flowless.schedules, croniter\n"
        "assert flowless.__file__.startswith(sys.argv[2]), flowless.__file__\n"
        "try:\n    import flowless.deploy\nexcept ModuleNotFoundError:\n    pass\n"
        "else:\n    raise SystemExit('flowless.deploy is in the layer')\n"
        "print(flows.hello.name)\n"
    )
    checked = subprocess.run(
        ["python3.11", "-I", "-S", "-c", code, str(build / "FlowRunFunction"), str(python)],
        capture_output=True,
        text=True,
        env={"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path)},
        cwd=tmp_path,
        timeout=120,
    )
    assert checked.returncode == 0, checked.stderr + checked.stdout
    assert checked.stdout.strip() == "hello"


# -- moto -------------------------------------------------------------------------------


@pytest.fixture
def session() -> Iterator[Any]:
    with mock_aws():
        yield boto3.Session(
            region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
        )


def test_scheduler_and_alarms_are_created_after_the_stack(cfn_template: dict[str, Any]) -> None:
    body, dropped = _for_moto(cfn_template)
    applied = {
        k for k, v in cfn_template["Resources"].items() if v["Type"] in APPLIED_RESOURCE_TYPES
    }
    assert len(applied) == 4 + 1 + 2 + 1  # schedules, their group, alarms, bucket policy
    assert applied <= dropped
    assert not applied & set(body["Resources"])
    assert {"DeadLetterQueue", "SchedulerRole"} <= set(body["Resources"])


def _check_provisioned(session: Any, project: Path, stack: str, endpoint: str | None) -> None:
    def client(service: str) -> Any:
        return session.client(service, endpoint_url=endpoint)

    provisioned = provision(
        session, stack, endpoint_url=endpoint, template=project / "template.yaml"
    )
    assert provisioned.flow_function_name == f"{stack}-flow-run"
    flow = provisioned.functions["FlowRunFunction"]
    assert flow.handler == "flowless.lambda_handlers.flow_run.handler"
    assert flow.environment["FLOWLESS_MANIFEST"] == "flowless-manifest.json"
    assert flow.environment["POWERTOOLS_SERVICE_NAME"] == stack
    assert flow.maximum_retry_attempts == 0
    queue_arn = client("sqs").get_queue_attributes(
        QueueUrl=provisioned.dead_letter_queue_url, AttributeNames=["All"]
    )["Attributes"]
    assert flow.on_failure == queue_arn["QueueArn"]
    assert queue_arn["MessageRetentionPeriod"] == "1209600"
    assert queue_arn["SqsManagedSseEnabled"] == "true"

    scheduler = client("scheduler")
    assert provisioned.schedule_group == stack
    listed = scheduler.list_schedules(GroupName=stack)["Schedules"]
    assert sorted(s["Name"] for s in listed) == sorted(s.name for s in _schedules())
    assert sorted(provisioned.schedules) == sorted(s.name for s in _schedules())
    role = client("iam").get_role(RoleName=_role_name(client, stack, "SchedulerRole"))["Role"]
    account = role["Arn"].split(":")[4]
    function_arn = f"arn:aws:lambda:{REGION}:{account}:function:{stack}-flow-run"
    for model in _schedules():
        got = scheduler.get_schedule(GroupName=stack, Name=model.name)
        assert got["ScheduleExpression"] == model.expression
        assert got["ScheduleExpressionTimezone"] == model.timezone
        assert got["State"] == ("ENABLED" if model.enabled else "DISABLED")
        assert got["FlexibleTimeWindow"] == {"Mode": "OFF"}
        target = got["Target"]
        assert json.loads(target["Input"]) == {
            "deployment": model.deployment,
            "schedule": model.slug,
            "scheduled_time": "<aws.scheduler.scheduled-time>",
        }
        assert target["Arn"] == function_arn
        assert target["RoleArn"] == role["Arn"]
        assert target["DeadLetterConfig"] == {"Arn": queue_arn["QueueArn"]}
        assert target["RetryPolicy"] == {
            "MaximumRetryAttempts": 10,
            "MaximumEventAgeInSeconds": 3600,
        }
        if model.start_date is None:
            assert "StartDate" not in got
        else:
            assert got["StartDate"] == model.start_date
    trust = role["AssumeRolePolicyDocument"]["Statement"][0]
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": account}}

    alarms = client("cloudwatch").describe_alarms(AlarmNamePrefix=f"{stack}-")["MetricAlarms"]
    by_metric = {a["MetricName"]: a for a in alarms}
    assert set(by_metric) == {"FlowRunFailures", "ApproximateNumberOfMessagesVisible"}
    assert by_metric["FlowRunFailures"]["Dimensions"] == [{"Name": "service", "Value": stack}]
    assert by_metric["ApproximateNumberOfMessagesVisible"]["Dimensions"] == [
        {"Name": "QueueName", "Value": queue_arn["QueueArn"].rsplit(":", 1)[-1]}
    ]
    outputs = client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]["Outputs"]
    assert {o["OutputKey"] for o in outputs} == {
        "StateTableName",
        "ResultsBucketName",
        "FlowRunFunctionName",
        "TaskRunFunctionName",
        "DeadLetterQueueUrl",
        "SigningKeySecretArn",
    }
    # The signing key: made before the stack (moto's CloudFormation has no secrets), a
    # generated 64-character value, named in the functions' environment.
    secret = client("secretsmanager").get_secret_value(SecretId=provisioned.signing_secret)
    assert len(secret["SecretString"]) == 64 and secret["SecretString"].isalnum()
    assert flow.environment["FLOWLESS_SIGNING_SECRET"] == provisioned.signing_secret
    assert secret["ARN"] == provisioned.signing_secret


def _role_name(client: Any, stack: str, logical_id: str) -> str:
    # list, not describe_stack_resource: moto 5.2.5's describe fails on a stack that holds
    # an S3 bucket policy (the policy it keeps has no logical id).
    pages = client("cloudformation").get_paginator("list_stack_resources").paginate(StackName=stack)
    for page in pages:
        for resource in page["StackResourceSummaries"]:
            if resource["LogicalResourceId"] == logical_id:
                return str(resource["PhysicalResourceId"])
    raise AssertionError(f"{logical_id} not in stack {stack}")


def test_the_template_provisions_into_moto(session: Any, project: Path) -> None:
    _check_provisioned(session, project, "demo-one", None)
    # a second stack of the same project: its own group, so the same schedule names
    _check_provisioned(session, project, "demo-two", None)


@pytest.mark.slow
def test_the_template_provisions_through_a_moto_server(project: Path) -> None:
    from flowless.localcloud.moto_server import MotoServer

    server = MotoServer().start()
    try:
        session = boto3.Session(
            region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
        )
        _check_provisioned(session, project, "demo-server", server.url)
        assert server.requests.get("scheduler", 0) >= 5
    finally:
        server.stop()
