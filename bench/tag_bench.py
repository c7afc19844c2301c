"""`fo-cast tag` figures: 1,000 MP3s tagged cold, then again when nothing changed.

Run by bench/run.py; each step runs in a fresh process (this file with `step`), so its peak
RSS is its own:

    python bench/tag_bench.py step tag|validate CATALOGUE
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
EPISODES = int(os.environ.get("BENCH_TAG_EPISODES", "1000"))


def _step(name: str, root: str) -> dict[str, object]:
    start = time.perf_counter()
    if name == "tag":
        from fo_cast.build import tag_media
        from fo_cast.tagging import Outcome

        run = tag_media(root)
        result: dict[str, object] = {
            "tagged": run.count(Outcome.TAGGED),
            "unchanged": run.count(Outcome.UNCHANGED),
        }
    else:
        import fo_cast

        report = fo_cast.validate(root)
        result = {"errors": len(report.errors), "warnings": len(report.warnings)}
    result["seconds"] = round(time.perf_counter() - start, 3)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result["cpu_seconds"] = round(usage.ru_utime + usage.ru_stime, 3)  # the shared machine
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return result


def _run(name: str, root: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "step", name, str(root)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_tag_bench(work: Path, line: Callable[..., None]) -> None:
    """Prints the tag figures for a synthetic catalogue of EPISODES MP3 episodes."""
    sys.path.insert(0, str(HERE))
    from synth import make_catalogue

    root = work / "tag-catalogue"
    make_catalogue(root, EPISODES, shows=2)  # audio only; every file hard-linked to one
    total = sum(p.stat().st_size for p in root.glob("show-*/*/audio.mp3"))
    print(f"tag, {EPISODES} MP3s ({total / 2**20:.1f} MiB), chapters and a 1400 px cover each")
    _run("validate", root)  # the probe cache, as a producer has it before tagging
    cold = _run("tag", root)
    line("fo-cast tag, cold (every file tagged)", cold, _facts(cold, "tagged"))
    again = _run("tag", root)  # tag recorded what it wrote in the probe cache: no re-probe
    line("fo-cast tag, nothing changed", again, _facts(again, "unchanged"))
    warm = _run("validate", root)
    line("validate, warm, after tagging (tags compared)", warm, _facts(warm, "warnings"))


def _facts(result: dict[str, float], count: str) -> str:
    return f"{result['cpu_seconds']:.2f} s CPU, {result[count]:.0f} {count}"


if __name__ == "__main__":
    if sys.argv[1:2] == ["step"]:
        print(json.dumps(_step(sys.argv[2], sys.argv[3])))
    else:
        import tempfile

        from run import line  # type: ignore[import-not-found]

        with tempfile.TemporaryDirectory(prefix="fo-cast-tag-bench-") as tmp:
            run_tag_bench(Path(tmp), line)
