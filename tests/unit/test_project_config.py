"""flowless.yaml: loading it into frozen configuration, every error message, and
``set_deployment`` (the writer behind ``flowless deploy``)."""

from __future__ import annotations

import dataclasses
import textwrap
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from flowless.deploy._config import (
    ConcurrencyLimitConfig,
    ProjectConfig,
    ProjectError,
    load_project,
    set_deployment,
)
from flowless.exceptions import FlowlessException
from flowless.schedules import Cron, Interval

FLOWS = """\
from flowless import flow


@flow
def hello(name: str = "World") -> str:
    return f"Hello, {name}!"
"""

EXAMPLE = """\
name: my-project
deployments:
  - name: daily-greeting
    entrypoint: flows.py:hello
    description: Say hello every morning
    tags: [demo]
    parameters: {name: World}
    paused: false
    concurrency_limit: 1
    schedules:
      - cron: "0 9 * * *"
        timezone: America/New_York
        day_or: true
        active: true
        parameters: {name: Morning}
        slug: morning
      - interval: 3600
        anchor_date: "2027-01-01T00:00:00"
        timezone: Europe/London
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "my_project"
    root.mkdir()
    (root / "flows.py").write_text(FLOWS)
    return root


def _write(root: Path, text: str) -> Path:
    path = root / "flowless.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def _error(root: Path, text: str) -> str:
    _write(root, text)
    with pytest.raises(ProjectError) as info:
        load_project(root / "flowless.yaml")
    return str(info.value)


def _one(body: str) -> str:
    """A file with one deployment 'daily' whose extra fields are ``body`` (indented)."""
    extra = textwrap.indent(textwrap.dedent(body), "    ")
    return "deployments:\n  - name: daily\n    entrypoint: flows.py:hello\n" + extra


# -- a valid file ----------------------------------------------------------------------


def test_the_example_loads_into_frozen_config(project: Path) -> None:
    path = _write(project, EXAMPLE)
    config = load_project(path)
    assert isinstance(config, ProjectConfig)
    assert (config.path, config.root, config.name) == (path, project, "my-project")
    [deployment] = config.deployments
    assert deployment.name == "daily-greeting"
    assert deployment.flow_name is None
    assert deployment.entrypoint == "flows.py:hello"
    assert deployment.description == "Say hello every morning"
    assert deployment.tags == ("demo",)
    assert dict(deployment.parameters) == {"name": "World"}
    assert deployment.paused is False
    assert deployment.concurrency_limit == ConcurrencyLimitConfig(1, "ENQUEUE")
    assert deployment.where == "deployments[0]"

    cron, interval = deployment.schedules
    assert cron.where == "deployments[0].schedules[0]"
    assert cron.schedule == Cron(
        "0 9 * * *",
        timezone="America/New_York",
        day_or=True,
        active=True,
        parameters={"name": "Morning"},
        slug="morning",
    )
    assert cron.slug == "morning"
    assert interval.where == "deployments[0].schedules[1]"
    assert isinstance(interval.schedule, Interval)
    assert interval.schedule.interval == timedelta(hours=1)
    assert interval.schedule.anchor_date == datetime(2027, 1, 1)
    assert interval.schedule.timezone == "Europe/London"
    assert interval.slug.startswith("interval-")

    with pytest.raises(dataclasses.FrozenInstanceError):
        deployment.name = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        deployment.parameters["name"] = "changed"  # type: ignore[index]
    assert config.deployment("daily-greeting") is deployment


def test_a_folder_is_read_as_its_flowless_yaml(project: Path) -> None:
    _write(project, EXAMPLE)
    assert load_project(project).path == project / "flowless.yaml"


def test_defaults_and_the_folders_name(project: Path) -> None:
    _write(project, "deployments:\n  - {name: d, entrypoint: 'flows.py:hello'}\n")
    config = load_project(project)
    # my_project is not a stack name ('_'): the default is made one
    assert config.name == "my-project"
    [d] = config.deployments
    assert (d.description, d.tags, dict(d.parameters), d.paused) == (None, (), {}, False)
    assert (d.concurrency_limit, d.schedules) == (None, ())
    with pytest.raises(ValueError, match="known only once `flowless build`"):
        _ = d.full_name
    assert dataclasses.replace(d, flow_name="hello").full_name == "hello/d"


def test_an_empty_file_is_a_project_without_deployments(project: Path) -> None:
    _write(project, "")
    assert load_project(project).deployments == ()


def test_module_entrypoints_and_limits_as_a_mapping(project: Path) -> None:
    _write(
        project,
        _one("concurrency_limit: {limit: 3, collision_strategy: CANCEL_NEW}\n").replace(
            "flows.py:hello", "my_package.flows:hello"
        ),
    )
    [d] = load_project(project).deployments
    assert d.entrypoint == "my_package.flows:hello"
    assert d.concurrency_limit == ConcurrencyLimitConfig(limit=3, collision_strategy="CANCEL_NEW")


def test_anchors_in_definitions_may_be_merged_and_overridden(project: Path) -> None:
    _write(
        project,
        """\
        definitions:
          common: &common
            entrypoint: flows.py:hello
            tags: [shared]
        deployments:
          - <<: *common
            name: one
          - <<: *common
            name: two
            tags: [own]
        """,
    )
    one, two = load_project(project).deployments
    assert (one.tags, two.tags) == (("shared",), ("own",))


def test_project_error_is_a_flowless_exception() -> None:
    assert issubclass(ProjectError, FlowlessException)


# -- the file ------------------------------------------------------------------------


def test_a_missing_file_says_to_run_flowless_init(project: Path) -> None:
    with pytest.raises(ProjectError) as info:
        load_project(project / "flowless.yaml")
    message = str(info.value)
    assert message.startswith(f"flowless.yaml: not found at {project / 'flowless.yaml'}.")
    assert "Run `flowless init`" in message


def test_a_yaml_syntax_error_names_the_line(project: Path) -> None:
    message = _error(project, "deployments:\n  - name: daily\n    entrypoint: [flows.py\n")
    assert message.startswith("flowless.yaml: line 4, column 1: YAML syntax error:")
    assert "Fix the YAML there" in message


def test_a_key_given_twice_is_an_error_not_an_overwrite(project: Path) -> None:
    message = _error(project, "deployments:\n  - name: a\n    name: b\n")
    assert message == (
        "flowless.yaml: line 3: the key 'name' appears twice in one mapping (first on "
        "line 2). Keep one of them."
    )


def test_not_a_mapping(project: Path) -> None:
    assert _error(project, "- name: daily\n") == (
        "flowless.yaml: the file holds a list, not a mapping. Write `name:` and "
        "`deployments:` at the top level (`flowless init` writes an example)."
    )


def test_unknown_top_level_field(project: Path) -> None:
    assert _error(project, "deploymnets: []\n") == (
        "flowless.yaml: field 'deploymnets': unknown top-level field 'deploymnets'. "
        "Use only name, deployments, definitions."
    )


@pytest.mark.parametrize("key", ["build", "push", "pull", "prefect-version"])
def test_prefect_only_top_level_fields(project: Path, key: str) -> None:
    message = _error(project, f"{key}: null\ndeployments: []\n")
    assert message.startswith(
        f"flowless.yaml: field '{key}': '{key}' is a Prefect setting flowless does not use: "
        "flowless has no work pools: the stack is the pool (see docs/deployments.md)"
    )
    assert message.endswith("Remove the field.")


def test_deployments_must_be_a_list(project: Path) -> None:
    assert _error(project, "deployments: {name: daily}\n") == (
        "flowless.yaml: field 'deployments': expected a list of deployments, got a mapping. "
        "Write each deployment as a list item (`- name: ...`)."
    )


def test_project_name_must_name_a_stack(project: Path) -> None:
    message = _error(project, "name: my_project\n")
    assert message == (
        "flowless.yaml: field 'name': 'my_project' cannot name the CloudFormation stack "
        "(letters, digits and '-', starting with a letter, at most 55 characters). Rename "
        "it, e.g. 'my-project'."
    )


# -- deployments -----------------------------------------------------------------------


def test_a_deployment_must_be_a_mapping(project: Path) -> None:
    assert _error(project, "deployments: [daily]\n").startswith(
        "flowless.yaml: deployment #1 (deployments[0]): expected a mapping, got a string."
    )


@pytest.mark.parametrize(
    "key",
    [
        "work_pool",
        "work_queue_name",
        "job_variables",
        "version",
        "enforce_parameter_schema",
        "build",
        "push",
        "pull",
        "triggers",
    ],
)
def test_prefect_only_deployment_fields_say_there_are_no_work_pools(
    project: Path, key: str
) -> None:
    message = _error(project, _one(f"{key}: x\n"))
    assert message.startswith(
        f"flowless.yaml: deployment 'daily' (deployments[0]), field '{key}': '{key}' is a "
        "Prefect setting flowless does not use: flowless has no work pools: the stack is the "
        "pool (see docs/deployments.md)"
    )
    assert message.endswith(". Remove the field.")


def test_unknown_deployment_field_names_the_allowed_ones(project: Path) -> None:
    assert _error(project, _one("retries: 3\n")) == (
        "flowless.yaml: deployment 'daily' (deployments[0]), field 'retries': unknown "
        "deployment field 'retries'. Use only name, entrypoint, description, tags, "
        "parameters, paused, concurrency_limit, schedules."
    )


def test_prefect_2_single_schedule(project: Path) -> None:
    message = _error(project, _one("schedule: {cron: '0 9 * * *'}\n"))
    assert "field 'schedule': 'schedule' (one schedule) is Prefect 2's form" in message
    assert "Write `schedules:` as a list" in message


def test_missing_name(project: Path) -> None:
    assert _error(project, "deployments:\n  - entrypoint: flows.py:hello\n") == (
        "flowless.yaml: deployment #1 (deployments[0]), field 'name': missing. "
        "Add `name: <deployment-name>`."
    )


def test_missing_entrypoint(project: Path) -> None:
    assert _error(project, "deployments:\n  - name: daily\n") == (
        "flowless.yaml: deployment 'daily' (deployments[0]), field 'entrypoint': missing. "
        "Add `entrypoint: flows.py:my_flow` (a file of the project) or "
        "`package.module:my_flow`."
    )


def test_duplicate_deployment_names(project: Path) -> None:
    text = (
        "deployments:\n"
        "  - {name: daily, entrypoint: 'flows.py:hello'}\n"
        "  - {name: other, entrypoint: 'flows.py:hello'}\n"
        "  - {name: daily, entrypoint: 'flows.py:hello'}\n"
    )
    assert _error(project, text) == (
        "flowless.yaml: deployment 'daily' (deployments[2]), field 'name': deployments[0] "
        "has the same name. Give each deployment a distinct name."
    )


@pytest.mark.parametrize(
    ("name", "suggestion"),
    [("daily greeting", "daily-greeting"), ("a/b", "a-b"), ("café", "caf")],
)
def test_names_are_limited_to_what_aws_names_take(
    project: Path, name: str, suggestion: str
) -> None:
    text = f"deployments:\n  - name: '{name}'\n    entrypoint: flows.py:hello\n"
    assert _error(project, text) == (
        f"flowless.yaml: deployment '{name}' (deployments[0]), field 'name': '{name}' has "
        "characters other than letters, digits, '_', '.' and '-' (deployment names become "
        f"part of AWS resource names). Rename it, e.g. '{suggestion}'."
    )


@pytest.mark.parametrize(
    ("entrypoint", "phrase"),
    [
        ("flows.py", "'flows.py' is not of the form <file.py or module>:<flow function>"),
        ("flows.py:", "is not of the form"),
        ("flows.py:not-a-name", "is not of the form"),
        ("missing.py:hello", "file 'missing.py' not found in"),
        ("../flows.py:hello", "'../flows.py' is not inside the project"),
        ("/abs/flows.py:hello", "'/abs/flows.py' is not inside the project"),
        ("my package:hello", "'my package' is neither a .py file nor a module name"),
    ],
)
def test_bad_entrypoints(project: Path, entrypoint: str, phrase: str) -> None:
    text = f"deployments:\n  - name: daily\n    entrypoint: '{entrypoint}'\n"
    message = _error(project, text)
    assert message.startswith(
        "flowless.yaml: deployment 'daily' (deployments[0]), field 'entrypoint': "
    )
    assert phrase in message


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("description: 5\n", "field 'description': expected a string, got a whole number"),
        ("tags: demo\n", "field 'tags': expected a list of strings, got a string"),
        ("tags: [demo, 3]\n", "field 'tags[1]': expected a non-empty string, got a whole"),
        ("parameters: [1]\n", "field 'parameters': expected a mapping of parameter names"),
        ("paused: 'no'\n", "field 'paused': expected true or false, got a string"),
        ("schedules: {cron: x}\n", "field 'schedules': expected a list of schedules, got a"),
        ("schedules: ['0 9 * * *']\n", "field 'schedules[0]': expected a mapping, got a str"),
    ],
)
def test_bad_types(project: Path, body: str, expected: str) -> None:
    message = _error(project, _one(body))
    assert message.startswith("flowless.yaml: deployment 'daily' (deployments[0]), ")
    assert expected in message


def test_parameters_must_be_json(project: Path) -> None:
    message = _error(project, _one("parameters: {start: 2027-01-01}\n"))
    assert message == (
        "flowless.yaml: deployment 'daily' (deployments[0]), field 'parameters.start': YAML "
        "read 2027-01-01 as a date, which the manifest (JSON) cannot hold. Quote it: "
        "'2027-01-01' (the flow's type annotation converts it)."
    )
    message = _error(project, _one("parameters: {1: one}\n"))
    assert "field 'parameters': the key 1 is a whole number; parameter names" in message
    message = _error(project, _one("parameters: {x: .nan}\n"))
    assert "field 'parameters.x': nan is not a finite number" in message


# -- concurrency limits ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field", "problem"),
    [
        ("concurrency_limit: 0\n", "concurrency_limit", "must be 1 or more, got 0"),
        ("concurrency_limit: -2\n", "concurrency_limit", "must be 1 or more, got -2"),
        ("concurrency_limit: '1'\n", "concurrency_limit", "expected a whole number, got a str"),
        ("concurrency_limit: true\n", "concurrency_limit", "expected a whole number, got a bo"),
        ("concurrency_limit: 1.5\n", "concurrency_limit", "expected a whole number, got a num"),
        ("concurrency_limit: {collision_strategy: ENQUEUE}\n", "concurrency_limit.limit", "m"),
        ("concurrency_limit: {limit: 0}\n", "concurrency_limit.limit", "must be 1 or more"),
    ],
)
def test_concurrency_limit_must_be_a_positive_whole_number(
    project: Path, body: str, field: str, problem: str
) -> None:
    message = _error(project, _one(body))
    assert message.startswith(
        f"flowless.yaml: deployment 'daily' (deployments[0]), field '{field}': {problem}"
    )
    assert message.endswith(
        "Write `concurrency_limit: 1` (or more), or `concurrency_limit: {limit: 1, "
        "collision_strategy: CANCEL_NEW}`; remove the field for no limit."
    )


def test_collision_strategy_is_enqueue_or_cancel_new(project: Path) -> None:
    message = _error(project, _one("concurrency_limit: {limit: 1, collision_strategy: DROP}\n"))
    assert message == (
        "flowless.yaml: deployment 'daily' (deployments[0]), field "
        "'concurrency_limit.collision_strategy': 'DROP' is not a collision strategy. Use "
        "ENQUEUE (wait for a slot, the default) or CANCEL_NEW (cancel the new run)."
    )
    message = _error(project, _one("concurrency_limit: {limit: 1, slot_decay: 1}\n"))
    assert "field 'concurrency_limit.slot_decay': unknown field 'slot_decay'" in message


# -- schedules -------------------------------------------------------------------------


def _schedule_error(project: Path, schedule: str) -> str:
    return _error(project, _one(f"schedules:\n  - {schedule}\n"))


def test_an_invalid_cron_names_the_field_and_the_fix(project: Path) -> None:
    assert _schedule_error(project, "cron: '61 * * * *'") == (
        "flowless.yaml: deployment 'daily' (deployments[0]), field 'schedules[0].cron': cron "
        "'61 * * * *' is not valid: minute 61 is out of range 0-59. Fix the expression "
        "(5 fields: minute hour day-of-month month day-of-week)."
    )
    message = _schedule_error(project, "cron: '0 9 * *'")
    assert "field 'schedules[0].cron': cron '0 9 * *' is not valid: it has 4 fields" in message
    assert "field 'schedules[0].cron': expected a cron expression as a string, got a whole" in (
        _schedule_error(project, "cron: 5")
    )


def test_an_unknown_timezone_suggests_one(project: Path) -> None:
    assert _schedule_error(project, "{cron: '0 9 * * *', timezone: America/NewYork}") == (
        "flowless.yaml: deployment 'daily' (deployments[0]), field 'schedules[0].timezone': "
        "timezone 'America/NewYork' is not an IANA time zone name (did you mean "
        "'America/New_York'?). Write one such as 'America/New_York', 'Europe/London' or 'UTC'."
    )


def test_an_invalid_slug(project: Path) -> None:
    message = _schedule_error(project, "{cron: '0 9 * * *', slug: Morning Run}")
    assert message.startswith(
        "flowless.yaml: deployment 'daily' (deployments[0]), field 'schedules[0].slug': slug "
        "'Morning Run' is not valid. Use 1-63 lowercase letters"
    )


@pytest.mark.parametrize(
    ("schedule", "problem"),
    [
        ("{cron: '0 9 * * *', interval: 60}", "has both cron and interval"),
        ("{timezone: UTC}", "has neither cron nor interval"),
    ],
)
def test_exactly_one_of_cron_and_interval(project: Path, schedule: str, problem: str) -> None:
    assert _schedule_error(project, schedule) == (
        f"flowless.yaml: deployment 'daily' (deployments[0]), field 'schedules[0]': {problem}. "
        "Give exactly one: `cron: '0 9 * * *'` or `interval: 3600` (seconds); write two "
        "schedules for both."
    )


def test_unknown_schedule_fields(project: Path) -> None:
    assert _schedule_error(project, "{cron: '0 9 * * *', every: 5}") == (
        "flowless.yaml: deployment 'daily' (deployments[0]), field 'schedules[0].every': "
        "unknown schedule field 'every'. Use only cron, interval, anchor_date, timezone, "
        "day_or, active, parameters, slug."
    )
    message = _schedule_error(project, "{rrule: 'FREQ=DAILY'}")
    assert "field 'schedules[0].rrule': rrule schedules are not supported" in message


@pytest.mark.parametrize(
    ("schedule", "field", "phrase"),
    [
        ("{interval: -5}", "interval", "expected a positive number of seconds, got a whole"),
        ("{interval: 0}", "interval", "expected a positive number of seconds"),
        ("{interval: '1h'}", "interval", "expected a positive number of seconds, got a string"),
        ("{interval: 60, anchor_date: soon}", "anchor_date", "'soon' is not an ISO 8601 date"),
        ("{interval: 60, day_or: false}", "day_or", "day_or applies to cron schedules only"),
        ("{cron: '0 9 * * *', anchor_date: 2027-01-01}", "anchor_date", "applies to interval"),
        ("{cron: '0 9 * * *', active: 'yes'}", "active", "expected true or false, got a str"),
        ("{cron: '0 9 * * *', parameters: [1]}", "parameters", "expected a mapping"),
        ("{cron: '0 9 * * *', timezone: 5}", "timezone", "expected a time zone name"),
    ],
)
def test_bad_schedule_fields(project: Path, schedule: str, field: str, phrase: str) -> None:
    message = _schedule_error(project, schedule)
    assert message.startswith(
        f"flowless.yaml: deployment 'daily' (deployments[0]), field 'schedules[0].{field}': "
    )
    assert phrase in message


def test_duplicate_slugs_in_one_deployment(project: Path) -> None:
    text = _one(
        "schedules:\n"
        "  - {cron: '0 9 * * *', slug: morning}\n"
        "  - {cron: '0 10 * * *', slug: morning}\n"
    )
    assert _error(project, text) == (
        "flowless.yaml: deployment 'daily' (deployments[0]), field 'schedules[1]': "
        "schedules[0] and schedules[1] have the same slug 'morning' (a slug identifies a "
        "schedule's runs). Give each schedule a distinct `slug:`."
    )
    # the same schedule twice derives the same slug
    twice = _one("schedules:\n  - {cron: '0 9 * * *'}\n  - {cron: '0 9 * * *'}\n")
    assert "have the same slug 'cron-" in _error(project, twice)


def test_the_same_slug_in_two_deployments_is_fine(project: Path) -> None:
    _write(
        project,
        "deployments:\n"
        "  - {name: a, entrypoint: 'flows.py:hello', schedules: [{cron: '0 9 * * *', slug: s}]}\n"
        "  - {name: b, entrypoint: 'flows.py:hello', schedules: [{interval: 60, slug: s}]}\n",
    )
    a, b = load_project(project).deployments
    assert a.schedules[0].slug == b.schedules[0].slug == "s"


# -- set_deployment --------------------------------------------------------------------


def test_set_deployment_creates_the_file(project: Path) -> None:
    path = project / "flowless.yaml"
    said = set_deployment(
        path,
        entrypoint="flows.py:hello",
        name="daily-greeting",
        cron="0 9 * * *",
        timezone="America/New_York",
        parameters={"name": "Morning"},
        description="Say hello",
        tags=["demo"],
    )
    assert said == "Created"
    [d] = load_project(path).deployments
    assert (d.name, d.entrypoint, d.description, d.tags) == (
        "daily-greeting",
        "flows.py:hello",
        "Say hello",
        ("demo",),
    )
    assert dict(d.parameters) == {"name": "Morning"}
    [schedule] = d.schedules
    assert schedule.schedule == Cron("0 9 * * *", timezone="America/New_York")
    assert sorted(p.name for p in project.iterdir()) == ["flowless.yaml", "flows.py"]


def test_set_deployment_adds_and_keeps_the_others(project: Path) -> None:
    path = _write(project, "# My project.\n# Second line.\n\n" + EXAMPLE)
    said = set_deployment(path, entrypoint="flows.py:hello", name="hourly", interval=3600)
    assert said == "Created"
    text = path.read_text()
    assert text.startswith("# My project.\n# Second line.\n")
    first, second = load_project(path).deployments
    assert first == load_project_from_text(project, EXAMPLE).deployments[0]
    assert (second.name, second.where) == ("hourly", "deployments[1]")
    assert isinstance(second.schedules[0].schedule, Interval)
    assert "interval: 3600\n" in text  # a whole number stays one
    # key order of the untouched deployment is kept
    assert text.index("entrypoint: flows.py:hello") < text.index("description: Say hello")
    assert text.index("name: my-project") < text.index("deployments:")


def load_project_from_text(root: Path, text: str) -> ProjectConfig:
    other = root / "copy"
    other.mkdir(exist_ok=True)
    (other / "flows.py").write_text(FLOWS)
    (other / "flowless.yaml").write_text(text)
    config = load_project(other)
    return dataclasses.replace(config, path=root / "flowless.yaml", root=root)


def test_set_deployment_updates_by_name(project: Path) -> None:
    path = _write(project, EXAMPLE)
    said = set_deployment(path, entrypoint="flows.py:hello", name="daily-greeting", tags=["x"])
    assert said == "Updated"
    [d] = load_project(path).deployments
    assert d.tags == ("x",)
    assert len(d.schedules) == 2  # no cron or interval given: schedules kept
    assert d.description == "Say hello every morning"

    set_deployment(path, entrypoint="flows.py:hello", name="daily-greeting", cron="30 7 * * 1")
    [d] = load_project(path).deployments
    assert [s.schedule for s in d.schedules] == [Cron("30 7 * * 1")]
    assert dict(d.parameters) == {"name": "World"}


def test_set_deployment_leaves_the_file_untouched_on_error(project: Path) -> None:
    path = _write(project, EXAMPLE)
    before = path.read_bytes()
    with pytest.raises(ProjectError) as info:
        set_deployment(path, entrypoint="flows.py:hello", name="bad", cron="61 * * * *")
    assert str(info.value).startswith(
        "flowless.yaml: deployment 'bad' (deployments[1]), field 'schedules[0].cron': cron "
        "'61 * * * *' is not valid: minute 61 is out of range 0-59."
    )
    with pytest.raises(ProjectError, match="field 'name': 'bad name' has characters"):
        set_deployment(path, entrypoint="flows.py:hello", name="bad name")
    with pytest.raises(ProjectError, match=r"file 'nope\.py' not found"):
        set_deployment(path, entrypoint="nope.py:hello", name="daily-greeting")
    with pytest.raises(ProjectError, match="got both a cron and an interval"):
        set_deployment(path, entrypoint="flows.py:hello", name="x", cron="* * * * *", interval=60)
    with pytest.raises(ProjectError, match="a time zone was given without a cron or an interv"):
        set_deployment(path, entrypoint="flows.py:hello", name="x", timezone="UTC")
    assert path.read_bytes() == before
    assert sorted(p.name for p in project.iterdir()) == ["flowless.yaml", "flows.py"]


def test_set_deployment_refuses_a_broken_file(project: Path) -> None:
    path = _write(project, "deployments: [\n")
    with pytest.raises(ProjectError, match="YAML syntax error"):
        set_deployment(path, entrypoint="flows.py:hello", name="daily")
    assert path.read_text() == "deployments: [\n"
    path = _write(project, "- 1\n")
    with pytest.raises(ProjectError, match="the file holds a list, not a mapping"):
        set_deployment(path, entrypoint="flows.py:hello", name="daily")


def test_set_deployment_keeps_the_files_mode(project: Path) -> None:
    path = _write(project, EXAMPLE)
    path.chmod(0o640)
    set_deployment(path, entrypoint="flows.py:hello", name="other")
    assert path.stat().st_mode & 0o777 == 0o640
