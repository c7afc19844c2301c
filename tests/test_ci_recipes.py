"""The CI recipes in examples/ci/: valid YAML, and every fo-cast command in them is a real
command with real options (parsed by the CLI itself, without running it)."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml

from fo_cast.cli import app

CI = Path(__file__).resolve().parent.parent / "examples" / "ci"
RECIPES = ["github-actions.yml", "gitlab-ci.yml"]


def shell_of(node: Any) -> list[str]:
    """Returns every shell script in a workflow: GitHub `run`, GitLab `script`s."""
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("run", "script", "before_script", "after_script"):
                found += value if isinstance(value, list) else [value]
            else:
                found += shell_of(value)
    elif isinstance(node, list):
        for value in node:
            found += shell_of(value)
    return [str(s) for s in found]


def fo_cast_commands(recipe: str) -> list[list[str]]:
    """Returns the argument lists of every `fo-cast ...` command in a recipe."""
    data = yaml.safe_load((CI / recipe).read_text(encoding="utf-8"))
    commands = []
    for script in shell_of(data):
        for line in script.splitlines():
            for part in re.split(r"\|\||&&|[|;]", line):
                words = shlex.split(part.strip(), comments=True) if part.strip() else []
                if words[:1] == ["fo-cast"]:
                    args = []
                    for word in words[1:]:
                        if word.startswith((">", "<", "2>")):
                            break  # a redirection: the command ends here
                        args.append(word)
                    commands.append(args)
    return commands


@pytest.mark.parametrize("recipe", RECIPES)
def test_every_fo_cast_command_in_the_recipe_parses(recipe: str) -> None:
    group = typer.main.get_command(app)
    assert isinstance(group, typer.core.TyperGroup)
    commands = fo_cast_commands(recipe)
    assert [c[0] for c in commands] == ["validate", "publish"]
    for args in commands:
        command = group.get_command(group.make_context("fo-cast", [args[0]]), args[0])
        assert command is not None, f"{recipe}: no command fo-cast {args[0]}"
        # Raises a usage error (unknown option, bad value) just as the shell would see it.
        command.make_context(args[0], args[1:])
    validate, publish = commands
    assert {"--strict", "--format", "json"} <= set(validate)
    assert "--wait" in publish and "--break-lock" in publish


def test_a_made_up_option_would_be_caught() -> None:
    group = typer.main.get_command(app)
    assert isinstance(group, typer.core.TyperGroup)
    command = group.get_command(group.make_context("fo-cast", ["publish"]), "publish")
    assert command is not None
    with pytest.raises(Exception, match="No such option: --no-such-option"):
        command.make_context("publish", ["episodes", "--no-such-option"])
    assert group.get_command(group.make_context("fo-cast", ["publsh"]), "publsh") is None


def test_github_recipe_validates_prs_and_publishes_main_every_15_minutes() -> None:
    data = yaml.safe_load((CI / "github-actions.yml").read_text(encoding="utf-8"))
    triggers = data[True]  # PyYAML reads the key `on` as the boolean true
    assert triggers["schedule"] == [{"cron": "*/15 * * * *"}]
    assert triggers["push"] == {"branches": ["main"]}
    assert "pull_request" in triggers
    env = data["jobs"]["publish"]["steps"][-1]["env"]
    assert env["AWS_SECRET_ACCESS_KEY"] == "${{ secrets.AWS_SECRET_ACCESS_KEY }}"
    script = data["jobs"]["validate"]["steps"][-1]["run"]
    assert "::{level} {where}::{text}" in script


def test_github_annotation_step_turns_problems_into_annotations(tmp_path: Path) -> None:
    """Runs the recipe's own Python against a real report."""
    data = yaml.safe_load((CI / "github-actions.yml").read_text(encoding="utf-8"))
    script = data["jobs"]["validate"]["steps"][-1]["run"]
    code = script.split("<<'PY'\n", 1)[1].split("\nPY\n", 1)[0]
    (tmp_path / "problems.json").write_text(
        '{"problems": [{"file": "episodes/talks/a/episode.yaml", "line": 5, "field": "status",'
        ' "message": "expected 50%", "severity": "error"}], "errors": 1, "warnings": 0}'
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True
    ).stdout
    assert out == "::error file=episodes/talks/a/episode.yaml,line=5::status: expected 50%25\n"
