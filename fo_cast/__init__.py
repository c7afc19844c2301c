"""fo-cast: the episode catalogue and podcast publisher for Fair Observer's shows.

import fo_cast
report = fo_cast.validate("episodes")
for problem in report:
    print(problem)
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from fo_cast.catalogue.checks import validate_catalogue
from fo_cast.catalogue.reader import Catalogue, load_catalogue
from fo_cast.errors import FoCastError
from fo_cast.gcpause import paused_gc
from fo_cast.media.probe import Probed
from fo_cast.problems import Problem, Report, Severity
from fo_cast.render.lint import lint_site
from fo_cast.render.site import resolve_site

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


def check(
    root: Path | str,
    use_cache: bool = True,
    now: datetime | None = None,
    base_url: str | None = None,
) -> tuple[Catalogue, Probed, Report]:
    """Returns the catalogue, its probed media and every problem found in it.

    A catalogue without errors is also linted as the directories will see its feeds, with
    the episodes live at `now` (default: the current time).
    """
    with paused_gc():
        catalogue, report = load_catalogue(Path(root), use_cache=use_cache)
        probed = validate_catalogue(catalogue, report, use_cache=use_cache)
        if not report.errors:  # the site can only be resolved from a valid catalogue
            site = resolve_site(
                catalogue, probed, base_url or catalogue.settings.base_url, now or datetime.now(UTC)
            )
            report.extend(lint_site(site))
    return catalogue, probed, report


def validate(root: Path | str, use_cache: bool = True) -> Report:
    """Returns every problem in the catalogue at root; writes nothing but the probe cache."""
    return check(root, use_cache=use_cache)[2]
