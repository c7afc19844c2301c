"""Every option a publish may be told, with what None means, in one place: the command line
fills it, `session.prepare_publish()` and the publish stamp read it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


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
