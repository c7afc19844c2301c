"""Topic pages and the Pagefind search index of the sample catalogue."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from fo_cast.build import build, check
from fo_cast.errors import FoCastError
from fo_cast.outputs import Build, Output, Stage
from fo_cast.render import pages as pages_module
from fo_cast.render import search
from fo_cast.render.topics import collect_topics, topic_slug

NOW = datetime(2025, 1, 1, tzinfo=UTC)


def build_of(root: Path, use_cache: bool = True) -> Build:
    return build(check(root, now=NOW), use_cache=use_cache)


def contents(result: Build, prefix: str = "") -> dict[str, bytes]:
    return {
        o.path: o.data if o.data is not None else o.source.read_bytes()  # type: ignore[union-attr]
        for o in result.outputs
        if o.path.startswith(prefix)
    }


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Russia", "russia"),
        ("North Korea", "north-korea"),
        ("US election", "us-election"),
        ("Côte d’Ivoire", "cote-divoire"),
        ("中国", "zhong-guo"),
        ("???", "topic"),
    ],
)
def test_topic_slugs(name: str, slug: str) -> None:
    assert topic_slug(name) == slug


def test_topics_span_every_show_newest_first(sample: Path) -> None:
    checked = check(sample, now=NOW)
    assert checked.site is not None
    topics = {t.slug: t for t in collect_topics(checked.site)}
    middle_east = topics["middle-east"]
    assert middle_east.name == "Middle East"
    assert {e.show.slug for e in middle_east.episodes} == {"exclusive", "talks"}
    dates = [e.published for e in middle_east.episodes]
    assert dates == sorted(dates, reverse=True) and len(dates) == 4
    names = [t.name for t in collect_topics(checked.site)]
    assert names == sorted(names, key=str.casefold)


def test_spellings_of_one_slug_are_one_topic(sample: Path) -> None:
    manifest = sample / "exclusive" / "2024-11-06-brics-summit-russia" / "episode.yaml"
    text = manifest.read_text(encoding="utf-8")
    manifest.write_text(text.replace("[BRICS, Russia,", "[BRICS, russia,"), encoding="utf-8")
    checked = check(sample, now=NOW)
    assert checked.site is not None
    russia = next(t for t in collect_topics(checked.site) if t.slug == "russia")
    assert russia.name == "Russia"  # the most used spelling
    assert len(russia.episodes) == 2
    page = next(o for o in build(checked).outputs if o.path == "topics/russia/index.html")
    assert page.data is not None and page.data.count(b'class="episode-title"') == 2
    index = next(o for o in build(checked).outputs if o.path == "topics/index.html")
    assert index.data is not None
    assert b'<a href="../topics/russia/">Russia</a> <span class="count">(2 episodes)</span>' in (
        index.data
    )


def test_the_search_index_is_deterministic_and_published_with_the_pages(sample: Path) -> None:
    first = contents(build_of(sample, use_cache=False), search.SEARCH)
    second = contents(build_of(sample, use_cache=False), search.SEARCH)
    assert first == second
    bundles = sorted({p.split("/")[1] for p in first if p.count("/") > 1})
    assert bundles == ["exclusive-2024", "live-2024", "talks-2024"]
    for bundle in bundles:
        assert f"search/{bundle}/pagefind.js" in first
        entry = json.loads(first[f"search/{bundle}/pagefind-entry.json"])
        assert list(entry["languages"]) == ["en"]
    page = first["search/index.html"].decode("utf-8")
    assert 'data-bundles="exclusive-2024 live-2024 talks-2024"' in page
    result = build_of(sample)
    stages = {o.stage for o in result.outputs if o.path.startswith(search.SEARCH)}
    assert stages == {Stage.ASSET}
    types = {o.path.split("/")[-1]: o.content_type for o in result.outputs}
    assert types["pagefind.js"] == "text/javascript; charset=utf-8"
    assert types["pagefind-entry.json"] == "application/json"


PAGES = [
    (f"show/episode-{n:02d}/index.html", f"<html><body><h1>Episode {n}</h1><p>trade {n}</p>")
    for n in range(12)
]


def test_a_bundle_depends_on_its_pages_only_not_on_how_a_folder_lists_them() -> None:
    """Pagefind's --site crawl numbers the pages in the order a file system lists a folder
    (another order on another machine); the service gets them in path order."""
    pages = [(path, html.encode()) for path, html in PAGES]
    with search.Pagefind() as pagefind:
        first = search._index(pagefind, pages, "en")
        again = search._index(pagefind, pages, "en")  # one service, several indexes
    with search.Pagefind() as pagefind:
        other = search._index(pagefind, list(reversed(pages)), "en")
    assert first == again
    assert "pagefind.js" in first and "pagefind-entry.json" in first
    assert sum(path.startswith("fragment/") for path in first) == len(PAGES)
    assert not any(path.endswith((".css", "-ui.js")) for path in first)  # the UI is not kept
    assert other != first  # the order matters to Pagefind: hence the sorted order


def test_pages_sent_without_waiting_index_as_pages_sent_one_by_one() -> None:
    """The pages go to the service one after another without waiting for each answer: the
    bundle is the very one that waiting for each answer makes."""
    pages = [
        (f"show/episode-{n:03d}/index.html", f"<html><body><h1>Episode {n}</h1><p>{words}</p>")
        for n, words in enumerate(
            " ".join(f"word{k}" for k in range(n % 17, 40)) for n in range(300)
        )
    ]
    encoded = [(path, body.encode()) for path, body in pages]
    with search.Pagefind() as pagefind:
        together = search._index(pagefind, encoded, "en")
        index = pagefind._send({"type": "NewIndex", "config": {"force_language": "en"}})
        for path, body in pages:  # one at a time: each answer read before the next is sent
            pagefind._send(
                {"type": "AddFile", "index_id": index["index_id"], "file_path": path,
                 "url": None, "file_contents": body}
            )  # fmt: skip
        files = pagefind._send({"type": "GetFiles", "index_id": index["index_id"]})["files"]
    one_by_one = {
        str(f["path"]): base64.b64decode(f["content"])
        for f in files
        if str(f["path"]).rsplit("/", 1)[-1] in search.KEPT_NAMES
        or Path(str(f["path"])).suffix in search.KEPT_SUFFIXES
    }
    assert together == dict(sorted(one_by_one.items()))


def test_a_service_that_stops_halfway_is_one_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = tmp_path / "pagefind"  # answers nothing, reads a little, then stops
    fake.write_text("#!/bin/sh\nhead -c 100 >/dev/null\necho 'out of memory' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setattr(search, "_pagefind", lambda: fake)
    pages = [(f"p{n}/index.html", b"<html><body>" + b"x" * 100_000 + b"</body></html>")
             for n in range(50)]  # fmt: skip
    with search.Pagefind() as pagefind, pytest.raises(FoCastError) as raised:
        search._index(pagefind, pages, "en")
    assert str(raised.value) == "Pagefind could not index the pages: out of memory"


def test_a_service_that_fails_is_one_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = tmp_path / "pagefind"
    fake.write_text("#!/bin/sh\necho 'no index for you' >&2\nexit 3\n", encoding="utf-8")
    fake.chmod(0o755)
    monkeypatch.setattr(search, "_pagefind", lambda: fake)
    with search.Pagefind() as pagefind, pytest.raises(FoCastError) as raised:
        search._index(pagefind, [(p, h.encode()) for p, h in PAGES], "en")
    assert str(raised.value) == "Pagefind could not index the pages: no index for you"
    monkeypatch.setattr(search, "_pagefind", lambda: tmp_path / "missing")
    with search.Pagefind() as pagefind, pytest.raises(FoCastError, match="cannot start Pagefind"):
        search._index(pagefind, [], "en")


def test_a_rebuild_indexes_only_the_bundle_whose_pages_changed(
    sample: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build_of(sample)
    indexed: list[list[str]] = []
    real = search._index

    def counting(
        pagefind: search.Pagefind, pages: list[tuple[str, bytes]], language: str
    ) -> dict[str, bytes]:
        indexed.append([path for path, _ in pages])
        return real(pagefind, pages, language)

    monkeypatch.setattr(search, "_index", counting)
    build_of(sample)
    assert indexed == []  # nothing changed: every bundle from the cache
    companion = sample / "live" / "2024-09-13-south-korea-quad" / "companion.md"
    companion.write_text(companion.read_text(encoding="utf-8") + "\nOne more line.\n", "utf-8")
    build_of(sample)
    assert indexed == [["live/2024-09-13-south-korea-quad/index.html"]]


def test_a_bundle_is_indexed_as_soon_as_its_pages_have_rendered(
    sample: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The index takes the pages as they render: Pagefind works on the first show's bundle
    while the next pages render, and the bundles are those of a render taken whole."""
    checked = check(sample, now=NOW)
    assert checked.site is not None
    site = checked.site
    whole = search.render_search_index(site, pages_module.render_pages(site))
    first_pages = {e.path + "index.html" for e in site.shows[0].episodes}
    started = threading.Event()
    real = search._index

    def recording(
        pagefind: search.Pagefind, pages: list[tuple[str, bytes]], language: str
    ) -> dict[str, bytes]:
        if pages[0][0] in first_pages:
            started.set()
        return real(pagefind, pages, language)

    waited: list[bool] = []

    def rendering() -> Iterator[Output]:
        remaining = set(first_pages)
        for output in pages_module.iter_pages(site):
            if not remaining and not waited:  # the first show's pages are all out
                waited.append(started.wait(timeout=20))
            remaining.discard(output.path)
            yield output

    monkeypatch.setattr(search, "_index", recording)
    streamed = search.render_search_index(site, rendering())
    assert waited == [True]  # indexed while the rest of the site was still to render
    assert [(o.path, o.data) for o in streamed] == [(o.path, o.data) for o in whole]


def test_after_an_edit_its_bundle_goes_to_pagefind_before_the_other_pages_render(
    sample: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The changed episode's page renders first and its bundle is indexed on the other core
    while the unchanged pages come from the cache: the bundle no longer waits for its last
    page in the render's order (on 10,000 episodes, most of a rebuild's wall time)."""
    build_of(sample)
    companion = sample / "live" / "2024-09-13-south-korea-quad" / "companion.md"
    companion.write_text(companion.read_text(encoding="utf-8") + "\nOne more line.\n", "utf-8")
    started = threading.Event()
    indexed: list[list[str]] = []
    real_index = search._index

    def recording(
        pagefind: search.Pagefind, pages: list[tuple[str, bytes]], language: str
    ) -> dict[str, bytes]:
        indexed.append([path for path, _ in pages])
        started.set()
        return real_index(pagefind, pages, language)

    waited: list[bool] = []
    real_render = pages_module.Pages.render

    def render(self: pages_module.Pages) -> Iterator[Output]:
        for n, output in enumerate(real_render(self)):
            if n == 0:  # the home page, before any episode page: already indexing?
                waited.append(started.wait(timeout=5))
            yield output

    monkeypatch.setattr(search, "_index", recording)
    monkeypatch.setattr(pages_module.Pages, "render", render)
    again = contents(build_of(sample))
    assert waited == [True]
    assert indexed == [["live/2024-09-13-south-korea-quad/index.html"]]
    monkeypatch.undo()
    cold = contents(build_of(sample, use_cache=False))
    assert again == cold  # the same tree, bundle and page bytes, as a render taken whole
