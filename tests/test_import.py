"""fo-cast import: real feeds in, the same GUIDs, enclosures, titles, dates and durations out."""

from __future__ import annotations

import gzip
import http.server
import io
import json
import os
import shutil
import threading
import time
import uuid
import xml.etree.ElementTree as ET
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import feedparser
import podcastparser
import pytest
from typer.testing import CliRunner

from fo_cast.build import build_catalogue, check
from fo_cast.build import import_show as import_feed
from fo_cast.catalogue import feedmap, importer, reader
from fo_cast.catalogue.feedread import FeedError, read_source
from fo_cast.catalogue.importer import (
    IMPORTED_FILE,
    ImportOptions,
    ImportRefused,
)
from fo_cast.cli import app
from fo_cast.render.companion import render_companion
from fo_cast.state import MANIFEST_CACHE

FEEDS = Path(__file__).parent / "fixtures" / "feeds"
DERIVED = FEEDS / "derived"
NOW = datetime(2030, 1, 1, tzinfo=UTC)
REAL = sorted(p.name for p in FEEDS.glob("*.xml"))
# podcast:locked feeds among them: imported as their owner would (--i-own-this-feed)
OWNED = frozenset({"no-agenda-undefined-entity.xml"})


@pytest.fixture
def root(tmp_path: Path) -> Path:
    catalogue = tmp_path / "episodes"
    catalogue.mkdir()
    (catalogue / "fo-cast.toml").write_text('base_url = "https://podcasts.example.com/"\n')
    return catalogue


def rebuilt(root: Path, show: str, name: str = "feed.xml") -> bytes:
    checked, result = build_catalogue(root, now=NOW)
    assert not checked.report.errors, [str(p) for p in checked.report.errors]
    return next(o.data for o in result.outputs if o.path == f"{show}/{name}")  # type: ignore[misc]


def opml_of(root: Path) -> bytes:
    _, result = build_catalogue(root, now=NOW)
    return next(o.data for o in result.outputs if o.path == "index.opml")  # type: ignore[misc]


def page_of(root: Path, path: str) -> str:
    _, result = build_catalogue(root, now=NOW)
    data = next(o.data for o in result.outputs if o.path == path)
    assert data is not None
    return data.decode()


def facts(parsed: feedparser.FeedParserDict) -> list[tuple[object, ...]]:
    """Returns what an app keeps of each item: GUID, enclosure, title, instant, duration."""
    rows = []
    for entry in parsed.entries:
        enclosure = entry.enclosures[0]
        seconds = feedmap.duration(entry.get("itunes_duration"))
        rows.append(
            (
                entry.id,
                enclosure.href,
                int(enclosure.length),
                feedmap.media_type(enclosure.type, enclosure.href)[0],
                entry.title,
                entry.published_parsed,
                None if seconds is None else int(seconds + 0.5),
            )
        )
    return sorted(rows, key=lambda row: str(row[0]))


@pytest.mark.parametrize("name", REAL)
def test_real_feed_rebuilds_with_the_same_items(root: Path, name: str) -> None:
    show = Path(name).stem
    options = ImportOptions(i_own_this_feed=name in OWNED)
    result = import_feed(str(FEEDS / name), root, show, options)
    assert not result.report.errors
    source = feedparser.parse((FEEDS / name).read_bytes())
    data = rebuilt(root, show)
    feed = feedparser.parse(data)
    assert not feed.bozo
    assert len(feed.entries) == len(source.entries) == len(result.written)
    assert facts(feed) == facts(source)
    app_view = podcastparser.parse(
        f"https://podcasts.example.com/{show}/feed.xml", io.BytesIO(data)
    )
    assert sorted(e["guid"] for e in app_view["episodes"]) == sorted(e.id for e in source.entries)
    if not source.bozo:  # podcastparser refuses the not-well-formed source itself
        old = io.BytesIO((FEEDS / name).read_bytes())
        assert app_facts(app_view) == app_facts(podcastparser.parse("https://old.example/", old))


def app_facts(parsed: dict) -> list[tuple[object, ...]]:
    """Returns what gPodder keeps of each episode: GUID, title, date, duration, enclosures."""
    return sorted(
        (e["guid"], e["title"], e["published"], e["total_time"],
         sorted({(m["url"], m["file_size"]) for m in e["enclosures"]}))  # media:content too
        for e in parsed["episodes"]
    )  # fmt: skip


def test_guids_kept_exactly_case_and_urls(root: Path) -> None:
    import_feed(str(FEEDS / "lex-fridman-blubrry.xml"), root, "lex")
    guids = {e.id for e in feedparser.parse(rebuilt(root, "lex")).entries}
    assert "https://lexfridman.com/?p=6434" in guids
    import_feed(str(FEEDS / "all-things-chemical-libsyn.xml"), root, "chem")
    source = {e.id for e in feedparser.parse(FEEDS / "all-things-chemical-libsyn.xml").entries}
    assert {e.id for e in feedparser.parse(rebuilt(root, "chem")).entries} == source


def test_channel_podcast_guid_is_kept(root: Path) -> None:
    import_feed(str(FEEDS / "lex-fridman-blubrry.xml"), root, "lex")
    source = feedparser.parse(FEEDS / "lex-fridman-blubrry.xml")
    data = rebuilt(root, "lex").decode()
    kept = source.feed["podcast_guid"]
    assert f">{kept}</podcast:guid>" in data
    assert "previous_feed_urls:\n  - " in (root / "lex" / "show.yaml").read_text()


def test_a_show_without_podcast_guid_keeps_the_one_of_its_old_feed_url(root: Path) -> None:
    """The Podcast Index seeds a show's GUID once, from the feed URL it had then; moved here,
    the show keeps it (the UUIDv5 of the new URL would be another show to the Index)."""
    import_feed(str(FEEDS / "crime-junkie-simplecast.xml"), root, "crime")
    show = (root / "crime" / "show.yaml").read_text()
    old_url = show.split("previous_feed_urls:\n  - ", 1)[1].split("\n", 1)[0].strip("'\"")
    assert old_url.startswith("https://feeds.simplecast.com/")
    seeded = str(uuid.uuid5(uuid.UUID("ead4c236-bf58-58c6-a2c6-a6b28d128cb6"), old_url[8:]))
    assert f"podcast_guid: {seeded}" in show
    parsed = feedparser.parse(rebuilt(root, "crime"))
    assert parsed.feed["podcast_guid"] == seeded


def test_broken_feed_is_repaired_and_said_so(root: Path) -> None:
    result = import_feed(str(FEEDS / "all-things-chemical-libsyn-broken.xml"), root, "chem")
    assert result.repairs == [
        "read past an XML error: Opening and ending tag mismatch: rss line 2 and channel at "
        "line 109 (libxml2's recovery, as lenient apps read it; check the imported text after "
        "that line)"
    ]
    assert len(result.written) == 4


def test_retired_categories_are_mapped(root: Path) -> None:
    result = import_feed(str(FEEDS / "all-things-chemical-libsyn.xml"), root, "chem")
    assert result.warnings[:2] == [
        "retired Apple category 'Business/Business News' written as 'News/Business News'",
        "retired Apple category 'Government & Organizations' written as 'Government'",
    ]
    text = (root / "chem" / "show.yaml").read_text()
    assert "categories:\n  - Business\n  - News/Business News\n  - Government\n" in text


def test_serial_trailers_without_numbers_import_and_build(root: Path) -> None:
    result = import_feed(str(FEEDS / "apology-line-art19-serial.xml"), root, "apology")
    assert not result.report.errors
    feed = feedparser.parse(rebuilt(root, "apology"))
    assert [e.itunes_episodetype for e in feed.entries] == ["trailer", "trailer"]


# --- run twice, newer items ------------------------------------------------------------------


def snapshot(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*")}


def test_second_import_writes_nothing(root: Path) -> None:
    import_feed(str(FEEDS / "pumuckl-br.xml"), root, "pumuckl")
    before = snapshot(root / "pumuckl")
    time.sleep(0.01)
    again = import_feed(str(FEEDS / "pumuckl-br.xml"), root, "pumuckl")
    assert (again.written, again.already, again.show_written) == ([], 15, False)
    assert again.summary_lines()[0].endswith(
        "imported 0 episodes into pumuckl/; 15 already there; nothing written"
    )
    assert snapshot(root / "pumuckl") == before


def test_a_second_import_that_writes_nothing_still_reports_the_show(root: Path) -> None:
    """A scheduled re-import fails while the show has errors (it exited 0: nothing written)."""
    import_feed(str(FEEDS / "pumuckl-br.xml"), root, "pumuckl")
    show = root / "pumuckl" / "show.yaml"
    show.write_text(show.read_text(encoding="utf-8").replace("language:", "lang:"), "utf-8")
    argv = ["import", str(FEEDS / "pumuckl-br.xml"), "--show", "pumuckl"]
    result = CliRunner().invoke(app, [*argv, "--catalogue", str(root)])
    assert result.exit_code == 1, result.output
    assert "nothing written" in result.output
    assert "pumuckl/show.yaml" in result.output and "lang" in result.output


def test_newer_items_add_exactly_those(root: Path, tmp_path: Path) -> None:
    text = (FEEDS / "pumuckl-br.xml").read_text(encoding="utf-8")
    first, rest = text.split("<item>", 1)
    older = tmp_path / "older.xml"
    older.write_text(first + "<item>" + rest.split("<item>", 1)[1], encoding="utf-8")
    import_feed(str(older), root, "pumuckl")
    edited = next((root / "pumuckl").glob("*/companion.md"))
    edited.write_text("An editor changed this.\n")
    before = snapshot(root / "pumuckl")
    result = import_feed(str(FEEDS / "pumuckl-br.xml"), root, "pumuckl")
    assert (len(result.written), result.already) == (1, 14)
    after = snapshot(root / "pumuckl")
    new = {k for k in after if k not in before}
    assert new == {result.written[0], f"{result.written[0]}/episode.yaml",
                   f"{result.written[0]}/companion.md"}  # fmt: skip
    changed = {k for k in before if after[k] != before[k]}
    assert changed <= {IMPORTED_FILE, "."} | {""}
    assert edited.read_text() == "An editor changed this.\n"


@pytest.mark.parametrize("parallel", [False, True])
def test_interrupted_import_leaves_the_catalogue_as_it_was(
    root: Path, monkeypatch: pytest.MonkeyPatch, parallel: bool
) -> None:
    before = snapshot(root)
    calls = {"n": 0}
    real = importer._create

    def failing(path: str, data: bytes) -> os.stat_result:
        calls["n"] += 1  # a forked worker counts its own share's files
        if calls["n"] == 20:
            raise OSError(28, "No space left on device")
        return real(path, data)

    monkeypatch.setattr(importer, "_create", failing)
    with pytest.raises(OSError, match="No space left on device"):
        import_feed(str(FEEDS / CRIME), root, "crime", ImportOptions(parallel=parallel))
    assert snapshot(root) == before


CRIME = "crime-junkie-simplecast.xml"  # 334 items: enough for the work to be shared
REPEATED_NAME = (
    "episodes/crime/2022-12-15-5-years-of-crime-junkie/episode.yaml:3: warning: title: repeats "
    "the show name 'Crime Junkie'; give the episode's own title (Apple Podcasts)"
)


def catalogue_in(folder: Path) -> Path:
    catalogue = folder / "episodes"  # the same name: the manifest cache's keys start with it
    catalogue.mkdir(parents=True)
    (catalogue / "fo-cast.toml").write_text('base_url = "https://podcasts.example.com/"\n')
    return catalogue


def cache_entries(catalogue: Path) -> dict[str, list[object]]:
    entries: dict[str, list[object]] = json.loads((catalogue / MANIFEST_CACHE).read_bytes())[
        "entries"
    ]
    return entries


@pytest.mark.parametrize("name", REAL)
def test_parallel_import_writes_the_same_bytes(tmp_path: Path, name: str) -> None:
    written = {}
    for parallel in (False, True):
        catalogue = catalogue_in(tmp_path / str(parallel))
        options = ImportOptions(parallel=parallel, i_own_this_feed=name in OWNED)
        import_feed(str(FEEDS / name), catalogue, "show", options, now=NOW)
        files = sorted(p for p in catalogue.rglob("*") if p.is_file())
        written[parallel] = {
            str(p.relative_to(catalogue)): p.read_bytes()
            for p in files
            if p.name != "manifests.json"
        }
        # the cache's payloads are the same too (its mtimes are the files' own)
        written[parallel]["cache"] = json.dumps(
            sorted((k, v[0], v[2]) for k, v in cache_entries(catalogue).items())
        ).encode()
    assert written[False] == written[True]
    assert sum(p.endswith("/episode.yaml") for p in written[False]) > 0


@pytest.mark.parametrize("parallel", [False, True])
def test_import_gives_validation_the_manifests_it_wrote(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parallel: bool
) -> None:
    catalogue = catalogue_in(tmp_path)
    parsed: list[str] = []
    real = reader._read_yaml

    def counting(path: Path, *args: Any) -> Any:
        parsed.append(f"{path.parent.name}/{path.name}")
        return real(path, *args)

    monkeypatch.setattr(reader, "_read_yaml", counting)
    result = import_feed(str(FEEDS / CRIME), catalogue, "crime", ImportOptions(parallel=parallel))
    assert len(result.written) == 334
    assert not result.report.errors
    warnings = [str(p) for p in result.report.problems]
    assert REPEATED_NAME in warnings
    assert parsed == ["crime/show.yaml"]  # the 334 episode.yaml came from the cache
    # the entries are exactly those the reader makes when it parses the files itself
    given = cache_entries(catalogue)
    (catalogue / MANIFEST_CACHE).unlink()
    assert [str(p) for p in check(catalogue).report.problems] == warnings
    assert len(parsed) == 1 + 1  # the 334 parsed ahead (reader._parse_ahead), into the cache
    assert cache_entries(catalogue) == given


def test_manifests_with_a_problem_are_not_remembered() -> None:
    good = (
        "guid: a\ntitle: A\nstatus: draft\nsummary: S\nmedia:\n"
        "  - url: https://e.com/a.mp3\n    type: audio/mpeg\n    length: 10\n"
    )
    assert reader.episode_cache_payload(good) is not None
    assert reader.episode_cache_payload(good + "colour: blue\n") is None  # unknown key
    assert reader.episode_cache_payload(good.replace("S", "S\x07")) is None  # control char
    assert reader.episode_cache_payload("# nothing\n") is None


# --- GUID rules -----------------------------------------------------------------------------


def test_items_without_guid_take_their_enclosure_url(root: Path) -> None:
    result = import_feed(str(DERIVED / "pumuckl-no-guid.xml"), root, "pumuckl")
    assert len(result.written) == 15
    assert result.warnings[0] == ("'Pumuckl - der Föhn': no guid; its enclosure URL is its GUID")
    feed = feedparser.parse(rebuilt(root, "pumuckl"))
    assert {e.id for e in feed.entries} == {e.enclosures[0].href for e in feed.entries}


def test_duplicate_guids_first_wins(root: Path, tmp_path: Path) -> None:
    text = (FEEDS / "reply-all-gimlet-megaphone.xml").read_text(encoding="utf-8")
    source = feedparser.parse(text)
    first, second = source.entries[0].id, source.entries[1].id
    duplicated = tmp_path / "dup.xml"
    duplicated.write_text(text.replace(second, first), encoding="utf-8")
    result = import_feed(str(duplicated), root, "reply")
    assert len(result.written) == 2
    assert [(s.item, s.reason) for s in result.skipped] == [
        (first, f"the GUID is repeated; the first item with it ('{source.entries[0].title}') kept")
    ]


def test_video_only_feed_keeps_its_guids(root: Path) -> None:
    import_feed(str(DERIVED / "pumuckl-video.xml"), root, "video")
    source = {e.id for e in feedparser.parse(DERIVED / "pumuckl-video.xml").entries}
    main = feedparser.parse(rebuilt(root, "video"))
    assert {e.id for e in main.entries} == source
    assert {e.enclosures[0].type for e in main.entries} == {"video/mp4"}
    assert {e.id for e in feedparser.parse(rebuilt(root, "video", "video.xml")).entries} == source


def test_a_video_only_show_is_offered_once_as_video(root: Path) -> None:
    """Its feed.xml carries the very items of video.xml: an app importing the OPML, or a
    listener following the show page, must not subscribe to the same episodes twice."""
    import_feed(str(DERIVED / "pumuckl-video.xml"), root, "video")
    import_feed(str(FEEDS / "pumuckl-br.xml"), root, "audio")
    main = podcastparser.parse("feed.xml", io.BytesIO(rebuilt(root, "video")))
    assert b"<podcast:medium>video</podcast:medium>" in rebuilt(root, "video")
    assert b"<podcast:medium>podcast</podcast:medium>" in rebuilt(root, "audio")
    assert {e["enclosures"][0]["mime_type"] for e in main["episodes"]} == {"video/mp4"}
    opml = ET.fromstring(opml_of(root))
    urls = [o.get("xmlUrl") for o in opml.iter("outline")]
    base = "https://podcasts.example.com/"
    assert urls == [base + "audio/feed.xml", base + "video/feed.xml"]
    page = page_of(root, "video/index.html")
    assert "RSS (video)" in page and "RSS (audio)" not in page
    assert 'href="https://podcasts.example.com/video/video.xml"' not in page
    assert rebuilt(root, "video", "video.xml")  # still there for whoever subscribed to it


def test_paged_feed_followed_to_the_end(root: Path) -> None:
    result = import_feed(str(DERIVED / "pumuckl-page-1.xml"), root, "pumuckl")
    assert (result.pages, len(result.written)) == (2, 15)
    whole = {e.id for e in feedparser.parse(FEEDS / "pumuckl-br.xml").entries}
    assert {e.id for e in feedparser.parse(rebuilt(root, "pumuckl")).entries} == whole


@pytest.mark.parametrize(
    ("href", "why"),
    [
        ("/etc/passwd", "it is outside the folder of feed.xml, where its pages are read"),
        ("secret/page-2.xml", "it is outside the folder of feed.xml, where its pages are read"),
        ("../page-2.xml", "it is outside the folder of feed.xml, where its pages are read"),
        ("linked.xml", "it is outside the folder of feed.xml, where its pages are read"),
        ("file:///etc/passwd", "the pages of a feed file are read from its own folder, not "
         "from URLs (import the feed by its URL to follow them)"),
        ("https://example.com/page-2.xml", "the pages of a feed file are read from its own "
         "folder, not from URLs (import the feed by its URL to follow them)"),
    ],
)  # fmt: skip
def test_a_feed_files_next_page_is_read_from_its_folder_only(
    root: Path, tmp_path: Path, href: str, why: str
) -> None:
    """A feed file names whatever it likes as its next page: /etc/passwd, or a file of
    episodes it should not bring in; fo-cast reads pages beside the file, nothing else."""
    page_1 = (DERIVED / "pumuckl-page-1.xml").read_text(encoding="utf-8")
    feeds = tmp_path / "feeds"
    (feeds / "secret").mkdir(parents=True)
    (feeds / "feed.xml").write_text(page_1.replace("pumuckl-page-2.xml", href), "utf-8")
    for where in (feeds / "secret" / "page-2.xml", tmp_path / "page-2.xml"):
        shutil.copy(DERIVED / "pumuckl-page-2.xml", where)
    (feeds / "linked.xml").symlink_to(tmp_path / "page-2.xml")  # beside it, leading out
    result = import_feed(str(feeds / "feed.xml"), root, "pumuckl")
    assert (result.pages, len(result.written)) == (1, 8)
    assert result.warnings == [
        f"page 1: the next page {href!r} (atom:link rel=next) was not followed: {why}; its "
        "episodes are not imported"
    ]


# --- over HTTP ------------------------------------------------------------------------------


class Server:
    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self.requests: list[str] = []
        self.short: set[str] = set()  # paths served with a Content-Length past the body
        self.headers: dict[str, dict[str, str]] = {}  # extra headers of a path
        self.redirects: dict[str, str] = {}  # path -> where a 302 sends the client
        self.bare: dict[str, int] = {}  # path -> a status sent with no Location, no body
        self.trickle: set[str] = set()  # paths sent 10 bytes at once, then a byte a second
        self.seen_headers: list[dict[str, str]] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                outer.requests.append(self.path)
                outer.seen_headers.append(dict(self.headers))
                if self.path == "/slow":
                    time.sleep(2)
                if self.path in outer.bare:
                    self.send_response(outer.bare[self.path])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if self.path in outer.redirects:
                    self.send_response(302)
                    self.send_header("Location", outer.redirects[self.path])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = outer.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                extra = 1000 if self.path in outer.short else 0
                self.send_header("Content-Length", str(len(body) + extra))
                for name, value in outer.headers.get(self.path, {}).items():
                    self.send_header(name, value)
                self.end_headers()
                if self.path in outer.trickle:  # every read answered in time, never done
                    self.wfile.write(body[:10])
                    for byte in body[10:]:
                        time.sleep(1)
                        self.wfile.write(bytes([byte]))
                    return
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # A client that gave up (the deadline test) must not print into another test's stderr.
        self.httpd.handle_error = lambda request, address: None  # type: ignore[method-assign]
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture
def server() -> Iterator[Server]:
    srv = Server({})
    yield srv
    srv.httpd.shutdown()
    srv.httpd.server_close()


def test_paged_feed_over_http(root: Path, server: Server) -> None:
    server.files["/feed.xml"] = (DERIVED / "pumuckl-page-1.xml").read_bytes()
    server.files["/pumuckl-page-2.xml"] = (DERIVED / "pumuckl-page-2.xml").read_bytes()
    result = import_feed(f"{server.url}/feed.xml", root, "pumuckl")
    assert (result.pages, len(result.written)) == (2, 15)
    assert server.requests == ["/feed.xml", "/pumuckl-page-2.xml"]
    assert f"{server.url}/feed.xml" in (root / "pumuckl" / "show.yaml").read_text()


def test_paged_feed_over_http_follows_http_pages_only(root: Path, server: Server) -> None:
    page_1 = (DERIVED / "pumuckl-page-1.xml").read_text(encoding="utf-8")
    server.files["/feed.xml"] = page_1.replace("pumuckl-page-2.xml", "file:///etc/passwd").encode()
    result = import_feed(f"{server.url}/feed.xml", root, "pumuckl")
    assert (result.pages, len(result.written)) == (1, 8)
    assert result.warnings == [
        "page 1: the next page 'file:///etc/passwd' (atom:link rel=next) was not followed: "
        "fo-cast fetches http(s) URLs only, not file: URLs; its episodes are not imported"
    ]
    assert server.requests == ["/feed.xml"]


def test_paging_loop_is_bounded(tmp_path: Path) -> None:
    page = (DERIVED / "pumuckl-page-1.xml").read_text(encoding="utf-8")
    (tmp_path / "a.xml").write_text(page.replace("pumuckl-page-2.xml", "b.xml"), "utf-8")
    (tmp_path / "b.xml").write_text(page.replace("pumuckl-page-2.xml", "a.xml"), "utf-8")
    feed = read_source(str(tmp_path / "a.xml"))
    assert feed.pages == 2
    assert feed.repairs[-1].startswith("page 2 links back to ")
    for n in range(4):
        (tmp_path / f"p{n}.xml").write_text(page.replace("pumuckl-page-2.xml", f"p{n + 1}.xml"))
    with pytest.raises(FeedError, match=r"more than 3 pages \(atom:link rel=next\)"):
        read_source(str(tmp_path / "p0.xml"), max_pages=3)


XXE_FILE = """<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY secret SYSTEM "file://{path}">]>
<rss version="2.0"><channel><title>T &secret;</title><link>https://example.com/</link>
<description>D</description><language>en</language>
<item><title>Ep &secret;</title><guid>g1</guid><pubDate>Mon, 01 Jan 2024 00:00:00 GMT</pubDate>
<enclosure url="https://example.com/a.mp3" length="10" type="audio/mpeg"/></item>
</channel></rss>
"""


def test_xxe_local_file_is_never_read(root: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-VALUE")
    feed = tmp_path / "xxe.xml"
    feed.write_text(XXE_FILE.format(path=secret))
    result = import_feed(str(feed), root, "xxe")
    assert result.repairs == [
        "left out 2 entity references the feed declares itself (&secret;); "
        "fo-cast never expands them"
    ]
    written = "".join(p.read_text() for p in (root / "xxe").rglob("*") if p.is_file())
    assert "TOP-SECRET-VALUE" not in written
    assert "title: T\n" in (root / "xxe" / "show.yaml").read_text()


def test_xxe_over_http_sends_no_request(root: Path, tmp_path: Path, server: Server) -> None:
    server.files["/secret"] = b"FROM-THE-NETWORK"
    feed = tmp_path / "xxe.xml"
    text = XXE_FILE.replace('SYSTEM "file://{path}"', f'SYSTEM "{server.url}/secret"')
    text = text.replace("<!DOCTYPE rss [", f'<!DOCTYPE rss SYSTEM "{server.url}/dtd" [')
    feed.write_text(text)
    import_feed(str(feed), root, "xxe")
    assert server.requests == []
    written = "".join(p.read_text() for p in (root / "xxe").rglob("*") if p.is_file())
    assert "FROM-THE-NETWORK" not in written


def test_billion_laughs_is_not_expanded(tmp_path: Path) -> None:
    entities = '<!ENTITY lol0 "lol">' + "".join(
        f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">' for n in range(1, 10)
    )
    feed = tmp_path / "bomb.xml"
    feed.write_text(
        f'<?xml version="1.0"?>\n<!DOCTYPE rss [{entities}]>\n<rss version="2.0"><channel>'
        "<title>&lol9;</title><item><guid>g</guid></item></channel></rss>\n"
    )
    started = time.monotonic()
    with pytest.raises(FeedError) as refused:
        read_source(str(feed))
    assert time.monotonic() - started < 2
    assert str(refused.value) == (
        f"{feed}: declares entities that would expand without bound (a 'billion laughs' "
        "bomb); refused"
    )


# --- lenient, and refused -------------------------------------------------------------------


def test_an_entity_nothing_defines_stays_text_and_the_rest_is_intact(root: Path) -> None:
    """No Agenda (real, from partytime's fixtures) has one `&gtgt;` in its show notes: libxml2's
    recovery would read past it and drop every later `&amp;`, `&quot;`, `&lt;` and `&gt;` in
    the feed's text. It is kept as the text it is, and the feed parses strictly."""
    source = FEEDS / "no-agenda-undefined-entity.xml"
    result = import_feed(str(source), root, "na", ImportOptions(i_own_this_feed=True))
    assert result.repairs == [
        "removed blank lines before the feed",
        "kept 1 reference to entities nothing defines (&gtgt;) as the text they are",
    ]
    parsed = feedparser.parse(source.read_bytes())
    titles = sorted(
        reader.load_catalogue(root)[0].shows[0].episodes[n].episode.title
        for n in range(len(result.written))
    )
    assert titles == sorted(e.title for e in parsed.entries if e.get("enclosures"))
    assert '1373: "Mass Formation"' in titles  # its quotes, which the recovery dropped
    assert sorted(guids_of(root / "na")) == sorted(
        e.id for e in parsed.entries if e.get("enclosures")
    )


def test_prefixes_used_undeclared_are_read_as_their_namespaces(root: Path) -> None:
    """De Grote Podcast (VRT, real, from gnome-podcasts' fixtures) uses itunes: without
    declaring it: apps read it, lxml refuses the tag names. The well-known namespace is
    declared for it, and said so; the items, durations and the move notice come through."""
    source = FEEDS / "de-grote-vrt-undeclared-itunes.xml"
    result = import_feed(str(source), root, "grote")
    assert result.repairs == [
        "declared the namespace prefixes the feed uses without declaring (itunes:)"
    ]
    parsed = feedparser.parse(source.read_bytes())
    expected = [e for e in parsed.entries if e.get("enclosures")]
    assert len(result.written) == len(expected) == 12
    assert sorted(guids_of(root / "grote")) == sorted(e.id for e in expected)
    assert any("itunes:new-feed-url" in w for w in result.warnings)
    # two items are episode 8: the earlier keeps the number, the other is said and left out
    (repeated,) = [w for w in result.warnings if "is the number of the earlier" in w]
    assert "episode 8 " in repeated and not result.report.errors
    show = (root / "grote" / "show.yaml").read_text(encoding="utf-8")
    assert "language: nl-BE" in show or "language: nl-be" in show


def test_a_prefix_nobody_knows_gets_a_namespace_of_its_own() -> None:
    data = (
        b'<rss version="2.0"><channel><title>T</title><spotify:limit recentCount="1"/>'
        b"<itunes:author>A</itunes:author><x:y>z</x:y></channel></rss>"
    )
    channel, repairs = read_source_bytes(data)
    assert repairs == [
        "declared the namespace prefixes the feed uses without declaring (itunes:, spotify:, x:)"
    ]
    tags = {child.tag for child in channel}
    assert "{http://www.itunes.com/dtds/podcast-1.0.dtd}author" in tags
    assert "{urn:fo-cast:undeclared:x}y" in tags


def test_nbsp_bom_and_blank_lines_are_repaired(root: Path) -> None:
    result = import_feed(str(DERIVED / "kakadu-nbsp-junk.xml"), root, "kakadu")
    assert result.repairs == [
        "removed blank lines before the XML declaration",
        "replaced 1 HTML entity XML lacks (&nbsp;) with the characters they stand for",
    ]
    assert "Bunt,\u00a0frech" in (root / "kakadu" / "show.yaml").read_text()
    assert len(result.written) == 51


def test_junk_bytes_and_bare_ampersands(tmp_path: Path) -> None:
    feed = tmp_path / "junk.xml"
    body = XXE_FILE.split("\n", 2)[2].replace("&secret;", "Q&A")
    feed.write_bytes(b'<br>Warning: PHP notice\n<?xml version="1.0"?>\n' + body.encode())
    source = read_source(str(feed))
    assert source.repairs == ["removed 24 bytes before the XML declaration", "escaped 2 bare '&'"]
    assert source.channel.findtext("title") == "T Q&A"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty; not a feed"),
        (b"  \n\n", "is empty; not a feed"),
        (b"<!DOCTYPE html>\n<html><head><title>Blog</title></head><body></body></html>",
         "is an HTML page, not a feed; give the feed's own URL (the page's RSS link)"),
        ((FEEDS / "pumuckl-br.xml").read_bytes()[:9000],
         "is truncated (it stops at line 82 before </rss>); download it again"),
        (b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"></feed>',
         "is an Atom feed; fo-cast imports RSS podcast feeds"),
    ],
)  # fmt: skip
def test_not_a_feed_is_refused_with_one_line(
    root: Path, tmp_path: Path, content: bytes, message: str
) -> None:
    feed = tmp_path / "feed.xml"
    feed.write_bytes(content)
    result = CliRunner().invoke(app, ["import", str(feed), "--show", "x", "--catalogue", str(root)])
    assert result.exit_code == 1
    assert result.output == f"fo-cast: {feed}: {message}\n"
    assert sorted(p.name for p in root.iterdir()) == ["fo-cast.toml"]


def test_what_xml_allows_around_the_root_is_no_junk_nor_truncation() -> None:
    """A "<?xml" in a feed's text (no declaration before it) is text, not a declaration to cut
    the feed at; a processing instruction after </rss> is XML, not a truncated feed."""
    channel = (
        b'<rss version="2.0"><channel><title>T</title><description><![CDATA[Paste <?xml '
        b'version="1.0"?> at the top]]></description><item><title>E</title></item></channel>'
    )
    read, repairs = read_source_bytes(channel + b"</rss>")
    assert read.findtext("description") == 'Paste <?xml version="1.0"?> at the top'
    assert repairs == []
    read, repairs = read_source_bytes(channel + b"</rss>\n<?generator x 1.0?>\n<!-- at 12 -->\n")
    assert read.findtext("item/title") == "E" and repairs == []


def test_a_tail_of_comments_before_junk_is_refused_at_once(root: Path, tmp_path: Path) -> None:
    """The truncation check once took 2^n steps for n comments after </rss>: 40 took hours.
    (An alarm turns such a hang into a failure.)"""
    import signal

    feed = tmp_path / "feed.xml"
    feed.write_bytes(b'<?xml version="1.0"?><rss><channel><title>T</title></channel></rss>'
                     + b"<!--x-->" * 40 + b"junk")  # fmt: skip
    signal.signal(signal.SIGALRM, lambda *_: pytest.fail("the truncation check hung"))
    signal.alarm(20)
    try:
        args = ["import", str(feed), "--show", "x", "--catalogue", str(root)]
        result = CliRunner().invoke(app, args)
    finally:
        signal.alarm(0)
    assert result.exit_code == 1
    assert result.output == (
        f"fo-cast: {feed}: is truncated (it stops at line 1 before </rss>); download it again\n"
    )


def test_show_notes_referring_to_characters_xml_lacks_import_clean(
    root: Path, tmp_path: Path
) -> None:
    """&#x1; and &#xFFFE; inside CDATA are no XML error, but decode (in HTML) to characters
    no feed can carry: the import wrote them into companion.md, then refused its own
    catalogue (exit 1). They are U+FFFD now, as CommonMark writes a reference to no character."""
    feed = tmp_path / "feed.xml"
    feed.write_text(
        '<?xml version="1.0"?><rss version="2.0" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
        'xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"><channel><title>T</title>'
        "<link>https://example.com/</link><description>d</description><language>en</language>"
        "<itunes:owner><itunes:email>a@example.com</itunes:email></itunes:owner>"
        '<itunes:image href="https://example.com/art.png"/><itunes:category text="News"/>'
        "<item><title>E</title><guid>g-1</guid>"
        "<pubDate>Mon, 01 Jan 2024 09:00:00 +0000</pubDate>"
        "<description><![CDATA[sum &#x2; y]]></description>"
        "<content:encoded><![CDATA[<p>a &#x1; b &#xFFFE; c</p>]]></content:encoded>"
        '<enclosure url="https://example.com/e.mp3" length="100" type="audio/mpeg"/>'
        "</item></channel></rss>",
        encoding="utf-8",
    )
    result = CliRunner().invoke(app, ["import", str(feed), "--show", "t", "--catalogue", str(root)])
    assert result.exit_code == 0, result.output
    (companion,) = (root / "t").glob("*/companion.md")
    assert companion.read_text(encoding="utf-8") == "a \ufffd b \ufffd c\n"
    checked = check(root, now=NOW)
    assert not checked.report.errors
    (episode,) = checked.catalogue.shows[0].episodes
    assert episode.episode.guid == "g-1" and "\x02" not in (episode.episode.summary or "")


def test_truncated_download_is_refused(root: Path, server: Server) -> None:
    body = (FEEDS / "pumuckl-br.xml").read_bytes()
    server.files["/feed.xml"] = body
    server.short.add("/feed.xml")
    with pytest.raises(FeedError) as refused:
        import_feed(f"{server.url}/feed.xml", root, "p")
    assert str(refused.value) == (
        f"{server.url}/feed.xml: the download is truncated ({len(body)} of {len(body) + 1000} "
        "bytes); fetch it again"
    )
    with pytest.raises(FeedError, match=r"/missing.xml: the server answered 404 Not Found$"):
        import_feed(f"{server.url}/missing.xml", root, "p")
    assert sorted(p.name for p in root.iterdir()) == ["fo-cast.toml"]


def test_odd_answers_are_named_for_what_they_are(root: Path, server: Server) -> None:
    """A 302 or 300 without a Location was "the server redirects in a loop"; a gzip body of
    two members (RFC 1952 allows it: `gzip -c a b`, pigz) was "truncated"."""
    server.bare.update({"/moved": 302, "/choices": 300})
    for path, status in (("/moved", "302 Found"), ("/choices", "300 Multiple Choices")):
        with pytest.raises(FeedError) as refused:
            import_feed(f"{server.url}{path}", root, "p")
        assert str(refused.value) == (
            f"{server.url}{path}: the server answered {status} without saying where to go (no "
            "Location); give the feed's own URL"
        )
    body = (FEEDS / "pumuckl-br.xml").read_bytes()
    half = len(body) // 2
    server.files["/two.xml"] = gzip.compress(body[:half]) + gzip.compress(body[half:])
    server.headers["/two.xml"] = {"Content-Encoding": "gzip"}
    result = import_feed(f"{server.url}/two.xml", root, "p")
    assert len(result.written) > 2
    probed = CliRunner().invoke(app, ["probe", f"{server.url}/moved"])
    assert probed.exit_code == 1
    assert probed.stderr == (
        f"{server.url}/moved: HTTP 302 Found without saying where to go (no Location)\n"
    )


def test_locked_feed_needs_the_owner_flag(root: Path, tmp_path: Path) -> None:
    text = (FEEDS / "pumuckl-br.xml").read_text(encoding="utf-8")
    locked = text.replace(
        'xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd">',
        'xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd" '
        'xmlns:podcast="https://podcastindex.org/namespace/1.0">',
    ).replace("<language>", "<podcast:locked>yes</podcast:locked>\n    <language>", 1)
    feed = tmp_path / "locked.xml"
    feed.write_text(locked, encoding="utf-8")
    with pytest.raises(ImportRefused) as refused:
        import_feed(str(feed), root, "pumuckl")
    assert str(refused.value) == (
        f"{feed}: the feed is locked (podcast:locked yes): its owner asks hosts not to import "
        "it. If the show is yours, run again with --i-own-this-feed"
    )
    assert not (root / "pumuckl").exists()
    result = import_feed(str(feed), root, "pumuckl", ImportOptions(i_own_this_feed=True))
    assert len(result.written) == 15
    assert "locked: true" in (root / "pumuckl" / "show.yaml").read_text()


def test_cli_summary(root: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["import", str(FEEDS / "all-things-chemical-libsyn.xml"), "--show", "chem",
         "--catalogue", str(root)],
    )  # fmt: skip
    lines = result.output.splitlines()
    assert result.exit_code == 0
    assert lines[:3] == [
        f"{FEEDS / 'all-things-chemical-libsyn.xml'}: imported 4 episodes into chem/ with a "
        "new show.yaml",
        "warning: retired Apple category 'Business/Business News' written as 'News/Business News'",
        "warning: retired Apple category 'Government & Organizations' written as 'Government'",
    ]


# --- conversions ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Tue, 10 Jun 2003 04:00:00 GMT", datetime(2003, 6, 10, 4, tzinfo=UTC)),
        ("Tue, 10 Jun 2003 04:00:00 +0200", "2003-06-10T04:00:00+02:00"),
        ("10 Jun 2003 04:00:00 -0000", datetime(2003, 6, 10, 4, tzinfo=UTC)),
        ("Tue, 10 Jun 03 04:00:00 EST", "2003-06-10T04:00:00-05:00"),
        ("Di, 10 Jun 2003 04:00:00 CEST", "2003-06-10T04:00:00+02:00"),
        ("Tuesday, 10 Jun 2003 04:00 GMT", datetime(2003, 6, 10, 4, tzinfo=UTC)),
        ("2003-06-10T04:00:00Z", datetime(2003, 6, 10, 4, tzinfo=UTC)),
        ("yesterday", None),
        ("Mon, 05 Aug 99999 10:00:00 GMT", None),  # past datetime's year 9999
        ("Mon, 05 Aug 99999999999999999999 10:00:00 GMT", None),  # past C's long: Overflow
        ("Mon, 05 Aug 0000 10:00:00 GMT", None),  # not the year 2000, as email.utils reads it
        ("Mon, 05 Aug 0099 10:00:00 GMT", None),  # nor 1999
        ("Mon, 05 Aug 1999 10:00:00 GMT", datetime(1999, 8, 5, 10, tzinfo=UTC)),
    ],
)
def test_rfc822_variants(text: str, expected: object) -> None:
    parsed = feedmap.published(text)
    if isinstance(expected, str):
        assert parsed is not None and parsed.isoformat() == expected
    else:
        assert parsed == expected


def test_unreadable_date_becomes_a_draft(root: Path, tmp_path: Path) -> None:
    text = (FEEDS / "reply-all-gimlet-megaphone.xml").read_text(encoding="utf-8")
    stamp = feedparser.parse(text).entries[0].published
    feed = tmp_path / "f.xml"
    feed.write_text(text.replace(stamp, "sometime in 2014"), encoding="utf-8")
    result = import_feed(str(feed), root, "reply")
    assert any(
        "unreadable date 'sometime in 2014'; written as a draft" in w for w in result.warnings
    )
    assert len(result.written) == 3


@pytest.mark.parametrize(
    ("declared", "url", "expected"),
    [
        ("audio/mp3", "https://x/a.mp3", "audio/mpeg"),
        ("audio/x-m4a", "https://x/a.m4a", "audio/x-m4a"),
        ("video/x-mp4", "https://x/a.mp4", "video/mp4"),
        (None, "https://x/a.m4a?x=1", "audio/x-m4a"),
        ("", "https://x/a.mp4", "video/mp4"),
    ],
)
def test_media_type_aliases(declared: str | None, url: str, expected: str) -> None:
    assert feedmap.media_type(declared, url)[0] == expected


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("3723", 3723), ("1:02:03", 3723), ("62:03", 3723), ("45.5", 45.5), ("", None), ("x", None)],
)
def test_durations(value: str, seconds: float | None) -> None:
    assert feedmap.duration(value) == seconds


@pytest.mark.parametrize(
    ("value", "flag"), [("yes", True), ("clean", False), ("no", False), ("true", True)]
)
def test_explicit_values(value: str, flag: bool) -> None:
    assert feedmap.explicit(value) is flag


def test_show_notes_round_trip_through_the_companion_renderer() -> None:
    notes = (
        "<h2>Guests</h2><p>With <em>Ada</em> and <strong>Grace</strong>: "
        '<a href="https://example.com/ada">Ada\'s page</a>.</p>'
        "<ul><li>first point</li><li>second point</li></ul>"
        "<ol><li>one</li><li>two</li></ol><p>Second paragraph.</p>"
        "<script>alert(1)</script>"
    )
    markdown = feedmap.companion_markdown(notes)
    html = render_companion(markdown, [], None).page
    for fragment in (
        "<h2>Guests</h2>",
        "<em>Ada</em>",
        "<strong>Grace</strong>",
        'href="https://example.com/ada"',
        "<li>first point</li>",
        "<ol>",
        "<li>two</li>",
        "<p>Second paragraph.</p>",
    ):
        assert fragment in html
    assert "alert" not in html
    assert html.count("<p>") == 2


# --- the guard starts from the imported GUIDs -----------------------------------------------


def test_guard_protects_imported_guids_from_the_first_publish(root: Path, tmp_path: Path) -> None:
    import_feed(str(FEEDS / "pumuckl-br.xml"), root, "pumuckl")
    gone = sorted((root / "pumuckl").glob("*/episode.yaml"))[0]
    guid = next(line for line in gone.read_text().splitlines() if line.startswith("guid:"))
    shutil.rmtree(gone.parent)
    target = tmp_path / "public"
    runner = CliRunner()
    args = ["publish", str(root), "--to", str(target), "--now", "2030-01-01T00:00:00+00:00"]
    refused = runner.invoke(app, args)
    assert refused.exit_code != 0
    bare = guid.split(":", 1)[1].strip().strip('"')
    assert f"(GUID {bare}) was published and is missing now" in refused.output
    assert not (target / "pumuckl" / "feed.xml").exists()
    published = runner.invoke(app, [*args, "--allow-removal", bare])
    assert published.exit_code == 0, published.output
    record = (target / ".fo-cast" / "published.json").read_text()
    assert record.count('"feed": "pumuckl/feed.xml"') == 15 and bare in record
    assert os.path.exists(target / "pumuckl" / "feed.xml")


# --- --media download (fo_cast.media.download, against a 127.0.0.1 server) ---------------


def download_feed(server: Server, length: int) -> bytes:
    return f"""<?xml version="1.0"?>
<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"><channel>
<title>Downloads</title><link>https://example.com/</link><description>D</description>
<language>en</language><itunes:owner><itunes:email>a@example.com</itunes:email></itunes:owner>
<itunes:category text="News"/><itunes:image href="{server.url}/art.png"/>
<item><title>One</title><guid>one-GUID</guid><pubDate>Mon, 01 Jan 2024 00:00:00 GMT</pubDate>
<enclosure url="{server.url}/one.mp3" length="{length}" type="audio/mp3"/></item>
</channel></rss>
""".encode()


def test_media_download_puts_the_files_in_the_episode_folder(
    root: Path, server: Server, media: Path
) -> None:
    audio = next(media.glob("*.mp3")).read_bytes()
    server.files["/one.mp3"] = audio
    server.files["/art.png"] = (
        Path(__file__).parents[1] / "episodes/talks/artwork.png"
    ).read_bytes()
    server.files["/feed.xml"] = download_feed(server, len(audio))
    events: list[object] = []
    options = ImportOptions(media="download", on_event=events.append)
    result = import_feed(f"{server.url}/feed.xml", root, "dl", options)
    (folder,) = result.written
    assert (root / "dl" / folder / "audio.mp3").read_bytes() == audio
    text = (root / "dl" / folder / "episode.yaml").read_text()
    assert "media:\n  - file: audio.mp3\n" in text and "url:" not in text
    assert [type(e).__name__ for e in events].count("Finished") == 2
    assert "artwork: artwork.png\n" in (root / "dl" / "show.yaml").read_text()
    guids = {e.id for e in feedparser.parse(rebuilt(root, "dl")).entries}
    assert guids == {"one-GUID"}


@pytest.mark.parametrize(
    ("redirect", "reason"),
    [
        (None, "the server has 10 bytes but the feed says 99"),
        (
            "file:///etc/passwd",
            "redirected to 'file:///etc/passwd': fo-cast follows redirects to http(s) URLs "
            "only, not file: URLs",
        ),
    ],
)
def test_media_download_that_fails_writes_nothing(
    root: Path, server: Server, redirect: str | None, reason: str
) -> None:
    """A wrong length, or a redirect to a file: URL (it said "redirects in a loop")."""
    server.files["/one.mp3"] = b"x" * 10
    if redirect is not None:
        server.redirects["/one.mp3"] = redirect
    server.files["/art.png"] = b"artwork"
    server.files["/feed.xml"] = download_feed(server, 99)
    with pytest.raises(ImportRefused) as refused:
        import_feed(f"{server.url}/feed.xml", root, "dl", ImportOptions(media="download"))
    assert str(refused.value) == (
        f"1 download failed, nothing imported (run again to resume): {server.url}/one.mp3: "
        + reason
    )
    assert not (root / "dl").exists()


def test_episodes_moved_in_before_an_interruption_are_recorded(root: Path) -> None:
    import json

    import_feed(str(FEEDS / "pumuckl-br.xml"), root, "pumuckl")
    record = root / "pumuckl" / IMPORTED_FILE
    stored = json.loads(record.read_text())
    lost = [row["guid"] for row in stored["items"][:2]]
    stored["items"] = stored["items"][2:]  # as if the import stopped before writing it
    record.write_text(json.dumps(stored))
    folders = snapshot(root / "pumuckl")
    result = import_feed(str(FEEDS / "pumuckl-br.xml"), root, "pumuckl")
    assert (result.written, result.already) == ([], 15)
    rows = json.loads(record.read_text())["items"]
    assert sorted(r["guid"] for r in rows[-2:]) == sorted(lost) and len(rows) == 15
    assert {k: v for k, v in snapshot(root / "pumuckl").items() if k != IMPORTED_FILE} == {
        k: v for k, v in folders.items() if k != IMPORTED_FILE
    }


PODCASTING = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"
  xmlns:podcast="https://podcastindex.org/namespace/1.0"><channel>
<title>Tags</title><link>https://example.com/</link><description>D</description>
<language>fr</language><itunes:explicit>clean</itunes:explicit>
<itunes:owner><itunes:email>a@example.com</itunes:email></itunes:owner>
<itunes:image href="https://cdn.example.com/art.jpg"/>
<itunes:category text="Games &amp; Hobbies"><itunes:category text="Video Games"/></itunes:category>
<podcast:guid>917393e3-1b1e-5cef-ace4-edaa54e1f810</podcast:guid>
<podcast:funding url="https://example.com/give">Soutenir</podcast:funding>
<podcast:person role="host" href="https://example.com/ada">Ada</podcast:person>
<item><title>Un épisode</title><guid isPermaLink="false">Case-Sensitive-GUID</guid>
<pubDate>Mon, 01 Jan 2024 09:00:00 +0100</pubDate><itunes:explicit>yes</itunes:explicit>
<itunes:image href="https://cdn.example.com/ep.jpg"/>
<enclosure url="https://cdn.example.com/ep.m4a" length="1234" type="audio/m4a"/>
<itunes:duration>01:02:03</itunes:duration><itunes:season>2</itunes:season>
<itunes:episode>3</itunes:episode><itunes:episodeType>bonus</itunes:episodeType>
<podcast:person role="guest">Grace</podcast:person>
<podcast:chapters url="https://cdn.example.com/ep.json" type="application/json+chapters"/>
<podcast:transcript url="https://cdn.example.com/ep.vtt" type="text/vtt"/>
<podcast:alternateEnclosure type="audio/opus" length="999" title="Opus">
  <podcast:source uri="https://cdn.example.com/ep.opus"/></podcast:alternateEnclosure>
</item></channel></rss>
"""


def test_podcasting_tags_survive_the_import(root: Path, tmp_path: Path) -> None:
    feed = tmp_path / "tags.xml"
    feed.write_text(PODCASTING, encoding="utf-8")
    result = import_feed(str(feed), root, "tags")
    assert "retired Apple category 'Games & Hobbies/Video Games' written as " in result.warnings[0]
    data = rebuilt(root, "tags").decode()
    for fragment in (
        '<guid isPermaLink="false">Case-Sensitive-GUID</guid>',
        '<enclosure url="https://cdn.example.com/ep.m4a" length="1234" type="audio/x-m4a"/>',
        "<itunes:duration>3723</itunes:duration>",
        '<itunes:category text="Leisure">\n      <itunes:category text="Video Games"/>',
        "<itunes:explicit>false</itunes:explicit>\n    <itunes:type>",  # the channel: clean
        "<itunes:explicit>true</itunes:explicit>",  # the item: yes
        "<itunes:episodeType>bonus</itunes:episodeType>",
        "<itunes:season>2</itunes:season>",
        "<itunes:episode>3</itunes:episode>",
        '<itunes:image href="https://cdn.example.com/ep.jpg"/>',
        '<itunes:image href="https://cdn.example.com/art.jpg"/>',
        "<podcast:guid>917393e3-1b1e-5cef-ace4-edaa54e1f810</podcast:guid>",
        '<podcast:funding url="https://example.com/give">Soutenir</podcast:funding>',
        '<podcast:person role="host" href="https://example.com/ada">Ada</podcast:person>',
        '<podcast:person role="guest">Grace</podcast:person>',
        '<podcast:chapters url="https://cdn.example.com/ep.json" '
        'type="application/json+chapters"/>',
        '<podcast:transcript url="https://cdn.example.com/ep.vtt" type="text/vtt" '
        'language="fr" rel="captions"/>',
        '<podcast:alternateEnclosure type="audio/opus" length="999" title="Opus">',
        '<podcast:source uri="https://cdn.example.com/ep.opus" contentType="audio/opus"/>',
        "<pubDate>Mon, 01 Jan 2024 09:00:00 +0100</pubDate>",
    ):
        assert fragment in data, fragment


def test_new_feed_url_goes_in_the_main_feed_only(root: Path) -> None:
    import_feed(str(DERIVED / "pumuckl-video.xml"), root, "video")
    show = root / "video" / "show.yaml"
    show.write_text(show.read_text() + "new_feed_url: https://new.example.com/feed.xml\n")
    tag = "<itunes:new-feed-url>https://new.example.com/feed.xml</itunes:new-feed-url>"
    assert tag in rebuilt(root, "video").decode()
    assert "new-feed-url" not in rebuilt(root, "video", "video.xml").decode()


def test_media_download_into_the_media_folder(root: Path, server: Server, media: Path) -> None:
    (root / "fo-cast.toml").write_text(
        'base_url = "https://podcasts.example.com/"\n[media]\nfolder = "media"\n'
    )
    audio = next(media.glob("*.mp3")).read_bytes()
    server.files["/one.mp3"] = audio
    artwork = Path(__file__).parents[1] / "episodes" / "talks" / "artwork.png"
    server.files["/art.png"] = artwork.read_bytes()
    server.files["/feed.xml"] = download_feed(server, len(audio))
    result = import_feed(f"{server.url}/feed.xml", root, "dl", ImportOptions(media="download"))
    (folder,) = result.written
    assert (root.parent / "media" / "dl" / folder / "audio.mp3").read_bytes() == audio
    assert sorted(p.name for p in (root / "dl" / folder).iterdir()) == [
        "companion.md",
        "episode.yaml",
    ]
    assert not result.report.errors
    feed = feedparser.parse(rebuilt(root, "dl"))
    assert feed.entries[0].enclosures[0].href.endswith(f"/dl/{folder}/audio.mp3")


def test_fetching_has_a_size_bound_and_a_deadline(server: Server) -> None:
    from fo_cast.catalogue.feedread import Fetcher

    server.files["/big.xml"] = b"x" * 5000
    server.files["/slow"] = b"late"
    with pytest.raises(FeedError) as refused:
        Fetcher(max_bytes=1000)(f"{server.url}/big.xml")
    assert (
        str(refused.value) == f"{server.url}/big.xml: larger than 1 KB; not a feed fo-cast imports"
    )
    with pytest.raises(FeedError) as late:
        Fetcher(deadline=0.5)(f"{server.url}/slow")
    assert str(late.value) == f"{server.url}/slow: no answer within 0.5 s"


@pytest.mark.parametrize("encoding", ["gzip", "x-gzip", "deflate"])
def test_a_compressed_feed_is_read_and_its_size_bound_holds(
    root: Path, server: Server, encoding: str
) -> None:
    """fo-cast asks for gzip (a 12 MB feed is some 2 MB on the wire) and reads what the
    server compressed, with the size bound on the bytes it unpacks: a small bomb is refused."""
    from fo_cast.catalogue.feedread import Fetcher

    feed = (FEEDS / "pumuckl-br.xml").read_bytes()
    packed = gzip.compress(feed) if "gzip" in encoding else zlib.compress(feed)
    raw = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    server.files["/raw.xml"] = raw.compress(feed) + raw.flush()  # what some servers call deflate
    server.headers["/raw.xml"] = {"Content-Encoding": "deflate"}
    assert Fetcher()(f"{server.url}/raw.xml") == feed
    server.files["/feed.xml"] = packed
    server.headers["/feed.xml"] = {"Content-Encoding": encoding}
    assert Fetcher()(f"{server.url}/feed.xml") == feed
    assert "gzip" in server.seen_headers[-1].get("Accept-Encoding", "")
    result = import_feed(f"{server.url}/feed.xml", root, "pumuckl")
    assert result.written and not result.report.errors
    bomb = b"<rss>" + b" " * 5_000_000
    server.files["/bomb.xml"] = gzip.compress(bomb) if "gzip" in encoding else zlib.compress(bomb)
    server.headers["/bomb.xml"] = {"Content-Encoding": encoding}
    with pytest.raises(FeedError) as refused:
        Fetcher(max_bytes=100_000)(f"{server.url}/bomb.xml")
    assert str(refused.value) == (
        f"{server.url}/bomb.xml: larger than 100 KB; not a feed fo-cast imports"
    )


def test_a_compressed_feed_cut_short_or_damaged_is_one_line(server: Server) -> None:
    from fo_cast.catalogue.feedread import Fetcher

    packed = gzip.compress((FEEDS / "pumuckl-br.xml").read_bytes())
    server.files["/cut.xml"] = packed[: len(packed) // 2]
    server.headers["/cut.xml"] = {"Content-Encoding": "gzip"}
    with pytest.raises(FeedError) as cut:
        Fetcher()(f"{server.url}/cut.xml")
    assert str(cut.value) == f"{server.url}/cut.xml: the download is truncated; fetch it again"
    server.files["/junk.xml"] = b"not gzip at all"
    server.headers["/junk.xml"] = {"Content-Encoding": "gzip"}
    with pytest.raises(FeedError) as junk:
        Fetcher()(f"{server.url}/junk.xml")
    assert str(junk.value).startswith(f"{server.url}/junk.xml: the server said gzip but sent ")
    server.files["/br.xml"] = b"whatever"
    server.headers["/br.xml"] = {"Content-Encoding": "br"}
    with pytest.raises(FeedError) as other:
        Fetcher()(f"{server.url}/br.xml")
    assert str(other.value) == (
        f"{server.url}/br.xml: the server compressed it as 'br', which fo-cast does not read"
    )


def test_a_redirect_loop_is_one_line(server: Server) -> None:
    from fo_cast.catalogue.feedread import Fetcher

    server.redirects["/a"] = "/b"
    server.redirects["/b"] = "/a"
    with pytest.raises(FeedError) as looped:
        Fetcher()(f"{server.url}/a")
    assert str(looped.value) == (
        f"{server.url}/a: the server redirects in a loop (or too many times); "
        "give the feed's final URL"
    )


def test_a_redirect_to_another_scheme_is_refused_in_words(root: Path, server: Server) -> None:
    """Only http(s) redirects are followed: urllib would follow ftp: (logging in as
    anonymous) and answer file: and data: as if they were one redirect too many."""
    import socket

    with socket.socket() as ftp:  # where an FTP client would connect: nobody may
        ftp.bind(("127.0.0.1", 0))
        ftp.listen()
        ftp.setblocking(False)
        port = ftp.getsockname()[1]
        server.redirects["/ftp"] = f"ftp://127.0.0.1:{port}/x"
        server.redirects["/file"] = "file:///etc/passwd"
        server.redirects["/data"] = "data:text/plain,hi"
        for path, scheme in (("/ftp", "ftp"), ("/file", "file"), ("/data", "data")):
            result = CliRunner().invoke(
                app, ["import", f"{server.url}{path}", "--show", "s", "--catalogue", str(root)]
            )
            assert result.exit_code == 1
            assert result.output == (
                f"fo-cast: {server.url}{path}: redirected to {server.redirects[path]!r}: "
                f"fo-cast follows redirects to http(s) URLs only, not {scheme}: URLs\n"
            )
        with pytest.raises(BlockingIOError):
            ftp.accept()
    assert sorted(p.name for p in root.iterdir()) == ["fo-cast.toml"]


def test_a_url_that_is_not_valid_or_has_credentials_is_one_line(root: Path, server: Server) -> None:
    server.files["/ok"] = b"<rss/>"
    host = server.url.removeprefix("http://")
    for url, message in (
        ("http://[::1", "http://[::1: not a valid URL (Invalid IPv6 URL)"),
        (f"http://user:pw@{host}/ok", f"http://...@{host}/ok: a URL with credentials "
         "(user:password@) is not accepted; give one without them"),
    ):  # fmt: skip
        result = CliRunner().invoke(app, ["import", url, "--show", "s", "--catalogue", str(root)])
        assert result.exit_code == 1
        assert result.output == f"fo-cast: {message}\n"
    assert server.requests == []


def test_the_deadline_bounds_a_server_that_trickles(root: Path, server: Server) -> None:
    """Each read gets a byte in time; the whole fetch still stops at the deadline (2.5 s:
    half a second from the bytes sent at 1 s and 2 s)."""
    from fo_cast.catalogue.feedread import Fetcher

    server.files["/slow.xml"] = (DERIVED / "pumuckl-page-2.xml").read_bytes()[:40]
    server.trickle.add("/slow.xml")
    began = time.monotonic()
    with pytest.raises(FeedError) as late:
        import_feed(f"{server.url}/slow.xml", root, "s", fetch=Fetcher(deadline=2.5))
    assert time.monotonic() - began < 4
    assert str(late.value) == (
        f"{server.url}/slow.xml: gave up after 2.5 s with 12 B arrived; the server sends too "
        "slowly, try again later"
    )


def test_a_killed_import_leaves_no_staging_behind_the_next(root: Path) -> None:
    gone = subprocess_pid_that_exited()
    stale = root / f".import-{gone}" / "pumuckl"
    stale.mkdir(parents=True)
    (stale / "show.yaml").write_text("half")
    import_feed(str(FEEDS / "pumuckl-br.xml"), root, "pumuckl")
    assert sorted(p.name for p in root.iterdir()) == [".fo-cast", "fo-cast.toml", "pumuckl"]


def subprocess_pid_that_exited() -> int:
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def guids_of(show: Path) -> list[str]:
    return [
        line.split(":", 1)[1].strip().strip('"')
        for manifest in show.glob("*/episode.yaml")
        for line in manifest.read_text(encoding="utf-8").splitlines()
        if line.startswith("guid:")
    ]


def read_source_bytes(data: bytes) -> tuple[Any, list[str]]:
    from fo_cast.catalogue.feedread import parse_feed

    return parse_feed(data, "feed.xml")


def test_an_enclosure_url_with_a_space_is_taken_escaped(root: Path, tmp_path: Path) -> None:
    """Podcast Server's appload feed (real) has one enclosure URL with a space; feedparser and
    apps fetch it escaped, so the importer keeps the item with the URL escaped."""
    feed = tmp_path / "space.xml"
    feed.write_text(
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Appload</title>'
        "<description>d</description><item><title>Générique</title><guid>g-1</guid>"
        "<pubDate>Mon, 01 Jan 2024 09:00:00 +0000</pubDate>"
        '<enclosure url="http://www.example.com/files/appload generique.mp3" length="100" '
        'type="audio/mpeg"/></item></channel></rss>',
        encoding="utf-8",
    )
    result = import_feed(str(feed), root, "appload")
    assert len(result.written) == 1 and not result.skipped
    manifest = (root / "appload" / result.written[0] / "episode.yaml").read_text(encoding="utf-8")
    assert 'url: "http://www.example.com/files/appload%20generique.mp3"' in manifest
    assert "guid: g-1" in manifest


def test_an_enclosure_url_with_non_ascii_letters_is_taken_escaped() -> None:
    """As the README says: it was kept raw (only a space made the importer escape it)."""
    from fo_cast.catalogue.feedconvert import _url

    assert _url(" https://example.com/für/ä.mp3?x=ü ") == (
        "https://example.com/f%C3%BCr/%C3%A4.mp3?x=%C3%BC"
    )
    assert _url("https://example.com/a%20b.mp3") == "https://example.com/a%20b.mp3"


def test_a_feed_without_categories_gets_an_empty_list_and_one_clear_error(
    root: Path, tmp_path: Path
) -> None:
    feed = tmp_path / "bare.xml"
    feed.write_text(
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Bare</title>'
        "<description>d</description><item><title>One</title><guid>b-1</guid>"
        "<pubDate>Mon, 01 Jan 2024 09:00:00 +0000</pubDate>"
        '<enclosure url="https://example.com/1.mp3" length="100" type="audio/mpeg"/></item>'
        "</channel></rss>",
        encoding="utf-8",
    )
    result = import_feed(str(feed), root, "bare")
    assert "\ncategories: []\n" in (root / "bare" / "show.yaml").read_text(encoding="utf-8")
    said = [str(p) for p in result.report.errors if p.field == "categories"]
    assert said == ["episodes/bare/show.yaml:8: categories: needs at least 1 item; add one"]


def test_windows_1252_bytes_in_a_utf8_feed_are_read_as_what_they_are(
    root: Path, tmp_path: Path
) -> None:
    """A word processor's ’ pasted into a feed that says UTF-8 (as in totem-pl-parser's test
    feed taken from a real show): read as Windows-1252, and the feed parses strictly, so the
    `&amp;` after it survives (libxml2's recovery dropped it)."""
    feed = tmp_path / "cp1252.xml"
    feed.write_bytes(
        b'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Tennis</title>'
        b"<description>d</description><item><title>World\x92s best &amp; worst</title>"
        b"<guid>w-1</guid><pubDate>Mon, 01 Jan 2024 09:00:00 +0000</pubDate>"
        b'<enclosure url="https://example.com/1.mp3" length="100" type="audio/mpeg"/></item>'
        b"<item><title>Later &amp; &quot;quoted&quot;</title><guid>w-2</guid>"
        b"<pubDate>Tue, 02 Jan 2024 09:00:00 +0000</pubDate>"
        b'<enclosure url="https://example.com/2.mp3" length="100" type="audio/mpeg"/></item>'
        b"</channel></rss>"
    )
    result = import_feed(str(feed), root, "tennis")
    assert result.repairs == ["read 1 byte that is not UTF-8 as Windows-1252 (\u2019)"]
    titles = sorted(
        line for manifest in (root / "tennis").glob("*/episode.yaml")
        for line in manifest.read_text(encoding="utf-8").splitlines() if line.startswith("title:")
    )  # fmt: skip
    assert titles == ['title: "Later & \\"quoted\\""', 'title: "World\u2019s best & worst"']


def test_repairs_apply_whichever_damage_comes_first() -> None:
    """An HTML entity before an undeclared prefix, and the other way round: both repaired,
    the feed read strictly, never libxml2's recovery."""
    entity_first = (
        b'<rss version="2.0"><channel><title>A&nbsp;B</title>'
        b"<itunes:author>C</itunes:author></channel></rss>"
    )
    prefix_first = (
        b'<rss version="2.0"><channel><itunes:author>C</itunes:author>'
        b"<title>A&nbsp;B</title></channel></rss>"
    )
    for data in (entity_first, prefix_first):
        channel, repairs = read_source_bytes(data)
        assert sorted(repairs) == [
            "declared the namespace prefixes the feed uses without declaring (itunes:)",
            "replaced 1 HTML entity XML lacks (&nbsp;) with the characters they stand for",
        ]
        assert channel.findtext("title") == "A\u00a0B"
        assert channel.findtext("{http://www.itunes.com/dtds/podcast-1.0.dtd}author") == "C"


def test_another_podcast_is_not_merged_into_an_existing_show_unasked(root: Path) -> None:
    """Was: Crime Junkie's 334 episodes went into FO° Talks, show.yaml untouched, exit 0
    (found by following the README on a fresh clone)."""
    import_feed(str(FEEDS / CRIME), root, "talks")  # a show of its own, then another feed
    before = sorted(p.name for p in (root / "talks").iterdir())
    other = FEEDS / "reply-all-gimlet-megaphone.xml"
    with pytest.raises(ImportRefused, match=r"holds the show 'Crime Junkie', and the feed is"):
        import_feed(str(other), root, "talks")
    assert sorted(p.name for p in (root / "talks").iterdir()) == before
    import_feed(str(FEEDS / CRIME), root, "talks")  # its own feed again: a re-import
    merged = import_feed(str(other), root, "talks", ImportOptions(merge=True))
    assert merged.written  # its episodes were added
