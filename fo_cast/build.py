"""Runs the stages: read -> validate -> resolve -> render feeds and pages -> Build.

Nothing is written until the whole build has passed; `write_tree()` then replaces the output
folder in one step, so an interrupted build leaves the previous tree whole.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from datetime import datetime
from pathlib import Path

from fo_cast import feeds, pages
from fo_cast.catalogue import Catalogue
from fo_cast.checks import Probed
from fo_cast.errors import FoCastError
from fo_cast.lint import lint_feed_sizes
from fo_cast.outputs import Build, Output, Stage
from fo_cast.problems import Report
from fo_cast.site import Site, resolve_site


def build(
    catalogue: Catalogue,
    probed: Probed,
    report: Report,
    now: datetime,
    base_url: str | None = None,
    strict: bool = False,
    with_feeds: bool = True,
    with_pages: bool = True,
) -> Build:
    """Returns the whole output tree in memory, or an empty Build when the report failed.

    with_feeds/with_pages leave a part out (the benchmarks time them apart)."""
    result = Build(report=report)
    if report.failed(strict=strict):
        return result
    site = resolve_site(catalogue, probed, base_url or catalogue.settings.base_url, now)
    result.outputs.extend(files_of(site))
    if with_feeds:
        feed_outputs, items = feeds.render_feeds(site)
        report.extend(lint_feed_sizes(site, feed_outputs))
        if report.failed(strict=strict):  # a feed too large for the directories, under --strict
            return result
        result.outputs.extend(feed_outputs)
        result.items.extend(items)
    if with_pages:
        result.outputs.extend(pages.render_pages(site))
    _check_unique_paths(result)
    return result


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


def write_tree(result: Build, out: Path) -> None:
    """Writes the build into out, replacing its previous content in one rename.

    Media and artwork enter as hard links (a copy only across file systems), so a 2 GB
    video costs no extra disk.
    """
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.new-", dir=out.parent))
    try:
        keep = out / "README.md"
        if keep.is_file():  # the folder's own note (feeds/README.md) stays
            shutil.copy2(keep, staging / "README.md")
        for output in result.outputs:
            target = staging / output.path
            target.parent.mkdir(parents=True, exist_ok=True)
            if output.data is not None:
                target.write_bytes(output.data)
            else:
                assert output.source is not None
                _link_or_copy(output.source, target)
        _swap(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _swap(staging: Path, out: Path) -> None:
    """Puts staging in out's place; the old tree is removed only after the rename."""
    if not out.exists():
        os.replace(staging, out)
        return
    old = out.with_name(f".{out.name}.old-{os.getpid()}")
    os.replace(out, old)
    try:
        os.replace(staging, out)
    except OSError:
        os.replace(old, out)
        raise
    shutil.rmtree(old, ignore_errors=True)
