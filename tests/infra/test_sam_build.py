"""``sam build`` of template.yaml, here, without Docker: what the artifacts contain.

``sam build`` pip-installs the layer's requirements (sdk/requirements.txt) and the
functions' (examples/requirements.txt). Here pip takes them from the wheelhouse that
``make install`` downloads (``.venv/wheelhouse``) with no index, and where the kernel
allows it the whole build runs with no network, so the suite never downloads anything.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.infra.sam import BIN, REPO, SAM, TEMPLATE, offline_env, run

pytestmark = pytest.mark.slow

#: What the Lambda python3.11 runtime provides besides the standard library.
RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six")


def test_sam_build(tmp_path: Path) -> None:
    """One build (it takes ~20 s), every check of what it made."""
    if shutil.which("python3.11") is None:
        pytest.skip("sam build needs python3.11 on PATH for the layer (BuildMethod: python3.11)")
    if shutil.which("make") is None:
        pytest.skip("sam build needs make for the functions (BuildMethod: makefile)")
    wheelhouse = BIN.parent / "wheelhouse"
    if not any(wheelhouse.glob("pydantic_core-*.whl")):
        pytest.skip(f"no wheels in {wheelhouse}: `make install` (or `make wheelhouse`) fills it")
    env = offline_env(tmp_path)
    env.update({"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(wheelhouse)})
    build = tmp_path / "build"
    done = run(
        [
            str(SAM),
            "build",
            "--template-file",
            str(TEMPLATE),
            "--build-dir",
            str(build),
            "--cache-dir",
            str(tmp_path / "cache"),
            # CodeUri is the repo: without this sam copies all of it (.venv included) first
            "--build-in-source",
        ],
        env,
        no_network=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    for function in ("FlowRunFunction", "TaskRunFunction"):
        _check_function(build, function)
    _check_layer(build)
    _check_built_template(build)
    _check_handlers_run(build, tmp_path / "lambda")


def _files(directory: Path) -> set[str]:
    return {str(p.relative_to(directory)) for p in directory.rglob("*") if p.is_file()}


#: What examples/requirements.txt pulls in (httpx and its dependencies), as import names.
EXAMPLE_PACKAGES = {"httpx", "httpcore", "h11", "anyio", "sniffio", "idna", "certifi"}
# (typing_extensions, an anyio dependency, is a single top-level module.)


def _check_function(build_dir: Path, function: str) -> None:
    """The handlers and the flows as top-level modules, the examples' requirements beside
    them; nothing of the repo else (no tests, no venv, no SDK: that is the layer's)."""
    root = build_dir / function
    expected = {p.name for p in (REPO / "handlers").glob("*.py")}
    expected |= {p.name for p in (REPO / "examples").glob("*.py")}
    assert {"flow_run.py", "task_run.py"} <= expected
    modules = {p.name for p in root.iterdir() if p.is_file() and p.suffix == ".py"}
    assert modules - {"typing_extensions.py"} == expected
    for name in expected:
        source = REPO / ("handlers" if (REPO / "handlers" / name).exists() else "examples") / name
        assert (root / name).read_bytes() == source.read_bytes()
    others = {p.name for p in root.iterdir()} - modules
    tooling = {"bin", "__pycache__"}
    packages = {n for n in others if not n.endswith(".dist-info") and n not in tooling}
    assert "httpx" in packages
    assert packages <= EXAMPLE_PACKAGES, packages
    assert not {"flowless", "tests", ".venv", "handlers", "examples"} & others


def _check_layer(build_dir: Path) -> None:
    """python/: the SDK (sources only) and its dependencies, built for python3.11 x86_64."""
    layer = build_dir / "FlowlessLayer"
    assert {p.name for p in layer.iterdir()} == {"python"}
    python = layer / "python"
    sdk = REPO / "sdk" / "flowless"
    sources = {str(p.relative_to(sdk)) for p in sdk.rglob("*") if p.is_file()}
    sources = {s for s in sources if "__pycache__" not in s and not s.endswith(".pyc")}
    assert _files(python / "flowless") == sources
    top = {p.name for p in python.iterdir()}
    assert {"flowless", "pydantic", "pydantic_core", "cloudpickle"} <= top
    assert not {"tests", ".venv", "handlers", "examples", "flowless.egg-info"} & top
    [core] = list((python / "pydantic_core").glob("_pydantic_core.*.so"))
    assert "cpython-311-x86_64-linux-gnu" in core.name


def _check_built_template(build_dir: Path) -> None:
    from infra.template import load_template

    resources = load_template(build_dir / "template.yaml")["Resources"]
    assert resources["FlowRunFunction"]["Properties"]["CodeUri"] == "FlowRunFunction"
    assert resources["TaskRunFunction"]["Properties"]["CodeUri"] == "TaskRunFunction"
    assert resources["FlowlessLayer"]["Properties"]["ContentUri"] == "FlowlessLayer"


def _check_handlers_run(build_dir: Path, tmp_path: Path) -> None:
    """python3.11 with only the function, the layer and the runtime's boto3 on sys.path, in
    Lambda's environment: both handlers import and answer a malformed event (no AWS call)."""
    import importlib.util

    runtime = tmp_path / "runtime"
    runtime.mkdir(parents=True)
    for name in RUNTIME_PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            pytest.skip(f"{name} is not installed here, so the Lambda runtime can't be mimicked")
        origin = Path(spec.origin)
        source = origin.parent if origin.name == "__init__.py" else origin
        (runtime / source.name).symlink_to(source)
    layer = build_dir / "FlowlessLayer" / "python"
    path = [build_dir / "TaskRunFunction", layer, runtime]
    code = """
import json, sys
sys.path[:0] = sys.argv[1:]
import flow_run, task_run, flowless, pydantic
for module in (flowless, pydantic):
    assert module.__file__.startswith(sys.argv[2]), module.__file__

class Context:
    function_name = "flowless-task-run"
    memory_limit_in_mb = 512
    aws_request_id = "request-1"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:flowless-task-run"

answers = []
for handler in (task_run.handler, flow_run.handler):
    try:
        handler({}, Context())
    except ValueError as exc:  # Lambda reports it as a function error
        answers.append(f"{type(exc).__name__}: {exc}")
print(json.dumps(answers))
"""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_CONFIG_FILE": os.devnull,
        "LAMBDA_TASK_ROOT": str(build_dir / "TaskRunFunction"),
        "AWS_LAMBDA_FUNCTION_NAME": "flowless-task-run",
        "_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0",
        "FLOWLESS_BACKEND": "aws",
        "FLOWLESS_TABLE": "flowless-table",
        "FLOWLESS_BUCKET": "flowless-bucket",
        "FLOWLESS_TASK_FUNCTION": "flowless-task-run",
        "FLOWLESS_FLOW_FUNCTION": "flowless-flow-run",
        "POWERTOOLS_SERVICE_NAME": "flowless",
        "POWERTOOLS_METRICS_NAMESPACE": "flowless",
    }
    done = subprocess.run(
        ["python3.11", "-I", "-S", "-c", code, *map(str, path)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr + done.stdout
    responses = json.loads(done.stdout.strip().splitlines()[-1])
    assert [r.split(":")[0] for r in responses] == [
        "MalformedTaskEventError",
        "MalformedEventError",
    ], responses
    assert all("Malformed" in r for r in responses), responses
