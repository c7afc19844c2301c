"""The publish suite every target runs: a small built tree published, changed, pruned, killed.

Each test module subclasses `PublishSuite` and provides a `target` fixture (`Target`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import pytest

from fo_cast.errors import PublishRefused, StorageError
from fo_cast.outputs import Build, FeedItem, Output, Stage
from fo_cast.publish.guard import RECORD_KEY, load_record
from fo_cast.publish.plan import CACHE_CONTROL, Plan, plan_publish
from fo_cast.publish.run import Done, Event, Failed, Uploaded, publish
from fo_cast.publish.verify import feed_urls, verify
from fo_cast.storage import INDEX_KEY, Storage

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
FEED = "feed.xml"
RSS = "application/rss+xml; charset=utf-8"
HTML = "text/html; charset=utf-8"


class Target(Protocol):
    url: str  # what `storage_for` gets
    base_url: str  # where the published tree is served over HTTP
    endpoint_url: str | None

    def storage(self) -> Storage: ...

    def stored_keys(self) -> set[str]:
        """Returns every key at the target, fo-cast's records included."""
        ...

    def headers(self, key: str) -> tuple[str | None, str | None, str | None]:
        """Returns the stored content type, cache-control and sha256 of one object."""
        ...

    def add_foreign(self, key: str, data: bytes) -> None:
        """Stores an object the way another tool would (no fo-cast metadata, no index)."""
        ...

    def read_back(self, key: str) -> bytes:
        """Returns an object's bytes as stored."""
        ...


@dataclass
class Show:
    """A small output tree on disk, built into a Build the way build.py will."""

    root: Path
    base_url: str
    episodes: list[int] = field(default_factory=lambda: [1, 2, 3])
    guids: dict[int, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        (self.root / "media").mkdir(parents=True, exist_ok=True)
        (self.root / "art").mkdir(exist_ok=True)
        for n in range(1, 5):
            self.media(n).write_bytes(_random(3000 + 1000 * n, seed=n))
        (self.root / "art" / "cover.jpg").write_bytes(b"\xff\xd8\xff\xe0" + _random(2000, 99))

    def media(self, n: int) -> Path:
        return self.root / "media" / f"ep-{n}.mp3"

    def guid(self, n: int) -> str:
        return self.guids.get(n, f"fo-cast-test-{n}")

    def build(self) -> Build:
        base = self.base_url.rstrip("/")
        outputs = [
            Output("art/cover.jpg", "image/jpeg", Stage.ASSET, source=self.root / "art/cover.jpg")
        ]
        items, entries = [], []
        for n in self.episodes:
            key, url = f"media/ep-{n}.mp3", f"{base}/media/ep-{n}.mp3"
            size = self.media(n).stat().st_size
            outputs.append(Output(key, "audio/mpeg", Stage.MEDIA, source=self.media(n)))
            page = f"<h1>Episode {n}</h1><audio src='{url}'></audio>".encode()
            outputs.append(Output(f"episodes/ep-{n}.html", HTML, Stage.ASSET, data=page))
            items.append(FeedItem(FEED, self.guid(n), url, f"Episode {n}", f"episodes/ep-{n}.yaml"))
            entries.append(
                f"<item><title>Episode {n}</title><guid isPermaLink='false'>{self.guid(n)}</guid>"
                f"<enclosure url='{url}' length='{size}' type='audio/mpeg'/></item>"
            )
        feed = (
            "<?xml version='1.0' encoding='UTF-8'?>"
            "<rss version='2.0' xmlns:itunes='http://www.itunes.com/dtds/podcast-1.0.dtd'>"
            f"<channel><title>Test show</title><itunes:image href='{base}/art/cover.jpg'/>"
            + "".join(entries)
            + "</channel></rss>"
        ).encode()
        outputs.append(Output(FEED, RSS, Stage.FEED, data=feed))
        return Build(outputs=outputs, items=items)


def _random(size: int, seed: int) -> bytes:
    block = hashlib.sha256(str(seed).encode()).digest()
    return (block * (size // len(block) + 1))[:size]


def plan_for(show: Show, target: Target, **options: Any) -> tuple[Plan, Storage]:
    """Returns a plan against the target as the CLI makes it, and the storage it used."""
    storage = target.storage()
    plan = plan_publish(
        show.build(), storage.list(), record=load_record(storage), now=NOW, **options
    )
    return plan, storage


def run(show: Show, target: Target, **options: Any) -> tuple[Plan, list[Event]]:
    """Returns the plan and every event of one publish."""
    plan, storage = plan_for(show, target, **options)
    return plan, list(publish(plan, storage, workers=4))


def uploaded(events: Iterable[Event]) -> list[str]:
    return [e.key for e in events if isinstance(e, Uploaded)]


def published_keys(target: Target) -> set[str]:
    return {k for k in target.stored_keys() if not k.startswith(".fo-cast/")}


CHILD = """
import base64, json, sys, time
from pathlib import Path
from fo_cast.outputs import Build, Output, Stage
from fo_cast.publish.plan import plan_publish
from fo_cast.publish.run import Uploaded, publish
from fo_cast.storage import storage_for

spec = json.load(sys.stdin)
outputs = [
    Output(o["path"], o["type"], Stage[o["stage"]],
           data=base64.b64decode(o["data"]) if o["data"] is not None else None,
           source=Path(o["source"]) if o["source"] else None)
    for o in spec["outputs"]
]
storage = storage_for(spec["url"], spec["endpoint"])
plan = plan_publish(Build(outputs), storage.list())
for event in publish(plan, storage, workers=1):
    print(type(event).__name__, getattr(event, "key", ""), flush=True)
    if isinstance(event, Uploaded):
        time.sleep(0.2)  # give the test time to kill us here
"""


class PublishSuite:
    """Publishing behaviour every target must show."""

    @pytest.fixture
    def show(self, tmp_path: Path, target: Target) -> Show:
        return Show(tmp_path / "built", target.base_url)

    def test_publish_uploads_everything_then_nothing(self, show: Show, target: Target) -> None:
        plan, events = run(show, target)
        keys = uploaded(events)
        assert sorted(keys) == sorted(o.path for o in show.build().outputs)
        assert {u.reason for u in plan.uploads} == {"new"}
        stage_of = {o.path: o.stage for o in show.build().outputs}
        stages = [stage_of[k] for k in keys]
        assert stages == sorted(stages), "media, then assets, then feeds"
        assert RECORD_KEY in target.stored_keys()

        again, events = run(show, target)
        assert again.uploads == [] and again.deletes == [] and again.record is None
        assert len(again.unchanged) == len(show.build().outputs)
        done = events[-1]
        assert isinstance(done, Done) and done.summary.uploaded == 0

    def test_headers_and_hashes_on_every_object(self, show: Show, target: Target) -> None:
        run(show, target)
        for output in show.build().outputs:
            body = output.data if output.data is not None else output.source.read_bytes()  # type: ignore[union-attr]
            expected = (
                output.content_type,
                CACHE_CONTROL[output.stage],
                hashlib.sha256(body).hexdigest(),
            )
            assert target.headers(output.path) == expected, output.path

    def test_changed_media_uploads_it_and_the_feed(self, show: Show, target: Target) -> None:
        run(show, target)
        show.media(2).write_bytes(_random(7777, seed=22))
        plan, events = run(show, target)
        assert [(u.key, u.reason, u.detail) for u in plan.uploads] == [
            ("media/ep-2.mp3", "changed", "size 5000 -> 7777"),
            (FEED, "changed", "content differs"),  # 5000 -> 7777: same size, other bytes
        ]
        assert uploaded(events) == ["media/ep-2.mp3", FEED]

    def test_same_size_edit_is_found_by_hash(self, show: Show, target: Target) -> None:
        run(show, target)
        show.media(1).write_bytes(_random(4000, seed=11))  # same size, other bytes
        plan, _ = plan_for(show, target)
        assert [(u.key, u.detail) for u in plan.uploads] == [("media/ep-1.mp3", "content differs")]

    def test_prune_deletes_only_when_asked(self, show: Show, target: Target) -> None:
        run(show, target)
        show.episodes = [1, 2]
        kept, _ = run(show, target, allow_removal={show.guid(3)})
        assert kept.deletes == [] and kept.stale == ["episodes/ep-3.html", "media/ep-3.mp3"]
        assert "media/ep-3.mp3" in published_keys(target)

        refused, _ = plan_for(show, target, prune=True, max_deletes=1)
        assert refused.refusals == [
            "the plan deletes 2 objects, more than --max-deletes 1 allows; "
            "check the target, or raise --max-deletes"
        ]
        with pytest.raises(PublishRefused):
            list(publish(refused, target.storage()))

        pruned, _ = run(show, target, prune=True)
        assert pruned.deletes == ["episodes/ep-3.html", "media/ep-3.mp3"]
        assert published_keys(target) == {o.path for o in show.build().outputs}
        assert plan_for(show, target, prune=True)[0].deletes == []

    def test_prune_never_deletes_what_fo_cast_did_not_write(
        self, show: Show, target: Target
    ) -> None:
        target.add_foreign("notes.txt", b"the owner's notes")
        target.add_foreign("media/ep-1.mp3", b"someone else's audio")
        refused, _ = plan_for(show, target, prune=True)
        assert refused.refusals == [
            "the target holds 2 files fo-cast did not publish (such as 'media/ep-1.mp3'); "
            "publish with --adopt to publish beside them (fo-cast never deletes them, and "
            "replaces those at paths the build writes), or choose an empty target"
        ]
        with pytest.raises(PublishRefused):
            list(publish(refused, target.storage()))
        assert target.read_back("media/ep-1.mp3") == b"someone else's audio"

        adopted, _ = run(show, target, prune=True, adopt=True)
        assert (adopted.deletes, adopted.foreign) == ([], ["notes.txt"])
        assert target.read_back("media/ep-1.mp3") == show.media(1).read_bytes()
        # Files added later, beside and among fo-cast's, are the owner's too.
        target.add_foreign("media/extra.mp3", b"added by hand")
        target.add_foreign("episodes/ep-9.html", b"<p>by hand</p>")
        show.episodes = [1, 2]
        pruned, _ = run(show, target, prune=True, allow_removal={show.guid(3)})
        assert pruned.deletes == ["episodes/ep-3.html", "media/ep-3.mp3"]
        assert pruned.foreign == ["episodes/ep-9.html", "media/extra.mp3", "notes.txt"]
        assert published_keys(target) == {o.path for o in show.build().outputs} | {
            "notes.txt",
            "media/extra.mp3",
            "episodes/ep-9.html",
        }
        assert target.read_back("notes.txt") == b"the owner's notes"
        # A later publish is no first publish: no --adopt needed, nothing of theirs deleted.
        again, _ = plan_for(show, target, prune=True)
        assert (again.refusals, again.deletes, again.uploads) == ([], [], [])

    def test_dry_run_changes_nothing(self, show: Show, target: Target) -> None:
        plan, _ = plan_for(show, target, prune=True)
        assert len(plan.uploads) == len(show.build().outputs)
        assert target.stored_keys() == set()
        assert plan.lines()[0] == "upload media/ep-1.mp3 (new, 4 KB)"
        assert json.loads(json.dumps(plan.as_dict()))["uploads"][0]["reason"] == "new"

    def test_failed_media_upload_holds_back_feeds(self, show: Show, target: Target) -> None:
        plan, storage = plan_for(show, target)
        show.media(2).unlink()  # vanishes between plan and upload
        events: list[Event] = []
        with pytest.raises(StorageError, match=r"1 of 3 media uploads failed; asset and feed"):
            events.extend(publish(plan, storage, workers=2))
        assert [e.key for e in events if isinstance(e, Failed)] == ["media/ep-2.mp3"]
        assert published_keys(target) == {"media/ep-1.mp3", "media/ep-3.mp3"}

    def test_abandoned_publish_leaves_feeds_alone_and_resumes(
        self, show: Show, target: Target
    ) -> None:
        plan, storage = plan_for(show, target)
        with pytest.raises(KeyboardInterrupt):
            for event in publish(plan, storage, workers=1):
                if isinstance(event, Uploaded):
                    raise KeyboardInterrupt  # Ctrl-C right after the first media upload
        arrived = published_keys(target)
        assert arrived and all(k.startswith("media/") for k in arrived)

        resumed, events = run(show, target)
        assert not arrived & set(uploaded(events)), "what arrived is not sent again"
        assert plan_for(show, target)[0].uploads == []

    def test_killed_publish_converges(self, show: Show, target: Target) -> None:
        spec = {
            "url": target.url,
            "endpoint": target.endpoint_url,
            "outputs": [_spec(o) for o in show.build().ordered()],
        }
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        assert child.stdin and child.stdout
        child.stdin.write(json.dumps(spec))
        child.stdin.close()
        lines = []
        for line in child.stdout:
            lines.append(line.strip())
            if line.startswith("Uploaded media/"):
                os.killpg(child.pid, signal.SIGKILL)
                break
        child.wait(timeout=10)
        assert child.returncode == -signal.SIGKILL, lines
        arrived = published_keys(target)
        assert FEED not in arrived and "media/ep-1.mp3" in arrived

        plan, events = run(show, target)
        assert not arrived & {u.key for u in plan.uploads}
        assert published_keys(target) == {o.path for o in show.build().outputs}
        assert plan_for(show, target)[0].uploads == []

    def test_guard_refuses_removed_episode(self, show: Show, target: Target) -> None:
        run(show, target)
        show.episodes = [1, 3]
        plan, _ = plan_for(show, target)
        assert plan.refusals == [
            'feed.xml: "Episode 2" (GUID fo-cast-test-2) was published and is missing now; '
            "podcast apps would drop it. Put the episode back, or pass "
            "--allow-removal fo-cast-test-2"
        ]
        with pytest.raises(PublishRefused, match="nothing was published"):
            list(publish(plan, target.storage()))
        allowed, _ = run(show, target, allow_removal={"fo-cast-test-2"})
        assert allowed.refusals == [] and allowed.record is not None
        record = load_record(target.storage())
        assert record.items[(FEED, "fo-cast-test-2")].removed == NOW.isoformat()

    def test_guard_refuses_reused_enclosure_and_changed_guid(
        self, show: Show, target: Target
    ) -> None:
        run(show, target)
        show.guids[2] = "a-new-guid"
        plan, _ = plan_for(show, target)
        assert plan.refusals == [
            'episodes/ep-2.yaml: "Episode 2": GUID changed from fo-cast-test-2 to a-new-guid '
            "in feed.xml; every app would download the episode again. Set the GUID back to "
            "fo-cast-test-2, or pass --allow-removal fo-cast-test-2"
        ]
        show.guids.clear()
        show.episodes = [1, 2, 3, 4]
        show.guids[4] = "fo-cast-test-3"  # episode 4 takes episode 3's GUID ...
        show.guids[3] = "fo-cast-test-9"  # ... and 3 gets a new one at its old URL
        assert plan_for(show, target)[0].refusals == [
            'episodes/ep-3.yaml: "Episode 3" (GUID fo-cast-test-9) uses the enclosure URL '
            f"{show.base_url}/media/ep-3.mp3, published before for GUID fo-cast-test-3 "
            '("Episode 3"); apps would mix the two episodes up. Give the new episode its own '
            "file name"
        ]

    def test_verify_passes_then_names_a_wrong_length(self, show: Show, target: Target) -> None:
        run(show, target)
        feeds = feed_urls(show.build(), target.base_url)
        report = verify(feeds, timeout=5)
        assert report.failures == [] and report.checked == 4
        assert report.summary() == "1 feed, 4 URLs checked, 0 failures."

        show.media(1).write_bytes(_random(4500, seed=1))  # feed says 4500, stale tree says 4000
        build = show.build()
        storage = target.storage()
        feed_only = Build([o for o in build.outputs if o.stage is Stage.FEED], build.items)
        list(publish(plan_publish(feed_only, storage.list()), storage))
        url = f"{target.base_url}/media/ep-1.mp3"
        assert verify(feeds, timeout=5).failures == [
            f"{url} (enclosure in {feeds[0]}): Content-Length is 4000, the feed says 4500",
            f"{url} (enclosure in {feeds[0]}): Content-Range total is 4000, the feed says 4500",
        ]


def _spec(output: Output) -> dict[str, Any]:
    return {
        "path": output.path,
        "type": output.content_type,
        "stage": output.stage.name,
        "data": base64.b64encode(output.data).decode() if output.data is not None else None,
        "source": str(output.source) if output.source else None,
    }


__all__ = ["INDEX_KEY", "PublishSuite", "Show", "Target", "plan_for", "run"]
