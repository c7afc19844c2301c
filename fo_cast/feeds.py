"""Site -> podcast feeds (RSS 2.0 + iTunes + Podcasting 2.0 via feedgen, JSON Feed, OPML)."""

from __future__ import annotations

from fo_cast.outputs import FeedItem, Output
from fo_cast.site import Site


def render_feeds(site: Site) -> tuple[list[Output], list[FeedItem]]:
    """Returns every feed file of the site and the items each feed carries."""
    return [], []
