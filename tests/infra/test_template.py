"""template.yaml: lint, SAM validation, least-privilege IAM, and the wiring between parts."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from infra.provision import translate
from infra.template import load_template

from tests.infra.sam import REPO, SAM, TEMPLATE, can_unshare_network, offline_env, run

FLOW_ACTIONS = {
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
    "lambda:InvokeFunction",
}
TASK_ACTIONS = FLOW_ACTIONS - {"lambda:InvokeFunction"}


@pytest.fixture(scope="module")
def sam_template() -> dict[str, Any]:
    return load_template(TEMPLATE)


@pytest.fixture(scope="module")
def cfn_template() -> dict[str, Any]:
    """The template as CloudFormation will see it (SAM transform applied, offline)."""
    return translate(load_template(TEMPLATE), "us-east-1")


def _resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def _statements(role: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for policy in role["Properties"].get("Policies", []):
        yield from policy["PolicyDocument"]["Statement"]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# -- lint and validation ----------------------------------------------------------------


def test_cfn_lint_passes_including_informational_rules() -> None:
    from cfnlint.api import ManualArgs, lint_file  # type: ignore[import-untyped]

    matches = lint_file(TEMPLATE, ManualArgs(include_checks=["I"]))
    assert [str(m) for m in matches] == []


@pytest.mark.parametrize("lint", [True, False], ids=["lint", "translate"])
def test_sam_validate_passes_offline(tmp_path: Path, lint: bool) -> None:
    args = [str(SAM), "validate", "--template-file", str(TEMPLATE)]
    if lint:
        args.append("--lint")
    done = run(args, offline_env(tmp_path), no_network=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "is a valid SAM Template" in done.stdout + done.stderr


def test_validation_runs_with_no_network_here() -> None:
    """Not a check of the template: says whether the test above proved offline-ness."""
    if not can_unshare_network():
        pytest.skip("unshare -rn is not permitted here: sam validate ran with the network up")


# -- IAM: least privilege ---------------------------------------------------------------


def test_functions_use_the_templates_own_roles(cfn_template: dict[str, Any]) -> None:
    roles = _resources(cfn_template, "AWS::IAM::Role")
    functions = _resources(cfn_template, "AWS::Lambda::Function")
    assert set(functions) == {"FlowRunFunction", "TaskRunFunction"}
    assert {f["Properties"]["Role"]["Fn::GetAtt"][0] for f in functions.values()} == {
        "FlowRunRole",
        "TaskRunRole",
    }
    # no SAM-generated role, so no AWSLambdaBasicExecutionRole (logs on every resource)
    assert set(roles) == {"FlowRunRole", "TaskRunRole"}
    for role in roles.values():
        assert "ManagedPolicyArns" not in role["Properties"]
        principal = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        assert principal == [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ]
    for kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
        assert _resources(cfn_template, kind) == {}


def test_no_wildcard_actions_and_every_resource_scoped(cfn_template: dict[str, Any]) -> None:
    resources = set(cfn_template["Resources"])
    for name, role in _resources(cfn_template, "AWS::IAM::Role").items():
        for statement in _statements(role):
            assert statement["Effect"] == "Allow"
            assert not {"NotAction", "NotResource", "Condition"} & set(statement), statement
            for action in _as_list(statement["Action"]):
                assert "*" not in action, (name, action)
            for resource in _as_list(statement["Resource"]):
                # never a literal: a resource of this stack, or a name built from the stack's
                assert isinstance(resource, dict), (name, resource)
                text = str(resource)
                refs = set(re.findall(r"'(?:Ref|Fn::GetAtt)': \[?'(\w+)", text))
                refs |= {v.split(".")[0] for v in re.findall(r"\$\{([\w.]+)\}", text)}
                assert refs & resources or "${AWS::StackName}" in text, (name, resource)


def test_each_role_grants_exactly_what_its_function_does(cfn_template: dict[str, Any]) -> None:
    roles = _resources(cfn_template, "AWS::IAM::Role")
    granted = {
        name: {a for s in _statements(role) for a in _as_list(s["Action"])}
        for name, role in roles.items()
    }
    assert granted == {"FlowRunRole": FLOW_ACTIONS, "TaskRunRole": TASK_ACTIONS}

    by_sid = {name: {s["Sid"]: s for s in _statements(role)} for name, role in roles.items()}
    for name in roles:
        # The table only: no function queries an index (listing runs is the CLI's).
        assert by_sid[name]["StateTable"]["Resource"] == {"Fn::GetAtt": ["StateTable", "Arn"]}
        assert by_sid[name]["ResultObjects"]["Resource"] == {"Fn::Sub": "${ResultsBucket.Arn}/*"}
        logs = by_sid[name]["WriteOwnLogs"]["Resource"]
        assert logs == {"Fn::GetAtt": [name.replace("Role", "LogGroup"), "Arn"]}
        # The stack's own signing key only: read, never written or listed.
        key = by_sid[name]["SigningKey"]
        assert (key["Action"], key["Resource"]) == (
            ["secretsmanager:GetSecretValue"],
            {"Ref": "SigningKey"},
        )


def test_flow_role_invokes_only_the_task_run_function(
    sam_template: dict[str, Any], cfn_template: dict[str, Any]
) -> None:
    role = cfn_template["Resources"]["FlowRunRole"]
    [invoke] = [s for s in _statements(role) if s["Sid"] == "InvokeTaskRuns"]
    prefix = "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:"
    name = sam_template["Resources"]["TaskRunFunction"]["Properties"]["FunctionName"]["Fn::Sub"]
    assert invoke["Resource"] == [{"Fn::Sub": prefix + "${AWS::StackName}-task-run"}]
    assert invoke["Resource"][0]["Fn::Sub"].removeprefix(prefix) == name


#: What ``concurrency()``, ``rate_limit()`` and tag limits call at run time.
RUNTIME_LIMIT_METHODS = {"read_limits", "write_limits", "add_lease", "remove_lease", "renew_lease"}


def _limit_actions(module: Path, methods: set[str]) -> set[str]:
    """The IAM actions the named methods of the limits store need: their calls, and for a
    transaction the actions inside it (IAM checks those, not TransactWriteItems)."""
    source = module.read_text()
    actions: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef) and node.name in methods:
            body = ast.get_source_segment(source, node) or ""
            for op in re.findall(r'_call\(\s*"[^"]*",\s*"(\w+)"', body):
                if op == "transact_write_items":
                    for kind in re.findall(r'"(Put|Update|Delete|ConditionCheck)":', body):
                        actions.add(f"dynamodb:{kind}Item")
                else:
                    actions.add(f"dynamodb:{_camel(op)}")
    return actions


def _camel(operation: str) -> str:
    return "".join(part.capitalize() for part in operation.split("_"))


def _client_calls(module: Path) -> set[str]:
    return set(re.findall(r"\.client\.(\w+)\(", module.read_text())) if module.exists() else set()


def test_every_aws_call_in_the_sdk_is_granted() -> None:
    """What the store, the results and the invoker call is granted. Task runs don't invoke:
    the task-run function runs nested task runs in process (FLOWLESS_INVOKER=local)."""
    sdk = REPO / "sdk" / "flowless"
    dynamodb = (sdk / "store" / "_dynamodb.py").read_text()
    operations = set(re.findall(r'_call\(\s*"[^"]*",\s*"(\w+)"', dynamodb))
    if "def _put(" in dynamodb:
        operations.add("put_item")
    used = {f"dynamodb:{_camel(op)}" for op in operations}
    used |= {f"s3:{_camel(op)}" for op in _client_calls(sdk / "results" / "_s3.py")}
    assert {"dynamodb:GetItem", "dynamodb:Query", "s3:GetObject"} <= used  # the scan works
    assert used <= TASK_ACTIONS, used - TASK_ACTIONS

    keys = (sdk / "results" / "_keys.py").read_text()
    secret_calls = {f"secretsmanager:{_camel(op)}" for op in re.findall(r"client\.(\w+)\(", keys)}
    assert secret_calls == {"secretsmanager:GetSecretValue"}  # the scan works
    assert secret_calls <= TASK_ACTIONS, secret_calls - TASK_ACTIONS

    limits = _limit_actions(sdk / "store" / "_dynamodb_limits.py", RUNTIME_LIMIT_METHODS)
    assert {"dynamodb:GetItem", "dynamodb:UpdateItem"} <= limits  # the scan works
    assert limits <= TASK_ACTIONS, limits - TASK_ACTIONS
    # Deleting a limit is the CLI's, from the user's machine: no function may.
    admin = _limit_actions(sdk / "store" / "_dynamodb_limits.py", {"delete_limit"})
    assert "dynamodb:DeleteItem" in admin and admin - TASK_ACTIONS == {"dynamodb:DeleteItem"}

    invoker = {f"lambda:{_camel(op)}" for op in _client_calls(sdk / "invoke" / "_aws_lambda.py")}
    invoker = {"lambda:InvokeFunction" if a == "lambda:Invoke" else a for a in invoker}
    assert invoker <= FLOW_ACTIONS, invoker - FLOW_ACTIONS
    if (sdk / "invoke" / "_aws_lambda.py").exists():
        assert invoker, "the scan found no Lambda call in the invoker"


# -- wiring ------------------------------------------------------------------------------


def test_functions_layer_and_environment(sam_template: dict[str, Any]) -> None:
    resources = sam_template["Resources"]
    env = sam_template["Globals"]["Function"]["Environment"]["Variables"]
    assert env == {
        "FLOWLESS_BACKEND": "aws",
        "FLOWLESS_TABLE": {"Ref": "StateTable"},
        "FLOWLESS_BUCKET": {"Ref": "ResultsBucket"},
        "FLOWLESS_TASK_FUNCTION": resources["TaskRunFunction"]["Properties"]["FunctionName"],
        "FLOWLESS_FLOW_FUNCTION": resources["FlowRunFunction"]["Properties"]["FunctionName"],
        "FLOWLESS_SIGNING_SECRET": {"Ref": "SigningKey"},
        "POWERTOOLS_SERVICE_NAME": "flowless",
        "POWERTOOLS_METRICS_NAMESPACE": "flowless",
    }
    globals_ = sam_template["Globals"]["Function"]
    assert globals_["Runtime"] == "python3.11"
    assert globals_["Architectures"] == ["x86_64"]
    assert globals_["Layers"] == [{"Ref": "FlowlessLayer"}]

    layer = resources["FlowlessLayer"]
    assert layer["Metadata"]["BuildMethod"] == "python3.11"
    assert layer["Properties"]["ContentUri"] == "sdk/"
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.11"]

    task_env = resources["TaskRunFunction"]["Properties"]["Environment"]["Variables"]
    assert task_env == {"FLOWLESS_INVOKER": "local"}
    assert "Environment" not in resources["FlowRunFunction"]["Properties"]

    for name, handler in (("FlowRunFunction", "flow_run"), ("TaskRunFunction", "task_run")):
        function = resources[name]
        assert function["Metadata"] == {"BuildMethod": "makefile"}
        assert function["Properties"]["CodeUri"] == "."
        assert function["Properties"]["Handler"] == f"{handler}.handler"
        assert function["Properties"]["Timeout"]["Ref"] in sam_template["Parameters"]
        recipe = subprocess.run(
            ["make", "-s", "-n", "-C", str(REPO), f"build-{name}", "ARTIFACTS_DIR=/artifacts"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        copy, install = recipe.strip().split("\n", 1)
        assert copy == 'cp handlers/*.py examples/*.py "/artifacts/"'
        assert "--requirement examples/requirements.txt" in install
        assert '--target "/artifacts"' in install
        # Wheels for Lambda's platform, whatever machine runs the build.
        assert "--platform manylinux2014_x86_64 --python-version 311" in install
        assert "--only-binary=:all:" in install

    assert {k: v["Value"] for k, v in sam_template["Outputs"].items()} == {
        "StateTableName": {"Ref": "StateTable"},
        "ResultsBucketName": {"Ref": "ResultsBucket"},
        "FlowRunFunctionName": {"Ref": "FlowRunFunction"},
        "TaskRunFunctionName": {"Ref": "TaskRunFunction"},
        "SigningKeySecretArn": {"Ref": "SigningKey"},
    }


def test_layer_requirements_are_the_sdks_and_the_handlers() -> None:
    """The repo's layer carries what a project's layer carries: the SDK's runtime
    dependencies (not the CLI's pyyaml) and the handlers' Powertools at the tested pin."""
    if sys.version_info < (3, 11):
        pytest.skip("tomllib needs Python 3.11")
    import tomllib

    from flowless.deploy._package import LAYER_REQUIREMENTS

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    dev = {re.split(r"[\[=<>]", r)[0]: r for r in project["optional-dependencies"]["dev"]}
    lines = (REPO / "sdk" / "requirements.txt").read_text().splitlines()
    requirements = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    runtime = [r for r in project["dependencies"] if not r.startswith("pyyaml")]
    assert requirements == [*runtime, dev["aws-lambda-powertools"]]
    assert tuple(requirements) == LAYER_REQUIREMENTS


def test_the_results_bucket_denies_requests_without_tls() -> None:
    """Both the repo's template and a project's generated one: a Deny on
    aws:SecureTransport=false over the bucket and its objects, for every principal."""
    from flowless.deploy._models import StackModel
    from flowless.deploy._template import render_template

    for template in (load_template(), render_template(StackModel(description="tls"))):
        [policy] = [
            r for r in template["Resources"].values() if r["Type"] == "AWS::S3::BucketPolicy"
        ]
        assert policy["Properties"]["Bucket"] == {"Ref": "ResultsBucket"}
        [statement] = policy["Properties"]["PolicyDocument"]["Statement"]
        assert statement["Effect"] == "Deny" and statement["Principal"] == "*"
        assert statement["Action"] == "s3:*"
        assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        assert statement["Resource"] == [
            {"Fn::GetAtt": ["ResultsBucket", "Arn"]},
            {"Fn::Sub": "${ResultsBucket.Arn}/*"},
        ]
