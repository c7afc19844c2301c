"""Hugo (Debian's `hugo`) building the same episode pages as fo-cast: one Markdown page with
front matter per episode, a page per show, a minimal layout; beside fo-cast's cold build."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml
from harness import EPISODES, RUNS, Bench, ratio

LAYOUT = {
    "_default/baseof.html": (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<title>{{ .Title }}</title></head><body>{{ block "main" . }}{{ end }}</body></html>\n'
    ),
    "_default/single.html": (
        '{{ define "main" }}<main><h1>{{ .Title }}</h1><p>{{ .Date.Format "2 January 2006" }}'
        "</p><p>{{ .Params.summary }}</p>{{ .Content }}</main>{{ end }}\n"
    ),
    "_default/list.html": (
        '{{ define "main" }}<main><h1>{{ .Title }}</h1><ul>{{ range .Pages }}'
        '<li><a href="{{ .RelPermalink }}">{{ .Title }}</a></li>{{ end }}</ul></main>{{ end }}\n'
    ),
}


def make_site(root: Path, site: Path) -> int:
    """Writes a Hugo site of root's episodes; returns how many pages it holds."""
    (site / "layouts" / "_default").mkdir(parents=True)
    for name, text in LAYOUT.items():
        (site / "layouts" / name).write_text(text, encoding="utf-8")
    (site / "hugo.toml").write_text(
        'baseURL = "https://example.com/"\ntitle = "Bench"\n'
        'disableKinds = ["taxonomy", "term", "RSS", "sitemap", "robotsTXT", "404"]\n',
        encoding="utf-8",
    )
    pages = 0
    for manifest in sorted(root.glob("*/*/episode.yaml")):
        data = yaml.load(manifest.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
        folder = site / "content" / manifest.parent.parent.name
        folder.mkdir(parents=True, exist_ok=True)
        companion = (manifest.parent / "companion.md").read_text(encoding="utf-8")
        front = {
            "title": data["title"],
            "date": data["published"].isoformat(),
            "summary": data["summary"],
        }
        text = f"---\n{yaml.safe_dump(front, allow_unicode=True)}---\n{companion}"
        (folder / f"{manifest.parent.name}.md").write_text(text, encoding="utf-8")
        pages += 1
    return pages


def run(bench: Bench) -> None:
    hugo = shutil.which("hugo")
    print(f"Hugo building the same {EPISODES} episode pages (target: fo-cast cold <= 2.5x)")
    if hugo is None:
        print("  hugo not installed (make bench installs Debian's hugo)")
        return
    version = subprocess.run([hugo, "version"], capture_output=True, text=True).stdout.split()[1]
    site = bench.work / "hugo-site"
    pages = make_site(bench.catalogue(), site)
    public = site / "public"
    argv = [hugo, "--quiet", "--source", str(site), "--destination", str(public)]
    results = []
    for _ in range(RUNS):
        shutil.rmtree(public, ignore_errors=True)
        shutil.rmtree(site / "resources", ignore_errors=True)
        results.append(bench.command(argv))
    results.sort(key=lambda r: r["seconds"])
    theirs = results[len(results) // 2]
    built = sum(1 for _ in public.rglob("*.html"))
    bench.line(f"hugo {version}, {pages} pages ({built} HTML files), cold", theirs)
    bench.summary(f"Hugo {version}: the same {pages:,} pages, cold (both cores)", theirs)
    ours = bench.figures.get("cold build")
    if ours is not None:
        bench.line("fo-cast build, cold (from cli_bench)", ours, f"ratio {ratio(ours, theirs)}")
        bench.summary(
            f"`fo-cast build` {EPISODES:,}, cold: feeds + pages, validate included",
            ours,
            f"{ratio(ours, theirs)} Hugo (2.5x)",
        )
