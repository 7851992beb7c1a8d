"""Staging what ``sam build`` packages: the flowless layer and the project's function code.

As in chalice's ``package.py``, the build writes plain directories that the generated
template points at (``FlowlessLayer.ContentUri``, the functions' ``CodeUri``), and
``sam build`` turns them into artifacts:

- ``stage_layer``: the *installed* flowless package without its build-time and
  local-only parts (``flowless/deploy``, ``flowless/cli``, ``flowless/localcloud``), and
  a ``requirements.txt`` of its runtime dependencies. ``sam build`` (``BuildMethod:
  python3.11``) pip-installs those beside it into ``python/``.
- ``stage_function``: the user's project files (``function_files``), the manifest the
  handlers read (``flowless-manifest.json``) and the project's ``requirements.txt``
  (empty if it has none), which SAM's default Python builder pip-installs.

Both build into a temporary sibling directory and then swap it in, so an interrupted
build never leaves a half-copied directory where the template points. ``code_hash``
hashes exactly what ``stage_function`` copies (and ``flowless.yaml``), so
``flowless build --check`` can tell whether the staged code is current.

Build-time only: nothing in the engine or the Lambda handlers imports this module.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from flowless.deploy._models import MANIFEST_FILE

__all__ = [
    "EXCLUDED_FILES",
    "EXCLUDED_SDK_PACKAGES",
    "LAYER_REQUIREMENTS",
    "MANIFEST_FILE",
    "code_hash",
    "function_files",
    "stage_function",
    "stage_layer",
]

#: The layer's runtime dependencies. Powertools without its ``tracer`` extra: that
#: brings aws-xray-sdk and botocore, and boto3 already comes with the Lambda runtime.
LAYER_REQUIREMENTS = (
    "pydantic>=2.6,<3",
    "cloudpickle>=3.0",
    "croniter>=2.0",
    "aws-lambda-powertools==3.37.0",
)

#: Subpackages of flowless the Lambda functions never import (build time, local only).
EXCLUDED_SDK_PACKAGES = ("deploy", "cli", "localcloud")

#: Project files that are not the function's code. ``flowless.yaml`` stays out: the
#: manifest is the runtime's copy of it.
EXCLUDED_FILES = frozenset({"template.yaml", "samconfig.toml", "flowless.yaml", MANIFEST_FILE})
#: Directories never copied, besides hidden ones (``.git``, ``.venv``, ``.aws-sam``,
#: ``.flowless``) and any holding a virtual environment (a ``pyvenv.cfg``).
#: (A folder named ``env`` or ``venv`` may be code a flow imports: only a folder holding a
#: ``pyvenv.cfg`` is taken for a virtual environment. ``tests`` is the project's tests.)
_EXCLUDED_DIRS = frozenset({"__pycache__", "node_modules", "tests"})
_EXCLUDED_SUFFIXES = (".pyc", ".pyo")
_PROJECT_FILE = "flowless.yaml"


# -- the layer -------------------------------------------------------------------------


def stage_layer(dest: Path) -> None:
    """Replace ``dest`` with ``flowless/`` (the installed package without
    ``EXCLUDED_SDK_PACKAGES``, ``__pycache__``, ``*.pyc`` and hidden files) and
    ``requirements.txt`` (``LAYER_REQUIREMENTS``)."""
    import flowless

    source = Path(flowless.__file__).resolve().parent

    def build(directory: Path) -> None:
        for relative in sorted(_sdk_files(source)):
            _copy(source / relative, directory / "flowless" / relative)
        lines = [
            "# The flowless layer's runtime dependencies (written by `flowless build`).",
            *LAYER_REQUIREMENTS,
        ]
        (directory / "requirements.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")

    _replace_directory(Path(dest), build)


def _sdk_files(source: Path) -> Iterator[Path]:
    for directory, dirnames, filenames in os.walk(source):
        here = Path(directory).relative_to(source)
        dirnames[:] = sorted(
            name
            for name in dirnames
            if name != "__pycache__"
            and not name.startswith(".")
            and not (here == Path() and name in EXCLUDED_SDK_PACKAGES)
            and not name.endswith(".egg-info")
        )
        for name in filenames:
            if not name.startswith(".") and not name.endswith(_EXCLUDED_SUFFIXES):
                yield here / name


# -- the function ----------------------------------------------------------------------


def function_files(project_root: Path, *, exclude: Path | None = None) -> list[Path]:
    """The project's files that make up the function's code, relative and sorted.

    Everything under ``project_root`` except hidden files and directories, virtual
    environments (any directory with a ``pyvenv.cfg``), ``__pycache__``, ``tests`` and
    ``node_modules`` directories, ``*.pyc``, and
    ``template.yaml``, ``samconfig.toml``, ``flowless.yaml`` (``EXCLUDED_FILES``), and,
    in a git work tree, whatever git ignores.
    Symbolic links to directories are not followed. ``exclude`` (a directory) is left
    out too, e.g. a staging directory inside the project.
    """
    root = Path(project_root).resolve()
    skipped = exclude.resolve() if exclude is not None else None
    files: list[Path] = []
    for directory, dirnames, filenames in os.walk(root):
        here = Path(directory)
        dirnames[:] = [
            name
            for name in dirnames
            if not name.startswith(".")
            and name not in _EXCLUDED_DIRS
            and not (here / name / "pyvenv.cfg").exists()
            and (skipped is None or (here / name).resolve() != skipped)
        ]
        relative = here.relative_to(root)
        for name in filenames:
            if name.startswith(".") or name.endswith(_EXCLUDED_SUFFIXES):
                continue
            if relative == Path() and name in EXCLUDED_FILES:
                continue
            files.append(relative / name)
    visible = _git_visible(root)
    if visible is not None:
        files = [f for f in files if f.as_posix() in visible]
    return sorted(files, key=lambda p: p.as_posix())


def _git_visible(root: Path) -> set[str] | None:
    """In a git work tree, the files git does not ignore (tracked or not), relative to
    ``root``: a log or an output file the project ignores is neither in a clone nor in
    the function, so ``build --check`` in CI sees the same code. None outside git."""
    try:
        done = subprocess.run(
            [
                "git",
                "-C",
                str(root),
                "ls-files",
                "--cached",
                "--others",
                "--exclude-standard",
                "-z",
            ],
            capture_output=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    return {name for name in done.stdout.decode(errors="surrogateescape").split("\0") if name}


def stage_function(project_root: Path, dest: Path, manifest: Mapping[str, Any]) -> None:
    """Replace ``dest`` with the project's code (``function_files``), the manifest
    (``flowless-manifest.json``) and a ``requirements.txt`` (the project's, else empty)."""
    root = Path(project_root).resolve()
    dest = Path(dest)
    files = function_files(root, exclude=dest)
    text = json.dumps(manifest, sort_keys=True, indent=1) + "\n"

    def build(directory: Path) -> None:
        for relative in files:
            _copy(root / relative, directory / relative)
        (directory / MANIFEST_FILE).write_text(text, encoding="utf-8")
        requirements = directory / "requirements.txt"
        if not requirements.exists():
            requirements.write_text("", encoding="utf-8")

    _replace_directory(dest, build)


def code_hash(project_root: Path) -> str:
    """SHA-256 (hex) over the relative paths and bytes of what ``stage_function`` copies,
    plus ``flowless.yaml``: it changes exactly when the staged code would."""
    root = Path(project_root).resolve()
    files = function_files(root)
    if (root / _PROJECT_FILE).is_file():
        files.append(Path(_PROJECT_FILE))
    digest = hashlib.sha256()
    for relative in sorted(files, key=lambda p: p.as_posix()):
        data = (root / relative).read_bytes()
        name = relative.as_posix().encode()
        digest.update(b"%d:%s\x00%d:" % (len(name), name, len(data)))
        digest.update(data)
    return digest.hexdigest()


# -- helpers ---------------------------------------------------------------------------


def _copy(source: Path, target: Path) -> None:
    """Copy one file; world-readable (Lambda runs the code as another user)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    executable = os.access(source, os.X_OK)
    target.chmod(0o755 if executable else 0o644)


def _replace_directory(dest: Path, build: Callable[[Path], None]) -> None:
    """Build into a temporary sibling of ``dest``, then swap it in for ``dest``."""
    dest = dest.absolute()
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".new", dir=dest.parent))
    try:
        build(staging)
        for directory, dirnames, _ in os.walk(staging):
            Path(directory).chmod(0o755)
            for name in dirnames:
                (Path(directory) / name).chmod(0o755)
        if dest.exists() or dest.is_symlink():
            old = dest.with_name(f".{dest.name}.{uuid.uuid4().hex}.old")
            os.rename(dest, old)
            os.rename(staging, dest)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(staging, dest)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
