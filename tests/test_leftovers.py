"""Odd S3 target URLs, refused before anything is sent; an empty catalogue argument, refused
rather than read as the current folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from fo_cast.errors import ConfigError
from fo_cast.storage import storage_for
from fo_cast.storage.s3 import S3Storage
from tests.helpers import invoke
from tests.helpers import run_fo_cast as fo_cast

NOW = "2025-01-01T00:00:00+00:00"
ENDPOINT = "http://127.0.0.1:1"  # never reached: the URL is refused before any request
S3_FIX = "an S3 target is s3://bucket/prefix, such as s3://podcasts/shows/weekly"
BUCKET_RULE = (
    "name it with 3 to 63 lowercase letters, digits, dots and hyphens, starting and ending "
    "with a letter or digit (no '..', not an IP address)"
)

# --- S3 target URLs -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "bucket", "prefix"),
    [
        ("s3://pods", "pods", ""),
        ("s3://pods/", "pods", ""),
        ("s3://pods/show", "pods", "show"),
        ("s3://pods/show/", "pods", "show"),  # one trailing slash: the same target
        ("s3://fo-cast-test/a/b", "fo-cast-test", "a/b"),  # the test server's bucket
        ("s3://my.pods-2024/shows/weekly", "my.pods-2024", "shows/weekly"),
        ("s3://abc/x y/é...", "abc", "x y/é..."),  # S3 keys may hold these
    ],
)
def test_a_plain_s3_target_gives_its_bucket_and_prefix(url: str, bucket: str, prefix: str) -> None:
    storage = storage_for(url, ENDPOINT)
    assert isinstance(storage, S3Storage)
    assert (storage.bucket, storage.prefix) == (bucket, prefix)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        # Was: stored under keys a//c/feed.xml, which no URL reaches (browsers fold the //).
        ("s3://pods/a//c", "s3://pods/a//c: the prefix has an empty segment ('//'); write each "
         "'/' once, as in s3://pods/a/c"),
        ("s3://pods//show", "s3://pods//show: the prefix has an empty segment ('//'); write "
         "each '/' once, as in s3://pods/show"),
        ("s3://pods/show//", "s3://pods/show//: the prefix has an empty segment ('//'); write "
         "each '/' once, as in s3://pods/show"),
        ("s3://pods/a/../c", "s3://pods/a/../c: the prefix has a '..' segment, which S3 would "
         f"keep in every key as a folder of that name; write the prefix without it: {S3_FIX}"),
        ("s3://pods/./c", "s3://pods/./c: the prefix has a '.' segment, which S3 would keep in "
         f"every key as a folder of that name; write the prefix without it: {S3_FIX}"),
        # Was: urlsplit dropped them, so ?x=1 published to s3://pods/show.
        ("s3://pods/show?x=1", "s3://pods/show?x=1: a target URL has no query or fragment "
         f"('?', '#'); remove them: {S3_FIX}"),
        ("s3://pods/show#top", "s3://pods/show#top: a target URL has no query or fragment "
         f"('?', '#'); remove them: {S3_FIX}"),
        # Was: urlsplit dropped the newline, so the prefix became 'showtalks'.
        ("s3://pods/show\ntalks", "s3://pods/show\\x0atalks: the target URL holds a control "
         "character (\\x0a); type it again without it"),
        ("s3://pods/show\x1b[2J", "s3://pods/show\\x1b[2J: the target URL holds a control "
         "character (\\x1b); type it again without it"),
        ("s3://pods/shows\\weekly", "s3://pods/shows\\weekly: the prefix holds a backslash; "
         f"separate its folders with '/': {S3_FIX}"),
        ("s3://b/show", f"s3://b/show: 'b' is not an S3 bucket name; {BUCKET_RULE}"),
        ("s3://My-Pods/show", f"s3://My-Pods/show: 'My-Pods' is not an S3 bucket name; "
         f"{BUCKET_RULE}"),
        ("s3://pods_2/show", f"s3://pods_2/show: 'pods_2' is not an S3 bucket name; {BUCKET_RULE}"),
        ("s3://-pods/show", f"s3://-pods/show: '-pods' is not an S3 bucket name; {BUCKET_RULE}"),
        ("s3://pods./show", f"s3://pods./show: 'pods.' is not an S3 bucket name; {BUCKET_RULE}"),
        ("s3://po..ds/show", f"s3://po..ds/show: 'po..ds' is not an S3 bucket name; "
         f"{BUCKET_RULE}"),
        ("s3://10.0.0.1/show", f"s3://10.0.0.1/show: '10.0.0.1' is not an S3 bucket name; "
         f"{BUCKET_RULE}"),
        ("s3://pods:9000/show", f"s3://pods:9000/show: 'pods:9000' is not an S3 bucket name; "
         f"{BUCKET_RULE}"),
        (f"s3://{'p' * 64}/show", f"s3://{'p' * 64}/show: '{'p' * 64}' is not an S3 bucket "
         f"name; {BUCKET_RULE}"),
        # Was: ValueError "Invalid IPv6 URL", an internal error (exit 70).
        ("s3://[pods/show", "s3://[pods/show: not a target URL (Invalid IPv6 URL); use "
         "s3://bucket/prefix or file:///path/to/folder"),
    ],
)  # fmt: skip
def test_an_odd_s3_target_is_refused_up_front(url: str, message: str) -> None:
    with pytest.raises(ConfigError) as refused:
        storage_for(url, ENDPOINT)
    assert str(refused.value) == message


def test_a_63_character_bucket_is_a_bucket() -> None:
    storage = storage_for(f"s3://{'p' * 63}/show", ENDPOINT)
    assert isinstance(storage, S3Storage) and storage.bucket == "p" * 63


def test_publish_refuses_a_dot_dot_prefix_before_any_request(sample: Path) -> None:
    result = fo_cast(
        "publish", sample, "--to", "s3://pods/a/../c", "--endpoint-url", ENDPOINT,
        "--dry-run", "--now", NOW,
    )  # fmt: skip
    assert result.returncode == 4  # a ConfigError, as for any target fo-cast cannot use
    assert result.stderr == (
        "fo-cast: s3://pods/a/../c: the prefix has a '..' segment, which S3 would keep in "
        f"every key as a folder of that name; write the prefix without it: {S3_FIX}\n"
    )
    assert result.stdout == ""


# --- an empty catalogue argument -------------------------------------------------------------

EMPTY_CATALOGUE = "fo-cast: the catalogue folder is empty; name a folder, such as episodes"
EMPTY_OPTION = "fo-cast: --catalogue is empty; name a folder, such as episodes"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["validate", ""], EMPTY_CATALOGUE),
        (["list", ""], EMPTY_CATALOGUE),
        (["tag", "", "--dry-run"], EMPTY_CATALOGUE),
        (["schema", ""], EMPTY_CATALOGUE),
        (["build", "", "--out", "out"], EMPTY_CATALOGUE),
        (["publish", "", "--to", "out", "--dry-run"], EMPTY_CATALOGUE),
        (["verify", ""], EMPTY_CATALOGUE),
        (["validate", " "], EMPTY_CATALOGUE),  # as --to " " is
        (["import", "feed.xml", "--show", "talks", "--catalogue", ""], EMPTY_OPTION),
        (["new", "show", "talks", "--catalogue", ""], EMPTY_OPTION),
        (["new", "episode", "A Title", "--show", "talks", "--catalogue", ""], EMPTY_OPTION),
        (
            ["build", "episodes", "--out", ""],
            "fo-cast: --out is empty; name a folder, such as feeds",
        ),
    ],
)
def test_an_empty_catalogue_is_a_usage_error(
    args: list[str], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Was: Path("") is the current folder; `fo-cast schema "$CATALOGUE"` with the variable
    # unset wrote .schema/ into it, and `serve ""` served it.
    monkeypatch.chdir(tmp_path)
    result = invoke(*args)
    assert (result.exit_code, result.stderr.strip(), result.stdout) == (2, message, "")
    assert list(tmp_path.iterdir()) == []


def test_serve_refuses_an_empty_folder(tmp_path: Path) -> None:
    # Was: served the current folder (and everything under it) until stopped; run apart, so
    # that would be a timeout, not a test run that never ends.
    result = fo_cast("serve", "", "--port", "0", cwd=tmp_path)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == "fo-cast: the folder to serve is empty; name a folder, such as feeds\n"


def test_the_default_catalogue_still_applies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = invoke("schema")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "episodes" / ".schema").is_dir()
