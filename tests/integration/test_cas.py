"""Compare-and-swap on both targets, against the real server (SeaweedFS >= 4.18 honours
If-None-Match / If-Match on PutObject and DeleteObject), and what the lock, the GUID record
and the hash index build on it."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from fo_cast.outputs import FeedItem, Output, Stage
from fo_cast.publish.guard import (
    RECORD_KEY,
    GuardRecord,
    load_record,
    save_record,
    update_record,
)
from fo_cast.publish.lock import LOCK_KEY, Holder, LockHeld, LockLost, TargetLock
from fo_cast.storage import INDEX_KEY, Storage, storage_for

pytestmark = pytest.mark.integration
NOW = datetime(2026, 5, 1, tzinfo=UTC)


@pytest.fixture(params=["folder", "s3"])
def storage(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Storage]:
    if request.param == "folder":
        yield storage_for(str(tmp_path / "target"))
        return
    server: Any = request.getfixturevalue("s3_server")
    for name, value in server.env.items():
        monkeypatch.setenv(name, value)
    yield storage_for(f"s3://{server.bucket}/cas-{uuid.uuid4().hex[:8]}", server.endpoint)


def test_conditional_writes(storage: Storage) -> None:
    first = storage.write_if(".fo-cast/x.json", b"1", None)
    assert first is not None
    assert storage.write_if(".fo-cast/x.json", b"2", None) is None  # exists: not created
    assert storage.read_tagged(".fo-cast/x.json") == (b"1", first)
    second = storage.write_if(".fo-cast/x.json", b"3", first)
    assert second is not None and second != first
    assert storage.write_if(".fo-cast/x.json", b"4", first) is None  # stale tag
    assert storage.read(".fo-cast/x.json") == b"3"
    assert storage.delete_if(".fo-cast/x.json", first) is False
    assert storage.delete_if(".fo-cast/x.json", second) is True
    assert storage.read_tagged(".fo-cast/x.json") == (None, None)


def test_a_stopped_process_holding_the_folders_flock_is_named_not_waited_on_forever(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A publish stopped with Ctrl-Z mid-swap keeps the target's flock: the next one (a
    breaker too) says so in bounded time instead of hanging, and goes on once it is free."""
    import fcntl

    from fo_cast.errors import StorageError
    from fo_cast.storage import local

    monkeypatch.setattr(local, "CAS_WAIT", 0.3)
    storage = storage_for(str(tmp_path / "target"))
    tag = storage.write_if(".fo-cast/x.json", b"1", None)
    holder = os.open(tmp_path / "target" / local.CAS_LOCK, os.O_RDWR)
    fcntl.flock(holder, fcntl.LOCK_EX)  # another open file: conflicts as another process's
    try:
        started = time.monotonic()
        with pytest.raises(StorageError, match=r"held \.fo-cast/\.cas\.lock for over 0\.3 s"):
            storage.write_if(".fo-cast/x.json", b"2", tag)
        with pytest.raises(StorageError, match="Ctrl-Z"):
            storage.delete_if(".fo-cast/x.json", tag or "")
        assert time.monotonic() - started < 5
    finally:
        os.close(holder)
    assert storage.read(".fo-cast/x.json") == b"1"
    assert not list((tmp_path / "target").rglob("*.fo-cast-tmp"))  # no temp left behind
    assert storage.write_if(".fo-cast/x.json", b"2", tag) is not None


def item(n: int) -> FeedItem:
    return FeedItem("feed.xml", f"guid-{n}", f"https://x.test/{n}.mp3", f"Episode {n}", "e.yaml")


def test_a_record_saved_underneath_is_merged_never_overwritten(storage: Storage) -> None:
    base = load_record(storage)
    one = update_record(base, [item(1)], NOW)
    save_record(storage, one)
    # A second publish planned from the same (empty) record and saves after the first.
    two = update_record(base, [item(2)], NOW)
    assert two.tag == base.tag
    saved = save_record(storage, two)
    stored = GuardRecord.from_bytes(storage.read(RECORD_KEY))
    assert sorted(g for _, g in stored.items) == ["guid-1", "guid-2"]
    assert saved.items == stored.items


def test_an_index_saved_underneath_is_merged(storage: Storage, tmp_path: Path) -> None:
    (tmp_path / "a.mp3").write_bytes(b"a" * 100)
    (tmp_path / "b.mp3").write_bytes(b"b" * 200)
    first, second = storage, storage_for(*_same(storage))
    first.list()
    second.list()
    for each, name in ((first, "a.mp3"), (second, "b.mp3")):
        source = tmp_path / name
        output = Output(name, "audio/mpeg", Stage.MEDIA, source=source)
        each.put(output, hashlib.sha256(source.read_bytes()).hexdigest(), "no-cache")
    first.save_index()
    second.save_index()  # its tag is stale: it re-reads, merges, saves
    saved = json.loads(storage.read(INDEX_KEY) or b"{}")["objects"]
    assert sorted(saved) == ["a.mp3", "b.mp3"]


def _same(storage: Storage) -> tuple[str, str | None]:
    described = storage.describe()
    if described.startswith("file://"):
        folder = storage.local_folder()
        assert folder is not None
        return str(folder), None
    url, _, endpoint = described.partition(" at ")
    return url, endpoint


def test_the_lock_is_exclusive_renewed_and_released(storage: Storage) -> None:
    with TargetLock(storage, lease=3) as lock:
        with pytest.raises(LockHeld) as held:
            TargetLock(storage, lease=3).acquire()
        assert "is locked by" in str(held.value) and "lease renewed 0 s ago" in str(held.value)
        before = Holder.from_bytes(storage.read(LOCK_KEY) or b"")
        # renewed every third of the lease; on a loaded machine the renewing thread may run
        # late (a fixed 1.5 s sleep failed once in a full suite), so wait for it, boundedly
        deadline = time.monotonic() + 20
        after = before
        while after.renewed <= before.renewed and time.monotonic() < deadline:
            time.sleep(0.25)
            after = Holder.from_bytes(storage.read(LOCK_KEY) or b"")
        assert after.token == before.token and after.renewed > before.renewed
        lock.check()
    assert storage.read(LOCK_KEY) is None


def test_a_broken_lock_is_noticed_by_its_old_holder(storage: Storage) -> None:
    lock = TargetLock(storage, lease=1.5).acquire()
    lock._stop.set()  # renewals stop, as in a paused process
    assert lock._thread is not None
    lock._thread.join()
    lock._stop.clear()
    time.sleep(1.7)
    taker = TargetLock(storage, lease=30, break_lock=True).acquire()
    assert taker.broken is not None and taker.broken.token != ""
    with pytest.raises(LockLost, match="was taken over by .* stopped before writing feeds"):
        lock.check()
    lock.release()  # never removes the lock it lost
    assert Holder.from_bytes(storage.read(LOCK_KEY) or b"").token != ""
    taker.release()
    assert storage.read(LOCK_KEY) is None


def test_the_lock_names_the_catalogues_git_commit(storage: Storage) -> None:
    repo = Path(__file__).resolve().parent.parent.parent
    head = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    with TargetLock(storage, catalogue=repo / "episodes", lease=30):
        holder = Holder.from_bytes(storage.read(LOCK_KEY) or b"")
        assert holder.commit == head and holder.lease == 30.0 and holder.pid == os.getpid()
        with pytest.raises(LockHeld, match=rf"\(pid {os.getpid()}, commit {head[:7]}\)"):
            TargetLock(storage).acquire()
    with TargetLock(storage, catalogue=Path("/")) as lock:  # not a checkout: no commit
        assert Holder.from_bytes(storage.read(LOCK_KEY) or b"").commit is None
        lock.check()


@pytest.mark.parametrize(
    "lock",
    [
        b'{"host": "h", "user": "u", "pid": 1, "started": 0, "renewed": "yesterday", "lease": 1}',
        b'{"host": "h", "user": "u", "pid": "42", "started": 0, "renewed": 0, "lease": 120}',
        b'{"host": "h", "user": "u", "pid": 1, "started": 0, "renewed": 4e9, "lease": 1, '
        b'"commit": 1234567}',
        b'{"host": "h", "user": "u", "pid": 1, "started": 0, "renewed": NaN, "lease": 120}',
        b'{"host": "h", "user": "u", "pid": 1, "started": 0, "renewed": 0, "lease": Infinity}',
        b'{"host": "h", "user": "u", "pid": 1000000000000000000000, "started": 0, '
        b'"renewed": 0, "lease": 120}',
        b'{"host": "h", "user": "u", "pid": true, "started": 0, "renewed": 0, "lease": 120}',
        b'["a", "list"]',
        b"not json",
    ],
)
def test_a_lock_of_the_wrong_shape_is_damaged_and_long_expired(lock: bytes) -> None:
    """Hand-made or damaged, a lock never stops a publish with a traceback: it reads as
    unreadable and expired, so --break-lock takes it over and says what it was."""
    from fo_cast.publish.lock import DAMAGED

    holder = Holder.from_bytes(lock)
    assert holder == DAMAGED and holder.expired(time.time())
    assert holder.describe() == "an unreadable holder (the lock is damaged: not one fo-cast wrote)"


def test_a_lock_renewed_more_than_a_day_ahead_counts_as_expired() -> None:
    now = time.time()
    ahead = Holder("h", "u", 1, now, now + 2 * 86400, 120.0)
    assert ahead.expired(now)
    assert not Holder("h", "u", 1, now, now + 60, 120.0).expired(now)  # a clock a bit fast


def test_leases_and_waits_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    from fo_cast.errors import UsageError
    from fo_cast.publish.lock import lease_from_env
    from fo_cast.publish.options import PublishOptions

    for value, lease in [("1e308", 86400.0), ("inf", 120.0), ("nan", 120.0), ("0.1", 1.0)]:
        monkeypatch.setenv("FO_CAST_LOCK_LEASE", value)
        assert lease_from_env() == lease
    for option in [{"wait": float("inf")}, {"lease": 1e308}, {"read_timeout": float("nan")}]:
        with pytest.raises(UsageError, match="give seconds from"):
            PublishOptions(**option)  # type: ignore[arg-type]
    assert PublishOptions(wait=600, lease=120, read_timeout=30).wait == 600


def test_a_lock_whose_renewal_failed_is_still_removed_but_a_taken_one_is_not(
    storage: Storage,
) -> None:
    """A renewal lost to a network blip stops the publish (LockLost) yet the lock, still
    ours, is removed on the way out; a lock another publish took over is left to it."""
    lock = TargetLock(storage, lease=30).acquire()
    lock._lost = "the lease could not be renewed for 20 s"  # as check() finds after a blip
    with pytest.raises(LockLost):
        lock.check()
    lock.release()
    assert storage.read(LOCK_KEY) is None and lock.unreleased is None
    lock = TargetLock(storage, lease=30).acquire()
    _, tag = storage.read_tagged(LOCK_KEY)
    taker = Holder("other", "u", 1, time.time(), time.time(), 30.0, token="theirs")
    assert storage.write_if(LOCK_KEY, taker.to_bytes(), tag) is not None  # taken over
    lock.release()
    assert Holder.from_bytes(storage.read(LOCK_KEY) or b"").token == "theirs"
    assert lock.unreleased is None
