"""One measured step of the benchmark, run in a fresh process so its peak RSS is its own.

    python bench/step.py validate CATALOGUE
    python bench/step.py buildmem CATALOGUE OUT
prints one JSON line: {"seconds": ..., "peak_rss_mb": ..., ...}.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

NOW = datetime(2030, 1, 1, tzinfo=UTC)


def _validate(root: str) -> dict[str, object]:
    import fo_cast

    report = fo_cast.validate(root)
    return {"errors": len(report.errors), "warnings": len(report.warnings)}


def _build(root: str, out: str, what: str = "all") -> dict[str, object]:
    import fo_cast
    from fo_cast.build import build
    from fo_cast.tree import write_tree

    start = time.perf_counter()
    done = fo_cast.check(root, now=NOW)
    checked = time.perf_counter()
    result = build(done, with_feeds=what != "pages", with_pages=what != "feeds")
    built = time.perf_counter()
    write_tree(result, Path(out))
    return {
        "outputs": len(result.outputs),
        "validate_seconds": round(checked - start, 3),
        "render_seconds": round(built - checked, 3),  # with loading and saving the render cache
        "write_seconds": round(time.perf_counter() - built, 3),
    }


def _feedgen(root: str) -> dict[str, object]:
    """A plain feedgen script: one feed of every episode, data read straight from the files."""
    import yaml
    from feedgen.feed import FeedGenerator

    fg = FeedGenerator()
    fg.load_extension("podcast")
    fg.title("Plain feedgen")
    fg.link(href="https://example.com/", rel="alternate")
    fg.description("The same items built with feedgen alone.")
    for manifest in sorted(Path(root).glob("*/*/episode.yaml")):
        data = yaml.load(manifest.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
        companion = (manifest.parent / "companion.md").read_text(encoding="utf-8")
        audio = manifest.parent / "audio.mp3"
        entry = fg.add_entry(order="append")
        entry.id(data["guid"])
        entry.guid(data["guid"], permalink=False)
        entry.title(data["title"])
        entry.description(data["summary"])
        entry.content(companion, type="CDATA")
        entry.published(data["published"])
        entry.link(href=f"https://example.com/{manifest.parent.name}/")
        entry.enclosure(
            f"https://example.com/{manifest.parent.name}/audio.mp3",
            str(audio.stat().st_size),
            "audio/mpeg",
        )
        entry.podcast.itunes_duration(12)
        entry.podcast.itunes_episode(data.get("episode"))
    data = fg.rss_str(pretty=True)
    return {"bytes": len(data)}


def _publish(root: str, target: str, endpoint: str) -> dict[str, object]:
    """Runs `fo-cast publish` in this process, counting the HTTP requests boto3 sends."""
    import botocore.endpoint

    from fo_cast.cli import app

    counter = {"requests": 0}
    original = botocore.endpoint.Endpoint._send

    def counting(self, request):  # type: ignore[no-untyped-def]
        counter["requests"] += 1
        return original(self, request)

    botocore.endpoint.Endpoint._send = counting  # type: ignore[method-assign]
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            app(
                ["publish", root, "--to", target, "--endpoint-url", endpoint], standalone_mode=False
            )
        except SystemExit as exc:
            if exc.code:
                raise
    uploaded = out.getvalue().count("\nuploaded ") + out.getvalue().startswith("uploaded ")
    return {"requests": counter["requests"], "uploaded": uploaded}


def _rss_mb(field: str = "VmRSS") -> float:
    """Returns this process's resident memory now (VmRSS) or at its peak (VmHWM), in MB."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def _buildmem(root: str, out: str) -> dict[str, object]:
    """`fo-cast build` as the command runs it (build_tree), with this process's resident
    memory at the end of each stage and its peak, and the peak of the forked feed worker."""
    import fo_cast.build
    import fo_cast.tree
    from fo_cast import workers

    stages: dict[str, object] = {}

    def measured(name: str, function: Any) -> Any:
        def run(*args: Any, **kwargs: Any) -> Any:
            result = function(*args, **kwargs)
            stages[f"{name}_rss_mb"] = _rss_mb()
            stages[f"{name}_peak_mb"] = _rss_mb("VmHWM")
            return result

        return run

    fo_cast.build.check = measured("check", fo_cast.build.check)  # type: ignore[method-assign]
    fo_cast.build.build = measured("render", fo_cast.build.build)  # type: ignore[method-assign]
    fo_cast.tree.write_tree = measured("write", fo_cast.tree.write_tree)  # type: ignore[method-assign]
    # a companion edit is rebuilt (rebuild.py): its own writing, no render stage
    fo_cast.tree.update_files = measured("write", fo_cast.tree.update_files)  # type: ignore[method-assign]
    peaks = Path(out).with_name(Path(out).name + ".worker-peaks")
    start = workers._start

    def reporting(task: Any) -> Any:  # each worker adds its own peak to the file
        def report() -> Any:
            result = task()
            with open(peaks, "a", encoding="ascii") as file:
                file.write(f"{_rss_mb('VmHWM')}\n")
            return result

        return start(report)

    workers._start = reporting  # type: ignore[assignment]
    peaks.unlink(missing_ok=True)
    built = fo_cast.build.build_tree(root, out, now=NOW)
    found = [float(line) for line in peaks.read_text().split()] if peaks.exists() else []
    peaks.unlink(missing_ok=True)
    worker = max(found, default=0.0)
    return {"files": built.files, "rebuilt": built.rebuilt, **stages, "worker_peak_mb": worker}


def main() -> None:
    name, *args = sys.argv[1:]
    start = time.perf_counter()
    result = {
        "validate": _validate,
        "build": _build,
        "buildmem": _buildmem,
        "feedgen": _feedgen,
        "publish": _publish,
    }[name](*args)
    result["seconds"] = round(time.perf_counter() - start, 3)
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
