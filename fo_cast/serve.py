"""A small threaded HTTP server for a built tree: preview, and subscribing from a phone.

Podcast apps and Apple's feed checks depend on HEAD and byte ranges, and browsers' media
players on ranges too, so this is not `http.server`'s SimpleHTTPRequestHandler: every file
gets its exact Content-Type, an ETag and Last-Modified, conditional GET (304), Range (206,
416). Paths never leave the root, symlinks included. It never prints: pass `log` to see
requests.
"""

from __future__ import annotations

import email.utils
import os
import posixpath
import re
import stat
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import unquote, urlsplit

from fo_cast.errors import FoCastError
from fo_cast.rules import MEDIA_TYPES

CHUNK = 256 * 1024
BACKLOG = 128  # pending connections: a phone, a laptop and a link checker at once
IDLE_SECONDS = 60.0  # a connection that sends or takes nothing for this long is closed (nginx: 60)
MAX_CONNECTIONS = 256  # open at once; past it a new one is closed at once (each is a thread)
MAX_RANGES = 16  # more ranges in one Range header are refused (416), never parsed further
MAX_DIGITS = 19  # a byte position longer than this lies past any file (and int() stays cheap)
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".json": "application/json",
    ".xml": "application/xml",
    ".opml": "text/x-opml; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".md": "text/markdown; charset=utf-8",
    ".vtt": "text/vtt; charset=utf-8",
    ".srt": "application/x-subrip",
    **MEDIA_TYPES,
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".svg": "image/svg+xml",
    ".ico": "image/x-icon",
}
# The feeds fo-cast writes, by name: RSS is XML, but apps and browsers treat it by this type.
NAMED_TYPES = {
    "feed.xml": "application/rss+xml; charset=utf-8",
    "video.xml": "application/rss+xml; charset=utf-8",
    "feed.json": "application/feed+json; charset=utf-8",
}
RANGE_RE = re.compile(r"^(\d*)-(\d*)$")


def content_type(path: Path) -> str:
    """Returns the Content-Type for a file of the tree, from its name."""
    named = NAMED_TYPES.get(path.name)
    if named:
        return named
    return CONTENT_TYPES.get(path.suffix.lower(), "application/octet-stream")


@dataclass(frozen=True)
class ByteRange:
    start: int
    end: int  # inclusive

    @property
    def length(self) -> int:
        return self.end - self.start + 1


class Unsatisfiable(Exception):
    """The Range header is invalid, or asks only for bytes past the end of the file."""


def parse_range(header: str, size: int) -> ByteRange | None:
    """Returns the one range asked for, or None to send the whole file.

    None for a unit other than bytes (RFC 9110 14.2: ignore it) and for a few valid ranges,
    which we may answer with the whole file rather than multipart/byteranges. Raises
    Unsatisfiable (416, RFC 9110 15.5.17) when no byte of the range exists, and for a
    bytes range that is invalid: garbage, last before first, more than MAX_RANGES ranges.
    Numbers of any length are read without int() on thousands of digits.
    """
    unit, equals, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or not equals:
        return None
    specs = spec.replace(" ", "").replace("\t", "").split(",", 2 * MAX_RANGES)
    if len(specs) > 2 * MAX_RANGES:
        raise Unsatisfiable
    # A list may hold empty elements ("0-5, "), which a recipient ignores (RFC 9110 5.6.1).
    specs = [one for one in specs if one]
    if not specs or len(specs) > MAX_RANGES:
        raise Unsatisfiable
    if len(specs) > 1:
        for one in specs:
            _positions(one)  # valid, then answered whole
        return None
    return _one_range(specs[0], size)


def _positions(spec: str) -> tuple[int | None, int | None]:
    """Returns first and last of one range spec; raises Unsatisfiable if it is invalid."""
    match = RANGE_RE.match(spec)
    if match is None:
        raise Unsatisfiable
    first, last = (_position(group) for group in match.groups())
    if first is None and last is None:
        raise Unsatisfiable
    if first is not None and last is not None and last < first:
        raise Unsatisfiable
    return first, last


def _one_range(spec: str, size: int) -> ByteRange:
    first, last = _positions(spec)
    if first is None:  # suffix: the last N bytes
        assert last is not None
        if last == 0 or size == 0:
            raise Unsatisfiable
        return ByteRange(max(0, size - last), size - 1)
    if first >= size:
        raise Unsatisfiable
    end = size - 1 if last is None else min(last, size - 1)
    return ByteRange(first, end)


def _position(digits: str) -> int | None:
    """Returns a byte position; one too long to be a file's is as good as infinite."""
    if not digits:
        return None
    digits = digits.lstrip("0") or "0"
    return int(digits) if len(digits) <= MAX_DIGITS else 1 << 64


def etag_of(stat: os.stat_result) -> str:
    return f'"{stat.st_size:x}-{stat.st_mtime_ns:x}"'


def _etag_matches(header: str, etag: str) -> bool:
    """If-None-Match uses the weak comparison: W/"x" matches "x"."""
    if header.strip() == "*":
        return True
    bare = etag.removeprefix("W/")
    return any(t.strip().removeprefix("W/") == bare for t in header.split(","))


def _not_modified_since(header: str, mtime: float) -> bool:
    try:
        since = email.utils.parsedate_to_datetime(header)
    except (TypeError, ValueError, OverflowError):  # OverflowError: a year of 20 digits
        return False
    if since is None or since.tzinfo is None:
        return False
    return int(mtime) <= since.timestamp()


class TreeHandler(BaseHTTPRequestHandler):
    """Serves files under `server.root`; GET and HEAD only."""

    server: TreeServer
    server_version = "fo-cast"
    protocol_version = "HTTP/1.1"
    # A connection idle this long (no request line, or headers trickling) is closed: idle
    # sockets, each a thread, would otherwise pile up until nobody else gets an answer.
    timeout = IDLE_SECONDS

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self._respond(body=True)

    def do_HEAD(self) -> None:  # noqa: N802
        self._respond(body=False)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        if self.server.log is not None:
            self.server.log(f"{self.address_string()} {format % args}")

    # --- routing -----------------------------------------------------------------------

    def _respond(self, body: bool) -> None:
        url_path = urlsplit(self.path).path
        target = self.server.resolve(url_path)
        if target is None:
            self._not_found(body)
            return
        if target.is_dir():
            if not url_path.endswith("/"):
                # Relative links inside index.html only work from the folder's own URL.
                self._redirect(url_path + "/")
                return
            # Checked like any path: a symlinked index.html may lead out of the tree.
            target = self.server.resolve(url_path + "index.html")
            if target is None:
                self._not_found(body)
                return
        self._send_file(target, body)

    def _redirect(self, location: str) -> None:
        self.send_response(HTTPStatus.MOVED_PERMANENTLY)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _not_found(self, body: bool) -> None:
        page = self.server.resolve("/404.html")
        data = self.server.read(page) if page is not None else None
        if data is None:
            data = b"<!doctype html><title>404</title>Not found\n"
        self.send_response(HTTPStatus.NOT_FOUND)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        if body:
            self.wfile.write(data)

    # --- files -------------------------------------------------------------------------

    def _send_file(self, path: Path, body: bool) -> None:
        handle = self.server.open(path)
        if handle is None:
            self._not_found(body)
            return
        with handle:
            stat = os.fstat(handle.fileno())
            etag = etag_of(stat)
            validators = {
                "ETag": etag,
                "Last-Modified": email.utils.formatdate(stat.st_mtime, usegmt=True),
                "Accept-Ranges": "bytes",
                # Preview server: always revalidate, so a rebuild shows at once (304 otherwise).
                "Cache-Control": "no-cache",
            }
            if self._not_modified(etag, stat.st_mtime):
                self._headers(HTTPStatus.NOT_MODIFIED, validators)
                return
            size = stat.st_size
            byte_range = None
            header = self.headers.get("Range")
            if header and self._if_range_holds(etag, stat.st_mtime):
                try:
                    byte_range = parse_range(header, size)
                except Unsatisfiable:
                    self._headers(
                        HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE,
                        {**validators, "Content-Range": f"bytes */{size}", "Content-Length": "0"},
                    )
                    return
            headers = {**validators, "Content-Type": content_type(path)}
            if byte_range is None:
                self._headers(HTTPStatus.OK, {**headers, "Content-Length": str(size)})
                start, length = 0, size
            else:
                headers["Content-Range"] = f"bytes {byte_range.start}-{byte_range.end}/{size}"
                headers["Content-Length"] = str(byte_range.length)
                self._headers(HTTPStatus.PARTIAL_CONTENT, headers)
                start, length = byte_range.start, byte_range.length
            if body:
                self._copy(handle, start, length)

    def _not_modified(self, etag: str, mtime: float) -> bool:
        """If-None-Match wins over If-Modified-Since (RFC 9110 13.2.2)."""
        none_match = self.headers.get("If-None-Match")
        if none_match is not None:
            return _etag_matches(none_match, etag)
        since = self.headers.get("If-Modified-Since")
        return since is not None and _not_modified_since(since, mtime)

    def _if_range_holds(self, etag: str, mtime: float) -> bool:
        """A Range with If-Range applies only while the file is the one the client has."""
        if_range = self.headers.get("If-Range")
        if if_range is None:
            return True
        if if_range.startswith(('"', "W/")):
            return if_range.strip() == etag  # strong comparison for If-Range
        return _not_modified_since(if_range, mtime)

    def _headers(self, status: HTTPStatus, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()

    def _copy(self, handle: BinaryIO, start: int, length: int) -> None:
        handle.seek(start)
        try:
            while length > 0:
                chunk = handle.read(min(CHUNK, length))
                if not chunk:  # truncated while served: the length sent can no longer hold
                    self.close_connection = True
                    break
                self.wfile.write(chunk)
                length -= len(chunk)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            # Media players drop connections mid-file all the time (or stop reading, paused,
            # past IDLE_SECONDS); not an error.
            self.close_connection = True


class TreeServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer that knows its root folder and serves nothing outside it."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = BACKLOG

    def __init__(
        self, root: Path, address: tuple[str, int], log: Callable[[str], None] | None = None
    ) -> None:
        self.root = root.resolve()
        self.log = log
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        super().__init__(address, TreeHandler)

    def process_request(self, request: Any, client_address: Any) -> None:
        """Serves the connection in a thread, unless MAX_CONNECTIONS are open already: then it
        is closed at once, so a flood of idle sockets cannot starve every other client."""
        if not self._slots.acquire(blocking=False):
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        host = host.decode() if isinstance(host, bytes) else str(host)
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}/"

    def handle_error(self, request: object, client_address: object) -> None:
        """Logs a request that failed in one line (socketserver prints a traceback)."""
        error = sys.exc_info()[1]
        if self.log is not None and not isinstance(error, ConnectionError):
            self.log(
                f"{client_address[0] if isinstance(client_address, tuple) else '-'} "
                f"request failed: {type(error).__name__}: {error}"
            )

    def open(self, path: Path) -> BinaryIO | None:
        """Returns path, a regular file found by resolve(), opened without following a symlink
        put in its place since; None if that fails."""
        try:
            fd = os.open(
                path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
            )
        except OSError:
            return None
        handle = os.fdopen(fd, "rb")
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            handle.close()
            return None
        return handle

    def read(self, path: Path) -> bytes | None:
        """Returns a small file's bytes, opened as open() does."""
        handle = self.open(path)
        if handle is None:
            return None
        with handle:
            return handle.read()

    def resolve(self, url_path: str) -> Path | None:
        """Returns the file or folder for a URL path, or None if it is outside the root.

        The path is resolved, symlinks included, and compared with the root; every route to
        a file (a folder's index.html, 404.html, ranges, HEAD) comes through here.
        """
        try:
            decoded = unquote(url_path, errors="strict")
        except UnicodeDecodeError:
            return None
        if "\x00" in decoded or "\\" in decoded:
            return None
        parts = [p for p in posixpath.normpath("/" + decoded).split("/") if p]
        if any(p in ("..", ".") or p.startswith(".") for p in parts):
            return None  # also hides dot folders such as the build's staging dirs
        candidate = self.root.joinpath(*parts)
        try:
            real = candidate.resolve(strict=True)
        except (OSError, RuntimeError):
            return None
        if real != self.root and self.root not in real.parents:
            return None  # a symlink pointing out of the tree
        if any(p.startswith(".") for p in real.relative_to(self.root).parts):
            return None  # a symlink to a dot file or folder (.fo-cast/, .git/) is hidden too
        return real


def serve(
    root: Path, host: str = "127.0.0.1", port: int = 8000, log: Callable[[str], None] | None = None
) -> TreeServer:
    """Returns a server bound to host:port for the tree at root; call serve_forever() on it.

    Port 0 picks a free port (see `server.url`).
    """
    if not root.is_dir():
        raise FoCastError(f"no such folder '{root}'; build first: fo-cast build --out {root}")
    try:
        return TreeServer(root, (host, port), log)
    except (OSError, OverflowError, ValueError) as exc:  # Overflow: a port past 65535
        reason = getattr(exc, "strerror", None) or exc
        raise FoCastError(f"cannot listen on {host}:{port}: {reason}") from exc
