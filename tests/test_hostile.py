"""Hostile input for every command: odd file names, odd targets, odd options, odd catalogues.

A traceback is never the answer: each case ends in a one-line message and an exit code, or in
output that real consumers read back. The last part of this file holds failing tests for
defects in modules other sessions own (marked FOR THE LEAD / FOR FEEDS+PAGES), left failing on
purpose until those modules are fixed.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlsplit

import podcastparser
import pytest

from fo_cast.errors import ConfigError, FoCastError
from fo_cast.publish.plan import save_hash_cache
from fo_cast.publish.verify import verify
from fo_cast.serve import serve
from fo_cast.storage import storage_for
from tests.helpers import edit, invoke
from tests.helpers import run_fo_cast as fo_cast

NOW = "2025-01-01T00:00:00+00:00"
EPISODE = "talks/2024-08-04-middle-east-part-1"  # audio, video, transcript and chapters
AUDIO = "aud io #1?50%é.mp3"
VIDEO = "vid eo&<'\".mp4"
TRANSCRIPT = "trans #cript%.vtt"


def files_under(folder: Path) -> dict[str, bytes]:
    """Returns every file under folder by relative path, except fo-cast's own caches."""
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in folder.rglob("*")
        if p.is_file() and ".fo-cast" not in p.parts
    }


def hostile_names(catalogue: Path) -> Path:
    """Renames one episode's media and transcript to names with space, #, ?, %, quotes, é."""
    folder = catalogue / EPISODE
    (folder / "audio.mp3").rename(folder / AUDIO)
    (folder / "video.mp4").rename(folder / VIDEO)
    (folder / "transcript.vtt").rename(folder / TRANSCRIPT)
    manifest = folder / "episode.yaml"
    edit(manifest, "  - file: audio.mp3", '  - file: "aud io #1?50%é.mp3"')
    edit(manifest, "  - file: video.mp4", "  - file: 'vid eo&<''\".mp4'")
    edit(manifest, "transcript: transcript.vtt", 'transcript: "trans #cript%.vtt"')
    return catalogue


# --- the console script: one line and an exit code, never a traceback -----------------------


def test_console_script_prints_fo_cast_errors_as_one_line(sample: Path) -> None:
    result = fo_cast("publish", sample, "--to", "ftp://example/x", "--now", NOW)
    assert result.returncode == 4
    assert result.stderr == (
        "fo-cast: ftp://example/x: unsupported target; "
        "use s3://bucket/prefix or file:///path/to/folder\n"
    )


def test_console_script_prints_os_errors_as_one_line(sample: Path, tmp_path: Path) -> None:
    # /proc takes no new folders: the kernel refuses what the tree writes there (an --out
    # inside a file, the case this test used before, is now refused up front, exit 2)
    result = fo_cast("build", sample, "--out", "/proc/fo-cast-out", "--now", NOW)
    assert result.returncode == 4
    # the folder asked for, not the temporary one beside it
    assert result.stderr.startswith("fo-cast: /proc/fo-cast-out: cannot write beside it: ")
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("fo-cast: ")
    assert len(result.stderr.splitlines()) == 1


def test_traceback_option_shows_the_stack(sample: Path) -> None:
    result = fo_cast("--traceback", "publish", sample, "--to", "ftp://example/x", "--now", NOW)
    assert result.returncode != 0
    assert "Traceback" in result.stderr


def test_s3_endpoint_that_is_not_a_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as error:
        storage_for("s3://bucket/prefix", "notaurl")
    assert str(error.value) == (
        "the S3 endpoint must be an http:// or https:// URL, such as http://127.0.0.1:8333"
    )
    with pytest.raises(ConfigError) as error:
        storage_for("s3://bucket/prefix", "ftp://KEYID:sekrit@host")
    assert "sekrit" not in str(error.value)


@pytest.mark.parametrize("url", ["s3://KEYID:sekrit@bucket/p", "ftp://KEYID:sekrit@host/p"])
def test_credentials_in_a_target_url_are_refused_and_never_echoed(sample: Path, url: str) -> None:
    result = fo_cast("publish", sample, "--to", url, "--now", NOW)
    assert result.returncode == 4
    assert "sekrit" not in result.stderr + result.stdout
    assert result.stderr.endswith(
        "@bucket: a target URL carries no credentials; set AWS_ACCESS_KEY_ID and "
        "AWS_SECRET_ACCESS_KEY, or AWS_PROFILE\n"
        if url.startswith("s3")
        else "@host: a target URL carries no credentials; set AWS_ACCESS_KEY_ID and "
        "AWS_SECRET_ACCESS_KEY, or AWS_PROFILE\n"
    )


# --- build --out and publish --to never touch the catalogue or a stranger's folder --------


@pytest.mark.parametrize(
    ("out", "says"),
    [
        (".", "is the catalogue"),
        ("..", "holds the catalogue"),
        ("talks", "is inside the catalogue"),
        ("site", "is inside the catalogue"),
    ],
)
def test_build_refuses_out_that_overlaps_the_catalogue(sample: Path, out: str, says: str) -> None:
    before = files_under(sample.parent)
    target = sample / out
    result = invoke("build", sample, "--out", target, "--now", NOW)
    assert result.exit_code == 2
    assert result.stderr == f"fo-cast: --out {target} {says}; build replaces that folder whole\n"
    assert files_under(sample.parent) == before


def test_build_refuses_a_folder_it_did_not_build(sample: Path, tmp_path: Path) -> None:
    out = tmp_path / "documents"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    result = invoke("build", sample, "--out", out, "--now", NOW)
    assert result.exit_code == 2
    assert result.stderr == (
        f"fo-cast: --out {out} holds files fo-cast did not build (such as 'notes.txt') and "
        "build replaces the folder whole; choose a new or empty folder\n"
    )
    assert (out / "notes.txt").read_text() == "mine"


def test_build_replaces_its_own_tree_and_keeps_the_readme(sample: Path, tmp_path: Path) -> None:
    out = tmp_path / "feeds"
    out.mkdir()
    (out / "README.md").write_text("what this folder is\n")
    assert invoke("build", sample, "--out", out, "--now", NOW).exit_code == 0
    assert invoke("build", sample, "--out", out, "--now", NOW).exit_code == 0
    assert (out / "README.md").read_text() == "what this folder is\n"
    assert (out / "index.opml").is_file()


def test_build_refuses_out_that_is_a_file(sample: Path, tmp_path: Path) -> None:
    out = tmp_path / "feeds.txt"
    out.write_text("x")
    result = invoke("build", sample, "--out", out, "--now", NOW)
    assert result.exit_code == 2
    assert result.stderr == f"fo-cast: --out {out} is not a folder\n"


@pytest.mark.parametrize(("to", "says"), [(".", "is the catalogue"), ("..", "holds the catalogue")])
def test_publish_refuses_a_local_target_that_overlaps_the_catalogue(
    sample: Path, to: str, says: str
) -> None:
    before = files_under(sample.parent)
    target = (sample / to).resolve()
    result = invoke("publish", sample, "--to", sample / to, "--prune", "--now", NOW)
    assert result.exit_code == 2
    assert result.stderr == f"fo-cast: the target {target.as_uri()} {says}; publish elsewhere\n"
    assert files_under(sample.parent) == before


def test_publish_from_a_read_only_catalogue(sample: Path, tmp_path: Path) -> None:
    # The hash cache cannot be written (its folder is a file here, as good as read-only for
    # root); it only saves rehashing, so publishing goes on.
    shutil.rmtree(sample / ".fo-cast", ignore_errors=True)
    (sample / ".fo-cast").write_text("")
    result = invoke("publish", sample, "--to", tmp_path / "public", "--now", NOW)
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "public" / "talks" / "feed.xml").is_file()


def test_save_hash_cache_never_raises(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    save_hash_cache(tmp_path / "file" / "hashes.json", {"a": [1, 2, "h"]})
    assert not list(tmp_path.glob("file*.tmp"))


# --- other options ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("base_url", "says"),
    [
        ("https://x.example/?a=1#f", "has a query or fragment; paths are added after it"),
        ("https://x.example/#", "has a query or fragment; paths are added after it"),
        ("https://user:pw@x.example/", "a user or password would be in every public feed"),
        ("https://x.example:99999/", "has a port that does not exist"),
        ("ftp://x.example/", "is not an absolute http(s) URL"),
    ],
)
@pytest.mark.parametrize("command", ["build", "publish", "verify"])
def test_base_url_that_would_break_every_url_is_a_usage_error(
    sample: Path, tmp_path: Path, command: str, base_url: str, says: str
) -> None:
    # before: https://x.example/?a=1#f gave feeds at https://x.example/?a=1#f/talks/feed.xml
    out = tmp_path / "out"
    extra = ["--out", out] if command == "build" else ["--to", out] if command == "publish" else []
    result = invoke(command, sample, *extra, "--base-url", base_url, "--now", NOW)
    assert result.exit_code == 2
    assert says in " ".join(result.stderr.replace("│", " ").split())
    assert not out.exists()


@pytest.mark.parametrize("port", ["70000", "-1"])
def test_serve_port_out_of_range_is_a_usage_error(tmp_path: Path, port: str) -> None:
    result = invoke("serve", tmp_path, "--port", port)
    assert result.exit_code == 2


def test_serve_library_wraps_a_bad_port(tmp_path: Path) -> None:
    with pytest.raises(FoCastError, match="cannot listen on 127.0.0.1:70000"):
        serve(tmp_path, "127.0.0.1", 70000)


def test_serve_empty_host_is_a_usage_error(tmp_path: Path) -> None:
    result = invoke("serve", tmp_path, "--host", "")
    assert result.exit_code == 2
    assert result.stderr == (
        "fo-cast: --host needs an address: 127.0.0.1, or 0.0.0.0 for the network\n"
    )


def test_list_of_a_missing_catalogue_fails(tmp_path: Path) -> None:
    result = invoke("list", tmp_path / "nope")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        "nope: no such folder; give the folder that holds the shows\n1 error in 1 file.\n"
    )


def test_verify_of_a_broken_catalogue_says_nothing_was_checked(sample: Path) -> None:
    edit(sample / EPISODE / "episode.yaml", "status: published", "status: publishd")
    result = invoke("verify", sample, "--base-url", "http://127.0.0.1:9/", "--now", NOW)
    assert result.exit_code == 1
    assert result.stderr.endswith("Nothing was checked.\n")


@pytest.mark.parametrize(
    ("title", "message"),
    [
        ("", "the title is empty; give the episode or show a title"),
        ("   ", "the title is empty; give the episode or show a title"),
        ("Bell\x07", "the title contains the control character U+0007"),
    ],
)
def test_new_episode_refuses_a_title_the_manifest_would_reject(
    sample: Path, title: str, message: str
) -> None:
    before = files_under(sample)
    result = invoke("new", "episode", "--show", "talks", "--catalogue", sample, title)
    assert result.exit_code == 2
    assert result.stderr == f"fo-cast: {message}\n"
    assert files_under(sample) == before


def test_new_episode_title_reads_back_exactly(sample: Path) -> None:
    title = "Line\u2028separator, next\x85line, \ufeffBOM, “quotes” \\ and 😀 مرحبا"
    result = invoke("new", "episode", "--show", "talks", "--catalogue", sample, title)
    assert result.exit_code == 0, result.stderr
    listed = invoke("list", sample, "--status", "draft", "--format", "json")
    assert title in [row["title"] for row in json.loads(listed.stdout)]
    assert invoke("validate", sample).exit_code == 0


# --- hostile file names: URLs encoded once, keys equal to the files, served and verified ---


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """Yields a folder served by `fo-cast serve` and its base URL."""
    root = tmp_path / "site"
    root.mkdir()
    server = serve(root, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, server.url
    finally:
        server.shutdown()
        server.server_close()


def test_hostile_file_names_are_encoded_published_and_verified(
    sample: Path, served: tuple[Path, str]
) -> None:
    site, base_url = served
    catalogue = hostile_names(sample)
    assert invoke("validate", catalogue).exit_code == 0
    result = invoke(
        "publish", catalogue, "--to", site, "--base-url", base_url, "--now", NOW, "--prune"
    )
    assert result.exit_code == 0, result.stderr
    published = site / EPISODE
    assert {AUDIO, VIDEO, TRANSCRIPT} <= {p.name for p in published.iterdir()}

    with open(site / "talks" / "feed.xml", "rb") as feed:
        parsed = podcastparser.parse(base_url + "talks/feed.xml", feed)
    episode = next(e for e in parsed["episodes"] if EPISODE in e["link"])
    url = episode["enclosures"][0]["url"]
    assert url == base_url + EPISODE + "/aud%20io%20%231%3F50%25%C3%A9.mp3"
    assert episode["transcript_url"] == base_url + EPISODE + "/trans%20%23cript%25.vtt"
    # the URL names the file exactly: decoding it gives the published key
    assert unquote(urlsplit(url).path).lstrip("/") == f"{EPISODE}/{AUDIO}"

    page = (published / "index.html").read_text(encoding="utf-8")
    assert "aud%20io%20%231%3F50%25%C3%A9.mp3" in page
    assert "vid%20eo%26%3C%27%22.mp4" in page
    assert AUDIO not in page  # never a raw name in an attribute

    report = verify([base_url + "talks/feed.xml", base_url + "talks/video.xml"], timeout=5)
    assert report.failures == []
    host, port = urlsplit(base_url).hostname, urlsplit(base_url).port
    connection = http.client.HTTPConnection(str(host), port, timeout=5)
    connection.request("GET", urlsplit(url).path, headers={"Range": "bytes=0-1"})
    response = connection.getresponse()
    assert response.status == 206
    assert response.read() == (catalogue / EPISODE / AUDIO).read_bytes()[:2]


@pytest.mark.integration
def test_hostile_file_names_on_s3(sample: Path, s3_server, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    for name, value in s3_server.env.items():
        monkeypatch.setenv(name, value)
    prefix = "hostile-names"
    base_url = s3_server.public_url(prefix) + "/"
    catalogue = hostile_names(sample)
    target = f"s3://{s3_server.bucket}/{prefix}"
    common = ("--base-url", base_url, "--endpoint-url", s3_server.endpoint, "--now", NOW)
    result = invoke("publish", catalogue, "--to", target, *common)
    assert result.exit_code == 0, result.stderr
    head = s3_server.client().head_object(
        Bucket=s3_server.bucket, Key=f"{prefix}/{EPISODE}/{AUDIO}"
    )
    assert head["ContentType"] == "audio/mpeg"
    report = verify([base_url + "talks/feed.xml", base_url + "talks/video.xml"], timeout=5)
    assert report.failures == []
    again = invoke("publish", catalogue, "--to", target, *common, "--format", "json")
    assert json.loads(again.stdout)["uploaded"] == 0


# --- settings, manifests and numbers that once got through validation ---------------------


def test_settings_file_that_is_a_folder_is_an_error(sample: Path) -> None:
    # Was: fo-cast.toml/ is read as a show folder ("no show.yaml" warning) and the defaults
    # are used, so `build` publishes feeds whose every URL starts with http://127.0.0.1:8000/.
    (sample / "fo-cast.toml").unlink()
    (sample / "fo-cast.toml").mkdir()
    result = invoke("validate", sample)
    assert result.exit_code == 1
    assert "episodes/fo-cast.toml: not a file" in result.stderr


def test_a_pipe_in_the_catalogue_never_blocks_a_run(sample: Path) -> None:
    """A FIFO just made (so the snapshot would hash it) beside the media, as the media, and
    as a companion: each run ends, naming what is not a file (it hung, reading the pipe)."""
    folder = sample / EPISODE
    os.mkfifo(folder / "stray")
    (folder / "audio.mp3").unlink()
    os.mkfifo(folder / "audio.mp3")
    other = sample / "exclusive" / "2024-12-07-trump-won-again"
    (other / "companion.md").unlink()
    os.mkfifo(other / "companion.md")
    result = fo_cast("validate", sample)  # a hang fails on run_fo_cast's timeout
    assert result.returncode == 1, result.stderr
    assert (
        f"episodes/{EPISODE}/episode.yaml:8: media[0].file: not a regular file (a pipe, socket "
        "or device; fo-cast reads only files): 'audio.mp3'" in result.stderr
    )
    assert (
        "episodes/exclusive/2024-12-07-trump-won-again/episode.yaml:2: companion: 'companion.md' "
        "is not a regular file (a pipe, socket or device); write the companion in a file"
        in result.stderr
    )


@pytest.mark.parametrize(
    "manifest",
    ["fo-cast.toml", "talks/show.yaml", f"{EPISODE}/episode.yaml"],
)
def test_a_manifest_that_leads_outside_the_catalogue_is_never_read(
    sample: Path, tmp_path: Path, manifest: str
) -> None:
    outside = tmp_path / "outside"
    outside.write_text("{ [ neither YAML nor TOML", encoding="utf-8")  # read, it would say so
    (sample / manifest).unlink()
    (sample / manifest).symlink_to(outside)
    result = fo_cast("validate", sample)
    assert result.returncode == 1, result.stderr
    assert result.stderr.splitlines()[0] == (
        f"episodes/{manifest}: a symlink leading outside the catalogue; fo-cast reads only "
        "what is inside it: put the file itself here"
    )
    assert "TOML" not in result.stderr and "YAML" not in result.stderr


def test_schema_and_new_never_write_through_a_symlink_out(sample: Path, tmp_path: Path) -> None:
    outside = tmp_path / "theirs.json"
    outside.write_text("precious", encoding="utf-8")
    (sample / ".schema").mkdir(exist_ok=True)
    (sample / ".schema" / "show.schema.json").unlink(missing_ok=True)
    (sample / ".schema" / "show.schema.json").symlink_to(outside)
    assert fo_cast("schema", sample).returncode == 0
    assert outside.read_text(encoding="utf-8") == "precious"  # the link replaced, not followed
    assert not (sample / ".schema" / "show.schema.json").is_symlink()
    shutil.rmtree(sample / ".schema")
    (tmp_path / "elsewhere").mkdir()
    (sample / ".schema").symlink_to(tmp_path / "elsewhere")
    result = fo_cast("schema", sample)
    assert result.returncode != 0 and "leads outside the catalogue" in result.stderr
    assert list((tmp_path / "elsewhere").iterdir()) == []
    (sample / ".schema").unlink()
    shutil.move(sample / "live", tmp_path / "live")
    (sample / "live").symlink_to(tmp_path / "live")
    before = sorted(p.name for p in (tmp_path / "live").iterdir())
    result = fo_cast("new", "episode", "--show", "live", "--catalogue", sample, "Hi")
    assert result.returncode != 0, result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        f"fo-cast: {sample / 'live'}: a symlink on the way leads outside the catalogue (to "
        f"{tmp_path / 'live'}); fo-cast writes only inside it: remove the symlink or write "
        "there yourself"
    )
    assert sorted(p.name for p in (tmp_path / "live").iterdir()) == before
    os.mkfifo(tmp_path / "pipe.mp3")
    result = fo_cast(
        "new", "episode", "--show", "talks", "--catalogue", sample, "Hi",
        "--chapters-from", tmp_path / "pipe.mp3",
    )  # fmt: skip
    assert "not a file; name the media file" in result.stderr


@pytest.mark.parametrize("name", ["topics", "search", "assets"])
def test_a_show_named_like_the_sites_own_folder_is_an_error(
    sample: Path, tmp_path: Path, name: str
) -> None:
    """It failed only in build ("two outputs want the same path"), after a first publish had
    sent the media: validation names it, and publish sends nothing."""
    shutil.move(sample / "live", sample / name)
    result = fo_cast("validate", sample)
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == (
        f"episodes/{name}/show.yaml:2: slug: '{name}' is the name of the site's own folder "
        f"({name}/); give the show another slug (slug: in show.yaml) or rename its folder"
    )
    result = fo_cast("publish", sample, "--to", tmp_path / "public", "--now", NOW)
    assert result.returncode == 1 and not (tmp_path / "public").exists()


def test_a_symlink_in_the_target_is_someones_and_blocks_the_plan(
    sample: Path, tmp_path: Path
) -> None:
    """A first publish into a folder holding someone's symlink needs --adopt; with it, the
    plan that would write beneath the symlinked folder is refused before anything is sent
    (it sent the media, then failed on the pages)."""
    target, theirs = tmp_path / "public", tmp_path / "theirs"
    target.mkdir()
    theirs.mkdir()
    (target / "talks").symlink_to(theirs)
    result = fo_cast("publish", sample, "--to", target, "--now", NOW)
    assert result.returncode == 3
    assert "the target holds 1 file fo-cast did not publish (such as 'talks')" in result.stderr
    result = fo_cast("publish", sample, "--to", target, "--adopt", "--now", NOW)
    assert result.returncode == 3
    assert (
        "refused: 'talks' at the target is a file or a symlink where the build needs a folder "
        "(for 'talks/2024-08-04-middle-east-part-1/audio.mp3'); remove it, or publish to "
        "another target" in result.stderr
    )
    assert sorted(p.name for p in target.iterdir()) == [".fo-cast", "talks"]  # its lock
    assert list(theirs.iterdir()) == []


def test_an_empty_to_is_a_usage_error(sample: Path) -> None:
    # Was: publish to ./public, as if no --to were given (an unset variable in a CI script).
    result = fo_cast("publish", sample, "--to", "", "--now", NOW)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "fo-cast: --to is empty; give a target (s3://bucket/prefix or a folder)"
    )


def test_a_path_of_a_thousand_folders_is_a_problem_not_a_crash(sample: Path) -> None:
    manifest = sample / EPISODE / "episode.yaml"
    edit(manifest, "  - file: audio.mp3", "  - file: " + "a/" * 1000 + "x.mp3")
    result = fo_cast("validate", sample)
    assert result.returncode == 1, result.stderr
    assert "media[0].file: no such file 'a/a/a/" in result.stderr


def test_a_settings_file_with_a_byte_order_mark_is_read(sample: Path) -> None:
    settings = sample / "fo-cast.toml"
    settings.write_bytes(b"\xef\xbb\xbf" + settings.read_bytes())
    result = fo_cast("validate", sample)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("key", ["title", "publisher", "address"])
def test_settings_text_with_a_control_character(sample: Path, key: str) -> None:
    # Was: validate passes; [site] title makes `build` crash in lxml (ValueError: All strings
    # must be XML compatible), publisher/address reach every page's footer as raw U+0008.
    settings = sample / "fo-cast.toml"
    text = settings.read_text(encoding="utf-8")
    start = text.index(f"\n{key} = ") + len(f"\n{key} = ")
    settings.write_text(text[:start] + '"\\u0008' + text[start + 1 :], encoding="utf-8")
    result = invoke("validate", sample)
    assert result.exit_code == 1
    assert f"site.{key}: contains the control character U+0008" in result.stderr


def test_settings_base_url_with_a_query_is_an_error(sample: Path) -> None:
    # Was: config._base_url (rules.check_url) accepts it, and every URL in every feed and
    # page becomes https://x.example/?a=1/talks/feed.xml. `--base-url` refuses it (cli.py);
    # fo-cast.toml should too (also a user:password@, which would be in every public feed).
    edit(
        sample / "fo-cast.toml",
        'base_url = "https://podcasts.fairobserver.com/"',
        'base_url = "https://podcasts.fairobserver.com/?a=1"',
    )
    result = invoke("validate", sample)
    assert result.exit_code == 1
    assert "base_url: " in result.stderr


def test_episode_number_apple_cannot_store(sample: Path) -> None:
    # Was: `episode: 99999999999999999999999999` builds; Apple and JSON readers (53-bit
    # numbers) cannot hold it. Suggest a bound such as 1..2**31-1 on season and episode.
    edit(sample / EPISODE / "episode.yaml", "episode: 1", "episode: 99999999999999999999999999")
    result = invoke("validate", sample)
    assert result.exit_code == 1
    assert ":10: episode: must be 2147483647 or less" in result.stderr


def test_published_year_must_have_four_digits(sample: Path) -> None:
    # Was: year 1 is accepted and the feed says <pubDate>Mon, 01 Jan 1 00:00:00 +1400</pubDate>
    # (RFC 822 needs a 4-digit year; feedparser reads it as 2000-12-31).
    edit(
        sample / EPISODE / "episode.yaml",
        "published: 2024-08-04T15:00:00+00:00",
        "published: 0001-01-01T00:00:00+14:00",
    )
    result = invoke("validate", sample)
    assert result.exit_code == 1
    assert ":4: published: " in result.stderr


def test_episode_manifest_that_is_a_folder_is_an_error(sample: Path) -> None:
    # Was: a warning ("no episode.yaml"), and the published episode silently leaves its feed.
    (sample / EPISODE / "episode.yaml").unlink()
    (sample / EPISODE / "episode.yaml").mkdir()
    result = invoke("validate", sample)
    assert result.exit_code == 1


# --- build leftovers, templates and companions that once broke the HTML spec --------------


def test_build_clears_leftovers_of_an_interrupted_swap(sample: Path, tmp_path: Path) -> None:
    # Ctrl-C while `_swap` removes the old tree leaves `.feeds.old-<pid>` beside it (a new pid
    # each run); the next build removes it.
    out = tmp_path / "feeds"
    stale = tmp_path / ".feeds.old-12345"
    (stale / "talks").mkdir(parents=True)
    (stale / "talks" / "feed.xml").write_text("old")
    assert invoke("build", sample, "--out", out, "--now", NOW).exit_code == 0
    assert not stale.exists()


def test_aria_label_only_on_elements_with_a_role(sample: Path, tmp_path: Path) -> None:
    # The W3C validator (vnu) flags `<span aria-label="Duration">` on every episode list:
    # aria-label is prohibited on generic elements (ARIA 1.2); screen readers ignore it.
    # Suggest visually hidden text ("Duration: 0:10") or <time datetime="PT10S">.
    out = tmp_path / "site"
    assert invoke("build", sample, "--out", out, "--now", NOW).exit_code == 0
    for page in out.rglob("*.html"):
        assert "<span aria-label=" not in page.read_text(encoding="utf-8"), page


def test_sanitised_html_is_valid_html() -> None:
    # The W3C validator (vnu) rejects two things nh3 lets through on episode pages:
    # a raw `<img src=x onerror=...>` keeps no alt ("img must have an alt attribute"), and a
    # link whose javascript: href was dropped keeps rel ("rel" needs "href"). Suggest alt=""
    # for images without one, and unwrapping (or dropping rel from) links left without href.
    from fo_cast.render.companion import render_companion

    text = "Text <img src=x onerror=alert(3)> [x](javascript:alert(4)) <a>y</a>"
    companion = render_companion(text, [], None)
    for html in (companion.page, companion.feed):
        assert '<img src="x">' not in html
        assert "<a rel=" not in html


def test_an_unreachable_s3_endpoint_is_one_line_and_quick(
    sample: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing listens on port 9 of the loopback: refused at once, said in one line."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDNEVERSHOWN")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret-never-shown")
    result = fo_cast(
        "publish", sample, "--to", "s3://bucket/fo", "--endpoint-url", "http://127.0.0.1:9",
        "--tries", "1", "--timeout", "2", "--now", NOW,
    )  # fmt: skip
    assert result.returncode == 4
    assert result.stderr.strip().splitlines() == [
        # The lock is the first thing a publish writes, before it lists the target.
        "fo-cast: s3://bucket/fo at http://127.0.0.1:9: cannot write .fo-cast/lock.json: the "
        "server could not be reached (retried; check the endpoint and network)"
    ]
    assert "never-shown" not in result.stdout + result.stderr
    assert "NEVERSHOWN" not in result.stdout + result.stderr


def test_import_never_writes_through_a_symlinked_show_folder(sample: Path, tmp_path: Path) -> None:
    feed = Path(__file__).parent / "fixtures" / "feeds" / "pumuckl-br.xml"
    (tmp_path / "elsewhere").mkdir()
    (sample / "imported").symlink_to(tmp_path / "elsewhere")
    result = fo_cast("import", feed, "--show", "imported", "--catalogue", sample)
    assert result.returncode != 0
    assert "a symlink on the way leads outside the catalogue" in result.stderr
    assert list((tmp_path / "elsewhere").iterdir()) == []


def test_publishing_into_a_parent_target_never_prunes_the_nested_one(
    sample: Path, s3_server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """s3://bucket/p/show published, then s3://bucket/p (its parent) with --prune: the parent
    deleted every live file of the child, whose objects carry fo-cast's own marks."""
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    for name, value in s3_server.env.items():
        monkeypatch.setenv(name, value)
    parent = f"s3://{s3_server.bucket}/nest-{os.getpid()}"
    common = ("--endpoint-url", s3_server.endpoint, "--now", NOW)
    assert invoke("publish", sample, "--to", f"{parent}/show", *common).exit_code == 0
    storage = storage_for(f"{parent}/show", s3_server.endpoint)
    child = sorted(storage.list())
    result = invoke("publish", sample, "--to", parent, *common)
    assert result.exit_code == 3
    assert "fo-cast did not publish (such as 'show/" in result.stderr  # needs --adopt
    result = invoke(
        "publish", sample, "--to", parent, "--adopt", "--prune", "--max-deletes", "100000", *common
    )
    assert result.exit_code == 0, result.stderr
    assert sorted(storage.list()) == child
    result = invoke("publish", sample, "--to", parent, "--prune", *common)
    assert result.exit_code == 0 and sorted(storage.list()) == child


@pytest.mark.parametrize(
    "url",
    [
        "not a url",
        "file:///etc/passwd",
        "ftp://example.org/",
        "https://u:pw@example.org/",
        "http://127.0.0.1:9/ok/\x01hub",  # once exit 70 at build: XML cannot carry it
    ],
)
def test_a_notify_endpoint_must_be_an_http_url(sample: Path, url: str) -> None:
    # Was: podcastindex_url = "file:///etc/passwd" was opened locally at publish, and "not a
    # url" printed a thread's stack trace.
    with open(sample / "fo-cast.toml", "a", encoding="utf-8") as settings:
        written = url.replace("\x01", "\\u0001")  # TOML's escape: the file stays text
        settings.write(f'\n[notify]\npodcastindex_url = "{written}"\n')
    result = fo_cast("validate", sample)
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == (
        f"episodes/fo-cast.toml: notify.podcastindex_url: {url!r} is not an http(s) URL "
        "fo-cast sends to (no spaces, quotes, control characters or user:password@); such as "
        "https://hub.example.org/"
    )


@pytest.mark.parametrize(("key", "value"), [("timeout", "inf"), ("backoff", "1e300")])
def test_notify_waits_are_bounded(sample: Path, key: str, value: str) -> None:
    """Was: timeout = inf or backoff = 1e300 ended a successful publish in exit 70."""
    with open(sample / "fo-cast.toml", "a", encoding="utf-8") as settings:
        settings.write(f"\n[notify]\n{key} = {value}\n")
    result = fo_cast("validate", sample)
    assert result.returncode == 1
    assert f"notify.{key}" in result.stderr.splitlines()[0]
    assert " or less, got " in result.stderr


def test_an_endpoint_that_is_no_s3_server_is_one_line(
    sample: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A web server answering 200 and a page to every request: exit 70 (KeyError: 'ETag')."""
    import http.server

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "any")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "any")
    monkeypatch.delenv("AWS_PROFILE", raising=False)

    class Page(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def answer(self) -> None:
            if length := int(self.headers.get("Content-Length") or 0):
                self.rfile.read(length)
            body = b"<html><body>hello</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = answer

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        endpoint = f"http://127.0.0.1:{server.server_address[1]}"
        result = fo_cast(
            "publish", sample, "--to", "s3://pods/w", "--endpoint-url", endpoint, "--now", NOW
        )
    finally:
        server.shutdown()
        server.server_close()
    assert result.returncode == 4, result.stderr
    assert result.stderr.strip().endswith(
        "cannot write .fo-cast/lock.json: the answer carries no ETag; is the endpoint an S3 "
        "server? (check --endpoint-url)"
    )


def test_an_argument_that_is_not_utf8_is_a_usage_error(sample: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "fo_cast", "validate", os.fsdecode(b"\xff")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "fo-cast: the argument '\\xff' is not UTF-8 (byte 0xff); give names, paths and URLs "
        "in UTF-8"
    )


def test_build_refuses_a_dangling_symlink_as_out(sample: Path, tmp_path: Path) -> None:
    """A symlink to nowhere made its target's folders, wherever it pointed."""
    out = tmp_path / "site"
    out.symlink_to(tmp_path / "elsewhere" / "deep" / "x")
    result = invoke("build", sample, "--out", out, "--now", NOW)
    assert result.exit_code == 2
    assert result.stderr == (
        f"fo-cast: --out {out} is a symlink to {tmp_path}/elsewhere/deep/x, which is not "
        "there: create that folder, or give the output folder itself\n"
    )
    assert not (tmp_path / "elsewhere").exists()


def test_the_built_tree_is_readable_by_a_web_server(sample: Path, tmp_path: Path) -> None:
    """The tree's folder took mkdtemp's 0700, even over an empty folder made 0755: a web
    server running as another user could not read it. It keeps the folder's mode now, or a
    new folder's (the umask's)."""
    old = os.umask(0o022)
    try:
        assert invoke("build", sample, "--out", tmp_path / "new", "--now", NOW).exit_code == 0
        kept = tmp_path / "kept"
        kept.mkdir()
        kept.chmod(0o750)
        assert invoke("build", sample, "--out", kept, "--now", NOW).exit_code == 0
        assert invoke("build", sample, "--out", kept, "--now", NOW).exit_code == 0
    finally:
        os.umask(old)
    assert (tmp_path / "new").stat().st_mode & 0o777 == 0o755
    assert kept.stat().st_mode & 0o777 == 0o750


def test_build_refuses_out_inside_a_file(sample: Path, tmp_path: Path) -> None:
    """It was "File exists", exit 4, naming no option."""
    (tmp_path / "afile").write_text("x")
    out = tmp_path / "afile" / "sub"
    result = invoke("build", sample, "--out", out, "--now", NOW)
    assert result.exit_code == 2
    assert result.stderr == (
        f"fo-cast: --out {out} is inside {tmp_path / 'afile'}, which is a file, not a folder\n"
    )
    assert (tmp_path / "afile").read_text() == "x"


def test_someone_elses_file_names_are_shown_escaped_never_as_terminal_codes(
    sample: Path, tmp_path: Path
) -> None:
    """A key holding ESC [2J (clear the screen) and a newline: click removed the codes
    when stderr is no terminal, naming a file that is not there ('aRED.txt')."""
    target = tmp_path / "public"
    target.mkdir()
    (target / "a\x1b[2J\x1b[31mRED\x1b[0m.txt").write_bytes(b"theirs")
    (target / "line1\nfo-cast: published OK\r.txt").write_bytes(b"theirs")
    result = fo_cast("publish", sample, "--to", target)
    assert result.returncode == 3
    refusal = next(line for line in result.stderr.splitlines() if line.startswith("refused:"))
    assert "(such as 'a\\x1b[2J\\x1b[31mRED\\x1b[0m.txt')" in refusal
    assert "\x1b" not in result.stderr and "\r" not in result.stderr
    result = fo_cast("publish", sample, "--to", target, "--adopt", "--verbose")
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout + result.stderr
    assert (target / "line1\nfo-cast: published OK\r.txt").read_bytes() == b"theirs"


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("language: en", 'language: "en\\n"', "language"),
        (
            "email: podcasts@fairobserver.com",
            'email: "podcasts@fairobserver.com\\n"',
            "owner.email",
        ),
        (
            "link: https://www.fairobserver.com/",
            'link: "https://www.fairobserver.com/\\uFFFE"',
            "link",
        ),
        ("language: en", 'language: en\nslug: "excl\\n"', "slug"),
    ],
)
def test_what_validate_passed_build_could_not_write(
    sample: Path, old: str, new: str, field: str
) -> None:
    """'$' matched before a final newline: a slug 'excl\\n' made a folder so named and %0A in
    every URL, 'en\\n' went into <language>; U+FFFE in a URL passed validate, then the build
    ended in exit 70 (XML cannot carry it). Each is now an error at its field."""
    edit(sample / "exclusive" / "show.yaml", old, new)
    result = fo_cast("validate", sample)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "episodes/exclusive/show.yaml:" in result.stderr
    assert f": {field}: " in result.stderr
    assert "Traceback" not in result.stderr
