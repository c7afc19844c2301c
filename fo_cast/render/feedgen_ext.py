"""feedgen extensions for the tags feedgen 1.0 lacks or gets wrong.

feedgen's own `podcast` extension writes Apple's old values (`itunes:explicit` yes/no/clean,
durations as text, no `itunes:type`) and knows nothing of the Podcasting 2.0 namespace. These
extensions write Apple's current values and the `podcast:` tags; fo-cast's models have already
decided what is valid, so the extensions only serialise (see feedgen/ext/base.py).

The tags are named tuples: immutable, and hashed in C, because `feeds.py` uses an item's tags
as part of the key under which its rendered XML is cached.
"""

from __future__ import annotations

from typing import NamedTuple

from feedgen.ext.base import BaseEntryExtension, BaseExtension
from lxml import etree

ITUNES_NS = "http://www.itunes.com/dtds/podcast-1.0.dtd"
# The Podcast Index names two URIs for its namespace and requires clients to treat them as
# identical; podcastparser (gPodder) and other older readers know only the GitHub one, so it
# reaches every app that reads podcast: tags at all.
PODCAST_NS = "https://github.com/Podcastindex-org/podcast-namespace/blob/main/docs/1.0.md"
NAMESPACES = {"itunes": ITUNES_NS, "podcast": PODCAST_NS}

_I = "{" + ITUNES_NS + "}"
_P = "{" + PODCAST_NS + "}"
_Sub = etree.SubElement


class PersonTag(NamedTuple):
    """podcast:person: a host, guest, writer... (group omitted when it is the default, cast)."""

    name: str
    role: str
    group: str | None = None
    href: str | None = None
    img: str | None = None


class FundingTag(NamedTuple):
    url: str
    text: str


class SidecarTag(NamedTuple):
    """podcast:transcript or podcast:chapters: a file next to the episode."""

    url: str
    type: str
    language: str | None = None
    rel: str | None = None


class AlternateTag(NamedTuple):
    """podcast:alternateEnclosure with its one podcast:source."""

    type: str
    length: int | None
    uri: str
    title: str | None = None


class ChannelTags(NamedTuple):
    """The channel's itunes: and podcast: tags."""

    author: str
    owner_name: str
    owner_email: str
    image: str
    categories: tuple[tuple[str, str | None], ...]
    explicit: bool
    type: str  # episodic | serial
    guid: str
    medium: str  # podcast | video
    locked: bool
    complete: bool = False
    new_feed_url: str | None = None  # itunes:new-feed-url, when the feed moves
    funding: tuple[FundingTag, ...] = ()
    persons: tuple[PersonTag, ...] = ()
    hub: str | None = None  # a WebSub hub: <atom:link rel="hub">


class ItemTags(NamedTuple):
    """An item's itunes: and podcast: tags."""

    duration: int | None  # whole seconds; None when the manifest gives none
    explicit: bool
    episode_type: str  # full | trailer | bonus
    image: str | None = None
    season: int | None = None
    episode: int | None = None
    persons: tuple[PersonTag, ...] = ()
    transcript: SidecarTag | None = None
    chapters: SidecarTag | None = None
    alternates: tuple[AlternateTag, ...] = ()


def _text(parent: etree._Element, tag: str, text: str, **attrib: str) -> etree._Element:
    element = _Sub(parent, tag, attrib)
    element.text = text
    return element


def _persons(parent: etree._Element, persons: tuple[PersonTag, ...]) -> None:
    for person in persons:
        attrib = {"role": person.role}
        if person.group:
            attrib["group"] = person.group
        if person.img:
            attrib["img"] = person.img
        if person.href:
            attrib["href"] = person.href
        _text(parent, _P + "person", person.name, **attrib)


def _sidecar(parent: etree._Element, tag: str, sidecar: SidecarTag) -> None:
    attrib = {"url": sidecar.url, "type": sidecar.type}
    if sidecar.language:
        attrib["language"] = sidecar.language
    if sidecar.rel:
        attrib["rel"] = sidecar.rel
    _Sub(parent, tag, attrib)


def _bool(value: bool) -> str:
    return "true" if value else "false"


class PodcastingExtension(BaseExtension):
    """Channel tags: Apple's itunes: (current values) and Podcasting 2.0 podcast:."""

    def __init__(self) -> None:
        self.tags: ChannelTags | None = None

    def set(self, tags: ChannelTags) -> None:
        self.tags = tags

    def extend_ns(self) -> dict[str, str]:
        return dict(NAMESPACES)

    def extend_rss(self, rss: etree._Element) -> etree._Element:
        tags = self.tags
        if tags is None:
            return rss
        channel = rss[0]
        _text(channel, _I + "author", tags.author)
        owner = _Sub(channel, _I + "owner")
        _text(owner, _I + "name", tags.owner_name)
        _text(owner, _I + "email", tags.owner_email)
        _Sub(channel, _I + "image", {"href": tags.image})
        for main, sub in tags.categories:
            category = _Sub(channel, _I + "category", {"text": main})
            if sub:
                _Sub(category, _I + "category", {"text": sub})
        _text(channel, _I + "explicit", _bool(tags.explicit))
        _text(channel, _I + "type", tags.type)
        if tags.complete:
            _text(channel, _I + "complete", "Yes")
        if tags.new_feed_url:
            _text(channel, _I + "new-feed-url", tags.new_feed_url)
        _text(channel, _P + "guid", tags.guid)
        _text(channel, _P + "medium", tags.medium)
        _text(channel, _P + "locked", "yes" if tags.locked else "no", owner=tags.owner_email)
        for funding in tags.funding:
            _text(channel, _P + "funding", funding.text, url=funding.url)
        _persons(channel, tags.persons)
        if tags.hub:  # feedgen writes only the self link into RSS
            _Sub(channel, "{http://www.w3.org/2005/Atom}link", {"rel": "hub", "href": tags.hub})
        return rss


class PodcastingEntryExtension(BaseEntryExtension):
    """Item tags: Apple's itunes: (integer duration, true/false) and Podcasting 2.0 podcast:."""

    def __init__(self) -> None:
        self.tags: ItemTags | None = None

    def set(self, tags: ItemTags) -> None:
        self.tags = tags

    def extend_rss(self, item: etree._Element) -> etree._Element:
        tags = self.tags
        if tags is None:
            return item
        if tags.duration is not None:
            _text(item, _I + "duration", str(tags.duration))
        if tags.image:
            _Sub(item, _I + "image", {"href": tags.image})
        _text(item, _I + "explicit", _bool(tags.explicit))
        _text(item, _I + "episodeType", tags.episode_type)
        if tags.season is not None:
            _text(item, _I + "season", str(tags.season))
        if tags.episode is not None:
            _text(item, _I + "episode", str(tags.episode))
        if tags.season is not None:
            _text(item, _P + "season", str(tags.season))
        if tags.episode is not None:
            _text(item, _P + "episode", str(tags.episode))
        _persons(item, tags.persons)
        if tags.transcript is not None:
            _sidecar(item, _P + "transcript", tags.transcript)
        if tags.chapters is not None:
            _sidecar(item, _P + "chapters", tags.chapters)
        for alternate in tags.alternates:
            attrib = {"type": alternate.type}
            if alternate.length is not None:
                attrib["length"] = str(alternate.length)
            if alternate.title:
                attrib["title"] = alternate.title
            element = _Sub(item, _P + "alternateEnclosure", attrib)
            _Sub(element, _P + "source", {"uri": alternate.uri, "contentType": alternate.type})
        return item
