"""LocalStorage and storage_for: atomic writes, the hash index, keys kept inside the folder."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from fo_cast.errors import ConfigError, StorageError
from fo_cast.outputs import Output, Stage
from fo_cast.storage import INDEX_KEY, RemoteObject, storage_for
from fo_cast.storage.local import TEMP_SUFFIX, LocalStorage
from fo_cast.storage.s3 import S3Storage


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def put(storage: LocalStorage, key: str, data: bytes, stage: Stage = Stage.ASSET) -> RemoteObject:
    return storage.put(Output(key, "text/plain", stage, data=data), sha(data), "max-age=1")


def test_put_list_read_delete(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "public")
    assert storage.list() == {}
    sent: list[int] = []
    media = tmp_path / "ep.mp3"
    media.write_bytes(b"m" * 3_000_000)
    output = Output("media/ep.mp3", "audio/mpeg", Stage.MEDIA, source=media)
    stored = storage.put(output, sha(media.read_bytes()), "max-age=86400", sent.append)
    assert sum(sent) == 3_000_000 and len(sent) == 3  # progress per 1 MB chunk
    put(storage, "a/b/page.html", b"<p>")
    assert (tmp_path / "public/media/ep.mp3").read_bytes() == media.read_bytes()
    listing = storage.list()
    assert sorted(listing) == ["a/b/page.html", "media/ep.mp3"]
    assert listing["media/ep.mp3"] == stored
    assert storage.read("a/b/page.html") == b"<p>" and storage.read("nope") is None

    storage.delete(["a/b/page.html", "never/was.txt"])
    assert sorted(storage.list()) == ["media/ep.mp3"]
    assert not (tmp_path / "public/a").exists(), "emptied folders go too"


def test_index_spares_rehashing_and_keeps_headers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = LocalStorage(tmp_path)
    put(storage, "feed.xml", b"<rss/>", Stage.FEED)
    storage.save_index()
    assert (tmp_path / INDEX_KEY).exists()

    import fo_cast.storage.local as local

    monkeypatch.setattr(local, "hash_file", lambda path: pytest.fail(f"rehashed {path}"))
    fresh = LocalStorage(tmp_path).list()
    assert fresh["feed.xml"].content_type == "text/plain"
    assert fresh["feed.xml"].cache_control == "max-age=1"
    assert fresh["feed.xml"].content_hash == sha(b"<rss/>")


def test_file_changed_behind_the_index_is_rehashed(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    put(storage, "feed.xml", b"<rss/>")
    storage.save_index()
    (tmp_path / "feed.xml").write_bytes(b"<rss>")  # same size, new mtime
    (tmp_path / "extra.txt").write_bytes(b"x")
    listing = LocalStorage(tmp_path).list()
    assert listing["feed.xml"].content_hash == sha(b"<rss>")
    assert listing["feed.xml"].content_type is None  # unknown, so not compared
    assert listing["extra.txt"].content_hash == sha(b"x")


def test_damaged_index_costs_only_a_rehash(tmp_path: Path) -> None:
    put(LocalStorage(tmp_path), "feed.xml", b"<rss/>")
    (tmp_path / ".fo-cast").mkdir()
    (tmp_path / INDEX_KEY).write_text("{")
    assert LocalStorage(tmp_path).list()["feed.xml"].content_hash == sha(b"<rss/>")


def test_save_index_writes_only_when_something_changed(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    put(storage, "feed.xml", b"<rss/>")
    storage.save_index()
    before = os.stat(tmp_path / INDEX_KEY).st_mtime_ns
    storage = LocalStorage(tmp_path)
    storage.list()
    storage.save_index()
    assert os.stat(tmp_path / INDEX_KEY).st_mtime_ns == before


def test_temp_files_are_invisible_and_cleaned_up(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    (tmp_path / "media").mkdir()
    (tmp_path / "media" / f".ep.mp3.1234abcd{TEMP_SUFFIX}").write_bytes(b"half")
    assert storage.list() == {}
    assert storage.cleanup() == 1
    assert list((tmp_path / "media").iterdir()) == []


def test_reserved_records_stay_out_of_the_listing(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    put(storage, ".fo-cast/published.json", b"{}")
    assert storage.list() == {}
    assert storage.read(".fo-cast/published.json") == b"{}"


@pytest.mark.parametrize("key", ["../escape.txt", "/etc/passwd", "a/../../b", ""])
def test_keys_cannot_leave_the_folder(tmp_path: Path, key: str) -> None:
    with pytest.raises(StorageError, match="refusing key outside the target"):
        put(LocalStorage(tmp_path / "public"), key, b"x")


def test_target_that_is_a_file_is_a_storage_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(StorageError, match="not a folder"):
        LocalStorage(tmp_path / "file").list()


def test_storage_for_picks_the_backend_by_scheme(tmp_path: Path) -> None:
    local = storage_for(tmp_path.as_uri())
    assert isinstance(local, LocalStorage) and local.root == tmp_path
    assert isinstance(storage_for(str(tmp_path)), LocalStorage)
    assert storage_for("public").describe() == (Path.cwd() / "public").as_uri()
    s3 = storage_for("s3://bucket/shows/weekly/", endpoint_url="http://127.0.0.1:1")
    assert isinstance(s3, S3Storage) and (s3.bucket, s3.prefix) == ("bucket", "shows/weekly")
    with pytest.raises(ConfigError, match="unsupported target; use s3://bucket/prefix"):
        storage_for("ftp://host/x")
    with pytest.raises(ConfigError, match="an S3 target needs a bucket"):
        storage_for("s3:///prefix")


def test_what_a_killed_publish_intended_is_fo_casts_by_its_bytes(tmp_path: Path) -> None:
    """A publish saves what it is about to write before it writes; killed before it saved
    the index, its files are still fo-cast's to the next listing, and only those bytes."""
    (tmp_path / "theirs.html").write_bytes(b"the owner's")
    killed = LocalStorage(tmp_path)
    killed.list()
    killed.intend({"page.html": sha(b"new"), "theirs.html": sha(b"fo-cast's"), "gone": sha(b"x")})
    put(killed, "page.html", b"new")  # then SIGKILL: no save_index
    assert not (tmp_path / INDEX_KEY).exists()
    (tmp_path / ".fo-cast/pending/damaged.json").write_bytes(b"{not json")
    following = LocalStorage(tmp_path)
    listing = following.list()
    assert listing["page.html"].ours and listing["page.html"].content_hash == sha(b"new")
    assert not listing["theirs.html"].ours  # intended, never written: still the owner's
    assert "gone" not in listing
    following.save_index()
    assert list((tmp_path / ".fo-cast/pending").iterdir()) == []
    fresh = LocalStorage(tmp_path).list()  # the index holds it now
    assert fresh["page.html"].ours and not fresh["theirs.html"].ours


def test_pending_records_go_only_once_the_index_is_saved(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    storage.intend({"a.txt": sha(b"a")})
    put(storage, "a.txt", b"a")
    assert len(list((tmp_path / ".fo-cast/pending").iterdir())) == 1
    storage.intend({})  # an empty stage records nothing
    assert len(list((tmp_path / ".fo-cast/pending").iterdir())) == 1
    storage.save_index()
    assert list((tmp_path / ".fo-cast/pending").iterdir()) == []
    assert LocalStorage(tmp_path).list()["a.txt"].ours
