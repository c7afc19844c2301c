"""Notifications after a publish, against a recording server on 127.0.0.1: the exact
requests (method, path, query, headers, body), retries with backoff, failures as warnings."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from typer.testing import CliRunner

from fo_cast.cli import app
from fo_cast.publish.notify import user_agent

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parent.parent.parent
NOW = "2025-01-01T00:00:00+00:00"
EPISODE = "talks/2024-08-04-middle-east-part-1"
BASE = "https://podcasts.fairobserver.com/"
TOKEN = "podping-token-for-tests"


@dataclass
class Request:
    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body: bytes


@dataclass
class Recorder:
    port: int = 0
    requests: list[Request] = field(default_factory=list)
    fail_first: int = 0  # answer 503 to this many requests; -1: to all
    redirects: dict[str, str] = field(default_factory=dict)  # path -> Location of a 302
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    rec = Recorder()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            wanted = ("User-Agent", "Authorization", "Content-Type")
            headers = {k: v for k, v in self.headers.items() if k in wanted}
            with rec.lock:
                rec.requests.append(
                    Request(self.command, parts.path, parse_qsl(parts.query), headers, body)
                )
                fail = rec.fail_first < 0 or len(rec.requests) <= rec.fail_first
            if parts.path in rec.redirects:
                self.send_response(302)
                self.send_header("Location", rec.redirects[parts.path])
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(503 if fail else 200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        do_POST = do_GET

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    rec.port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield rec
    server.shutdown()
    server.server_close()


@pytest.fixture
def catalogue(tmp_path: Path, recorder: Recorder) -> Path:
    root = tmp_path / "episodes"
    shutil.copytree(REPO / "episodes", root, ignore=shutil.ignore_patterns(".fo-cast"))
    with open(root / "fo-cast.toml", "a", encoding="utf-8") as settings:
        settings.write(
            "\n[notify]\n"
            "podcastindex = true\n"
            f'podcastindex_url = "{recorder.url}/pubnotify"\n'
            "podping = true\n"
            f'podping_url = "{recorder.url}/"\n'
            f'websub_hub = "{recorder.url}/hub"\n'
            "backoff = 0.01\n"
        )
    return root


def publish(catalogue: Path, target: Path, *extra: str) -> Any:
    return CliRunner().invoke(
        app,
        ["publish", str(catalogue), "--to", str(target), "--now", NOW, *extra],
        env={"PODPING_TOKEN": TOKEN},
    )


def expected(feed: str, hub: str, video: bool = False) -> list[Request]:
    url = BASE + feed
    agent = {"User-Agent": user_agent()}
    medium = "video" if video else "podcast"
    return [
        Request("GET", "/pubnotify", [("url", url)], agent, b""),
        Request(
            "GET", "/", [("url", url), ("reason", "update"), ("medium", medium)],
            {"User-Agent": user_agent(), "Authorization": TOKEN}, b"",
        ),
        Request(
            "POST", "/hub", [], {**agent, "Content-Type": "application/x-www-form-urlencoded"},
            f"hub.mode=publish&hub.url={url.replace(':', '%3A').replace('/', '%2F')}".encode(),
        ),
    ]  # fmt: skip


def test_changed_feeds_are_notified_once_each(
    catalogue: Path, tmp_path: Path, recorder: Recorder
) -> None:
    target = tmp_path / "public"
    result = publish(catalogue, target, "--format", "json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    rss = [
        u["key"]
        for u in report["plan"]["uploads"]
        if u["content_type"].startswith("application/rss+xml")
    ]
    assert rss == [
        "exclusive/feed.xml", "exclusive/video.xml", "live/feed.xml", "live/video.xml",
        "talks/feed.xml", "talks/video.xml",
    ]  # fmt: skip
    hub = recorder.url + "/hub"
    assert recorder.requests == [
        r for feed in rss for r in expected(feed, hub, video=feed.endswith("video.xml"))
    ]
    assert all(n["ok"] and n["tries"] == 1 for n in report["notifications"])
    # The feeds name the hub, so WebSub subscribers know where to subscribe.
    feed = (target / "talks" / "feed.xml").read_text(encoding="utf-8")
    assert f'<atom:link rel="hub" href="{hub}"/>' in feed

    # Nothing changed: nobody is told anything.
    recorder.requests.clear()
    assert publish(catalogue, target).exit_code == 0
    assert recorder.requests == []

    # One episode changed: only its show's feeds.
    companion = catalogue / EPISODE / "companion.md"
    companion.write_text(companion.read_text(encoding="utf-8") + "\nMore.\n", encoding="utf-8")
    result = publish(catalogue, target)
    assert result.exit_code == 0
    assert recorder.requests == expected("talks/feed.xml", hub) + expected(
        "talks/video.xml", hub, video=True
    )
    assert "notified Podcast Index of https://podcasts.fairobserver.com/talks/feed.xml" in (
        result.stderr
    )


def test_failures_are_retried_then_a_warning_never_a_failed_publish(
    catalogue: Path, tmp_path: Path, recorder: Recorder
) -> None:
    recorder.fail_first = 2  # the Podcast Index ping fails twice, then gets through
    result = publish(catalogue, tmp_path / "public", "--format", "json")
    assert result.exit_code == 0, result.stderr
    notices = json.loads(result.stdout)["notifications"]
    assert notices[0] == {
        "service": "Podcast Index",
        "feed": BASE + "exclusive/feed.xml",
        "ok": True,
        "tries": 3,
        "message": "",
    }
    assert [r.path for r in recorder.requests[:4]] == ["/pubnotify"] * 3 + ["/"]

    recorder.requests.clear()
    recorder.fail_first = -1
    companion = catalogue / EPISODE / "companion.md"
    companion.write_text(companion.read_text(encoding="utf-8") + "\nMore.\n", encoding="utf-8")
    result = publish(catalogue, tmp_path / "public")
    assert result.exit_code == 0
    # the first feed's three services, three tries each; a service that failed every try
    # is not sent the second feed's ping (it is down: a dead one once held the exit minutes)
    assert len(recorder.requests) == 3 * 3
    lines = result.stderr.splitlines()
    assert (
        "warning: could not notify WebSub of https://podcasts.fairobserver.com/talks/feed.xml "
        "(HTTP 503 Service Unavailable; tried 3 times); the feed is published, the directory "
        "will see it when it next polls"
    ) in lines
    assert (
        "warning: could not notify WebSub of https://podcasts.fairobserver.com/talks/video.xml "
        "(not sent: it failed the ping before (HTTP 503 Service Unavailable)); the feed is "
        "published, the directory will see it when it next polls"
    ) in lines


def test_dry_run_says_whom_it_would_notify_and_sends_nothing(
    catalogue: Path, tmp_path: Path, recorder: Recorder
) -> None:
    result = publish(catalogue, tmp_path / "public", "--dry-run")
    assert result.exit_code == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith("would notify")]
    assert lines[:3] == [
        f"would notify Podcast Index: GET {recorder.url}/pubnotify for {BASE}exclusive/feed.xml",
        f"would notify Podping: GET {recorder.url}/ for {BASE}exclusive/feed.xml",
        f"would notify WebSub: POST {recorder.url}/hub for {BASE}exclusive/feed.xml",
    ]
    assert len(lines) == 6 * 3  # six RSS feeds, three services
    assert recorder.requests == []
    assert not (tmp_path / "public").exists()


def test_podping_without_its_token_is_a_warning(
    catalogue: Path, tmp_path: Path, recorder: Recorder
) -> None:
    result = CliRunner().invoke(
        app,
        ["publish", str(catalogue), "--to", str(tmp_path / "public"), "--now", NOW],
        env={"PODPING_TOKEN": ""},
    )
    assert result.exit_code == 0
    assert (
        "warning: Podping is on in fo-cast.toml but PODPING_TOKEN is not set; no Podping was sent"
    ) in result.stderr.splitlines()
    assert "/" not in [r.path for r in recorder.requests]


def test_a_ping_with_a_token_never_follows_a_redirect(
    catalogue: Path, tmp_path: Path, recorder: Recorder
) -> None:
    """Podping's answer 302 to another host received the token (urllib keeps Authorization
    across hosts): a ping carrying one follows no redirect, and says so."""
    recorder.redirects["/"] = f"http://localhost:{recorder.port}/elsewhere"
    result = publish(catalogue, tmp_path / "public")
    assert result.exit_code == 0, result.stderr
    assert [r for r in recorder.requests if r.path == "/elsewhere"] == []
    assert (
        "warning: could not notify Podping of https://podcasts.fairobserver.com/exclusive/"
        "feed.xml (HTTP 302: redirected elsewhere, where a ping carrying a token is not sent; "
        "give the service's final URL; tried 3 times)" in result.stderr
    )
    assert "could not notify Podping of https://podcasts.fairobserver.com/talks/feed.xml " in (
        result.stderr
    )
