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
                         "entries": {key: [offset, length, crc32, sha256, note]}}
    <part>-<token>.bin  the entries' bytes, one after another

An entry keeps the SHA-256 of its bytes (what the output tree and publish compare) and a
renderer's note about them (an episode page's is the digest of what search indexes), so a
build that finds an entry reads its bytes once, for the CRC, and hashes them no more; the
CRC-32 covers the key, the digest, the note and the bytes.

A build appends each piece to the pack as it renders it, so what it rendered never piles up
in memory: the build's outputs point into the pack (`Stored`, `Joined`) and the output tree
reads them back when it writes them. At the end it rewrites the index, which lists only the
entries that build used. A cache that opens a pack mostly unused rewrites it first, before
anything points into it. A damaged or stale cache only makes a build slower: a missing pack,
an entry outside it or one whose CRC does not match is a miss; an entry found is read and
checked whole.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import weakref
import zlib
from collections.abc import Callable
from functools import lru_cache
from importlib import metadata, resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from fo_cast.errors import FoCastError
from fo_cast.limits import load_json
from fo_cast.state import atomic_write, write_all

if TYPE_CHECKING:
    from fo_cast.outputs import Body

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


class Pack:
    """A pack open for reading: one descriptor per file and process, shared by every Stored
    that points into it, closed when the last of them goes.

    Opened once, a pack that another build replaces (and removes) while this one still points
    into it stays readable to the end (POSIX). It crosses to another process by its name.
    """

    __slots__ = ("path", "_fd", "_identity", "__weakref__")
    _open: ClassVar[weakref.WeakValueDictionary[str, Pack]] = weakref.WeakValueDictionary()

    path: str
    _fd: int
    _identity: tuple[int, int]

    def __new__(cls, path: str) -> Pack:
        pack = cls._open.get(path)
        if pack is not None:
            try:
                st = os.stat(path)
            except OSError:
                return pack  # removed since it was opened: still readable through its descriptor
            if (st.st_dev, st.st_ino) == pack._identity:
                return pack
        pack = super().__new__(cls)
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        st = os.fstat(fd)
        pack.path, pack._fd, pack._identity = path, fd, (st.st_dev, st.st_ino)
        weakref.finalize(pack, os.close, fd)
        cls._open[path] = pack
        return pack

    def __reduce__(self) -> tuple[Any, ...]:
        return (Pack, (self.path,))

    def size(self) -> int:
        return os.fstat(self._fd).st_size

    def read(self, offset: int, length: int) -> bytes:
        """Returns the bytes at offset; FoCastError when the pack was cut short meanwhile."""
        data = _pread(self._fd, length, offset)
        if len(data) != length:
            raise FoCastError(f"{self.path} was cut short while a build used it; build again")
        return data

    def write_into(self, out: int, offset: int, length: int) -> None:
        """Writes the bytes at offset into the file out, at its position: the kernel copies
        them where it can (copy_file_range), so a tree of 40,000 files is written without
        reading them into memory (nor into a writer thread's own malloc arena)."""
        copy = getattr(os, "copy_file_range", None)
        while length and copy is not None:
            try:
                copied = copy(self._fd, out, length, offset)
            except OSError:  # another file system, an older kernel: read and write
                break
            if not copied:
                raise FoCastError(f"{self.path} was cut short while a build used it; build again")
            offset, length = offset + copied, length - copied
        if length:
            write_all(out, self.read(offset, length))


class Stored:
    """Bytes at a place in a pack (see outputs.Body): read back when written or uploaded."""

    __slots__ = ("pack", "offset", "length", "sha256", "note")

    def __init__(
        self, pack: Pack, offset: int, length: int, sha256: str = "", note: str = ""
    ) -> None:
        self.pack, self.offset, self.length, self.sha256 = pack, offset, length, sha256
        self.note = note  # what the renderer noted about the bytes (see RenderCache.put)

    def __reduce__(self) -> tuple[Any, ...]:
        return (Stored, (self.pack, self.offset, self.length, self.sha256, self.note))

    def read(self) -> bytes:
        return self.pack.read(self.offset, self.length)

    def write_into(self, fd: int) -> None:
        self.pack.write_into(fd, self.offset, self.length)

    def part(self, start: int, length: int, sha256: str) -> Stored:
        """Returns the bytes from start (relative to these) on, of that digest."""
        if start < 0 or start + length > self.length:
            raise ValueError("a part lies inside the bytes it is part of")
        return Stored(self.pack, self.offset + start, length, sha256)


class Joined:
    """Bytes made of pieces one after another, in memory or stored (see outputs.Body): a feed
    is its channel, then its items as the feeds' cache keeps them, then its end."""

    __slots__ = ("parts", "length", "sha256")

    def __init__(self, parts: list[bytes | Stored]) -> None:
        merged: list[bytes | Stored] = []
        for part in parts:
            last = merged[-1] if merged else None
            if (
                isinstance(part, Stored)
                and isinstance(last, Stored)
                and last.pack is part.pack
                and last.offset + last.length == part.offset
            ):  # neighbours in the pack: one read
                merged[-1] = Stored(part.pack, last.offset, last.length + part.length)
                continue
            merged.append(part)
        digest = hashlib.sha256()
        for piece in merged:
            digest.update(piece if isinstance(piece, bytes) else piece.read())
        self.parts = tuple(merged)
        self.length = sum(len(p) if isinstance(p, bytes) else p.length for p in merged)
        self.sha256 = digest.hexdigest()

    def read(self) -> bytes:
        return b"".join(p if isinstance(p, bytes) else p.read() for p in self.parts)

    def write_into(self, fd: int) -> None:
        for part in self.parts:
            if isinstance(part, bytes):
                write_all(fd, part)
            else:
                part.write_into(fd)


def joined(parts: list[bytes | Body]) -> bytes | Body:
    """Returns the parts one after another: bytes when all of them are, else a Joined that
    reads the stored ones back when asked."""
    if all(isinstance(p, bytes) for p in parts):
        return b"".join(parts)  # type: ignore[arg-type]
    pieces: list[bytes | Stored] = []
    for part in parts:
        if isinstance(part, Joined):
            pieces.extend(part.parts)
        elif isinstance(part, bytes | Stored):
            pieces.append(part)
        else:
            pieces.append(part.read())
    return Joined(pieces)


class RenderCache:
    """Rendered bytes by key: in memory, or in a pack on disk when given a folder.

    A render asks `fetch(key, render)` (or `fetch_body`) for every piece; the cache keeps what
    that render used and forgets the rest when it is saved (or pruned), so it never outgrows
    one site. With a folder, what is rendered goes into the pack at once and stays out of
    memory: `fetch_body` answers a Stored, the place of the bytes, which the output tree reads
    back when it writes them. Not for renders running at the same time in several threads:
    give each its own cache.
    """

    VERSION = 2

    def __init__(self, folder: Path | None = None, part: str = "render") -> None:
        self.folder = folder
        self.part = part
        self.hits = 0
        self.misses = 0
        self._memory: dict[str, bytes] = {}  # without a pack: what this process rendered
        self._stored: dict[str, list[Any]] = {}  # key -> [offset, length, crc32, sha256, note]
        self._used: set[str] = set()
        self._pack: Pack | None = None
        self._pack_size = 0  # the end of what the index (or this build) vouches for
        self._fd: int | None = None  # the pack, open for appending
        self._closer: Callable[[], None] = lambda: None
        self._failed = folder is None  # the pack cannot be written: keep entries in memory
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
            path = folder / str(stored["pack"])
            if path.parent != folder:
                return
            size = int(stored["size"])
            entries = stored["entries"]
            if not isinstance(entries, dict):
                return
            pack = Pack(str(path))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return
        if pack.size() < size:  # a pack cut short: nothing in it can be trusted
            return
        self._pack, self._pack_size, self._stored = pack, size, entries
        try:
            live = sum(int(entry[1]) for entry in entries.values())
        except (ValueError, TypeError, IndexError):
            return  # a damaged entry is a miss when asked for
        if size - live > max(live, MIN_COMPACT):
            self._compact()

    def has(self, key: str) -> bool:
        """Returns whether an entry is under key, reading nothing (it may yet prove damaged
        when read: a miss then)."""
        return key in self._memory or key in self._stored

    def get(self, key: str) -> bytes | None:
        """Returns the bytes stored under key, or None."""
        found = self._lookup(key)
        return None if found is None else found[0]

    def lookup(self, key: str) -> tuple[bytes, bytes | Body] | None:
        """Returns the bytes stored under key and how they are kept, or None."""
        return self._lookup(key)

    def find(self, key: str) -> bytes | Body | None:
        """Returns what is stored under key: its bytes, or where they are in the pack."""
        found = self._lookup(key)
        return None if found is None else found[1]

    def _lookup(self, key: str) -> tuple[bytes, bytes | Body] | None:
        data = self._memory.get(key)
        if data is not None:
            found: tuple[bytes, bytes | Body] | None = (data, data)
        else:
            found = self._read(key) if key in self._stored else None
        if found is None:
            self.misses += 1
            return None
        self.hits += 1
        self._used.add(key)
        return found

    def put(self, key: str, data: bytes, note: str = "") -> bytes | Body:
        """Stores data under key for this render and the next; returns it as kept: the bytes,
        or their place in the pack, with the note (a short string the renderer derives from
        the bytes, given back with them when found: see Stored.note)."""
        self._used.add(key)
        if not self._failed:
            try:
                offset = self._append(data)
            except OSError:
                self._failed = True  # a full disk, a file where the folder goes: in memory
            else:
                assert self._pack is not None
                sha256 = hashlib.sha256(data).hexdigest()
                entry = [offset, len(data), _check(key, sha256, note, data), sha256, note]
                self._stored[key] = entry
                self._dirty = True
                return Stored(self._pack, offset, len(data), sha256, note)
        self._memory[key] = data
        return data

    def fetch(self, key: str, render: Callable[[], bytes]) -> bytes:
        """Returns the bytes under key, rendering (and storing) them only when missing."""
        data = self.get(key)
        if data is None:
            data = render()
            self.put(key, data)
        return data

    def fetch_body(
        self, key: str, render: Callable[[], bytes], note: Callable[[bytes], str] | None = None
    ) -> bytes | Body:
        """Returns what is under key as fetch() does, but as kept: from a pack, its place
        (with note(bytes) when it was rendered and stored, as put() keeps it)."""
        found = self.find(key)
        if found is not None:
            return found
        data = render()
        return self.put(key, data, note(data) if note is not None else "")

    def fetch_both(self, key: str, render: Callable[[], bytes]) -> tuple[bytes, bytes | Body]:
        """Returns the bytes under key (rendered only when missing) and how they are kept."""
        found = self._lookup(key)
        if found is not None:
            return found
        data = render()
        return data, self.put(key, data)

    def _read(self, key: str) -> tuple[bytes, bytes | Body] | None:
        entry = self._stored.get(key)
        try:
            offset, length, crc, sha256, note = entry  # type: ignore[misc]
            pack = self._pack
            if pack is None or offset < 0 or length < 0 or offset + length > self._pack_size:
                raise ValueError(key)
            data = pack.read(offset, length)
            if _check(key, sha256, note, data) != crc:
                raise ValueError(key)
        except (OSError, ValueError, TypeError, AttributeError, FoCastError):
            del self._stored[key]
            self._dirty = True
            return None
        return data, Stored(pack, offset, length, sha256, note)

    def _append(self, data: bytes) -> int:
        """Appends data to the pack (a new one when there is none) in one write, so another
        build appending at the same time cannot land inside it; returns where it starts."""
        if self._fd is None:
            assert self.folder is not None
            if self._pack is None:
                self.folder.mkdir(parents=True, exist_ok=True)
                path = self.folder / f"{self.part}-{secrets.token_hex(6)}.bin"
                flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND
                self._fd = os.open(path, flags | getattr(os, "O_BINARY", 0), 0o666)
                self._pack, self._pack_size = Pack(str(path)), 0
            else:
                flags = os.O_WRONLY | os.O_APPEND | getattr(os, "O_BINARY", 0)
                self._fd = os.open(self._pack.path, flags)
            self._closer = weakref.finalize(self, os.close, self._fd)  # a cache never saved
        if os.write(self._fd, data) != len(data):
            raise OSError(f"short write to {self.folder}")
        end = os.lseek(self._fd, 0, os.SEEK_CUR)
        self._pack_size = max(self._pack_size, end)
        return end - len(data)

    def _compact(self) -> None:
        """Writes the entries the last build used into a new pack and names it in the index,
        before this build points into either (the old one's readers keep their descriptor)."""
        assert self.folder is not None and self._pack is not None
        old, entries = self._pack, self._stored
        path = self.folder / f"{self.part}-{secrets.token_hex(6)}.bin"
        stored: dict[str, list[int]] = {}
        offset = 0
        try:
            with open(path, "wb") as file:
                for k, entry in entries.items():
                    try:
                        data = old.read(int(entry[0]), int(entry[1]))
                    except (OSError, ValueError, TypeError, IndexError, FoCastError):
                        continue  # damaged: dropped
                    file.write(data)
                    stored[k] = [offset, len(data), *entry[2:]]
                    offset += len(data)
            self._pack, self._pack_size, self._stored = Pack(str(path)), offset, stored
            self._write_index()
        except OSError:
            path.unlink(missing_ok=True)
            self._pack, self._pack_size, self._stored = old, self._pack_size, entries

    def prune(self) -> None:
        """Forgets what the latest render did not use."""
        if len(self._memory) != len(self._used & self._memory.keys()):
            self._memory = {k: v for k, v in self._memory.items() if k in self._used}
        if len(self._stored) != len(self._used & self._stored.keys()):
            self._stored = {k: v for k, v in self._stored.items() if k in self._used}
            self._dirty = True
        self._used = set()

    def save(self) -> None:
        """Writes the index of what the latest render used (its bytes are in the pack already)
        to the folder, when there is one, then prunes.

        Anything going wrong on disk leaves a cache that is merely incomplete, never wrong:
        the index is replaced last, in one rename, and only names bytes already written.
        """
        self.prune()
        self._close()
        if self.folder is None or self._pack is None or not self._dirty:
            return
        with contextlib.suppress(OSError):
            self._write_index()
        self._dirty = False

    def _write_index(self) -> None:
        assert self.folder is not None and self._pack is not None
        index: dict[str, Any] = {
            "version": self.VERSION,
            "code": code_version(),
            "pack": Path(self._pack.path).name,
            "size": self._pack_size,
            "entries": self._stored,
        }
        path = self.folder / f"{self.part}.json"
        atomic_write(path, json.dumps(index, separators=(",", ":")))
        for old in self.folder.glob(f"{self.part}-*.bin"):  # packs no index names any more
            if str(old) != self._pack.path:
                old.unlink(missing_ok=True)

    def close(self) -> None:
        """Stops appending to the pack (what was stored stays readable)."""
        self._close()

    def _close(self) -> None:
        if self._fd is not None:
            self._closer()  # closes it, once
            self._fd = None


def _check(key: str, sha256: str, note: str, data: bytes) -> int:
    """Returns the CRC-32 of an entry under its key: bytes moved to another key, or given
    another digest or note, do not pass."""
    head = f"{key}\x00{sha256}\x00{note}\x00".encode()
    return zlib.crc32(data, zlib.crc32(head))


def _pread(fd: int, length: int, offset: int) -> bytes:
    if hasattr(os, "pread"):
        return os.pread(fd, length, offset)
    os.lseek(fd, offset, os.SEEK_SET)  # Windows
    return os.read(fd, length)
