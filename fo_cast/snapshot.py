"""What a run's result depends on, in one digest, so that a run with nothing changed reuses it.

A `Snapshot` digests every file under the catalogue (path, type and permissions, size,
mtime_ns, inode; fo-cast's own `.fo-cast/` aside), fo-cast's code (every file of the
package: modules, templates, assets), the installed distributions and their versions,
fo-cast's environment variables, the current folder and the options of the run. It names
ALL files rather than the ones a run is known to read, so an input a new feature starts
reading is covered without anyone listing it here. Folders outside the catalogue that a run
reads (the media folder) are digested after the run and kept in its stamp.

A `Stamp` is a result stored under a snapshot's key: the report of a `validate`, or what a
`build` put in its tree. It also says for which clocks it holds: a scheduled episode going
live changes the feeds and the lint, so a stamp covers the times between the latest
`published` date that had come and the next one (and, when a show had no live episode and
its feed took the clock as its date, only that very moment).

A file edited again within the same timestamp tick, keeping its size and inode, would not
show in its stat: so the files modified within `SETTLE_NS` of taking a snapshot are hashed
too, and a stamp holds only while their bytes are the same (git's "racily clean" entries).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path, PurePosixPath
from stat import S_ISDIR, S_ISLNK, S_ISREG
from typing import Any

from fo_cast.limits import load_json
from fo_cast.problems import Problem, Report, Severity
from fo_cast.state import CACHE_DIR, atomic_write

VERSION = 1
SETTLE_NS = 2_000_000_000  # FAT and some network file systems keep mtimes to 2 s
ENV_PREFIX = "FO_CAST_"
RECENT_BYTES = 64 << 20  # hash at most this much of just-modified files; beyond, store nothing


@dataclass(frozen=True)
class Snapshot:
    """The digest of a catalogue, fo-cast's code and a run's options, taken before the run."""

    key: str
    taken_ns: int = field(compare=False)  # when: outside files modified since are not trusted
    # files modified within SETTLE_NS of taking it, by path: the SHA-256 of their bytes then,
    # which a stamp keeps and checks again (an edit within the same tick shows in the bytes)
    recent: dict[str, str] = field(default_factory=dict)
    settled: bool = True  # False: too much was just modified to hash it; store nothing
    # what went into key apart from the files (code, environment, options), and each
    # folder's own digest by its path ("" for root): what a rebuild compares (rebuild.py)
    context: str = field(default="", compare=False)
    # (kept as one string, "path\0digest\0..." - no path holds a NUL - while the run holds
    # it: 10,000 folders as a dict would be some 4 MB of the build's peak; see folders)
    digests: str = field(default="", compare=False, repr=False)

    @functools.cached_property
    def folders(self) -> dict[str, str]:
        """Each folder's own digest, by its path relative to the catalogue ("" for root)."""
        parts = self.digests.split("\0")
        return dict(zip(parts[0:-1:2], parts[1::2], strict=True))


def take(root: Path | str, *options: str) -> Snapshot | None:
    """Returns the snapshot of the catalogue at root for a run with these options.

    None when there is nothing to take (no such folder) or it cannot be trusted: a folder
    reached through a symlink, whose files a walk of the catalogue does not see.
    """
    taken = time.time_ns()
    digest = hashlib.blake2b(digest_size=20)
    digest.update(f"{VERSION}\0{code_version()}\0{os.path.abspath(root)}\0".encode())
    # fo-cast's own variables (FO_CAST_MEDIA: a folder, relative to the current one)
    env = sorted((k, v) for k, v in os.environ.items() if k.startswith(ENV_PREFIX))
    context = [os.getcwd(), *(f"{k}={v}" for k, v in env), *options]
    digest.update("\0".join(context).encode("utf-8", "surrogateescape") + b"\0\n")
    around = digest.hexdigest()
    recent: list[tuple[str, int]] = []
    folders: list[str] = []
    try:
        if not _walk(str(root), digest, taken - SETTLE_NS, recent, folders):
            return None
        key = digest.hexdigest()
        if sum(size for _, size in recent) > RECENT_BYTES:
            return Snapshot(key, taken, settled=False)
        hashes = _hashes(Path(root), [n for n, _ in recent])
        digests = "".join(folders)
        return Snapshot(key, taken, hashes, context=around, digests=digests)
    except OSError:
        return None


def outside(folders: list[Path], taken: Snapshot) -> dict[str, str] | None:
    """Returns a digest of each folder outside the catalogue that a run read (a media
    folder), or None when a file in one was modified since SETTLE_NS before the run began:
    the run may have read it as it was before (and a stamp must not be stored)."""
    digests = {}
    for folder in folders:
        digest = hashlib.blake2b(digest_size=20)
        recent: list[tuple[str, int]] = []
        try:
            if not _walk(str(folder), digest, taken.taken_ns - SETTLE_NS, recent) or recent:
                return None
        except FileNotFoundError:
            digest.update(b"missing")
        except OSError:
            return None
        digests[str(folder)] = digest.hexdigest()
    return digests


def _outside_now(folders: list[str]) -> dict[str, str] | None:
    digests = {}
    for folder in folders:
        digest = hashlib.blake2b(digest_size=20)
        try:
            if not _walk(folder, digest, 1 << 62, []):
                return None
        except FileNotFoundError:
            digest.update(b"missing")
        except OSError:
            return None
        digests[folder] = digest.hexdigest()
    return digests


def _hashes(root: Path, names: list[str]) -> dict[str, str]:
    return {name: hashlib.sha256((root / name).read_bytes()).hexdigest() for name in names}


def _walk(
    root: str,
    digest: Any,
    since: int,
    recent: list[tuple[str, int]],
    digests: list[str] | None = None,
) -> bool:
    """Feeds every file under root into digest, folder by folder (depth first, in name order),
    adding to recent the files modified at or after since (and to digests each folder's path
    and own digest, each ended by a NUL); False when a symlink leads to a folder."""
    folders = [""]
    while folders:
        relative = folders.pop()
        found = folder_lines(root, relative, since, recent)
        if found is None:
            return False
        lines, subfolders = found
        folders.extend(sorted(subfolders, reverse=True))  # popped in name order
        text = "".join(lines).encode("utf-8", "surrogateescape")
        digest.update(text)
        if digests is not None:
            digests.append(f"{relative}\0{_folder_digest(text)}\0")
    return True


def folder_lines(
    root: str, relative: str, since: int = 1 << 62, recent: list[tuple[str, int]] | None = None
) -> tuple[list[str], list[str]] | None:
    """Returns the lines a snapshot takes of one folder's entries (by name: path, type and
    permissions, size, mtime_ns, inode), in name order, and its subfolders; None when a
    symlink in it leads to a folder. Files modified at or after since go to recent."""
    folder = os.path.join(root, relative) if relative else root
    with os.scandir(folder) as found:
        entries = list(found)
    lines, subfolders = [], []
    for entry in entries:
        name = f"{relative}/{entry.name}" if relative else entry.name
        st = entry.stat(follow_symlinks=False)
        if S_ISDIR(st.st_mode):
            if name != CACHE_DIR:  # fo-cast's own caches: written by the runs themselves
                subfolders.append(name)
                lines.append(f"{name}/\0{st.st_mode}\0{st.st_ino}\n")
            continue
        line = name
        if S_ISLNK(st.st_mode):  # where it leads, and what is there now
            line = f"{name}\0->{os.readlink(entry.path)}"
            try:
                st = os.stat(entry.path)
            except OSError:
                lines.append(f"{line}\0dangling\n")
                continue
            if S_ISDIR(st.st_mode):
                return None
        # Only a regular file's bytes can be hashed: a pipe would block, a device never end.
        if recent is not None and st.st_mtime_ns >= since and S_ISREG(st.st_mode):
            recent.append((name, st.st_size))
        lines.append(_file_line(line, st))
    lines.sort()  # each line starts with its name: the folder's files in name order
    return lines, subfolders


def _file_line(head: str, st: os.stat_result) -> str:
    return f"{head}\0{st.st_mode}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ino}\n"


def file_line(root: Path | str, name: str) -> str | None:
    """Returns the line folder_lines() gives the regular file at name (relative to root) as
    it is now; None when it is not a regular file (a symlink, a folder, gone)."""
    try:
        st = os.lstat(os.path.join(root, name))
    except OSError:
        return None
    return _file_line(name, st) if S_ISREG(st.st_mode) else None


def is_regular_line(line: str) -> bool:
    """Returns whether a line of folder_lines() is a regular file's (not a symlink's, a
    pipe's, a device's, a folder's)."""
    fields = line.rstrip("\n").split("\0")
    return len(fields) == 5 and fields[1].isdigit() and S_ISREG(int(fields[1]))


def lines_digest(lines: list[str]) -> str:
    """Returns a folder's own digest (Snapshot.folders) from its folder_lines()."""
    return _folder_digest("".join(lines).encode("utf-8", "surrogateescape"))


def _folder_digest(text: bytes) -> str:
    return hashlib.blake2b(text, digest_size=16).hexdigest()


@lru_cache(maxsize=1)
def code_version() -> str:
    """Returns a digest of fo-cast's own files (modules, templates, assets, schemas), the
    Python version and the installed distributions with their versions."""
    digest = hashlib.blake2b(digest_size=20)
    digest.update(sys.version.encode())
    package = Path(__file__).resolve().parent
    for folder, dirs, files in os.walk(package):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            path = os.path.join(folder, name)
            digest.update(f"{os.path.relpath(path, package)}\0".encode())
            with open(path, "rb") as file:
                digest.update(file.read())
    for entry in sys.path:  # dist-info folder names carry the versions: no metadata parsed
        if os.path.basename(entry) not in ("site-packages", "dist-packages"):
            continue  # the script's folder, the current one: how fo-cast was started
        try:
            names = sorted(
                n for n in os.listdir(entry or ".") if n.endswith((".dist-info", ".egg-info"))
            )
        except OSError:
            continue
        digest.update(f"{entry}\0{' '.join(names)}\n".encode())
    return digest.hexdigest()


@dataclass
class Stamp:
    """A result stored under a snapshot's key, with the clocks it holds for."""

    key: str
    recent: dict[str, str] = field(default_factory=dict)  # Snapshot.recent when taken
    outside: dict[str, str] = field(default_factory=dict)  # outside(), after the run
    since: datetime | None = None  # the latest `published` date that had come
    until: datetime | None = None  # the next one: from then on, other episodes are live
    moment: datetime | None = None  # the only clock it holds for, when a feed dated by it
    problems: list[Problem] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)  # what the stage wants to remember

    def holds(self, snapshot: Snapshot | None, now: datetime, root: Path | str) -> bool:
        """Returns True when the result stored is the result of a run now on root."""
        if snapshot is None or snapshot.key != self.key:
            return False
        return self.changed_recent(root) == [] and self.holds_at(now)

    def holds_at(self, now: datetime) -> bool:
        """Returns True when the folders outside the catalogue are as they were and the
        clock is one the stamp holds for: what holds() checks besides the catalogue's files."""
        if self.outside and _outside_now(list(self.outside)) != self.outside:
            return False
        if self.moment is not None:
            return now == self.moment
        return (self.since is None or self.since <= now) and (
            self.until is None or now < self.until
        )

    def changed_recent(self, root: Path | str) -> list[str] | None:
        """Returns the files hashed when the stamp was taken (modified just before) whose
        bytes are not the same now; None when one cannot be read."""
        try:
            now = _hashes(Path(root), list(self.recent))
        except OSError:
            return None
        return [name for name, digest in self.recent.items() if now[name] != digest]

    def report(self) -> Report:
        return Report(list(self.problems))

    def as_dict(self) -> dict[str, Any]:
        def iso(value: datetime | None) -> str | None:
            return None if value is None else value.isoformat()

        return {
            "version": VERSION,
            "key": self.key,
            "recent": self.recent,
            "outside": self.outside,
            "since": iso(self.since),
            "until": iso(self.until),
            "moment": iso(self.moment),
            "problems": [p.as_dict() for p in self.problems],
            "extra": self.extra,
        }

    @classmethod
    def from_dict(cls, data: Any) -> Stamp | None:
        """Returns the stamp stored as data, or None when it is not one of this version."""

        def when(value: Any) -> datetime | None:
            return None if value is None else datetime.fromisoformat(value)

        try:
            if data.get("version") != VERSION:
                return None
            problems = [
                Problem(
                    PurePosixPath(p["file"]),
                    str(p["field"]),
                    str(p["message"]),
                    p["line"],
                    Severity(p["severity"]),
                )  # fmt: skip
                for p in data["problems"]
            ]
            extra = data.get("extra") or {}
            recent = {str(k): str(v) for k, v in data["recent"].items()}
            outside = {str(k): str(v) for k, v in data["outside"].items()}
            return cls(
                str(data["key"]), recent, outside, when(data["since"]), when(data["until"]),
                when(data["moment"]), problems, dict(extra),
            )  # fmt: skip
        except (AttributeError, KeyError, TypeError, ValueError):
            return None


def read_stamp(path: Path) -> Stamp | None:
    """Returns the stamp stored in the file at path, or None (none, unreadable, or stale)."""
    try:
        return Stamp.from_dict(load_json(path.read_bytes()))
    except (OSError, ValueError):
        return None


def write_stamp(path: Path, stamp: Stamp) -> None:
    """Stores the stamp at path; one that cannot be written only makes the next run slower."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, json.dumps(stamp.as_dict(), ensure_ascii=False))
    except OSError:
        pass


def clock_window(published: list[datetime], now: datetime) -> tuple[datetime | None, ...]:
    """Returns (since, until): the latest of the dates that had come at now, and the first
    of those still to come. Between them the same episodes are live."""
    past = [p for p in published if p <= now]
    future = [p for p in published if p > now]
    return (max(past) if past else None, min(future) if future else None)
