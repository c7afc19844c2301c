"""The publish stamp: a publish with nothing changed, here or at the target, does no work.

A publish that has sent everything keeps in the catalogue (`.fo-cast/publish/`, one file
per set of options) a snapshot stamp (snapshot.py: every catalogue file, fo-cast's code, the
options, the clocks the result holds for) with the state it left the target in
(`storage.TargetState`: every object's key, size and ETag, and the tags of the hash index
and the GUID record). The next publish with the same options takes the snapshot; when the
stamp holds, it lists the target once, and when that listing's digest is the stamp's and no
lock is there, the target holds exactly this build: the publish is done, having read no
manifest, rendered nothing and taken no lock (it writes nothing).

Anything else makes the publish take the whole path: an edit in the catalogue, a publish
from another checkout (its puts, its hash index or its GUID record), an object added,
replaced or deleted by hand, the target emptied, a lock held now or left by a killed
publish (whose uploads the whole path cleans up under the lock).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fo_cast import snapshot
from fo_cast.problems import Report
from fo_cast.publish.plan import Plan
from fo_cast.state import PUBLISH_STAMPS
from fo_cast.storage import Storage, storage_for

if TYPE_CHECKING:
    from fo_cast.publish.options import PublishOptions


def options_key(options: PublishOptions) -> tuple[str, ...]:
    """Returns the options that decide what a publish sends (not how long it waits)."""
    return (
        "publish",
        f"to={options.to or ''}",
        f"endpoint={options.endpoint_url or ''}",
        f"base_url={options.base_url or ''}",
        f"strict={options.strict}",
        f"prune={options.prune}",
        f"adopt={options.adopt}",
        f"max_deletes={options.max_deletes}",
        "allow_removal=" + ",".join(sorted(options.allow_removal)),
    )


def stamp_file(catalogue: Path, options: PublishOptions) -> Path:
    """Returns where the stamp of the last publish with these options is kept."""
    name = hashlib.blake2b("\0".join(options_key(options)).encode(), digest_size=12)
    return catalogue / PUBLISH_STAMPS / f"{name.hexdigest()}.json"


def take(catalogue: Path, options: PublishOptions) -> snapshot.Snapshot | None:
    """Returns the snapshot of the catalogue for a publish with these options."""
    return snapshot.take(catalogue, *options_key(options))


@dataclass
class Reused:
    """What the last publish's stamp says: its target, and a plan if nothing changed."""

    target: str
    endpoint_url: str | None
    storage: Storage | None = None  # opened when the stamp held, to list the target
    plan: Plan | None = None  # None: something changed here or there; plan it again
    report: Report | None = None  # the stamped publish's warnings
    base_url: str = ""


def reuse(
    catalogue: Path,
    taken: snapshot.Snapshot | None,
    options: PublishOptions,
    tuning: dict[str, Any],
) -> Reused | None:
    """Returns what the last publish's stamp says; None when there is no stamp.

    When it holds for the catalogue now (same snapshot, options and clock window), the
    target is listed once; the plan is the stamped publish's (nothing to upload, nothing to
    delete) only if the target is as that publish left it.
    """
    stamp = snapshot.read_stamp(stamp_file(catalogue, options))
    if stamp is None:
        return None
    try:
        extra = stamp.extra
        target, endpoint, remote = str(extra["target"]), extra["endpoint"], str(extra["remote"])
        keys = [[str(key) for key in extra[name]] for name in ("unchanged", "stale", "foreign")]
        base_url = str(extra["base_url"])
    except (KeyError, TypeError):
        return None
    found = Reused(target, None if endpoint is None else str(endpoint))
    clock = options.now or datetime.now(UTC)
    if options.force or taken is None or not stamp.holds(taken, clock, catalogue):
        return found
    found.storage = storage = storage_for(target, found.endpoint_url, **tuning)
    state = storage.state()
    if state.locked or state.digest != remote:
        return found
    found.plan = Plan(unchanged=keys[0], stale=keys[1], foreign=keys[2], reused=True)
    found.report, found.base_url = stamp.report(), base_url
    return found


@dataclass
class PendingStamp:
    """The stamp a publish keeps once everything arrived (see publish.run.publish)."""

    path: Path
    stamp: snapshot.Stamp

    def write(self, storage: Storage, plan: Plan) -> None:
        """Stores the stamp with the state this publish left the target in."""
        self.stamp.extra.update(
            remote=storage.settled_state().digest,
            unchanged=plan.keys,
            stale=plan.stale,
            foreign=plan.foreign,
        )
        snapshot.write_stamp(self.path, self.stamp)
