"""The placeholders `fo-cast new` writes must not go out: errors in a scheduled or published
episode and in the show of one. Drafts may keep them.

The texts and the artwork marker are defined once, in scaffold; this module only looks for them.
"""

from __future__ import annotations

from pathlib import Path

from fo_cast.catalogue import scaffold
from fo_cast.catalogue.models import Status
from fo_cast.catalogue.reader import EpisodeEntry, ShowEntry
from fo_cast.problems import Report

FROM_NEW = "is the placeholder from `fo-cast new`"
STILL = "still the placeholder from `fo-cast new`"
# Pillow writes PNG text chunks right after the header, well inside this many bytes.
MARKER_WINDOW = 4096


def check_placeholders(show: ShowEntry, report: Report) -> None:
    """Adds an error for each placeholder left in the show (when any episode of it goes out)
    and in each of its scheduled or published episodes."""
    going_out = [e for e in show.episodes if e.episode.status is not Status.DRAFT]
    if not going_out:
        return
    model = show.show
    found: list[tuple[str, tuple[str, ...], str]] = []
    if model.description.strip() == scaffold.SHOW_DESCRIPTION:
        found.append(
            (
                "description",
                ("description",),
                f"{STILL}; say what the show is about in two or three sentences",
            )
        )
    if model.owner.email == scaffold.OWNER_EMAIL:
        found.append(
            (
                "owner.email",
                ("owner", "email"),
                f"'{scaffold.OWNER_EMAIL}' {FROM_NEW}; give the address that owns the show "
                "(Apple and YouTube send verification mail to it)",
            )
        )
    if model.link == scaffold.SHOW_LINK:
        found.append(
            ("link", ("link",), f"'{scaffold.SHOW_LINK}' {FROM_NEW}; give the show's website")
        )
    if is_placeholder_artwork(show.folder / model.artwork):
        found.append(
            (
                "artwork",
                ("artwork",),
                f"{Path(model.artwork).name} is the grey placeholder from `fo-cast new`; "
                "replace it with the show's artwork",
            )
        )
    for field_name, path, message in found:
        report.add(show.manifest, field_name, message, show.doc.line_of(path))
    for entry in going_out:
        _check_episode(entry, report)


def _check_episode(entry: EpisodeEntry, report: Report) -> None:
    model = entry.episode
    status = model.status.value
    if model.summary is not None and model.summary.strip() == scaffold.EPISODE_SUMMARY:
        report.add(
            entry.manifest,
            "summary",
            f"{STILL}; a {status} episode needs its own summary",
            entry.doc.line_of(("summary",)),
        )
    text = entry.companion
    if text is not None and scaffold.COMPANION_STUB in text:
        line = text[: text.index(scaffold.COMPANION_STUB)].count("\n") + 1
        report.add(
            entry.shown(model.companion),
            "companion",
            f"'{scaffold.COMPANION_STUB}' {FROM_NEW}; write the article",
            line,
        )


def is_placeholder_artwork(path: Path) -> bool:
    """Returns True when the image at path is the placeholder `fo-cast new` wrote."""
    try:
        with path.open("rb") as file:
            head = file.read(MARKER_WINDOW)
    except OSError:
        return False  # a missing artwork is reported by the file checks
    return scaffold.artwork_marker() in head
