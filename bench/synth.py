"""Writes a synthetic catalogue of N episodes (sample media hard-linked) for the benchmarks."""

from __future__ import annotations

import os
import shutil
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "episodes"
COMPANION = """## What was discussed

The conversation walks through the week's events and what they mean for the region, with
*emphasis* where the guests disagreed and a [link to the background](https://example.com/{n}).

- first point, on trade and energy
- second point, on elections
- third point, on what comes next

{n} & more: the guests close on the outlook for the coming months.
"""


def _link(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def make_catalogue(root: Path, episodes: int, shows: int = 1, video_every: int = 0) -> Path:
    """Returns root after writing `episodes` episodes spread over `shows` shows."""
    (root).mkdir(parents=True, exist_ok=True)
    shutil.copy2(SAMPLE / "fo-cast.toml", root / "fo-cast.toml")
    audio = next(SAMPLE.glob("talks/*/audio.mp3"))
    video = next(SAMPLE.glob("*/*/video.mp4"))
    start = datetime(2020, 1, 1, 9, 0, tzinfo=UTC)
    for s in range(shows):
        show_dir = root / f"show-{s}"
        show_dir.mkdir(exist_ok=True)
        text = (SAMPLE / "talks" / "show.yaml").read_text(encoding="utf-8")
        (show_dir / "show.yaml").write_text(
            text.replace("title: FO° Talks", f"title: Synthetic Show {s}"), encoding="utf-8"
        )
        _link(SAMPLE / "talks" / "artwork.png", show_dir / "artwork.png")
    rng = uuid.UUID(int=12345)
    for n in range(episodes):
        show_dir = root / f"show-{n % shows}"
        when = start + timedelta(hours=6 * n)
        folder = show_dir / f"{when:%Y-%m-%d}-episode-{n}"
        folder.mkdir(exist_ok=True)
        guid = uuid.uuid5(rng, str(n))
        media = "  - file: audio.mp3\n"
        _link(audio, folder / "audio.mp3")
        if video_every and n % video_every == 0:
            media += "  - file: video.mp4\n"
            _link(video, folder / "video.mp4")
        (folder / "episode.yaml").write_text(
            f"""guid: {guid}
title: "Trade, energy & elections in week {n} of the synthetic show"
published: {when.isoformat()}
status: published
summary: A synthetic episode for the benchmark (number {n}), with ampersands & quotes "like these".
episode: {n // shows + 1}
media:
{media}credits:
  - name: Bench Writer
topics: [trade, energy]
chapters:
  - start: "0:00"
    title: Opening
  - start: "0:05"
    title: Discussion
""",
            encoding="utf-8",
        )
        (folder / "companion.md").write_text(COMPANION.format(n=n), encoding="utf-8")
    return root


def make_mp3(path: Path, size: int) -> Path:
    """Writes a playable MP3 of about `size` bytes by repeating the sample's audio frames."""
    sample = next(SAMPLE.glob("talks/*/audio.mp3")).read_bytes()
    start = 0
    if sample[:3] == b"ID3":
        start = 10 + ((sample[6] << 21) | (sample[7] << 14) | (sample[8] << 7) | sample[9])
    frames = sample[start:]
    with path.open("wb") as out:
        written = 0
        while written < size:
            out.write(frames)
            written += len(frames)
    return path


def make_publish_catalogue(root: Path, episodes: int, media_mb: float, big_mb: int) -> Path:
    """Returns root: `episodes` episodes with ~media_mb MB of audio each, two of big_mb MB."""
    make_catalogue(root, episodes, shows=2)
    media = make_mp3(root / ".media.mp3", int(media_mb * 1024 * 1024))
    big = make_mp3(root / ".big.mp3", big_mb * 1024 * 1024)
    for n, audio in enumerate(sorted(root.glob("show-*/*/audio.mp3"))):
        audio.unlink()
        _link(big if n < 2 else media, audio)
    return root
