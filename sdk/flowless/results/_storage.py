"""Where serialized values live: inside the record when small, in a blob store when large.

Blobs are content-addressed (named by their hash), so writing the same result twice is
idempotent and a retry after a crash cannot leave two different blobs under one name.

A blob's location is read from a record, so whoever can write a record chooses it: a
blob store reads only inside its own folder or bucket prefix (``check_location``), and a
location anywhere else is refused before it is read (``docs/security.md``).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, Protocol

from flowless._hashing import short_digest
from flowless.exceptions import CorruptRecordError, StoreError, UntrustedPayloadError
from flowless.results._serializers import JSON, deserialize, serialize
from flowless.results._signing import Signer
from flowless.store import Payload

__all__ = ["BlobStorage", "LocalFileStorage", "Results"]


class BlobStorage(Protocol):
    def write(self, key: str, data: bytes) -> str:
        """Store ``data`` under ``key``; return its location."""

    def read(self, location: str) -> bytes:
        """The bytes at ``location``; ``FileNotFoundError`` if they are gone,
        ``UntrustedPayloadError`` if ``location`` is not this store's."""

    def check_location(self, location: str) -> None:
        """``UntrustedPayloadError`` unless ``location`` is inside this store."""


class LocalFileStorage:
    """Blobs as files under a directory (``FLOWLESS_HOME/results``)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def write(self, key: str, data: bytes) -> str:
        path = self.root / key
        if path.exists():
            return str(path)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".tmp-")
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, path)
        except OSError as exc:
            raise StoreError(f"Cannot write result file {str(path)!r}: {exc}") from exc
        return str(path)

    def check_location(self, location: str) -> None:
        """Symlinks resolved: a link inside the folder to a file outside it is outside."""
        root = os.path.realpath(self.root)
        path = os.path.realpath(location)
        if path == root or os.path.commonpath([root, path]) != root:
            raise UntrustedPayloadError(
                f"The stored result location {location!r} is outside this store's results "
                f"folder {root}; refusing to read it (docs/security.md)."
            )

    def read(self, location: str) -> bytes:
        self.check_location(location)
        return Path(location).read_bytes()


class Results:
    """Values to ``Payload`` and back, choosing inline or blob by size; pickles signed
    and checked with ``signer`` (the store's key)."""

    def __init__(self, blobs: BlobStorage, inline_max_bytes: int, signer: Signer) -> None:
        self.blobs = blobs
        self.inline_max_bytes = inline_max_bytes
        self.signer = signer

    def check_location(self, location: str) -> None:
        """``UntrustedPayloadError`` unless ``location`` is inside this store's blobs."""
        self.blobs.check_location(location)

    def dump(self, value: Any) -> Payload:
        serializer, data = serialize(value, self.signer)
        if len(data) <= self.inline_max_bytes:
            return Payload(serializer, data)
        location = self.blobs.write(f"{short_digest(data)}.{serializer}", data)
        return Payload(serializer, None, location)

    def load(self, payload: Payload, what: str | None = None) -> Any:
        """The value; ``UntrustedPayloadError`` for a pickle not signed with this store's
        key or a location outside the store, before anything is unpickled or read.
        ``what`` names the value in errors (``the stored result of task run ...``)."""
        data = payload.data
        if data is None:
            if payload.location is None:
                raise CorruptRecordError("the stored result has neither data nor a location")
            try:
                data = self.blobs.read(payload.location)
            except OSError as exc:
                raise CorruptRecordError(
                    f"the result file {payload.location!r} cannot be read ({exc.strerror or exc})"
                ) from exc
        if payload.serializer == JSON:
            return deserialize(JSON, data, self.signer)
        if what is None:
            where = payload.location or f"inline, {len(data)} bytes"
            what = f"a stored value ({where})"
        return deserialize(payload.serializer, data, self.signer, what)
