"""Every task run is recorded, even when the process exits right after the flow."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

SCRIPT = textwrap.dedent(
    """
    from flowless import flow, task

    @task
    def step(i):
        return i

    @flow
    def many():
        for i in range(600):
            step(i)
        futures = [step.submit(i) for i in range(400)]
        # no .result(): the flow run still waits for them before it finishes

    many()
    for i in range(50):
        step.submit(i)   # outside any flow, never awaited
    """
)


def test_short_process_records_every_task_run(flowless_home: Path) -> None:
    path = flowless_home.parent / "short.py"
    path.write_text(SCRIPT)
    env = {**os.environ, "FLOWLESS_HOME": str(flowless_home), "FLOWLESS_LOGGING_LEVEL": "WARNING"}
    subprocess.run([sys.executable, str(path)], env=env, check=True, timeout=120)
    with sqlite3.connect(flowless_home / "flowless.db") as conn:
        in_flow = conn.execute(
            "SELECT count(*), sum(state_type = 'COMPLETED') FROM task_runs "
            "WHERE flow_run_id IS NOT NULL"
        ).fetchone()
        standalone = conn.execute(
            "SELECT count(*) FROM task_runs WHERE flow_run_id IS NULL AND state_type = 'COMPLETED'"
        ).fetchone()
        [(flow_state,)] = conn.execute("SELECT state_name FROM flow_runs").fetchall()
    assert in_flow == (1000, 1000)
    assert standalone == (50,)
    assert flow_state == "Completed"
