"""checks.py: cross-file checks, the probe cache, paths that leave the catalogue."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path, PurePosixPath

import pytest
from conftest import MEDIA

import fo_cast
from fo_cast.catalogue.checks import check_artwork, validate_catalogue
from fo_cast.catalogue.reader import load_catalogue
from fo_cast.media.probe import ProbeCache, Probed
from fo_cast.problems import Report

EPISODE = "talks/2024-08-04-middle-east-part-1"


def test_probed_holds_media_and_artwork(sample: Path) -> None:
    checked = fo_cast.check(sample)
    probed, report = checked.probed, checked.report
    assert report.problems == []
    audio = sample / EPISODE / "audio.mp3"
    video = sample / EPISODE / "video.mp4"
    assert probed.media[audio].mime_type == "audio/mpeg"
    assert probed.media[video].kind == "video"
    assert probed.media[video].width and probed.media[video].height
    assert {p.name for p in probed.images} == {"artwork.png"}
    assert all(i.width >= 1400 and i.width == i.height for i in probed.images.values())


def test_second_validate_opens_no_media(sample: Path, monkeypatch) -> None:
    first = fo_cast.check(sample).probed
    cache = json.loads((sample / ".fo-cast" / "probe.json").read_text(encoding="utf-8"))
    assert len(cache["entries"]) == len(first.media) + len(first.images)

    def refuse(path: Path) -> None:
        raise AssertionError(f"opened {path}")

    monkeypatch.setattr("fo_cast.media.probe.probe_media", refuse)
    monkeypatch.setattr("fo_cast.media.probe.probe_image", refuse)  # artwork too
    second = fo_cast.check(sample).probed
    assert second.media == first.media and second.images == first.images
    # touching one file probes exactly that one again
    audio = sample / EPISODE / "audio.mp3"
    stat = audio.stat()
    os.utime(audio, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    opened: list[Path] = []

    def record(path: Path):
        opened.append(path)
        from fo_cast.media.probe import MediaInfo

        return MediaInfo(
            size=1, mime_type="audio/mpeg", duration=1.0, kind="audio", container="mp3"
        )

    monkeypatch.setattr("fo_cast.media.probe.probe_media", record)
    fo_cast.check(sample)
    assert opened == [audio]


def test_no_cache_when_asked(sample: Path) -> None:
    fo_cast.validate(sample, use_cache=False)
    assert not (sample / ".fo-cast").exists()


def test_read_only_cache_folder_is_only_slower(sample: Path) -> None:
    (sample / ".fo-cast").write_text("a file where the folder should be")
    assert fo_cast.validate(sample).problems == []


def test_broken_media_is_cached_with_its_message(sample: Path) -> None:
    (sample / EPISODE / "audio.mp3").write_bytes((MEDIA / "truncated.mp3").read_bytes())
    first = [str(p) for p in fo_cast.validate(sample)]
    second = [str(p) for p in fo_cast.validate(sample)]
    assert (
        first
        == second
        == [
            f"episodes/{EPISODE}/episode.yaml:8: media[0].file: 'audio.mp3': truncated: "
            "its header promises 13913 bytes of audio but the file has 4173"
        ]
    )


def test_symlink_inside_the_catalogue_is_fine(sample: Path) -> None:
    folder = sample / EPISODE
    (folder / "audio.mp3").rename(sample / "shared-audio.mp3")
    (folder / "audio.mp3").symlink_to(Path("..") / ".." / "shared-audio.mp3")
    assert fo_cast.validate(sample).problems == []


def test_symlinked_folder_outside(sample: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "a.mp3").write_bytes((MEDIA / "tone.mp3").read_bytes())
    (sample / EPISODE / "media").symlink_to(outside)
    manifest = sample / EPISODE / "episode.yaml"
    manifest.write_text(
        manifest.read_text(encoding="utf-8").replace("- file: audio.mp3", "- file: media/a.mp3"),
        encoding="utf-8",
    )
    assert [str(p) for p in fo_cast.validate(sample)] == [
        f"episodes/{EPISODE}/episode.yaml:8: media[0].file: 'media/a.mp3' points outside the "
        "catalogue"
    ]


def test_type_that_disagrees_with_the_file_is_a_warning(sample: Path) -> None:
    manifest = sample / EPISODE / "episode.yaml"
    manifest.write_text(
        manifest.read_text(encoding="utf-8").replace(
            "- file: audio.mp3", "- file: audio.mp3\n    type: audio/mp4"
        ),
        encoding="utf-8",
    )
    report = fo_cast.validate(sample)
    assert [str(p) for p in report] == [
        f"episodes/{EPISODE}/episode.yaml:9: warning: media[0].type: says audio/mp4 but the "
        "file is audio/mpeg; remove type"
    ]
    assert not report.failed() and report.failed(strict=True)


def test_transcript_must_be_vtt_or_srt(sample: Path) -> None:
    folder = sample / EPISODE
    (folder / "transcript.vtt").rename(folder / "transcript.txt")
    manifest = folder / "episode.yaml"
    manifest.write_text(
        manifest.read_text(encoding="utf-8").replace("transcript.vtt", "transcript.txt"),
        encoding="utf-8",
    )
    assert [p.message for p in fo_cast.validate(sample)] == [
        "'transcript.txt' must be WebVTT (.vtt) or SubRip (.srt)"
    ]


@pytest.mark.parametrize(
    ("name", "messages"),
    [
        ("art-1400.png", []),
        ("art.gif", ["art.gif is a GIF image; Apple Podcasts takes only JPEG or PNG",
                     "art.gif is in colour mode P; save it as RGB, without transparency"]),
        ("art-rgba.png", ["art-rgba.png is in colour mode RGBA; save it as RGB, without "
            "transparency"]),
        ("art-cmyk.jpg", ["art-cmyk.jpg is in colour mode CMYK; save it as RGB, without "
            "transparency"]),
        ("art-rect.png", ["art-rect.png is 1400x1000 px; make it square"]),
        ("art-small.png", ["art-small.png is 600x600 px; Apple Podcasts wants 1400 to "
            "3000 px a side"]),
        ("art-3500.jpg", ["art-3500.jpg is 3500x3500 px; Apple Podcasts wants 1400 to "
            "3000 px a side"]),
        ("tone.mp3", ["tone.mp3 is not an image fo-cast can read; save it as JPEG or PNG"]),
    ],
)  # fmt: skip
def test_artwork_rules(name: str, messages: list[str]) -> None:
    report, probed = Report(), Probed()
    args = (MEDIA / name, PurePosixPath("s/show.yaml"), "artwork", 4, probed)
    check_artwork(MEDIA, *args, ProbeCache(None), report)
    assert [p.message for p in report] == messages
    assert all((p.field, p.line) == ("artwork", 4) for p in report)


@pytest.mark.parametrize("name", ["art-rect.png", "tone.mp3"])
def test_artwork_facts_are_taken_once_per_file_as_it_is(
    tmp_path: Path, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A PNG's image data is inflated whole to know it is complete (100 ms at 3000 px): the
    probe cache keeps what was found, problems too, until the file changes."""
    from fo_cast.media import probe

    art = tmp_path / name
    shutil.copyfile(MEDIA / name, art)
    os.utime(art, (time.time() - 3600, time.time() - 3600))  # settled: facts are remembered
    opened: list[Path] = []
    real = probe.probe_image
    monkeypatch.setattr(probe, "probe_image", lambda path: opened.append(path) or real(path))
    messages = []
    for _ in range(2):
        cache, report = ProbeCache(tmp_path / "probe.json"), Report()
        check_artwork(
            tmp_path, art, PurePosixPath("s/show.yaml"), "artwork", 4, Probed(), cache, report
        )
        cache.save()
        messages.append([p.message for p in report])
    assert opened == [art] and messages[0] == messages[1] != []
    art.write_bytes(art.read_bytes() + b"\0")  # changed: looked at again
    cache = ProbeCache(tmp_path / "probe.json")
    check_artwork(
        tmp_path, art, PurePosixPath("s/show.yaml"), "artwork", 4, Probed(), cache, Report()
    )
    assert opened == [art, art]


def test_validate_catalogue_only_adds_to_the_report(sample: Path) -> None:
    catalogue, report = load_catalogue(sample)
    report.add("elsewhere", "", "kept")
    validate_catalogue(catalogue, report, use_cache=False)
    assert [p.message for p in report] == ["kept"]


def test_a_show_with_errors_still_has_its_episodes_checked(sample: Path) -> None:
    """One run names every problem: a show.yaml without its owner's email does not hide its
    episodes' repeated numbers or a companion's broken link (an import of a real feed often
    has all three)."""
    show = sample / "talks" / "show.yaml"
    show.write_text(
        "".join(line for line in show.read_text(encoding="utf-8").splitlines(keepends=True)
                if "email" not in line),
        encoding="utf-8",
    )  # fmt: skip
    first, second = sorted(p for p in (sample / "talks").iterdir() if p.is_dir())[:2]
    manifest = second / "episode.yaml"
    text = manifest.read_text(encoding="utf-8")
    manifest.write_text(text.replace("\nepisode: 2\n", "\nepisode: 1\n"), encoding="utf-8")
    with (first / "companion.md").open("a", encoding="utf-8") as companion:
        companion.write("\n[gone](../nowhere/)\n")
    shown = {
        (str(p.file).split("/", 1)[1], p.field, p.message.split(";")[0])
        for p in fo_cast.validate(sample).errors
    }
    assert ("talks/show.yaml", "owner.email", "required") in shown
    assert (
        f"talks/{second.name}/episode.yaml",
        "episode",
        f"episode 1 is already used by {sample.name}/talks/{first.name}/episode.yaml",
    ) in shown
    assert (
        f"talks/{first.name}/companion.md",
        "companion",
        "the link '../nowhere/' names no file or episode",
    ) in shown


def test_a_control_character_in_any_path_is_a_problem_at_its_line(sample: Path) -> None:
    # os.stat() raised "embedded null byte": validate and build stopped with exit 70
    manifest = sample / EPISODE / "episode.yaml"
    text = manifest.read_text(encoding="utf-8")
    text = text.replace("- file: video.mp4", '- file: "video.mp4\\0"')
    text = text.replace("transcript: transcript.vtt", 'transcript: "a\\x00b"')
    manifest.write_text(text + 'image: "a\\u0000b.png"\n', encoding="utf-8")
    show = sample / "live" / "show.yaml"
    show.write_text(
        show.read_text(encoding="utf-8").replace("artwork: artwork.png", 'artwork: "a\\0.png"'),
        encoding="utf-8",
    )
    with (sample / "fo-cast.toml").open("a", encoding="utf-8") as settings:
        settings.write('\n[media]\nfolder = "\\u0000"\n')
    fix = "contains the control character U+0000; remove it"
    assert sorted(str(p) for p in fo_cast.validate(sample)) == [
        f"episodes/fo-cast.toml: media.folder: {fix}",
        f"episodes/live/show.yaml:9: artwork: {fix}",
        f"episodes/{EPISODE}/episode.yaml:27: transcript: {fix}",
        f"episodes/{EPISODE}/episode.yaml:31: image: {fix}",
        f"episodes/{EPISODE}/episode.yaml:9: media[1].file: {fix}",
    ]


def _png_3000() -> bytes:
    """Returns a 3000x3000 RGB PNG: artwork Apple takes, were it whole."""
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (3000, 3000), (200, 40, 40)).save(out, format="PNG")
    return out.getvalue()


def test_truncated_artwork_and_episode_image_are_errors(sample: Path) -> None:
    # both passed validation, and tag stopped with "image file is truncated", naming no file
    cut = _png_3000()[:200]
    (sample / "talks" / "artwork.png").write_bytes(cut)
    (sample / EPISODE / "cover.png").write_bytes(cut)
    manifest = sample / EPISODE / "episode.yaml"
    manifest.write_text(
        manifest.read_text(encoding="utf-8") + "image: cover.png\n", encoding="utf-8"
    )
    damaged = "is truncated or damaged (Truncated File Read); export it again"
    assert [str(p) for p in fo_cast.validate(sample)] == [
        f"episodes/{EPISODE}/episode.yaml:31: image: cover.png {damaged}",
        f"episodes/talks/show.yaml:9: artwork: artwork.png {damaged}",
    ]
