"""Publish targets: a folder or an S3 bucket behind one small protocol, chosen by URL scheme."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

from fo_cast.errors import ConfigError, StorageError
from fo_cast.limits import load_json
from fo_cast.outputs import Output

# Keys under this folder belong to fo-cast itself (hash index, GUID record): never planned,
# listed or pruned, and a build may not write there.
RESERVED_PREFIX = ".fo-cast/"
INDEX_KEY = RESERVED_PREFIX + "index.json"
# Held by a publish while it lists, plans and writes (publish/lock.py): a target holding it
# is being published to, or was by a publish that was killed.
LOCK_KEY = RESERVED_PREFIX + "lock.json"
INDEX_VERSION = 2  # 2: each entry says whether fo-cast wrote the object (RemoteObject.ours)

Progress = Callable[[int], None]  # called with the bytes sent since the last call
CHUNK = 1024 * 1024


class ServerUnreachable(StorageError):
    """The target did not answer, even after retries (refused, timed out, dropped).

    Every other upload of the publish would wait just as long to fail the same way, so
    publish() stops starting new ones when it sees this.
    """


@dataclass(frozen=True)
class RemoteObject:
    """One object at the target as the plan sees it; None means the target does not know."""

    key: str
    size: int
    content_hash: str | None  # sha256 hex of the content, as stored by fo-cast
    etag: str
    content_type: str | None = None
    cache_control: str | None = None
    # fo-cast wrote this content here (a put, or its own bytes found again). Only such
    # objects are ever deleted: a target may hold its owner's files beside the build.
    ours: bool = False

    def as_index_entry(self) -> list[Any]:
        return [
            self.size,
            self.etag,
            self.content_hash,
            self.content_type,
            self.cache_control,
            self.ours,
        ]

    @classmethod
    def from_index_entry(cls, key: str, entry: list[Any]) -> RemoteObject:
        if len(entry) == 5:  # version 1 indexed every file; only puts recorded both of these
            size, etag, content_hash, content_type, cache_control = entry
            ours = content_hash is not None and content_type is not None
        else:
            size, etag, content_hash, content_type, cache_control, ours = entry
        return cls(
            key, int(size), content_hash, str(etag), content_type, cache_control, ours is True
        )


@dataclass(frozen=True)
class TargetState:
    """What one listing of the target shows, digested: every object's key, size and ETag,
    fo-cast's records (hash index, GUID record) by tag, and where the target is.

    Two equal digests mean nobody wrote, replaced or deleted an object in between: a
    publish stamp (publish/stamp.py) keeps the digest a publish left the target in.
    """

    digest: str
    locked: bool = False  # the lock is there: a publish runs (or one was killed)


def state_digest(where: str, objects: Iterable[tuple[str, int | None, str]]) -> str:
    """Returns the digest of a target's objects given as (key, size, ETag or tag), in any
    order, fo-cast's lock aside.

    Records count by their tag alone: a backend that read or wrote one knows its tag, and
    a listing gives the same ETag.
    """
    digest = hashlib.blake2b(digest_size=20)
    digest.update(f"{where}\0\n".encode("utf-8", "surrogateescape"))
    lines = []
    for key, size, etag in objects:
        if key == LOCK_KEY:
            continue
        shown = "" if key.startswith(RESERVED_PREFIX) else size
        lines.append(f"{key}\0{shown}\0{etag.strip(chr(34))}\n")
    lines.sort()
    digest.update("".join(lines).encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


class Storage(Protocol):
    """A publish target. Keys are posix paths relative to the target root."""

    def describe(self) -> str:
        """Returns the target as a URL a person can read, never with credentials."""
        ...

    def local_folder(self) -> Path | None:
        """Returns the folder on this machine that the target writes into, if it is one."""
        ...

    def list(self) -> dict[str, RemoteObject]:
        """Returns every object under the target except fo-cast's own records, by key."""
        ...

    def put(
        self,
        output: Output,
        content_hash: str,
        cache_control: str,
        progress: Progress | None = None,
    ) -> RemoteObject:
        """Returns the stored object once it is complete at the target (never half-written)."""
        ...

    def delete(self, keys: Sequence[str]) -> None:
        """Removes the objects; keys that are already gone are not an error."""
        ...

    def read(self, key: str) -> bytes | None:
        """Returns a small record's bytes, or None when there is no such object."""
        ...

    def cleanup(self) -> int:
        """Returns how many leftovers of interrupted uploads were removed."""
        ...

    def save_index(self) -> None:
        """Writes the hash index so the next listing needs no per-object reads."""
        ...

    def claim(self, keys: Sequence[str]) -> None:
        """Marks listed objects whose content the build holds as fo-cast's (in the index)."""
        ...

    def intend(self, hashes: Mapping[str, str]) -> None:
        """Records, before uploads start, the content (sha256 by key) about to be written,
        wherever an object does not carry fo-cast's mark itself: a publish killed before it
        saves the index leaves files the next listing still knows for fo-cast's."""
        ...

    def state(self) -> TargetState:
        """Returns the target's state as one listing shows it now (no object read)."""
        ...

    def settled_state(self) -> TargetState:
        """Returns the state this instance left the target in: the listing it took, every
        put and delete since, and the tags of the records it read or wrote (its own lock
        aside). Equal to a later `state()` only if nobody else changed the target."""
        ...

    # Compare-and-swap for fo-cast's own small records (lock, GUID record, index). A tag is
    # the object's ETag on S3 and the sha256 of its bytes in a folder.

    def read_tagged(self, key: str) -> tuple[bytes | None, str | None]:
        """Returns a record's bytes and tag, or (None, None) when there is no such object."""
        ...

    def write_if(self, key: str, data: bytes, tag: str | None) -> str | None:
        """Returns the new tag after writing data, if the object still has `tag` (None: only
        if there is no object yet); returns None, writing nothing, if it changed meanwhile."""
        ...

    def delete_if(self, key: str, tag: str) -> bool:
        """Returns whether the object was removed; it is kept if its tag is no longer `tag`."""
        ...


def merge_index(
    ours: dict[str, list[Any]], theirs: bytes | None, deleted: set[str]
) -> dict[str, list[Any]]:
    """Returns the index entries to save when another publish saved its own meanwhile.

    Entries of ours win; theirs add objects written after our listing (the other publish's),
    minus those this publish deleted. Entries are only hints (a listing checks each against
    the object's size and ETag), so keeping one too many costs nothing.
    """
    merged: dict[str, list[Any]] = {}
    if theirs is not None:
        try:
            objects = load_json(theirs)["objects"]
            merged = {k: v for k, v in objects.items() if isinstance(v, list) and len(v) in (5, 6)}
        except (ValueError, KeyError, TypeError, AttributeError):
            merged = {}
    for key in deleted:
        merged.pop(key, None)
    merged.update(ours)
    return dict(sorted(merged.items()))


def index_bytes(entries: dict[str, list[Any]]) -> bytes:
    """Returns the hash index as saved at the target."""
    return json.dumps(
        {"version": INDEX_VERSION, "objects": entries}, separators=(",", ":")
    ).encode()


def swap_index(
    storage: Storage, entries: dict[str, list[Any]], deleted: set[str], tag: str | None
) -> str:
    """Returns the tag of the hash index saved by compare-and-swap on `tag` (as read).

    An index another publish saved meanwhile is read again and merged (`merge_index`).
    """
    data = index_bytes(entries)
    for _ in range(20):
        new_tag = storage.write_if(INDEX_KEY, data, tag)
        if new_tag is not None:
            return new_tag
        theirs, tag = storage.read_tagged(INDEX_KEY)
        data = index_bytes(merge_index(entries, theirs, deleted))
    raise StorageError(f"{INDEX_KEY} kept changing while it was saved; run publish again")


class HashIndex:
    """The target's hash index (`.fo-cast/index.json`) as one backend instance keeps it.

    Both backends hold one: `known()` reads it (plus what this instance wrote since), `seen()`
    takes a fresh listing, `remember()`/`forget()`/`claim()` follow every put and delete, and
    `save()` writes it by compare-and-swap, merging one another publish saved meanwhile.
    """

    def __init__(self, storage: Storage) -> None:
        self._storage = storage
        self._entries: dict[str, RemoteObject] = {}
        self._lock = threading.Lock()
        self._dirty = False  # the index differs from what the target holds
        self._deleted: set[str] = set()  # keys this instance deleted (merging the index)
        self._tag: str | None = None  # the index as this instance read it (ETag or sha256)

    def objects(self) -> list[tuple[str, int | None, str]]:
        """Returns (key, size, ETag) of every object as this instance last saw or wrote it."""
        with self._lock:
            return [(key, obj.size, obj.etag) for key, obj in self._entries.items()]

    def known(self) -> dict[str, RemoteObject]:
        """Returns the stored index with what this instance wrote since it was saved."""
        stored = self._load()
        with self._lock:
            return {**stored, **self._entries}

    def seen(self, found: dict[str, RemoteObject], known: dict[str, RemoteObject]) -> None:
        """Takes a fresh listing as the index; it needs saving when it differs from known."""
        with self._lock:
            self._entries = dict(found)
            self._dirty = found != known

    def remember(self, stored: RemoteObject) -> None:
        if stored.key.startswith(RESERVED_PREFIX):
            return
        with self._lock:
            self._entries[stored.key] = stored
            self._dirty = True

    def forget(self, keys: Sequence[str]) -> None:
        with self._lock:
            for key in keys:
                self._entries.pop(key, None)
                self._deleted.add(key)
            self._dirty = True

    def claim(self, keys: Sequence[str]) -> None:
        """Marks listed objects as fo-cast's (identical to what the build publishes)."""
        with self._lock:
            for key in keys:
                known = self._entries.get(key)
                if known is not None and not known.ours and known.content_hash is not None:
                    self._entries[key] = dataclasses.replace(known, ours=True)
                    self._dirty = True

    def save(self) -> None:
        """Saves the index by compare-and-swap: one saved meanwhile is merged, never lost."""
        with self._lock:
            if not self._dirty:
                return
            self._dirty = False
            entries = {key: obj.as_index_entry() for key, obj in sorted(self._entries.items())}
            deleted, tag = set(self._deleted), self._tag
        try:
            new_tag = swap_index(self._storage, entries, deleted, tag)
            with self._lock:
                self._tag = new_tag
        except StorageError:
            with self._lock:  # not saved: a later save must try again
                self._dirty = True
            raise

    def _load(self) -> dict[str, RemoteObject]:
        raw, tag = self._storage.read_tagged(INDEX_KEY)
        with self._lock:
            self._tag = tag
        if raw is None:
            return {}
        try:
            objects = load_json(raw)["objects"]
            return {k: RemoteObject.from_index_entry(k, v) for k, v in objects.items()}
        except (ValueError, KeyError, TypeError, AttributeError):
            return {}  # a damaged index only costs a rehash


def hash_file(path: Path, progress: Progress | None = None) -> str:
    """Returns the sha256 hex of a file, read in chunks so memory stays flat."""
    digest = hashlib.sha256()
    with open(path, "rb") as source:
        while chunk := source.read(CHUNK):
            digest.update(chunk)
            if progress:
                progress(len(chunk))
    return digest.hexdigest()


# AWS's rules for a bucket name (general purpose buckets), which S3 compatibles follow.
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_IP_ADDRESS = re.compile(r"\d+\.\d+\.\d+\.\d+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_S3_FIX = "an S3 target is s3://bucket/prefix, such as s3://podcasts/shows/weekly"


def _s3_target(url: str) -> tuple[str, str]:
    """Returns the bucket and prefix of an s3:// URL, its one trailing slash dropped; raises
    ConfigError for a URL the server would refuse, or would read otherwise than it looks.

    A key is a string, not a path: under `a//c`, `a/./c` or `a/../c` every key would hold
    an empty, '.' or '..' folder that URLs cannot reach (browsers and CDNs resolve those
    away), and what the server thinks of it is only known at the first upload.
    """
    if bad := _CONTROL.search(url):  # before urlsplit, which drops tabs and newlines
        raise ConfigError(
            f"{_shown(url)}: the target URL holds a control character "
            f"({_shown(bad.group())}); type it again without it"
        )
    if "?" in url or "#" in url:  # urlsplit would cut the prefix short there
        raise ConfigError(
            f"{url}: a target URL has no query or fragment ('?', '#'); remove them: {_S3_FIX}"
        )
    parts = urlsplit(url)
    bucket, path = parts.netloc, parts.path
    if not bucket:
        raise ConfigError(f"{url}: an S3 target needs a bucket: s3://bucket/prefix")
    if not _BUCKET.fullmatch(bucket) or ".." in bucket or _IP_ADDRESS.fullmatch(bucket):
        raise ConfigError(
            f"{url}: '{bucket}' is not an S3 bucket name; name it with 3 to 63 lowercase "
            "letters, digits, dots and hyphens, starting and ending with a letter or digit "
            "(no '..', not an IP address)"
        )
    if "\\" in path:
        raise ConfigError(
            f"{url}: the prefix holds a backslash; separate its folders with '/': {_S3_FIX}"
        )
    segments = path[1:].split("/") if path[1:] else []
    if segments and not segments[-1]:
        segments.pop()  # one trailing slash: s3://bucket/show/ is s3://bucket/show
    if "" in segments:
        raise ConfigError(
            f"{url}: the prefix has an empty segment ('//'); write each '/' once, as in "
            f"s3://{bucket}/{'/'.join(s for s in segments if s)}"
        )
    if dots := next((s for s in segments if s in (".", "..")), None):
        raise ConfigError(
            f"{url}: the prefix has a '{dots}' segment, which S3 would keep in every key as "
            f"a folder of that name; write the prefix without it: {_S3_FIX}"
        )
    return bucket, "/".join(segments)


def _shown(text: str) -> str:
    """Returns text with its control characters as escapes, so a message stays one line."""
    return _CONTROL.sub(lambda found: f"\\x{ord(found.group()):02x}", text)


def storage_for(url: str, endpoint_url: str | None = None, **options: Any) -> Storage:
    """Returns the Storage for a target URL: file:///folder or a plain path, or s3://bucket/prefix.

    `endpoint_url` (or AWS_ENDPOINT_URL) points S3 at a compatible server; options go to the
    backend (S3: max_attempts, retry_mode, connect_timeout, read_timeout, workers,
    multipart_threshold, multipart_chunksize, part_concurrency, checksum).
    """
    try:
        parts = urlsplit(url)
    except ValueError as exc:  # "Invalid IPv6 URL": a '[' in the host
        raise ConfigError(
            f"{_shown(url)}: not a target URL ({exc}); use s3://bucket/prefix or "
            "file:///path/to/folder"
        ) from None
    if "@" in parts.netloc:
        # Never echo it: what stands before the @ is most likely a key.
        raise ConfigError(
            f"{parts.scheme}://...@{parts.netloc.rsplit('@', 1)[1]}: a target URL carries no "
            "credentials; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE"
        )
    if parts.scheme == "s3":
        from fo_cast.storage.s3 import S3Storage

        bucket, prefix = _s3_target(url)
        return S3Storage(bucket, prefix, endpoint_url=endpoint_url, **options)
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise ConfigError(f"{url}: file URLs name a local folder: file:///path/to/folder")
        from fo_cast.storage.local import LocalStorage

        return LocalStorage(Path(unquote(parts.path)))
    if parts.scheme == "" or len(parts.scheme) == 1:  # a plain path, or C:\ on Windows
        from fo_cast.storage.local import LocalStorage

        return LocalStorage(Path(url))
    raise ConfigError(
        f"{url}: unsupported target; use s3://bucket/prefix or file:///path/to/folder"
    )


__all__ = [
    "CHUNK",
    "INDEX_KEY",
    "INDEX_VERSION",
    "LOCK_KEY",
    "RESERVED_PREFIX",
    "Progress",
    "RemoteObject",
    "ServerUnreachable",
    "Storage",
    "TargetState",
    "hash_file",
    "index_bytes",
    "merge_index",
    "state_digest",
    "swap_index",
    "storage_for",
]
