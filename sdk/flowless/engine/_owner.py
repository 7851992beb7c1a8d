"""Which process runs a flow run, and whether that process is still alive.

A flow run records its owner as ``host:pid:start`` (``start`` is when the process began,
so a pid reused by another process does not pass for the owner). Resuming a run is
refused while its owner is alive on this host: two processes must not both run the rest
of one flow. An owner on another host cannot be checked from here; such a run is only
resumed when asked explicitly (``force=True``).
"""

from __future__ import annotations

import os
import socket

__all__ = ["is_alive_here", "process_owner"]

_owner: str | None = None


def _stat_fields(pid: int) -> list[bytes] | None:
    """/proc/<pid>/stat from field 3 on (the command name, field 2, may hold spaces)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
    except OSError:
        return None
    return stat[stat.rindex(b")") + 2 :].split()


def _start_time(pid: int) -> str:
    fields = _stat_fields(pid)
    return "?" if fields is None else fields[19].decode()  # field 22, starttime


def process_owner() -> str:
    global _owner
    if _owner is None:
        pid = os.getpid()
        _owner = f"{socket.gethostname()}:{pid}:{_start_time(pid)}"
    return _owner


def _forget_after_fork() -> None:
    global _owner
    _owner = None


os.register_at_fork(after_in_child=_forget_after_fork)


def is_alive_here(owner: str | None) -> bool | None:
    """True/False for an owner on this host; None when it cannot be known from here."""
    if not owner:
        return False
    host, _, rest = owner.partition(":")
    pid_text, _, start = rest.partition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return None
    pid = int(pid_text)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by another user
    fields = _stat_fields(pid)
    if fields is not None and fields[0] in (b"Z", b"X"):
        return False  # killed, not yet reaped by its parent: it runs nothing any more
    return start in ("?", "?" if fields is None else fields[19].decode())
