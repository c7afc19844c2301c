"""probe.py on real media: facts checked against the ffprobe figures in the fixtures' README."""

from __future__ import annotations

import functools
import os
import shutil
import time
import zlib
from pathlib import Path

import pytest
from conftest import MEDIA
from PIL import Image

from fo_cast.media.probe import ProbeCache, ProbeError, probe_image, probe_media


def readme_facts() -> dict[str, dict[str, str]]:
    """Returns the README's table: file name -> column -> cell."""
    lines = [
        line for line in (MEDIA / "README.md").read_text(encoding="utf-8").splitlines()
        if line.startswith("| ")
    ]  # fmt: skip
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    facts = {}
    for line in lines[1:]:  # the |---| line does not start with "| "
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        facts[cells[0].strip("`")] = dict(zip(header, cells, strict=True))
    return facts


FACTS = readme_facts()
PLAYABLE = sorted(
    name for name, row in FACTS.items()
    if row["duration (s)"] != "–" and name != "truncated.mp3" and name != "misnamed.mp3"
)  # fmt: skip


def test_readme_lists_every_fixture() -> None:
    assert sorted(FACTS) == sorted(p.name for p in MEDIA.iterdir() if p.name != "README.md")
    assert PLAYABLE == [
        "audio-only.mp4",
        "speech.m4a",
        "stereo.mp3",
        "tone.mp3",
        "vbr.mp3",
        "video.mp4",
    ]  # noqa: E501


@pytest.mark.parametrize("name", PLAYABLE)
def test_probe_matches_ffprobe(name: str) -> None:
    row = FACTS[name]
    info = probe_media(MEDIA / name)
    assert info.duration == pytest.approx(float(row["duration (s)"]), abs=0.05)
    assert info.size == int(row["bytes"]) == (MEDIA / name).stat().st_size
    assert info.sample_rate == int(row["sample rate (Hz)"])
    assert info.channels == int(row["channels"])
    if row["width x height"] != "–":
        assert f"{info.width}x{info.height}" == row["width x height"]
        assert info.kind == "video"
    else:
        assert (info.width, info.height, info.kind) == (None, None, "audio")


@pytest.mark.parametrize(
    ("name", "mime_type", "container", "vbr"),
    [
        ("tone.mp3", "audio/mpeg", "mp3", False),
        ("stereo.mp3", "audio/mpeg", "mp3", False),
        ("vbr.mp3", "audio/mpeg", "mp3", True),
        ("speech.m4a", "audio/x-m4a", "mp4", False),
        ("audio-only.mp4", "audio/mp4", "mp4", False),
        ("video.mp4", "video/mp4", "mp4", False),
    ],
)
def test_mime_types(name: str, mime_type: str, container: str, vbr: bool) -> None:
    info = probe_media(MEDIA / name)
    assert (info.mime_type, info.container, info.vbr) == (mime_type, container, vbr)


def test_vbr_duration_comes_from_the_xing_header() -> None:
    info = probe_media(MEDIA / "vbr.mp3")
    assert info.duration == pytest.approx(3.056327, abs=0.01)
    assert info.bitrate is not None and 30_000 < info.bitrate < 40_000  # 13913 B over 3.06 s


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("empty.mp3", "the file is empty"),
        ("garbage.mp3", "no MPEG audio found (can't sync to MPEG frame); is it really an MP3?"),
        ("misnamed.mp3", "this is an MP4/M4A file named .mp3; rename it to .m4a"),
        ("truncated.mp3", "truncated: its header promises 13913 bytes of audio but the "
            "file has 4173"),
        ("truncated.mp4", "truncated: the 'mdat' box needs 9457 bytes, the file has 5699"),
        ("text.mp4", "not an MP4 file (no 'ftyp' box); is it really .mp4?"),
        ("art.gif", "'art.gif' is not a media type Apple accepts (.m4a, .m4v, .mov, .mp3, .mp4)"),
    ],
)  # fmt: skip
def test_broken_media(name: str, message: str) -> None:
    with pytest.raises(ProbeError) as caught:
        probe_media(MEDIA / name)
    assert str(caught.value) == message


def test_mp3_named_mp4(tmp_path: Path) -> None:
    shutil.copyfile(MEDIA / "tone.mp3", tmp_path / "audio.m4a")
    with pytest.raises(ProbeError, match=r"^this is an MP3 file named \.m4a; rename it to \.mp3$"):
        probe_media(tmp_path / "audio.m4a")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ProbeError, match=r"^cannot read it: No such file or directory$"):
        probe_media(tmp_path / "gone.mp3")


@pytest.mark.parametrize("cut", [1, 7, 100, 1000, 5000])
def test_cut_media_never_escapes_as_another_exception(cut: int, tmp_path: Path) -> None:
    for name in ("video.mp4", "speech.m4a", "stereo.mp3", "vbr.mp3"):
        data = (MEDIA / name).read_bytes()
        path = tmp_path / name
        path.write_bytes(data[:cut])
        with pytest.raises(ProbeError):
            probe_media(path)


@pytest.mark.parametrize("name", [n for n in FACTS if n.startswith("art")])
def test_probe_image_matches_readme(name: str) -> None:
    row = FACTS[name]
    info = probe_image(MEDIA / name)
    kind, mode = row["image"].split()
    assert (info.format, info.mode) == ({"GIF": "GIF"}.get(kind, kind), mode)
    assert f"{info.width}x{info.height}" == row["width x height"]
    assert info.size == int(row["bytes"])


def test_probe_image_of_text(tmp_path: Path) -> None:
    (tmp_path / "art.png").write_text("not an image")
    with pytest.raises(ProbeError) as caught:
        probe_image(tmp_path / "art.png")
    assert str(caught.value) == "is not an image fo-cast can read; save it as JPEG or PNG"
    assert str(tmp_path) not in str(caught.value)


@functools.cache
def _image(kind: str) -> bytes:
    """Returns a 3000x3000 RGB image, PNG or JPEG, with some detail for the JPEG to encode."""
    import io

    from PIL import Image

    image = Image.linear_gradient("L").resize((3000, 3000)).convert("RGB")
    out = io.BytesIO()
    image.save(out, format=kind, quality=90)
    return out.getvalue()


@pytest.mark.parametrize(
    ("name", "cut", "reason"),
    [
        ("art.png", lambda data: data[:200], "Truncated File Read"),
        ("art.png", lambda data: data[: len(data) // 2], "Truncated File Read"),
        ("art.png", lambda data: data[:-12], "truncated PNG file"),  # no IEND
        ("art.png", lambda data: data[:100] + bytes([data[100] ^ 1]) + data[101:],
         "broken PNG file (bad header checksum in b'IDAT')"),
        ("art.jpg", lambda data: data[:200], "Truncated File Read"),
        ("art.jpg", lambda data: data[: len(data) // 2],
         "image file is truncated (1 bytes not processed)"),
    ],
)  # fmt: skip
def test_a_truncated_or_damaged_image_is_refused(name: str, cut, reason: str, tmp_path) -> None:
    # Pillow opens an image from its header alone: a cut one passed, and tag failed on it
    path = tmp_path / name
    path.write_bytes(cut(_image("PNG" if name.endswith(".png") else "JPEG")))
    with pytest.raises(ProbeError) as caught:
        probe_image(path)
    assert str(caught.value) == f"is truncated or damaged ({reason}); export it again"


def _with_idat(png: bytes, change) -> bytes:
    """Returns the PNG with its image data (the IDAT chunks, joined) changed, in one IDAT
    chunk whose CRC is right: the damage is in the data, as an encoder could have written it."""
    import struct
    import zlib

    chunks, position = [], 8
    while position < len(png):
        length, kind = struct.unpack(">I4s", png[position : position + 8])
        chunks.append((kind, png[position + 8 : position + 8 + length]))
        position += 12 + length
    data = change(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    out, idat_written = [png[:8]], False
    for kind, body in chunks:
        if kind == b"IDAT":
            if idat_written:
                continue
            kind, body, idat_written = b"IDAT", data, True
        crc = zlib.crc32(kind + body)
        out.append(struct.pack(">I4s", len(body), kind) + body + struct.pack(">I", crc))
    return b"".join(out)


def _flipped(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1 :]


DATA_CHECK = "Error -3 while decompressing data: incorrect data check"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda data: _flipped(data, len(data) // 2), f"its image data is damaged: {DATA_CHECK}"),
        # the last four bytes are the stream's Adler-32
        (lambda data: _flipped(data, len(data) - 1), f"its image data is damaged: {DATA_CHECK}"),
        (lambda data: _flipped(data, 0),
         "its image data is damaged: Error -3 while decompressing data: incorrect header check"),
        (lambda data: data[: len(data) // 2], "its image data stops short"),
        (lambda data: b"", "its image data stops short"),
    ],
)  # fmt: skip
def test_a_png_whose_image_data_is_damaged_is_refused(change, reason: str, tmp_path) -> None:
    # Was: verify() checks each chunk's CRC, not the data the CRC was computed over, so
    # these passed validate; tag failed on them ("broken data stream"), as would an app.
    path = tmp_path / "art.png"
    path.write_bytes(_with_idat(_image("PNG"), change))
    with pytest.raises(ProbeError) as caught:
        probe_image(path)
    assert str(caught.value) == f"is truncated or damaged ({reason}); export it again"
    with Image.open(path) as image, pytest.raises(OSError):
        image.load()  # what tag met making the cover: "broken data stream", "truncated"


def test_a_png_of_many_idat_chunks_is_one_stream(tmp_path) -> None:
    """Encoders split the image data into chunks (Pillow: 64 KiB each); the stream begins
    in the first and ends in the last, and a flip in a middle one is found."""
    import random

    noise = random.Random(0).randbytes(1400 * 1400 * 3)
    path = tmp_path / "art.png"
    Image.frombytes("RGB", (1400, 1400), noise).save(path, format="PNG")
    whole = path.read_bytes()
    assert whole.count(b"IDAT") > 50
    assert probe_image(path).size == len(whole)
    path.write_bytes(_with_idat(whole, lambda data: _flipped(data, len(data) // 2)))
    with pytest.raises(ProbeError) as caught:
        probe_image(path)
    assert str(caught.value) == (
        f"is truncated or damaged (its image data is damaged: {DATA_CHECK}); export it again"
    )


def test_validate_names_the_artwork_whose_image_data_is_damaged(sample: Path) -> None:
    from tests.helpers import invoke

    artwork = sample / "talks" / "artwork.png"
    artwork.write_bytes(_with_idat(artwork.read_bytes(), lambda data: _flipped(data, 1000)))
    result = invoke("validate", sample)
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "episodes/talks/show.yaml:9: artwork: artwork.png is truncated or damaged (its image "
        f"data is damaged: {DATA_CHECK}); export it again",
        "1 error in 1 file.",
    ]


@pytest.mark.parametrize(("kind", "extra"), [("PNG", b""), ("JPEG", b""), ("JPEG", b"\0" * 16)])
def test_a_whole_image_passes(kind: str, extra: bytes, tmp_path: Path) -> None:
    # bytes after a JPEG's end marker: decoded (at an eighth of its size), and found whole
    data = _image(kind) + extra
    (tmp_path / "art").write_bytes(data)
    info = probe_image(tmp_path / "art")
    assert (info.format, info.width, info.height, info.mode, info.size) == (
        kind, 3000, 3000, "RGB", len(data)
    )  # fmt: skip


def test_a_file_probed_within_its_timestamp_tick_is_not_remembered(tmp_path: Path) -> None:
    """A file rewritten in the same mtime tick keeps its size and mtime: facts taken of a
    file modified in the 2 s before are used by the run, never saved for the next one."""
    audio = tmp_path / "a.mp3"
    shutil.copyfile(MEDIA / "tone.mp3", audio)  # modified just now
    cache = ProbeCache(tmp_path / "probe.json")
    cache.probe(audio, "a.mp3")
    assert cache.has("a.mp3", audio.stat())  # this run takes it from the cache
    cache.save()
    assert not ProbeCache(tmp_path / "probe.json").has("a.mp3", audio.stat())
    os.utime(audio, (time.time() - 3600, time.time() - 3600))
    cache = ProbeCache(tmp_path / "probe.json")
    cache.probe(audio, "a.mp3")
    cache.save()
    assert ProbeCache(tmp_path / "probe.json").has("a.mp3", audio.stat())


def test_cache_returns_stored_facts_without_opening(tmp_path: Path, monkeypatch) -> None:
    audio = tmp_path / "a.mp3"
    shutil.copyfile(MEDIA / "tone.mp3", audio)
    os.utime(audio, (time.time() - 3600, time.time() - 3600))  # settled: see the next test
    cache = ProbeCache(tmp_path / "cache" / "probe.json")
    first = cache.probe(audio, "a.mp3")
    with pytest.raises(ProbeError):
        cache.probe(MEDIA / "empty.mp3", "empty.mp3")
    cache.save()
    assert not list((tmp_path / "cache").glob("*.tmp"))

    def refuse(path: Path) -> None:
        raise AssertionError(f"opened {path}")

    monkeypatch.setattr("fo_cast.media.probe.probe_media", refuse)
    again = ProbeCache(tmp_path / "cache" / "probe.json")
    assert again.probe(audio, "a.mp3") == first
    with pytest.raises(ProbeError, match="^the file is empty$"):  # errors are cached too
        again.probe(MEDIA / "empty.mp3", "empty.mp3")
    assert again.dirty is False
    # a changed file is probed again
    stat = audio.stat()
    os.utime(audio, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    with pytest.raises(AssertionError, match="opened"):
        again.probe(audio, "a.mp3")


@pytest.mark.parametrize(
    "content",
    [
        "", "{", "[]", "\x00", '{"version": 1, "entries": {}}', '{"version": 2, "entries": []}',
        '{"version": 2, "entries": {"tone.mp3": []}}',
        '{"version": 2, "entries": {"tone.mp3": {"size": 8255}}}',
    ],
)  # fmt: skip
def test_unreadable_or_old_cache_is_ignored(content: str, tmp_path: Path) -> None:
    path = tmp_path / "probe.json"
    path.write_text(content)
    cache = ProbeCache(path)
    assert cache.probe(MEDIA / "tone.mp3", "tone.mp3").duration == pytest.approx(2.06, abs=0.01)


POINTER = (
    "version https://git-lfs.github.com/spec/v1\n"
    "oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\n"
    "size 31415926\n"
)


@pytest.mark.parametrize("name", ["audio.mp3", "video.mp4", "speech.m4a"])
def test_a_git_lfs_pointer_says_to_pull(name: str, tmp_path: Path) -> None:
    from fo_cast.media.probe import LfsPointerError

    path = tmp_path / name
    path.write_text(POINTER, encoding="ascii")
    with pytest.raises(LfsPointerError) as raised:
        probe_media(path)
    assert str(raised.value) == (
        "a git-lfs pointer, not the file itself; run `git lfs pull` to fetch it"
    )
    artwork = tmp_path / "artwork.png"
    artwork.write_text(POINTER, encoding="ascii")
    with pytest.raises(LfsPointerError) as raised:
        probe_image(artwork)
    assert str(raised.value) == (
        "is a git-lfs pointer, not the file itself; run `git lfs pull` to fetch it"
    )


def _syncsafe(n: int) -> bytes:
    return bytes((n >> shift) & 0x7F for shift in (21, 14, 7, 0))


def _compressed_tag(inflated: int, major: int = 4) -> bytes:
    """An ID3v2 tag of one zlib-compressed PRIV frame that inflates to `inflated` bytes."""
    data = zlib.compress(b"x\0" + b"\0" * inflated, 9)
    if major == 4:  # compression + data length indicator, sizes syncsafe
        body = _syncsafe(inflated + 2) + data
        frame = b"PRIV" + _syncsafe(len(body)) + b"\x00\x09" + body
    else:  # v2.3: compression, then the inflated size as a plain integer
        body = (inflated + 2).to_bytes(4, "big") + data
        frame = b"PRIV" + len(body).to_bytes(4, "big") + b"\x00\x80" + body
    return b"ID3" + bytes((major, 0, 0)) + _syncsafe(len(frame)) + frame


@pytest.mark.parametrize("major", [3, 4])
def test_an_id3_frame_that_inflates_to_gigabytes_is_refused_before_it_is_read(
    tmp_path: Path, major: int
) -> None:
    """Was: a 1 MB MP3 whose frame inflated to 1 GiB took 3 GB to validate, 5 GB to tag."""
    from fo_cast.media import tags
    from fo_cast.media.tags import TagError, read_fields

    audio = (MEDIA / "tone.mp3").read_bytes()
    bomb = tmp_path / "audio.mp3"
    bomb.write_bytes(_compressed_tag(tags.MAX_INFLATED + 1000, major) + audio)
    with pytest.raises(ProbeError, match=r"^its ID3 frame 'PRIV' inflates past 16 MB"):
        probe_media(bomb)
    with pytest.raises(TagError, match=r"audio\.mp3: its ID3 frame 'PRIV' inflates past"):
        read_fields(bomb, 1.0)
    small = tmp_path / "small.mp3"  # a compressed frame of a sane size is read as before
    small.write_bytes(_compressed_tag(1000, major) + audio)
    assert probe_media(small).kind == "audio"
