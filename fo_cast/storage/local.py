"""A folder as publish target: every object is written to a temp file, then renamed into place."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import threading
import time
import uuid
from collections.abc import Collection, Iterator, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from fo_cast.errors import StorageError
from fo_cast.limits import load_json
from fo_cast.outputs import Output, Stage
from fo_cast.storage import (
    CHUNK,
    LOCK_KEY,
    RESERVED_PREFIX,
    HashIndex,
    Progress,
    RemoteObject,
    TargetState,
    hash_file,
    state_digest,
)

TEMP_SUFFIX = ".fo-cast-tmp"
CAS_LOCK = RESERVED_PREFIX + ".cas.lock"  # flock()ed while a record is compared and swapped
CAS_WAIT = 10.0  # seconds to wait for that flock before saying who holds it
# What a publish is about to write, saved before each stage's uploads (`intend`): one file a
# stage, removed once the index that records the writes is saved.
PENDING = RESERVED_PREFIX + "pending/"


class LocalStorage:
    """Writes the output tree into a folder; readers never see a half-written file.

    The hash index (`.fo-cast/index.json`) keeps each file's sha256 next to the size and
    mtime it had when written, so listing a folder of 1.5 GB of media hashes nothing, and
    whether fo-cast wrote it: files it did not write are never deleted.

    Symlinks inside the folder are not fo-cast's: they are listed as someone else's (so a
    first publish needs --adopt, and they are never pruned), a plan that would write beneath
    one is refused, and nothing is written or deleted through a folder symlink that leads out
    of the target (StorageError instead). The target folder itself may be a symlink; that is
    the user's choice.
    """

    def __init__(self, root: Path) -> None:
        self.root = root.expanduser().absolute()
        self._index = HashIndex(self)
        self._inside: set[Path] = set()  # folders resolved and found inside the target
        self._tags: dict[str, str | None] = {}  # fo-cast's records as last read or written
        self._pending: set[str] = set()  # pending records read or written (removed on save)
        self._lock = threading.Lock()  # the media uploads' thread saves the index too

    def describe(self) -> str:
        return self.root.as_uri()

    def local_folder(self) -> Path | None:
        return self.root

    def list(self) -> dict[str, RemoteObject]:
        """Returns every file under the folder by key, hashes from the index where it is fresh."""
        if not self.root.exists():
            return {}
        if not self.root.is_dir():
            raise StorageError(f"{self.describe()}: not a folder")
        known = self._index.known()  # what this instance wrote since it was saved counts too
        pending = self._read_pending()
        found: dict[str, RemoteObject] = {}
        links: dict[str, RemoteObject] = {}  # someone's symlinks: listed, never fo-cast's
        for dirpath, dirnames, filenames in os.walk(self.root):
            rel = PurePosixPath(Path(dirpath).relative_to(self.root).as_posix())
            if rel == PurePosixPath("."):
                dirnames[:] = [d for d in dirnames if d + "/" != RESERVED_PREFIX]
            for name in [*filenames, *dirnames]:
                key = str(rel / name) if rel != PurePosixPath(".") else name
                if os.path.islink(os.path.join(dirpath, name)):  # os.walk never enters one
                    links[key] = RemoteObject(key, 0, None, "symlink")
                elif name in filenames and not name.endswith(TEMP_SUFFIX):
                    found[key] = self._describe_file(key, known.get(key), pending.get(key, ()))
        self._index.seen(found, known)
        return {**found, **links}

    def state(self) -> TargetState:
        """Returns the state a walk of the folder shows: each file's size and mtime, and the
        sha256 of fo-cast's records (their tags). Temp files count: a publish was cut off."""
        objects: list[tuple[str, int | None, str]] = []
        locked = False
        for dirpath, _, filenames in os.walk(self.root):
            rel = Path(dirpath).relative_to(self.root).as_posix()
            for name in filenames:
                key = name if rel == "." else f"{rel}/{name}"
                path = os.path.join(dirpath, name)
                if key == LOCK_KEY:
                    locked = True
                elif key == CAS_LOCK or os.path.islink(path):
                    continue
                elif key.startswith(RESERVED_PREFIX) and not name.endswith(TEMP_SUFFIX):
                    objects.append((key, None, self.read_tagged(key)[1] or ""))
                else:
                    try:
                        stat = os.stat(path)
                    except FileNotFoundError:  # removed meanwhile: the digest differs anyway
                        continue
                    objects.append((key, stat.st_size, _etag(stat)))
        return TargetState(state_digest(self._where(), objects), locked)

    def settled_state(self) -> TargetState:
        records = [(key, None, tag) for key, tag in self._tags.items() if tag is not None]
        return TargetState(state_digest(self._where(), [*self._index.objects(), *records]))

    def _where(self) -> str:
        return f"folder\0{os.path.realpath(self.root)}"

    def put(
        self,
        output: Output,
        content_hash: str,
        cache_control: str,
        progress: Progress | None = None,
    ) -> RemoteObject:
        """Returns the written file's entry once it has been renamed into place."""
        target = self._path(output.path)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            self._refuse_escape(target, "write", again=True)  # made by mkdir: look once more
            temp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}{TEMP_SUFFIX}")
            try:
                with open(temp, "wb") as out:
                    if (data := output.data) is not None:  # read once: it may be kept on disk
                        out.write(data)
                        if progress:
                            progress(len(data))
                    else:
                        assert output.source is not None
                        # Hashed as copied: an edit since the plan (or during the copy) must
                        # not land under the planned hash, which the index would then vouch for.
                        if _copy(output.source, out, progress) != content_hash:
                            raise StorageError(
                                f"{self.describe()}: {output.source} changed since the plan; "
                                "run publish again"
                            )
                    # Feeds and records are what readers trust: make them survive a power cut.
                    if output.stage is Stage.FEED or output.path.startswith(RESERVED_PREFIX):
                        out.flush()
                        os.fsync(out.fileno())
                os.replace(temp, target)
            finally:
                temp.unlink(missing_ok=True)
            stat = target.stat()
        except OSError as error:
            raise StorageError(f"{self.describe()}: cannot write {output.path}: {error}") from error
        stored = RemoteObject(
            output.path,
            stat.st_size,
            content_hash,
            _etag(stat),
            output.content_type,
            cache_control,
            ours=True,
        )
        self._index.remember(stored)
        return stored

    def delete(self, keys: Sequence[str]) -> None:
        for key in keys:
            path = self._path(key)
            try:
                path.unlink(missing_ok=True)
                _remove_empty_parents(path.parent, self.root)
            except OSError as error:
                raise StorageError(f"{self.describe()}: cannot delete {key}: {error}") from error
            self._index.forget([key])

    def read(self, key: str) -> bytes | None:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as error:
            raise StorageError(f"{self.describe()}: cannot read {key}: {error}") from error

    def cleanup(self, older_than: float | None = None) -> int:
        """Returns how many temp files of interrupted publishes were removed.

        With `older_than` (seconds) only files untouched that long go: a publish that does
        not hold the target's lock must not remove what another one is writing right now.
        """
        removed = 0
        if not self.root.is_dir():
            return 0
        limit = None if older_than is None else time.time() - older_than
        for temp in self.root.rglob("*" + TEMP_SUFFIX):
            with contextlib.suppress(FileNotFoundError):
                if limit is not None and temp.stat().st_mtime > limit:
                    continue
                temp.unlink()
                removed += 1
        return removed

    def claim(self, keys: Sequence[str]) -> None:
        self._index.claim(keys)

    def save_index(self) -> None:
        self._index.save()
        self._drop_pending()

    def read_tagged(self, key: str) -> tuple[bytes | None, str | None]:
        data = self.read(key)
        tag = None if data is None else hashlib.sha256(data).hexdigest()
        self._tags[key] = tag
        return data, tag

    def write_if(self, key: str, data: bytes, tag: str | None) -> str | None:
        """Returns the new tag (sha256), or None if the file's content is no longer `tag`.

        Every fo-cast process compares and renames under one flock() on the target, so
        two publishes cannot both swap the same record (a rename alone could not tell). The
        bytes are written and synced before the flock is taken: it is held for a read and a
        rename only, so a publish stopped (Ctrl-Z) at any moment hardly ever holds it.
        """
        target = self._path(key)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            temp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}{TEMP_SUFFIX}")
            try:
                with open(temp, "wb") as out:
                    out.write(data)
                    out.flush()
                    os.fsync(out.fileno())
                with self._cas_lock():
                    if self.read_tagged(key)[1] != tag:
                        return None
                    os.replace(temp, target)
            finally:
                temp.unlink(missing_ok=True)
        except OSError as error:
            raise StorageError(f"{self.describe()}: cannot write {key}: {error}") from error
        self._tags[key] = hashlib.sha256(data).hexdigest()
        return self._tags[key]

    def delete_if(self, key: str, tag: str) -> bool:
        try:
            with self._cas_lock():
                if self.read_tagged(key)[1] != tag:
                    return False
                self._path(key).unlink(missing_ok=True)
        except OSError as error:
            raise StorageError(f"{self.describe()}: cannot delete {key}: {error}") from error
        self._tags[key] = None
        return True

    @contextlib.contextmanager
    def _cas_lock(self) -> Iterator[None]:
        """Holds the target's flock(); waits for it at most CAS_WAIT seconds.

        Another fo-cast holds it for a read and a rename, a few milliseconds: one that keeps
        it longer is stopped (Ctrl-Z, SIGSTOP) or hung on a dead network share, and waiting
        on it without end would hang this publish too, and every one after it.
        """
        path = self._path(CAS_LOCK)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            deadline = time.monotonic() + CAS_WAIT
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise StorageError(
                            f"{self.describe()}: another fo-cast process has held "
                            f"{CAS_LOCK} for over {CAS_WAIT:g} s (stopped with Ctrl-Z, or "
                            "hung?); resume or end it (fg, kill), then run publish again"
                        ) from None
                    time.sleep(0.02)
            yield
        finally:
            os.close(fd)  # closing releases the flock

    def _describe_file(
        self, key: str, known: RemoteObject | None, pending: Collection[str]
    ) -> RemoteObject:
        stat = self._path(key).stat()
        if known and known.etag == _etag(stat) and known.size == stat.st_size:
            return known
        # Written by something else, or by a publish killed before it saved the index: still
        # fo-cast's only if it holds the bytes fo-cast wrote (a touch, a copy back) or was
        # about to write there.
        digest = hash_file(self._path(key))
        ours = (known is not None and known.ours and known.content_hash == digest) or (
            digest in pending
        )
        return RemoteObject(key, stat.st_size, digest, _etag(stat), ours=ours)

    def intend(self, hashes: Mapping[str, str]) -> None:
        """Saves (and syncs) what the uploads about to start will write, before they start."""
        if not hashes:
            return
        name = f"{PENDING}{uuid.uuid4().hex}.json"
        self._path(name).parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            self._pending.add(name)
        if self.write_if(name, json.dumps(dict(hashes), sort_keys=True).encode(), None) is None:
            raise StorageError(f"{self.describe()}: {name} was written by another process")

    def _read_pending(self) -> dict[str, set[str]]:
        """Returns the content each pending record (of this or a killed publish) says was
        about to be written, by key; a damaged record counts as none."""
        folder = self._path(PENDING.rstrip("/"))
        try:
            names = sorted(n for n in os.listdir(folder) if n.endswith(".json"))
        except FileNotFoundError:
            return {}
        except OSError as error:
            raise StorageError(f"{self.describe()}: cannot list {PENDING}: {error}") from error
        pending: dict[str, set[str]] = {}
        for name in names:
            key = PENDING + name
            with self._lock:
                self._pending.add(key)
            try:
                hashes = load_json(self._path(key).read_bytes())
            except FileNotFoundError:
                continue
            except OSError as error:
                raise StorageError(f"{self.describe()}: cannot read {key}: {error}") from error
            except ValueError:
                continue
            if isinstance(hashes, dict):
                for path, digest in hashes.items():
                    if isinstance(digest, str):
                        pending.setdefault(str(path), set()).add(digest)
        return pending

    def _drop_pending(self) -> None:
        """Removes the pending records this instance read or wrote: the saved index holds
        what they said, as the listing found it and as every settled upload left it."""
        with self._lock:
            names, self._pending = sorted(self._pending), set()
        for name in names:
            try:
                self._path(name).unlink(missing_ok=True)
            except OSError as error:
                raise StorageError(f"{self.describe()}: cannot remove {name}: {error}") from error
            self._tags.pop(name, None)

    def _refuse_escape(self, path: Path, doing: str, again: bool = False) -> None:
        """Raises StorageError when path's folder resolves outside the target (a symlink).

        Each folder is resolved once per instance: a listing of 10,000 files stays cheap.
        """
        folder = path.parent
        if folder in self._inside and not again:
            return
        root = os.path.realpath(self.root)
        real = os.path.realpath(folder)
        if real != root and not real.startswith(root.rstrip(os.sep) + os.sep):
            raise StorageError(
                f"{self.describe()}: refusing to {doing} {path.relative_to(self.root).as_posix()}: "
                f"its folder is a symlink leading out of the target (to {real}); remove it"
            )
        self._inside.add(folder)

    def _path(self, key: str) -> Path:
        parts = PurePosixPath(key).parts
        if not parts or PurePosixPath(key).is_absolute() or ".." in parts:
            raise StorageError(f"{self.describe()}: refusing key outside the target: {key!r}")
        path = self.root.joinpath(*parts)
        # Every read, write and delete comes through here: none goes through a symlink out.
        self._refuse_escape(path, "use")
        return path


def _copy(source: Path, out: BinaryIO, progress: Progress | None) -> str:
    """Returns the sha256 hex of the bytes copied."""
    digest = hashlib.sha256()
    with open(source, "rb") as src:
        while chunk := src.read(CHUNK):
            digest.update(chunk)
            out.write(chunk)
            if progress:
                progress(len(chunk))
    return digest.hexdigest()


def _etag(stat: os.stat_result) -> str:
    return f"{stat.st_mtime_ns:x}-{stat.st_size:x}"


def _remove_empty_parents(folder: Path, root: Path) -> None:
    while folder != root and root in folder.parents:
        try:
            folder.rmdir()
        except OSError:
            return  # not empty
        folder = folder.parent
