"""The render on two cores (workers.py): the same bytes as on one, and errors still arrive."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from fo_cast import workers
from fo_cast.build import build_catalogue

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
