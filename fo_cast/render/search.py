"""Full-text search on a static host: Pagefind indexes of the episode pages, built with the site.

    search/index.html                 the search page (search.js; needs JavaScript)
    search/<show>-<year>/...          one Pagefind bundle per show and year of episodes

Pagefind (its binary, from the PyPI package pagefind-bin) indexes what the episode pages mark
`data-pagefind-body`: title, summary, companion, chapters, people and topics. The pages go to
Pagefind's indexing service (`pagefind --service`, see `Pagefind`) in memory, in path order,
and the bundle comes back in memory: nothing is written to disk, and the bundle does not
depend on the order in which a file system lists a folder (Pagefind's `--site` crawl numbers
pages in that order, which differs between file systems and machines).

Why one bundle per show and year: Pagefind has no incremental indexing, and indexing 10,000
pages takes about 8 s on two cores. Each bundle is kept in the render cache under a digest of
the pages it indexes, so a rebuild after one change re-indexes one show-year; the search page
loads the first bundle and merges the others in the browser (`mergeIndex`). Indexes are
forced to the show's language, so a bundle never splits by a page's `lang`.

Pagefind's output is deterministic for the same pages given in the same order (checked by the
tests): its file names are content hashes and its order does not depend on threads.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import queue
import subprocess
import tempfile
import threading
from collections import defaultdict, deque
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

from fo_cast.errors import FoCastError
from fo_cast.outputs import SEARCH, Body, Output, Stage
from fo_cast.render.cache import RenderCache, Stored, key
from fo_cast.render.site import ShowView, Site
from fo_cast.workers import cores


class Ahead(Protocol):
    """The render whose pages the index takes (pages.Pages), asked before it starts."""

    def changed_episodes(self) -> list[str]:
        """The paths of the episode pages the page cache lacks, rendering nothing."""
        ...

    def episode_pages(self, paths: set[str]) -> dict[str, Output]:
        """The episode pages at paths, rendered now or taken from the cache."""
        ...


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
            name = bundle_name(show, episode.published.year)
            groups[name].append(episode.path + "index.html")
            found.setdefault(name, (show, groups[name]))
    return dict(sorted(found.items()))


def search_bundles(site: Site) -> list[str]:
    """Returns the names of the site's search bundles, as the search page loads them."""
    return list(_bundles(site))


def render_search_index(
    site: Site,
    pages: Iterable[Output],
    cache: RenderCache | None = None,
    ahead: Ahead | None = None,
) -> list[Output]:
    """Returns the Pagefind bundles indexing the episode pages among `pages`.

    `pages` is taken as it comes (a render's pages as they render): a bundle goes to the
    index as soon as the last of its pages has arrived, so Pagefind indexes on the other
    core while the next pages render. A bundle whose pages are unchanged is taken from
    `cache`; the others are indexed again, one Pagefind service per core, each bundle by one
    service (the bytes are the same as indexed one after another, in any order of arrival).

    With `ahead` (the render that yields `pages`), a few changed pages (an edit or two) are
    rendered before the rest, and their bundles go to Pagefind at once: indexing the one
    bundle that changed then takes no longer than rendering the pages that did not.
    """
    cache = RenderCache() if cache is None else cache
    bundles = _bundles(site)
    bundle_of = {path: name for name, (_, paths) in bundles.items() for path in paths}
    # bundle -> page path -> (digest of what is indexed of it, the page)
    arrived: dict[str, dict[str, tuple[str, Output]]] = {name: {} for name in bundles}
    files_of: dict[str, list[tuple[str, bytes | Body]]] = {}

    def keep(name: str, packed: bytes, kept: bytes | Body) -> None:
        # with a cache on disk, each file is a place in the bundle's entry, not its bytes
        files_of[name] = [
            (path, _part(kept, start, size, packed[start : start + size]))
            for path, start, size in _places(packed)
        ]

    jobs = max(1, cores())
    waiting: deque[tuple[str, str, Future[bytes]]] = deque()
    early: dict[str, tuple[str, Future[bytes]]] = {}  # bundle -> (its key, sent ahead)

    def settle_oldest() -> None:  # the cache is this thread's: what was indexed goes in here
        name, bundle_key, indexed = waiting.popleft()
        packed = indexed.result()
        keep(name, *cache.fetch_both(bundle_key, lambda: packed))

    def bundle_key_of(name: str, got: dict[str, tuple[str, Output]]) -> str:
        show, paths = bundles[name]
        digests = [(path, got[path][0]) for path in paths]  # in the bundle's order
        return key(f"search/{name}", _digest(name, show.show.language, digests))

    with _Services(jobs) as services, ThreadPoolExecutor(jobs) as pool:

        def index(name: str, got: dict[str, tuple[str, Output]]) -> Future[bytes]:
            show, paths = bundles[name]
            # only the pages of a bundle indexed again are read back
            pages_of = [(path, searchable(got[path][1].data or b"")) for path in paths]
            return pool.submit(services.indexed, pages_of, show.show.language)

        if ahead is not None:
            changed = list(dict.fromkeys(bundle_of[p] for p in ahead.changed_episodes()))
            if len(changed) <= jobs:  # an edit or two; a larger change streams as it renders
                for bundle in changed:
                    rendered = ahead.episode_pages(set(bundles[bundle][1]))
                    got = {path: (_noted(o), o) for path, o in rendered.items()}
                    bundle_key = bundle_key_of(bundle, got)
                    if not cache.has(bundle_key):
                        early[bundle] = (bundle_key, index(bundle, got))

        def complete(name: str) -> None:
            got = arrived.pop(name)
            bundle_key = bundle_key_of(name, got)
            sent = early.pop(name, None)
            if sent is not None and sent[0] == bundle_key:
                waiting.append((name, bundle_key, sent[1]))
            else:
                found = cache.lookup(bundle_key)
                if found is not None:
                    keep(name, *found)
                    return
                waiting.append((name, bundle_key, index(name, got)))
            while len(waiting) > jobs:  # as many bundles in memory as there are services
                settle_oldest()

        for output in pages:
            name = bundle_of.get(output.path)
            if name is None or not output.rendered:
                continue
            got = arrived[name]
            got[output.path] = (_noted(output), output)
            if len(got) == len(bundles[name][1]):
                complete(name)
        if arrived:  # the pages of a bundle that never arrived: a render left them out
            missing = next(iter(arrived))
            raise FoCastError(f"the search bundle '{missing}' lacks pages; build again")
        while waiting:
            settle_oldest()
    return [output for name in sorted(files_of) for output in _outputs(name, files_of[name])]


def _outputs(name: str, files: list[tuple[str, bytes | Body]]) -> list[Output]:
    """Returns the outputs of a bundle's files, under search/<name>/."""
    return [
        Output(
            f"{SEARCH}{name}/{path}",
            TYPES.get(Path(path).suffix, "application/octet-stream"),
            Stage.ASSET,
            data=data,
        )
        for path, data in files
    ]


def bundle_name(show: ShowView, published_year: int) -> str:
    """Returns the name of the bundle that indexes an episode of show published that year."""
    return f"{show.slug}-{published_year}"


def index_bundle(name: str, language: str, pages: list[tuple[str, bytes]]) -> list[Output]:
    """Returns the outputs of one bundle indexing the episode pages (path, page), in the
    bundle's order, as render_search_index() makes it (rebuild.py re-indexes one bundle)."""
    with Pagefind() as pagefind:
        packed = _indexed(pagefind, [(path, searchable(page)) for path, page in pages], language)
    return _outputs(name, [(path, packed[at : at + size]) for path, at, size in _places(packed)])


class _Services:
    """Pagefind services for threads to share, one at a time each, started when first used."""

    def __init__(self, count: int) -> None:
        self._all = [Pagefind() for _ in range(count)]
        self._free: queue.SimpleQueue[Pagefind] = queue.SimpleQueue()
        for service in self._all:
            self._free.put(service)

    def __enter__(self) -> _Services:
        return self

    def __exit__(self, *exc: object) -> None:
        for service in self._all:
            service.close()

    def indexed(self, pages: list[tuple[str, bytes]], language: str) -> bytes:
        service = self._free.get()
        try:
            return _indexed(service, pages, language)
        finally:
            self._free.put(service)


def _part(kept: bytes | Body, start: int, size: int, body: bytes) -> bytes | Body:
    """Returns a file of a bundle (its bytes are body): its place in the cache's pack when the
    bundle is stored there, else the bytes."""
    if not isinstance(kept, Stored):
        return body
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


def _noted(output: Output) -> str:
    """Returns the article digest of an episode page: noted in the render cache (the note's
    first word: pages.py notes where the companion sits after it), or taken."""
    content = output.content
    noted = content.note.partition(" ")[0] if isinstance(content, Stored) else ""
    return noted or article_digest(output.data or b"")


def article_digest(page: bytes) -> str:
    """Returns the digest of what the index takes of an episode page (searchable(page)): the
    pages' render cache keeps it beside the page, so an unchanged page is not read for it."""
    return hashlib.blake2b(searchable(page), digest_size=16).hexdigest()


def _digest(name: str, language: str, pages: list[tuple[str, str]]) -> bytes:
    """Returns a digest of what a bundle indexes: its name, language, and its pages' paths
    and article digests, in order."""
    digest = hashlib.blake2b(f"{name}\x00{language}\x00".encode(), digest_size=16)
    for path, article in pages:
        digest.update(f"{path}\x00{article}\x00".encode())
    return digest.digest()


def _indexed(pagefind: Pagefind, pages: list[tuple[str, bytes]], language: str) -> bytes:
    return _pack(_index(pagefind, pages, language))


def _index(pagefind: Pagefind, pages: list[tuple[str, bytes]], language: str) -> dict[str, bytes]:
    """Returns the files of a Pagefind bundle for the pages (path, HTML), those kept."""
    files = pagefind.index(pages, language.split("-")[0].lower())
    return {
        path: body
        for path, body in sorted(files.items())
        if path.rsplit("/", 1)[-1] in KEPT_NAMES or Path(path).suffix in KEPT_SUFFIXES
    }


class Pagefind:
    """Pagefind's indexing service, one process for every bundle of a build, started on the
    first bundle to index.

    The protocol is Pagefind's own (what its Node and Python packages speak): each message
    is a JSON object, base64-encoded and ended by a comma, on the service's standard input;
    each answer comes back the same way, with the message's id. This client sends a message
    and waits for its answer before the next, so the pages of an index arrive in the order
    given. (Pagefind's Python package waits 0.1 s before reading each answer: 17 minutes
    for 10,000 pages.)
    """

    def __init__(self) -> None:
        self._process: subprocess.Popen[bytes] | None = None
        self._errors: Any = None
        self._sent = 0

    def __enter__(self) -> Pagefind:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def index(self, pages: list[tuple[str, bytes]], language: str) -> dict[str, bytes]:
        """Returns the files of a new index of the pages (path, HTML) in this order."""
        made = self._send({"type": "NewIndex", "config": {"force_language": language}})
        index = made["index_id"]
        self._send_all(
            [
                {
                    "type": "AddFile", "index_id": index, "file_path": path, "url": None,
                    "file_contents": body.decode("utf-8", "replace"),
                }
                for path, body in pages
            ]
        )  # fmt: skip
        files = self._send({"type": "GetFiles", "index_id": index})["files"]
        self._send({"type": "DeleteIndex", "index_id": index})
        return {str(f["path"]): base64.b64decode(f["content"]) for f in files}

    def _start(self) -> subprocess.Popen[bytes]:
        executable = _pagefind()
        self._errors = tempfile.TemporaryFile()  # noqa: SIM115 - closed by close()
        try:
            return subprocess.Popen(
                [str(executable), "--service"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._errors,
            )  # fmt: skip
        except OSError as error:
            raise FoCastError(f"cannot start Pagefind ({executable}): {error}") from error

    def _send(self, payload: dict[str, Any]) -> dict[str, Any]:
        return self._send_all([payload])[0]

    def _send_all(self, payloads: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """Returns the service's answers to the messages, sent one after another without
        waiting for each answer (a thread writes them while this one reads). The service
        handles its messages one at a time, in the order they come (its loop takes the next
        only when it has answered the last), so the index is the one sequential sends make:
        the tests compare them."""
        if self._process is None:
            self._process = self._start()
        process = self._process
        assert process.stdin is not None and process.stdout is not None
        first = self._sent + 1
        self._sent += len(payloads)
        failed: list[OSError] = []

        def write(stream: Any = process.stdin) -> None:
            try:  # each message encoded as it goes: a bundle's pages are not held twice
                for number, payload in enumerate(payloads, first):
                    message = json.dumps({"message_id": number, "payload": payload})
                    stream.write(base64.b64encode(message.encode("utf-8")) + b",")
                stream.flush()
            except OSError as error:  # the service stopped: the reader says why
                failed.append(error)

        writer = threading.Thread(target=write, daemon=True)
        writer.start()
        results = []
        try:
            answers = _read_messages(process.stdout, len(payloads))
            for expected, answer in enumerate(answers, first):
                reply = json.loads(base64.b64decode(answer))
                result: dict[str, Any] = reply["payload"]
                if result.get("type") == "Error" or reply.get("message_id") != expected:
                    said = result.get("message")
                    raise FoCastError(f"Pagefind could not index the pages: {said}")
                results.append(result)
        except (OSError, ValueError, KeyError, TypeError) as error:
            stopped = self._stopped(failed[0] if failed else error)
            raise FoCastError(f"Pagefind could not index the pages: {stopped}") from None
        finally:
            if len(results) < len(payloads):
                self._kill()  # nothing more is read: the writer must not wait for ever
            writer.join()
        return results

    def _kill(self) -> None:
        if self._process is not None:
            with contextlib.suppress(OSError):
                self._process.kill()

    def _stopped(self, error: Exception) -> str:
        """Returns what the service said before it stopped answering, or the error."""
        if self._errors is not None:
            self._errors.seek(0)
            said = self._errors.read().decode("utf-8", "replace").strip()
            if said:
                return said.splitlines()[-1]
        return str(error) or type(error).__name__

    def close(self) -> None:
        if self._process is not None:
            if self._process.stdin is not None:
                with contextlib.suppress(OSError):  # the service ends with its input
                    self._process.stdin.close()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None
        if self._errors is not None:
            self._errors.close()
            self._errors = None


def _pagefind() -> Path:
    try:
        from pagefind_bin import get_executable
    except ImportError:
        raise FoCastError(
            "the search index needs Pagefind: pip install pagefind-bin (or reinstall fo-cast)"
        ) from None
    return Path(get_executable())


def _read_messages(stream: Any, count: int) -> list[bytes]:
    """Returns the service's next count messages (base64, without their commas); more bytes
    than those are the service answering what it was not asked."""
    messages: list[bytes] = []
    chunks = bytearray()
    while len(messages) < count:
        read = stream.read1(1 << 16)
        if not read:
            raise ValueError("Pagefind stopped answering")
        chunks += read
        while len(messages) < count:
            end = chunks.find(b",")  # base64 has no commas: the first one ends a message
            if end < 0:
                break
            messages.append(bytes(chunks[:end]))
            del chunks[: end + 1]
        if chunks and len(messages) == count:
            raise ValueError("Pagefind answered out of turn")
    return messages


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
