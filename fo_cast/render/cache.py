"""Rendered bytes kept between builds, so a rebuild in a fresh process renders only what changed.

A `RenderCache` maps a key to bytes: a feed item as it sits in its feed, a chapters file, a
page. The renderers make each key from a digest of everything that goes into the bytes (see
`key()`), so an edit changes the key and invalidation needs no bookkeeping; the code that
turns inputs into bytes (fo-cast's modules, templates, library versions) is recorded once per
cache as `code_version()`, and a cache made by other code is ignored.

On disk, under `<catalogue>/.fo-cast/render/`, one cache per part of the build ("feeds",
"pages"), each two plain files (never pickle: a cache that came with a cloned catalogue must
not be able to run code):

    <part>.json         {"version", "code", "pack", "size",
                         "entries": {key: [offset, length, crc32 of key + bytes]}}
    <part>-<token>.bin  the entries' bytes, one after another

A build appends what it rendered to the pack and rewrites the index, which lists only the
entries that build used; the pack is rewritten whole when most of it is no longer used. A
damaged or stale cache only makes a build slower: a missing pack, an entry outside it or one
whose CRC (of its key and bytes) does not match is a miss.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import zlib
from collections.abc import Callable
from functools import lru_cache
from importlib import metadata, resources
from pathlib import Path
from typing import Any

from fo_cast.limits import load_json
from fo_cast.state import atomic_write

# The code between a fingerprinted Site and the bytes: every module of render/ (how fingerprints
# are taken, the renderers and what they call), its templates and assets, and the models,
# settings and rules they read. What reads the catalogue and probes media needs no place here:
# its results are the fingerprinted values themselves.
RENDER_INPUTS = (
    "catalogue/companions.py",
    "catalogue/models.py",
    "catalogue/status.py",
    "catalogue/settings.py",
    "limits.py",
    "rules.py",
    "units.py",
)
# Libraries whose output ends up in rendered bytes: a new version may change them.
LIBRARIES = (
    "feedgen",
    "lxml",
    "jinja2",
    "markupsafe",
    "cmarkgfm",
    "nh3",
    "pagefind-bin",
    "python-slugify",
    "text-unidecode",
    "pydantic",
    "pydantic-core",
    "idna",  # the base URL's host, in every URL
)
MIN_COMPACT = 1 << 20  # a pack is never rewritten to reclaim less than this
FINGERPRINT_SIZE = 16


def key(label: str, *digests: bytes) -> str:
    """Returns a cache key: a digest of a label and of fingerprints (16-byte digests).

    The fingerprints have one length, so their concatenation says where each starts; a label
    names what the key is for and how many fingerprints follow when that can vary.
    """
    joined = b"".join(digests)
    if len(joined) != FINGERPRINT_SIZE * len(digests):
        raise ValueError("cache keys are made of fingerprints: 16-byte digests")
    return hashlib.blake2b(label.encode("utf-8") + b"\x00" + joined, digest_size=16).hexdigest()


@lru_cache(maxsize=1)
def code_version() -> str:
    """Returns a digest of the code that renders: fo-cast's rendering modules, templates and
    assets, and the versions of the libraries it renders with. Any edit to them makes old
    caches stale."""
    digest = hashlib.sha256()
    package = resources.files("fo_cast")
    render = package.joinpath("render")
    files = sorted((e for e in render.iterdir() if e.name.endswith(".py")), key=lambda e: e.name)
    files += [package.joinpath(*name.split("/")) for name in RENDER_INPUTS]
    for folder in ("templates", "static"):
        files += sorted(render.joinpath(folder).iterdir(), key=lambda e: e.name)
    for entry in files:
        if entry.is_file():
            digest.update(f"{entry.name}\x00".encode() + entry.read_bytes())
    for name in LIBRARIES:
        try:
            version = metadata.version(name)
        except metadata.PackageNotFoundError:
            version = "-"
        digest.update(f"{name}={version}\x00".encode())
    return digest.hexdigest()


class RenderCache:
    """Rendered bytes by key: in memory, and on disk when given a folder.

    A render asks `fetch(key, render)` for every piece; the cache keeps what that render used
    and forgets the rest when it is saved (or pruned), so it never outgrows one site. Not for
    renders running at the same time in several threads: give each its own cache.
    """

    VERSION = 1

    def __init__(self, folder: Path | None = None, part: str = "render") -> None:
        self.folder = folder
        self.part = part
        self.hits = 0
        self.misses = 0
        self._memory: dict[str, bytes] = {}  # rendered, or read from the pack, in this process
        self._stored: dict[str, list[int]] = {}  # in the pack: key -> [offset, length, crc32]
        self._used: set[str] = set()
        self._pack: Path | None = None
        self._pack_size = 0
        self._fd: int | None = None
        self._dirty = False
        if folder is not None:
            self._load(folder)

    @property
    def index_path(self) -> Path | None:
        return None if self.folder is None else self.folder / f"{self.part}.json"

    def _load(self, folder: Path) -> None:
        try:
            stored = load_json((folder / f"{self.part}.json").read_bytes())
            if stored.get("version") != self.VERSION or stored.get("code") != code_version():
                return
            pack = folder / str(stored["pack"])
            if pack.parent != folder:
                return
            size = int(stored["size"])
            entries = stored["entries"]
            if not isinstance(entries, dict):
                return
            fd = os.open(pack, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return
        if os.fstat(fd).st_size < size:  # a pack cut short: nothing in it can be trusted
            os.close(fd)
            return
        self._fd, self._pack, self._pack_size, self._stored = fd, pack, size, entries

    def get(self, key: str) -> bytes | None:
        """Returns the bytes stored under key, or None."""
        data = self._memory.get(key)
        if data is None and key in self._stored:
            data = self._read(key)
        if data is None:
            self.misses += 1
            return None
        self.hits += 1
        self._used.add(key)
        return data

    def put(self, key: str, data: bytes) -> None:
        """Stores data under key for this render and the next."""
        self._memory[key] = data
        self._used.add(key)

    def fetch(self, key: str, render: Callable[[], bytes]) -> bytes:
        """Returns the bytes under key, rendering (and storing) them only when missing."""
        data = self.get(key)
        if data is None:
            data = render()
            self.put(key, data)
        return data

    def _read(self, key: str) -> bytes | None:
        entry = self._stored.get(key)
        try:
            offset, length, crc = entry  # type: ignore[misc]
            if self._fd is None or offset < 0 or length < 0 or offset + length > self._pack_size:
                raise ValueError(key)
            data = _pread(self._fd, length, offset)
            if len(data) != length or _check(key, data) != crc:
                raise ValueError(key)
        except (OSError, ValueError, TypeError):
            del self._stored[key]
            self._dirty = True
            return None
        self._memory[key] = data
        return data

    def prune(self) -> None:
        """Forgets what the latest render did not use."""
        if len(self._memory) != len(self._used):
            self._memory = {k: v for k, v in self._memory.items() if k in self._used}
        if len(self._stored) != len(self._used & self._stored.keys()):
            self._stored = {k: v for k, v in self._stored.items() if k in self._used}
            self._dirty = True
        self._used = set()

    def save(self) -> None:
        """Writes what the latest render used to the folder (when there is one), then prunes.

        Anything going wrong on disk leaves a cache that is merely incomplete, never wrong:
        the index is replaced last, in one rename, and only names bytes already written.
        """
        self.prune()
        if self.folder is None:
            return
        new = [k for k in self._memory if k not in self._stored]
        if not new and not self._dirty:
            return
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            live = sum(entry[1] for entry in self._stored.values())
            fresh = sum(len(self._memory[k]) for k in new)
            garbage = self._pack_size - live
            if self._pack is None or garbage + fresh > max(live, MIN_COMPACT):
                self._write_pack()
            else:
                self._append(new)
            self._write_index()
        except OSError:
            pass
        self._dirty = False
        self._close()  # everything live is in memory now

    def _write_pack(self) -> None:
        """Writes every live entry into a new pack (its own name: readers of the old keep it)."""
        assert self.folder is not None
        pack = self.folder / f"{self.part}-{secrets.token_hex(6)}.bin"
        stored: dict[str, list[int]] = {}
        offset = 0
        with open(pack, "wb") as file:
            for k, data in self._memory.items():
                file.write(data)
                stored[k] = [offset, len(data), _check(k, data)]
                offset += len(data)
        self._close()
        self._stored, self._pack, self._pack_size = stored, pack, offset

    def _append(self, keys: list[str]) -> None:
        """Appends new entries to the pack in one write: another build appending at the same
        time cannot land between them, and the offsets come from where the write ended."""
        assert self._pack is not None
        blob = b"".join(self._memory[k] for k in keys)
        fd = os.open(self._pack, os.O_WRONLY | os.O_APPEND | getattr(os, "O_BINARY", 0))
        try:
            if os.write(fd, blob) != len(blob):
                raise OSError(f"short write to {self._pack}")
            end = os.lseek(fd, 0, os.SEEK_CUR)
        finally:
            os.close(fd)
        offset = end - len(blob)
        for k in keys:
            data = self._memory[k]
            self._stored[k] = [offset, len(data), _check(k, data)]
            offset += len(data)
        self._pack_size = end

    def _write_index(self) -> None:
        assert self.folder is not None and self._pack is not None
        index: dict[str, Any] = {
            "version": self.VERSION,
            "code": code_version(),
            "pack": self._pack.name,
            "size": self._pack_size,
            "entries": self._stored,
        }
        path = self.folder / f"{self.part}.json"
        atomic_write(path, json.dumps(index, separators=(",", ":")))
        for old in self.folder.glob(f"{self.part}-*.bin"):  # packs no index names any more
            if old != self._pack:
                old.unlink(missing_ok=True)

    def close(self) -> None:
        """Releases the pack (the cache stays usable in memory)."""
        self._close()

    def _close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _check(key: str, data: bytes) -> int:
    """Returns the CRC-32 of an entry under its key: bytes moved to another key do not pass."""
    return zlib.crc32(data, zlib.crc32(key.encode("ascii")))


def _pread(fd: int, length: int, offset: int) -> bytes:
    if hasattr(os, "pread"):
        return os.pread(fd, length, offset)
    os.lseek(fd, offset, os.SEEK_SET)  # Windows
    return os.read(fd, length)
