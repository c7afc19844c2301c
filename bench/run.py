"""`make bench`: the speed and memory figures of fo-cast, printed, never asserted.

Each step module below defines `run(bench)` (see harness.py) and runs its commands in fresh
processes, so every peak RSS is that command's own. To add one: write bench/NAME.py with a
`run(bench: Bench) -> None` and add "NAME" to STEPS. `BENCH_STEPS=cli_bench,hugo_bench`
runs only those.
"""

from __future__ import annotations

import importlib
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from harness import Bench  # noqa: E402

STEPS = [
    "core_bench",  # validate, feeds and pages in-process, against a plain feedgen script
    "cli_bench",  # whole commands: start-up, cold, no-op, one change; 1,000 to 50,000 episodes
    "mem_bench",  # a build's memory at each stage and its feed worker's, cold and one change
    "hugo_bench",  # Hugo building the same pages, beside fo-cast's cold build
    "site_bench",  # companion files, topic pages and the search index: cold and one change
    "tag_bench",  # fo-cast tag, cold and with nothing changed
    "publish_bench",  # publish against aws s3 sync and s5cmd sync on SeaweedFS
    "import_bench",  # fo-cast import of a generated 10,000-item feed, beside feedparser
]
# Modules written before run(bench): the hook each one has, called with what it takes.
HOOKS: dict[str, Callable[[Any, Bench], None]] = {
    "tag_bench": lambda module, bench: module.run_tag_bench(bench.work, bench.line),
    "import_bench": lambda module, bench: module.run_import_bench(bench.work, bench.line),
}


def main() -> None:
    chosen = [s for s in os.environ.get("BENCH_STEPS", "").split(",") if s] or STEPS
    started = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
    with tempfile.TemporaryDirectory(prefix="fo-cast-bench-") as tmp:
        bench = Bench(Path(tmp))
        for name in chosen:
            module = importlib.import_module(name)
            HOOKS.get(name, lambda module, bench: module.run(bench))(module, bench)
            print()
        print(f"Summary ({started} UTC, {os.cpu_count()} cores; medians of whole commands):")
        print(bench.table())


if __name__ == "__main__":
    main()
