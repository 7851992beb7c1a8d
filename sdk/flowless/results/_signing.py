"""Signed pickles: an HMAC-SHA256 tag in front of every pickle this store writes.

Unpickling runs whatever the pickle says, so a pickle is only loaded if it was made by
someone who holds this store's key (``docs/security.md``): the signature is checked
before a single byte reaches ``cloudpickle``. JSON needs no signature (loading JSON runs
no code), so JSON results cost nothing here.

A signed pickle is ``MAGIC + tag + pickle``: ``MAGIC`` names the format and its version
(a pickle never starts with it: pickle protocol 2+ starts with ``0x80``, so an old
unsigned pickle is told apart and refused as *unsigned*, not as garbage); the tag is
HMAC-SHA256 over ``MAGIC + pickle`` with the key. One HMAC per pickled payload: the
keyed state (key and ``MAGIC``) is computed once and copied for each payload.

The key is fetched on first use, not when the signer is made: a flow whose values are
all JSON never reads it, and importing or wiring the runtime stays free of I/O.
"""

from __future__ import annotations

import hmac
import threading
from collections.abc import Callable
from typing import Any

from flowless.exceptions import UntrustedPayloadError

__all__ = ["MAGIC", "TAG_BYTES", "Signer"]

#: The signed-pickle format, version 1.
MAGIC = b"flowless-sig1:"
TAG_BYTES = 32  # HMAC-SHA256
_HEADER = len(MAGIC) + TAG_BYTES


class Signer:
    """Signs pickles under one key and refuses, before unpickling, any other.

    ``key`` is the key, or a function that returns it (called once, on first use, under
    a lock: the local key file or the stack's secret). ``source`` says where the key
    lives, for error messages (``the key file ~/.flowless/signing.key``).
    """

    def __init__(self, key: bytes | Callable[[], bytes], source: str) -> None:
        self.source = source
        self._fetch: Callable[[], bytes] = key if callable(key) else (lambda: key)
        self._keyed: Any = None  # hmac.HMAC over the key and MAGIC, copied per payload
        self._lock = threading.Lock()

    def _mac(self) -> Any:
        keyed = self._keyed
        if keyed is None:
            with self._lock:
                if self._keyed is None:
                    self._keyed = hmac.new(self._fetch(), MAGIC, "sha256")
                keyed = self._keyed
        return keyed.copy()

    def sign(self, pickled: bytes) -> bytes:
        """``pickled`` with its signature in front."""
        mac = self._mac()
        mac.update(pickled)
        tag: bytes = mac.digest()
        return MAGIC + tag + pickled

    def verify(self, signed: bytes, what: str) -> memoryview:
        """The pickle inside ``signed``, if this key signed it; else
        ``UntrustedPayloadError`` naming ``what`` (e.g. ``the stored result of task run
        'add-3fa'``) and why it was refused. Nothing is unpickled here."""
        if not signed.startswith(MAGIC):
            raise UntrustedPayloadError(
                f"{_capital(what)} is a pickle that is not signed; refusing to unpickle it. "
                f"flowless signs every pickle it stores with this store's key "
                f"({self.source}): an unsigned one was written by a flowless from before "
                "signing, or by someone who does not hold the key. Run the flow again "
                "instead of resuming it, or delete the record (docs/security.md)."
            )
        if len(signed) < _HEADER:
            raise UntrustedPayloadError(
                f"{_capital(what)} has a cut-short signature ({len(signed) - len(MAGIC)} of "
                f"{TAG_BYTES} bytes); refusing to unpickle it."
            )
        view = memoryview(signed)
        mac = self._mac()
        mac.update(view[_HEADER:])
        if not hmac.compare_digest(mac.digest(), view[len(MAGIC) : _HEADER]):
            raise UntrustedPayloadError(
                f"{_capital(what)} is not signed with this store's key ({self.source}); "
                "refusing to unpickle it. It was signed with another key (another stack's "
                "or another FLOWLESS_HOME's), or changed after it was signed "
                "(docs/security.md)."
            )
        return view[_HEADER:]


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]
