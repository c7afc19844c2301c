"""Media facts over HTTP: probe_url() reads a URL's length and type, then its duration in ranges.

A HEAD gives the length and type; RangeReader then offers mutagen a seekable file over HTTP
Range requests, fetched in 64 KB blocks and kept, so probing a gigabyte MP4 whose moov box
sits at the end reads its first block, the box headers and the moov box: a few hundred KB.
Every probe is bounded in bytes (`max_bytes`) and in time (`deadline`).
"""

from __future__ import annotations

import http.client
import io
import os
import re
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any, BinaryIO, cast
from urllib.parse import unquote, urlsplit

from fo_cast.media.download import (
    USER_AGENT,
    RedirectRefused,
    describe_http_error,
    describe_network_error,
    opener,
    redacted,
    refused_url,
)
from fo_cast.media.probe import MediaInfo, ProbeError, probe_stream
from fo_cast.rules import MEDIA_TYPES

BLOCK = 64 * 1024
MAX_BYTES = 16 * 1024 * 1024  # a long video's moov box is a few MB at most
# what servers call media, by the suffix fo-cast probes it as
SERVED_TYPES = {
    "audio/mpeg": ".mp3",
    "audio/mp3": ".mp3",
    "audio/mp4": ".m4a",
    "audio/x-m4a": ".m4a",
    "audio/m4a": ".m4a",
    "video/mp4": ".mp4",
    "video/x-m4v": ".m4v",
    "video/quicktime": ".mov",
}


class RemoteError(ProbeError):
    """The URL could not be probed: unreachable, refused, no byte ranges, too slow or big."""


@dataclass(frozen=True)
class RemoteMedia:
    """What a probe over HTTP found: the media facts, and what the server said."""

    url: str  # as asked
    final_url: str  # after redirects
    info: MediaInfo  # info.size is the server's length
    served_type: str | None  # Content-Type, without parameters
    fetched: int  # body bytes read to probe it


def is_url(text: str) -> bool:
    """Returns True for an http(s) URL, which `fo-cast probe` reads over HTTP."""
    return text.lower().startswith(("http://", "https://"))


def probe_url(
    url: str, timeout: float = 15.0, deadline: float = 60.0, max_bytes: int = MAX_BYTES
) -> RemoteMedia:
    """Returns the facts of the media at an http(s) URL; raises RemoteError (or ProbeError
    for media that is not usable) reading at most max_bytes within deadline seconds."""
    refused = refused_url(url)
    if refused is not None:  # not a valid URL, or one with credentials: nothing is sent
        raise RemoteError(refused)
    # The deadline is checked before each request; a server that trickles one answer a byte
    # at a time would outlast it, so the probe runs aside and is abandoned when time is up.
    outcome: list[RemoteMedia | BaseException] = []

    def run() -> None:
        try:
            outcome.append(_probe(url, timeout, deadline, max_bytes))
        except BaseException as exc:  # handed to the caller's thread below
            outcome.append(exc)

    worker = threading.Thread(target=run, daemon=True, name="fo-cast-probe-url")
    worker.start()
    worker.join(deadline + 1)
    if not outcome:
        raise RemoteError(f"gave up after {deadline:g} s")
    if isinstance(outcome[0], BaseException):
        raise outcome[0]
    return outcome[0]


def _probe(url: str, timeout: float, deadline: float, max_bytes: int) -> RemoteMedia:
    reader = RangeReader(url, timeout=timeout, deadline=deadline, max_bytes=max_bytes)
    head = reader.head()
    reader.start(head.length)
    suffix = _suffix(url, reader.url, head.served_type)
    info = probe_stream(cast(BinaryIO, reader), reader.size, suffix)
    return RemoteMedia(url, reader.url, info, head.served_type, reader.fetched)


@dataclass(frozen=True)
class _Head:
    length: int | None
    served_type: str | None


def _suffix(url: str, final_url: str, served_type: str | None) -> str:
    for candidate in (final_url, url):
        suffix = PurePosixPath(unquote(urlsplit(candidate).path)).suffix.lower()
        if suffix in MEDIA_TYPES:
            return suffix
    if served_type in SERVED_TYPES:
        return SERVED_TYPES[served_type]
    names = ", ".join(sorted(MEDIA_TYPES))
    raise RemoteError(
        f"cannot tell what media this is: the URL does not end in {names} "
        f"and the server calls it {served_type or 'nothing'}"
    )


class RangeReader(io.RawIOBase):
    """A read-only, seekable file over HTTP Range requests, with a block cache."""

    def __init__(
        self,
        url: str,
        timeout: float = 15.0,
        deadline: float = 60.0,
        max_bytes: int = MAX_BYTES,
        block: int = BLOCK,
    ) -> None:
        super().__init__()
        self.url, self.timeout, self.deadline = url, timeout, deadline
        self.max_bytes, self.block = max_bytes, block
        self.size = 0
        self.fetched = 0
        self.position = 0
        self.blocks: dict[int, bytes] = {}
        self.ends = time.monotonic() + deadline
        self.opener = opener()

    # --- HTTP ---------------------------------------------------------------------------------

    def head(self) -> _Head:
        """Returns the length and type a HEAD announces (None where it is silent)."""
        try:
            with self._open("HEAD") as response:
                self.url = response.url
                return _Head(_int(response.headers.get("Content-Length")), _type(response))
        except RemoteError as exc:
            if isinstance(exc.__cause__, urllib.error.HTTPError) and exc.__cause__.code in (
                403,  # presigned URLs are signed for GET only
                405,
                501,
            ):
                return _Head(None, None)  # no HEAD here: the ranged GET tells the length
            raise

    def start(self, announced: int | None) -> None:
        """Reads the first block, learning the length; raises RemoteError without ranges."""
        with self._open("GET", 0, self.block - 1) as response:
            self.url = response.url
            whole = _int(response.headers.get("Content-Length"))
            if response.status == 200 and whole is not None and whole <= self.block:
                self.size = whole  # a small file sent whole, as some CDNs do: all is here
                self._store(0, self._body(response, whole))
                return
            if response.status != 206:
                raise RemoteError(
                    "the server does not answer byte-range requests (it sent the whole file "
                    "to a Range request); fo-cast cannot probe it, and Apple Podcasts refuses "
                    "media served without ranges"
                )
            total = _total(response.headers.get("Content-Range", ""))
            if total is None:
                raise RemoteError("the server's 206 answer gives no length (Content-Range)")
            if announced is not None and announced != total:
                raise RemoteError(
                    f"the server says {announced} bytes to HEAD but {total} to a range request"
                )
            self.size = total
            self._store(0, self._body(response, min(self.block, total)))

    def _open(self, method: str, first: int | None = None, last: int | None = None) -> Any:
        headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
        if first is not None:
            headers["Range"] = f"bytes={first}-{last}"
        request = urllib.request.Request(self.url, headers=headers, method=method)
        left = self.ends - time.monotonic()
        if left <= 0:
            raise RemoteError(f"gave up after {self.deadline:g} s")
        try:
            return self.opener.open(request, timeout=min(self.timeout, left))
        except RedirectRefused as exc:
            raise RemoteError(str(exc)) from None
        except urllib.error.HTTPError as exc:
            exc.close()
            raise RemoteError(describe_http_error(exc)) from exc
        except (OSError, http.client.HTTPException) as exc:
            host = urlsplit(self.url).hostname or self.url
            raise RemoteError(f"cannot read {host}: {describe_network_error(exc)}") from exc

    def _body(self, response: Any, expected: int) -> bytes:
        try:
            data = bytes(response.read(expected + 1))  # an endless body: never more
        except (OSError, http.client.HTTPException) as exc:
            raise RemoteError(f"the connection broke: {describe_network_error(exc)}") from exc
        if len(data) != expected:
            sent = f"more than {expected}" if len(data) > expected else str(len(data))
            raise RemoteError(f"asked for {expected} bytes, the server sent {sent}")
        self.fetched += len(data)
        return data

    def _fetch(self, first_block: int, last_block: int) -> None:
        first = first_block * self.block
        last = min(self.size, (last_block + 1) * self.block) - 1
        if self.fetched + (last - first + 1) > self.max_bytes:
            raise RemoteError(
                f"read {self.fetched} bytes without finding the duration "
                f"(the limit is {self.max_bytes}); give length, type and duration by hand"
            )
        with self._open("GET", first, last) as response:
            start = _start(response.headers.get("Content-Range", ""))
            if response.status != 206 or start != first:
                raise RemoteError(f"the server did not send the range {first}-{last}")
            self._store(first_block, self._body(response, last - first + 1))

    def _store(self, first_block: int, data: bytes) -> None:
        for index in range(0, len(data), self.block):
            self.blocks[first_block + index // self.block] = data[index : index + self.block]

    # --- the file interface mutagen uses -----------------------------------------------------

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.size}[whence]
        if base + offset < 0:
            raise OSError(22, "negative seek position")
        self.position = base + offset
        return self.position

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        wanted = min(len(view), max(0, self.size - self.position))
        if wanted == 0:
            return 0
        first, last = self.position // self.block, (self.position + wanted - 1) // self.block
        missing = [i for i in range(first, last + 1) if i not in self.blocks]
        while missing:  # one request per run of consecutive missing blocks
            run_end = 0
            while run_end + 1 < len(missing) and missing[run_end + 1] == missing[run_end] + 1:
                run_end += 1
            self._fetch(missing[0], missing[run_end])
            missing = missing[run_end + 1 :]
        data = b"".join(self.blocks[i] for i in range(first, last + 1))
        skip = self.position - first * self.block
        view[:wanted] = data[skip : skip + wanted]
        self.position += wanted
        return wanted


def _int(value: str | None) -> int | None:
    return int(value) if value and value.strip().isdigit() else None


def _type(response: Any) -> str | None:
    value = response.headers.get("Content-Type")
    return value.split(";")[0].strip().lower() if value else None


def _total(content_range: str) -> int | None:
    tail = content_range.rpartition("/")[2].strip()
    return int(tail) if tail.isdigit() else None


def _start(content_range: str) -> int | None:
    words = content_range.replace("bytes", "", 1).strip().split("-")[0]
    return int(words) if words.isdigit() else None


def _refuse_no_file(target: str) -> None:
    """Raises ProbeError saying what target is when it is not a file to open: no such file, a
    folder, or a URL of a scheme other than http(s) (which probe_media read as a file name)."""
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", target):
        raise ProbeError("only http:// and https:// URLs can be probed")
    if os.path.isdir(target):
        raise ProbeError("a folder, not a media file")
    if not os.path.exists(target):
        raise ProbeError("no such file")


def probe_all(targets: list[str]) -> list[dict[str, Any]]:
    """Returns one row per file or URL: {"file"|"url": ..., facts...} or {..., "error": ...};
    a URL's credentials (user:password@) are never in a row."""
    from pathlib import Path

    from fo_cast.media.probe import probe_chapters, probe_media

    rows: list[dict[str, Any]] = []
    for target in targets:
        key = "url" if is_url(target) else "file"
        shown = redacted(target) if key == "url" else target
        try:
            if key == "url":
                remote = probe_url(target)
                facts = {**remote.info.__dict__, "served_type": remote.served_type}
                if remote.final_url != target:
                    facts["final_url"] = remote.final_url
            else:
                _refuse_no_file(target)
                info = probe_media(Path(target))
                facts = dict(info.__dict__)
                facts["chapters"] = [
                    {"start": c.start / 1000, "end": c.end / 1000, "title": c.title}
                    for c in probe_chapters(Path(target), info)
                ]
        except ProbeError as exc:
            rows.append({key: shown, "error": str(exc)})
            continue
        facts.pop("tags", None)  # digests for validate, nothing a person reads
        rows.append({key: shown, **facts})
    return rows
