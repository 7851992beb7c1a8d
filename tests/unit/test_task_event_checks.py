"""Where a task-run event's payload may point: the location rules on their own, for both
result stores (the handler's refusals, with the table, are in test_aws_handlers.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowless.lambda_handlers._task_event_checks import (
    TaskRunEventRejectedError,
    check_payload_location,
)
from flowless.results import LocalFileStorage
from flowless.results._s3 import S3BlobStorage
from flowless.states import StateType
from flowless.store import Payload, TaskRunRecord

RUN = TaskRunRecord(
    id="tr-1",
    flow_run_id="fr-1",
    task_key="k",
    dynamic_key=0,
    name="add-abc",
    task_name="add",
    state_type=StateType.PENDING,
    state_name="Pending",
)
BUCKET = S3BlobStorage("results", client=None)  # nothing is read: no client needed


def _at(location: str) -> Payload:
    return Payload("json", None, location)


@pytest.mark.parametrize(
    "location",
    ["s3://results/results/0a1b.json", "s3://results/results/nested/0a1b.pickle"],
)
def test_a_location_under_the_bucket_and_prefix_passes(location: str) -> None:
    check_payload_location(_at(location), BUCKET, RUN)


@pytest.mark.parametrize(
    "location",
    [
        "s3://results/results/",  # the prefix itself, no object
        "s3://results/results//x.json",  # an empty segment
        "s3://results/results/./x.json",
        "s3://results/resultsx/x.json",  # shares the prefix's letters, not the folder
        "s3://results-other/results/x.json",
        "S3://results/results/x.json",
        "results/x.json",
    ],
)
def test_anything_else_in_s3_is_refused_naming_bucket_and_prefix(location: str) -> None:
    with pytest.raises(TaskRunEventRejectedError) as raised:
        check_payload_location(_at(location), BUCKET, RUN)
    assert f"at {location!r}, outside this stack's results store" in str(raised.value)
    assert "'s3://results/results/' (bucket 'results' from FLOWLESS_BUCKET, prefix " in str(
        raised.value
    )


def test_inline_data_has_no_location_to_check() -> None:
    check_payload_location(Payload("json", b"{}"), BUCKET, RUN)


def test_a_result_folder_holds_its_files_only(tmp_path: Path) -> None:
    root = tmp_path / "results"
    root.mkdir()
    (tmp_path / "secret.json").write_text("{}")
    (root / "link.json").symlink_to(tmp_path / "secret.json")
    folder = LocalFileStorage(root)
    check_payload_location(_at(str(root / "0a1b.json")), folder, RUN)
    for outside in (
        root / "link.json",  # a link out of the folder
        root / ".." / "secret.json",
        root,
        tmp_path / "secret.json",
    ):
        with pytest.raises(TaskRunEventRejectedError) as raised:
            check_payload_location(_at(str(outside)), folder, RUN)
        assert f"only under the folder {str(root)!r}" in str(raised.value)
        assert "FLOWLESS_HOME" in str(raised.value)
