"""The GUID guard: a record, kept at the target, of every item ever published in every feed.

Podcast apps know an episode by its GUID and often by its enclosure URL. A GUID that
vanishes or changes makes apps drop the episode or download it again; an old enclosure URL
reused for another GUID makes them play the wrong file. Neither can be undone once a feed
is out, so publishing refuses both unless the producer names the GUID with --allow-removal.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime

from fo_cast.errors import StorageError
from fo_cast.limits import load_json
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
    page_url: str | None = None  # the episode page it was last published with
    old_urls: tuple[str, ...] = ()  # enclosure and page URLs it had before: kept redirecting

    def row(self) -> dict[str, object]:
        row = asdict(self)
        if not self.old_urls:
            del row["old_urls"]
        else:
            row["old_urls"] = list(self.old_urls)
        return row


@dataclass(frozen=True)
class GuardRecord:
    """Every item ever published at one target, keyed by (feed, guid)."""

    items: dict[tuple[str, str], PublishedItem]
    tag: str | None = field(default=None, compare=False)  # as read: for compare-and-swap
    seeded: bool = field(default=False, compare=False)  # holds imported items not yet saved

    @classmethod
    def from_bytes(cls, data: bytes | None, tag: str | None = None) -> GuardRecord:
        """Returns the record stored at the target; an empty one if there is none yet."""
        if data is None:
            return cls({}, tag)
        try:
            rows = load_json(data)["items"]
            items = [
                PublishedItem(**{**row, "old_urls": tuple(row.get("old_urls", ()))}) for row in rows
            ]
        except (ValueError, KeyError, TypeError) as error:
            # Never guess: publishing past a damaged record could break subscribers.
            raise StorageError(
                f"{RECORD_KEY} at the target is damaged ({error}); restore it from a backup"
            ) from error
        return cls({(i.feed, i.guid): i for i in items}, tag)

    def to_bytes(self) -> bytes:
        """Returns the record as stable JSON: same items, same bytes."""
        rows = [self.items[k].row() for k in sorted(self.items)]
        return json.dumps({"version": 1, "items": rows}, indent=1, ensure_ascii=False).encode()

    def active(self) -> list[PublishedItem]:
        return [i for k, i in sorted(self.items.items()) if i.removed is None]


def load_record(storage: Storage) -> GuardRecord:
    """Returns the GUID record kept at the target (empty before the first publish)."""
    return GuardRecord.from_bytes(*storage.read_tagged(RECORD_KEY))


def save_record(storage: Storage, ours: GuardRecord, tries: int = 20) -> GuardRecord:
    """Returns the record as saved: ours, by compare-and-swap on the tag it was read with.

    If another publish saved the record meanwhile, it is read again and merged with ours,
    never overwritten: every (feed, GUID) either holds stays, so no GUID ever leaves the
    record but by --allow-removal (which marks it removed, and keeps it).
    """
    record = ours
    for _ in range(tries):
        tag = storage.write_if(RECORD_KEY, record.to_bytes(), record.tag)
        if tag is not None:
            return GuardRecord(record.items, tag)
        theirs = GuardRecord.from_bytes(*storage.read_tagged(RECORD_KEY))
        record = GuardRecord(merge_records(theirs, ours).items, theirs.tag)
    raise StorageError(f"{RECORD_KEY} kept changing while it was saved; run publish again")


def merge_records(theirs: GuardRecord, ours: GuardRecord) -> GuardRecord:
    """Returns the union of two records: ours wins for items in both, keeping the earliest
    first publication and every old URL either knew."""
    merged = dict(theirs.items)
    for key, item in ours.items.items():
        other = merged.get(key)
        if other is not None:
            first = min(other.first_published, item.first_published)
            old = tuple(dict.fromkeys((*other.old_urls, *item.old_urls)))
            current = {item.enclosure_url, item.page_url}
            item = replace(
                item, first_published=first, old_urls=tuple(u for u in old if u not in current)
            )
        merged[key] = item
    return GuardRecord(merged, theirs.tag)


def moved_urls(record: GuardRecord) -> dict[str, str]:
    """Returns old URL -> current URL for every published item still live (re-slugged)."""
    moved: dict[str, str] = {}
    for item in record.active():
        for old in item.old_urls:
            is_page = item.page_url is not None and old.endswith("/")
            new = item.page_url if is_page else item.enclosure_url
            if new is not None and old != new:
                moved.setdefault(old, new)
    return moved


def seed_record(record: GuardRecord, imported: Iterable[PublishedItem]) -> GuardRecord:
    """Returns the record with the items imported from another host that it lacks: apps
    already know those GUIDs, so the guard protects them from the first publish on."""
    items = dict(record.items)
    added = False
    for item in imported:
        if (item.feed, item.guid) not in items:
            items[(item.feed, item.guid)] = item
            added = True
    return GuardRecord(items, record.tag, seeded=True) if added else record


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
        before = (*old.old_urls, old.enclosure_url, old.page_url) if old else ()
        now_at = {item.enclosure_url, item.page_url}
        old_urls = tuple(u for u in dict.fromkeys(before) if u and u not in now_at)
        updated[key] = PublishedItem(
            item.feed, item.guid, item.enclosure_url, item.title, first,
            page_url=item.page_url, old_urls=old_urls,
        )  # fmt: skip
    for key, old in record.items.items():
        if key not in current and old.removed is None and old.guid in allow_removal:
            updated[key] = replace(old, removed=stamp)
    return GuardRecord(updated, record.tag)


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
