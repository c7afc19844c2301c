"""A podcast feed made elsewhere -> a show folder: show.yaml, one folder per episode
(episode.yaml, companion.md) and the record of imported GUIDs the publish guard starts from.

Every GUID stays exactly as the source has it; an item without one takes its enclosure URL,
the identity apps already gave it. Nothing already in the catalogue is touched: a second
import of the same feed writes no file, and newer items add exactly their folders. The new
folders are written under a temporary folder inside the catalogue, then renamed into place,
so a refused or interrupted import leaves the catalogue as it was.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from fo_cast import rules, workers
from fo_cast.catalogue import yaml12
from fo_cast.catalogue.feedconvert import (
    ITUNES,
    Notes,
    Skipped,
    Tags,
    attribute,
    episode_manifest,
    show_manifest,
)
from fo_cast.catalogue.feedmap import companion_markdown
from fo_cast.catalogue.feedread import SourceFeed, read_source
from fo_cast.catalogue.reader import (
    EPISODE_FILE,
    SHOW_FILE,
    Catalogue,
    ManifestCache,
    episode_cache_key,
    episode_cache_payload,
    load_settings,
    media_folder,
    refuse_outside,
)
from fo_cast.catalogue.scaffold import SCHEMA_DIR, _quoted, slugify
from fo_cast.errors import FoCastError, UsageError
from fo_cast.limits import load_json
from fo_cast.problems import Report
from fo_cast.state import MANIFEST_CACHE, atomic_write, write_all
from fo_cast.units import plural

IMPORTED_FILE = "imported.json"  # in the show folder: the GUIDs the publish guard protects


class ImportRefused(FoCastError):
    """The import would break a rule (a locked feed, a folder in the way); nothing written."""


@dataclass(kw_only=True)
class ImportResult(Notes):
    """What an import did: the episodes written, those skipped and why, and warnings."""

    show: str
    source: str
    show_written: bool = False
    written: list[str] = field(default_factory=list)  # episode folders, relative to the show
    already: int = 0  # items whose GUID the show already has
    repairs: list[str] = field(default_factory=list)  # of a not-well-formed source
    pages: int = 1
    report: Report = field(default_factory=Report)  # validation of the show as written

    @property
    def changed(self) -> bool:
        return self.show_written or bool(self.written)

    def summary_lines(self) -> list[str]:
        """Returns the summary a person reads: counts, then skipped, repaired and warnings."""
        pages = f" ({plural(self.pages, 'page')})" if self.pages > 1 else ""
        lines = [
            f"{self.source}{pages}: imported {plural(len(self.written), 'episode')} into "
            f"{self.show}/"
            + (" with a new show.yaml" if self.show_written else "")
            + (f"; {self.already} already there" if self.already else "")
            + ("" if self.changed else "; nothing written")
        ]
        lines += [f"skipped {s.item}: {s.reason}" for s in self.skipped]
        lines += [f"repaired: {r}" for r in self.repairs]
        lines += [f"warning: {w}" for w in self.warnings]
        return lines


@dataclass(frozen=True)
class ImportOptions:
    media: str = "url"  # url: keep media at the source's URLs; download: fetch into folders
    i_own_this_feed: bool = False  # the producer says a podcast:locked feed is theirs
    merge: bool = False  # add a feed's episodes to an existing show that looks like another
    workers: int = 4  # parallel downloads with media="download"
    parallel: bool | None = None  # convert and write episodes on every core; None: when the
    # import is large (PARALLEL_FROM new episodes or more)
    on_event: Callable[[Any], None] | None = None  # download events, for a progress display


# --- the import -----------------------------------------------------------------------------


def import_feed(
    source: str,
    catalogue: Path,
    show: str,
    options: ImportOptions | None = None,
    fetch: Callable[[str], bytes] | None = None,
    now: datetime | None = None,
    validate: Callable[[Path], Report] | None = None,
) -> ImportResult:
    """Returns what importing the feed at source (file or URL) into CATALOGUE/show did.

    `validate` checks the catalogue as written (the pipeline's check lives above this
    package: `fo_cast.build.import_show` passes it); the show's problems become the report.

    Raises FeedError for a source that is no feed, ImportRefused for a locked feed without
    `i_own_this_feed`, UsageError for a show slug or catalogue that cannot be used.
    """
    options = options or ImportOptions()
    try:
        rules.check_slug(show)
    except ValueError as exc:
        raise UsageError(f"--show: {exc}") from None
    if not catalogue.is_dir():
        raise UsageError(f"{catalogue}: no such folder; give the catalogue (fo-cast new show)")
    refuse_outside(catalogue, catalogue / show)  # a symlinked show folder: never written through
    feed = read_source(source, fetch)
    channel = Tags(feed.channel)
    locked = (channel.text("podcast", "locked") or "").lower() == "yes"
    if locked and not options.i_own_this_feed:
        raise ImportRefused(
            f"{source}: the feed is locked (podcast:locked yes): its owner asks hosts not to "
            "import it. If the show is yours, run again with --i-own-this-feed"
        )
    result = ImportResult(show=show, source=source, repairs=feed.repairs, pages=feed.pages)
    result.warnings.extend(feed.warnings)  # next pages not followed
    folder = catalogue / show
    show_yaml = None
    if not (folder / SHOW_FILE).exists():
        if folder.exists() and any(folder.iterdir()):
            raise ImportRefused(f"{folder}: a folder without {SHOW_FILE} is in the way")
        show_yaml = show_manifest(feed, channel, show, result)
    existing, elsewhere = _existing_guids(folder), _other_shows_guids(catalogue, folder)
    if show_yaml is None and not options.merge:
        _refuse_another_show(folder, channel, feed, existing)
    unrecorded: list[dict[str, str]] = []
    episodes = list(_new_episodes(feed, folder, existing, elsewhere, result, unrecorded))
    _unique_numbers(episodes, result)
    if show_yaml is None and not episodes and not unrecorded:
        # Nothing new to write; the show is still checked, so a re-import in a scheduled job
        # fails while the show has errors (it exited 0, speaking only of what it wrote).
        if validate is not None:
            result.report = _of_show(validate(catalogue), catalogue, show)
        return result
    show_files: dict[str, Path] = {}
    if options.media == "download":
        media_root = media_folder(catalogue, load_settings(catalogue))
        show_files = download_media(
            catalogue / DOWNLOADS / show,
            show_yaml,
            episodes,
            options,
            media_root / show if media_root else None,
        )
    stamp = (now or datetime.now(UTC)).isoformat(timespec="seconds")
    for row in unrecorded:
        row["imported"] = stamp
    parallel = options.parallel
    if parallel is None:
        parallel = len(episodes) >= PARALLEL_FROM
    written = _write(
        catalogue, folder, show_yaml, episodes, feed, stamp, show_files, unrecorded, parallel
    )
    _remember_manifests(catalogue, folder.name, written)
    result.show_written = show_yaml is not None
    result.written = [e.folder for e in episodes]
    if validate is not None:
        result.report = _of_show(validate(catalogue), catalogue, show)
    return result


def _of_show(report: Report, catalogue: Path, show: str) -> Report:
    """Returns the problems of the catalogue's report that lie in the show."""
    prefix = f"{catalogue.resolve().name}/{show}/"
    mine = Report()
    mine.extend(p for p in report.problems if str(p.file).startswith(prefix))
    return mine


@dataclass
class NewEpisode:
    guid: str
    folder: str
    data: dict[str, Any]
    notes: str  # the item's HTML or text, for companion.md
    enclosure_url: str
    files: dict[str, Path] = field(default_factory=dict)  # downloaded: name -> where it is


def _refuse_another_show(folder: Path, channel: Tags, feed: SourceFeed, existing: set[str]) -> None:
    """Raises ImportRefused when an existing show looks like another podcast than the feed:
    another title, and none of the feed's GUIDs among its episodes (a re-import, or the
    show's own old feed brought in, share one or the other)."""
    try:
        data = yaml12.load((folder / SHOW_FILE).read_text(encoding="utf-8")).data
    except (OSError, UnicodeDecodeError, yaml12.YamlError):
        return  # validation names what is wrong with it
    title = data.get("title") if isinstance(data, dict) else None
    theirs = channel.text("", "title") or channel.text(ITUNES, "title") or ""
    if (
        not isinstance(title, str)
        or " ".join(title.split()).casefold() == " ".join(theirs.split()).casefold()
    ):
        return
    guids = {Tags(item).text("", "guid") for item in feed.items}
    if guids & existing:
        return
    raise ImportRefused(
        f"{folder} holds the show '{title}', and the feed is '{theirs}' with none of its "
        "episodes: import it as a new show (--show another-slug), or pass --merge to add "
        "its episodes to this one"
    )


def _existing_guids(folder: Path) -> set[str]:
    """Returns the GUIDs of the show's episodes on disk (an editor may have moved them)."""
    guids: set[str] = set()
    if not folder.is_dir():
        return guids
    for manifest in folder.glob(f"*/{EPISODE_FILE}"):
        try:
            data = yaml12.load(manifest.read_text(encoding="utf-8")).data
        except (OSError, UnicodeDecodeError, yaml12.YamlError):
            continue
        if isinstance(data, dict) and isinstance(data.get("guid"), str):
            guids.add(data["guid"])
    for row in read_imported(folder):
        guids.add(row["guid"])  # imported once, deleted since: an editor's choice to respect
    return guids


def _other_shows_guids(catalogue: Path, folder: Path) -> dict[str, str]:
    """Returns the GUIDs of the catalogue's other shows, each with its show's folder name."""
    return {
        guid: other.name
        for other in sorted(catalogue.iterdir())
        if other.is_dir() and other != folder and other.name[0] not in "._"
        for guid in _existing_guids(other)
    }


def _new_episodes(
    feed: SourceFeed,
    folder: Path,
    existing: set[str],
    elsewhere: dict[str, str],
    result: ImportResult,
    unrecorded: list[dict[str, str]],
) -> Iterator[NewEpisode]:
    seen: dict[str, str] = {}
    recorded = {row["guid"] for row in read_imported(folder)}
    used = {p.name for p in folder.iterdir()} if folder.is_dir() else set()
    for index, item in enumerate(feed.items, start=1):
        tags = Tags(item)
        title = tags.text("", "title") or tags.text(ITUNES, "title")
        enclosure = tags.first("", "enclosure")
        enclosure_url = attribute(enclosure, "url")
        guid = tags.text("", "guid")
        known = guid or title or f"item {index}"
        if guid is None and enclosure_url is None:
            result.skipped.append(Skipped(known, "no guid and no enclosure: not an episode"))
            continue
        if guid is None:
            assert enclosure_url is not None
            guid = enclosure_url
            result.warnings.append(f"'{title or guid}': no guid; its enclosure URL is its GUID")
        if guid in seen:
            result.skipped.append(
                Skipped(guid, f"the GUID is repeated; the first item with it ('{seen[guid]}') kept")
            )
            continue
        seen[guid] = title or guid
        if guid in existing:
            result.already += 1
            if guid not in recorded:  # moved in by an import that was interrupted
                unrecorded.append(_row(guid, enclosure_url or "", title or guid))
            continue
        if guid in elsewhere:
            result.skipped.append(Skipped(guid, f"the show {elsewhere[guid]} has this GUID"))
            continue
        episode = episode_manifest(tags, guid, title, result)
        if episode is None:
            continue
        data, notes, url = episode
        slug = _folder_name(data, used)
        yield NewEpisode(guid, slug, data, notes, url)


def _unique_numbers(episodes: list[NewEpisode], result: ImportResult) -> None:
    """Leaves a season + episode number on the earliest item that has it only: feeds repeat
    them (a re-upload, a bonus numbered like the episode it follows), and a show's numbers
    must be unique to pass validation. Each number left out is said."""

    def when(new: NewEpisode) -> tuple[bool, datetime]:
        published = new.data.get("published")
        if not isinstance(published, str):
            return True, datetime.max.replace(tzinfo=UTC)  # drafts: after every dated item
        return False, datetime.fromisoformat(published)

    first: dict[tuple[object, object], NewEpisode] = {}
    for new in sorted(episodes, key=when):  # stable: the feed's order among equal dates
        number = new.data.get("episode")
        if number is None:
            continue
        key = (new.data.get("season"), number)
        earlier = first.setdefault(key, new)
        if earlier is not new:
            del new.data["episode"]
            season = f"season {key[0]} " if key[0] is not None else ""
            result.warnings.append(
                f"'{new.data['title']}': {season}episode {number} is the number of the earlier "
                f"'{earlier.data['title']}' too; left out of this one: number it by hand"
            )


def _folder_name(data: dict[str, Any], used: set[str]) -> str:
    published = data.get("published")
    date = published[:10] if isinstance(published, str) else "undated"
    base = f"{date}-{slugify(data['title'], 50)}"
    name, n = base, 2
    while name in used:
        name, n = f"{base}-{n}", n + 1
    used.add(name)
    return name


# --- writing --------------------------------------------------------------------------------


def _write(
    catalogue: Path,
    folder: Path,
    show_yaml: dict[str, Any] | None,
    episodes: list[NewEpisode],
    feed: SourceFeed,
    stamp: str,
    show_files: dict[str, Path] | None = None,
    unrecorded: list[dict[str, str]] | None = None,
    parallel: bool = False,
) -> list[Written]:
    """Writes the new files under a temporary folder in the catalogue, then renames them in
    (downloaded media too, moved from where the downloads collected it); returns the
    episode manifests written."""
    _remove_stale_staging(catalogue)
    staging = catalogue / f"{STAGING_PREFIX}{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    target = staging / folder.name
    try:
        target.mkdir(parents=True)
        if show_yaml is not None:
            (target / SHOW_FILE).write_text(
                f"# yaml-language-server: $schema=../{SCHEMA_DIR}/show.schema.json\n"
                + to_yaml(show_yaml),
                encoding="utf-8",
            )
        written = _write_all(target, episodes, parallel)
        for episode in episodes:
            for name, downloaded in episode.files.items():
                os.replace(downloaded, target / episode.folder / name)
        for name, downloaded in (show_files or {}).items():
            os.replace(downloaded, target / name)
        record = read_imported(folder) + (unrecorded or [])
        record += [{**_row(e.guid, e.enclosure_url, e.data["title"]), "imported": stamp}
                   for e in episodes]  # fmt: skip
        source = feed.source if "://" in feed.source else Path(feed.source).name
        data = json.dumps({"version": 1, "source": source, "items": record}, indent=1)
        (target / IMPORTED_FILE).write_text(data + "\n", encoding="utf-8")
        if not folder.exists():  # a new show: one rename puts all of it in place
            target.rename(folder)
        else:
            _merge(target, folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return written


PARALLEL_FROM = 500  # new episodes; fewer convert faster than worker processes start
EPISODE_HEAD = f"# yaml-language-server: $schema=../../{SCHEMA_DIR}/episode.schema.json\n"
# An episode folder as written: its name, and its episode.yaml's size, mtime and the payload
# the manifest cache keeps for it (None when the reader would not keep one).
Written = tuple[str, int, int, str | None]


def _write_all(target: Path, episodes: list[NewEpisode], parallel: bool) -> list[Written]:
    """Writes every episode's folder under target, on every core when parallel: Markdown
    conversion, YAML and the file system are most of an import's time. The bytes do not
    depend on it (folder names and notes were decided before)."""
    jobs = [(e.folder, e.data, e.notes) for e in episodes]
    write = functools.partial(_write_episodes, str(target))
    return workers.map_forked(write, jobs) if parallel else write(jobs)


def _write_episodes(target: str, jobs: list[tuple[str, dict[str, Any], str]]) -> list[Written]:
    """Writes episode folders (episode.yaml, companion.md) under target (a worker's part)."""
    found = []
    for name, data, notes in jobs:
        where = os.path.join(target, name)
        os.mkdir(where)
        text = EPISODE_HEAD + to_yaml(data)
        stat = _create(os.path.join(where, EPISODE_FILE), text.encode("utf-8"))
        _create(os.path.join(where, "companion.md"), companion_markdown(notes).encode("utf-8"))
        found.append((name, stat.st_size, stat.st_mtime_ns, episode_cache_payload(text)))
    return found


def _create(path: str, data: bytes) -> os.stat_result:
    """Writes a new file (four system calls); returns its status as written."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
    try:
        write_all(fd, data)
        return os.fstat(fd)
    finally:
        os.close(fd)


def _remember_manifests(catalogue: Path, show: str, written: list[Written]) -> None:
    """Gives the manifest cache the episode manifests just written, so that validation
    takes them from it rather than parsing YAML this import has just made and read."""
    cache = ManifestCache(catalogue / MANIFEST_CACHE)
    for name, size, mtime_ns, payload in written:
        if payload is not None:
            cache.remember(episode_cache_key(catalogue, show, name), size, mtime_ns, payload)
    cache.save(forget_unused=False)


STAGING_PREFIX = ".import-"  # + pid: hidden, so validation never reads a half-written show


def _remove_stale_staging(catalogue: Path) -> None:
    """Removes the staging folders of imports that were killed (their process is gone)."""
    for staged in catalogue.glob(f"{STAGING_PREFIX}*"):
        pid = staged.name[len(STAGING_PREFIX) :]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(staged, ignore_errors=True)
        except OSError:
            pass  # alive, under another user


def _row(guid: str, enclosure_url: str, title: str) -> dict[str, str]:
    return {"guid": guid, "enclosure_url": enclosure_url, "title": title}


def _merge(staged: Path, folder: Path) -> None:
    """Moves the staged episode folders into the show (each one rename), the record last."""
    folder.mkdir(exist_ok=True)
    for entry in sorted(staged.iterdir()):
        if entry.name == IMPORTED_FILE:
            continue
        destination = folder / entry.name
        if destination.exists():
            raise ImportRefused(f"{destination}: already exists; nothing of it was replaced")
        entry.rename(destination)
    atomic_write(folder / IMPORTED_FILE, (staged / IMPORTED_FILE).read_bytes())


def to_yaml(data: Any, indent: int = 0) -> str:
    """Returns data as block YAML whose every string reads back as the same string under
    YAML 1.2 (strings are double-quoted unless plainly safe)."""
    pad = "  " * indent
    lines = []
    for key, value in data.items():
        if isinstance(value, list | dict) and not value:  # read back as empty, not as null
            lines.append(f"{pad}{key}: {'[]' if isinstance(value, list) else '{}'}")
        elif isinstance(value, dict):
            lines.append(f"{pad}{key}:\n{to_yaml(value, indent + 1).rstrip()}")
        elif isinstance(value, list):
            lines.append(f"{pad}{key}:")
            for entry in value:
                if isinstance(entry, dict):
                    body = to_yaml(entry, indent + 2).rstrip()
                    lines.append(f"{pad}  - {body.lstrip()}")
                else:
                    lines.append(f"{pad}  - {_scalar(entry)}")
        else:
            lines.append(f"{pad}{key}: {_scalar(value)}")
    return "\n".join(lines) + "\n"


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    text = str(value)
    return text if _plain_safe(text) else _quoted(text)


_PLAIN_WORDS = frozenset({"true", "false", "null", "yes", "no", "on", "off", "y", "n", "~"})


def _plain_safe(text: str) -> bool:
    """Returns True for text that YAML reads back as itself without quotes."""
    if not text or text != text.strip() or text.lower() in _PLAIN_WORDS:
        return False
    if not text[0].isalpha() or any(c in text for c in ":#'\"{}[],&*!|>%@`\\\n\t"):
        return False
    return text.isprintable()


def read_imported(folder: Path) -> list[dict[str, str]]:
    """Returns the rows of a show's imported.json (empty when it has none or it is damaged)."""
    try:
        rows = load_json((folder / IMPORTED_FILE).read_bytes())["items"]
    except (OSError, ValueError, KeyError, TypeError):
        return []
    if not isinstance(rows, list):
        return []
    return [r for r in rows if isinstance(r, dict) and isinstance(r.get("guid"), str)]


def imported_items(catalogue: Catalogue) -> list[tuple[str, dict[str, str]]]:
    """Returns (feed path, row) for every imported GUID of the catalogue's shows: what the
    publish guard protects from the first publish on."""
    found = []
    for show in catalogue.shows:
        for row in read_imported(show.folder):
            found.append((f"{show.slug}/feed.xml", row))
    return found


# --- --media download -----------------------------------------------------------------------

DOWNLOADS = ".fo-cast/downloads"  # in the catalogue: part files survive an interrupted import


def download_media(
    folder: Path,
    show_yaml: dict[str, Any] | None,
    episodes: list[NewEpisode],
    options: ImportOptions,
    media_show: Path | None = None,
) -> dict[str, Path]:
    """Fetches enclosures, episode artwork and transcripts (and a new show's artwork) into
    folder/<episode>/, points the manifests at the files, and returns the show's own files.

    With a media folder (`[media] folder`, FO_CAST_MEDIA), enclosures go straight to their
    place in it, media_show/<episode>/, outside git; the rest is moved into the episodes.

    Raises ImportRefused, nothing written, when a download fails or its length is not the
    feed's; the parts already fetched are kept and resumed by the next run.
    """
    from fo_cast.media import download  # parallel, resumable; only this mode needs it

    jobs = []
    where: dict[Path, tuple[dict[str, Any], str, str]] = {}  # target -> (data, key, name)
    for episode in episodes:
        media = episode.data["media"][0]
        kind = "video" if str(media.get("type", "")).startswith("video/") else "audio"
        wanted = [(media, "url", kind, media.get("length"))]
        wanted += [(episode.data, k, k, None) for k in ("image", "transcript") if k in episode.data]
        for data, key, stem, length in wanted:
            name = stem + _suffix(data[key], data.get("type"))
            base = media_show if key == "url" and media_show is not None else folder
            outside = base is not folder
            target = base / episode.folder / name
            jobs.append(download.DownloadJob(url=data[key], target=target, length=length))
            where[target] = (data, key, name)
            if not outside:  # moved into the episode folder with the manifest
                episode.files[name] = target
    show_files = {}
    if show_yaml is not None and rules.is_url(show_yaml.get("artwork", "")):
        name = "artwork" + _suffix(show_yaml["artwork"], None)
        target = folder / name
        jobs.append(download.DownloadJob(url=show_yaml["artwork"], target=target, length=None))
        where[target] = (show_yaml, "artwork", name)
        show_files[name] = target
    for job in jobs:
        job.target.parent.mkdir(parents=True, exist_ok=True)
    failures = []
    for event in download.download_all(jobs, workers=options.workers):
        if options.on_event is not None:
            options.on_event(event)
        if isinstance(event, download.Failed):
            failures.append(f"{download.redacted(event.job.url)}: {event.reason}")
    if failures:
        raise ImportRefused(
            f"{plural(len(failures), 'download')} failed, nothing imported (run again to "
            f"resume): " + "; ".join(failures[:5])
        )
    for data, key, name in where.values():
        if key == "url":  # a medium: the file now, probed by validation
            data.pop("url")
            data.pop("duration", None)
            data.pop("type", None)
            data.pop("length", None)
            data["file"] = name
        else:
            data[key] = name
    return show_files


def _suffix(url: str, declared: str | None) -> str:
    suffix = PurePosixPath(urlsplit(url).path).suffix.lower()
    if suffix and len(suffix) <= 5:
        return suffix
    by_type = {v: k for k, v in rules.MEDIA_TYPES.items()}
    return by_type.get(declared or "", ".bin")
