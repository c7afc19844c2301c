"""Whole `fo-cast` commands as a producer runs them, interpreter start included: start-up,
a cold build, nothing changed, one companion changed; then validate and build with nothing
changed at 1,000, 10,000 and 50,000 episodes, so that the growth shows."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from harness import EPISODES, ROOT, Bench

NOW = "2030-01-01T00:00:00+00:00"
SCALES = [int(n) for n in os.environ.get("BENCH_SCALES", "1000,10000,50000").split(",") if n]


def _cold(root: Path, out: Path) -> None:
    shutil.rmtree(root / ".fo-cast", ignore_errors=True)
    shutil.rmtree(out, ignore_errors=True)


def _edit(companion: Path) -> None:
    with companion.open("a", encoding="utf-8") as file:
        file.write("\nOne more line.\n")


def run(bench: Bench) -> None:
    print("start-up (target: <= 0.25 s)")
    for label, args in (
        ("fo-cast --help", ["--help"]),
        ("fo-cast validate (sample catalogue, warm)", ["validate", str(ROOT / "episodes")]),
    ):
        bench.fo_cast(*args, runs=1)  # stores the sample's report
        result = bench.fo_cast(*args)
        bench.line(label, result)
        bench.summary(label, result, "<= 0.25 s")

    root = bench.catalogue()
    out = bench.work / "cli-out"
    build = ("build", str(root), "--out", str(out), "--now", NOW)
    print(f"fo-cast build, {EPISODES} episodes, whole commands (targets: no-op, one change <= 1 s)")
    cold = bench.fo_cast(*build, before=lambda: _cold(root, out))
    bench.line("cold: validate + feeds + pages", cold)
    bench.figures["cold build"] = cold  # hugo_bench sets it beside Hugo's
    bench.fo_cast(*build, runs=1)  # stores the stamp of this catalogue
    noop = bench.fo_cast(*build)
    bench.line("nothing changed", noop)
    bench.summary(f"`fo-cast build` {EPISODES:,}, nothing changed", noop, "<= 1.0 s")
    companion = next(root.glob("show-1/*/companion.md"))
    one = bench.fo_cast(*build, before=lambda: _edit(companion))
    bench.line("one companion changed", one)
    bench.summary(f"`fo-cast build` {EPISODES:,}, one companion changed", one, "<= 1.0 s")
    shutil.rmtree(out, ignore_errors=True)

    print("growth: whole commands with nothing changed (targets: validate <= 0.8 s at 10,000)")
    for episodes in SCALES:
        root = bench.catalogue(episodes)
        out = bench.work / f"scale-out-{episodes}"
        bench.fo_cast("validate", str(root), runs=1)
        validate = bench.fo_cast("validate", str(root))
        bench.line(f"validate, nothing changed, {episodes:,} episodes", validate)
        target = {10000: "<= 0.8 s", 50000: "<= 3 s"}.get(episodes, "")
        bench.summary(f"`fo-cast validate` {episodes:,}, nothing changed", validate, target)
        build = ("build", str(root), "--out", str(out), "--now", NOW)
        first = bench.fo_cast(*build, runs=1)
        bench.line(f"build, cold, {episodes:,} episodes", first)
        noop = bench.fo_cast(*build)
        bench.line(f"build, nothing changed, {episodes:,} episodes", noop)
        bench.summary(f"`fo-cast build` {episodes:,}, nothing changed", noop, "<= 1.0 s")
        shutil.rmtree(out, ignore_errors=True)
        if episodes != EPISODES:
            bench.forget(episodes)
