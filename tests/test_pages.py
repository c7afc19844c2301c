"""The website: every page of the sample catalogue, its links, metadata and determinism."""

from __future__ import annotations

import dataclasses
import json
import math
import posixpath
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

import jinja2
import pytest

import fo_cast
from fo_cast.build import build
from fo_cast.catalogue.reader import Catalogue
from fo_cast.media.probe import Probed
from fo_cast.outputs import Output, Stage
from fo_cast.render import pages
from fo_cast.render.cache import RenderCache
from fo_cast.render.site import Site, resolve_site
from fo_cast.render.topics import collect_topics
from fo_cast.units import format_clock, format_size

REPO = Path(__file__).resolve().parent.parent
GOLDEN = REPO / "tests" / "golden" / "pages"
NOW = datetime(2025, 1, 1, tzinfo=UTC)
BASE = "https://podcasts.fairobserver.com/"
GOLDEN_EPISODE = "exclusive/2024-07-23-russia-charm-offensive/index.html"
PART_1 = "talks/2024-08-04-middle-east-part-1/"
PART_2 = "talks/2024-08-24-middle-east-part-2/"


class Page(HTMLParser):
    """The elements of an HTML page, with their attributes, and its text."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.scripts: list[str] = []
        self._script: list[str] | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {k: v or "" for k, v in attrs}))
        if tag == "script":
            self._script = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._script is not None:
            self.scripts.append("".join(self._script))
            self._script = None

    def handle_data(self, data: str) -> None:
        if self._script is not None:
            self._script.append(data)

    def all(self, tag: str, **attrs: str) -> list[dict[str, str]]:
        return [
            a
            for t, a in self.elements
            if t == tag
            and all(a.get(k.rstrip("_").replace("_", "-")) == v for k, v in attrs.items())
        ]

    def one(self, tag: str, **attrs: str) -> dict[str, str]:
        found = self.all(tag, **attrs)
        assert len(found) == 1, (tag, attrs, found)
        return found[0]

    def meta(self, key: str) -> str:
        found = [
            a["content"]
            for t, a in self.elements
            if t == "meta" and key in (a.get("property"), a.get("name"))
        ]
        assert len(found) == 1, key
        return found[0]

    def json_ld(self) -> dict[str, Any]:
        scripts = [
            a for t, a in self.elements if t == "script" and a.get("type") == "application/ld+json"
        ]
        assert len(scripts) == 1
        data = [s for s in self.scripts if s.strip().startswith("{")]
        return json.loads(data[0])  # type: ignore[no-any-return]


def make_site(root: Path, now: datetime = NOW) -> tuple[Catalogue, Probed, Site]:
    checked = fo_cast.check(root, use_cache=False)
    catalogue, probed, report = checked.catalogue, checked.probed, checked.report
    assert not report.errors, [str(p) for p in report.errors]
    return catalogue, probed, resolve_site(catalogue, probed, catalogue.settings.base_url, now)


@pytest.fixture(scope="module")
def sample_site() -> tuple[Catalogue, Probed, Site]:
    return make_site(REPO / "episodes")


@pytest.fixture(scope="module")
def site(sample_site: tuple[Catalogue, Probed, Site]) -> Site:
    return sample_site[2]


@pytest.fixture(scope="module")
def outputs(site: Site) -> dict[str, Output]:
    return {o.path: o for o in pages.render_pages(site)}


@pytest.fixture(scope="module")
def html(outputs: dict[str, Output]) -> Callable[[str], str]:
    def read(path: str) -> str:
        data = outputs[path].data
        assert data is not None
        return data.decode("utf-8")

    return read


# --- the tree ---------------------------------------------------------------------------


def test_every_page_is_rendered(site: Site, outputs: dict[str, Output]) -> None:
    expected = {"index.html", "404.html", "sitemap.xml", "robots.txt"}
    expected |= {f"assets/{name}" for name in pages.STATIC}
    for show in site.shows:
        expected.add(show.path + "index.html")
        expected |= {e.path + "index.html" for e in show.episodes}
    expected |= {"topics/index.html", "search/index.html"}
    expected |= {t.path + "index.html" for t in collect_topics(site)}
    assert set(outputs) == expected
    assert all(o.stage is Stage.ASSET for o in outputs.values())
    html_pages = pages.page_paths(outputs.values())
    assert all(outputs[p].content_type == "text/html; charset=utf-8" for p in html_pages)
    assert outputs["assets/style.css"].content_type == "text/css; charset=utf-8"
    assert outputs["sitemap.xml"].content_type == "application/xml"


def test_rendering_is_deterministic(site: Site, outputs: dict[str, Output]) -> None:
    again = {o.path: o.data for o in pages.render_pages(site)}
    cached = {o.path: o.data for o in pages.render_pages(site)}
    assert again == cached == {p: o.data for p, o in outputs.items()}


def test_pages_do_not_depend_on_the_clock(sample_site: tuple[Catalogue, Probed, Site]) -> None:
    catalogue, probed, site = sample_site
    later = resolve_site(
        catalogue, probed, catalogue.settings.base_url, datetime(2031, 5, 5, tzinfo=UTC)
    )
    first = {o.path: o.data for o in pages.render_pages(site)}
    second = {o.path: o.data for o in pages.render_pages(later)}
    assert first == second


def test_golden_episode_page(outputs: dict[str, Output], request: pytest.FixtureRequest) -> None:
    golden = GOLDEN / "russia-charm-offensive.html"
    data = outputs[GOLDEN_EPISODE].data
    assert data is not None
    if request.config.getoption("--update-golden", default=False):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_bytes(data)
    assert golden.exists(), "no golden yet: run pytest tests/test_pages.py --update-golden"
    assert data == golden.read_bytes(), "page changed: review, then pytest --update-golden"


def test_every_link_in_the_built_tree_resolves(
    sample_site: tuple[Catalogue, Probed, Site],
) -> None:
    """Relative links, media, artwork, feeds: everything a page points at is in the tree."""
    catalogue, probed, site = sample_site
    result = build(fo_cast.Checked(catalogue, probed, fo_cast.Report(), site, NOW))
    tree = {o.path for o in result.outputs}
    for path in pages.page_paths(result.outputs):
        if path == "404.html":
            continue  # served at any depth: links from the root, checked below
        data = next(o.data for o in result.outputs if o.path == path)
        assert data is not None
        page = Page(data.decode("utf-8"))
        for tag, attrs in page.elements:
            for name in ("href", "src", "poster"):
                link = attrs.get(name)
                if not link or link.startswith(("#", "podcast://", "mailto:")):
                    continue
                url = urljoin(BASE + path, link)
                if not url.startswith(BASE):
                    continue  # people's and funding pages elsewhere
                target = unquote(urlsplit(url).path[len(urlsplit(BASE).path) :])
                if target in ("index.opml",) or target.endswith(
                    ("feed.xml", "video.xml", "feed.json")
                ):
                    continue  # rendered by feeds.py: checked where feeds are built
                if target == "" or target.endswith("/"):
                    target += "index.html"
                assert target in tree, f"{path}: <{tag} {name}={link!r}> points at nothing"


# --- every page -------------------------------------------------------------------------


def test_every_page_has_lang_canonical_social_tags_and_one_h1(
    site: Site, outputs: dict[str, Output], html: Callable[[str], str]
) -> None:
    for path in pages.page_paths(outputs.values()):
        page = Page(html(path))
        assert page.one("html")["lang"] == "en"
        canonical = page.one("link", rel="canonical")["href"]
        assert canonical.startswith(BASE)
        assert page.meta("og:url") == canonical
        assert page.meta("og:title") and page.meta("og:description")
        assert page.meta("twitter:card") == "summary"
        assert len(page.all("h1")) == 1, path
        assert page.one("a", class_="skip-link")["href"] == "#main"
        # Focusable, so following the skip link moves focus (and the next Tab) into it.
        assert page.one("main", id="main")["tabindex"] == "-1"
        if path != "404.html":
            assert page.meta("og:image").startswith(BASE)
            assert page.json_ld()["@context"] == "https://schema.org"


def test_canonical_urls(site: Site, html: Callable[[str], str]) -> None:
    assert Page(html("index.html")).one("link", rel="canonical")["href"] == BASE
    assert Page(html("talks/index.html")).one("link", rel="canonical")["href"] == BASE + "talks/"
    episode = Page(html(PART_1 + "index.html"))
    assert episode.one("link", rel="canonical")["href"] == BASE + PART_1


def test_footer_has_publisher_and_address(html: Callable[[str], str]) -> None:
    for path in ("index.html", "talks/index.html", PART_1 + "index.html", "404.html"):
        text = html(path)
        assert '<p class="publisher">Fair Observer</p>' in text
        assert "<address>461 Harbor Blvd, Belmont, CA 94002, USA</address>" in text


def test_pages_work_without_javascript(
    outputs: dict[str, Output], html: Callable[[str], str]
) -> None:
    """JS only enhances: no inline handlers, one deferred script, copy buttons hidden by default."""
    for path in pages.page_paths(outputs.values()):
        text = html(path)
        assert re.search(r"\son\w+=", text) is None
        page = Page(text)
        external = [a for a in page.all("script") if "src" in a]
        assert all("defer" in a for a in external)
        assert all("hidden" in a for a in page.all("button"))


def test_assets_are_linked_with_a_content_hash(html: Callable[[str], str]) -> None:
    page = Page(html(PART_1 + "index.html"))
    sheets = page.all("link", rel="stylesheet")
    assert [s["href"].split("?")[0] for s in sheets] == [
        "../../assets/style.css",
        "../../assets/print.css",
    ]
    assert sheets[1]["media"] == "print"
    assert all(re.search(r"\?v=[0-9a-f]{10}$", s["href"]) for s in sheets)


# --- home -------------------------------------------------------------------------------


def test_home_lists_every_show_with_artwork_and_latest_episodes(
    site: Site, html: Callable[[str], str]
) -> None:
    text = html("index.html")
    page = Page(text)
    for show in site.shows:
        assert page.all("img", src=show.path + "artwork.png")
        assert f'<a href="{show.path}">{show.show.title}</a>' in text
        for episode in show.newest_first[: pages.LATEST]:
            assert f'href="{episode.path}"' in text
        for episode in show.newest_first[pages.LATEST :]:
            assert f'href="{episode.path}"' not in text
    ld = page.json_ld()
    assert [part["@type"] for part in ld["hasPart"]] == ["PodcastSeries"] * len(site.shows)


# --- show pages -------------------------------------------------------------------------


def test_show_page_lists_episodes_newest_first_with_dates(
    site: Site, html: Callable[[str], str]
) -> None:
    show = next(s for s in site.shows if s.slug == "exclusive")
    text = html("exclusive/index.html")
    positions = [text.index(f'href="../{e.path}"') for e in show.newest_first]
    assert positions == sorted(positions) and len(positions) == 11
    assert '<time datetime="2024-12-09T15:00:00+00:00">December 9, 2024</time>' in text
    assert '<time datetime="2024-07-23T15:00:00+00:00">July 23, 2024</time>' in text


def test_show_page_subscribe_links(site: Site, html: Callable[[str], str]) -> None:
    page = Page(html("exclusive/index.html"))
    hrefs = [a["href"] for a in page.all("a")]
    assert BASE + "exclusive/feed.xml" in hrefs
    assert BASE + "exclusive/video.xml" in hrefs
    assert BASE + "exclusive/feed.json" in hrefs
    assert "podcast://podcasts.fairobserver.com/exclusive/feed.xml" in hrefs
    field = page.one("input", id="feed-url-exclusive")
    assert field["value"] == BASE + "exclusive/feed.xml" and "readonly" in field
    assert page.one("label", for_="feed-url-exclusive")
    assert page.one("button", type="button")["data-copy"] == "feed-url-exclusive"
    ld = page.json_ld()
    assert ld["@type"] == "PodcastSeries"
    assert ld["webFeed"] == BASE + "exclusive/feed.xml"


def test_show_without_video_has_no_video_feed_link(tmp_path: Path, sample: Path) -> None:
    for folder in (sample / "live").glob("*/"):
        manifest = folder / "episode.yaml"
        if manifest.exists():
            text = manifest.read_text(encoding="utf-8")
            manifest.write_text(text.replace("  - file: video.mp4\n", ""), encoding="utf-8")
    _, _, site = make_site(sample)
    outputs = {o.path: o for o in pages.render_pages(site)}
    data = outputs["live/index.html"].data
    assert data is not None
    assert b"video.xml" not in data and b"live/feed.xml" in data


def test_pagination(site: Site) -> None:
    per_page = 4
    settings = site.settings.model_copy(
        update={"site": site.settings.site.model_copy(update={"episodes_per_page": per_page})}
    )
    small = dataclasses.replace(site, settings=settings)
    outputs = {o.path: o for o in pages.render_pages(small)}
    show = next(s for s in site.shows if s.slug == "exclusive")
    count = math.ceil(len(show.episodes) / per_page)
    paths = ["exclusive/index.html"] + [
        f"exclusive/page/{n}/index.html" for n in range(2, count + 1)
    ]
    assert sorted(p for p in outputs if p.startswith("exclusive/page/")) == paths[1:]
    listed = []
    for number, path in enumerate(paths, start=1):
        data = outputs[path].data
        assert data is not None
        page = Page(data.decode("utf-8"))
        root = "../" * path.count("/")
        titles = re.findall(r'class="episode-title"><a href="([^"]+)"', data.decode("utf-8"))
        assert len(titles) == min(per_page, len(show.episodes) - (number - 1) * per_page)
        listed += [
            posixpath.normpath(posixpath.join(posixpath.dirname(path), t)) + "/" for t in titles
        ]
        nav = page.one("nav", class_="pagination")
        assert nav["aria-label"] == "Pages of episodes"
        assert page.one("span", aria_current="page")
        canonical = page.one("link", rel="canonical")["href"]
        assert canonical == BASE + posixpath.dirname(path) + "/"
        if number > 1:
            assert page.one("link", rel="prev")["href"].startswith(BASE + "exclusive/")
            assert page.one("a", rel="prev")["href"].startswith(root)
        if number < count:
            assert page.one("link", rel="next")["href"] == BASE + f"exclusive/page/{number + 1}/"
    assert listed == [e.path for e in show.newest_first]


# --- episode pages ----------------------------------------------------------------------


def test_episode_page_players_and_captions(site: Site, html: Callable[[str], str]) -> None:
    page = Page(html(GOLDEN_EPISODE))
    audio = page.one("audio")
    assert "controls" in audio and audio["preload"] == "metadata"
    assert (
        page.one("source", type="audio/mpeg")["src"]
        == "../../exclusive/2024-07-23-russia-charm-offensive/audio.mp3"
    )
    video = page.one("video")
    assert video["poster"] == "../../exclusive/artwork.png" and video["preload"] == "metadata"
    track = page.one("track")
    assert track["kind"] == "captions" and track["src"].endswith("/transcript.vtt")
    assert track["srclang"] == "en"
    assert page.meta("og:audio").startswith(BASE) and page.meta("og:video").startswith(BASE)


def test_audio_only_episode_has_no_video(html: Callable[[str], str]) -> None:
    page = Page(html("exclusive/2024-12-09-eu-crisis/index.html"))
    assert page.one("audio") and not page.all("video") and not page.all("track")


def test_chapters_are_links_with_times(html: Callable[[str], str]) -> None:
    text = html(GOLDEN_EPISODE)
    page = Page(text)
    chapters = page.all("a", data_start="3")
    assert chapters[0]["href"].endswith("/audio.mp3#t=3")
    assert '<span class="time">0:06</span> What comes next</a>' in text
    assert len([a for t, a in page.elements if t == "a" and "data-start" in a]) == 3


def test_a_chapter_link_says_which_chapter_it_is_for(sample: Path) -> None:
    manifest = sample / PART_1 / "episode.yaml"
    text = manifest.read_text(encoding="utf-8")
    old = "    title: The main argument\n"
    assert old in text
    manifest.write_text(
        text.replace(old, old + "    url: https://example.com/argument\n"), encoding="utf-8"
    )
    _, _, site = make_site(sample)
    data = {o.path: o.data for o in pages.render_pages(site)}[PART_1 + "index.html"]
    assert data is not None
    assert (
        '<a class="chapter-link" href="https://example.com/argument">(link'
        '<span class="visually-hidden"> for “The main argument”</span>)</a>'
    ) in data.decode("utf-8")


def test_companion_credits_disclaimer_people(html: Callable[[str], str]) -> None:
    text = html(PART_1 + "index.html")
    assert '<div class="companion">' in text
    assert (
        '<p class="credit"><em>[Tomás Rivera wrote the first draft of this piece.]</em></p>' in text
    )
    assert '<p class="disclaimer"><em>The views expressed' in text
    assert '<span class="role">Host</span> Atul Singh' in text
    assert '<span class="role">Guest</span> Daniel Harlow' in text


def test_series_parts_link_each_other(html: Callable[[str], str]) -> None:
    one = Page(html(PART_1 + "index.html"))
    two = Page(html(PART_2 + "index.html"))
    assert one.one("nav", class_="series")
    assert "../../" + PART_2 in [a["href"] for a in one.all("a")]
    assert "../../" + PART_1 in [a["href"] for a in two.all("a")]
    assert "Part 1 of “America’s New Fast-Changing Role in the Middle East”" in html(
        PART_1 + "index.html"
    )
    assert not Page(html(GOLDEN_EPISODE)).all("nav", class_="series")


def test_recent_episodes_of_the_show(site: Site, html: Callable[[str], str]) -> None:
    show = next(s for s in site.shows if s.slug == "exclusive")
    newest = show.newest_first[0]
    text = html(newest.path + "index.html")
    section = text[text.index('<section class="recent"') :]
    listed = re.findall(r'class="episode-title"><a href="\.\./\.\./([^"]+)"', section)
    assert listed == [e.path for e in show.newest_first[1 : 1 + pages.RECENT]]
    assert newest.path not in listed


def test_transcript_link(html: Callable[[str], str]) -> None:
    page = Page(html(PART_2 + "index.html"))  # a transcript, no video
    assert not page.all("track")
    assert "../../" + PART_2 + "transcript.vtt" in [a["href"] for a in page.all("a")]


def test_episode_json_ld(html: Callable[[str], str]) -> None:
    ld = Page(html(GOLDEN_EPISODE)).json_ld()
    assert ld["@type"] == "PodcastEpisode"
    assert ld["url"] == BASE + "exclusive/2024-07-23-russia-charm-offensive/"
    assert ld["datePublished"] == "2024-07-23T15:00:00+00:00"
    assert ld["partOfSeries"]["url"] == BASE + "exclusive/"
    media = ld["associatedMedia"]
    assert [m["encodingFormat"] for m in media] == ["audio/mpeg", "video/mp4"]


# --- hostile input ----------------------------------------------------------------------


def test_json_ld_and_text_cannot_break_out(sample: Path) -> None:
    show_yaml = sample / "exclusive" / "show.yaml"
    text = show_yaml.read_text(encoding="utf-8")
    hostile = "</script><script>alert(1)</script> <!-- &"
    show_yaml.write_text(
        text.replace("title: FO° Exclusive", f'title: "{hostile}"'), encoding="utf-8"
    )
    companion = sample / "exclusive" / "2024-07-23-russia-charm-offensive" / "companion.md"
    companion.write_text(
        '<script>alert(2)</script>\n\n<img src=https://x.example/a.png onerror="alert(3)">\n\n'
        "[x](javascript:alert(4)) <iframe src=https://evil.example/></iframe> ]]>\n",
        encoding="utf-8",
    )
    _, _, site = make_site(sample)
    outputs = {o.path: o for o in pages.render_pages(site)}
    for path in ("exclusive/index.html", GOLDEN_EPISODE, "index.html"):
        data = outputs[path].data
        assert data is not None
        text = data.decode("utf-8")
        page = Page(text)
        assert len(page.all("script")) == 2  # the JSON-LD and our player.js
        assert "alert(" not in "".join(page.scripts).replace("\\u003c", "<").split('"name"')[0]
        assert "</script><script>" not in text
        assert not re.search(r"\son\w+=|javascript:|<iframe", text)
        ld = page.json_ld()
        titles = json.dumps(ld, ensure_ascii=False)
        assert hostile in titles  # the title survives, as data


def test_the_cache_rerenders_only_what_changed(
    sample_site: tuple[Catalogue, Probed, Site], monkeypatch: pytest.MonkeyPatch
) -> None:
    catalogue, probed, site = sample_site
    cache = RenderCache()
    cold = {o.path: o.data for o in pages.render_pages(site, cache)}
    cache.prune()
    renders: list[str] = []
    original = jinja2.Template.render

    def counting(self: jinja2.Template, *args: Any, **kwargs: Any) -> str:
        renders.append(self.name or "")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(jinja2.Template, "render", counting)
    warm = pages.render_pages(
        resolve_site(catalogue, probed, catalogue.settings.base_url, NOW), cache
    )
    assert renders == ["404.html"]  # everything else came from the cache
    assert {o.path: o.data for o in warm} == cold
    cache.prune()

    oldest = next(s for s in catalogue.shows if s.slug == "exclusive").episodes[0]
    original_text = oldest.companion
    try:
        oldest.companion = (original_text or "") + "\n\nOne more line.\n"
        renders.clear()
        changed = resolve_site(catalogue, probed, catalogue.settings.base_url, NOW)
        outputs = {o.path: o.data for o in pages.render_pages(changed, cache)}
        rendered = list(renders)
        fresh = {o.path: o.data for o in pages.render_pages(changed)}
    finally:
        oldest.companion = original_text
    assert outputs == fresh
    # its own page, and the show page and episode pages whose recent lists show it
    assert "episode.html" in rendered and len(rendered) <= 6
    differ = {path for path in cold if cold[path] != outputs[path]}
    assert f"exclusive/{oldest.slug}/index.html" in differ
    assert differ <= {path for path in cold if path.startswith("exclusive/")}


# --- sitemap, robots, 404 ---------------------------------------------------------------


def test_sitemap(site: Site, outputs: dict[str, Output]) -> None:
    data = outputs["sitemap.xml"].data
    assert data is not None
    root = ET.fromstring(data)
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    locs = [u.findtext("s:loc", namespaces=ns) for u in root.findall("s:url", ns)]
    assert locs[0] == BASE
    topics = collect_topics(site)
    episodes = sum(len(s.episodes) for s in site.shows)
    assert len(locs) == 1 + len(site.shows) + episodes + 1 + len(topics)
    assert BASE + "topics/russia/" in locs
    assert BASE + PART_1 in locs
    lastmods = [u.findtext("s:lastmod", namespaces=ns) for u in root.findall("s:url", ns)]
    assert lastmods[0] == "2024-12-09"


def test_robots(outputs: dict[str, Output]) -> None:
    assert outputs["robots.txt"].data == (
        b"User-agent: *\nAllow: /\n\nSitemap: https://podcasts.fairobserver.com/sitemap.xml\n"
    )


def test_404_page_works_at_any_depth(html: Callable[[str], str]) -> None:
    text = html("404.html")
    page = Page(text)
    assert "<style>" in text and not page.all("link", rel="stylesheet")
    links = [
        a.get("href", "")
        for t, a in page.elements
        if t in ("a", "link") and a.get("rel") != "canonical"
    ]
    assert all(not link.startswith("..") for link in links)
    assert page.one("a", class_="brand")["href"] == "/"


# --- formatting -------------------------------------------------------------------------


def test_formatting_helpers() -> None:
    assert pages.format_date(datetime(2024, 7, 3, 23, 0, tzinfo=UTC)) == "July 3, 2024"
    assert format_clock(0) == "0:00"
    assert format_clock(75.9) == "1:15"
    assert format_clock(3725) == "1:02:05"
    assert pages.iso_duration(3725) == "PT1H2M5S"
    assert pages.iso_duration(0) == "PT0S"
    assert pages.format_seconds(3.0) == "3"
    assert pages.format_seconds(3.25) == "3.25"
    assert format_size(39827) == "40 KB"
    assert format_size(12_345_678) == "12.3 MB"
    assert (
        pages.apple_podcasts_url("https://a.example/x/feed.xml") == "podcast://a.example/x/feed.xml"
    )


def test_json_ld_escapes_markup() -> None:
    text = str(pages.json_ld({"name": "</script><!-- & >"}))
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text) == {"name": "</script><!-- & >"}
