"""build() with the render cache, and write_tree(): a cached build is byte for byte a cold one,
an edit changes exactly the files that show it, a damaged cache only costs time, and the tree
is changed in place without ever being left half old, half new."""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import pickle
import shutil
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
import pytest

import fo_cast
from fo_cast import tree as tree_module
from fo_cast import workers
from fo_cast.build import build, build_tree
from fo_cast.errors import FoCastError
from fo_cast.outputs import Build, Output
from fo_cast.render import feeds
from fo_cast.render.cache import RenderCache, Stored, joined, key
from fo_cast.render.site import fingerprint_of
from fo_cast.tree import TREE_RECORD, write_tree

NOW = datetime(2025, 1, 1, tzinfo=UTC)
EPISODE = "exclusive/2024-07-23-russia-charm-offensive"
SEARCH_BUNDLE = "search/exclusive-2024/"  # the Pagefind bundle that indexes EPISODE


def build_of(root: Path, use_cache: bool = True, **options: Any) -> Build:
    checked = fo_cast.check(root, now=NOW)
    assert not checked.report.errors, [str(p) for p in checked.report.errors]
    return build(checked, use_cache=use_cache, **options)


def contents(result: Build) -> dict[str, bytes]:
    """Returns every output's bytes (media and artwork read from their source)."""
    return {
        o.path: o.data if o.data is not None else o.source.read_bytes()  # type: ignore[union-attr]
        for o in result.outputs
    }


def tree(out: Path) -> dict[str, bytes]:
    """Returns the files of a built tree (fo-cast's own record left out)."""
    return {
        p.relative_to(out).as_posix(): p.read_bytes()
        for p in out.rglob("*")
        if p.is_file() and ".fo-cast" not in p.relative_to(out).parts
    }


def inodes(out: Path) -> dict[str, tuple[int, int]]:
    return {
        p.relative_to(out).as_posix(): (p.stat().st_ino, p.stat().st_mtime_ns)
        for p in out.rglob("*")
        if p.is_file()
    }


def edit_companion(root: Path, episode: str = EPISODE) -> None:
    companion = root / episode / "companion.md"
    companion.write_text(
        companion.read_text(encoding="utf-8") + "\nOne more line.\n", encoding="utf-8"
    )


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Counts what is rendered: each template render and each feed item given to feedgen."""
    rendered: list[str] = []
    render, item = jinja2.Template.render, feeds._item

    def counting_render(self: jinja2.Template, *args: Any, **kwargs: Any) -> str:
        rendered.append(self.name or "")
        return render(self, *args, **kwargs)

    def counting_item(*args: Any, **kwargs: Any) -> Any:
        rendered.append("item")
        return item(*args, **kwargs)

    monkeypatch.setattr(jinja2.Template, "render", counting_render)
    monkeypatch.setattr(feeds, "_item", counting_item)
    monkeypatch.setattr(workers, "cores", lambda: 1)  # render here, where the counting is
    return rendered


# --- the render cache -----------------------------------------------------------------------


def test_a_cached_build_is_the_cold_build(sample: Path, counted: list[str]) -> None:
    cold = contents(build_of(sample, use_cache=False))
    assert not (sample / ".fo-cast" / "render").exists()  # use_cache=False leaves it alone
    first = contents(build_of(sample))
    counted.clear()
    again = contents(build_of(sample))  # a fresh cache object, read from disk as a new process
    assert counted == ["404.html"]  # nothing else was rendered
    assert first == cold and again == cold
    files = sorted(p.name.split("-")[0] for p in (sample / ".fo-cast" / "render").iterdir())
    assert files == ["feeds", "feeds.json", "pages", "pages.json", "search", "search.json"]
    for index in ("feeds.json", "pages.json", "search.json"):  # JSON and plain bytes
        json.loads((sample / ".fo-cast" / "render" / index).read_bytes())


def test_one_changed_companion_changes_its_page_and_feeds(sample: Path, counted: list[str]) -> None:
    before = contents(build_of(sample))
    edit_companion(sample)
    counted.clear()
    after = contents(build_of(sample))
    assert counted.count("item") == 2  # its item in the audio feed and in the video feed
    assert counted.count("episode.html") == 1
    assert after == contents(build_of(sample, use_cache=False))
    changed = {path for path in after if before.get(path) != after[path]}
    # the search bundle of the episode's show and year is indexed again, and no other one
    bundle = {path for path in changed if path.startswith(SEARCH_BUNDLE)}
    assert f"{SEARCH_BUNDLE}pagefind-entry.json" in bundle
    assert changed - bundle == {
        f"{EPISODE}/index.html",
        "exclusive/feed.xml",
        "exclusive/video.xml",
        "exclusive/feed.json",
    }


def test_the_cache_keeps_only_what_the_build_used(sample: Path) -> None:
    build_of(sample)
    index = sample / ".fo-cast" / "render" / "pages.json"
    before = json.loads(index.read_bytes())["entries"]
    (sample / EPISODE / "episode.yaml").unlink()
    (sample / EPISODE / "companion.md").unlink()
    for file in (sample / EPISODE).iterdir():
        file.unlink()
    (sample / EPISODE).rmdir()
    result = build_of(sample)
    after = json.loads(index.read_bytes())["entries"]
    pages = [o for o in result.outputs if o.path.endswith(".html") and o.path != "404.html"]
    assert len(after) == len(pages) < len(before)


def test_a_pages_build_leaves_the_feeds_cache_alone(sample: Path) -> None:
    build_of(sample)
    index = sample / ".fo-cast" / "render" / "feeds.json"
    saved = index.read_bytes()
    build_of(sample, with_feeds=False)
    assert index.read_bytes() == saved


def _flip_a_byte(folder: Path) -> None:
    pack = next(folder.glob("pages-*.bin"))
    data = bytearray(pack.read_bytes())
    data[len(data) // 2] ^= 0x20
    pack.write_bytes(bytes(data))


def _truncate(folder: Path) -> None:
    pack = next(folder.glob("pages-*.bin"))
    pack.write_bytes(pack.read_bytes()[:1000])


def _garbage_index(folder: Path) -> None:
    (folder / "pages.json").write_text("{not json", encoding="utf-8")


def _index_of_another_shape(folder: Path) -> None:
    (folder / "pages.json").write_text("[1, 2, 3]", encoding="utf-8")


def _other_code(folder: Path) -> None:
    index = json.loads((folder / "pages.json").read_bytes())
    index["code"] = "0" * 64
    (folder / "pages.json").write_text(json.dumps(index), encoding="utf-8")


def _entries_swapped(folder: Path) -> None:
    """Every key now names another page's bytes: the CRC must catch it."""
    index = json.loads((folder / "pages.json").read_bytes())
    keys = list(index["entries"])
    values = [index["entries"][k] for k in keys]
    index["entries"] = dict(zip(keys, values[1:] + values[:1], strict=True))
    (folder / "pages.json").write_text(json.dumps(index), encoding="utf-8")


def _entries_out_of_bounds(folder: Path) -> None:
    index = json.loads((folder / "pages.json").read_bytes())
    index["entries"] = {k: [v[0] + 10**9, v[1], v[2]] for k, v in index["entries"].items()}
    (folder / "pages.json").write_text(json.dumps(index), encoding="utf-8")


def _missing_pack(folder: Path) -> None:
    next(folder.glob("pages-*.bin")).unlink()


def _pack_elsewhere(folder: Path) -> None:
    index = json.loads((folder / "pages.json").read_bytes())
    index["pack"] = "../../episode.yaml"
    (folder / "pages.json").write_text(json.dumps(index), encoding="utf-8")


@pytest.mark.parametrize(
    "damage",
    [
        _flip_a_byte,
        _truncate,
        _garbage_index,
        _index_of_another_shape,
        _other_code,
        _entries_swapped,
        _entries_out_of_bounds,
        _missing_pack,
        _pack_elsewhere,
    ],
)
def test_a_stale_or_damaged_cache_only_costs_time(sample: Path, damage: Any) -> None:
    cold = contents(build_of(sample, use_cache=False))
    build_of(sample)
    damage(sample / ".fo-cast" / "render")
    assert contents(build_of(sample)) == cold
    assert contents(build_of(sample)) == cold  # and the cache it saved is sound again


def test_an_unwritable_cache_folder_only_costs_time(sample: Path) -> None:
    (sample / ".fo-cast").mkdir(exist_ok=True)
    (sample / ".fo-cast" / "render").write_text("a file where the folder should be")
    assert contents(build_of(sample)) == contents(build_of(sample, use_cache=False))


# --- write_tree -----------------------------------------------------------------------------


def test_a_rebuild_touches_only_the_files_that_changed(sample: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_tree(build_of(sample), out)
    assert (out / TREE_RECORD).is_file()
    before = inodes(out)
    write_tree(build_of(sample), out)
    assert inodes(out) == before  # nothing changed: nothing written, not even the record

    edit_companion(sample)
    result = build_of(sample)
    write_tree(result, out)
    after = inodes(out)
    moved = {path for path in after if after[path] != before.get(path)}
    bundle = {path for path in moved if path.startswith(SEARCH_BUNDLE)}
    assert f"{SEARCH_BUNDLE}pagefind-entry.json" in bundle
    assert moved - bundle == {
        f"{EPISODE}/index.html",
        "exclusive/feed.xml",
        "exclusive/video.xml",
        "exclusive/feed.json",
        TREE_RECORD,
    }
    fresh = tmp_path / "fresh"
    write_tree(result, fresh)
    assert tree(out) == tree(fresh) == contents(result)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left


def test_removed_episodes_leave_the_tree(sample: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out).mkdir()
    (out / "README.md").write_text("What this folder is.\n", encoding="utf-8")
    write_tree(build_of(sample), out)
    manifest = sample / EPISODE / "episode.yaml"
    manifest.write_text(
        manifest.read_text(encoding="utf-8").replace("status: published", "status: draft"),
        encoding="utf-8",
    )
    result = build_of(sample)
    write_tree(result, out)
    assert not (out / EPISODE).exists()  # its page, media and folder
    assert tree(out) == contents(result) | {"README.md": b"What this folder is.\n"}


def test_a_file_changed_in_the_tree_is_written_again(sample: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = build_of(sample)
    write_tree(result, out)
    page = out / EPISODE / "index.html"
    page.write_bytes(page.read_bytes().replace(b"<html", b"<html data-edited"))
    (out / "exclusive" / "feed.xml").unlink()
    write_tree(result, out)
    assert tree(out) == contents(result)


def test_a_damaged_record_means_a_whole_write(sample: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = build_of(sample)
    write_tree(result, out)
    (out / "stray.txt").write_text("not from the build", encoding="utf-8")
    (out / TREE_RECORD).write_text("{broken", encoding="utf-8")
    write_tree(result, out)
    assert tree(out) == contents(result)  # written anew: the stray file is gone too


@pytest.mark.parametrize("fail_at", [1, 3, 6])
def test_an_interrupted_update_leaves_the_previous_tree(
    sample: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fail_at: int
) -> None:
    out = tmp_path / "out"
    write_tree(build_of(sample), out)
    before, files = inodes(out), tree(out)
    edit_companion(sample)
    (sample / "exclusive" / "show.yaml").write_text(
        (sample / "exclusive" / "show.yaml").read_text(encoding="utf-8") + "\n",
        encoding="utf-8",
    )  # the same show: nothing but the one companion changes
    result = build_of(sample)
    replace = os.replace
    calls = []

    def interrupted(src: Any, dst: Any) -> None:
        calls.append(dst)
        if len(calls) == fail_at:
            raise KeyboardInterrupt
        replace(src, dst)

    monkeypatch.setattr(tree_module.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_tree(result, out)
    monkeypatch.undo()
    assert inodes(out) == before and tree(out) == files
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    write_tree(result, out)
    assert tree(out) == contents(result)


def test_a_whole_write_failing_on_one_writer_leaves_nothing_behind(
    sample: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    result = build_of(sample)
    real_open = os.open
    opened = []
    lock = threading.Lock()

    def full_disk(path: Any, flags: int, mode: int = 0o777, **where: Any) -> int:
        with lock:
            opened.append(path)
            if len(opened) == 7:
                raise OSError(28, "No space left on device")
        return real_open(path, flags, mode, **where)

    monkeypatch.setattr(tree_module.os, "open", full_disk)
    with pytest.raises(OSError, match="No space left"):
        write_tree(result, out)
    monkeypatch.undo()
    assert len(opened) >= 7
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # nothing aside
    write_tree(result, out)
    assert tree(out) == contents(result)


def test_a_failed_update_falls_back_to_a_whole_write(
    sample: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    write_tree(build_of(sample), out)
    edit_companion(sample)
    result = build_of(sample)
    replace = os.replace
    failed = []

    def failing_once(src: Any, dst: Any) -> None:
        if not failed:
            failed.append(dst)
            raise OSError("disk hiccup")
        replace(src, dst)

    monkeypatch.setattr(tree_module.os, "replace", failing_once)
    write_tree(result, out)
    assert failed and tree(out) == contents(result)


def test_new_files_are_written_with_the_usual_permissions(sample: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_tree(build_of(sample), out)
    mode = (out / "exclusive" / "feed.xml").stat().st_mode & 0o777
    assert mode == 0o666 & ~_umask()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# --- the cache files ------------------------------------------------------------------------


def test_render_cache_appends_then_compacts(tmp_path: Path) -> None:
    folder = tmp_path / "render"
    cache = RenderCache(folder, "part")
    for n in range(4):
        cache.put(f"k{n}", bytes([n]) * 400_000)
    cache.save()
    (pack,) = folder.glob("part-*.bin")
    assert pack.stat().st_size == 1_600_000

    cache = RenderCache(folder, "part")  # one entry changes: appended to the same pack
    assert [cache.get(f"k{n}") == bytes([n]) * 400_000 for n in range(3)] == [True] * 3
    cache.put("k4", b"new")
    cache.save()
    assert list(folder.glob("part-*.bin")) == [pack] and pack.stat().st_size == 1_600_003

    cache = RenderCache(folder, "part")
    assert cache.get("k4") == b"new" and cache.get("k3") is None
    kept = cache.find("k4")  # what a build's output holds: the place of the bytes
    cache.save()
    assert list(folder.glob("part-*.bin")) == [pack]

    cache = RenderCache(folder, "part")  # opens a pack mostly unused: rewritten, the old deleted
    (new_pack,) = folder.glob("part-*.bin")
    assert new_pack != pack and new_pack.read_bytes() == b"new"
    assert cache.get("k4") == b"new" and RenderCache(folder, "part").get("k4") == b"new"
    assert isinstance(kept, Stored) and kept.read() == b"new"  # still readable, though removed
    assert kept.sha256 == hashlib.sha256(b"new").hexdigest()


def test_what_a_cache_on_disk_renders_stays_out_of_memory(tmp_path: Path) -> None:
    cache = RenderCache(tmp_path / "render", "part")
    kept = cache.fetch_body("a", lambda: b"rendered")
    assert isinstance(kept, Stored) and kept.read() == b"rendered"  # in the pack already
    assert cache.fetch_body("a", lambda: b"again").read() == b"rendered"  # type: ignore[union-attr]
    feed = joined([b"<head>", kept, cache.put("b", b"<item>"), b"</end>"])
    assert feed.read() == b"<head>rendered<item></end>"  # type: ignore[union-attr]
    assert feed.sha256 == hashlib.sha256(b"<head>rendered<item></end>").hexdigest()  # type: ignore[union-attr]
    assert len(feed.parts) == 3  # type: ignore[union-attr]  # neighbours in the pack: one read
    moved = pickle.loads(pickle.dumps(kept))  # from a worker process to the parent
    assert moved.read() == b"rendered" and moved.pack is kept.pack


@pytest.mark.parametrize("copy", ["kernel", "refused", "absent"])
def test_kept_bytes_are_written_into_a_file_as_they_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, copy: str
) -> None:
    """The tree copies kept bytes from the pack into each file (copy_file_range); where the
    kernel refuses (another file system, an older kernel) or has no such call, it reads and
    writes them: the file holds the same bytes either way."""
    cache = RenderCache(tmp_path / "render", "part")
    page = cache.put("page", b"<html>" + bytes(range(256)) * 300 + b"</html>")
    feed = joined([b"<head>", cache.put("item", b"<item/>"), b"</end>"])
    if copy == "refused":

        def refusing(*args: Any, **kwargs: Any) -> int:
            raise OSError(18, "Invalid cross-device link")

        monkeypatch.setattr(os, "copy_file_range", refusing)
    elif copy == "absent":
        monkeypatch.delattr(os, "copy_file_range", raising=False)
    for name, body in (("page", page), ("feed", feed)):
        assert not isinstance(body, bytes)
        target = tmp_path / name
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            body.write_into(fd)
        finally:
            os.close(fd)
        assert target.read_bytes() == body.read()
    assert (tmp_path / "feed").read_bytes() == b"<head><item/></end>"


def test_a_pack_cut_short_stops_the_write(tmp_path: Path) -> None:
    cache = RenderCache(tmp_path / "render", "part")
    kept = cache.put("page", b"x" * 10_000)
    assert isinstance(kept, Stored)
    os.truncate(kept.pack.path, 5_000)  # another build, a full disk: the pack is shorter now
    fd = os.open(tmp_path / "page", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with pytest.raises(FoCastError, match="cut short"):
            kept.write_into(fd)
    finally:
        os.close(fd)


def test_render_cache_without_a_folder_stays_in_memory(tmp_path: Path) -> None:
    cache = RenderCache()
    assert cache.fetch("a", lambda: b"1") == b"1"
    assert cache.fetch("a", lambda: b"2") == b"1"
    cache.prune()
    cache.fetch("b", lambda: b"3")
    cache.prune()  # "a" was not used by the latest render
    assert cache.get("a") is None and cache.get("b") == b"3"
    cache.save()
    assert (cache.hits, cache.misses) == (2, 3)
    assert list(tmp_path.iterdir()) == []


def test_cache_keys_are_made_of_fingerprints() -> None:
    one, two = b"1" * 16, b"2" * 16
    assert key("x", one, two) != key("x", two, one) != key("y", one, two)
    with pytest.raises(ValueError):
        key("x", b"short")
    # fingerprints of text: no text can pass for other text split differently
    assert fingerprint_of("ab", "c") != fingerprint_of("a", "bc")
    assert fingerprint_of("a\x00b", "") != fingerprint_of("a", "b")
    assert fingerprint_of("1:a") != fingerprint_of("", "a")


def test_every_rendering_module_is_in_the_code_version() -> None:
    """What the renderers use from fo-cast is hashed into code_version(), or is data."""
    import fo_cast.render.cache as rendercache

    # modules that shape no output: data types, reading, probing and the collector pause
    data_only = {
        "fo_cast.catalogue.reader",
        "fo_cast.catalogue.checks",
        "fo_cast.catalogue.yaml12",
        "fo_cast.media.probe",
        "fo_cast.outputs",
        "fo_cast.problems",
        "fo_cast.errors",
        "fo_cast.gcpause",
        "fo_cast.state",
        "fo_cast.workers",  # where the work runs, not what it makes
    }
    seen: set[str] = set()
    todo = ["fo_cast.render.site", "fo_cast.render.feeds", "fo_cast.render.pages"]
    todo.append("fo_cast.render.companion")
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        module = importlib.import_module(name)
        for value in vars(module).values():
            used = getattr(value, "__module__", None) or getattr(value, "__name__", "")
            if isinstance(used, str) and used.startswith("fo_cast.") and used not in data_only:
                todo.append(used)
    listed = {
        "fo_cast." + name.removesuffix(".py").replace("/", ".")
        for name in rendercache.RENDER_INPUTS
    }
    assert {"fo_cast.render.feedgen_ext", "fo_cast.rules", "fo_cast.catalogue.models"} <= seen
    assert {name for name in seen if not name.startswith("fo_cast.render.")} <= listed


def test_write_tree_refuses_the_catalogue_and_what_holds_it(sample: Path) -> None:
    """The library keeps the guard the CLI has: a build never replaces its own catalogue."""
    from fo_cast.errors import FoCastError

    result = build(fo_cast.check(sample, now=NOW))
    before = sorted(p.relative_to(sample) for p in sample.rglob("*"))
    for out in (sample, sample.parent, sample / "talks"):
        with pytest.raises(FoCastError, match="catalogue; build replaces that folder whole"):
            write_tree(result, out, catalogue=sample)
    assert sorted(p.relative_to(sample) for p in sample.rglob("*")) == before
    stranger = sample.parent / "documents"
    stranger.mkdir()
    (stranger / "thesis.odt").write_bytes(b"months of work")
    with pytest.raises(FoCastError, match="holds files fo-cast did not build"):
        write_tree(result, stranger, catalogue=sample)
    assert (stranger / "thesis.odt").read_bytes() == b"months of work"


# --- the whole pipeline into a tree: what is kept out of memory, and what a build leaves ----


def test_pages_and_feeds_are_kept_in_the_cache_not_in_the_build(sample: Path) -> None:
    result = build_of(sample)
    kept = [
        o
        for o in result.outputs
        if o.path.endswith(("index.html", "feed.xml", "video.xml", "feed.json", "chapters.json"))
    ]
    assert len(kept) > 20
    for output in kept:  # a place in a pack, its digest known without reading it
        assert not isinstance(output.content, bytes), output.path
        assert output.sha256 == hashlib.sha256(output.data or b"").hexdigest()
        assert output.length == len(output.data or b"")
    assert contents(result) == contents(build_of(sample, use_cache=False))


def test_a_tree_update_reads_only_the_outputs_that_changed(
    sample: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    write_tree(build_of(sample), out)
    edit_companion(sample)
    result = build_of(sample)
    read: list[str] = []
    data = Output.data

    def counting(output: Output) -> bytes | None:
        if not isinstance(output.content, bytes):  # read back from the render cache
            read.append(output.path)
        return data.__get__(output)

    put = tree_module._put

    def copying(output: Output, target: str, mark: str) -> str:
        if output.content is not None and not isinstance(output.content, bytes):
            read.append(output.path)  # copied from the render cache into the tree
        return put(output, target, mark)

    monkeypatch.setattr(Output, "data", property(counting))
    monkeypatch.setattr(tree_module, "_put", copying)
    write_tree(result, out)
    monkeypatch.undo()
    bundle = {path for path in read if path.startswith(SEARCH_BUNDLE)}
    assert f"{SEARCH_BUNDLE}pagefind-entry.json" in bundle
    assert set(read) - bundle == {
        f"{EPISODE}/index.html",
        "exclusive/feed.xml",
        "exclusive/video.xml",
        "exclusive/feed.json",
    }  # the others' digests matched the tree's record: neither read back nor hashed
    assert tree(out) == contents(result)


def test_a_rebuild_after_one_change_is_the_cold_build_of_the_tree(
    sample: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    build_tree(sample, out, now=NOW)
    edit_companion(sample)
    built = build_tree(sample, out, now=NOW)
    assert not built.reused and built.files == len(tree(out))
    shutil.rmtree(sample / ".fo-cast")  # no render cache, no probe cache: everything anew
    cold = tmp_path / "cold"
    build_tree(sample, cold, now=NOW)
    assert tree(out) == tree(cold)  # byte for byte, feeds from the worker included


def test_a_failed_strict_build_leaves_the_tree_as_it_was(sample: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    build_tree(sample, out, now=NOW)
    files, identity = tree(out), inodes(out)
    edit_companion(sample)  # a change, so the build renders (into the cache) again
    settings = sample / "fo-cast.toml"
    settings.write_text(
        settings.read_text(encoding="utf-8") + "\n[feeds]\nmax_size_mb = 0.02\n", encoding="utf-8"
    )  # every feed is past it: a warning, which --strict fails on
    built = build_tree(sample, out, now=NOW, strict=True)
    assert built.report.failed(strict=True) and built.files == 0
    assert any("max_size_mb" in p.message for p in built.report.problems)
    assert tree(out) == files and inodes(out) == identity  # not one file written or moved
    assert sorted(p.name for p in tmp_path.iterdir()) == ["episodes", "out"]  # nothing aside
    built = build_tree(sample, out, now=NOW)  # without --strict: built, as a cold build would
    shutil.rmtree(sample / ".fo-cast")
    build_tree(sample, tmp_path / "cold", now=NOW)
    assert tree(out) == tree(tmp_path / "cold") != files


@pytest.mark.parametrize("command_line", [True, False])
def test_the_command_line_freezes_what_a_paused_block_leaves(command_line: bool) -> None:
    """A command (short-lived) keeps the objects a stage left alive out of every later
    collection; a library user's process (long-lived) keeps them collectable."""
    import subprocess

    script = (
        "import gc\n"
        "from fo_cast import gcpause\n"
        f"if {command_line}:\n"
        "    gcpause.for_one_command()\n"
        "with gcpause.paused_gc():\n"
        "    kept = [[n] for n in range(10000)]\n"
        "print(gc.isenabled(), gc.get_freeze_count() >= 10000)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert done.stdout == f"True {command_line}\n"


def test_outputs_and_feed_items_cross_from_a_worker_whole() -> None:
    """Output and FeedItem pickle by their fields (the feed worker sends 20,000 of each): every
    field comes back, so a field added later cannot be dropped on the way."""
    import dataclasses

    from fo_cast.outputs import FeedItem, Stage

    page = Output("show/ep/index.html", "text/html", Stage.ASSET, b"<p>", redirect="/new/")
    media = Output("show/ep/a.mp3", "audio/mpeg", Stage.MEDIA, source=Path("/m/a.mp3"), size=9)
    item = FeedItem("show/feed.xml", "guid-1", "https://x/a.mp3", "T", "e/s/ep/episode.yaml", "p")
    for original in (page, media, item):
        fields = [f.name for f in dataclasses.fields(original)]  # type: ignore[arg-type]
        assert len(original.__reduce__()[1]) == len(fields)
        moved = pickle.loads(pickle.dumps(original))
        assert [getattr(moved, n) for n in fields] == [getattr(original, n) for n in fields]
