"""A pause of Python's cyclic garbage collector around the stages that allocate a lot.

Reading or rendering a large catalogue creates millions of small objects that hold no
reference cycles; the collector would scan them again and again (about 15 % of `validate`
on 10,000 episodes). Reference counting still frees everything as usual.

Turning the collector back on is not free either: the first collection after the block
scans every object the block left alive (about 0.5 s after reading 10,000 episodes). A
short-lived process, the command line, calls `for_one_command()`: then what a block leaves
alive is frozen (`gc.freeze()`: kept out of every later collection) instead. A long-lived
one, a test run or a program using fo-cast as a library, keeps the default: its objects
are scanned, and freed, as usual.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

_freeze = False


def for_one_command() -> None:
    """Says the process ends with the command: objects alive after a block are frozen."""
    global _freeze
    _freeze = True


@contextmanager
def paused_gc() -> Iterator[None]:
    """Disables the cyclic collector inside the block, restoring its previous state."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if _freeze:
            gc.freeze()
        if enabled:
            gc.enable()
