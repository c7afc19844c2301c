"""plan_publish and the GUID guard, on hand-made builds and listings (no server)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

import fo_cast.publish.plan
from fo_cast.outputs import Build, FeedItem, Output, Stage
from fo_cast.publish.guard import GuardRecord, check_guard, update_record
from fo_cast.publish.plan import (
    CACHE_CONTROL,
    load_hash_cache,
    plan_publish,
    save_hash_cache,
)
from fo_cast.storage import RemoteObject
from fo_cast.units import format_size

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
RSS = "application/rss+xml; charset=utf-8"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def build(tmp_path: Path) -> Build:
    (tmp_path / "ep-1.mp3").write_bytes(b"a" * 2000)
    (tmp_path / "cover.jpg").write_bytes(b"c" * 300)
    return Build(
        [
            Output("feed.xml", RSS, Stage.FEED, data=b"<rss/>"),
            Output("episodes/ep-1.html", "text/html; charset=utf-8", Stage.ASSET, data=b"<p>"),
            Output("cover.jpg", "image/jpeg", Stage.ASSET, source=tmp_path / "cover.jpg"),
            Output("media/ep-1.mp3", "audio/mpeg", Stage.MEDIA, source=tmp_path / "ep-1.mp3"),
        ]
    )


def published(build: Build) -> dict[str, RemoteObject]:
    """Returns the listing of a target that holds exactly this build."""
    listing = {}
    for o in build.outputs:
        body = o.data if o.data is not None else o.source.read_bytes()  # type: ignore[union-attr]
        listing[o.path] = RemoteObject(
            o.path, len(body), sha(body), "e", o.content_type, CACHE_CONTROL[o.stage], ours=True
        )
    return listing


def test_empty_target_uploads_media_then_assets_then_feeds(build: Build) -> None:
    plan = plan_publish(build, {})
    assert [u.key for u in plan.uploads] == [
        "media/ep-1.mp3",
        "cover.jpg",
        "episodes/ep-1.html",
        "feed.xml",
    ]
    assert plan.uploads[0].content_hash == sha(b"a" * 2000)
    assert plan.uploads[0].cache_control == "public, max-age=86400"
    assert plan.uploads[-1].cache_control == "public, max-age=300"
    assert plan.lines() == [
        "upload media/ep-1.mp3 (new, 2 KB)",
        "upload cover.jpg (new, 300 B)",
        "upload episodes/ep-1.html (new, 3 B)",
        "upload feed.xml (new, 6 B)",
        "4 uploads (2 KB), 0 unchanged, 0 deletes.",
    ]


def test_published_build_plans_nothing_and_force_sends_all(build: Build) -> None:
    listing = published(build)
    assert plan_publish(build, listing).uploads == []
    forced = plan_publish(build, listing, force=True)
    assert {u.reason for u in forced.uploads} == {"forced"}


@pytest.mark.parametrize(
    ("change", "detail"),
    [
        ({"size": 1}, "size 1 -> 6"),
        ({"content_hash": None}, "not published by fo-cast"),
        ({"content_hash": "0" * 64}, "content differs"),
        ({"content_type": "text/xml"}, f"content type text/xml -> {RSS}"),
        ({"cache_control": "no-cache"}, "cache-control no-cache -> public, max-age=300"),
    ],
)
def test_changed_object_names_the_difference(build: Build, change: dict, detail: str) -> None:
    listing = published(build)
    old = listing["feed.xml"]
    listing["feed.xml"] = RemoteObject(**{**old.__dict__, **change})
    plan = plan_publish(build, listing)
    assert [(u.key, u.reason, u.detail) for u in plan.uploads] == [("feed.xml", "changed", detail)]


def test_unknown_headers_are_not_a_change(build: Build) -> None:
    listing = {k: RemoteObject(k, o.size, o.content_hash, "e") for k, o in published(build).items()}
    assert plan_publish(build, listing).uploads == []


def test_extra_objects_are_kept_unless_pruned(build: Build) -> None:
    listing = published(build) | {"old.mp3": RemoteObject("old.mp3", 5, "x", "e", ours=True)}
    kept = plan_publish(build, listing)
    assert (kept.deletes, kept.stale) == ([], ["old.mp3"])
    assert kept.summary() == (
        "0 uploads (0 B), 4 unchanged, 0 deletes, 1 not in the build (kept; --prune deletes them)."
    )
    pruned = plan_publish(build, listing, prune=True)
    assert (pruned.deletes, pruned.refusals) == (["old.mp3"], [])
    refused = plan_publish(build, listing, prune=True, max_deletes=0)
    assert refused.refusals == [
        "the plan deletes 1 objects, more than --max-deletes 0 allows; check the target, "
        "or raise --max-deletes"
    ]


def test_prune_never_deletes_what_fo_cast_did_not_write(build: Build) -> None:
    foreign = {k: RemoteObject(k, 5, None, "e") for k in ("notes.txt", "media/old.mp3")}
    listing = published(build) | foreign
    for prune in (False, True):
        plan = plan_publish(build, listing, prune=prune, max_deletes=0)
        assert (plan.deletes, plan.stale, plan.refusals) == ([], [], [])
        assert plan.foreign == ["media/old.mp3", "notes.txt"]
    assert plan.summary() == (
        "0 uploads (0 B), 4 unchanged, 0 deletes, 2 not published by fo-cast (kept)."
    )
    assert plan.as_dict()["foreign"] == ["media/old.mp3", "notes.txt"]


ADOPT = (
    "the target holds {n} fo-cast did not publish (such as '{first}'); publish with --adopt "
    "to publish beside them (fo-cast never deletes them, and replaces those at paths the "
    "build writes), or choose an empty target"
)


@pytest.mark.parametrize(
    ("names", "n", "first"),
    [
        (["notes.txt"], "1 file", "notes.txt"),  # a foreign file beside the build
        (["feed.xml"], "1 file", "feed.xml"),  # one the build would replace
        (["zz/a", "cover.jpg", "b"], "3 files", "b"),
    ],
)
def test_first_publish_into_foreign_files_needs_adopt(
    build: Build, names: list[str], n: str, first: str
) -> None:
    listing = {k: RemoteObject(k, 5, None, "e") for k in names}
    for prune in (False, True):
        plan = plan_publish(build, listing, prune=prune, record=GuardRecord({}))
        assert plan.refusals == [ADOPT.format(n=n, first=first)]
        assert plan.deletes == []
    adopted = plan_publish(build, listing, prune=True, adopt=True, record=GuardRecord({}))
    assert (adopted.refusals, adopted.deletes) == ([], [])
    assert len(adopted.uploads) == 4


def test_identical_files_or_a_record_are_not_foreign(build: Build) -> None:
    # A first publish killed before it saved the index left the build's own bytes.
    listing = {k: replace(o, ours=False) for k, o in published(build).items()}
    assert plan_publish(build, listing, record=GuardRecord({})).refusals == []
    # An index lost, but the GUID record says fo-cast published here: no refusal either.
    record = update_record(GuardRecord({}), [FeedItem("feed.xml", "g", "u", "t", "f")], NOW)
    listing = {"notes.txt": RemoteObject("notes.txt", 5, None, "e")}
    plan = plan_publish(build, listing, prune=True, record=record, allow_removal={"g"})
    assert (plan.refusals, plan.deletes, plan.foreign) == ([], [], ["notes.txt"])


def test_build_may_not_write_fo_casts_records() -> None:
    build = Build([Output(".fo-cast/published.json", "application/json", Stage.FEED, data=b"")])
    assert plan_publish(build, {}).refusals == [
        ".fo-cast/published.json: the build may not write fo-cast's own records"
    ]


def test_hash_cache_skips_unchanged_files(
    build: Build, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hashed: list[Path] = []
    real = fo_cast.publish.plan.hash_file
    monkeypatch.setattr(fo_cast.publish.plan, "hash_file", lambda p: hashed.append(p) or real(p))
    cache: dict = {}
    plan_publish(build, {}, hash_cache=cache)
    assert len(hashed) == 2 and len(cache) == 2

    save_hash_cache(tmp_path / ".fo-cast" / "hashes.json", cache)
    cache = load_hash_cache(tmp_path / ".fo-cast" / "hashes.json")
    hashed.clear()
    plan = plan_publish(build, {}, hash_cache=cache)
    assert hashed == [] and plan.uploads[0].content_hash == sha(b"a" * 2000)

    (tmp_path / "ep-1.mp3").write_bytes(b"b" * 2001)
    plan = plan_publish(build, {}, hash_cache=cache)
    assert hashed == [tmp_path / "ep-1.mp3"]
    assert plan.uploads[0].content_hash == sha(b"b" * 2001)


def test_damaged_hash_cache_is_empty(tmp_path: Path) -> None:
    (tmp_path / "hashes.json").write_text("{not json")
    assert load_hash_cache(tmp_path / "hashes.json") == {}
    assert load_hash_cache(tmp_path / "missing.json") == {}


def test_plan_as_json(build: Build) -> None:
    data = json.loads(json.dumps(plan_publish(build, {}).as_dict()))
    assert data["uploads"][0] == {
        "key": "media/ep-1.mp3",
        "stage": "media",
        "reason": "new",
        "detail": "",
        "size": 2000,
        "content_type": "audio/mpeg",
        "cache_control": "public, max-age=86400",
        "sha256": sha(b"a" * 2000),
    }
    assert data["bytes"] == 2309 and data["record_changed"] is False


def test_format_size() -> None:
    assert [format_size(n) for n in (0, 999, 1000, 39_827, 1_500_000, 2_000_000_000_000)] == [
        "0 B",
        "999 B",
        "1 KB",
        "40 KB",
        "1.5 MB",
        "2000.0 GB",
    ]


def item(guid: str, url: str, feed: str = "feed.xml", title: str = "") -> FeedItem:
    return FeedItem(feed, guid, url, title or guid.title(), f"episodes/{guid}.yaml")


def record_of(*items: FeedItem) -> GuardRecord:
    return update_record(GuardRecord({}), items, NOW)


def test_guard_passes_additions_and_moved_enclosures() -> None:
    record = record_of(item("one", "https://x/1.mp3"))
    items = [item("one", "https://x/one.mp3"), item("two", "https://x/2.mp3")]
    assert check_guard(record, items) == []
    updated = update_record(record, items, datetime(2026, 6, 1, tzinfo=UTC))
    assert updated.items[("feed.xml", "one")].first_published == "2026-05-01T12:00:00+00:00"
    assert updated.items[("feed.xml", "two")].first_published == "2026-06-01T00:00:00+00:00"


def test_guard_names_removed_changed_and_reused() -> None:
    record = record_of(
        item("one", "https://x/1.mp3"),
        item("two", "https://x/2.mp3"),
        item("three", "https://x/3.mp3"),
    )
    items = [item("uno", "https://x/1.mp3"), item("four", "https://x/2.mp3", title="Four")]
    assert check_guard(record, items) == [
        'episodes/uno.yaml: "Uno": GUID changed from one to uno in feed.xml; every app would '
        "download the episode again. Set the GUID back to one, or pass --allow-removal one",
        'feed.xml: "Three" (GUID three) was published and is missing now; podcast apps would '
        "drop it. Put the episode back, or pass --allow-removal three",
        'episodes/four.yaml: "Four": GUID changed from two to four in feed.xml; every app would '
        "download the episode again. Set the GUID back to two, or pass --allow-removal two",
    ]
    # A URL reused in another feed is not a renamed GUID: it is named as reuse.
    other = [*items, item("five", "https://x/3.mp3", feed="other.xml", title="Five")]
    assert check_guard(record, other)[-1] == (
        'episodes/five.yaml: "Five" (GUID five) uses the enclosure URL https://x/3.mp3, '
        'published before for GUID three ("Three"); apps would mix the two episodes up. Give '
        "the new episode its own file name"
    )


def test_guard_allow_removal_marks_and_forgets() -> None:
    record = record_of(item("one", "https://x/1.mp3"), item("two", "https://x/2.mp3"))
    items = [item("one", "https://x/1.mp3")]
    assert check_guard(record, items, allow_removal={"two"}) == []
    later = update_record(record, items, NOW, allow_removal={"two"})
    assert later.items[("feed.xml", "two")].removed == "2026-05-01T12:00:00+00:00"
    assert check_guard(later, items) == []  # removed items no longer guard
    reloaded = GuardRecord.from_bytes(later.to_bytes())
    assert reloaded == later


def test_guard_is_per_feed() -> None:
    record = record_of(item("one", "https://x/1.mp3", feed="a.xml"))
    assert len(check_guard(record, [item("one", "https://x/1.mp3", feed="b.xml")])) == 1
