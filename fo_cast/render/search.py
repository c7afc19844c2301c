"""Full-text search on a static host: Pagefind indexes of the episode pages, built with the site.

    search/index.html                 the search page (search.js; needs JavaScript)
    search/<show>-<year>/...          one Pagefind bundle per show and year of episodes

Pagefind (its binary, from the PyPI package pagefind-bin) indexes what the episode pages mark
`data-pagefind-body`: title, summary, companion, chapters, people and topics. The episode
pages are written to a temporary folder for it, and its bundle is read back into Outputs.

Why one bundle per show and year: Pagefind has no incremental indexing, and indexing 10,000
pages takes about 8 s on two cores. Each bundle is kept in the render cache under a digest of
the pages it indexes, so a rebuild after one change re-indexes one show-year; the search page
loads the first bundle and merges the others in the browser (`mergeIndex`). Indexes are
forced to the show's language, so a bundle never splits by a page's `lang`.

Pagefind's output is deterministic for the same pages (checked by the tests): its file names
are content hashes and its order does not depend on threads.
"""

from __future__ import annotations

import functools
import hashlib
import json
import subprocess
import tempfile
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

from fo_cast.errors import FoCastError
from fo_cast.outputs import Body, Output, Stage
from fo_cast.render.cache import RenderCache, Stored, key
from fo_cast.render.site import ShowView, Site

SEARCH = "search/"
# What the browser fetches of a bundle; the Pagefind UI scripts are not used (search.js is).
KEPT_SUFFIXES = (".pf_meta", ".pf_index", ".pf_fragment", ".pf_filter", ".pagefind")
KEPT_NAMES = ("pagefind.js", "pagefind-worker.js", "pagefind-entry.json")
TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".json": "application/json",
}


def _bundles(site: Site) -> dict[str, tuple[ShowView, list[str]]]:
    """Returns bundle name -> (show, episode page paths), in name order."""
    found: dict[str, tuple[ShowView, list[str]]] = {}
    groups: dict[str, list[str]] = defaultdict(list)
    for show in site.shows:
        for episode in show.episodes:
            name = f"{show.slug}-{episode.published.year}"
            groups[name].append(episode.path + "index.html")
            found.setdefault(name, (show, groups[name]))
    return dict(sorted(found.items()))


def search_bundles(site: Site) -> list[str]:
    """Returns the names of the site's search bundles, as the search page loads them."""
    return list(_bundles(site))


def render_search_index(
    site: Site, pages: Iterable[Output], cache: RenderCache | None = None
) -> list[Output]:
    """Returns the Pagefind bundles indexing the episode pages among `pages`.

    A bundle whose pages are unchanged is taken from `cache`; the others are indexed again.
    """
    cache = RenderCache() if cache is None else cache
    by_path = {o.path: o for o in pages if o.rendered}
    outputs = []
    for name, (show, paths) in _bundles(site).items():
        # a bundle's pages at a time: read back from the pages' cache, not all held at once
        pages_of = [(path, searchable(by_path[path].data or b"")) for path in paths]
        packed, kept = cache.fetch_both(
            key(f"search/{name}", _digest(name, show.show.language, pages_of)),
            functools.partial(_indexed, pages_of, show.show.language),
        )
        del pages_of
        for path, start, size in _places(packed):
            body = packed[start : start + size]
            data = body if isinstance(kept, bytes) else _part(kept, start, size, body)
            outputs.append(
                Output(
                    f"{SEARCH}{name}/{path}",
                    TYPES.get(Path(path).suffix, "application/octet-stream"),
                    Stage.ASSET,
                    data=data,
                )
            )
    return outputs


def _part(kept: Body, start: int, size: int, body: bytes) -> Body:
    """Returns a file of a stored bundle as its place in the cache's pack."""
    if not isinstance(kept, Stored):
        return body  # type: ignore[return-value]  # a Body of another kind: keep the bytes
    return kept.part(start, size, hashlib.sha256(body).hexdigest())


ARTICLE_START = b"<article"
ARTICLE_END = b"</article>"


def searchable(page: bytes) -> bytes:
    """Returns what Pagefind needs of an episode page: its article (the part marked
    data-pagefind-body) in a bare document. Pagefind then parses a quarter of the bytes, and
    a page whose article is unchanged (a new "more from the show" list) keeps its bundle."""
    start = page.find(ARTICLE_START)
    end = page.find(ARTICLE_END, start)
    if start < 0 or end < 0:
        return page
    article = page[start : end + len(ARTICLE_END)]
    return b"<!doctype html>\n<html>\n<body>\n" + article + b"\n</body>\n</html>\n"


def _digest(name: str, language: str, pages: list[tuple[str, bytes]]) -> bytes:
    """Returns a digest of what a bundle indexes: its name, language, pages and their bytes."""
    digest = hashlib.blake2b(f"{name}\x00{language}\x00".encode(), digest_size=16)
    for path, body in pages:
        digest.update(f"{path}\x00{len(body)}\x00".encode())
        digest.update(body)
    return digest.digest()


def _indexed(pages: list[tuple[str, bytes]], language: str) -> bytes:
    return _pack(_index(pages, language))


def _index(pages: list[tuple[str, bytes]], language: str) -> dict[str, bytes]:
    """Returns the files of a Pagefind bundle for the pages (path, HTML)."""
    executable = _pagefind()
    with tempfile.TemporaryDirectory(prefix="fo-cast-search-") as tmp:
        site = Path(tmp) / "site"
        out = Path(tmp) / "bundle"
        for path, body in pages:
            target = site / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(body)
        command = [
            str(executable), "--site", str(site), "--output-path", str(out),
            "--force-language", language.split("-")[0].lower(), "--silent",
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise FoCastError(f"Pagefind could not index the pages: {done.stderr.strip()}")
        files = {}
        for file in sorted(out.rglob("*")):
            relative = file.relative_to(out).as_posix()
            if file.is_file() and (file.name in KEPT_NAMES or file.suffix in KEPT_SUFFIXES):
                files[relative] = file.read_bytes()
        return files


def _pagefind() -> Path:
    try:
        from pagefind_bin import get_executable
    except ImportError:
        raise FoCastError(
            "the search index needs Pagefind: pip install pagefind-bin (or reinstall fo-cast)"
        ) from None
    return Path(get_executable())


def _pack(files: dict[str, bytes]) -> bytes:
    """Returns a bundle as one blob for the render cache: a JSON line of names and sizes, then
    the files' bytes one after another."""
    head = json.dumps([[path, len(body)] for path, body in files.items()])
    return head.encode("utf-8") + b"\n" + b"".join(files.values())


def _places(packed: bytes) -> list[tuple[str, int, int]]:
    """Returns the files of a packed bundle: (path, where its bytes start in packed, size)."""
    head, _, _ = packed.partition(b"\n")
    places = []
    offset = len(head) + 1
    for path, size in json.loads(head):
        places.append((path, offset, size))
        offset += size
    return places
