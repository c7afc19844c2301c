"""One publish from start to plan: build, choose the target, guard it, read its state, plan.

`prepare_publish()` is what `fo-cast publish` does before anything is uploaded; the CLI then
prints the plan or hands it to `run.publish()`. Every publish option lives in
`PublishOptions`, with its default, once.
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from fo_cast.errors import UsageError
from fo_cast.outputs import Build
from fo_cast.publish import stamp
from fo_cast.publish.plan import Plan
from fo_cast.storage import RemoteObject, Storage, storage_for

# The rest of the pipeline is imported once the publish stamp did not hold: a publish with
# nothing changed reads no manifest and loads neither pydantic nor the renderers.
if TYPE_CHECKING:
    from fo_cast.catalogue.reader import Catalogue
    from fo_cast.catalogue.settings import Notify
    from fo_cast.publish.early import EarlyTarget
    from fo_cast.publish.guard import GuardRecord, PublishedItem
    from fo_cast.publish.lock import TargetLock
    from fo_cast.publish.notify import Notice, Ping

DEFAULT_FOLDER = "public"  # the target without --to or [publish] target: beside the catalogue
# A test hook: the publish stops itself (SIGSTOP) once planned, holding the lock, so a test
# can run another publish in between and resume it (SIGCONT) at exactly that point.
STOP_AFTER_PLAN_ENV = "FO_CAST_STOP_AFTER_PLAN"


@dataclass(frozen=True)
class PublishOptions:
    """What a publish may be told; None means "as fo-cast.toml says, else fo-cast's default"."""

    to: str | None = None  # target URL; else [publish] target; else DEFAULT_FOLDER
    endpoint_url: str | None = None  # else [publish] endpoint_url
    base_url: str | None = None  # else base_url of fo-cast.toml
    max_deletes: int | None = None  # else [publish] max_deletes
    prune: bool = False
    adopt: bool = False  # publish into a target holding files fo-cast did not write
    force: bool = False
    allow_removal: tuple[str, ...] = ()
    strict: bool = False
    read_timeout: float | None = None  # S3: the backend's default unless set
    max_attempts: int | None = None  # S3: likewise
    now: datetime | None = None
    lock: bool = True  # take the target's lock (a dry run does not: it writes nothing)
    wait: float = 0  # seconds to wait for another publish's lock
    break_lock: bool = False  # take over an expired lock
    lease: float | None = None  # seconds; else FO_CAST_LOCK_LEASE, else 120


@dataclass
class Session:
    """A publish ready to run: its build, target and plan (no plan when the build failed)."""

    build: Build
    storage: Storage | None = None
    plan: Plan = field(default_factory=Plan)
    lock: TargetLock | None = None  # held from before the listing until close()
    base_url: str = ""
    notify_settings: Notify | None = None  # None: notify nobody (nothing changed)

    @property
    def failed(self) -> bool:
        return self.storage is None

    def check(self) -> None:
        """Raises LockLost when the lock was lost; publish() calls it between stages."""
        if self.lock is not None:
            self.lock.check()

    def pings(self) -> tuple[list[Ping], list[str]]:
        """Returns the notifications this plan's changed feeds call for, and warnings."""
        from fo_cast.publish.notify import changed_feeds, plan_pings

        if self.notify_settings is None:
            return [], []
        return plan_pings(changed_feeds(self.plan, self.base_url), self.notify_settings)

    def notify(self) -> tuple[list[Notice], list[str]]:
        """Sends the notifications (after the feeds arrived); returns how each went."""
        from fo_cast.publish.notify import send_pings

        pings, warnings = self.pings()
        if not pings:
            return [], warnings
        assert self.notify_settings is not None
        return send_pings(pings, self.notify_settings), warnings

    def close(self) -> None:
        """Releases the target's lock, if this session holds it."""
        if self.lock is not None:
            self.lock.release()
            self.lock = None

    def __enter__(self) -> Session:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()


def prepare_publish(catalogue: Path, options: PublishOptions) -> Session:
    """Returns the session for publishing catalogue as options say, its plan made.

    A catalogue with problems gives a session with no target (`failed`), its report in the
    build. Raises UsageError for a target that overlaps the catalogue; the storage backends
    raise StorageError for a target that cannot be read; LockHeld when another publish
    holds the target. The session holds the target's lock (unless options.lock is False)
    from before the listing: close it (or use it as a context manager) when done.
    """
    taken = stamp.take(catalogue, options)
    tuning = {"read_timeout": options.read_timeout, "max_attempts": options.max_attempts}
    tuning = {name: value for name, value in tuning.items() if value is not None}
    reused = stamp.reuse(catalogue, taken, options, tuning)
    if reused is not None and reused.plan is not None and reused.report is not None:
        # Nothing changed here or at the target: nothing to read, build, lock or send.
        return Session(Build(report=reused.report), reused.storage, reused.plan,
                       base_url=reused.base_url)  # fmt: skip
    from fo_cast.build import build_catalogue, stamp_of

    early = _open_early(catalogue, options, reused, tuning)
    try:
        checked, result = build_catalogue(
            catalogue, now=options.now, base_url=options.base_url, strict=options.strict
        )
    except BaseException:
        _let_go(early)
        raise
    if result.report.failed(strict=options.strict):
        _let_go(early)
        return Session(result)
    assert checked.site is not None  # the catalogue passed: its site resolved
    settings = checked.catalogue.settings.publish
    url = target_url(catalogue, options.to, settings.target)
    endpoint_url = options.endpoint_url or settings.endpoint_url
    opened = early.take(url, endpoint_url) if early is not None else None
    if opened is None:
        session = _open(catalogue, options, result, storage_for(url, endpoint_url, **tuning))
        remote, record = None, None
    else:
        session = Session(result, opened.storage, lock=opened.lock)
        remote, record = opened.remote, opened.record
    session.base_url = checked.site.base_url
    session.notify_settings = checked.catalogue.settings.notify
    try:
        _refuse_overlap(catalogue, session.storage)
        max_deletes = settings.max_deletes if options.max_deletes is None else options.max_deletes
        imported = imported_record(checked.catalogue)
        session.plan = _plan(
            catalogue, options, session, max_deletes, imported, remote=remote, record=record
        )
        if (kept := stamp_of(checked, taken, exact_clock=True)) is not None:
            kept.extra = {"target": url, "endpoint": endpoint_url, "base_url": session.base_url}
            session.plan.stamp = stamp.PendingStamp(stamp.stamp_file(catalogue, options), kept)
        if session.lock is not None and os.environ.get(STOP_AFTER_PLAN_ENV):
            os.kill(os.getpid(), signal.SIGSTOP)
    except BaseException:  # Ctrl-C or SIGTERM too: never leave the lock behind
        session.close()
        raise
    return session


def _open_early(
    catalogue: Path, options: PublishOptions, reused: stamp.Reused | None, tuning: dict[str, Any]
) -> EarlyTarget | None:
    """Returns the S3 target opening while the catalogue builds: the one --to names, or
    else the one the last publish went to (let go if the settings the build reads resolve
    another). A folder opens in no time, and only once it is known to lie outside the
    catalogue."""
    from fo_cast.publish.early import EarlyTarget

    target, endpoint, storage = options.to, options.endpoint_url, None
    if reused is not None:  # the stamp's file is chosen by the options: the same --to
        target, endpoint, storage = reused.target, reused.endpoint_url, reused.storage
    if target is None or not target.startswith("s3://"):
        return None
    return EarlyTarget(target, endpoint, storage, tuning, options, catalogue)


def _let_go(early: EarlyTarget | None) -> None:
    if early is not None:
        early.discard()


def _open(catalogue: Path, options: PublishOptions, result: Build, storage: Storage) -> Session:
    """Returns the session on storage, its lock taken (unless options say not to)."""
    from fo_cast.publish.lock import TargetLock

    _refuse_overlap(catalogue, storage)  # before the lock: the catalogue is never a target
    lock = None
    if options.lock:
        lock = TargetLock(
            storage, catalogue=catalogue, wait=options.wait, break_lock=options.break_lock,
            lease=options.lease,
        ).acquire()  # fmt: skip
    return Session(result, storage, lock=lock)


def _refuse_overlap(catalogue: Path, storage: Storage | None) -> None:
    """Raises UsageError for a local folder target that overlaps the catalogue."""
    from fo_cast.tree import overlap_with

    folder = storage.local_folder() if storage is not None else None
    if folder is not None and (overlap := overlap_with(catalogue, folder)):
        raise UsageError(f"the target {folder.resolve().as_uri()} {overlap}; publish elsewhere")


def _plan(
    catalogue: Path,
    options: PublishOptions,
    session: Session,
    max_deletes: int,
    imported: list[PublishedItem],
    remote: dict[str, RemoteObject] | None = None,
    record: GuardRecord | None = None,
) -> Plan:
    """Returns the plan against the target's listing and record (read under the lock, here
    unless the target was opened while the catalogue built)."""
    from fo_cast.publish.guard import load_record, seed_record, update_record
    from fo_cast.publish.plan import load_hash_cache, plan_publish, save_hash_cache
    from fo_cast.publish.redirects import plan_redirects
    from fo_cast.render.site import video_guid
    from fo_cast.state import HASH_CACHE

    storage = session.storage
    assert storage is not None
    folder = storage.local_folder() is not None
    cache = load_hash_cache(catalogue / HASH_CACHE)
    remote = storage.list() if remote is None else remote
    # Imported GUIDs are apps' already: the guard protects them from the first publish on.
    record = seed_record(load_record(storage) if record is None else record, imported)
    # An episode leaves the video feed with the audio one: its video GUID goes too.
    allowed = {g for guid in options.allow_removal for g in (guid, video_guid(guid))}
    after = update_record(record, session.build.items, options.now or datetime.now(UTC), allowed)
    plan = plan_publish(
        session.build,
        remote,
        force=options.force,
        prune=options.prune,
        max_deletes=max_deletes,
        hash_cache=cache,
        record=record,
        allow_removal=allowed,
        now=options.now,
        adopt=options.adopt,
        redirects=plan_redirects(after, session.build, session.base_url, folder),
    )
    save_hash_cache(catalogue / HASH_CACHE, cache)
    return plan


def imported_record(catalogue: Catalogue) -> list[PublishedItem]:
    """Returns the items of the catalogue's imported shows as the guard records them."""
    from fo_cast.catalogue.importer import imported_items
    from fo_cast.publish.guard import PublishedItem

    return [
        PublishedItem(feed, row["guid"], row.get("enclosure_url", ""), row.get("title", ""),
                      row.get("imported", ""))
        for feed, row in imported_items(catalogue)
    ]  # fmt: skip


def target_url(catalogue: Path, to: str | None, settings_target: str | None) -> str:
    """Returns the target URL: --to, else fo-cast.toml, else the folder public/ beside it."""
    if to:
        return to
    if settings_target:
        if "://" in settings_target or Path(settings_target).is_absolute():
            return settings_target
        # A relative folder in fo-cast.toml is relative to the folder holding the catalogue.
        return str((catalogue.resolve().parent / settings_target).resolve())
    return str(catalogue.resolve().parent / DEFAULT_FOLDER)
