"""Helpers the test modules share: running the CLI, editing catalogue files, resolving sites."""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path

from typer.testing import CliRunner, Result

import fo_cast
from fo_cast.cli import app
from fo_cast.render.site import Site

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "episodes"
_runner = CliRunner()


def invoke(*args: str | Path) -> Result:
    """Returns the result of the CLI run in-process; a traceback is never the answer."""
    result = _runner.invoke(app, [str(a) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def run_fo_cast(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Runs the real console entry point (`python -m fo_cast` calls cli.main)."""
    return subprocess.run(
        [sys.executable, "-m", "fo_cast", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


def edit(path: Path, old: str, new: str) -> None:
    """Replaces the first `old` in a text file with `new`; `old` must be there."""
    text = path.read_text(encoding="utf-8")
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def copy_sample(where: Path) -> Path:
    """Returns a copy of the sample catalogue at where/episodes (no caches, no schemas)."""
    root = where / "episodes"
    shutil.copytree(SAMPLE, root, ignore=shutil.ignore_patterns(".fo-cast", ".schema"))
    return root


def site_of(root: Path, now: datetime) -> Site:
    """Returns the resolved site of a catalogue that must have no errors."""
    checked = fo_cast.check(root, now=now)
    assert checked.site is not None, [str(p) for p in checked.report.errors]
    return checked.site
