"""The pipeline on one screen: read -> validate -> resolve -> lint, then render -> Build.

`check()` reads the catalogue, validates it and probes its media, resolves the site (every
URL, enclosure and date as the feeds will show them) and lints it as the directories will;
`build()` renders that checked site into a `Build` held in memory. Nothing is written until
the whole build has passed: `tree.write_tree()` and `publish` take it from there. Rendering
takes what an earlier build rendered from the catalogue's render cache, so a rebuild renders
only what changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from fo_cast.catalogue.checks import validate_catalogue
from fo_cast.catalogue.reader import Catalogue, load_catalogue
from fo_cast.errors import FoCastError
from fo_cast.gcpause import paused_gc
from fo_cast.media.probe import Probed
from fo_cast.media.tagging import check_tags
from fo_cast.outputs import Build, Output, Stage
from fo_cast.problems import Report
from fo_cast.render import feeds, pages, search
from fo_cast.render.cache import RenderCache
from fo_cast.render.lint import lint_feed_sizes, lint_site
from fo_cast.render.site import Site, resolve_site
from fo_cast.state import RENDER_CACHE


@dataclass
class Checked:
    """A catalogue after every check: what was read, probed and resolved, and its problems."""

    catalogue: Catalogue
    probed: Probed
    report: Report
    site: Site | None  # None when the catalogue has errors: a site resolves only when valid
    now: datetime  # the clock that decided which episodes are live


def check(
    root: Path | str,
    use_cache: bool = True,
    now: datetime | None = None,
    base_url: str | None = None,
) -> Checked:
    """Returns the checked catalogue: its probed media, resolved site and every problem.

    A catalogue without errors is also linted as the directories will see its feeds, with
    the episodes live at `now` (default: the current time).
    """
    clock = now or datetime.now(UTC)
    with paused_gc():
        catalogue, report = load_catalogue(Path(root), use_cache=use_cache)
        probed = validate_catalogue(catalogue, report, use_cache=use_cache)
        site = None
        if not report.errors:
            site = resolve_site(catalogue, probed, base_url or catalogue.settings.base_url, clock)
            report.extend(lint_site(site))
            report.extend(check_tags(site.shows, probed))
    return Checked(catalogue, probed, report, site, clock)


def validate(root: Path | str, use_cache: bool = True) -> Report:
    """Returns every problem in the catalogue at root (writes only fo-cast's caches)."""
    return check(root, use_cache=use_cache).report


def build_catalogue(
    root: Path | str,
    now: datetime | None = None,
    base_url: str | None = None,
    strict: bool = False,
) -> tuple[Checked, Build]:
    """Returns check() and build() of the catalogue at root: the Build carries the report,
    and holds no outputs when the report failed."""
    checked = check(root, now=now, base_url=base_url)
    return checked, build(checked, strict=strict)


def build(
    checked: Checked,
    strict: bool = False,
    with_feeds: bool = True,
    with_pages: bool = True,
    use_cache: bool = True,
) -> Build:
    """Returns the whole output tree in memory, or an empty Build when the report failed.

    with_feeds/with_pages leave a part out (the benchmarks time them apart). use_cache=False
    renders everything and leaves the render cache alone; either way the bytes are the same.
    """
    result = Build(report=checked.report)
    if checked.report.failed(strict=strict) or checked.site is None:
        return result
    with paused_gc():
        folder = checked.catalogue.root / RENDER_CACHE if use_cache else None
        _render(result, checked.site, folder, strict, with_feeds, with_pages)
    return result


def _render(
    result: Build,
    site: Site,
    folder: Path | None,
    strict: bool,
    with_feeds: bool,
    with_pages: bool,
) -> None:
    report = result.report
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
        page_outputs = pages.render_pages(site, cache)
        cache.save()
        result.outputs.extend(page_outputs)
        cache = RenderCache(folder, "search")
        result.outputs.extend(search.render_search_index(site, page_outputs, cache))
        cache.save()
    _check_unique_paths(result)


def files_of(site: Site) -> list[Output]:
    """Returns the catalogue files the tree carries as they are: media, artwork, transcripts,
    and the files companions reference."""
    outputs = []
    for show in site.shows:
        art = show.artwork
        if art.path is not None and art.source is not None:  # not served elsewhere
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
            for sidecar in (episode.transcript, episode.image, *episode.assets):
                if sidecar is not None and sidecar.path and sidecar.source is not None:
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
