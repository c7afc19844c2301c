"""`make bench`: the speed and memory figures of fo-cast, printed, never asserted.

Each step runs in a fresh process (bench/step.py) so its peak RSS is its own.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from synth import make_catalogue  # noqa: E402

EPISODES = int(os.environ.get("BENCH_EPISODES", "10000"))


def step(*args: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, str(HERE / "step.py"), *args], check=True, capture_output=True, text=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def line(label: str, result: dict[str, float], extra: str = "") -> None:
    print(f"  {label:<44} {result['seconds']:>7.2f} s  {result['peak_rss_mb']:>7.1f} MB {extra}")


def bench_validate(root: Path) -> None:
    shutil.rmtree(root / ".fo-cast", ignore_errors=True)
    print(f"validate, {EPISODES} episodes (targets: cold < 15 s, warm < 2 s, RSS < 300 MB)")
    line("cold (no probe cache)", step("validate", str(root)))
    line("warm (nothing changed)", step("validate", str(root)))


def phases(result: dict[str, float]) -> str:
    """Returns where a build step's time went: validate, render (with the render cache), write."""
    return (
        f"= validate {result['validate_seconds']:.2f} + render {result['render_seconds']:.2f}"
        f" + write {result['write_seconds']:.2f}"
    )


def forget_renders(root: Path, part: str) -> None:
    """Removes the render cache of one part, so the next build renders it all (cold)."""
    for file in (root / ".fo-cast" / "render").glob(f"{part}*"):
        file.unlink()


def bench_feeds(root: Path, work: Path) -> None:
    print(f"build feeds, {EPISODES} episodes (target: within 1.5x of plain feedgen; rebuild < 1 s)")
    plain = step("feedgen", str(root))
    line("plain feedgen script, one feed", plain)
    forget_renders(root, "feeds")
    ours = step("build", str(root), str(work / "feeds-out"), "feeds")
    ratio = ours["seconds"] / plain["seconds"]
    line("fo-cast validate + build (feeds only, cold)", ours, f"ratio {ratio:.2f}x")
    print(f"  {'':<44} {phases(ours)}")
    touched = next(root.glob("show-0/*/companion.md"))
    touched.write_text(touched.read_text(encoding="utf-8") + "\nOne more line.\n", encoding="utf-8")
    again = step("build", str(root), str(work / "feeds-out"), "feeds")
    line("rebuild after one episode changed", again, phases(again))


def bench_pages(root: Path, work: Path) -> None:
    print(f"build pages, {EPISODES} episodes (targets: cold < 10 s, one companion changed < 1 s)")
    forget_renders(root, "pages")
    cold = step("build", str(root), str(work / "pages-out"), "pages")
    line(
        "render pages (cold)",
        cold,
        f"{EPISODES / max(cold['render_seconds'], 1e-9):.0f} pages/s rendered",
    )
    print(f"  {'':<44} {phases(cold)}")
    touched = next(root.glob("show-1/*/companion.md"))
    touched.write_text(touched.read_text(encoding="utf-8") + "\nAnother line.\n", encoding="utf-8")
    again = step("build", str(root), str(work / "pages-out"), "pages")
    line("rebuild after one companion changed", again, phases(again))


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="fo-cast-bench-") as tmp:
        work = Path(tmp)
        root = work / "catalogue"
        start = time.perf_counter()
        make_catalogue(root, EPISODES, shows=2, video_every=10)
        print(f"synthetic catalogue: {EPISODES} episodes in {time.perf_counter() - start:.1f} s\n")
        bench_validate(root)
        bench_feeds(root, work)
        bench_pages(root, work)
        print()
        from site_bench import run_site_bench

        run_site_bench(root, work, step, line)
        print()
        from tag_bench import run_tag_bench

        run_tag_bench(work, line)
        print()
        from publish_bench import run_publish_bench

        run_publish_bench(work, step, line)
        print()
        from import_bench import run_import_bench

        run_import_bench(work, line)


if __name__ == "__main__":
    main()
