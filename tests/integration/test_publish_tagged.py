"""Publishing after `fo-cast tag`: the enclosures describe the tagged files, and only the
re-tagged media, the feeds that name them and the pages that show their sizes go again."""

from __future__ import annotations

import hashlib
import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from fo_cast.cli import app

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parent.parent.parent
NOW = "2025-01-01T00:00:00+00:00"
EPISODE = "exclusive/2024-07-23-russia-charm-offensive"


@pytest.fixture
def catalogue(tmp_path: Path) -> Path:
    root = tmp_path / "episodes"
    shutil.copytree(REPO / "episodes", root, ignore=shutil.ignore_patterns(".fo-cast"))
    return root


def publish(catalogue: Path, target: Path) -> dict[str, Any]:
    result = CliRunner().invoke(
        app, ["publish", str(catalogue), "--to", str(target), "--now", NOW, "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def uploaded(report: dict[str, Any]) -> list[str]:
    return sorted(u["key"] for u in report["plan"]["uploads"])


def tag(catalogue: Path) -> list[str]:
    result = CliRunner().invoke(app, ["tag", str(catalogue)])
    assert result.exit_code == 0, result.output
    return sorted(
        line.split(": tagged")[0].split("/", 1)[1]
        for line in result.stdout.splitlines()
        if ": tagged" in line
    )


def enclosure(feed: Path, name: str) -> tuple[int, str]:
    for item in ET.parse(feed).getroot().iter("enclosure"):
        if item.get("url", "").endswith(name):
            return int(item.get("length", "0")), item.get("url", "")
    raise AssertionError(f"no enclosure {name} in {feed}")


def test_publish_after_tagging_uploads_the_tagged_media_and_their_feeds(
    catalogue: Path, tmp_path: Path
) -> None:
    target = tmp_path / "public"
    publish(catalogue, target)
    assert uploaded(publish(catalogue, target)) == []

    retagged = tag(catalogue)
    assert len(retagged) == 22
    keys = uploaded(publish(catalogue, target))
    media = [k for k in keys if k.endswith((".mp3", ".mp4"))]
    assert media == retagged
    shows = ("exclusive", "live", "talks")
    # and the pages of their episodes, which show the files' sizes
    pages = sorted({k.rsplit("/", 1)[0] + "/index.html" for k in media})
    feeds = [f"{show}/{name}" for show in shows for name in ("feed.json", "feed.xml", "video.xml")]
    assert [k for k in keys if k not in media] == sorted(pages + feeds)

    # the feed describes the tagged file, byte for byte
    audio = catalogue / EPISODE / "audio.mp3"
    length, _ = enclosure(target / "exclusive/feed.xml", f"{EPISODE}/audio.mp3")
    assert length == audio.stat().st_size
    published = target / EPISODE / "audio.mp3"
    assert (
        hashlib.sha256(published.read_bytes()).digest()
        == hashlib.sha256(audio.read_bytes()).digest()
    )

    # one manifest change: exactly that episode's files, its page and its feeds
    path = catalogue / EPISODE / "episode.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("title: Introduction", "title: Opening"), encoding="utf-8")
    assert tag(catalogue) == [f"{EPISODE}/audio.mp3", f"{EPISODE}/video.mp4"]
    keys = uploaded(publish(catalogue, target))
    assert [k for k in keys if k.endswith((".mp3", ".mp4"))] == [
        f"{EPISODE}/audio.mp3", f"{EPISODE}/video.mp4"
    ]  # fmt: skip
    assert tag(catalogue) == []
    assert uploaded(publish(catalogue, target)) == []
