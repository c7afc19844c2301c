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
from fo_cast.publish.options import PublishOptions
from fo_cast.publish.plan import Plan
from fo_cast.storage import RemoteObject, Storage, storage_for

# The rest of the pipeline is imported once the publish stamp did not hold: a publish with
# nothing changed reads no manifest and loads neither pydantic nor the renderers.
if TYPE_CHECKING:
    from fo_cast.build import Checked
    from fo_cast.catalogue.reader import Catalogue
    from fo_cast.catalogue.settings import Notify
    from fo_cast.publish.early import EarlyTarget
    from fo_cast.publish.guard import GuardRecord, PublishedItem
    from fo_cast.publish.lock import TargetLock
    from fo_cast.publish.notify import Notice, Ping
    from fo_cast.publish.run import MediaAhead

DEFAULT_FOLDER = "public"  # the target without --to or [publish] target: beside the catalogue
# A test hook: the publish stops itself (SIGSTOP) once planned, holding the lock, so a test
# can run another publish in between and resume it (SIGCONT) at exactly that point.
STOP_AFTER_PLAN_ENV = "FO_CAST_STOP_AFTER_PLAN"


@dataclass
class Session:
    """A publish ready to run: its build, target and plan (no plan when the build failed)."""

    build: Build
    storage: Storage | None = None
    plan: Plan = field(default_factory=Plan)
    lock: TargetLock | None = None  # held from before the listing until close()
    base_url: str = ""
    notify_settings: Notify | None = None  # None: notify nobody (nothing changed)
    remote: dict[str, RemoteObject] | None = None  # the listing, taken under the lock
    record: GuardRecord | None = None  # the GUID record as read under the lock
    ahead: MediaAhead | None = None  # media uploads started while the build rendered
    pending_stamp: stamp.PendingStamp | None = None  # kept once the plan was carried out
    unreleased: str | None = None  # why close() could not remove the target's lock, if so

    @property
    def failed(self) -> bool:
        return self.storage is None

    def check(self) -> None:
        """Raises LockLost when the lock was lost; publish() calls it between stages."""
        if self.lock is not None:
            self.lock.check()

    def pings(self) -> tuple[list[Ping], list[str]]:
        """Returns the notifications this plan's changed feeds call for, and warnings."""
        if self.notify_settings is None:  # no [notify]: notify.py (and pydantic) not loaded
            return [], []
        from fo_cast.publish.notify import changed_feeds, plan_pings

        return plan_pings(changed_feeds(self.plan, self.base_url), self.notify_settings)

    def notify(self) -> tuple[list[Notice], list[str]]:
        """Sends the notifications (after the feeds arrived); returns how each went."""
        pings, warnings = self.pings()
        if not pings:
            return [], warnings
        from fo_cast.publish.notify import send_pings

        assert self.notify_settings is not None
        return send_pings(pings, self.notify_settings), warnings

    def close(self) -> None:
        """Stops uploads still running, then releases the target's lock, if held."""
        if self.ahead is not None:
            self.ahead.stop()
        if self.lock is not None:
            self.lock.release()
            self.unreleased = self.lock.unreleased
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

    With nothing changed since the last publish with these options, here or at the target
    (publish/stamp.py), one listing decides and nothing is built. Otherwise the target is
    opened while the catalogue builds (publish/early.py), and a first publish sends the
    media while the pages and feeds render (`_send_media_ahead`).
    """
    taken = stamp.take(catalogue, options)
    tuning = {"read_timeout": options.read_timeout, "max_attempts": options.max_attempts}
    tuning = {name: value for name, value in tuning.items() if value is not None}
    reused = stamp.reuse(catalogue, taken, options, tuning)
    if reused is not None and reused.plan is not None and reused.report is not None:
        # Nothing changed here or at the target: nothing to read, build, lock or send.
        return Session(Build(report=reused.report), reused.storage, reused.plan,
                       base_url=reused.base_url)  # fmt: skip
    from fo_cast.build import build, check, stamp_of

    early = _open_early(catalogue, options, reused, tuning)
    session: Session | None = None
    try:
        checked = check(catalogue, now=options.now, base_url=options.base_url)
        if checked.site is None or checked.report.failed(strict=options.strict):
            _let_go(early)
            return Session(build(checked, strict=options.strict))
        settings = checked.catalogue.settings.publish
        url = target_url(catalogue, options.to, settings.target)
        endpoint_url = options.endpoint_url or settings.endpoint_url
        if reused is None:  # a first publish from here: the media may go while pages render
            session = _session(catalogue, options, early, url, endpoint_url, tuning)
            early = None
            _send_media_ahead(catalogue, options, checked, session)
        result = build(checked, strict=options.strict)
        if result.report.failed(strict=options.strict):  # a feed too large, under --strict
            _let_go(early)
            if session is not None:
                session.close()
            return Session(result)
        if session is None:
            session = _session(catalogue, options, early, url, endpoint_url, tuning)
            early = None
    except BaseException:  # Ctrl-C or SIGTERM too: never leave the lock behind
        _let_go(early)
        if session is not None:
            session.close()
        raise
    session.build = result
    session.base_url = checked.site.base_url
    session.notify_settings = checked.catalogue.settings.notify
    try:
        max_deletes = settings.max_deletes if options.max_deletes is None else options.max_deletes
        imported = imported_record(checked.catalogue)
        session.plan = _plan(catalogue, options, session, max_deletes, imported)
        if (kept := stamp_of(checked, taken, exact_clock=True)) is not None:
            kept.extra = {"target": url, "endpoint": endpoint_url, "base_url": session.base_url}
            session.pending_stamp = stamp.PendingStamp(stamp.stamp_file(catalogue, options), kept)
        if session.lock is not None and os.environ.get(STOP_AFTER_PLAN_ENV):
            with session.lock.between_renewals():
                os.kill(os.getpid(), signal.SIGSTOP)
    except BaseException:  # Ctrl-C or SIGTERM too: never leave the lock behind
        session.close()
        raise
    return session


def _session(
    catalogue: Path,
    options: PublishOptions,
    early: EarlyTarget | None,
    url: str,
    endpoint_url: str | None,
    tuning: dict[str, Any],
) -> Session:
    """Returns the session on the target, locked (unless a dry run), listed and its GUID
    record read: as the early opening found it, or opened now."""
    from fo_cast.publish.guard import load_record

    opened = early.take(url, endpoint_url) if early is not None else None
    if opened is not None:
        session = Session(Build(), opened.storage, lock=opened.lock)
        try:
            _refuse_overlap(catalogue, session.storage)
        except BaseException:
            session.close()
            raise
        session.remote, session.record = opened.remote, opened.record
        return session
    storage = storage_for(url, endpoint_url, **tuning)
    _refuse_overlap(catalogue, storage)  # before the lock: the catalogue is never a target
    lock = None
    if options.lock:
        from fo_cast.publish.lock import TargetLock

        lock = TargetLock(
            storage, catalogue=catalogue, wait=options.wait, break_lock=options.break_lock,
            lease=options.lease,
        ).acquire()  # fmt: skip
    session = Session(Build(), storage, lock=lock)
    try:
        session.remote, session.record = storage.list(), load_record(storage)
    except BaseException:
        session.close()
        raise
    return session


def _send_media_ahead(
    catalogue: Path, options: PublishOptions, checked: Checked, session: Session
) -> None:
    """Starts uploading the media the target lacks, when nothing the rest of the build
    renders could make the plan refuse to publish: a first publish (no GUID to guard), not a
    dry run, no prune (no --max-deletes to exceed), not --strict (no feed-size warning to
    fail on), into a target that is empty or already fo-cast's (no --adopt needed)."""
    from fo_cast.build import files_of
    from fo_cast.outputs import Stage
    from fo_cast.publish.plan import load_hash_cache, plan_publish, save_hash_cache
    from fo_cast.publish.run import MediaAhead
    from fo_cast.state import HASH_CACHE

    storage, remote, record = session.storage, session.remote, session.record
    if storage is None or remote is None or record is None or checked.site is None:
        return
    if not options.lock or options.prune or options.strict or record.items:
        return
    if imported_record(checked.catalogue):
        return  # imported GUIDs are guarded from the first publish on
    if remote and not any(obj.ours for obj in remote.values()):
        return
    media = [o for o in files_of(checked.site) if o.stage is Stage.MEDIA]
    cache = load_hash_cache(catalogue / HASH_CACHE)
    uploads = plan_publish(Build(media), remote, force=options.force, hash_cache=cache).uploads
    save_hash_cache(catalogue / HASH_CACHE, cache)  # the plan after the build hashes none again
    if uploads:
        # Cleanup first: it aborts incomplete multipart uploads, which these will be a while.
        session.ahead = MediaAhead(uploads, storage, storage.cleanup(), session.check)


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
    remote = storage.list() if session.remote is None else session.remote
    # Imported GUIDs are apps' already: the guard protects them from the first publish on.
    record = seed_record(load_record(storage) if session.record is None else session.record,
                         imported)  # fmt: skip
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
