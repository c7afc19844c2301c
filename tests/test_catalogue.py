"""catalogue.py: reading shows, episodes and companions; hostile input becomes problems."""

from __future__ import annotations

import random
import shutil
from pathlib import Path, PurePosixPath

import pytest
from conftest import SAMPLE

from fo_cast.catalogue.checks import validate_catalogue
from fo_cast.catalogue.reader import load_catalogue


def test_sample_is_read(sample: Path) -> None:
    catalogue, report = load_catalogue(sample)
    assert report.problems == []
    assert [s.slug for s in catalogue.shows] == ["exclusive", "live", "talks"]
    assert catalogue.orphans == []
    assert catalogue.settings.base_url == "https://podcasts.fairobserver.com/"
    entry = catalogue.show("talks").episodes[0]
    assert entry.slug == "2024-08-04-middle-east-part-1"
    assert entry.manifest == PurePosixPath(
        "episodes/talks/2024-08-04-middle-east-part-1/episode.yaml"
    )
    assert entry.companion and entry.companion.strip()
    assert entry.doc.line_of(("media", 1, "file")) == 9
    assert catalogue.show("nope") is None


def test_problem_paths_start_at_the_catalogue_folder(tmp_path: Path) -> None:
    root = tmp_path / "my-shows"
    shutil.copytree(SAMPLE / "live", root / "live")
    (root / "live" / "show.yaml").write_text("title: [\n", encoding="utf-8")
    _, report = load_catalogue(root)
    assert [str(p) for p in report] == [
        "my-shows/live/show.yaml:2: not valid YAML: did not find expected node content"
    ]


def test_episodes_of_a_broken_show_are_still_checked(sample: Path) -> None:
    show = sample / "live" / "show.yaml"
    show.write_text(show.read_text(encoding="utf-8").replace("language: en", "language: xx"))
    episode = next((sample / "live").glob("*/episode.yaml"))
    episode.write_text(episode.read_text(encoding="utf-8") + "titel: x\n", encoding="utf-8")
    catalogue, report = load_catalogue(sample)
    assert [s.slug for s in catalogue.shows] == ["exclusive", "talks"]
    assert [p.field for p in report] == ["titel", "language"]


def test_orphans_count_for_duplicate_guids(sample: Path) -> None:
    show = sample / "live" / "show.yaml"
    show.write_text(show.read_text(encoding="utf-8") + "bogus: 1\n", encoding="utf-8")
    live = next((sample / "live").glob("*/episode.yaml"))
    talks = sample / "talks" / "2024-08-04-middle-east-part-1" / "episode.yaml"
    guid = next(line for line in talks.read_text().splitlines() if line.startswith("guid:"))
    text = "\n".join(
        guid if line.startswith("guid:") else line for line in live.read_text().splitlines()
    )
    live.write_text(text + "\n", encoding="utf-8")
    catalogue, report = load_catalogue(sample)
    validate_catalogue(catalogue, report, use_cache=False)
    assert [(p.file.name, p.field) for p in report] == [
        ("episode.yaml", "guid"),
        ("show.yaml", "bogus"),
    ]
    assert "is already used by episodes/talks/2024-08-04-middle-east-part-1/episode.yaml" in str(
        report.errors[0]
    )


def test_settings_file_is_optional(sample: Path) -> None:
    (sample / "fo-cast.toml").unlink()
    catalogue, report = load_catalogue(sample)
    assert report.problems == []
    assert catalogue.settings.base_url == "http://127.0.0.1:8000/"


def test_settings_not_utf8(sample: Path) -> None:
    (sample / "fo-cast.toml").write_bytes(b'base_url = "caf\xe9"\n')
    _, report = load_catalogue(sample)
    assert [str(p) for p in report] == ["episodes/fo-cast.toml: not UTF-8 text; save it as UTF-8"]


def test_unreadable_manifest(sample: Path) -> None:
    manifest = sample / "live" / "show.yaml"
    manifest.unlink()
    manifest.mkdir()  # a folder where the file should be
    _, report = load_catalogue(sample)
    assert [str(p) for p in report] == [
        "episodes/live: warning: no show.yaml; every show folder needs one"
    ]


@pytest.mark.parametrize("target", ["episode", "show", "companion"])
def test_fuzzed_manifests_never_raise(target: str, tmp_path: Path) -> None:
    """Randomly corrupted copies of a real manifest: every outcome is a list of problems."""
    root = tmp_path / "episodes"
    shutil.copytree(SAMPLE / "live", root / "live")
    folder = next(p for p in (root / "live").iterdir() if p.is_dir())
    path = {
        "episode": folder / "episode.yaml",
        "show": root / "live" / "show.yaml",
        "companion": folder / "companion.md",
    }[target]
    original = path.read_bytes()
    alphabet = b"\x00\x01\t\n\r :-[]{}&*!|>'\"#%@`,?\\\xff\xc3\xa9\xe2\x80\xa8"
    rng = random.Random(target)
    for _ in range(150):
        data = bytearray(original)
        for _ in range(rng.randint(1, 8)):
            position = rng.randrange(len(data))
            roll = rng.random()
            if roll < 0.4:
                data[position] = rng.choice(alphabet)
            elif roll < 0.7:
                del data[position : position + rng.randint(1, 30)]
            else:
                data[position:position] = bytes(
                    rng.choice(alphabet) for _ in range(rng.randint(1, 6))
                )
        path.write_bytes(bytes(data))
        catalogue, report = load_catalogue(root)
        validate_catalogue(catalogue, report)
        for problem in report:
            assert "\n" not in str(problem) and str(tmp_path) not in str(problem)
            assert problem.file.parts[0] == "episodes"


def test_whole_file_replaced_with_noise(tmp_path: Path) -> None:
    root = tmp_path / "episodes"
    shutil.copytree(SAMPLE / "live", root / "live")
    folder = next(p for p in (root / "live").iterdir() if p.is_dir())
    rng = random.Random(7)
    for _ in range(40):
        for name in ("episode.yaml", "companion.md"):
            (folder / name).write_bytes(
                bytes(rng.randrange(256) for _ in range(rng.randrange(600)))
            )
        catalogue, report = load_catalogue(root)
        validate_catalogue(catalogue, report)
        manifest = PurePosixPath("episodes/live", folder.name, "episode.yaml")
        # noise is never a manifest: always an error at that file, each a one-line problem
        assert any(p.file == manifest for p in report.errors), [str(p) for p in report]
        for problem in report:
            assert "\n" not in str(problem)
            assert str(problem).startswith(f"episodes/live/{folder.name}/"), str(problem)


def test_a_cold_read_parses_ahead_on_every_core_to_the_same_catalogue(
    sample: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fo_cast import workers
    from fo_cast.catalogue import reader

    broken = sorted(sample.glob("live/*/episode.yaml"))[0]
    broken.write_text(broken.read_text(encoding="utf-8") + "title: [\n", encoding="utf-8")
    plain, plain_report = load_catalogue(sample, use_cache=False)
    monkeypatch.setattr(reader, "PARSE_AHEAD_MIN", 1)
    monkeypatch.setattr(workers, "MIN_SHARE", 1)  # a worker even for the sample's episodes
    ahead = reader.ManifestCache(sample / ".fo-cast" / "manifests.json")
    reader._parse_ahead(sample, PurePosixPath(sample.name), ahead)
    manifests = sorted(str(p.relative_to(sample.parent)) for p in sample.glob("*/*/episode.yaml"))
    assert sorted(ahead.entries) == [
        m for m in manifests if m != str(broken.relative_to(sample.parent))
    ]
    ahead.save()
    parsed: list[str] = []
    real = reader._read_yaml
    monkeypatch.setattr(
        reader, "_read_yaml", lambda path, *more: parsed.append(path.name) or real(path, *more)
    )
    catalogue, report = load_catalogue(sample)
    assert sorted(parsed) == ["episode.yaml"] + ["show.yaml"] * 3  # the broken one, and shows
    assert report.problems == plain_report.problems and report.problems  # the broken one, again
    assert [(e.manifest, e.episode, e.doc.data, e.companion) for e in catalogue.episodes()] == [
        (e.manifest, e.episode, e.doc.data, e.companion) for e in plain.episodes()
    ]
    assert [e.doc.line_of(("title",)) for e in catalogue.episodes()] == [
        e.doc.line_of(("title",)) for e in plain.episodes()
    ]


@pytest.mark.parametrize(
    ("text", "empty"),
    [("<!-- a -->\n\n<!-- b -->\n", True), ("<!-- open to the end\ntext", True),
     ("<!-- a -->\nThe article.", False), ("The article. <!-- a -->", False),
     ("`<!-- a -->`", False)],
)  # fmt: skip
def test_a_companion_of_html_comments_alone_has_no_article(text: str, empty: bool) -> None:
    from fo_cast.catalogue.reader import _only_comments

    assert _only_comments(text) is empty
