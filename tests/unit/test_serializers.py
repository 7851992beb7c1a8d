"""Results: JSON when exact, cloudpickle otherwise, files when large."""

from __future__ import annotations

import json
import threading
from datetime import date
from pathlib import Path

import pytest

from flowless.exceptions import CorruptRecordError, ResultSerializationError
from flowless.results import (
    JSON,
    PICKLE,
    LocalFileStorage,
    Results,
    Signer,
    deserialize,
    serialize,
)
from flowless.store import Payload

SIGNER = Signer(b"k" * 32, "the test key")


@pytest.mark.parametrize(
    "value",
    [None, 1, 1.5, "s", True, [1, "a", None], {"k": [1, {"n": 2}]}, "é✓"],
)
def test_json_values_use_json(value: object) -> None:
    kind, data = serialize(value, SIGNER)
    assert kind == JSON
    assert deserialize(kind, data, SIGNER) == value


@pytest.mark.parametrize(
    "value",
    [0, -7, 2**64, 10**4000, None, True, False, 1.5, "s", [1, None], {"k": -1}],
)
def test_json_bytes_are_the_encoders_bytes(value: object) -> None:
    """Ints and None are written without the encoder: the same bytes, bools still
    ``true``/``false``."""
    assert serialize(value, SIGNER) == (
        JSON,
        json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode(),
    )


@pytest.mark.parametrize(
    "value",
    [(1, 2), {1: "int key"}, {1, 2}, date(2024, 1, 1), [("nested", "tuple")], b"bytes"],
)
def test_values_json_would_change_use_pickle(value: object) -> None:
    kind, data = serialize(value, SIGNER)
    assert kind == PICKLE
    back = deserialize(kind, data, SIGNER)
    assert back == value and type(back) is type(value)


def test_unserializable_value_names_its_type() -> None:
    with pytest.raises(ResultSerializationError, match="'lock'"):
        serialize(threading.Lock(), SIGNER)


def test_corrupt_bytes_are_reported() -> None:
    with pytest.raises(CorruptRecordError, match="cannot be decoded"):
        deserialize(JSON, b"{not json", SIGNER)
    with pytest.raises(CorruptRecordError, match="cannot be decoded"):
        deserialize(PICKLE, SIGNER.sign(b"\x80\x05garbage"), SIGNER)
    with pytest.raises(CorruptRecordError, match="unknown serializer"):
        deserialize("yaml", b"a: 1", SIGNER)


def test_small_inline_large_as_file(tmp_path: Path) -> None:
    results = Results(LocalFileStorage(tmp_path), inline_max_bytes=100, signer=SIGNER)
    small = results.dump("x" * 10)
    assert small.data is not None and small.location is None
    big = results.dump("y" * 1000)
    assert big.data is None and big.location is not None
    assert Path(big.location).parent == tmp_path
    assert results.load(big) == "y" * 1000
    again = results.dump("y" * 1000)
    assert again.location == big.location  # content-addressed: written once


def test_missing_blob_is_corrupt_not_a_crash(tmp_path: Path) -> None:
    results = Results(LocalFileStorage(tmp_path), inline_max_bytes=0, signer=SIGNER)
    payload = results.dump([1, 2, 3])
    assert payload.location is not None
    Path(payload.location).unlink()
    with pytest.raises(CorruptRecordError, match="cannot be read"):
        results.load(payload)
    with pytest.raises(CorruptRecordError, match="neither data nor a location"):
        results.load(Payload(JSON))
