"""Work on another core: a function run in a forked worker process, its result sent back.

A forked worker starts with the parent's memory (the resolved site, the compiled templates),
so nothing but the result crosses between the processes (pickled over a pipe between the
two processes of one run; nothing pickled is ever stored or read from elsewhere). A worker
does one task and leaves with `os._exit`: it runs none of the parent's exit handlers, dies
with the parent (Linux), and leaves the default signal handlers in place, so it can never
outlive a killed run and keep a file or lock it inherited. Where fork is missing (Windows),
or with one core, the function simply runs in this process: the bytes are the same.
"""

from __future__ import annotations

import functools
import os
import pickle
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Generic, TypeVar

from fo_cast.errors import FoCastError

T = TypeVar("T")
A = TypeVar("A")
R = TypeVar("R")
MIN_SHARE = 32  # fewer items than this per core: forking costs more than it saves


def cores() -> int:
    """Returns how many cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def process_running(pid: int) -> bool:
    """Returns whether a process of this pid runs on this host (one of another user's too)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, another user's
    except (OverflowError, ValueError):
        return False  # past any pid there can be
    return True


def _can_fork() -> bool:
    return hasattr(os, "fork") and sys.platform != "darwin"  # macOS: fork is unsafe


def _die_with_parent(parent: int) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the parent's handlers (its lock)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    try:
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # the parent died before prctl
        os._exit(1)


def _start(task: Callable[[], Any]) -> tuple[int, int]:
    """Returns the pid and the reading end of the pipe of a worker running task()."""
    parent = os.getpid()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the worker: one task, its result down the pipe, then gone
        try:
            os.close(read)
            _die_with_parent(parent)
            try:
                payload = pickle.dumps((True, task()), pickle.HIGHEST_PROTOCOL)
            except BaseException as exc:  # noqa: BLE001 - sent to the parent, raised there
                try:
                    payload = pickle.dumps((False, exc), pickle.HIGHEST_PROTOCOL)
                except Exception:  # noqa: BLE001 - an exception that does not pickle
                    payload = pickle.dumps((False, FoCastError(f"in a worker: {exc!r}")))
            with os.fdopen(write, "wb") as out:
                out.write(payload)
        finally:
            os._exit(0)
    os.close(write)
    return pid, read


def _finish(pid: int, read: int) -> Any:
    """Returns the worker's result (raising its exception), once it has sent it and left."""
    with os.fdopen(read, "rb") as pipe:
        payload = pipe.read()
    os.waitpid(pid, 0)
    if not payload:
        raise FoCastError("a worker process died before it finished; run the command again")
    ok, value = pickle.loads(payload)  # noqa: S301 - from our own child, over our own pipe
    if not ok:
        raise value
    return value


def _stop(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass


class Pending(Generic[T]):
    """A task's result to come: from a worker process, or already known."""

    def __init__(self, worker: tuple[int, int] | None = None) -> None:
        self.worker = worker
        self._value: T | None = None
        self._error: BaseException | None = None

    def result(self) -> T:
        """Returns the task's result (waiting for its worker), or raises its exception."""
        if self.worker is not None:
            worker, self.worker = self.worker, None
            try:
                self._value = _finish(*worker)
            except Exception as exc:  # noqa: BLE001 - kept: every call raises it
                self._error = exc
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]

    def cancel(self) -> None:
        """Stops a worker whose result nobody will ask for."""
        if self.worker is not None:
            pid, read = self.worker
            self.worker = None
            os.close(read)
            _stop(pid)


@contextmanager
def forked(task: Callable[[], T], parallel: bool = True) -> Iterator[Pending[T]]:
    """Yields the pending result of task(), run in a forked process while the block runs.

    The block may do other work meanwhile; result() waits for the worker. parallel=False
    (or a machine without fork or a second core) runs task() here, before the block.
    """
    if not parallel or cores() < 2 or not _can_fork():
        pending: Pending[T] = Pending()
        try:
            pending._value = task()
        except Exception as exc:  # noqa: BLE001 - raised by result(), as a worker's would be
            pending._error = exc
        yield pending
        return
    pending = Pending(_start(task))
    try:
        yield pending
    finally:
        pending.cancel()  # the block failed, or never asked: the worker is not needed


def map_forked(task: Callable[[list[A]], list[R]], items: list[A]) -> list[R]:
    """Returns task(items), with items split into one share per core, each share but the
    first run in a forked worker process while this one runs the first (task gets a list
    and returns a list). The results come back in the items' order."""
    n = min(cores(), len(items) // MIN_SHARE)
    if n < 2 or not _can_fork():
        return task(items)
    size = -(-len(items) // n)
    shares = [items[i : i + size] for i in range(0, len(items), size)]
    workers: list[Pending[list[R]]] = [
        Pending(_start(functools.partial(task, share))) for share in shares[1:]
    ]
    try:
        results = task(shares[0])
        for worker in workers:
            results.extend(worker.result())
    finally:
        for worker in workers:
            worker.cancel()
    return results
