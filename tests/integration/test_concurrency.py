"""Several publishes at one target, as an editor's laptop and a scheduled CI job make them:
started together, killed, paused between plan and upload, a prune racing an add. Each runs
the real CLI in its own process against SeaweedFS and a folder.

After all of it: the GUID record holds every GUID ever published, no live feed points at a
missing file, and no lock is left behind.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from fo_cast.publish.guard import RECORD_KEY, GuardRecord
from fo_cast.publish.lock import LOCK_KEY, Holder
from fo_cast.publish.redirects import url_key
from fo_cast.storage import Storage, storage_for

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parent.parent.parent
NOW = "2025-01-01T00:00:00+00:00"
EPISODE = "talks/2024-08-04-middle-east-part-1"
EPISODE_GUID = "25ea06b6-b958-4449-b8d7-9a5a51428ff1"
BASE = "https://podcasts.example.org/"


@dataclass
class Target:
    options: list[str]  # --to ... [--endpoint-url ...]
    url: str
    endpoint: str | None
    env: dict[str, str]

    def storage(self) -> Storage:
        return storage_for(self.url, self.endpoint)

    def record(self) -> GuardRecord:
        return GuardRecord.from_bytes(self.storage().read(RECORD_KEY))


@pytest.fixture(params=["folder", "s3"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    if request.param == "folder":
        folder = str(tmp_path / "public")
        yield Target(["--to", folder], folder, None, {})
        return
    server = request.getfixturevalue("s3_server")
    url = f"s3://{server.bucket}/race-{uuid.uuid4().hex[:8]}"
    saved = {k: os.environ.get(k) for k in server.env}
    os.environ.update(server.env)  # for this process's own look at the bucket
    yield Target(["--to", url, "--endpoint-url", server.endpoint], url, server.endpoint, server.env)
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def copy_sample(where: Path, without: str | None = None) -> Path:
    root = where
    shutil.copytree(REPO / "episodes", root, ignore=shutil.ignore_patterns(".fo-cast"))
    if without:
        shutil.rmtree(root / without)
    return root


def start(
    catalogue: Path, target: Target, *extra: str, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    """Starts `fo-cast publish` in its own process, JSON on stdout, lines on stderr."""
    command = [
        sys.executable, "-m", "fo_cast", "publish", str(catalogue), *target.options,
        "--base-url", BASE, "--now", NOW, "--format", "json", *extra,
    ]  # fmt: skip
    return subprocess.Popen(
        command,
        env={**os.environ, **target.env, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )


def finish(process: subprocess.Popen[str], timeout: float = 180) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


def publish(catalogue: Path, target: Target, *extra: str, **kw: Any) -> tuple[int, str, str]:
    return finish(start(catalogue, target, *extra, **kw))


def wait_stopped(process: subprocess.Popen[str], timeout: float = 120) -> None:
    """Waits until the process stopped itself (SIGSTOP at the test hook after its plan)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stat = Path(f"/proc/{process.pid}/stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] == "T":
            return
        assert process.poll() is None, process.communicate()
        time.sleep(0.05)
    raise AssertionError("the publisher never reached its pause point")


def live_guids_and_missing(target: Target) -> tuple[set[str], list[str]]:
    """Returns the GUIDs the target's RSS feeds carry and the enclosures they miss."""
    storage = target.storage()
    listing = storage.list()
    guids: set[str] = set()
    missing = []
    for key in listing:
        if not key.endswith((".xml",)) or key.endswith(("sitemap.xml",)):
            continue
        data = storage.read(key)
        assert data is not None
        root = ET.fromstring(data)
        for item in root.iter("item"):
            guids.add(item.findtext("guid") or "")
            enclosure = item.find("enclosure")
            assert enclosure is not None
            enclosure_key = url_key(enclosure.get("url", ""), BASE)
            if enclosure_key not in listing:
                missing.append(f"{key}: {enclosure.get('url')}")
    return guids, missing


def assert_consistent(target: Target, must_hold: frozenset[str] = frozenset()) -> None:
    guids, missing = live_guids_and_missing(target)
    record = {i.guid for i in target.record().items.values()}
    assert missing == []
    assert guids <= record, guids - record
    assert must_hold <= record, must_hold - record
    assert target.storage().read(LOCK_KEY) is None


@pytest.mark.parametrize("count", [2, 3])
def test_publishes_started_together_take_turns(target: Target, tmp_path: Path, count: int) -> None:
    catalogues = [copy_sample(tmp_path / f"c{n}") for n in range(count)]
    processes = [start(c, target, "--wait", "120") for c in catalogues]
    results = [finish(p) for p in processes]
    assert [code for code, _, _ in results] == [0] * count, [err for _, _, err in results]
    reports = [json.loads(out) for _, out, _ in results]
    # One publish sent the tree; each of the others, planning after it, found nothing to do.
    uploads = sorted(r["uploaded"] for r in reports)
    assert uploads[:-1] == [0] * (count - 1) and uploads[-1] > 40
    assert_consistent(target, frozenset({EPISODE_GUID}))


def test_a_second_publish_without_wait_names_the_holder(target: Target, tmp_path: Path) -> None:
    catalogue = copy_sample(tmp_path / "c")
    first = start(catalogue, target, env={"FO_CAST_STOP_AFTER_PLAN": "1"})
    try:
        wait_stopped(first)
        code, out, err = publish(copy_sample(tmp_path / "d"), target)
        assert code == 5, err
        line = err.strip().splitlines()[-1]
        assert line.startswith(f"fo-cast: {target.storage().describe()} is locked by ")
        assert f"(pid {first.pid}" in line and "lease renewed" in line
        assert line.endswith("try again later, or wait with --wait SECONDS")
    finally:
        first.send_signal(signal.SIGCONT)
    assert finish(first)[0] == 0
    assert_consistent(target, frozenset({EPISODE_GUID}))


def test_a_killed_holder_blocks_until_its_lease_expires_then_break_lock(
    target: Target, tmp_path: Path
) -> None:
    catalogue = copy_sample(tmp_path / "c")
    holder = start(catalogue, target, "--lease", "2", env={"FO_CAST_STOP_AFTER_PLAN": "1"})
    wait_stopped(holder)
    holder.kill()  # SIGKILL: no cleanup, the lock stays
    finish(holder)
    data, tag = target.storage().read_tagged(LOCK_KEY)
    lock = Holder.from_bytes(data or b"")
    assert (lock.pid, lock.lease) == (holder.pid, 2.0)
    code, _, err = publish(catalogue, target)
    assert code == 5 and "its process is gone (killed?); --break-lock takes it over" in err
    # A holder on another machine (a CI runner) cannot be checked by pid: only its lease.
    foreign = dataclasses.replace(lock, host="ci-runner", renewed=time.time(), lease=6.0)
    assert tag is not None and target.storage().write_if(LOCK_KEY, foreign.to_bytes(), tag)
    code, _, err = publish(catalogue, target, "--break-lock")
    assert code == 5 and "lease renewed" in err and "; try again later" in err
    time.sleep(max(0.0, foreign.renewed + 6.5 - time.time()))
    code, _, err = publish(catalogue, target)
    assert code == 5
    assert "its lease expired" in err and err.rstrip().endswith("--break-lock takes it over")
    code, out, err = publish(catalogue, target, "--break-lock")
    assert code == 0, err
    assert f"took over the expired lock of {lock.user}@ci-runner (pid {lock.pid})" in err
    assert json.loads(out)["uploaded"] > 40
    assert_consistent(target, frozenset({EPISODE_GUID}))


def test_break_lock_never_takes_a_live_lock(target: Target, tmp_path: Path) -> None:
    catalogue = copy_sample(tmp_path / "c")
    holder = start(catalogue, target, env={"FO_CAST_STOP_AFTER_PLAN": "1"})
    try:
        wait_stopped(holder)
        code, _, err = publish(catalogue, target, "--break-lock")
        assert code == 5 and "lease renewed" in err
    finally:
        holder.send_signal(signal.SIGCONT)
    assert finish(holder)[0] == 0


def test_kills_at_random_points_lose_nothing(target: Target, tmp_path: Path) -> None:
    """Publishes killed mid-run (SIGKILL) with changes each time; the next one finishes."""
    catalogue = copy_sample(tmp_path / "c")
    companion = catalogue / EPISODE / "companion.md"
    delays = [0.4, 0.8, 1.2, 1.6, 2.0, 2.5]
    for n, delay in enumerate(delays):
        companion.write_text(companion.read_text() + f"\nEdit {n}.\n")
        victim = start(catalogue, target, "--lease", "1", "--break-lock")
        time.sleep(delay)
        victim.kill()
        finish(victim)
        guids, missing = live_guids_and_missing(target)
        assert missing == [], f"kill {n} after {delay} s left {missing}"
        time.sleep(1.2)  # the killed publish's lease runs out
    code, out, err = publish(catalogue, target, "--lease", "1", "--break-lock")
    assert code == 0, f"{err}\n{out}"  # a refusal's plan is on standard output
    assert_consistent(target, frozenset({EPISODE_GUID}))
    page = target.storage().read(f"{EPISODE}/index.html") or b""
    assert f"Edit {len(delays) - 1}.".encode() in page


def test_a_publish_killed_before_saving_its_index_leaves_files_fo_casts(tmp_path: Path) -> None:
    """A folder's files carry no mark of their own. A first publish was killed after its
    first media file (here: that file, as it left it) and the next one right after the
    edited episode's page arrived, before either saved the index; the companion is edited
    again. The next publish knows the page for fo-cast's and replaces it (it was refused:
    "the target holds files fo-cast did not publish", as if they were someone else's)."""
    folder = tmp_path / "public"
    target = Target(["--to", str(folder)], str(folder), None, {})
    catalogue = copy_sample(tmp_path / "c")
    (folder / EPISODE).mkdir(parents=True)
    shutil.copy(catalogue / EPISODE / "audio.mp3", folder / EPISODE / "audio.mp3")
    companion = catalogue / EPISODE / "companion.md"
    companion.write_text(companion.read_text() + "\nEdit 1.\n")
    victim = start(catalogue, target)
    page = folder / EPISODE / "index.html"
    while victim.poll() is None and not page.exists():
        time.sleep(0.0005)
    victim.kill()
    assert finish(victim)[0] == -signal.SIGKILL, "the publish ended before it was killed"
    assert b"Edit 1." in page.read_bytes()
    assert not (folder / ".fo-cast/index.json").exists()  # no index recorded the page
    companion.write_text(companion.read_text() + "\nEdit 2.\n")
    code, out, err = publish(catalogue, target, "--break-lock")
    assert code == 0, f"{err}\n{out}"
    assert b"Edit 2." in page.read_bytes()
    listing = target.storage().list()
    assert listing[f"{EPISODE}/index.html"].ours and listing[f"{EPISODE}/audio.mp3"].ours
    assert list((folder / ".fo-cast/pending").iterdir()) == []  # the index holds it now
    assert_consistent(target, frozenset({EPISODE_GUID}))


def test_paused_publisher_and_a_second_one_interleaved(target: Target, tmp_path: Path) -> None:
    """Red team 1: one plans, the other runs, the first resumes. With the lock the other
    waits; then, planning from the new state, it is refused for dropping the GUID."""
    first = start(copy_sample(tmp_path / "a"), target, env={"FO_CAST_STOP_AFTER_PLAN": "1"})
    wait_stopped(first)
    second = start(copy_sample(tmp_path / "b", without=EPISODE), target, "--wait", "120")
    time.sleep(3)
    assert second.poll() is None  # waiting for the lock, not planning from a stale view
    first.send_signal(signal.SIGCONT)
    assert finish(first)[0] == 0
    code, out, _ = finish(second)
    assert code == 3
    refusals = json.loads(out)["plan"]["refusals"]
    assert any(EPISODE_GUID in r and "was published and is missing now" in r for r in refusals)
    assert_consistent(target, frozenset({EPISODE_GUID}))


def test_prune_racing_an_add_deletes_nothing_a_feed_needs(target: Target, tmp_path: Path) -> None:
    """Red team 2: a slow publish adds an episode while another prunes without it."""
    assert publish(copy_sample(tmp_path / "old", without=EPISODE), target)[0] == 0
    adding = start(copy_sample(tmp_path / "new"), target, env={"FO_CAST_STOP_AFTER_PLAN": "1"})
    wait_stopped(adding)
    pruning = start(
        copy_sample(tmp_path / "prune", without=EPISODE), target, "--prune", "--wait", "120"
    )
    time.sleep(2)
    adding.send_signal(signal.SIGCONT)
    assert finish(adding)[0] == 0
    code, out, _ = finish(pruning)
    assert code == 3, out
    assert json.loads(out)["plan"]["deletes"] != []  # it would have pruned: refused instead
    assert f"{EPISODE}/audio.mp3" in target.storage().list()
    assert_consistent(target, frozenset({EPISODE_GUID}))


def test_a_publisher_paused_past_its_lease_stops_before_feeds(
    target: Target, tmp_path: Path
) -> None:
    """The lease expires while one publisher is paused; another breaks the lock and
    publishes. The first, resumed, finds its lock gone and writes nothing more."""
    paused = start(
        copy_sample(tmp_path / "a"), target, "--lease", "2", env={"FO_CAST_STOP_AFTER_PLAN": "1"}
    )
    wait_stopped(paused)
    time.sleep(2.5)
    code, _, err = publish(copy_sample(tmp_path / "b", without=EPISODE), target, "--break-lock")
    assert code == 0, err
    feed = target.storage().read("talks/feed.xml")
    paused.send_signal(signal.SIGCONT)
    code, _, err = finish(paused)
    assert code == 5, err
    assert "was taken over" in err or "could not be renewed" in err
    assert "stopped before writing feeds or records. Run publish again." in err
    assert target.storage().read("talks/feed.xml") == feed
    assert_consistent(target)


def test_start_up_cleanup_leaves_the_holders_uploads_alone(target: Target, tmp_path: Path) -> None:
    """Red team 3: a publish that cannot get the lock cleans up nothing."""
    holder = start(copy_sample(tmp_path / "a"), target, env={"FO_CAST_STOP_AFTER_PLAN": "1"})
    try:
        wait_stopped(holder)
        storage = target.storage()
        folder = storage.local_folder()
        if folder is not None:  # what the holder would be writing right now
            temp = folder / "talks" / ".feed.xml.1234abcd.fo-cast-tmp"
            temp.parent.mkdir(parents=True, exist_ok=True)
            temp.write_bytes(b"half")
        else:
            client = storage._client  # type: ignore[attr-defined]
            bucket, prefix = storage.bucket, storage.prefix  # type: ignore[attr-defined]
            client.create_multipart_upload(Bucket=bucket, Key=f"{prefix}/talks/big.mp4")
        assert publish(copy_sample(tmp_path / "b"), target)[0] == 5
        if folder is not None:
            assert temp.read_bytes() == b"half"
        else:
            uploads = client.list_multipart_uploads(Bucket=bucket, Prefix=prefix + "/")
            assert [u["Key"] for u in uploads.get("Uploads", [])] == [f"{prefix}/talks/big.mp4"]
    finally:
        holder.send_signal(signal.SIGCONT)
    assert finish(holder)[0] == 0


def test_a_terminated_publish_releases_its_lock(target: Target, tmp_path: Path) -> None:
    """A cancelled CI job gets SIGTERM: the publish stops as on Ctrl-C and unlocks."""
    holder = start(copy_sample(tmp_path / "a"), target, env={"FO_CAST_STOP_AFTER_PLAN": "1"})
    wait_stopped(holder)
    assert target.storage().read(LOCK_KEY) is not None
    holder.send_signal(signal.SIGTERM)
    holder.send_signal(signal.SIGCONT)
    code, _, err = finish(holder)
    assert code == 130, err
    assert err.splitlines()[-1] == "Interrupted."  # Typer's own exit 130 said nothing
    assert target.storage().read(LOCK_KEY) is None


def test_a_slow_publish_keeps_its_lease_while_another_waits(s3_server: Any, tmp_path: Path) -> None:
    """Over a slow link a publish outlasts its lease many times; renewals keep it, and the
    publish waiting for it starts only when it is done (and finds nothing left to do)."""
    from .test_faults import Proxy

    url = f"s3://{s3_server.bucket}/slow-{uuid.uuid4().hex[:8]}"
    with Proxy(s3_server.endpoint) as proxy:
        proxy.delay = 0.4
        slow = Target(["--to", url, "--endpoint-url", proxy.endpoint], url, proxy.endpoint,
                      s3_server.env)  # fmt: skip
        fast = Target(["--to", url, "--endpoint-url", s3_server.endpoint], url,
                      s3_server.endpoint, s3_server.env)  # fmt: skip
        started = time.monotonic()
        first = start(copy_sample(tmp_path / "a"), slow, "--lease", "2")
        time.sleep(2)
        second = start(copy_sample(tmp_path / "b"), fast, "--lease", "2", "--wait", "120")
        code, out, err = finish(first)
        took = time.monotonic() - started
        assert code == 0, err
        assert took > 2 * 2  # the publish outlasted its lease twice over
        code, out2, err2 = finish(second)
        assert code == 0, err2
        assert json.loads(out)["uploaded"] > 40 and json.loads(out2)["uploaded"] == 0
    saved = {k: os.environ.get(k) for k in s3_server.env}
    os.environ.update(s3_server.env)
    try:
        assert_consistent(fast, frozenset({EPISODE_GUID}))
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
