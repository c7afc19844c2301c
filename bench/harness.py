"""What every benchmark module gets: a work folder, synthetic catalogues, timed steps, a summary.

A module of bench/ that `run.py` lists in STEPS defines `run(bench: Bench) -> None`; it
prints its own lines and adds its headline figures with `bench.summary()`, which `run.py`
prints as one table (the one in the README) at the end.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
FO_CAST = Path(sys.executable).parent / "fo-cast"
EPISODES = int(os.environ.get("BENCH_EPISODES", "10000"))
RUNS = int(os.environ.get("BENCH_RUNS", "3"))  # whole commands: the median of this many

sys.path.insert(0, str(HERE))
from synth import make_catalogue  # noqa: E402


def settle(root: Path) -> None:
    """Dates a fresh synthetic catalogue an hour back, as a catalogue nobody is editing."""
    when = time.time() - 3600
    for folder, _, files in os.walk(root):
        for name in files:
            os.utime(os.path.join(folder, name), (when, when), follow_symlinks=False)


@dataclass
class Bench:
    work: Path
    rows: list[tuple[str, str, str]] = field(default_factory=list)
    figures: dict[str, dict[str, float]] = field(default_factory=dict)  # shared between steps
    _catalogues: dict[int, Path] = field(default_factory=dict)

    def catalogue(self, episodes: int = EPISODES) -> Path:
        """Returns a synthetic catalogue of that many episodes (2 shows, every 10th with
        video, the sample media hard-linked), made once per run of the benchmark."""
        if episodes not in self._catalogues:
            root = self.work / f"catalogue-{episodes}"
            start = time.perf_counter()
            make_catalogue(root, episodes, shows=2, video_every=10)
            settle(root)
            took = time.perf_counter() - start
            print(f"(synthetic catalogue: {episodes} episodes in {took:.1f} s)")
            self._catalogues[episodes] = root
        return self._catalogues[episodes]

    def forget(self, episodes: int) -> None:
        """Removes a catalogue no later step needs (the 50,000 one holds 250,000 files)."""
        root = self._catalogues.pop(episodes, None)
        if root is not None:
            shutil.rmtree(root, ignore_errors=True)

    def step(self, *args: str) -> dict[str, float]:
        """Runs bench/step.py in a fresh process: its seconds and peak RSS, and what it adds."""
        out = subprocess.run(
            [sys.executable, str(HERE / "step.py"), *args],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        return json.loads(out.stdout.strip().splitlines()[-1])

    def command(self, argv: list[str], env: dict[str, str] | None = None) -> dict[str, float]:
        """Runs a whole command once: wall seconds and peak RSS (/usr/bin/time)."""
        with tempfile.NamedTemporaryFile("r", suffix=".time") as timing:
            start = time.perf_counter()
            done = subprocess.run(
                ["/usr/bin/time", "-o", timing.name, "-f", "%M %U %S", *argv],
                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            )  # fmt: skip
            seconds = time.perf_counter() - start
            if done.returncode not in (0, 1):  # 1: catalogue warnings under --strict
                raise RuntimeError(f"{argv[0]} failed: {done.stderr[-2000:]}")
            rss_kb, user, system = timing.read().strip().splitlines()[-1].split()
        return {
            "seconds": round(seconds, 3),
            "peak_rss_mb": round(int(rss_kb) / 1024, 1),
            "cpu_seconds": round(float(user) + float(system), 2),  # steadier on a busy machine
        }

    def fo_cast(self, *args: str, runs: int = RUNS, before: object = None) -> dict[str, float]:
        """Runs `fo-cast ARGS` `runs` times: the median seconds and the highest peak RSS.

        before: called before each run (to make every run cold, or to edit a file)."""
        results = []
        for _ in range(runs):
            if callable(before):
                before()
            results.append(self.command([str(FO_CAST), *args]))
        return {
            "seconds": statistics.median(r["seconds"] for r in results),
            "peak_rss_mb": max(r["peak_rss_mb"] for r in results),
            "cpu_seconds": statistics.median(r["cpu_seconds"] for r in results),
        }

    def line(self, label: str, result: dict[str, float], extra: str = "") -> None:
        seconds, rss = result["seconds"], result["peak_rss_mb"]
        cpu = f"(cpu {result['cpu_seconds']:.2f} s) " if "cpu_seconds" in result else ""
        print(f"  {label:<48} {seconds:>7.2f} s  {rss:>7.1f} MB {cpu}{extra}")

    def summary(self, step: str, result: dict[str, float] | str, anchor: str = "") -> None:
        """Adds a row to the closing table: the step, its figure, the anchor or target."""
        if isinstance(result, dict):
            figure = f"{result['seconds']:.2f} s, {result['peak_rss_mb']:.0f} MB"
            if "cpu_seconds" in result:
                figure += f" (cpu {result['cpu_seconds']:.2f} s)"
        else:
            figure = result
        self.rows.append((step, figure, anchor))

    def table(self) -> str:
        lines = ["| step | measured | anchor / target |", "| --- | --- | --- |"]
        lines += [f"| {a} | {b} | {c} |" for a, b, c in self.rows]
        return "\n".join(lines)


def ratio(ours: dict[str, float], theirs: dict[str, float]) -> str:
    return f"{ours['seconds'] / max(theirs['seconds'], 1e-9):.2f}x"
