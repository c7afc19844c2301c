"""Finds and reads `episodes/`: settings, shows, episodes and companions -> Catalogue + problems.

The only module that reads the catalogue's text files. Every problem names the file (relative
to the folder holding the catalogue), the line, and the field path into the manifest.
"""

from __future__ import annotations

import errno
import json
import os
import time
import tomllib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from stat import S_ISDIR, S_ISLNK, S_ISREG
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from fo_cast.catalogue import yaml12
from fo_cast.catalogue.messages import field_path, validation_message
from fo_cast.catalogue.models import Episode, Show
from fo_cast.catalogue.settings import MEDIA_ENV, SETTINGS_FILE, Settings
from fo_cast.errors import FoCastError
from fo_cast.limits import (
    MAX_DEPTH,
    TOO_DEEP,
    TooDeep,
    load_json,
    load_toml,
    markdown_too_deep,
)
from fo_cast.problems import Report, Severity
from fo_cast.rules import first_xml_illegal
from fo_cast.snapshot import SETTLE_NS
from fo_cast.state import MANIFEST_CACHE, atomic_write

SHOW_FILE = "show.yaml"
EPISODE_FILE = "episode.yaml"
M = TypeVar("M", bound=BaseModel)


@dataclass
class EpisodeEntry:
    """One episode as found on disk."""

    show: str  # the show's slug
    slug: str
    folder: Path
    manifest: PurePosixPath  # for messages: episodes/talks/2024-08-04-x/episode.yaml
    episode: Episode
    doc: yaml12.Document
    companion: str | None = None  # the Markdown text, None when missing or unreadable
    # this episode's folder in the media folder (MEDIA/SHOW/EPISODE), when there is one
    elsewhere: Path | None = None
    _found: dict[str, Path] = field(default_factory=dict, repr=False, compare=False)
    # file() and shown() by relative path: the checks ask for each some twice per run, and
    # pathlib's join is the larger part of asking
    _files: dict[str, Path] = field(default_factory=dict, repr=False, compare=False)
    _shown: dict[str, PurePosixPath] = field(default_factory=dict, repr=False, compare=False)

    def file(self, relative: str) -> Path:
        found = self._files.get(relative)
        if found is None:
            found = self._files[relative] = self.folder / relative
        return found

    def media_file(self, relative: str) -> Path:
        """Returns where a media file is: in the episode folder if it is there, else in the
        media folder when the file is there, else the episode folder's (missing) path."""
        found = self._found.get(relative)  # asked some five times per file a run
        if found is None:
            found = local = self.file(relative)
            if self.elsewhere is not None:
                other = self.elsewhere / relative
                found = other if not os.path.lexists(local) and os.path.exists(other) else local
            self._found[relative] = found
        return found

    def shown(self, relative: str) -> PurePosixPath:
        found = self._shown.get(relative)
        if found is None:
            found = self._shown[relative] = self.manifest.parent / relative
        return found


@dataclass
class ShowEntry:
    """One show and its episodes, as found on disk."""

    slug: str
    folder: Path
    manifest: PurePosixPath
    show: Show
    doc: yaml12.Document
    episodes: list[EpisodeEntry] = field(default_factory=list)


@dataclass
class Catalogue:
    """Everything read from a catalogue folder; the input of every later stage."""

    root: Path
    settings: Settings
    shows: list[ShowEntry] = field(default_factory=list)
    media_folder: Path | None = None  # [media] folder or FO_CAST_MEDIA, made absolute
    # episodes of shows whose show.yaml has errors: checked, so that a broken show.yaml does
    # not hide its episodes' problems, but never built
    orphans: list[EpisodeEntry] = field(default_factory=list)

    @property
    def name(self) -> PurePosixPath:
        return PurePosixPath(self.root.resolve().name)

    @property
    def settings_file(self) -> PurePosixPath:
        """Returns fo-cast.toml as problems name it: episodes/fo-cast.toml."""
        return self.name / SETTINGS_FILE

    def episodes(self) -> list[EpisodeEntry]:
        return [entry for show in self.shows for entry in show.episodes]

    def show(self, slug: str) -> ShowEntry | None:
        return next((s for s in self.shows if s.slug == slug), None)


def load_catalogue(
    root: Path,
    use_cache: bool = True,
    environ: Mapping[str, str] | None = None,
    only: Collection[str] | None = None,
) -> tuple[Catalogue, Report]:
    """Returns the catalogue under root and the problems found reading it.

    Manifests that were valid and have not changed since the last run (same size and mtime)
    are taken from CATALOGUE/.fo-cast/manifests.json instead of being parsed again. The media
    folder comes from FO_CAST_MEDIA in environ (default: os.environ), else fo-cast.toml.

    With `only` (episode folders as "show-folder/episode-folder"), the catalogue holds those
    episodes alone, in their shows (a rebuild checks the episodes that changed: rebuild.py).
    """
    report = Report()
    cache = ManifestCache(root / MANIFEST_CACHE if use_cache else None)
    _REAL_FOLDERS.clear()
    _REAL_TOPS.clear()
    _LISTED.clear()
    name = PurePosixPath(root.resolve().name)
    settings = _load_settings(root, name, report)
    catalogue = Catalogue(root=root, settings=settings)
    if not root.is_dir():
        report.add(name, "", "no such folder; give the folder that holds the shows")
        return catalogue, report
    if only is None:
        _parse_ahead(root, name, cache)
    wanted = None if only is None else {p.partition("/")[0] for p in only}
    for folder in _subfolders(root):
        if wanted is not None and folder.name not in wanted:
            continue
        manifest = folder / SHOW_FILE
        shown = name / folder.name / SHOW_FILE
        if not manifest.is_file():
            report.add(
                name / folder.name,
                "",
                f"no {SHOW_FILE}; every show folder needs one",
                severity=Severity.WARNING,
            )
            continue
        show_entry, episodes = _load_show(root, folder, shown, report, cache, only)
        if show_entry is not None:
            catalogue.shows.append(show_entry)
        else:
            catalogue.orphans.extend(episodes)
    cache.save(forget_unused=only is None)
    _find_media_folder(catalogue, environ)
    return catalogue, report


def _parse_ahead(root: Path, name: PurePosixPath, cache: ManifestCache) -> None:
    """Parses, on every core, the episode manifests the cache does not hold (a first run, a
    fresh clone), into the cache: the reading below then finds every clean one there, and
    parses again only those with problems, to report them. The same reading and checks as
    that reading's own (`episode_cache_payload`), so the catalogue is the same either way."""
    if cache.path is None:
        return
    todo: list[tuple[str, str, int, int]] = []
    for show in _subfolders(root):
        if not os.path.isfile(show / SHOW_FILE):
            continue
        for folder in _subfolders(show):
            manifest = folder / EPISODE_FILE
            try:
                st = os.stat(manifest)
            except OSError:
                continue
            key = f"{name}/{show.name}/{folder.name}/{EPISODE_FILE}"
            if S_ISREG(st.st_mode) and not cache.holds(key, st) and is_inside(root, manifest):
                todo.append((key, str(manifest), st.st_size, st.st_mtime_ns))
    if len(todo) < PARSE_AHEAD_MIN:
        return
    from fo_cast.workers import map_forked

    for key, size, mtime_ns, payload in map_forked(_payloads, todo):
        if payload is not None:
            cache.remember(key, size, mtime_ns, payload)


# A manifest or the settings reached through a symlink that leads out of the catalogue.
OUTSIDE = (
    "a symlink leading outside the catalogue; fo-cast reads only what is inside it: "
    "put the file itself here"
)

PARSE_AHEAD_MIN = 200  # fewer manifests to parse than this: not worth a worker


def _payloads(todo: list[tuple[str, str, int, int]]) -> list[tuple[str, int, int, str | None]]:
    """Returns the manifest cache's payload of each manifest (None: it has a problem, or it
    changed while being read), in a worker."""
    done = []
    for key, path, size, mtime_ns in todo:
        payload = None
        try:
            text = read_file(Path(path)).decode("utf-8")
            st = os.stat(path)
            if (st.st_size, st.st_mtime_ns) == (size, mtime_ns):
                payload = episode_cache_payload(text)
        except (OSError, UnicodeDecodeError):
            pass
        done.append((key, size, mtime_ns, payload))
    return done


def load_settings(root: Path) -> Settings:
    """Returns the settings of the catalogue at root (the defaults where fo-cast.toml has
    problems, which validation reports)."""
    return _load_settings(root, PurePosixPath(root.resolve().name), Report())


def media_folder(
    root: Path, settings: Settings, environ: Mapping[str, str] | None = None
) -> Path | None:
    """Returns the absolute media folder of the catalogue at root, or None without one:
    FO_CAST_MEDIA (relative to the current folder) else [media] folder (relative to the
    folder holding the catalogue). Media of SHOW/EPISODE/ live in its SHOW/EPISODE/."""
    from_env = (os.environ if environ is None else environ).get(MEDIA_ENV, "").strip()
    configured = from_env or settings.media.folder
    if not configured:
        return None
    folder = Path(configured).expanduser()
    if not folder.is_absolute():  # the variable is typed in a shell, the setting in the file
        base = Path.cwd() if from_env else root.absolute().parent
        folder = base / folder
    return Path(os.path.normpath(folder))


def _find_media_folder(catalogue: Catalogue, environ: Mapping[str, str] | None) -> None:
    """Sets the catalogue's media folder and each episode's place in it (MEDIA/SHOW/EPISODE).

    A folder that is not there is no problem by itself (the media may all be local); a file
    found in neither place says where it was looked for."""
    folder = catalogue.media_folder = media_folder(catalogue.root, catalogue.settings, environ)
    if folder is None:
        return
    for entry in [*catalogue.episodes(), *catalogue.orphans]:
        entry.elsewhere = folder / entry.folder.relative_to(catalogue.root)


# Each folder's subfolders as _subfolders() listed them: parsing ahead and reading list the
# same folders, one after the other; cleared at each load_catalogue().
_LISTED: dict[Path, list[Path]] = {}


def _subfolders(folder: Path) -> list[Path]:
    """Returns the folders inside, sorted, skipping hidden ones and those starting with '_'."""
    listed = _LISTED.get(folder)
    if listed is None:
        listed = _LISTED[folder] = _list_subfolders(folder)
    return listed


def _list_subfolders(folder: Path) -> list[Path]:
    try:
        with os.scandir(folder) as entries:  # d_type tells folders apart without a stat each
            found = sorted(
                (e.name, e.is_symlink()) for e in entries if e.name[0] not in "._" and e.is_dir()
            )
    except OSError:
        return []
    # A folder resolved (see _realpath) holds these as they are, those not symlinks: each
    # resolved now, without an lstat, for the files later checked in it.
    real = _REAL_FOLDERS.get(str(folder))
    folders = []
    for name, link in found:
        subfolder = folder / name
        if real is not None and not link:
            _REAL_FOLDERS[str(subfolder)] = os.path.join(real, name)
        folders.append(subfolder)
    return folders


def _load_settings(root: Path, name: PurePosixPath, report: Report) -> Settings:
    path = root / SETTINGS_FILE
    shown = name / SETTINGS_FILE
    if not path.exists():
        return Settings.model_validate({})
    if not is_inside(root, path):
        report.add(shown, "", OUTSIDE)
        return Settings.model_validate({})
    if not path.is_file():
        report.add(shown, "", f"not a file; {SETTINGS_FILE} holds the catalogue's settings")
        return Settings.model_validate({})
    try:
        # an editor's byte-order mark is no TOML, but no reason to refuse the file either
        data = load_toml(read_file(path).decode("utf-8").removeprefix("\ufeff"))
    except UnicodeDecodeError:
        report.add(shown, "", "not UTF-8 text; save it as UTF-8")
        return Settings.model_validate({})
    except TooDeep as exc:
        report.add(shown, "", f"{exc}; the settings need two levels")
        return Settings.model_validate({})
    except OSError as exc:
        report.add(shown, "", f"cannot read it: {exc.strerror or exc}")
        return Settings.model_validate({})
    except tomllib.TOMLDecodeError as exc:
        line = _toml_line(str(exc))
        report.add(shown, "", f"not valid TOML: {str(exc).split(' (at')[0]}", line)
        return Settings.model_validate({})
    settings = _validate(Settings, data, shown, yaml12.Document(data), report)
    return settings or Settings.model_validate({})


def _toml_line(message: str) -> int | None:
    marker = "(at line "
    if marker in message:
        digits = message.split(marker, 1)[1].split(",")[0].rstrip(")")
        return int(digits) if digits.isdigit() else None
    return None


def _load_show(
    root: Path,
    folder: Path,
    shown: PurePosixPath,
    report: Report,
    cache: ManifestCache,
    only: Collection[str] | None = None,
) -> tuple[ShowEntry | None, list[EpisodeEntry]]:
    """Returns the show (None if its show.yaml has errors) and the episodes read in it."""
    if is_inside(root, folder / SHOW_FILE):
        doc = _read_yaml(folder / SHOW_FILE, shown, report)
    else:
        report.add(shown, "", OUTSIDE)
        doc = None
    show = _validate(Show, doc.data, shown, doc, report) if doc is not None else None
    slug = (show.slug if show else None) or folder.name
    if (show is None or show.slug is None) and not _is_slug(slug):
        report.add(shown, "slug", f"folder name '{slug}' is not a slug; rename it or set slug")
        show = None
    episodes = _load_episodes(root, folder, slug, shown, report, cache, only)
    if show is None or doc is None:
        return None, episodes
    entry = ShowEntry(slug=slug, folder=folder, manifest=shown, show=show, doc=doc)
    entry.episodes = episodes
    return entry, episodes


def _load_episodes(
    root: Path,
    folder: Path,
    slug: str,
    shown: PurePosixPath,
    report: Report,
    cache: ManifestCache,
    only: Collection[str] | None = None,
) -> list[EpisodeEntry]:
    episodes = []
    for episode_folder in _subfolders(folder):
        if only is not None and f"{folder.name}/{episode_folder.name}" not in only:
            continue
        manifest = episode_folder / EPISODE_FILE
        episode_shown = PurePosixPath(f"{shown.parent}/{episode_folder.name}/{EPISODE_FILE}")
        if not is_inside(root, manifest):
            report.add(episode_shown, "", OUTSIDE)
            continue
        try:
            stat: os.stat_result | None = os.stat(manifest)
        except OSError:
            stat = None
        if stat is not None and not S_ISREG(stat.st_mode):
            report.add(episode_shown, "", "not a file; the episode's manifest must be a file")
            continue
        if stat is None:
            report.add(
                episode_shown.parent,
                "",
                f"no {EPISODE_FILE}; every episode folder needs one",
                severity=Severity.WARNING,
            )
            continue
        episode_entry = _load_episode(
            root, slug, episode_folder, episode_shown, report, cache, stat
        )
        if episode_entry is not None:
            episodes.append(episode_entry)
    return episodes


def _load_episode(
    root: Path,
    show: str,
    folder: Path,
    shown: PurePosixPath,
    report: Report,
    cache: ManifestCache,
    stat: os.stat_result,
) -> EpisodeEntry | None:
    manifest = folder / EPISODE_FILE
    key = str(shown)
    cached = cache.get(key, stat)
    if cached is not None:
        data, doc = cached
        episode = Episode.model_validate(data)
    else:
        problems_before = len(report.problems)
        parsed = _read_yaml(manifest, shown, report)
        if parsed is None:
            return None
        doc = parsed
        validated = _validate(Episode, doc.data, shown, doc, report)
        if validated is None:
            return None
        episode = validated
        if len(report.problems) == problems_before:  # only clean manifests are remembered
            cache.put(key, stat, doc)
    slug = episode.slug or folder.name
    if episode.slug is None and not _is_slug(slug):
        report.add(shown, "slug", f"folder name '{slug}' is not a slug; rename it or set slug")
        return None
    entry = EpisodeEntry(
        show=show, slug=slug, folder=folder, manifest=shown, episode=episode, doc=doc
    )
    entry.companion = _read_companion(root, entry, report)
    return entry


class ManifestCache:
    """Clean manifests by path, with the size and mtime they had: their data and lines.

    JSON, never pickle: a cache file that came with a cloned catalogue must not be able to
    run code. Anything unreadable in it only means a slower run.
    """

    VERSION = 3

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.entries: dict[str, list[Any]] = {}
        self.used: set[str] = set()
        self.dirty = False
        if path is None:
            return
        try:
            stored = load_json(path.read_bytes())
            if stored.get("version") == self.VERSION and isinstance(stored["entries"], dict):
                self.entries = stored["entries"]
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            self.entries = {}

    def get(self, key: str, stat: os.stat_result) -> tuple[Any, yaml12.Document] | None:
        """Returns (data, document) remembered for an unchanged manifest, or None."""
        entry = self.entries.get(key)
        if self.path is None or not entry:
            return None
        try:
            size, mtime_ns, payload = entry
            if size != stat.st_size or mtime_ns != stat.st_mtime_ns:
                return None
            data, lines = load_json(payload, limit=MAX_DEPTH + 2)  # [data, lines]
            doc = yaml12.CachedDocument(data, lines)
        except (ValueError, TypeError):
            return None
        self.used.add(key)
        return doc.data, doc

    def holds(self, key: str, stat: os.stat_result) -> bool:
        """Returns True when the cache has an entry for the manifest as it is (size, mtime)."""
        entry = self.entries.get(key)
        return (
            isinstance(entry, list)
            and len(entry) == 3
            and entry[0] == stat.st_size
            and entry[1] == stat.st_mtime_ns
        )

    def put(self, key: str, stat: os.stat_result, doc: yaml12.Document) -> None:
        """Remembers a manifest as read, unless it was modified within SETTLE_NS of now: an
        edit within the same timestamp tick would keep its size and mtime, and the entry
        would stand for the bytes before it (git's "racily clean" entries)."""
        if time.time_ns() - stat.st_mtime_ns < SETTLE_NS:
            return
        self.remember(key, stat.st_size, stat.st_mtime_ns, _payload(doc))

    def remember(self, key: str, size: int, mtime_ns: int, payload: str) -> None:
        """Remembers the payload (from episode_cache_payload) of a manifest of this size and
        mtime: a writer of manifests, the importer, saves the reader parsing them again."""
        if self.path is None:
            return
        self.entries[key] = [size, mtime_ns, payload]
        self.used.add(key)
        self.dirty = True

    def save(self, forget_unused: bool = True) -> None:
        """Writes the cache atomically, forgetting manifests that are gone (unless told not
        to: a writer that read no manifests knows nothing of which are gone)."""
        if self.path is None:
            return
        if forget_unused and set(self.entries) - self.used:
            self.entries = {k: v for k, v in self.entries.items() if k in self.used}
            self.dirty = True
        if not self.dirty:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(self.path, json.dumps({"version": self.VERSION, "entries": self.entries}))
        except OSError:
            pass


def _payload(doc: yaml12.Document) -> str:
    return json.dumps([doc.data, yaml12.dotted_lines(doc)], ensure_ascii=False)


def episode_cache_key(root: Path, show_folder: str, episode_folder: str) -> str:
    """Returns the manifest cache's key for CATALOGUE/show/episode/episode.yaml."""
    return f"{root.resolve().name}/{show_folder}/{episode_folder}/{EPISODE_FILE}"


def episode_cache_payload(text: str) -> str | None:
    """Returns what the manifest cache remembers for an episode.yaml holding text, or None
    when the reader would remember nothing (the manifest has a problem): the same reading,
    the same checks, as load_catalogue's."""
    report = Report()
    shown = PurePosixPath(EPISODE_FILE)
    doc = _yaml_document(text.removeprefix("\ufeff"), shown, report)
    if doc is None or _validate(Episode, doc.data, shown, doc, report) is None:
        return None
    return None if report.problems else _payload(doc)


def is_inside(root: Path, path: Path) -> bool:
    """Returns True when path, symlinks followed, stays inside the folder root."""
    real = _realpath(str(path))
    top = _REAL_TOPS.get(root)
    if top is None:
        top = _REAL_TOPS[root] = _realpath(str(root)).rstrip(os.sep) + os.sep
    return real.startswith(top) or real + os.sep == top


def refuse_outside(root: Path, path: Path) -> None:
    """Raises FoCastError when path, symlinks followed, is not inside the catalogue root: a
    symlinked folder on the way would make fo-cast write someone else's files."""
    real, top = os.path.realpath(path), os.path.realpath(root)
    if real != top and not real.startswith(top.rstrip(os.sep) + os.sep):
        raise FoCastError(
            f"{path}: a symlink on the way leads outside the catalogue (to {real}); fo-cast "
            "writes only inside it: remove the symlink or write there yourself"
        )


# Resolved folders, so that checking every file of a large catalogue costs one lstat per file
# rather than one per path component; cleared at each load_catalogue().
_REAL_FOLDERS: dict[str, str] = {}
_REAL_TOPS: dict[Path, str] = {}


def _realpath(path: str) -> str:
    """Returns os.path.realpath(path), with one lstat per new folder rather than per part."""
    given_folder, _, name = path.rpartition(os.sep)
    known = _REAL_FOLDERS.get(given_folder) if name not in ("", ".", "..") else None
    if known is not None:  # the usual case: a file in a folder already resolved
        joined = os.path.join(known, name)
        try:
            link = S_ISLNK(os.lstat(joined).st_mode)
        except OSError:
            link = False
        return os.path.realpath(joined) if link else joined
    if os.pardir in _after_leading_parents(path):
        # '..' after a symlink is the link target's parent: the kernel's reading, never
        # abspath's, which drops the link ('../' in front goes up from the current folder,
        # itself resolved: abspath reads that as the kernel does)
        return os.path.realpath(path)
    path = os.path.abspath(path)
    # Up to the nearest folder already resolved (or the file system's root), then down again:
    # a loop, not a recursion, whatever the number of parts.
    parts: list[tuple[str, str]] = []  # (the path so far, its last part), from the file up
    head = path
    while True:
        parent, tail = os.path.split(head)
        if not tail:  # the file system's root
            real = head
            break
        parts.append((head, tail))
        if (known := _REAL_FOLDERS.get(parent)) is not None:
            real = known
            break
        head = parent
    for n, (whole, tail) in enumerate(reversed(parts)):
        joined = os.path.join(real, tail)
        real = os.path.realpath(joined) if os.path.islink(joined) else joined
        if n < len(parts) - 1:  # a folder on the way: resolved once for every later path
            _REAL_FOLDERS[whole] = real
    real_folder = _REAL_FOLDERS.get(os.path.dirname(path))
    if given_folder and real_folder is not None:  # its folder as given: found at once next
        _REAL_FOLDERS[given_folder] = real_folder
    return real


def _after_leading_parents(path: str) -> list[str]:
    """Returns the parts of a relative path after its leading '..' and '.' parts."""
    parts = path.split(os.sep)
    start = 0
    while start < len(parts) and parts[start] in (os.pardir, os.curdir):
        start += 1
    return parts[start:]


def _is_slug(value: str) -> bool:
    from fo_cast.rules import check_slug

    try:
        check_slug(value)
    except ValueError:
        return False
    return True


def read_file(path: Path) -> bytes:
    """Returns the bytes of the regular file at path; raises OSError for anything else (a
    pipe or a device would block a read, or never end)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_BINARY", 0))
    with open(fd, "rb") as file:
        mode = os.fstat(fd).st_mode
        if S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, "it is a folder, not a file", str(path))
        if not S_ISREG(mode):
            raise OSError(errno.EINVAL, "not a regular file (a pipe, socket or device)")
        return file.read()


def read_text(path: Path, shown: PurePosixPath, field: str, report: Report) -> str | None:
    """Returns the UTF-8 text of path, or None after adding a problem saying why not."""
    try:
        raw = read_file(path)
    except FileNotFoundError:
        report.add(shown.parent, field, f"no such file '{shown.name}'")
        return None
    except OSError as exc:
        report.add(shown, field, f"cannot read it: {exc.strerror or exc}")
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        report.add(
            shown, field, f"not UTF-8 text (byte 0x{raw[exc.start]:02x}); save it as UTF-8", line
        )
        return None
    return text.removeprefix("\ufeff")


def _read_yaml(path: Path, shown: PurePosixPath, report: Report) -> yaml12.Document | None:
    text = read_text(path, shown, "", report)
    if text is None:
        return None
    return _yaml_document(text, shown, report)


def _yaml_document(text: str, shown: PurePosixPath, report: Report) -> yaml12.Document | None:
    if not text.strip():
        report.add(shown, "", "the file is empty; see `fo-cast new` for a template")
        return None
    try:
        doc = yaml12.load(text)
    except yaml12.YamlError as exc:
        for issue in [*exc.earlier, exc]:
            report.add(shown, field_path(issue.path), issue.message, issue.line)
        return None
    for issue in doc.issues:
        report.add(shown, field_path(issue.path), issue.message, issue.line)
    if doc.data is None:  # nothing but comments
        report.add(shown, "", "the file has no keys; see `fo-cast new` for a template")
        return None
    if not isinstance(doc.data, dict):
        report.add(shown, "", "must be a mapping of keys to values (key: value)", doc.line_of(()))
        return None
    return doc


def _read_companion(root: Path, entry: EpisodeEntry, report: Report) -> str | None:
    relative = entry.episode.companion
    field_name = "companion"
    path = entry.file(relative)
    shown = entry.shown(relative)
    if not is_inside(root, path) and os.path.exists(path):
        # never read a file that a symlink leads to outside the catalogue
        report.add(
            entry.manifest,
            field_name,
            f"'{relative}' points outside the catalogue",
            entry.doc.line_of((field_name,)),
        )
        return None
    if not os.path.isfile(path):
        message = f"no such file '{relative}'; write the companion"
        if os.path.isdir(path):
            message = f"'{relative}' is a folder; write the companion in a file"
        elif os.path.lexists(path) and os.path.exists(path):
            message = (
                f"'{relative}' is not a regular file (a pipe, socket or device); write the "
                "companion in a file"
            )
        report.add(entry.manifest, field_name, message, entry.doc.line_of((field_name,)))
        return None
    text = read_text(path, shown, "", report)
    if text is None:
        return None
    if not text.strip():
        report.add(shown, "", "the companion is empty; write the episode's article")
        return None
    if _only_comments(text):
        report.add(
            shown, "", "the companion holds only HTML comments, which no page shows; write the "
            "episode's article",
        )  # fmt: skip
        return None
    bad = first_xml_illegal(text)
    if bad is not None:
        bad_line = text[: text.index(bad)].count("\n") + 1
        report.add(
            shown, "", f"contains the control character U+{ord(bad):04X}; remove it", bad_line
        )
        return None
    deep = markdown_too_deep(text)
    if deep is not None:
        report.add(shown, "", f"quotes, lists or HTML elements {TOO_DEEP}; flatten them", deep)
        return None
    return text


def _only_comments(text: str) -> bool:
    """Returns whether text is nothing but HTML comments (one left open runs to the end, as
    in CommonMark): the sanitiser drops them all, and the page would have no article."""
    rest = text.strip()
    while rest.startswith("<!--"):
        end = rest.find("-->", 4)
        if end < 0:
            return True
        rest = rest[end + 3 :].lstrip()
    return not rest


def _validate(
    model: type[M], data: Any, shown: PurePosixPath, doc: yaml12.Document, report: Report
) -> M | None:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            # an error about the whole model may name the key it is about (ctx "at")
            loc = tuple(error["loc"]) + tuple(error.get("ctx", {}).get("at", ()))
            report.add(shown, field_path(loc), validation_message(model, error), doc.line_of(loc))
        return None
