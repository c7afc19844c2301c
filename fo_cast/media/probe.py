"""Media facts from mutagen: MediaInfo(duration, size, mime_type, ...). Knows nothing of feeds.

Results are cached by path, size and mtime, so re-validating an unchanged catalogue opens no
media at all.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, TypeVar

import mutagen
from mutagen.mp3 import MP3, BitrateMode
from mutagen.mp4 import MP4, Atoms

from fo_cast.errors import FoCastError
from fo_cast.limits import load_json
from fo_cast.media.tags import (
    ChapterMark,
    TagError,
    TagFields,
    bomb_in,
    fields_of_id3,
    fields_of_mp4,
    read_fields,
)
from fo_cast.rules import MEDIA_TYPES, check_media_name
from fo_cast.snapshot import SETTLE_NS
from fo_cast.state import atomic_write

if TYPE_CHECKING:
    from PIL.ImageFile import ImageFile

CACHE_VERSION = 3  # 2: MP4 durations from the movie header, AAC channels; 3: tag digests


class ProbeError(FoCastError):
    """The file is not readable media of the kind its name says."""


class LfsPointerError(ProbeError):
    """The file is a git-lfs pointer: git checked out the placeholder, not the media."""


LFS_POINTER = b"version https://git-lfs.github.com/spec/v1"
LFS_MESSAGE = "a git-lfs pointer, not the file itself; run `git lfs pull` to fetch it"


def is_lfs_pointer(head: bytes) -> bool:
    """Returns True when a file's first bytes are those of a git-lfs pointer file."""
    return head.startswith(LFS_POINTER)


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
    # digests of the fo-cast tags inside (media/tags.py TagFields.digests), None when the
    # file carries no fo-cast GUID tag: validate compares them with the manifest cheaply
    tags: str | None = None


def probe_media(path: Path) -> MediaInfo:
    """Returns the facts of one media file; raises ProbeError when it is not usable media."""
    suffix = path.suffix.lower()
    try:
        check_media_name(path.name)
    except ValueError as exc:
        raise ProbeError(str(exc)) from None
    try:
        size = path.stat().st_size
        with path.open("rb") as fileobj:
            return probe_stream(fileobj, size, suffix)
    except OSError as exc:
        raise ProbeError(f"cannot read it: {exc.strerror or exc}") from exc


def probe_stream(fileobj: BinaryIO, size: int, suffix: str) -> MediaInfo:
    """Returns the facts of media of `size` bytes read from a seekable fileobj (a local file
    or media/remote's reader over HTTP) named `suffix`; raises ProbeError if not usable."""
    if size == 0:
        raise ProbeError("the file is empty")
    try:
        head = fileobj.read(len(LFS_POINTER))
        fileobj.seek(0)
        if is_lfs_pointer(head):
            raise LfsPointerError(LFS_MESSAGE)
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
    except RecursionError:  # boxes in boxes (MP4) or frames in frames (ID3 CHAP), thousands deep
        raise ProbeError(
            "nested too deep for fo-cast to read (boxes in boxes, or tag frames in frames); "
            "re-encode the file"
        ) from None
    except (mutagen.MutagenError, struct.error, ValueError, EOFError, IndexError) as exc:
        raise ProbeError(f"mutagen cannot read it ({_short(exc)}); re-encode the file") from exc


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:120]


def _looks_like_mp4(head: bytes) -> bool:
    return head[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip")


def _probe_mp3(fileobj: BinaryIO, size: int) -> MediaInfo:
    if (bomb := bomb_in(fileobj)) is not None:
        raise ProbeError(bomb)
    try:
        audio = MP3(fileobj)
    except mutagen.MutagenError as exc:
        raise ProbeError(f"no MPEG audio found ({_short(exc)}); is it really an MP3?") from exc
    info = audio.info
    if info is None or info.length <= 0:
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
        tags=_digests(fields_of_id3(audio.tags)),
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
    atoms = Atoms(fileobj)
    width, height = _video_size(fileobj, atoms)
    info = audio.info
    if info is None:
        raise ProbeError("no media in the MP4; re-encode the file")
    # mutagen gives the audio track's length, encoder priming included (46 ms for AAC at
    # 22050 Hz); the movie header holds the duration players and ffprobe show.
    length = _movie_duration(fileobj, atoms) or info.length
    if length <= 0:
        raise ProbeError("no media in the MP4 (duration 0); re-encode the file")
    video = width is not None
    if suffix == ".m4a" and video:
        raise ProbeError("an .m4a file holds video; name it .mp4 or drop the video track")
    mime = MEDIA_TYPES[suffix] if video else "audio/x-m4a" if suffix == ".m4a" else "audio/mp4"
    return MediaInfo(
        size=size,
        mime_type=mime,
        duration=round(length, 3),
        kind="video" if video else "audio",
        container="mp4",
        codec=getattr(info, "codec", None) or None,
        bitrate=info.bitrate or None,
        sample_rate=info.sample_rate or None,
        channels=_aac_channels(fileobj, atoms) or info.channels or None,
        width=width,
        height=height,
        tags=_digests(fields_of_mp4(audio, round(length, 3))),
    )


def _digests(found: TagFields) -> str | None:
    return found.digests() if found.guid else None


def probe_chapters(path: Path, info: MediaInfo | None = None) -> tuple[ChapterMark, ...]:
    """Returns the chapters inside a media file (probed already as info, if given): ID3 CHAP
    frames, an MP4 Nero 'chpl' box, or (through ffprobe, when installed) a QuickTime chapter
    track. Raises ProbeError."""
    info = info or probe_media(path)
    try:
        marks = read_fields(path, info.duration).chapters
    except TagError as exc:
        raise ProbeError(str(exc)) from exc
    if marks or info.container != "mp4" or shutil.which("ffprobe") is None:
        return marks
    return _ffprobe_chapters(path)


def _ffprobe_chapters(path: Path) -> tuple[ChapterMark, ...]:
    command = ["ffprobe", "-v", "error", "-show_chapters", "-of", "json", str(path)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return ()
    try:
        chapters = json.loads(done.stdout).get("chapters", [])
        return tuple(
            ChapterMark(
                round(float(c["start_time"]) * 1000),
                round(float(c["end_time"]) * 1000),
                str(c.get("tags", {}).get("title", "")),
            )  # fmt: skip
            for c in chapters
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        return ()


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


def _movie_duration(fileobj: BinaryIO, atoms: Atoms) -> float | None:
    """Returns the duration in the movie header (mvhd) in seconds, or None."""
    try:
        ok, data = atoms.path(b"moov", b"mvhd")[-1].read(fileobj)
    except KeyError:
        return None
    if not ok or len(data) < 20:
        return None
    if data[0] == 1 and len(data) >= 32:
        timescale, duration = struct.unpack(">IQ", data[20:32])
    else:
        timescale, duration = struct.unpack(">II", data[12:20])
    return duration / timescale if timescale and duration else None


def _aac_channels(fileobj: BinaryIO, atoms: Atoms) -> int | None:
    """Returns the channels an AAC-LC track declares when it rules out SBR/PS, else None.

    mutagen reports the sample entry's channel count, which ffmpeg always writes as 2,
    whenever parametric stereo might turn mono into stereo. An AudioSpecificConfig that says
    explicitly "no SBR" (as ffmpeg writes it) rules PS out, so its channel count holds."""
    try:
        moov = atoms.path(b"moov")[-1]
        traks = list(moov.findall(b"trak"))
    except KeyError:
        return None
    for trak in traks:
        try:
            ok, stsd = trak[b"mdia", b"minf", b"stbl", b"stsd"].read(fileobj)
        except KeyError:
            continue
        at = stsd.find(b"esds")
        if not ok or stsd[12:16] != b"mp4a" or at < 0:
            continue
        config = _decoder_specific_info(stsd[at + 8 :])
        if config is None or len(config) < 4:
            return None
        bits = int.from_bytes(config[:4], "big")
        object_type, frequency, channels = bits >> 27, (bits >> 23) & 0xF, (bits >> 19) & 0xF
        if object_type != 2 or frequency == 15 or not 1 <= channels <= 2:
            return None
        # after GASpecificConfig's 3 bits: sync extension 0x2b7, object type 5, SBR flag 0
        tail = int.from_bytes(config, "big")
        rest = len(config) * 8 - 16
        if rest >= 17 and (tail >> (rest - 11)) & 0x7FF == 0x2B7:
            extension = (tail >> (rest - 16)) & 0x1F
            sbr = (tail >> (rest - 17)) & 1
            if extension == 5 and sbr == 0:
                return channels
        return None
    return None


def _decoder_specific_info(esds: bytes) -> bytes | None:
    """Returns the DecoderSpecificInfo (tag 5) bytes of an esds box body, or None."""
    position = 0
    while position < len(esds):
        tag = esds[position]
        position += 1
        size = 0
        for _ in range(4):
            if position >= len(esds):
                return None
            byte = esds[position]
            position += 1
            size = (size << 7) | (byte & 0x7F)
            if not byte & 0x80:
                break
        if tag == 0x03:  # ES_Descriptor: ES_ID, flags, optional fields, then children
            flags = esds[position + 2] if position + 2 < len(esds) else 0
            position += 3 + (2 if flags & 0x80 else 0) + (2 if flags & 0x20 else 0)
            if flags & 0x40 and position < len(esds):
                position += 1 + esds[position]
        elif tag == 0x04:  # DecoderConfigDescriptor: 13 fixed bytes, then children
            position += 13
        elif tag == 0x05:
            return esds[position : position + size]
        else:
            position += size
    return None


def _video_size(fileobj: BinaryIO, atoms: Atoms) -> tuple[int | None, int | None]:
    """Returns the first video track's width and height, or (None, None) for audio only."""
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


def cache_key(root: Path, path: Path) -> str:
    """Returns the probe cache's key for a media file: its path relative to the catalogue
    root, or its whole path for a file of the media folder outside it."""
    prefix = str(root) + os.sep
    return str(path)[len(prefix) :] if str(path).startswith(prefix) else str(path)


_Facts = TypeVar("_Facts", "MediaInfo", "ImageInfo")  # what ProbeCache keeps of a file


class ProbeCache:
    """Probe results by path, remembered with the file's size and mtime."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.entries: dict[str, dict[str, Any]] = {}
        # files modified within SETTLE_NS of being probed: their facts serve this run, and are
        # not saved (an edit in the same timestamp tick keeps size and mtime: git's "racily
        # clean" entries)
        self.fresh: set[str] = set()
        self.dirty = False
        if path is not None and path.is_file():
            try:
                data = load_json(path.read_text(encoding="utf-8"))
                if isinstance(data, dict) and data.get("version") == CACHE_VERSION:
                    entries = data["entries"]
                    self.entries = entries if isinstance(entries, dict) else {}
            except (OSError, ValueError, KeyError, TypeError):
                self.entries = {}

    def has(self, key: str, stat: os.stat_result) -> bool:
        """Returns True when the cache holds the facts of the file as it is."""
        entry = self.entries.get(key)
        return (
            isinstance(entry, dict)
            and entry.get("size") == stat.st_size
            and entry.get("mtime_ns") == stat.st_mtime_ns
        )

    def probe_many(self, wanted: list[tuple[Path, str, os.stat_result]]) -> None:
        """Probes the files the cache lacks on every core at once, remembering each result
        (probe() then finds them); a cold validate of many episodes waits half as long."""
        from fo_cast.workers import map_forked

        todo = [
            (str(path), key, stat.st_size, stat.st_mtime_ns)
            for path, key, stat in wanted
            if not self.has(key, stat)
        ]
        for key, record in map_forked(_probe_records, todo):
            self._keep(key, record)

    def probe(self, path: Path, key: str, stat: os.stat_result | None = None) -> MediaInfo:
        """Returns the cached facts for path if it has not changed, probing it otherwise."""
        return self._cached(path, key, stat or path.stat(), "info", MediaInfo, probe_media)

    def probe_image(self, path: Path, key: str) -> ImageInfo:
        """Returns the cached facts of an artwork file if it has not changed, probing it
        otherwise (a PNG's image data is inflated whole to know it is complete: some 10 ms
        for 1400 px, 100 ms for 3000, paid once per file)."""
        return self._cached(path, f"image:{key}", path.stat(), "image", ImageInfo, probe_image)

    def _cached(
        self,
        path: Path,
        key: str,
        stat: os.stat_result,
        name: str,
        kind: type[_Facts],
        probe: Callable[[Path], _Facts],
    ) -> _Facts:
        """Returns the facts (`kind`, kept under `name` in the entry) remembered for the file
        as it is, else those `probe` finds, remembered with its size and mtime; a ProbeError
        is remembered too, and raised again while the file is unchanged."""
        entry = self.entries.get(key)
        if self.has(key, stat):
            assert entry is not None
            if "error" in entry:
                raise ProbeError(str(entry["error"]))
            try:
                return kind(**entry[name])
            except (KeyError, TypeError):
                pass  # written by another version: probe again
        record: dict[str, Any] = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
        self._keep(key, record)
        try:
            info = probe(path)
        except ProbeError as exc:
            record["error"] = str(exc)
            raise
        record[name] = asdict(info)
        return info

    def _keep(self, key: str, record: dict[str, Any]) -> None:
        self.entries[key] = record
        self.dirty = True
        if time.time_ns() - int(record["mtime_ns"]) < SETTLE_NS:
            self.fresh.add(key)
        else:
            self.fresh.discard(key)

    def remember(self, path: Path, key: str, info: MediaInfo) -> None:
        """Records what a file that fo-cast has just written holds, so it is not probed again."""
        stat = path.stat()
        self.entries[key] = {
            "size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "info": asdict(info)
        }  # fmt: skip
        self.dirty = True

    def save(self) -> None:
        """Writes the cache atomically; a cache that cannot be written is only slower."""
        if self.path is None or not self.dirty:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            entries = self.entries
            if self.fresh:
                entries = {k: v for k, v in entries.items() if k not in self.fresh}
            payload = {"version": CACHE_VERSION, "entries": entries}
            atomic_write(self.path, json.dumps(payload, sort_keys=True))
            self.dirty = False
        except OSError:
            pass


def _probe_records(items: list[tuple[str, str, int, int]]) -> list[tuple[str, dict[str, Any]]]:
    """Returns the cache records of (path, key, size, mtime_ns) items (in a worker process);
    a file that fails in an unexpected way gets none, and is probed again where it is used."""
    records = []
    for path, key, size, mtime_ns in items:
        record: dict[str, Any] = {"size": size, "mtime_ns": mtime_ns}
        try:
            record["info"] = asdict(probe_media(Path(path)))
        except ProbeError as exc:
            record["error"] = str(exc)
        except Exception:  # noqa: BLE001 - probe() meets it again and reports it as usual
            continue
        records.append((key, record))
    return records


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
    """Returns the format, colour mode and pixel size of an image; raises ProbeError if none,
    or if the image is truncated or damaged (tag could not make a cover of it)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with path.open("rb") as fileobj:
            if is_lfs_pointer(fileobj.read(len(LFS_POINTER))):
                raise LfsPointerError(f"is {LFS_MESSAGE}")
            size = os.fstat(fileobj.fileno()).st_size
            fileobj.seek(max(size - 2, 0))
            tail = fileobj.read(2)
            fileobj.seek(0)
            with Image.open(fileobj) as image:
                info = ImageInfo(
                    format=image.format or "unknown",
                    mode=image.mode,
                    width=image.width,
                    height=image.height,
                    size=size,
                )
                _check_complete(image, tail)
            if info.format == "PNG":
                _check_png_data(fileobj)
            return info
    except UnidentifiedImageError:
        # Pillow's message names the absolute path; the problem already names the file
        raise ProbeError("is not an image fo-cast can read; save it as JPEG or PNG") from None
    except Image.DecompressionBombError:
        raise ProbeError("has too many pixels to open safely; use 1400 to 3000 px") from None
    except ValueError:  # a text or colour-profile chunk past PngImagePlugin.MAX_TEXT_CHUNK
        raise ProbeError(
            "has a text or colour-profile chunk too large to unpack safely; "
            "save the image again without metadata"
        ) from None
    except (OSError, SyntaxError) as exc:
        if isinstance(exc, OSError) and exc.strerror:  # the file system's, not Pillow's
            raise ProbeError(f"cannot be read ({exc.strerror})") from exc
        # Pillow's "image file is truncated", "Truncated File Read", "broken PNG file"
        raise ProbeError(f"is truncated or damaged ({exc}); export it again") from None


_JPEG_END = b"\xff\xd9"  # the EOI marker


def _check_complete(image: ImageFile, tail: bytes) -> None:
    """Raises Pillow's OSError or SyntaxError when the open image's data stops short or is
    damaged (a truncated file, a bad checksum).

    Cheaply, not by decoding every pixel (validate opens every artwork): a PNG's chunks are
    read through to IEND with their checksums (verify(); probe_image then inflates its image
    data, see _check_png_data); a JPEG that ends in its end marker is taken as whole, and
    one that does not (truncated, or with bytes after the image) is decoded at an eighth of
    its size, which reads all its data.
    """
    if image.format == "JPEG":
        if tail != _JPEG_END:
            image.draft(None, (1, 1))
            image.load()
    else:
        image.verify()


_PNG_SIGNATURE = 8  # bytes before the first chunk
_INFLATE_IN = 64 * 1024  # compressed bytes read at a time
_INFLATE_OUT = 1024 * 1024  # the most inflated bytes held at once


def _check_png_data(fileobj: BinaryIO) -> None:
    """Raises ProbeError unless the PNG's IDAT chunks hold one whole, undamaged zlib stream.

    A chunk's CRC is computed over bytes that may already be wrong (an encoder's bug, a
    tool that rewrote the chunks of a damaged file), so verify() passes such a file, and
    Pillow fails on it only when it decodes the pixels: in `fo-cast tag`, or in a podcast
    app. Inflating the whole stream, up to its Adler-32, tells; the output is thrown away
    as it comes, at most _INFLATE_OUT bytes at a time, however large the image. Called
    after verify(), so the chunks are known to be whole up to IEND.
    """
    inflater = zlib.decompressobj()
    try:
        for data in _png_idat(fileobj):
            while True:
                out = inflater.decompress(data, _INFLATE_OUT)
                data = inflater.unconsumed_tail
                # output held back by the limit needs another call, even with no input left
                if inflater.eof or (not data and len(out) < _INFLATE_OUT):
                    break
    except zlib.error as exc:
        reason = f"its image data is damaged: {exc}"
        raise ProbeError(f"is truncated or damaged ({reason}); export it again") from None
    if not inflater.eof:
        raise ProbeError("is truncated or damaged (its image data stops short); export it again")


def _png_idat(fileobj: BinaryIO) -> Iterator[bytes]:
    """Yields the data of a PNG's IDAT chunks, _INFLATE_IN bytes at most at a time."""
    fileobj.seek(_PNG_SIGNATURE)
    while len(header := fileobj.read(8)) == 8:
        length, kind = struct.unpack(">I4s", header)
        if kind == b"IEND":
            return
        if kind != b"IDAT":
            fileobj.seek(length + 4, os.SEEK_CUR)  # the data and its CRC
            continue
        while length > 0 and (piece := fileobj.read(min(length, _INFLATE_IN))):
            length -= len(piece)
            yield piece
        fileobj.seek(4, os.SEEK_CUR)


@dataclass
class Probed:
    """Facts of every local file the build will need: media by path, artwork by path."""

    media: dict[Path, MediaInfo] = field(default_factory=dict)
    images: dict[Path, ImageInfo] = field(default_factory=dict)
