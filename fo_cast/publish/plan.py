"""The publish plan: what to upload (and why), what is already there, what to delete."""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
import os
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fo_cast.errors import FoCastError
from fo_cast.limits import load_json
from fo_cast.outputs import Build, Output, Stage
from fo_cast.publish.guard import GuardRecord, check_guard, update_record
from fo_cast.state import atomic_write
from fo_cast.storage import RESERVED_PREFIX, RemoteObject, hash_file
from fo_cast.units import format_size, plural

# Feeds change with every episode and apps poll them, so caches may hold them only briefly.
# Media and artwork rarely change, but can be replaced under the same name (a fixed edit, a
# new cover), so they are cached for a day, not forever: `immutable` would pin a bad file in
# CDNs and browsers with no way to purge it from the latter.
CACHE_CONTROL: Mapping[Stage, str] = {
    Stage.MEDIA: "public, max-age=86400",
    Stage.ASSET: "public, max-age=3600",
    Stage.FEED: "public, max-age=300",
}

HashCache = dict[str, list[Any]]  # str(source) -> [size, mtime_ns, sha256 hex]


class Reason(enum.StrEnum):
    NEW = "new"
    CHANGED = "changed"
    FORCED = "forced"


@dataclass(frozen=True)
class Upload:
    """One object to send, with the hash the target will store and why it goes."""

    output: Output
    content_hash: str
    cache_control: str
    reason: Reason
    detail: str = ""  # for CHANGED: "size 1200 -> 1300", "content differs", ...
    source_stat: tuple[int, int] | None = None  # (size, mtime_ns) of the hashed source file

    @property
    def key(self) -> str:
        return self.output.path

    @property
    def size(self) -> int:
        return self.source_stat[0] if self.source_stat else self.output.length


@dataclass
class Plan:
    """Uploads in publishing order (media, assets, feeds), unchanged keys, and deletes."""

    uploads: list[Upload] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    deletes: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)  # at the target, not built, kept (no prune)
    foreign: list[str] = field(default_factory=list)  # not built, not fo-cast's: never deleted
    refusals: list[str] = field(default_factory=list)  # reasons publish() will not run
    record: bytes | None = None  # the updated GUID record, written last; None if unchanged
    record_tag: str | None = None  # the record's tag as read: its save is a compare-and-swap
    keys: list[str] = field(default_factory=list)  # every key the build writes, in order
    # Nothing changed here or at the target since the last publish (its stamp held and the
    # target is as it left it): nothing to send, nothing to take a lock for.
    reused: bool = False

    @property
    def bytes(self) -> int:
        return sum(u.size for u in self.uploads)

    def summary(self) -> str:
        """Returns one line: '3 uploads (1.2 MB), 40 unchanged, 1 delete.'"""
        parts = [
            f"{plural(len(self.uploads), 'upload')} ({format_size(self.bytes)})",
            f"{len(self.unchanged)} unchanged",
            plural(len(self.deletes), "delete"),
        ]
        if self.stale:
            parts.append(f"{len(self.stale)} not in the build (kept; --prune deletes them)")
        if self.foreign:
            parts.append(f"{len(self.foreign)} not published by fo-cast (kept)")
        return ", ".join(parts) + "."

    def lines(self) -> list[str]:
        """Returns the plan as text, one line per action, then the refusals and summary."""
        out = []
        for up in self.uploads:
            why = f"{up.reason}: {up.detail}" if up.detail else str(up.reason)
            out.append(f"upload {up.key} ({why}, {format_size(up.size)})")
        out.extend(f"delete {key}" for key in self.deletes)
        out.extend(f"refused: {reason}" for reason in self.refusals)
        out.append(self.summary())
        return out

    def as_dict(self) -> dict[str, Any]:
        """Returns the plan as JSON-ready data for --format json."""
        return {
            "uploads": [
                {
                    "key": u.key,
                    "stage": u.output.stage.name.lower(),
                    "reason": str(u.reason),
                    "detail": u.detail,
                    "size": u.size,
                    "content_type": u.output.content_type,
                    "cache_control": u.cache_control,
                    "sha256": u.content_hash,
                    **({"redirect": u.output.redirect} if u.output.redirect else {}),
                }
                for u in self.uploads
            ],
            "unchanged": self.unchanged,
            "deletes": self.deletes,
            "stale": self.stale,
            "foreign": self.foreign,
            "refusals": self.refusals,
            "record_changed": self.record is not None,
            "bytes": self.bytes,
        }


def plan_publish(
    build: Build,
    remote: Mapping[str, RemoteObject],
    *,
    force: bool = False,
    prune: bool = False,
    max_deletes: int | None = None,
    hash_cache: HashCache | None = None,
    record: GuardRecord | None = None,
    allow_removal: Collection[str] = (),
    now: datetime | None = None,
    cache_control: Mapping[Stage, str] = CACHE_CONTROL,
    adopt: bool = False,
    redirects: Sequence[Output] = (),
) -> Plan:
    """Returns the plan that makes the target match the build, uploads in publishing order.

    `remote` is `storage.list()`. `hash_cache` is updated in place: persist it (e.g. in
    `<catalogue>/.fo-cast/hashes.json` with `save_hash_cache`) so a republish hashes only
    media whose size or mtime changed. With `record` (from `guard.load_record`) the GUID
    guard runs and the plan carries the updated record. `redirects` (from
    `redirects.plan_redirects`) keep old URLs working; they are planned like the build's own.

    Only objects fo-cast wrote (`RemoteObject.ours`) are ever deleted. A target that fo-cast
    never published to (nothing of its own there, no GUID record) but that holds other files
    is refused unless `adopt`: the build would replace the owner's files at its paths, and a
    mistyped target should not be filled. Files identical to the build's count as its own
    (a first publish killed before it saved the index).
    """
    if max_deletes is None:
        from fo_cast.catalogue.settings import MAX_DELETES  # its one owner: fo-cast.toml's

        max_deletes = MAX_DELETES
    plan = Plan()
    remote, nested = _without_nested_targets(remote)
    outputs = Build([*build.outputs, *redirects]).ordered()
    hashes = hash_sources(outputs, {} if hash_cache is None else hash_cache)
    for output in outputs:
        if output.path.startswith(RESERVED_PREFIX) or not output.path:
            plan.refusals.append(f"{output.path}: the build may not write fo-cast's own records")
            continue
        content_hash, stat = hashes.get(output.path) or (_hash_data(output), None)
        policy = cache_control[output.stage]
        reason, detail = _compare(output, content_hash, stat, policy, remote.get(output.path))
        if force and reason is None:
            reason = Reason.FORCED
        if output.redirect and reason is not None:
            detail = f"{detail}; redirect to {output.redirect}".lstrip("; ")
        if reason is None:
            plan.unchanged.append(output.path)
        else:
            plan.uploads.append(Upload(output, content_hash, policy, reason, detail, stat))
    plan.refusals.extend(_refuse_beneath(plan.uploads, remote, nested))
    built = {o.path for o in outputs}
    plan.keys = [o.path for o in outputs]
    extra = sorted(key for key in remote if key not in built)
    plan.foreign = [key for key in extra if not remote[key].ours]
    extra = [key for key in extra if remote[key].ours]
    if prune:
        plan.deletes = extra
        if len(extra) > max_deletes:
            plan.refusals.append(
                f"the plan deletes {len(extra)} objects, more than --max-deletes {max_deletes} "
                "allows; check the target, or raise --max-deletes"
            )
    else:
        plan.stale = extra
    if not adopt and (refusal := _refuse_foreign(plan, remote, record)):
        plan.refusals.append(refusal)
    if record is not None:
        plan.refusals.extend(check_guard(record, build.items, allow_removal))
        stamp = now or datetime.now(UTC)
        updated = update_record(record, build.items, stamp, allow_removal)
        # Equal items give equal bytes: only a changed record is serialised (and saved).
        unchanged = updated == record and not record.seeded
        plan.record = None if unchanged else updated.to_bytes()
        plan.record_tag = record.tag
    return plan


def _folders(key: str) -> Iterator[str]:
    """Yields the folders on the way to a key, outermost first: "a/b/c.mp3" -> "a/", "a/b/"."""
    end = key.find("/")
    while end >= 0:
        yield key[: end + 1]
        end = key.find("/", end + 1)


def _without_nested_targets(
    remote: Mapping[str, RemoteObject],
) -> tuple[dict[str, RemoteObject], set[str]]:
    """Returns the listing with every object of another fo-cast target below this one (a
    folder holding its own `.fo-cast/` records) marked as not this target's, and those
    folders: publishing into a parent never prunes, nor counts as its own, a child's files."""
    marker = "/" + RESERVED_PREFIX
    nested = {key[: key.index(marker) + 1] for key in remote if marker in key}
    if not nested:
        return dict(remote), nested
    return {
        key: dataclasses.replace(obj, ours=False)
        if obj.ours and any(f in nested for f in _folders(key))
        else obj
        for key, obj in remote.items()
    }, nested


def _first_in(uploads: list[Upload], folders: Callable[[str], bool]) -> dict[str, str]:
    """Returns, by the outermost folder of an upload's key that `folders` picks, the first
    upload beneath it."""
    found: dict[str, str] = {}
    for upload in uploads:
        folder = next((f for f in _folders(upload.key) if folders(f)), None)
        if folder is not None:
            found.setdefault(folder, upload.key)
    return found


def _refuse_beneath(
    uploads: list[Upload], remote: Mapping[str, RemoteObject], nested: set[str]
) -> list[str]:
    """Returns why uploads cannot land, refused before anything is sent (not after the
    media): an object at the target (a file, someone's symlink) where the build needs a
    folder, or another fo-cast target's folder."""
    files = _first_in(uploads, lambda folder: folder[:-1] in remote)
    refusals = [
        f"'{folder[:-1]}' at the target is a file or a symlink where the build needs a folder "
        f"(for '{key}'); remove it, or publish to another target"
        for folder, key in files.items()
    ]
    return refusals + [
        f"'{folder}' at the target is another fo-cast target (it holds {folder}{RESERVED_PREFIX})"
        f", where the build would write '{key}'; publish to another target"
        for folder, key in _first_in(uploads, nested.__contains__).items()
    ]


def _refuse_foreign(
    plan: Plan, remote: Mapping[str, RemoteObject], record: GuardRecord | None
) -> str | None:
    """Returns why a first publish into a target of someone else's files needs --adopt."""
    if any(obj.ours for obj in remote.values()) or (record is not None and record.items):
        return None  # fo-cast has published here before
    replaced = [u.key for u in plan.uploads if u.key in remote]
    others = sorted([*plan.foreign, *replaced])
    if not others:
        return None
    return (
        f"the target holds {plural(len(others), 'file')} fo-cast did not publish (such as "
        f"'{others[0]}'); publish with --adopt to publish beside them (fo-cast never deletes "
        "them, and replaces those at paths the build writes), or choose an empty target"
    )


def hash_sources(outputs: list[Output], cache: HashCache) -> dict[str, tuple[str, tuple[int, int]]]:
    """Returns sha256 and (size, mtime_ns) by output path for outputs read from files.

    Files whose size and mtime match the cache are not read; the others are hashed in
    parallel (hashlib releases the GIL). The cache is left holding exactly these files.
    """
    try:
        stats = {o.path: (o.source, os.stat(o.source)) for o in outputs if o.source}
    except OSError as error:
        raise FoCastError(f"cannot read a file the build needs: {error}") from error
    fresh: HashCache = {}
    todo: list[tuple[str, Path, tuple[int, int]]] = []
    result: dict[str, tuple[str, tuple[int, int]]] = {}
    for key, (source, st) in stats.items():
        assert source is not None
        stat = (st.st_size, st.st_mtime_ns)
        cached = cache.get(str(source))
        if cached and (cached[0], cached[1]) == stat:
            result[key] = (cached[2], stat)
            fresh[str(source)] = cached
        else:
            todo.append((key, source, stat))
    with ThreadPoolExecutor(min(8, os.cpu_count() or 2)) as pool:
        for (key, source, stat), digest in zip(
            todo, pool.map(hash_file, [t[1] for t in todo]), strict=True
        ):
            result[key] = (digest, stat)
            fresh[str(source)] = [stat[0], stat[1], digest]
    cache.clear()
    cache.update(fresh)
    return result


def load_hash_cache(path: Path) -> HashCache:
    """Returns the hash cache saved at path, or an empty one (a lost cache costs a rehash)."""
    try:
        data = load_json(path.read_text(encoding="utf-8"))
        return {k: v for k, v in data.items() if isinstance(v, list) and len(v) == 3}
    except (OSError, ValueError, AttributeError):
        return {}


def save_hash_cache(path: Path, cache: HashCache) -> None:
    """Writes the hash cache atomically (temp file, then rename), if the catalogue is writable.

    The cache only saves rehashing: a read-only checkout must still publish.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, json.dumps(cache, separators=(",", ":")))
    except OSError:
        pass


def _compare(
    output: Output,
    content_hash: str,
    stat: tuple[int, int] | None,
    policy: str,
    remote: RemoteObject | None,
) -> tuple[Reason | None, str]:
    if remote is None:
        return Reason.NEW, ""
    size = stat[0] if stat else output.length
    if remote.size != size:
        return Reason.CHANGED, f"size {remote.size} -> {size}"
    if remote.content_hash is None:
        return Reason.CHANGED, "not published by fo-cast"
    if remote.content_hash != content_hash:
        return Reason.CHANGED, "content differs"
    # Headers are fixed at upload, so a corrected type or policy means sending it again.
    if remote.content_type is not None and remote.content_type != output.content_type:
        return Reason.CHANGED, f"content type {remote.content_type} -> {output.content_type}"
    if remote.cache_control is not None and remote.cache_control != policy:
        return Reason.CHANGED, f"cache-control {remote.cache_control} -> {policy}"
    return None, ""


def _hash_data(output: Output) -> str:
    if output.sha256 is not None:  # kept in the render cache with its digest: not read
        return output.sha256
    data = output.data
    assert data is not None
    return hashlib.sha256(data).hexdigest()
