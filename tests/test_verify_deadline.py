"""verify gives up on slow servers: a per-read timeout and a total deadline per request."""

from __future__ import annotations

import contextlib
import socket
import socketserver
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fo_cast.cli import app
from fo_cast.publish.verify import verify

FEED = (
    "<?xml version='1.0'?><rss version='2.0'><channel><title>t</title>"
    "<item><guid>g</guid><enclosure url='{base}/slow/audio.mp3' length='10' type='audio/mpeg'/>"
    "</item></channel></rss>"
)


class SlowHandler(socketserver.BaseRequestHandler):
    """Answers by path: /trickle-head sends its headers a byte at a time, /trickle-body its
    body, /silent nothing at all, /loop redirects to itself, /huge an endless body, /feed.xml
    a feed whose one enclosure trickles, anything else a small 200."""

    server: SlowServer
    method = "GET"

    def handle(self) -> None:
        request = b""
        while b"\r\n\r\n" not in request:
            chunk = self.request.recv(4096)
            if not chunk:
                return
            request += chunk
        self.method, path = request.split(b" ")[0].decode(), request.split(b" ")[1].decode()
        with contextlib.suppress(OSError):  # the client gave up, as it should
            self.answer(path)

    def answer(self, path: str) -> None:
        send = self.request.sendall
        if path == "/silent":
            time.sleep(30)
        elif path == "/loop":
            send(b"HTTP/1.1 302 Found\r\nLocation: /loop\r\nContent-Length: 0\r\n\r\n")
        elif path == "/huge":
            send(b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n\r\n")
            block = b" " * 1048576
            while True:
                send(block)
        elif path == "/feed.xml":
            body = FEED.format(base=self.server.base).encode()
            send(b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n")
            send(f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        elif path.startswith("/trickle-head") or path.startswith("/slow/"):
            head = b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nContent-Length: 6\r\n"
            for byte in head + b"X-Pad: " + b"." * 1000:
                send(bytes([byte]))
                time.sleep(self.server.interval)
        elif path.startswith("/slow-range") and self.method == "HEAD":
            send(b"HTTP/1.1 200 OK\r\nContent-Type: audio/mpeg\r\nContent-Length: 1000000\r\n\r\n")
        elif path.startswith("/slow-range"):  # a 206 whose body comes a byte at a time
            send(b"HTTP/1.1 206 Partial Content\r\nContent-Type: audio/mpeg\r\n")
            send(b"Content-Range: bytes 0-65535/1000000\r\nContent-Length: 65536\r\n\r\n")
            for _ in range(65536):
                send(b"\xff")
                time.sleep(self.server.interval)
        elif path in ("/trickle-body", "/trickle-closing"):  # closing: HTTP/1.0-like
            send(b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n")
            if path == "/trickle-closing":  # the reply takes the socket off the connection
                send(b"Connection: close\r\n")
            send(b"Content-Length: 100000\r\n\r\n")
            for _ in range(100000):
                send(b"<")
                time.sleep(self.server.interval)
        else:
            send(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")


class SlowServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    interval = 0.25  # seconds between bytes: well under any per-read timeout
    base = ""


@pytest.fixture(scope="module")
def slow() -> Iterator[str]:
    server = SlowServer(("127.0.0.1", 0), SlowHandler)
    server.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server.base
    server.shutdown()
    server.server_close()


TOO_SLOW = "no complete answer within 2 s (the server is too slow)"


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/trickle-head", TOO_SLOW),
        ("/trickle-body", TOO_SLOW),
        ("/trickle-closing", TOO_SLOW),  # ran past 300 s: the watchdog found no socket
        ("/silent", "cannot fetch: timed out"),  # the per-read timeout
        ("/loop", "more than 5 redirects"),
        ("/huge", "answer larger than 64 MB; a feed is far smaller"),
    ],
)
def test_a_slow_or_endless_feed_is_one_failure_within_the_deadline(
    slow: str, path: str, message: str
) -> None:
    started = time.monotonic()
    report = verify([slow + path], timeout=1, deadline=2)
    elapsed = time.monotonic() - started
    assert report.failures == [f"{slow}{path}: {message}"]
    assert elapsed < 15  # generous: without the deadline a trickle takes minutes


def test_a_slow_enclosure_is_one_line_naming_its_url(slow: str) -> None:
    started = time.monotonic()
    report = verify([slow + "/feed.xml"], timeout=1, deadline=2)
    assert report.failures == [f"{slow}/slow/audio.mp3 (enclosure in {slow}/feed.xml): {TOO_SLOW}"]
    assert time.monotonic() - started < 15


def test_refused_and_unreachable_urls_are_one_line(slow: str) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}/feed.xml"
    report = verify([closed, "ftp://127.0.0.1/feed.xml", "http://127.0.0.1:99999/x"], deadline=2)
    assert [f.split(": ", 1)[0] for f in report.failures] == [
        closed,
        "ftp://127.0.0.1/feed.xml",
        "http://127.0.0.1:99999/x",
    ]
    assert report.failures[0].startswith(f"{closed}: cannot fetch: ")
    assert (
        report.failures[1]
        == "ftp://127.0.0.1/feed.xml: cannot fetch: not an http:// or https:// URL"
    )
    assert all("\n" not in f for f in report.failures)


def test_cli_verify_deadline_against_a_slow_server(sample: Path, slow: str) -> None:
    started = time.monotonic()
    result = CliRunner().invoke(
        app,
        ["verify", str(sample), "--base-url", slow + "/trickle-head/", "--deadline", "1",
         "--timeout", "1", "--now", "2025-01-01T00:00:00+00:00"],
    )  # fmt: skip
    assert result.exit_code == 3, result.output
    lines = [line for line in result.stderr.splitlines() if ": warning: " not in line]
    assert lines[-1] == "6 feeds, 0 URLs checked, 6 failures."
    assert len(lines) == 7
    for line in lines[:-1]:
        assert line.startswith(slow + "/trickle-head/")
        assert line.endswith(": no complete answer within 1 s (the server is too slow)")
    assert time.monotonic() - started < 30


def test_a_slow_directory_ping_ends_within_its_timeout(slow: str) -> None:
    from fo_cast.catalogue.settings import Notify
    from fo_cast.publish.notify import Ping, send_pings

    ping = Ping("WebSub", "https://x.example/feed.xml", "POST", slow + "/trickle-head", {}, b"x")
    started = time.monotonic()
    notices = send_pings([ping], Notify(tries=2, timeout=1, backoff=0), sleep=lambda _: None)
    assert [(n.ok, n.tries, n.message) for n in notices] == [
        (False, 2, "no complete answer within 1 s")
    ]
    assert time.monotonic() - started < 10  # two tries of 1 s, not minutes of trickle


@pytest.mark.parametrize("path", ["/slow/audio.mp3", "/slow-range/audio.mp3"])
def test_a_slow_media_url_probe_ends_within_its_deadline(slow: str, path: str) -> None:
    from fo_cast.media.remote import RemoteError, probe_url

    started = time.monotonic()
    with pytest.raises(RemoteError, match=r"^gave up after 1 s$"):
        probe_url(slow + path, timeout=1, deadline=1)
    assert time.monotonic() - started < 10


def test_a_service_that_never_answers_costs_one_ping_and_all_end_within_the_budget(
    slow: str,
) -> None:
    """Was: six feeds x two dead services x three tries of 10 s held the exit 434 s."""
    from fo_cast.catalogue.settings import Notify
    from fo_cast.publish.notify import Ping, send_pings

    feeds = [f"https://x.example/{n}/feed.xml" for n in range(6)]
    pings = [
        Ping(service, feed, "POST", slow + "/trickle-head", {}, b"x")
        for feed in feeds
        for service in ("WebSub", "Podcast Index")
    ]
    started = time.monotonic()
    notices = send_pings(pings, Notify(tries=2, timeout=1, backoff=0), sleep=lambda _: None)
    took = time.monotonic() - started
    assert [(n.ok, n.tries) for n in notices[:2]] == [(False, 2), (False, 2)]
    assert all(n.tries == 0 and "failed the ping before" in n.message for n in notices[2:])
    assert took < 10  # two services x two tries of 1 s
    started = time.monotonic()
    notices = send_pings(pings[:1], Notify(tries=5, timeout=1, backoff=0), budget=2.5)
    assert time.monotonic() - started < 6
    assert notices[0].tries < 5 and not notices[0].ok


def test_a_service_url_with_a_query_of_its_own_gets_the_feed_after_an_ampersand() -> None:
    from fo_cast.catalogue.settings import Notify
    from fo_cast.publish.notify import plan_pings

    settings = Notify(
        podcastindex=True, podcastindex_url="https://api.example/pubnotify?apikey=K#x"
    )
    pings, _ = plan_pings([("https://f.example/feed.xml", False)], settings)
    assert pings[0].url == (
        "https://api.example/pubnotify?apikey=K&url=https%3A%2F%2Ff.example%2Ffeed.xml#x"
    )


def test_a_feed_the_service_refuses_does_not_stop_the_other_feeds_pings() -> None:
    """A 4xx is about one feed (a directory that does not know it yet): the service is
    still sent the other feeds' pings, where a dead one is not."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from fo_cast.catalogue.settings import Notify
    from fo_cast.publish.notify import Ping, send_pings

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(404 if "unknown" in self.path else 200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/pubnotify?url="
    try:
        pings = [
            Ping("Podcast Index", feed, "GET", base + feed)
            for feed in ("unknown-feed", "known-feed")
        ]
        notices = send_pings(pings, Notify(tries=2, timeout=5, backoff=0), sleep=lambda _: None)
    finally:
        server.shutdown()
        server.server_close()
    assert [(n.ok, n.tries, n.message) for n in notices] == [
        (False, 2, "HTTP 404 Not Found"),
        (True, 1, ""),
    ]
