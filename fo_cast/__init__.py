"""fo-cast: the episode catalogue and podcast publisher for Fair Observer's shows.

import fo_cast
report = fo_cast.validate("episodes")
for problem in report:
    print(problem)
"""

from __future__ import annotations

from pathlib import Path

from fo_cast.catalogue import Catalogue, load_catalogue
from fo_cast.errors import FoCastError
from fo_cast.problems import Problem, Report, Severity
from fo_cast.checks import Probed, validate_catalogue

__all__ = [
    "Catalogue",
    "FoCastError",
    "Problem",
    "Probed",
    "Report",
    "Severity",
    "check",
    "load_catalogue",
    "validate",
]


def check(root: Path | str, use_cache: bool = True) -> tuple[Catalogue, Probed, Report]:
    """Returns the catalogue, its probed media and every problem found in it."""
    catalogue, report = load_catalogue(Path(root))
    probed = validate_catalogue(catalogue, report, use_cache=use_cache)
    return catalogue, probed, report


def validate(root: Path | str, use_cache: bool = True) -> Report:
    """Returns every problem in the catalogue at root; writes nothing but the probe cache."""
    return check(root, use_cache=use_cache)[2]
