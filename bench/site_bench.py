"""`make bench`, the catalogue site: companion assets, topic pages and the search index.

Run from bench/run.py on its synthetic catalogue, after the pages bench. Every tenth episode
gains a chart image and a link to the episode before it; then a cold site build and a rebuild
after one companion changed are timed phase by phase (validate, pages with topics, the
Pagefind index, write), each in a fresh process:

    python bench/site_bench.py measure CATALOGUE OUT
"""

from __future__ import annotations

import json
import resource
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

NOW = datetime(2030, 1, 1, tzinfo=UTC)
EVERY = 10  # one episode in ten has a companion image and a link to the one before it
CHART = Path(__file__).resolve().parent.parent / (
    "episodes/exclusive/2024-12-07-trump-won-again/electoral-votes.png"
)

Step = Callable[..., dict[str, float]]
Line = Callable[..., None]


def add_assets(root: Path) -> int:
    """Gives every EVERY-th episode a chart (hard-linked) and a link to the episode before
    it in its show; returns how many episodes changed."""
    import os

    changed = 0
    for show in sorted(root.glob("show-*")):
        folders = sorted(p for p in show.iterdir() if (p / "episode.yaml").is_file())
        for index in range(1, len(folders), EVERY):
            before, folder = folders[index - 1], folders[index]
            os.link(CHART, folder / "chart.png")
            companion = folder / "companion.md"
            companion.write_text(
                companion.read_text(encoding="utf-8")
                + f"\n![A chart of the week](chart.png)\n\n[The week before](../{before.name}/)\n",
                encoding="utf-8",
            )
            changed += 1
    return changed


def forget(root: Path) -> None:
    for part in ("pages", "search"):
        for file in (root / ".fo-cast" / "render").glob(f"{part}*"):
            file.unlink()


def phases(result: dict[str, float]) -> str:
    return (
        f"= validate {result['validate_seconds']:.2f} + pages {result['pages_seconds']:.2f}"
        f" (topics {result['topics_seconds']:.2f}) + search {result['search_seconds']:.2f}"
        f" ({result['bundles_indexed']:.0f}/{result['bundles']:.0f} bundles) + write"
        f" {result['write_seconds']:.2f}"
    )


def run_site_bench(root: Path, work: Path, step: Step, line: Line) -> None:
    here = Path(__file__).resolve()
    print("the catalogue site: companion assets, topic pages, search index")
    before = step("validate", str(root))
    changed = add_assets(root)
    after = step("validate", str(root))
    line("validate, warm, before companion assets", before)
    line(f"validate, {changed} companions with an image and a link", after)

    def measure() -> dict[str, float]:
        import subprocess

        out = subprocess.run(
            [sys.executable, str(here), "measure", str(root), str(work / "site-out")],
            check=True,
            capture_output=True,
            text=True,
        )
        return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]

    forget(root)
    cold = measure()
    line(
        "site build, cold (pages, topics, search)",
        cold,
        f"{cold['assets']:.0f} assets, {cold['topic_pages']:.0f} topic pages",
    )
    print(f"  {'':<44} {phases(cold)}")
    touched = next(root.glob("show-1/*/companion.md"))
    touched.write_text(touched.read_text(encoding="utf-8") + "\nA late line.\n", encoding="utf-8")
    again = measure()
    line("site rebuild after one companion changed", again)
    print(f"  {'':<44} {phases(again)}")


def _measure(root: str, out: str) -> dict[str, object]:
    import fo_cast
    from fo_cast.build import files_of
    from fo_cast.outputs import Build
    from fo_cast.render import pages, search
    from fo_cast.render.cache import RenderCache
    from fo_cast.render.topics import collect_topics
    from fo_cast.state import RENDER_CACHE
    from fo_cast.tree import write_tree

    start = time.perf_counter()
    checked = fo_cast.check(root, now=NOW)
    site = checked.site
    assert site is not None, [str(p) for p in checked.report.errors][:5]
    validated = time.perf_counter()
    folder = Path(root) / RENDER_CACHE
    cache = RenderCache(folder, "pages")
    page_outputs = pages.render_pages(site, cache)
    cache.save()
    rendered = time.perf_counter()
    # topic pages alone, rendered again from nothing, to show their share of the pages
    renderer = pages._Renderer(site, RenderCache())
    topics = collect_topics(site)
    topic_pages = [renderer.topics_index(topics)]
    for topic in topics:
        topic_pages.extend(renderer.topic_pages(topic))
    topics_done = time.perf_counter()
    indexed: list[str] = []
    real = search._index

    def counting(
        pagefind: search.Pagefind, pages_of: list[tuple[str, bytes]], language: str
    ) -> dict[str, bytes]:
        indexed.append(pages_of[0][0])
        return real(pagefind, pages_of, language)

    search._index = counting  # type: ignore[assignment]
    cache = RenderCache(folder, "search")
    search_outputs = search.render_search_index(site, page_outputs, cache)
    cache.save()
    searched = time.perf_counter()
    result = Build(report=checked.report)
    result.outputs.extend(files_of(site))
    result.outputs.extend(page_outputs)
    result.outputs.extend(search_outputs)
    write_tree(result, Path(out))
    assets = sum(len(e.assets) for s in site.shows for e in s.episodes)
    return {
        "assets": assets,
        "topic_pages": len(topic_pages),
        "bundles": len(search.search_bundles(site)),
        "bundles_indexed": len(indexed),
        "validate_seconds": round(validated - start, 3),
        "pages_seconds": round(rendered - validated, 3),
        "topics_seconds": round(topics_done - rendered, 3),
        "search_seconds": round(searched - topics_done, 3),
        "write_seconds": round(time.perf_counter() - searched, 3),
    }


def main() -> None:
    _, root, out = sys.argv[1:]
    start = time.perf_counter()
    result = _measure(root, out)
    seconds = time.perf_counter() - start
    result["seconds"] = round(seconds - float(result["topics_seconds"]), 3)  # type: ignore[arg-type]
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()


def run(bench: Any) -> None:
    """The step for bench/run.py: a catalogue of its own (the chart and links change it)."""
    from harness import EPISODES
    from synth import make_catalogue

    root = bench.work / "site-catalogue"
    make_catalogue(root, EPISODES, shows=2, video_every=10)
    run_site_bench(root, bench.work, bench.step, bench.line)
