"""Fault tolerance against a real S3 server: network loss, a killed publish, 503s, a lost index.

The promise under test: nothing is lost or left half-published, a feed never goes out before
what it points at, and a re-run converges. Tests that stop or kill SeaweedFS run their own
instance (`running_seaweedfs` in a tmp folder) so the session server stays healthy; the
others go through a small loopback proxy that can answer 503 or hold a request.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from typer.testing import CliRunner

import fo_cast.publish.session
from fo_cast.cli import app
from fo_cast.errors import StorageError
from fo_cast.outputs import Build, Output, Stage
from fo_cast.publish.plan import plan_publish
from fo_cast.publish.run import Event, Failed, Started, Uploaded, publish
from fo_cast.storage import INDEX_KEY, storage_for
from fo_cast.storage.local import LocalStorage
from fo_cast.storage.s3 import HASH_METADATA, S3Storage
from tests.s3server import running_seaweedfs

from .suite import Show, plan_for, run

pytestmark = pytest.mark.integration
MB = 1024 * 1024
REPO = Path(__file__).resolve().parent.parent.parent
NOW = "2025-01-01T00:00:00+00:00"
EPISODE = "exclusive/2024-12-09-eu-crisis"  # its audio.mp3 is made large where needed
FEEDS = ("exclusive/feed.xml", "exclusive/feed.json", "index.opml")


# --- helpers ---------------------------------------------------------------------------------


def use_server(server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Puts the server's keys in the environment, and nothing else of AWS's."""
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for name, value in server.env.items():
        monkeypatch.setenv(name, value)


def weed_pid(server: Any) -> int:
    """Returns the pid (and process group) of the `weed mini` serving this S3 port."""
    flag = f"-s3.port={urlsplit(server.endpoint).port}".encode()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if flag in (entry / "cmdline").read_bytes().split(b"\0"):
                    return int(entry.name)
    raise RuntimeError(f"no weed process serves {server.endpoint}")


def objects(server: Any, prefix: str) -> dict[str, dict[str, Any]]:
    """Returns every object under prefix/ by key: its size and stored sha256."""
    client = server.client()
    found = {}
    for page in client.get_paginator("list_objects_v2").paginate(
        Bucket=server.bucket, Prefix=prefix + "/"
    ):
        for item in page.get("Contents", []):
            head = client.head_object(Bucket=server.bucket, Key=item["Key"])
            key = item["Key"][len(prefix) + 1 :]
            found[key] = {"size": item["Size"], "sha256": head["Metadata"].get(HASH_METADATA)}
    return found


def multipart_uploads(server: Any, prefix: str) -> list[str]:
    reply = server.client().list_multipart_uploads(Bucket=server.bucket, Prefix=prefix + "/")
    return [u["Key"] for u in reply.get("Uploads", [])]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def enlarge_mp3(path: Path, size: int) -> None:
    """Repeats the file's MPEG frames until it is about `size` bytes: still a valid MP3."""
    data = path.read_bytes()
    assert data[:3] == b"ID3"
    tag = 10 + int.from_bytes(bytes(b & 0x7F for b in data[6:10]), "big")  # syncsafe size
    frames = data[tag:]
    path.write_bytes(data + frames * (size // len(frames)))


@pytest.fixture
def catalogue(tmp_path: Path) -> Path:
    root = tmp_path / "episodes"
    shutil.copytree(REPO / "episodes", root, ignore=shutil.ignore_patterns(".fo-cast"))
    return root


def cli_publish(catalogue: Path, *options: str) -> tuple[int, dict[str, Any], str]:
    """Returns the exit code, the JSON report and stderr of one in-process `fo-cast publish`."""
    result = CliRunner().invoke(
        app, ["publish", str(catalogue), "--now", NOW, "--format", "json", *options]
    )
    try:
        report = json.loads(result.stdout)
    except ValueError:
        report = {}
    return result.exit_code, report, result.stderr


def two_tries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two tries a request keep a test quick; the default's would back off for ~8 s each."""
    defaults = S3Storage.__init__.__kwdefaults__
    assert defaults is not None
    monkeypatch.setitem(defaults, "max_attempts", 2)


def process_publish(catalogue: Path, *options: str) -> subprocess.CompletedProcess[str]:
    """Runs `fo-cast publish` in its own process, as a user would (main()'s error lines)."""
    return subprocess.run(
        [sys.executable, "-m", "fo_cast", "publish", str(catalogue), "--now", NOW, *options],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def uploaded(report: dict[str, Any]) -> set[str]:
    return {u["key"] for u in report["plan"]["uploads"]}


SLOW_DOWN = (
    b"<?xml version='1.0' encoding='UTF-8'?><Error><Code>SlowDown</Code>"
    b"<Message>Please reduce your request rate.</Message></Error>"
)
NOT_IMPLEMENTED = (
    b"<?xml version='1.0' encoding='UTF-8'?><Error><Code>NotImplemented</Code><Message>A header "
    b"you provided implies functionality that is not implemented</Message></Error>"
)
PRECONDITION_FAILED = (
    b"<?xml version='1.0' encoding='UTF-8'?><Error><Code>PreconditionFailed</Code><Message>At "
    b"least one of the pre-conditions you specified did not hold</Message></Error>"
)
NO_SUCH_KEY = (
    b"<?xml version='1.0' encoding='UTF-8'?><Error><Code>NoSuchKey</Code><Message>The "
    b"specified key does not exist.</Message></Error>"
)
LOCK_PATH = "/.fo-cast/lock.json"
HOP_BY_HOP = {
    "connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer",
    "upgrade", "expect",
}  # fmt: skip


class Proxy:
    """A loopback HTTP proxy in front of S3 that answers 503 SlowDown or holds multipart parts.

    Requests keep their Host header, so SigV4 signatures made for the proxy's address still
    verify at the server behind it.
    """

    def __init__(self, upstream: str, fail_puts: int = 0) -> None:
        self.upstream = urlsplit(upstream)
        self.fail_puts = fail_puts  # answer 503 to this many PUTs; -1: to every PUT
        self.failed = self.puts = 0
        self.hold_parts = False  # hold every UploadPart until `release` is set
        self.delay = 0.0  # seconds every PUT waits before it is passed on: a slow link
        # "conditional": a DELETE of the lock with If-Match answers 501 (an S3 compatible
        # without conditional deletes); "all": every DELETE of the lock, and every
        # DeleteObjects, answers 503
        self.lock_deletes: str | None = None
        self.lock_ghost = False  # the lock's create answers 412 (held), reading it 404 (none)
        # answers every listing (ListObjectsV2) in place of the server: (status, body)
        self.listing: Callable[[], tuple[int, bytes]] | None = None
        self.trickle = ""  # a GET of a key ending so is answered a byte each 0.2 s
        self.ghost_requests = 0
        self.part_seen = threading.Event()
        self.release = threading.Event()
        self._lock = threading.Lock()
        self._server = _QuietServer(("127.0.0.1", 0), _ProxyHandler)
        self._server.daemon_threads = True
        self._server.proxy = self  # type: ignore[attr-defined]
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> Proxy:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()

    def refuse(self, method: str, path: str = "") -> bool:
        with self._lock:
            if method != "PUT" or path.split("?")[0].endswith("/.fo-cast/lock.json"):
                return False  # the target's lock passes: these faults are about uploads
            self.puts += 1
            if self.fail_puts < 0 or self.failed < self.fail_puts:
                self.failed += 1
                return True
            return False


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], OSError):  # a killed client hangs up: expected
            super().handle_error(request, client_address)


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, and `100 Continue` for botocore's uploads

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        proxy: Proxy = self.server.proxy  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        if proxy.refuse(self.command, self.path):
            self._reply(503, [("Content-Type", "application/xml")], SLOW_DOWN)
            return
        if proxy.listing is not None and self.command == "GET" and "list-type=2" in self.path:
            status, answer = proxy.listing()
            self._reply(status, [("Content-Type", "application/xml")], answer)
            return
        if proxy.lock_ghost and self.path.split("?")[0].endswith(LOCK_PATH):
            proxy.ghost_requests += 1
            if self.command == "PUT":
                self._reply(412, [("Content-Type", "application/xml")], PRECONDITION_FAILED)
            else:
                self._reply(404, [("Content-Type", "application/xml")], NO_SUCH_KEY)
            return
        deletes = self.command == "POST" and self.path.endswith("?delete")  # DeleteObjects
        if deletes and proxy.lock_deletes == "all":
            self._reply(503, [("Content-Type", "application/xml")], SLOW_DOWN)
            return
        if self.command == "DELETE" and self.path.split("?")[0].endswith(LOCK_PATH):
            if proxy.lock_deletes == "all":
                self._reply(503, [("Content-Type", "application/xml")], SLOW_DOWN)
                return
            if proxy.lock_deletes == "conditional" and self.headers.get("If-Match"):
                self._reply(501, [("Content-Type", "application/xml")], NOT_IMPLEMENTED)
                return
        if proxy.delay and self.command == "PUT":
            time.sleep(proxy.delay)
        if proxy.hold_parts and self.command == "PUT" and "uploadId=" in self.path:
            proxy.part_seen.set()
            proxy.release.wait(30)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        upstream = http.client.HTTPConnection(
            proxy.upstream.hostname or "", proxy.upstream.port, timeout=30
        )
        try:
            upstream.request(self.command, self.path, body=body, headers=headers)
            reply = upstream.getresponse()
            data = reply.read()
            kept = [(k, v) for k, v in reply.getheaders() if k.lower() not in HOP_BY_HOP]
        finally:
            upstream.close()
        if self.command != "HEAD":  # a HEAD keeps the object's Content-Length, and no body
            kept = [(k, v) for k, v in kept if k.lower() != "content-length"]
        if proxy.trickle and self.command == "GET" and self.path.endswith(proxy.trickle):
            self.send_response_only(reply.status)
            for name, value in kept:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            for n in range(len(data)):
                self.wfile.write(data[n : n + 1])
                self.wfile.flush()
                time.sleep(0.2)
            return
        self._reply(reply.status, kept, data)

    do_PUT = do_POST = do_HEAD = do_DELETE = do_GET

    def _reply(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.send_response_only(status)
        for name, value in headers:
            self.send_header(name, value)
        if self.command != "HEAD":
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


# --- 1. network loss mid-publish -------------------------------------------------------------


def test_network_loss_fails_in_bounded_time_then_a_rerun_converges(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    sizes = {"a1": 200_000, "a2": 300_000, "b-big": 12 * MB, "c1": 250_000, "c2": 150_000}
    outputs = []
    for name, size in sizes.items():
        source = tree / f"{name}.mp3"
        source.write_bytes(os.urandom(size))
        outputs.append(Output(f"media/{name}.mp3", "audio/mpeg", Stage.MEDIA, source=source))
    outputs.append(Output("feed.xml", "application/rss+xml", Stage.FEED, data=b"<rss/>"))
    build = Build(outputs)
    # Short timeouts and one retry keep the test quick; the defaults are in S3Storage.
    options: dict[str, Any] = {
        "multipart_threshold": 5 * MB,
        "multipart_chunksize": 5 * MB,
        "part_concurrency": 1,
        "connect_timeout": 1,
        "read_timeout": 1,
        "max_attempts": 2,
    }
    data = tmp_path / "seaweedfs"
    data.mkdir()

    with running_seaweedfs(data) as server:
        use_server(server, monkeypatch)
        storage = storage_for(f"s3://{server.bucket}/show", server.endpoint, **options)
        plan = plan_publish(build, storage.list())
        pid = weed_pid(server)
        stopped = 0.0
        put = storage.put

        def put_and_stop(
            output: Output, content_hash: str, cache_control: str, progress: Any
        ) -> Any:
            def stop_then_report(size: int) -> None:
                nonlocal stopped
                if not stopped:  # the big file's first part is on its way: the server hangs
                    os.killpg(pid, signal.SIGSTOP)
                    stopped = time.monotonic()
                progress(size)

            big = output.path == "media/b-big.mp3"
            return put(output, content_hash, cache_control, stop_then_report if big else progress)

        monkeypatch.setattr(storage, "put", put_and_stop)
        events: list[Event] = []
        with pytest.raises(StorageError) as caught:
            # Two workers take a1 and a2; the big file starts when one of them has arrived.
            events.extend(publish(plan, storage, workers=2))
        waited = time.monotonic() - stopped
        os.killpg(pid, signal.SIGKILL)
    assert stopped, "the big file's upload never started"
    # One part's tries (2 x (1 s for `100 Continue` + 1 s)) and the abort's, plus backoff.
    assert waited < 15, f"a lost server took {waited:.1f} s to report"
    message = str(caught.value)
    assert "media uploads failed" in message and "feed were not published" in message
    failed = [e for e in events if isinstance(e, Failed)]
    assert failed and all(e.unreachable for e in failed), failed
    assert "the server could not be reached" in failed[0].message
    arrived = {e.key for e in events if isinstance(e, Uploaded)}
    assert arrived and "media/b-big.mp3" not in arrived

    with running_seaweedfs(data) as server:  # the same data, served again
        use_server(server, monkeypatch)
        stored = objects(server, "show")
        assert "feed.xml" not in stored and arrived <= set(stored)
        assert multipart_uploads(server, "show") == ["show/media/b-big.mp3"]

        storage = storage_for(f"s3://{server.bucket}/show", server.endpoint, **options)
        again = plan_publish(build, storage.list())
        resent = {u.key for u in again.uploads}
        assert not resent & arrived, "what arrived is not sent again"
        assert {"media/b-big.mp3", "feed.xml"} <= resent
        events = list(publish(again, storage, workers=2))
        started = events[0]
        assert isinstance(started, Started) and started.cleaned == 1
        assert {e.key for e in events if isinstance(e, Uploaded)} == resent

        assert multipart_uploads(server, "show") == []
        stored = objects(server, "show")
        assert set(stored) == {o.path for o in outputs} | {INDEX_KEY}
        for output in outputs:
            body = output.data if output.data is not None else output.source.read_bytes()  # type: ignore[union-attr]
            assert stored[output.path]["sha256"] == hashlib.sha256(body).hexdigest()
        assert plan_publish(build, storage.list()).uploads == []


# --- 2. SIGKILL of `fo-cast publish` during a multipart upload -------------------------------

CLI_CHILD = """
import sys
from fo_cast.storage.s3 import S3Storage
S3Storage.__init__.__kwdefaults__.update(multipart_threshold=5 << 20, multipart_chunksize=5 << 20)
from fo_cast.cli import app
app(prog_name="fo-cast")
"""


def test_killed_cli_during_multipart_keeps_the_old_feed_then_converges(
    catalogue: Path, s3_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_server(s3_server, monkeypatch)
    prefix = f"killed-{uuid.uuid4().hex[:8]}"
    to = ["--to", f"s3://{s3_server.bucket}/{prefix}"]
    code, _, stderr = cli_publish(catalogue, *to, "--endpoint-url", s3_server.endpoint)
    assert code == 0, stderr
    client = s3_server.client()

    def feeds() -> dict[str, bytes]:
        return {
            key: client.get_object(Bucket=s3_server.bucket, Key=f"{prefix}/{key}")["Body"].read()
            for key in FEEDS
        }

    old_feeds = feeds()
    audio = catalogue / EPISODE / "audio.mp3"
    old_size = audio.stat().st_size
    enlarge_mp3(audio, 12 * MB)  # above the child's 5 MB multipart threshold
    with Proxy(s3_server.endpoint) as proxy:
        proxy.hold_parts = True
        child = subprocess.Popen(
            [sys.executable, "-c", CLI_CHILD, "publish", str(catalogue), *to, "--now", NOW],
            env={**os.environ, "AWS_ENDPOINT_URL": proxy.endpoint},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        try:
            assert proxy.part_seen.wait(30), "the multipart upload never started"
            assert multipart_uploads(s3_server, prefix) == [f"{prefix}/{EPISODE}/audio.mp3"]
            os.killpg(child.pid, signal.SIGKILL)
            child.wait(timeout=10)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGKILL)
            child.wait(timeout=10)
            if child.stderr:
                child.stderr.close()
    assert child.returncode == -signal.SIGKILL

    # The feeds are the old ones, pointing at the old, complete audio; never at a missing file.
    assert feeds() == old_feeds
    head = client.head_object(Bucket=s3_server.bucket, Key=f"{prefix}/{EPISODE}/audio.mp3")
    assert head["ContentLength"] == old_size
    assert f'{EPISODE}/audio.mp3" length="{old_size}"' in old_feeds["exclusive/feed.xml"].decode()

    # The killed publish's lock stays; its process is gone, so --break-lock takes it over.
    code, _, stderr = cli_publish(catalogue, *to, "--endpoint-url", s3_server.endpoint)
    assert code == 5 and "its process is gone (killed?); --break-lock takes it over" in stderr
    code, report, stderr = cli_publish(
        catalogue, *to, "--endpoint-url", s3_server.endpoint, "--break-lock"
    )
    assert code == 0, stderr
    assert f"{EPISODE}/audio.mp3" in uploaded(report)
    assert multipart_uploads(s3_server, prefix) == []
    stored = objects(s3_server, prefix)
    assert stored[f"{EPISODE}/audio.mp3"] == {"size": audio.stat().st_size, "sha256": sha256(audio)}
    assert f'audio.mp3" length="{audio.stat().st_size}"' in feeds()["exclusive/feed.xml"].decode()
    code, report, _ = cli_publish(catalogue, *to, "--endpoint-url", s3_server.endpoint)
    assert (code, uploaded(report)) == (0, set())


# --- 3. throttling and 5xx -------------------------------------------------------------------


def test_503s_are_retried_and_the_publish_succeeds(
    catalogue: Path, s3_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_server(s3_server, monkeypatch)
    to = ["--to", f"s3://{s3_server.bucket}/slow-{uuid.uuid4().hex[:8]}"]
    with Proxy(s3_server.endpoint, fail_puts=4) as proxy:
        code, report, stderr = cli_publish(catalogue, *to, "--endpoint-url", proxy.endpoint)
    assert code == 0, stderr
    assert proxy.failed == 4 and report["uploaded"] == len(uploaded(report))
    # Each refused PUT was sent again: one PUT per object, its index and record, plus 4.
    assert proxy.puts >= len(uploaded(report)) + 2 + 4
    code, report, _ = cli_publish(catalogue, *to, "--endpoint-url", s3_server.endpoint)
    assert (code, uploaded(report)) == (0, set())


def test_a_server_that_always_answers_503_fails_with_exit_3_and_no_feeds(
    catalogue: Path, s3_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_server(s3_server, monkeypatch)
    two_tries(monkeypatch)
    prefix = f"down-{uuid.uuid4().hex[:8]}"
    to = ["--to", f"s3://{s3_server.bucket}/{prefix}"]
    with Proxy(s3_server.endpoint, fail_puts=-1) as proxy:
        started = time.monotonic()
        code, _, stderr = cli_publish(catalogue, *to, "--endpoint-url", proxy.endpoint)
        waited = time.monotonic() - started
    assert code == 3, stderr
    assert "media uploads failed; asset and feed were not published" in stderr
    assert "SlowDown" in stderr
    assert objects(s3_server, prefix) == {}
    assert waited < 20


def test_a_server_without_conditional_deletes_still_has_the_lock_removed(
    catalogue: Path, s3_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An S3 compatible answering 501 to DELETE with If-Match: the lock, still ours (our
    token), goes by a plain DELETE; where even that fails, the publish says the lock stayed."""
    use_server(s3_server, monkeypatch)
    two_tries(monkeypatch)
    prefix = f"undeletable-{uuid.uuid4().hex[:8]}"
    to = ["--to", f"s3://{s3_server.bucket}/{prefix}"]
    lock = LOCK_PATH[1:]  # objects() names keys under the prefix
    with Proxy(s3_server.endpoint) as proxy:
        proxy.lock_deletes = "conditional"
        code, _, stderr = cli_publish(catalogue, *to, "--endpoint-url", proxy.endpoint)
        assert code == 0, stderr
        assert lock not in objects(s3_server, prefix) and "warning" not in stderr
        proxy.lock_deletes = "all"
        companion = next(catalogue.glob("talks/*/companion.md"))  # a change: a locked publish
        companion.write_text(companion.read_text(encoding="utf-8") + "\nOne more line.\n")
        code, _, stderr = cli_publish(catalogue, *to, "--endpoint-url", proxy.endpoint)
    assert code == 0, stderr  # the publish itself went through
    assert lock in objects(s3_server, prefix)
    assert "fo-cast: warning: the lock on s3://" in stderr
    assert "could not be removed" in stderr and "--break-lock takes it over" in stderr


def test_a_lock_that_exists_and_cannot_be_read_ends_in_bounded_time(
    catalogue: Path, s3_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Creating the lock answers 412 (held), reading it 404 (none), as a store lagging
    behind itself would: the publish tries a few times, waits out --wait, and says so,
    where it once asked again some 20 times a second for ever."""
    use_server(s3_server, monkeypatch)
    to = ["--to", f"s3://{s3_server.bucket}/ghost-{uuid.uuid4().hex[:8]}"]
    with Proxy(s3_server.endpoint) as proxy:
        proxy.lock_ghost = True
        started = time.monotonic()
        done = process_publish(catalogue, *to, "--endpoint-url", proxy.endpoint, "--wait", "3")
        waited = time.monotonic() - started
    code, stderr = done.returncode, done.stderr
    assert code == 4, stderr
    assert "answers that it exists and reading it finds none" in stderr
    assert 3 <= waited < 20
    assert proxy.ghost_requests < 30  # about one try a second once the quick ones are out


def _page(token: str, keys: list[str], size: str = "5") -> bytes:
    contents = "".join(
        f"<Contents><Key>{k}</Key><Size>{size}</Size><ETag>&quot;e&quot;</ETag></Contents>"
        for k in keys
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws'
        f'.com/doc/2006-03-01/"><Name>b</Name><Prefix>p/</Prefix><KeyCount>{len(keys)}'
        f"</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>true</IsTruncated>{contents}"
        f"<NextContinuationToken>{token}</NextContinuationToken></ListBucketResult>"
    ).encode()


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("empty pages for ever", "pages in a row held no object, yet more"),
        ("the same objects for ever", "twice"),
        ("a web page", "the answer is not an S3 listing"),
        ("a size that is no number", "it cannot be read"),
    ],
)
def test_a_hostile_listing_ends_in_one_line_and_exit_4(
    catalogue: Path, s3_server: Any, monkeypatch: pytest.MonkeyPatch, case: str, expected: str
) -> None:
    """A listing that never ends (a new continuation token each page), or that is not one
    (a web server answering 200): where fo-cast once listed for ever, or took an empty
    target and published over someone's files, it stops at the listing and names it."""
    use_server(s3_server, monkeypatch)
    tokens = iter(range(1_000_000))
    answers: dict[str, Callable[[], tuple[int, bytes]]] = {
        "empty pages for ever": lambda: (200, _page(f"t{next(tokens)}", [])),
        "the same objects for ever": lambda: (200, _page(f"t{next(tokens)}", ["p/a", "p/b"])),
        "a web page": lambda: (200, b"<html><body>Welcome to nginx!</body></html>"),
        "a size that is no number": lambda: (200, _page("t", ["p/a"], size="NaN")),
    }
    to = ["--to", f"s3://{s3_server.bucket}/listing-{uuid.uuid4().hex[:8]}"]
    with Proxy(s3_server.endpoint) as proxy:
        proxy.listing = answers[case]
        started = time.monotonic()
        done = process_publish(catalogue, *to, "--endpoint-url", proxy.endpoint)
    assert done.returncode == 4, done.stderr
    assert "cannot list: " in done.stderr and expected in done.stderr
    assert "Traceback" not in done.stderr and time.monotonic() - started < 60
    assert objects(s3_server, to[1].rsplit("/", 1)[1]) == {}  # nothing published


def test_a_record_that_trickles_in_is_cut_off(
    s3_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The read timeout bounds each wait for bytes; a body sent a byte at a time never
    trips it, so a record's read has its own deadline (60 s plus its size's worth)."""
    from fo_cast.storage import s3

    use_server(s3_server, monkeypatch)
    monkeypatch.setattr(s3, "BODY_SECONDS", 1.0)
    prefix = f"trickle-{uuid.uuid4().hex[:8]}"
    s3_server.client().put_object(
        Bucket=s3_server.bucket, Key=f"{prefix}/.fo-cast/x.json", Body=b"{}" * 100
    )
    with Proxy(s3_server.endpoint) as proxy:
        proxy.trickle = "/.fo-cast/x.json"
        storage = storage_for(f"s3://{s3_server.bucket}/{prefix}", proxy.endpoint)
        started = time.monotonic()
        with pytest.raises(StorageError, match="too slowly to wait for the rest"):
            storage.read(".fo-cast/x.json")
        assert time.monotonic() - started < 10  # the whole body would take 40 s
        proxy.trickle = ""
        assert storage.read(".fo-cast/x.json") == b"{}" * 100


# --- 4. a lost or damaged hash index ---------------------------------------------------------


@pytest.mark.parametrize(
    "damage",
    [None, b"{not json", b'{"objects": []}', b'{"version": 1, "objects": {"feed.xml": [1]}}'],
    ids=["deleted", "garbage", "wrong-shape", "short-entry"],
)
def test_a_lost_or_damaged_index_falls_back_to_metadata_and_is_rewritten(
    damage: bytes | None, tmp_path: Path, s3_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_server(s3_server, monkeypatch)
    prefix = f"index-{uuid.uuid4().hex[:8]}"
    key = f"{prefix}/{INDEX_KEY}"

    class Target:  # what suite.plan_for needs
        url = f"s3://{s3_server.bucket}/{prefix}"

        @staticmethod
        def storage() -> Any:
            return storage_for(Target.url, s3_server.endpoint, max_attempts=2)

    show = Show(tmp_path / "built", s3_server.public_url(prefix))
    run(show, Target)  # type: ignore[arg-type]
    client = s3_server.client()
    good = client.get_object(Bucket=s3_server.bucket, Key=key)["Body"].read()
    if damage is None:
        client.delete_object(Bucket=s3_server.bucket, Key=key)
    else:
        client.put_object(Bucket=s3_server.bucket, Key=key, Body=damage)

    heads = []
    plan, storage = plan_for(show, Target)  # type: ignore[arg-type]
    assert plan.uploads == [] and len(plan.unchanged) == len(show.build().outputs)
    events = list(publish(plan, storage))
    assert not any(isinstance(e, Uploaded) for e in events)
    assert client.get_object(Bucket=s3_server.bucket, Key=key)["Body"].read() == good

    storage = Target.storage()
    storage._client.meta.events.register("before-call.s3.HeadObject", lambda **_: heads.append(1))
    assert plan_publish(show.build(), storage.list()).uploads == []
    assert heads == [], "the rewritten index vouches for every object again"


def test_a_damaged_local_index_costs_a_rehash_and_is_rewritten(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "public"
    show = Show(tmp_path / "built", root.as_uri())

    class Target:
        url = str(root)

        @staticmethod
        def storage() -> Any:
            return LocalStorage(root)

    run(show, Target)  # type: ignore[arg-type]
    index = root / INDEX_KEY
    good = index.read_bytes()
    index.write_bytes(b'{"objects": []}')
    plan, storage = plan_for(show, Target)  # type: ignore[arg-type]
    assert plan.uploads == []
    list(publish(plan, storage))
    # A folder keeps no headers, so the rehashed entries know size, mtime and hash only.
    entries = json.loads(index.read_bytes())["objects"]
    assert {k: v[:3] for k, v in entries.items()} == {
        k: v[:3] for k, v in json.loads(good)["objects"].items()
    }
    rehashed = []
    monkeypatch.setattr("fo_cast.storage.local.hash_file", lambda path: rehashed.append(path))
    assert plan_for(show, Target)[0].uploads == []  # type: ignore[arg-type]
    assert rehashed == [], "the rewritten index vouches for every file again"


# --- 5. a media file edited between plan and upload ------------------------------------------


def test_media_edited_between_plan_and_upload_is_not_published_under_the_old_hash(
    catalogue: Path, s3_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_server(s3_server, monkeypatch)
    prefix = f"edit-{uuid.uuid4().hex[:8]}"
    to = ["--to", f"s3://{s3_server.bucket}/{prefix}", "--endpoint-url", s3_server.endpoint]
    audio = catalogue / EPISODE / "audio.mp3"
    planned = audio.read_bytes()
    real_plan = fo_cast.publish.plan.plan_publish

    def plan_then_edit(*args: Any, **kwargs: Any) -> Any:
        plan = real_plan(*args, **kwargs)
        audio.write_bytes(planned[:-1] + bytes([planned[-1] ^ 0xFF]))  # same size, new bytes
        return plan

    monkeypatch.setattr(fo_cast.publish.plan, "plan_publish", plan_then_edit)
    code, _, stderr = cli_publish(catalogue, *to)
    assert code == 3, stderr
    assert "audio.mp3 changed while publishing; run publish again" in stderr
    assert "asset and feed were not published" in stderr
    stored = objects(s3_server, prefix)
    assert f"{EPISODE}/audio.mp3" not in stored and "exclusive/feed.xml" not in stored

    monkeypatch.setattr(fo_cast.publish.plan, "plan_publish", real_plan)
    code, report, stderr = cli_publish(catalogue, *to)
    assert code == 0, stderr
    assert f"{EPISODE}/audio.mp3" in uploaded(report)
    stored = objects(s3_server, prefix)
    assert stored[f"{EPISODE}/audio.mp3"]["sha256"] == sha256(audio) != sha256_bytes(planned)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_media_edited_during_its_multipart_upload_loses_its_hash_claim(
    tmp_path: Path, s3_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_server(s3_server, monkeypatch)
    big = tmp_path / "big.mp3"
    big.write_bytes(os.urandom(12 * MB))
    # an hour old: the edit below moves its mtime past any clock tick (file times are taken
    # from the kernel's coarse clock, and a test runs within one tick of its write)
    hour_ago = time.time_ns() - 3600 * 10**9
    os.utime(big, ns=(hour_ago, hour_ago))
    build = Build([Output("media/big.mp3", "audio/mpeg", Stage.MEDIA, source=big)])
    prefix = f"torn-{uuid.uuid4().hex[:8]}"
    options = {"multipart_threshold": 5 * MB, "multipart_chunksize": 5 * MB, "max_attempts": 2}
    storage = storage_for(f"s3://{s3_server.bucket}/{prefix}", s3_server.endpoint, **options)
    plan = plan_publish(build, storage.list())
    planned = plan.uploads[0].content_hash
    put = storage.put

    edited: list[int] = []

    def put_and_edit(output: Output, content_hash: str, cache_control: str, progress: Any) -> Any:
        def edit_then_report(size: int) -> None:
            if not edited:
                edited.append(size)
                first = big.read_bytes()[:1]
                with open(big, "r+b") as file:  # edited in place while the parts go out
                    file.write(b"X" if first != b"X" else b"Y")  # (urandom's may be an X)
            progress(size)

        return put(output, content_hash, cache_control, edit_then_report)

    monkeypatch.setattr(storage, "put", put_and_edit)
    with pytest.raises(StorageError, match="1 of 1 media uploads failed"):
        list(publish(plan, storage))
    # The server refused a part whose CRC no longer matched, or the bytes arrived: either
    # way nothing claims they are the planned ones, and no index vouches for them.
    stored = objects(s3_server, prefix)
    assert stored in ({}, {"media/big.mp3": {"size": 12 * MB, "sha256": None}})
    storage = storage_for(f"s3://{s3_server.bucket}/{prefix}", s3_server.endpoint, **options)
    again = plan_publish(build, storage.list())
    assert [u.key for u in again.uploads] == ["media/big.mp3"]
    assert again.uploads[0].content_hash != planned
    list(publish(again, storage))
    assert objects(s3_server, prefix)["media/big.mp3"]["sha256"] == sha256(big)


def test_media_edited_during_its_local_copy_is_not_written(tmp_path: Path) -> None:
    media = tmp_path / "ep.mp3"
    media.write_bytes(os.urandom(3 * MB))
    storage = LocalStorage(tmp_path / "public")
    output = Output("media/ep.mp3", "audio/mpeg", Stage.MEDIA, source=media)

    edited: list[int] = []

    def edit(size: int) -> None:
        if not edited:
            edited.append(size)
            last = media.read_bytes()[-1:]
            with open(media, "r+b") as file:  # its end edited in place while it is copied
                file.seek(-1, os.SEEK_END)
                file.write(b"X" if last != b"X" else b"Y")  # (urandom's may be an X)

    with pytest.raises(StorageError, match="ep.mp3 changed since the plan"):
        storage.put(output, sha256(media), "public, max-age=86400", edit)
    assert storage.list() == {} and storage.cleanup() == 0
