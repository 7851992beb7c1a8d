"""The README's screenshot of a run page: ``docs/images/run-page.png``.

Runs a small realistic flow (``nightly-sync`` in ``tests/ui/_flows.py``: cache hits, a
task that fails after its retries, a subflow, artifacts) in a fresh FLOWLESS_HOME, serves
the UI for it on a free port, and has Debian's Chromium (never a downloaded browser)
take the run page 1280 px wide, cut at ``--max-height`` px.
Usage: ``python bench/screenshot.py [-o docs/images/run-page.png] [--max-height 1400]``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.chromium import CHROMIUM, launch  # noqa: E402

WIDTH = 1280
#: What the page's header says the store is (the real one is a temporary directory).
SHOWN_LOCATION = "~/.flowless/flowless.db"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", default=str(ROOT / "docs" / "images" / "run-page.png"))
    parser.add_argument("--max-height", type=int, default=1400, help="cut the page here (px)")
    args = parser.parse_args()
    if not CHROMIUM.exists():
        print("Debian's chromium is not installed (make browser installs it)", file=sys.stderr)
        return 1
    from playwright.sync_api import FloatRect, sync_playwright

    from flowless.results import LocalFileStorage, Results, local_signer
    from flowless.store import SQLiteStore
    from flowless.ui import Pages
    from flowless.ui._server import serving

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        env = {**os.environ, "FLOWLESS_HOME": str(home), "FLOWLESS_LOGGING_LEVEL": "INFO"}
        subprocess.run(
            [sys.executable, "-m", "tests.ui._flows", "showcase"],
            cwd=ROOT,
            env=env,
            check=True,
            stderr=subprocess.DEVNULL,
        )
        store = SQLiteStore.open_read_only(home / "flowless.db")
        store.location = SHOWN_LOCATION
        pages = Pages((store, Results(LocalFileStorage(home / "results"), 0, local_signer(home))))
        with serving(pages) as url, sync_playwright() as p:
            browser = launch(p)
            try:
                page = browser.new_page(viewport={"width": WIDTH, "height": 900})
                page.goto(f"{url}/runs/nightly-sync", wait_until="load")
                height = page.evaluate("document.documentElement.scrollHeight")
                shown = min(int(height), args.max_height)
                clip: FloatRect = {"x": 0, "y": 0, "width": WIDTH, "height": shown}
                output = Path(args.output)
                output.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(output), full_page=True, clip=clip)
            finally:
                browser.close()
        pages.close()
    print(f"Wrote {output} ({WIDTH}x{shown}, page {height} px tall)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
