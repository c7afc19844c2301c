"""Reusing the last run (snapshot.py): after any edit, the answer is a cold run's, byte for byte."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

import fo_cast
from fo_cast import build as build_module
from fo_cast import snapshot
from fo_cast.build import build_catalogue, build_tree
from fo_cast.cli import app
from fo_cast.state import CACHE_DIR, REPORT_CACHE
from fo_cast.tree import write_tree

NOW = datetime(2025, 6, 1, tzinfo=UTC)
PAST = time.time() - 3600  # older than snapshot.SETTLE_NS: a run may store its stamp
EPISODE = "talks/2024-08-04-middle-east-part-1"


def settle(root: Path, when: float = PAST) -> None:
    """Dates every file of the catalogue an hour back, as files nobody is editing."""
    for folder, _, files in os.walk(root):
        for name in files:
            os.utime(os.path.join(folder, name), (when, when))


def touched(path: Path) -> None:
    """Gives an edited file an mtime of its own that is still settled."""
    os.utime(path, (PAST + 60, PAST + 60))


def tree_bytes(out: Path) -> dict[str, bytes]:
    """Returns every file of a built tree but fo-cast's record, by path."""
    files = {}
    for folder, dirs, names in os.walk(out):
        dirs[:] = [d for d in dirs if d != CACHE_DIR]
        for name in names:
            path = Path(folder) / name
            files[path.relative_to(out).as_posix()] = path.read_bytes()
    return files


def cold(root: Path, where: Path, now: datetime = NOW) -> tuple[list[str], dict[str, bytes]]:
    """Returns the report lines and the tree of a cold run on a copy of root (no caches)."""
    copy = where / root.name  # the same folder name: problems name it
    shutil.copytree(root, copy, ignore=shutil.ignore_patterns(CACHE_DIR))
    report = fo_cast.validate(copy, use_cache=False)
    lines = [str(p) for p in report] + [report.summary()]
    _, result = build_catalogue(copy, now=now)
    if result.report.failed():
        return lines, {}
    write_tree(result, where / "out")
    return lines, tree_bytes(where / "out")


def warm(root: Path, out: Path, now: datetime = NOW) -> tuple[list[str], dict[str, bytes], bool]:
    """Returns the report lines, the tree and whether the build was reused, warm."""
    report = fo_cast.validate(root)
    lines = [str(p) for p in report] + [report.summary()]
    built = build_tree(root, out, now=now)
    if built.report.failed():
        return lines, {}, built.reused
    return lines, tree_bytes(out), built.reused


def edit_manifest(root: Path) -> Path:
    path = root / EPISODE / "episode.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("title: ", "title: Retitled: ", 1), encoding="utf-8")
    return path


def edit_companion(root: Path) -> Path:
    path = root / EPISODE / "companion.md"
    path.write_text(path.read_text(encoding="utf-8") + "\nA new closing line.\n", "utf-8")
    return path


def edit_media(root: Path) -> Path:
    path = root / EPISODE / "audio.mp3"
    path.unlink()
    shutil.copyfile(Path(__file__).parent / "fixtures" / "media" / "tone.mp3", path)
    return path


def edit_artwork(root: Path) -> Path:
    path = root / "talks" / "artwork.png"
    shutil.copyfile(root / "live" / "artwork.png", path)
    return path


def break_artwork(root: Path) -> Path:
    path = root / "talks" / "artwork.png"
    shutil.copyfile(Path(__file__).parent / "fixtures" / "media" / "art-rect.png", path)
    return path


def edit_settings(root: Path) -> Path:
    path = root / "fo-cast.toml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("Fair Observer Podcasts", "FO° Podcasts", 1), "utf-8")
    return path


def edit_transcript(root: Path) -> Path:
    path = root / EPISODE / "transcript.vtt"
    path.write_text(path.read_text(encoding="utf-8") + "\n", "utf-8")
    return path


def add_file(root: Path) -> Path:
    """A file no code reads today: reuse must stop all the same (a feature may read it)."""
    path = root / "talks" / "notes.txt"
    path.write_text("a file fo-cast does not know\n", encoding="utf-8")
    return path


def remove_episode(root: Path) -> Path:
    shutil.rmtree(root / "talks" / "2024-08-24-middle-east-part-2")
    return root / "talks"


def chmod_companion(root: Path) -> Path:
    path = root / EPISODE / "companion.md"
    path.chmod(0o000)
    return path


EDITS: list[Callable[[Path], Path]] = [
    edit_manifest,
    edit_companion,
    edit_media,
    edit_artwork,
    break_artwork,
    edit_settings,
    edit_transcript,
    add_file,
    remove_episode,
]


@pytest.mark.parametrize("edit", EDITS, ids=[e.__name__ for e in EDITS])
def test_after_an_edit_validate_and_build_equal_a_cold_run(
    sample: Path, tmp_path: Path, edit: Callable[[Path], Path]
) -> None:
    settle(sample)
    out = tmp_path / "out"
    first = warm(sample, out)
    assert warm(sample, out) == (*first[:2], True)  # stored, and reused
    changed = edit(sample)
    if changed.exists():
        touched(changed)
    lines, files, reused = warm(sample, out)
    assert not reused
    expected = cold(sample, tmp_path / "cold")
    assert (lines, files) == expected
    if edit is not add_file:  # the other edits made a difference the runs had to see
        assert (lines, files) != first[:2]
    assert warm(sample, out) == (lines, files, bool(files))  # stored again, and reused


def test_an_unreadable_companion_is_seen(sample: Path, tmp_path: Path) -> None:
    if os.geteuid() == 0:  # root reads any file: the permissions still change the snapshot
        settle(sample)
        before = snapshot.take(sample)
        chmod_companion(sample)
        assert snapshot.take(sample) != before
        return
    settle(sample)
    warm(sample, tmp_path / "out")
    chmod_companion(sample)
    lines, _, reused = warm(sample, tmp_path / "out")
    assert not reused
    assert any("cannot read it" in line for line in lines)


def test_other_code_means_a_cold_run(
    sample: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settle(sample)
    out = tmp_path / "out"
    first = warm(sample, out)
    monkeypatch.setattr(snapshot, "code_version", lambda: "a template changed")
    again = warm(sample, out)
    assert again == (*first[:2], False)
    assert warm(sample, out) == (*first[:2], True)


def test_a_validate_with_nothing_changed_reads_nothing(
    sample: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settle(sample)
    report = fo_cast.validate(sample)
    assert (sample / REPORT_CACHE).is_file()

    def no_reading(*args: object, **kwargs: object) -> None:
        raise AssertionError("the catalogue was read again")

    monkeypatch.setattr(build_module, "check", no_reading)
    assert fo_cast.validate(sample).problems == report.problems


def test_the_cli_prints_the_same_for_a_reused_report_and_tree(sample: Path, tmp_path: Path) -> None:
    break_artwork(sample)  # an error
    (sample / "live" / "show.yaml").write_text(
        (sample / "live" / "show.yaml").read_text(encoding="utf-8") + "\n", encoding="utf-8"
    )
    settle(sample)
    runner = CliRunner()
    for args in (
        ["validate", str(sample)],
        ["validate", str(sample), "--format", "json"],
        ["build", str(sample), "--out", str(tmp_path / "out"), "--now", NOW.isoformat()],
    ):
        first = runner.invoke(app, args)
        again = runner.invoke(app, args)
        assert (again.exit_code, again.stdout, again.stderr) == (
            first.exit_code,
            first.stdout,
            first.stderr,
        )
    shutil.copyfile(sample / "live" / "artwork.png", sample / "talks" / "artwork.png")
    touched(sample / "talks" / "artwork.png")
    args = ["build", str(sample), "--out", str(tmp_path / "out"), "--now", NOW.isoformat()]
    first = runner.invoke(app, args)
    again = runner.invoke(app, args)
    assert first.exit_code == again.exit_code == 0
    assert first.stdout == again.stdout
    assert first.stdout.startswith("Built ")


def test_a_scheduled_episode_going_live_means_a_new_build(sample: Path, tmp_path: Path) -> None:
    settle(sample)
    out = tmp_path / "out"
    before = datetime(2024, 11, 5, tzinfo=UTC)  # the next episode comes on 2024-11-06
    warm(sample, out, before)
    assert warm(sample, out, datetime(2024, 11, 5, 12, tzinfo=UTC))[2]  # the same live set
    later = datetime(2024, 11, 6, 16, tzinfo=UTC)
    lines, files, reused = warm(sample, out, later)
    assert not reused
    assert (lines, files) == cold(sample, tmp_path / "cold", later)


def test_a_feed_dated_by_the_clock_is_reused_only_at_that_moment(
    sample: Path, tmp_path: Path
) -> None:
    settle(sample)
    out = tmp_path / "out"
    early = datetime(2024, 1, 1, tzinfo=UTC)  # no show has a live episode: feeds take the clock
    warm(sample, out, early)
    assert warm(sample, out, early)[2]
    next_day = datetime(2024, 1, 2, tzinfo=UTC)
    lines, files, reused = warm(sample, out, next_day)
    assert not reused
    assert (lines, files) == cold(sample, tmp_path / "cold", next_day)


def test_a_file_changed_in_the_tree_means_a_new_build(sample: Path, tmp_path: Path) -> None:
    settle(sample)
    out = tmp_path / "out"
    first = warm(sample, out)
    (out / "index.html").write_text("changed by hand", encoding="utf-8")
    assert warm(sample, out) == (*first[:2], False)
    (out / "talks" / "feed.xml").unlink()
    assert warm(sample, out) == (*first[:2], False)


def test_a_file_edited_twice_within_one_timestamp_tick_is_seen(
    sample: Path, tmp_path: Path
) -> None:
    settle(sample)
    path = edit_companion(sample)  # modified just now: the snapshot hashes it
    out = tmp_path / "out"
    first = warm(sample, out)
    assert warm(sample, out) == (*first[:2], True)
    st = os.stat(path)
    with open(path, "r+b") as file:  # the same size, inode and mtime: only the bytes differ
        head = file.read(1)
        file.seek(0)
        file.write(b"X" if head != b"X" else b"Y")
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert os.stat(path).st_mtime_ns == st.st_mtime_ns
    lines, files, reused = warm(sample, out)
    assert not reused
    assert (lines, files) == cold(sample, tmp_path / "cold")


def test_a_folder_reached_through_a_symlink_is_never_reused(sample: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    shutil.move(sample / "live", elsewhere)
    (sample / "live").symlink_to(elsewhere, target_is_directory=True)
    settle(sample)
    settle(elsewhere)
    assert snapshot.take(sample) is None
    out = tmp_path / "out"
    first = warm(sample, out)
    assert warm(sample, out) == (*first[:2], False)


def test_the_snapshot_covers_every_file_but_fo_casts_own(sample: Path) -> None:
    settle(sample)
    before = snapshot.take(sample)
    assert before is not None and before.settled
    (sample / CACHE_DIR).mkdir(exist_ok=True)
    (sample / CACHE_DIR / "anything.json").write_text("{}", encoding="utf-8")
    assert snapshot.take(sample) == before
    assert snapshot.take(sample, "other options") != before
    (sample / "_drafts").mkdir()
    assert snapshot.take(sample) != before


def test_media_in_a_folder_outside_the_catalogue_are_watched_too(
    sample: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FO_CAST_MEDIA", raising=False)
    nas = tmp_path / "nas"
    (nas / EPISODE).mkdir(parents=True)
    shutil.move(sample / EPISODE / "audio.mp3", nas / EPISODE / "audio.mp3")
    settings = sample / "fo-cast.toml"
    settings.write_text(
        settings.read_text(encoding="utf-8") + f'\n[media]\nfolder = "{nas}"\n', encoding="utf-8"
    )
    settle(sample)
    settle(nas)
    out = tmp_path / "out"
    first = warm(sample, out)
    assert warm(sample, out) == (*first[:2], True)
    (nas / EPISODE / "audio.mp3").unlink()
    shutil.copyfile(
        Path(__file__).parent / "fixtures" / "media" / "tone.mp3", nas / EPISODE / "audio.mp3"
    )
    touched(nas / EPISODE / "audio.mp3")
    lines, files, reused = warm(sample, out)
    assert not reused
    assert (lines, files) != first[:2]
    assert (lines, files) == cold(sample, tmp_path / "cold")  # its settings name the same nas
    assert warm(sample, out) == (lines, files, True)


def test_fo_casts_environment_is_part_of_the_snapshot(
    sample: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FO_CAST_MEDIA", raising=False)
    settle(sample)
    before = snapshot.take(sample)
    monkeypatch.setenv("FO_CAST_MEDIA", "elsewhere")
    assert snapshot.take(sample) != before


HEAVY = ("pydantic", "jinja2", "feedgen", "lxml", "PIL", "mutagen", "boto3", "rich", "yaml")


def loaded_after(code: str) -> set[str]:
    """Returns which of the heavy libraries a fresh interpreter has loaded after code."""
    probe = f"{code}\nimport sys\nprint(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return set(done.stdout.split())


def test_the_command_line_loads_no_stage_before_a_command_runs() -> None:
    assert loaded_after("import fo_cast.cli") == set()


def test_a_validate_with_nothing_changed_loads_no_stage(sample: Path) -> None:
    settle(sample)
    fo_cast.validate(sample)
    assert loaded_after(f"import fo_cast\nfo_cast.validate({str(sample)!r})") == set()
