"""The publish suite against a local folder (file://), served over HTTP with ranges for verify."""

from __future__ import annotations

import http.server
import io
import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from fo_cast.storage import INDEX_KEY, Storage, storage_for
from fo_cast.storage.local import TEMP_SUFFIX

from .suite import PublishSuite


@dataclass
class LocalTarget:
    root: Path
    base_url: str
    endpoint_url: str | None = None

    @property
    def url(self) -> str:
        return self.root.as_uri()

    def storage(self) -> Storage:
        return storage_for(self.url)

    def stored_keys(self) -> set[str]:
        if not self.root.exists():
            return set()
        return {
            p.relative_to(self.root).as_posix()
            for p in self.root.rglob("*")
            if p.is_file() and not p.name.endswith(TEMP_SUFFIX)
        }

    def headers(self, key: str) -> tuple[str | None, str | None, str | None]:
        size, _etag, sha256, content_type, cache_control, ours = _index(self.root)[key]
        assert size == (self.root / key).stat().st_size and ours is True
        return content_type, cache_control, sha256

    def add_foreign(self, key: str, data: bytes) -> None:
        (self.root / key).parent.mkdir(parents=True, exist_ok=True)
        (self.root / key).write_bytes(data)

    def read_back(self, key: str) -> bytes:
        return (self.root / key).read_bytes()


def _index(root: Path) -> dict[str, Any]:
    objects: dict[str, Any] = json.loads((root / INDEX_KEY).read_bytes())["objects"]
    return objects


class RangeHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the folder with the content types fo-cast stored, and single byte ranges.

    Enough for verify's tests; `fo-cast serve` is the real thing.
    """

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def guess_type(self, path: str | os.PathLike[str]) -> str:
        key = Path(path).relative_to(str(self.directory)).as_posix()
        entry = _index(Path(str(self.directory))).get(key)
        return str(entry[3]) if entry and entry[3] else super().guess_type(path)

    def send_head(self) -> Any:
        wanted = self.headers.get("Range", "")
        path = self.translate_path(self.path)
        if not wanted.startswith("bytes=") or not os.path.isfile(path):
            return super().send_head()
        size = os.path.getsize(path)
        first, _, last = wanted.removeprefix("bytes=").partition("-")
        start, end = int(first), min(int(last) if last else size - 1, size - 1)
        with open(path, "rb") as file:
            file.seek(start)
            body = file.read(end - start + 1)
        self.send_response(206)
        self.send_header("Content-Type", self.guess_type(path))
        self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        return io.BytesIO(body)


@pytest.fixture
def served_folder(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """Yields a folder and the 127.0.0.1 URL it is served at, ranges included."""
    root = tmp_path / "public"
    root.mkdir()
    handler = partial(RangeHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.integration
class TestPublishLocal(PublishSuite):
    @pytest.fixture
    def target(self, served_folder: tuple[Path, str]) -> LocalTarget:
        root, base_url = served_folder
        return LocalTarget(root, base_url)

    def test_dry_run_changes_nothing(self, show: Any, target: Any) -> None:
        target.root.rmdir()  # a dry run must not even create the folder
        super().test_dry_run_changes_nothing(show, target)
        assert not target.root.exists()
