"""`fo-cast tag`: the tags and chapters inside the media, read back with mutagen and ffprobe."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from mutagen.id3 import ID3, CTOCFlags, PictureType
from mutagen.mp4 import MP4
from PIL import Image
from typer.testing import CliRunner

import fo_cast.build
from fo_cast.cli import app
from fo_cast.media import probe as probe_module
from fo_cast.media import tags as tags_module
from fo_cast.media.probe import probe_chapters, probe_media

runner = CliRunner()
EPISODE = "exclusive/2024-07-23-russia-charm-offensive"  # audio.mp3 + video.mp4, 3 chapters
GUID = "781d1351-9970-4633-b312-a97a6f2d7045"
SUMMARY = (
    "Vladimir Putin's trip to Pyongyang bought Russia shells and workers, and showed Moscow "
    "courting the Global South on its own terms, not Beijing's."
)
FEED = "https://podcasts.fairobserver.com/exclusive/feed.xml"
VIDEO_FEED = "https://podcasts.fairobserver.com/exclusive/video.xml"
LONG_TITLE = "A chapter title well over fifty-one characters long, which v2.4 breaks"


def invoke(*args: str | Path):
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def ffprobe(path: Path) -> dict:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_format", "-show_chapters", "-of", "json", str(path)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return json.loads(out.stdout)


def audio_md5(path: Path) -> str:
    """Returns ffmpeg's MD5 of the audio packets, as they are (no decoding)."""
    out = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-map", "0:a", "-c", "copy", "-f", "md5", "-"],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return out.stdout.strip()


def after_id3(data: bytes) -> bytes:
    """Returns the bytes after an ID3v2 tag (the audio frames, and an ID3v1 tag if any)."""
    if data[:3] != b"ID3":
        return data
    size = (data[6] << 21) | (data[7] << 14) | (data[8] << 7) | data[9]
    return data[10 + size :]


def hashes(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.suffix in (".mp3", ".mp4", ".m4a") and ".fo-cast" not in p.parts
    }


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_mp3_tags_read_back_with_mutagen(sample: Path) -> None:
    manifest = sample / EPISODE / "episode.yaml"
    edit(
        manifest,
        "title: What comes next",
        f"title: {LONG_TITLE}\n    url: https://example.org/next",
    )
    original = (sample / EPISODE / "audio.mp3").read_bytes()
    result = invoke("tag", sample)
    assert result.exit_code == 0, result.output
    path = sample / EPISODE / "audio.mp3"
    assert f"episodes/{EPISODE}/audio.mp3: tagged (" in result.stdout

    raw = ID3(path, translate=False)
    assert raw.version == (2, 3, 0)
    assert str(raw["TYER"]) == "2024" and str(raw["TDAT"]) == "2307"  # v2.3 dates
    assert "TDRC" not in raw
    tags = ID3(path)
    assert tags["TIT2"].text == ["Russia Has Kicked Off a New Charm Offensive"]
    assert tags["TPE1"].text == ["Fair Observer"]
    assert tags["TALB"].text == ["FO° Exclusive"]
    assert str(tags["TDRC"]) == "2024-07-23"
    assert tags["TRCK"].text == ["1"] and "TPOS" not in tags
    assert tags["TDES"].text == [SUMMARY]
    assert tags.getall("COMM")[0].text == [SUMMARY]
    assert tags["TGID"].text == [GUID]
    assert tags["WFED"].url == FEED
    assert tags["PCST"].value == 1

    (picture,) = tags.getall("APIC")
    assert (picture.type, picture.mime) == (PictureType.COVER_FRONT, "image/jpeg")
    with Image.open(io.BytesIO(picture.data)) as image:
        assert (image.format, image.mode, image.size) == ("JPEG", "RGB", (1400, 1400))

    (toc,) = tags.getall("CTOC")
    assert toc.flags == CTOCFlags.TOP_LEVEL | CTOCFlags.ORDERED
    assert toc.child_element_ids == ["chp0", "chp1", "chp2"]
    assert toc.sub_frames["TIT2"].text == ["Chapters"]
    chapters = [tags[f"CHAP:{element}"] for element in toc.child_element_ids]
    duration = round(probe_media(path).duration * 1000)
    assert [(c.start_time, c.end_time) for c in chapters] == [
        (0, 3000), (3000, 6000), (6000, duration)
    ]  # fmt: skip
    assert [c.sub_frames["TIT2"].text[0] for c in chapters] == [
        "Introduction", "The main argument", LONG_TITLE
    ]  # fmt: skip
    assert chapters[2].sub_frames.getall("WXXX")[0].url == "https://example.org/next"

    # the audio frames are the same bytes; only the tag in front of them is new
    assert after_id3(path.read_bytes()) == after_id3(original)


def test_mp3_tags_and_chapters_read_back_with_ffprobe(sample: Path) -> None:
    assert invoke("tag", sample).exit_code == 0
    found = ffprobe(sample / EPISODE / "audio.mp3")
    tags = found["format"]["tags"]
    assert tags["title"] == "Russia Has Kicked Off a New Charm Offensive"
    assert (tags["artist"], tags["album"], tags["track"]) == ("Fair Observer", "FO° Exclusive", "1")
    assert (tags["date"], tags["TGID"], tags["TDES"]) == ("2024-07-23", GUID, SUMMARY)
    duration = probe_media(sample / EPISODE / "audio.mp3").duration
    chapters = [
        (c["start_time"], c["end_time"], c["tags"]["title"]) for c in found["chapters"]
    ]  # in the file's order: the frames are written in time order
    assert chapters == [
        ("0.000000", "3.000000", "Introduction"),
        ("3.000000", "6.000000", "The main argument"),
        ("6.000000", f"{duration:.6f}", "What comes next"),
    ]


def test_mp4_atoms_and_chapters(sample: Path) -> None:
    path = sample / EPISODE / "video.mp4"
    before = audio_md5(path)
    assert invoke("tag", sample).exit_code == 0
    audio = MP4(path)
    assert audio.tags is not None
    assert audio.tags["©nam"] == ["Russia Has Kicked Off a New Charm Offensive"]
    assert audio.tags["©ART"] == ["Fair Observer"] and audio.tags["©alb"] == ["FO° Exclusive"]
    assert audio.tags["©day"] == ["2024-07-23"]
    assert audio.tags["ldes"] == [SUMMARY] and audio.tags["desc"] == [SUMMARY]
    assert audio.tags["trkn"] == [(1, 0)]
    # the video file is the video feed's item: its GUID and feed
    assert audio.tags["egid"] == [GUID + ":video"] and audio.tags["purl"] == [VIDEO_FEED]
    assert audio.tags["pcst"] is True
    (cover,) = audio.tags["covr"]
    with Image.open(io.BytesIO(bytes(cover))) as image:
        assert (image.format, image.size) == ("JPEG", (1400, 1400))
    assert [(c.start, c.title) for c in audio.chapters or []] == [
        (0.0, "Introduction"), (3.0, "The main argument"), (6.0, "What comes next")
    ]  # fmt: skip
    found = ffprobe(path)
    assert [(c["start_time"], c["tags"]["title"]) for c in found["chapters"]] == [
        ("0.000000", "Introduction"), ("3.000000", "The main argument"),
        ("6.000000", "What comes next"),
    ]  # fmt: skip
    assert found["format"]["tags"]["title"] == "Russia Has Kicked Off a New Charm Offensive"
    assert audio_md5(path) == before  # ffmpeg copied the audio packets as they were


def test_tagging_twice_changes_no_byte(sample: Path) -> None:
    first = invoke("tag", sample)
    assert first.stdout.splitlines()[-1] == "22 files tagged, 0 unchanged, 2 skipped."
    assert (
        "episodes/talks/europe-vote-crisis/audio.mp3: skipped (draft episode)"
        in first.stdout.splitlines()
    )
    tagged = hashes(sample)
    second = invoke("tag", sample)
    assert second.stdout.splitlines() == [
        "episodes/talks/europe-vote-crisis/audio.mp3: skipped (draft episode)",
        "episodes/talks/maker-space-india/audio.mp3: skipped (draft episode)",
        "0 files tagged, 22 unchanged, 2 skipped.",
    ]
    assert hashes(sample) == tagged
    assert not list(sample.rglob("*.tagging"))


def test_dry_run_lists_the_changes_and_writes_nothing(sample: Path) -> None:
    before = hashes(sample)
    result = invoke("tag", sample, "--dry-run")
    assert result.exit_code == 0
    assert (
        f"episodes/{EPISODE}/audio.mp3: would be tagged (artist, album, date, episode, "
        "summary, GUID, feed URL, podcast flag, chapters, cover)"  # the title was there
    ) in result.stdout.splitlines()
    assert result.stdout.splitlines()[-1] == "22 files would be tagged, 0 unchanged, 2 skipped."
    assert hashes(sample) == before

    invoke("tag", sample)
    edit(sample / EPISODE / "episode.yaml", "title: Introduction", "title: Opening")
    result = invoke("tag", sample, "--dry-run")
    assert [line for line in result.stdout.splitlines() if "would be tagged" in line] == [
        f"episodes/{EPISODE}/audio.mp3: would be tagged (chapters)",
        f"episodes/{EPISODE}/video.mp4: would be tagged (chapters)",
        "2 files would be tagged, 20 unchanged, 2 skipped.",
    ]


def test_validate_warns_when_tags_disagree_with_the_manifest(sample: Path) -> None:
    assert invoke("validate", sample, "--strict").exit_code == 0  # never tagged: no warning
    invoke("tag", sample)
    assert invoke("validate", sample, "--strict").exit_code == 0
    edit(
        sample / EPISODE / "episode.yaml",
        "title: Russia Has Kicked Off a New Charm Offensive",
        "title: Russia Has Started a New Charm Offensive",
    )
    result = invoke("validate", sample)
    assert result.stderr.splitlines() == [
        f"episodes/{EPISODE}/episode.yaml:8: warning: media[0].file: the tags inside "
        "'audio.mp3' disagree with the manifest (title); run fo-cast tag",
        f"episodes/{EPISODE}/episode.yaml:9: warning: media[1].file: the tags inside "
        "'video.mp4' disagree with the manifest (title); run fo-cast tag",
        "2 warnings in 1 file.",
    ]
    assert invoke("tag", sample).stdout.splitlines()[-1] == (
        "2 files tagged, 20 unchanged, 2 skipped."
    )
    assert invoke("validate", sample, "--strict").exit_code == 0


def test_a_crash_while_writing_leaves_the_file_as_it_was(
    sample: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = sample / EPISODE / "audio.mp3"
    before = path.read_bytes()

    def crash(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(tags_module._ChapterOrderID3, "save", crash)
    with pytest.raises(tags_module.TagError) as raised:
        fo_cast.build.tag_media(sample)
    assert str(raised.value) == (
        f"{path}: No space left on device (0 of 22 files were tagged before this one; run "
        "`fo-cast tag` again after fixing it)"
    )
    assert path.read_bytes() == before
    assert not list(sample.rglob("*.tagging"))


def test_scheduled_episodes_are_tagged_and_errors_tag_nothing(sample: Path) -> None:
    manifest = sample / "exclusive/2024-12-09-eu-crisis/episode.yaml"
    edit(manifest, "published: 2024-12-09", "published: 2099-12-09")
    edit(manifest, "status: published", "status: scheduled")
    invoke("tag", sample)
    tags = ID3(sample / "exclusive/2024-12-09-eu-crisis/audio.mp3")
    assert str(tags["TDRC"]) == "2099-12-09"

    before = hashes(sample)
    edit(manifest, "status: scheduled", "status: sideways")
    result = invoke("tag", sample)
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == "Nothing was tagged."
    assert hashes(sample) == before


def test_probe_lists_the_chapters(sample: Path) -> None:
    invoke("tag", sample)
    result = invoke("probe", sample / EPISODE / "audio.mp3", sample / EPISODE / "video.mp4")
    lines = result.stdout.splitlines()
    assert lines[1:4] == [
        "  chapter 0:00 Introduction",
        "  chapter 0:03 The main argument",
        "  chapter 0:06 What comes next",
    ]
    assert lines[5:8] == lines[1:4]
    found = json.loads(invoke("probe", sample / EPISODE / "video.mp4", "--format", "json").stdout)
    assert [c["title"] for c in found[0]["chapters"]] == [
        "Introduction", "The main argument", "What comes next"
    ]  # fmt: skip
    assert "tags" not in found[0]


def test_probe_reads_a_quicktime_chapter_track_through_ffprobe(tmp_path: Path, media: Path) -> None:
    meta = tmp_path / "chapters.txt"
    meta.write_text(
        ";FFMETADATA1\n[CHAPTER]\nTIMEBASE=1/1000\nSTART=0\nEND=1000\ntitle=One\n"
        "[CHAPTER]\nTIMEBASE=1/1000\nSTART=1000\nEND=2000\ntitle=Two\n",
        encoding="utf-8",
    )
    out = tmp_path / "track.m4a"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(media / "speech.m4a"), "-i", str(meta),
         "-map", "0", "-map_chapters", "1", "-c", "copy", "-movflags", "disable_chpl",
         "-f", "mp4", str(out)],
        check=True,
    )  # fmt: skip
    assert MP4(out).chapters is None  # no Nero chpl box, only a QuickTime chapter track
    marks = probe_chapters(out)
    assert [(m.start, m.title) for m in marks] == [(0, "One"), (1000, "Two")]


def test_new_episode_takes_the_chapters_from_a_file(sample: Path) -> None:
    invoke("tag", sample)
    source = sample / EPISODE / "audio.mp3"
    result = invoke(
        "new", "episode", "--show", "talks", "--catalogue", sample, "--chapters-from", source,
        "Chapters From A File",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    text = (sample / "talks/chapters-from-a-file/episode.yaml").read_text(encoding="utf-8")
    assert text.endswith(
        "chapters:\n"
        '  - start: "0:00"\n    title: "Introduction"\n'
        '  - start: "0:03"\n    title: "The main argument"\n'
        '  - start: "0:06"\n    title: "What comes next"\n'
    )
    assert invoke("validate", sample).exit_code == 0

    bare = sample / "exclusive/2024-08-18-middle-east-boiling-hot/audio.mp3"
    result = invoke(
        "new", "episode", "--show", "talks", "--catalogue", sample, "--chapters-from", bare,
        "No Chapters Here",
    )  # fmt: skip
    assert result.exit_code == 2
    assert result.stderr.strip() == f"fo-cast: --chapters-from {bare}: the file has no chapters"
    assert not (sample / "talks/no-chapters-here").exists()


def test_mp4_chapters_are_left_alone_without_ffmpeg(
    sample: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tags_module, "ffmpeg", lambda: None)
    path = sample / EPISODE / "video.mp4"
    result = invoke("tag", sample)
    assert result.exit_code == 0
    assert result.stderr.splitlines() == [
        "note: chapters not written into 3 MP4 files: mutagen cannot, and ffmpeg is not "
        "installed (apt-get install ffmpeg)"
    ]
    audio = MP4(path)
    assert audio.chapters is None  # mutagen cannot write them
    assert audio.tags is not None and audio.tags["©nam"] == [
        "Russia Has Kicked Off a New Charm Offensive"
    ]
    again = invoke("tag", sample)
    assert again.stdout.splitlines()[-1] == "0 files tagged, 22 unchanged, 2 skipped."
    assert invoke("validate", sample, "--strict").exit_code == 0


def test_fixture_media_without_any_tag(tmp_path: Path, media: Path, sample: Path) -> None:
    """tone.mp3 has no ID3 tag and no Xing frame; speech.m4a is an M4A from ffmpeg."""
    folder = sample / "talks/2024-08-16-scotus-40-year-rules"
    shutil.copyfile(media / "tone.mp3", folder / "audio.mp3")
    original = (folder / "audio.mp3").read_bytes()
    invoke("tag", sample)
    tagged = (folder / "audio.mp3").read_bytes()
    assert tagged[:4] == b"ID3\x03" and after_id3(tagged) == original
    assert ID3(folder / "audio.mp3")["TIT2"].text == [
        "SCOTUS Creates Tantalizing Opportunities to Overturn 40-Year-Old Rules"
    ]


def test_an_id3_v24_tag_is_rewritten_as_v23(sample: Path) -> None:
    invoke("tag", sample)
    path = sample / EPISODE / "audio.mp3"
    tags = ID3(path)
    tags.save(path, v2_version=4)  # what another tool may do to a tagged file
    assert path.read_bytes()[:4] == b"ID3\x04"
    result = invoke("tag", sample, "--dry-run")
    assert f"episodes/{EPISODE}/audio.mp3: would be tagged (ID3 version)" in result.stdout
    invoke("tag", sample)
    assert path.read_bytes()[:4] == b"ID3\x03"
    assert ID3(path)["TIT2"].text == ["Russia Has Kicked Off a New Charm Offensive"]


def test_the_cover_follows_the_episode_image_then_the_show_artwork(
    sample: Path, media: Path
) -> None:
    invoke("tag", sample)
    folder = sample / EPISODE
    shutil.copyfile(media / "art-1400.png", folder / "cover.png")
    edit(folder / "episode.yaml", "episode: 1\n", "episode: 1\nimage: cover.png\n")
    assert invoke("validate", sample, "--strict").exit_code == 0  # validate compares no cover
    result = invoke("tag", sample)
    assert [line for line in result.stdout.splitlines() if ": tagged" in line] == [
        f"episodes/{EPISODE}/audio.mp3: tagged (cover)",
        f"episodes/{EPISODE}/video.mp4: tagged (cover)",
    ]
    expected = tags_module.cover_image(media / "art-1400.png")
    assert ID3(folder / "audio.mp3").getall("APIC")[0].data == expected
    audio = MP4(folder / "video.mp4")
    assert audio.tags is not None and bytes(audio.tags["covr"][0]) == expected

    # a new show artwork changes the cover of every other episode of the show
    shutil.copyfile(media / "art-1400.png", sample / "exclusive/artwork.png")
    lines = invoke("tag", sample, "--dry-run").stdout.splitlines()
    changed = [line for line in lines if "would be tagged" in line]
    assert len(changed) == 12 and all(line.endswith("(cover)") for line in changed[:-1])
    assert all(line.startswith("episodes/exclusive/") for line in changed[:-1])
    assert EPISODE not in " ".join(changed)


def test_validate_after_tagging_opens_no_mp3(sample: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    invoke("tag", sample)
    opened: list[str] = []
    original = probe_module.probe_media

    def probe(path: Path) -> object:
        opened.append(path.name)
        return original(path)

    monkeypatch.setattr(probe_module, "probe_media", probe)
    assert invoke("validate", sample, "--strict").exit_code == 0
    assert sorted(set(opened)) == ["video.mp4"]  # ffmpeg remuxed those: probed once more
    opened.clear()
    assert invoke("validate", sample, "--strict").exit_code == 0
    assert opened == []


def test_external_media_are_skipped(sample: Path) -> None:
    manifest = sample / "exclusive/2024-08-18-middle-east-boiling-hot/episode.yaml"
    edit(
        manifest,
        "  - file: audio.mp3\n",
        "  - url: https://cdn.example.com/boiling.mp3\n    length: 1234\n"
        "    type: audio/mpeg\n    duration: 60\n",
    )
    result = invoke("tag", sample)
    assert result.exit_code == 0, result.output
    assert "https://cdn.example.com/boiling.mp3: skipped (external media)" in result.stdout
    assert result.stdout.splitlines()[-1] == "21 files tagged, 0 unchanged, 3 skipped."


def test_media_in_the_media_folder_are_tagged_where_they_are(
    sample: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FO_CAST_MEDIA", raising=False)
    nas = tmp_path / "nas" / "talks/2024-08-04-middle-east-part-1"
    nas.mkdir(parents=True)
    shutil.move(sample / "talks/2024-08-04-middle-east-part-1/audio.mp3", nas / "audio.mp3")
    settings = sample / "fo-cast.toml"
    settings.write_text(
        settings.read_text(encoding="utf-8") + '\n[media]\nfolder = "nas"\n', encoding="utf-8"
    )
    result = invoke("tag", sample)
    assert result.exit_code == 0, result.output
    assert "episodes/talks/2024-08-04-middle-east-part-1/audio.mp3: tagged (" in result.stdout
    assert ID3(nas / "audio.mp3")["TGID"].text[0]
    assert not (sample / "talks/2024-08-04-middle-east-part-1/audio.mp3").exists()
    assert invoke("tag", sample).stdout.splitlines()[-1] == (
        "0 files tagged, 22 unchanged, 2 skipped."
    )


def test_an_m4a_keeps_its_brand_and_gets_atoms_and_chapters(sample: Path, media: Path) -> None:
    folder = sample / "talks/2024-08-16-scotus-40-year-rules"
    (folder / "audio.mp3").unlink()
    shutil.copyfile(media / "speech.m4a", folder / "audio.m4a")
    edit(
        folder / "episode.yaml",
        "  - file: audio.mp3\n",
        "  - file: audio.m4a\n",
    )
    text = (folder / "episode.yaml").read_text(encoding="utf-8")
    (folder / "episode.yaml").write_text(
        text + 'chapters:\n  - {start: "0:00", title: One}\n  - {start: "0:01", title: Two}\n',
        encoding="utf-8",
    )
    before = audio_md5(folder / "audio.m4a")
    result = invoke("tag", sample)
    assert result.exit_code == 0, result.output
    data = (folder / "audio.m4a").read_bytes()
    assert data[8:12] == b"M4A "
    audio = MP4(folder / "audio.m4a")
    assert audio.tags is not None and audio.tags["©alb"] == ["FO° Talks"]
    assert [(c.start, c.title) for c in audio.chapters or []] == [(0.0, "One"), (1.0, "Two")]
    found = ffprobe(folder / "audio.m4a")
    assert [(c["start_time"], c["end_time"], c["tags"]["title"]) for c in found["chapters"]] == [
        ("0.000000", "1.000000", "One"), ("1.000000", "2.000000", "Two")
    ]  # fmt: skip
    assert audio_md5(folder / "audio.m4a") == before
    assert invoke("tag", sample).stdout.splitlines()[-1] == (
        "0 files tagged, 22 unchanged, 2 skipped."
    )
    assert (folder / "audio.m4a").read_bytes() == data


@pytest.mark.parametrize(
    ("old", "new", "line", "message"),
    [
        ("published: 2024-07-23T15:00:00+00:00", "published: 9999-12-31T23:59:59-23:59", 4,
         "published: the year 9999 cannot be right; write a year from 1900 to 9998"),
        ('start: "0:06"', "start: 1e308", 22,
         "chapters[2].start: must be 3600000 seconds (1000 hours) or less; no episode runs "
         "longer"),
    ],
)  # fmt: skip
def test_a_date_or_chapter_out_of_range_is_a_problem(
    sample: Path, old: str, new: str, line: int, message: str
) -> None:
    # tag stopped with OverflowError (exit 70): the UTC date, the chapter's milliseconds
    edit(sample / EPISODE / "episode.yaml", old, new)
    result = invoke("tag", sample)
    assert result.exit_code == 1
    assert f"episodes/{EPISODE}/episode.yaml:{line}: {message}" in result.stderr.splitlines()


def test_the_tag_date_is_in_utc_or_as_written_past_its_range() -> None:
    from datetime import datetime, timedelta, timezone

    from fo_cast.tagging import _utc_date

    assert _utc_date(datetime(2024, 8, 4, 1, tzinfo=timezone(timedelta(hours=2)))) == "2024-08-03"
    west = timezone(-timedelta(hours=23, minutes=59))  # in UTC the year 10000
    assert _utc_date(datetime(9999, 12, 31, 23, 59, 59, tzinfo=west)) == "9999-12-31"


def test_chapter_marks_end_at_the_media_however_late_a_start() -> None:
    from types import SimpleNamespace

    from fo_cast.catalogue.models import Chapter
    from fo_cast.tagging import chapter_marks

    late = [
        Chapter.model_construct(start=s, title=t, url=None) for s, t in [(1e308, "b"), (4.0, "a")]
    ]
    entry = SimpleNamespace(episode=SimpleNamespace(chapters=late))
    assert chapter_marks(entry, 10.0, with_urls=False) == (  # type: ignore[arg-type]
        tags_module.ChapterMark(4000, 10000, "a", None),
        tags_module.ChapterMark(10000, 10000, "b", None),
    )


def test_a_cover_that_cannot_be_decoded_names_the_file(tmp_path: Path, media: Path) -> None:
    # Pillow's "image file is truncated" was all tag said (exit 4)
    art = tmp_path / "artwork.png"
    data = (media / "art-1400.png").read_bytes()
    art.write_bytes(data[: len(data) // 2])
    with pytest.raises(tags_module.TagError) as caught:
        tags_module.cover_image(art)
    assert str(caught.value) == (
        f"{art}: cannot make the cover of it (image file is truncated); export it again"
    )


def test_a_read_only_media_file_stays_read_only_once_tagged(sample: Path) -> None:
    """tag replaces the file with its tagged copy: the copy takes the file's mode (444 came
    back 644)."""
    path = sample / EPISODE / "audio.mp3"
    path.chmod(0o444)
    result = invoke("tag", sample)
    assert result.exit_code == 0, result.output
    assert f"episodes/{EPISODE}/audio.mp3: tagged (" in result.stdout
    assert stat.S_IMODE(path.stat().st_mode) == 0o444
    assert ID3(path)["TIT2"].text == ["Russia Has Kicked Off a New Charm Offensive"]


def test_a_file_that_cannot_be_replaced_is_named(
    sample: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An immutable file (chattr +i) refuses the rename: the message named the temp copy."""
    import errno

    def refuse(source: object, target: object) -> None:
        raise PermissionError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(tags_module.os, "replace", refuse)
    path = sample / EPISODE / "audio.mp3"
    before = path.read_bytes()
    result = runner.invoke(app, ["tag", str(sample)])
    assert isinstance(result.exception, tags_module.TagError)
    assert str(result.exception) == (
        f"{path}: cannot replace it with its tagged copy (Operation not permitted); is it or "
        "its folder immutable or read-only? (0 of 22 files were tagged before this one; run "
        "`fo-cast tag` again after fixing it)"
    )
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir() if p.name.endswith(".tagging")] == []


STOP = "live/2024-09-13-south-korea-quad/audio.mp3"  # the 14th of the 22 files tag writes
LATER = "talks/2024-08-16-scotus-40-year-rules/audio.mp3"


def tag_stopped_at(stop: Path, error: OSError) -> str:
    """Runs `fo-cast tag` on the catalogue holding stop, with the rename of its tagged copy
    failing with error (every other file tagged as usual); returns what the run stopped with."""
    import os

    replace = os.replace

    def fail_one(source: str | Path, target: str | Path) -> None:
        if Path(target) == stop:
            raise error
        replace(source, target)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tags_module.os, "replace", fail_one)
        result = runner.invoke(app, ["tag", str(stop.parents[2])])
    assert isinstance(result.exception, tags_module.TagError)
    return str(result.exception)


def test_a_stop_says_how_many_files_were_tagged_before_it(
    sample: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stopped on an immutable file, tag named it and why, not that 13 files were already
    tagged (and stay so): the count, and that a second run goes on from there."""
    import errno

    stop, later = sample / STOP, sample / LATER
    stopped, untouched = stop.read_bytes(), later.read_bytes()
    # the only fault: chattr +i needs root, and root ignores it
    message = tag_stopped_at(stop, PermissionError(errno.EPERM, "Operation not permitted"))
    assert message == (
        f"{stop}: cannot replace it with its tagged copy (Operation not permitted); is it or "
        "its folder immutable or read-only? (13 of 22 files were tagged before this one; run "
        "`fo-cast tag` again after fixing it)"
    )
    # the files before it really are tagged, it and those after it are as they were
    assert ID3(sample / EPISODE / "audio.mp3")["TGID"].text == [GUID]
    video = MP4(sample / EPISODE / "video.mp4").tags
    assert video is not None and video["egid"] == [GUID + ":video"]
    assert (stop.read_bytes(), later.read_bytes()) == (stopped, untouched)
    assert not list(sample.rglob("*.tagging"))

    again = invoke("tag", sample)  # fixed (nothing refused any more): the run goes on
    assert again.exit_code == 0, again.output
    assert again.stdout.splitlines()[-1] == "9 files tagged, 13 unchanged, 2 skipped."


def test_a_full_disk_stops_tag_with_the_count_too(
    sample: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Any error of the system on the way (a full disk while the copy is written) ends the
    run with the file, the reason and how far it got, like a refused file."""
    import errno

    stop = sample / STOP
    message = tag_stopped_at(stop, OSError(errno.ENOSPC, "No space left on device"))
    assert message == (  # an error naming no file: the media file it was tagging
        f"{stop}: No space left on device (13 of 22 files were tagged before this one; run "
        "`fo-cast tag` again after fixing it)"
    )
    assert not list(sample.rglob("*.tagging"))


def test_a_folder_that_takes_no_new_file_is_named_not_the_copy(
    sample: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read-only folder (or mount) refuses the tagged copy before any rename: the message
    named the copy (.audio.mp3.<pid>.tagging: Permission denied), an OSError, no count."""
    import errno
    import os

    folder = sample / EPISODE
    before = hashes(sample)
    if os.geteuid() == 0:  # root writes into a 0o555 folder: refuse as the kernel would
        touch = Path.touch

        def refuse_here(self: Path, *args: object, **kwargs: object) -> None:
            if self.parent == folder:
                raise PermissionError(errno.EACCES, "Permission denied", str(self))
            touch(self, *args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(Path, "touch", refuse_here)
    folder.chmod(0o555)
    try:
        result = runner.invoke(app, ["tag", str(sample)])
    finally:
        folder.chmod(0o755)
    assert isinstance(result.exception, tags_module.TagError)
    assert str(result.exception) == (
        f"{folder / 'audio.mp3'}: cannot write its tagged copy beside it (Permission denied); "
        "is its folder read-only? (0 of 22 files were tagged before this one; run `fo-cast "
        "tag` again after fixing it)"
    )
    assert hashes(sample) == before
    assert not list(sample.rglob("*.tagging"))


def test_an_mp4_ffmpeg_reads_nothing_from_is_refused_and_left_as_it_was(sample: Path) -> None:
    """A damaged movie header: ffmpeg's copy once held only the chapter track and the
    cover, replaced the video, and `tag` said 'tagged'."""
    path = sample / EPISODE / "video.mp4"
    data = bytearray(path.read_bytes())
    at = data.find(b"moov")
    data[at + 8 : at + 40] = b"\xff" * 32  # the mvhd box header and its first fields
    path.write_bytes(bytes(data))
    from tests.helpers import run_fo_cast

    result = run_fo_cast("tag", sample)
    assert result.returncode == 4
    assert "video.mp4: ffmpeg reads no audio or video from it" in result.stderr
    assert path.read_bytes() == bytes(data)
    assert not list(sample.rglob("*.tagging"))


def test_long_or_carriage_return_mp4_chapter_titles_are_tagged_once(sample: Path) -> None:
    """An MP4 chapter box keeps 255 bytes of a title and ends it at a carriage return: such
    titles were written again at every run (and 200 accented letters failed the run)."""
    manifest = sample / EPISODE / "episode.yaml"
    long_title = "é" * 200  # 400 bytes
    edit(manifest, "title: Introduction", f"title: {long_title}")
    edit(manifest, "title: The main argument", 'title: "Part one\\rcontinued"')
    assert invoke("tag", sample).exit_code == 0
    chapters = MP4(sample / EPISODE / "video.mp4").chapters or []
    assert [c.title for c in chapters][:2] == ["é" * 127, "Part one\ncontinued"]
    tagged = hashes(sample)
    second = invoke("tag", sample)
    assert second.exit_code == 0 and second.stdout.splitlines()[-1].startswith("0 files tagged")
    assert hashes(sample) == tagged
    report = invoke("validate", sample)
    assert "disagree" not in report.stdout + report.stderr


def test_a_video_only_mp4_gets_its_chapters(sample: Path) -> None:
    """ffmpeg was asked for the audio (-map 0:a) a video-only file does not have."""
    path = sample / EPISODE / "video.mp4"
    silent = path.with_name("silent.mp4")
    subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-map", "0:v:0", "-c", "copy", str(silent)],
        check=True,
    )
    silent.replace(path)
    result = invoke("tag", sample)
    assert result.exit_code == 0, result.stderr
    assert [c.title for c in MP4(path).chapters or []] == [
        "Introduction", "The main argument", "What comes next"
    ]  # fmt: skip


def test_a_killed_runs_leftover_copy_goes_and_the_owner_stays(sample: Path) -> None:
    """A SIGKILLed `tag` left its full-size .NAME.PID.tagging copy for ever (its ffmpeg
    went on writing); and a file root tagged became root's, its owner locked out."""
    import os

    path = sample / EPISODE / "audio.mp3"
    stale = path.with_name(".audio.mp3.999999999.tagging")  # no such process
    stale.write_bytes(b"half a copy")
    os.chown(path, 65534, 65534)  # the producer's file (the suite runs as root, as CI does)
    assert invoke("tag", sample).exit_code == 0
    assert not stale.exists()
    assert (path.stat().st_uid, path.stat().st_gid) == (65534, 65534)
    assert not list(sample.rglob("*.tagging"))
