"""The built sample read against the specs themselves, not against fo-cast's own goldens.

RSS 2.0, Apple Podcasts' RSS requirements, the Podcasting 2.0 namespace, JSON Feed 1.1, OPML
2.0 and the Podcast Index chapters format: each check names the rule it holds the tree to.
"""

from __future__ import annotations

import email.utils
import json
import re
import shutil
import uuid
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from lxml import etree
from typer.testing import CliRunner

from fo_cast.cli import app

SAMPLE = Path(__file__).resolve().parent.parent / "episodes"
BASE = "https://podcasts.fairobserver.com/"
ITUNES = "{http://www.itunes.com/dtds/podcast-1.0.dtd}"
# The spec's URI and the GitHub one it tells clients to treat as identical.
PODCAST_NAMESPACES = {
    "https://podcastindex.org/namespace/1.0",
    "https://github.com/Podcastindex-org/podcast-namespace/blob/main/docs/1.0.md",
}
ATOM = "{http://www.w3.org/2005/Atom}"
PODCAST_GUID_NAMESPACE = uuid.UUID("ead4c236-bf58-58c6-a2c6-a6b28d128cb6")
# RFC 822 as RSS 2.0 uses it (4-digit year as RFC 2822 and every reader expects).
RFC822 = re.compile(
    r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
    r" \d{4} \d{2}:\d{2}:\d{2} [+-]\d{4}$"
)


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("spec")
    catalogue = where / "episodes"
    shutil.copytree(SAMPLE, catalogue, ignore=shutil.ignore_patterns(".fo-cast"))
    out = where / "out"
    result = CliRunner().invoke(
        app, ["build", str(catalogue), "--out", str(out), "--now", "2025-01-01T00:00:00+00:00"]
    )
    assert result.exit_code == 0, result.stderr
    return out


def rss_feeds(tree: Path) -> list[Path]:
    return sorted(tree.glob("*/*.xml"))


def podcast(element: etree._Element, name: str) -> list[etree._Element]:
    return [e for ns in PODCAST_NAMESPACES for e in element.findall(f"{{{ns}}}{name}")]


def test_every_feed_is_rss_2_with_a_self_link(tree: Path) -> None:
    feeds = rss_feeds(tree)
    assert len(feeds) == 6
    for path in feeds:
        rss = etree.parse(str(path)).getroot()
        assert rss.tag == "rss" and rss.get("version") == "2.0"
        channel = rss.find("channel")
        assert channel is not None
        for required in ("title", "link", "description"):  # RSS 2.0 required channel elements
            assert (channel.findtext(required) or "").strip(), (path, required)
        url = BASE + path.relative_to(tree).as_posix()
        selves = [a for a in channel.findall(ATOM + "link") if a.get("rel") == "self"]
        assert [(a.get("href"), a.get("type")) for a in selves] == [(url, "application/rss+xml")]


def test_apple_channel_requirements(tree: Path) -> None:
    for path in rss_feeds(tree):
        channel = etree.parse(str(path)).getroot().find("channel")
        assert channel is not None
        assert re.fullmatch(r"[a-z]{2}(-[A-Za-z]{2})?", channel.findtext("language") or "")
        image = channel.find(ITUNES + "image")
        assert image is not None and re.search(r"\.(jpg|jpeg|png)$", image.get("href", ""))
        assert channel.findtext(ITUNES + "explicit") in ("true", "false")
        assert channel.findtext(ITUNES + "type") in ("episodic", "serial")
        categories = channel.findall(ITUNES + "category")
        assert categories, path
        for category in categories:  # a main category, holding at most one level more
            assert category.get("text")
            for sub in category.findall(ITUNES + "category"):
                assert sub.get("text") and not sub.findall(ITUNES + "category")
        owner = channel.find(ITUNES + "owner")
        assert owner is not None and "@" in (owner.findtext(ITUNES + "email") or "")


def test_podcasting_2_channel_tags(tree: Path) -> None:
    for path in rss_feeds(tree):
        channel = etree.parse(str(path)).getroot().find("channel")
        assert channel is not None
        url = BASE + path.relative_to(tree).as_posix()
        bare = url.split("://", 1)[1].rstrip("/")
        [guid] = podcast(channel, "guid")
        assert guid.text == str(uuid.uuid5(PODCAST_GUID_NAMESPACE, bare))
        [medium] = podcast(channel, "medium")
        assert medium.text == ("video" if path.name == "video.xml" else "podcast")
        [locked] = podcast(channel, "locked")
        assert locked.text in ("yes", "no") and "@" in locked.get("owner", "")
        for funding in podcast(channel, "funding"):
            assert funding.get("url", "").startswith("https://") and (funding.text or "").strip()
        for person in podcast(channel, "person"):
            assert person.get("role") and (person.text or "").strip()


def test_items_as_rss_apple_and_podcasting_2_want_them(tree: Path) -> None:
    guids: list[str] = []
    for path in rss_feeds(tree):
        channel = etree.parse(str(path)).getroot().find("channel")
        assert channel is not None
        for item in channel.findall("item"):
            assert (item.findtext("title") or "").strip()
            guid = item.find("guid")
            assert guid is not None and guid.get("isPermaLink") == "false" and guid.text
            guids.append(guid.text)
            date = item.findtext("pubDate") or ""
            assert RFC822.match(date), date
            assert email.utils.parsedate_to_datetime(date).tzinfo is not None
            enclosure = item.find("enclosure")
            assert enclosure is not None
            url = enclosure.get("url", "")
            assert url.startswith(BASE) and " " not in url
            served = tree / unquote(urlsplit(url).path).lstrip("/")
            assert int(enclosure.get("length", "0")) == served.stat().st_size
            assert enclosure.get("type") in ("audio/mpeg", "audio/x-m4a", "video/mp4")
            assert re.fullmatch(r"\d+", item.findtext(ITUNES + "duration") or "")
            assert item.findtext(ITUNES + "episodeType") in ("full", "trailer", "bonus")
            assert item.findtext(ITUNES + "explicit") in ("true", "false")
            for transcript in podcast(item, "transcript"):
                assert transcript.get("url", "").startswith("https://")
                assert transcript.get("type") in (
                    "text/vtt", "application/x-subrip", "application/json", "text/html",
                    "text/plain", "application/srt",
                )  # fmt: skip
                if transcript.get("rel") is not None:
                    assert transcript.get("rel") == "captions"
            for chapters in podcast(item, "chapters"):
                assert chapters.get("type") == "application/json+chapters"
                assert chapters.get("url", "").startswith("https://")
            for alternate in podcast(item, "alternateEnclosure"):
                assert alternate.get("type") and int(alternate.get("length", "0")) > 0
                sources = podcast(alternate, "source")
                assert sources and all(s.get("uri", "").startswith("https://") for s in sources)
    assert len(guids) == len(set(guids)), "an item GUID appears in two feeds"


def test_json_feed_1_1(tree: Path) -> None:
    for path in sorted(tree.glob("*/feed.json")):
        feed = json.loads(path.read_text(encoding="utf-8"))
        assert feed["version"] == "https://jsonfeed.org/version/1.1"
        assert feed["title"] and feed["feed_url"] == BASE + path.relative_to(tree).as_posix()
        assert all(isinstance(a, dict) and a.get("name") for a in feed.get("authors", []))
        assert all(key.startswith("_") for key in feed if key not in JSON_FEED_TOP)
        ids = [item["id"] for item in feed["items"]]
        assert all(isinstance(i, str) and i for i in ids) and len(ids) == len(set(ids))
        for item in feed["items"]:
            assert item.get("content_html") or item.get("content_text")
            for attachment in item["attachments"]:
                assert attachment["url"].startswith(BASE) and attachment["mime_type"]
                assert isinstance(attachment["size_in_bytes"], int)


JSON_FEED_TOP = {
    "version", "title", "home_page_url", "feed_url", "description", "user_comment",
    "next_url", "icon", "favicon", "authors", "language", "expired", "hubs", "items",
}  # fmt: skip


def test_opml_2_as_podcast_apps_import_it(tree: Path) -> None:
    opml = etree.parse(str(tree / "index.opml")).getroot()
    assert opml.tag == "opml" and opml.get("version") == "2.0"
    assert (opml.findtext("head/title") or "").strip()
    outlines = opml.findall("body/outline")
    assert len(outlines) == len(rss_feeds(tree))
    for outline in outlines:
        assert outline.get("type") == "rss" and (outline.get("text") or "").strip()
        url = outline.get("xmlUrl", "")
        assert url.startswith(BASE) and (tree / url[len(BASE) :]).is_file()


def test_chapters_follow_the_podcast_index_format(tree: Path) -> None:
    files = sorted(tree.glob("*/*/chapters.json"))
    assert files
    for path in files:
        chapters = json.loads(path.read_text(encoding="utf-8"))
        assert chapters["version"] == "1.2.0"
        starts = [c["startTime"] for c in chapters["chapters"]]
        assert starts == sorted(starts) and all(isinstance(s, int | float) for s in starts)
        assert all(c.get("title") for c in chapters["chapters"])
