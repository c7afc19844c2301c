"""Site -> the website: home, show pages, episode pages, sitemap, robots.txt, 404, assets. Pure.

Links between pages, and to media and artwork, are relative, so the tree works wherever it is
served (`fo-cast serve`, a bucket, a sub-folder); canonical, Open Graph and JSON-LD URLs are
absolute (base_url). Templates are compiled once per process; everything a page needs from
other episodes (series, recent episodes) is indexed once per show, never searched per page.

Each page is kept in a `RenderCache` under a digest of the site, its show and every episode it
shows (their inputs, Markdown included), so a rebuild renders only the pages an edit shows on.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from importlib import resources
from typing import Any
from urllib.parse import quote, urlsplit
from xml.sax.saxutils import escape as xml_escape

import jinja2
from markupsafe import Markup

from fo_cast.catalogue.models import Person
from fo_cast.outputs import ASSETS, Body, Output, Stage
from fo_cast.render.cache import RenderCache, key
from fo_cast.render.search import SEARCH, article_digest, search_bundles
from fo_cast.render.site import EpisodeView, ShowView, Site, fingerprint_of
from fo_cast.render.topics import TOPICS, Topic, collect_topics, topic_page_path, topic_path
from fo_cast.units import format_clock, format_size

HTML = "text/html; charset=utf-8"
RECENT = 5  # other episodes listed under an episode
LATEST = 3  # episodes per show on the home page
FRAGMENTS = 1024  # list entries kept for reuse during a render
STATIC = {  # file in fo_cast/static -> content type
    "style.css": "text/css; charset=utf-8",
    "print.css": "text/css; charset=utf-8",
    "player.js": "text/javascript; charset=utf-8",
    "search.js": "text/javascript; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}
MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)  # fmt: skip
ROLE_ORDER = ("host", "co-host", "guest")


@dataclass(frozen=True)
class Meta:
    """What every page says about itself in <head>."""

    title: str
    description: str
    url: str  # canonical, absolute
    image: str  # absolute
    image_alt: str
    og_type: str
    json_ld: Markup
    lang: str
    feeds: Sequence[tuple[str, str, str]] = ()  # (type, title, absolute url)
    prev_url: str | None = None
    next_url: str | None = None
    published: datetime | None = None


@dataclass
class ShowIndex:
    """One show's episodes indexed once, so every episode page looks its neighbours up in O(1)."""

    show: ShowView
    newest: list[EpisodeView]
    series: dict[str, list[EpisodeView]] = field(default_factory=dict)

    @classmethod
    def of(cls, show: ShowView) -> ShowIndex:
        newest = show.newest_first
        series: dict[str, list[EpisodeView]] = defaultdict(list)
        for episode in newest:
            if episode.episode.series is not None:
                series[episode.episode.series.name].append(episode)
        for parts in series.values():
            parts.sort(key=lambda e: (e.episode.series.part, e.published))  # type: ignore[union-attr]
        return cls(show=show, newest=newest, series=dict(series))

    def recent(self, episode: EpisodeView) -> list[EpisodeView]:
        """Returns the show's newest episodes other than this one."""
        return [e for e in self.newest[: RECENT + 1] if e is not episode][:RECENT]

    def series_of(self, episode: EpisodeView) -> list[EpisodeView]:
        series = episode.episode.series
        return self.series.get(series.name, []) if series is not None else []


def render_pages(site: Site, cache: RenderCache | None = None) -> list[Output]:
    """Returns every page of the site, the sitemap, robots.txt, the 404 page and the assets.

    Pages are taken from `cache` when it has them (a fresh in-memory cache by default), which
    never changes the bytes, only how much is rendered again. The caller saves or prunes it.
    """
    return list(iter_pages(site, cache))


def iter_pages(site: Site, cache: RenderCache | None = None) -> Iterator[Output]:
    """Yields what render_pages() returns, in the same order, each output as it is rendered
    (the search index takes the episode pages while the others render)."""
    return Pages(site, cache).render()


class Pages:
    """A render of a site's pages, and ahead of it the episode pages the cache lacks: the
    search index sends their bundles to Pagefind before the other pages render."""

    def __init__(self, site: Site, cache: RenderCache | None = None) -> None:
        self._renderer = _Renderer(site, RenderCache() if cache is None else cache)

    def render(self) -> Iterator[Output]:
        """Yields what render_pages() returns, in the same order, as each is rendered."""
        return self._renderer.render()

    def changed_episodes(self) -> list[str]:
        """Returns the paths of the episode pages that the cache lacks (to render), in the
        render's order, rendering nothing."""
        renderer = self._renderer
        return [
            episode.path + "index.html"
            for index in renderer.indexes
            for episode in index.newest
            if not renderer.cache.has(renderer.episode_key(index, episode))
        ]

    def episode_pages(self, paths: set[str]) -> dict[str, Output]:
        """Returns the episode pages at paths, rendered now or taken from the cache (the
        render then finds them there)."""
        renderer = self._renderer
        return {
            output.path: output
            for index in renderer.indexes
            for episode in index.newest
            if episode.path + "index.html" in paths
            for output in (renderer.episode_page(index, episode),)
        }


class _Renderer:
    """One render of a site: the compiled templates, the fingerprints, the page cache."""

    def __init__(self, site: Site, cache: RenderCache) -> None:
        self.site = site
        self.cache = cache
        self.fragments: dict[tuple[object, ...], Markup] = {}  # list entries, subscribe boxes
        self.env = _environment()
        self.common = _common(site)
        self.item_macro = self.env.get_template("_macros.html").module.episode_item  # type: ignore[attr-defined]
        self.subscribe_macro = self.env.get_template("_macros.html").module.subscribe  # type: ignore[attr-defined]
        settings = site.settings
        self.site_key = fingerprint_of(
            _template_version(),
            settings.model_dump_json(),
            site.base_url,
            json.dumps(self.common["shows"]),
            json.dumps(self.common["assets"]),
        )
        self.show_keys = {show.path: show.fingerprint for show in site.shows}
        self.episode_keys = {id(e): e.fingerprint for show in site.shows for e in show.episodes}
        self.indexes = [ShowIndex.of(show) for show in site.shows]
        self.page_keys: dict[int, str] = {}  # id(episode) -> its page's key, once taken

    def render(self) -> Iterator[Output]:
        site = self.site
        yield self.home()
        for index in self.indexes:
            yield from self.show_pages(index)
            yield from (self.episode_page(index, episode) for episode in index.newest)
        topics = collect_topics(site)
        yield self.topics_index(topics)
        for topic in topics:
            yield from self.topic_pages(topic)
        yield self.search_page()
        context = not_found_context(site, self.common)
        yield _html("404.html", self.env.get_template("404.html").render(context))
        yield Output("sitemap.xml", "application/xml", Stage.ASSET, data=render_sitemap(site))
        yield Output(
            "robots.txt", "text/plain; charset=utf-8", Stage.ASSET, data=render_robots(site)
        )
        for name, content_type in STATIC.items():
            yield Output(f"{ASSETS}{name}", content_type, Stage.ASSET, data=_static(name))

    # Each page is keyed by the fingerprints of the site, its show and every episode it shows.

    def home(self) -> Output:
        latest = [show.newest_first[:LATEST] for show in self.site.shows]
        page_key = key(
            f"home/{[len(s.episodes) for s in self.site.shows]}/{[len(e) for e in latest]}",
            self.site_key,
            *(self.show_keys[s.path] for s in self.site.shows),
            *(self.episode_keys[id(e)] for episodes in latest for e in episodes),
        )

        def make() -> bytes:
            context = home_context(self.site, self.common)
            context["cards"] = [
                (show, self.items(episodes, "", 4))
                for show, episodes in zip(self.site.shows, latest, strict=True)
            ]
            return _encode(self.env.get_template("home.html").render(context))

        return _page_output("index.html", self.cache.fetch_body(page_key, make))

    def paged(self, episodes: list[EpisodeView]) -> Iterator[tuple[int, int, list[EpisodeView]]]:
        """Yields (page number, page count, episodes) of a list shown a page at a time."""
        per_page = self.site.settings.site.episodes_per_page
        count = max(1, math.ceil(len(episodes) / per_page))
        for number in range(1, count + 1):
            yield number, count, episodes[(number - 1) * per_page : number * per_page]

    def show_pages(self, index: ShowIndex) -> list[Output]:
        show = index.show
        outputs = []
        for number, count, episodes in self.paged(index.newest):
            path = show_page_path(show, number)
            page_key = key(
                f"show/{number}/{count}/{len(index.newest)}/{len(episodes)}",
                self.site_key,
                self.show_keys[show.path],
                *(self.episode_keys[id(e)] for e in episodes),
            )

            def make(
                number: int = number, count: int = count, episodes: list[EpisodeView] = episodes
            ) -> bytes:
                context = show_context(self.site, index, number, count, self.common)
                root = context["root"]
                context["items"] = self.items(episodes, root, 3)
                context["subscribe"] = self.subscribe(show)
                return _encode(self.env.get_template("show.html").render(context))

            outputs.append(_page_output(path + "index.html", self.cache.fetch_body(page_key, make)))
        return outputs

    def episode_key(self, index: ShowIndex, episode: EpisodeView) -> str:
        found = self.page_keys.get(id(episode))
        if found is not None:
            return found
        recent = index.recent(episode)
        series = index.series_of(episode)
        keys = self.episode_keys
        found = self.page_keys[id(episode)] = key(
            f"episode/{len(recent)}/{len(series)}",
            self.site_key,
            self.show_keys[index.show.path],
            keys[id(episode)],
            *(keys[id(e)] for e in recent),
            *(keys[id(e)] for e in series),
        )
        return found

    def episode_page(self, index: ShowIndex, episode: EpisodeView) -> Output:
        recent = index.recent(episode)
        page_key = self.episode_key(index, episode)

        span = ""

        def make() -> bytes:
            nonlocal span
            context = episode_context(self.site, index, episode, self.common)
            context["recent_items"] = self.items(recent, context["root"], 3)
            context["subscribe"] = self.subscribe(index.show)
            page = _encode(self.env.get_template("episode.html").render(context))
            span = companion_span(page, episode.companion.page)
            # Its only page is rendered: the companion's HTML (some 3 KB) need not stay with
            # the episode for the rest of the build (the feeds render it in their own process).
            episode.__dict__.pop("companion", None)
            return page

        def note(page: bytes) -> str:
            return f"{article_digest(page)} {span}".rstrip()

        body = self.cache.fetch_body(page_key, make, note=note)
        return _page_output(episode.path + "index.html", body)

    def topics_index(self, topics: list[Topic]) -> Output:
        listed = [(t.slug, t.name, len(t.episodes)) for t in topics]
        page_key = key(f"topics/{json.dumps(listed)}", self.site_key)

        def make() -> bytes:
            context = topics_context(self.site, topics, self.common)
            return _encode(self.env.get_template("topics.html").render(context))

        return _page_output(f"{TOPICS}index.html", self.cache.fetch_body(page_key, make))

    def topic_pages(self, topic: Topic) -> list[Output]:
        outputs = []
        for number, count, episodes in self.paged(topic.episodes):
            path = topic_page_path(topic, number)
            page_key = key(
                f"topic/{json.dumps([topic.slug, topic.name])}/{number}/{count}/{len(episodes)}",
                self.site_key,
                *(self.episode_keys[id(e)] for e in episodes),
            )

            def make(
                number: int = number, count: int = count, episodes: list[EpisodeView] = episodes
            ) -> bytes:
                context = topic_context(self.site, topic, number, count, self.common)
                context["items"] = self.items(episodes, context["root"], 2)
                return _encode(self.env.get_template("topic.html").render(context))

            outputs.append(_page_output(path + "index.html", self.cache.fetch_body(page_key, make)))
        return outputs

    def search_page(self) -> Output:
        bundles = search_bundles(self.site)
        page_key = key(f"search/{json.dumps(bundles)}", self.site_key)

        def make() -> bytes:
            context = search_context(self.site, bundles, self.common)
            return _encode(self.env.get_template("search.html").render(context))

        return _page_output(f"{SEARCH}index.html", self.cache.fetch_body(page_key, make))

    def subscribe(self, show: ShowView) -> Markup:
        """Returns a show's subscribe box (absolute URLs only: the same on every page)."""
        fragment_key = ("subscribe", show.path)
        box = self.fragments.get(fragment_key)
        if box is None:
            box = self.fragments[fragment_key] = self.subscribe_macro(
                show, apple_podcasts_url(show.feed_url)
            )
        return box

    def items(self, episodes: Sequence[EpisodeView], root: str, level: int) -> list[Markup]:
        """Returns the list entries for episodes, each rendered once per render and depth.

        Only the latest FRAGMENTS are kept: an entry is used again on the pages rendered
        soon after (the newest episodes, under every episode page), rarely later, and 10,000
        episodes' entries would hold some 12 MB to the end of the render.
        """
        fragments = self.fragments

        def item(episode: EpisodeView) -> Markup:
            fragment_key = ("item", id(episode), root, level)
            entry = fragments.get(fragment_key)
            if entry is None:
                entry = fragments[fragment_key] = self.item_macro(episode, root, level)
                if len(fragments) > FRAGMENTS:
                    del fragments[next(iter(fragments))]  # the oldest
            return entry

        return [item(e) for e in episodes]


def _encode(text: str) -> bytes:
    return text.encode("utf-8")


def _page_output(path: str, data: bytes | Body) -> Output:
    return Output(path, HTML, Stage.ASSET, data=data)


def _html(path: str, text: str) -> Output:
    return Output(path, HTML, Stage.ASSET, data=text.encode("utf-8"))


# --- context --------------------------------------------------------------------------------


# episode.html puts the companion's HTML right after this: the first time the page has it (the
# template's own markup; what a manifest or the companion brings before it is escaped).
COMPANION_START = b'<div class="companion">\n'


def companion_span(page: bytes, html: str) -> str:
    """Returns where the companion's HTML sits in an episode page, as "offset length" (the
    page cache notes it with the page, so a rebuild after a companion edit puts the new HTML
    in its place: rebuild.py), or "" when it is not found there as expected."""
    data = html.encode("utf-8")
    start = page.find(COMPANION_START)
    if start < 0:
        return ""
    offset = start + len(COMPANION_START)
    if page[offset : offset + len(data)] != data:
        return ""
    return f"{offset} {len(data)}"


def replace_companion(page: bytes, span: tuple[int, int], html: str) -> bytes:
    """Returns the episode page with its companion's HTML (at span) replaced by html."""
    offset, length = span
    return page[:offset] + html.encode("utf-8") + page[offset + length :]


def _common(site: Site) -> dict[str, Any]:
    settings = site.settings.site
    return {
        "site": settings,
        "base_url": site.base_url,
        "shows": [(s.path, s.show.title) for s in site.shows],
        "assets": {name: f"{ASSETS}{name}?v={_static_version(name)}" for name in STATIC},
    }


def _page(common: dict[str, Any], path: str, meta: Meta, **context: Any) -> dict[str, Any]:
    """Returns a template context for the page at `path` (its folder, "" for the root)."""
    depth = path.count("/")
    return {**common, "root": "../" * depth, "here": path, "meta": meta, **context}


def home_context(site: Site, common: dict[str, Any]) -> dict[str, Any]:
    """Returns what home.html needs: every show with its latest episodes."""
    settings = site.settings.site
    cards = [(show, show.newest_first[:LATEST]) for show in site.shows]
    description = (
        (f"Podcasts from {settings.publisher}: " if settings.publisher else "Podcasts: ")
        + ", ".join(show.show.title for show in site.shows)
        + "."
    )
    first = site.shows[0] if site.shows else None
    meta = Meta(
        title=settings.title,
        description=description,
        url=site.base_url,
        image=first.artwork.url if first else "",
        image_alt=f"{first.show.title} artwork" if first else "",
        og_type="website",
        json_ld=json_ld(
            {
                "@context": "https://schema.org",
                "@type": "WebSite",
                "name": settings.title,
                "url": site.base_url,
                "publisher": _organisation(settings.publisher),
                "hasPart": [_series_ld(show) for show in site.shows],
            }
        ),
        lang=first.show.language if first else "en",
        feeds=[f for show in site.shows for f in _feeds(show)],
    )
    return _page(common, "", meta, cards=cards)


def show_page_path(show: ShowView, number: int) -> str:
    """Returns the folder of page `number` of a show's episode list."""
    return show.path if number == 1 else f"{show.path}page/{number}/"


def show_context(
    site: Site, index: ShowIndex, number: int, count: int, common: dict[str, Any]
) -> dict[str, Any]:
    """Returns what show.html needs for page `number` of `count`."""
    show = index.show
    per_page = site.settings.site.episodes_per_page
    path = show_page_path(show, number)
    suffix = f" (page {number} of {count})" if number > 1 else ""
    meta = Meta(
        title=f"{show.show.title}{suffix} · {site.settings.site.title}",
        description=show.show.description,
        url=site.url(path),
        image=show.artwork.url,
        image_alt=f"{show.show.title} artwork",
        og_type="website",
        json_ld=json_ld({"@context": "https://schema.org", **_series_ld(show)}),
        lang=show.show.language,
        feeds=_feeds(show),
        prev_url=site.url(show_page_path(show, number - 1)) if number > 1 else None,
        next_url=site.url(show_page_path(show, number + 1)) if number < count else None,
    )
    pages = [(n, show_page_path(show, n)) for n in range(1, count + 1)]
    return _page(
        common,
        path,
        meta,
        show=show,
        episodes=index.newest[(number - 1) * per_page : number * per_page],
        total=len(index.newest),
        number=number,
        pages=pages,
        apple_url=apple_podcasts_url(show.feed_url),
        hosts=show.show.people,
    )


def episode_context(
    site: Site, index: ShowIndex, episode: EpisodeView, common: dict[str, Any]
) -> dict[str, Any]:
    """Returns what episode.html needs for one episode."""
    show = index.show
    model = episode.episode
    description = model.summary or show.show.description
    meta = Meta(
        title=f"{episode.title} · {show.show.title}",
        description=description,
        url=episode.url,
        image=episode.og_image[0],
        image_alt=episode.og_image[1],
        og_type="article",
        json_ld=json_ld(_episode_ld(episode, description)),
        lang=show.show.language,
        feeds=_feeds(show),
        published=episode.published,
    )
    primary = episode.audio or episode.video
    transcript = episode.transcript
    image = episode.image or show.artwork
    root = "../" * episode.path.count("/")
    return _page(
        common,
        episode.path,
        meta,
        show=show,
        episode=episode,
        model=model,
        audio_href=_href(root, episode.audio.path, episode.audio.url) if episode.audio else None,
        video_href=_href(root, episode.video.path, episode.video.url) if episode.video else None,
        # Without JS a chapter link opens the media at that time (a media fragment).
        chapter_href=_href(root, primary.path, primary.url) if primary else "",
        image_href=_href(root, image.path, image.url),
        transcript=transcript,
        captions=transcript is not None and transcript.type == "text/vtt",
        people=people_of(show, episode),
        series=index.series_of(episode),
        recent=index.recent(episode),
        topics=[(name, topic_path(name)) for name in dict.fromkeys(model.topics)],
        apple_url=apple_podcasts_url(show.feed_url),
    )


def topics_context(site: Site, topics: list[Topic], common: dict[str, Any]) -> dict[str, Any]:
    """Returns what topics.html needs: every topic with its number of episodes."""
    meta = _plain_meta(
        site,
        TOPICS,
        f"Topics · {site.settings.site.title}",
        f"Every topic of {site.settings.site.title}, with its episodes from all shows.",
    )
    return _page(common, TOPICS, meta, topics=topics)


def topic_context(
    site: Site, topic: Topic, number: int, count: int, common: dict[str, Any]
) -> dict[str, Any]:
    """Returns what topic.html needs for page `number` of `count` of a topic."""
    path = topic_page_path(topic, number)
    suffix = f" (page {number} of {count})" if number > 1 else ""
    meta = _plain_meta(
        site,
        path,
        f"{topic.name}{suffix} · {site.settings.site.title}",
        f"Episodes on {topic.name} from every show of {site.settings.site.title}, newest first.",
        prev_url=site.url(topic_page_path(topic, number - 1)) if number > 1 else None,
        next_url=site.url(topic_page_path(topic, number + 1)) if number < count else None,
    )
    pages = [(n, topic_page_path(topic, n)) for n in range(1, count + 1)]
    return _page(
        common, path, meta, topic=topic, number=number, pages=pages, total=len(topic.episodes)
    )


def search_context(site: Site, bundles: list[str], common: dict[str, Any]) -> dict[str, Any]:
    """Returns what search.html needs: the search bundles to load, first one first."""
    meta = _plain_meta(
        site,
        SEARCH,
        f"Search · {site.settings.site.title}",
        f"Search the episodes and companions of {site.settings.site.title}.",
        kind="SearchResultsPage",
    )
    return _page(common, SEARCH, meta, bundles=bundles)


def _plain_meta(
    site: Site, path: str, title: str, description: str, kind: str = "CollectionPage", **extra: Any
) -> Meta:
    """Returns the head of a page that is about the site as a whole (topics, search)."""
    first = site.shows[0] if site.shows else None
    data = {"@context": "https://schema.org", "@type": kind, "name": title, "url": site.url(path)}
    return Meta(
        title=title,
        description=description,
        url=site.url(path),
        image=first.artwork.url if first else "",
        image_alt=f"{first.show.title} artwork" if first else "",
        og_type="website",
        json_ld=json_ld({**data, "isPartOf": {"@type": "WebSite", "url": site.base_url}}),
        lang=first.show.language if first else "en",
        **extra,
    )


def not_found_context(site: Site, common: dict[str, Any]) -> dict[str, Any]:
    """Returns the 404 page's context: links from the site's root path, as it is served anywhere."""
    root = urlsplit(site.base_url).path or "/"
    meta = Meta(
        title=f"Page not found · {site.settings.site.title}",
        description="This page does not exist.",
        url=site.url("404.html"),
        image="",
        image_alt="",
        og_type="website",
        json_ld=Markup(""),
        lang=site.shows[0].show.language if site.shows else "en",
    )
    context = _page(common, "", meta, css=Markup(_static("style.css").decode("utf-8")))
    context["root"] = root
    return context


def _href(root: str, path: str | None, url: str) -> str:
    """Returns a link relative to the page for a file in the tree, the URL for external media."""
    return root + quote(path) if path is not None else url


def _feeds(show: ShowView) -> list[tuple[str, str, str]]:
    title = show.show.title
    feeds = [("application/rss+xml", f"{title} ({medium})", url) for medium, url in show.rss_feeds]
    feeds.append(("application/feed+json", f"{title} (JSON Feed)", show.json_feed_url))
    return feeds


def apple_podcasts_url(feed_url: str) -> str:
    """Returns the podcast:// link that opens a feed in Apple Podcasts."""
    return "podcast://" + feed_url.split("://", 1)[-1]


def people_of(show: ShowView, episode: EpisodeView) -> list[Person]:
    """Returns the show's hosts and the episode's people, hosts first, each name once."""
    seen: set[str] = set()
    people = []
    for person in [*show.show.people, *episode.episode.people]:
        if person.name not in seen:
            seen.add(person.name)
            people.append(person)
    rank = {role: i for i, role in enumerate(ROLE_ORDER)}
    return sorted(people, key=lambda p: rank.get(p.role, len(ROLE_ORDER)))


# --- JSON-LD --------------------------------------------------------------------------------


def json_ld(data: dict[str, Any]) -> Markup:
    """Returns JSON for a <script type="application/ld+json"> that no value can break out of.

    `<`, `>` and `&` become JSON escapes, so neither `</script>` nor `<!--` can appear.
    """
    text = json.dumps(data, ensure_ascii=False)  # no indent: the C encoder, 10x faster
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def _organisation(name: str) -> dict[str, str] | None:
    return {"@type": "Organization", "name": name} if name else None


def _series_ld(show: ShowView) -> dict[str, Any]:
    data: dict[str, Any] = {
        "@type": "PodcastSeries",
        "name": show.show.title,
        "description": show.show.description,
        "url": show.url,
        "image": show.artwork.url,
        "webFeed": show.feed_url,
        "inLanguage": show.show.language,
        "author": {"@type": "Organization", "name": show.show.author},
    }
    if show.show.people:
        data["actor"] = [{"@type": "Person", "name": p.name} for p in show.show.people]
    return data


def _episode_ld(episode: EpisodeView, description: str) -> dict[str, Any]:
    model = episode.episode
    data: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "PodcastEpisode",
        "name": episode.title,
        "url": episode.url,
        "datePublished": episode.published.isoformat(),
        "description": description,
        "image": episode.image_url,
        "timeRequired": iso_duration(episode.duration),
        "partOfSeries": {
            "@type": "PodcastSeries",
            "name": episode.show.show.title,
            "url": episode.show.url,
        },
        "associatedMedia": [
            {
                "@type": "VideoObject" if e.is_video else "AudioObject",
                "contentUrl": e.url,
                "encodingFormat": e.type,
                "contentSize": str(e.length),
                "duration": iso_duration(e.duration or 0.0),
            }
            for e in episode.enclosures
        ],
    }
    if model.episode is not None:
        data["episodeNumber"] = model.episode
    if model.season is not None:
        data["partOfSeason"] = {"@type": "PodcastSeason", "seasonNumber": model.season}
    if model.people:
        data["actor"] = [{"@type": "Person", "name": p.name} for p in model.people]
    if model.topics:
        data["keywords"] = ", ".join(model.topics)
    return data


# --- formatting -----------------------------------------------------------------------------


def format_date(value: datetime) -> str:
    """Returns "July 23, 2024" in any locale (the date as published, in its own timezone)."""
    return f"{MONTHS[value.month - 1]} {value.day}, {value.year}"


def iso_duration(seconds: float) -> str:
    """Returns an ISO 8601 duration: 3725 -> "PT1H2M5S"."""
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    parts = "".join(f"{n}{u}" for n, u in ((hours, "H"), (minutes, "M"), (secs, "S")) if n)
    return "PT" + (parts or "0S")


def format_seconds(seconds: float) -> str:
    """Returns seconds for a URL or data attribute: 3.0 -> "3", 3.25 -> "3.25"."""
    return f"{seconds:.3f}".rstrip("0").rstrip(".")


def media_label(mime_type: str) -> str:
    """Returns the name of a media format: audio/mpeg -> "MP3"."""
    return {"audio/mpeg": "MP3", "audio/mp4": "M4A", "audio/x-m4a": "M4A", "video/mp4": "MP4"}.get(
        mime_type, mime_type
    )


# --- sitemap, robots, assets ----------------------------------------------------------------


def render_sitemap(site: Site) -> bytes:
    """Returns sitemap.xml: home, show pages and episode pages, dated by their newest episode."""
    entries: list[tuple[str, datetime | None]] = []
    newest_of = {show.path: show.newest_first for show in site.shows}
    all_newest = [n[0].published for n in newest_of.values() if n]
    entries.append((site.base_url, max(all_newest) if all_newest else None))
    for show in site.shows:
        newest = newest_of[show.path]
        entries.append((show.url, newest[0].published if newest else None))
        entries.extend((episode.url, episode.published) for episode in newest)
    topics = collect_topics(site)
    if topics:
        entries.append((site.url(TOPICS), max(t.episodes[0].published for t in topics)))
    entries.extend((site.url(t.path), t.episodes[0].published) for t in topics)
    lines = ['<?xml version="1.0" encoding="UTF-8"?>']
    lines.append('<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">')
    for url, modified in entries:
        lastmod = f"<lastmod>{modified.date().isoformat()}</lastmod>" if modified else ""
        lines.append(f"  <url><loc>{xml_escape(url)}</loc>{lastmod}</url>")
    lines.append("</urlset>")
    return ("\n".join(lines) + "\n").encode("utf-8")


def render_robots(site: Site) -> bytes:
    """Returns robots.txt: everything may be crawled; the sitemap is named."""
    return f"User-agent: *\nAllow: /\n\nSitemap: {site.base_url}sitemap.xml\n".encode()


@lru_cache(maxsize=len(STATIC))
def _static(name: str) -> bytes:
    return resources.files("fo_cast.render").joinpath("static", name).read_bytes()


@lru_cache(maxsize=len(STATIC))
def _static_version(name: str) -> str:
    """Returns a short content hash, so a changed stylesheet is never served from a stale cache."""
    return hashlib.sha256(_static(name)).hexdigest()[:10]


@lru_cache(maxsize=1)
def _template_version() -> str:
    """Returns a hash of the templates and assets, so editing one invalidates cached pages."""
    digest = hashlib.sha256()
    for folder in ("templates", "static"):
        for entry in sorted(resources.files("fo_cast.render").joinpath(folder).iterdir(), key=str):
            if entry.is_file():
                digest.update(entry.name.encode() + b"\x00" + entry.read_bytes())
    return digest.hexdigest()


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    """Returns the template environment, built and compiled once per process."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("fo_cast.render", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,
    )
    env.filters.update(
        date=format_date,
        clock=format_clock,
        seconds=format_seconds,
        size=format_size,
        media_label=media_label,
        iso_duration=iso_duration,
        path=quote,
        href=lambda sidecar, root: _href(root, sidecar.path, sidecar.url),
    )
    return env


def page_paths(outputs: Iterable[Output]) -> list[str]:
    """Returns the paths of the HTML pages among outputs (for tests and link checks)."""
    return [o.path for o in outputs if o.content_type == HTML]
