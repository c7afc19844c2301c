"""An S3 bucket (or an S3-compatible store) as publish target, through botocore.

botocore is boto3's core: the client, credentials chain, retries and signing. boto3 itself
adds resources and the transfer helpers on top; importing it cost a publish with nothing to
do a tenth of a second, so the client is botocore's, and s3transfer (the package behind
boto3's `upload_file`) is imported only when a file is large enough for a multipart upload.
"""

from __future__ import annotations

import base64
import builtins
import contextlib
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast
from urllib.parse import urlsplit, urlunsplit
from xml.etree import ElementTree

import botocore.exceptions
import botocore.session
from botocore.config import Config

from fo_cast.errors import ConfigError, StorageError
from fo_cast.outputs import Output
from fo_cast.storage import (
    LOCK_KEY,
    RESERVED_PREFIX,
    HashIndex,
    Progress,
    RemoteObject,
    ServerUnreachable,
    TargetState,
    state_digest,
)

HASH_METADATA = "fo-cast-sha256"  # sent as x-amz-meta-fo-cast-sha256
# On an object fo-cast wrote but whose bytes it cannot vouch for (see _disown): still its
# own, so a later --prune may delete it, and a re-run is no "first publish" into others' files.
OWNER_METADATA = "fo-cast-written"
# What S3 answers when a conditional write finds the object changed: 412, or 409 when two
# conditional writes to one key race each other.
_CHANGED = ("PreconditionFailed", "412", "ConditionalRequestConflict", "409")
MB = 1024 * 1024
LIST_PAGE = 1000  # objects per listing request: S3's most
# A listing page carries at least one of these (a web page answering 200 carries none).
LISTING_FIELDS = {"Name", "KeyCount", "IsTruncated", "Contents", "Prefix", "MaxKeys"}
# A record's body (index, GUID record, lock) may take BODY_SECONDS plus a second for each
# BODY_RATE bytes it holds; one that trickles in more slowly than that ends the read.
BODY_SECONDS = 60.0
BODY_RATE = 100_000
NOT_S3 = "is the endpoint an S3 server? (check --endpoint-url)"
MAX_EMPTY_PAGES = 100  # truncated pages in a row without an object: a server listing for ever
MAX_LISTED = 10_000_000  # objects under one prefix; past it, a listing that never ends

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


class S3Storage:
    """Publishes to s3://bucket/prefix with exact headers and the sha256 in object metadata.

    Credentials come from the standard AWS chain (environment, profiles, instance roles);
    AWS_ENDPOINT_URL or `endpoint_url` points it at an S3-compatible server.

    `max_attempts` counts every try of a request, the first included. The defaults bound
    what a lost network costs. A refused connection fails within a second (botocore backs
    off 50 ms and up for it; 1 s and up, at most 7 s in all, for throttling and 5xx). A
    server that accepts connections but stops answering costs every try 1 s of waiting for
    `100 Continue` plus the read timeout: about 1 min per request, and a multipart upload
    then spends as long again trying to abort itself. The settings before (60 s read
    timeout, 9 tries) made that 10 min per request.
    """

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        profile: str | None = None,
        region: str | None = None,
        retry_mode: Literal["legacy", "standard", "adaptive"] = "standard",
        max_attempts: int = 4,
        workers: int = 8,
        multipart_threshold: int = 64 * MB,
        multipart_chunksize: int = 16 * MB,
        part_concurrency: int = 4,
        checksum: bool = True,
        connect_timeout: float = 5,
        read_timeout: float = 15,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.checksum = checksum
        self.multipart_threshold = multipart_threshold
        self.workers = workers
        self._endpoint = endpoint_url or os.environ.get("AWS_ENDPOINT_URL_S3")
        self._endpoint = self._endpoint or os.environ.get("AWS_ENDPOINT_URL")
        if self._endpoint:
            parts = urlsplit(self._endpoint)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                # boto3 would raise a bare ValueError; the URL is not echoed (it may hold a key).
                raise ConfigError(
                    "the S3 endpoint must be an http:// or https:// URL, "
                    "such as http://127.0.0.1:8333"
                )
            if "@" in parts.netloc:  # botocore's messages would repeat it
                raise ConfigError(
                    "the S3 endpoint URL carries no credentials; set AWS_ACCESS_KEY_ID and "
                    "AWS_SECRET_ACCESS_KEY, or AWS_PROFILE"
                )
        self._index = HashIndex(self)  # its tag is the index object's ETag
        self._tags: dict[str, str | None] = {}  # fo-cast's records as last read or written
        self._transfer = {
            "multipart_threshold": multipart_threshold,
            "multipart_chunksize": multipart_chunksize,
            "max_request_concurrency": part_concurrency,
        }
        config = Config(
            # botocore's own backoff handles throttling, 5xx and dropped connections.
            # total_max_attempts counts the first try; botocore's "max_attempts" does not.
            retries={"mode": retry_mode, "total_max_attempts": max_attempts},
            # S3 compatibles rarely support virtual-host buckets on a bare IP or localhost.
            s3={
                "addressing_style": "path" if self._endpoint else "auto",
                # Over http botocore would read every file once more to sign its SHA-256;
                # the checksum header (signed, checked by the server) already vouches for
                # every byte, so the payload goes unsigned, as botocore does over https.
                **({"payload_signing_enabled": False} if checksum else {}),
            },
            max_pool_connections=workers * part_concurrency + 4,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            # Some S3 compatibles reject the CRC trailers botocore adds by default.
            request_checksum_calculation="when_supported" if checksum else "when_required",
            response_checksum_validation="when_supported" if checksum else "when_required",
        )
        with self._errors("set up the S3 client"):
            session = botocore.session.Session(profile=profile)
            # Listings carry a date per object that nothing here reads: parsing 1,000 of them
            # into datetimes took longer than the request. Dates stay ISO 8601 strings.
            parsers = session.get_component("response_parser_factory")
            parsers.set_parser_defaults(timestamp_parser=str)
            client = session.create_client(
                "s3",
                endpoint_url=endpoint_url,
                region_name=region or session.get_config_variable("region") or "us-east-1",
                config=config,
            )
            client.meta.events.register("before-parse.s3.ListObjectsV2", _read_listing)
            self._client = cast("S3Client", client)

    def local_folder(self) -> Path | None:
        return None

    def describe(self) -> str:
        url = f"s3://{self.bucket}/{self.prefix}".rstrip("/")
        if self._endpoint:
            parts = urlsplit(self._endpoint)
            host = parts.hostname or ""
            netloc = f"{host}:{parts.port}" if parts.port else host  # drop any user:password@
            url += f" at {urlunsplit((parts.scheme, netloc, parts.path, '', ''))}"
        return url

    def list(self) -> dict[str, RemoteObject]:
        """Returns the objects under the prefix from one paginated listing plus the hash index.

        Objects the index does not vouch for (written by another tool, or by a publish killed
        before it saved the index) are read with one HEAD each, so a re-run uploads only what
        did not arrive.
        """
        listed = {
            key: (size, etag)
            for key, size, etag in self._listing()
            if not key.startswith(RESERVED_PREFIX)
        }
        known = self._index.known()  # what this instance wrote since it was saved counts too
        found: dict[str, RemoteObject] = {}
        unknown: list[str] = []
        for key, (size, etag) in listed.items():
            entry = known.get(key)
            if entry and entry.etag == etag and entry.size == size:
                found[key] = entry
            else:
                unknown.append(key)
        with ThreadPoolExecutor(self.workers) as pool:
            for obj in pool.map(self._head, unknown):
                found[obj.key] = obj
        self._index.seen(found, known)
        return found

    def state(self) -> TargetState:
        """Returns the state one paginated listing shows (1,000 objects a request)."""
        listed = self._listing()
        locked = any(key == LOCK_KEY for key, _, _ in listed)
        return TargetState(state_digest(self._where(), listed), locked)

    def settled_state(self) -> TargetState:
        records = [(key, None, tag) for key, tag in self._tags.items() if tag is not None]
        return TargetState(state_digest(self._where(), [*self._index.objects(), *records]))

    def _listing(self) -> builtins.list[tuple[str, int, str]]:
        """Returns (key, size, ETag) of every object under the prefix, fo-cast's records too."""
        listed: builtins.list[tuple[str, int, str]] = []
        seen: set[str] = set()  # the first key of each page
        empty = 0  # truncated pages in a row without an object
        with self._errors("list"):
            pages = self._client.get_paginator("list_objects_v2")
            start = self.prefix + "/" if self.prefix else ""
            try:
                for page in pages.paginate(
                    Bucket=self.bucket, Prefix=start, PaginationConfig={"PageSize": LIST_PAGE}
                ):
                    if not LISTING_FIELDS & page.keys():  # a web page answering 200
                        raise self._unlisted("the answer is not an S3 listing")
                    contents = page.get("Contents") or []
                    empty = 0 if contents else empty + 1
                    if empty > MAX_EMPTY_PAGES:
                        raise self._unlisted(f"{empty} pages in a row held no object, yet more")
                    if len(listed) > MAX_LISTED:
                        raise self._unlisted(f"it has gone on past {MAX_LISTED:,} objects")
                    for n, item in enumerate(contents):
                        whole, size, etag = item.get("Key"), item.get("Size"), item.get("ETag")
                        if not (isinstance(whole, str) and isinstance(size, int) and etag):
                            raise self._unlisted(f"an entry lacks its key, size or ETag: {item}")
                        if n == 0:  # a page starting where an earlier one did: for ever
                            if whole in seen:
                                raise self._unlisted(f"it lists {whole!r} twice")
                            seen.add(whole)
                        key = whole[len(start) :]
                        if key:
                            listed.append((key, size, str(etag).strip('"')))
            except ValueError as error:  # botocore could not read a field (a Size of "NaN")
                raise self._unlisted(f"it cannot be read ({error})") from None
        return listed

    def _unlisted(self, why: str) -> StorageError:
        return self._no_s3("list", why)

    def _no_s3(self, doing: str, why: str) -> StorageError:
        """Returns the error for an answer no S3 server gives (a web page answering 200)."""
        return StorageError(f"{self.describe()}: cannot {doing}: {why}; {NOT_S3}")

    def _where(self) -> str:
        return f"s3\0{self._client.meta.endpoint_url}\0{self.bucket}\0{self.prefix}"

    def put(
        self,
        output: Output,
        content_hash: str,
        cache_control: str,
        progress: Progress | None = None,
    ) -> RemoteObject:
        """Returns the object as stored; the server checks the bytes against their checksum."""
        args: dict[str, Any] = {
            "ContentType": output.content_type,
            "CacheControl": cache_control,
            "Metadata": {HASH_METADATA: content_hash},
        }
        if output.redirect:  # a re-slugged episode's old key: the website endpoint 301s
            args["WebsiteRedirectLocation"] = output.redirect
        with self._errors(f"upload {output.path}"):
            if output.rendered or output.length < self.multipart_threshold:
                etag = self._put_object(output, content_hash, args)
                if progress:
                    progress(output.length)
            else:
                assert output.source is not None
                if self.checksum:
                    args["ChecksumAlgorithm"] = "CRC32"  # per part; sha256 is in metadata
                before = _stat(output.source)
                self._upload_parts(output.source, self._key(output.path), args, progress)
                if _stat(output.source) != before:
                    self._disown(output, cache_control)
                    raise StorageError(
                        f"{self.describe()}: {output.source} changed while it was uploaded "
                        f"as {output.path}; run publish again"
                    )
                etag = self._head(output.path).etag  # upload_file does not return the ETag
        stored = RemoteObject(
            output.path,
            output.length,
            content_hash,
            etag,
            output.content_type,
            cache_control,
            ours=True,
        )
        self._index.remember(stored)
        return stored

    def delete(self, keys: Sequence[str]) -> None:
        for start in range(0, len(keys), 1000):  # DeleteObjects takes at most 1,000 keys
            batch: list[Any] = [{"Key": self._key(k)} for k in keys[start : start + 1000]]
            with self._errors("delete"):
                reply = self._client.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True}
                )
            if reply.get("Errors"):
                first = reply["Errors"][0]
                raise StorageError(
                    f"{self.describe()}: cannot delete {len(reply['Errors'])} objects, "
                    f"e.g. {first.get('Key')}: {first.get('Code')}: {first.get('Message')}"
                )
            self._index.forget(keys[start : start + 1000])

    def read(self, key: str) -> bytes | None:
        try:
            with self._errors(f"read {key}"):
                reply = self._client.get_object(Bucket=self.bucket, Key=self._key(key))
                return self._body(reply, f"read {key}")
        except _Missing:
            return None

    def cleanup(self, older_than: float | None = None) -> int:
        """Returns how many incomplete multipart uploads under the prefix were aborted.

        Run at the start and end of a publish: parts of an upload that was killed are invisible
        but still stored (and billed) until aborted. fo-cast publish runs it holding the
        target's lock; without the lock, pass `older_than` (seconds) so only uploads started
        that long ago go, never those of a publish running right now.
        """
        aborted = 0
        start = self.prefix + "/" if self.prefix else ""
        limit = None if older_than is None else time.time() - older_than
        with self._errors("clean up incomplete uploads"):
            pages = self._client.get_paginator("list_multipart_uploads")
            for page in pages.paginate(Bucket=self.bucket, Prefix=start):
                for upload in page.get("Uploads", []):
                    if limit is not None and _when(upload["Initiated"]) > limit:
                        continue
                    self._client.abort_multipart_upload(
                        Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                    )
                    aborted += 1
        return aborted

    def claim(self, keys: Sequence[str]) -> None:
        self._index.claim(keys)

    def intend(self, hashes: Mapping[str, str]) -> None:
        """Nothing to record: every object fo-cast puts carries its mark in its metadata."""

    def save_index(self) -> None:
        self._index.save()

    def read_tagged(self, key: str) -> tuple[bytes | None, str | None]:
        try:
            with self._errors(f"read {key}"):
                reply = self._client.get_object(Bucket=self.bucket, Key=self._key(key))
                body = self._body(reply, f"read {key}")
                etag = self._etag_of(reply, f"read {key}")
                self._tags[key] = etag
                return body, etag
        except _Missing:
            self._tags[key] = None
            return None, None

    def write_if(self, key: str, data: bytes, tag: str | None) -> str | None:
        """Returns the new ETag; None when the object changed (If-Match / If-None-Match: *)."""
        condition = {"IfNoneMatch": "*"} if tag is None else {"IfMatch": tag}
        try:
            with self._errors(f"write {key}"):
                reply = self._client.put_object(
                    Bucket=self.bucket,
                    Key=self._key(key),
                    Body=data,
                    ContentType="application/json",
                    CacheControl="no-store",
                    **condition,  # type: ignore[arg-type]
                )
        except _Changed:
            return None
        etag = self._etag_of(reply, f"write {key}")
        self._tags[key] = etag
        return etag

    def _body(self, reply: Any, doing: str) -> bytes:
        """Returns the body of a GetObject answer, read in pieces against a deadline: the read
        timeout bounds each wait for bytes, not a body that trickles in a byte a second."""
        stream, parts, received = reply["Body"], [], 0
        # urllib3's read1() returns what has come; read(n) would wait for all n bytes
        raw: Any = getattr(stream, "_raw_stream", None)
        read = raw.read1 if hasattr(raw, "read1") else stream.read
        started = time.monotonic()
        while piece := read(64 * 1024):
            parts.append(piece)
            received += len(piece)
            if time.monotonic() - started > BODY_SECONDS + received / BODY_RATE:
                raise StorageError(
                    f"{self.describe()}: cannot {doing}: {received:,} bytes came in "
                    f"{time.monotonic() - started:.0f} s, too slowly to wait for the rest "
                    "(check the network, or the endpoint)"
                )
        expected = reply.get("ContentLength")
        if isinstance(expected, int) and received != expected:
            raise StorageError(
                f"{self.describe()}: cannot {doing}: the connection ended after {received:,} "
                f"of {expected:,} bytes; run it again"
            )
        return b"".join(parts)

    def _etag_of(self, reply: Any, doing: str) -> str:
        """Returns the ETag of an S3 answer; a server that gives none is no S3 (a web page
        answering 200 to everything), which nothing fo-cast does can work with."""
        etag = reply.get("ETag") if isinstance(reply, dict) else None
        if not etag:
            raise self._no_s3(doing, "the answer carries no ETag")
        return str(etag)

    def delete_if(self, key: str, tag: str) -> bool:
        try:
            with self._errors(f"delete {key}"):
                self._client.delete_object(Bucket=self.bucket, Key=self._key(key), IfMatch=tag)
        except _Changed:
            return False
        self._tags[key] = None
        return True

    def _put_object(self, output: Output, content_hash: str, args: dict[str, Any]) -> str:
        if self.checksum:
            # The server recomputes it and refuses the upload if a byte differs; it also
            # catches a media file edited between plan and upload.
            args["ChecksumSHA256"] = base64.b64encode(bytes.fromhex(content_hash)).decode()
        key = self._key(output.path)
        if (data := output.data) is not None:  # read once: it may be kept on disk
            reply = self._client.put_object(Bucket=self.bucket, Key=key, Body=data, **args)
        else:
            assert output.source is not None
            with open(output.source, "rb") as body:  # streamed; botocore rewinds on retry
                reply = self._client.put_object(
                    Bucket=self.bucket, Key=key, Body=body, ContentLength=output.length, **args
                )
        return self._etag_of(reply, f"write {output.path}").strip('"')

    def _upload_parts(
        self, source: Path, key: str, args: dict[str, Any], progress: Progress | None
    ) -> None:
        """Uploads a large file in parts, several at once (what boto3's upload_file does)."""
        from s3transfer.manager import TransferConfig, TransferManager
        from s3transfer.subscribers import BaseSubscriber

        class Reporter(BaseSubscriber):
            def on_progress(self, future: Any, bytes_transferred: int, **kwargs: Any) -> None:
                if progress is not None:
                    progress(bytes_transferred)

        with TransferManager(self._client, TransferConfig(**self._transfer)) as manager:
            future = manager.upload(str(source), self.bucket, key, args, [Reporter()])
            future.result()

    def _disown(self, output: Output, cache_control: str) -> None:
        """Removes the sha256 from an object whose source changed while its parts were sent.

        The server checks each part's CRC but not the whole, and the hash went into the
        metadata before the first part was read: the stored bytes (perhaps half old, half
        new) may not be what it claims. Without it, every later plan sends the file again,
        even if the edit is undone. The object stays, since a published feed may point at it,
        marked as fo-cast's (OWNER_METADATA) without a hash.
        """
        key = self._key(output.path)
        self._client.copy_object(
            Bucket=self.bucket,
            Key=key,
            CopySource={"Bucket": self.bucket, "Key": key},
            MetadataDirective="REPLACE",
            Metadata={OWNER_METADATA: "unverified"},
            ContentType=output.content_type,
            CacheControl=cache_control,
        )

    def _head(self, key: str) -> RemoteObject:
        with self._errors(f"inspect {key}"):
            reply = self._client.head_object(Bucket=self.bucket, Key=self._key(key))
        metadata = reply.get("Metadata") or {}
        content_hash = metadata.get(HASH_METADATA)
        size = reply.get("ContentLength")
        if not isinstance(size, int):
            raise self._no_s3(f"inspect {key}", "the answer carries no Content-Length")
        return RemoteObject(
            key,
            size,
            content_hash,
            self._etag_of(reply, f"inspect {key}").strip('"'),
            reply.get("ContentType"),
            reply.get("CacheControl"),
            # only fo-cast stores its sha256 (or its mark) in the metadata
            ours=content_hash is not None or OWNER_METADATA in metadata,
        )

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    @contextlib.contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        """Turns botocore's many exceptions into one StorageError with a plain message."""
        try:
            yield
        except botocore.exceptions.ClientError as error:
            info = error.response.get("Error", {})
            code = str(info.get("Code", ""))
            if code in ("NoSuchKey", "404", "NotFound") and doing.startswith("read "):
                raise _Missing from None
            if code in _CHANGED and doing.startswith(("write ", "delete ")):
                raise _Changed from None
            message = info.get("Message") or code
            raise StorageError(
                f"{self.describe()}: cannot {doing}: {code}: {message}".rstrip(": ")
            ) from error
        except botocore.exceptions.NoCredentialsError as error:
            raise StorageError(
                f"{self.describe()}: no AWS credentials found: set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY, or AWS_PROFILE"
            ) from error
        except botocore.exceptions.ProfileNotFound as error:
            raise StorageError(f"{self.describe()}: {error}") from error
        except (
            # refused, connect/read timeouts, proxy and TLS failures; dropped connections
            botocore.exceptions.ConnectionError,
            botocore.exceptions.HTTPClientError,
        ) as error:
            raise ServerUnreachable(
                f"{self.describe()}: cannot {doing}: the server could not be reached "
                "(retried; check the endpoint and network)"
            ) from error
        except botocore.exceptions.BotoCoreError as error:
            raise StorageError(f"{self.describe()}: cannot {doing}: {error}") from error


def _read_listing(response_dict: dict[str, Any], customized_response_dict: dict[str, Any],
                  **kwargs: Any) -> None:  # fmt: skip
    """Reads a listing page's objects (key, size, ETag) before botocore parses the page.

    botocore's parser walks its model for every field of every object: for 1,000 objects
    that took about as long as the server took to answer. ElementTree reads the three
    fields the listing uses; the objects leave the body, botocore parses what is left
    (IsTruncated, the continuation token, ...) and adds the objects read here, then, as
    for any listing, URL-decodes their keys. A page it cannot read is left to botocore.
    """
    if response_dict.get("status_code") != 200:
        return
    try:
        root = ElementTree.fromstring(response_dict["body"])
    except ElementTree.ParseError:
        return
    ns = root.tag[: root.tag.index("}") + 1] if root.tag.startswith("{") else ""
    found = root.findall(ns + "Contents")
    if not found:
        return
    try:
        contents = [
            {
                "Key": item.findtext(ns + "Key") or "",
                "Size": int(item.findtext(ns + "Size") or "0"),
                "ETag": item.findtext(ns + "ETag") or "",
            }
            for item in found
        ]
    except ValueError:
        return
    for item in found:
        root.remove(item)
    response_dict["body"] = ElementTree.tostring(root)
    customized_response_dict["Contents"] = contents


def _when(value: object) -> float:
    """Returns the Unix time of a date the client left as its ISO 8601 text (or a datetime)."""
    if isinstance(value, datetime):
        return value.timestamp()
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


def _stat(path: os.PathLike[str]) -> tuple[int, int]:
    stat = os.stat(path)
    return stat.st_size, stat.st_mtime_ns


class _Missing(Exception):
    """A read found no object; internal to S3Storage.read."""


class _Changed(Exception):
    """A conditional write or delete found the object changed; internal to S3Storage."""


__all__ = ["HASH_METADATA", "OWNER_METADATA", "S3Storage"]
