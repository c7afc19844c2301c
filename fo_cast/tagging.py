"""`fo-cast tag` and validate's tag check: what each episode's media should carry, compared
with what they carry (media/tags.py reads and writes the files).

Tagging compares the tags a file has (their digests, from the probe cache) with the ones its
manifest asks for, and writes nothing when they agree, so tagging twice changes no byte.
"""

from __future__ import annotations

import enum
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from fo_cast.catalogue.models import Media, Status
from fo_cast.limits import load_json
from fo_cast.media import tags
from fo_cast.media.probe import ProbeCache, cache_key
from fo_cast.media.tags import (
    COVER_QUALITY,
    COVER_SIZE,
    DIGEST_SIZE,
    TOC_TITLE,
    ChapterMark,
    TagError,
    TagFields,
    cover_image,
    differing,
    read_fields,
    write_tags,
)
from fo_cast.problems import Problem, Report, Severity
from fo_cast.state import COVER_CACHE, PROBE_CACHE, atomic_write

if TYPE_CHECKING:
    from fo_cast.catalogue.reader import EpisodeEntry
    from fo_cast.media.probe import MediaInfo, Probed
    from fo_cast.render.site import ShowView, Site

VIDEO_FEED = "video.xml"  # the video feed's name beside the audio feed (render/site.py)
# every clock is in the past of this one: tag resolves the site with it, so scheduled
# episodes are tagged before they go out
EVERY_EPISODE = datetime(9999, 12, 31, tzinfo=UTC)
_COVER_VERSION = f"{COVER_SIZE}px-q{COVER_QUALITY}"  # a new size or quality: new covers
_DESC_LIMIT = 255  # iTunes' short description atom (desc); ldes holds the whole summary
_CHPL_LIMIT = 255  # bytes of a chapter title an MP4 chapter box (Nero chpl) holds


# What a file should hold


def desired_fields(
    show: ShowView, entry: EpisodeEntry, media: Media, info: MediaInfo, cover: str | None
) -> TagFields:
    """Returns the tags a local media file of an episode should carry."""
    episode = entry.episode
    guid, feed_url = episode.guid, show.feed_url
    if info.kind == "video":
        # the video feed's item GUID (render/site.py video_guid) and the video feed
        from fo_cast.render.site import video_guid

        guid, feed_url = video_guid(guid), show.video_feed_url or show.url + VIDEO_FEED
    mp3 = info.container == "mp3"
    summary = episode.summary
    comment = summary if mp3 or summary is None else summary[:_DESC_LIMIT]
    date = _utc_date(episode.published) if episode.published is not None else None
    return TagFields(
        title=episode.title,
        artist=show.show.author,
        album=show.show.title,
        date=date,
        episode=str(episode.episode) if episode.episode else None,
        season=str(episode.season) if episode.season else None,
        summary=summary,
        comment=comment,
        guid=guid,
        feed_url=feed_url,
        podcast=True,
        chapters=_chapters_for(chapter_marks(entry, info.duration, with_urls=mp3), mp3),
        toc_title=TOC_TITLE if mp3 and episode.chapters else None,
        cover=cover,
        version="2.3" if mp3 else None,
    )


def _chapters_for(marks: tuple[ChapterMark, ...], mp3: bool) -> tuple[ChapterMark, ...]:
    """Returns the chapters as the file can hold them: an MP4's chapter box (chpl) keeps 255
    bytes of a title and ends a line at a carriage return, so a title longer, or with one,
    would be written again at every run and never match."""
    if mp3:
        return marks
    return tuple(mark._replace(title=_mp4_title(mark.title)) for mark in marks)


def _mp4_title(title: str) -> str:
    title = title.replace("\r\n", "\n").replace("\r", "\n")
    return title.encode("utf-8")[:_CHPL_LIMIT].decode("utf-8", "ignore")


def _utc_date(when: datetime) -> str:
    """Returns the UTC date of `when` as YYYY-MM-DD, or its own date when the UTC one is
    past what a datetime holds (year 1 or 9999 with a far offset; the model refuses those)."""
    try:
        return when.astimezone(UTC).date().isoformat()
    except OverflowError:
        return when.date().isoformat()


def chapter_marks(entry: EpisodeEntry, duration: float, with_urls: bool) -> tuple[ChapterMark, ...]:
    """Returns the manifest's chapters in milliseconds, each ending where the next starts
    (the last where the media ends)."""
    chapters = sorted(entry.episode.chapters, key=lambda c: c.start)
    total = round(duration * 1000)
    # clamped to the media before scaling, so no start (past the end) overflows an int
    starts = [round(min(c.start, duration) * 1000) for c in chapters]
    marks = []
    for index, chapter in enumerate(chapters):
        start = starts[index]
        nxt = starts[index + 1] if index + 1 < len(chapters) else total
        url = str(chapter.url) if with_urls and chapter.url else None
        marks.append(ChapterMark(start, max(start, min(nxt, total)), chapter.title, url))
    return tuple(marks)


# The command


class Outcome(enum.StrEnum):
    TAGGED = "tagged"
    WOULD_TAG = "would be tagged"
    UNCHANGED = "unchanged"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class TagResult:
    """What tagging did (or would do) to one media file."""

    file: str  # as messages show it: episodes/talks/x/audio.mp3, or the URL of url media
    outcome: Outcome
    detail: str = ""  # the fields that changed, or why the file was skipped
    chapters_left_out: bool = False  # an MP4 with chapters, and no ffmpeg to write them

    def __str__(self) -> str:
        return f"{self.file}: {self.outcome}" + (f" ({self.detail})" if self.detail else "")


@dataclass
class TagRun:
    """The outcome of `fo-cast tag`: the catalogue's report and a result per media file."""

    report: Report
    results: list[TagResult]

    def count(self, outcome: Outcome) -> int:
        return sum(1 for r in self.results if r.outcome is outcome)

    @property
    def chapters_left_out(self) -> int:
        """Returns how many MP4 files have chapters in their manifest that were not written."""
        return sum(1 for r in self.results if r.chapters_left_out)


def _episodes(show: ShowView) -> Iterator[EpisodeEntry]:
    """Yields the episodes whose media are tagged: scheduled or published ones."""
    for entry in show.entry.episodes:
        if entry.episode.status is not Status.DRAFT:
            yield entry


def tag_catalogue(
    root: Path, site: Site | None, probed: Probed, report: Report, dry_run: bool = False
) -> TagRun:
    """Returns what was tagged, after writing the tags every local media file of a scheduled
    or published episode should carry (with dry_run: what would change, writing nothing).

    Give it the catalogue checked with `now=EVERY_EPISODE`, so scheduled episodes count
    (`build.tag_media()` does).
    """
    run = TagRun(report, [])
    if report.errors or site is None:
        return run
    covers = Covers(root)
    probes = ProbeCache(root / PROBE_CACHE)
    try:
        for show in site.shows:
            for entry in show.entry.episodes:
                for media in entry.episode.media:
                    try:
                        result = _tag_one(show, entry, media, probed, covers, dry_run)
                    except (TagError, OSError) as exc:  # OSError: a full disk, say
                        said = str(exc)
                        if isinstance(exc, OSError) and exc.strerror:
                            where = entry.media_file(media.file) if media.file else entry.folder
                            said = f"{exc.filename or where}: {exc.strerror}"
                        raise TagError(f"{said} ({_stopped_at(run, site)})") from exc
                    run.results.append(result)
                    if result.outcome is Outcome.TAGGED and media.file is not None:
                        _remember(probes, root, entry.media_file(media.file), probed)
    finally:  # a full disk halfway: what was tagged stays known
        covers.save()
        probes.save()
    return run


def _stopped_at(run: TagRun, site: Site) -> str:
    """Returns how far a run that stopped on a file got: how many of the local media files
    it tags it had tagged (those stay tagged; a second run finds them unchanged)."""
    total = sum(
        1
        for show in site.shows
        for entry in _episodes(show)
        for media in entry.episode.media
        if media.file is not None
    )
    tagged = run.count(Outcome.TAGGED)
    were = "was" if tagged == 1 else "were"
    return (
        f"{tagged} of {total} files {were} tagged before this one; "
        "run `fo-cast tag` again after fixing it"
    )


def _remember(probes: ProbeCache, root: Path, path: Path, probed: Probed) -> None:
    """Records the tagged MP3's facts in the probe cache, so the next validate stays warm:
    its audio frames are the ones probed, only its size and tags are new. (An MP4 that
    ffmpeg remuxed is probed again.)"""
    info = probed.media[path]
    if info.container != "mp3":
        return
    found = read_fields(path, info.duration)
    tagged = replace(info, size=path.stat().st_size, tags=found.digests() if found.guid else None)
    probes.remember(path, cache_key(root, path), tagged)


class Covers:
    """The cover each artwork file becomes, made once per run; its digest is remembered by
    path, size and mtime (in CATALOGUE/.fo-cast/covers.json), so a run that changes nothing
    scales no artwork."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.images: dict[Path, bytes] = {}
        self.digests: dict[str, dict[str, object]] = {}
        self.dirty = False
        try:
            data = load_json((root / COVER_CACHE).read_text(encoding="utf-8"))
            if isinstance(data, dict) and data.get("version") == _COVER_VERSION:
                self.digests = dict(data["entries"])
        except (OSError, ValueError, KeyError, TypeError):
            self.digests = {}

    def image(self, art: Path) -> bytes:
        """Returns the cover's bytes (and remembers their digest, should Pillow now encode
        differently from when the digest was remembered)."""
        if art not in self.images:
            self.images[art] = cover_image(art)
            self._remember(art, hashlib.sha256(self.images[art]).hexdigest())
        return self.images[art]

    def digest(self, art: Path) -> str:
        """Returns the sha256 of the cover made of art, making it only when not remembered."""
        stat = art.stat()
        entry = self.digests.get(self._key(art))
        if (
            isinstance(entry, dict)
            and entry.get("size") == stat.st_size
            and entry.get("mtime_ns") == stat.st_mtime_ns
            and isinstance(entry.get("sha256"), str)
        ):
            return str(entry["sha256"])
        self.image(art)
        return str(self.digests[self._key(art)]["sha256"])

    def _key(self, art: Path) -> str:
        return os.path.relpath(art, self.root).replace(os.sep, "/")

    def _remember(self, art: Path, digest: str) -> None:
        stat = art.stat()
        entry = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": digest}
        if self.digests.get(self._key(art)) != entry:
            self.digests[self._key(art)] = entry
            self.dirty = True

    def save(self) -> None:
        """Writes the digests atomically; a cache that cannot be written is only slower."""
        if not self.dirty:
            return
        try:
            (self.root / COVER_CACHE).parent.mkdir(parents=True, exist_ok=True)
            payload = {"version": _COVER_VERSION, "entries": self.digests}
            atomic_write(self.root / COVER_CACHE, json.dumps(payload, sort_keys=True))
        except OSError:
            pass


def _tag_one(
    show: ShowView,
    entry: EpisodeEntry,
    media: Media,
    probed: Probed,
    covers: Covers,
    dry_run: bool,
) -> TagResult:
    if media.file is None:
        return TagResult(str(media.url), Outcome.SKIPPED, "external media")
    shown = str(entry.shown(media.file))
    if entry.episode.status is Status.DRAFT:
        return TagResult(shown, Outcome.SKIPPED, "draft episode")
    path = entry.media_file(media.file)
    info = probed.media[path]
    image = entry.episode.image
    art = entry.file(image) if image else show.entry.folder / show.show.artwork
    wanted = desired_fields(show, entry, media, info, covers.digest(art))
    # without ffmpeg, MP4 chapters are not ours to write, so not ours to compare
    leave_out = ("chapters",) if info.container == "mp4" and tags.ffmpeg() is None else ()
    if info.tags is not None:  # the probe read the tags: no need to open the file again
        changes = differing(info.tags, wanted.digests(), leave_out)
    else:
        current = read_fields(path, info.duration)
        changes = [c for c in wanted.differences(current) if c not in leave_out]
    left_out = bool(leave_out and wanted.chapters)
    if not changes:
        return TagResult(shown, Outcome.UNCHANGED, chapters_left_out=left_out)
    detail = ", ".join(changes)
    if dry_run:
        return TagResult(shown, Outcome.WOULD_TAG, detail, left_out)
    write_tags(path, wanted, covers.image(art), info.container, info.duration)
    return TagResult(shown, Outcome.TAGGED, detail, left_out)


# validate


def check_tags(site_shows: list[ShowView], probed: Probed) -> list[Problem]:
    """Returns a warning for each media file whose fo-cast tags disagree with its manifest.

    Files that were never tagged (no GUID tag) are left alone: tagging is opt-in. The tags
    come from the probe cache (MediaInfo.tags), so a warm validate opens no media; the cover
    is not compared (it would mean scaling every artwork), `fo-cast tag` compares it."""
    problems = []
    has_ffmpeg = tags.ffmpeg() is not None
    for show in site_shows:
        for entry in _episodes(show):
            for index, media in enumerate(entry.episode.media):
                info = probed.media.get(entry.media_file(media.file)) if media.file else None
                if info is None or info.tags is None:
                    continue
                names = _stale(show, entry, media, info, info.tags, has_ffmpeg)
                if names:
                    problems.append(
                        Problem(
                            entry.manifest,
                            f"media[{index}].file",
                            f"the tags inside '{media.file}' disagree with the manifest "
                            f"({', '.join(names)}); run fo-cast tag",
                            entry.doc.line_of(("media", index, "file")),
                            Severity.WARNING,
                        )  # fmt: skip
                    )
    return problems


def _stale(
    show: ShowView,
    entry: EpisodeEntry,
    media: Media,
    info: MediaInfo,
    found: str,
    has_ffmpeg: bool,
) -> list[str]:
    """Returns the fields (but the cover) whose tags differ from what the manifest says."""
    wanted = desired_fields(show, entry, media, info, None)
    mp4_chapters = info.container == "mp4" and not has_ffmpeg  # not written: not compared
    if not mp4_chapters and found[:DIGEST_SIZE] == wanted.overall():
        return []  # the common case, with one digest
    leave_out = ("cover", "chapters") if mp4_chapters else ("cover",)
    return differing(found, wanted.digests(), leave_out)
