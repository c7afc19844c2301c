"""The publish stamp: nothing changed means one listing and nothing else; any change here or
at the target (another publisher, a hand edit, a lock, the clock) means the whole path.

Requests are watched on their way to the real SeaweedFS (they still go there): the spy
records each one's method and key, so the tests can say exactly what was PUT, and in what
order.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from typer.testing import CliRunner

import fo_cast.build
from fo_cast.build import build_tree
from fo_cast.cli import ExitCode, app
from fo_cast.state import CACHE_DIR, PUBLISH_STAMPS
from fo_cast.storage import LOCK_KEY, RESERVED_PREFIX
from fo_cast.storage.local import TEMP_SUFFIX
from tests.helpers import edit

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parent.parent.parent
NOW = "2025-01-01T00:00:00+00:00"
EPISODE = "talks/2024-08-04-middle-east-part-1"
BASE = "https://podcasts.example.org/"


@dataclass
class Bucket:
    """A fresh prefix of the test bucket, the CLI options that reach it, and a request spy."""

    server: Any
    prefix: str
    requests: list[tuple[str, str, dict[str, list[str]]]] = field(default_factory=list)

    @property
    def options(self) -> list[str]:
        return ["--to", f"s3://{self.server.bucket}/{self.prefix}", "--endpoint-url",
                self.server.endpoint]  # fmt: skip

    def puts(self) -> list[str]:
        """Returns the keys PUT since the last clear, in the order they were sent."""
        return [key for method, key, query in self.requests if method == "PUT" and not query]

    def client(self) -> Any:
        return self.server.client()

    def stored(self) -> list[str]:
        pages = self.client().get_paginator("list_objects_v2")
        found = []
        for page in pages.paginate(Bucket=self.server.bucket, Prefix=self.prefix + "/"):
            found += [o["Key"][len(self.prefix) + 1 :] for o in page.get("Contents", [])]
        return found


@pytest.fixture
def bucket(s3_server: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Bucket]:
    import botocore.endpoint

    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for name, value in s3_server.env.items():
        monkeypatch.setenv(name, value)
    found = Bucket(s3_server, f"stamp-{uuid.uuid4().hex[:8]}")
    send = botocore.endpoint.Endpoint._send
    start = f"/{s3_server.bucket}/{found.prefix}/"

    def spy(self: Any, request: Any) -> Any:
        url = urlsplit(request.url)
        path = unquote(url.path)
        key = path[len(start) :] if path.startswith(start) else path
        found.requests.append((request.method, key, parse_qs(url.query)))
        return send(self, request)

    monkeypatch.setattr(botocore.endpoint.Endpoint, "_send", spy)
    yield found


@pytest.fixture
def catalogue(tmp_path: Path) -> Path:
    root = tmp_path / "episodes"
    shutil.copytree(REPO / "episodes", root, ignore=shutil.ignore_patterns(".fo-cast"))
    return root


def publish(catalogue: Path, options: list[str], *extra: str) -> tuple[int, dict[str, Any], str]:
    """Returns the exit code, the JSON report and stderr of one `fo-cast publish`."""
    result = CliRunner().invoke(
        app,
        ["publish", str(catalogue), *options, "--base-url", BASE, "--now", NOW,
         "--format", "json", *extra],
    )  # fmt: skip
    try:
        report = json.loads(result.stdout)
    except ValueError:
        report = {"output": result.stdout}
    return result.exit_code, report, result.stderr


def uploaded(report: dict[str, Any]) -> list[str]:
    return sorted(u["key"] for u in report["plan"]["uploads"])


def nothing_built(monkeypatch: pytest.MonkeyPatch) -> None:
    """Makes reading the catalogue fail the test: the publish must not need it."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the catalogue was read and built")

    monkeypatch.setattr(fo_cast.build, "build_catalogue", refuse)


def tree(catalogue: Path, out: Path) -> dict[str, bytes]:
    """Returns every file `fo-cast build` writes for the catalogue, by path."""
    built = build_tree(catalogue, out, now=datetime.fromisoformat(NOW), base_url=BASE)
    assert not built.report.errors
    return {
        path.relative_to(out).as_posix(): path.read_bytes()
        for path in out.rglob("*")
        if path.is_file() and CACHE_DIR not in path.relative_to(out).parts
    }


# --- S3 ----------------------------------------------------------------------------------------


def test_nothing_changed_costs_one_listing_and_no_lock(
    catalogue: Path, bucket: Bucket, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, first, stderr = publish(catalogue, bucket.options)
    assert code == 0, stderr
    assert list((catalogue / PUBLISH_STAMPS).glob("*.json"))
    bucket.requests.clear()
    nothing_built(monkeypatch)
    monkeypatch.delitem(sys.modules, "fo_cast.publish.notify", raising=False)

    code, second, stderr = publish(catalogue, bucket.options)
    assert code == 0, stderr
    assert "fo_cast.publish.notify" not in sys.modules  # no [notify]: not even loaded
    assert (uploaded(second), second["uploaded"], second["deleted"]) == ([], 0, 0)
    assert sorted(second["plan"]["unchanged"]) == sorted(u["key"] for u in first["plan"]["uploads"])
    assert second["skipped"] == first["uploaded"]
    # One paginated listing (the sample fits on one page): no lock, no HEAD, no record read.
    assert [(m, q.get("list-type")) for m, _, q in bucket.requests] == [("GET", ["2"])]


def test_one_episode_changed_puts_exactly_what_the_build_changed_feeds_last(
    catalogue: Path, bucket: Bucket, tmp_path: Path
) -> None:
    before = tree(catalogue, tmp_path / "before")
    code, _, stderr = publish(catalogue, bucket.options)
    assert code == 0, stderr
    edit(catalogue / EPISODE / "companion.md", "This is the first part", "This is part one")
    after = tree(catalogue, tmp_path / "after")
    changed = sorted(path for path, data in after.items() if before.get(path) != data)
    assert f"{EPISODE}/index.html" in changed and "talks/feed.xml" in changed
    bucket.requests.clear()

    code, report, stderr = publish(catalogue, bucket.options)
    assert code == 0, stderr
    assert uploaded(report) == changed
    puts = bucket.puts()
    objects = [key for key in puts if not key.startswith(RESERVED_PREFIX)]
    assert sorted(objects) == changed  # each exactly once, nothing else
    feeds = {u["key"] for u in report["plan"]["uploads"] if u["stage"] == "feed"}
    assert feeds == {"talks/feed.xml", "talks/feed.json", "talks/video.xml"}
    # Feeds last: every feed went after every page and search file it may point at.
    assert set(objects[-len(feeds) :]) == feeds
    # The lock was taken first, the GUID record was not rewritten (no GUID changed).
    assert puts[0] == LOCK_KEY and ".fo-cast/published.json" not in puts

    bucket.requests.clear()
    code, report, stderr = publish(catalogue, bucket.options)
    assert (code, uploaded(report), bucket.puts()) == (0, [], [])


def test_a_publish_from_another_checkout_in_between_is_noticed(
    catalogue: Path, bucket: Bucket, tmp_path: Path
) -> None:
    other = tmp_path / "other" / "episodes"
    shutil.copytree(catalogue, other)
    code, _, stderr = publish(catalogue, bucket.options)
    assert code == 0, stderr
    edit(other / EPISODE / "companion.md", "This is the first part", "This is part one")
    code, theirs, stderr = publish(other, bucket.options)
    assert code == 0, stderr
    assert f"{EPISODE}/index.html" in uploaded(theirs)
    bucket.requests.clear()

    # Nothing changed in this checkout, but the target did: its build goes out again.
    code, ours, stderr = publish(catalogue, bucket.options)
    assert code == 0, stderr
    ours_keys = set(uploaded(ours))
    assert {f"{EPISODE}/index.html", "talks/feed.xml", "talks/feed.json"} <= ours_keys
    assert bucket.puts()[0] == LOCK_KEY
    page = bucket.client().get_object(
        Bucket=bucket.server.bucket, Key=f"{bucket.prefix}/{EPISODE}/index.html"
    )
    assert b"This is the first part" in page["Body"].read()


@pytest.mark.parametrize("change", ["deleted", "replaced", "added", "emptied"])
def test_a_hand_edit_of_the_target_is_noticed(catalogue: Path, bucket: Bucket, change: str) -> None:
    code, first, stderr = publish(catalogue, bucket.options)
    assert code == 0, stderr
    client, name = bucket.client(), bucket.server.bucket
    media = f"{EPISODE}/audio.mp3"
    page = f"{EPISODE}/index.html"
    if change == "deleted":
        client.delete_object(Bucket=name, Key=f"{bucket.prefix}/{media}")
    elif change == "replaced":
        client.put_object(Bucket=name, Key=f"{bucket.prefix}/{page}", Body=b"<p>by hand</p>")
    elif change == "added":
        client.put_object(Bucket=name, Key=f"{bucket.prefix}/notes.txt", Body=b"mine")
    else:
        for key in bucket.stored():
            client.delete_object(Bucket=name, Key=f"{bucket.prefix}/{key}")
    bucket.requests.clear()

    code, report, stderr = publish(catalogue, bucket.options)
    assert code == 0, stderr
    expected = {
        "deleted": [media],
        "replaced": [page],
        "added": [],
        "emptied": uploaded(first),
    }[change]
    assert uploaded(report) == expected
    assert bucket.puts()[0] == LOCK_KEY  # the whole path, under the lock
    if change == "added":
        assert report["plan"]["foreign"] == ["notes.txt"]
    # ... and the publish after it has nothing to do again.
    bucket.requests.clear()
    code, report, _ = publish(catalogue, bucket.options)
    assert (code, uploaded(report), bucket.puts()) == (0, [], [])


def hold_lock_elsewhere(bucket: Bucket) -> None:
    """Puts at the target the lock of another publisher, ana@elsewhere, still fresh."""
    now = time.time()
    holder = {"host": "elsewhere", "user": "ana", "pid": 4242, "started": now, "renewed": now,
              "lease": 120.0, "commit": None, "token": "theirs"}  # fmt: skip
    bucket.client().put_object(
        Bucket=bucket.server.bucket, Key=f"{bucket.prefix}/{LOCK_KEY}",
        Body=json.dumps(holder).encode(),
    )  # fmt: skip


def test_a_lock_at_the_target_is_never_skipped(catalogue: Path, bucket: Bucket) -> None:
    code, _, stderr = publish(catalogue, bucket.options)
    assert code == 0, stderr
    hold_lock_elsewhere(bucket)
    code, _, stderr = publish(catalogue, bucket.options)
    assert code == ExitCode.LOCKED
    assert "is locked by ana@elsewhere (pid 4242)" in stderr


def test_force_and_the_clock_bypass_the_stamp(catalogue: Path, bucket: Bucket) -> None:
    options = [*bucket.options]
    early = ["--now", "2024-12-08T00:00:00+00:00"]  # before the episode of 2024-12-09
    code, first, stderr = publish(catalogue, options, *early)
    assert code == 0, stderr
    bucket.requests.clear()
    code, same, _ = publish(catalogue, options, "--now", "2024-12-08T06:00:00+00:00")
    assert (code, uploaded(same), bucket.puts()) == (0, [], [])  # the same episodes are live

    code, later, stderr = publish(catalogue, options)  # NOW: the 2024-12-09 episode is live
    assert code == 0, stderr
    assert any(key.endswith("/audio.mp3") for key in uploaded(later))
    assert "talks/feed.xml" in uploaded(later) or "exclusive/feed.xml" in uploaded(later)

    code, forced, stderr = publish(catalogue, options, "--force")
    assert code == 0, stderr
    assert {u["reason"] for u in forced["plan"]["uploads"]} == {"forced"}
    assert (forced["uploaded"], forced["skipped"]) == (later["uploaded"] + later["skipped"], 0)


# --- a folder ----------------------------------------------------------------------------------


def inodes(folder: Path) -> dict[str, tuple[int, int]]:
    return {
        p.relative_to(folder).as_posix(): (p.stat().st_ino, p.stat().st_mtime_ns)
        for p in folder.rglob("*")
        if p.is_file()
    }


def test_a_folder_with_nothing_changed_is_not_touched(
    catalogue: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    public = tmp_path / "public"
    code, first, stderr = publish(catalogue, ["--to", str(public)])
    assert code == 0, stderr
    before = inodes(public)
    nothing_built(monkeypatch)
    code, second, stderr = publish(catalogue, ["--to", str(public)])
    assert code == 0, stderr
    assert uploaded(second) == [] and second["skipped"] == first["uploaded"]
    after = inodes(public)
    assert after == before  # no file written, not even the lock's


@pytest.mark.parametrize("change", ["deleted", "touched", "temp file"])
def test_a_hand_edit_of_a_folder_is_noticed(catalogue: Path, tmp_path: Path, change: str) -> None:
    public = tmp_path / "public"
    code, _, stderr = publish(catalogue, ["--to", str(public)])
    assert code == 0, stderr
    media = public / EPISODE / "audio.mp3"
    temp = public / EPISODE / f".audio.mp3.0000{TEMP_SUFFIX}"
    if change == "deleted":
        media.unlink()
    elif change == "touched":  # same bytes, a new mtime: hashed again, found identical
        os.utime(media, (time.time() - 10, time.time() - 10))
    else:  # left by a publish that was killed
        temp.write_bytes(b"half")
    code, report, stderr = publish(catalogue, ["--to", str(public)])
    assert code == 0, stderr
    assert uploaded(report) == ([f"{EPISODE}/audio.mp3"] if change == "deleted" else [])
    assert not temp.exists()  # the whole path cleaned up under the lock
    assert not (public / LOCK_KEY).exists()
    before = inodes(public)
    code, report, _ = publish(catalogue, ["--to", str(public)])
    assert (code, uploaded(report), inodes(public)) == (0, [], before)


# --- the target opened while the catalogue builds (publish/early.py) -------------------------


def test_a_catalogue_with_errors_after_a_publish_leaves_no_lock(
    catalogue: Path, bucket: Bucket
) -> None:
    code, _, stderr = publish(catalogue, bucket.options)
    assert code == 0, stderr
    edit(catalogue / EPISODE / "episode.yaml", "title:", "titel:")
    bucket.requests.clear()
    code, _, stderr = publish(catalogue, bucket.options)
    assert code == ExitCode.PROBLEMS
    assert "Nothing was published." in stderr
    assert bucket.puts() == [LOCK_KEY]  # taken while it built...
    assert LOCK_KEY not in bucket.stored()  # ... and released unused


def test_a_lock_held_elsewhere_is_reported_after_the_build(catalogue: Path, bucket: Bucket) -> None:
    code, _, stderr = publish(catalogue, bucket.options)
    assert code == 0, stderr
    hold_lock_elsewhere(bucket)
    edit(catalogue / EPISODE / "companion.md", "This is the first part", "This is part one")
    code, _, stderr = publish(catalogue, bucket.options)
    assert code == ExitCode.LOCKED
    assert "is locked by ana@elsewhere (pid 4242)" in stderr
    # Catalogue problems still come first, as without a stamp.
    edit(catalogue / EPISODE / "episode.yaml", "title:", "titel:")
    code, _, stderr = publish(catalogue, bucket.options)
    assert code == ExitCode.PROBLEMS, stderr
    reply = bucket.client().get_object(Bucket=bucket.server.bucket,
                                       Key=f"{bucket.prefix}/{LOCK_KEY}")  # fmt: skip
    assert json.loads(reply["Body"].read())["token"] == "theirs"  # never touched


def test_a_target_moved_in_the_settings_goes_to_the_new_one(
    catalogue: Path, tmp_path: Path
) -> None:
    old, new = tmp_path / "old", tmp_path / "new"
    settings = catalogue / "fo-cast.toml"
    text = settings.read_text(encoding="utf-8")
    settings.write_text(f'{text}\n[publish]\ntarget = "{old}"\n', encoding="utf-8")
    code, first, stderr = publish(catalogue, [])
    assert code == 0, stderr
    before = inodes(old)
    settings.write_text(f'{text}\n[publish]\ntarget = "{new}"\n', encoding="utf-8")
    code, second, stderr = publish(catalogue, [])
    assert code == 0, stderr
    assert uploaded(second) == uploaded(first)  # all of it, to the new folder
    assert inodes(old) == before and not (old / LOCK_KEY).exists()
    assert sorted(inodes(new)) == sorted(inodes(old))


# --- a first publish sends the media while the pages and feeds render --------------------------


def mark_build(monkeypatch: pytest.MonkeyPatch, bucket: Bucket, fail: bool = False) -> None:
    """Adds ("BUILT", ...) to the requests seen when the render ends (or raises Ctrl-C)."""
    render = fo_cast.build.build

    def build(*args: Any, **kwargs: Any) -> Any:
        result = render(*args, **kwargs)
        bucket.requests.append(("BUILT", "", {}))
        if fail:
            raise KeyboardInterrupt
        return result

    monkeypatch.setattr(fo_cast.build, "build", build)


def test_a_first_publish_sends_media_while_the_build_renders_feeds_last(
    catalogue: Path, bucket: Bucket, monkeypatch: pytest.MonkeyPatch
) -> None:
    mark_build(monkeypatch, bucket)
    code, report, stderr = publish(catalogue, bucket.options)
    assert code == 0, stderr
    stages = {u["key"]: u["stage"] for u in report["plan"]["uploads"]}
    order = [key for method, key, query in bucket.requests
             if (method == "PUT" and not query and key in stages) or method == "BUILT"]  # fmt: skip
    built = order.index("")
    assert built > 0 and all(stages[key] == "media" for key in order[:built])
    sent = [key for key in order if key]
    assert sorted(sent) == sorted(stages)  # every upload once, none twice
    kinds = [stages[key] for key in sent]
    assert kinds == sorted(kinds, key=["media", "asset", "feed"].index)
    assert report["uploaded"] == len(stages)

    # A publish with a GUID record to guard plans first, then sends: nothing before the build.
    bucket.requests.clear()
    code, report, stderr = publish(catalogue, bucket.options, "--force")
    assert code == 0, stderr
    built = [method for method, _, _ in bucket.requests].index("BUILT")
    puts_before = [key for method, key, query in bucket.requests[:built]
                   if method == "PUT" and not query]  # fmt: skip
    assert puts_before in ([], [LOCK_KEY])  # at most the lock, taken while it built


def test_ctrl_c_while_the_media_go_ahead_stops_them_and_frees_the_lock(
    catalogue: Path, bucket: Bucket, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fo_cast.publish.session import PublishOptions, prepare_publish

    render = fo_cast.build.build
    mark_build(monkeypatch, bucket, fail=True)
    options = PublishOptions(to=f"s3://{bucket.server.bucket}/{bucket.prefix}",
                             endpoint_url=bucket.server.endpoint, base_url=BASE,
                             now=datetime.fromisoformat(NOW))  # fmt: skip
    with pytest.raises(KeyboardInterrupt):
        prepare_publish(catalogue, options)
    stored = bucket.stored()
    assert LOCK_KEY not in stored
    assert not [key for key in stored if key.endswith(("feed.xml", ".html"))]
    assert any(key.endswith("/audio.mp3") for key in stored)  # some went ahead
    monkeypatch.setattr(fo_cast.build, "build", render)
    code, report, stderr = publish(catalogue, bucket.options)
    assert code == 0, stderr
    assert set(uploaded(report)).isdisjoint(stored)  # what arrived is not sent again
    assert set(uploaded(report)) | set(report["plan"]["unchanged"]) >= set(stored) - {
        key for key in stored if key.startswith(RESERVED_PREFIX)
    }


def test_media_edited_while_it_went_ahead_holds_the_feeds_back(
    catalogue: Path, bucket: Bucket, monkeypatch: pytest.MonkeyPatch
) -> None:
    audio = catalogue / EPISODE / "audio.mp3"
    planned = audio.read_bytes()
    render = fo_cast.build.build

    def build_then_edit(*args: Any, **kwargs: Any) -> Any:
        result = render(*args, **kwargs)
        time.sleep(0.5)  # the uploads ahead have sent the old bytes by now, or soon will
        audio.write_bytes(planned[:-1] + bytes([planned[-1] ^ 0xFF]))  # same size
        return result

    monkeypatch.setattr(fo_cast.build, "build", build_then_edit)
    code, _, stderr = publish(catalogue, bucket.options)
    assert code == ExitCode.PUBLISH_FAILED, stderr
    assert "changed while publishing; run publish again" in stderr
    stored = bucket.stored()
    assert not [key for key in stored if key.endswith(("feed.xml", "feed.json"))]
    assert LOCK_KEY not in stored

    monkeypatch.setattr(fo_cast.build, "build", render)
    code, report, stderr = publish(catalogue, bucket.options)
    assert code == 0, stderr
    assert f"{EPISODE}/audio.mp3" in uploaded(report)
    body = (
        bucket.client()
        .get_object(Bucket=bucket.server.bucket, Key=f"{bucket.prefix}/{EPISODE}/audio.mp3")["Body"]
        .read()
    )
    assert body == audio.read_bytes() != planned
