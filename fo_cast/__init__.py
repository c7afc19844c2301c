"""fo-cast: the episode catalogue and podcast publisher for Fair Observer's shows.

import fo_cast
report = fo_cast.validate("episodes")
for problem in report:
    print(problem)

The pipeline, stage by stage: `check()` -> `fo_cast.build.build()` -> `write_tree()` or
`plan_publish()` -> `fo_cast.publish.run.publish()`. (`build` and `publish` name subpackages
and modules here, so the functions of those names are reached through them.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fo_cast.build import Checked, check, validate
    from fo_cast.catalogue.reader import Catalogue, load_catalogue
    from fo_cast.errors import FoCastError
    from fo_cast.media.probe import Probed
    from fo_cast.problems import Problem, Report, Severity
    from fo_cast.publish.plan import plan_publish
    from fo_cast.tree import write_tree

__all__ = [
    "Catalogue",
    "Checked",
    "FoCastError",
    "Problem",
    "Probed",
    "Report",
    "Severity",
    "check",
    "load_catalogue",
    "plan_publish",
    "validate",
    "write_tree",
]

# Every name is loaded on first use: `fo-cast --help` imports none of the pipeline, and
# `fo-cast validate` never imports the publishing code.
_LAZY = {
    "Checked": "fo_cast.build",
    "check": "fo_cast.build",
    "validate": "fo_cast.build",
    "Catalogue": "fo_cast.catalogue.reader",
    "load_catalogue": "fo_cast.catalogue.reader",
    "FoCastError": "fo_cast.errors",
    "Probed": "fo_cast.media.probe",
    "Problem": "fo_cast.problems",
    "Report": "fo_cast.problems",
    "Severity": "fo_cast.problems",
    "write_tree": "fo_cast.tree",
    "plan_publish": "fo_cast.publish.plan",
}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'fo_cast' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
