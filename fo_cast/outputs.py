"""What a build produces: objects for the output tree, in publishing order."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from fo_cast.problems import Report

# The names of the files a build writes for each show and episode (render/site.py resolves
# their URLs, render/feeds.py renders them, serve.py and tree.py recognise them).
FEED_FILE = "feed.xml"  # <show>/: audio RSS
VIDEO_FILE = "video.xml"  # <show>/: video RSS, when the show has video
JSON_FILE = "feed.json"  # <show>/: JSON Feed 1.1
CHAPTERS_FILE = "chapters.json"  # <show>/<episode>/: Podcasting 2.0 chapters
OPML_FILE = "index.opml"  # the root: every feed
# The site's own folders at the root, beside the shows': no show may take their names.
ASSETS = "assets/"  # styles, scripts, fonts
SEARCH = "search/"  # the search page and its index
TOPICS = "topics/"  # a page per topic
SITE_FOLDERS = (ASSETS, SEARCH, TOPICS)


class Stage(enum.IntEnum):
    """Publishing order: a feed never goes out before what it points at."""

    MEDIA = 0  # audio, video
    ASSET = 1  # artwork, chapters, transcripts, pages, css, sitemap
    FEED = 2  # RSS, JSON Feed, index.opml


class Body(Protocol):
    """Rendered bytes kept outside memory (in the render cache's packs), read back on demand.

    A build of 10,000 episodes renders some 200 MB of pages, feeds and search files: held as
    bytes until written, they would be the largest thing in memory. A Body knows its length
    and SHA-256 without reading, so a tree that already holds those bytes is not read at all.
    """

    @property
    def length(self) -> int: ...

    @property
    def sha256(self) -> str: ...  # hex digest of the bytes

    def read(self) -> bytes: ...

    def write_into(self, fd: int) -> None: ...  # the bytes, at the file's position


@dataclass(frozen=True, slots=True, init=False)
class Output:
    """One object of the output tree: rendered bytes, or a file on disk to link or upload.

    Rendered bytes are given as `data`: bytes, or a Body read back when `data` is asked for
    (each time: whoever writes or uploads the output reads it once, and nothing holds it).
    """

    path: str  # posix key relative to the tree root: "exclusive/feed.xml"
    content_type: str  # exact MIME type, with charset for text
    stage: Stage
    content: bytes | Body | None  # what `data` returns; None for a file (source)
    source: Path | None  # media and artwork: the catalogue file, never read into memory
    size: int | None  # known size of source (from the probe); the content's length otherwise
    redirect: str | None  # an old URL kept working: where it now points (S3 redirect)

    def __init__(
        self,
        path: str,
        content_type: str,
        stage: Stage,
        data: bytes | Body | None = None,
        source: Path | None = None,
        size: int | None = None,
        redirect: str | None = None,
    ) -> None:
        if (data is None) == (source is None):
            raise ValueError(f"{path}: an Output has exactly one of data or source")
        init = object.__setattr__
        init(self, "path", path)
        init(self, "content_type", content_type)
        init(self, "stage", stage)
        init(self, "content", data)
        init(self, "source", source)
        init(self, "size", size)
        init(self, "redirect", redirect)

    def __reduce__(self) -> tuple[type[Output], tuple[object, ...]]:
        # the feed worker sends some 20,000 of them: by their fields, not dataclasses' slow
        # setstate (see FeedItem)
        fields = (self.path, self.content_type, self.stage, self.content, self.source)
        return (Output, (*fields, self.size, self.redirect))

    @property
    def data(self) -> bytes | None:
        """The rendered bytes (read from where they are kept), None for a file (source)."""
        content = self.content
        if content is None or isinstance(content, bytes):
            return content
        return content.read()

    @property
    def rendered(self) -> bool:
        """Whether the output is rendered bytes (`data`), not a file: known without reading."""
        return self.content is not None

    @property
    def sha256(self) -> str | None:
        """The SHA-256 of rendered bytes kept outside memory, known without reading; None for
        bytes held here (hash them) and for files."""
        content = self.content
        return None if content is None or isinstance(content, bytes) else content.sha256

    @property
    def length(self) -> int:
        content = self.content
        if isinstance(content, bytes):
            return len(content)
        if content is not None:
            return content.length
        if self.size is not None:
            return self.size
        assert self.source is not None
        return self.source.stat().st_size


@dataclass(frozen=True, slots=True)  # slots: 10,000 episodes make 20,000 of them
class FeedItem:
    """One item as published in one feed; the publish GUID guard keeps a record of these."""

    feed: str  # output path of the feed: "exclusive/feed.xml"
    guid: str
    enclosure_url: str
    title: str
    manifest: str  # catalogue-relative manifest path, to name the episode in messages
    page_url: str | None = None  # the episode's page, kept in the record for redirects

    def __reduce__(self) -> tuple[type[FeedItem], tuple[str, str, str, str, str, str | None]]:
        # the feed worker sends 20,000 of them: by their fields, not dataclasses' slow
        # setstate (which looks the fields up again for each item)
        fields = (self.feed, self.guid, self.enclosure_url, self.title, self.manifest)
        return (FeedItem, (*fields, self.page_url))


@dataclass
class Build:
    """A whole output tree, kept until it has passed validation: the rendered bytes in the
    render cache's packs (see Body), or in memory without a cache."""

    outputs: list[Output] = field(default_factory=list)
    items: list[FeedItem] = field(default_factory=list)
    report: Report = field(default_factory=Report)

    def ordered(self) -> list[Output]:
        """Returns the outputs in publishing order, then by path, for stable plans."""
        return sorted(self.outputs, key=lambda o: (o.stage, o.path))
