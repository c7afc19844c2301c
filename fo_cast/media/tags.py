"""Tags inside the media: what `fo-cast tag` writes into each episode's files, and reads back.

MP3 files get an ID3 v2.3 tag (v2.4 chapter titles over 51 characters break Apple's chapter
display, and v2.3 is what every app reads): title, artist, album, date, track/season, the
summary (TDES and COMM), the episode GUID (TGID), the feed URL (WFED), the podcast flag
(PCST), the cover (APIC) and the chapters (CHAP frames under one top-level, ordered CTOC
with its own title). MP4/M4A files get the iTunes atoms (©nam, ©ART, ©alb, ©day, desc, ldes,
trkn, disk, egid, purl, pcst, covr); their chapters are written by Debian's ffmpeg when it is
installed (a Nero `chpl` box and a QuickTime chapter track, audio copied as it is), and not
at all without it.

What a file should carry, and the command, live in tagging.py. Writing happens on a
copy beside the file, which then replaces it in one rename: a crash leaves the old file or
the new one. Frames and padding are written in a fixed order and size, so the same tags
give the same bytes.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import hashlib
import io
import json
import os
import shutil
import subprocess
import tempfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

import mutagen
from mutagen.id3 import (
    APIC,
    CHAP,
    COMM,
    CTOC,
    ID3,
    PCST,
    TALB,
    TDES,
    TDRC,
    TGID,
    TIT2,
    TPE1,
    TPOS,
    TRCK,
    WFED,
    WXXX,
    CTOCFlags,
    Encoding,
    ID3NoHeaderError,
    PictureType,
)
from mutagen.mp4 import MP4, MP4Cover

from fo_cast.errors import FoCastError
from fo_cast.workers import process_running

COVER_SIZE = 1400  # px: the smallest square Apple accepts, and small enough for every app
COVER_QUALITY = 85
PADDING = 1024  # bytes after an ID3 tag or in an MP4 'free' box: fixed, so bytes repeat
TOC_TITLE = "Chapters"

# ID3 frames fo-cast owns: replaced as a whole, whatever another tool put there
_ID3_OWNED = (
    "TIT2", "TPE1", "TALB", "TDRC", "TYER", "TDAT", "TIME", "TRCK", "TPOS", "TDES", "COMM",
    "TGID", "WFED", "PCST", "APIC", "CHAP", "CTOC",
)  # fmt: skip
_MP4_OWNED = (
    "©nam", "©ART", "©alb", "©day", "desc", "ldes", "trkn", "disk", "egid", "purl", "pcst",
    "covr",
)  # fmt: skip


class TagError(FoCastError):
    """A media file could not be tagged (unreadable tags, ffmpeg failed)."""


MAX_INFLATED = 16 << 20  # bytes a compressed ID3 frame may inflate to (a cover is far less)


def inflation_bomb(head: bytes) -> str | None:
    """Returns why an ID3v2 tag at the start of `head` must not be parsed, or None.

    mutagen inflates every zlib-compressed frame whole: a 1 MB file whose frame inflates to
    1 GiB took 3 GB to validate and 5 GB to tag. Each compressed frame is inflated here up
    to MAX_INFLATED bytes first; past that the file is refused, before mutagen reads it.
    """
    if len(head) < 10 or head[:3] != b"ID3" or head[3] not in (3, 4):
        return None  # no tag, or v2.2, which has no compressed frames
    major, flags = head[3], head[5]
    end = 10 + _syncsafe(head[6:10])
    body = head[10:end]
    if major == 3 and flags & 0x80:  # the whole tag unsynchronised
        body = body.replace(b"\xff\x00", b"\xff")
    at = 0
    if flags & 0x40 and len(body) >= 4:  # an extended header
        at = _syncsafe(body[:4]) if major == 4 else int.from_bytes(body[:4], "big") + 4
    while at + 10 <= len(body) and body[at : at + 1] not in (b"\x00", b""):
        name = body[at : at + 4].decode("latin-1")
        sized = body[at + 4 : at + 8]
        size = _syncsafe(sized) if major == 4 else int.from_bytes(sized, "big")
        form = body[at + 9]
        data = body[at + 10 : at + 10 + size]
        at += 10 + size
        compressed = form & (0x08 if major == 4 else 0x80)
        if not compressed:
            continue
        if major == 4:
            if form & 0x02:  # this frame unsynchronised
                data = data.replace(b"\xff\x00", b"\xff")
            data = data[4:] if form & 0x01 else data  # the data length indicator
        else:
            data = data[4:]  # v2.3: the inflated size, then the data
        inflater = zlib.decompressobj()
        try:
            inflated = inflater.decompress(data, MAX_INFLATED + 1)
        except zlib.error:
            continue  # mutagen reports a frame it cannot inflate
        if len(inflated) > MAX_INFLATED:
            return (
                f"its ID3 frame {name!r} inflates past {MAX_INFLATED >> 20} MB (a "
                "compression bomb); remove the tag, for example with ffmpeg -map_metadata -1"
            )
    return None


def bomb_in(fileobj: BinaryIO) -> str | None:
    """Returns inflation_bomb() of the ID3v2 tag at the start of an open file, leaving the
    file where it was."""
    where = fileobj.tell()
    try:
        fileobj.seek(0)
        header = fileobj.read(10)
        if len(header) < 10 or header[:3] != b"ID3":
            return None
        return inflation_bomb(header + fileobj.read(_syncsafe(header[6:10])))
    finally:
        fileobj.seek(where)


def _refuse_bomb(path: Path) -> None:
    with open(path, "rb") as file:
        why = bomb_in(file)
    if why is not None:
        raise TagError(f"{path}: {why}")


def _syncsafe(four: bytes) -> int:
    return sum((b & 0x7F) << (7 * (3 - n)) for n, b in enumerate(four[:4]))


class ChapterMark(NamedTuple):
    """A chapter as the file holds it: times in milliseconds."""

    start: int
    end: int
    title: str
    url: str | None = None


class TagFields(NamedTuple):
    """The fo-cast tags of one file, as it has them or as it should have them (a NamedTuple:
    validate makes one per tagged file, and a tuple is quick to make and to digest)."""

    title: str | None = None
    artist: str | None = None
    album: str | None = None
    date: str | None = None  # YYYY-MM-DD, UTC
    episode: str | None = None
    season: str | None = None
    summary: str | None = None
    comment: str | None = None  # ID3 COMM / MP4 desc: the summary again, for older apps
    guid: str | None = None
    feed_url: str | None = None
    podcast: bool = False
    chapters: tuple[ChapterMark, ...] = ()
    toc_title: str | None = None
    cover: str | None = None  # sha256 of the embedded image
    version: str | None = None  # "2.3" for an ID3 v2.3 tag; None for MP4

    def digests(self) -> str:
        """Returns the digest of every field but the cover, then one of each field in order:
        DIGEST_SIZE hex characters each (one short string keeps the probe cache small)."""
        return self.overall() + "".join(_digest(repr(value)) for value in self)

    def overall(self) -> str:
        """Returns the digest of every field but the cover (what validate compares first)."""
        return _digest(repr(self[:_COVER] + self[_COVER + 1 :]))

    def differences(self, other: TagFields) -> list[str]:
        """Returns the names of the fields that differ from other, in field order."""
        names: list[str] = []
        for (_, name), mine, theirs in zip(_DIGESTED, self, other, strict=True):
            if mine != theirs and name not in names:
                names.append(name)
        return names


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=DIGEST_SIZE // 2).hexdigest()


DIGEST_SIZE = 12  # hex characters
_FIELD_NAMES = {
    "comment": "summary",
    "feed_url": "feed URL",
    "podcast": "podcast flag",
    "toc_title": "chapters",
    "guid": "GUID",
    "version": "ID3 version",
}
_DIGESTED = [(name, _FIELD_NAMES.get(name, name)) for name in TagFields._fields]
_COVER = TagFields._fields.index("cover")


def differing(found: str, wanted: str, leave_out: tuple[str, ...] = ()) -> list[str]:
    """Returns the names of the fields whose digests differ (both from TagFields.digests),
    in field order; a digest of another length (another version) differs everywhere."""
    names: list[str] = []
    for index, (_, name) in enumerate(_DIGESTED):
        at = DIGEST_SIZE * (index + 1)
        mine, theirs = found[at : at + DIGEST_SIZE], wanted[at : at + DIGEST_SIZE]
        changed = mine != theirs or len(found) != len(wanted)
        if changed and name not in leave_out and name not in names:
            names.append(name)
    return names


# Reading


def fields_of_id3(tags: ID3 | None) -> TagFields:
    """Returns the fo-cast fields of an ID3 tag as mutagen loaded it (v2.4 view)."""
    if tags is None:
        return TagFields()
    pcst = tags.get("PCST")
    wfed = tags.get("WFED")
    comments = tags.getall("COMM")
    pictures = [p for p in tags.getall("APIC") if p.type == PictureType.COVER_FRONT]
    tocs = [t for t in tags.getall("CTOC") if t.flags & CTOCFlags.TOP_LEVEL]
    chapters: tuple[ChapterMark, ...] = ()
    toc_title = None
    if tocs:
        toc = tocs[0]
        toc_title = _text(toc.sub_frames, "TIT2")
        if toc.flags & CTOCFlags.ORDERED:
            by_id = {c.element_id: c for c in tags.getall("CHAP")}
            chapters = tuple(_mark(by_id[i]) for i in toc.child_element_ids if i in by_id)
    elif tags.getall("CHAP"):
        marks = sorted(tags.getall("CHAP"), key=lambda c: c.start_time)
        chapters = tuple(_mark(c) for c in marks)
    return TagFields(
        title=_text(tags, "TIT2"),
        artist=_text(tags, "TPE1"),
        album=_text(tags, "TALB"),
        date=_text(tags, "TDRC"),
        episode=_text(tags, "TRCK"),
        season=_text(tags, "TPOS"),
        summary=_text(tags, "TDES"),
        comment="\n".join(comments[0].text) if comments else None,
        guid=_text(tags, "TGID"),
        feed_url=wfed.url if wfed is not None else None,
        podcast=bool(pcst is not None and pcst.value),
        chapters=chapters,
        toc_title=toc_title,
        cover=hashlib.sha256(pictures[0].data).hexdigest() if pictures else None,
        version=".".join(map(str, tags.version[:2])),
    )


def _text(tags: Any, key: str) -> str | None:
    frame = tags.get(key) if tags is not None else None
    if frame is None or not frame.text:
        return None
    return "\n".join(str(t) for t in frame.text)


def _mark(chap: Any) -> ChapterMark:
    url = None
    for frame in chap.sub_frames.getall("WXXX"):
        url = frame.url
    title = _text(chap.sub_frames, "TIT2") or ""
    return ChapterMark(chap.start_time, chap.end_time, title, url)


def fields_of_mp4(audio: MP4, duration: float) -> TagFields:
    """Returns the fo-cast fields of an MP4 file's atoms and Nero chapters."""
    tags: Any = audio.tags or {}

    def first(key: str) -> Any:
        value = tags.get(key)
        return value[0] if isinstance(value, list) and value else value or None

    chapters: list[ChapterMark] = []
    found = list(audio.chapters or []) if audio.chapters is not None else []
    for index, chapter in enumerate(found):
        start = round(chapter.start * 1000)
        nxt = round(found[index + 1].start * 1000) if index + 1 < len(found) else None
        end = nxt if nxt is not None else round(duration * 1000)
        chapters.append(ChapterMark(start, end, chapter.title or ""))
    track, disk = first("trkn"), first("disk")
    cover = first("covr")
    return TagFields(
        title=first("©nam"),
        artist=first("©ART"),
        album=first("©alb"),
        date=first("©day"),
        episode=str(track[0]) if track and track[0] else None,
        season=str(disk[0]) if disk and disk[0] else None,
        summary=first("ldes"),
        comment=first("desc"),
        guid=first("egid"),
        feed_url=first("purl"),
        podcast=bool(first("pcst")),
        chapters=tuple(chapters),
        cover=hashlib.sha256(bytes(cover)).hexdigest() if cover is not None else None,
    )


def read_fields(path: Path, duration: float) -> TagFields:
    """Returns the fo-cast fields of a media file; raises TagError when it cannot be read."""
    try:
        if path.suffix.lower() == ".mp3":
            _refuse_bomb(path)
            try:
                return fields_of_id3(ID3(path))
            except ID3NoHeaderError:
                return TagFields()
        return fields_of_mp4(MP4(path), duration)
    except (mutagen.MutagenError, OSError, ValueError) as exc:
        raise TagError(f"{path}: cannot read its tags ({exc})") from exc


def cover_image(path: Path) -> bytes:
    """Returns the artwork as an RGB JPEG at most COVER_SIZE px on its longer side (the same
    bytes for the same file: Pillow's encoder is deterministic); raises TagError naming the
    file when it cannot be decoded."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            picture = image.convert("RGB")
    except (OSError, SyntaxError, ValueError) as exc:
        if isinstance(exc, OSError) and exc.strerror:
            raise TagError(f"{path}: cannot read it ({exc.strerror})") from exc
        # Pillow's "image file is truncated" names no file; validate's probe catches most
        raise TagError(f"{path}: cannot make the cover of it ({exc}); export it again") from exc
    if max(picture.size) > COVER_SIZE:
        picture.thumbnail((COVER_SIZE, COVER_SIZE), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    picture.save(out, format="JPEG", quality=COVER_QUALITY, optimize=True)
    return out.getvalue()


# Writing


def write_tags(
    path: Path, wanted: TagFields, cover: bytes | None, container: str, duration: float
) -> None:
    """Writes the tags into path (an "mp3" or "mp4" container of that duration in seconds)
    through a copy beside it and one rename."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tagging")
    _sweep_copies(path)
    try:
        _start_copy(tmp, path)
        if container == "mp3":
            _refuse_bomb(path)
            shutil.copyfile(path, tmp)
            _write_id3(tmp, wanted, cover)
        else:
            _copy_mp4(path, tmp, wanted, duration)
            _write_mp4(tmp, wanted, cover)
        shutil.copymode(path, tmp)  # a read-only file stays read-only
        _keep_owner(path, tmp)
        _replace(tmp, path)
    except (mutagen.MutagenError, ValueError) as exc:
        raise TagError(f"{path}: cannot write its tags ({exc})") from exc
    finally:
        tmp.unlink(missing_ok=True)


_REFUSED = (errno.EPERM, errno.EACCES, errno.EROFS)  # what a locked file or folder answers


def _sweep_copies(path: Path) -> None:
    """Removes the tagged copies of path that a killed `tag` left (its ffmpeg may have gone on
    writing one after it): .NAME.PID.tagging of a process that is no longer running."""
    for copy in path.parent.glob(f".{glob.escape(path.name)}.*.tagging"):
        pid = copy.name[len(path.name) + 2 : -len(".tagging")]
        if not pid.isdigit() or int(pid) == os.getpid() or process_running(int(pid)):
            continue
        with contextlib.suppress(OSError):
            copy.unlink()


def _keep_owner(path: Path, tmp: Path) -> None:
    """Gives the copy the file's owner and group (root tagging a producer's file left it
    root's, which its owner could no longer write); a user who may not is left as is."""
    st = path.stat()
    with contextlib.suppress(OSError):
        os.chown(tmp, st.st_uid, st.st_gid)


def _start_copy(tmp: Path, path: Path) -> None:
    """Creates the tagged copy's file beside path; a folder that takes no new file (read-only,
    a read-only mount) is named with the media file, not the copy (nor ffmpeg's words)."""
    try:
        tmp.touch()
    except OSError as exc:
        if exc.errno not in _REFUSED:
            raise
        raise TagError(
            f"{path}: cannot write its tagged copy beside it ({exc.strerror}); is its folder "
            "read-only?"
        ) from exc


def _replace(tmp: Path, path: Path) -> None:
    """Renames the tagged copy over the file; one the system will not let go of (immutable,
    a read-only mount) is named, not the copy."""
    try:
        os.replace(tmp, path)
    except OSError as exc:
        if exc.errno not in _REFUSED:
            raise
        raise TagError(
            f"{path}: cannot replace it with its tagged copy ({exc.strerror}); is it or its "
            "folder immutable or read-only?"
        ) from exc


def _encoded(text: str) -> dict[str, Any]:
    """Returns a text frame's encoding and text: ID3 v2.3 knows Latin-1 and UTF-16 only, and
    Latin-1 where it will do (smaller, and mutagen reads UTF-16 a character at a time)."""
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return {"encoding": Encoding.UTF16, "text": [text]}
    return {"encoding": Encoding.LATIN1, "text": [text]}


def id3_frames(wanted: TagFields, cover: bytes | None) -> Iterator[Any]:
    """Yields the ID3 frames (in v2.4 form, converted when saved) for the fields."""
    for frame, value in ((TIT2, wanted.title), (TPE1, wanted.artist), (TALB, wanted.album)):
        if value is not None:
            yield frame(**_encoded(value))
    if wanted.date:
        yield TDRC(encoding=Encoding.LATIN1, text=[wanted.date])
    if wanted.episode:
        yield TRCK(encoding=Encoding.LATIN1, text=[wanted.episode])
    if wanted.season:
        yield TPOS(encoding=Encoding.LATIN1, text=[wanted.season])
    if wanted.summary is not None:
        yield TDES(**_encoded(wanted.summary))
    if wanted.comment is not None:
        yield COMM(lang="eng", desc="", **_encoded(wanted.comment))
    if wanted.guid is not None:
        yield TGID(**_encoded(wanted.guid))  # any text may be a GUID (imported feeds)
    if wanted.feed_url is not None:
        yield WFED(url=wanted.feed_url)
    if wanted.podcast:
        yield PCST(value=1)
    if cover is not None:
        yield APIC(
            encoding=Encoding.LATIN1, mime="image/jpeg", type=PictureType.COVER_FRONT,
            desc="", data=cover,
        )  # fmt: skip
    ids = [f"chp{index}" for index in range(len(wanted.chapters))]
    for element_id, mark in zip(ids, wanted.chapters, strict=True):
        subs: list[Any] = [TIT2(**_encoded(mark.title))]
        if mark.url:
            subs.append(WXXX(encoding=Encoding.LATIN1, desc="", url=mark.url))
        yield CHAP(
            element_id=element_id, start_time=mark.start, end_time=mark.end,
            start_offset=0xFFFFFFFF, end_offset=0xFFFFFFFF, sub_frames=subs,
        )  # fmt: skip
    if ids:
        yield CTOC(
            element_id="toc", flags=CTOCFlags.TOP_LEVEL | CTOCFlags.ORDERED,
            child_element_ids=ids, sub_frames=[TIT2(**_encoded(wanted.toc_title or TOC_TITLE))],
        )  # fmt: skip


class _ChapterOrderID3(ID3):
    """mutagen's ID3, writing CHAP frames in the order of their start times.

    mutagen orders frames by importance, then size; ffprobe and some apps list chapters in
    the order the frames come in the file, whatever the CTOC says."""

    def _write(self, config: Any) -> bytes:
        from mutagen.id3._tags import save_frame  # the renderer mutagen's own _write uses

        important = ["TIT2", "TPE1", "TRCK", "TALB", "TPOS", "TDRC", "TCON"]

        def sort_key(item: tuple[int, tuple[Any, bytes]]) -> tuple[int, int, str]:
            index, (frame, data) = item
            if frame.FrameID in important:
                return (important.index(frame.FrameID), len(data), frame.HashKey)
            if frame.FrameID == "APIC":  # pictures last, in their order
                return (len(important) + 2, index, frame.HashKey)
            if frame.FrameID == "CHAP":
                return (len(important) + 1, frame.start_time, frame.HashKey)
            return (len(important), len(data), frame.HashKey)

        rendered = [(f, save_frame(f, config=config)) for f in self.values()]
        ordered = [data for _, (_, data) in sorted(enumerate(rendered), key=sort_key)]
        if self._unknown_v2_version == config.v2_version:
            ordered.extend(data for data in self.unknown_frames if len(data) > 10)
        return bytes(bytearray().join(ordered))


def _write_id3(path: Path, wanted: TagFields, cover: bytes | None) -> None:
    try:
        tags = _ChapterOrderID3(path)
    except ID3NoHeaderError:
        tags = _ChapterOrderID3()
    for key in _ID3_OWNED:
        tags.delall(key)
    for frame in id3_frames(wanted, cover):
        tags.add(frame)
    tags.update_to_v23()
    # v1=1 updates an ID3v1 tag only where the file already has one
    tags.save(path, v1=1, v2_version=3, padding=lambda _info: PADDING)


def _write_mp4(path: Path, wanted: TagFields, cover: bytes | None) -> None:
    audio = MP4(path)
    if audio.tags is None:
        audio.add_tags()
    tags = audio.tags
    assert tags is not None
    for key in _MP4_OWNED:
        tags.pop(key, None)
    for key, value in (
        ("©nam", wanted.title), ("©ART", wanted.artist), ("©alb", wanted.album),
        ("©day", wanted.date), ("ldes", wanted.summary), ("desc", wanted.comment),
        ("egid", wanted.guid), ("purl", wanted.feed_url),
    ):  # fmt: skip
        if value is not None:
            tags[key] = [value]
    if wanted.episode:
        tags["trkn"] = [(int(wanted.episode), 0)]
    if wanted.season:
        tags["disk"] = [(int(wanted.season), 0)]
    if wanted.podcast:
        tags["pcst"] = True
    if cover is not None:
        tags["covr"] = [MP4Cover(cover, imageformat=MP4Cover.FORMAT_JPEG)]
    audio.save(padding=lambda _info: PADDING)


# ffmpeg's muxer for each name, so the file keeps its brand (an .m4a stays 'M4A ')
_MUXERS = {".m4a": "ipod", ".mov": "mov"}


def ffmpeg() -> str | None:
    """Returns the path of ffmpeg, which writes MP4 chapters, or None when not installed."""
    return shutil.which("ffmpeg")


def _copy_mp4(path: Path, tmp: Path, wanted: TagFields, duration: float) -> None:
    """Copies an MP4 file to tmp, with ffmpeg putting the wanted chapters in when the file's
    chapters differ (streams copied as they are: ffmpeg rewrites only the container)."""
    current = read_fields(path, duration).chapters
    tool = ffmpeg()
    if tool is None or current == wanted.chapters:
        shutil.copyfile(path, tmp)
        return
    before = _media_packets(path)
    if before is not None and not any(before.values()):
        raise TagError(
            f"{path}: ffmpeg reads no audio or video from it (a damaged movie header?), so "
            "it cannot be rewritten with chapters; export the file again"
        )
    with tempfile.TemporaryDirectory(prefix="fo-cast-chapters-") as folder:
        meta = Path(folder) / "chapters.ffmeta"
        meta.write_text(ffmetadata(wanted.chapters), encoding="utf-8")
        command = [
            tool, "-nostdin", "-v", "error", "-y", "-i", str(path), "-i", str(meta),
            # audio, video (not cover pictures) and subtitles: an earlier chapter track is a
            # data stream, and ffmpeg writes the new one from the metadata file
            "-map", "0:a?", "-map", "0:V?", "-map", "0:s?", "-map_metadata", "0",
            "-map_chapters", "1" if wanted.chapters else "-1",
            "-codec", "copy", "-fflags", "+bitexact", "-movflags", "+faststart",
            "-f", _MUXERS.get(path.suffix.lower(), "mp4"), str(tmp),
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise TagError(f"{path}: ffmpeg could not write its chapters ({last})")
    after = _media_packets(tmp)
    if before is not None and after != before:  # never replace the media by less of it
        raise TagError(
            f"{path}: the copy ffmpeg wrote with the chapters does not hold the same audio "
            f"and video (packets {before} before, {after} after); the file was left as it was"
        )


def _media_packets(path: Path) -> dict[str, int] | None:
    """Returns the audio and video packets ffprobe reads from a file, by stream type (None
    without ffprobe): what a chapter rewrite must keep, packet for packet."""
    tool = shutil.which("ffprobe")
    if tool is None:
        return None
    command = [
        tool, "-v", "error", "-count_packets", "-show_entries",
        "stream=codec_type,nb_read_packets,disposition:stream_disposition=attached_pic",
        "-of", "json", str(path),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    try:
        streams = json.loads(done.stdout or "{}").get("streams", [])
    except ValueError:
        return {}
    found: dict[str, int] = {"audio": 0, "video": 0}
    for stream in streams:
        kind = stream.get("codec_type")
        if kind not in found or stream.get("disposition", {}).get("attached_pic"):
            continue  # cover art is a picture the copy may add or drop
        try:
            found[kind] += int(stream.get("nb_read_packets") or 0)
        except ValueError:
            continue
    return found


def ffmetadata(marks: tuple[ChapterMark, ...]) -> str:
    """Returns ffmpeg's FFMETADATA1 text for chapters (times in ms)."""

    def escaped(text: str) -> str:
        for char in ("\\", "=", ";", "#", "\n"):
            text = text.replace(char, "\\" + char)
        return text

    lines = [";FFMETADATA1"]
    for mark in marks:
        lines += ["[CHAPTER]", "TIMEBASE=1/1000", f"START={mark.start}", f"END={mark.end}"]
        lines.append(f"title={escaped(mark.title)}")
    return "\n".join(lines) + "\n"
