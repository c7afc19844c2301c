"""Site -> HTML pages (jinja2). Pure."""

from __future__ import annotations

from fo_cast.outputs import Output
from fo_cast.site import Site


def render_pages(site: Site) -> list[Output]:
    """Returns every page of the site."""
    return []
