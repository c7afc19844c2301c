"""A rebuild after companion edits (rebuild.py): the edited episodes alone are read, and the
tree and the report are a cold build's, byte for byte; anything else means a whole build."""

from __future__ import annotations

import json
import os
import shutil
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from fo_cast import build as build_module
from fo_cast import rebuild
from fo_cast import tree as tree_module
from fo_cast.build import build_catalogue, build_tree
from fo_cast.cli import app
from fo_cast.state import CACHE_DIR, TREE_RECORD
from fo_cast.tree import write_tree
from tests.test_snapshot import settle, touched, tree_bytes

NOW = datetime(2025, 6, 1, tzinfo=UTC)
TALK = "talks/2024-08-04-middle-east-part-1"  # audio, video and a transcript
EXCLUSIVE = "exclusive/2024-12-09-eu-crisis"  # audio only
LINKED = "exclusive/2024-12-07-trump-won-again"  # an image, and a link to another episode
LIVE = "live/2024-09-13-south-korea-quad"


def built(root: Path, out: Path) -> tuple[list[str], dict[str, bytes], bool, int]:
    """Returns the report lines, the tree, whether it was rebuilt, and the files counted."""
    result = build_tree(root, out, now=NOW)
    lines = [str(p) for p in result.report] + [result.report.summary()]
    if result.report.failed():  # nothing written
        return lines, {}, result.rebuilt, 0
    return lines, tree_bytes(out), result.rebuilt, result.files


def cold(root: Path, where: Path) -> tuple[list[str], dict[str, bytes], int]:
    """Returns the report lines, the tree and its file count of a cold build of a copy."""
    copy = where / root.name  # the same folder name: problems name it
    shutil.copytree(root, copy, ignore=shutil.ignore_patterns(CACHE_DIR))
    _, result = build_catalogue(copy, now=NOW)
    lines = [str(p) for p in result.report] + [result.report.summary()]
    if result.report.failed():
        return lines, {}, 0
    write_tree(result, where / "out")
    return lines, tree_bytes(where / "out"), len(result.outputs)


def append(root: Path, episode: str, text: str = "\nA new closing line, and *more*.\n") -> Path:
    path = root / episode / "companion.md"
    path.write_text(path.read_text(encoding="utf-8") + text, encoding="utf-8")
    touched(path)
    return path


def rewrite(root: Path, episode: str, old: str, new: str) -> Path:
    path = root / episode / "companion.md"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    touched(path)
    return path


def first_build(sample: Path, out: Path) -> tuple[list[str], dict[str, bytes], bool, int]:
    settle(sample)
    result = built(sample, out)
    assert not result[2]
    return result


def assert_like_cold(
    sample: Path, tmp_path: Path, got: tuple[list[str], dict[str, bytes], bool, int], name: str
) -> None:
    lines, files, count = cold(sample, tmp_path / name)
    assert got[0] == lines
    assert got[1].keys() == files.keys()
    different = [path for path in files if got[1][path] != files[path]]
    assert different == []
    assert got[3] == count


def one_edit(root: Path) -> None:
    append(root, TALK)


def an_audio_only_episode(root: Path) -> None:
    append(root, EXCLUSIVE, "\n## A heading\n\nCafé, naïve & <b>bold</b> — “quoted”.\n")


def prose_beside_an_image_and_a_link(root: Path) -> None:
    append(root, LINKED, "\nOne more paragraph under the chart.\n")


def two_shows_at_once(root: Path) -> None:
    append(root, TALK)
    append(root, LIVE, "\n- a list\n- of two\n")


def a_shorter_companion(root: Path) -> None:
    path = root / EXCLUSIVE / "companion.md"
    path.write_text("Only this now.\n", encoding="utf-8")
    touched(path)


def test_edits_in_a_row_rebuild_on_what_the_last_rebuild_wrote(
    sample: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    first_build(sample, out)
    for n, episode in enumerate([TALK, TALK, EXCLUSIVE, TALK]):
        append(sample, episode, f"\nEdit number {n}: " + "longer " * n + "\n")
        got = built(sample, out)
        assert got[2]
        assert_like_cold(sample, tmp_path, got, f"cold-{n}")


def test_a_rebuild_reads_only_the_edited_episodes(
    sample: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    first_build(sample, out)
    asked: list[object] = []
    check = build_module.check

    def counted(*args: object, **kwargs: object) -> object:
        asked.append(kwargs.get("only"))
        return check(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(build_module, "check", counted)
    append(sample, TALK)
    assert built(sample, out)[2]
    assert asked == [[TALK]]


@pytest.mark.parametrize(
    ("limit", "rebuilt"),
    [(0.001, True), (0.05, False)],  # over the limit before and after; over it only after
    ids=["new-sizes", "passes-the-limit"],
)
def test_the_feeds_sizes_in_the_report_are_the_new_ones(
    sample: Path, tmp_path: Path, limit: float, rebuilt: bool
) -> None:
    settings = sample / "fo-cast.toml"
    settings.write_text(
        settings.read_text(encoding="utf-8") + f"\n[feeds]\nmax_size_mb = {limit}\n", "utf-8"
    )
    out = tmp_path / "out"
    before = first_build(sample, out)
    assert any("talks/feed.xml is " in line for line in before[0]) is rebuilt
    append(sample, TALK, "\n" + "A long paragraph that makes the feed heavier. " * 1500 + "\n")
    got = built(sample, out)
    assert got[2] is rebuilt  # a new warning changes the report's shape: a whole build
    assert any("talks/feed.xml is " in line for line in got[0])
    assert got[0] != before[0]  # the size printed changed
    assert_like_cold(sample, tmp_path, got, "cold")


def new_relative_link(root: Path) -> None:
    append(root, TALK, "\nSee also [the other part](../2024-08-24-middle-east-part-2/).\n")


def new_image(root: Path) -> None:
    append(root, TALK, "\n![A remote chart](https://example.com/chart.png)\n")


def a_problem(root: Path) -> None:
    append(root, TALK, "\nA [missing file](missing.pdf).\n")


def a_link_removed(root: Path) -> None:
    rewrite(root, LINKED, "](../2024-12-09-eu-crisis/)", "](https://example.com/eu)")


def companion_and_manifest(root: Path) -> None:
    append(root, TALK)
    path = root / TALK / "episode.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("title: ", "title: New - ", 1))
    touched(path)


def companion_and_a_new_file(root: Path) -> None:
    append(root, TALK)
    (root / TALK / "notes.txt").write_text("not read by fo-cast\n", encoding="utf-8")
    touched(root / TALK / "notes.txt")


def five_companions(root: Path) -> None:
    for folder in sorted((root / "exclusive").iterdir())[:5]:
        if (folder / "companion.md").is_file():
            append(root, f"exclusive/{folder.name}")


def companion_and_settings(root: Path) -> None:
    append(root, TALK)
    path = root / "fo-cast.toml"
    path.write_text(path.read_text(encoding="utf-8").replace("Fair Observer Podcasts", "FO°"))
    touched(path)


# Prose edits are rebuilt; anything more is left to a whole build. Either way: a cold build.
EDITS: list[tuple[Callable[[Path], None], bool]] = [
    (one_edit, True),
    (an_audio_only_episode, True),
    (prose_beside_an_image_and_a_link, True),
    (two_shows_at_once, True),
    (a_shorter_companion, True),
    (new_relative_link, False),
    (new_image, False),
    (a_problem, False),
    (a_link_removed, False),
    (companion_and_manifest, False),
    (companion_and_a_new_file, False),
    (five_companions, False),
    (companion_and_settings, False),
]


@pytest.mark.parametrize(("edit", "rebuilt"), EDITS, ids=[e.__name__ for e, _ in EDITS])
def test_after_a_companion_edit_the_tree_is_a_cold_builds(
    sample: Path, tmp_path: Path, edit: Callable[[Path], None], rebuilt: bool
) -> None:
    out = tmp_path / "out"
    before = first_build(sample, out)
    edit(sample)
    got = built(sample, out)
    assert got[2] is rebuilt
    assert got[1] != before[1]
    assert_like_cold(sample, tmp_path, got, "cold")
    if got[1]:  # built, and stored: nothing changed since
        assert build_tree(sample, out, now=NOW).reused


def test_a_hand_edited_tree_or_a_damaged_record_means_a_whole_build(
    sample: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    first_build(sample, out)
    (out / "talks" / "feed.xml").write_bytes(b"edited by hand")
    append(sample, TALK)
    got = built(sample, out)
    assert not got[2]
    assert_like_cold(sample, tmp_path, got, "cold-1")
    for damage in (b"{", b"[]", json.dumps({"version": 1, "stamp": "x"}).encode()):
        (out / rebuild.RECORD).write_bytes(damage)
        append(sample, TALK)
        got = built(sample, out)
        assert not got[2]
    assert_like_cold(sample, tmp_path, got, "cold-2")


def reseal(out: Path, change: Callable[[dict[str, Any]], None]) -> None:
    """Changes the record and seals it again: a record of another shape than fo-cast writes,
    which only its digest would otherwise refuse."""
    facts = rebuild._read(out / rebuild.RECORD)
    assert facts is not None
    change(facts)
    (out / rebuild.RECORD).write_bytes(rebuild._sealed(json.dumps(facts)))


def wrong_places(facts: dict[str, Any]) -> None:
    episode = facts["episodes"][TALK]
    episode["feeds"] = {feed: [place + 1, guid] for feed, (place, guid) in episode["feeds"].items()}


def shifted_span(facts: dict[str, Any]) -> None:
    facts["episodes"][TALK]["page"][1] += 1


def huge_span(facts: dict[str, Any]) -> None:
    facts["episodes"][TALK]["page"][1:] = [10**30, True]


def escaping_bundle(facts: dict[str, Any]) -> None:
    name = facts["episodes"][TALK]["bundle"]
    facts["episodes"][TALK]["bundle"] = "../../victim"
    facts["bundles"]["../../victim"] = facts["bundles"].pop(name)


def feeds_a_list(facts: dict[str, Any]) -> None:
    facts["episodes"][TALK]["feeds"] = [1, 2]


def show_emptied(facts: dict[str, Any]) -> None:
    facts["shows"]["talks/"] = {}


def shape_gone(facts: dict[str, Any]) -> None:
    del facts["episodes"][TALK]["shape"]


RESEALED = [wrong_places, shifted_span, huge_span, escaping_bundle, feeds_a_list, show_emptied,
            shape_gone]  # fmt: skip


@pytest.mark.parametrize("change", RESEALED, ids=[c.__name__ for c in RESEALED])
def test_a_record_of_another_shape_means_a_whole_build(
    sample: Path, tmp_path: Path, change: Callable[[dict[str, Any]], None]
) -> None:
    out = tmp_path / "out"
    first_build(sample, out)
    reseal(out, change)
    append(sample, TALK)
    got = built(sample, out)
    assert not got[2]
    assert_like_cold(sample, tmp_path, got, "cold")
    assert not (tmp_path / "victim").exists()  # nothing written outside the tree


def test_an_unsealed_record_is_refused(sample: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    first_build(sample, out)
    body, _, seal = (out / rebuild.RECORD).read_bytes().rstrip(b"\n").rpartition(b"\n")
    (out / rebuild.RECORD).write_bytes(body.replace(b'"page":["', b'"page": ["', 1) + b"\n" + seal)
    append(sample, TALK)
    assert not built(sample, out)[2]


def test_a_tree_counted_otherwise_than_its_record_means_a_whole_build(
    sample: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    first_build(sample, out)
    record = json.loads((out / TREE_RECORD).read_text(encoding="utf-8"))
    record["stamp"]["extra"]["files"] = 10**30
    (out / TREE_RECORD).write_text(json.dumps(record), encoding="utf-8")
    append(sample, TALK)
    got = built(sample, out)
    assert not got[2]
    assert_like_cold(sample, tmp_path, got, "cold")


def test_a_page_another_build_replaced_meanwhile_means_a_whole_build(
    sample: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two builds writing one folder: the page read is not the one the record describes (the
    tree's own check of sizes and times passed, as it can between two writes)."""
    out = tmp_path / "out"
    first_build(sample, out)
    page = out / TALK / "index.html"
    page.write_bytes(page.read_bytes().replace(b"</p>", b" (another build)</p>", 1))
    monkeypatch.setattr(tree_module, "is_intact", lambda out: True)
    append(sample, TALK)
    assert not built(sample, out)[2]


def test_a_manifest_rewritten_within_its_timestamp_tick_is_no_companion_edit(
    sample: Path, tmp_path: Path
) -> None:
    settle(sample)
    manifest = sample / TALK / "episode.yaml"
    manifest.touch()  # modified just now: the build's snapshot hashes it
    out = tmp_path / "out"
    assert not built(sample, out)[2]
    st = manifest.stat()
    text = manifest.read_text(encoding="utf-8")
    retitled = text.replace("Part 1", "Part I", 1)
    assert retitled != text and len(retitled) == len(text)
    manifest.write_text(retitled, encoding="utf-8")  # same size, same mtime: only the bytes
    os.utime(manifest, ns=(st.st_atime_ns, st.st_mtime_ns))
    got = built(sample, out)
    assert not got[2]
    assert_like_cold(sample, tmp_path, got, "cold")


def test_a_companion_turned_into_a_pipe_never_blocks_the_build(
    sample: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    first_build(sample, out)
    companion = sample / TALK / "companion.md"
    companion.unlink()
    os.mkfifo(companion)
    done: list[bool] = []
    worker = threading.Thread(target=lambda: done.append(built(sample, out)[2]), daemon=True)
    worker.start()
    worker.join(60)
    assert done == [False]  # ended, as a whole build that names the pipe


def test_the_cli_says_the_same_after_a_rebuild(sample: Path, tmp_path: Path) -> None:
    settle(sample)
    args = ["build", str(sample), "--out", str(tmp_path / "out"), "--now", NOW.isoformat()]
    runner = CliRunner()
    first = runner.invoke(app, args)
    append(sample, TALK)
    again = runner.invoke(app, args)
    assert (again.exit_code, again.stdout, again.stderr) == (0, first.stdout, first.stderr)
    assert first.stdout.startswith("Built ")


def test_a_catalogue_named_from_inside_it_rebuilds_too(
    sample: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settle(sample)
    monkeypatch.chdir(sample)
    out = tmp_path / "out"
    assert not build_tree(".", out, now=NOW).rebuilt
    append(sample, TALK)
    result = build_tree(".", out, now=NOW)
    assert result.rebuilt
    assert tree_bytes(out) == cold(sample, tmp_path / "cold")[1]
