"""``concurrency`` and ``rate_limit`` as a Prefect user calls them, on the embedded store."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from flowless import flow, task
from flowless.concurrency import (
    AcquireConcurrencySlotTimeoutError,
    ConcurrencySlotAcquisitionError,
    create_limit,
    delete_limit,
    list_limits,
    read_limit,
    update_limit,
)
from flowless.concurrency.sync import concurrency, rate_limit
from flowless.engine import current_runtime
from flowless.exceptions import ConfigurationError, RecordExistsError, RecordNotFoundError
from flowless.states import StateType
from tests.conftest import log_lines


def test_a_missing_limit_warns_and_the_block_runs(capsys: pytest.CaptureFixture[str]) -> None:
    ran = []
    with concurrency("nope"):
        ran.append(1)
    rate_limit(["nope", "nada"])
    assert ran == [1]
    assert log_lines(capsys.readouterr().err) == [
        "WARNING | flowless.concurrency - Concurrency limits ['nope'] do not exist - skipping "
        "acquisition.",
        "WARNING | flowless.concurrency - Concurrency limits ['nope', 'nada'] do not exist - "
        "skipping acquisition.",
    ]


def test_strict_raises_for_a_missing_limit_and_takes_nothing() -> None:
    create_limit("real", 1)
    # Prefect's message, and its cause (Prefect raises only when no limit exists at all;
    # flowless also when one of several is missing: strict means "enforced, or fail")
    with pytest.raises(
        ConcurrencySlotAcquisitionError,
        match=r"^Unable to acquire concurrency slots on \['real', 'nope'\]$",
    ) as info:
        with concurrency(["real", "nope"], strict=True):
            pass
    assert str(info.value.__cause__) == (
        "Concurrency limits ['real', 'nope'] must be created before acquiring slots"
    )
    assert read_limit("real").active_slots == 0


def test_occupy_above_the_limit_is_an_error() -> None:
    create_limit("small", 2)
    with pytest.raises(
        ConcurrencySlotAcquisitionError,
        match=r"Unable to acquire concurrency slots on \['small'\]: Slots requested is greater",
    ):
        with concurrency("small", occupy=3):
            pass
    for bad in (0, 1.5, "2", True):
        with pytest.raises(ValueError, match="occupy must be a whole number of slots >= 1"):
            with concurrency("small", occupy=bad):  # type: ignore[arg-type]
                pass
    assert read_limit("small").leases == ()  # nothing half-written
    with concurrency("small", occupy=2):
        pass


def test_rate_limit_needs_a_decaying_limit() -> None:
    create_limit("flat", 5)
    with pytest.raises(
        ConcurrencySlotAcquisitionError,
        match=re.escape(
            "Only concurrency limits with slot decay can be used for rate limiting. The "
            "following limits do not have a decay configured: 'flat'"
        ),
    ):
        rate_limit("flat")


def test_a_timeout_raises_prefects_error_and_takes_nothing() -> None:
    create_limit("one", 1)
    with concurrency("one"):
        started = time.monotonic()
        with pytest.raises(
            AcquireConcurrencySlotTimeoutError,
            match=r"Attempt to acquire concurrency slots timed out after 0.3 second\(s\)",
        ):
            with concurrency("one", timeout_seconds=0.3):
                pass
        assert time.monotonic() - started >= 0.3
        assert read_limit("one").active_slots == 1
    assert read_limit("one").active_slots == 0
    assert isinstance(AcquireConcurrencySlotTimeoutError("x"), TimeoutError)


def test_max_retries_gives_up_after_the_first_look_and_that_many_more() -> None:
    create_limit("one", 1)
    looks: list[float] = []
    from flowless.concurrency._acquire import acquire

    limits = current_runtime().limits
    with concurrency("one"):
        for retries in (0, 2):
            looks.clear()
            with pytest.raises(ConcurrencySlotAcquisitionError, match=f"after {retries} retries"):
                acquire(
                    limits, ["one"], 1, lease_duration=5, max_retries=retries, sleep=looks.append
                )
            assert len(looks) == retries  # one sleep between looks
    assert read_limit("one").active_slots == 0


def test_a_disabled_limit_is_skipped_silently(capsys: pytest.CaptureFixture[str]) -> None:
    create_limit("off", 1, active=False)
    with concurrency("off"), concurrency("off"):  # would deadlock if it counted
        pass
    assert "off" not in capsys.readouterr().err
    update_limit("off", active=True)
    with concurrency("off"):
        assert read_limit("off").active_slots == 1


def test_several_names_are_all_or_nothing() -> None:
    create_limit("a", 2)
    create_limit("b", 1)
    with concurrency("b"):  # b is full
        with pytest.raises(AcquireConcurrencySlotTimeoutError):
            with concurrency(["a", "b"], timeout_seconds=0.2):
                pass
        assert read_limit("a").active_slots == 0  # a's slot was not kept
    with concurrency(["a", "b"]):
        assert (read_limit("a").active_slots, read_limit("b").active_slots) == (1, 1)
    assert (read_limit("a").active_slots, read_limit("b").active_slots) == (0, 0)


def test_slots_are_given_back_when_the_block_raises() -> None:
    create_limit("one", 1)
    with pytest.raises(KeyError):
        with concurrency("one"):
            raise KeyError("boom")
    assert read_limit("one").active_slots == 0


def test_a_long_holder_renews_its_lease() -> None:
    create_limit("one", 1)
    with concurrency("one", lease_duration=0.4):
        time.sleep(1.0)  # 2.5 lease durations: without renewal the slot would be free
        with pytest.raises(AcquireConcurrencySlotTimeoutError):
            with concurrency("one", timeout_seconds=0.1):
                pass
    with concurrency("one", timeout_seconds=1):
        pass


def test_rate_limit_paces_and_ls_shows_decay_applied() -> None:
    create_limit("api", 2, slot_decay_per_second=10)
    started = time.monotonic()
    for _ in range(5):
        rate_limit("api")
    elapsed = time.monotonic() - started
    assert 0.25 <= elapsed < 2  # 2 at once, then one per 0.1 s
    assert read_limit("api").active_slots > 1
    time.sleep(0.25)
    assert read_limit("api").active_slots == 0  # drained, not a stale counter


def test_waits_show_in_the_run_log(capsys: pytest.CaptureFixture[str]) -> None:
    create_limit("api", 1, slot_decay_per_second=5)

    @task
    def call_api(i: int) -> int:
        rate_limit("api")
        return i

    @flow
    def paced() -> list[int]:
        return [call_api(i) for i in range(3)]

    assert paced() == [0, 1, 2]
    waits = [line for line in log_lines(capsys.readouterr().err) if "Waited" in line]
    assert len(waits) == 2
    assert all(
        "for 1 slot(s) of ['api']" in line and "Task run 'call_api-" in line for line in waits
    )


def test_task_concurrency_by_tag_across_flow_runs(capsys: pytest.CaptureFixture[str]) -> None:
    create_limit("tag:db", 2)
    running, peak, lock = [0], [0], threading.Lock()

    @task(tags=["db"])
    def query(i: int) -> int:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.05)
        with lock:
            running[0] -= 1
        return i

    @flow
    def load() -> list[int]:
        return query.map(range(4)).result()

    flows = [threading.Thread(target=load) for _ in range(2)]  # two flow runs at once
    for t in flows:
        t.start()
    for t in flows:
        t.join()
    assert peak[0] == 2
    assert read_limit("tag:db").active_slots == 0
    assert any(
        "Waited" in line and "['tag:db']" in line for line in log_lines(capsys.readouterr().err)
    )


def test_a_tag_limit_of_zero_fails_the_task_run_and_the_rest_go_on() -> None:
    create_limit("tag:frozen", 0)

    @task(tags=["frozen"])
    def never() -> int:
        raise AssertionError("must not run")

    @task
    def other() -> int:
        return 1

    @flow
    def mixed() -> tuple[StateType, int]:
        return never(return_state=True).type, other()

    assert mixed() == (StateType.FAILED, 1)

    create_limit("tag:fine", 5)

    @task(tags=["fine", "frozen"])
    def both() -> int:
        raise AssertionError("must not run")

    @flow
    def blamed() -> str | None:
        return both(return_state=True).message

    assert blamed() == (
        'The concurrency limit on tag "frozen" is 0 and will deadlock if the task tries to '
        "run again."
    )
    assert read_limit("tag:fine").active_slots == 0


def test_managing_limits_from_python() -> None:
    created = create_limit("github-api", 60, slot_decay_per_second=0.016)
    assert (created.limit, created.slot_decay_per_second, created.active) == (60, 0.016, True)
    with pytest.raises(RecordExistsError):
        create_limit("github-api", 1)
    assert update_limit("github-api", limit=10, active=False).limit == 10
    assert [x.name for x in list_limits()] == ["github-api"]  # type: ignore[union-attr]
    delete_limit("github-api")
    with pytest.raises(RecordNotFoundError, match="'github-api' not found"):
        read_limit("github-api")
    for bad in (
        lambda: create_limit("", 1),
        lambda: create_limit("x", -1),
        lambda: create_limit("x", 1.5),  # type: ignore[arg-type]
        lambda: create_limit("x", 1, slot_decay_per_second=-2),
    ):
        with pytest.raises(ConfigurationError):
            bad()
    assert list_limits() == []


def test_a_corrupt_limit_is_a_clear_error_and_harms_no_other() -> None:
    create_limit("good", 1)
    create_limit("bad", 1)
    limits = current_runtime().limits
    conn = limits._conn  # type: ignore[attr-defined]
    conn.execute("UPDATE concurrency_limits SET body = 'not json' WHERE name = 'bad'")
    from flowless.exceptions import CorruptRecordError

    with pytest.raises(CorruptRecordError, match=r"Concurrency limit 'bad' .* is corrupt"):
        with concurrency("bad"):
            pass
    with concurrency("good"):
        assert read_limit("good").active_slots == 1
    assert read_limit("good").active_slots == 0


def test_sync_programs_with_tag_limits_never_import_asyncio(tmp_path: Path) -> None:
    """Cold start: a synchronous program, tags and a tag limit included, loads no asyncio
    (it costs ~3 MB and ~40 modules)."""
    script = (
        "import sys\n"
        "from flowless import flow, task\n"
        "from flowless.concurrency import create_limit\n"
        "create_limit('tag:db', 1)\n"
        "@task(tags=['db'])\n"
        "def q() -> int:\n"
        "    return 1\n"
        "@flow\n"
        "def f() -> int:\n"
        "    return q() + q.submit().result()\n"
        "assert f() == 2\n"
        "assert 'asyncio' not in sys.modules, 'imported asyncio'\n"
    )
    env = {"FLOWLESS_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    subprocess.run([sys.executable, "-c", script], env=env, check=True, capture_output=True)


def test_setting_decay_to_zero_drops_the_rate_limited_slots() -> None:
    create_limit("api", 5, slot_decay_per_second=1)
    rate_limit("api", occupy=3)
    update_limit("api", slot_decay_per_second=0)
    assert read_limit("api").active_slots == 0  # nothing would ever drain them
    with concurrency("api", occupy=5):
        assert read_limit("api").active_slots == 5


def test_a_forked_child_renews_none_of_its_parents_leases() -> None:
    from flowless.concurrency import _leases

    create_limit("held", 1)
    with concurrency("held", lease_duration=60):
        assert len(_leases._kept) == 1
        pid = os.fork()
        if pid == 0:  # the child: exit status says what it inherited
            os._exit(len(_leases._kept))
        _, status = os.waitpid(pid, 0)
        assert os.WEXITSTATUS(status) == 0
