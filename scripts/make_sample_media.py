#!/usr/bin/env python3
"""Generate the sample catalogue's media and the media test fixtures.

Usage (from the repository root)::

    .venv/bin/python scripts/make_sample_media.py             # everything
    .venv/bin/python scripts/make_sample_media.py --artwork   # episodes/<show>/artwork.png
    .venv/bin/python scripts/make_sample_media.py --episodes  # audio.mp3, video.mp4, transcript.vtt
    .venv/bin/python scripts/make_sample_media.py --fixtures  # tests/fixtures/media/*

Requirements: ``espeak-ng`` and ``ffmpeg``/``ffprobe`` on PATH, Pillow in the venv.

The catalogue's ``episode.yaml`` files are the source of truth: for every episode
folder this script reads the title, whether ``video.mp4`` is listed under
``media`` and whether a ``transcript`` is declared, and writes exactly those files.
Every episode gets ``audio.mp3``: espeak-ng speaks the title and one fixed
sentence, ffmpeg encodes it (mono, 22050 Hz, 32 kb/s CBR; the folders in
``VBR_EPISODES`` get LAME VBR ``-q:a 9`` so a Xing header is present).

Output is deterministic as far as the tools allow (bit-exact flags, no
metadata copied from inputs, single-threaded x264, no timestamps), so
re-running it on the same ffmpeg/espeak-ng versions gives identical bytes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
import wave
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parent.parent
EPISODES = ROOT / "episodes"
FIXTURES = ROOT / "tests" / "fixtures" / "media"

SAMPLE_RATE = 22050
SENTENCE = (
    "This is a short sample recording from Fair Observer, made for testing the podcast catalogue."
)
LEAD_IN = 0.3  # seconds of silence before the title
GAP = 0.4  # between title and sentence
TAIL = 0.5  # after the sentence
ESPEAK_VOICE = "en-us"
ESPEAK_SPEED = "160"

# Episode folders (relative to episodes/) whose audio.mp3 is VBR (LAME -q:a 9, Xing header).
VBR_EPISODES = {"talks/2024-08-16-scotus-40-year-rules"}

# Show folder -> (artwork title, background colour, accent colour)
SHOWS = {
    "exclusive": ("FO° Exclusive", (27, 42, 73), (242, 169, 0)),
    "talks": ("FO° Talks", (122, 28, 24), (255, 255, 255)),
    "live": ("FO° Live", (11, 94, 72), (255, 214, 10)),
}

BITEXACT = ["-fflags", "+bitexact", "-flags", "+bitexact", "-map_metadata", "-1"]


# --------------------------------------------------------------------------- helpers


def run(cmd: list[str]) -> None:
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def ffmpeg(*args: str) -> None:
    run(["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args])


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def speak(text: str, out: Path) -> float:
    """Speak ``text`` into a 22050 Hz mono WAV; return its duration in seconds."""
    run(["espeak-ng", "-v", ESPEAK_VOICE, "-s", ESPEAK_SPEED, "-w", str(out), text])
    with wave.open(str(out), "rb") as w:
        assert w.getframerate() == SAMPLE_RATE and w.getnchannels() == 1, out
        return w.getnframes() / w.getframerate()


def concat_wavs(parts: list[Path | float], out: Path) -> float:
    """Concatenate WAV files and silences (floats, seconds); return total duration."""
    frames = bytearray()
    for part in parts:
        if isinstance(part, float):
            frames += b"\x00\x00" * round(part * SAMPLE_RATE)
        else:
            with wave.open(str(part), "rb") as w:
                frames += w.readframes(w.getnframes())
    with wave.open(str(out), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes(bytes(frames))
    return len(frames) / 2 / SAMPLE_RATE


def vtt_time(seconds: float) -> str:
    ms = round(seconds * 1000)
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def yaml_scalar(raw: str) -> str:
    """Unquote the simple one-line YAML scalars used in episode.yaml."""
    raw = raw.strip()
    if raw.startswith('"'):
        return json.loads(raw)
    if raw.startswith("'"):
        return raw[1:-1].replace("''", "'")
    return re.sub(r"\s+#.*$", "", raw)


def read_episode(path: Path) -> dict:
    text = path.read_text(encoding="utf-8")
    title = re.search(r"^title:\s*(.+)$", text, re.M)
    transcript = re.search(r"^transcript:\s*(.+)$", text, re.M)
    files = [yaml_scalar(m) for m in re.findall(r"^\s*-\s*file:\s*(.+)$", text, re.M)]
    if not title:
        raise SystemExit(f"{rel(path)}: no title")
    return {
        "title": yaml_scalar(title.group(1)),
        "transcript": yaml_scalar(transcript.group(1)) if transcript else None,
        "video": "video.mp4" in files,
    }


# --------------------------------------------------------------------------- artwork


def draw_card(
    size: tuple[int, int], title: str, bg: tuple, accent: tuple, mode: str = "RGB"
) -> Image.Image:
    w, h = size
    img = Image.new("RGB", size, bg)
    d = ImageDraw.Draw(img)
    d.rectangle([0, round(h * 0.78), w, round(h * 0.80)], fill=accent)
    if title:
        font = ImageFont.load_default(size=round(w * 0.12))
        d.text((w / 2, h * 0.45), title, fill=(255, 255, 255), font=font, anchor="mm")
        small = ImageFont.load_default(size=round(w * 0.05))
        d.text((w / 2, h * 0.88), "Fair Observer", fill=accent, font=small, anchor="mm")
    return img.convert(mode) if mode != "RGB" else img


def make_artwork() -> None:
    for show, (title, bg, accent) in SHOWS.items():
        out = EPISODES / show / "artwork.png"
        img = draw_card((1400, 1400), title, bg, accent)
        img.save(out, "PNG", optimize=True)
        print(f"{rel(out)}: {out.stat().st_size} bytes")


# --------------------------------------------------------------------------- episodes


def encode_mp3(wav: Path, out: Path, title: str, artist: str, vbr: bool) -> None:
    rate = ["-q:a", "9"] if vbr else ["-b:a", "32k"]
    ffmpeg(
        "-i",
        str(wav),
        *BITEXACT,
        "-ac",
        "1",
        "-ar",
        str(SAMPLE_RATE),
        "-c:a",
        "libmp3lame",
        *rate,
        "-id3v2_version",
        "3",
        "-metadata",
        f"title={title}",
        "-metadata",
        f"artist={artist}",
        str(out),
    )


def encode_video(
    wav: Path, artwork: Path, bg: tuple, duration: float, out: Path, size=(320, 180)
) -> None:
    w, h = size
    colour = "0x{:02x}{:02x}{:02x}".format(*bg)
    vf = f"scale={h}:{h},pad={w}:{h}:{(w - h) // 2}:0:color={colour},format=yuv420p"
    ffmpeg(
        "-loop",
        "1",
        "-framerate",
        "5",
        "-i",
        str(artwork),
        "-i",
        str(wav),
        *BITEXACT,
        "-vf",
        vf,
        "-t",
        f"{duration:.3f}",
        "-c:v",
        "libx264",
        "-threads",
        "1",
        "-preset",
        "veryslow",
        "-tune",
        "stillimage",
        "-crf",
        "32",
        "-g",
        "50",
        "-c:a",
        "aac",
        "-b:a",
        "32k",
        "-ac",
        "1",
        "-ar",
        str(SAMPLE_RATE),
        "-movflags",
        "+faststart",
        str(out),
    )


def make_episodes() -> None:
    total = 0
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        for yml in sorted(EPISODES.glob("*/*/episode.yaml")):
            folder = yml.parent
            show = folder.parent.name
            key = f"{show}/{folder.name}"
            ep = read_episode(yml)
            t_wav, s_wav, full = tmp / "title.wav", tmp / "sentence.wav", tmp / "full.wav"
            t_len = speak(ep["title"], t_wav)
            s_len = speak(SENTENCE, s_wav)
            duration = concat_wavs([LEAD_IN, t_wav, GAP, s_wav, TAIL], full)

            show_title, bg, _ = SHOWS[show]
            encode_mp3(
                full,
                folder / "audio.mp3",
                ep["title"],
                f"Fair Observer – {show_title}",
                key in VBR_EPISODES,
            )
            written = ["audio.mp3"]
            if ep["video"]:
                encode_video(
                    full, EPISODES / show / "artwork.png", bg, duration, folder / "video.mp4"
                )
                written.append("video.mp4")
            else:
                (folder / "video.mp4").unlink(missing_ok=True)
            if ep["transcript"]:
                t0 = LEAD_IN
                s0 = LEAD_IN + t_len + GAP
                vtt = (
                    "WEBVTT\n\n"
                    f"1\n{vtt_time(t0)} --> {vtt_time(t0 + t_len)}\n{ep['title']}\n\n"
                    f"2\n{vtt_time(s0)} --> {vtt_time(s0 + s_len)}\n{SENTENCE}\n"
                )
                (folder / ep["transcript"]).write_text(vtt, encoding="utf-8", newline="\n")
                written.append(ep["transcript"])
            size = sum((folder / f).stat().st_size for f in written if f.endswith((".mp3", ".mp4")))
            total += size
            print(f"{key}: {duration:.2f}s {' '.join(written)} ({size} bytes)")
    print(f"total episode media: {total} bytes")


# --------------------------------------------------------------------------- fixtures

# name -> how it was made (written into the README)
FIXTURE_NOTES: dict[str, str] = {
    "tone.mp3": (
        "440 Hz sine, 2 s, mono 22050 Hz, libmp3lame CBR 32 kb/s, `-write_xing 0` (no "
        "Xing/Info frame, no ID3 tag)"
    ),
    "vbr.mp3": (
        "espeak-ng speech padded/cut to 3 s, mono 22050 Hz, libmp3lame VBR `-q:a 9` (Xing "
        "header with frame count), no ID3 tag"
    ),
    "speech.m4a": (
        "espeak-ng speech padded/cut to 2 s, AAC-LC mono 22050 Hz (`-b:a 32k` asked; the "
        "native encoder overshoots on speech) in an MP4 "
        "(ipod/M4A) container, faststart"
    ),
    "video.mp4": (
        "flat colour card 160x90 @10 fps + 660 Hz sine, 2 s; H.264 (libx264) + AAC-LC "
        "mono 22050 Hz; `-movflags +faststart` (moov before mdat)"
    ),
    "stereo.mp3": (
        "440 Hz left / 550 Hz right sines, 2 s, stereo 44100 Hz, libmp3lame CBR 64 kb/s "
        "(ffmpeg's default Info frame), no ID3 tag"
    ),
    "audio-only.mp4": (
        "660 Hz sine, 2 s, AAC-LC mono 22050 Hz 32 kb/s in an .mp4 container (`-f mp4`), "
        "no video track"
    ),
    "truncated.mp3": (
        "first 30% of the bytes of vbr.mp3 (its Xing header still claims the full 3 s)"
    ),
    "truncated.mp4": (
        "the video.mp4 encode WITHOUT faststart (moov atom at the end), cut to its first "
        "half: the moov atom is lost, so it cannot be parsed"
    ),
    "empty.mp3": "0 bytes",
    "misnamed.mp3": "byte-for-byte copy of speech.m4a (AAC in MP4) with an .mp3 name",
    "garbage.mp3": (
        "4096 deterministic pseudo-random bytes: sha256('fo-cast garbage N') blocks, 0xFF "
        "bytes replaced by 0x00 so no MPEG sync word appears"
    ),
    "text.mp4": "a UTF-8 text file with an .mp4 name",
    "art-1400.png": "Pillow: flat colour 1400x1400 RGB with a stripe, PNG optimize=True",
    "art-small.png": "Pillow: 600x600 RGB PNG (below the 1400 px minimum)",
    "art-rect.png": "Pillow: 1400x1000 RGB PNG (not square)",
    "art-rgba.png": "Pillow: 1400x1400 RGBA PNG (has an alpha channel, fully opaque)",
    "art-cmyk.jpg": "Pillow: 1400x1400 CMYK JPEG, quality 50, optimize=True",
    "art.gif": "Pillow: 1400x1400 GIF (4-colour palette)",
    "art-3500.jpg": (
        "Pillow: 3500x3500 RGB JPEG, quality 10, optimize=True (over the 3000 px maximum)"
    ),
}


def note(name: str) -> Path:
    assert name in FIXTURE_NOTES, name
    return FIXTURES / name


def make_fixtures() -> None:
    FIXTURES.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)

        out = note("tone.mp3")
        ffmpeg(
            "-f",
            "lavfi",
            "-i",
            f"sine=frequency=440:sample_rate={SAMPLE_RATE}:duration=2",
            *BITEXACT,
            "-ac",
            "1",
            "-c:a",
            "libmp3lame",
            "-b:a",
            "32k",
            "-write_xing",
            "0",
            "-id3v2_version",
            "0",
            str(out),
        )

        speak("This file is encoded with a variable bit rate.", tmp / "vbr.wav")
        out = note("vbr.mp3")
        ffmpeg(
            "-i",
            str(tmp / "vbr.wav"),
            *BITEXACT,
            "-af",
            "apad=whole_dur=3,atrim=duration=3",
            "-ac",
            "1",
            "-c:a",
            "libmp3lame",
            "-q:a",
            "9",
            "-id3v2_version",
            "0",
            str(out),
        )

        speak("Testing, one, two, three.", tmp / "speech.wav")
        out = note("speech.m4a")
        ffmpeg(
            "-i",
            str(tmp / "speech.wav"),
            *BITEXACT,
            "-af",
            "apad=whole_dur=2,atrim=duration=2",
            "-ac",
            "1",
            "-c:a",
            "aac",
            "-b:a",
            "32k",
            "-movflags",
            "+faststart",
            str(out),
        )

        video_args = [
            "-f",
            "lavfi",
            "-i",
            "color=c=0x336699:s=160x90:r=10:d=2",
            "-f",
            "lavfi",
            "-i",
            f"sine=frequency=660:sample_rate={SAMPLE_RATE}:duration=2",
            *BITEXACT,
            "-c:v",
            "libx264",
            "-threads",
            "1",
            "-preset",
            "veryslow",
            "-crf",
            "30",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-b:a",
            "32k",
            "-ac",
            "1",
            "-shortest",
        ]
        out = note("video.mp4")
        ffmpeg(*video_args, "-movflags", "+faststart", str(out))

        out = note("stereo.mp3")
        ffmpeg(
            "-f",
            "lavfi",
            "-i",
            "aevalsrc=0.5*sin(440*2*PI*t)|0.5*sin(550*2*PI*t):s=44100:d=2",
            *BITEXACT,
            "-ac",
            "2",
            "-ar",
            "44100",
            "-c:a",
            "libmp3lame",
            "-b:a",
            "64k",
            "-id3v2_version",
            "0",
            str(out),
        )

        out = note("audio-only.mp4")
        ffmpeg(
            "-f",
            "lavfi",
            "-i",
            f"sine=frequency=660:sample_rate={SAMPLE_RATE}:duration=2",
            *BITEXACT,
            "-ac",
            "1",
            "-c:a",
            "aac",
            "-b:a",
            "32k",
            "-movflags",
            "+faststart",
            "-f",
            "mp4",
            str(out),
        )

        # ---- broken files
        data = (FIXTURES / "vbr.mp3").read_bytes()
        note("truncated.mp3").write_bytes(data[: int(len(data) * 0.3)])

        ffmpeg(*video_args, str(tmp / "moov-at-end.mp4"))
        data = (tmp / "moov-at-end.mp4").read_bytes()
        note("truncated.mp4").write_bytes(data[: len(data) // 2])

        note("empty.mp3").write_bytes(b"")
        note("misnamed.mp3").write_bytes((FIXTURES / "speech.m4a").read_bytes())

        garbage = bytearray()
        counter = 0
        while len(garbage) < 4096:
            garbage += hashlib.sha256(f"fo-cast garbage {counter}".encode()).digest()
            counter += 1
        # drop 0xFF bytes so no MPEG frame sync (0xFFEx/0xFFFx) can appear by chance
        garbage = bytes(b if b != 0xFF else 0x00 for b in garbage[:4096])
        note("garbage.mp3").write_bytes(garbage)

        note("text.mp4").write_text(
            "This is not a video. It is a plain text file named text.mp4,"
            " used to test media validation.\n",
            encoding="utf-8",
            newline="\n",
        )

        # ---- images
        bg, accent = (40, 90, 160), (240, 200, 40)
        draw_card((1400, 1400), "", bg, accent).save(note("art-1400.png"), optimize=True)
        draw_card((600, 600), "", bg, accent).save(note("art-small.png"), optimize=True)
        draw_card((1400, 1000), "", bg, accent).save(note("art-rect.png"), optimize=True)
        draw_card((1400, 1400), "", bg, accent, mode="RGBA").save(
            note("art-rgba.png"), optimize=True
        )
        draw_card((1400, 1400), "", bg, accent, mode="CMYK").save(
            note("art-cmyk.jpg"), quality=50, optimize=True
        )
        draw_card((1400, 1400), "", bg, accent).convert(
            "P", palette=Image.Palette.ADAPTIVE, colors=4
        ).save(note("art.gif"))
        draw_card((3500, 3500), "", bg, accent).save(
            note("art-3500.jpg"), quality=10, optimize=True
        )

    write_fixture_readme()


def probe(path: Path) -> dict | None:
    proc = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-print_format",
            "json",
            "-show_format",
            "-show_streams",
            str(path),
        ],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        return None
    data = json.loads(proc.stdout or "{}")
    return data if data.get("streams") else None


def write_fixture_readme() -> None:
    rows = []
    for name in sorted(FIXTURE_NOTES):
        path = FIXTURES / name
        size = path.stat().st_size
        info = probe(path)
        image_mode = ""
        if path.suffix in (".png", ".jpg", ".gif"):
            with Image.open(path) as im:
                image_mode = f"{im.format} {im.mode}"
        if info is None:
            rows.append((name, size, "ffprobe fails", "–", "–", "–", "–", "–", image_mode))
            continue
        fmt = info["format"]
        duration = fmt.get("duration")
        codecs, rates, channels, dims = [], [], [], []
        for s in info["streams"]:
            codecs.append(f"{s['codec_type']}:{s['codec_name']}")
            if s["codec_type"] == "audio":
                rates.append(s.get("sample_rate", "?"))
                channels.append(str(s.get("channels", "?")))
            elif s["codec_type"] == "video":
                dims.append(f"{s['width']}x{s['height']}")
        rows.append(
            (
                name,
                size,
                fmt["format_name"],
                duration if duration and not image_mode else "–",
                ", ".join(codecs),
                ", ".join(rates) or "–",
                ", ".join(channels) or "–",
                ", ".join(dims) or "–",
                image_mode,
            )
        )

    lines = [
        "# Media test fixtures",
        "",
        "Generated by `scripts/make_sample_media.py --fixtures` (espeak-ng + ffmpeg + Pillow);",
        "do not edit by hand,",
        "re-run the script instead (it rewrites this README). Facts below come from",
        "`ffprobe -show_format -show_streams` (duration = `format.duration` in seconds)",
        "and Pillow (image mode).",
        '"ffprobe fails" means ffprobe exits non-zero or finds no stream.',
        "Values were produced with ffmpeg 5.1 (Debian 12) and espeak-ng 1.51;",
        "other versions may differ slightly in bytes.",
        "",
        "| file | bytes | ffprobe format | duration (s) | streams | sample rate (Hz) | channels"
        " | width x height | image |",
        "|---|---:|---|---:|---|---:|---:|---|---|",
    ]
    for r in rows:
        lines.append(
            "| `" + r[0] + "` | " + " | ".join(str(c) if c != "" else "–" for c in r[1:]) + " |"
        )
    lines += ["", "## How each file was made", ""]
    for name in sorted(FIXTURE_NOTES):
        lines.append(f"- `{name}`: {FIXTURE_NOTES[name]}")
    lines.append("")
    (FIXTURES / "README.md").write_text("\n".join(lines), encoding="utf-8", newline="\n")
    print("\n".join(lines))


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--artwork", action="store_true", help="write episodes/<show>/artwork.png")
    parser.add_argument(
        "--episodes", action="store_true", help="write episode audio/video/transcripts"
    )
    parser.add_argument("--fixtures", action="store_true", help="write tests/fixtures/media/*")
    args = parser.parse_args(argv)
    everything = not (args.artwork or args.episodes or args.fixtures)
    for tool in ("ffmpeg", "ffprobe", "espeak-ng"):
        if shutil.which(tool) is None:
            print(f"error: {tool} not found on PATH", file=sys.stderr)
            return 2
    try:
        if args.artwork or everything:
            make_artwork()
        if args.episodes or everything:
            make_episodes()
        if args.fixtures or everything:
            make_fixtures()
    except subprocess.CalledProcessError as exc:
        stderr = exc.stderr.decode(errors="replace")
        print(f"error: {' '.join(map(str, exc.cmd[:3]))}...: {stderr}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
