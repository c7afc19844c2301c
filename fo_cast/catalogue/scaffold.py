"""New shows and episodes from templates, and the JSON Schemas editors validate against."""

from __future__ import annotations

import json
import os
import re
import unicodedata
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from fo_cast.catalogue.models import Episode, Show
from fo_cast.catalogue.reader import EPISODE_FILE, SHOW_FILE, refuse_outside
from fo_cast.errors import FoCastError
from fo_cast.rules import check_slug, first_xml_illegal
from fo_cast.state import atomic_write
from fo_cast.units import format_clock

SCHEMA_DIR = ".schema"

# The placeholders `fo-cast new` writes, defined once: validation imports them, so a show or
# episode that goes out (scheduled or published) with one of them left in is an error.
SHOW_DESCRIPTION = "What the show is about, in two or three sentences."
OWNER_EMAIL = "podcasts@example.com"
SHOW_LINK = "https://www.example.com/"
EPISODE_SUMMARY = "One or two plain sentences on what the episode covers."
COMPANION_STUB = "Write the companion article here, in Markdown."
# A PNG text chunk marks the placeholder artwork; Pillow writes text chunks before the image
# data, so the marker sits in the file's first bytes whatever the image is saved with.
ARTWORK_MARKER = ("fo-cast", "placeholder artwork: replace it")
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_][\w.-]*")  # a file name YAML reads as the string it is
# json.dumps leaves these as they are, but YAML readers fold them like line breaks (or drop a
# BOM), so the title would not read back as typed.
_YAML_UNSAFE = {"\x85": "\\N", "\u2028": "\\L", "\u2029": "\\P", "\ufeff": "\\ufeff"}


def _quoted(text: str) -> str:
    """Returns text as a YAML double-quoted scalar that reads back exactly."""
    quoted = json.dumps(text, ensure_ascii=False)
    for char, escape in _YAML_UNSAFE.items():
        quoted = quoted.replace(char, escape)
    return quoted


def _check_title(title: str) -> None:
    """Raises FoCastError for a title the manifest would reject: blank, or with a control
    character (better now than as a validation error in a file just written)."""
    if not title.strip():
        raise FoCastError("the title is empty; give the episode or show a title")
    bad = first_xml_illegal(title)
    if bad is not None:
        raise FoCastError(f"the title contains the control character U+{ord(bad):04X}")


def slugify(title: str, max_length: int = 60) -> str:
    """Returns a URL slug for a title: 'Russia’s New Charm Offensive' -> 'russias-new-charm...'."""
    text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"['’]", "", text.lower())
    words = re.findall(r"[a-z0-9]+", text)
    slug = ""
    for word in words:
        if slug and len(slug) + 1 + len(word) > max_length:
            break
        slug = f"{slug}-{word}" if slug else word[:max_length]
    return slug or "episode"


def write_schemas(catalogue: Path) -> list[Path]:
    """Returns the JSON Schema files written into the catalogue's .schema folder."""
    folder = catalogue / SCHEMA_DIR
    refuse_outside(catalogue, folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, model in (("show", Show), ("episode", Episode)):
        schema = model.model_json_schema()
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        path = folder / f"{name}.schema.json"
        # a new file renamed into place: a symlink there is replaced, never written through
        atomic_write(path, json.dumps(schema, indent=2, ensure_ascii=False) + "\n")
        written.append(path)
    return written


def media_entries(rows: list[dict[str, Any]]) -> str:
    """Returns probed media as `media:` entries of an episode.yaml, to paste under `media:`;
    a URL's entry carries the length, type and duration fo-cast cannot read at build time."""
    lines = []
    for row in rows:
        if "error" in row:
            continue
        if "url" not in row:
            name = Path(row["file"]).name
            plain = _PLAIN_NAME.fullmatch(name) is not None
            lines.append(f"  - file: {name if plain else _quoted(name)}")
            continue
        duration = round(row["duration"], 3)
        lines += [
            f"  - url: {_quoted(row['url'])}",
            f"    length: {row['size']}",
            f"    type: {row['mime_type']}",
            f"    duration: {duration}  # {format_clock(duration)}",
        ]
    return "".join(line + "\n" for line in lines)


def new_show(catalogue: Path, slug: str, title: str | None = None) -> Path:
    """Returns the show.yaml written for a new show folder; refuses to overwrite."""
    try:
        check_slug(slug)
    except ValueError as exc:
        raise FoCastError(str(exc)) from None
    if title is not None:
        _check_title(title)
    folder = catalogue / slug
    if os.path.lexists(folder):
        raise FoCastError(f"{folder} already exists; choose another slug")
    folder.mkdir(parents=True)
    manifest = folder / SHOW_FILE
    manifest.write_text(
        f"""# yaml-language-server: $schema=../{SCHEMA_DIR}/show.schema.json
title: {_quoted(title or slug.replace("-", " ").title())}
description: {SHOW_DESCRIPTION}
language: en
author: Fair Observer
owner:
  name: Fair Observer
  email: {OWNER_EMAIL}
artwork: artwork.png  # square JPEG or PNG, 1400 to 3000 px, RGB
categories:
  - News/Politics
explicit: false
type: episodic
link: {SHOW_LINK}
""",
        encoding="utf-8",
    )
    _placeholder_artwork(folder / "artwork.png")
    write_schemas(catalogue)
    return manifest


def _placeholder_artwork(path: Path) -> None:
    """Writes a plain grey 1400 px square PNG, so that a new show validates until replaced;
    a text chunk (ARTWORK_MARKER) tells validation it is still the placeholder."""
    from PIL import Image
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text(*ARTWORK_MARKER)
    Image.new("RGB", (1400, 1400), (128, 128, 128)).save(path, optimize=True, pnginfo=info)


def artwork_marker() -> bytes:
    """Returns the bytes of the PNG text chunk that marks the placeholder artwork."""
    keyword, text = ARTWORK_MARKER
    return b"tEXt" + keyword.encode("latin-1") + b"\x00" + text.encode("latin-1")


def _chapters_yaml(media: Path) -> str:
    """Returns a `chapters:` block with the chapters inside a media file; raises FoCastError
    when it has none or cannot be read."""
    from fo_cast.media.probe import probe_chapters

    if not media.is_file():  # a pipe or a device would block the read, or never end it
        raise FoCastError(f"--chapters-from {media}: not a file; name the media file")
    try:
        marks = probe_chapters(media)
    except FoCastError as exc:
        raise FoCastError(f"--chapters-from {media}: {exc}") from None
    if not marks:
        raise FoCastError(f"--chapters-from {media}: the file has no chapters")
    lines = ["chapters:"]
    for mark in marks:
        seconds = mark.start / 1000
        start = _quoted(format_clock(seconds)) if mark.start % 1000 == 0 else f"{seconds:g}"
        lines.append(f"  - start: {start}")
        lines.append(f"    title: {_quoted(mark.title or 'Chapter')}")
    return "\n".join(lines) + "\n"


def new_episode(
    catalogue: Path,
    show: str,
    title: str,
    date: datetime | None = None,
    chapters_from: Path | None = None,
) -> Path:
    """Returns the episode.yaml written for a new draft episode with a freshly minted GUID
    (and the chapters found inside the media file chapters_from, if given)."""
    show_folder = catalogue / show
    if not (show_folder / SHOW_FILE).is_file():
        raise FoCastError(f"no show '{show}' in {catalogue} (no {show}/{SHOW_FILE})")
    refuse_outside(catalogue, show_folder)
    _check_title(title)
    chapters = _chapters_yaml(chapters_from) if chapters_from is not None else ""
    slug = slugify(title)
    name = f"{date:%Y-%m-%d}-{slug}" if date else slug
    folder = show_folder / name
    if os.path.lexists(folder):
        raise FoCastError(f"{folder} already exists; choose another title or date")
    folder.mkdir(parents=True)
    published = f"published: {date.isoformat()}\n" if date else ""
    # The GUID is minted here, once, and stored: never derived from the title, slug or URL,
    # so renaming or re-dating the episode later cannot change it.
    (folder / EPISODE_FILE).write_text(
        f"""# yaml-language-server: $schema=../../{SCHEMA_DIR}/episode.schema.json
guid: {uuid.uuid4()}
title: {_quoted(title)}
{published}status: draft
summary: {EPISODE_SUMMARY}
media: []  # add `- file: audio.mp3` (and `- file: video.mp4`) before publishing
{chapters}""",
        encoding="utf-8",
    )
    (folder / "companion.md").write_text(f"# {title}\n\n{COMPANION_STUB}\n", encoding="utf-8")
    write_schemas(catalogue)
    return folder / EPISODE_FILE
