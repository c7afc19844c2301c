"""Every option a publish may be told, with what None means, in one place: the command line
fills it, `session.prepare_publish()` and the publish stamp read it."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from fo_cast.errors import UsageError

# The longest each wait may be told: beyond, a typo (or inf) would hang a CI job for days.
LIMITS = {"read_timeout": (1.0, 3600.0), "wait": (0.0, 86400.0), "lease": (1.0, 86400.0)}


@dataclass(frozen=True)
class PublishOptions:
    """What a publish may be told; None means "as fo-cast.toml says, else fo-cast's default"."""

    to: str | None = None  # target URL; else [publish] target; else DEFAULT_FOLDER
    endpoint_url: str | None = None  # else [publish] endpoint_url
    base_url: str | None = None  # else base_url of fo-cast.toml
    max_deletes: int | None = None  # else [publish] max_deletes
    prune: bool = False
    adopt: bool = False  # publish into a target holding files fo-cast did not write
    force: bool = False
    allow_removal: tuple[str, ...] = ()
    strict: bool = False
    read_timeout: float | None = None  # S3: the backend's default unless set
    max_attempts: int | None = None  # S3: likewise
    now: datetime | None = None
    lock: bool = True  # take the target's lock (a dry run does not: it writes nothing)
    wait: float = 0  # seconds to wait for another publish's lock
    break_lock: bool = False  # take over an expired lock
    lease: float | None = None  # seconds; else FO_CAST_LOCK_LEASE, else 120

    def __post_init__(self) -> None:
        for name, (low, high) in LIMITS.items():
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and low <= value <= high):
                option = "--timeout" if name == "read_timeout" else f"--{name}"
                raise UsageError(f"{option} {value:g}: give seconds from {low:g} to {high:g}")
