"""The README and --help are part of the interface: every command is documented and shown."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.main import get_command

from fo_cast.catalogue.scaffold import write_schemas
from fo_cast.cli import app

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text(encoding="utf-8")


def _commands() -> dict[str, object]:
    """Returns every command by its full name: 'validate', 'new show', ..."""
    root = get_command(app)
    found: dict[str, object] = {}
    for name, command in root.commands.items():  # type: ignore[attr-defined]
        sub = getattr(command, "commands", None)
        if sub:
            for sub_name, sub_command in sub.items():
                found[f"{name} {sub_name}"] = sub_command
        else:
            found[name] = command
    return found


COMMANDS = sorted(_commands())


def test_the_cli_has_the_commands_the_issues_ask_for() -> None:
    assert set(COMMANDS) >= {
        "validate", "list", "probe", "schema", "new show", "new episode",
        "build", "publish", "verify", "serve",
    }  # fmt: skip


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_is_in_the_readme(name: str) -> None:
    assert f"fo-cast {name}" in README


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_help_has_a_runnable_example(name: str) -> None:
    command = _commands()[name]
    help_text = getattr(command, "help", "") or ""
    example = re.search(r"Example: (fo-cast .+)", help_text)
    assert example, f"fo-cast {name} --help has no example"
    assert example.group(1).startswith(f"fo-cast {name}")


def test_readme_shows_the_two_commands() -> None:
    assert "make demo" in README and "make test" in README


def test_committed_schemas_match_the_models(tmp_path: Path) -> None:
    """episodes/.schema/ is what editors validate against: it must not go stale."""
    for path in write_schemas(tmp_path):
        committed = REPO / "episodes" / ".schema" / path.name
        assert json.loads(committed.read_text(encoding="utf-8")) == json.loads(
            path.read_text(encoding="utf-8")
        ), f"run `fo-cast schema episodes` to refresh {committed.name}"
