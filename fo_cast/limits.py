"""Bounds on parsing what fo-cast did not write itself: nesting depth, sizes. One owner each.

Python's parsers recurse (json, tomllib, PyYAML's composer, mutagen's MP4 atoms and ID3
sub-frames), so a small file nested a few thousand levels deep ends in RecursionError, which
is no ValueError and slips past every `except ValueError`. The helpers here turn it into a
ValueError with a plain message, and refuse documents nested deeper than any manifest, cache
or feed needs, so a caller's existing `except ValueError` (or its Problem) covers them.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

MAX_DEPTH = 64  # levels of lists and tables in a manifest, settings, a cache, a JSON file
TOO_DEEP = f"nested more than {MAX_DEPTH} levels deep"

T = TypeVar("T")


class TooDeep(ValueError):
    """A document nests deeper than MAX_DEPTH (or than the parser's recursion can go)."""

    def __init__(self, what: str = TOO_DEEP) -> None:
        super().__init__(what)


@contextmanager
def no_recursion_error(message: str = TOO_DEEP) -> Iterator[None]:
    """Turns a RecursionError inside the block into TooDeep(message)."""
    try:
        yield
    except RecursionError:
        raise TooDeep(message) from None


def depth_of(value: Any, limit: int = MAX_DEPTH) -> int:
    """Returns how many lists and dicts nest in value (`[]` is 1, `[[]]` 2, a scalar 0),
    counting no further than limit + 1. Iterative, so it never recurses itself."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        if depth > deepest:
            deepest = depth
            if deepest > limit:
                return deepest
        stack.extend((child, depth + 1) for child in children)
    return deepest


def check_depth(value: T, limit: int = MAX_DEPTH) -> T:
    """Returns value; raises TooDeep if its lists and dicts nest deeper than limit."""
    if depth_of(value, limit) > limit:
        raise TooDeep(f"nested more than {limit} levels deep")
    return value


def load_json(data: str | bytes, *, limit: int | None = None) -> Any:
    """Returns json.loads(data); any nesting too deep for the decoder raises TooDeep.

    With `limit` the result is also checked to nest no deeper than that (iteratively; leave
    it out for fo-cast's own large caches, where the decoder's bound is enough).
    """
    try:  # no_recursion_error(), without a context manager's cost: caches call this a lot
        value = json.loads(data)
    except RecursionError:
        raise TooDeep(TOO_DEEP) from None
    if limit is None or _openings(data) <= limit:  # cannot nest deeper than it opens
        return value
    return check_depth(value, limit)


def _openings(data: str | bytes) -> int:
    """Returns how many `[` and `{` the text holds (those inside strings too): a bound on
    how deep what it decodes to can nest, found at C speed."""
    if isinstance(data, bytes):
        return data.count(b"[") + data.count(b"{")
    return data.count("[") + data.count("{")


def load_toml(text: str, *, limit: int = MAX_DEPTH) -> dict[str, Any]:
    """Returns tomllib.loads(text), refusing nesting deeper than limit (TooDeep).

    tomllib.TOMLDecodeError is a ValueError too; TooDeep is not a TOMLDecodeError.
    """
    with no_recursion_error():
        value = tomllib.loads(text)
    return check_depth(value, limit)


# Markdown companions: HTML sanitisers (html5ever under nh3) take time growing with the
# square of the nesting of block elements (20,000 nested quotes: 2.5 s; 100,000: minutes).
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)\b[^<>]*?(/?)>")
_VOID = frozenset("area base br col embed hr img input link meta param source track wbr".split())
_MARKER = r"(?:[-*+]|\d{1,9}[.)])[ \t]+"
_MARKERS = ("- ", "* ", "+ ", ". ", ") ")  # fewer than 64 in all: no run of 64 list markers
_CONTAINERS = re.compile(rf"[ \t>]*(?:{_MARKER}[ \t>]*)*")


def markdown_too_deep(text: str, limit: int = MAX_DEPTH) -> int | None:
    """Returns the first line where quotes, lists or HTML elements nest deeper than limit,
    or None. Errs on the deep side (four columns of indentation count as a level; a list
    needs two); linear in the text."""
    if (
        ("<" not in text or text.count("<") <= limit)
        and (">" not in text or text.count(">") <= limit)
        and " " * (4 * limit) not in text
        and "\t" * limit not in text
        and sum(map(text.count, _MARKERS)) <= limit
    ):
        return None  # the common case, decided at C speed (10,000 companions: 0.1 s)
    depth = 0
    for number, line in enumerate(text.split("\n"), 1):
        prefix = _CONTAINERS.match(line)
        head = prefix.group() if prefix else ""
        markers = len(re.findall(_MARKER, head))
        if max(head.count(">") + markers, len(head.expandtabs(4)) // 4) > limit:
            return number
        for tag in _TAG.finditer(line):
            closing, name, self_closing = tag.groups()
            if closing:
                depth = max(0, depth - 1)
            elif not self_closing and name.lower() not in _VOID:
                depth += 1
                if depth > limit:
                    return number
    return None


def guarded(call: Callable[[], T], message: str = TOO_DEEP) -> T:
    """Returns call(), a RecursionError inside it raised as TooDeep(message)."""
    with no_recursion_error(message):
        return call()


__all__ = [
    "MAX_DEPTH",
    "TOO_DEEP",
    "TooDeep",
    "check_depth",
    "depth_of",
    "guarded",
    "load_json",
    "load_toml",
    "markdown_too_deep",
    "no_recursion_error",
]
