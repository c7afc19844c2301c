"""The target lock: one publish at a time per target, with a lease that outlives no holder.

Two publishes that plan from their own view of a target and then both write it lose each
other's work: a GUID drops out of the record, a prune deletes a file the other's feed
points at. So `fo-cast publish` takes a lock at the target before it lists it and holds it
until the record is written. The lock is a small JSON object created only if absent (S3:
`PutObject` with `If-None-Match: *`; a folder: a compare-and-swap under flock) naming its
holder. It is a lease: the holder renews it every third of the lease by a conditional
overwrite on the tag it wrote, so a holder that was SIGKILLed leaves a lock that expires,
and one that was paused past its lease finds its renewal refused, or its last renewal too
old, and stops before writing feeds (`check()`).

An expired lock is taken over only by `--break-lock` (itself a compare-and-swap, so two
breakers cannot both win). Expiry is judged by the breaker's clock against the holder's
`renewed` stamp: hosts must keep their clocks within a fraction of the lease (NTP does).
"""

from __future__ import annotations

import contextlib
import getpass
import json
import math
import os
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

from fo_cast.errors import FoCastError, StorageError
from fo_cast.limits import load_json
from fo_cast.storage import LOCK_KEY, Storage
from fo_cast.workers import process_running

DEFAULT_LEASE = 120.0  # seconds; renewed every third of it
MAX_LEASE = 86400.0  # a day: a longer lease would outlive a killed publish for no reason
FUTURE_SKEW = 86400.0  # a lock renewed further ahead of the reader's clock counts as expired
LEASE_ENV = "FO_CAST_LOCK_LEASE"  # seconds; for tests and slow links
# The holder stops writing once its last renewal is this share of the lease old: what is
# left of the lease covers the upload it may have in flight.
SAFE_SHARE = 0.6
QUICK_TRIES = 3  # tries of the lock without a pause: one released meanwhile is retried at once


class LockHeld(FoCastError):
    """Another publish holds the target (or held it and its lease ran out)."""


class LockLost(FoCastError):
    """This publish's lease ran out and another publish may have taken the target over."""


@dataclass(frozen=True)
class Holder:
    """Who holds a target's lock, as the lock object says."""

    host: str
    user: str
    pid: int
    started: float  # Unix time
    renewed: float
    lease: float
    commit: str | None = None  # the catalogue's git HEAD, when it is a git checkout
    token: str = ""  # unique to one publish: tells our own lock from another's

    def to_bytes(self) -> bytes:
        return json.dumps(asdict(self), indent=1).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> Holder:
        """Returns the holder a lock names; a damaged lock (not JSON, a field missing or of
        the wrong type, a time or lease not a finite number) counts as long expired."""
        try:
            row = load_json(data)
        except ValueError:
            return DAMAGED
        if not isinstance(row, dict):
            return DAMAGED
        pid = row.get("pid")
        if not (
            all(isinstance(row.get(k), str) for k in ("host", "user"))
            and all(isinstance(row.get(k) or "", str) for k in ("token", "commit"))
            and all(_finite(row.get(k)) for k in ("started", "renewed", "lease"))
            and type(pid) is int  # a bool is an int to isinstance()
            and 0 <= pid < 1 << 31
        ):
            return DAMAGED
        return cls(
            host=row["host"],
            user=row["user"],
            pid=pid,
            started=float(row["started"]),
            renewed=float(row["renewed"]),
            lease=float(row["lease"]),
            commit=row.get("commit") or None,
            token=row.get("token") or "",
        )

    def expired(self, now: float) -> bool:
        """Returns whether the lease ran out, or the holder's process is gone from this host
        (a pid can only be checked here: on another host only the lease tells)."""
        if self.renewed > now + FUTURE_SKEW:  # a clock that wrong would hold it for years
            return True
        return now > self.renewed + self.lease or self.dead()

    def dead(self) -> bool:
        if self.host != socket.gethostname() or self.pid <= 0:
            return False
        return not process_running(self.pid)

    def describe(self, now: float | None = None) -> str:
        """Returns 'ana@laptop (pid 4242, commit 1a2b3c4), publishing since ... (40 s ago);
        lease renewed 3 s ago', as of now (default: the clock)."""
        if self == DAMAGED:
            return "an unreadable holder (the lock is damaged: not one fo-cast wrote)"
        now = time.time() if now is None else now
        commit = f", commit {self.commit[:7]}" if self.commit else ""
        who = f"{self.user}@{self.host} (pid {self.pid}{commit})"
        since = datetime.fromtimestamp(self.started, UTC).isoformat(timespec="seconds")
        text = f"{who}, publishing since {since} ({_seconds(now - self.started)} ago)"
        if self.dead():
            return f"{text}; its process is gone (killed?)"
        if self.expired(now):
            gone = _seconds(now - self.renewed - self.lease)
            return f"{text}; its lease expired {gone} ago (killed?)"
        return f"{text}; lease renewed {_seconds(now - self.renewed)} ago"


DAMAGED = Holder("?", "?", 0, 0.0, 0.0, 0.0)  # what a lock that cannot be read counts as


class TargetLock:
    """Holds a target's lock from `acquire()` to `release()`, renewing it in a thread."""

    def __init__(
        self,
        storage: Storage,
        *,
        catalogue: Path | None = None,
        wait: float = 0,
        break_lock: bool = False,
        lease: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.storage = storage
        self.wait = wait
        self.break_lock = break_lock
        self.lease = lease if lease is not None else lease_from_env()
        self.clock = clock
        self.broken: Holder | None = None  # the expired holder taken over, if any
        self._catalogue = catalogue
        self._tag: str | None = None
        self._holder: Holder | None = None
        self._renewed_at = 0.0  # time.monotonic() of the last renewal that arrived
        self._lost: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._guard = threading.Lock()
        self.unreleased: str | None = None  # why release() could not remove the lock, if so

    def acquire(self) -> TargetLock:
        """Returns self once the lock is ours; raises LockHeld when it stays taken."""
        deadline = time.monotonic() + self.wait
        now = self.clock()
        self._holder = Holder(
            host=socket.gethostname(),
            user=_user(),
            pid=os.getpid(),
            started=now,
            renewed=now,
            lease=self.lease,
            commit=git_commit(self._catalogue) if self._catalogue else None,
            token=uuid.uuid4().hex,
        )
        tries = 0
        while True:
            tries += 1
            self._holder = replace(self._holder, renewed=self.clock())
            tag = self.storage.write_if(LOCK_KEY, self._holder.to_bytes(), None)
            if tag is None:
                tag = self._take_over_or_wait(deadline, tries)
            if tag is not None:
                self._tag = tag
                self._renewed_at = time.monotonic()
                self._thread = threading.Thread(
                    target=self._renew_loop, name="fo-cast-lock", daemon=True
                )
                self._thread.start()
                return self

    def _take_over_or_wait(self, deadline: float, tries: int) -> str | None:
        """Returns our tag if the lock became ours; None to try again; raises LockHeld.

        A lock released (or taken over) between our create and our read is tried again at
        once, a few times; past that each try waits a second, until `deadline`.
        """
        assert self._holder is not None
        data, tag = self.storage.read_tagged(LOCK_KEY)
        holder = None
        now = self.clock()
        if data is not None and tag is not None:
            holder = Holder.from_bytes(data)
            if holder.token == self._holder.token:
                return tag  # our own create arrived, its answer was lost and retried
            if holder.expired(now) and self.break_lock:
                new = self.storage.write_if(LOCK_KEY, self._holder.to_bytes(), tag)
                if new is not None:
                    self.broken = holder
                    return new
        raced = holder is None or (self.break_lock and holder.expired(now))
        if raced and tries < QUICK_TRIES:
            return None
        left = deadline - time.monotonic()
        if left <= 0:
            where = self.storage.describe()
            if holder is None:
                raise StorageError(
                    f"{where}: creating the lock ({LOCK_KEY}) answers that it exists and "
                    f"reading it finds none, {tries} times: the server does not keep "
                    "conditional writes consistent; check --endpoint-url, or try again"
                )
            if holder.expired(now):
                hint = (
                    f"; taking it over failed {tries} times (another publish taking it too?)"
                    if self.break_lock
                    else "; --break-lock takes it over"
                )
            else:
                hint = "; try again later, or wait with --wait SECONDS"
            raise LockHeld(f"{where} is locked by {holder.describe(now)}{hint}")
        time.sleep(min(1.0, left))
        return None

    def _renew_loop(self) -> None:
        while not self._stop.wait(self.lease / 3):
            try:
                self._renew()
            except StorageError:
                continue  # a network blip: check() stops the publish if it lasts
            if self._lost:
                return

    def _renew(self) -> None:
        with self._guard:
            if self._holder is None or self._tag is None or self._stop.is_set():
                return
            holder = replace(self._holder, renewed=self.clock())
            tag = self.storage.write_if(LOCK_KEY, holder.to_bytes(), self._tag)
            if tag is None:
                data, _ = self.storage.read_tagged(LOCK_KEY)
                other = Holder.from_bytes(data) if data else None
                by = f" by {other.user}@{other.host} (pid {other.pid})" if other else ""
                self._lost = f"the lock on {self.storage.describe()} was taken over{by}"
                return
            self._holder, self._tag = holder, tag
            self._renewed_at = time.monotonic()

    def check(self) -> None:
        """Raises LockLost unless this publish surely still holds the target."""
        if self._lost is None:
            age = time.monotonic() - self._renewed_at
            if age > self.lease * SAFE_SHARE:
                # Paused (SIGSTOP, a suspended laptop) or cut off: the lease may be gone.
                # Renew now; if another publish broke the lock, the renewal says so.
                with contextlib.suppress(StorageError):
                    self._renew()
                if self._lost is None and time.monotonic() - self._renewed_at > age / 2:
                    self._lost = (
                        f"the lease on {self.storage.describe()} could not be renewed "
                        f"for {_seconds(age)}"
                    )
        if self._lost is not None:
            raise LockLost(
                f"{self._lost}; stopped before writing feeds or records. Run publish again."
            )

    @contextlib.contextmanager
    def between_renewals(self) -> Iterator[None]:
        """Holds renewals off: a test hook stops the process here, never mid-renewal."""
        with self._guard:
            yield

    def release(self) -> None:
        """Stops renewing and removes the lock if it is still ours (never another's)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        with self._guard:
            tag, self._tag = self._tag, None
        if tag is None:
            return
        # Also when the lease could not be renewed: a delete conditional on our own tag (or,
        # below, on our token) never removes a lock another publish has taken over since.
        try:
            self.storage.delete_if(LOCK_KEY, tag)
            return
        except StorageError as error:
            failed = error
        # A server without conditional deletes (an S3 compatible answering 501), or one that
        # failed each try: the lock is still ours if it holds our token (a live lease is
        # never taken over), so an unconditional delete is as safe here.
        try:
            data, _ = self.storage.read_tagged(LOCK_KEY)
            if data is None:
                return
            if self._holder is not None and Holder.from_bytes(data).token == self._holder.token:
                self.storage.delete([LOCK_KEY])
                return
        except StorageError as error:
            failed = error
        else:
            return  # another's lock by now: never ours to remove
        self.unreleased = (
            f"the lock on {self.storage.describe()} could not be removed ({failed}); the next "
            f"publish waits until its lease of {_seconds(self.lease)} has run out, then "
            "--break-lock takes it over"
        )

    def __enter__(self) -> TargetLock:
        return self.acquire()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.release()


def lease_from_env() -> float:
    """Returns the lease in seconds: FO_CAST_LOCK_LEASE if set (1 s to a day), else 120."""
    value = os.environ.get(LEASE_ENV)
    try:
        lease = float(value) if value else DEFAULT_LEASE
    except ValueError:
        return DEFAULT_LEASE
    return min(MAX_LEASE, max(1.0, lease)) if math.isfinite(lease) else DEFAULT_LEASE


def _finite(value: object) -> bool:
    """Returns whether value is a JSON number of this world (not NaN, not Infinity)."""
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and abs(value) < 1e15
    )


def git_commit(folder: Path) -> str | None:
    """Returns the git HEAD of the checkout holding folder, or None (not a repo, no git)."""
    try:
        reply = subprocess.run(
            ["git", "-C", str(folder), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = reply.stdout.strip()
    return commit if reply.returncode == 0 and commit else None


def _user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


def _seconds(value: float) -> str:
    return f"{max(0, int(value))} s"
