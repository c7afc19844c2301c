"""Runs the stages: read -> validate -> resolve -> render feeds and pages -> Build.

Nothing is written until the whole build has passed. Rendering takes what an earlier build
rendered from the catalogue's render cache (`.fo-cast/render/`, see rendercache.py), so a
rebuild renders only what changed; `write_tree()` then changes only the files that differ,
and an interrupted build leaves the previous tree whole.
"""

from __future__ import annotations

from datetime import datetime

from fo_cast.catalogue.reader import CACHE_DIR, Catalogue
from fo_cast.errors import FoCastError
from fo_cast.gcpause import paused_gc
from fo_cast.media.probe import Probed
from fo_cast.outputs import Build, Output, Stage
from fo_cast.problems import Report
from fo_cast.render import feeds, pages
from fo_cast.render.cache import RenderCache
from fo_cast.render.lint import lint_feed_sizes
from fo_cast.render.site import Site, resolve_site

RENDER_CACHE = "render"  # <catalogue>/.fo-cast/render/


def build(
    catalogue: Catalogue,
    probed: Probed,
    report: Report,
    now: datetime,
    base_url: str | None = None,
    strict: bool = False,
    with_feeds: bool = True,
    with_pages: bool = True,
    use_cache: bool = True,
) -> Build:
    """Returns the whole output tree in memory, or an empty Build when the report failed.

    with_feeds/with_pages leave a part out (the benchmarks time them apart). use_cache=False
    renders everything and leaves the render cache alone; either way the bytes are the same.
    """
    result = Build(report=report)
    if report.failed(strict=strict):
        return result
    with paused_gc():
        _render(result, catalogue, probed, now, base_url, strict, with_feeds, with_pages, use_cache)
    return result


def _render(
    result: Build,
    catalogue: Catalogue,
    probed: Probed,
    now: datetime,
    base_url: str | None,
    strict: bool,
    with_feeds: bool,
    with_pages: bool,
    use_cache: bool,
) -> None:
    report = result.report
    site = resolve_site(catalogue, probed, base_url or catalogue.settings.base_url, now)
    folder = catalogue.root / CACHE_DIR / RENDER_CACHE if use_cache else None
    result.outputs.extend(files_of(site))
    if with_feeds:
        cache = RenderCache(folder, "feeds")
        feed_outputs, items = feeds.render_feeds(site, cache)
        cache.save()
        report.extend(lint_feed_sizes(site, feed_outputs))
        if report.failed(strict=strict):  # a feed too large for the directories, under --strict
            return
        result.outputs.extend(feed_outputs)
        result.items.extend(items)
    if with_pages:
        cache = RenderCache(folder, "pages")
        result.outputs.extend(pages.render_pages(site, cache))
        cache.save()
    _check_unique_paths(result)


def files_of(site: Site) -> list[Output]:
    """Returns the catalogue files the tree carries as they are: media, artwork, transcripts."""
    outputs = []
    for show in site.shows:
        art = show.artwork
        assert art.source is not None
        outputs.append(Output(art.path, art.type, Stage.ASSET, source=art.source))
        for episode in show.episodes:
            for enclosure in episode.enclosures:
                if enclosure.path is not None and enclosure.source is not None:
                    outputs.append(
                        Output(
                            enclosure.path, enclosure.type, Stage.MEDIA,
                            source=enclosure.source, size=enclosure.length,
                        )
                    )  # fmt: skip
            for sidecar in (episode.transcript, episode.image):
                if sidecar is not None and sidecar.source is not None:
                    outputs.append(
                        Output(sidecar.path, sidecar.type, Stage.ASSET, source=sidecar.source)
                    )
    return outputs


def _check_unique_paths(result: Build) -> None:
    seen: set[str] = set()
    for output in result.outputs:
        if output.path in seen:
            raise FoCastError(f"two outputs want the same path '{output.path}'; rename one")
        seen.add(output.path)
