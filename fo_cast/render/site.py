"""The catalogue resolved for publishing: every show and episode with its URLs, enclosures
and rendered companion. Feeds and pages are pure functions of a `Site`.

The output tree (all URLs are base_url + path):

    index.html, index.opml, sitemap.xml, robots.txt, 404.html, assets/...
    <show>/index.html                 show page (page/2/index.html ... when long)
    <show>/feed.xml                   audio RSS
    <show>/video.xml                  video RSS, when the show has video episodes
    <show>/feed.json                  JSON Feed 1.1
    <show>/<artwork file>
    <show>/<episode>/index.html       episode page
    <show>/<episode>/<media files>    audio.mp3, video.mp4 as named in the catalogue
    <show>/<episode>/chapters.json    Podcasting 2.0 chapters, when the episode has chapters
    <show>/<episode>/<transcript>     transcript.vtt / .srt
    <show>/<episode>/<companion files> images, PDFs, clips the companion references, at the
                                      same path relative to the episode folder
    topics/index.html, topics/<slug>/ topic pages (render.topics)
    search/index.html, search/<bundle>/  the search page and its Pagefind indexes (render.search)

A companion's relative links are resolved here: a file of the episode becomes an asset beside
the page, a link to another episode's folder or companion becomes that episode's page. Pages
keep them relative; feeds get them absolute, since apps have no base URL.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import mimetypes
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath
from urllib.parse import quote, urljoin, urlsplit

from fo_cast.catalogue.companions import (
    Kind,
    episode_folders,
    references,
    resolve_reference,
)
from fo_cast.catalogue.models import Episode, Media, Show, ShowType
from fo_cast.catalogue.reader import Catalogue, EpisodeEntry, ShowEntry
from fo_cast.catalogue.settings import Settings
from fo_cast.media.probe import Probed
from fo_cast.outputs import CHAPTERS_FILE, FEED_FILE, JSON_FILE, VIDEO_FILE
from fo_cast.render.companion import Companion, render_companion, rewrite_urls
from fo_cast.rules import MEDIA_TYPES, is_url

VIDEO_GUID_SUFFIX = ":video"
CHAPTERS_TYPE = "application/json+chapters"


def with_prefix(url: str, prefix: str) -> str:
    """Returns an enclosure URL behind an analytics prefix, as the prefix's service expects.

    A prefix with a scheme takes the whole URL (OP3: https://op3.dev/e/https://host/a.mp3);
    one without (Podtrac: dts.podtrac.com/redirect.mp3/) takes the URL without its scheme
    and lends it its scheme (https://dts.podtrac.com/redirect.mp3/host/a.mp3).
    """
    if "://" in prefix:
        return prefix + url
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{prefix}{rest}"


def video_guid(episode_guid: str) -> str:
    """Returns the item GUID of an episode with audio in the video feed: GUID + ':video'.

    A fixed rule, so the audio and the video item of one episode never share a GUID and
    neither ever changes.
    """
    return episode_guid + VIDEO_GUID_SUFFIX


def item_guid(episode: EpisodeView, video: bool) -> str:
    """Returns an episode's item GUID in the main feed or in the video feed.

    An episode with only video is one item, the same in both feeds: its own GUID, as the
    feed it was imported from had it. Only an episode that also has audio (whose audio item
    holds the plain GUID) is suffixed in the video feed.
    """
    if video and episode.audio is not None:
        return video_guid(episode.guid)
    return episode.guid


@dataclass(frozen=True)
class Enclosure:
    """One media file as apps fetch it."""

    url: str
    path: str | None  # output path, None for external media
    length: int
    type: str
    duration: float | None  # None: an external file whose duration the manifest does not give
    source: Path | None = None  # the catalogue file, for local media
    feed_url: str = ""  # the URL feeds carry: url behind [feeds] enclosure_prefix, if set

    def __post_init__(self) -> None:
        if not self.feed_url:
            object.__setattr__(self, "feed_url", self.url)

    @property
    def is_video(self) -> bool:
        return self.type.startswith("video/")


@dataclass(frozen=True)
class Sidecar:
    """A file next to the episode that feeds link to: transcript or chapters."""

    url: str
    path: str | None  # None for a file served elsewhere (an imported show's URL)
    type: str
    source: Path | None = None


@dataclass
class EpisodeView:
    entry: EpisodeEntry
    show: ShowView
    path: str  # "talks/2024-08-04-middle-east-part-1/" (the page; index.html inside)
    url: str
    audio: Enclosure | None
    video: Enclosure | None
    image_url: str
    image: Sidecar | None  # the episode's own artwork, when it has one
    credit_lines: list[str]
    transcript: Sidecar | None
    chapters: Sidecar | None  # chapters.json, rendered by feeds
    explicit: bool
    assets: list[Sidecar] = field(default_factory=list)  # files the companion references
    # companion URL as written -> (output path it points at, "?query#fragment" kept)
    links: dict[str, tuple[str, str]] = field(default_factory=dict)
    og_image: tuple[str, str] = ("", "")  # (absolute URL, alt text) of the Open Graph image
    # output path of each companion file -> the companion line that first references it
    asset_lines: dict[str, int | None] = field(default_factory=dict)

    @property
    def episode(self) -> Episode:
        return self.entry.episode

    @functools.cached_property
    def fingerprint(self) -> bytes:
        """A digest of everything about the episode a feed or a page can show.

        The companion enters as Markdown, so unchanged episodes are recognised without
        rendering it; the render cache adds the code that turns these inputs into output.
        """
        return fingerprint_of(
            self.entry.episode.model_dump_json(),
            self.entry.companion or "",
            self.show.show.disclaimer or "",
            repr(self.credit_lines),
            self.path,
            self.url,
            self.image_url,
            repr(self.explicit),
            repr([_enclosure_facts(e) for e in (self.audio, self.video)]),
            repr([_sidecar_facts(s) for s in (self.image, self.transcript, self.chapters)]),
            repr([_sidecar_facts(s) for s in self.assets]),
            repr(sorted(self.links.items())),
            repr(self.og_image),
        )

    @functools.cached_property
    def companion(self) -> Companion:
        """The companion rendered on first use: validating needs no HTML, building does.

        With relative URLs, the page form has them resolved relative to the page and the feed
        form absolute (apps have no base URL to resolve them against).
        """
        rendered = render_companion(
            self.entry.companion or "", self.credit_lines, self.show.show.disclaimer
        )
        if not any(r.relative for r in references(self.entry.companion or "")):
            return rendered
        return Companion(
            page=rewrite_urls(rendered.page, self._page_url),
            feed=rewrite_urls(rendered.feed, self._feed_url),
        )

    def _page_url(self, url: str) -> str:
        link = self.links.get(url)
        if link is None:
            return url
        path, suffix = link
        if path.startswith(self.path):  # a file of this episode: beside the page
            return quote(path[len(self.path) :]) + suffix
        return "../" * self.path.count("/") + quote(path) + suffix

    def _feed_url(self, url: str) -> str:
        link = self.links.get(url)
        if link is not None:
            return self.base_url + quote(link[0]) + link[1]
        return urljoin(self.url, url)

    @property
    def base_url(self) -> str:
        return self.url[: len(self.url) - len(quote(self.path))]

    @property
    def guid(self) -> str:
        return self.entry.episode.guid

    @property
    def title(self) -> str:
        return self.entry.episode.title

    @property
    def published(self) -> datetime:
        assert self.entry.episode.published is not None
        return self.entry.episode.published

    @property
    def duration(self) -> float:
        primary = self.audio or self.video
        return (primary.duration or 0.0) if primary else 0.0

    @property
    def main(self) -> Enclosure | None:
        """Returns the enclosure of the main feed (feed.xml): the audio, else the video."""
        return self.audio or self.video

    @property
    def enclosures(self) -> list[Enclosure]:
        return [e for e in (self.audio, self.video) if e is not None]

    def folder_files(self) -> list[tuple[str, Path, Enclosure | Sidecar]]:
        """Returns the catalogue files the episode's folder carries as they are, media first:
        (output path, source, what names it). A file named twice (the companion links the
        episode's own audio) comes once; two files under one path both come (lint names
        them, and the build refuses them)."""
        files: list[tuple[str, Path, Enclosure | Sidecar]] = []
        taken: dict[str, Path] = {}
        for item in (*self.enclosures, self.transcript, self.image, *self.assets):
            if item is None or not item.path or item.source is None:
                continue  # served elsewhere, or written by fo-cast (the chapters)
            if taken.get(item.path) == item.source:
                continue
            taken.setdefault(item.path, item.source)
            files.append((item.path, item.source, item))
        return files


@dataclass
class ShowView:
    entry: ShowEntry
    path: str  # "talks/"
    url: str
    feed_url: str
    video_feed_url: str | None
    json_feed_url: str
    artwork: Sidecar
    episodes: list[EpisodeView] = field(default_factory=list)  # live, in feed order
    # Every live episode is video alone: feed.xml carries the very items of video.xml (same
    # GUIDs, same enclosures), so it is the show's one feed to offer, as video.
    video_only: bool = False

    @property
    def show(self) -> Show:
        return self.entry.show

    @functools.cached_property
    def fingerprint(self) -> bytes:
        """A digest of everything about the show itself a feed or a page can show."""
        return fingerprint_of(
            self.entry.show.model_dump_json(),
            self.path,
            self.url,
            self.feed_url,
            self.video_feed_url or "",
            str(self.video_only),  # which feeds the pages offer, and feed.xml's medium
            self.json_feed_url,
            repr(_sidecar_facts(self.artwork)),
        )

    @property
    def slug(self) -> str:
        return self.entry.slug

    @property
    def newest_first(self) -> list[EpisodeView]:
        return sorted(
            self.episodes,
            key=lambda e: (e.entry.episode.published, e.entry.episode.guid),
            reverse=True,
        )

    @property
    def video_episodes(self) -> list[EpisodeView]:
        return [e for e in self.episodes if e.video is not None]

    @property
    def rss_feeds(self) -> list[tuple[str, str]]:
        """Returns the RSS feeds to offer subscribers and directories as (medium, URL): the
        audio feed, then the video feed; a video-only show's feed.xml alone (listing both
        would subscribe an app to the same episodes twice)."""
        if self.video_only:
            return [("video", self.feed_url)]
        feeds = [("audio", self.feed_url)]
        if self.video_feed_url is not None:
            feeds.append(("video", self.video_feed_url))
        return feeds


@dataclass
class Site:
    settings: Settings
    settings_file: PurePosixPath  # as problems name it
    base_url: str
    now: datetime
    shows: list[ShowView]

    def url(self, path: str) -> str:
        return self.base_url + quote(path)


def fingerprint_of(*parts: str) -> bytes:
    """Returns a 16-byte digest of the parts, each prefixed with its length: no two lists of
    parts, whatever characters they hold, run together into the same text."""
    text = "".join([f"{len(part)}:{part}" for part in parts])
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()


def _enclosure_facts(enclosure: Enclosure | None) -> tuple[object, ...] | None:
    """Returns what a reader sees of an enclosure (not where the catalogue keeps it)."""
    if enclosure is None:
        return None
    return (
        enclosure.url, enclosure.feed_url, enclosure.path, enclosure.length, enclosure.type,
        enclosure.duration,
    )  # fmt: skip


def _sidecar_facts(sidecar: Sidecar | None) -> tuple[str, str | None, str] | None:
    return None if sidecar is None else (sidecar.url, sidecar.path, sidecar.type)


@functools.lru_cache(maxsize=1024)
def _file_name(relative: str) -> str:
    """Returns the last part of a catalogue-relative path (memoised: most are "audio.mp3")."""
    return Path(relative).name


def resolve_site(catalogue: Catalogue, probed: Probed, base_url: str, now: datetime) -> Site:
    """Returns the site for a catalogue that validated: live episodes only, in feed order."""
    base = base_url if base_url.endswith("/") else base_url + "/"
    site = Site(
        settings=catalogue.settings,
        settings_file=catalogue.settings_file,
        base_url=base,
        now=now,
        shows=[],
    )
    folders = episode_folders(catalogue)
    for show_entry in catalogue.shows:
        show = _resolve_show(site, show_entry, probed)
        for episode in show.episodes:
            _resolve_companion(site, catalogue, episode, folders)
        site.shows.append(show)
    return site


def _resolve_companion(
    site: Site, catalogue: Catalogue, view: EpisodeView, folders: dict[str, EpisodeEntry]
) -> None:
    """Sets the episode's companion assets, resolved links and Open Graph image."""
    entry = view.entry
    first_image: tuple[str, str] | None = None
    seen: set[str] = set()
    for reference in references(entry.companion or ""):
        if not reference.relative:
            if reference.image and first_image is None and reference.url.startswith("http"):
                first_image = (reference.url, reference.alt)
            continue
        resolved = resolve_reference(catalogue, entry, reference, folders)
        if resolved.kind is Kind.EPISODE and resolved.episode is not None:
            other = resolved.episode
            view.links[reference.url] = (f"{other.show}/{other.slug}/", reference.suffix)
        elif resolved.kind is Kind.FILE and resolved.path is not None:
            relative = Path(os.path.relpath(resolved.path, entry.folder)).as_posix()
            path = view.path + relative
            view.links[reference.url] = (path, reference.suffix)
            if path not in seen:
                seen.add(path)
                view.asset_lines[path] = reference.line
                view.assets.append(
                    Sidecar(site.url(path), path, asset_type(resolved.path), resolved.path)
                )
            if reference.image and first_image is None:
                first_image = (site.url(path), reference.alt)
    if view.image is None and first_image is not None:
        view.og_image = first_image


def asset_type(path: Path) -> str:
    """Returns the Content-Type of a companion file: fo-cast's media types, else mimetypes."""
    return MEDIA_TYPES.get(path.suffix.lower()) or _guess_type(path)


def _resolve_show(site: Site, entry: ShowEntry, probed: Probed) -> ShowView:
    path = f"{entry.slug}/"
    artwork = entry.show.artwork
    if is_url(artwork):
        art = Sidecar(artwork, None, _guess_type(Path(urlsplit(artwork).path)))
    else:
        artwork_file = entry.folder / artwork
        artwork_path = f"{path}{Path(artwork).name}"
        art = Sidecar(site.url(artwork_path), artwork_path, _guess_type(artwork_file), artwork_file)
    view = ShowView(
        entry=entry,
        path=path,
        url=site.url(path),
        feed_url=site.url(path + FEED_FILE),
        video_feed_url=None,
        json_feed_url=site.url(path + JSON_FILE),
        artwork=art,
    )
    live = [e for e in entry.episodes if e.episode.is_live(site.now)]
    view.episodes = [_resolve_episode(site, view, e, probed) for e in live]
    # Serial shows read oldest first; episodic ones newest first (Apple's itunes:type).
    view.episodes.sort(
        key=lambda e: (e.entry.episode.published, e.entry.episode.guid),
        reverse=entry.show.type is ShowType.EPISODIC,
    )
    if view.video_episodes:
        view.video_feed_url = site.url(path + VIDEO_FILE)
    view.video_only = bool(view.episodes) and all(e.audio is None for e in view.episodes)
    return view


def _guess_type(path: Path) -> str:
    return mimetypes.guess_type(path.name)[0] or "application/octet-stream"


# podcast:transcript types by extension, for transcripts kept at their URLs.
TRANSCRIPT_TYPES = {
    ".vtt": "text/vtt",
    ".srt": "application/x-subrip",
    ".json": "application/json",
    ".html": "text/html",
    ".htm": "text/html",
}


def transcript_type(path: str) -> str:
    """Returns the podcast:transcript type of a transcript file name (text/plain if unknown)."""
    return TRANSCRIPT_TYPES.get(PurePosixPath(path).suffix.lower(), "text/plain")


def _resolve_episode(
    site: Site, show: ShowView, entry: EpisodeEntry, probed: Probed
) -> EpisodeView:
    episode = entry.episode
    path = f"{show.path}{entry.slug}/"
    url = site.url(path)
    audio = video = None
    for media in episode.media:
        enclosure = _enclosure(url, path, entry, media, probed)
        if site.settings.feeds.enclosure_prefix:
            prefixed = with_prefix(enclosure.url, site.settings.feeds.enclosure_prefix)
            enclosure = dataclasses.replace(enclosure, feed_url=prefixed)
        if enclosure.is_video:
            video = video or enclosure
        else:
            audio = audio or enclosure
    image = None
    if episode.image and is_url(episode.image):
        image = Sidecar(episode.image, None, _guess_type(Path(urlsplit(episode.image).path)))
    elif episode.image:
        image_path = f"{path}{_file_name(episode.image)}"
        source = entry.file(episode.image)
        image = Sidecar(_in(url, episode.image), image_path, _guess_type(source), source)
    transcript = None
    if episode.transcript and is_url(episode.transcript):
        kind = transcript_type(urlsplit(episode.transcript).path)
        transcript = Sidecar(episode.transcript, None, kind)
    elif episode.transcript:
        t_path = f"{path}{_file_name(episode.transcript)}"
        source = entry.file(episode.transcript)
        kind = "text/vtt" if source.suffix.lower() == ".vtt" else "application/x-subrip"
        transcript = Sidecar(_in(url, episode.transcript), t_path, kind, source)
    chapters = None
    if episode.chapters_url:
        chapters = Sidecar(episode.chapters_url, None, CHAPTERS_TYPE)
    elif episode.chapters:
        c_path = path + CHAPTERS_FILE
        chapters = Sidecar(_in(url, CHAPTERS_FILE), c_path, CHAPTERS_TYPE)
    credit_lines = [f"{c.name} {c.contribution}." for c in episode.credits]
    return EpisodeView(
        entry=entry,
        show=show,
        path=path,
        url=url,
        audio=audio,
        video=video,
        image_url=image.url if image else show.artwork.url,
        image=image,
        credit_lines=credit_lines,
        transcript=transcript,
        chapters=chapters,
        explicit=show.show.explicit if episode.explicit is None else episode.explicit,
        og_image=(
            (image.url, f"{show.show.title} artwork")
            if image
            else (show.artwork.url, f"{show.show.title} artwork")
        ),
    )


def _in(folder_url: str, relative: str) -> str:
    """Returns the URL of a file of the episode folder: quoting works character by character,
    so the folder's quoted URL plus the quoted name is the quoted whole."""
    return folder_url + _quoted_name(relative)


@functools.lru_cache(maxsize=1024)
def _quoted_name(relative: str) -> str:
    return quote(_file_name(relative))


def _enclosure(
    folder_url: str, path: str, entry: EpisodeEntry, media: Media, probed: Probed
) -> Enclosure:
    if media.url is not None:
        assert media.length is not None and media.type is not None  # the model requires them
        return Enclosure(media.url, None, media.length, media.type, media.duration)
    assert media.file is not None
    source = entry.media_file(media.file)  # the episode folder, else the media folder
    info = probed.media[source]
    out = f"{path}{_file_name(media.file)}"
    return Enclosure(
        _in(folder_url, media.file), out, info.size, media.type or info.mime_type, info.duration,
        source,
    )  # fmt: skip
