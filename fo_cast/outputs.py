"""What a build produces: objects for the output tree, in publishing order."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path

from fo_cast.problems import Report

# The names of the files a build writes for each show and episode (render/site.py resolves
# their URLs, render/feeds.py renders them, serve.py and tree.py recognise them).
FEED_FILE = "feed.xml"  # <show>/: audio RSS
VIDEO_FILE = "video.xml"  # <show>/: video RSS, when the show has video
JSON_FILE = "feed.json"  # <show>/: JSON Feed 1.1
CHAPTERS_FILE = "chapters.json"  # <show>/<episode>/: Podcasting 2.0 chapters
OPML_FILE = "index.opml"  # the root: every feed


class Stage(enum.IntEnum):
    """Publishing order: a feed never goes out before what it points at."""

    MEDIA = 0  # audio, video
    ASSET = 1  # artwork, chapters, transcripts, pages, css, sitemap
    FEED = 2  # RSS, JSON Feed, index.opml


@dataclass(frozen=True)
class Output:
    """One object of the output tree: rendered bytes, or a file on disk to link or upload."""

    path: str  # posix key relative to the tree root: "exclusive/feed.xml"
    content_type: str  # exact MIME type, with charset for text
    stage: Stage
    data: bytes | None = None
    source: Path | None = None  # media and artwork: the catalogue file, never read into memory
    size: int | None = None  # known size of source (from the probe); len(data) otherwise
    redirect: str | None = None  # an old URL kept working: where it now points (S3 redirect)

    def __post_init__(self) -> None:
        if (self.data is None) == (self.source is None):
            raise ValueError(f"{self.path}: an Output has exactly one of data or source")

    @property
    def length(self) -> int:
        if self.data is not None:
            return len(self.data)
        if self.size is not None:
            return self.size
        assert self.source is not None
        return self.source.stat().st_size


@dataclass(frozen=True)
class FeedItem:
    """One item as published in one feed; the publish GUID guard keeps a record of these."""

    feed: str  # output path of the feed: "exclusive/feed.xml"
    guid: str
    enclosure_url: str
    title: str
    manifest: str  # catalogue-relative manifest path, to name the episode in messages
    page_url: str | None = None  # the episode's page, kept in the record for redirects


@dataclass
class Build:
    """A whole output tree, held in memory until it has passed validation."""

    outputs: list[Output] = field(default_factory=list)
    items: list[FeedItem] = field(default_factory=list)
    report: Report = field(default_factory=Report)

    def ordered(self) -> list[Output]:
        """Returns the outputs in publishing order, then by path, for stable plans."""
        return sorted(self.outputs, key=lambda o: (o.stage, o.path))
