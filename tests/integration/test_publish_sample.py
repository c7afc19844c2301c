"""The sample catalogue published through the CLI, as a producer does it, to real targets:
SeaweedFS over S3 and a local folder; then changed, re-slugged, pruned and verified."""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from fo_cast.cli import app
from tests.helpers import edit

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parent.parent.parent
NOW = "2025-01-01T00:00:00+00:00"
EPISODE = "talks/2024-08-04-middle-east-part-1"


@pytest.fixture
def catalogue(tmp_path: Path) -> Path:
    root = tmp_path / "episodes"
    shutil.copytree(REPO / "episodes", root, ignore=shutil.ignore_patterns(".fo-cast"))
    return root


@pytest.fixture
def s3(s3_server: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[list[str], str]]:
    """Yields the CLI options that reach a fresh prefix of the bucket, and its public URL."""
    for name, value in s3_server.env.items():
        monkeypatch.setenv(name, value)
    prefix = f"sample-{uuid.uuid4().hex[:8]}"
    options = ["--to", f"s3://{s3_server.bucket}/{prefix}", "--endpoint-url", s3_server.endpoint]
    yield options, s3_server.public_url(prefix) + "/"


def publish(catalogue: Path, options: list[str], *extra: str) -> tuple[int, dict[str, Any]]:
    """Returns the exit code and the JSON report of one `fo-cast publish`."""
    result = CliRunner().invoke(
        app, ["publish", str(catalogue), *options, "--now", NOW, "--format", "json", *extra]
    )
    try:
        report = json.loads(result.stdout)
    except ValueError:
        report = {"output": result.stdout + result.stderr}
    return result.exit_code, report


def uploaded(report: dict[str, Any]) -> list[str]:
    return sorted(u["key"] for u in report["plan"]["uploads"])


def test_publish_the_sample_to_s3_then_nothing_then_one_change(
    catalogue: Path, s3: tuple[list[str], str], s3_server: Any
) -> None:
    options, public = s3
    code, first = publish(catalogue, options, "--base-url", public)
    assert code == 0, first
    keys = uploaded(first)
    assert "exclusive/feed.xml" in keys and f"{EPISODE}/audio.mp3" in keys
    assert first["uploaded"] == len(keys) and first["skipped"] == 0

    # Media first, feeds last: the plan is in publishing order.
    stages = [u["stage"] for u in first["plan"]["uploads"]]
    assert stages == sorted(stages, key=["media", "asset", "feed"].index)

    code, second = publish(catalogue, options, "--base-url", public)
    assert (code, uploaded(second)) == (0, [])

    edit(catalogue / EPISODE / "companion.md", "This is the first part", "This is part one")
    code, third = publish(catalogue, options, "--base-url", public)
    assert code == 0
    # The changed companion shows on its page and in the feeds that carry its content, and
    # the search bundle of its show and year is indexed again (no other bundle).
    bundle = [key for key in uploaded(third) if key.startswith("search/")]
    assert "search/talks-2024/pagefind-entry.json" in bundle
    assert all(key.startswith("search/talks-2024/") for key in bundle)
    assert [key for key in uploaded(third) if key not in bundle] == [
        f"{EPISODE}/index.html",
        "talks/feed.json",
        "talks/feed.xml",
        "talks/video.xml",
    ]

    # The served bucket answers as apps need: every enclosure with its length, type, ranges.
    result = CliRunner().invoke(app, ["verify", str(catalogue), "--base-url", public, "--now", NOW])
    assert result.exit_code == 0, result.stderr
    assert ", 0 failures." in result.stderr or ", 0 failures." in result.stdout

    head = s3_server.client().head_object(
        Bucket=s3_server.bucket, Key=public.rsplit("/", 2)[-2] + "/talks/feed.xml"
    )
    assert head["ContentType"] == "application/rss+xml; charset=utf-8"
    assert head["CacheControl"] == "public, max-age=300"


def test_reslug_keeps_guids_and_removal_is_refused(catalogue: Path, tmp_path: Path) -> None:
    target = ["--to", str(tmp_path / "public")]
    assert publish(catalogue, target)[0] == 0

    # A new folder name (so a new slug and new URLs) and a new title keep the GUID: allowed.
    renamed = catalogue / "talks" / "2024-08-04-middle-east-one"
    os.rename(catalogue / EPISODE, renamed)
    edit(renamed / "episode.yaml", "title: ", "title: Renamed — ")
    code, report = publish(catalogue, target)
    assert code == 0, report
    assert "talks/2024-08-04-middle-east-one/audio.mp3" in uploaded(report)
    feed = (tmp_path / "public" / "talks" / "feed.xml").read_text(encoding="utf-8")
    assert "25ea06b6-b958-4449-b8d7-9a5a51428ff1</guid>" in feed

    # Dropping a published episode would make it vanish from apps: refused, naming it.
    shutil.rmtree(renamed)
    code, report = publish(catalogue, target)
    assert code == 3
    assert any("25ea06b6-b958-4449-b8d7-9a5a51428ff1" in r for r in report["plan"]["refusals"])
    assert (tmp_path / "public" / "talks" / "feed.xml").read_text(encoding="utf-8") == feed

    code, report = publish(
        catalogue, target, "--allow-removal", "25ea06b6-b958-4449-b8d7-9a5a51428ff1", "--prune"
    )
    assert code == 0, report
    assert "talks/2024-08-04-middle-east-one/audio.mp3" in report["plan"]["deletes"]
    assert not (tmp_path / "public" / "talks" / "2024-08-04-middle-east-one").exists()


def test_a_catalogue_with_errors_publishes_nothing(catalogue: Path, tmp_path: Path) -> None:
    edit(catalogue / EPISODE / "episode.yaml", "status: published", "status: publishd")
    result = CliRunner().invoke(
        app, ["publish", str(catalogue), "--to", str(tmp_path / "public"), "--now", NOW]
    )
    assert result.exit_code == 1
    assert "Nothing was published." in result.stderr
    assert not (tmp_path / "public").exists()


def test_verbose_publish_to_s3_never_prints_credentials(
    catalogue: Path, s3: tuple[list[str], str], s3_server: Any
) -> None:
    options, public = s3
    result = CliRunner().invoke(
        app, ["publish", str(catalogue), *options, "--now", NOW, "--verbose", "--dry-run"]
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(f"Plan for s3://{s3_server.bucket}/sample-")
    assert "upload exclusive/feed.xml (new" in result.stdout
    for secret in (s3_server.access_key, s3_server.secret_key):
        assert secret not in result.stdout + result.stderr


def test_non_interactive_publish_prints_one_line_per_stage(catalogue: Path, tmp_path: Path) -> None:
    target = tmp_path / "public"
    result = CliRunner().invoke(app, ["publish", str(catalogue), "--to", str(target), "--now", NOW])
    assert result.exit_code == 0, result.stderr
    lines = result.stderr.splitlines()
    assert lines[0] == f"locked {target.as_uri()} (lease 120 s)"
    stages = [line.split(":")[0] for line in lines[1:]]
    assert stages == ["media", "asset", "feed"]
    assert lines[1] == "media: 22 uploads (1.0 MB)"
    assert result.stdout.splitlines()[-1].startswith(f"Published to {target.as_uri()}: ")
