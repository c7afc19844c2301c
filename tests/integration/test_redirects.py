"""Re-slugged episodes keep their old URLs working, from the record alone; enclosure
prefixes for analytics, and verify following them to the file."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from fo_cast.cli import app
from fo_cast.outputs import Output, Stage
from fo_cast.publish.guard import RECORD_KEY, GuardRecord
from fo_cast.publish.redirects import redirect_page
from fo_cast.serve import serve
from fo_cast.storage import storage_for

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parent.parent.parent
NOW = "2025-01-01T00:00:00+00:00"
EPISODE = "talks/2024-08-04-middle-east-part-1"
RENAMED = "talks/2024-08-04-middle-east-one"
GUID = "25ea06b6-b958-4449-b8d7-9a5a51428ff1"
BASE = "https://podcasts.fairobserver.com/"


@pytest.fixture
def catalogue(tmp_path: Path) -> Path:
    root = tmp_path / "episodes"
    shutil.copytree(REPO / "episodes", root, ignore=shutil.ignore_patterns(".fo-cast"))
    return root


def publish(catalogue: Path, options: list[str], *extra: str) -> tuple[int, dict[str, Any]]:
    result = CliRunner().invoke(
        app, ["publish", str(catalogue), *options, "--now", NOW, "--format", "json", *extra]
    )
    try:
        return result.exit_code, json.loads(result.stdout)
    except ValueError:
        return result.exit_code, {"output": result.stdout + result.stderr}


def redirects(report: dict[str, Any]) -> dict[str, str]:
    return {u["key"]: u["redirect"] for u in report["plan"]["uploads"] if "redirect" in u}


def test_a_reslugged_episode_keeps_its_old_urls_on_a_folder(
    catalogue: Path, tmp_path: Path
) -> None:
    public = tmp_path / "public"
    target = ["--to", str(public)]
    assert publish(catalogue, target)[0] == 0
    os.rename(catalogue / EPISODE, catalogue / RENAMED)
    code, report = publish(catalogue, target)
    assert code == 0, report
    new_page = f"{BASE}{RENAMED}/"
    assert redirects(report) == {f"{EPISODE}/index.html": new_page}
    # The old media stay as they were (the same bytes), now planned as the old URLs' copies:
    # never stale, so never pruned.
    assert {f"{EPISODE}/audio.mp3", f"{EPISODE}/video.mp4"} <= set(report["plan"]["unchanged"])
    # Chapters and transcripts are found through the feed, never by an old URL: not kept.
    sidecars = [f"{EPISODE}/chapters.json", f"{EPISODE}/transcript.vtt"]
    # (and the files of the search bundle indexed before, which named the old page)
    stale = [key for key in report["plan"]["stale"] if not key.startswith("search/talks-2024/")]
    assert stale == sidecars
    # The page: a canonical link and a meta refresh. The media: the same bytes, since a
    # static host would serve an HTML page at an .mp3 URL as text/html.
    assert (public / EPISODE / "index.html").read_bytes() == redirect_page(new_page)
    page = redirect_page(new_page).decode()
    assert f'<link rel="canonical" href="{new_page}">' in page
    assert f'<meta http-equiv="refresh" content="0; url={new_page}">' in page
    assert (public / EPISODE / "audio.mp3").read_bytes() == (
        catalogue / RENAMED / "audio.mp3"
    ).read_bytes()
    lines = CliRunner().invoke(
        app, ["publish", str(catalogue), "--to", str(public), "--now", NOW, "--dry-run", "--force"]
    )
    assert f"upload {EPISODE}/index.html (forced: redirect to {new_page}, " in lines.stdout

    # The record remembers the old URLs, so later publishes (and prunes) keep them.
    record = GuardRecord.from_bytes((public / RECORD_KEY).read_bytes())
    item = record.items[("talks/feed.xml", GUID)]
    assert item.page_url == new_page and item.old_urls == (
        f"{BASE}{EPISODE}/audio.mp3",
        f"{BASE}{EPISODE}/",
    )
    code, report = publish(catalogue, target, "--prune")
    assert (code, report["plan"]["uploads"]) == (0, [])
    assert [k for k in report["plan"]["deletes"] if not k.startswith("search/")] == sidecars
    assert (public / EPISODE / "index.html").exists()

    # Once the GUID may go, its redirects go with it (on a prune).
    shutil.rmtree(catalogue / RENAMED)
    code, report = publish(catalogue, target, "--prune", "--allow-removal", GUID)
    assert code == 0, report
    assert f"{EPISODE}/index.html" in report["plan"]["deletes"]
    assert not (public / EPISODE).exists()


def test_a_reslugged_episode_becomes_redirect_objects_on_s3(
    catalogue: Path, s3_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in s3_server.env.items():
        monkeypatch.setenv(name, value)
    prefix = f"moved-{uuid.uuid4().hex[:8]}"
    target = ["--to", f"s3://{s3_server.bucket}/{prefix}", "--endpoint-url", s3_server.endpoint]
    assert publish(catalogue, target)[0] == 0
    os.rename(catalogue / EPISODE, catalogue / RENAMED)
    code, report = publish(catalogue, target)
    assert code == 0, report
    new_audio = f"{BASE}{RENAMED}/audio.mp3"
    assert redirects(report)[f"{EPISODE}/audio.mp3"] == new_audio
    head = s3_server.client().head_object(
        Bucket=s3_server.bucket, Key=f"{prefix}/{EPISODE}/audio.mp3"
    )
    # A redirect object, not a copy: the website endpoint answers 301; anything reading the
    # object itself gets the page that refreshes to the new URL.
    assert head["ContentType"] == "text/html; charset=utf-8"
    body = (
        s3_server.client()
        .get_object(Bucket=s3_server.bucket, Key=f"{prefix}/{EPISODE}/audio.mp3")["Body"]
        .read()
    )
    assert body == redirect_page(new_audio)


def test_s3_redirect_objects_carry_the_website_redirect_header(
    s3_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SeaweedFS does not keep x-amz-website-redirect-location, so the request is read."""
    for name, value in s3_server.env.items():
        monkeypatch.setenv(name, value)
    storage = storage_for(f"s3://{s3_server.bucket}/hdr-{uuid.uuid4().hex[:8]}", s3_server.endpoint)
    sent: dict[str, str] = {}

    def record(request: Any, **_: Any) -> None:
        sent.update({k.lower(): _text(v) for k, v in request.headers.items()})

    storage._client.meta.events.register("before-send.s3.PutObject", record)  # type: ignore[attr-defined]
    page = redirect_page(BASE + "new/")
    output = Output("old/index.html", "text/html; charset=utf-8", Stage.ASSET, data=page,
                    redirect=BASE + "new/")  # fmt: skip
    storage.put(output, hashlib.sha256(page).hexdigest(), "public, max-age=3600")
    assert sent["x-amz-website-redirect-location"] == BASE + "new/"


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


class _Redirector(BaseHTTPRequestHandler):
    """Stands in for OP3 and Podtrac: /e/<full URL> and /redirect.mp3/<URL without scheme>."""

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        path = self.path
        if path.startswith("/e/"):
            location = path[len("/e/") :]
        elif path.startswith("/redirect.mp3/"):
            location = "http://" + path[len("/redirect.mp3/") :]
        else:
            self.send_response(404)
            self.end_headers()
            return
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_HEAD = do_GET


@pytest.fixture
def redirector() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Redirector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("style", ["op3", "podtrac"])
def test_enclosure_prefix_keeps_lengths_and_guids_and_verify_follows_it(
    catalogue: Path, tmp_path: Path, redirector: str, style: str
) -> None:
    public = tmp_path / "public"
    public.mkdir()
    server = serve(public, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}/"
        target = ["--to", str(public), "--base-url", base]
        assert publish(catalogue, target)[0] == 0
        plain = (public / "talks" / "feed.xml").read_text(encoding="utf-8")
        prefix = f"http://{redirector}/e/" if style == "op3" else f"{redirector}/redirect.mp3/"
        with open(catalogue / "fo-cast.toml", "a", encoding="utf-8") as settings:
            settings.write(f'\n[feeds]\nenclosure_prefix = "{prefix}"\n')
        code, report = publish(catalogue, target)
        assert code == 0, report  # a prefix change is not a "reused URL" for the guard
        feed = (public / "talks" / "feed.xml").read_text(encoding="utf-8")
        audio = f"{base}{EPISODE}/audio.mp3"
        tracked = (
            f"http://{redirector}/e/{audio}"
            if style == "op3"
            else f"http://{redirector}/redirect.mp3/{audio.removeprefix('http://')}"
        )
        assert f'url="{tracked}"' in feed and f'url="{audio}"' not in feed
        assert feed.replace(tracked, audio).count(f'url="{audio}"') == plain.count(f'url="{audio}"')
        assert f'<guid isPermaLink="false">{GUID}</guid>' in feed
        json_feed = json.loads((public / "talks" / "feed.json").read_text(encoding="utf-8"))
        assert tracked in [a["url"] for i in json_feed["items"] for a in i["attachments"]]

        result = CliRunner().invoke(app, ["verify", str(catalogue), "--base-url", base])
        assert result.exit_code == 0, result.stdout + result.stderr
        assert ", 0 failures." in result.stdout + result.stderr
    finally:
        server.shutdown()
        server.server_close()
