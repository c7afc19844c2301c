"""Directory lint: what Apple Podcasts, Spotify, YouTube and the Podcast Index would say about
the feeds of a site, as problems pointing at the manifest line to change.

Validation has already checked each value on its own (models, checks); these rules look at the
feeds as directories see them. Each message names the rule's source. An ERROR is something a
directory rejects; a WARNING is valid RSS that a directory or app handles badly.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from fo_cast import rules
from fo_cast.catalogue.messages import field_path
from fo_cast.catalogue.models import Episode, Person, ShowType
from fo_cast.catalogue.reader import EpisodeEntry, ShowEntry
from fo_cast.outputs import FEED_FILE, VIDEO_FILE, Output
from fo_cast.problems import Problem, Severity
from fo_cast.render import feeds
from fo_cast.render.site import Enclosure, EpisodeView, ShowView, Site
from fo_cast.units import format_clock

APPLE, SPOTIFY, YOUTUBE, PODCAST_INDEX = "Apple Podcasts", "Spotify", "YouTube", "Podcast Index"
MAX_DESCRIPTION_BYTES = 4000  # Apple: channel description and item description
MAX_PODCAST_TEXT = 128  # Podcast Index: podcast:funding text, podcast:person name
# Apple's Podcasts Connect feed spec: "Tag values are limited to 255 characters, except for
# <itunes:summary>"; longer titles are cut in the app.
MAX_APPLE_TEXT = 255
ARTWORK_SUFFIXES = (".jpg", ".jpeg", ".png")
SPOTIFY_AUDIO_TYPES = frozenset({"audio/mpeg", "audio/x-m4a", "audio/mp4", "audio/aac"})
# "Episode 12: ...", "Ep. 12", "#12", "S2E3", "E12 -": Apple shows numbers from itunes:episode.
EPISODE_NUMBER = re.compile(
    r"\bepisode\s*#?\s*\d+|\bep\.?\s*#?\s*\d+|(?<![\w&])#\s*\d+\b|\bs\d+\s*e\d+\b|^\s*e\d+\b",
    re.IGNORECASE,
)
# Apps read a description as HTML: text that looks like a tag is hidden, so "plain" text
# with one would not read the same everywhere.
HTML_TAG = re.compile(r"</?[A-Za-z][^<>]*>")
Loc = tuple[str | int, ...]


def lint_site(site: Site) -> list[Problem]:
    """Returns every directory problem of the site's feeds, the feed size estimated.

    Rendering every feed just to weigh it would cost validate seconds on a large catalogue;
    `build()` weighs the real feeds with `lint_feed_sizes()`.
    """
    problems: list[Problem] = []
    for show in site.shows:
        problems.extend(lint_show(show))
        for episode in show.episodes:
            problems.extend(lint_episode(show, episode))
    problems.extend(_https_sidecars(site))
    problems.extend(_feed_sizes(site, _estimated_sizes(site), exact=False))
    return problems


def lint_feed_sizes(site: Site, outputs: list[Output]) -> list[Problem]:
    """Returns a warning for each rendered RSS feed past [feeds] max_size_mb."""
    sizes = {o.path: o.length for o in outputs if o.content_type == feeds.RSS_TYPE}
    return list(_feed_sizes(site, sizes, exact=True))


def with_feed_sizes(
    problems: list[Problem], site: Site, sizes: dict[str, int]
) -> list[Problem] | None:
    """Returns problems (a build's report) with the weighed sizes of the feeds at sizes (path
    -> bytes: feeds of the site's shows) in place of the ones it gives, each in its place;
    None when a feed passes the limit, or comes back under it (the report changes shape: a
    rebuild leaves that to a whole build)."""
    fresh = {p.message.partition(" is ")[0]: p for p in _feed_sizes(site, sizes, exact=True)}
    result, replaced = [], set()
    for problem in problems:
        path = problem.message.partition(" is ")[0]
        if path in sizes and problem.field == "" and " MB, past the " in problem.message:
            if path not in fresh:
                return None
            problem = fresh[path]
            replaced.add(path)
        result.append(problem)
    return result if replaced == fresh.keys() else None


# What an item and the channel cost in RSS beyond their texts (tags, URLs), measured on the
# sample: the estimate comes out a few per cent above the real feeds.
ITEM_OVERHEAD_BYTES = 700
CHANNEL_OVERHEAD_BYTES = 2000


def _estimated_sizes(site: Site) -> dict[str, int]:
    """Returns each show's feed.xml size as estimated from its texts (HTML ~1.15x Markdown).

    Every text of the manifests counts (a 20 MB title makes a 20 MB feed), plus what the
    feed repeats: the show title as the image title, the summary in two tags, the hosts in
    every item, and the disclaimer and credits appended to every item's companion.
    """
    sizes = {}
    for show in site.shows:
        model = show.show
        channel = CHANNEL_OVERHEAD_BYTES + _text_bytes(model) + _bytes(model.title)
        # in every item: the disclaimer (in the companion) and the hosts (podcast:person)
        appended = _bytes(model.disclaimer or "") + _text_bytes(model.people)
        audio = video = 0
        for episode in show.episodes:
            text = episode.entry.companion or ""
            item = ITEM_OVERHEAD_BYTES + int(_bytes(text) * 1.15) + appended
            item += episode_text_bytes(episode.episode) + _bytes(episode.episode.summary or "")
            audio += item if episode.audio is not None else 0
            video += item if episode.video is not None else 0
        sizes[show.path + FEED_FILE] = channel + audio
        if video:
            sizes[show.path + VIDEO_FILE] = channel + video
    return sizes


def is_size_estimate(problem: Problem) -> bool:
    """Returns whether problem is validate's estimated feed size, which build replaces."""
    return (
        problem.field == ""
        and " MB, past the " in problem.message
        and " is about " in (problem.message)
    )


def _bytes(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def episode_text_bytes(model: Episode) -> int:
    """Returns _text_bytes(model), field by field: five times faster on 10,000 episodes.

    A test holds it equal to the generic walk, so a new text field cannot be left out."""
    b = _bytes
    total = b(model.guid) + b(model.title) + b(model.summary or "") + b(model.companion)
    total += b(model.slug or "") + b(model.image or "") + b(model.transcript or "")
    total += sum(b(m.file or "") + b(m.url or "") + b(m.type or "") for m in model.media)
    total += sum(b(p.name) + b(p.role) + b(p.href or "") + b(p.img or "") for p in model.people)
    total += sum(b(c.name) + b(c.contribution) for c in model.credits)
    total += sum(map(b, model.topics))
    total += sum(b(c.title) + b(c.url or "") for c in model.chapters)
    return total + (b(model.series.name) if model.series else 0)


def _text_bytes(value: object) -> int:
    """Returns the UTF-8 size of every string in a model, its lists and its sub-models."""
    total = 0
    stack = [value]
    pop, push = stack.pop, stack.extend
    while stack:
        item = pop()
        kind = type(item)
        if kind is str:
            total += _bytes(item)  # type: ignore[arg-type]
        elif kind is list or kind is tuple:
            push(item)  # type: ignore[arg-type]
        elif hasattr(kind, "__pydantic_fields__"):
            push(item.__dict__.values())
    return total


def _at(
    entry: ShowEntry | EpisodeEntry,
    loc: Loc,
    message: str,
    severity: Severity = Severity.ERROR,
) -> Problem:
    # A key the manifest lacks has no line of its own: name the file alone.
    line = entry.doc.line_of(loc) if loc and entry.doc.has((loc[0],)) else None
    return Problem(entry.manifest, field_path(loc), message, line, severity)


def _apple_text(entry: ShowEntry | EpisodeEntry, loc: Loc, text: str | None) -> Iterator[Problem]:
    if text is not None and len(text) > MAX_APPLE_TEXT:
        yield _at(
            entry,
            loc,
            f"is {len(text)} characters; Apple Podcasts takes {MAX_APPLE_TEXT} and cuts the "
            f"rest ({APPLE})",
            Severity.WARNING,
        )


def _blank(value: object) -> bool:
    return not isinstance(value, str) or not value.strip()


def _description(entry: ShowEntry | EpisodeEntry, loc: Loc, text: str) -> Iterator[Problem]:
    size = len(text.encode("utf-8"))
    if size > MAX_DESCRIPTION_BYTES:
        yield _at(entry, loc, f"is {size} bytes; shorten it to {MAX_DESCRIPTION_BYTES} ({APPLE})")
    tag = HTML_TAG.search(text)
    if tag:
        yield _at(
            entry,
            loc,
            f"'{tag.group()}' reads as an HTML tag and apps hide it; write plain text ({APPLE})",
            Severity.WARNING,
        )


# --- show -----------------------------------------------------------------------------------


def lint_show(show: ShowView) -> Iterator[Problem]:
    """Yields the problems of one show's channel tags."""
    entry, model = show.entry, show.show
    for name in ("title", "description", "language", "author", "link"):
        if _blank(getattr(model, name)):
            yield _at(entry, (name,), f"required in every feed; add it ({APPLE})")
    if _blank(model.owner.name):
        yield _at(entry, ("owner", "name"), f"required in every feed; add it ({APPLE})")
    if _blank(model.owner.email):
        yield _at(entry, ("owner", "email"), f"required in every feed; add it ({APPLE})")
        yield _at(
            entry,
            ("owner", "email"),
            f"YouTube verifies who owns a feed by mailing this address; add one ({YOUTUBE})",
        )
    yield from _description(entry, ("description",), model.description)
    for name in ("title", "author", "copyright"):
        yield from _apple_text(entry, (name,), getattr(model, name))
    yield from _apple_text(entry, ("owner", "name"), model.owner.name)
    if not isinstance(model.explicit, bool):
        yield _at(entry, ("explicit",), f"must be true or false ({APPLE})")
    yield from _categories(show)
    yield from _artwork(entry, ("artwork",), model.artwork)
    yield from _podcast_index_show(show)


def _categories(show: ShowView) -> Iterator[Problem]:
    entry, categories = show.entry, show.show.categories
    if not categories:
        yield _at(entry, ("categories",), f"add a category, such as News/Politics ({APPLE})")
    seen: set[str] = set()
    for index, value in enumerate(categories):
        loc = ("categories", index)
        main, sub = rules.split_category(value)
        if main not in rules.APPLE_CATEGORIES:
            yield _at(entry, loc, f"'{main}' is not an Apple Podcasts category ({APPLE})")
        elif sub is not None and sub not in rules.APPLE_CATEGORIES[main]:
            yield _at(entry, loc, f"'{sub}' is not a subcategory of {main} ({APPLE})")
        if value in seen:
            yield _at(entry, loc, f"'{value}' is listed twice ({APPLE})", Severity.WARNING)
        seen.add(value)


def _artwork(entry: ShowEntry | EpisodeEntry, loc: Loc, relative: str) -> Iterator[Problem]:
    if rules.is_url(relative):  # served elsewhere: its name need not say what it is
        return
    name = PurePosixPath(relative).name
    if not name.lower().endswith(ARTWORK_SUFFIXES):
        yield _at(entry, loc, f"'{name}' must be a .jpg or .png file ({APPLE})")


def _podcast_index_show(show: ShowView) -> Iterator[Problem]:
    entry, model = show.entry, show.show
    for index, funding in enumerate(model.funding):
        # funding text past 128 characters is already an error of the model
        yield from _https(entry, ("funding", index, "url"), funding.url, "podcast:funding")
    yield from _people(entry, model.people)


def _people(entry: ShowEntry | EpisodeEntry, people: Sequence[Person]) -> Iterator[Problem]:
    for index, person in enumerate(people):
        yield from _person_name(entry, ("people", index, "name"), person.name)
        for key in ("href", "img"):
            url = getattr(person, key)
            if url is not None:
                yield from _https(entry, ("people", index, key), url, "podcast:person")


def _person_name(entry: ShowEntry | EpisodeEntry, loc: Loc, name: str) -> Iterator[Problem]:
    if len(name) > MAX_PODCAST_TEXT:
        yield _at(
            entry,
            loc,
            f"is {len(name)} characters; podcast:person takes {MAX_PODCAST_TEXT} ({PODCAST_INDEX})",
            Severity.WARNING,
        )


def _https(entry: ShowEntry | EpisodeEntry, loc: Loc, url: str, tag: str) -> Iterator[Problem]:
    if urlsplit(url).scheme != "https":
        yield _at(
            entry, loc, f"'{url}' is not https; {tag} links must be ({PODCAST_INDEX})",
            Severity.WARNING,
        )  # fmt: skip


# --- episode --------------------------------------------------------------------------------


def lint_episode(show: ShowView, episode: EpisodeView) -> Iterator[Problem]:
    """Yields the problems of one episode's items."""
    entry, model = episode.entry, episode.episode
    title_loc = ("title",)
    yield from _apple_text(entry, title_loc, model.title)
    if show.show.title.casefold() in model.title.casefold():
        yield _at(
            entry,
            title_loc,
            f"repeats the show name '{show.show.title}'; give the episode's own title ({APPLE})",
            Severity.WARNING,
        )
    number = EPISODE_NUMBER.search(model.title)
    if number:
        yield _at(
            entry,
            title_loc,
            f"carries the episode number ('{number.group().strip()}'); set episode instead "
            f"({APPLE})",
            Severity.WARNING,
        )
    # Apple: a trailer or bonus without season or episode number is the show's own trailer or
    # bonus; only full episodes of a serial show need numbers.
    if show.show.type is ShowType.SERIAL and model.episode is None and model.type.value == "full":
        yield _at(entry, ("episode",), f"a serial show needs a number on every episode ({APPLE})")
    yield from _description(entry, ("summary",), model.summary or "")
    if model.image is not None:
        yield from _artwork(entry, ("image",), model.image)
    for enclosure in episode.enclosures:
        yield from _enclosure(episode, enclosure)
    yield from _clashes(episode)
    yield from _chapters(episode)
    yield from _people(entry, model.people)
    for index, credit in enumerate(model.credits):  # credits become writers' podcast:person
        yield from _person_name(entry, ("credits", index, "name"), credit.name)


def _clashes(episode: EpisodeView) -> Iterator[Problem]:
    """Yields an error for each file the episode's folder would get twice: two catalogue files
    published under one name (media and images go in flat: sub/audio.mp3 as audio.mp3), or a
    file named as one fo-cast writes there (the page, the chapters)."""
    entry, model = episode.entry, episode.episode
    taken: dict[str, tuple[Path | None, str]] = {
        episode.path + "index.html": (None, "the episode's page")
    }
    if episode.chapters is not None and episode.chapters.path is not None:
        taken[episode.chapters.path] = (None, "the chapters fo-cast writes")
    for path, source, item in episode.folder_files():
        name = path[len(episode.path) :]
        loc: Loc = ()  # a file the companion references: named at its line there
        written: str | None = name
        if isinstance(item, Enclosure):
            loc = _media_loc(episode, item)  # ("media", index, "file") for a file
            written = model.media[int(loc[1])].file if len(loc) == 3 else name
        elif item is episode.image:
            loc, written = ("image",), model.image
        elif item is episode.transcript:
            loc, written = ("transcript",), model.transcript
        written = written or name
        other = taken.setdefault(path, (source, f"'{written}'"))
        if other[0] == source:
            continue
        if other[0] is None:
            message = f"'{written}' would be published as {name}, the name of {other[1]}"
            message += "; rename the file"
        else:
            message = f"'{written}' is published as {name}, as {other[1]} is; rename one"
        if loc:
            yield _at(entry, loc, message)
        else:  # a file the companion references
            shown = entry.shown(model.companion)
            line = episode.asset_lines.get(path)
            yield Problem(shown, "companion", message, line, Severity.ERROR)


def _chapters(episode: EpisodeView) -> Iterator[Problem]:
    """Yields a warning for each chapter that starts at or past the end of the media: no app
    can play it, and tag writes it as a chapter of no length."""
    chapters = episode.episode.chapters
    for index in range(1, len(chapters)):
        if chapters[index].start <= chapters[index - 1].start:
            yield _at(
                episode.entry,
                ("chapters", index, "start"),
                f"{format_clock(chapters[index].start)} is not after the chapter before "
                f"({format_clock(chapters[index - 1].start)}); apps list chapters as they come "
                "and play each until the next: put them in order, one time each",
                Severity.WARNING,
            )
            break
    duration = episode.duration
    if duration <= 0:  # not known (a URL without a duration): nothing to compare with
        return
    for index, chapter in enumerate(chapters):
        if chapter.start >= duration:
            yield _at(
                episode.entry,
                ("chapters", index, "start"),
                f"{format_clock(chapter.start)} is past the end of the media "
                f"({format_clock(duration)}); apps cannot reach it: correct the time or remove "
                "the chapter",
                Severity.WARNING,
            )


def _media_loc(episode: EpisodeView, enclosure: Enclosure) -> Loc:
    for index, media in enumerate(episode.episode.media):
        if media.url is not None and media.url == enclosure.url:
            return ("media", index, "url")
        if media.file is not None and episode.entry.media_file(media.file) == enclosure.source:
            return ("media", index, "file")
    return ("media",)


def _enclosure(episode: EpisodeView, enclosure: Enclosure) -> Iterator[Problem]:
    problems: list[tuple[str, Severity]] = []
    if not enclosure.is_video and enclosure.type not in SPOTIFY_AUDIO_TYPES:
        problems.append(
            (f"{enclosure.type} is not an audio type Spotify takes ({SPOTIFY})", Severity.ERROR)
        )
    parts = urlsplit(enclosure.url)
    if parts.scheme not in ("http", "https") or not parts.netloc or re.search(r"\s", enclosure.url):
        problems.append(
            (f"'{enclosure.url}' is not an absolute URL without spaces ({SPOTIFY})", Severity.ERROR)
        )
    elif parts.scheme != "https" and enclosure.path is None:  # base_url is linted once
        message = f"'{enclosure.url}' is not https; serve media over https ({SPOTIFY})"
        problems.append((message, Severity.WARNING))
    if enclosure.length <= 0:
        problems.append(
            (f"the enclosure length must be the size in bytes ({SPOTIFY})", Severity.ERROR)
        )
    if enclosure.duration is None:
        problems.append(
            (
                f"has no duration; apps show none until they play it, so give duration ({APPLE})",
                Severity.WARNING,
            )
        )
    if problems:  # which media entry it is: looked up only for a problem (10,000 are clean)
        loc = _media_loc(episode, enclosure)
        for message, severity in problems:
            yield _at(episode.entry, loc, message, severity)


# --- site -----------------------------------------------------------------------------------


def _https_sidecars(site: Site) -> Iterator[Problem]:
    """Yields a warning or two when base_url, which serves media and sidecars, is not https."""
    if not site.shows or urlsplit(site.base_url).scheme == "https":
        return
    if any(
        e.path is not None for show in site.shows for ep in show.episodes for e in ep.enclosures
    ):
        yield Problem(
            site.settings_file,
            "base_url",
            f"'{site.base_url}' is not https; serve media over https ({SPOTIFY})",
            severity=Severity.WARNING,
        )
    if any(
        e.transcript or e.chapters or (e.audio and e.video)
        for show in site.shows
        for e in show.episodes
    ):
        yield Problem(
            site.settings_file,
            "base_url",
            f"'{site.base_url}' is not https; podcast:transcript, podcast:chapters and "
            f"podcast:alternateEnclosure links must be ({PODCAST_INDEX})",
            severity=Severity.WARNING,
        )


def _feed_sizes(site: Site, sizes: dict[str, int], exact: bool) -> Iterator[Problem]:
    limit_mb = site.settings.feeds.max_size_mb
    for show in site.shows:
        for name in (FEED_FILE, VIDEO_FILE):
            path = show.path + name
            size = sizes.get(path)
            if size is None or size <= limit_mb * 1_000_000:
                continue
            about = "" if exact else "about "
            yield Problem(
                show.entry.manifest,
                "",
                f"{path} is {about}{size / 1_000_000:.2f} MB, past the {limit_mb:g} MB "
                f"of [feeds] max_size_mb; directories stop reading long feeds ({APPLE})",
                severity=Severity.WARNING,
            )
