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


def _start_time(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
    except OSError:
        return "?"
    # Field 22 (starttime); the command name (field 2) may contain spaces: skip past it.
    return stat[stat.rindex(b")") + 2 :].split()[19].decode()


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
    return start in ("?", _start_time(pid))
