"""Publishing figures: fo-cast against `aws s3 sync` and `s5cmd sync` on a local SeaweedFS.

Whole commands (interpreter start included), each the median of RUNS: a cold publish of a
fresh catalogue (its caches removed before each run, validate and build included, to a
fresh prefix), then the built tree synced by aws and s5cmd, the three taking turns so that
the load of a shared machine falls on each alike; then publish with nothing changed, and
with one companion changed before each run. One more run of each of the last two, in
process, counts the HTTP requests sent.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from harness import FO_CAST, RUNS, Bench  # noqa: E402

from tests.s3server import running_seaweedfs  # noqa: E402

EPISODES = int(os.environ.get("BENCH_PUBLISH_EPISODES", "1000"))
TOOLS = ROOT / ".venv" / "tools" / "bin"


def command(argv: list[str], env: dict[str, str]) -> dict[str, float | str]:
    """Runs one whole command: wall seconds, peak RSS, CPU seconds and its stdout."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as timing:
        start = time.perf_counter()
        done = subprocess.run(
            ["/usr/bin/time", "-o", timing.name, "-f", "%M %U %S", *argv],
            env=env, capture_output=True, text=True,
        )  # fmt: skip
        seconds = time.perf_counter() - start
        if done.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed: {done.stderr[-2000:]}")
        rss_kb, user, system = timing.read().strip().splitlines()[-1].split()
    return {
        "seconds": round(seconds, 3),
        "peak_rss_mb": round(int(rss_kb) / 1024, 1),
        "cpu_seconds": round(float(user) + float(system), 2),
        "stdout": done.stdout,
    }


def median(results: list[dict[str, float | str]]) -> dict[str, float]:
    """Returns the median seconds and CPU, and the highest peak RSS, of several runs."""
    return {
        "seconds": statistics.median(float(r["seconds"]) for r in results),
        "peak_rss_mb": max(float(r["peak_rss_mb"]) for r in results),
        "cpu_seconds": statistics.median(float(r["cpu_seconds"]) for r in results),
    }


def each(results: list[dict[str, float | str]]) -> str:
    """Returns every run's seconds, in the order they ran: the spread behind a median."""
    return "runs " + " / ".join(f"{float(r['seconds']):.2f}" for r in results) + " s"


def uploads(result: dict[str, float | str]) -> int:
    return sum(1 for line in str(result["stdout"]).splitlines() if line.startswith("uploaded "))


def run(bench: Bench) -> None:
    from harness import settle
    from synth import make_publish_catalogue

    work, line = bench.work, bench.line
    root = work / "publish-catalogue"
    make_publish_catalogue(root, EPISODES, media_mb=1.5, big_mb=200)
    settle(root)
    total = sum(p.stat().st_size for p in root.glob("show-*/*/audio.mp3"))
    print(
        f"publish, {EPISODES} episodes, {total / 2**30:.2f} GiB of media, medians of {RUNS} "
        "(targets: cold <= aws s3 sync; nothing changed <= 0.8 s; one change <= 1.2 s)"
    )
    (work / "seaweedfs").mkdir()
    tree = work / "tree"
    with running_seaweedfs(work / "seaweedfs") as server:
        os.environ.update(server.env)  # for the in-process counting runs (bench.step)
        env = {**os.environ, "AWS_DEFAULT_REGION": "us-east-1"}
        bucket, endpoint = server.bucket, server.endpoint

        def publish(prefix: str) -> dict[str, float | str]:
            argv = [str(FO_CAST), "publish", str(root), "--to", f"s3://{bucket}/{prefix}",
                    "--endpoint-url", endpoint]  # fmt: skip
            return command(argv, env)

        built = command([str(FO_CAST), "build", str(root), "--out", str(tree)], env)
        line("(the tree for the sync tools: fo-cast build)", median([built]))
        tools = {
            "aws s3 sync": lambda n: [str(TOOLS / "aws"), "s3", "sync", "--only-show-errors",
                                      str(tree), f"s3://{bucket}/aws-{n}",
                                      "--endpoint-url", endpoint],
            "s5cmd sync": lambda n: [str(TOOLS / "s5cmd"), "--endpoint-url", endpoint, "sync",
                                     f"{tree}/", f"s3://{bucket}/s5cmd-{n}/"],
        }  # fmt: skip
        tools = {name: argv for name, argv in tools.items() if Path(argv(0)[0]).exists()}
        cold_runs: list[dict[str, float | str]] = []
        tool_runs: dict[str, list[dict[str, float | str]]] = {name: [] for name in tools}
        for n in range(RUNS):  # taking turns: the same load for each
            shutil.rmtree(root / ".fo-cast", ignore_errors=True)  # cold: no cache of any kind
            cold_runs.append(publish(f"fo-cast-{n}"))
            for name, argv in tools.items():
                tool_runs[name].append(command(argv(n), env))
        cold = median(cold_runs)
        uptime = os.getloadavg()
        rate = f"{total / 2**20 / cold['seconds']:.0f} MB/s"
        line("cold publish (validate + build included)", cold,
             f"{rate}, {uploads(cold_runs[-1])} uploads, {each(cold_runs)}")  # fmt: skip
        anchors = {name: median(runs) for name, runs in tool_runs.items()}
        for name, result in anchors.items():
            line(f"{name} (the built tree alone)", result, each(tool_runs[name]))
        ratios = ", ".join(
            f"{cold['seconds'] / result['seconds']:.2f}x `{name}`"
            for name, result in anchors.items()
        )
        bench.summary(f"publish {EPISODES:,} episodes, cold (validate + build included)", cold,
                      ratios or "aws and s5cmd not installed")  # fmt: skip
        for name, result in anchors.items():
            bench.summary(f"`{name}` of the built tree", result)

        last = f"fo-cast-{RUNS - 1}"
        noop_runs = [publish(last) for _ in range(RUNS)]
        noop = median(noop_runs)
        counted = bench.step("publish", str(root), f"s3://{bucket}/{last}", endpoint)
        line("nothing changed", noop, f"{counted['requests']} requests, {each(noop_runs)}")
        bench.summary("publish, nothing changed", noop,
                      f"<= 0.8 s; {counted['requests']} requests")  # fmt: skip

        companion = next(root.glob("show-0/*/companion.md"))

        def change() -> dict[str, float | str]:
            with companion.open("a", encoding="utf-8") as text:
                text.write(f"\nA fix at {time.time_ns()}.\n")
            return publish(last)

        one_runs = [change() for _ in range(RUNS)]
        one = median(one_runs)
        with companion.open("a", encoding="utf-8") as text:
            text.write("\nOne more fix.\n")
        counted = bench.step("publish", str(root), f"s3://{bucket}/{last}", endpoint)
        sent = f"{uploads(one_runs[-1])} uploads, {counted['requests']} requests"
        line("one episode changed", one, f"{sent}, {each(one_runs)}")
        bench.summary("publish, one episode changed", one, f"<= 1.2 s; {sent}")
        print(f"  (load average during the cold runs: {uptime[0]:.1f} {uptime[1]:.1f})")
    shutil.rmtree(root, ignore_errors=True)
