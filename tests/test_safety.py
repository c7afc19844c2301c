"""What fo-cast never does: delete or write what it did not write, serve what lies outside
the folder, or answer any input with a traceback."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fo_cast.cli import app
from tests.hostile_files import CACHES, HOSTILE

NOW = "2025-01-01T00:00:00+00:00"
EPISODE = "talks/2024-08-04-middle-east-part-1"
runner = CliRunner()


def invoke(*args: str | Path):
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def snapshot(folder: Path, skip_caches: bool = False) -> dict[str, bytes | str]:
    """Returns every entry under folder: file bytes, symlink targets, folders as "/".

    With skip_caches, not the catalogue's own caches (which every run may rewrite)."""
    found: dict[str, bytes | str] = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        if Path(dirpath) == folder and skip_caches:
            dirnames[:] = [d for d in dirnames if d != ".fo-cast"]
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            rel = path.relative_to(folder).as_posix()
            if path.is_symlink():
                found[rel] = "-> " + os.readlink(path)
            elif path.is_dir():
                found[rel] = "/"
            else:
                found[rel] = path.read_bytes()
    return found


# --- publish deletes only what it published ------------------------------------------------


ADOPT = (
    "refused: the target holds {n} fo-cast did not publish (such as '{first}'); publish with "
    "--adopt to publish beside them (fo-cast never deletes them, and replaces those at paths "
    "the build writes), or choose an empty target"
)


@pytest.mark.parametrize(
    ("files", "n", "first"),
    [
        ({"holiday.jpg": b"jpeg"}, "1 file", "holiday.jpg"),
        ({"index.html": b"<p>my own site</p>", "a/b/c.txt": b"deep"}, "2 files", "a/b/c.txt"),
        ({"talks/feed.xml": b"<rss>another tool's feed</rss>"}, "1 file", "talks/feed.xml"),
    ],
)
def test_prune_into_a_foreign_folder_deletes_nothing(
    sample: Path, tmp_path: Path, files: dict[str, bytes], n: str, first: str
) -> None:
    target = tmp_path / "Documents"
    for name, data in files.items():
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        (target / name).write_bytes(data)
    before = snapshot(target)
    for extra in ([], ["--dry-run"], ["--max-deletes", "1000"]):
        result = invoke("publish", sample, "--to", target, "--prune", "--now", NOW, *extra)
        assert result.exit_code == 3, result.stderr
        assert ADOPT.format(n=n, first=first) in result.stderr.splitlines()
        # nothing of theirs touched (the publish lock may leave fo-cast's own .fo-cast/)
        assert snapshot(target, skip_caches=True) == before

    result = invoke("publish", sample, "--to", target, "--prune", "--adopt", "--now", NOW)
    assert result.exit_code == 0, result.stderr
    assert (target / "talks" / "feed.xml").read_bytes().startswith(b"<?xml")
    for name, data in files.items():  # kept, unless the build writes that path
        if name != "talks/feed.xml" and name != "index.html":
            assert (target / name).read_bytes() == data
    # Later publishes need no --adopt and still delete none of the owner's files.
    (target / "later.txt").write_text("added after the first publish")
    result = invoke("publish", sample, "--to", target, "--prune", "--now", NOW)
    assert result.exit_code == 0, result.stderr
    assert (target / "later.txt").is_file()
    assert "0 deleted" in result.stdout


def test_prune_deletes_what_it_published_once_gone_from_the_build(
    sample: Path, tmp_path: Path
) -> None:
    target = tmp_path / "public"
    assert invoke("publish", sample, "--to", target, "--now", NOW).exit_code == 0
    (target / "mine.txt").write_text("the owner's")
    (target / "talks" / "notes.txt").write_text("the owner's too")
    slug = EPISODE.split("/")[1]
    assert (target / "talks" / slug / "transcript.vtt").is_file()
    (sample / EPISODE / "transcript.vtt").unlink()
    edit(sample / EPISODE / "episode.yaml", "transcript: transcript.vtt\n", "")
    result = invoke("publish", sample, "--to", target, "--prune", "--now", NOW)
    assert result.exit_code == 0, result.stderr
    assert not (target / "talks" / slug / "transcript.vtt").exists()
    assert (target / "mine.txt").read_text() == "the owner's"
    assert (target / "talks" / "notes.txt").read_text() == "the owner's too"


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


# --- build and publish never write or delete through a symlink ------------------------------


def _symlink_into(tree: Path, catalogue: Path, how: str) -> None:
    """Points a part of a built or published tree at the catalogue, as a user might."""
    slug = EPISODE.split("/")[1]
    if how == "episode folder":
        shutil.rmtree(tree / "talks" / slug)
        (tree / "talks" / slug).symlink_to(catalogue / EPISODE, target_is_directory=True)
    elif how == "show folder":
        shutil.rmtree(tree / "talks")
        (tree / "talks").symlink_to(catalogue / "talks", target_is_directory=True)
    elif how == "file":
        (tree / "talks" / slug / "transcript.vtt").unlink()
        (tree / "talks" / slug / "transcript.vtt").symlink_to(catalogue / EPISODE / "episode.yaml")
    elif how == "record folder":
        shutil.rmtree(tree / ".fo-cast", ignore_errors=True)
        (tree / ".fo-cast").symlink_to(catalogue / EPISODE, target_is_directory=True)
    else:
        raise AssertionError(how)


HOWS = ["episode folder", "show folder", "file", "record folder"]


@pytest.mark.parametrize("how", HOWS)
def test_rebuild_never_writes_through_a_symlink(sample: Path, tmp_path: Path, how: str) -> None:
    out = tmp_path / "feeds"
    assert invoke("build", sample, "--out", out, "--now", NOW).exit_code == 0
    fresh = snapshot(out)
    _symlink_into(out, sample, how)
    edit(sample / EPISODE / "companion.md", "", "A changed first line.\n\n")  # a real rebuild
    catalogue = snapshot(sample, skip_caches=True)
    for _ in range(2):
        result = invoke("build", sample, "--out", out, "--now", NOW)
        assert result.exit_code == 0, result.stderr
        assert snapshot(sample, skip_caches=True) == catalogue
    rebuilt = snapshot(out)
    assert not any(isinstance(v, str) and v.startswith("-> ") for v in rebuilt.values())
    # the search index names its fragments by content: the edited episode's bundle renames
    assert _outside_search(rebuilt) == _outside_search(fresh)


def _outside_search(tree: dict[str, object]) -> set[str]:
    return {path for path in tree if not path.startswith("search/")}


@pytest.mark.parametrize("how", HOWS)
def test_publish_never_writes_or_deletes_through_a_symlink(
    sample: Path, tmp_path: Path, how: str
) -> None:
    target = tmp_path / "public"
    assert invoke("publish", sample, "--to", target, "--now", NOW).exit_code == 0
    _symlink_into(target, sample, how)
    edit(sample / EPISODE / "companion.md", "", "A changed first line.\n\n")
    catalogue = snapshot(sample, skip_caches=True)
    result = _run("publish", sample, "--to", target, "--prune", "--now", NOW)
    assert snapshot(sample, skip_caches=True) == catalogue
    assert "Traceback" not in result.stderr
    if how == "file":  # the link itself is replaced by the published file
        assert result.returncode == 0, result.stderr
        assert not (target / "talks" / EPISODE.split("/")[1] / "transcript.vtt").is_symlink()
        return
    # fo-cast's own records behind the link: not even read (exit 4, the target is unusable)
    assert result.returncode == (4 if how == "record folder" else 3), result.stderr
    if how == "record folder":
        assert "its folder is a symlink leading out of the target" in result.stderr
    else:  # refused by the plan, before anything is sent (and nothing is pruned)
        assert "at the target is a file or a symlink where the build needs a folder" in (
            result.stderr
        )
        assert "Nothing was published." in result.stderr


# --- base_url: valid absolute URLs only -------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "encoded"),
    [
        ("https://podcasts.fairobserver.com/", "https://podcasts.fairobserver.com/"),
        ("https://bücher.example/für/", "https://xn--bcher-kva.example/f%C3%BCr/"),
        (
            "https://例え.テスト/ポッド",
            "https://xn--r8jz45g.xn--zckzah/%E3%83%9D%E3%83%83%E3%83%89",
        ),
        ("https://straße.de/", "https://xn--strae-oqa.de/"),  # IDNA 2008, not 2003's strasse
        ("https://Podcasts.Example.com/Show/", "https://Podcasts.Example.com/Show/"),  # as typed
        ("http://127.0.0.1:8000/", "http://127.0.0.1:8000/"),
        ("http://[::1]:8000/preview/", "http://[::1]:8000/preview/"),
        ("https://cdn.example/a%20b/%C3%A9/", "https://cdn.example/a%20b/%C3%A9/"),
        ("https://cdn.example/é%C3%A9/", "https://cdn.example/%C3%A9%C3%A9/"),
        ("https://cdn.example", "https://cdn.example"),
        ("https://a_b.example/", "https://a_b.example/"),
        ("https://cdn.example/~me/;v=1/", "https://cdn.example/~me/;v=1/"),
    ],
)
def test_base_url_is_encoded_where_it_can_be(given: str, encoded: str) -> None:
    from fo_cast.rules import check_base_url

    assert check_base_url(given) == encoded
    assert check_base_url(encoded) == encoded  # encoding twice changes nothing


@pytest.mark.parametrize(
    ("given", "says"),
    [
        ('https://x.example/a"b/', "contains a double quote, which a URL cannot carry"),
        ("https://x.example/<script>/", "contains '<', which a URL cannot carry"),
        ("https://x.example/a>/", "contains '>', which a URL cannot carry"),
        ("https://x.example/a b/", "contains a space; a URL cannot (write a space as %20)"),
        ("https://x.example/a\tb/", "contains the character U+0009; a URL cannot"),
        ("https://x.example/\u00a0/", "contains the character U+00A0; a URL cannot"),
        (" https://x.example/", "contains a space"),
        ("https://x.example\\feeds\\", "contains a backslash, which a URL cannot carry"),
        ("https://x.example/a|b/", "contains '|', which a URL cannot carry"),
        ("https://x.example/{x}/", "contains '{', which a URL cannot carry"),
        ("https://x.example/`/", "contains a backtick, which a URL cannot carry"),
        (
            "https://x.example/%zz/",
            "has '%zz', which is no percent-escape; write a percent sign as %25",
        ),
        ("https://x.example/100%/", "has '%/', which is no percent-escape"),
        ("https://x.example/a/%2", "has '%2', which is no percent-escape"),
        ("https://x.example/a/../b/", "has '/./' or '/../' in its path"),
        ("https://x.example/a/./b/", "has '/./' or '/../' in its path"),
        ("https://x.example/a/%2E%2e/b/", "has '/./' or '/../' in its path"),
        ("https://x.example/..", "has '/./' or '/../' in its path"),
        ("https://x.example//feeds/", "has '//' in its path; remove the empty folder name"),
        ("https://x.example/a//b/", "has '//' in its path"),
        ("https://user@x.example/", "a user or password would be in every public feed"),
        ("https://u:p@x.example/", "a user or password would be in every public feed"),
        ("https://x.example/?a=1", "has a query or fragment; paths are added after it"),
        ("https://x.example/#top", "has a query or fragment"),
        ("https://x.example/?", "has a query or fragment"),
        ("https://x.example:0/", "has a port that does not exist"),
        ("https://x.example:65536/", "has a port that does not exist"),
        ("https://x.example:8o/", "has a port that does not exist"),
        ("https://[zz]/", "has a host that is not an IP address"),
        ("https://a..b/", "has a host that is not a domain name"),
        ("https://-a.example/", "has a host that is not a domain name"),
        ("https://*.example/", "has a host that is not a domain name"),
        ("https://xn--a-\u00e9.example/", "has a host that is not a domain name"),
        ("https:///path/", "is not an absolute http(s) URL"),
        ("ftp://x.example/", "is not an absolute http(s) URL"),
        ("x.example/feeds/", "is not an absolute http(s) URL"),
        ("javascript:alert(1)", "is not an absolute http(s) URL"),
    ],
)
def test_base_url_that_no_encoding_makes_valid_is_refused(given: str, says: str) -> None:
    from fo_cast.rules import check_base_url

    with pytest.raises(ValueError) as error:
        check_base_url(given)
    assert says in str(error.value)
    assert str(error.value).startswith((f"'{given}' ", "a user or password"))


def test_base_url_from_settings_and_option_is_encoded_in_every_feed(
    sample: Path, tmp_path: Path
) -> None:
    edit(
        sample / "fo-cast.toml",
        'base_url = "https://podcasts.fairobserver.com/"',
        'base_url = "https://bücher.example/für"',
    )
    out = tmp_path / "out"
    assert invoke("build", sample, "--out", out, "--now", NOW).exit_code == 0
    feed = (out / "talks" / "feed.xml").read_text(encoding="utf-8")
    assert "https://xn--bcher-kva.example/f%C3%BCr/talks/feed.xml" in feed
    assert "bücher" not in feed and "für" not in feed
    result = invoke(
        "build", sample, "--out", out, "--base-url", "https://例え.テスト/", "--now", NOW
    )
    assert result.exit_code == 0, result.stderr
    assert (
        "https://xn--r8jz45g.xn--zckzah/talks/feed.xml" in (out / "talks" / "feed.xml").read_text()
    )


@pytest.mark.parametrize(
    "bad", ['https://x.example/"/', "https://x.example/%zz/", "https://x.example//"]
)
def test_bad_base_url_in_settings_is_a_problem_at_fo_cast_toml(sample: Path, bad: str) -> None:
    edit(
        sample / "fo-cast.toml",
        'base_url = "https://podcasts.fairobserver.com/"',
        f"base_url = '{bad}'",
    )
    result = invoke("validate", sample)
    assert result.exit_code == 1
    assert f"episodes/fo-cast.toml: base_url: '{bad}' " in result.stderr
    for command in ("build", "publish"):
        result = invoke(command, sample, "--now", NOW, "--base-url", bad)
        assert result.exit_code == 2
        assert "Traceback" not in result.stderr


# --- no input ends in a traceback -------------------------------------------------------------


def _hostile_copy(tmp_path: Path, plant) -> Path:
    catalogue = tmp_path / "episodes"
    shutil.copytree(
        Path(__file__).parent.parent / "episodes",
        catalogue,
        ignore=shutil.ignore_patterns(".fo-cast", ".schema"),
    )
    plant(catalogue)
    return catalogue


def _run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """Runs the real entry point, as a user would, with Python's default recursion limit."""
    return subprocess.run(
        [sys.executable, "-m", "fo_cast", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_input_is_a_problem_at_its_file_never_a_traceback(
    tmp_path: Path, case: str
) -> None:
    plant, where = HOSTILE[case]
    catalogue = _hostile_copy(tmp_path, plant)
    out = tmp_path / "feeds"
    for args in (["validate", catalogue], ["build", catalogue, "--out", out, "--now", NOW]):
        result = _run(*args)
        assert result.returncode == 1, (case, args[0], result.stderr[-2000:])
        assert "Traceback" not in result.stderr and "Error:" not in result.stderr
        lines = result.stderr.splitlines()
        assert any(line.startswith(f"episodes/{where}:") for line in lines), lines
        assert "1 error in 1 file." in lines, lines
        assert lines[-1] == "1 error in 1 file." or lines[-1].startswith("Nothing was written")
        assert all(len(line) < 400 for line in lines)  # plain messages, no dumps
    assert not out.exists()


@pytest.mark.parametrize("case", sorted(CACHES))
def test_hostile_caches_are_ignored(tmp_path: Path, case: str) -> None:
    catalogue = _hostile_copy(tmp_path, CACHES[case])
    out = tmp_path / "feeds"
    for args in (
        ["validate", catalogue],
        ["build", catalogue, "--out", out, "--now", NOW],
        ["publish", catalogue, "--to", tmp_path / "public", "--now", NOW],
    ):
        result = _run(*args)
        assert result.returncode == 0, (case, args[0], result.stderr[-2000:])
        assert "Traceback" not in result.stderr
    assert (out / "talks" / "feed.xml").is_file()


DEEP_JSON = "[" * 100_000 + "]" * 100_000


@pytest.mark.parametrize("record", ["tree", "index", "published"])
def test_hostile_records_in_the_output_or_target(sample: Path, tmp_path: Path, record: str) -> None:
    out, target = tmp_path / "feeds", tmp_path / "public"
    assert invoke("build", sample, "--out", out, "--now", NOW).exit_code == 0
    assert invoke("publish", sample, "--to", target, "--now", NOW).exit_code == 0
    path = {
        "tree": out / ".fo-cast" / "tree.json",
        "index": target / ".fo-cast" / "index.json",
        "published": target / ".fo-cast" / "published.json",
    }[record]
    path.write_text(DEEP_JSON)
    built = invoke("build", sample, "--out", out, "--now", NOW)
    assert built.exit_code == 0, built.stderr  # a lost tree record: the tree is written anew
    published = _run("publish", sample, "--to", target, "--prune", "--now", NOW)
    assert "Traceback" not in published.stderr
    if record == "published":  # never guessed past: the GUID promises live in it
        assert published.returncode == 4
        assert published.stderr == (
            "fo-cast: .fo-cast/published.json at the target is damaged (nested more than 64 "
            "levels deep); restore it from a backup\n"
        )
    else:  # a lost index costs a rehash; the GUID record still says the target is fo-cast's
        assert published.returncode == 0, published.stderr
        assert "0 deleted" in published.stdout


@pytest.mark.parametrize("depth", [1, 10, 64, 65, 1000, 100_000])
def test_load_json_and_toml_bound_depth(depth: int) -> None:
    from fo_cast.limits import TooDeep, depth_of, load_json, load_toml

    text = "[" * depth + "]" * depth
    if depth <= 100:
        assert depth_of(json.loads(text), limit=depth) == depth
        assert depth_of({"a": [1, {"b": "x"}]}) == 3 and depth_of("x") == 0
    if depth <= 64:
        assert load_json(text, limit=64) is not None
        toml = "[" * (depth - 1) + "1" + "]" * (depth - 1)  # the document is a table too
        assert load_toml(f"x = {toml}") is not None
    else:
        with pytest.raises(TooDeep, match="nested more than 64 levels deep"):
            load_json(text, limit=64)
        with pytest.raises(TooDeep, match="nested more than 64 levels deep"):
            load_toml(f"x = {text}")
        if depth >= 100_000:  # past the decoder's recursion: TooDeep, a ValueError, anyway
            with pytest.raises(ValueError, match="nested more than 64 levels deep"):
                load_json(text)


@pytest.mark.parametrize(
    ("text", "deep"),
    [
        ("[" + ",".join(["[]"] * 200) + "]", False),  # opens 201 times, nests 2 deep
        (json.dumps(["[" * 100, {"x": "{" * 100}]), False),  # brackets inside strings
        ("[" + ",".join(["[]"] * 10) + "," + "[" * 70 + "]" * 70 + "]", True),  # one deep branch
        (json.dumps({"a": [{"b": "["}] * 40, "z": json.loads("[" * 65 + "]" * 65)}), True),
    ],
)
def test_load_json_counts_the_depth_of_wide_documents(text: str, deep: bool) -> None:
    from fo_cast.limits import TooDeep, load_json

    if deep:
        with pytest.raises(TooDeep, match="nested more than 64 levels deep"):
            load_json(text, limit=64)
        with pytest.raises(TooDeep):
            load_json(text.encode(), limit=64)
    else:
        assert load_json(text, limit=64) == json.loads(text)
        assert load_json(text.encode(), limit=64) == json.loads(text)


# --- every text counts toward the feed size; directories' per-field limits are lint ---------

EP_YAML = f"{EPISODE}/episode.yaml"
BIG_TEXT = "A" * 5_000_000  # one field past the 4 MB feed limit on its own


@pytest.mark.parametrize(
    ("rel", "old", "new"),
    [
        (EP_YAML, "title: America’s New", f"title: {BIG_TEXT} America’s New"),
        (EP_YAML, "summary: In the first", f"summary: {BIG_TEXT} In the first"),
        (EP_YAML, "  - name: Daniel Harlow", f"  - name: Daniel Harlow {BIG_TEXT}"),
        (EP_YAML, "  - name: Tomás Rivera", f"  - name: Tomás Rivera {BIG_TEXT}"),
        (EP_YAML, "topics: [United States,", f"topics: [{BIG_TEXT}, United States,"),
        (EP_YAML, "  name: America’s New", f"  name: {BIG_TEXT} America’s New"),
        (EP_YAML, "    title: Introduction", f"    title: Introduction {BIG_TEXT}"),
        (f"{EPISODE}/companion.md", "", BIG_TEXT + "\n\n"),
        ("talks/show.yaml", 'copyright: "©', f'copyright: "{BIG_TEXT} ©'),
        ("talks/show.yaml", "author: Fair Observer", f"author: Fair Observer {BIG_TEXT}"),
        ("talks/show.yaml", "  - name: Atul Singh", f"  - name: Atul Singh {BIG_TEXT}"),
        # appended to every item's companion: 9 items make 0.9 MB a 8 MB feed
        ("talks/show.yaml", 'disclaimer: "The', f'disclaimer: "{"D" * 900_000} The'),
    ],
    ids=lambda v: v[:20] if isinstance(v, str) else v,
)
def test_validate_estimates_the_feed_size_from_every_text(
    sample: Path, rel: str, old: str, new: str
) -> None:
    edit(sample / rel, old, new)
    result = invoke("validate", sample)
    lines = result.stderr.splitlines()
    estimate = [line for line in lines if "talks/feed.xml is about" in line]
    assert estimate and estimate[0].startswith(
        "episodes/talks/show.yaml: warning: talks/feed.xml is about "
    )
    assert estimate[0].endswith(
        " MB, past the 4 MB of [feeds] max_size_mb; directories stop reading long feeds "
        "(Apple Podcasts)"
    )
    size = float(estimate[0].split(" is about ")[1].split(" MB")[0])
    assert 4.5 < size < 50  # hosts repeat in every item: 5 MB of them make 35 MB


def test_a_20_mb_title_is_lint_and_build_weighs_the_feed_once(sample: Path, tmp_path: Path) -> None:
    title = "T" * 20_000_000
    edit(
        sample / EP_YAML,
        "title: America’s New Fast-Changing Role in the Middle East, Part 1",
        f"title: {title}",
    )
    result = invoke("validate", sample)
    assert result.exit_code == 0  # warnings; --strict fails on them
    assert (
        f"episodes/{EP_YAML}:3: warning: title: is 20000000 characters; Apple Podcasts takes 255 "
        "and cuts the rest (Apple Podcasts)"
    ) in result.stderr.splitlines()
    assert "talks/feed.xml is about 20.0" in result.stderr
    assert invoke("validate", sample, "--strict").exit_code == 1
    built = invoke("build", sample, "--out", tmp_path / "out", "--now", NOW)
    assert built.exit_code == 0
    sizes = [line for line in built.stderr.splitlines() if "talks/feed.xml is" in line]
    assert len(sizes) == 1 and "talks/feed.xml is 20.0" in sizes[0]  # weighed, not estimated


@pytest.mark.parametrize(
    ("rel", "old", "field", "line"),
    [
        ("talks/show.yaml", "title: FO° Talks", "title", 2),
        ("talks/show.yaml", "author: Fair Observer", "author", 5),
        ("talks/show.yaml", "  name: Fair Observer", "owner.name", 7),
        ("talks/show.yaml", 'copyright: "© 2024 Fair Observer"', "copyright", 16),
        (EP_YAML, "title: America’s New Fast-Changing Role in the Middle East, Part 1", "title", 3),
    ],
)
@pytest.mark.parametrize("length", [255, 256, 4000])
def test_apple_cuts_tag_values_past_255_characters(
    sample: Path, rel: str, old: str, field: str, line: int, length: int
) -> None:
    key, _, value = old.partition(": ")
    text = "é" * length  # characters, not bytes
    edit(sample / rel, old, f'{key}: "{text}"')
    result = invoke("validate", sample)
    warning = (
        f"episodes/{rel}:{line}: warning: {field}: is {length} characters; Apple Podcasts takes "
        "255 and cuts the rest (Apple Podcasts)"
    )
    assert (warning in result.stderr.splitlines()) is (length > 255), result.stderr


@pytest.mark.parametrize(
    ("text", "line"),
    [
        (">" * 65 + " x", 1),
        (">" * 64 + " x", None),
        ("intro\n\n" + "> " * 70 + "x", 3),
        ("".join("  " * n + "- x\n" for n in range(300)), 130),
        ("- " * 3000 + "x", 1),
        ("1. " * 100 + "x", 1),
        ("<div>" * 65, 1),
        ("<div>x</div>\n" * 1000, None),  # closed again: never deep
        ("<br>" * 1000 + "<img src=x/>" * 100, None),  # void and self-closing elements
        ("a > b, c < d; " * 200, None),  # prose with comparisons
        ("- a\n" * 1000 + "> b\n" * 1000, None),
        ("x\n" + " " * 200 + "indented code", None),
    ],
    ids=lambda v: v[:12] if isinstance(v, str) else str(v),
)
def test_markdown_nesting_is_bounded(text: str, line: int | None) -> None:
    from fo_cast.limits import markdown_too_deep

    assert markdown_too_deep(text) == line


def test_episode_text_bytes_counts_what_the_generic_walk_counts(sample: Path) -> None:
    from datetime import UTC, datetime

    import fo_cast
    from fo_cast.catalogue.models import Episode
    from fo_cast.render.lint import _text_bytes, episode_text_bytes

    checked = fo_cast.check(sample, now=datetime(2026, 1, 1, tzinfo=UTC))
    assert checked.site is not None
    episodes = [e.episode for show in checked.site.shows for e in show.episodes]
    full = Episode.model_validate(
        {
            "guid": "g-é", "title": "t", "slug": "s", "status": "draft", "summary": "sü",
            "companion": "c.md", "image": "i.png", "transcript": "t.vtt",
            "media": [{"url": "https://x.example/a.mp3", "length": 1, "type": "audio/mpeg",
                       "duration": "1:00"}, {"file": "a.mp3"}],
            "people": [{"name": "n", "role": "guest", "href": "https://x.example/",
                        "img": "https://x.example/i.png"}],
            "credits": [{"name": "c", "contribution": "wrote it"}], "topics": ["a", "ß"],
            "chapters": [{"start": 0, "title": "x", "url": "https://x.example/c"}],
            "series": {"name": "s", "part": 1},
        }
    )  # fmt: skip
    for model in [*episodes, full]:
        assert episode_text_bytes(model) == _text_bytes(model) > 0


@pytest.mark.parametrize(
    ("notes", "markdown"),
    [
        ("<div>" * 3000 + "x <b>y</b>" + "</div>" * 3000, "x y\n"),
        ("<ul><li>" * 3000 + "deep", "deep\n"),
        ("<blockquote>" * 5000 + "q", "q\n"),
        ("<p>Hello <em>world</em></p>", "Hello *world*\n"),  # ordinary notes: Markdown still
    ],
    ids=["divs", "lists", "quotes", "plain"],
)
def test_imported_show_notes_nested_thousands_deep_become_plain_text(
    notes: str, markdown: str
) -> None:
    from fo_cast.catalogue.feedmap import companion_markdown

    assert companion_markdown(notes) == markdown


def test_the_readers_symlink_check_resolves_paths_as_the_kernel_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reader resolves a folder once for all its files; '..' after a symlink is the
    link target's parent (the kernel's reading), not the folder holding the link."""
    from fo_cast.catalogue import reader

    (tmp_path / "cat" / "show" / "ep").mkdir(parents=True)
    (tmp_path / "cat" / "show" / "ep" / "companion.md").write_text("x", encoding="utf-8")
    (tmp_path / "outside" / "deep").mkdir(parents=True)
    (tmp_path / "outside" / "secret.png").write_bytes(b"x")
    (tmp_path / "cat" / "show" / "ep" / "pics").symlink_to(tmp_path / "outside" / "deep")
    (tmp_path / "cat" / "show" / "ep" / "late.md").symlink_to(tmp_path / "outside" / "secret.png")
    monkeypatch.chdir(tmp_path)
    root = Path("cat")
    cases = {
        "cat/show/ep/companion.md": True,
        "cat/show/ep/companion.md ": True,  # a name with a space, the same folder resolved
        "cat/show/ep/late.md": False,  # a file symlinked out, in a folder already resolved
        "cat/show/ep/pics/../secret.png": False,  # /outside/secret.png
        "cat/show/ep/pics/../../cat/show/ep/companion.md": True,  # deep/../.. is tmp_path
        "cat/show/../show/ep/companion.md": True,
        str(tmp_path / "cat" / "show" / "ep" / "companion.md"): True,
    }
    reader._REAL_FOLDERS.clear()
    reader._REAL_TOPS.clear()
    for _ in range(2):  # resolving, then with every folder known
        for path, inside in cases.items():
            assert reader._realpath(path) == os.path.realpath(path), path
            assert reader.is_inside(root, Path(path)) is inside, path
    # the catalogue named from a folder beside it: '../' in front is the current folder's
    # parent (resolved already), read without the kernel's walk and then found at once
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    reader._REAL_FOLDERS.clear()
    reader._REAL_TOPS.clear()
    for _ in range(2):
        for path, inside in cases.items():
            beside = f"../{path}" if not path.startswith("/") else path
            assert reader._realpath(beside) == os.path.realpath(beside), beside
            assert reader.is_inside(Path("../cat"), Path(beside)) is inside, beside
    assert "../cat/show/ep" in reader._REAL_FOLDERS  # resolved once for every later file
