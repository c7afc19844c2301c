"""Media outside the checkout: [media] folder / FO_CAST_MEDIA, looked up under SHOW/EPISODE/."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

import fo_cast
from fo_cast.build import build, build_catalogue
from fo_cast.catalogue.settings import MEDIA_ENV

NOW = datetime(2025, 1, 1, tzinfo=UTC)
EPISODE = "talks/2024-08-04-middle-east-part-1"


@pytest.fixture(autouse=True)
def no_media_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MEDIA_ENV, raising=False)


def move_media(sample: Path, nas: Path) -> None:
    """Moves the episode's audio and video into nas/SHOW/EPISODE/."""
    folder = nas / EPISODE
    folder.mkdir(parents=True)
    for name in ("audio.mp3", "video.mp4"):
        shutil.move(sample / EPISODE / name, folder / name)


def set_folder(sample: Path, value: str) -> None:
    settings = sample / "fo-cast.toml"
    settings.write_text(
        settings.read_text(encoding="utf-8") + f'\n[media]\nfolder = "{value}"\n',
        encoding="utf-8",
    )


def feeds_and_sources(root: Path) -> tuple[dict[str, bytes], dict[str, Path | None]]:
    checked, result = build_catalogue(root, now=NOW)
    assert checked.report.problems == []
    data = {o.path: o.data for o in result.outputs if o.path.endswith(".xml") and o.data}
    return data, {o.path: o.source for o in result.outputs}


def test_media_in_the_media_folder_build_like_local_media(sample: Path, tmp_path: Path) -> None:
    local_feeds, local_sources = feeds_and_sources(sample)
    move_media(sample, tmp_path / "nas")
    set_folder(sample, "nas")  # relative to the folder holding the catalogue
    feeds, sources = feeds_and_sources(sample)
    assert feeds == local_feeds  # same enclosures, lengths, durations: byte for byte
    audio = f"{EPISODE}/audio.mp3"
    assert local_sources[audio] == sample / EPISODE / "audio.mp3"
    assert sources[audio] == tmp_path / "nas" / EPISODE / "audio.mp3"
    assert sources[f"{EPISODE}/video.mp4"] == tmp_path / "nas" / EPISODE / "video.mp4"
    out = tmp_path / "feeds"
    fo_cast.write_tree(build(fo_cast.check(sample, now=NOW)), out)
    assert (out / audio).read_bytes() == (tmp_path / "nas" / audio).read_bytes()
    again = fo_cast.check(sample, now=NOW)  # the probe cache knows the file by its whole path
    assert again.report.problems == []


def test_the_environment_overrides_the_setting(
    sample: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    move_media(sample, tmp_path / "mnt" / "media")
    set_folder(sample, "/nowhere/fo-cast-media")
    monkeypatch.setenv(MEDIA_ENV, str(tmp_path / "mnt" / "media"))
    checked = fo_cast.check(sample, now=NOW)
    assert checked.report.problems == []
    assert checked.catalogue.media_folder == tmp_path / "mnt" / "media"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(MEDIA_ENV, "mnt/media")  # relative to where the command runs
    assert fo_cast.check(sample, now=NOW).report.problems == []


def test_a_missing_file_says_where_it_was_looked_for(sample: Path, tmp_path: Path) -> None:
    (tmp_path / "nas").mkdir()
    (sample / EPISODE / "audio.mp3").unlink()
    set_folder(sample, str(tmp_path / "nas"))
    lines = [str(p) for p in fo_cast.validate(sample).problems]
    assert lines == [
        f"episodes/{EPISODE}/episode.yaml:8: media[0].file: no such file 'audio.mp3' "
        f"(looked in episodes/{EPISODE}/ and {tmp_path}/nas/{EPISODE}/)"
    ]


def test_a_media_folder_that_is_not_there_is_named(sample: Path, tmp_path: Path) -> None:
    (sample / EPISODE / "video.mp4").unlink()
    set_folder(sample, "unmounted")
    lines = [str(p) for p in fo_cast.validate(sample).problems]
    assert lines == [
        f"episodes/{EPISODE}/episode.yaml:9: media[1].file: no such file 'video.mp4' "
        f"(looked in episodes/{EPISODE}/ and {tmp_path}/unmounted/{EPISODE}/; "
        f"the media folder {tmp_path}/unmounted is not there: mount it or correct its path)"
    ]


@pytest.mark.parametrize(
    ("make", "why"),
    [
        ("file", "is a file, not a folder: correct its path"),
        ("loop", "cannot be read (Too many levels of symbolic links): correct its path or its"),
        ("dangling", "is a symlink to nothing: correct the link"),
    ],
)
def test_a_media_folder_that_is_no_folder_says_what_it_is(
    sample: Path, tmp_path: Path, make: str, why: str
) -> None:
    """It was 'is not there: mount it' for a file and for a symlink loop alike."""
    folder = tmp_path / "nas"
    if make == "file":
        folder.write_text("not a folder")
    elif make == "loop":
        folder.symlink_to(folder)
    else:
        folder.symlink_to(tmp_path / "gone")
    (sample / EPISODE / "video.mp4").unlink()
    set_folder(sample, str(folder))
    (line,) = [str(p) for p in fo_cast.validate(sample).problems]
    assert f"; the media folder {folder} {why}" in line


def test_an_unused_media_folder_that_is_not_there_is_no_problem(sample: Path) -> None:
    set_folder(sample, "unmounted")
    assert fo_cast.validate(sample).problems == []


def test_the_episode_folder_wins(sample: Path, tmp_path: Path) -> None:
    nas = tmp_path / "nas" / EPISODE
    nas.mkdir(parents=True)
    shutil.copyfile(sample / "talks" / "artwork.png", nas / "audio.mp3")  # not even audio
    set_folder(sample, "nas")
    checked = fo_cast.check(sample, now=NOW)
    assert checked.report.problems == []
    assert sample / EPISODE / "audio.mp3" in checked.probed.media


def test_a_symlink_out_of_the_media_folder_is_refused(sample: Path, tmp_path: Path) -> None:
    move_media(sample, tmp_path / "elsewhere")
    nas = tmp_path / "nas" / EPISODE
    nas.mkdir(parents=True)
    (nas / "audio.mp3").symlink_to(tmp_path / "elsewhere" / EPISODE / "audio.mp3")
    (nas / "video.mp4").symlink_to(tmp_path / "elsewhere" / EPISODE / "video.mp4")
    set_folder(sample, "nas")
    lines = [str(p) for p in fo_cast.validate(sample).problems]
    assert lines == [
        f"episodes/{EPISODE}/episode.yaml:8: media[0].file: "
        "'audio.mp3' in the media folder points outside it",
        f"episodes/{EPISODE}/episode.yaml:9: media[1].file: "
        "'video.mp4' in the media folder points outside it",
    ]


def test_broken_media_in_the_media_folder_is_reported_like_local(
    sample: Path, tmp_path: Path
) -> None:
    move_media(sample, tmp_path / "nas")
    (tmp_path / "nas" / EPISODE / "audio.mp3").write_text(
        "version https://git-lfs.github.com/spec/v1\noid sha256:00\nsize 1\n", encoding="ascii"
    )
    set_folder(sample, "nas")
    lines = [str(p) for p in fo_cast.validate(sample).problems]
    assert lines == [
        f"episodes/{EPISODE}/episode.yaml:8: media[0].file: 'audio.mp3': a git-lfs pointer, "
        "not the file itself; run `git lfs pull` to fetch it"
    ]


def test_media_folder_resolves_each_way(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from fo_cast.catalogue.reader import media_folder
    from fo_cast.catalogue.settings import Settings

    root = tmp_path / "checkout" / "episodes"
    setting = Settings.model_validate({"media": {"folder": "../nas/media"}})
    assert media_folder(root, Settings.model_validate({}), {}) is None
    assert media_folder(root, setting, {}) == tmp_path / "nas" / "media"
    monkeypatch.chdir(tmp_path)
    assert media_folder(root, setting, {MEDIA_ENV: "mnt"}) == tmp_path / "mnt"
    assert media_folder(root, setting, {MEDIA_ENV: "  "}) == tmp_path / "nas" / "media"
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert media_folder(root, setting, {MEDIA_ENV: "~/media"}) == tmp_path / "home" / "media"
