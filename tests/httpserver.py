"""A small HTTP server on 127.0.0.1 for download and remote-probe tests, with faults on demand.

Each path serves a `Resource`: bytes with or without byte ranges, a connection dropped once
mid-file, a Content-Length that lies, an error status or a redirect. The host counts the body
bytes it sent and records every request, so tests can tell a resume from a fresh download.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

_RANGE = re.compile(r"bytes=(\d*)-(\d*)$")


@dataclass
class Resource:
    data: bytes = b""
    content_type: str = "application/octet-stream"
    ranges: bool = True  # honour Range requests (206); False answers 200 with everything
    drop_after: int | None = None  # cut the connection after this many body bytes ...
    drops: int = 1  # ... this many times, then serve normally
    extra_length: int = 0  # announce this many bytes more than are sent (a lying server)
    status: int = 200  # anything else is sent as an error with an empty body
    location: str | None = None  # a redirect (status 302 unless status says otherwise)
    head: bool = True  # False: HEAD answers 405
    etag: str | None = None  # sent as ETag; an If-Range naming another one gets the whole file
    endless: bool = False  # no Content-Length, and the body never ends (until the client goes)
    trickle: float = 0.0  # seconds between the body's bytes (a server stalling its client)


@dataclass
class Host:
    base: str
    resources: dict[str, Resource] = field(default_factory=dict)
    sent: int = 0  # body bytes sent, over all requests
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)
    if_ranges: list[str | None] = field(default_factory=list)  # If-Range of each request
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return self.base + path

    def add(self, path: str, resource: Resource) -> str:
        self.resources[path] = resource
        return self.url(path)


def _handler(host: Host) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_HEAD(self) -> None:
            self._serve(body=False)

        def do_GET(self) -> None:
            self._serve(body=True)

        def _serve(self, body: bool) -> None:
            asked = self.headers.get("Range")
            with host.lock:
                host.requests.append((self.command, self.path, asked))
                host.if_ranges.append(self.headers.get("If-Range"))
            resource = host.resources.get(self.path)
            if resource is None:
                return self._error(404)
            if not body and not resource.head:
                return self._error(405)
            if resource.location is not None:
                self.send_response(resource.status if resource.status != 200 else 302)
                self.send_header("Location", resource.location)
                self.send_header("Content-Length", "0")
                return self.end_headers()
            if resource.status != 200:
                return self._error(resource.status)
            data, total = resource.data, len(resource.data) + resource.extra_length
            start, end = 0, total - 1
            match = _RANGE.match(asked or "") if resource.ranges else None
            if_range = self.headers.get("If-Range")
            if if_range is not None and if_range != resource.etag:
                match = None  # the client's part is of another version: send it all
            if match and (match.group(1) or match.group(2)):
                if match.group(1):
                    start = int(match.group(1))
                    end = min(int(match.group(2)), total - 1) if match.group(2) else total - 1
                else:
                    start = max(0, total - int(match.group(2)))
                if start >= total:
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{total}")
                    self.send_header("Content-Length", "0")
                    return self.end_headers()
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{end}/{total}")
            else:
                self.send_response(200)
            if resource.ranges:
                self.send_header("Accept-Ranges", "bytes")
            self.send_header("Content-Type", resource.content_type)
            if resource.etag is not None:
                self.send_header("ETag", resource.etag)
            if not resource.endless:
                self.send_header("Content-Length", str(end - start + 1))
            self.end_headers()
            if not body:
                return None
            if resource.endless or resource.trickle:
                return self._stream(resource, data[start : end + 1])
            chunk = data[start : end + 1]
            if resource.drop_after is not None and resource.drops > 0:
                resource.drops -= 1
                chunk = chunk[: resource.drop_after]
                self._send(chunk)
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True
                return None
            self._send(chunk)
            return None

        def _stream(self, resource: Resource, chunk: bytes) -> None:
            self.close_connection = True
            self.connection.settimeout(2)  # a client that stopped reading: give up on it
            sent = 0
            try:
                while resource.endless or sent < len(chunk):
                    piece = chunk[sent : sent + 1] if resource.trickle else b"\0" * 65536
                    self.wfile.write(piece or b"\0")
                    self.wfile.flush()
                    sent += len(piece or b"\0")
                    with host.lock:
                        host.sent += len(piece or b"\0")
                    if resource.trickle:
                        time.sleep(resource.trickle)
                    if sent > 256 << 20:  # a client that never stops: the test has failed
                        return
            except OSError:  # the client went, or stopped reading (the timeout)
                return

        def _send(self, chunk: bytes) -> None:
            with host.lock:  # counted first: the client may have read it before write returns
                host.sent += len(chunk)
            try:
                self.wfile.write(chunk)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the client stopped listening

        def _error(self, status: int) -> None:
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

    return Handler


@pytest.fixture
def http_host() -> Iterator[Host]:
    """Returns a running Host on a free port of 127.0.0.1, stopped after the test."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(Host("")))
    host = Host(f"http://127.0.0.1:{server.server_port}")
    server.RequestHandlerClass = _handler(host)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield host
    finally:
        server.shutdown()
        server.server_close()
