"""Hostile files, generated: each is small on disk and built to exhaust a parser (recursion
depth, decompression, memory). `HOSTILE` maps a case name to a function that plants it in a
copy of the sample catalogue; tests/test_safety.py runs the CLI over each as a subprocess."""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

EPISODE = "talks/2024-08-04-middle-east-part-1"
MB = 1024 * 1024


def _append(path: Path, text: str) -> None:
    path.write_text(path.read_text(encoding="utf-8") + text, encoding="utf-8")


def _set(catalogue: Path, rel: str, data: bytes | str) -> None:
    path = catalogue / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)


# --- structured text -------------------------------------------------------------------------


def yaml_flow_sequences(depth: int) -> str:
    return "deep: " + "[" * depth + "x" + "]" * depth + "\n"


def yaml_flow_mappings(depth: int) -> str:
    return "deep: " + "{a: " * depth + "x" + "}" * depth + "\n"


def yaml_block_mappings(depth: int) -> str:
    return (
        "deep:\n"
        + "".join("  " * (n + 1) + "a:\n" for n in range(depth))
        + "  " * (depth + 1)
        + "x\n"
    )


def yaml_block_sequences(depth: int) -> str:
    return "deep:\n" + "".join("  " * n + "- \n" for n in range(1, depth)) + "  " * depth + "- x\n"


def toml_arrays(depth: int) -> str:
    return "deep = " + "[" * depth + "1" + "]" * depth + "\n"


def toml_tables(depth: int) -> str:
    return "deep = " + "{a = " * depth + "1" + "}" * depth + "\n"


def json_arrays(depth: int) -> str:
    return "[" * depth + "]" * depth


def json_objects(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


# --- media -----------------------------------------------------------------------------------


def _box(name: bytes, payload: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(payload), name) + payload


def mp4_nested_boxes(depth: int, name: bytes = b"moov") -> bytes:
    """An MP4 whose moov box holds a box that holds a box ... depth levels down."""
    inner = _box(b"free", b"")
    for _ in range(depth - 1):
        inner = _box(name, inner)
    inner = _box(b"moov", inner)
    ftyp = _box(b"ftyp", b"M4A \x00\x00\x00\x00M4A mp42isom")
    return ftyp + inner


def _syncsafe(n: int) -> bytes:
    return bytes([(n >> 21) & 0x7F, (n >> 14) & 0x7F, (n >> 7) & 0x7F, n & 0x7F])


def mp3_nested_chapters(depth: int) -> bytes:
    """An MP3 whose ID3v2.4 tag holds a CHAP frame inside a CHAP frame ... depth levels down,
    then one real MPEG frame of silence."""
    frame = b""
    for n in range(depth):
        body = f"c{n}".encode() + b"\x00" + struct.pack(">IIII", 0, 1000, 0xFFFFFFFF, 0xFFFFFFFF)
        body += frame
        frame = b"CHAP" + _syncsafe(len(body)) + b"\x00\x00" + body
    tag = b"ID3\x04\x00\x00" + _syncsafe(len(frame)) + frame
    mpeg = b"\xff\xfb\x90\x64" + b"\x00" * 413  # MPEG-1 layer III, 128 kb/s, 44.1 kHz
    return tag + mpeg * 40


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_with_chunk(kind: str, inflated: int = 64 * MB) -> bytes:
    """A 1400 x 1400 RGB PNG whose zTXt, iTXt or iCCP chunk inflates to `inflated` bytes."""
    bomb = zlib.compress(b"\x00" * inflated, 9)
    if kind == "zTXt":
        chunk = _chunk(b"zTXt", b"Comment\x00\x00" + bomb)
    elif kind == "iTXt":
        chunk = _chunk(b"iTXt", b"Comment\x00\x01\x00\x00\x00" + bomb)
    elif kind == "iCCP":
        chunk = _chunk(b"iCCP", b"profile\x00\x00" + bomb)
    else:
        raise ValueError(kind)
    width = height = 1400
    ihdr = _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
    rows = zlib.compress((b"\x00" + b"\x80" * (3 * width)) * height, 9)
    return b"\x89PNG\r\n\x1a\n" + ihdr + chunk + _chunk(b"IDAT", rows) + _chunk(b"IEND", b"")


# --- the family: name -> what it does to a catalogue ------------------------------------------

Plant = Callable[[Path], None]
EP_YAML = f"{EPISODE}/episode.yaml"
COMPANION = f"{EPISODE}/companion.md"


def _episode(text: str) -> Plant:
    return lambda cat: _append(cat / EP_YAML, text)


def _show(text: str) -> Plant:
    return lambda cat: _append(cat / "talks/show.yaml", text)


def _settings(text: str) -> Plant:
    return lambda cat: _append(cat / "fo-cast.toml", "\n" + text)


def _file(rel: str, data: Callable[[], bytes | str]) -> Plant:
    return lambda cat: _set(cat, rel, data())


def _renamed_media(name: str, data: Callable[[], bytes]) -> Plant:
    def plant(cat: Path) -> None:
        (cat / EPISODE / "audio.mp3").unlink()
        _set(cat, f"{EPISODE}/{name}", data())
        manifest = cat / EP_YAML
        manifest.write_text(
            manifest.read_text(encoding="utf-8").replace("file: audio.mp3", f"file: {name}"),
            encoding="utf-8",
        )

    return plant


# Cases that are problems in the catalogue: validate and build exit 1, naming the file.
HOSTILE: dict[str, tuple[Plant, str]] = {
    "episode-yaml-flow-800": (_episode(yaml_flow_sequences(800)), EP_YAML),
    "episode-yaml-flow-maps-800": (_episode(yaml_flow_mappings(800)), EP_YAML),
    "episode-yaml-flow-5000": (_episode(yaml_flow_sequences(5000)), EP_YAML),
    "episode-yaml-block-800": (_episode(yaml_block_mappings(800)), EP_YAML),
    "episode-yaml-block-seq-800": (_episode(yaml_block_sequences(800)), EP_YAML),
    "show-yaml-flow-800": (_show(yaml_flow_mappings(800)), "talks/show.yaml"),
    "show-yaml-block-800": (_show(yaml_block_mappings(800)), "talks/show.yaml"),
    "settings-toml-arrays-2000": (_settings(toml_arrays(2000)), "fo-cast.toml"),
    "settings-toml-tables-2000": (_settings(toml_tables(2000)), "fo-cast.toml"),
    "settings-toml-arrays-100000": (_settings(toml_arrays(100_000)), "fo-cast.toml"),
    # The HTML sanitiser takes time growing with the square of block nesting (minutes here).
    "companion-quotes-100000": (_file(COMPANION, lambda: ">" * 100_000 + " x\n"), COMPANION),
    "companion-lists-100000": (_file(COMPANION, lambda: "- " * 100_000 + "x\n"), COMPANION),
    "companion-indent-3000": (
        _file(COMPANION, lambda: "".join("  " * n + "- x\n" for n in range(3000))),
        COMPANION,
    ),
    "companion-html-100000": (_file(COMPANION, lambda: "<ul><li>" * 100_000), COMPANION),
    "mp4-moov-3000": (_file(f"{EPISODE}/video.mp4", lambda: mp4_nested_boxes(3000)), EP_YAML),
    "m4a-trak-3000": (
        _renamed_media("audio.m4a", lambda: mp4_nested_boxes(3000, b"trak")),
        EP_YAML,
    ),
    "mp3-chap-3000": (_file(f"{EPISODE}/audio.mp3", lambda: mp3_nested_chapters(3000)), EP_YAML),
    "png-ztxt-64mb": (
        _file("talks/artwork.png", lambda: png_with_chunk("zTXt")),
        "talks/show.yaml",
    ),
    "png-itxt-64mb": (
        _file("talks/artwork.png", lambda: png_with_chunk("iTXt")),
        "talks/show.yaml",
    ),
    "png-iccp-64mb": (
        _file("talks/artwork.png", lambda: png_with_chunk("iCCP")),
        "talks/show.yaml",
    ),
}

# fo-cast's own caches, damaged or hostile: ignored (a rebuild costs time), never a traceback.
CACHES: dict[str, Plant] = {
    "manifest-cache-deep": _file(".fo-cast/manifests.json", lambda: json_arrays(100_000)),
    "manifest-cache-objects": _file(".fo-cast/manifests.json", lambda: json_objects(100_000)),
    "probe-cache-deep": _file(".fo-cast/probe.json", lambda: json_arrays(100_000)),
    "probe-cache-entries": _file(
        ".fo-cast/probe.json",
        lambda: (
            json.dumps({"version": 1, "entries": {"x": [1, 2]}})[:-2] + json_arrays(9000) + "}}"
        ),
    ),
    "hash-cache-deep": _file(".fo-cast/hashes.json", lambda: json_objects(100_000)),
    "render-cache-deep": _file(".fo-cast/render/pages.json", lambda: json_arrays(100_000)),
    "render-cache-feeds-deep": _file(".fo-cast/render/feeds.json", lambda: json_objects(100_000)),
}

__all__ = ["CACHES", "EPISODE", "HOSTILE", "mp4_nested_boxes", "png_with_chunk"]
