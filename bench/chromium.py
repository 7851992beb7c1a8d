"""Debian's Chromium, as the UI's benchmarks, its screenshot and its browser tests start it.

Never a browser that Playwright downloads: ``make browser`` installs the ``chromium``
package. The flags keep it off the network (this machine's is closed: background
services would fail many times a second) and out of any profile of a person's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["CHROMIUM", "launch"]

CHROMIUM = Path("/usr/bin/chromium")
_ARGS = [
    "--no-sandbox",  # as root, in a container
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def launch(playwright: Any) -> Any:
    """A headless Chromium browser from Playwright's ``sync_playwright()`` handle."""
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=_ARGS)
