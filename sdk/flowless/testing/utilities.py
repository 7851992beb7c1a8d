"""Run flows against a throwaway store, as Prefect's ``prefect_test_harness`` does."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["flowless_test_harness", "prefect_test_harness"]


@contextmanager
def flowless_test_harness(home: str | os.PathLike[str] | None = None) -> Iterator[Path]:
    """Point ``FLOWLESS_HOME`` at a fresh directory for the block, then close and restore.

    Yields the directory, so a test can open the store or look at result files.
    """
    from flowless.engine._runtime import close_home

    previous = os.environ.get("FLOWLESS_HOME")
    with tempfile.TemporaryDirectory(prefix="flowless-test-") as tmp:
        path = Path(home) if home is not None else Path(tmp)
        os.environ["FLOWLESS_HOME"] = str(path)
        try:
            yield path
        finally:
            close_home(path)
            if previous is None:
                os.environ.pop("FLOWLESS_HOME", None)
            else:
                os.environ["FLOWLESS_HOME"] = previous


#: Prefect's name, so ``from prefect.testing.utilities import prefect_test_harness``
#: keeps working after the import is changed.
prefect_test_harness = flowless_test_harness
