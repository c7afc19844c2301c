"""Work on two cores (workers.py): the same bytes and problems as on one; errors still arrive."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import fo_cast
from fo_cast import workers
from fo_cast.build import build_catalogue
from fo_cast.media.probe import ProbeCache, ProbeError

NOW = datetime(2025, 6, 1, tzinfo=UTC)


def outputs(root: Path) -> dict[str, bytes | str]:
    _, result = build_catalogue(root, now=NOW)
    assert not result.report.failed()
    return {o.path: o.data if o.data is not None else str(o.source) for o in result.outputs}


def test_two_cores_build_what_one_builds(
    sample: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert workers.cores() >= 2  # this machine forks: the test compares the two ways
    forked = outputs(sample)
    (sample / ".fo-cast").rename(tmp_path / "caches")  # a cold render again, on one core
    monkeypatch.setattr(workers, "cores", lambda: 1)
    alone = outputs(sample)
    assert list(forked) == list(alone)  # the same files in the same order
    assert forked == alone


def test_a_worker_result_and_error_come_back() -> None:
    with workers.forked(lambda: [b"bytes", 2]) as done:
        assert done.result() == [b"bytes", 2]

    def fails() -> None:
        raise ValueError("from the worker")

    with workers.forked(fails) as done, pytest.raises(ValueError, match="from the worker"):
        done.result()


def test_probing_on_every_core_finds_what_one_core_finds(tmp_path: Path, media: Path) -> None:
    wanted = []
    for n in range(40):  # enough files for two shares
        for name in ("tone.mp3", "truncated.mp3", "garbage.mp3", "video.mp4", "speech.m4a"):
            path = tmp_path / f"{n}-{name}"
            shutil.copyfile(media / name, path)
            wanted.append((path, path.name, path.stat()))
    assert len(wanted) // workers.MIN_SHARE >= 2 <= workers.cores()
    many = ProbeCache(None)
    many.probe_many(wanted)
    one = ProbeCache(None)
    for path, key, stat in wanted:
        with contextlib.suppress(ProbeError):
            one.probe(path, key, stat)
    assert many.entries == one.entries
    assert sum("error" in record for record in many.entries.values()) == 80


def test_a_cold_validate_on_every_core_reports_what_one_core_reports(
    sample: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copyfile(
        Path(__file__).parent / "fixtures" / "media" / "truncated.mp3",
        sample / "talks" / "2024-08-04-middle-east-part-1" / "audio.mp3",
    )
    calls: list[int] = []
    probe_many = ProbeCache.probe_many

    def counted(self: ProbeCache, wanted: list[Any]) -> None:
        calls.append(len(wanted))
        probe_many(self, wanted)

    monkeypatch.setattr(ProbeCache, "probe_many", counted)
    ahead = [str(p) for p in fo_cast.validate(sample, use_cache=False)]
    assert calls and calls[0] > 0  # the files were probed ahead
    monkeypatch.setattr(workers, "cores", lambda: 1)
    monkeypatch.setattr(ProbeCache, "probe_many", lambda self, wanted: None)
    alone = [str(p) for p in fo_cast.validate(sample, use_cache=False)]
    assert ahead == alone
    assert any("truncated" in line for line in alone)


def test_a_worker_dies_with_its_killed_parent(tmp_path: Path) -> None:
    """A worker must not outlive a killed run, holding a lock file it inherited."""
    script = (
        "import os, sys, time\n"
        "from fo_cast import workers\n"
        "def task():\n"
        "    time.sleep(60)\n"
        "with workers.forked(task) as pending:\n"
        "    print(pending.worker[0], flush=True)\n"
        "    pending.result()\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    worker = int(parent.stdout.readline())
    os.kill(worker, 0)  # running
    parent.kill()
    parent.wait()
    for _ in range(100):
        try:
            os.kill(worker, 0)
        except ProcessLookupError:
            return
        with contextlib.suppress(ChildProcessError):
            os.waitpid(worker, os.WNOHANG)
        time.sleep(0.05)
    raise AssertionError("the worker outlived its parent")
