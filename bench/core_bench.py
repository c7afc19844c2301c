"""Validate, feeds and pages timed apart, in one process each (bench/step.py), against a plain
feedgen script writing one feed of the same items."""

from __future__ import annotations

from pathlib import Path

from harness import EPISODES, Bench, ratio


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


def run(bench: Bench) -> None:
    root = bench.catalogue()
    for name in ("manifests.json", "probe.json", "report.json"):
        (root / ".fo-cast" / name).unlink(missing_ok=True)
    print(f"validate in-process, {EPISODES} episodes (targets: cold < 15 s, RSS < 300 MB)")
    cold = bench.step("validate", str(root))
    bench.line("cold (no probe cache)", cold)
    bench.summary(f"validate {EPISODES:,}, cold (probes every file), in-process", cold, "< 15 s")

    print(f"build feeds, {EPISODES} episodes (target: within 1.5x of plain feedgen)")
    plain = bench.step("feedgen", str(root))
    bench.line("plain feedgen script, one feed", plain)
    forget_renders(root, "feeds")
    ours = bench.step("build", str(root), str(bench.work / "feeds-out"), "feeds")
    bench.line("fo-cast validate + build (feeds only, cold)", ours, f"ratio {ratio(ours, plain)}")
    print(f"  {'':<48} {phases(ours)}")
    bench.summary("plain feedgen script, one feed of the same items", plain)
    bench.summary(
        "fo-cast validate + build, feeds only, cold", ours, f"{ratio(ours, plain)} feedgen (1.5x)"
    )

    print(f"build pages, {EPISODES} episodes (target: cold < 10 s)")
    forget_renders(root, "pages")
    pages = bench.step("build", str(root), str(bench.work / "pages-out"), "pages")
    rate = EPISODES / max(pages["render_seconds"], 1e-9)
    bench.line("render pages (cold)", pages, f"{rate:.0f} pages/s rendered")
    print(f"  {'':<48} {phases(pages)}")
    bench.summary("pages alone, cold, in-process", pages, f"render {rate:.0f} pages/s")
