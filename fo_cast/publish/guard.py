"""The GUID guard: a record, kept at the target, of every item ever published in every feed.

Podcast apps know an episode by its GUID and often by its enclosure URL. A GUID that
vanishes or changes makes apps drop the episode or download it again; an old enclosure URL
reused for another GUID makes them play the wrong file. Neither can be undone once a feed
is out, so publishing refuses both unless the producer names the GUID with --allow-removal.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable
from dataclasses import asdict, dataclass, replace
from datetime import datetime

from fo_cast.errors import StorageError
from fo_cast.outputs import FeedItem
from fo_cast.storage import RESERVED_PREFIX, Storage

RECORD_KEY = RESERVED_PREFIX + "published.json"


@dataclass(frozen=True)
class PublishedItem:
    """One (feed, GUID) as it was last published."""

    feed: str
    guid: str
    enclosure_url: str
    title: str
    first_published: str  # ISO 8601, the publish that first sent it out
    removed: str | None = None  # ISO 8601 when a producer allowed its removal


@dataclass(frozen=True)
class GuardRecord:
    """Every item ever published at one target, keyed by (feed, guid)."""

    items: dict[tuple[str, str], PublishedItem]
    seeded: bool = False  # holds imported items the target has not recorded yet

    @classmethod
    def from_bytes(cls, data: bytes | None) -> GuardRecord:
        """Returns the record stored at the target; an empty one if there is none yet."""
        if data is None:
            return cls({})
        try:
            rows = json.loads(data)["items"]
            items = [PublishedItem(**row) for row in rows]
        except (ValueError, KeyError, TypeError) as error:
            # Never guess: publishing past a damaged record could break subscribers.
            raise StorageError(
                f"{RECORD_KEY} at the target is damaged ({error}); restore it from a backup"
            ) from error
        return cls({(i.feed, i.guid): i for i in items})

    def to_bytes(self) -> bytes:
        """Returns the record as stable JSON: same items, same bytes."""
        rows = [asdict(self.items[k]) for k in sorted(self.items)]
        return json.dumps({"version": 1, "items": rows}, indent=1, ensure_ascii=False).encode()

    def active(self) -> list[PublishedItem]:
        return [i for k, i in sorted(self.items.items()) if i.removed is None]


def load_record(storage: Storage) -> GuardRecord:
    """Returns the GUID record kept at the target (empty before the first publish)."""
    return GuardRecord.from_bytes(storage.read(RECORD_KEY))


def seed_record(record: GuardRecord, imported: Iterable[PublishedItem]) -> GuardRecord:
    """Returns the record with the items imported from another host that it lacks: apps
    already know those GUIDs, so the guard protects them from the first publish on."""
    items = dict(record.items)
    added = False
    for item in imported:
        if (item.feed, item.guid) not in items:
            items[(item.feed, item.guid)] = item
            added = True
    return GuardRecord(items, seeded=record.seeded or added) if added else record


def check_guard(
    record: GuardRecord, items: Iterable[FeedItem], allow_removal: Collection[str] = ()
) -> list[str]:
    """Returns one message per published promise this build would break; empty means go."""
    items = list(items)
    current = {(i.feed, i.guid) for i in items}
    problems: list[str] = []
    renamed: set[tuple[str, str]] = set()  # (feed, new guid) already reported as a change
    by_url = {(i.feed, i.enclosure_url): i for i in items}
    for old in record.active():
        if (old.feed, old.guid) in current or old.guid in allow_removal:
            continue
        new = by_url.get((old.feed, old.enclosure_url))
        if new is not None:
            renamed.add((new.feed, new.guid))
            problems.append(
                f'{new.manifest}: "{new.title}": GUID changed from {old.guid} to {new.guid} '
                f"in {old.feed}; every app would download the episode again. Set the GUID "
                f"back to {old.guid}, or pass --allow-removal {old.guid}"
            )
        else:
            problems.append(
                f'{old.feed}: "{old.title}" (GUID {old.guid}) was published and is missing '
                f"now; podcast apps would drop it. Put the episode back, or pass "
                f"--allow-removal {old.guid}"
            )
    problems.extend(_reused_urls(record, items, allow_removal, renamed))
    return problems


def update_record(
    record: GuardRecord,
    items: Iterable[FeedItem],
    now: datetime,
    allow_removal: Collection[str] = (),
) -> GuardRecord:
    """Returns the record after this build is published: new items added, removals marked."""
    stamp = now.isoformat(timespec="seconds")
    updated = dict(record.items)
    current = set()
    for item in items:
        key = (item.feed, item.guid)
        current.add(key)
        old = updated.get(key)
        first = old.first_published if old else stamp
        updated[key] = PublishedItem(item.feed, item.guid, item.enclosure_url, item.title, first)
    for key, old in record.items.items():
        if key not in current and old.removed is None and old.guid in allow_removal:
            updated[key] = replace(old, removed=stamp)
    return GuardRecord(updated)


def _reused_urls(
    record: GuardRecord,
    items: list[FeedItem],
    allow_removal: Collection[str],
    renamed: set[tuple[str, str]],
) -> list[str]:
    owners: dict[str, PublishedItem] = {}
    for published in record.active():
        owners.setdefault(published.enclosure_url, published)
    problems = []
    for new in sorted(items, key=lambda i: (i.feed, i.guid)):
        old = owners.get(new.enclosure_url)
        if old is None or old.guid == new.guid or old.guid in allow_removal:
            continue
        if (new.feed, new.guid) in renamed:
            continue
        problems.append(
            f'{new.manifest}: "{new.title}" (GUID {new.guid}) uses the enclosure URL '
            f'{new.enclosure_url}, published before for GUID {old.guid} ("{old.title}"); '
            "apps would mix the two episodes up. Give the new episode its own file name"
        )
    return problems
