"""One publish from start to plan: build, choose the target, guard it, read its state, plan.

`prepare_publish()` is what `fo-cast publish` does before anything is uploaded; the CLI then
prints the plan or hands it to `run.publish()`. Every publish option lives in
`PublishOptions`, with its default, once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from fo_cast.build import build_catalogue
from fo_cast.catalogue.importer import imported_items
from fo_cast.catalogue.reader import Catalogue
from fo_cast.errors import UsageError
from fo_cast.outputs import Build
from fo_cast.publish.guard import PublishedItem, load_record, seed_record
from fo_cast.publish.plan import Plan, load_hash_cache, plan_publish, save_hash_cache
from fo_cast.render.site import video_guid
from fo_cast.state import HASH_CACHE
from fo_cast.storage import Storage, storage_for
from fo_cast.tree import overlap_with

DEFAULT_FOLDER = "public"  # the target without --to or [publish] target: beside the catalogue


@dataclass(frozen=True)
class PublishOptions:
    """What a publish may be told; None means "as fo-cast.toml says, else fo-cast's default"."""

    to: str | None = None  # target URL; else [publish] target; else DEFAULT_FOLDER
    endpoint_url: str | None = None  # else [publish] endpoint_url
    base_url: str | None = None  # else base_url of fo-cast.toml
    max_deletes: int | None = None  # else [publish] max_deletes
    prune: bool = False
    force: bool = False
    allow_removal: tuple[str, ...] = ()
    strict: bool = False
    read_timeout: float | None = None  # S3: the backend's default unless set
    max_attempts: int | None = None  # S3: likewise
    now: datetime | None = None


@dataclass
class Session:
    """A publish ready to run: its build, target and plan (no plan when the build failed)."""

    build: Build
    storage: Storage | None = None
    plan: Plan = field(default_factory=Plan)

    @property
    def failed(self) -> bool:
        return self.storage is None


def prepare_publish(catalogue: Path, options: PublishOptions) -> Session:
    """Returns the session for publishing catalogue as options say, its plan made.

    A catalogue with problems gives a session with no target (`failed`), its report in the
    build. Raises UsageError for a target that overlaps the catalogue; the storage backends
    raise StorageError for a target that cannot be read.
    """
    checked, result = build_catalogue(
        catalogue, now=options.now, base_url=options.base_url, strict=options.strict
    )
    if result.report.failed(strict=options.strict):
        return Session(result)
    settings = checked.catalogue.settings.publish
    tuning = {"read_timeout": options.read_timeout, "max_attempts": options.max_attempts}
    storage = storage_for(
        target_url(catalogue, options.to, settings.target),
        options.endpoint_url or settings.endpoint_url,
        **{name: value for name, value in tuning.items() if value is not None},
    )
    folder = storage.local_folder()  # a local folder: never the catalogue's own files
    if folder is not None and (overlap := overlap_with(catalogue, folder)):
        raise UsageError(f"the target {folder.resolve().as_uri()} {overlap}; publish elsewhere")
    cache = load_hash_cache(catalogue / HASH_CACHE)
    plan = plan_publish(
        result,
        storage.list(),
        force=options.force,
        prune=options.prune,
        max_deletes=settings.max_deletes if options.max_deletes is None else options.max_deletes,
        hash_cache=cache,
        record=seed_record(load_record(storage), imported_record(checked.catalogue)),
        # An episode leaves the video feed with the audio one: its video GUID goes too.
        allow_removal={g for guid in options.allow_removal for g in (guid, video_guid(guid))},
        now=options.now,
    )
    save_hash_cache(catalogue / HASH_CACHE, cache)
    return Session(result, storage, plan)


def imported_record(catalogue: Catalogue) -> list[PublishedItem]:
    """Returns the items of the catalogue's imported shows as the guard records them."""
    return [
        PublishedItem(feed, row["guid"], row.get("enclosure_url", ""), row.get("title", ""),
                      row.get("imported", ""))
        for feed, row in imported_items(catalogue)
    ]  # fmt: skip


def target_url(catalogue: Path, to: str | None, settings_target: str | None) -> str:
    """Returns the target URL: --to, else fo-cast.toml, else the folder public/ beside it."""
    if to:
        return to
    if settings_target:
        if "://" in settings_target or Path(settings_target).is_absolute():
            return settings_target
        # A relative folder in fo-cast.toml is relative to the folder holding the catalogue.
        return str((catalogue.resolve().parent / settings_target).resolve())
    return str(catalogue.resolve().parent / DEFAULT_FOLDER)
