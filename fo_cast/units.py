"""How fo-cast writes durations, sizes and counts for people: one formatter each.

The website, the command line and the publish plan all say "1:15:00", "12.3 MB" and
"2 errors" the same way.
"""

from __future__ import annotations


def format_clock(seconds: float) -> str:
    """Returns a duration as a clock: 75 -> "1:15", 4500 -> "1:15:00", 3725 -> "1:02:05"."""
    total = int(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def format_size(size: int) -> str:
    """Returns a byte count for people (powers of 1000): "812 B", "40 KB", "12.3 MB", "1.5 GB"."""
    if size < 1000:
        return f"{size} B"
    if size < 1_000_000:
        return f"{round(size / 1000)} KB"
    if size < 1_000_000_000:
        return f"{size / 1_000_000:.1f} MB"
    return f"{size / 1_000_000_000:.1f} GB"


def plural(n: int, noun: str) -> str:
    """Returns a count with its noun: (1, "error") -> "1 error", (2, "error") -> "2 errors"."""
    return f"{n} {noun}{'' if n == 1 else 's'}"
