"""Applies a Plan to a Storage, stage by stage, yielding progress events; never prints."""

from __future__ import annotations

import contextlib
import os
import queue
import threading
import time
from collections.abc import Callable, Generator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fo_cast.errors import FoCastError, PublishRefused, StorageError
from fo_cast.outputs import Stage
from fo_cast.publish.guard import GuardRecord, save_record
from fo_cast.publish.plan import Plan, Upload
from fo_cast.storage import ServerUnreachable, Storage
from fo_cast.units import format_size

if TYPE_CHECKING:
    from fo_cast.publish.stamp import PendingStamp


@dataclass(frozen=True)
class Started:
    target: str
    uploads: int
    bytes: int
    deletes: int
    cleaned: int  # leftovers of interrupted publishes removed at the target


@dataclass(frozen=True)
class StageStarted:
    stage: Stage
    uploads: int
    bytes: int


@dataclass(frozen=True)
class Sent:
    """Bytes of one upload that reached the target since the last Sent for it."""

    key: str
    bytes: int


@dataclass(frozen=True)
class Uploaded:
    key: str
    size: int
    reason: str


@dataclass(frozen=True)
class Failed:
    key: str
    message: str
    unreachable: bool = False  # the target did not answer: the stage's other uploads stop


@dataclass(frozen=True)
class Deleted:
    key: str


@dataclass(frozen=True)
class Summary:
    uploaded: int
    skipped: int
    deleted: int
    bytes: int
    seconds: float

    def __str__(self) -> str:
        rate = self.bytes / self.seconds if self.seconds else 0.0
        return (
            f"{self.uploaded} uploaded ({format_size(self.bytes)}, {format_size(int(rate))}/s), "
            f"{self.skipped} unchanged, {self.deleted} deleted in {self.seconds:.1f} s."
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "uploaded": self.uploaded,
            "skipped": self.skipped,
            "deleted": self.deleted,
            "bytes": self.bytes,
            "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True)
class Done:
    summary: Summary


Event = Started | StageStarted | Sent | Uploaded | Failed | Deleted | Done


def publish(
    plan: Plan,
    storage: Storage,
    *,
    workers: int = 8,
    check: Callable[[], None] | None = None,
    ahead: MediaAhead | None = None,
    stamp: PendingStamp | None = None,
) -> Generator[Event]:
    """Yields events while the plan is applied; raises StorageError if anything failed.

    Media go first, then assets, then feeds, then deletes, the hash index and the GUID
    record. A stage starts only when every upload of the stages before it has arrived, so
    a feed never points at a missing file, whatever stops the publish (a failed upload,
    Ctrl-C, a kill). Running the same plan again sends only what did not arrive.

    `check` (a held lock's `TargetLock.check`) runs before each stage, the deletes and the
    record; it raises when this publish no longer surely holds the target, so a publish
    paused past its lease never writes feeds over another's work. `ahead`: the media uploads
    a first publish started while the build rendered; `stamp`: what a publish that has sent
    everything keeps, so that the next with nothing changed does nothing.
    """
    check = check or (lambda: None)
    if plan.refusals:
        raise PublishRefused(f"nothing was published: {plan.refusals[0]}" + _more(plan.refusals))
    started = time.monotonic()
    if plan.reused:  # the target holds this build already (publish/stamp.py): no lock held
        yield Started(storage.describe(), 0, 0, 0, 0)
        yield Done(Summary(0, len(plan.unchanged), 0, 0, time.monotonic() - started))
        return
    check()
    cleaned = storage.cleanup() if ahead is None else ahead.cleaned
    yield Started(storage.describe(), len(plan.uploads), plan.bytes, len(plan.deletes), cleaned)
    sent_bytes = 0
    for stage in Stage:
        batch = [u for u in plan.uploads if u.output.stage is stage]
        if not batch:
            continue
        check()
        yield StageStarted(stage, len(batch), sum(u.size for u in batch))
        failed = arrived = 0
        unreachable = False
        try:
            if stage is Stage.MEDIA and ahead is not None:  # started while the build rendered
                rest = [u for u in batch if u.key not in ahead.keys]
                events = _chained(ahead, _upload_all(rest, storage, workers), batch)
            else:
                events = _upload_all(batch, storage, workers)
            # closing(): in-flight uploads settle before the index records what arrived.
            with contextlib.closing(events):
                for event in events:
                    if isinstance(event, Failed):
                        failed += 1
                        unreachable = unreachable or event.unreachable
                    elif isinstance(event, Uploaded):
                        arrived += 1
                        sent_bytes += event.size
                    yield event
        except BaseException:  # Ctrl-C, or the consumer stopped listening
            if ahead is not None:
                ahead.stop()
            _save_what_arrived(storage)
            raise
        if failed:
            if not unreachable:
                # Saving the index and aborting leftovers would each wait out the retries
                # again; the re-run reads metadata and aborts leftovers when it starts.
                _save_what_arrived(storage)
            later = [s.name.lower() for s in Stage if s > stage]
            held = f"; {' and '.join(later)} were not published" if later else ""
            untried = len(batch) - failed - arrived
            skipped = f", {untried} stopped (the target did not answer)" if untried else ""
            raise StorageError(
                f"{failed} of {len(batch)} {stage.name.lower()} uploads failed{skipped}{held}. "
                "Run publish again to finish; what arrived is not sent again."
            )
    # Deletes come after the feeds that stopped pointing at these objects.
    check()
    if plan.deletes:
        storage.delete(plan.deletes)
        for key in plan.deletes:
            yield Deleted(key)
    storage.claim(plan.unchanged)  # the build's own bytes, found at the target: prunable later
    storage.save_index()
    if plan.record is not None:
        # Last: the record must never claim items that no published feed carries.
        check()
        save_record(storage, GuardRecord.from_bytes(plan.record, plan.record_tag))
    if stamp is not None:  # the next publish with nothing changed does nothing
        stamp.write(storage, plan)
    seconds = time.monotonic() - started
    summary = Summary(
        len(plan.uploads), len(plan.unchanged), len(plan.deletes), sent_bytes, seconds
    )
    yield Done(summary)


class MediaAhead:
    """Media uploads started before the pages and feeds are rendered (publish/session.py).

    Media are known once the catalogue has been checked, and they are most of the bytes: a
    first publish sends them while the rest of the build renders. publish() then yields
    their events as the media stage, and starts the assets only when all have arrived.
    """

    def __init__(
        self,
        uploads: list[Upload],
        storage: Storage,
        cleaned: int,
        check: Callable[[], None],
        workers: int = 8,
    ) -> None:
        self.hashes = {upload.key: upload.content_hash for upload in uploads}
        self.keys = set(self.hashes)
        self._check = check  # the lock's: a publish paused past its lease starts no more
        self.cleaned = cleaned  # cleanup ran before these started: never during them
        self._events: queue.Queue[Any] = queue.Queue()
        self._cancel = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(uploads, storage, workers), name="fo-cast-media", daemon=True
        )
        self._thread.start()

    def _run(self, uploads: list[Upload], storage: Storage, workers: int) -> None:
        try:
            run = _upload_all(uploads, storage, workers, self._cancel, self._check)
            with contextlib.closing(run):
                for event in run:
                    self._events.put(event)
            # Recorded now, not only at the end: a publish stopped before its feeds leaves
            # media that the next publish, whatever its build, knows for fo-cast's.
            with contextlib.suppress(FoCastError):
                storage.save_index()
        except BaseException as error:  # a bug: handed to the consumer
            self._events.put(error)
        finally:
            self._events.put(_FINISHED)

    def events(self) -> Generator[Event]:
        """Yields the events of the media uploads as they come, until all have ended."""
        while (event := self._events.get()) is not _FINISHED:
            if isinstance(event, BaseException):
                raise event
            yield event
        self._events.put(_FINISHED)  # a second call ends at once

    def stop(self) -> None:
        """Stops the uploads not started and waits for those in flight (before the lock
        goes, so nothing of this publish runs behind another's back)."""
        self._cancel.set()
        self._thread.join()


class _Cancelled(Exception):
    """Raised in a worker's progress callback to stop an upload the consumer abandoned."""


_FINISHED = object()  # queued by each worker after its last event


def _upload_all(
    batch: list[Upload],
    storage: Storage,
    workers: int,
    cancel: threading.Event | None = None,
    check: Callable[[], None] | None = None,
) -> Generator[Event]:
    """Yields the events of one stage's uploads, run in parallel by a bounded pool; setting
    `cancel` stops them as closing the generator does. `check` runs before each upload
    starts; what it raises (LockLost) stops the others and is raised here."""
    events: queue.Queue[Any] = queue.Queue()
    cancel = cancel or threading.Event()

    def work(upload: Upload) -> None:
        def progress(size: int) -> None:
            if cancel.is_set():
                raise _Cancelled
            events.put(Sent(upload.key, size))

        try:
            if cancel.is_set():
                return  # queued behind an upload that found the target gone (or abandoned)
            if check is not None:
                try:
                    check()
                except FoCastError as error:
                    cancel.set()
                    events.put(error)  # raised in the consumer's thread, as it is
                    return
            _check_source(upload)
            storage.put(upload.output, upload.content_hash, upload.cache_control, progress)
            _check_source(upload)  # an edit during the upload would leave a wrong hash
            events.put(Uploaded(upload.key, upload.size, str(upload.reason)))
        except _Cancelled:
            pass
        except ServerUnreachable as error:
            # Each queued upload would wait out the same timeouts and retries (minutes per
            # file): stop starting them. Those in flight end on their own.
            cancel.set()
            events.put(Failed(upload.key, str(error), unreachable=True))
        except (FoCastError, OSError) as error:
            events.put(Failed(upload.key, str(error)))
        except BaseException as error:  # a bug: hand it to the consumer's thread
            events.put(error)
        finally:
            events.put(_FINISHED)

    # Before any upload: a publish killed from here on leaves files that are known as fo-cast's.
    storage.intend({upload.key: upload.content_hash for upload in batch})
    pool = ThreadPoolExecutor(workers, thread_name_prefix="fo-cast-upload")
    try:
        for upload in batch:
            pool.submit(work, upload)
        running = len(batch)
        while running:
            event = events.get()
            if event is _FINISHED:
                running -= 1
            elif isinstance(event, BaseException):
                raise event
            else:
                yield event
    finally:
        # Reached on Ctrl-C or when the consumer stops iterating: stop queued uploads and
        # wait for those in flight, so nothing of a later stage can start behind our back.
        cancel.set()
        pool.shutdown(wait=True, cancel_futures=True)


def _chained(ahead: MediaAhead, rest: Generator[Event], batch: list[Upload]) -> Generator[Event]:
    """Yields the events of the uploads started ahead, then of the rest of the stage.

    A file edited since it went ahead (the plan hashed other bytes) fails like one edited
    during its upload: the stage fails, and what comes after is held back.
    """
    try:
        yield from ahead.events()
        for upload in batch:
            if ahead.hashes.get(upload.key, upload.content_hash) != upload.content_hash:
                source = upload.output.source
                yield Failed(upload.key, f"{source} changed while publishing; run publish again")
        yield from rest
    finally:
        ahead.stop()
        rest.close()


def _check_source(upload: Upload) -> None:
    if upload.output.source is None or upload.source_stat is None:
        return
    stat = os.stat(upload.output.source)
    if (stat.st_size, stat.st_mtime_ns) != upload.source_stat:
        raise FoCastError(f"{upload.output.source} changed while publishing; run publish again")


def _save_what_arrived(storage: Storage) -> None:
    """Saves the hash index after a failure so the re-run skips what arrived without HEADs."""
    try:
        storage.save_index()
        storage.cleanup()
    except FoCastError:
        pass  # the re-run falls back to reading metadata; the original error matters more


def _more(items: list[str]) -> str:
    return f" (and {len(items) - 1} more)" if len(items) > 1 else ""
