"""An RSS channel and its items -> the data of show.yaml and episode.yaml, with a note for
each value that had to change on the way (a retired category, an alias type, a shortened
summary). Pure: reads lxml elements, writes nothing.
"""

from __future__ import annotations

import urllib.parse
import uuid
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from fo_cast import rules
from fo_cast.catalogue import feedmap
from fo_cast.catalogue.feedread import NAMESPACES, SourceFeed

ITUNES = NAMESPACES["itunes"]
CONTENT = NAMESPACES["content"]
ATOM = NAMESPACES["atom"]
# The Podcast Index namespace goes by several URIs; readers must treat them alike.
PODCAST = frozenset(
    {
        "https://podcastindex.org/namespace/1.0",
        "http://podcastindex.org/namespace/1.0",
        "https://github.com/Podcastindex-org/podcast-namespace/blob/main/docs/1.0.md",
    }
)
MAX_SUMMARY_BYTES = 4000  # Apple's limit for an item description


@dataclass
class Skipped:
    item: str  # how the item is known: its GUID, else its title
    reason: str


@dataclass
class Notes:
    """What a conversion says about the source: items skipped and why, and warnings."""

    skipped: list[Skipped] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


# --- element helpers ------------------------------------------------------------------------


class Tags:
    """An element's children by namespace and name, gathered in one pass (feeds are big)."""

    def __init__(self, element: etree._Element) -> None:
        self.by: dict[tuple[str, str], list[etree._Element]] = {}
        for child in element.iterchildren("*"):
            try:
                qname = etree.QName(child)
                namespace, name = qname.namespace or "", qname.localname
            except ValueError:  # libxml2's recovery keeps an undeclared prefix in the name
                prefix, _, name = str(child.tag).rpartition(":")
                namespace = NAMESPACES.get(prefix, "")
            ns = "podcast" if namespace in PODCAST else namespace
            self.by.setdefault((ns, name), []).append(child)

    def all(self, ns: str, name: str) -> list[etree._Element]:
        return self.by.get((ns, name), [])

    def first(self, ns: str, name: str) -> etree._Element | None:
        found = self.by.get((ns, name))
        return found[0] if found else None

    def text(self, ns: str, name: str) -> str | None:
        element = self.first(ns, name)
        if element is None:
            return None
        value = "".join(element.itertext()).strip()
        return value or None


def attribute(element: etree._Element | None, name: str) -> str | None:
    if element is None:
        return None
    value = (element.get(name) or "").strip()
    return value or None


def _url(value: str | None) -> str | None:
    """Returns the URL as fo-cast accepts it, or None. One that is only unescaped (a space,
    a non-ASCII letter: apps and browsers escape them when they fetch) is taken escaped."""
    if value is None:
        return None
    value = value.strip()
    if not value.isascii():  # ä.mp3: escaped in the path, query and fragment (not the host)
        try:
            parts = urllib.parse.urlsplit(value)
        except ValueError:
            return None
        value = urllib.parse.urlunsplit(
            (parts.scheme, parts.netloc, *(urllib.parse.quote(p, safe=URL_SAFE) for p in parts[2:]))
        )
    try:
        return rules.check_url(value)
    except ValueError:
        pass
    escaped = urllib.parse.quote(value, safe=URL_SAFE)
    try:
        return rules.check_url(escaped)
    except ValueError:
        return None


# What a URL may hold unescaped (RFC 3986's reserved and unreserved characters, and % for the
# escapes already there)
URL_SAFE = ":/?#[]@!$&'()*+,;=%~-._"


# --- channel -> show.yaml -------------------------------------------------------------------


def show_manifest(feed: SourceFeed, tags: Tags, slug: str, result: Notes) -> dict[str, Any]:
    """Returns the show.yaml data for the feed's channel."""
    warn = result.warnings.append
    title = tags.text("", "title") or tags.text(ITUNES, "title")
    if not title:
        title = slug.replace("-", " ").title()
        warn(f"the channel has no title; wrote '{title}'")
    description = tags.text(ITUNES, "summary") or tags.text("", "description")
    if not description:
        description = title
        warn("the channel has no description; wrote its title")
    language = (tags.text("", "language") or "").replace("_", "-")
    try:
        rules.check_language(language)
    except ValueError:
        warn(f"the channel's language '{language}' is not a language code; wrote 'en'")
        language = "en"
    owner = tags.first(ITUNES, "owner")
    owner_tags = Tags(owner) if owner is not None else None
    owner_name = owner_tags.text(ITUNES, "name") if owner_tags else None
    owner_email = owner_tags.text(ITUNES, "email") if owner_tags else None
    author = tags.text(ITUNES, "author") or owner_name or title
    data: dict[str, Any] = {
        "title": title,
        "description": feedmap.plain_text(description),
        "language": language,
        "author": author,
        "owner": {"name": owner_name or author},
    }
    email = owner_email or _editor_email(tags)
    if email:
        data["owner"]["email"] = email
    else:
        warn("the channel has no owner email (itunes:owner); add owner.email to show.yaml")
    artwork = _url(attribute(tags.first(ITUNES, "image"), "href"))
    image = tags.first("", "image")
    artwork = artwork or (_url(Tags(image).text("", "url")) if image is not None else None)
    if artwork:
        data["artwork"] = artwork
    else:
        warn("the channel has no artwork URL; put artwork.png in the show folder")
    data["categories"] = _categories(tags, result)
    flag = feedmap.explicit(tags.text(ITUNES, "explicit"))
    data["explicit"] = bool(flag)
    kind = (tags.text(ITUNES, "type") or "episodic").lower()
    data["type"] = kind if kind in ("episodic", "serial") else "episodic"
    link = _url(tags.text("", "link"))
    data["link"] = link or _url(feed.source) or "https://example.com/"
    if not link:
        warn("the channel has no link to the show's website; set link in show.yaml")
    copyright_line = tags.text("", "copyright")
    if copyright_line:
        data["copyright"] = copyright_line
    _channel_podcast_tags(feed, tags, data, result)
    return data


def _editor_email(tags: Tags) -> str | None:
    # managingEditor is "email (Name)" in RSS 2.0
    editor = (tags.text("", "managingEditor") or "").split(" ")[0]
    try:
        return rules.check_email(editor)
    except ValueError:
        return None


def _categories(tags: Tags, result: Notes) -> list[str]:
    found: list[str] = []
    for element in tags.all(ITUNES, "category"):
        main = attribute(element, "text")
        if not main:
            continue
        subs: list[str | None] = [
            attribute(s, "text") for s in element.iterchildren(f"{{{ITUNES}}}category")
        ]
        wanted: list[str | None] = [s for s in subs if s] or [None]
        for sub in wanted:
            mapped, note = feedmap.category(main, sub)
            if note:
                result.warnings.append(note)
            if mapped and mapped not in found:
                found.append(mapped)
    if not found:
        result.warnings.append("no Apple Podcasts category; add one to categories in show.yaml")
    return found


def _channel_podcast_tags(
    feed: SourceFeed, tags: Tags, data: dict[str, Any], result: Notes
) -> None:
    people = _people(tags, result)
    if people:
        data["people"] = people
    funding = []
    for element in tags.all("podcast", "funding"):
        url = _url(attribute(element, "url"))
        text = " ".join("".join(element.itertext()).split()) or "Support the show"
        if url:
            funding.append({"url": url, "text": text[:128]})
    if funding:
        data["funding"] = funding
    locked = tags.text("podcast", "locked")
    if locked is not None:
        data["locked"] = locked.lower() == "yes"
    if feedmap.explicit(tags.text(ITUNES, "complete")):
        data["complete"] = True
    guid = tags.text("podcast", "guid")
    if guid:
        try:
            uuid.UUID(guid)
            data["podcast_guid"] = guid
        except ValueError:
            result.warnings.append(f"podcast:guid '{guid}' is not a UUID; left out")
    previous = []
    for url in (_self_link(tags), _url(feed.source)):
        if url and url not in previous:
            previous.append(url)
    if previous:
        data["previous_feed_urls"] = previous
        # A show's podcast:guid is seeded once, from the feed URL it had then, and follows
        # it when it moves: without one in the feed, the Podcast Index knows the show by the
        # GUID of the URL it was found at, not of the one it moves to.
        data.setdefault("podcast_guid", rules.podcast_guid(previous[0]))
    moved = _url(tags.text(ITUNES, "new-feed-url"))
    if moved and moved not in previous:
        result.warnings.append(
            f"the feed says it moved to {moved} (itunes:new-feed-url); import that one if it "
            "is the show's current feed"
        )


def _self_link(tags: Tags) -> str | None:
    for link in tags.all(ATOM, "link"):
        if link.get("rel") == "self":
            return _url(link.get("href"))
    return None


def _people(tags: Tags, result: Notes) -> list[dict[str, str]]:
    people = []
    for element in tags.all("podcast", "person"):
        name = " ".join("".join(element.itertext()).split())
        if not name:
            continue
        person = {"name": name}
        role = (attribute(element, "role") or "host").lower()
        if role in rules.PERSON_ROLES:
            person["role"] = role
        else:
            result.warnings.append(f"podcast:person '{name}': role '{role}' unknown; wrote guest")
        for key in ("href", "img"):
            url = _url(attribute(element, key))
            if url:
                person[key] = url
        people.append(person)
    return people


# --- item -> episode.yaml -------------------------------------------------------------------


def episode_manifest(
    tags: Tags, guid: str, title: str | None, result: Notes
) -> tuple[dict[str, Any], str, str] | None:
    """Returns (episode.yaml data, the show notes, enclosure URL), or None when skipped.

    The notes are the item's HTML or text, for feedmap.companion_markdown (the slow part of
    an import, which the importer runs in worker processes)."""
    warn = result.warnings.append
    name = title or guid
    media = [m for m in (_media(e, name, result) for e in tags.all("", "enclosure")) if m]
    if not media:
        result.skipped.append(Skipped(guid, "no usable enclosure: not an episode"))
        return None
    data: dict[str, Any] = {"guid": guid, "title": title or guid}
    if not title:
        warn(f"'{guid}': no title; wrote its GUID")
    stamp = tags.text("", "pubDate") or tags.text("http://purl.org/dc/elements/1.1/", "date")
    when = feedmap.published(stamp)
    if when is None:
        data["status"] = "draft"
        warn(f"'{name}': unreadable date '{stamp or ''}'; written as a draft: set published")
    else:
        data["published"] = when.isoformat()
        data["status"] = "published"
    notes = tags.text(CONTENT, "encoded") or tags.text("", "description") or ""
    summary_source = tags.text(ITUNES, "summary") or tags.text("", "description") or notes
    data["summary"] = _summary(feedmap.plain_text(summary_source) or name, name, result)
    data["media"] = [media[0]]
    _duration(tags, media[0], name, result)
    _numbers(tags, data, name, result)
    _item_extras(tags, data, name, result)
    # further <enclosure>s (RSS allows one; some hosts add more) become alternates
    keys = ("url", "type", "length")
    alternates: list[dict[str, Any]] = [
        {k: m[k] for k in keys if k in m} for m in media[1:] if "type" in m
    ]
    alternates += _alternates(tags)
    if alternates:
        data["alternate_enclosures"] = alternates
    return data, notes if notes.strip() else data["summary"], media[0]["url"]


def _item_extras(tags: Tags, data: dict[str, Any], name: str, result: Notes) -> None:
    """Adds the item's type, explicit flag, artwork, people, chapters and transcript."""
    kind = (tags.text(ITUNES, "episodeType") or "full").lower()
    if kind in ("trailer", "bonus"):
        data["type"] = kind
    elif kind != "full":
        result.warnings.append(f"'{name}': episodeType '{kind}' unknown; wrote full")
    flag = feedmap.explicit(tags.text(ITUNES, "explicit"))
    if tags.text(ITUNES, "explicit") is not None and flag is not None:
        data["explicit"] = flag
    image = _url(attribute(tags.first(ITUNES, "image"), "href"))
    if image:
        data["image"] = image
    people = _people(tags, result)
    if people:
        data["people"] = people
    chapters = _url(attribute(tags.first("podcast", "chapters"), "url"))
    if chapters:
        data["chapters_url"] = chapters
    transcripts = [_url(attribute(t, "url")) for t in tags.all("podcast", "transcript")]
    found = [t for t in transcripts if t]
    if found:
        data["transcript"] = found[0]
        if len(found) > 1:
            result.warnings.append(f"'{name}': kept the first of {len(found)} transcripts")


def _summary(text: str, name: str, result: Notes) -> str:
    encoded = text.encode("utf-8")
    if len(encoded) <= MAX_SUMMARY_BYTES:
        return text
    cut = encoded[: MAX_SUMMARY_BYTES - 4].decode("utf-8", "ignore").rsplit(" ", 1)[0]
    result.warnings.append(
        f"'{name}': summary shortened to {MAX_SUMMARY_BYTES} bytes (Apple's limit); "
        "the whole text is in companion.md"
    )
    return cut + " …"


def _media(element: etree._Element, name: str, result: Notes) -> dict[str, Any] | None:
    url = _url(attribute(element, "url"))
    if url is None:
        result.warnings.append(f"'{name}': enclosure URL '{attribute(element, 'url')}' left out")
        return None
    kind, note = feedmap.media_type(attribute(element, "type"), url)
    if note:
        result.warnings.append(f"'{name}': {note}")
    media: dict[str, Any] = {"url": url}
    length = attribute(element, "length") or ""
    if length.isdigit() and int(length) > 0:
        media["length"] = int(length)
    else:
        result.warnings.append(f"'{name}': enclosure length '{length}' is not a byte count")
    if kind:
        media["type"] = kind
    return media


def _duration(tags: Tags, media: dict[str, Any], name: str, result: Notes) -> None:
    value = tags.text(ITUNES, "duration")
    seconds = feedmap.duration(value)
    if seconds is not None:
        media["duration"] = int(seconds) if seconds == int(seconds) else seconds
    elif value:
        result.warnings.append(f"'{name}': unreadable duration '{value}'; left out")


def _numbers(tags: Tags, data: dict[str, Any], name: str, result: Notes) -> None:
    for key in ("season", "episode"):
        value = tags.text(ITUNES, key) or tags.text("podcast", key)
        if value is None:
            continue
        if value.isdigit() and 1 <= int(value) <= 2**31 - 1:
            data[key] = int(value)
        else:
            result.warnings.append(f"'{name}': {key} '{value}' is not a number from 1; left out")


def _alternates(tags: Tags) -> list[dict[str, Any]]:
    found = []
    for element in tags.all("podcast", "alternateEnclosure"):
        source = next(iter(element.iterchildren(*[f"{{{ns}}}source" for ns in PODCAST])), None)
        url = _url(attribute(source, "uri"))
        kind = attribute(element, "type")
        if not url or not kind:
            continue
        alternate: dict[str, Any] = {"url": url, "type": kind}
        length = attribute(element, "length") or ""
        if length.isdigit() and int(length) > 0:
            alternate["length"] = int(length)
        title = attribute(element, "title")
        if title:
            alternate["title"] = title
        found.append(alternate)
    return found
