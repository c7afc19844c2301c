"""The table of episodes that `fo-cast list` shows: one row per episode, in a stable order."""

from __future__ import annotations

from typing import Any

from fo_cast.catalogue.models import Status
from fo_cast.catalogue.reader import Catalogue
from fo_cast.errors import UsageError
from fo_cast.media.probe import Probed


def episode_rows(
    catalogue: Catalogue,
    probed: Probed,
    show: str | None = None,
    status: Status | None = None,
) -> list[dict[str, Any]]:
    """Returns a row per episode (show, date, title, status, duration in seconds, media, guid,
    manifest), by show, then date (undated last), then title; raises UsageError for a show
    the catalogue does not have."""
    if show is not None and catalogue.show(show) is None:
        shows = ", ".join(s.slug for s in catalogue.shows) or "none"
        raise UsageError(f"no show '{show}' in {catalogue.root} (shows: {shows})")
    rows: list[dict[str, Any]] = []
    for entry in catalogue.episodes():
        episode = entry.episode
        if (show and entry.show != show) or (status and episode.status is not status):
            continue
        infos = [probed.media.get(entry.media_file(m.file)) for m in episode.media if m.file]
        duration = max((i.duration for i in infos if i), default=None)
        duration = duration or max((m.duration or 0 for m in episode.media), default=None)
        rows.append(
            {
                "show": entry.show,
                "date": episode.published.date().isoformat() if episode.published else None,
                "title": episode.title,
                "status": episode.status.value,
                "duration": round(duration) if duration else None,
                "media": [m.file or m.url for m in episode.media],
                "guid": episode.guid,
                "manifest": str(entry.manifest),
            }
        )
    rows.sort(key=lambda r: (r["show"], r["date"] or "9999", r["title"]))
    return rows
