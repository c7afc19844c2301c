"""`make bench`, import part: `fo-cast import` of a generated 10,000-item feed (--media url)
beside feedparser's own parse of the same file, each in a fresh process (its own peak RSS).

    python bench/import_bench.py                       # the comparison alone
    python bench/import_bench.py step feedparser FEED  # one measured step, one JSON line
    python bench/import_bench.py step import FEED CATALOGUE
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

ITEMS = int(os.environ.get("BENCH_IMPORT_ITEMS", "10000"))
ROUNDS = int(os.environ.get("BENCH_IMPORT_ROUNDS", "3"))  # feedparser and import, alternating
HERE = Path(__file__).resolve().parent

HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"
  xmlns:content="http://purl.org/rss/1.0/modules/content/"
  xmlns:atom="http://www.w3.org/2005/Atom"
  xmlns:podcast="https://podcastindex.org/namespace/1.0">
  <channel>
    <title>Generated Show</title>
    <link>https://example.com/show/</link>
    <atom:link href="https://feeds.example.com/show.xml" rel="self" type="application/rss+xml"/>
    <description>A generated feed for the import benchmark.</description>
    <language>en-us</language>
    <copyright>© 2026 Example</copyright>
    <itunes:author>Example Media</itunes:author>
    <itunes:owner>
      <itunes:name>Example Media</itunes:name><itunes:email>pod@example.com</itunes:email>
    </itunes:owner>
    <itunes:image href="https://cdn.example.com/art.jpg"/>
    <itunes:category text="News"><itunes:category text="Politics"/></itunes:category>
    <itunes:explicit>no</itunes:explicit>
    <itunes:type>episodic</itunes:type>
    <podcast:guid>917393e3-1b1e-5cef-ace4-edaa54e1f810</podcast:guid>
"""

ITEM = """    <item>
      <title>{title}</title>
      <guid isPermaLink="false">{guid}</guid>
      <pubDate>{date}</pubDate>
      <link>https://example.com/show/{n}/</link>
      <description>{summary}</description>
      <content:encoded><![CDATA[<p>{summary}</p>
        <p>Links: <a href="https://example.com/{n}">notes</a>, <em>guests</em> and
        <strong>sponsors</strong>.</p><ul><li>first topic</li><li>second topic</li></ul>
      ]]></content:encoded>
      <enclosure url="https://cdn.example.com/ep/{n}.mp3" length="{length}" type="audio/mpeg"/>
      <itunes:duration>{clock}</itunes:duration>
      <itunes:episode>{n}</itunes:episode>
      <itunes:episodeType>full</itunes:episodeType>
    </item>
"""


def make_feed(path: Path, items: int) -> None:
    """Writes a feed of `items` items, newest first, shaped like a big host's feed."""
    start = datetime(2000, 1, 3, 9, tzinfo=UTC)
    with path.open("w", encoding="utf-8") as out:
        out.write(HEAD)
        for n in range(items, 0, -1):
            seconds = 1200 + (n * 37) % 3600
            out.write(
                ITEM.format(
                    n=n,
                    title=escape(f"Conversation {n}: the week's story & its context"),
                    guid=f"https://example.com/?p={n}",
                    date=format_datetime(start + timedelta(days=n)),
                    summary=escape(f"In conversation number {n} we talk about the news. " * 4),
                    length=seconds * 16000,
                    clock=f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}",
                )
            )
        out.write("  </channel>\n</rss>\n")


def _step(kind: str, *args: str) -> dict[str, object]:
    start, cpu = time.perf_counter(), time.process_time()
    extra: dict[str, object] = {}
    if kind == "feedparser":
        import feedparser

        extra["entries"] = len(feedparser.parse(args[0]).entries)
    else:
        from fo_cast.build import import_show as import_feed

        result = import_feed(args[0], Path(args[1]), "show")
        extra["written"] = len(result.written)
        extra["errors"] = len(result.report.errors)
    workers = resource.getrusage(resource.RUSAGE_CHILDREN)  # the import's worker processes
    return {
        "seconds": round(time.perf_counter() - start, 3),
        "cpu_seconds": round(time.process_time() - cpu + workers.ru_utime + workers.ru_stime, 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "worker_peak_rss_mb": round(workers.ru_maxrss / 1024, 1),
        **extra,
    }


def measure(*args: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "step", *args], check=True, capture_output=True, text=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_import_bench(work: Path, line: Callable[[str, dict[str, float], str], None]) -> None:
    """Prints the import figures: feedparser's parse, then the whole fo-cast import."""
    feed = work / "import-feed.xml"
    make_feed(feed, ITEMS)
    size = feed.stat().st_size / 1e6
    print(
        f"import a {ITEMS}-item feed ({size:.1f} MB), --media url (target: no slower than "
        "feedparser's parse, < 300 MB)"
    )
    catalogue = work / "import-catalogue"
    ratios = []
    for _ in range(ROUNDS):  # alternating, so that both see the same load
        parsed = measure("feedparser", str(feed))
        line("feedparser.parse of the same file", parsed, f"cpu {parsed['cpu_seconds']:.2f} s")
        shutil.rmtree(catalogue, ignore_errors=True)
        catalogue.mkdir()
        (catalogue / "fo-cast.toml").write_text('base_url = "https://podcasts.example.com/"\n')
        ours = measure("import", str(feed), str(catalogue))
        ratios.append(ours["seconds"] / parsed["seconds"])
        workers = ours["worker_peak_rss_mb"] > 0
        line(
            "fo-cast import (parse, convert, write, validate)",
            ours,
            f"ratio {ratios[-1]:.2f}x, cpu {ours['cpu_seconds']:.2f} s, "
            + (f"workers {ours['worker_peak_rss_mb']:.0f} MB each, " if workers else "")
            + f"{ours['written']:.0f} episodes",
        )
    print(f"  median ratio of {ROUNDS}: {statistics.median(ratios):.2f}x")
    again = measure("import", str(feed), str(catalogue))
    line("the same import again (writes nothing)", again, "")


def _line(label: str, result: dict[str, float], extra: str = "") -> None:
    print(f"  {label:<44} {result['seconds']:>7.2f} s  {result['peak_rss_mb']:>7.1f} MB {extra}")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "step":
        print(json.dumps(_step(sys.argv[2], *sys.argv[3:])))
    else:
        with tempfile.TemporaryDirectory(prefix="fo-cast-import-bench-") as tmp:
            run_import_bench(Path(tmp), _line)
