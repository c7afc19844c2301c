"""What fo-cast never does: delete or write what it did not write, serve what lies outside
the folder, or answer any input with a traceback."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fo_cast.cli import app

NOW = "2025-01-01T00:00:00+00:00"
EPISODE = "talks/2024-08-04-middle-east-part-1"
runner = CliRunner()


def invoke(*args: str | Path):
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def snapshot(folder: Path, skip_caches: bool = False) -> dict[str, bytes | str]:
    """Returns every entry under folder: file bytes, symlink targets, folders as "/".

    With skip_caches, not the catalogue's own caches (which every run may rewrite)."""
    found: dict[str, bytes | str] = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        if Path(dirpath) == folder and skip_caches:
            dirnames[:] = [d for d in dirnames if d != ".fo-cast"]
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            rel = path.relative_to(folder).as_posix()
            if path.is_symlink():
                found[rel] = "-> " + os.readlink(path)
            elif path.is_dir():
                found[rel] = "/"
            else:
                found[rel] = path.read_bytes()
    return found


# --- publish deletes only what it published ------------------------------------------------


ADOPT = (
    "refused: the target holds {n} fo-cast did not publish (such as '{first}'); publish with "
    "--adopt to publish beside them (fo-cast never deletes them, and replaces those at paths "
    "the build writes), or choose an empty target"
)


@pytest.mark.parametrize(
    ("files", "n", "first"),
    [
        ({"holiday.jpg": b"jpeg"}, "1 file", "holiday.jpg"),
        ({"index.html": b"<p>my own site</p>", "a/b/c.txt": b"deep"}, "2 files", "a/b/c.txt"),
        ({"talks/feed.xml": b"<rss>another tool's feed</rss>"}, "1 file", "talks/feed.xml"),
    ],
)
def test_prune_into_a_foreign_folder_deletes_nothing(
    sample: Path, tmp_path: Path, files: dict[str, bytes], n: str, first: str
) -> None:
    target = tmp_path / "Documents"
    for name, data in files.items():
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        (target / name).write_bytes(data)
    before = snapshot(target)
    for extra in ([], ["--dry-run"], ["--max-deletes", "1000"]):
        result = invoke("publish", sample, "--to", target, "--prune", "--now", NOW, *extra)
        assert result.exit_code == 3, result.stderr
        assert ADOPT.format(n=n, first=first) in result.stderr.splitlines()
        assert snapshot(target) == before

    result = invoke("publish", sample, "--to", target, "--prune", "--adopt", "--now", NOW)
    assert result.exit_code == 0, result.stderr
    assert (target / "talks" / "feed.xml").read_bytes().startswith(b"<?xml")
    for name, data in files.items():  # kept, unless the build writes that path
        if name != "talks/feed.xml" and name != "index.html":
            assert (target / name).read_bytes() == data
    # Later publishes need no --adopt and still delete none of the owner's files.
    (target / "later.txt").write_text("added after the first publish")
    result = invoke("publish", sample, "--to", target, "--prune", "--now", NOW)
    assert result.exit_code == 0, result.stderr
    assert (target / "later.txt").is_file()
    assert "0 deleted" in result.stdout


def test_prune_deletes_what_it_published_once_gone_from_the_build(
    sample: Path, tmp_path: Path
) -> None:
    target = tmp_path / "public"
    assert invoke("publish", sample, "--to", target, "--now", NOW).exit_code == 0
    (target / "mine.txt").write_text("the owner's")
    (target / "talks" / "notes.txt").write_text("the owner's too")
    slug = EPISODE.split("/")[1]
    assert (target / "talks" / slug / "transcript.vtt").is_file()
    (sample / EPISODE / "transcript.vtt").unlink()
    edit(sample / EPISODE / "episode.yaml", "transcript: transcript.vtt\n", "")
    result = invoke("publish", sample, "--to", target, "--prune", "--now", NOW)
    assert result.exit_code == 0, result.stderr
    assert not (target / "talks" / slug / "transcript.vtt").exists()
    assert (target / "mine.txt").read_text() == "the owner's"
    assert (target / "talks" / "notes.txt").read_text() == "the owner's too"


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


# --- build and publish never write or delete through a symlink ------------------------------


def _symlink_into(tree: Path, catalogue: Path, how: str) -> None:
    """Points a part of a built or published tree at the catalogue, as a user might."""
    slug = EPISODE.split("/")[1]
    if how == "episode folder":
        shutil.rmtree(tree / "talks" / slug)
        (tree / "talks" / slug).symlink_to(catalogue / EPISODE, target_is_directory=True)
    elif how == "show folder":
        shutil.rmtree(tree / "talks")
        (tree / "talks").symlink_to(catalogue / "talks", target_is_directory=True)
    elif how == "file":
        (tree / "talks" / slug / "transcript.vtt").unlink()
        (tree / "talks" / slug / "transcript.vtt").symlink_to(catalogue / EPISODE / "episode.yaml")
    elif how == "record folder":
        shutil.rmtree(tree / ".fo-cast", ignore_errors=True)
        (tree / ".fo-cast").symlink_to(catalogue / EPISODE, target_is_directory=True)
    else:
        raise AssertionError(how)


HOWS = ["episode folder", "show folder", "file", "record folder"]


@pytest.mark.parametrize("how", HOWS)
def test_rebuild_never_writes_through_a_symlink(sample: Path, tmp_path: Path, how: str) -> None:
    out = tmp_path / "feeds"
    assert invoke("build", sample, "--out", out, "--now", NOW).exit_code == 0
    fresh = snapshot(out)
    _symlink_into(out, sample, how)
    edit(sample / EPISODE / "companion.md", "", "A changed first line.\n\n")  # a real rebuild
    catalogue = snapshot(sample, skip_caches=True)
    for _ in range(2):
        result = invoke("build", sample, "--out", out, "--now", NOW)
        assert result.exit_code == 0, result.stderr
        assert snapshot(sample, skip_caches=True) == catalogue
    rebuilt = snapshot(out)
    assert not any(isinstance(v, str) and v.startswith("-> ") for v in rebuilt.values())
    assert rebuilt.keys() == fresh.keys()


@pytest.mark.parametrize("how", HOWS)
def test_publish_never_writes_or_deletes_through_a_symlink(
    sample: Path, tmp_path: Path, how: str
) -> None:
    target = tmp_path / "public"
    assert invoke("publish", sample, "--to", target, "--now", NOW).exit_code == 0
    _symlink_into(target, sample, how)
    edit(sample / EPISODE / "companion.md", "", "A changed first line.\n\n")
    catalogue = snapshot(sample, skip_caches=True)
    result = invoke("publish", sample, "--to", target, "--prune", "--now", NOW)
    assert snapshot(sample, skip_caches=True) == catalogue
    if how == "file":  # the link itself is replaced by the published file
        assert result.exit_code == 0, result.stderr
        assert not (target / "talks" / EPISODE.split("/")[1] / "transcript.vtt").is_symlink()
        return
    if how == "record folder":  # its record unreadable, the target looks like someone else's
        assert result.exit_code == 3
        assert result.stderr.startswith("refused: the target holds ")
        result = invoke("publish", sample, "--to", target, "--prune", "--adopt", "--now", NOW)
        assert snapshot(sample, skip_caches=True) == catalogue
    assert result.exit_code == 3, result.stdout + result.stderr
    assert "its folder is a symlink leading out of the target" in result.stderr
    assert "Traceback" not in result.stderr
