"""Where serialized values live: inside the record when small, in a blob store when large.

Blobs are content-addressed (named by their hash), so writing the same result twice is
idempotent and a retry after a crash cannot leave two different blobs under one name.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, Protocol

from flowless._hashing import short_digest
from flowless.exceptions import CorruptRecordError, StoreError
from flowless.results._serializers import deserialize, serialize
from flowless.store import Payload

__all__ = ["BlobStorage", "LocalFileStorage", "Results"]


class BlobStorage(Protocol):
    def write(self, key: str, data: bytes) -> str:
        """Store ``data`` under ``key``; return its location."""

    def read(self, location: str) -> bytes:
        """The bytes at ``location``; ``FileNotFoundError`` if they are gone."""


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

    def read(self, location: str) -> bytes:
        return Path(location).read_bytes()


class Results:
    """Values to ``Payload`` and back, choosing inline or blob by size."""

    def __init__(self, blobs: BlobStorage, inline_max_bytes: int) -> None:
        self.blobs = blobs
        self.inline_max_bytes = inline_max_bytes

    def dump(self, value: Any) -> Payload:
        serializer, data = serialize(value)
        if len(data) <= self.inline_max_bytes:
            return Payload(serializer, data)
        location = self.blobs.write(f"{short_digest(data)}.{serializer}", data)
        return Payload(serializer, None, location)

    def load(self, payload: Payload) -> Any:
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
        return deserialize(payload.serializer, data)
