"""Work on another core: a function run in a forked worker process, its result sent back.

A forked worker starts with the parent's memory (the resolved site, the compiled templates),
so nothing but the result crosses between the processes (pickled by multiprocessing over
its pipe; nothing pickled is ever stored). Where fork is missing (Windows, or one core), the
function simply runs in this process: the bytes are the same either way.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")
A = TypeVar("A")
R = TypeVar("R")
MIN_SHARE = 32  # fewer items than this per core: forking costs more than it saves
_TASKS: dict[int, Callable[[], Any]] = {}


def cores() -> int:
    """Returns how many cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _run(number: int) -> Any:
    return _TASKS[number]()


@contextmanager
def forked(task: Callable[[], T], parallel: bool = True) -> Iterator[Future[T]]:
    """Yields the future result of task(), run in a forked process while the block runs.

    The block may do other work meanwhile; leaving it waits for the worker. parallel=False
    (or a machine without fork or a second core) runs task() here, before the block.
    """
    if not parallel or cores() < 2 or "fork" not in multiprocessing.get_all_start_methods():
        done: Future[T] = Future()
        try:
            done.set_result(task())
        except BaseException as exc:
            done.set_exception(exc)
        yield done
        return
    number = id(task)
    _TASKS[number] = task  # before the fork: the worker finds it in its copy of memory
    try:
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork")) as pool:
            yield pool.submit(_run, number)
    finally:
        _TASKS.pop(number, None)


def map_forked(task: Callable[[list[A]], list[R]], items: list[A]) -> list[R]:
    """Returns task(items), with items split into one share per core, each share run in a
    forked worker process (task must be a module-level function; items and results are
    sent over pipes). The results come back in the items' order."""
    n = min(cores(), len(items) // MIN_SHARE)
    if n < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return task(items)
    size = -(-len(items) // n)
    shares = [items[i : i + size] for i in range(0, len(items), size)]
    with ProcessPoolExecutor(len(shares), mp_context=multiprocessing.get_context("fork")) as pool:
        return [result for part in pool.map(task, shares) for result in part]
