"""Writes a Build into a folder: atomic, incremental, never over someone else's files.

Media and artwork enter as hard links; a rebuild changes only the files that differ, moving
them into place media first and feeds last, and an interrupted write puts the previous tree
back. `refuse_output()` says which folders a build must never take over.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import posixpath
import shutil
import stat
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from fo_cast.errors import FoCastError
from fo_cast.gcpause import paused_gc
from fo_cast.limits import load_json
from fo_cast.outputs import OPML_FILE, Build, Output
from fo_cast.snapshot import Stamp
from fo_cast.state import TREE_RECORD, write_all

TREE_VERSION = 2
RECORD_CHUNK = 4096  # record entries encoded at a time
KEEP = "README.md"  # the output folder's own note (feeds/README.md) stays
T = TypeVar("T")


def overlap_with(catalogue: Path, folder: Path) -> str | None:
    """Returns how folder overlaps the catalogue (it is it, holds it, or lies inside it)."""
    cat, where = catalogue.resolve(), folder.resolve()
    if where == cat:
        return "is the catalogue"
    if where in cat.parents:
        return "holds the catalogue"
    if cat in where.parents:
        return "is inside the catalogue"
    return None


# What a folder may hold for a build to take it over: a previous build (it always writes
# index.opml), or nothing but the folder's own note.
BUILT_MARK = OPML_FILE


def refuse_output(catalogue: Path, out: Path) -> str | None:
    """Returns why out must not receive a build (which removes what it did not write), or None.

    A build never writes into the catalogue or a folder holding it, nor into a folder of
    someone else's files: `--out .` or `--out ~/Documents` would otherwise lose them.
    """
    if out.is_symlink() and not out.exists():  # it would make folders wherever it points
        return (
            f"is a symlink to {os.readlink(out)}, which is not there: create that folder, or "
            "give the output folder itself"
        )
    overlap = overlap_with(catalogue, out)
    if overlap:
        return f"{overlap}; build replaces that folder whole"
    if out.exists() and not out.is_dir():
        return "is not a folder"
    for parent in out.absolute().parents:  # the nearest that is there must be a folder
        if parent.exists() or parent.is_symlink():
            if not parent.is_dir():
                return f"is inside {parent}, which is a file, not a folder"
            break
    if out.is_dir() and not (out / BUILT_MARK).is_file():
        others = sorted(p.name for p in out.iterdir() if p.name != "README.md")
        if others:
            return (
                f"holds files fo-cast did not build (such as '{others[0]}') and build "
                "replaces the folder whole; choose a new or empty folder"
            )
    return None


def write_tree(
    result: Build, out: Path, catalogue: Path | None = None, stamp: Stamp | None = None
) -> None:
    """Writes the build into out, changing only the files that differ from what is there.

    Media and artwork enter as hard links (a copy only across file systems), so a 2 GB video
    costs no extra disk. What an earlier write put in out is recorded in out/.fo-cast/tree.json
    (path -> size, mtime, inode, content hash); a file that still matches its record and the
    build is left alone. New files are written aside first, then renamed into place (media,
    then pages, then feeds) with the replaced files kept until the end, so a failure puts the
    previous tree back. Without a record (a first build) the whole tree is written aside and
    swapped in with one rename. With `catalogue`, an out that refuse_output() refuses raises
    FoCastError before anything is written. The record keeps `stamp` (see read_stamp()), or
    drops the one an earlier build left.
    """
    if catalogue is not None and (refusal := refuse_output(catalogue, out)):
        raise FoCastError(f"{out} {refusal}")
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    _clear_leftovers(out)
    with paused_gc():
        record = _read_record(out)
        stamped = None if stamp is None else stamp.as_dict()
        if record is None:
            _write_whole(result, out, stamped)
            return
        try:
            _update(result, out, record, stamped)
        except OSError:
            _write_whole(result, out, stamped)  # the tree is back as it was; write it anew


def _clear_leftovers(out: Path) -> None:
    """Removes what an interrupted write left beside out (.NAME.new-*, .NAME.old-*): they are
    never reused, and two builds must not write one folder at the same time anyway."""
    for pattern in (f".{out.name}.new-*", f".{out.name}.old-*"):
        for leftover in out.parent.glob(pattern):
            if leftover.is_dir() and not leftover.is_symlink():
                shutil.rmtree(leftover, ignore_errors=True)


def _write_whole(result: Build, out: Path, stamp: dict[str, object] | None) -> None:
    """Writes the whole build aside, then puts it in out's place in one rename."""
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.new-", dir=out.parent))
    except OSError as error:  # named for the folder asked for, not the one beside it
        raise OSError(error.errno, f"cannot write beside it: {error.strerror}", str(out)) from None
    try:
        # mkdtemp makes it 0700: the tree keeps the folder's mode, or takes a new folder's
        # (a web server running as another user must read it)
        os.chmod(staging, _folder_mode(out))
        keep = out / KEEP
        if keep.is_file():
            shutil.copy2(keep, staging / KEEP, follow_symlinks=False)
        root = str(staging)
        made: set[str] = {root}
        marks = _marks(result.outputs)
        with ThreadPoolExecutor(_WRITERS) as pool:
            made.update(_make_folders(root, [o.path for o in result.outputs], pool))
            targets = [_join(root, output.path) for output in result.outputs]
            entries = _put_all(result.outputs, targets, marks, pool)
        files = {output.path: entry for output, entry in zip(result.outputs, entries, strict=True)}
        _save_record(root, files, made, stamp)
        _swap(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _update(
    result: Build, out: Path, record: dict[str, str], stamp: dict[str, object] | None
) -> None:
    """Brings out in line with the build, touching only the files that differ."""
    root = str(out)
    marks = _marks(result.outputs)
    files: dict[str, str] = {}
    changed: list[Output] = []
    lstat = os.lstat
    for output in sorted(result.outputs, key=lambda o: o.stage):  # a feed goes in last
        path = output.path
        entry = record.get(path)
        if entry is not None:
            try:
                st = lstat(_join(root, path))
            except OSError:
                pass
            else:
                if entry == f"{st.st_size}:{st.st_mtime_ns}:{st.st_ino} {marks[path]}":
                    files[path] = entry
                    continue
        changed.append(output)
    removed = sorted(set(record) - marks.keys())
    _apply(out, files, changed, removed, marks, stamp)


def update_files(out: Path, outputs: list[Output], removed: list[str], stamp: Stamp) -> None:
    """Writes these outputs into the tree that out holds and removes the files at removed,
    leaving every other file as it is (a rebuild knows what changed: rebuild.py), with the
    same guarantees as write_tree(): written aside, renamed into place (feeds last), the
    previous tree back on a failure; out's record keeps stamp."""
    out = out.resolve()
    for path in [*removed, *(o.path for o in outputs)]:
        if not _is_tree_path(path):
            raise ValueError(f"{path!r} is not a path inside the tree")
    _clear_leftovers(out)
    record = _read_record(out)
    if record is None:
        raise FoCastError(f"{out} holds no record of a build; build it whole")
    gone = set(removed) | {o.path for o in outputs}
    files = {path: entry for path, entry in record.items() if path not in gone}
    changed = sorted(outputs, key=lambda o: o.stage)  # a feed goes in last
    with paused_gc():
        _apply(out, files, changed, sorted(removed), _marks(changed), stamp.as_dict())


def _is_tree_path(path: str) -> bool:
    """Returns whether path names a file inside a tree: relative, posix, no '.' or '..'."""
    parts = path.split("/")
    return "\0" not in path and "\\" not in path and all(p not in ("", ".", "..") for p in parts)


def _apply(
    out: Path,
    files: dict[str, str],
    changed: list[Output],
    removed: list[str],
    marks: dict[str, str],
    stamp: dict[str, object] | None,
) -> None:
    """Puts the changed outputs in place and removes the files at removed; files holds the
    record of every other file of the tree, kept as it is."""
    root = str(out)
    # the folders of what is written or removed (a file the tree holds as it was recorded,
    # same inode, is left alone wherever its folder points)
    if _has_symlinked_folder(root, [*(o.path for o in changed), *removed, TREE_RECORD]):
        # Writing or moving files through it would change whatever it points at (the
        # catalogue itself, once). A symlink is nothing a build wrote: replace the tree whole.
        raise _Rewrite
    if not changed and not removed:
        if stamp != _read_stamp_data(out):
            _save_record(root, files, {root}, stamp)
        return
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.new-", dir=out.parent))
    undo: list[tuple[str, str, str]] = []  # (what, path, where it went), in the order done
    try:
        aside = str(staging)
        asides = [os.path.join(aside, str(n)) for n in range(len(changed))]
        with ThreadPoolExecutor(_WRITERS) as pool:
            entries = _put_all(changed, asides, marks, pool)
        files.update((output.path, entry) for output, entry in zip(changed, entries, strict=True))
        dirs = {root}
        for n, output in enumerate(changed):
            target = _place(root, output.path, dirs, undo)
            if os.path.lexists(target):
                os.replace(target, os.path.join(aside, f"old-{n}"))
                undo.append(("moved", target, os.path.join(aside, f"old-{n}")))
            os.replace(os.path.join(aside, str(n)), target)
            undo.append(("placed", target, ""))
        for n, path in enumerate(removed):
            target = _join(root, path)
            if os.path.lexists(target):
                os.replace(target, os.path.join(aside, f"gone-{n}"))
                undo.append(("moved", target, os.path.join(aside, f"gone-{n}")))
        _save_record(root, files, dirs, stamp)
    except BaseException:
        _undo(undo)
        shutil.rmtree(staging, ignore_errors=True)
        raise
    shutil.rmtree(staging, ignore_errors=True)
    _prune_folders(root, removed)


class _Rewrite(OSError):
    """The tree cannot be updated in place; write_tree writes it anew."""


def _folders_of(paths: list[str]) -> set[str]:
    """Returns every folder on the way to any of the tree paths (posix, relative)."""
    folders: set[str] = set()
    for path in paths:
        folder = posixpath.dirname(path)
        while folder and folder not in folders:
            folders.add(folder)
            folder = posixpath.dirname(folder)
    return folders


def _has_symlinked_folder(root: str, paths: list[str]) -> bool:
    """Returns whether a folder on the way to any of paths (under root) is a symlink."""
    for folder in _folders_of(paths):
        try:
            if stat.S_ISLNK(os.lstat(_join(root, folder)).st_mode):
                return True
        except OSError:
            continue  # not there yet: _place makes it
    return False


def _undo(undo: list[tuple[str, str, str]]) -> None:
    for what, path, other in reversed(undo):
        try:
            if what == "placed":
                os.unlink(path)
            elif what == "moved":
                os.replace(other, path)
            elif what == "made":
                os.rmdir(path)
        except OSError:
            pass


def _join(root: str, path: str) -> str:
    """Returns the file name of a tree path (posix, relative) under root."""
    return root + os.sep + (path if os.sep == "/" else path.replace("/", os.sep))


def _place(
    root: str, path: str, made: set[str], undo: list[tuple[str, str, str]] | None = None
) -> str:
    """Returns the file name for path under root, making its folders (once per folder)."""
    target = _join(root, path)
    folder = os.path.dirname(target)
    if folder not in made:
        missing = []
        while folder not in made and not os.path.isdir(folder):
            missing.append(folder)
            folder = os.path.dirname(folder)
        for new in reversed(missing):
            os.mkdir(new)
            if undo is not None:
                undo.append(("made", new, ""))
        made.update(missing)
        made.add(os.path.dirname(target))
    return target


# Creating a file costs the kernel more than writing its few KB, and on some machines (virtual
# disks, a journal busy with an earlier delete) a great deal more: writers on every core, each
# an equal share of the files, take a cold tree of 40,000 files in a half to a third of the
# time of one. What ends up on disk is the same whichever thread writes which file.
_WRITERS = max(2, min(8, 2 * (os.cpu_count() or 1)))


def _make_folders(root: str, paths: list[str], pool: ThreadPoolExecutor) -> set[str]:
    """Makes every folder the tree paths need under root (a new, empty folder), parents
    before children, each depth's folders on every writer; returns their file names."""
    by_depth: dict[int, list[str]] = {}
    for folder in _folders_of(paths):
        by_depth.setdefault(folder.count("/"), []).append(_join(root, folder))
    made: set[str] = set()
    for depth in sorted(by_depth):
        folders = sorted(by_depth[depth])
        list(pool.map(_mkdirs, _shares(folders)))
        made.update(folders)
    return made


def _mkdirs(folders: list[str]) -> None:
    for folder in folders:
        os.mkdir(folder)


def _shares(items: list[T]) -> list[list[T]]:
    """Returns items in a share per writer (every writer-th item, so each share is alike)."""
    return [items[n::_WRITERS] for n in range(min(_WRITERS, len(items)))]


# Bytes past this size are written by the calling thread: a writer thread that reads a 10 MB
# feed back keeps the memory in an arena of its own (glibc), some 60 MB more at the peak of a
# cold build of 10,000 episodes; files this large are few, and their creation is not the cost.
_BIG = 256 * 1024
_FEW = 64  # fewer files than this are written by the calling thread alone


def _put_all(
    outputs: list[Output], targets: list[str], marks: dict[str, str], pool: ThreadPoolExecutor
) -> list[str]:
    """Writes each output at its target (the folders exist), the small ones on every writer;
    returns their record entries in the order of outputs."""
    jobs = list(enumerate(zip(outputs, targets, strict=True)))
    entries: list[str] = [""] * len(jobs)
    if len(jobs) < _FEW:
        spread = []
    else:
        spread = [job for job in jobs if not job[1][0].rendered or job[1][0].length <= _BIG]
    spread_numbers = {n for n, _ in spread}
    for n, (output, target) in jobs:
        if n not in spread_numbers:
            entries[n] = _put(output, target, marks[output.path])

    def put_share(share: list[tuple[int, tuple[Output, str]]]) -> list[tuple[int, str]]:
        return [(n, _put(o, t, marks[o.path])) for n, (o, t) in share]

    for written in pool.map(put_share, _shares(spread)):
        for n, entry in written:
            entries[n] = entry
    return entries


def _put(output: Output, target: str, mark: str) -> str:
    """Writes or links one output at target; returns its record entry."""
    content = output.content
    if content is not None:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
        fd = os.open(target, flags, 0o666)
        try:
            if isinstance(content, bytes):
                write_all(fd, content)
            else:  # kept in the render cache: copied from there
                content.write_into(fd)
        finally:
            os.close(fd)
    else:
        assert output.source is not None
        _link_or_copy(output.source, Path(target))
    st = os.lstat(target)
    return f"{st.st_size}:{st.st_mtime_ns}:{st.st_ino} {mark}"


def _marks(outputs: list[Output]) -> dict[str, str]:
    """Returns what identifies each output's content: the SHA-256 of its bytes, or the
    identity of the catalogue file it links (device, inode, size, mtime).

    Bytes kept in the render cache come with their SHA-256, taken when they were rendered or
    checked: an output the tree already holds is neither read nor hashed again.
    """
    marks: dict[str, str] = {}
    data = []
    for output in outputs:
        if output.sha256 is not None:
            marks[output.path] = output.sha256
        elif output.rendered:
            data.append(output)
    # hashlib lets go of the GIL while it hashes: pages hash on every core at once
    workers = max(1, min(4, os.cpu_count() or 1))
    chunks = [data[n::workers] for n in range(workers)]
    with ThreadPoolExecutor(workers) as pool:
        for chunk, digests in zip(chunks, pool.map(_sha256_all, chunks), strict=True):
            marks.update(zip([o.path for o in chunk], digests, strict=True))
    for output in outputs:
        if output.source is not None:
            try:
                st = os.stat(output.source)
            except OSError as error:
                raise FoCastError(f"cannot read a file the build needs: {error}") from error
            marks[output.path] = f"file:{st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}"
    return marks


def _sha256_all(outputs: list[Output]) -> list[str]:
    return [hashlib.sha256(o.data).hexdigest() for o in outputs]  # type: ignore[arg-type]


_LAST_READ: list[tuple[tuple[str, int, int, int], Any]] = []  # the record read last, by identity


def _stored(out: Path) -> Any:
    """Returns out's record as JSON, read once per process while the file stays the same
    (a build reads it for the stamp, for is_intact and to update it: 5 MB at 40,000 files)."""
    path = out / TREE_RECORD
    with open(path, "rb") as file:
        st = os.fstat(file.fileno())
        identity = (os.path.abspath(path), st.st_ino, st.st_size, st.st_mtime_ns)
        if _LAST_READ and _LAST_READ[0][0] == identity:
            return _LAST_READ[0][1]
        data = load_json(file.read())
    _LAST_READ[:] = [(identity, data)]
    return data


def forget_record() -> None:
    """Lets go of the record read last (a whole build is about to need the memory)."""
    _LAST_READ.clear()


def _read_record(out: Path) -> dict[str, str] | None:
    """Returns what the last write put in out, or None (no tree, or no readable record)."""
    try:
        stored = _stored(out)
        if stored.get("version") != TREE_VERSION or not isinstance(stored["files"], dict):
            return None
        files: dict[str, str] = stored["files"]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return {k: v for k, v in files.items() if isinstance(v, str)}


def _save_record(
    root: str, files: dict[str, str], made: set[str], stamp: dict[str, object] | None
) -> None:
    target = _place(root, TREE_RECORD, made)
    head: dict[str, object] = {"version": TREE_VERSION}
    if stamp is not None:
        head["stamp"] = stamp
    # Written a few thousand files at a time: the record of 40,000 files is some 5 MB of JSON,
    # and the whole of it as one string (and its bytes) would be the build's peak of memory.
    tmp = os.path.join(os.path.dirname(target), f".tree.json.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as file:
            file.write(_dumps(head)[:-1] + ',"files":{')
            paths = list(files)
            for n in range(0, len(paths), RECORD_CHUNK):
                chunk = {path: files[path] for path in paths[n : n + RECORD_CHUNK]}
                file.write(("," if n else "") + _dumps(chunk)[1:-1])
            file.write("}}")
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _dumps(data: object) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def _read_stamp_data(out: Path) -> object:
    try:
        return _stored(out).get("stamp")
    except (OSError, ValueError, AttributeError):
        return None


def read_stamp(out: Path) -> Stamp | None:
    """Returns the stamp of the build that out holds (see snapshot.py), or None."""
    try:
        stored = _stored(out)
        if stored.get("version") != TREE_VERSION:
            return None
        return Stamp.from_dict(stored.get("stamp"))
    except (OSError, ValueError, AttributeError):
        return None


def recorded_marks(out: Path) -> dict[str, str]:
    """Returns what identifies each file the last write put in out, by path (see _marks():
    a rendered file's SHA-256); none without a record."""
    return {path: entry.partition(" ")[2] for path, entry in (_read_record(out) or {}).items()}


def is_intact(out: Path) -> bool:
    """Returns True when every file the last write put in out is still there as it wrote it
    (size, mtime, inode): nobody edited, replaced or removed one since."""
    record = _read_record(out)
    if record is None:
        return False
    root, lstat = str(out.resolve()), os.lstat
    try:
        for path, entry in record.items():
            st = lstat(_join(root, path))
            if not entry.startswith(f"{st.st_size}:{st.st_mtime_ns}:{st.st_ino} "):
                return False
    except OSError:
        return False
    return True


def _prune_folders(root: str, removed: list[str]) -> None:
    """Removes the folders that removing files left empty (never root itself)."""
    for path in removed:
        folder = os.path.dirname(_join(root, path))
        while folder != root and folder.startswith(root):
            try:
                os.rmdir(folder)
            except OSError:
                break
            folder = os.path.dirname(folder)


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _folder_mode(out: Path) -> int:
    """Returns the permissions of the folder out, or those a new folder gets (the umask's)."""
    try:
        return stat.S_IMODE(os.stat(out).st_mode)
    except OSError:
        mask = os.umask(0o022)  # the only way to read it is to set it: put back at once
        os.umask(mask)
        return 0o777 & ~mask


def _swap(staging: Path, out: Path) -> None:
    """Puts staging in out's place; the old tree is removed only after the rename."""
    if not out.exists():
        os.replace(staging, out)
        return
    old = out.with_name(f".{out.name}.old-{os.getpid()}")
    os.replace(out, old)
    try:
        os.replace(staging, out)
    except OSError:
        os.replace(old, out)
        raise
    shutil.rmtree(old, ignore_errors=True)
