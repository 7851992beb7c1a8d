"""Serializing run results and parameters, and storing them inline or as blobs."""

from flowless.results._serializers import JSON, PICKLE, deserialize, serialize
from flowless.results._storage import BlobStorage, LocalFileStorage, Results

__all__ = [
    "JSON",
    "PICKLE",
    "BlobStorage",
    "LocalFileStorage",
    "Results",
    "deserialize",
    "serialize",
]
