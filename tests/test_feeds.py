"""Feeds: golden bytes, and every feed read back by real consumers (feedparser, podcastparser)
for what a podcast app shows: items, titles, GUIDs, enclosures, durations, dates, order.

Regenerate the goldens with `pytest tests/test_feeds.py --update-golden` and review the diff.
"""

from __future__ import annotations

import html
import io
import json
import shutil
import subprocess
import sys
from calendar import timegm
from datetime import UTC, datetime
from pathlib import Path
from unittest import mock

import feedparser
import podcastparser
import pytest
from lxml import etree

import fo_cast
from fo_cast.catalogue.models import Status
from fo_cast.catalogue.reader import EpisodeEntry
from fo_cast.media.probe import probe_media
from fo_cast.outputs import Stage
from fo_cast.publish.guard import GuardRecord, check_guard
from fo_cast.render import feeds
from fo_cast.render.cache import RenderCache
from fo_cast.render.companion import Companion
from fo_cast.render.feedgen_ext import ITUNES_NS, PODCAST_NS
from fo_cast.render.site import video_guid
from fo_cast.rules import podcast_guid
from tests.conftest import build_case
from tests.helpers import copy_sample, site_of

NOW = datetime(2025, 1, 1, tzinfo=UTC)
GOLDEN = Path(__file__).parent / "golden" / "feeds"


@pytest.fixture(scope="module")
def sample_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_sample(tmp_path_factory.mktemp("sample"))


@pytest.fixture(scope="module")
def hostile_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_case("hostile", tmp_path_factory.mktemp("hostile"))


def render(root: Path, now: datetime = NOW) -> dict[str, bytes]:
    outputs, _ = feeds.render_feeds(site_of(root, now), RenderCache())
    return {o.path: o.data for o in outputs if o.data is not None}


def parse_both(data: bytes, url: str) -> tuple[feedparser.FeedParserDict, dict]:  # type: ignore[type-arg]
    parsed = feedparser.parse(data)
    assert not parsed.bozo, parsed.get("bozo_exception")
    return parsed, podcastparser.parse(url, io.BytesIO(data))


def live_entries(root: Path, show: str, now: datetime = NOW) -> list[EpisodeEntry]:
    """Returns the show's episodes an app should see at now, newest first (read directly)."""
    catalogue, _ = fo_cast.load_catalogue(root)
    entry = catalogue.show(show)
    assert entry is not None
    live = [
        e
        for e in entry.episodes
        if e.episode.status is not Status.DRAFT
        and e.episode.published is not None
        and e.episode.published <= now
    ]
    return sorted(live, key=lambda e: e.episode.published, reverse=True)  # type: ignore[arg-type, return-value]


# --- golden ---------------------------------------------------------------------------------


@pytest.mark.parametrize("case", ["sample", "hostile"])
def test_golden(
    case: str, request: pytest.FixtureRequest, sample_root: Path, hostile_root: Path
) -> None:
    root = sample_root if case == "sample" else hostile_root
    rendered = render(root)
    folder = GOLDEN / case
    if request.config.getoption("--update-golden"):
        shutil.rmtree(folder, ignore_errors=True)
        for path, data in rendered.items():
            (folder / path).parent.mkdir(parents=True, exist_ok=True)
            (folder / path).write_bytes(data)
    expected = {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }
    assert sorted(rendered) == sorted(expected)
    for path, data in rendered.items():
        assert data == expected[path], (
            f"{path} differs from its golden; review, then --update-golden"
        )


def test_sample_outputs(sample_root: Path) -> None:
    outputs, _ = feeds.render_feeds(site_of(sample_root, NOW), RenderCache())
    stages = {o.path: (o.stage, o.content_type) for o in outputs}
    assert stages["index.opml"] == (Stage.FEED, "text/x-opml; charset=utf-8")
    assert stages["talks/feed.xml"] == (Stage.FEED, "application/rss+xml; charset=utf-8")
    assert stages["talks/video.xml"][0] is Stage.FEED
    assert stages["talks/feed.json"] == (Stage.FEED, "application/feed+json; charset=utf-8")
    assert stages["talks/2024-08-04-middle-east-part-1/chapters.json"][0] is Stage.ASSET
    assert sorted(p for p in stages if p.endswith(".xml")) == [
        "exclusive/feed.xml", "exclusive/video.xml", "live/feed.xml", "live/video.xml",
        "talks/feed.xml", "talks/video.xml",
    ]  # fmt: skip


# --- what apps show -------------------------------------------------------------------------


@pytest.mark.parametrize("show", ["exclusive", "live", "talks"])
def test_audio_feed_as_apps_read_it(sample_root: Path, show: str) -> None:
    base = "https://podcasts.fairobserver.com/"
    expected = [e for e in live_entries(sample_root, show) if (e.folder / "audio.mp3").exists()]
    data = render(sample_root)[f"{show}/feed.xml"]
    fp, pp = parse_both(data, f"{base}{show}/feed.xml")

    assert len(fp.entries) == len(pp["episodes"]) == len(expected)
    assert [e.title for e in fp.entries] == [e.episode.title for e in expected]  # newest first
    assert [e.id for e in fp.entries] == [e.episode.guid for e in expected]
    by_guid = {e["guid"]: e for e in pp["episodes"]}
    for app, entry in zip(fp.entries, expected, strict=True):
        audio = entry.folder / "audio.mp3"
        url = f"{base}{show}/{entry.slug}/audio.mp3"
        seconds = int(probe_media(audio).duration + 0.5)
        published = entry.episode.published
        assert published is not None
        assert app.enclosures == [
            {"href": url, "length": str(audio.stat().st_size), "type": "audio/mpeg"}
        ]
        assert app.itunes_duration == str(seconds)
        assert app.published_parsed == published.utctimetuple()
        assert app.link == f"{base}{show}/{entry.slug}/"
        episode = by_guid[entry.episode.guid]
        assert episode["title"] == entry.episode.title
        assert episode["enclosures"] == [
            {"url": url, "file_size": audio.stat().st_size, "mime_type": "audio/mpeg"}
        ]
        assert episode["total_time"] == seconds
        assert episode["published"] == timegm(published.utctimetuple())
        assert episode["number"] == entry.episode.episode
        assert episode["explicit"] is False
        assert episode["description"] == entry.episode.summary
    newest = expected[0].episode.published
    assert newest is not None
    assert fp.feed.updated_parsed == newest.utctimetuple()  # not the clock
    assert pp["type"] == "episodic"
    assert pp["explicit"] is False
    assert pp["import_prohibited"] is True  # podcast:locked
    assert pp["funding_url"] == "https://www.fairobserver.com/donate/"
    assert pp["itunes_owner"] == {"name": "Fair Observer", "email": "podcasts@fairobserver.com"}
    assert pp["cover_url"] == f"{base}{show}/artwork.png"
    assert fp.feed.title == pp["title"]
    assert fp.feed.generator == "fo-cast"


def test_video_feed_items_have_their_own_guids(sample_root: Path) -> None:
    expected = [
        e for e in live_entries(sample_root, "exclusive") if (e.folder / "video.mp4").exists()
    ]
    rendered = render(sample_root)
    fp, pp = parse_both(rendered["exclusive/video.xml"], "https://x/exclusive/video.xml")
    assert [e.id for e in fp.entries] == [video_guid(e.episode.guid) for e in expected]
    assert [e.id for e in fp.entries] == [e.episode.guid + ":video" for e in expected]
    for app, entry in zip(pp["episodes"], expected, strict=True):
        video = entry.folder / "video.mp4"
        assert app["enclosures"][0]["url"].endswith(f"/exclusive/{entry.slug}/video.mp4")
        assert app["enclosures"][0]["file_size"] == video.stat().st_size
        assert app["enclosures"][0]["mime_type"] == "video/mp4"
        assert app["total_time"] == int(probe_media(video).duration + 0.5)
    audio_guids = {e.id for e in feedparser.parse(rendered["exclusive/feed.xml"]).entries}
    assert audio_guids.isdisjoint(e.id for e in fp.entries)
    assert fp.feed.title == "FO° Exclusive (Video)"


def test_podcasting_tags(sample_root: Path) -> None:
    data = render(sample_root)["talks/feed.xml"]
    root = etree.fromstring(data)
    ns = {"podcast": PODCAST_NS, "itunes": ITUNES_NS}
    channel = root.find("channel")
    assert channel is not None
    assert channel.findtext("podcast:guid", namespaces=ns) == podcast_guid(
        "https://podcasts.fairobserver.com/talks/feed.xml"
    )
    assert channel.findtext("podcast:medium", namespaces=ns) == "podcast"
    locked = channel.find("podcast:locked", ns)
    assert locked is not None and locked.text == "yes"
    assert locked.get("owner") == "podcasts@fairobserver.com"
    assert channel.findtext("itunes:explicit", namespaces=ns) == "false"
    assert channel.findtext("itunes:type", namespaces=ns) == "episodic"
    category = channel.find("itunes:category", ns)
    assert category is not None and category.get("text") == "News"
    assert [c.get("text") for c in category] == ["Politics"]
    item = channel.find("item")
    assert item is not None
    assert item.find("guid").get("isPermaLink") == "false"  # type: ignore[union-attr]
    pp = podcastparser.parse("https://x/", io.BytesIO(data))
    first = {e["guid"]: e for e in pp["episodes"]}["25ea06b6-b958-4449-b8d7-9a5a51428ff1"]
    base = "https://podcasts.fairobserver.com/talks/2024-08-04-middle-east-part-1/"
    assert first["transcript_url"] == base + "transcript.vtt"
    assert first["chapters_json_url"] == base + "chapters.json"
    assert [(p["name"], p["role"], p["group"]) for p in first["persons"]] == [
        ("Atul Singh", "host", "cast"),
        ("Daniel Harlow", "guest", "cast"),
        ("Tomás Rivera", "writer", "writing"),
    ]
    item_el = next(i for i in channel.iter("item") if i.findtext("guid") == first["guid"])
    alternate = item_el.find("podcast:alternateEnclosure", ns)
    assert alternate is not None
    assert (alternate.get("type"), alternate.get("length")) == ("video/mp4", "62085")
    source = alternate.find("podcast:source", ns)
    assert source is not None and source.get("uri") == base + "video.mp4"


def test_chapters_json(sample_root: Path) -> None:
    data = render(sample_root)["talks/2024-08-24-middle-east-part-2/chapters.json"]
    assert json.loads(data) == {
        "version": "1.2.0",
        "title": "America’s New Fast-Changing Role in the Middle East, Part 2",
        "podcastName": "FO° Talks",
        "chapters": [
            {"startTime": 0, "title": "Introduction"},
            {"startTime": 4, "title": "Choices ahead"},
        ],
    }


def test_json_feed(sample_root: Path) -> None:
    rendered = render(sample_root)
    feed = json.loads(rendered["talks/feed.json"])
    rss = feedparser.parse(rendered["talks/feed.xml"])
    assert feed["version"] == "https://jsonfeed.org/version/1.1"
    assert feed["feed_url"] == "https://podcasts.fairobserver.com/talks/feed.json"
    assert [i["id"] for i in feed["items"]] == [e.id for e in rss.entries]
    first = feed["items"][-1]
    assert first["date_published"] == "2024-08-04T15:00:00+00:00"
    assert [a["mime_type"] for a in first["attachments"]] == ["audio/mpeg", "video/mp4"]
    assert first["attachments"][0]["size_in_bytes"] == 45122
    assert first["_podcast"]["chapters"].endswith("/chapters.json")


def test_opml_lists_every_rss_feed(sample_root: Path) -> None:
    opml = etree.fromstring(render(sample_root)["index.opml"])
    outlines = [(o.get("text"), o.get("xmlUrl")) for o in opml.iter("outline")]
    assert ("FO° Talks", "https://podcasts.fairobserver.com/talks/feed.xml") in outlines
    assert ("FO° Live (Video)", "https://podcasts.fairobserver.com/live/video.xml") in outlines
    assert len(outlines) == 6


def test_drafts_and_future_episodes_are_absent(sample_root: Path) -> None:
    early = datetime(2024, 9, 1, tzinfo=UTC)
    rendered = render(sample_root, now=early)
    talks = feedparser.parse(rendered["talks/feed.xml"])
    assert [e.title for e in talks.entries] == [
        e.episode.title for e in live_entries(sample_root, "talks", early)
    ]
    assert len(talks.entries) == 4
    guids = {e.id for e in talks.entries}
    assert "1be18c12-e452-4c83-aa2a-9a69133205c0" not in guids  # draft
    live = feedparser.parse(rendered["live/feed.xml"])
    assert live.entries == []
    assert live.feed.updated_parsed == early.utctimetuple()  # no items: the build's now
    assert "live/video.xml" not in rendered  # its only video episode is not out yet


def test_serial_shows_read_oldest_first(tmp_path: Path) -> None:
    root = copy_sample(tmp_path)
    show = root / "talks" / "show.yaml"
    show.write_text(
        show.read_text(encoding="utf-8").replace("type: episodic", "type: serial"), "utf-8"
    )
    fp = feedparser.parse(render(root)["talks/feed.xml"])
    expected = live_entries(root, "talks")[::-1]
    assert [e.id for e in fp.entries] == [e.episode.guid for e in expected]
    assert fp.feed.itunes_type == "serial"


# --- hostile text ---------------------------------------------------------------------------


def test_hostile_text_round_trips(hostile_root: Path) -> None:
    site = site_of(hostile_root, NOW)
    show = site.shows[0]
    rendered = render(hostile_root)
    fp, pp = parse_both(rendered["edge/feed.xml"], show.feed_url)
    model = show.show
    assert fp.feed.title == pp["title"] == model.title
    assert pp["description"] == model.description
    assert html.unescape(fp.feed.subtitle) == model.description  # apps render it as HTML
    assert pp["itunes_author"] == model.author
    assert pp["itunes_owner"]["name"] == model.owner.name
    assert pp["link"] == fp.feed.link == model.link
    assert pp["funding_url"] == model.funding[0].url
    assert [e.id for e in fp.entries] == [e.guid for e in show.episodes]
    assert pp["type"] == "serial"
    for app, episode in zip(fp.entries, show.episodes, strict=True):
        parsed = {e["guid"]: e for e in pp["episodes"]}[episode.guid]
        assert app.title == parsed["title"] == episode.title
        assert parsed["description_html"] == episode.companion.feed
        assert app.content[0].value == episode.companion.feed
        assert "script" not in app.content[0].value
        names = [p.name for p in episode.episode.people]
        assert [p["name"] for p in parsed["persons"]][1 : 1 + len(names)] == names
    first = {e["guid"]: e for e in pp["episodes"]}[show.episodes[0].guid]
    summary = show.episodes[0].episode.summary
    assert first["description"] == summary
    assert html.unescape(fp.entries[0].summary) == summary
    assert "]]>" in (summary or "") and "]]>" in show.episodes[0].title


def test_drafts_and_future_absent_from_hostile(hostile_root: Path) -> None:
    rendered = render(hostile_root)
    titles = [e.title for e in feedparser.parse(rendered["edge/feed.xml"]).entries]
    assert titles == ['Q&A: "<Live>" ]]> مرحبا 🎉', "Second & last"]  # serial: oldest first
    assert json.loads(rendered["edge/feed.json"])["items"][1]["id"] == "second-ep"


def test_hostile_chapters_and_json_feed(hostile_root: Path) -> None:
    rendered = render(hostile_root)
    chapters = json.loads(rendered["edge/2024-03-01-first/chapters.json"])
    assert chapters["chapters"] == [
        {"startTime": 0, "title": "Intro & <welcome> ]]>"},
        {"startTime": 1.5, "title": "نقاش", "url": "https://example.org/ch?a=1&b=2"},
    ]
    feed = json.loads(rendered["edge/feed.json"])
    assert feed["title"] == 'Tom & Jerry\'s <Show> "Live" 🎙️'
    assert feed["items"][0]["id"] == "urn:uuid:7d0f & <first>"


def test_cdata_terminator_cannot_break_out(hostile_root: Path) -> None:
    site = site_of(hostile_root, NOW)
    episode = site.shows[0].episodes[1]
    hostile = '<p>end ]]> and <a href="https://x/?]]>">link</a></p>'
    episode.companion = Companion(page=hostile, feed=hostile)
    outputs, _ = feeds.render_feeds(site, RenderCache())
    data = next(o.data for o in outputs if o.path == "edge/feed.xml")
    assert data is not None
    parsed = podcastparser.parse("https://x/", io.BytesIO(data))
    shown = {e["guid"]: e for e in parsed["episodes"]}[episode.guid]["description_html"]
    assert shown == '<p>end ]]&gt; and <a href="https://x/?]]&gt;">link</a></p>'
    assert html.unescape(shown) == html.unescape(hostile)  # the same HTML to any reader
    assert not feedparser.parse(data).bozo


# --- determinism and the cache --------------------------------------------------------------


def test_same_site_same_bytes_cold_and_warm(sample_root: Path) -> None:
    site = site_of(sample_root, NOW)
    cache = RenderCache()
    first, items = feeds.render_feeds(site, cache)
    # 18 audio and 4 video items, 18 JSON Feed items, 5 chapters files
    assert (cache.misses, cache.hits) == (45, 0)
    cache.prune()
    second, again = feeds.render_feeds(site_of(sample_root, NOW), cache)
    assert (cache.misses, cache.hits) == (45, 45)  # nothing rendered again
    third, _ = feeds.render_feeds(site_of(sample_root, NOW), RenderCache())
    assert [(o.path, o.data) for o in first] == [(o.path, o.data) for o in second]
    assert [(o.path, o.data) for o in first] == [(o.path, o.data) for o in third]
    assert items == again


def test_one_changed_episode_renders_one_item(sample_root: Path) -> None:
    cache = RenderCache()
    before = {o.path: o.data for o in feeds.render_feeds(site_of(sample_root, NOW), cache)[0]}
    cache.prune()
    site = site_of(sample_root, NOW)
    episode = next(e for e in site.shows[2].episodes if e.video is None and e.chapters is None)
    episode.entry.companion = (episode.entry.companion or "") + "\n\nOne more line.\n"
    rendered = []
    original = feeds._item

    def counting(*args: object, **kwargs: object) -> object:
        rendered.append(args[1])
        return original(*args, **kwargs)  # type: ignore[arg-type]

    with mock.patch.object(feeds, "_item", side_effect=counting):
        outputs = feeds.render_feeds(site, cache)[0]
    assert rendered == [episode]  # its item in the audio feed, the rest from the cache
    after = {o.path: o.data for o in outputs}
    show = site.shows[2].path
    assert {p for p in after if after[p] != before[p]} == {show + "feed.xml", show + "feed.json"}
    fresh, _ = feeds.render_feeds(site, RenderCache())
    assert [o.data for o in outputs] == [o.data for o in fresh]
    assert b"One more line." in after[show + "feed.xml"]


def test_a_feed_that_cannot_be_cut_is_rendered_whole(sample_root: Path) -> None:
    site = site_of(sample_root, NOW)
    episode = site.shows[0].episodes[0]
    odd = "<p>an item inside an item:\n    <item>\n</p>"  # never out of the sanitiser
    episode.companion = Companion(page=odd, feed=odd)
    cache = RenderCache()
    outputs = {o.path: o.data for o in feeds.render_feeds(site, cache)[0]}
    data = outputs[site.shows[0].path + "feed.xml"]
    assert data is not None and odd.encode() in data
    assert len(feedparser.parse(data).entries) == len(site.shows[0].episodes)


def test_cut_finds_the_items(sample_root: Path) -> None:
    show = next(s for s in site_of(sample_root, NOW).shows if s.path == "talks/")
    data = render(sample_root)["talks/feed.xml"]
    count = sum(1 for e in show.episodes if e.audio is not None)
    cut = feeds._cut(data, count)
    assert cut is not None
    head, items = cut
    assert len(items) == count and head + b"".join(items) + feeds.FEED_END == data
    assert feeds._cut(data, count + 1) is None and feeds._cut(data[:-1], count) is None


def test_two_builds_are_byte_identical(sample_root: Path, tmp_path: Path) -> None:
    trees = []
    for name in ("one", "two"):
        out = tmp_path / name
        subprocess.run(
            [sys.executable, "-m", "fo_cast", "build", str(sample_root), "--out", str(out),
             "--now", "2025-01-01T00:00:00+00:00"],
            check=True, capture_output=True,
        )  # fmt: skip
        trees.append(
            {p.relative_to(out): p.read_bytes() for p in out.rglob("*.xml")}
            | {
                p.relative_to(out): p.read_bytes()
                for p in out.rglob("*.json")
                if ".fo-cast" not in p.parts  # write_tree's record of the tree, never published
            }
            | {p.relative_to(out): p.read_bytes() for p in out.rglob("*.opml")}
        )
    assert trees[0] == trees[1]
    assert len(trees[0]) >= 10


# --- feed items for the GUID guard ----------------------------------------------------------


def test_feed_items_never_share_an_enclosure_between_guids(sample_root: Path) -> None:
    _, items = feeds.render_feeds(site_of(sample_root, NOW), RenderCache())
    assert check_guard(GuardRecord({}), items) == []
    owners: dict[str, str] = {}
    for item in items:
        assert owners.setdefault(item.enclosure_url, item.guid) == item.guid
    by_feed = {item.feed for item in items}
    assert "talks/video.xml" in by_feed and "talks/feed.json" in by_feed
    talks = [i for i in items if i.feed == "talks/feed.xml"]
    assert talks[0].manifest == "episodes/talks/2024-09-15-west-bengal-rape-case/episode.yaml"


def test_whole_seconds() -> None:
    assert [feeds.whole_seconds(s) for s in (0.0, 2.06375, 2.5, 10.49, 3599.5)] == [
        0, 2, 3, 10, 3600,
    ]  # fmt: skip
