"""What fo-cast writes of its own, and how: its files in a catalogue and in a built tree.

`validate` writes nothing but these caches, `build` adds the render cache and the tree's
record, `publish` the hash cache. Each is a plain file (JSON or bytes, never pickle: a cache
that came with a cloned catalogue must not be able to run code), written atomically, and a
damaged or stale one only makes the next run slower.
"""

from __future__ import annotations

import os
from pathlib import Path

CACHE_DIR = ".fo-cast"  # in a catalogue and in a built tree; never published

# in the catalogue, relative to its root
MANIFEST_CACHE = f"{CACHE_DIR}/manifests.json"  # parsed manifests, by path, size and mtime
PROBE_CACHE = f"{CACHE_DIR}/probe.json"  # media and artwork facts, by path, size and mtime
RENDER_CACHE = f"{CACHE_DIR}/render"  # rendered feed items and pages (render/cache.py)
HASH_CACHE = f"{CACHE_DIR}/hashes.json"  # sha256 of media, by path, size and mtime (publish)
PUBLISH_STAMPS = f"{CACHE_DIR}/publish"  # the last publish to each target (publish/stamp.py)
REPORT_CACHE = f"{CACHE_DIR}/report.json"  # the last validate's report, by snapshot (snapshot.py)
COVER_CACHE = f"{CACHE_DIR}/covers.json"  # sha256 of the cover made of each artwork (tag)

# in a built tree, relative to its root
TREE_RECORD = f"{CACHE_DIR}/tree.json"  # what write_tree put there, and the build's stamp


def write_all(fd: int, data: bytes) -> None:
    """Writes all of data to the open file fd (os.write may write less than it is given)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def atomic_write(path: Path | str, data: bytes | str) -> None:
    """Writes data to path through a temporary file beside it, then one rename.

    Readers see the old file or the new one, never half of one; the temporary name carries
    the pid, so two processes never write into each other's file.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    payload = data.encode("utf-8") if isinstance(data, str) else data
    try:
        with open(tmp, "wb") as file:
            file.write(payload)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
