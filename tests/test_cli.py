"""The command line: exit codes, stderr lines, JSON output, and every broken catalogue."""

from __future__ import annotations

import json
import shutil
import sys
import uuid
from pathlib import Path

import pytest
from conftest import CATALOGUES, build_case, case_names
from typer.testing import CliRunner

from fo_cast.cli import app
from tests.helpers import invoke

runner = CliRunner()


def test_every_case_folder_has_expected_lines() -> None:
    folders = sorted(p.name for p in CATALOGUES.iterdir() if p.is_dir())
    assert folders == case_names()
    assert len(folders) >= 30


@pytest.mark.parametrize("name", case_names())
def test_broken_catalogue(name: str, tmp_path: Path) -> None:
    root = build_case(name, tmp_path)
    expected = (CATALOGUES / name / "expected.txt").read_text(encoding="utf-8").splitlines()
    result = invoke("validate", root)
    assert result.stderr.splitlines() == expected
    assert result.stdout == ""
    assert result.exit_code == (1 if " error" in expected[-1] else 0)


def test_several_broken_episodes_are_all_reported(tmp_path: Path) -> None:
    result = invoke("validate", build_case("several-broken", tmp_path))
    broken = {line.split("/")[2] for line in result.stderr.splitlines()[:-1]}
    assert broken == {"f-badtype", "a-broken", "b-missing", "d-typo", "e-empty"}


def test_validate_sample_is_clean(sample: Path) -> None:
    result = invoke("validate", sample, "--strict")
    assert (result.exit_code, result.stderr) == (0, "No problems found.\n")


def test_validate_default_folder_is_episodes(sample: Path, monkeypatch) -> None:
    monkeypatch.chdir(sample.parent)
    assert invoke("validate").exit_code == 0


def test_validate_missing_folder(tmp_path: Path) -> None:
    result = invoke("validate", tmp_path / "nowhere")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "nowhere: no such folder; give the folder that holds the shows",
        "1 error in 1 file.",
    ]


@pytest.mark.parametrize(
    "args", [["validate", "--format", "xml"], ["validate", "--nope"], ["list", "--status", "live"]]
)
def test_usage_errors_exit_2(args: list[str], sample: Path) -> None:
    result = invoke(*args, sample)
    assert result.exit_code == 2


def test_validate_json(tmp_path: Path) -> None:
    result = invoke("validate", build_case("duplicate-keys", tmp_path), "--format", "json")
    assert result.exit_code == 1
    payload = json.loads(result.stdout)
    assert payload == {
        "problems": [
            {
                "file": "episodes/talks/dup/episode.yaml",
                "line": 8,
                "field": "title",
                "message": "duplicate key 'title' (first on line 2); keep one",
                "severity": "error",
            },
            {
                "file": "episodes/talks/dup/episode.yaml",
                "line": 9,
                "field": "media",
                "message": "duplicate key 'media' (first on line 6); keep one",
                "severity": "error",
            },
        ],
        "errors": 2,
        "warnings": 0,
        "ok": False,
    }


def test_strict_fails_on_a_warning(sample: Path) -> None:
    (sample / "stray").mkdir()
    (sample / "stray" / "notes.txt").write_text("not a show\n")
    warning = "episodes/stray: warning: no show.yaml; every show folder needs one"
    result = invoke("validate", sample)
    assert (result.exit_code, result.stderr.splitlines()) == (0, [warning, "1 warning in 1 file."])
    assert invoke("validate", sample, "--strict").exit_code == 1
    payload = json.loads(invoke("validate", sample, "--strict", "--format", "json").stdout)
    assert (payload["ok"], payload["warnings"], payload["errors"]) == (False, 1, 0)
    payload = json.loads(invoke("validate", sample, "--format", "json").stdout)
    assert payload["ok"] is True


def test_list_table(sample: Path) -> None:
    result = runner.invoke(app, ["list", str(sample), "--show", "live"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    header = next(line for line in lines if "show" in line and "title" in line)
    cells = [cell.strip() for cell in header.split("┃")[1:-1]]
    assert cells == ["show", "date", "title", "status", "duration", "media"]
    row = next(line for line in lines if "2024-09-13" in line)
    assert [cell.strip() for cell in row.split("│")[1:-1]] == [
        "live",
        "2024-09-13",
        "Can South Korea Be Useful to the Quad?",
        "published",
        "0:10",
        "audio.mp3, video.mp4",
    ]


def test_list_json_and_filters(sample: Path) -> None:
    rows = json.loads(invoke("list", sample, "--format", "json").stdout)
    assert {r["show"] for r in rows} == {"talks", "live", "exclusive"}
    assert set(rows[0]) == {
        "show", "date", "title", "status", "duration", "media", "guid", "manifest"
    }  # fmt: skip
    drafts = json.loads(invoke("list", sample, "--status", "draft", "--format", "json").stdout)
    assert len(drafts) == 2
    assert all(r["status"] == "draft" and r["date"] is None for r in drafts)
    talks = json.loads(invoke("list", sample, "--show", "talks", "--format", "json").stdout)
    assert talks and all(r["show"] == "talks" for r in talks)
    assert [r["date"] or "9999" for r in talks] == sorted(r["date"] or "9999" for r in talks)
    both = invoke("list", sample, "--show", "talks", "--status", "published", "--format", "json")
    assert {r["status"] for r in json.loads(both.stdout)} == {"published"}
    assert all(isinstance(r["duration"], int) and r["duration"] > 0 for r in rows)


def test_list_unknown_show_is_a_usage_error(sample: Path) -> None:
    result = invoke("list", sample, "--show", "weekly")
    assert result.exit_code == 2
    assert result.stderr == (
        f"fo-cast: no show 'weekly' in {sample} (shows: exclusive, live, talks)\n"
    )


def test_list_reports_errors_on_stderr(tmp_path: Path) -> None:
    result = invoke("list", build_case("several-broken", tmp_path), "--format", "json")
    assert result.exit_code == 0
    # episodes whose manifests read well are listed, even with a missing media file
    listed = [Path(r["manifest"]).parent.name for r in json.loads(result.stdout)]
    assert listed == ["g-good", "b-missing", "c-good"]
    assert result.stderr == "5 errors in 5 files. Run `fo-cast validate` for details.\n"


def test_probe_text_and_json(media: Path) -> None:
    result = invoke("probe", media / "tone.mp3", media / "video.mp4")
    assert result.exit_code == 0
    tone, video = result.stdout.splitlines()
    assert tone.startswith(f"{media / 'tone.mp3'}: size=8255, mime_type=audio/mpeg, ")
    assert "width=160, height=90" in video
    facts = json.loads(invoke("probe", media / "vbr.mp3", "--format", "json").stdout)
    assert facts[0]["vbr"] is True and facts[0]["mime_type"] == "audio/mpeg"


def test_probe_broken_file_exits_1(media: Path) -> None:
    result = invoke("probe", media / "tone.mp3", media / "empty.mp3")
    assert result.exit_code == 1
    assert result.stderr == f"{media / 'empty.mp3'}: the file is empty\n"
    assert result.stdout.startswith(str(media / "tone.mp3"))


def test_probe_says_what_a_target_is_when_it_is_no_file(tmp_path: Path) -> None:
    """A missing path or a folder was "not a media type Apple accepts", and an ftp:// URL
    "cannot read it: No such file or directory"."""
    missing, ftp = tmp_path / "gone", "ftp://example.com/a.mp3"
    result = invoke("probe", missing, tmp_path, ftp)
    assert result.exit_code == 1
    assert result.stderr == (
        f"{missing}: no such file\n{tmp_path}: a folder, not a media file\n"
        f"{ftp}: only http:// and https:// URLs can be probed\n"
    )


def test_schema_command(sample: Path) -> None:
    result = invoke("schema", sample)
    assert result.exit_code == 0
    written = [line.removeprefix("wrote ") for line in result.stdout.splitlines()]
    assert [Path(p).name for p in written] == ["show.schema.json", "episode.schema.json"]
    for path in written:
        schema = json.loads(Path(path).read_text(encoding="utf-8"))
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert schema["additionalProperties"] is False


def test_new_show_and_episode_validate_clean(tmp_path: Path) -> None:
    catalogue = tmp_path / "episodes"
    result = invoke(
        "new", "show", "weekly", "--title", 'FO° Weekly: "the week"', "--catalogue", catalogue
    )
    assert result.exit_code == 0, result.output
    dated = invoke(
        "new", "episode", "--show", "weekly", "--catalogue", catalogue,
        "--date", "2024-07-23T15:00:00+00:00", "Russia’s New Charm Offensive: #1",
    )  # fmt: skip
    undated = invoke("new", "episode", "--show", "weekly", "--catalogue", catalogue, "Later")
    assert (dated.exit_code, undated.exit_code) == (0, 0)
    folder = catalogue / "weekly" / "2024-07-23-russias-new-charm-offensive-1"
    assert dated.stdout == (f"wrote {folder / 'episode.yaml'} and {folder / 'companion.md'}\n")
    text = (folder / "episode.yaml").read_text(encoding="utf-8")
    assert text.splitlines()[0] == (
        "# yaml-language-server: $schema=../../.schema/episode.schema.json"
    )
    guid = next(line for line in text.splitlines() if line.startswith("guid: "))
    assert uuid.UUID(guid.removeprefix("guid: ")).version == 4
    show_text = (catalogue / "weekly" / "show.yaml").read_text(encoding="utf-8")
    assert show_text.startswith("# yaml-language-server: $schema=../.schema/show.schema.json\n")
    result = invoke("validate", catalogue, "--strict")
    assert (result.exit_code, result.stderr) == (0, "No problems found.\n")
    rows = json.loads(invoke("list", catalogue, "--format", "json").stdout)
    assert [(r["title"], r["status"], r["date"]) for r in rows] == [
        ("Russia’s New Charm Offensive: #1", "draft", "2024-07-23"),
        ("Later", "draft", None),
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["new", "show", "Bad Slug"], "'Bad Slug' is not a slug; use lowercase letters, "
            "digits and dashes"),
        (["new", "episode", "--show", "nope", "T"], "no show 'nope' in {c} (no nope/show.yaml)"),
        (
            ["new", "episode", "--show", "talks", "--date", "2024-07-23T15:00:00", "T"],
            "--date needs a timezone, such as 2024-07-23T15:00:00+00:00",
        ),
        (["new", "show", "talks"], "{c}/talks already exists; choose another slug"),
    ],
)  # fmt: skip
def test_new_refuses_with_usage_error(args: list[str], message: str, sample: Path) -> None:
    before = sorted(sample.rglob("*"))
    result = invoke(*args, "--catalogue", sample)
    assert result.exit_code == 2
    assert result.stderr == "fo-cast: " + message.replace("{c}", str(sample)) + "\n"
    assert sorted(sample.rglob("*")) == before


def test_new_episode_refuses_to_overwrite(sample: Path) -> None:
    args = ["new", "episode", "--show", "live", "--catalogue", str(sample), "Twice"]
    assert invoke(*args).exit_code == 0
    result = invoke(*args)
    assert result.exit_code == 2
    assert result.stderr == (
        f"fo-cast: {sample / 'live' / 'twice'} already exists; choose another title or date\n"
    )


def test_every_command_has_an_example() -> None:
    for args in (
        ["validate"],
        ["list"],
        ["probe"],
        ["schema"],
        ["new", "show"],
        ["new", "episode"],
    ):
        result = runner.invoke(app, [*args, "--help"])
        assert result.exit_code == 0
        assert "Example: fo-cast " in result.stdout, args


def test_validate_does_not_touch_manifests(sample: Path) -> None:
    before = {p: p.read_bytes() for p in sample.rglob("*.yaml")}
    invoke("validate", sample)
    assert {p: p.read_bytes() for p in sample.rglob("*.yaml")} == before
    assert (sample / ".fo-cast" / "probe.json").is_file()
    shutil.rmtree(sample / ".fo-cast")


def test_an_error_nobody_foresaw_is_one_line_and_exit_70(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A bug in fo-cast (here: validate raising a ValueError) is one line saying so and how
    to see more, exit 70; --traceback shows the stack."""
    import fo_cast
    from fo_cast import cli

    def broken(*args: object, **kwargs: object) -> None:
        raise ValueError("Invalid tag name 'itunes:new-feed-url'")

    monkeypatch.setattr(fo_cast, "validate", broken)
    monkeypatch.setattr(sys, "argv", ["fo-cast", "validate", str(tmp_path)])
    with pytest.raises(SystemExit) as stopped:
        cli.main()
    assert stopped.value.code == 70
    err = capsys.readouterr().err
    assert err == (
        "fo-cast: internal error (ValueError: Invalid tag name 'itunes:new-feed-url'). This is "
        "a bug in fo-cast: run the command again with --traceback and report what it prints\n"
    )
    monkeypatch.setattr(sys, "argv", ["fo-cast", "--traceback", "validate", str(tmp_path)])
    with pytest.raises(ValueError, match="Invalid tag name"):
        cli.main()
