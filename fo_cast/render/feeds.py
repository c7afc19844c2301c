"""Site -> podcast feeds: RSS 2.0 with Apple and Podcasting 2.0 tags (feedgen), JSON Feed 1.1,
Podcasting 2.0 chapters and `index.opml`. Pure: the same Site gives the same bytes.

Per show:

    <show>/feed.xml    main RSS: every episode, enclosure = the audio (the video for an
                       episode with only video, which keeps its own GUID)
    <show>/video.xml   video RSS, when the show has video: enclosure = the video, GUID =
                       video_guid(episode GUID) for episodes that also have audio, so an
                       audio item and a video item never share a GUID (site.item_guid)
    <show>/feed.json   JSON Feed 1.1: the audio feed's items, every media file attached
    <show>/<episode>/chapters.json   for episodes with chapters

Nothing reads the clock: `lastBuildDate` is the newest item's date (the site's `now` for a feed
without items), and items keep the Site's feed order (episodic newest first, serial oldest
first); feedgen would otherwise stamp now() and prepend entries.

feedgen builds each <item> once: the item's bytes, cut from the feed feedgen serialised, are
kept in a `RenderCache` under a digest of the show and the episode, and a feed is its channel
(rendered each time, with no items) followed by its items' bytes. A rebuild serialises only
new or changed items, and the bytes are the same as a cold render's.
"""

from __future__ import annotations

import functools
import json
from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape as xml_escape

from feedgen.entry import FeedEntry
from feedgen.feed import FeedGenerator
from lxml import etree

from fo_cast import rules
from fo_cast.gcpause import paused_gc
from fo_cast.outputs import (
    FEED_FILE,
    JSON_FILE,
    OPML_FILE,
    VIDEO_FILE,
    Body,
    FeedItem,
    Output,
    Stage,
)
from fo_cast.render.cache import RenderCache, joined, key
from fo_cast.render.feedgen_ext import (
    AlternateTag,
    ChannelTags,
    FundingTag,
    ItemTags,
    PersonTag,
    PodcastingEntryExtension,
    PodcastingExtension,
    SidecarTag,
)
from fo_cast.render.site import (
    Enclosure,
    EpisodeView,
    ShowView,
    Site,
    item_guid,
)

RSS_TYPE = "application/rss+xml; charset=utf-8"
JSON_FEED_TYPE = "application/feed+json; charset=utf-8"
CHAPTERS_TYPE = "application/json; charset=utf-8"
OPML_TYPE = "text/x-opml; charset=utf-8"
CHAPTERS_VERSION = "1.2.0"
GENERATOR = "fo-cast"
EXT = "podcasting"  # the name feedgen gives our extension on FeedGenerator and FeedEntry


# How lxml's pretty printer lays out a channel's items: each starts its own line at depth 2,
# and the channel closes the document. Only an <item> tag can start such a line: text and
# attributes are escaped, and sanitised HTML in CDATA has no <item> tag.
ITEM_START = b"\n    <item>\n"
ITEM_END = b"    </item>\n"
FEED_END = b"  </channel>\n</rss>\n"
BATCH = 256  # items serialised at a time


def render_feeds(
    site: Site, cache: RenderCache | None = None
) -> tuple[list[Output], list[FeedItem]]:
    """Returns every feed file of the site (and chapters files) and the items each feed carries.

    Items and chapters are taken from `cache` when it has them (a fresh in-memory cache by
    default), which never changes the bytes, only how much is rendered again. The caller
    saves or prunes the cache.
    """
    cache = RenderCache() if cache is None else cache
    outputs: list[Output] = []
    items: list[FeedItem] = []
    with paused_gc():
        for show in site.shows:
            _render_show(site, show, cache, outputs, items)
        outputs.append(Output(OPML_FILE, OPML_TYPE, Stage.FEED, data=render_opml(site)))
    return outputs, items


def _render_show(
    site: Site, show: ShowView, cache: RenderCache, outputs: list[Output], items: list[FeedItem]
) -> None:
    audio = [e for e in show.episodes if e.main is not None]
    feed_path = show.path + FEED_FILE
    outputs.append(Output(feed_path, RSS_TYPE, Stage.FEED, data=_rss(site, show, audio, cache)))
    items.extend(_feed_items(feed_path, audio, video=False))
    if show.video_feed_url is not None:
        videos = show.video_episodes
        video_path = show.path + VIDEO_FILE
        data = _rss(site, show, videos, cache, video=True)
        outputs.append(Output(video_path, RSS_TYPE, Stage.FEED, data=data))
        items.extend(_feed_items(video_path, videos, video=True))
    json_path = show.path + JSON_FILE
    outputs.append(
        Output(json_path, JSON_FEED_TYPE, Stage.FEED, data=render_json_feed(show, cache))
    )
    items.extend(_feed_items(json_path, audio, video=False))
    for episode in show.episodes:
        if episode.chapters is not None and episode.chapters.path is not None:
            data = cache.fetch_body(
                key("chapters", show.fingerprint, episode.fingerprint),
                functools.partial(render_chapters, episode),
            )
            outputs.append(Output(episode.chapters.path, CHAPTERS_TYPE, Stage.ASSET, data=data))


def _feed_items(path: str, episodes: list[EpisodeView], video: bool) -> list[FeedItem]:
    items = []
    for episode in episodes:
        enclosure = episode.video if video else episode.main
        assert enclosure is not None
        guid = item_guid(episode, video)
        manifest = str(episode.entry.manifest)
        items.append(
            FeedItem(path, guid, enclosure.url, episode.title, manifest, page_url=episode.url)
        )
    return items


# --- RSS ------------------------------------------------------------------------------------


def feed_title(show: ShowView, video: bool = False) -> str:
    """Returns a feed's title: the show's, marked (Video) for the video feed."""
    return f"{show.show.title} (Video)" if video else show.show.title


def _rss(
    site: Site,
    show: ShowView,
    episodes: list[EpisodeView],
    cache: RenderCache,
    video: bool = False,
) -> bytes | Body:
    """Returns the RSS feed of episodes, serialising only the items the cache lacks: bytes, or
    (with a cache on disk) the channel and the items' places in the cache's pack."""
    feed_url, channel = _channel(site, show, video)
    updated = newest(episodes, default=site.now)
    label = "rss/video" if video else "rss/audio"
    keys = [key(label, show.fingerprint, e.fingerprint) for e in episodes]
    parts: list[bytes | Body | None] = [cache.find(k) for k in keys]
    missing = [i for i, part in enumerate(parts) if part is None]
    head = None
    # A few hundred items at a time: feedgen and lxml hold every item they serialise as a
    # tree, some 20 KB each, and an item's bytes do not depend on the items beside it.
    for batch in (missing[n : n + BATCH] for n in range(0, len(missing), BATCH)):
        entries = [_item(show, episodes[i], video, channel.persons) for i in batch]
        cut = _cut(_serialise(show, feed_url, channel, updated, entries, video), len(entries))
        if cut is None:  # not laid out as expected: the whole feed, rendered now, is still right
            entries = [_item(show, e, video, channel.persons) for e in episodes]
            return _serialise(show, feed_url, channel, updated, entries, video)
        head, rendered = cut
        for i, fragment in zip(batch, rendered, strict=True):
            parts[i] = cache.put(keys[i], fragment)
    if head is None:  # every item from the cache: the channel alone
        cut = _cut(_serialise(show, feed_url, channel, updated, [], video), 0)
        if cut is None:
            entries = [_item(show, e, video, channel.persons) for e in episodes]
            return _serialise(show, feed_url, channel, updated, entries, video)
        head = cut[0]
    return joined([head, *parts, FEED_END])  # type: ignore[list-item]


def _channel(site: Site, show: ShowView, video: bool) -> tuple[str, ChannelTags]:
    feed_url = show.video_feed_url if video and show.video_feed_url else show.feed_url
    channel = channel_tags(show, feed_url, video)._replace(hub=site.settings.notify.websub_hub)
    return feed_url, channel


def feed_item(site: Site, show: ShowView, episode: EpisodeView, feed: str) -> bytes | None:
    """Returns an episode's item as it sits in the show's feed at path feed (feed.xml,
    video.xml or feed.json): the very bytes a whole render puts there (an item does not depend
    on the items beside it). None when the RSS is not laid out as expected."""
    if feed.endswith(JSON_FILE):
        return _json_item_bytes(episode)
    video = feed.endswith(VIDEO_FILE)
    feed_url, channel = _channel(site, show, video)
    entry = _item(show, episode, video, channel.persons)
    cut = _cut(_serialise(show, feed_url, channel, site.now, [entry], video), 1)
    return None if cut is None else cut[1][0]


JSON_ITEM_START = b'{"id":'  # only an item opens with its "id": no object inside one does


def item_spans(feed: str, data: bytes) -> list[tuple[int, int]] | None:
    """Returns where each item of a rendered feed (path feed) sits in its bytes, as (start,
    end), in feed order; None when the feed is not laid out as these renderers lay it out."""
    if feed.endswith(JSON_FILE):
        start = data.find(b',"items":[')
        if start < 0 or not data.endswith(b"]}\n"):
            return None
        at, end = start + len(b',"items":['), len(data) - len(b"]}\n")
        if at == end:
            return []
        starts = [at]
        found = data.find(b"," + JSON_ITEM_START, at)
        while 0 <= found < end:
            starts.append(found + 1)
            found = data.find(b"," + JSON_ITEM_START, found + 1)
        if not data.startswith(JSON_ITEM_START, at):
            return None
        return [(a, b - 1) for a, b in zip(starts, starts[1:], strict=False)] + [(starts[-1], end)]
    cut = _cut(data, data.count(ITEM_START))
    if cut is None:
        return None
    head, items = cut
    spans, at = [], len(head)
    for item in items:
        spans.append((at, at + len(item)))
        at += len(item)
    return spans


def carries(feed: str, item: bytes, guid: str) -> bool:
    """Returns whether an item's bytes (of the feed at path feed) are those of the GUID."""
    if feed.endswith(JSON_FILE):
        return item.startswith(JSON_ITEM_START + _json_dumps(guid).encode("utf-8") + b",")
    wanted = f'<guid isPermaLink="false">{xml_escape(guid)}</guid>'.encode()
    return item.count(b"<guid ") == 1 and wanted in item


def _cut(data: bytes, count: int) -> tuple[bytes, list[bytes]] | None:
    """Returns a serialised feed as its channel (up to the items) and its items' bytes, or
    None when it does not hold exactly `count` items laid out as lxml lays them out."""
    if not data.endswith(FEED_END):
        return None
    end = len(data) - len(FEED_END)
    starts = []
    at = data.find(ITEM_START)
    while 0 <= at < end:
        starts.append(at + 1)
        at = data.find(ITEM_START, at + 1)
    if len(starts) != count:
        return None
    bounds = [*starts, end]
    items = [data[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]
    if not all(item.endswith(ITEM_END) for item in items):
        return None
    return data[: bounds[0]], items


def _serialise(
    show: ShowView,
    feed_url: str,
    channel: ChannelTags,
    updated: datetime,
    entries: list[FeedEntry],
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
    fg.entry(entries)
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
        guid=show_guid(show, feed_url),
        medium="video" if video or show.video_only else "podcast",
        locked=model.locked,
        complete=model.complete,
        new_feed_url=None if video else model.new_feed_url,
        funding=tuple(FundingTag(f.url, f.text) for f in model.funding),
        persons=show_persons(show),
    )


def show_guid(show: ShowView, feed_url: str) -> str:
    """Returns a channel's podcast:guid: for the main feed the one the show keeps (imported
    shows keep the Podcast Index's), else the UUIDv5 of the feed URL."""
    if feed_url == show.feed_url and show.show.podcast_guid:
        return show.show.podcast_guid
    return rules.podcast_guid(feed_url)


def _person(name: str, role: str, href: str | None = None, img: str | None = None) -> PersonTag:
    return PersonTag(name, role, rules.PERSON_GROUPS.get(role), href, img)


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
    enclosure = episode.video if video else episode.main
    other = episode.audio if video else episode.video
    if other is enclosure:  # an episode with only video: no alternate of itself
        other = None
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
    alternates += tuple(
        AlternateTag(a.type, a.length, a.url, a.title) for a in model.alternate_enclosures
    )
    return ItemTags(
        duration=None if enclosure.duration is None else whole_seconds(enclosure.duration),
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
    return AlternateTag(enclosure.type, enclosure.length, enclosure.feed_url, title)


def cdata_safe(html: str) -> str:
    """Returns HTML that can sit in CDATA: `]]>` would end the section, so its `>` becomes
    `&gt;`, which every HTML reader decodes back (sanitised HTML only has it in attributes)."""
    return html.replace("]]>", "]]&gt;")


def _item(
    show: ShowView, episode: EpisodeView, video: bool, hosts: tuple[PersonTag, ...]
) -> FeedEntry:
    """Returns an episode's item in the audio or the video feed, for feedgen to serialise."""
    enclosure = episode.video if video else episode.main
    assert enclosure is not None
    model = episode.episode
    guid = item_guid(episode, video)
    content = episode.companion.feed
    entry = FeedEntry()
    entry.register_extension(EXT, PodcastingEntryExtension)
    entry.title(model.title)
    entry.link(href=episode.url)
    entry.description(model.summary or "")
    if content:
        entry.content(cdata_safe(content), type="CDATA")
    entry.guid(guid, permalink=False)
    entry.enclosure(enclosure.feed_url, str(enclosure.length), enclosure.type)
    entry.pubDate(episode.published)
    getattr(entry, EXT).set(item_tags(show, episode, video, hosts))
    return entry


# --- JSON Feed, chapters, OPML --------------------------------------------------------------


def render_json_feed(show: ShowView, cache: RenderCache | None = None) -> bytes | Body:
    """Returns the show's JSON Feed 1.1: the audio feed's items, with every media file.

    Each item is encoded on its own (and taken from `cache` when it has it): with the same
    separators, json.dumps of the whole feed is the same bytes.
    """
    cache = RenderCache() if cache is None else cache
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
        "guid": show_guid(show, show.feed_url),
        "rss": show.feed_url,
        "explicit": model.explicit,
        "type": model.type.value,
        "categories": list(model.categories),
        "funding": [{"url": f.url, "text": f.text} for f in model.funding],
    }
    parts: list[bytes | Body] = []
    for episode in show.episodes:
        if episode.main is not None:
            if parts:
                parts.append(b",")
            item = cache.fetch_body(
                key("json", show.fingerprint, episode.fingerprint),
                functools.partial(_json_item_bytes, episode),
            )
            parts.append(item)
    head = _json_dumps(feed)[:-1] + ',"items":['  # the items go last, in the same object
    return joined([head.encode("utf-8"), *parts, b"]}\n"])


def _json_dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def _json_item_bytes(episode: EpisodeView) -> bytes:
    return _json_dumps(_json_item(episode)).encode("utf-8")


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
                "url": e.feed_url,
                "mime_type": e.type,
                "size_in_bytes": e.length,
                **(
                    {} if e.duration is None else {"duration_in_seconds": whole_seconds(e.duration)}
                ),
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
        for _, url in show.rss_feeds:
            title = feed_title(show, video=url == show.video_feed_url)
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
