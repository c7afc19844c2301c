"""Shared fixtures. Several test modules add blocks here: edit only your own block."""

from __future__ import annotations

# --- lead: plugins ---------------------------------------------------------------------------
pytest_plugins = ["tests.s3server"]  # the session-wide SeaweedFS server (s3_server fixture)

# --- catalogue foundation (yaml12, models, catalogue, checks, probe, scaffold, cli) ---------
import shutil  # noqa: E402 - each block keeps its own imports
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "episodes"
MEDIA = REPO / "tests" / "fixtures" / "media"
CATALOGUES = REPO / "tests" / "fixtures" / "catalogues"


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    """Returns a copy of the sample catalogue at tmp_path/episodes (no probe cache)."""
    from tests.helpers import copy_sample

    return copy_sample(tmp_path)


@pytest.fixture
def media() -> Path:
    """Returns the folder of real media fixtures (see its README.md for the facts)."""
    return MEDIA


def build_case(name: str, where: Path) -> Path:
    """Returns the broken catalogue `name` built at where/episodes, ready to validate.

    Each case folder holds the manifests and a setup.txt that brings in what git should keep
    once: `DEST <- FIXTURE` copies tests/fixtures/media/FIXTURE, `DEST -> TARGET` makes a
    symlink, `DEST = TEXT` writes a line of text. DEST is relative to the catalogue and may
    start with ../ to land outside it."""
    case = CATALOGUES / name
    root = where / "episodes"
    shutil.copytree(case, root, ignore=shutil.ignore_patterns("expected.txt", "setup.txt"))
    setup = case / "setup.txt"
    lines = setup.read_text(encoding="utf-8").splitlines() if setup.exists() else []
    for line in lines:
        for op in (" <- ", " -> ", " = "):
            if op in line:
                dest, arg = line.split(op, 1)
                break
        else:
            raise ValueError(f"{setup}: cannot read {line!r}")
        path = root / dest
        path.parent.mkdir(parents=True, exist_ok=True)
        if op == " <- ":
            shutil.copyfile(MEDIA / arg, path)
        elif op == " -> ":
            path.symlink_to(arg)
        else:
            path.write_text(arg + "\n", encoding="utf-8")
    return root


def case_names() -> list[str]:
    return sorted(p.name for p in CATALOGUES.iterdir() if (p / "expected.txt").exists())


# --- end catalogue foundation ---------------------------------------------------------------


# --- golden files: `pytest --update-golden` rewrites tests/golden/ from the current output ---


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="Rewrite the golden files under tests/golden/ from the current output.",
    )


# --- media io: a local HTTP server with faults on demand (tests/httpserver.py) --------------
from httpserver import http_host  # noqa: E402, F401 - the fixture, for every test module
# --- end media io ---------------------------------------------------------------------------
