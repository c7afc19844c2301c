"""Where a 10,000-episode `fo-cast build` keeps its memory: the build's resident memory at the
end of each stage (check, render, write) and its peak, and the peak of the forked feed worker,
cold and after one companion changed (each in a fresh process, as the command runs)."""

from __future__ import annotations

import shutil

from harness import EPISODES, Bench

TARGET = "<= 300 MB"


def run(bench: Bench) -> None:
    root = bench.catalogue()
    out = bench.work / "mem-out"
    print(f"build memory, {EPISODES} episodes (target: peak RSS {TARGET} in every process)")
    shutil.rmtree(root / ".fo-cast", ignore_errors=True)
    shutil.rmtree(out, ignore_errors=True)
    cold = bench.step("buildmem", str(root), str(out))
    _show(bench, "cold", cold)
    companion = next(root.glob("show-1/*/companion.md"))
    with companion.open("a", encoding="utf-8") as file:
        file.write("\nOne more line.\n")
    one = bench.step("buildmem", str(root), str(out))
    _show(bench, "one companion changed", one)
    shutil.rmtree(out, ignore_errors=True)


def _show(bench: Bench, label: str, result: dict[str, float]) -> None:
    stages = ", ".join(
        f"{stage} {result[f'{stage}_rss_mb']:.0f}"
        for stage in ("check", "render", "write")
        if f"{stage}_rss_mb" in result  # a rebuild (rebuild.py) renders no whole site
    )
    if result.get("rebuilt"):
        stages = f"rebuilt: {stages}"
    worker = result["worker_peak_mb"]
    bench.line(label, result, f"(at the end of {stages} MB; feed worker {worker:.0f} MB)")
    figure = f"{result['peak_rss_mb']:.0f} MB, feed worker {worker:.0f} MB ({stages} MB)"
    bench.summary(f"build memory {EPISODES:,}, {label}: peak, stage ends", figure, TARGET)
