"""Checks that span files: references, media, artwork, GUIDs and numbering across a catalogue.

`validate()` runs after `load_catalogue()`: it opens media only through `probe` (cached) and
adds every problem to the report; nothing here raises for a bad catalogue.
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path, PurePosixPath
from stat import S_ISDIR, S_ISREG

from fo_cast.catalogue.companions import check_references, episode_folders
from fo_cast.catalogue.models import Media
from fo_cast.catalogue.placeholders import check_placeholders
from fo_cast.catalogue.reader import Catalogue, EpisodeEntry, ShowEntry, is_inside
from fo_cast.media.probe import MediaInfo, ProbeCache, Probed, ProbeError, cache_key
from fo_cast.outputs import SITE_FOLDERS
from fo_cast.problems import Report, Severity
from fo_cast.rules import check_media_name, is_url
from fo_cast.state import PROBE_CACHE

ARTWORK_MIN, ARTWORK_MAX = 1400, 3000


def validate_catalogue(catalogue: Catalogue, report: Report, use_cache: bool = True) -> Probed:
    """Returns what was probed, adding to report every problem found across files."""
    cache = ProbeCache(catalogue.root / PROBE_CACHE if use_cache else None)
    probed = Probed()
    _check_unique_guids(catalogue, report)
    _check_unique_slugs(catalogue, report)
    _check_unique_numbers(catalogue, report)
    folders = episode_folders(catalogue)
    episodes = [*catalogue.episodes(), *catalogue.orphans]
    if len(cache.entries) < len(episodes) // 2:  # mostly cold: probe on every core first
        _probe_ahead(catalogue, episodes, cache)
    for show in catalogue.shows:
        _check_show_files(catalogue, show, probed, cache, report)
        check_placeholders(show, report)
        for entry in show.episodes:
            _check_episode_files(catalogue, entry, probed, cache, report)
            check_references(catalogue, entry, folders, report)
    # The episodes of a show whose show.yaml has errors get every check of their own, so
    # one run names every problem (the show's are fixed first, the episodes' at the same time).
    for entry in catalogue.orphans:
        _check_episode_files(catalogue, entry, probed, cache, report)
        check_references(catalogue, entry, folders, report)
    cache.save()
    return probed


class _Wanted(ProbeCache):
    """Collects the media files the checks would probe, probing none."""

    def __init__(self, cache: ProbeCache) -> None:
        super().__init__(None)
        self.cache = cache
        self.wanted: list[tuple[Path, str, os.stat_result]] = []

    def probe(self, path: Path, key: str, stat: os.stat_result | None = None) -> MediaInfo:
        stat = stat or path.stat()
        if self.cache.has(key, stat):
            return self.cache.probe(path, key, stat)
        self.wanted.append((path, key, stat))
        raise ProbeError("probed later")


def _probe_ahead(catalogue: Catalogue, episodes: list[EpisodeEntry], cache: ProbeCache) -> None:
    """Probes, on every core, the media the checks of these episodes will ask for: a dry run
    of the checks (its problems dropped) names them, so the rules live in one place."""
    wanted = _Wanted(cache)
    for entry in episodes:
        _check_episode_files(catalogue, entry, Probed(), wanted, Report())
    cache.probe_many(wanted.wanted)


def _check_unique_guids(catalogue: Catalogue, report: Report) -> None:
    """GUIDs are unique across the whole catalogue, drafts and orphans included."""
    guids: dict[str, list[EpisodeEntry]] = defaultdict(list)
    for entry in [*catalogue.episodes(), *catalogue.orphans]:
        guids[entry.episode.guid].append(entry)
    for guid, entries in guids.items():
        for entry in entries[1:]:
            report.add(
                entry.manifest,
                "guid",
                f"GUID '{guid}' is already used by {entries[0].manifest}; "
                "mint a new one with `fo-cast new episode` (never reuse one)",
                entry.doc.line_of(("guid",)),
            )


def _check_unique_slugs(catalogue: Catalogue, report: Report) -> None:
    """Show slugs are unique in the catalogue, episode slugs within their show (URLs)."""
    show_slugs: dict[str, ShowEntry] = {}
    for show in catalogue.shows:
        if f"{show.slug}/" in SITE_FOLDERS:
            report.add(
                show.manifest,
                "slug",
                f"'{show.slug}' is the name of the site's own folder ({show.slug}/); give the "
                "show another slug (slug: in show.yaml) or rename its folder",
                show.doc.line_of(("slug",)),
            )
        if show.slug in show_slugs:
            report.add(
                show.manifest,
                "slug",
                f"slug '{show.slug}' is already used by {show_slugs[show.slug].manifest}; "
                "give each show its own",
                show.doc.line_of(("slug",)),
            )
        show_slugs.setdefault(show.slug, show)
        slugs: dict[str, EpisodeEntry] = {}
        for entry in show.episodes:
            if entry.slug in slugs:
                report.add(
                    entry.manifest,
                    "slug",
                    f"slug '{entry.slug}' is already used by {slugs[entry.slug].manifest}; "
                    "give each episode its own",
                    entry.doc.line_of(("slug",)),
                )
            slugs.setdefault(entry.slug, entry)


def _check_unique_numbers(catalogue: Catalogue, report: Report) -> None:
    """Season + episode numbers are unique within a show (one whose show.yaml has errors too)."""
    orphans: dict[str, list[EpisodeEntry]] = {}
    for orphan in catalogue.orphans:
        orphans.setdefault(orphan.show, []).append(orphan)
    for episodes in [*(show.episodes for show in catalogue.shows), *orphans.values()]:
        numbers: dict[tuple[int | None, int], EpisodeEntry] = {}
        for entry in episodes:
            number = entry.episode.episode
            if number is None:
                continue
            key = (entry.episode.season, number)
            if key in numbers:
                season = f"season {key[0]} " if key[0] is not None else ""
                report.add(
                    entry.manifest,
                    "episode",
                    f"{season}episode {number} is already used by {numbers[key].manifest}; "
                    "give each episode its own number",
                    entry.doc.line_of(("episode",)),
                )
            numbers.setdefault(key, entry)


def _inside(catalogue: Catalogue, path: Path) -> bool:
    """Returns True when path, symlinks followed, stays inside the catalogue."""
    return is_inside(catalogue.root, path)


def _existing(
    catalogue: Catalogue,
    path: Path,
    manifest: PurePosixPath,
    field_name: str,
    line: int | None,
    report: Report,
    relative: str,
) -> os.stat_result | None:
    """Returns the stat of a regular file inside the catalogue; None after a problem."""
    if not _inside(catalogue, path):
        report.add(manifest, field_name, f"'{relative}' points outside the catalogue", line)
        return None
    try:
        stat = os.stat(path)
    except OSError:
        stat = None
    if stat is None or not S_ISREG(stat.st_mode):
        report.add(manifest, field_name, f"{_not_a_file(stat)} '{relative}'", line)
        return None
    return stat


def _not_a_file(stat: os.stat_result | None) -> str:
    """Returns how to say that a path holds no regular file: none at all, or something else."""
    if stat is None:
        return "no such file"
    if S_ISDIR(stat.st_mode):
        return "a folder, not a file:"
    return "not a regular file (a pipe, socket or device; fo-cast reads only files):"


def _check_show_files(
    catalogue: Catalogue, show: ShowEntry, probed: Probed, cache: ProbeCache, report: Report
) -> None:
    relative = show.show.artwork
    if is_url(relative):  # served elsewhere (an imported show): nothing to open here
        return
    path = show.folder / relative
    line = show.doc.line_of(("artwork",))
    if _existing(catalogue, path, show.manifest, "artwork", line, report, relative):
        check_artwork(catalogue.root, path, show.manifest, "artwork", line, probed, cache, report)


def check_artwork(
    root: Path,
    path: Path,
    manifest: PurePosixPath,
    field_name: str,
    line: int | None,
    probed: Probed,
    cache: ProbeCache,
    report: Report,
) -> None:
    """Adds a problem for each of Apple's artwork rules the image breaks (the image's facts
    from cache, under its path from the catalogue root, while the file is unchanged)."""
    try:
        info = cache.probe_image(path, cache_key(root, path))
    except ProbeError as exc:
        report.add(manifest, field_name, f"{path.name} {exc}", line)
        return
    probed.images[path] = info
    problems = []
    if info.format not in ("JPEG", "PNG"):
        problems.append(f"is a {info.format} image; Apple Podcasts takes only JPEG or PNG")
    if info.mode != "RGB":
        problems.append(f"is in colour mode {info.mode}; save it as RGB, without transparency")
    if info.width != info.height:
        problems.append(f"is {info.width}x{info.height} px; make it square")
    elif not ARTWORK_MIN <= info.width <= ARTWORK_MAX:
        problems.append(
            f"is {info.width}x{info.height} px; Apple Podcasts wants "
            f"{ARTWORK_MIN} to {ARTWORK_MAX} px a side"
        )
    for problem in problems:
        report.add(manifest, field_name, f"{path.name} {problem}", line)


def _check_episode_files(
    catalogue: Catalogue, entry: EpisodeEntry, probed: Probed, cache: ProbeCache, report: Report
) -> None:
    episode = entry.episode
    for index, media in enumerate(episode.media):
        _check_media(catalogue, entry, index, media, probed, cache, report)
    if episode.transcript is not None and not is_url(episode.transcript):
        path = entry.file(episode.transcript)
        line = entry.doc.line_of(("transcript",))
        if _existing(
            catalogue, path, entry.manifest, "transcript", line, report, episode.transcript
        ) and path.suffix.lower() not in (".vtt", ".srt"):
            report.add(
                entry.manifest,
                "transcript",
                f"'{episode.transcript}' must be WebVTT (.vtt) or SubRip (.srt)",
                line,
            )
    if episode.image is not None and not is_url(episode.image):
        path = entry.file(episode.image)
        line = entry.doc.line_of(("image",))
        if _existing(catalogue, path, entry.manifest, "image", line, report, episode.image):
            root = catalogue.root
            check_artwork(root, path, entry.manifest, "image", line, probed, cache, report)
    # a companion outside the catalogue is reported (and not read) by load_catalogue
    kinds = [probed.media[p].kind for p in _local_media(entry) if p in probed.media]
    if kinds.count("audio") > 1 or kinds.count("video") > 1:
        report.add(
            entry.manifest,
            "media",
            "give at most one audio and one video file per episode",
            entry.doc.line_of(("media",)),
        )


def _local_media(entry: EpisodeEntry) -> list[Path]:
    return [entry.media_file(m.file) for m in entry.episode.media if m.file is not None]


def _existing_media(
    catalogue: Catalogue, entry: EpisodeEntry, relative: str, field_name: str, line: int | None,
    report: Report,
) -> tuple[Path, os.stat_result | None]:  # fmt: skip
    """Returns where a media file is and its stat, looking in the media folder too; the stat
    is None after a problem that says where the file was looked for."""
    path = entry.media_file(relative)
    folder, local = catalogue.media_folder, entry.file(relative)
    if entry.elsewhere is None or folder is None or os.path.lexists(local):
        return path, _existing(catalogue, path, entry.manifest, field_name, line, report, relative)
    if path != local and not is_inside(folder, path):
        report.add(
            entry.manifest, field_name, f"'{relative}' in the media folder points outside it", line
        )
        return path, None
    try:
        stat = os.stat(path) if path != local else None
    except OSError:
        stat = None
    if stat is not None and S_ISREG(stat.st_mode):
        return path, stat
    where = f"looked in {entry.manifest.parent}/ and {entry.elsewhere}/"
    if not folder.is_dir():
        where += f"; the media folder {folder} {_not_a_folder(folder)}"
    report.add(entry.manifest, field_name, f"{_not_a_file(stat)} '{relative}' ({where})", line)
    return path, None


def _check_media(
    catalogue: Catalogue,
    entry: EpisodeEntry,
    index: int,
    media: Media,
    probed: Probed,
    cache: ProbeCache,
    report: Report,
) -> None:
    if media.file is None:
        return
    field_name = f"media[{index}].file"
    line = entry.doc.line_of(("media", index, "file"))
    path, stat = _existing_media(catalogue, entry, media.file, field_name, line, report)
    if stat is None:
        return
    try:
        check_media_name(media.file)
    except ValueError as exc:
        report.add(entry.manifest, field_name, str(exc), line)
        return
    key = cache_key(catalogue.root, path)
    try:
        info = cache.probe(path, key, stat)
    except ProbeError as exc:
        report.add(entry.manifest, field_name, f"'{media.file}': {exc}", line)
        return
    probed.media[path] = info
    if media.type is not None and media.type != info.mime_type:
        report.add(
            entry.manifest,
            f"media[{index}].type",
            f"says {media.type} but the file is {info.mime_type}; remove type",
            entry.doc.line_of(("media", index, "type")),
            Severity.WARNING,
        )


def _not_a_folder(folder: Path) -> str:
    """Says why the media folder cannot be looked in, and what to do."""
    try:
        folder.stat()
    except FileNotFoundError:
        if os.path.islink(folder):
            return "is a symlink to nothing: correct the link"
        return "is not there: mount it or correct its path"
    except OSError as exc:  # a symlink loop, a folder we may not enter
        return f"cannot be read ({exc.strerror}): correct its path or its permissions"
    return "is a file, not a folder: correct its path"
