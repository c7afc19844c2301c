"""The catalogue's data: shows, episodes, media, chapters, as read from the manifests. No IO.

Every field carries a `description` that `fo-cast schema` and the README reuse. Models forbid
unknown keys, so a typo in a manifest is a problem rather than a silent default, and they take
numbers and booleans strictly: `explicit: no` or `season: "2"` is reported, never coerced.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError

from fo_cast import rules
from fo_cast.catalogue.status import Status  # its own module: the CLI needs it, not pydantic


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


_xml_safe = rules.check_xml_safe


# No episode runs 1000 hours: a time past that is a typo (1e308, or 400 digits), which would
# overflow the milliseconds tag writes (ID3 CHAP frames hold 32 bits of them: 1193 hours).
MAX_HOURS = 1000
MAX_SECONDS = MAX_HOURS * 3600


def _seconds(value: Any) -> float:
    """Returns seconds from 90, 90.5, "1:30", "01:02:03" or "01:02:03.250"."""
    if isinstance(value, bool):
        raise ValueError("give seconds (90) or a time ('1:30', '1:02:03')")
    if isinstance(value, int | float):
        if value < 0 or value != value or value in (float("inf"),):
            raise ValueError("must be zero or more seconds")
        seconds: float = value
    elif isinstance(value, str):
        try:
            parsed = rules.parse_clock(value)
        except OverflowError:  # hundreds of digits: more than a float holds
            parsed = float("inf")
        if parsed is None:
            raise ValueError(f"'{value}' is not a time; write seconds (90) or '1:30' / '1:02:03'")
        seconds = parsed
    else:
        raise ValueError("give seconds (90) or a time ('1:30', '1:02:03')")
    if seconds > MAX_SECONDS:  # compared before float(): a YAML integer may have 400 digits
        raise ValueError(
            f"must be {MAX_SECONDS} seconds ({MAX_HOURS} hours) or less; no episode runs longer"
        )
    return float(seconds)


def _not_a_number(value: Any) -> Any:
    # pydantic would take 20240804 as seconds since 1970; a date must be written as one
    if isinstance(value, int | float):
        shown = str(value).lower() if isinstance(value, bool) else value
        raise ValueError(f"expected a date and time such as 2024-07-23T15:00:00+00:00, got {shown}")
    return value


# RFC 822 dates carry four-digit years, and no podcast predates 1900. The year 9999 is out:
# 9999-12-31T23:59:59-23:59 is in 10000 in UTC, which no datetime holds (feeds, ID3 TDRC and
# MP4 ©day are all dated in UTC), and tag's clock for "every episode" is 9999-12-31 UTC.
FIRST_YEAR, LAST_YEAR = 1900, 9998


def _plausible_year(value: datetime) -> datetime:
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise ValueError(
            f"the year {value.year} cannot be right; write a year from {FIRST_YEAR} to {LAST_YEAR}"
        )
    return value


def _and(words: list[str]) -> str:
    """Returns 'a, b and c' for ['a', 'b', 'c']."""
    return " and ".join([", ".join(words[:-1]), words[-1]]) if len(words) > 1 else words[0]


Text = Annotated[str, AfterValidator(_not_blank), AfterValidator(_xml_safe)]
OptionalText = Annotated[str, AfterValidator(_xml_safe)]
Seconds = Annotated[
    float,
    BeforeValidator(_seconds),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0},
                {"type": "string", "pattern": r"^(\d+:)?[0-5]?\d:[0-5]\d(\.\d+)?$"},
            ]
        }
    ),
]
# Apple stores season and episode numbers as 32-bit integers, JSON readers as 53-bit floats.
PositiveInt = Annotated[StrictInt, Field(ge=1, le=2**31 - 1)]
# Every path and URL is checked for control characters first: a NUL in one is a problem at
# its line, not a ValueError from os.stat() or the XML writer later.
NoControl = AfterValidator(rules.check_no_control)
Url = Annotated[str, NoControl, AfterValidator(rules.check_url)]
Email = Annotated[str, AfterValidator(rules.check_email)]
RelPath = Annotated[str, NoControl, AfterValidator(rules.check_relative_path)]
# A file of the catalogue, or (for imported shows) the URL where it is already served.
FileOrUrl = Annotated[str, NoControl, AfterValidator(rules.check_file_or_url)]


def _uuid(value: str) -> str:
    # kept as written: the Podcast Index compares the text
    try:
        uuid.UUID(value)
    except ValueError:
        raise ValueError(
            f"'{value}' is not a UUID such as ead4c236-bf58-58c6-a2c6-a6b28d128cb6"
        ) from None
    return value


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


class EpisodeType(enum.StrEnum):
    FULL = "full"
    TRAILER = "trailer"
    BONUS = "bonus"


class ShowType(enum.StrEnum):
    EPISODIC = "episodic"
    SERIAL = "serial"


class Person(Model):
    name: Text = Field(description="The person's name as listeners know it.")
    role: Annotated[str, AfterValidator(rules.check_person_role)] = Field(
        "guest",
        description="Podcast Index role, such as host, guest, co-host, writer, producer.",
    )
    href: Url | None = Field(None, description="A page about the person (https).")
    img: Url | None = Field(None, description="A picture of the person (https).")


class Owner(Model):
    name: Text = Field(description="Who owns the show; directories show it to the owner only.")
    email: Email = Field(description="Owner address; Apple and YouTube verify ownership with it.")


class Funding(Model):
    url: Url = Field(description="Where listeners can support the show (https).")
    text: Text = Field(description="The link text, 128 characters at most.", max_length=128)


class Credit(Model):
    name: Text = Field(description="Who contributed to the companion.")
    contribution: Text = Field(
        "wrote the first draft of this piece",
        description="What they did, as it reads after their name.",
    )


class Chapter(Model):
    start: Seconds = Field(description="Where the chapter starts: seconds, '1:30' or '1:02:03'.")
    title: Text = Field(description="The chapter's title.")
    url: Url | None = Field(None, description="A link for the chapter.")


class Series(Model):
    name: Text = Field(description="The series this episode is a part of.")
    part: PositiveInt = Field(description="This episode's part number in the series, from 1.")


class Media(Model):
    """One media file of an episode: a file in the episode folder or an external URL."""

    file: RelPath | None = Field(
        None,
        description=(
            "Path relative to the episode folder. A file not there is looked for in the media "
            "folder (fo-cast.toml [media] folder, or FO_CAST_MEDIA) under SHOW/EPISODE/, the "
            "show's and episode's folder names."
        ),
    )
    url: Url | None = Field(None, description="An external media URL (instead of file).")
    length: PositiveInt | None = Field(None, description="Byte length, required with url.")
    type: Annotated[str, AfterValidator(rules.check_media_type)] | None = Field(
        None, description="MIME type, required with url (audio/mpeg, audio/mp4, video/mp4)."
    )
    duration: Seconds | None = Field(
        None, description="Duration, with url (apps show none until they play the file)."
    )

    @model_validator(mode="after")
    def _file_or_url(self) -> Media:
        if (self.file is None) == (self.url is None):
            raise ValueError("give either file or url")
        if self.url is not None:
            missing = [n for n in ("length", "type") if getattr(self, n) is None]
            if missing:
                raise ValueError(
                    f"a url needs {_and(missing)} too, because fo-cast cannot probe it"
                )
        return self


class AlternateEnclosure(Model):
    """podcast:alternateEnclosure: another rendition of the episode, kept by URL."""

    url: Url = Field(description="Where the rendition is served.")
    type: Text = Field(description="Its MIME type.")
    length: PositiveInt | None = Field(None, description="Its byte length.")
    title: OptionalText | None = Field(None, description="A label apps show, such as 'Video'.")


class Show(Model):
    """show.yaml: one podcast."""

    slug: Annotated[str, AfterValidator(rules.check_slug)] | None = Field(
        None, description="URL name of the show; defaults to the folder name."
    )
    title: Text = Field(description="The show's name.")
    description: Text = Field(description="What the show is about; 4000 bytes at most.")
    language: Annotated[str, AfterValidator(rules.check_language)] = Field(
        description="Language code, such as en or en-US."
    )
    author: Text = Field(description="Who makes the show, as directories display it.")
    owner: Owner
    artwork: FileOrUrl = Field(
        "artwork.png",
        description="Square JPEG or PNG, 1400 to 3000 px, RGB, in the show folder "
        "(or the https URL where an imported show's artwork is served).",
    )
    categories: list[Annotated[str, AfterValidator(rules.check_category)]] = Field(
        min_length=1,
        description="Apple Podcasts categories: 'News' or 'News/Politics'; the first is primary.",
    )
    explicit: StrictBool = Field(False, description="true if the show has explicit content.")
    type: ShowType = Field(
        ShowType.EPISODIC, description="episodic (newest first) or serial (oldest first)."
    )
    link: Url = Field(description="The show's website.")
    copyright: OptionalText | None = Field(None, description="Copyright line.")
    disclaimer: OptionalText | None = Field(
        None, description="Appended to every companion of the show."
    )
    people: list[Person] = Field(default_factory=list, description="Hosts of the show.")
    funding: list[Funding] = Field(default_factory=list, description="Support links.")
    locked: StrictBool = Field(
        True, description="podcast:locked: other hosts may not import the feed."
    )
    complete: StrictBool = Field(False, description="The show has ended; no new episodes.")
    podcast_guid: Annotated[str, AfterValidator(_uuid)] | None = Field(
        None,
        description="podcast:guid the Podcast Index already knows the show by (kept from an "
        "imported feed); by default the UUIDv5 of the feed URL.",
    )
    previous_feed_urls: list[Url] = Field(
        default_factory=list, description="Where the show's feed lived before it moved here."
    )
    new_feed_url: Url | None = Field(
        None, description="itunes:new-feed-url: where this feed is moving to (apps follow it)."
    )


class Episode(Model):
    """episode.yaml: one episode of a show."""

    guid: Annotated[str, AfterValidator(_not_blank), AfterValidator(_xml_safe)] = Field(
        description="Minted once by `fo-cast new episode`; never change it after publishing."
    )
    title: Text = Field(description="The episode's title, without the show name or number.")
    slug: Annotated[str, AfterValidator(rules.check_slug)] | None = Field(
        None, description="URL name of the episode; defaults to the folder name."
    )
    published: (
        Annotated[AwareDatetime, BeforeValidator(_not_a_number), AfterValidator(_plausible_year)]
        | None
    ) = Field(None, description="Publication time with a timezone: 2024-07-23T15:00:00+00:00.")
    status: Status = Field(Status.DRAFT, description="draft, scheduled or published.")
    summary: Text | None = Field(
        None, description="Short plain text for apps; 4000 bytes at most. Needed to publish."
    )
    companion: RelPath = Field("companion.md", description="The written companion (Markdown).")
    media: list[Media] = Field(
        default_factory=list, description="Audio and video files; at least one to publish."
    )
    season: PositiveInt | None = Field(None, description="Season number.")
    episode: PositiveInt | None = Field(None, description="Episode number within the season.")
    type: EpisodeType = Field(EpisodeType.FULL, description="full, trailer or bonus.")
    explicit: StrictBool | None = Field(None, description="Overrides the show's explicit flag.")
    image: FileOrUrl | None = Field(
        None, description="Episode artwork (a file or an https URL); the show's by default."
    )
    people: list[Person] = Field(default_factory=list, description="Guests and others.")
    credits: list[Credit] = Field(default_factory=list, description="Companion credits.")
    topics: list[Text] = Field(default_factory=list, description="Keywords.")
    chapters: list[Chapter] = Field(default_factory=list, description="Chapter marks.")
    chapters_url: Url | None = Field(
        None, description="A Podcasting 2.0 chapters file served elsewhere (instead of chapters)."
    )
    transcript: FileOrUrl | None = Field(
        None, description="WebVTT or SRT file in the folder, or the URL of a transcript."
    )
    alternate_enclosures: list[AlternateEnclosure] = Field(
        default_factory=list, description="Other renditions, as podcast:alternateEnclosure."
    )
    series: Series | None = Field(None, description="The series this episode belongs to.")

    @model_validator(mode="after")
    def _dated_unless_draft(self) -> Episode:
        if self.chapters and self.chapters_url is not None:
            raise PydanticCustomError(
                "chapters", "give chapters or chapters_url, not both", {"at": ("chapters_url",)}
            )
        if self.status is not Status.DRAFT:
            missing = [
                name for name in ("published", "summary", "media") if not getattr(self, name)
            ]
            if missing:
                raise PydanticCustomError(
                    "incomplete",
                    f"a {self.status.value} episode needs {_and(missing)}; "
                    f"add {'them' if len(missing) > 1 else 'it'} or set status: draft",
                    {"at": ("status",)},  # catalogue.py points the problem at this key
                )
        return self

    def is_live(self, now: datetime) -> bool:
        """Returns True when the episode belongs in feeds at `now`."""
        return (
            self.status is not Status.DRAFT and self.published is not None and self.published <= now
        )
