"""Site -> podcast feeds: RSS 2.0 with Apple and Podcasting 2.0 tags (feedgen), JSON Feed 1.1,
Podcasting 2.0 chapters and `index.opml`. Pure: the same Site gives the same bytes.

Per show:

    <show>/feed.xml    audio RSS: episodes with an audio file, enclosure = the audio
    <show>/video.xml   video RSS, when the show has video: enclosure = the video, GUID =
                       video_guid(episode GUID), so the two feeds never share an item GUID
    <show>/feed.json   JSON Feed 1.1: the audio feed's items, every media file attached
    <show>/<episode>/chapters.json   for episodes with chapters

Nothing reads the clock: `lastBuildDate` is the newest item's date (the site's `now` for a feed
without items), and items keep the Site's feed order (episodic newest first, serial oldest
first); feedgen would otherwise stamp now() and prepend entries.

feedgen builds each <item> once; the element is kept in a `FeedCache` under everything it
depends on, so a rebuild renders only new or changed items and the feed bytes stay the same.
"""

from __future__ import annotations

import copy
import functools
import gc
import json
from collections.abc import Callable, Hashable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from feedgen.entry import FeedEntry
from feedgen.feed import FeedGenerator
from lxml import etree

from fo_cast import rules
from fo_cast.feedgen_ext import (
    AlternateTag,
    ChannelTags,
    FundingTag,
    ItemTags,
    PersonTag,
    PodcastingEntryExtension,
    PodcastingExtension,
    SidecarTag,
)
from fo_cast.outputs import FeedItem, Output, Stage
from fo_cast.site import Enclosure, EpisodeView, ShowView, Site, podcast_guid, video_guid

FEED_FILE, VIDEO_FILE, JSON_FILE = "feed.xml", "video.xml", "feed.json"  # as site.py names them
OPML_FILE = "index.opml"
RSS_TYPE = "application/rss+xml; charset=utf-8"
JSON_FEED_TYPE = "application/feed+json; charset=utf-8"
CHAPTERS_TYPE = "application/json; charset=utf-8"
OPML_TYPE = "text/x-opml; charset=utf-8"
CHAPTERS_VERSION = "1.2.0"
GENERATOR = "fo-cast"
EXT = "podcasting"  # the name feedgen gives our extension on FeedGenerator and FeedEntry

# Podcast Index taxonomy groups for the roles outside the default group, "cast".
_GROUPS = {
    "creative direction": "director|assistant director|executive producer|senior producer|"
    "producer|associate producer|development producer|creative director",
    "writing": "author|editorial director|co-writer|writer|songwriter|guest writer|story editor|"
    "managing editor|script editor|script coordinator|researcher|editor|fact checker|"
    "translator|transcriber|logger",
    "audio production": "studio coordinator|technical director|technical manager|"
    "audio engineer|remote recording engineer|post production engineer",
    "audio post-production": "audio editor|sound designer|foley artist|composer|theme music",
    "administration": "production coordinator|booking coordinator|production assistant|"
    "content manager|marketing manager|sales representative|sales manager",
    "visuals": "graphic designer|cover art designer",
    "community": "social media manager",
    "misc.": "consultant|intern",
    "video production": "camera operator|lighting designer|camera grip|assistant camera",
}
PERSON_GROUPS = {role: group for group, roles in _GROUPS.items() for role in roles.split("|")}


class _Rendered(FeedEntry):
    """An item feedgen has rendered already; the channel takes the element as it is."""

    def __init__(self, element: etree._Element) -> None:
        super().__init__()
        self._element = element

    def rss_entry(self, extensions: bool = True) -> etree._Element:
        return self._element


@dataclass
class FeedCache:
    """Rendered <item> elements keyed by every value that goes into them.

    Keeps only what the latest render used, so memory follows the catalogue's size. Not for
    renders running at the same time in several threads: give each its own cache.
    """

    items: dict[Hashable, etree._Element] = field(default_factory=dict)
    files: dict[Hashable, bytes] = field(default_factory=dict)  # chapters.json by content
    hits: int = 0
    misses: int = 0
    _used: set[Hashable] = field(default_factory=set)  # taken by this render
    _kept: set[Hashable] = field(default_factory=set)  # to keep, though not taken

    def item(self, key: Hashable, render: Callable[[], etree._Element]) -> etree._Element:
        """Returns the item element for key, rendering it only when the cache lacks it."""
        element = self.items.get(key)
        if element is None:
            self.misses += 1
            element = self.items[key] = render()
        else:
            self.hits += 1
            if key in self._used:  # the same item twice in one render: an element has one parent
                element = copy.deepcopy(element)
        self._used.add(key)
        return element

    def file(self, key: Hashable, render: Callable[[], bytes]) -> bytes:
        """Returns the bytes of a small file for key, rendering them only when missing."""
        data = self.files.get(key)
        if data is None:
            data = self.files[key] = render()
        self._used.add(key)
        return data

    def keep(self, keys: Iterable[Hashable]) -> None:
        """Marks keys as used by this render without rendering them."""
        self._kept.update(keys)

    def prune(self) -> None:
        """Forgets what the latest render did not use."""
        keep = self._used | self._kept
        self.items = {k: v for k, v in self.items.items() if k in keep}
        self.files = {k: v for k, v in self.files.items() if k in keep}
        self._used, self._kept = set(), set()


_CACHE = FeedCache()


def render_feeds(site: Site, cache: FeedCache | None = None) -> tuple[list[Output], list[FeedItem]]:
    """Returns every feed file of the site (and chapters files) and the items each feed carries.

    Items are memoised in `cache` (by default one cache per process), which never changes the
    bytes, only how much is rendered again.
    """
    cache = _CACHE if cache is None else cache
    outputs: list[Output] = []
    items: list[FeedItem] = []
    with _collector_paused():
        try:
            for show in site.shows:
                _render_show(site, show, cache, outputs, items)
            outputs.append(Output(OPML_FILE, OPML_TYPE, Stage.FEED, data=render_opml(site)))
        finally:
            cache.prune()
    return outputs, items


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pauses the cyclic garbage collector: rendering allocates millions of small objects
    without cycles, and each full collection would walk the whole Site again (a third of the
    time at 10,000 episodes). Reference counting still frees everything."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _render_show(
    site: Site, show: ShowView, cache: FeedCache, outputs: list[Output], items: list[FeedItem]
) -> None:
    audio = [e for e in show.episodes if e.audio is not None]
    feed_path = show.path + FEED_FILE
    data, rss_key = _rss(site, show, audio, cache)
    outputs.append(Output(feed_path, RSS_TYPE, Stage.FEED, data=data))
    items.extend(_feed_items(feed_path, audio, video=False))
    if show.video_feed_url is not None:
        videos = show.video_episodes
        video_path = show.path + VIDEO_FILE
        data = _rss(site, show, videos, cache, video=True)[0]
        outputs.append(Output(video_path, RSS_TYPE, Stage.FEED, data=data))
        items.extend(_feed_items(video_path, videos, video=True))
    json_path = show.path + JSON_FILE
    # Beyond the audio feed's values, the JSON Feed carries topics and video durations.
    extra = tuple(
        (tuple(e.episode.topics), e.video.duration if e.video else None, e.image_url) for e in audio
    )
    json_key = ("json", rss_key, show.json_feed_url, extra)
    data = cache.file(json_key, functools.partial(render_json_feed, show))
    outputs.append(Output(json_path, JSON_FEED_TYPE, Stage.FEED, data=data))
    items.extend(_feed_items(json_path, audio, video=False))
    for episode in show.episodes:
        if episode.chapters is not None:
            marks = tuple((c.start, c.title, c.url) for c in episode.episode.chapters)
            key = ("chapters", episode.title, show.show.title, marks)
            data = cache.file(key, functools.partial(render_chapters, episode))
            outputs.append(Output(episode.chapters.path, CHAPTERS_TYPE, Stage.ASSET, data=data))


def _feed_items(path: str, episodes: list[EpisodeView], video: bool) -> list[FeedItem]:
    items = []
    for episode in episodes:
        enclosure = episode.video if video else episode.audio
        assert enclosure is not None
        guid = video_guid(episode.guid) if video else episode.guid
        manifest = str(episode.entry.manifest)
        items.append(FeedItem(path, guid, enclosure.url, episode.title, manifest))
    return items


# --- RSS ------------------------------------------------------------------------------------


def feed_title(show: ShowView, video: bool = False) -> str:
    """Returns a feed's title: the show's, marked (Video) for the video feed."""
    return f"{show.show.title} (Video)" if video else show.show.title


def _rss(
    site: Site,
    show: ShowView,
    episodes: list[EpisodeView],
    cache: FeedCache,
    video: bool = False,
) -> tuple[bytes, Hashable]:
    """Returns the RSS feed of episodes and its cache key (every value in it)."""
    model = show.show
    feed_url = show.video_feed_url if video and show.video_feed_url else show.feed_url
    channel = channel_tags(show, feed_url, video)
    updated = newest(episodes, default=site.now)
    items = [_item(show, episode, video, channel.persons) for episode in episodes]
    item_keys = tuple(key for key, _ in items)
    key = (
        "rss", feed_url, model.link, model.description, model.language, model.copyright,
        show.artwork.url, updated, channel, item_keys,
    )  # fmt: skip
    cache.keep(item_keys)  # an unchanged feed keeps its items for the next change

    def render() -> bytes:
        return _serialise(show, feed_url, channel, updated, items, cache, video)

    return cache.file(key, render), key


def _serialise(
    show: ShowView,
    feed_url: str,
    channel: ChannelTags,
    updated: datetime,
    items: list[tuple[Hashable, Callable[[], etree._Element]]],
    cache: FeedCache,
    video: bool,
) -> bytes:
    model = show.show
    fg = FeedGenerator()
    fg.register_extension(EXT, PodcastingExtension, PodcastingEntryExtension)
    fg.title(feed_title(show, video))
    # feedgen's RSS <link> is the last link given: the self link goes first.
    fg.link(href=feed_url, rel="self", type="application/rss+xml")
    fg.link(href=model.link, rel="alternate")
    fg.description(model.description)
    fg.language(model.language)
    if model.copyright:
        fg.copyright(model.copyright)
    fg.generator(GENERATOR)
    fg.image(url=show.artwork.url, title=fg.title(), link=model.link)
    fg.lastBuildDate(updated)
    getattr(fg, EXT).set(channel)
    fg.entry([_Rendered(cache.item(key, render)) for key, render in items])
    data: bytes = fg.rss_str(pretty=True, encoding="UTF-8", xml_declaration=True)
    return data


def channel_tags(show: ShowView, feed_url: str, video: bool = False) -> ChannelTags:
    """Returns the channel's itunes: and podcast: tags."""
    model = show.show
    return ChannelTags(
        author=model.author,
        owner_name=model.owner.name,
        owner_email=model.owner.email,
        image=show.artwork.url,
        categories=tuple(rules.split_category(c) for c in model.categories),
        explicit=model.explicit,
        type=model.type.value,
        guid=podcast_guid(feed_url),
        medium="video" if video else "podcast",
        locked=model.locked,
        complete=model.complete,
        funding=tuple(FundingTag(f.url, f.text) for f in model.funding),
        persons=show_persons(show),
    )


def _person(name: str, role: str, href: str | None = None, img: str | None = None) -> PersonTag:
    return PersonTag(name, role, PERSON_GROUPS.get(role), href, img)


def show_persons(show: ShowView) -> tuple[PersonTag, ...]:
    """Returns the show's people (its hosts) as podcast:person tags."""
    return tuple(_person(p.name, p.role, p.href, p.img) for p in show.show.people)


def episode_persons(hosts: tuple[PersonTag, ...], episode: EpisodeView) -> tuple[PersonTag, ...]:
    """Returns the item's people: the show's hosts, the episode's people, credits as writers."""
    model = episode.episode
    if not model.people and not model.credits:
        return hosts
    people = list(hosts)
    people += [_person(p.name, p.role, p.href, p.img) for p in model.people]
    people += [_person(c.name, "writer") for c in model.credits]
    return tuple(dict.fromkeys(people))  # each (name, role...) once, in order


def whole_seconds(duration: float) -> int:
    """Returns a duration as Apple wants it: whole seconds, rounded half up."""
    return int(duration + 0.5)


def item_tags(
    show: ShowView,
    episode: EpisodeView,
    video: bool = False,
    hosts: tuple[PersonTag, ...] | None = None,
) -> ItemTags:
    """Returns an item's itunes: and podcast: tags in the audio or the video feed."""
    model = episode.episode
    enclosure = episode.video if video else episode.audio
    other = episode.audio if video else episode.video
    assert enclosure is not None
    transcript = None
    if episode.transcript is not None:
        t = episode.transcript
        transcript = SidecarTag(t.url, t.type, show.show.language, "captions")
    chapters = None
    if episode.chapters is not None:
        chapters = SidecarTag(episode.chapters.url, episode.chapters.type)
    alternates: tuple[AlternateTag, ...] = ()
    if other is not None:
        alternates = (_alternate(other),)
    return ItemTags(
        duration=whole_seconds(enclosure.duration),
        explicit=episode.explicit,
        episode_type=model.type.value,
        image=episode.image.url if episode.image is not None else None,
        season=model.season,
        episode=model.episode,
        persons=episode_persons(show_persons(show) if hosts is None else hosts, episode),
        transcript=transcript,
        chapters=chapters,
        alternates=alternates,
    )


def _alternate(enclosure: Enclosure) -> AlternateTag:
    title = "Video" if enclosure.is_video else "Audio"
    return AlternateTag(enclosure.type, enclosure.length, enclosure.url, title)


def cdata_safe(html: str) -> str:
    """Returns HTML that can sit in CDATA: `]]>` would end the section, so its `>` becomes
    `&gt;`, which every HTML reader decodes back (sanitised HTML only has it in attributes)."""
    return html.replace("]]>", "]]&gt;")


def _item(
    show: ShowView, episode: EpisodeView, video: bool, hosts: tuple[PersonTag, ...]
) -> tuple[Hashable, Callable[[], etree._Element]]:
    """Returns an item's cache key (every value in its XML) and the function rendering it."""
    enclosure = episode.video if video else episode.audio
    assert enclosure is not None
    model = episode.episode
    guid = video_guid(episode.guid) if video else episode.guid
    summary = model.summary or ""
    content = episode.companion.feed
    tags = item_tags(show, episode, video, hosts)
    key = (
        guid, model.title, episode.url, summary, content, enclosure.url, enclosure.length,
        enclosure.type, episode.published, tags,
    )  # fmt: skip

    def render() -> etree._Element:
        entry = FeedEntry()
        entry.register_extension(EXT, PodcastingEntryExtension)
        entry.title(model.title)
        entry.link(href=episode.url)
        entry.description(summary)
        if content:
            entry.content(cdata_safe(content), type="CDATA")
        entry.guid(guid, permalink=False)
        entry.enclosure(enclosure.url, str(enclosure.length), enclosure.type)
        entry.pubDate(episode.published)
        getattr(entry, EXT).set(tags)
        element: etree._Element = entry.rss_entry()
        return element

    return key, render


# --- JSON Feed, chapters, OPML --------------------------------------------------------------


def render_json_feed(show: ShowView) -> bytes:
    """Returns the show's JSON Feed 1.1: the audio feed's items, with every media file."""
    model = show.show
    feed: dict[str, Any] = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": model.title,
        "home_page_url": model.link,
        "feed_url": show.json_feed_url,
        "description": model.description,
        "icon": show.artwork.url,
        "authors": [{"name": model.author}],
        "language": model.language,
    }
    if model.complete:
        feed["expired"] = True
    feed["_podcast"] = {
        "about": "https://github.com/Podcastindex-org/podcast-namespace",
        "guid": podcast_guid(show.feed_url),
        "rss": show.feed_url,
        "explicit": model.explicit,
        "type": model.type.value,
        "categories": list(model.categories),
        "funding": [{"url": f.url, "text": f.text} for f in model.funding],
    }
    feed["items"] = [_json_item(e) for e in show.episodes if e.audio is not None]
    return (json.dumps(feed, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


def _json_item(episode: EpisodeView) -> dict[str, Any]:
    model = episode.episode
    item: dict[str, Any] = {
        "id": episode.guid,
        "url": episode.url,
        "title": model.title,
        "content_html": episode.companion.feed,
        "summary": model.summary or "",
        "image": episode.image_url,
        "date_published": episode.published.isoformat(),
        "attachments": [
            {
                "url": e.url,
                "mime_type": e.type,
                "size_in_bytes": e.length,
                "duration_in_seconds": whole_seconds(e.duration),
            }
            for e in episode.enclosures
        ],
    }
    if model.topics:
        item["tags"] = list(model.topics)
    podcast: dict[str, Any] = {"episode_type": model.type.value, "explicit": episode.explicit}
    if model.season is not None:
        podcast["season"] = model.season
    if model.episode is not None:
        podcast["episode"] = model.episode
    if episode.chapters is not None:
        podcast["chapters"] = episode.chapters.url
    if episode.transcript is not None:
        podcast["transcript"] = {"url": episode.transcript.url, "type": episode.transcript.type}
    item["_podcast"] = podcast
    return item


def render_chapters(episode: EpisodeView) -> bytes:
    """Returns the episode's Podcasting 2.0 JSON chapters (application/json+chapters)."""
    chapters = []
    for chapter in episode.episode.chapters:
        start = chapter.start
        mark: dict[str, Any] = {"startTime": int(start) if start == int(start) else start}
        mark["title"] = chapter.title
        if chapter.url:
            mark["url"] = chapter.url
        chapters.append(mark)
    data = {
        "version": CHAPTERS_VERSION,
        "title": episode.title,
        "podcastName": episode.show.show.title,
        "chapters": chapters,
    }
    # json's C encoder runs only without indent: ten thousand small files add up.
    return (json.dumps(data, ensure_ascii=False) + "\n").encode("utf-8")


def render_opml(site: Site) -> bytes:
    """Returns index.opml: every RSS feed of the site with its title and URL."""
    opml = etree.Element("opml", version="2.0")
    head = etree.SubElement(opml, "head")
    etree.SubElement(head, "title").text = site.settings.site.title
    body = etree.SubElement(opml, "body")
    for show in site.shows:
        feeds = [(feed_title(show), show.feed_url)]
        if show.video_feed_url is not None:
            feeds.append((feed_title(show, video=True), show.video_feed_url))
        for title, url in feeds:
            etree.SubElement(
                body,
                "outline",
                {"type": "rss", "text": title, "title": title, "xmlUrl": url, "htmlUrl": show.url},
            )
    data: bytes = etree.tostring(opml, pretty_print=True, encoding="UTF-8", xml_declaration=True)
    return data


def newest(episodes: list[EpisodeView], default: datetime) -> datetime:
    """Returns the newest publication time among episodes, default when there are none."""
    return max((e.published for e in episodes), default=default)
