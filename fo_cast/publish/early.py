"""The target opened while the catalogue builds: client, lock, listing and GUID record.

Opening a target is mostly waiting: for the S3 client to load, for the lock's conditional
write, for the listing's pages, for the record. The build is mostly computing, and waits
too (on the search indexer it runs, on the worker rendering the feeds). So when the last
publish with the same options left a stamp naming its target, `publish` opens that target
in a thread as the build starts; once the build has passed and the target it resolves is
the same, the plan uses what the thread found. Everything happens in the same order as
before (lock, then listing, then record, then plan, then uploads) and under the lock; a
build that fails, or resolves another target (fo-cast.toml changed), releases the lock
unused and the publish goes on as if nothing had been opened.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fo_cast.storage import RemoteObject, Storage, storage_for

if TYPE_CHECKING:
    from fo_cast.publish.guard import GuardRecord
    from fo_cast.publish.lock import TargetLock
    from fo_cast.publish.options import PublishOptions


@dataclass
class Opened:
    """A target opened under its lock (None for a dry run): its listing and GUID record."""

    storage: Storage
    lock: TargetLock | None
    remote: dict[str, RemoteObject]
    record: GuardRecord


class EarlyTarget:
    """Opens a target in a thread; `take()` hands it over, `discard()` lets it go."""

    def __init__(
        self,
        target: str,
        endpoint_url: str | None,
        storage: Storage | None,
        tuning: dict[str, Any],
        options: PublishOptions,
        catalogue: Path,
    ) -> None:
        self.target, self.endpoint_url = target, endpoint_url
        self._storage, self._tuning = storage, tuning
        self._options, self._catalogue = options, catalogue
        self._lock: TargetLock | None = None
        self._opened: Opened | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._open, name="fo-cast-open", daemon=True)
        self._thread.start()

    def _open(self) -> None:
        from fo_cast.publish.guard import load_record
        from fo_cast.publish.lock import TargetLock

        try:
            storage = self._storage or storage_for(self.target, self.endpoint_url, **self._tuning)
            options = self._options
            if options.lock:
                self._lock = TargetLock(
                    storage, catalogue=self._catalogue, wait=options.wait,
                    break_lock=options.break_lock, lease=options.lease,
                ).acquire()  # fmt: skip
            remote = storage.list()
            self._opened = Opened(storage, self._lock, remote, load_record(storage))
        except BaseException as error:  # handed to the main thread by take()
            self._error = error

    def take(self, target: str, endpoint_url: str | None) -> Opened | None:
        """Returns the target opened, if it is the one the build resolved; None otherwise
        (let go). Raises what opening it raised (LockHeld, StorageError)."""
        self._thread.join()
        if (target, endpoint_url) != (self.target, self.endpoint_url):
            self.discard()
            return None
        if self._error is not None:
            self.discard()
            raise self._error
        return self._opened

    def discard(self) -> None:
        """Waits for the thread and releases the lock it took, if any."""
        self._thread.join()
        if self._lock is not None:
            self._lock.release()
            self._lock = None
