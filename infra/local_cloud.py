"""This repository's stack on 127.0.0.1: ``template.yaml`` with ``handlers/`` and
``examples/`` as the functions' code (what its Makefile's build targets package).

``python -m infra.local_cloud`` (``make local``) runs it until Ctrl-C and prints the
variables to export in another shell; ``flowless local`` does the same for a project.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from flowless.localcloud.cloud import REGION, serve_until_stopped
from flowless.localcloud.cloud import LocalCloud as _LocalCloud
from infra.template import TEMPLATE

__all__ = ["CODE_PATHS", "REGION", "LocalCloud"]

REPO = Path(__file__).resolve().parents[1]
CODE_PATHS = (str(REPO / "handlers"), str(REPO / "examples"))


class LocalCloud(_LocalCloud):
    def __init__(self, *, code_paths: Sequence[str | Path] = CODE_PATHS, **options: Any) -> None:
        options.setdefault("template", TEMPLATE)
        super().__init__(code_paths=code_paths, **options)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra.local_cloud",
        description="Run template.yaml's stack on 127.0.0.1 (moto + a local Lambda) until "
        "Ctrl-C, and print the variables that point flowless at it.",
    )
    parser.add_argument("--stack-name", default="flowless")
    parser.add_argument(
        "--code-path",
        action="append",
        default=[],
        help="another directory of flow modules for the functions, after handlers/ and "
        "examples/ (repeatable)",
    )
    parser.add_argument("--concurrency", type=int, default=4, help="workers per function")
    args = parser.parse_args(argv)
    cloud = LocalCloud(
        stack_name=args.stack_name,
        code_paths=(*CODE_PATHS, *args.code_path),
        concurrency=args.concurrency,
    )
    serve_until_stopped(cloud.start())
    return 0


if __name__ == "__main__":
    sys.exit(main())
