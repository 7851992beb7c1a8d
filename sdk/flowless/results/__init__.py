"""Serializing run results and parameters, and storing them inline or as blobs; pickles
are signed with the store's key and refused unsigned (``docs/security.md``).

``S3BlobStorage`` is imported on first use, so the embedded engine never loads boto3.
"""

from typing import Any

from flowless.results._keys import local_signer, secret_signer
from flowless.results._serializers import JSON, PICKLE, deserialize, serialize
from flowless.results._signing import Signer
from flowless.results._storage import BlobStorage, LocalFileStorage, Results

__all__ = [
    "JSON",
    "PICKLE",
    "BlobStorage",
    "LocalFileStorage",
    "Results",
    "S3BlobStorage",
    "Signer",
    "deserialize",
    "local_signer",
    "secret_signer",
    "serialize",
]


def __getattr__(name: str) -> Any:
    if name == "S3BlobStorage":
        from flowless.results._s3 import S3BlobStorage

        return S3BlobStorage
    raise AttributeError(f"module 'flowless.results' has no attribute {name!r}")
