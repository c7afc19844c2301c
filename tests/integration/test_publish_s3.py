"""The publish suite against a real S3 server (SeaweedFS), plus what only S3 has."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from fo_cast.errors import ConfigError, StorageError
from fo_cast.outputs import Build, Output, Stage
from fo_cast.publish.plan import plan_publish
from fo_cast.publish.run import Sent, Uploaded, publish
from fo_cast.storage import INDEX_KEY, Storage, storage_for
from fo_cast.storage.s3 import HASH_METADATA, S3Storage

from .suite import PublishSuite, Show, plan_for, run

pytestmark = pytest.mark.integration
MB = 1024 * 1024


@dataclass
class S3Target:
    server: Any  # tests.s3server.S3Server
    prefix: str
    options: dict[str, Any]

    @property
    def url(self) -> str:
        return f"s3://{self.server.bucket}/{self.prefix}"

    @property
    def base_url(self) -> str:
        return self.server.public_url(self.prefix)

    @property
    def endpoint_url(self) -> str:
        return str(self.server.endpoint)

    def storage(self) -> Storage:
        return storage_for(self.url, self.endpoint_url, **self.options)

    def stored_keys(self) -> set[str]:
        pages = self.server.client().get_paginator("list_objects_v2")
        found = set()
        for page in pages.paginate(Bucket=self.server.bucket, Prefix=self.prefix + "/"):
            found |= {o["Key"][len(self.prefix) + 1 :] for o in page.get("Contents", [])}
        return found

    def headers(self, key: str) -> tuple[str | None, str | None, str | None]:
        head = self.server.client().head_object(
            Bucket=self.server.bucket, Key=f"{self.prefix}/{key}"
        )
        return head["ContentType"], head.get("CacheControl"), head["Metadata"][HASH_METADATA]

    def add_foreign(self, key: str, data: bytes) -> None:
        self.server.client().put_object(
            Bucket=self.server.bucket, Key=f"{self.prefix}/{key}", Body=data
        )

    def read_back(self, key: str) -> bytes:
        reply = self.server.client().get_object(
            Bucket=self.server.bucket, Key=f"{self.prefix}/{key}"
        )
        body: bytes = reply["Body"].read()
        return body


@pytest.fixture
def target(s3_server: Any, monkeypatch: pytest.MonkeyPatch) -> S3Target:
    """Returns a fresh prefix in the test bucket, with the server's keys in the environment."""
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for name, value in s3_server.env.items():
        monkeypatch.setenv(name, value)
    return S3Target(s3_server, f"show-{uuid.uuid4().hex[:8]}", {"max_attempts": 2})


class TestPublishS3(PublishSuite):
    pass


def test_large_media_goes_multipart_with_hash_in_metadata(target: S3Target, tmp_path: Path) -> None:
    big = tmp_path / "big.mp3"
    big.write_bytes(os.urandom(11 * MB))
    target.options.update(multipart_threshold=5 * MB, multipart_chunksize=5 * MB)
    build = Build([Output("media/big.mp3", "audio/mpeg", Stage.MEDIA, source=big)])
    storage = target.storage()
    plan = plan_publish(build, storage.list())
    events = list(publish(plan, storage))
    sent = sum(e.bytes for e in events if isinstance(e, Sent))
    assert sent == 11 * MB and [e.key for e in events if isinstance(e, Uploaded)] == [
        "media/big.mp3"
    ]
    content_type, cache_control, sha256 = target.headers("media/big.mp3")
    assert (content_type, cache_control) == ("audio/mpeg", "public, max-age=86400")
    assert sha256 == plan.uploads[0].content_hash
    assert plan_publish(build, target.storage().list()).uploads == []


def test_listing_without_index_reads_metadata(target: S3Target, tmp_path: Path) -> None:
    show = Show(tmp_path / "built", target.base_url)
    run(show, target)
    target.server.client().delete_object(
        Bucket=target.server.bucket, Key=f"{target.prefix}/{INDEX_KEY}"
    )
    plan, _ = plan_for(show, target)
    assert plan.uploads == []


def test_object_from_another_tool_is_replaced(target: S3Target, tmp_path: Path) -> None:
    show = Show(tmp_path / "built", target.base_url)
    target.server.client().put_object(
        Bucket=target.server.bucket,
        Key=f"{target.prefix}/media/ep-1.mp3",
        Body=show.media(1).read_bytes(),
    )
    plan, _ = plan_for(show, target)
    assert plan.uploads[0].key == "media/ep-1.mp3"
    assert (plan.uploads[0].reason, plan.uploads[0].detail) == (
        "changed",
        "not published by fo-cast",
    )


def test_server_refuses_bytes_that_do_not_match_the_hash(target: S3Target) -> None:
    storage = target.storage()
    output = Output("feed.xml", "application/rss+xml", Stage.FEED, data=b"<rss/>")
    with pytest.raises(StorageError, match=r"cannot upload feed.xml: BadDigest"):
        storage.put(output, "0" * 64, "public, max-age=300")


def test_cleanup_aborts_incomplete_multipart_uploads(target: S3Target) -> None:
    client = target.server.client()
    client.create_multipart_upload(Bucket=target.server.bucket, Key=f"{target.prefix}/x.mp3")
    assert target.storage().cleanup() == 1
    left = client.list_multipart_uploads(Bucket=target.server.bucket, Prefix=target.prefix + "/")
    assert left.get("Uploads", []) == []


def test_wrong_secret_is_a_plain_storage_error(target: S3Target, monkeypatch: Any) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    with pytest.raises(StorageError) as caught:
        target.storage().list()
    message = str(caught.value)
    assert message.startswith(f"{target.url} at {target.endpoint_url}: cannot list: ")
    assert "not-the-secret" not in message


def test_unreachable_endpoint_is_a_plain_storage_error(target: S3Target) -> None:
    storage = S3Storage("bucket", "show", endpoint_url="http://127.0.0.1:9", max_attempts=1)
    with pytest.raises(StorageError) as caught:
        storage.list()
    assert str(caught.value) == (
        "s3://bucket/show at http://127.0.0.1:9: cannot list: the server could not be reached "
        "(retried; check the endpoint and network)"
    )


def test_credentials_in_the_endpoint_url_are_refused_and_never_shown() -> None:
    # boto3 never signs with them, and its own messages would repeat the URL.
    with pytest.raises(ConfigError) as error:
        S3Storage("bucket", "a/b/", endpoint_url="https://key:secret@s3.example.com:8443")
    assert "secret" not in str(error.value)
    storage = S3Storage("bucket", "a/b/", endpoint_url="https://s3.example.com:8443")
    assert storage.describe() == "s3://bucket/a/b at https://s3.example.com:8443"


def test_ctrl_c_during_multipart_leaves_no_object_and_no_parts(
    target: S3Target, tmp_path: Path
) -> None:
    big = tmp_path / "big.mp3"
    big.write_bytes(os.urandom(16 * MB))
    feed = Output("feed.xml", "application/rss+xml", Stage.FEED, data=b"<rss/>")
    media = Output("media/big.mp3", "audio/mpeg", Stage.MEDIA, source=big)
    target.options.update(multipart_threshold=5 * MB, multipart_chunksize=5 * MB)
    storage = target.storage()
    plan = plan_publish(Build([feed, media]), storage.list())
    with pytest.raises(KeyboardInterrupt):
        for event in publish(plan, storage):
            if isinstance(event, Sent):
                raise KeyboardInterrupt
    keys = target.stored_keys() - {INDEX_KEY}
    assert keys == set(), "the cancelled upload stops, and the feed never goes out"
    client = target.server.client()
    target.storage().cleanup()
    left = client.list_multipart_uploads(Bucket=target.server.bucket, Prefix=target.prefix + "/")
    assert left.get("Uploads", []) == []
    list(publish(plan_publish(Build([feed, media]), target.storage().list()), target.storage()))
    assert target.stored_keys() - {INDEX_KEY} == {"media/big.mp3", "feed.xml"}


def test_listing_pages_read_every_key_size_and_etag(
    target: S3Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The listing reads each page's objects itself (s3._read_listing): keys that S3 sends
    URL-encoded come back as they were put, across pages, with their sizes and ETags."""
    import fo_cast.storage.s3 as s3

    monkeypatch.setattr(s3, "LIST_PAGE", 3)
    client, bucket = target.server.client(), target.server.bucket
    keys = ["a b.mp3", "c+d/é.html", "e%20f.txt", "g&h<i>.xml", "plain/x", "z/ü/ñ.json", "~q"]
    for n, key in enumerate(keys):
        client.put_object(Bucket=bucket, Key=f"{target.prefix}/{key}", Body=b"x" * n)
    expected = {}
    for page in client.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=target.prefix + "/"
    ):
        for item in page["Contents"]:
            expected[item["Key"][len(target.prefix) + 1 :]] = (item["Size"], item["ETag"])
    assert sorted(expected) == sorted(keys)
    listed = target.storage().list()
    assert {k: (o.size, f'"{o.etag}"') for k, o in listed.items()} == expected
    assert not any(o.ours for o in listed.values())  # HEADs read: no fo-cast metadata
