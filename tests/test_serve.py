"""`fo-cast serve`: what podcast apps and browsers rely on, checked over a real socket."""

from __future__ import annotations

import email.utils
import http.client
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fo_cast.errors import FoCastError
from fo_cast.serve import ByteRange, Unsatisfiable, content_type, parse_range, serve

AUDIO = bytes(range(256)) * 40  # 10,240 bytes, every offset recognisable
MTIME = 1_700_000_000


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tree") / "site"
    files = {
        "index.html": b"<!doctype html><title>home</title>",
        "404.html": b"<!doctype html><title>not here</title>",
        "show/index.html": b"<!doctype html><title>show</title>",
        "show/feed.xml": b"<rss/>",
        "show/video.xml": b"<rss/>",
        "show/feed.json": b"{}",
        "show/artwork.png": b"\x89PNG",
        "show/ep/audio.mp3": AUDIO,
        "show/ep/audio.m4a": b"m4a",
        "show/ep/video.mp4": b"mp4",
        "show/ep/transcript.vtt": b"WEBVTT\n",
        "show/ep/chapters.json": b"{}",
        "sitemap.xml": b"<urlset/>",
        "index.opml": b"<opml/>",
        "robots.txt": b"User-agent: *\n",
        "assets/style.css": b"body{}",
        "assets/player.js": b"",
        "a folder with spaces/index.html": b"spaces",
        ".hidden/secret.txt": b"secret",
    }
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        os.utime(path, (MTIME, MTIME))
    (root.parent / "outside.txt").write_bytes(b"outside")
    (root / "escape.txt").symlink_to(root.parent / "outside.txt")
    (root / "record.txt").symlink_to(root / ".hidden" / "secret.txt")  # a dot file, linked
    (root / "repo").symlink_to(root / ".hidden")
    return root


@pytest.fixture(scope="module")
def port(tree: Path) -> Iterator[int]:
    server = serve(tree, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def request(
    port: int, method: str, path: str, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, headers=headers or {})
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/show/ep/audio.mp3", "audio/mpeg"),
        ("/show/ep/audio.m4a", "audio/x-m4a"),
        ("/show/ep/video.mp4", "video/mp4"),
        ("/show/ep/transcript.vtt", "text/vtt; charset=utf-8"),
        ("/show/ep/chapters.json", "application/json"),
        ("/show/feed.xml", "application/rss+xml; charset=utf-8"),
        ("/show/video.xml", "application/rss+xml; charset=utf-8"),
        ("/show/feed.json", "application/feed+json; charset=utf-8"),
        ("/sitemap.xml", "application/xml"),
        ("/index.opml", "text/x-opml; charset=utf-8"),
        ("/robots.txt", "text/plain; charset=utf-8"),
        ("/show/artwork.png", "image/png"),
        ("/assets/style.css", "text/css; charset=utf-8"),
        ("/assets/player.js", "text/javascript; charset=utf-8"),
        ("/", "text/html; charset=utf-8"),
        ("/show/", "text/html; charset=utf-8"),
    ],
)
def test_content_types(port: int, path: str, expected: str) -> None:
    status, headers, _ = request(port, "GET", path)
    assert status == 200
    assert headers["content-type"] == expected


def test_get_sends_validators_and_length(port: int) -> None:
    status, headers, body = request(port, "GET", "/show/ep/audio.mp3")
    assert status == 200
    assert body == AUDIO
    assert headers["content-length"] == str(len(AUDIO))
    assert headers["accept-ranges"] == "bytes"
    assert headers["etag"].startswith('"') and headers["etag"].endswith('"')
    assert headers["last-modified"] == email.utils.formatdate(MTIME, usegmt=True)


def test_head_has_the_headers_of_get_and_no_body(port: int) -> None:
    _, get_headers, _ = request(port, "GET", "/show/ep/audio.mp3")
    status, headers, body = request(port, "HEAD", "/show/ep/audio.mp3")
    assert status == 200
    assert body == b""
    for name in ("content-type", "content-length", "etag", "last-modified", "accept-ranges"):
        assert headers[name] == get_headers[name]


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [
        ("bytes=0-1", 0, 1),
        ("bytes=100-199", 100, 199),
        ("bytes=10000-", 10000, 10239),
        ("bytes=-40", 10200, 10239),
        ("bytes=10200-999999", 10200, 10239),  # an end past the file is clipped
        ("bytes=0-", 0, 10239),  # what browsers send first for media
    ],
)
def test_ranges_get_206_with_the_bytes_asked_for(
    port: int, header: str, start: int, end: int
) -> None:
    status, headers, body = request(port, "GET", "/show/ep/audio.mp3", {"Range": header})
    assert status == 206
    assert headers["content-range"] == f"bytes {start}-{end}/{len(AUDIO)}"
    assert headers["content-length"] == str(end - start + 1)
    assert headers["content-type"] == "audio/mpeg"
    assert body == AUDIO[start : end + 1]


def test_head_with_a_range_gets_206_and_no_body(port: int) -> None:
    status, headers, body = request(port, "HEAD", "/show/ep/audio.mp3", {"Range": "bytes=0-1"})
    assert status == 206
    assert headers["content-range"] == f"bytes 0-1/{len(AUDIO)}"
    assert headers["content-length"] == "2"
    assert body == b""


@pytest.mark.parametrize("header", ["bytes=10240-", "bytes=20000-20010", "bytes=-0"])
def test_unsatisfiable_ranges_get_416(port: int, header: str) -> None:
    status, headers, body = request(port, "GET", "/show/ep/audio.mp3", {"Range": header})
    assert status == 416
    assert headers["content-range"] == f"bytes */{len(AUDIO)}"
    assert body == b""


@pytest.mark.parametrize(
    "header",
    [
        "bytes=0-1,5-6",
        "items=0-1",
        "bytes=0-1, -5, 7-",
        "none",
        "bytes=0-1,9999999999999999999999-",
    ],
)
def test_other_units_or_a_few_ranges_get_the_whole_file(port: int, header: str) -> None:
    status, headers, body = request(port, "GET", "/show/ep/audio.mp3", {"Range": header})
    assert status == 200
    assert body == AUDIO
    assert "content-range" not in headers


def test_if_range_with_the_current_etag_honours_the_range(port: int) -> None:
    _, headers, _ = request(port, "HEAD", "/show/ep/audio.mp3")
    status, _, body = request(
        port, "GET", "/show/ep/audio.mp3", {"Range": "bytes=0-3", "If-Range": headers["etag"]}
    )
    assert (status, body) == (206, AUDIO[:4])
    status, _, body = request(
        port, "GET", "/show/ep/audio.mp3", {"Range": "bytes=0-3", "If-Range": '"old"'}
    )
    assert (status, body) == (200, AUDIO)


def test_if_none_match_gets_304(port: int) -> None:
    _, headers, _ = request(port, "GET", "/show/feed.xml")
    etag = headers["etag"]
    for value in (etag, f'"nope", {etag}', f"W/{etag}", "*"):
        status, reply, body = request(port, "GET", "/show/feed.xml", {"If-None-Match": value})
        assert status == 304, value
        assert body == b""
        assert reply["etag"] == etag
    status, _, _ = request(port, "GET", "/show/feed.xml", {"If-None-Match": '"other"'})
    assert status == 200


def test_if_modified_since_gets_304_unless_the_file_is_newer(port: int) -> None:
    same = email.utils.formatdate(MTIME, usegmt=True)
    later = email.utils.formatdate(MTIME + 60, usegmt=True)
    earlier = email.utils.formatdate(MTIME - 60, usegmt=True)
    assert request(port, "GET", "/show/feed.xml", {"If-Modified-Since": same})[0] == 304
    assert request(port, "GET", "/show/feed.xml", {"If-Modified-Since": later})[0] == 304
    assert request(port, "GET", "/show/feed.xml", {"If-Modified-Since": earlier})[0] == 200
    assert request(port, "GET", "/show/feed.xml", {"If-Modified-Since": "garbage"})[0] == 200
    huge = "Mon, 05 Aug 99999999999999999999 10:00:00 GMT"  # OverflowError in the parser
    assert request(port, "GET", "/show/feed.xml", {"If-Modified-Since": huge})[0] == 200


def test_if_none_match_wins_over_if_modified_since(port: int) -> None:
    headers = {
        "If-None-Match": '"other"',
        "If-Modified-Since": email.utils.formatdate(MTIME, usegmt=True),
    }
    assert request(port, "GET", "/show/feed.xml", headers)[0] == 200


def test_a_folder_without_slash_redirects_and_with_slash_serves_index(port: int) -> None:
    status, headers, _ = request(port, "GET", "/show")
    assert status == 301
    assert headers["location"] == "/show/"
    status, _, body = request(port, "GET", "/show/?utm=x")
    assert (status, body) == (200, b"<!doctype html><title>show</title>")


def test_percent_encoded_paths(port: int) -> None:
    status, _, body = request(port, "GET", "/a%20folder%20with%20spaces/")
    assert (status, body) == (200, b"spaces")


def test_missing_files_get_the_404_page(port: int) -> None:
    status, headers, body = request(port, "GET", "/no/such/page/")
    assert status == 404
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert body == b"<!doctype html><title>not here</title>"
    status, _, body = request(port, "HEAD", "/nope.mp3")
    assert (status, body) == (404, b"")


@pytest.mark.parametrize(
    "path",
    [
        "/../outside.txt",
        "/show/../../outside.txt",
        "/%2e%2e/outside.txt",
        "/show/%2e%2e%2f%2e%2e%2foutside.txt",
        "/..%5coutside.txt",
        "/escape.txt",  # a symlink pointing out of the tree
        "/.hidden/secret.txt",
        "/record.txt",  # was 200: the dot rule read the URL, not where the link leads
        "/repo/secret.txt",
        "/show/ep/audio.mp3%00.html",
        "/%ff%fe",
    ],
)
def test_nothing_outside_the_root_is_served(port: int, path: str) -> None:
    status, _, body = request(port, "GET", path)
    assert status == 404
    assert b"outside" not in body and b"secret" not in body


def test_other_methods_are_refused(port: int) -> None:
    assert request(port, "POST", "/index.html")[0] == 501
    assert request(port, "PUT", "/index.html")[0] == 501


def test_the_server_binds_loopback_by_default(tree: Path) -> None:
    server = serve(tree, port=0)
    try:
        assert server.server_address[0] == "127.0.0.1"
        assert server.url == f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.server_close()


def test_serving_a_missing_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FoCastError, match="no such folder"):
        serve(tmp_path / "missing", port=0)


def test_a_busy_port_is_an_error(tree: Path, port: int) -> None:
    with pytest.raises(FoCastError, match="cannot listen on 127.0.0.1"):
        serve(tree, "127.0.0.1", port)


def test_requests_go_to_the_log_callback(tree: Path) -> None:
    lines: list[str] = []
    server = serve(tree, port=0, log=lines.append)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        request(server.server_address[1], "GET", "/robots.txt")
    finally:
        server.shutdown()
        server.server_close()
    assert len(lines) == 1 and '"GET /robots.txt HTTP/1.1" 200' in lines[0]


def test_parse_range() -> None:
    assert parse_range("bytes=0-0", 10) == ByteRange(0, 0)
    assert parse_range("bytes=-100", 10) == ByteRange(0, 9)
    assert parse_range("bytes = 2 - 3", 10) == ByteRange(2, 3)
    assert parse_range("BYTES=1-", 10) == ByteRange(1, 9)
    assert parse_range("bytes=0-1,3-4", 10) is None
    assert parse_range("bytes=0-5, ", 10) == ByteRange(0, 5)  # empty list elements: ignored
    assert parse_range("bytes=,2-3,,", 10) == ByteRange(2, 3)
    assert parse_range("items=0-1", 10) is None
    assert parse_range("bytes=0-" + "9" * 5000, 10) == ByteRange(0, 9)
    assert parse_range("bytes=-" + "9" * 5000, 10) == ByteRange(0, 9)
    assert parse_range("bytes=" + "0" * 5000 + "3-4", 10) == ByteRange(3, 4)
    for invalid in ("bytes=-", "bytes=5-1", "bytes=x-y", "bytes=1-2-3", "bytes=", "bytes=,"):
        with pytest.raises(Unsatisfiable):
            parse_range(invalid, 10)
    with pytest.raises(Unsatisfiable):
        parse_range("bytes=" + "9" * 5000 + "-", 10)
    with pytest.raises(Unsatisfiable):
        parse_range("bytes=" + ",".join(["0-1"] * 17), 10)
    with pytest.raises(Unsatisfiable):
        parse_range("bytes=10-", 10)
    with pytest.raises(Unsatisfiable):
        parse_range("bytes=0-", 0)


def test_content_type_of_unknown_files() -> None:
    assert content_type(Path("x.bin")) == "application/octet-stream"
    assert content_type(Path("EPISODE.MP3")) == "audio/mpeg"


BIG = "9" * 5000
HOSTILE_RANGES = [
    f"bytes={BIG}-",  # the 5,000-digit start that once ended in a traceback
    f"bytes={BIG}-{BIG}",
    "bytes=" + ",".join(f"{n}-{n}" for n in range(2000)),  # many ranges
    "bytes=" + "1" * 60000 + "-",  # near http.server's 64 KB line limit
    "bytes=x-y",
    "bytes=5-1",
    "bytes=-",
    "bytes=--5",
    "bytes=0-1-2",
    "bytes=\u00e9-1",
    "bytes=,,,,",
    "bytes=0x10-0x20",
    "bytes=1e3-",
]


@pytest.mark.parametrize("header", HOSTILE_RANGES, ids=lambda h: h[:24])
def test_malformed_ranges_get_416_logged_in_one_line(tree: Path, header: str) -> None:
    lines: list[str] = []
    server = serve(tree, "127.0.0.1", 0, log=lines.append)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        for method in ("GET", "HEAD"):
            status, headers, body = request(
                server.server_address[1], method, "/show/ep/audio.mp3", {"Range": header}
            )
            assert (status, headers["content-range"], body) == (416, f"bytes */{len(AUDIO)}", b"")
        # The server still answers.
        assert request(server.server_address[1], "GET", "/robots.txt")[0] == 200
    finally:
        server.shutdown()
        server.server_close()
    assert len(lines) == 3
    assert all('" 416 ' in line for line in lines[:2]) and "\n" not in "".join(lines)


@pytest.mark.parametrize(
    ("header", "expected"),
    [(f"bytes=0-{BIG}", AUDIO), (f"bytes=-{BIG}", AUDIO), ("bytes=10239-" + BIG, AUDIO[-1:])],
)
def test_huge_last_positions_mean_the_end_of_the_file(
    port: int, header: str, expected: bytes
) -> None:
    status, headers, body = request(port, "GET", "/show/ep/audio.mp3", {"Range": header})
    assert status == 206 and body == expected
    assert headers["content-range"].endswith(f"-{len(AUDIO) - 1}/{len(AUDIO)}")


@pytest.fixture
def linked(tmp_path: Path) -> Path:
    """Returns a tree whose index pages, 404 page and one folder are symlinks out of it."""
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "id_rsa").write_bytes(b"PRIVATE KEY")
    (secret / "index.html").write_bytes(b"PRIVATE INDEX")
    root = tmp_path / "site"
    (root / "show" / "ep").mkdir(parents=True)
    (root / "index.html").symlink_to(secret / "id_rsa")
    (root / "404.html").symlink_to(secret / "id_rsa")
    (root / "show" / "index.html").symlink_to(secret / "index.html")
    (root / "out").symlink_to(secret, target_is_directory=True)
    (root / "show" / "ep" / "audio.mp3").write_bytes(AUDIO)
    (root / "show" / "ep" / "index.html").write_bytes(b"<p>episode</p>")
    (root / "show" / "inside.html").symlink_to(root / "show" / "ep" / "index.html")
    return root


@pytest.mark.parametrize(
    "path",
    ["/", "/index.html", "/show/", "/show/index.html", "/out/", "/out/id_rsa", "/out/index.html",
     "/missing", "/404.html", "/show/%2e%2e/out/id_rsa", "/show/../out/id_rsa"],
)  # fmt: skip
@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("extra", [{}, {"Range": "bytes=0-3"}, {"If-None-Match": "*"}])
def test_nothing_outside_the_folder_is_served_by_any_route(
    linked: Path, path: str, method: str, extra: dict[str, str]
) -> None:
    server = serve(linked, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        status, headers, body = request(server.server_address[1], method, path, extra)
        inside = request(server.server_address[1], "GET", "/show/inside.html")
        episode = request(server.server_address[1], "GET", "/show/ep/", extra)
    finally:
        server.shutdown()
        server.server_close()
    assert status == 404, (path, status)
    assert b"PRIVATE" not in body and "content-range" not in headers
    if method == "GET":  # the symlinked 404.html is not used either: the built-in page is
        assert body == b"<!doctype html><title>404</title>Not found\n"
    assert inside[:1] == (200,) and inside[2] == b"<p>episode</p>"  # a link within the tree
    assert episode[0] in (200, 206, 304)


def test_two_hundred_clients_at_once_are_all_answered(tree: Path) -> None:
    """The listen backlog holds a burst: it was 5, and a link checker waited seconds.

    The clients connect while the server is not yet accepting, so only the backlog holds
    them; then every one is answered."""
    server = serve(tree, "127.0.0.1", 0)
    port = server.server_address[1]
    connected: list[socket.socket] = []
    answered: list[bytes] = []
    lock = threading.Lock()
    go = threading.Event()

    def client() -> None:
        with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
            with lock:
                connected.append(sock)
            go.wait(60)
            sock.sendall(b"GET /robots.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            reply = b""
            while chunk := sock.recv(65536):
                reply += chunk
            with lock:
                answered.append(reply.split(b"\r\n", 1)[0])

    threads = [threading.Thread(target=client) for _ in range(200)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 10
    while len(connected) < 120 and time.monotonic() < deadline:
        time.sleep(0.05)
    queued = len(connected)
    go.set()
    serving = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    serving.start()
    try:
        for thread in threads:
            thread.join(timeout=60)
    finally:
        server.shutdown()
        server.server_close()
    assert queued >= 120  # 6 with the old backlog of 5
    assert answered == [b"HTTP/1.1 200 OK"] * 200


def _own_server(tree: Path) -> tuple[Any, int]:
    server = serve(tree, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1]


def test_an_idle_connection_is_closed_and_a_flood_of_them_starves_nobody(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Was: no connection ever timed out; 1,100 idle sockets (an HTTP/0.9 line, or nothing)
    left every other client waiting once the process ran out of files."""
    import socket

    from fo_cast import serve as serve_module

    monkeypatch.setattr(serve_module.TreeHandler, "timeout", 0.5)
    monkeypatch.setattr(serve_module, "MAX_CONNECTIONS", 8)
    server, port = _own_server(tree)
    try:
        idle = socket.create_connection(("127.0.0.1", port))
        idle.settimeout(10)
        started = time.monotonic()
        assert idle.recv(1) == b""  # closed by the server
        assert time.monotonic() - started < 5
        idle.close()
        flood = [socket.create_connection(("127.0.0.1", port)) for _ in range(20)]
        time.sleep(0.2)
        for sock in flood:
            sock.close()
        time.sleep(0.8)  # the slots come back as the idle ones time out
        assert request(port, "GET", "/index.html")[0] == 200
    finally:
        server.shutdown()
        server.server_close()


def test_a_file_cut_short_while_served_ends_the_connection(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Was: the length promised could not be sent and the connection stayed open: the
    client waited for the rest for ever."""
    import io
    import socket

    from fo_cast import serve as serve_module

    class Cut(io.BufferedReader):  # the file as it is when truncated after two bytes
        def read(self, size: int | None = -1) -> bytes:
            left = 2 - self.tell()
            return super().read(min(size or 0, left)) if left > 0 else b""

    def cut_open(self: Any, path: Path) -> Any:
        return Cut(io.FileIO(path))

    monkeypatch.setattr(serve_module.TreeServer, "open", cut_open)
    server, port = _own_server(tree)
    try:
        sock = socket.create_connection(("127.0.0.1", port))
        sock.settimeout(10)
        sock.sendall(b"GET /show/ep/audio.mp3 HTTP/1.1\r\nHost: x\r\n\r\n")
        received = b""
        while chunk := sock.recv(65536):  # ends: the server closed the connection
            received += chunk
        sock.close()
        assert received.endswith(b"\r\n\r\n" + AUDIO[:2])
        assert f"Content-Length: {len(AUDIO)}".encode() in received
    finally:
        server.shutdown()
        server.server_close()
