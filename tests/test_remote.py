"""media/remote.py: probing over HTTP equals probing the file, in a few ranged reads."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from conftest import MEDIA
from httpserver import Host, Resource
from test_probe import PLAYABLE
from typer.testing import CliRunner

from fo_cast.cli import app
from fo_cast.media.probe import probe_media
from fo_cast.media.remote import RemoteError, probe_url

TYPES = {".mp3": "audio/mpeg", ".m4a": "audio/mp4", ".mp4": "video/mp4"}
CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts", b"dinf"}


def serve(host: Host, name: str, data: bytes, **options: object) -> str:
    suffix = Path(name).suffix
    return host.add(f"/media/{name}", Resource(data, content_type=TYPES[suffix], **options))  # type: ignore[arg-type]


def boxes(data: bytes) -> list[tuple[bytes, bytes]]:
    """Returns the boxes at one level: (name, the whole box)."""
    out, position = [], 0
    while position < len(data):
        size, name = struct.unpack(">I4s", data[position : position + 8])
        out.append((name, data[position : position + size]))
        position += size
    return out


def shift_chunks(box: bytes, delta: int) -> bytes:
    """Returns box with every chunk offset (stco, co64) inside it moved by delta bytes."""
    name = box[4:8]
    if name in CONTAINERS:
        body = b"".join(shift_chunks(child, delta) for _, child in boxes(box[8:]))
        return box[:8] + body
    if name in (b"stco", b"co64"):
        count = struct.unpack(">I", box[12:16])[0]
        form = ">I" if name == b"stco" else ">Q"
        width = struct.calcsize(form)
        entries = [
            struct.unpack(form, box[16 + i * width : 16 + (i + 1) * width])[0] + delta
            for i in range(count)
        ]
        return box[:16] + b"".join(struct.pack(form, e) for e in entries)
    return box


def rebuilt_mp4(source: Path, pad: int, moov_last: bool) -> bytes:
    """Returns the MP4 with pad zero bytes after the samples and its moov box first or last
    (what ffmpeg writes without `-movflags +faststart`), chunk offsets corrected."""
    data = source.read_bytes()
    parts = boxes(data)
    names = [n for n, _ in parts]
    old_samples = sum(len(b) for n, b in parts[: names.index(b"mdat")]) + 8
    moov = dict(parts)[b"moov"]
    mdat = dict(parts)[b"mdat"]
    mdat = struct.pack(">I", len(mdat) + pad) + mdat[4:] + bytes(pad)
    others = b"".join(b for n, b in parts if n not in (b"moov", b"mdat"))
    prefix = others if moov_last else others + moov
    delta = len(prefix) + 8 - old_samples
    moov = shift_chunks(moov, delta)
    return others + mdat + moov if moov_last else others + moov + mdat


@pytest.mark.parametrize("name", PLAYABLE)
def test_probe_over_http_equals_probe_of_the_file(http_host: Host, name: str) -> None:
    data = (MEDIA / name).read_bytes()
    remote = probe_url(serve(http_host, name, data))
    local = probe_media(MEDIA / name)
    assert remote.info == local
    assert remote.info.duration == pytest.approx(local.duration, abs=0.05)
    assert remote.info.size == len(data)
    assert remote.served_type == TYPES[Path(name).suffix]


@pytest.mark.parametrize("moov_last", [True, False], ids=["moov-at-end", "faststart"])
def test_a_large_mp4_is_probed_in_a_few_ranges(
    http_host: Host, tmp_path: Path, moov_last: bool
) -> None:
    data = rebuilt_mp4(MEDIA / "video.mp4", 20_000_000, moov_last)
    local = tmp_path / "video.mp4"
    local.write_bytes(data)
    remote = probe_url(serve(http_host, "video.mp4", data))
    assert remote.info == probe_media(local)
    assert (remote.info.width, remote.info.height) == (160, 90)
    assert remote.info.duration == pytest.approx(2.0, abs=0.05)
    assert remote.info.size == len(data) > 20_000_000
    assert remote.fetched == http_host.sent <= 3 * 64 * 1024
    ranges = [r[2] for r in http_host.requests if r[0] == "GET"]
    assert ranges[0] == "bytes=0-65535"
    if moov_last:  # the moov box is read where it is, at the end
        last = int(ranges[-1].split("=")[1].split("-")[1])
        assert last == len(data) - 1


def test_a_long_mp3_is_probed_from_its_ends(http_host: Host, tmp_path: Path) -> None:
    data = (MEDIA / "tone.mp3").read_bytes() * 200  # CBR frames, no header: 6:52 of tone
    local = tmp_path / "tone.mp3"
    local.write_bytes(data)
    remote = probe_url(serve(http_host, "long.mp3", data))
    assert remote.info == probe_media(local)
    assert remote.info.duration == pytest.approx(412.75, abs=0.5)
    assert remote.fetched <= 3 * 64 * 1024 < len(data)


def test_a_server_without_ranges_is_named(http_host: Host) -> None:
    small = serve(http_host, "tone.mp3", (MEDIA / "tone.mp3").read_bytes(), ranges=False)
    assert probe_url(small).info == probe_media(MEDIA / "tone.mp3")  # sent whole: all is here
    url = serve(http_host, "long.mp3", (MEDIA / "tone.mp3").read_bytes() * 10, ranges=False)
    with pytest.raises(RemoteError) as raised:
        probe_url(url)
    assert str(raised.value) == (
        "the server does not answer byte-range requests (it sent the whole file to a Range "
        "request); fo-cast cannot probe it, and Apple Podcasts refuses media served without "
        "ranges"
    )


def test_errors_and_redirects(http_host: Host) -> None:
    with pytest.raises(RemoteError, match=r"^HTTP 404 Not Found$"):
        probe_url(http_host.url("/missing.mp3"))
    http_host.add("/broken.mp3", Resource(status=500))
    with pytest.raises(RemoteError, match=r"^HTTP 500 Internal Server Error$"):
        probe_url(http_host.url("/broken.mp3"))
    real = serve(http_host, "vbr.mp3", (MEDIA / "vbr.mp3").read_bytes(), head=False)
    moved = http_host.add("/ep/12", Resource(location=real, status=301))
    remote = probe_url(moved)  # no suffix in the URL asked; HEAD refused (405)
    assert remote.final_url == real
    assert remote.info == probe_media(MEDIA / "vbr.mp3")


def test_the_type_comes_from_the_server_when_the_url_has_no_suffix(http_host: Host) -> None:
    data = (MEDIA / "speech.m4a").read_bytes()
    url = http_host.add("/stream?id=7", Resource(data, content_type="audio/x-m4a"))
    assert probe_url(url).info == probe_media(MEDIA / "speech.m4a")
    http_host.add("/blob", Resource(data, content_type="application/octet-stream"))
    with pytest.raises(RemoteError) as raised:
        probe_url(http_host.url("/blob"))
    assert str(raised.value) == (
        "cannot tell what media this is: the URL does not end in .m4a, .m4v, .mov, .mp3, "
        ".mp4 and the server calls it application/octet-stream"
    )


def test_the_bytes_read_are_bounded(http_host: Host) -> None:
    data = rebuilt_mp4(MEDIA / "video.mp4", 1_000_000, moov_last=True)
    with pytest.raises(RemoteError) as raised:
        probe_url(serve(http_host, "video.mp4", data), max_bytes=70_000)
    assert str(raised.value) == (
        "read 65536 bytes without finding the duration (the limit is 70000); "
        "give length, type and duration by hand"
    )


def test_an_unreachable_host_is_one_line() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(RemoteError) as raised:
        probe_url(f"http://127.0.0.1:{port}/ep.mp3")
    assert str(raised.value) == "cannot read 127.0.0.1: connection refused"


def test_cli_probe_prints_a_media_entry_to_paste(http_host: Host) -> None:
    url = serve(http_host, "vbr.mp3", (MEDIA / "vbr.mp3").read_bytes())
    result = CliRunner().invoke(app, ["probe", url, str(MEDIA / "tone.mp3"), "--format", "yaml"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f'  - url: "{url}"',
        "    length: 13913",
        "    type: audio/mpeg",
        "    duration: 3.056  # 0:03",
        "  - file: tone.mp3",
    ]
    text = CliRunner().invoke(app, ["probe", url])
    assert text.exit_code == 0
    assert text.stdout.startswith(f"{url}: size=13913, mime_type=audio/mpeg, duration=3.056, ")
    missing = CliRunner().invoke(app, ["probe", http_host.url("/gone.mp3")])
    assert missing.exit_code == 1
    assert missing.stderr == f"{http_host.url('/gone.mp3')}: HTTP 404 Not Found\n"


@pytest.mark.parametrize("scheme", ["ftp", "file", "data"])
def test_a_redirect_to_another_scheme_is_one_line(http_host: Host, scheme: str) -> None:
    where = {"ftp": "ftp://127.0.0.1/x", "file": "file:///etc/passwd", "data": "data:,x"}[scheme]
    url = http_host.add("/moved", Resource(location=where))
    message = (
        f"redirected to {where!r}: fo-cast follows redirects to http(s) URLs only, "
        f"not {scheme}: URLs"
    )
    with pytest.raises(RemoteError) as raised:
        probe_url(url)
    assert str(raised.value) == message
    result = CliRunner().invoke(app, ["probe", url])
    assert result.exit_code == 1
    assert result.stderr == f"{url}: {message}\n"


def test_a_url_that_is_not_valid_or_has_credentials_is_one_line(http_host: Host) -> None:
    host = http_host.base.removeprefix("http://")
    for url, shown, message in (
        ("http://[::1", "http://[::1", "not a valid URL (Invalid IPv6 URL)"),
        (f"http://user:pw@{host}/ok", f"http://...@{host}/ok",
         "a URL with credentials (user:password@) is not accepted; give one without them"),
    ):  # fmt: skip
        result = CliRunner().invoke(app, ["probe", url, "--format", "json"])
        assert result.exit_code == 1
        assert result.stderr == f"{shown}: {message}\n"
        assert "pw" not in result.output
    assert http_host.requests == []


def test_a_range_answered_with_an_endless_body_is_read_one_byte_past(http_host: Host) -> None:
    """Was: a 206 without Content-Length and without an end was read whole (5 GB of RSS)."""
    data = (MEDIA / "tone.mp3").read_bytes() * 10
    url = http_host.add("/endless.mp3", Resource(data, content_type="audio/mpeg", endless=True))
    with pytest.raises(RemoteError, match=r"^asked for \d+ bytes, the server sent more than"):
        probe_url(url)
    assert http_host.sent < 64 << 20
