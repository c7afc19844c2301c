"""Media facts from mutagen: MediaInfo(duration, size, mime_type, ...). Knows nothing of feeds.

Results are cached by path, size and mtime, so re-validating an unchanged catalogue opens no
media at all.
"""

from __future__ import annotations

import json
import os
import struct
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, BinaryIO

import mutagen
from mutagen.mp3 import MP3, BitrateMode
from mutagen.mp4 import MP4, Atoms

from fo_cast.errors import FoCastError
from fo_cast.rules import MEDIA_TYPES

CACHE_VERSION = 1


class ProbeError(FoCastError):
    """The file is not readable media of the kind its name says."""


@dataclass(frozen=True)
class MediaInfo:
    """What fo-cast knows of one media file."""

    size: int
    mime_type: str
    duration: float  # seconds
    kind: str  # "audio" or "video"
    container: str  # "mp3" or "mp4"
    codec: str | None = None
    bitrate: int | None = None  # bits per second
    sample_rate: int | None = None
    channels: int | None = None
    vbr: bool = False
    width: int | None = None
    height: int | None = None


def probe_media(path: Path) -> MediaInfo:
    """Returns the facts of one media file; raises ProbeError when it is not usable media."""
    suffix = path.suffix.lower()
    if suffix not in MEDIA_TYPES:
        allowed = ", ".join(sorted(MEDIA_TYPES))
        raise ProbeError(f"'{suffix or path.name}' is not a media type Apple accepts ({allowed})")
    try:
        size = path.stat().st_size
        if size == 0:
            raise ProbeError("the file is empty")
        with path.open("rb") as fileobj:
            head = fileobj.read(12)
            fileobj.seek(0)
            if suffix == ".mp3":
                if _looks_like_mp4(head):
                    raise ProbeError("this is an MP4/M4A file named .mp3; rename it to .m4a")
                return _probe_mp3(fileobj, size)
            if not _looks_like_mp4(head):
                if head.startswith(b"ID3") or head[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"):
                    raise ProbeError(f"this is an MP3 file named {suffix}; rename it to .mp3")
                raise ProbeError(f"not an MP4 file (no 'ftyp' box); is it really {suffix}?")
            return _probe_mp4(fileobj, size, suffix)
    except ProbeError:
        raise
    except (mutagen.MutagenError, struct.error, ValueError, EOFError, IndexError) as exc:
        raise ProbeError(f"mutagen cannot read it ({_short(exc)}); re-encode the file") from exc
    except OSError as exc:
        raise ProbeError(f"cannot read it: {exc.strerror or exc}") from exc


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:120]


def _looks_like_mp4(head: bytes) -> bool:
    return head[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip")


def _probe_mp3(fileobj: BinaryIO, size: int) -> MediaInfo:
    try:
        audio = MP3(fileobj)
    except mutagen.MutagenError as exc:
        raise ProbeError(f"no MPEG audio found ({_short(exc)}); is it really an MP3?") from exc
    info = audio.info
    if info.length <= 0:
        raise ProbeError("no audio frames; re-encode the file")
    declared = _xing_bytes(fileobj)
    if declared is not None and declared > size * 1.01:
        raise ProbeError(
            f"truncated: its header promises {declared} bytes of audio but the file has {size}"
        )
    return MediaInfo(
        size=size,
        mime_type="audio/mpeg",
        duration=round(info.length, 3),
        kind="audio",
        container="mp3",
        codec="mp3",
        bitrate=info.bitrate or None,
        sample_rate=info.sample_rate or None,
        channels=info.channels or None,
        vbr=info.bitrate_mode in (BitrateMode.VBR, BitrateMode.ABR),
    )


def _xing_bytes(fileobj: BinaryIO) -> int | None:
    """Returns the stream size a Xing/Info/VBRI header declares, or None."""
    fileobj.seek(0)
    head = fileobj.read(10)
    start = 0
    if head[:3] == b"ID3" and len(head) == 10:
        start = 10 + ((head[6] << 21) | (head[7] << 14) | (head[8] << 7) | head[9])
        if head[5] & 0x10:
            start += 10
    fileobj.seek(start)
    frame = fileobj.read(1024)
    for marker in (b"Xing", b"Info"):
        at = frame.find(marker)
        if 0 <= at < 200 and len(frame) >= at + 16:
            (flags,) = struct.unpack(">I", frame[at + 4 : at + 8])
            offset = at + 8 + (4 if flags & 1 else 0)
            if flags & 2:
                (count,) = struct.unpack(">I", frame[offset : offset + 4])
                return int(count) + start
            return None
    at = frame.find(b"VBRI")
    if 0 <= at < 200 and len(frame) >= at + 14:
        (count,) = struct.unpack(">I", frame[at + 10 : at + 14])
        return int(count) + start
    return None


def _probe_mp4(fileobj: BinaryIO, size: int, suffix: str) -> MediaInfo:
    _check_boxes(fileobj, size)
    fileobj.seek(0)
    try:
        audio = MP4(fileobj)
    except mutagen.MutagenError as exc:
        raise ProbeError(f"mutagen cannot read the MP4 ({_short(exc)}); re-encode it") from exc
    fileobj.seek(0)
    width, height = _video_size(fileobj)
    info = audio.info
    if info.length <= 0:
        raise ProbeError("no media in the MP4 (duration 0); re-encode the file")
    video = width is not None
    if suffix == ".m4a" and video:
        raise ProbeError("an .m4a file holds video; name it .mp4 or drop the video track")
    mime = MEDIA_TYPES[suffix] if video else "audio/x-m4a" if suffix == ".m4a" else "audio/mp4"
    return MediaInfo(
        size=size,
        mime_type=mime,
        duration=round(info.length, 3),
        kind="video" if video else "audio",
        container="mp4",
        codec=getattr(info, "codec", None) or None,
        bitrate=info.bitrate or None,
        sample_rate=info.sample_rate or None,
        channels=info.channels or None,
        width=width,
        height=height,
    )


def _check_boxes(fileobj: BinaryIO, size: int) -> None:
    """Raises ProbeError when the top-level MP4 boxes do not fill the file exactly."""
    position, names = 0, []
    while position < size:
        fileobj.seek(position)
        header = fileobj.read(16)
        if len(header) < 8:
            raise ProbeError(f"truncated: a box header is cut off at byte {position}")
        length, name = struct.unpack(">I4s", header[:8])
        if length == 1 and len(header) >= 16:
            (length,) = struct.unpack(">Q", header[8:16])
        elif length == 0:
            length = size - position
        if length < 8:
            raise ProbeError(f"damaged: a box at byte {position} has length {length}")
        if position + length > size:
            box = name.decode("latin-1")
            raise ProbeError(
                f"truncated: the '{box}' box needs {position + length} bytes, the file has {size}"
            )
        names.append(name)
        position += length
    if b"moov" not in names:
        raise ProbeError("no 'moov' box: the file was not finished; re-encode it")


def _video_size(fileobj: BinaryIO) -> tuple[int | None, int | None]:
    """Returns the first video track's width and height, or (None, None) for audio only."""
    atoms = Atoms(fileobj)
    try:
        moov = atoms.path(b"moov")[-1]
    except KeyError:
        return None, None
    for trak in moov.findall(b"trak"):
        try:
            hdlr = trak[b"mdia", b"hdlr"]
            tkhd = trak[(b"tkhd",)]
        except KeyError:
            continue
        ok, hdlr_data = hdlr.read(fileobj)
        if not ok or hdlr_data[8:12] != b"vide":
            continue
        ok, tkhd_data = tkhd.read(fileobj)
        if ok and len(tkhd_data) >= 8:
            width, height = struct.unpack(">II", tkhd_data[-8:])
            return width >> 16, height >> 16
    return None, None


class ProbeCache:
    """Probe results by path, remembered with the file's size and mtime."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.entries: dict[str, dict[str, Any]] = {}
        self.dirty = False
        if path is not None and path.is_file():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                if data.get("version") == CACHE_VERSION:
                    self.entries = data["entries"]
            except (OSError, ValueError, KeyError, TypeError):
                self.entries = {}

    def probe(self, path: Path, key: str) -> MediaInfo:
        """Returns the cached facts for path if it has not changed, probing it otherwise."""
        stat = path.stat()
        entry = self.entries.get(key)
        if entry and entry["size"] == stat.st_size and entry["mtime_ns"] == stat.st_mtime_ns:
            if "error" in entry:
                raise ProbeError(entry["error"])
            return MediaInfo(**entry["info"])
        record: dict[str, Any] = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
        self.entries[key] = record
        self.dirty = True
        try:
            info = probe_media(path)
        except ProbeError as exc:
            record["error"] = str(exc)
            raise
        record["info"] = asdict(info)
        return info

    def save(self) -> None:
        """Writes the cache atomically; a cache that cannot be written is only slower."""
        if self.path is None or not self.dirty:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(
                json.dumps({"version": CACHE_VERSION, "entries": self.entries}, sort_keys=True),
                encoding="utf-8",
            )
            os.replace(tmp, self.path)
            self.dirty = False
        except OSError:
            pass


@dataclass(frozen=True)
class ImageInfo:
    """What fo-cast knows of one artwork file."""

    format: str  # "JPEG" or "PNG" (or what Pillow found)
    mode: str  # "RGB", "RGBA", "CMYK", "P", ...
    width: int
    height: int
    size: int

    @property
    def mime_type(self) -> str:
        return {"JPEG": "image/jpeg", "PNG": "image/png"}.get(self.format, "image/unknown")


def probe_image(path: Path) -> ImageInfo:
    """Returns the format, colour mode and pixel size of an image; raises ProbeError if none."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            return ImageInfo(
                format=image.format or "unknown",
                mode=image.mode,
                width=image.width,
                height=image.height,
                size=path.stat().st_size,
            )
    except (UnidentifiedImageError, Image.DecompressionBombError) as exc:
        raise ProbeError(f"not an image Pillow can read ({_short(exc)})") from exc
    except OSError as exc:
        raise ProbeError(f"cannot read it: {exc.strerror or exc}") from exc
