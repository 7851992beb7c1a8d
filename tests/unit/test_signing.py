"""Signed pickles: the signer, the key file, the stack's secret, and confined locations.

The forged pickles here would create a file when unpickled (``Plant``); every refusal is
checked to leave no such file, and ``test_the_forged_payload_is_live`` shows that the
same payload, once unpickled, does create it.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import cloudpickle
import pytest
from moto import mock_aws

from flowless.exceptions import (
    CorruptRecordError,
    SigningKeyError,
    StoreUnavailableError,
    UntrustedPayloadError,
)
from flowless.invoke._wire import WireError, error_from_wire, error_to_wire
from flowless.results import (
    JSON,
    PICKLE,
    LocalFileStorage,
    Results,
    S3BlobStorage,
    Signer,
    deserialize,
    local_signer,
    secret_signer,
    serialize,
)
from flowless.results._keys import KEY_FILE, read_key_file
from flowless.results._signing import MAGIC, TAG_BYTES
from flowless.store import Payload
from tests.aws import REGION, signing_secret

KEY = b"k" * 32
SIGNER = Signer(KEY, "the test key")


class Plant:
    """Unpickling it creates ``path``: what a forged record would do to a reader."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (self.path, "w"))


def forged(path: Path) -> bytes:
    return cloudpickle.dumps(Plant(path))


def test_the_forged_payload_is_live(tmp_path: Path) -> None:
    """Without the signature check, this is what loading the payload would do."""
    marker = tmp_path / "planted"
    pickle.loads(forged(marker)).close()
    assert marker.exists()


# -- the signer --------------------------------------------------------------------------


def test_a_signed_pickle_round_trips_and_json_is_left_alone() -> None:
    kind, data = serialize((1, "two"), SIGNER)
    assert kind == PICKLE and data.startswith(MAGIC)
    assert deserialize(kind, data, SIGNER) == (1, "two")
    kind, data = serialize({"a": [1]}, SIGNER)
    assert (kind, data) == (JSON, b'{"a":[1]}')


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda p: p, "a pickle that is not signed"),
        (lambda p: Signer(b"x" * 32, "another key").sign(p), "not signed with this store's key"),
        (lambda p: MAGIC + b"\0" * TAG_BYTES + p, "not signed with this store's key"),
        (lambda p: SIGNER.sign(p)[: len(MAGIC) + 10], r"cut-short signature \(10 of 32"),
        (lambda p: SIGNER.sign(p)[:-1], "not signed with this store's key"),  # cut pickle
        (lambda p: SIGNER.sign(p) + b".", "not signed with this store's key"),  # extended
    ],
    ids=["unsigned", "other-key", "zero-tag", "truncated-tag", "truncated-body", "appended"],
)
def test_anything_not_signed_with_the_key_is_refused_unloaded(
    tmp_path: Path, make: Any, reason: str
) -> None:
    marker = tmp_path / "planted"
    with pytest.raises(UntrustedPayloadError, match=reason) as refused:
        deserialize(PICKLE, make(forged(marker)), SIGNER, "the stored result of task run 'x'")
    assert str(refused.value).startswith("The stored result of task run 'x'")
    assert "refusing to unpickle it" in str(refused.value)
    assert isinstance(refused.value, CorruptRecordError)  # what resume and the CLI catch
    assert not marker.exists()


def test_an_unsigned_pickle_says_it_is_unsigned_not_corrupt() -> None:
    with pytest.raises(UntrustedPayloadError) as refused:
        deserialize(PICKLE, pickle.dumps((1, 2)), SIGNER)
    message = str(refused.value)
    assert "not signed" in message and "unsigned" in message and "the test key" in message
    assert "cannot be decoded" not in message


def test_the_key_is_fetched_once_on_first_use_and_never_for_json() -> None:
    fetched: list[int] = []

    def fetch() -> bytes:
        fetched.append(1)
        return KEY

    signer = Signer(fetch, "counted")
    assert deserialize(*serialize([1, 2], signer), signer) == [1, 2]
    assert fetched == []  # JSON: no key needed
    for value in ((1,), (2,), {3}):
        assert deserialize(*serialize(value, signer), signer) == value
    assert fetched == [1]
    assert SIGNER.verify(signer.sign(b"x"), "same key") == b"x"


def test_a_key_that_cannot_be_read_fails_the_pickle_not_json() -> None:
    def fetch() -> bytes:
        raise SigningKeyError("no key here")

    signer = Signer(fetch, "broken")
    assert serialize("fine", signer) == (JSON, b'"fine"')
    with pytest.raises(SigningKeyError, match="no key here"):
        serialize((1,), signer)


# -- the key file ------------------------------------------------------------------------


def test_the_key_file_is_made_once_with_mode_0600(tmp_path: Path) -> None:
    home = tmp_path / "home"
    key = read_key_file(home / KEY_FILE)
    info = (home / KEY_FILE).stat()
    assert info.st_mode & 0o777 == 0o600
    assert len(key) == 64 and int(key, 16) >= 0
    assert read_key_file(home / KEY_FILE) == key
    assert sorted(p.name for p in home.iterdir()) == [KEY_FILE]  # no temporary left
    other = tmp_path / "other"
    assert local_signer(other).verify(local_signer(other).sign(b"p"), "x") == b"p"
    with pytest.raises(UntrustedPayloadError, match="not signed with this store's key"):
        local_signer(tmp_path / "other").verify(local_signer(home).sign(b"p"), "x")


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o620, 0o602])
def test_a_key_file_others_can_read_or_write_is_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / KEY_FILE
    read_key_file(path)
    path.chmod(mode)
    with pytest.raises(SigningKeyError, match=rf"Permissions 0{mode:o} .* too open.*chmod 600"):
        read_key_file(path)
    with pytest.raises(SigningKeyError):
        local_signer(tmp_path).sign(b"p")


def test_a_key_file_of_another_user_is_refused(tmp_path: Path) -> None:
    path = tmp_path / KEY_FILE
    read_key_file(path)
    if os.geteuid() != 0:
        pytest.skip("only root can give a file to another user")
    os.chown(path, 54321, -1)
    with pytest.raises(SigningKeyError, match=r"owned by another user \(uid 54321\)"):
        read_key_file(path)


def test_a_short_or_odd_key_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / KEY_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, b"short\n")
    os.close(fd)
    with pytest.raises(SigningKeyError, match="holds 5 bytes, fewer than 32"):
        read_key_file(path)
    path.unlink()
    path.mkdir(mode=0o700)
    with pytest.raises(SigningKeyError, match="not a regular file"):
        read_key_file(path)


def test_no_key_is_made_in_a_folder_everyone_may_write(tmp_path: Path) -> None:
    home = tmp_path / "shared"
    home.mkdir()
    home.chmod(0o777)
    with pytest.raises(SigningKeyError, match=r"writable by every user.*chmod o-w"):
        read_key_file(home / KEY_FILE)
    assert list(home.iterdir()) == []
    assert isinstance(SigningKeyError("x"), StoreUnavailableError)


def _read_key_at(path: str, start: Any, out: Any) -> None:
    start.wait()
    out.put(read_key_file(Path(path)))


def test_processes_starting_together_end_with_one_key(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    for attempt in range(5):
        path = tmp_path / f"home-{attempt}" / KEY_FILE
        start, out = context.Event(), context.Queue()
        processes = [
            context.Process(target=_read_key_at, args=(str(path), start, out)) for _ in range(8)
        ]
        for process in processes:
            process.start()
        start.set()
        keys = {out.get(timeout=30) for _ in processes}
        for process in processes:
            process.join(timeout=30)
            assert process.exitcode == 0
        assert keys == {read_key_file(path)}
        assert [p.name for p in path.parent.iterdir()] == [KEY_FILE]


# -- the stack's secret ------------------------------------------------------------------


@pytest.fixture
def secrets_client(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        yield boto3.client("secretsmanager", region_name=REGION)


class Counting:
    """The moto client, with its ``get_secret_value`` calls counted."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.calls = 0

    def get_secret_value(self, **kwargs: Any) -> Any:
        self.calls += 1
        return self.client.get_secret_value(**kwargs)


def test_the_secret_is_read_once_per_signer(
    secrets_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    arn = signing_secret(monkeypatch)
    counting = Counting(secrets_client)
    made: list[int] = []

    def client() -> Any:
        made.append(1)
        return counting

    signer = secret_signer(arn, client)
    assert made == []  # nothing is fetched before a pickle needs the key
    signed = signer.sign(b"pickle")
    assert signer.verify(signed, "x") == b"pickle"
    assert (made, counting.calls) == ([1], 1)
    key = secrets_client.get_secret_value(SecretId=arn)["SecretString"].encode()
    assert Signer(key, "same").verify(signed, "x") == b"pickle"


def test_a_missing_or_unset_secret_says_what_to_set(
    secrets_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = secret_signer("no-such-secret", lambda: secrets_client)
    with pytest.raises(SigningKeyError, match=r"'no-such-secret' does not exist.*SigningKeyS"):
        missing.sign(b"p")
    unset = secret_signer("", lambda: secrets_client)
    with pytest.raises(SigningKeyError, match="needs FLOWLESS_SIGNING_SECRET"):
        unset.sign(b"p")
    short = secrets_client.create_secret(Name="short", SecretString="abc")["ARN"]
    with pytest.raises(SigningKeyError, match="holds 3 bytes"):
        secret_signer(short, lambda: secrets_client).sign(b"p")


# -- locations ---------------------------------------------------------------------------


def test_a_file_location_outside_the_results_folder_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "home" / "results"
    results = Results(LocalFileStorage(root), 0, SIGNER)
    inside = results.dump((1, 2))
    assert inside.location is not None and results.load(inside) == (1, 2)

    outside = tmp_path / "outside.pickle"
    outside.write_bytes(SIGNER.sign(cloudpickle.dumps((3, 4))))  # signed, still refused
    (root / "link").symlink_to(outside)
    for location in (
        str(outside),
        str(root / ".." / "outside.pickle"),
        str(root / "link"),
        str(root),
        "/etc/passwd",
    ):
        with pytest.raises(UntrustedPayloadError, match="outside this store's results folder"):
            results.load(Payload(PICKLE, None, location))
        with pytest.raises(UntrustedPayloadError, match=str(root.resolve())):
            results.check_location(location)


def test_an_s3_location_outside_the_bucket_prefix_is_refused(tmp_path: Path) -> None:
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        for bucket in ("results", "elsewhere"):
            s3.create_bucket(Bucket=bucket)
        results = Results(S3BlobStorage("results", s3), 0, SIGNER)
        inside = results.dump((1, 2))
        assert inside.location is not None and inside.location.startswith("s3://results/results/")
        assert results.load(inside) == (1, 2)
        data = s3.get_object(Bucket="results", Key=inside.location[len("s3://results/") :])
        body = data["Body"].read()
        s3.put_object(Bucket="elsewhere", Key="results/x.pickle", Body=body)
        s3.put_object(Bucket="results", Key="uploads/x.pickle", Body=body)
        for location in (
            "s3://elsewhere/results/x.pickle",
            "s3://results/uploads/x.pickle",
            "s3://results/results/../uploads/x.pickle",
            "s3://results/results/",
            "s3://results/results//x.pickle",
            "/var/task/x.pickle",
        ):
            with pytest.raises(UntrustedPayloadError, match=r"outside .* \(s3://results/results/"):
                results.load(Payload(PICKLE, None, location))


# -- exceptions on the wire --------------------------------------------------------------


def test_a_pickled_exception_travels_signed(tmp_path: Path) -> None:
    wire = error_to_wire(KeyError("k"), SIGNER)
    assert isinstance(error_from_wire(wire, SIGNER), KeyError)
    unsigned = error_to_wire(KeyError("k"))
    assert unsigned["pickled"] is None  # no signer: type and message only


def test_a_forged_pickled_exception_is_refused_unloaded(tmp_path: Path) -> None:
    import base64

    marker = tmp_path / "planted"
    for payload in (forged(marker), Signer(b"x" * 32, "other").sign(forged(marker))):
        wire = {"type": "KeyError", "message": "k", "pickled": base64.b64encode(payload).decode()}
        with pytest.raises(WireError, match=r"pickled exception .* refusing to unpickle"):
            error_from_wire(wire, SIGNER)
        # Without a signer nothing is unpickled: the type and message travel.
        assert str(error_from_wire(wire)) == "KeyError: k"
    assert not marker.exists()
