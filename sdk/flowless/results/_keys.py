"""Where the signing key comes from: a key file in ``FLOWLESS_HOME``, or the stack's secret.

Locally the key is ``FLOWLESS_HOME/signing.key``, made on first use: 32 random bytes, in
hex, in a file only its owner can read or write. The file is written complete under a
temporary name (``mkstemp``: ``O_EXCL``, mode 0600) and published with ``link``, which
fails if the name exists: of several processes starting at once, exactly one key is
published, every process reads that one, and no process ever sees a half-written key.
Like ssh with a private key, a key file that its group or others may read or write, or
that another user owns, is refused: whoever can read the key can make flowless run code.

On AWS the key is a Secrets Manager secret that the stack creates
(``SigningKey``, ``GenerateSecretString``); the functions, and a developer machine with
``FLOWLESS_BACKEND=aws``, name it with ``FLOWLESS_SIGNING_SECRET`` and need
``secretsmanager:GetSecretValue`` on it. It is read once per process (per Lambda cold
start), when the first pickle is signed or checked.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flowless.exceptions import SigningKeyError
from flowless.results._signing import Signer

__all__ = [
    "KEY_FILE",
    "MIN_KEY_BYTES",
    "local_signer",
    "read_key_file",
    "read_secret",
    "secret_signer",
]

KEY_FILE = "signing.key"
#: 32 random bytes locally (64 hex digits); a stack's secret is 64 letters and digits.
MIN_KEY_BYTES = 32
_GIVE_UP = "Fix it, or move it aside to make a new key (records signed with it are then refused)."


def local_signer(home: Path) -> Signer:
    path = Path(home) / KEY_FILE
    return Signer(lambda: read_key_file(path), f"the key file {path}")


def read_key_file(path: Path) -> bytes:
    """The key in ``path``, made first if there is none (module docstring)."""
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    _create(path)
    return _read(path)


def _read(path: Path) -> bytes:
    try:
        # O_NONBLOCK: a FIFO planted under the name must not hang the open.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise SigningKeyError(
            f"Cannot read the signing key file {path}: {exc.strerror or exc}."
        ) from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise SigningKeyError(f"The signing key file {path} is not a regular file. {_GIVE_UP}")
        if info.st_uid not in (os.geteuid(), 0):
            raise SigningKeyError(
                f"The signing key file {path} is owned by another user (uid {info.st_uid}), "
                "who could change it at any time; refusing to use it. "
                "Give it to your user (chown), or set FLOWLESS_HOME to a folder of your own."
            )
        if info.st_mode & 0o077:
            raise SigningKeyError(
                f"Permissions {stat.S_IMODE(info.st_mode):04o} for the signing key file "
                f"{path} are too open: anyone who can read it can make flowless run code "
                f"(docs/security.md); refusing to use it. Run `chmod 600 {path}`."
            )
        data = os.read(fd, 4096)
    finally:
        os.close(fd)
    key = data.strip()
    if len(key) < MIN_KEY_BYTES:
        raise SigningKeyError(
            f"The signing key file {path} holds {len(key)} bytes, fewer than "
            f"{MIN_KEY_BYTES}. {_GIVE_UP}"
        )
    return key


def _create(path: Path) -> None:
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        info = folder.stat()
        if info.st_mode & stat.S_IWOTH and not info.st_mode & stat.S_ISVTX:
            raise SigningKeyError(
                f"{folder} is writable by every user, who could replace the signing key "
                f"made there; refusing to make one. Run `chmod o-w {folder}`, or set "
                "FLOWLESS_HOME to a folder of your own."
            )
        fd, temporary = tempfile.mkstemp(dir=folder, prefix=".signing-", suffix=".tmp")
    except OSError as exc:
        raise SigningKeyError(
            f"Cannot create the signing key file {path}: {exc.strerror or exc}. "
            "Set FLOWLESS_HOME to a directory you can write to."
        ) from exc
    import secrets  # only when a key is made

    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(secrets.token_hex(MIN_KEY_BYTES).encode() + b"\n")
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass  # another process published its key first: everyone uses that one
        except OSError as exc:
            raise SigningKeyError(
                f"Cannot create the signing key file {path}: {exc.strerror or exc}."
            ) from exc
    finally:
        os.unlink(temporary)


def secret_signer(secret_id: str, client: Callable[[], Any]) -> Signer:
    """The stack's secret ``secret_id`` (name or ARN) as the key, read on first use."""

    def fetch() -> bytes:
        if not secret_id:
            raise SigningKeyError(
                "FLOWLESS_BACKEND=aws needs FLOWLESS_SIGNING_SECRET to sign and check pickled "
                "values: set it to the stack's output SigningKeySecretArn, and allow "
                "secretsmanager:GetSecretValue on that secret (docs/security.md)."
            )
        return read_secret(secret_id, client())

    return Signer(fetch, f"the secret {secret_id or '(FLOWLESS_SIGNING_SECRET unset)'}")


def read_secret(secret_id: str, client: Any) -> bytes:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        answer = client.get_secret_value(SecretId=secret_id)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = error.get("Code", "")
        if code == "ResourceNotFoundException":
            raise SigningKeyError(
                f"The signing key secret {secret_id!r} does not exist. Deploy the stack "
                "(`sam deploy`), or set FLOWLESS_SIGNING_SECRET to its output "
                "SigningKeySecretArn."
            ) from exc
        if code in ("AccessDeniedException", "AccessDenied"):
            raise SigningKeyError(
                f"This identity may not read the signing key secret {secret_id!r}: allow it "
                "secretsmanager:GetSecretValue on that secret (docs/security.md)."
            ) from exc
        raise SigningKeyError(
            f"Cannot read the signing key secret {secret_id!r}: {code}: {error.get('Message')}"
        ) from exc
    except BotoCoreError as exc:
        raise SigningKeyError(
            f"Cannot reach Secrets Manager to read the signing key: {exc}"
        ) from exc
    text = answer.get("SecretString")
    key = text.encode() if isinstance(text, str) else bytes(answer.get("SecretBinary") or b"")
    if len(key) < MIN_KEY_BYTES:
        raise SigningKeyError(
            f"The signing key secret {secret_id!r} holds {len(key)} bytes, fewer than "
            f"{MIN_KEY_BYTES}."
        )
    return key
