"""A rebuild after companion edits: only the edited episodes are read, checked and rendered.

An editor changing the article of one episode changes four things of a built tree: the
episode's page, its items in the show's feeds, the search bundle that indexes the page, and
the feeds' size in the report. A whole build reads and checks the 10,000 episodes that did
not change to find that out (some 5 s); `rebuild()` reads the one that did.

After every whole build, `record()` keeps beside the tree (`.fo-cast/rebuild.json`) what a
rebuild needs: each folder's digest as the build's snapshot took it (snapshot.py), and for
each live episode whose companion is a file of its own folder, with no problem in the report:
the companion's line in the snapshot (path, size, mtime, inode), where the companion sits in
its page (the page cache notes it), its place in each feed, its search bundle, and the
digest of what the companion makes of the episode besides its HTML (links, the files it
brings, the Open Graph image). The show's own facts that depend on all its episodes (which
feeds it has) and its fingerprint are kept too.

`rebuild()` takes place of a whole build only when all of this holds, and says None otherwise
(the whole build then runs, as before):

- the record belongs to the build the tree holds (its stamp), the code, environment and
  options are the same, the clock is one the stamp holds for, the tree is intact;
- the same folders exist, and the folders that differ are at most MAX_EDITS recorded episode
  folders in which only the companion changed;
- those episodes, read and checked on their own (their show with them), have no problem at
  all, and come out with the same links, files and image, in a show of the same fingerprint.

It then renders the new companion, puts it in place of the old one in the page and the
feeds' items (each item's bytes are rendered whole, as a whole build renders them), indexes
the bundle again, and writes those files alone (tree.update_files). The result is the tree a
whole build would write, byte for byte: the tests compare them for every kind of edit.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Protocol

from fo_cast import snapshot
from fo_cast.gcpause import paused_gc
from fo_cast.limits import load_json
from fo_cast.problems import Report
from fo_cast.state import CACHE_DIR, atomic_write

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from fo_cast.catalogue.reader import Catalogue
    from fo_cast.outputs import Build, FeedItem, Output
    from fo_cast.render.site import EpisodeView, ShowView, Site

RECORD = f"{CACHE_DIR}/rebuild.json"  # in the built tree, beside its record (tree.py)
VERSION = 1
MAX_EDITS = 4  # more companions changed at once: a whole build


class Checked(Protocol):
    """A checked catalogue, as build.check() returns it (build.Checked)."""

    catalogue: Catalogue
    report: Report
    site: Site | None


@dataclass
class Rebuilt:
    """What a rebuild did: the build's report, and how many files and feeds the tree holds."""

    report: Report
    files: int
    feeds: int


@dataclass
class _Episode:
    folder: str  # "show-1/2024-08-04-middle-east" (catalogue-relative)
    facts: dict[str, Any]  # as recorded
    view: EpisodeView | None = None


def record(
    out: Path,
    checked: Checked,
    result: Build,
    taken: snapshot.Snapshot | None,
    stamp: snapshot.Stamp | None,
) -> None:
    """Stores beside the tree at out what a rebuild of it needs (see above); removes an
    earlier record when there is nothing to store. Never fails the build."""
    path = Path(out) / RECORD
    try:
        path.unlink(missing_ok=True)
    except OSError:
        return
    if stamp is None or taken is None or checked.site is None or not taken.folders:
        return
    head = {"version": VERSION, "stamp": stamp.key, "context": taken.context}
    bundles: dict[str, list[str]] = {}
    shows: dict[str, dict[str, Any]] = {}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    # written an episode at a time: the build's peak of memory is near (some 100,000 objects)
    seal = hashlib.blake2b(digest_size=16)
    with paused_gc(), contextlib.suppress(OSError):
        try:
            with open(tmp, "wb") as file:

                def write(text: str) -> None:
                    data = text.encode("utf-8", "surrogatepass")
                    seal.update(data)
                    file.write(data)

                write(_dumps(head)[:-1] + ',"folders":' + _dumps(taken.folders))
                write(',"episodes":{')
                for n, (folder, facts) in enumerate(_facts(checked, result, bundles, shows)):
                    write(("," if n else "") + _dumps(folder) + ":" + _dumps(facts))
                write('},"shows":' + _dumps(shows) + ',"bundles":' + _dumps(bundles) + "}")
                file.write(b"\n" + seal.hexdigest().encode("ascii") + b"\n")
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)


def _dumps(data: object) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def _facts(
    checked: Checked,
    result: Build,
    bundles: dict[str, list[str]],
    shows: dict[str, dict[str, Any]],
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yields the facts of each episode a rebuild can take, by folder, filling in the
    bundles' pages and the shows' facts."""
    from fo_cast.render import search
    from fo_cast.render.cache import Stored

    site = checked.site
    assert site is not None
    root = checked.catalogue.root
    # an episode with a problem anywhere in its folder is left to a whole build
    troubled = _named(checked.report)
    placed = _places(result.items)  # the feeds that carry each episode, as the render says
    # where the companion sits in each episode page: noted with the page (pages.py)
    notes = {
        o.path: o.content.note
        for o in result.outputs
        if isinstance(o.content, Stored) and o.path.endswith("/index.html")
    }
    for show in site.shows:
        shows[show.path] = _show_facts(show)
        for view in show.episodes:
            name = search.bundle_name(show, view.published.year)
            page = view.path + "index.html"
            bundles.setdefault(name, []).append(page)
            entry = view.entry
            companion = entry.episode.companion
            folder = _relative(root, entry.folder)
            span = notes.get(page, "").split(" ")[1:]
            if (
                folder is None
                or not companion
                or "/" in companion
                or str(entry.manifest.parent) in troubled
                or not span
                or len(span) != 2
            ):
                continue
            # the companion's line in the snapshot (it is a regular file, as it was then:
            # a rebuild checks that it gives the folder's digest back)
            line = snapshot.file_line(root, f"{folder}/{companion}")
            if line is None:
                continue
            feeds = placed.get(str(entry.manifest), {})
            yield (
                folder,
                {
                    "companion": companion,
                    "line": line,
                    "show": show.path,
                    "page": [page, int(span[0]), int(span[1])],
                    "feeds": feeds,
                    "bundle": name,
                    "shape": _shape(view),
                },
            )


def _named(report: Report) -> set[str]:
    """Returns every file a problem names and every folder above it."""
    named: set[str] = set()
    for problem in report.problems:
        named.add(str(problem.file))
        named.update(str(parent) for parent in problem.file.parents)
    return named


def _places(items: list[FeedItem]) -> dict[str, dict[str, list[Any]]]:
    """Returns, by episode manifest, each feed that carries the episode: [its place among the
    feed's items, the item's GUID]."""
    count: dict[str, int] = {}
    places: dict[str, dict[str, list[Any]]] = {}
    for item in items:
        n = count.get(item.feed, 0)
        places.setdefault(item.manifest, {}).setdefault(item.feed, [n, item.guid])
        count[item.feed] = n + 1
    return places


def _show_facts(show: ShowView) -> dict[str, Any]:
    return {
        "fingerprint": show.fingerprint.hex(),
        "video_feed_url": show.video_feed_url,
        "video_only": show.video_only,
    }


def _shape(view: EpisodeView) -> str:
    """Returns a digest of what the companion makes of the episode besides its HTML."""
    from fo_cast.catalogue.companions import references
    from fo_cast.render.site import fingerprint_of

    relative = [r.url for r in references(view.entry.companion or "") if r.relative]
    assets = [(a.url, a.path, a.type, str(a.source)) for a in view.assets]
    return fingerprint_of(
        repr(relative), repr(sorted(view.links.items())), repr(assets), repr(view.og_image)
    ).hex()


def _relative(root: Path, folder: Path) -> str | None:
    """Returns folder relative to root, as the snapshot names it; None when not below it."""
    relative = os.path.relpath(folder, root)
    if relative == "." or relative == ".." or relative.startswith("../"):
        return None
    return relative.replace(os.sep, "/")


def _only_companion(
    root: Path, folder: str, companion: str, line: str, now: str, before: str
) -> str | None:
    """Returns the companion's line now when it is all that changed in the folder (listed
    again, the folder gives the digest the snapshot took, now; with the companion's line as
    it was recorded, the digest it had, before), else None. The companion must be one
    regular file."""
    found = snapshot.folder_lines(str(root), folder)
    if found is None:
        return None
    lines = found[0]
    if snapshot.lines_digest(lines) != now:
        return None
    prefix = f"{companion}\0"
    mine = [n for n, text in enumerate(lines) if text.startswith(prefix)]
    if len(mine) != 1 or not snapshot.is_regular_line(lines[mine[0]]):
        return None
    current, lines[mine[0]] = lines[mine[0]], line
    return current if snapshot.lines_digest(lines) == before else None


def rebuild(
    root: Path,
    out: Path,
    taken: snapshot.Snapshot | None,
    stamp: snapshot.Stamp | None,
    now: datetime,
    base_url: str | None,
    strict: bool,
    check: Callable[..., Checked],
) -> Rebuilt | None:
    """Returns what rebuilding the tree at out after companion edits did, or None when a
    whole build must run (see above); nothing is written then. check is the pipeline's
    (build.check), given the edited episodes' folders as `only`."""
    if taken is None or stamp is None or not taken.settled or not taken.folders:
        return None
    facts = _read(Path(out) / RECORD)
    if facts is None or facts.get("stamp") != stamp.key or facts.get("context") != taken.context:
        return None
    edited = _edited(root, taken, stamp, facts)
    if not edited or not stamp.holds_at(now):
        return None
    return _rebuild(root, Path(out), taken, stamp, now, base_url, strict, facts, edited, check)


def _sealed(text: str) -> bytes:
    """Returns a record's bytes: its JSON, then a line with the digest of the JSON (a record
    damaged or edited by hand is refused, like a render cache entry whose CRC fails)."""
    data = text.encode("utf-8", "surrogatepass")
    return data + b"\n" + hashlib.blake2b(data, digest_size=16).hexdigest().encode() + b"\n"


def _read(path: Path) -> dict[str, Any] | None:
    try:
        body, _, seal = path.read_bytes().rstrip(b"\n").rpartition(b"\n")
        if hashlib.blake2b(body, digest_size=16).hexdigest().encode() != seal:
            return None
        data = load_json(body)
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("version") != VERSION:
        return None
    for name in ("folders", "shows", "episodes", "bundles"):
        if not isinstance(data.get(name), dict):
            return None
    return data


def _edited(
    root: Path, taken: snapshot.Snapshot, stamp: snapshot.Stamp, facts: dict[str, Any]
) -> list[_Episode] | None:
    """Returns the recorded episodes whose companion alone changed since the record, or None
    when anything else changed (or too much)."""
    before: dict[str, str] = facts["folders"]
    if before.keys() != taken.folders.keys():
        return None
    changed = {f for f, digest in taken.folders.items() if before[f] != digest}
    recent = stamp.changed_recent(root)  # edited within a tick of the last build's snapshot
    if recent is None:
        return None
    recorded: dict[str, Any] = facts["episodes"]
    for name in recent:  # only a companion may have changed unseen by its stat
        folder = _parent(name)
        episode = recorded.get(folder)
        if not isinstance(episode, dict) or name != f"{folder}/{episode.get('companion')}":
            return None
        changed.add(folder)
    if not changed or len(changed) > MAX_EDITS:
        return None
    edited = []
    for folder in sorted(changed):
        episode = recorded.get(folder)
        if not isinstance(episode, dict):
            return None
        try:
            companion = f"{folder}/{episode['companion']}"
            now, then = taken.folders[folder], before[folder]
            line = _only_companion(root, folder, companion, str(episode["line"]), now, then)
            if line is None:
                return None
        except (KeyError, TypeError, OSError):
            return None
        edited.append(_Episode(folder, {**episode, "line": line}))  # recorded if rebuilt
    return edited


def _parent(name: str) -> str:
    return str(PurePosixPath(name).parent) if "/" in name else ""


def _rebuild(
    root: Path,
    out: Path,
    taken: snapshot.Snapshot,
    stamp: snapshot.Stamp,
    now: datetime,
    base_url: str | None,
    strict: bool,
    facts: dict[str, Any],
    edited: list[_Episode],
    check: Callable[..., Checked],
) -> Rebuilt | None:
    from fo_cast.tree import recorded_marks, update_files

    marks = recorded_marks(out)  # what each file of the tree holds (its SHA-256), as written
    extra = stamp.extra
    feeds, files = extra.get("feeds"), extra.get("files")
    if not isinstance(feeds, int) or not isinstance(files, int) or files != len(marks):
        return None
    folders = [e.folder for e in edited]
    # the episodes their companions link to are read too: the links resolve as in a whole build
    linked = [f for e in edited for f in _linked(root, e, taken.folders) if f not in folders]
    checked = check(root, now=now, base_url=base_url, only=folders + sorted(set(linked)))
    site = checked.site
    if site is None or checked.report.errors:
        return None
    try:  # a record of another shape than record() writes is a whole build, never a crash
        if not _match(checked, site, facts, edited):
            return None
        made = _render(out, site, facts, edited, marks)
    except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError):
        return None
    if made is None:
        return None
    outputs, removed, sizes, added = made
    from fo_cast.render.lint import with_feed_sizes

    problems = with_feed_sizes(stamp.problems, site, sizes)
    if problems is None or Report(problems).failed(strict=strict):
        return None
    new = snapshot.Stamp(
        taken.key, taken.recent, stamp.outside, stamp.since, stamp.until, stamp.moment, problems
    )
    files += added - len(removed)
    new.extra = {"files": files, "feeds": feeds}
    try:
        update_files(out, outputs, removed, new)
    except (OSError, ValueError):
        return None  # put back as it was: a whole build writes it
    _save(out, facts, taken, new, edited)
    return Rebuilt(Report(problems), files, feeds)


def _linked(root: Path, episode: _Episode, folders: dict[str, str]) -> list[str]:
    """Returns the other episode folders (of the catalogue's folders) that the edited
    companion's relative links lead to, or into."""
    from fo_cast.catalogue.companions import references
    from fo_cast.catalogue.reader import read_file

    try:  # a regular file only: a pipe put in its place must not block the build
        raw = read_file(root / episode.folder / episode.facts["companion"])
        text = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError, TypeError):
        return []  # the check names it
    found = []
    for reference in references(text):
        if not reference.relative or not reference.target:
            continue
        path = os.path.normpath(os.path.join(episode.folder, reference.target))
        for candidate in (path, os.path.dirname(path)):
            if candidate.count("/") == 1 and candidate in folders:
                found.append(candidate)
    return found


def _match(checked: Checked, site: Site, facts: dict[str, Any], edited: list[_Episode]) -> bool:
    """Sets each edited episode's view; True when the episodes checked on their own have no
    problem and make the same show and companion facts as the whole build did."""
    from fo_cast.render import search

    named = _named(checked.report)  # a problem in an edited episode's folder, or below it
    if any(str(checked.catalogue.name / e.folder) in named for e in edited):
        return False
    views = {}
    for show in site.shows:
        recorded = facts["shows"].get(show.path)
        if not isinstance(recorded, dict):
            return False
        # what depends on the show's other episodes is as the whole build found it
        show.video_feed_url = recorded["video_feed_url"]
        show.video_only = bool(recorded["video_only"])
        show.__dict__.pop("fingerprint", None)
        if show.fingerprint.hex() != recorded["fingerprint"]:
            return False
        for view in show.episodes:
            folder = _relative(checked.catalogue.root, view.entry.folder)
            views[folder] = view
    for episode in edited:
        found = views.get(episode.folder)
        if found is None or episode.facts["show"] != found.show.path:
            return False
        if found.entry.episode.companion != episode.facts["companion"]:
            return False
        if _shape(found) != episode.facts["shape"]:
            return False
        if episode.facts["bundle"] != search.bundle_name(found.show, found.published.year):
            return False  # the bundle's name is made of the show's slug and a year, never else
        episode.view = found
    return True


def _tree_file(out: Path, path: str, marks: dict[str, str]) -> bytes:
    """Returns the bytes of the tree's file at path, as the build that the record belongs to
    wrote them (its SHA-256 is the tree record's): another build writing the same folder
    meanwhile, or a hand, is a ValueError (a whole build then)."""
    mark = marks.get(path)
    if mark is None:
        raise ValueError(f"{path} is not a file of the tree")
    data = (out / path).read_bytes()
    if hashlib.sha256(data).hexdigest() != mark:
        raise ValueError(f"{path} is not as the tree's record says")
    return data


def _render(
    out: Path, site: Site, facts: dict[str, Any], edited: list[_Episode], marks: dict[str, str]
) -> tuple[list[Output], list[str], dict[str, int], int] | None:
    """Returns the outputs that change, the tree's files that go, the RSS feeds' sizes, and
    how many of the outputs are new files. The search bundles are indexed on the side while
    the feeds' items are put in place."""
    from concurrent.futures import ThreadPoolExecutor

    from fo_cast.outputs import Output, Stage
    from fo_cast.render import feeds, pages
    from fo_cast.tree import is_intact

    outputs: list[Output] = []
    new_pages: dict[str, bytes] = {}
    replaced: dict[str, list[tuple[int, bytes, str]]] = {}  # feed -> (place, item, GUID)
    for episode in edited:
        view = episode.view
        assert view is not None
        path, offset, length = episode.facts["page"]
        if path != view.path + "index.html" or not _counts(offset, length):
            return None
        old = _tree_file(out, path, marks)
        if old[offset - len(pages.COMPANION_START) : offset] != pages.COMPANION_START:
            return None
        if offset + length > len(old):
            return None
        html = view.companion.page
        page = pages.replace_companion(old, (offset, length), html)
        new_pages[path] = page
        episode.facts["page"] = [path, offset, len(html.encode("utf-8"))]
        outputs.append(Output(path, pages.HTML, Stage.ASSET, data=page))
        for feed, (place, guid) in episode.facts["feeds"].items():
            item = feeds.feed_item(site, view.show, view, feed)
            if item is None or not isinstance(guid, str) or not feeds.carries(feed, item, guid):
                return None
            replaced.setdefault(feed, []).append((place, item, guid))
    with ThreadPoolExecutor(1) as pool:
        indexed = pool.submit(_bundles, out, facts, edited, new_pages, marks)
        spliced = _feeds(out, replaced, marks)
        intact = is_intact(out)  # what was read of the tree is as the last build wrote it
        bundles, removed, added = indexed.result()
    if spliced is None or not intact:
        return None
    return outputs + spliced[0] + bundles, removed, spliced[1], added


def _counts(*values: object) -> bool:
    """Returns whether the values are all whole numbers from 0 (True and False are not)."""
    return all(type(v) is int and v >= 0 for v in values)


def _feeds(
    out: Path, replaced: dict[str, list[tuple[int, bytes, str]]], marks: dict[str, str]
) -> tuple[list[Output], dict[str, int]] | None:
    """Returns the feeds with the new items in their places, and the RSS feeds' sizes."""
    from fo_cast.outputs import JSON_FILE, Output, Stage
    from fo_cast.render import feeds

    outputs, sizes = [], {}
    for feed, items in replaced.items():
        data = _tree_file(out, feed, marks)
        spans = feeds.item_spans(feed, data)
        if spans is None or not all(_counts(p) and p < len(spans) for p, _, _ in items):
            return None
        for place, item, guid in sorted(items, reverse=True):  # from the end: places hold
            start, end = spans[place]
            if not feeds.carries(feed, data[start:end], guid):
                return None
            data = data[:start] + item + data[end:]
        kind = feeds.JSON_FEED_TYPE if feed.endswith(JSON_FILE) else feeds.RSS_TYPE
        if kind == feeds.RSS_TYPE:
            sizes[feed] = len(data)
        outputs.append(Output(feed, kind, Stage.FEED, data=data))
    return outputs, sizes


def _bundles(
    out: Path,
    facts: dict[str, Any],
    edited: list[_Episode],
    new_pages: dict[str, bytes],
    marks: dict[str, str],
) -> tuple[list[Output], list[str], int]:
    """Returns the search bundles of the edited pages indexed again, the tree's files of the
    old bundles that go, and how many of the new files the tree did not hold."""
    from fo_cast.render import search

    outputs: list[Output] = []
    removed: list[str] = []
    added = 0
    tree = list(marks)
    languages = {e.facts["bundle"]: e.view.show.show.language for e in edited if e.view}
    for name, language in sorted(languages.items()):
        paths = facts["bundles"][name]
        mine = [e.facts["page"][0] for e in edited if e.facts["bundle"] == name]
        if len(set(paths)) != len(paths) or not all(
            isinstance(p, str) and p.endswith("/index.html") for p in paths
        ):
            raise ValueError(f"the record's bundle {name} is not a list of episode pages")
        if not set(mine) <= set(paths):
            raise ValueError(f"the record's bundle {name} lacks an edited page")
        read = [(p, new_pages[p] if p in new_pages else _tree_file(out, p, marks)) for p in paths]
        bundle = search.index_bundle(name, language, read)
        fresh = {o.path for o in bundle}
        outputs.extend(bundle)
        before = {p for p in tree if p.startswith(f"{search.SEARCH}{name}/")}
        removed += sorted(before - fresh)
        added += len(fresh - before)
    return outputs, removed, added


def _save(
    out: Path,
    facts: dict[str, Any],
    taken: snapshot.Snapshot,
    stamp: snapshot.Stamp,
    edited: list[_Episode],
) -> None:
    facts["stamp"] = stamp.key
    facts["folders"] = taken.folders
    for episode in edited:
        facts["episodes"][episode.folder] = episode.facts
    try:
        atomic_write(out / RECORD, _sealed(_dumps(facts)))
    except OSError:
        with contextlib.suppress(OSError):  # a stale record would be refused: its stamp
            os.unlink(out / RECORD)
