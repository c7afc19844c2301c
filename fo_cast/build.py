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
from typing import TYPE_CHECKING, Any

from fo_cast import snapshot
from fo_cast.catalogue.status import Status
from fo_cast.errors import FoCastError
from fo_cast.gcpause import paused_gc
from fo_cast.outputs import Build, FeedItem, Output, Stage
from fo_cast.problems import Report
from fo_cast.state import RENDER_CACHE, REPORT_CACHE

# The stages are imported where they run: a validate or build with nothing changed since the
# last run reuses its result (snapshot.py) and loads neither pydantic, mutagen nor jinja2.
if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Iterator

    from fo_cast.catalogue.importer import ImportOptions, ImportResult
    from fo_cast.catalogue.reader import Catalogue
    from fo_cast.media.probe import Probed
    from fo_cast.render.site import Site
    from fo_cast.tagging import TagRun


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
    only: Collection[str] | None = None,
) -> Checked:
    """Returns the checked catalogue: its probed media, resolved site and every problem.

    A catalogue without errors is also linted as the directories will see its feeds, with
    the episodes live at `now` (default: the current time). With `only` (episode folders,
    "show-folder/episode-folder"), those episodes alone are read, in their shows (rebuild.py
    checks what changed).
    """
    from fo_cast.catalogue.checks import validate_catalogue
    from fo_cast.catalogue.reader import load_catalogue
    from fo_cast.render.lint import lint_site
    from fo_cast.render.site import resolve_site
    from fo_cast.tagging import check_tags

    clock = now or datetime.now(UTC)
    with paused_gc():
        # a few episodes: their manifests are read (not the cache of all of them), their
        # media's facts still come from the probe cache (a remote file is not fetched again)
        manifests = use_cache and only is None
        catalogue, report = load_catalogue(Path(root), use_cache=manifests, only=only)
        probed = validate_catalogue(catalogue, report, use_cache=use_cache)
        site = None
        if not report.errors:
            site = resolve_site(catalogue, probed, base_url or catalogue.settings.base_url, clock)
            report.extend(lint_site(site))
            report.extend(check_tags(site.shows, probed))
    return Checked(catalogue, probed, report, site, clock)


def validate(root: Path | str, use_cache: bool = True) -> Report:
    """Returns every problem in the catalogue at root (writes only fo-cast's caches).

    With nothing changed since the last validate (see snapshot.py), that run's report is
    the answer, and nothing is read but the catalogue's file listing.
    """
    if not use_cache:
        return check(root, use_cache=False).report
    clock = datetime.now(UTC)
    taken = snapshot.take(root, "validate")
    stored = Path(root) / REPORT_CACHE
    stamp = snapshot.read_stamp(stored)
    if stamp is not None and stamp.holds(taken, clock, root):
        return stamp.report()
    checked = check(root, now=clock)
    stamp = stamp_of(checked, taken, exact_clock=False) if Path(root).is_dir() else None
    if stamp is not None:
        snapshot.write_stamp(stored, stamp)
    return checked.report


def stamp_of(
    checked: Checked, taken: snapshot.Snapshot | None, exact_clock: bool
) -> snapshot.Stamp | None:
    """Returns the stamp for the result of checked, snapshot taken before it, with the
    clocks it holds for; None when it must not be stored.

    exact_clock: the result takes the clock itself (a feed without live episodes is dated
    by it), so it holds for that moment only.
    """
    if taken is None or not taken.settled:
        return None
    # what the run read outside the catalogue: the media folder
    media = checked.catalogue.media_folder
    folders = [media] if media is not None else []
    outside = snapshot.outside(folders, taken)
    if outside is None:
        return None
    stamp = snapshot.Stamp(taken.key, taken.recent, outside, problems=checked.report.problems[:])
    if checked.site is None:  # with errors nothing is resolved: the clock decided nothing
        return stamp
    dates = [
        e.episode.published
        for show in checked.catalogue.shows
        for e in show.episodes
        if e.episode.published is not None and e.episode.status is not Status.DRAFT
    ]
    stamp.since, stamp.until = snapshot.clock_window(dates, checked.now)
    if exact_clock and any(not show.episodes for show in checked.site.shows):
        stamp.moment = checked.now
    return stamp


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


@dataclass
class Built:
    """What build_tree() did: the report, and how many files and feeds the tree holds."""

    report: Report
    files: int = 0
    feeds: int = 0
    reused: bool = False  # nothing changed since the tree was built: nothing read or written
    rebuilt: bool = False  # only companions changed: only their episodes read (rebuild.py)


def build_tree(
    root: Path | str,
    out: Path | str,
    now: datetime | None = None,
    base_url: str | None = None,
    strict: bool = False,
) -> Built:
    """Returns what building the catalogue at root into the folder out did.

    Nothing is written when the report failed. When nothing changed since the build that out
    holds (the catalogue's snapshot, the options, the live episodes, and every file of the
    tree as that build wrote it), nothing is read, rendered or written either.
    """
    from fo_cast import rebuild
    from fo_cast.tree import forget_record, is_intact, read_stamp, write_tree

    clock = now or datetime.now(UTC)
    taken = snapshot.take(root, "build", base_url or "", str(strict))
    stamp = read_stamp(Path(out))
    if stamp is not None and stamp.holds(taken, clock, root) and is_intact(Path(out)):
        extra = stamp.extra
        return Built(stamp.report(), int(extra["files"]), int(extra["feeds"]), reused=True)
    # companions edited, nothing else: the edited episodes alone (rebuild.py)
    rebuilt = rebuild.rebuild(Path(root), Path(out), taken, stamp, clock, base_url, strict, check)
    if rebuilt is not None:
        return Built(rebuilt.report, rebuilt.files, rebuilt.feeds, rebuilt=True)
    forget_record()
    checked, result = build_catalogue(root, now=clock, base_url=base_url, strict=strict)
    if result.report.failed(strict=strict):
        return Built(result.report)
    feeds = sum(1 for o in result.outputs if o.stage is Stage.FEED)
    new = stamp_of(checked, taken, exact_clock=True)
    if new is not None:
        new.extra = {"files": len(result.outputs), "feeds": feeds}
    write_tree(result, Path(out), catalogue=Path(root), stamp=new)
    rebuild.record(Path(out), checked, result, taken, new)
    return Built(result.report, len(result.outputs), feeds)


def import_show(
    source: str, catalogue: Path, show: str, options: ImportOptions | None = None, **more: Any
) -> ImportResult:
    """Returns what `fo-cast import` did: the feed imported into CATALOGUE/show, then the
    show checked as the pipeline checks it (see catalogue.importer.import_feed)."""
    from fo_cast.catalogue.importer import import_feed

    return import_feed(
        source, catalogue, show, options, validate=lambda root: check(root).report, **more
    )


def tag_media(root: Path | str, dry_run: bool = False) -> TagRun:
    """Returns what `fo-cast tag` wrote (or, with dry_run, would write) into the catalogue's
    media: checked at a clock past every episode, so scheduled episodes are tagged too."""
    from fo_cast.tagging import EVERY_EPISODE, tag_catalogue

    checked = check(root, now=EVERY_EPISODE)
    return tag_catalogue(
        checked.catalogue.root, checked.site, checked.probed, checked.report, dry_run
    )


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
    from fo_cast.render import feeds, pages  # noqa: F401 - imported before the fork, once
    from fo_cast.render.cache import RenderCache  # noqa: F401
    from fo_cast.render.lint import is_size_estimate, lint_feed_sizes
    from fo_cast.workers import forked

    report = result.report
    result.outputs.extend(files_of(site))
    if with_feeds and with_pages:  # taken once, before the fork: both processes key by them
        for show in site.shows:
            show.fingerprint  # noqa: B018 - a cached property, taken for its side effect
            for episode in show.episodes:
                episode.fingerprint  # noqa: B018
    feeds_part = _Part(_render_feeds, site, folder, with_feeds)
    # the feeds on the other core while the pages render on this one
    with forked(feeds_part, parallel=with_feeds and with_pages) as feeds_done:
        page_outputs = _render_pages(site, folder) if with_pages else []
        feed_outputs, items = feeds_done.result()
    if with_feeds:
        # The feeds weighed replace validate's estimate of their size.
        report.problems[:] = [p for p in report.problems if not is_size_estimate(p)]
        report.extend(lint_feed_sizes(site, feed_outputs))
        if report.failed(strict=strict):  # a feed too large for the directories, under --strict
            return
        result.outputs.extend(feed_outputs)
        result.items.extend(items)
    result.outputs.extend(page_outputs)
    _check_unique_paths(result)


@dataclass
class _Part:
    """One part of the render, to run in a worker: nothing when not wanted."""

    render: Callable[[Site, Path | None], tuple[list[Output], list[FeedItem]]]
    site: Site
    folder: Path | None
    wanted: bool

    def __call__(self) -> tuple[list[Output], list[FeedItem]]:
        return self.render(self.site, self.folder) if self.wanted else ([], [])


def _render_feeds(site: Site, folder: Path | None) -> tuple[list[Output], list[FeedItem]]:
    """Returns the feeds and their items, with the feeds' render cache (saved here)."""
    from fo_cast.render import feeds
    from fo_cast.render.cache import RenderCache

    cache = RenderCache(folder, "feeds")
    rendered = feeds.render_feeds(site, cache)
    cache.save()
    return rendered


def _render_pages(site: Site, folder: Path | None) -> list[Output]:
    """Returns the pages and their search index, with their render caches (saved here)."""
    from fo_cast.render import pages, search
    from fo_cast.render.cache import RenderCache

    page_cache = RenderCache(folder, "pages")
    search_cache = RenderCache(folder, "search")
    outputs: list[Output] = []

    render = pages.Pages(site, page_cache)

    def rendered() -> Iterator[Output]:  # the search index takes the pages as they render
        for output in render.render():
            outputs.append(output)
            yield output

    bundles = search.render_search_index(site, rendered(), search_cache, ahead=render)
    page_cache.save()
    search_cache.save()
    return outputs + bundles


def files_of(site: Site) -> list[Output]:
    """Returns the catalogue files the tree carries as they are: media, artwork, transcripts,
    and the files companions reference."""
    from fo_cast.render.site import Enclosure

    outputs = []
    for show in site.shows:
        art = show.artwork
        if art.path is not None and art.source is not None:  # not served elsewhere
            outputs.append(Output(art.path, art.type, Stage.ASSET, source=art.source))
        for episode in show.episodes:
            for path, source, item in episode.folder_files():
                if isinstance(item, Enclosure):
                    stage, size = Stage.MEDIA, item.length
                    outputs.append(Output(path, item.type, stage, source=source, size=size))
                else:
                    outputs.append(Output(path, item.type, Stage.ASSET, source=source))
    return outputs


def _check_unique_paths(result: Build) -> None:
    seen: set[str] = set()
    for output in result.outputs:
        if output.path in seen:
            raise FoCastError(f"two outputs want the same path '{output.path}'; rename one")
        seen.add(output.path)
