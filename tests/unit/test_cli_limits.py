"""``flowless gcl`` and ``flowless concurrency-limit`` as a user types them."""

from __future__ import annotations

import pytest

from flowless.cli import main as cli
from flowless.concurrency import read_limit
from flowless.concurrency.sync import concurrency, rate_limit


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_the_seeds_limit_end_to_end(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "gcl", "create", "github-api", "--limit", "60", "--slot-decay-per-second", "0.016"
    )
    assert code == 0
    assert out == (
        "Created global concurrency limit with name 'github-api'. Run `flowless gcl inspect "
        "github-api` to view details.\n"
    )
    for _ in range(3):
        rate_limit("github-api")
    code, out, _ = run(capsys, "gcl", "ls")
    header, row = out.splitlines()
    assert header.startswith("NAME")
    assert header.split()[1:] == "ACTIVE LIMIT ACTIVE SLOTS SLOT DECAY PER SECOND UPDATED".split()
    name, active, limit, slots, decay = row.split()[:5]
    assert (name, active, limit, decay) == ("github-api", "True", "60", "0.016")
    assert 2.9 < float(slots) <= 3
    assert 2.9 < read_limit("github-api").active_slots < 3  # decay applied, not a counter
    code, out, _ = run(capsys, "gcl", "inspect", "github-api")
    assert "limit:                 60" in out
    assert "slot decay per second: 0.016" in out


def test_update_enable_disable_delete(capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "gcl", "create", "db", "--limit", "2", "--disable")
    assert read_limit("db").active is False
    assert run(capsys, "gcl", "enable", "db") == (
        0,
        "Enabled global concurrency limit with name 'db'.\n",
        "",
    )
    assert run(capsys, "gcl", "enable", "db") == (
        1,
        "",
        "Global concurrency limit 'db' is already enabled.\n",
    )
    code, out, _ = run(
        capsys, "gcl", "update", "db", "--limit", "5", "--slot-decay-per-second", "1"
    )
    assert (code, out) == (0, "Updated global concurrency limit with name 'db'.\n")
    assert (read_limit("db").limit, read_limit("db").slot_decay_per_second) == (5, 1.0)
    assert run(capsys, "gcl", "update", "db")[0] == 1  # nothing to change: says so
    assert run(capsys, "gcl", "delete", "db") == (
        0,
        "Deleted global concurrency limit with name 'db'.\n",
        "",
    )
    assert run(capsys, "gcl", "ls") == (0, "No global concurrency limits found.\n", "")


def test_errors_name_the_limit(capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "gcl", "create", "x", "--limit", "1")
    assert run(capsys, "gcl", "create", "x", "--limit", "3") == (
        1,
        "",
        "Global concurrency limit 'x' already exists. Please try creating with a different name.\n",
    )
    assert read_limit("x").limit == 1  # untouched
    for verb in ("inspect", "delete", "disable"):
        assert run(capsys, "gcl", verb, "nope") == (
            1,
            "",
            "Global concurrency limit 'nope' not found.\n",
        )
    assert run(capsys, "gcl", "create", "y", "--limit", "-3") == (
        1,
        "",
        "Error: limit must be a whole number >= 0, got -3.\n",
    )
    with pytest.raises(SystemExit):  # argparse: --limit is required
        cli(["gcl", "create", "z"])


def test_tag_limits(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "concurrency-limit", "create", "small_instance", "2")
    assert code == 0
    assert out.startswith(
        "Created concurrency limit with properties:\n    tag - 'small_instance'\n"
        "    concurrency_limit - 2\n"
    )
    assert read_limit("tag:small_instance").limit == 2
    with concurrency("tag:small_instance"):
        code, out, _ = run(capsys, "concurrency-limit", "ls")
        assert out.splitlines()[1].split() == ["small_instance", "2", "1"]
        code, out, _ = run(capsys, "concurrency-limit", "inspect", "small_instance")
        assert "HELD BY" in out and "LEASE EXPIRES IN" in out
        assert run(capsys, "concurrency-limit", "reset", "small_instance")[1] == (
            "Reset concurrency limit set on the tag: small_instance\n"
        )
        assert read_limit("tag:small_instance").active_slots == 0
    # The holder's release found its lease gone; nothing went negative.
    assert read_limit("tag:small_instance").active_slots == 0
    assert run(capsys, "concurrency-limit", "delete", "small_instance")[1] == (
        "Deleted concurrency limit set on the tag: small_instance\n"
    )
    assert run(capsys, "concurrency-limit", "inspect", "small_instance") == (
        1,
        "",
        "No concurrency limit found for the tag: small_instance\n",
    )
    assert run(capsys, "concurrency-limit", "ls") == (0, "No concurrency limits found.\n", "")


def test_flow_run_ls_before_any_run_but_after_a_limit(capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "gcl", "create", "x", "--limit", "1")
    code, out, _ = run(capsys, "flow-run", "ls")
    assert code == 0 and out.startswith("No flow runs in")


def test_delete_asks_at_a_terminal(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    run(capsys, "gcl", "create", "keep-me", "--limit", "1")
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda: "n")
    code, out, _ = run(capsys, "gcl", "delete", "keep-me")
    assert code == 1 and out.endswith("Deletion aborted.\n")  # (the terminal echoes Enter)
    assert "Are you sure you want to delete global concurrency limit with name 'keep-me'?" in out
    assert read_limit("keep-me").limit == 1
    monkeypatch.setattr("builtins.input", lambda: "y")
    assert run(capsys, "gcl", "delete", "keep-me")[0] == 0
