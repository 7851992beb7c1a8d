"""Result blobs in S3, for results too large to live inside a DynamoDB item.

Keys are content-addressed (``results/<hash>.<serializer>``), so a retried write of the
same result is harmless. The client is injected.

Only objects under the store's own prefix in its own bucket are read: a location comes
from a record, and one anywhere else is refused before any request (``check_location``).
"""

from __future__ import annotations

from typing import Any

from flowless.exceptions import StoreError, StoreUnavailableError, UntrustedPayloadError

__all__ = ["S3BlobStorage"]


class S3BlobStorage:
    def __init__(self, bucket: str, client: Any, prefix: str = "results/") -> None:
        self.bucket = bucket
        self.client = client
        self.prefix = prefix

    def _error(self, action: str, exc: Exception) -> StoreError:
        from botocore.exceptions import ClientError

        if isinstance(exc, ClientError):
            code = exc.response.get("Error", {}).get("Code", "")
            if code == "NoSuchBucket":
                return StoreUnavailableError(
                    f"The S3 bucket {self.bucket!r} does not exist. Create it with `sam deploy` "
                    "(template.yaml), or set FLOWLESS_BUCKET to the deployed bucket."
                )
            return StoreError(f"S3 could not {action} in bucket {self.bucket!r}: {code}: {exc}")
        return StoreUnavailableError(f"Cannot reach S3 to {action}: {exc}")

    def write(self, key: str, data: bytes) -> str:
        from botocore.exceptions import BotoCoreError, ClientError

        object_key = f"{self.prefix}{key}"
        try:
            self.client.put_object(Bucket=self.bucket, Key=object_key, Body=data)
        except (ClientError, BotoCoreError) as exc:
            raise self._error("store a result", exc) from exc
        return f"s3://{self.bucket}/{object_key}"

    def _object_key(self, location: str) -> str:
        """The object key of ``location``; ``UntrustedPayloadError`` unless it is one of
        this store's objects."""
        bucket, _, key = location.removeprefix("s3://").partition("/")
        name = key[len(self.prefix) :]
        if (
            not location.startswith("s3://")
            or bucket != self.bucket
            or not key.startswith(self.prefix)
            # no empty, "." or ".." segment: never a key some layer might normalise
            or any(part in ("", ".", "..") for part in name.split("/"))
        ):
            raise UntrustedPayloadError(
                f"The stored result location {location!r} is outside this store's results "
                f"(s3://{self.bucket}/{self.prefix}...); refusing to read it "
                "(docs/security.md)."
            )
        return key

    def check_location(self, location: str) -> None:
        self._object_key(location)

    def read(self, location: str) -> bytes:
        from botocore.exceptions import BotoCoreError, ClientError

        key = self._object_key(location)
        try:
            body: bytes = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise FileNotFoundError(2, "no such result object", location) from exc
            raise self._error("read a result", exc) from exc
        except BotoCoreError as exc:
            raise self._error("read a result", exc) from exc
        return body
