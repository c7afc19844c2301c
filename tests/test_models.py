"""models.py and rules.py: what a manifest may say, value by value."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from fo_cast import rules
from fo_cast.catalogue.models import Chapter, Episode, Media, Person, Show, Status
from fo_cast.catalogue.settings import Settings

EPISODE = {"guid": "g", "title": "T"}
SHOW = {
    "title": "Talks", "description": "D", "language": "en", "author": "A",
    "owner": {"name": "O", "email": "o@example.com"}, "categories": ["News"],
    "link": "https://example.com/",
}  # fmt: skip


def errors(model, data) -> list[tuple[tuple, str]]:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    return [
        (tuple(e["loc"]), str(e["msg"]).removeprefix("Value error, "))
        for e in caught.value.errors(include_url=False)
    ]


def test_minimal_episode_is_a_draft() -> None:
    episode = Episode.model_validate(EPISODE)
    assert episode.status is Status.DRAFT
    assert episode.companion == "companion.md"
    assert episode.media == [] and episode.published is None
    assert not episode.is_live(datetime(2030, 1, 1, tzinfo=UTC))


def test_is_live() -> None:
    episode = Episode.model_validate(
        {**EPISODE, "status": "scheduled", "published": "2024-08-04T15:00:00+02:00",
         "summary": "S", "media": [{"file": "audio.mp3"}]}
    )  # fmt: skip
    assert not episode.is_live(datetime(2024, 8, 4, 12, 59, tzinfo=UTC))
    assert episode.is_live(datetime(2024, 8, 4, 13, 0, tzinfo=UTC))


@pytest.mark.parametrize(
    ("value", "seconds"),
    [(0, 0.0), (90, 90.0), (90.5, 90.5), ("90", 90.0), ("1:30", 90.0), ("12:30", 750.0),
     ("01:02:03", 3723.0), ("1:02:03.250", 3723.25), ("0:00", 0.0), (3_600_000, 3600000.0),
     ("1000:00:00", 3600000.0)],
)  # fmt: skip
def test_chapter_start(value: object, seconds: float) -> None:
    assert Chapter.model_validate({"start": value, "title": "C"}).start == seconds


TOO_LONG = "must be 3600000 seconds (1000 hours) or less; no episode runs longer"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("99:99", "'99:99' is not a time; write seconds (90) or '1:30' / '1:02:03'"),
        ("1:60", "'1:60' is not a time; write seconds (90) or '1:30' / '1:02:03'"),
        ("soon", "'soon' is not a time; write seconds (90) or '1:30' / '1:02:03'"),
        (-1, "must be zero or more seconds"),
        (float("nan"), "must be zero or more seconds"),
        (float("inf"), "must be zero or more seconds"),
        # past 1000 hours: a typo, and more milliseconds than tag can write (was exit 70)
        (1e308, TOO_LONG),
        (3_600_000.5, TOO_LONG),
        (10**400, TOO_LONG),
        ("9" * 400, TOO_LONG),
        ("1000:00:01", TOO_LONG),
        (True, "give seconds (90) or a time ('1:30', '1:02:03')"),
        ([1], "give seconds (90) or a time ('1:30', '1:02:03')"),
    ],
)
def test_bad_chapter_start(value: object, message: str) -> None:
    assert errors(Chapter, {"start": value, "title": "C"}) == [(("start",), message)]


def test_values_are_never_coerced() -> None:
    data = {**EPISODE, "explicit": "no", "season": "2", "episode": 1.0, "title": 5}
    assert [loc for loc, _ in errors(Episode, data)] == [
        ("title",), ("season",), ("episode",), ("explicit",)
    ]  # fmt: skip


@pytest.mark.parametrize("value", [20240804, 1722783600, 1.5, True])
def test_published_is_never_a_number(value: object) -> None:
    shown = "true" if value is True else value
    assert errors(Episode, {**EPISODE, "published": value}) == [
        (("published",), f"expected a date and time such as 2024-07-23T15:00:00+00:00, got {shown}")
    ]


def test_published_needs_a_timezone() -> None:
    assert [loc for loc, _ in errors(Episode, {**EPISODE, "published": "2024-08-04T15:00"})] == [
        ("published",)
    ]


@pytest.mark.parametrize(
    ("published", "year"),
    [("9999-12-31T23:59:59-23:59", 9999), ("9999-01-01T00:00:00+00:00", 9999),
     ("1899-12-31T23:59:59+00:00", 1899)],
)  # fmt: skip
def test_published_year_out_of_range(published: str, year: int) -> None:
    # 9999-12-31T23:59:59-23:59 is in the year 10000 in UTC: tag stopped with OverflowError
    assert errors(Episode, {**EPISODE, "published": published}) == [
        (("published",), f"the year {year} cannot be right; write a year from 1900 to 9998")
    ]


@pytest.mark.parametrize("published", ["9998-12-31T23:59:59-23:59", "1900-01-01T00:00:00+23:59"])
def test_published_years_at_the_ends_convert_to_utc(published: str) -> None:
    when = Episode.model_validate({**EPISODE, "published": published}).published
    assert when is not None and 1899 <= when.astimezone(UTC).year <= 9999


@pytest.mark.parametrize(
    ("model", "data", "loc", "char"),
    [
        (Episode, {**EPISODE, "companion": "a\x00b.md"}, ("companion",), 0),
        (Episode, {**EPISODE, "transcript": "a\x00b"}, ("transcript",), 0),
        (Episode, {**EPISODE, "image": "a\x00b.png"}, ("image",), 0),
        (Episode, {**EPISODE, "image": "https://x.example/a\x00.png"}, ("image",), 0),
        (Episode, {**EPISODE, "media": [{"file": "audio.mp3\x00"}]}, ("media", 0, "file"), 0),
        (Episode, {**EPISODE, "media": [{"file": "a\tb.mp3"}]}, ("media", 0, "file"), 9),
        (Show, {**SHOW, "artwork": "a\x00.png"}, ("artwork",), 0),
        (Show, {**SHOW, "link": "https://x.example/\x7f"}, ("link",), 0x7F),
        (Settings, {"media": {"folder": "\x00"}}, ("media", "folder"), 0),
    ],
)  # fmt: skip
def test_a_control_character_in_a_path_or_url(model, data: dict, loc: tuple, char: int) -> None:
    # os.stat() raised "embedded null byte" (exit 70) for all but companion
    assert errors(model, data) == [(loc, f"contains the control character U+{char:04X}; remove it")]


@pytest.mark.parametrize(
    ("status", "extra", "message"),
    [
        ("scheduled", {}, "a scheduled episode needs published, summary and media; "
         "add them or set status: draft"),
        ("published", {"summary": "S", "media": [{"file": "a.mp3"}]},
         "a published episode needs published; add it or set status: draft"),
    ],
)  # fmt: skip
def test_status_needs_date_summary_media(status: str, extra: dict, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Episode.model_validate({**EPISODE, "status": status, **extra})
    (error,) = caught.value.errors(include_url=False)
    assert (error["msg"], error["ctx"]) == (message, {"at": ("status",)})


@pytest.mark.parametrize(
    ("media", "message"),
    [
        ({}, "give either file or url"),
        ({"file": "a.mp3", "url": "https://x.example/a.mp3"}, "give either file or url"),
        ({"url": "https://x.example/a.mp3"},
         "a url needs length and type too, because fo-cast cannot probe it"),
        ({"url": "https://x.example/a.mp3", "length": 1},
         "a url needs type too, because fo-cast cannot probe it"),
    ],
)  # fmt: skip
def test_media_file_or_url(media: dict, message: str) -> None:
    assert errors(Media, media) == [((), message)]


def test_url_media_with_everything() -> None:
    media = Media.model_validate(
        {"url": "https://x.example/a.mp3", "length": 10, "type": "audio/mpeg", "duration": "12:30"}
    )
    assert media.duration == 750.0


def test_unknown_keys_are_refused() -> None:
    assert errors(Episode, {**EPISODE, "titel": "x"}) == [
        (("titel",), "Extra inputs are not permitted")
    ]


def test_show_defaults_and_person_role_lowercased() -> None:
    show = Show.model_validate({**SHOW, "people": [{"name": "Atul", "role": "Host"}]})
    assert (show.artwork, show.explicit, show.locked, show.type.value) == (
        "artwork.png", False, True, "episodic"
    )  # fmt: skip
    assert show.people[0].role == "host"
    assert Person.model_validate({"name": "N"}).role == "guest"


def test_xml_illegal_text() -> None:
    assert errors(Episode, {**EPISODE, "title": "A\x0bB"}) == [
        (("title",), "contains the control character U+000B, which XML cannot carry; remove it")
    ]
    assert errors(Episode, {**EPISODE, "guid": " "}) == [(("guid",), "must not be empty")]


# rules.py -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "bad"), [("ok\ttab\nline\r", None), ("a\x00", "\x00"), ("\x1f", "\x1f"),
                      ("\ufffe", "\ufffe"), ("é—🎙", None), ("\x7f", None)]
)  # fmt: skip
def test_first_xml_illegal(text: str, bad: str | None) -> None:
    assert rules.first_xml_illegal(text) == bad


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90), ("1:30", 90), ("01:02:03", 3723), ("1:02:03.5", 3723.5), (" 5 ", 5),
     ("1:60", None), ("1:2:3:4", None), ("", None), ("-1", None), ("1:0:60", None)],
)  # fmt: skip
def test_parse_clock(text: str, seconds: float | None) -> None:
    assert rules.parse_clock(text) == seconds


@pytest.mark.parametrize(
    ("check", "value", "message"),
    [
        (rules.check_url, "www.example.com", "'www.example.com' is not an absolute http(s) URL"),
        (rules.check_url, "ftp://x.org/", "'ftp://x.org/' is not an absolute http(s) URL"),
        (rules.check_url, "https://x.org/a b", "'https://x.org/a b' is not an absolute "
            "http(s) URL"),
        # a media URL went into the public feed with these (base_url refused them)
        (rules.check_url, "https://x.org:99999/a.mp3",
         "'https://x.org:99999/a.mp3' has a port that does not exist"),
        (rules.check_url, "https://me:secret@x.org/a.mp3",
         "the URL carries a user or password, which would be public; remove it"),
        (rules.check_url, "https://[x/a.mp3", "'https://[x/a.mp3' is not an absolute http(s) URL"),
        (rules.check_email, "a@b", "'a@b' is not an email address"),
        (rules.check_email, "a..b@example.com", "'a..b@example.com' is not an email address"),
        (rules.check_email, "a b@example.com", "'a b@example.com' is not an email address"),
        (rules.check_language, "english",
         "'english' is not a language code; use ISO 639-1, such as en or en-US"),
        (rules.check_language, "xx-US",
         "'xx-US' is not a language code; use ISO 639-1, such as en or en-US"),
        (rules.check_category, "Politics", "'Politics' is not an Apple Podcasts category"),
        (rules.check_category, "news", "'news' is not an Apple Podcasts category"),
        (rules.check_category, "Technology/Gadgets",
         "Technology has no subcategories; write 'Technology' alone"),
        (rules.check_category, "Arts/Poetry", "'Poetry' is not a subcategory of Arts (allowed: "
         "Books, Design, Fashion & Beauty, Food, Performing Arts, Visual Arts)"),
        (rules.check_relative_path, "/srv/a.mp3",
         "'/srv/a.mp3' is an absolute path; give it relative to this file's folder"),
        (rules.check_relative_path, "C:/a.mp3",
         "'C:/a.mp3' is an absolute path; give it relative to this file's folder"),
        (rules.check_relative_path, "a\\b.mp3",
         "'a\\b.mp3' has backslashes; separate folders with forward slashes"),
        (rules.check_relative_path, "a/../../b.mp3",
         "'a/../../b.mp3' climbs out of its folder with '..'; keep the file inside"),
        (rules.check_relative_path, " ", "must not be empty"),
        (rules.check_no_control, "a\x00b", "contains the control character U+0000; remove it"),
        (rules.check_no_control, "a\x85", "contains the control character U+0085; remove it"),
        (rules.check_slug, "Talks", "'Talks' is not a slug; use lowercase letters, digits "
            "and dashes"),
        (rules.check_slug, "a--b", "'a--b' is not a slug; use lowercase letters, digits "
            "and dashes"),
        (rules.check_media_type, "audio/ogg", "'audio/ogg' is not a media type Apple Podcasts "
         "accepts (audio/aac, audio/mp4, audio/mpeg, audio/x-m4a, video/mp4, video/quicktime, "
         "video/x-m4v)"),
        (rules.check_person_role, "boss",
         "'boss' is not a Podcast Index person role (such as host, co-host, guest, writer)"),
    ],
)  # fmt: skip
def test_rule_messages(check, value: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        check(value)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("check", "value"),
    [
        (rules.check_url, "https://www.fairobserver.com/"), (rules.check_email, "a.b+c@x.co.uk"),
        (rules.check_language, "en"), (rules.check_language, "en-US"),
        (rules.check_language, "pt-BR"), (rules.check_category, "News/Politics"),
        (rules.check_category, "Society & Culture"), (rules.check_category, "TV & "
            "Film/After Shows"),
        (rules.check_relative_path, "media/audio.mp3"), (rules.check_relative_path, "./a.mp3"),
        (rules.check_slug, "2024-08-04-middle-east-part-1"),
        (rules.check_no_control, "Média/été 1 –  x.mp3"),
    ],
)  # fmt: skip
def test_rules_accept(check, value: str) -> None:
    assert check(value) == value
