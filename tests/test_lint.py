"""The directory lint: each rule, word for word, through `fo_cast.check` where a manifest can
break it, and on a resolved Site where validation already stops the manifest."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

import fo_cast
from fo_cast import rules
from fo_cast.build import build
from fo_cast.render import lint
from fo_cast.render.site import Enclosure
from tests.conftest import SAMPLE
from tests.helpers import edit as edit_file
from tests.helpers import site_of

NOW = datetime(2025, 1, 1, tzinfo=UTC)
TALKS = "episodes/talks/show.yaml"
EP = "episodes/talks/2024-08-16-scotus-40-year-rules/episode.yaml"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "episodes"
    shutil.copytree(SAMPLE, root, ignore=shutil.ignore_patterns(".fo-cast", ".schema"))
    return root


def edit(root: Path, relative: str, old: str, new: str) -> None:
    edit_file(root.parent / relative, old, new)


def problems(root: Path, now: datetime = NOW) -> list[str]:
    return [str(p) for p in fo_cast.check(root, now=now).report]


def test_the_sample_is_clean(root: Path) -> None:
    assert problems(root) == []


# --- Apple Podcasts, through the manifests --------------------------------------------------


def test_title_repeats_the_show_name(root: Path) -> None:
    edit(root, EP, "title: SCOTUS", "title: FO° Talks — SCOTUS")
    assert problems(root) == [
        f"{EP}:3: warning: title: repeats the show name 'FO° Talks'; give the episode's own "
        "title (Apple Podcasts)"
    ]


@pytest.mark.parametrize(
    ("title", "number"),
    [
        ("Episode 12: SCOTUS", "Episode 12"),
        ("SCOTUS (Ep. 12)", "Ep. 12"),
        ("#12 SCOTUS", "#12"),
        ("S2E3 SCOTUS", "S2E3"),
        ("E12 - SCOTUS", "E12"),
        ("episode #7 of SCOTUS", "episode #7"),
    ],
)
def test_title_carries_the_episode_number(root: Path, title: str, number: str) -> None:
    edit(root, EP, "title: SCOTUS Creates Tantalizing Opportunities", f'title: "{title}')
    edit(root, EP, "40-Year-Old Rules\n", '40-Year-Old Rules"\n')
    assert problems(root) == [
        f"{EP}:3: warning: title: carries the episode number ('{number}'); set episode "
        "instead (Apple Podcasts)"
    ]


@pytest.mark.parametrize(
    "title", ["The G7 Summit", "Top 10 Reasons", "An Episode of History", "Q&A #tags", "1984"]
)
def test_titles_without_episode_numbers_pass(root: Path, title: str) -> None:
    edit(root, EP, "title: SCOTUS Creates Tantalizing Opportunities", f'title: "{title}')
    edit(root, EP, "40-Year-Old Rules\n", '40-Year-Old Rules"\n')
    assert problems(root) == []


def test_serial_shows_need_episode_numbers(root: Path) -> None:
    edit(root, TALKS, "type: episodic", "type: serial")
    edit(root, EP, "episode: 2\n", "")
    assert problems(root) == [
        f"{EP}: episode: a serial show needs a number on every episode (Apple Podcasts)"
    ]


def test_summary_over_4000_bytes(root: Path) -> None:
    summary = "é" * 2001  # 2001 characters, 4002 bytes
    edit(root, EP, "summary: The US Supreme Court", f"summary: {summary} The US Supreme Court")
    size = len(summary.encode()) + len(
        " The US Supreme Court has ended the doctrine of deference to federal agencies. "
        "We discuss which regulations may now be challenged in court."
    )
    report = fo_cast.check(root, now=NOW).report
    assert [str(p) for p in report] == [
        f"{EP}:6: summary: is {size} bytes; shorten it to 4000 (Apple Podcasts)"
    ]
    assert report.failed()


def test_show_description_over_4000_bytes(root: Path) -> None:
    edit(root, TALKS, "description: Long-form", "description: " + "x" * 4000 + " Long-form")
    [problem] = problems(root)
    assert problem.startswith(f"{TALKS}:3: description: is 4191 bytes; shorten it to 4000")


def test_text_that_reads_as_html(root: Path) -> None:
    edit(root, EP, "summary: The US", "summary: The <b>US</b>")
    assert problems(root) == [
        f"{EP}:6: warning: summary: '<b>' reads as an HTML tag and apps hide it; write plain "
        "text (Apple Podcasts)"
    ]


def test_category_listed_twice(root: Path) -> None:
    edit(root, TALKS, "  - Society & Culture", "  - News/Politics")
    assert problems(root) == [
        f"{TALKS}:12: warning: categories[1]: 'News/Politics' is listed twice (Apple Podcasts)"
    ]


def test_artwork_file_type(root: Path) -> None:
    (root / "talks" / "artwork.png").rename(root / "talks" / "cover.webp")
    edit(root, TALKS, "artwork: artwork.png", "artwork: cover.webp")
    assert problems(root) == [
        f"{TALKS}:9: artwork: 'cover.webp' must be a .jpg or .png file (Apple Podcasts)"
    ]


def test_feed_size_estimated_by_validate_and_weighed_by_build(root: Path) -> None:
    (root / "fo-cast.toml").write_text(
        'base_url = "https://podcasts.fairobserver.com/"\n[feeds]\nmax_size_mb = 0.02\n',
        encoding="utf-8",
    )
    rule = "of [feeds] max_size_mb; directories stop reading long feeds (Apple Podcasts)"
    assert problems(root) == [
        f"episodes/exclusive/show.yaml: warning: exclusive/feed.xml is about 0.03 MB, "
        f"past the 0.02 MB {rule}"
    ]
    result = build(fo_cast.check(root, now=NOW))
    exact = [str(p) for p in result.report if "is 0.0" in p.message]
    assert exact == [f"episodes/exclusive/show.yaml: warning: exclusive/feed.xml is 0.03 MB, "
                     f"past the 0.02 MB {rule}"]  # fmt: skip
    assert result.outputs  # a warning does not stop the build
    strict = build(fo_cast.check(root, now=NOW), strict=True)
    assert strict.outputs == []


# --- Spotify and the Podcast Index, through the manifests -----------------------------------


def test_http_base_url(root: Path) -> None:
    edit(root, "episodes/fo-cast.toml", "https://podcasts", "http://podcasts")
    assert problems(root) == [
        "episodes/fo-cast.toml: warning: base_url: 'http://podcasts.fairobserver.com/' is not "
        "https; podcast:transcript, podcast:chapters and podcast:alternateEnclosure links must "
        "be (Podcast Index)",
        "episodes/fo-cast.toml: warning: base_url: 'http://podcasts.fairobserver.com/' is not "
        "https; serve media over https (Spotify)",
    ]


def test_http_external_media(root: Path) -> None:
    edit(
        root,
        EP,
        "  - file: audio.mp3\n",
        "  - url: http://cdn.example.org/scotus.mp3\n    length: 1000\n    type: audio/mpeg\n"
        "    duration: 61\n",
    )
    assert problems(root) == [
        f"{EP}:8: warning: media[0].url: 'http://cdn.example.org/scotus.mp3' is not https; "
        "serve media over https (Spotify)"
    ]


def test_http_links_in_podcast_tags(root: Path) -> None:
    edit(root, TALKS, "url: https://www.fairobserver.com/donate/", "url: http://fo.example/d")
    edit(root, EP, "    role: guest\n", "    role: guest\n    href: http://example.org/mo\n")
    assert problems(root) == [
        f"{EP}:15: warning: people[0].href: 'http://example.org/mo' is not https; "
        "podcast:person links must be (Podcast Index)",
        f"{TALKS}:22: warning: funding[0].url: 'http://fo.example/d' is not https; "
        "podcast:funding links must be (Podcast Index)",
    ]


def test_person_name_over_128_characters(root: Path) -> None:
    edit(root, EP, "  - name: Margaret Osei", "  - name: " + "M" * 129)
    assert problems(root) == [
        f"{EP}:13: warning: people[0].name: is 129 characters; podcast:person takes 128 "
        "(Podcast Index)"
    ]


def test_lint_waits_for_a_valid_catalogue(root: Path) -> None:
    edit(root, EP, "title: SCOTUS", "title: Episode 3 - SCOTUS")
    edit(root, EP, "episode: 2", "episode: two")
    [problem] = problems(root)  # the title's episode number waits for the lint
    assert problem.startswith(f"{EP}:9: episode: expected a whole number")


# --- rules validation already enforces, checked on the Site ---------------------------------


def test_required_channel_tags_and_owner_email(root: Path) -> None:
    site = site_of(root, NOW)
    show = site.shows[2]
    owner = show.show.owner.model_copy(update={"email": ""})
    show.entry.show = show.show.model_copy(update={"author": " ", "owner": owner})
    found = [str(p) for p in lint.lint_show(show)]
    assert found == [
        f"{TALKS}:5: author: required in every feed; add it (Apple Podcasts)",
        f"{TALKS}:8: owner.email: required in every feed; add it (Apple Podcasts)",
        f"{TALKS}:8: owner.email: YouTube verifies who owns a feed by mailing this address; "
        "add one (YouTube)",
    ]


def test_categories_and_explicit(root: Path) -> None:
    site = site_of(root, NOW)
    show = site.shows[2]
    show.entry.show = show.show.model_copy(
        update={"categories": ["Cooking", "News/Gossip"], "explicit": "yes"}
    )
    assert [str(p) for p in lint.lint_show(show)] == [
        f"{TALKS}:13: explicit: must be true or false (Apple Podcasts)",
        f"{TALKS}:11: categories[0]: 'Cooking' is not an Apple Podcasts category (Apple Podcasts)",
        f"{TALKS}:12: categories[1]: 'Gossip' is not a subcategory of News (Apple Podcasts)",
    ]
    show.entry.show = show.show.model_copy(update={"categories": []})
    assert [str(p) for p in lint.lint_show(show)] == [
        f"{TALKS}:13: explicit: must be true or false (Apple Podcasts)",
        f"{TALKS}:10: categories: add a category, such as News/Politics (Apple Podcasts)",
    ]


def test_enclosure_type_url_and_length(root: Path) -> None:
    """Types Apple refuses never reach lint: the model refuses them (rules.check_media_type)."""
    with pytest.raises(ValueError, match="'audio/ogg' is not a media type Apple Podcasts"):
        rules.check_media_type("audio/ogg")
    site = site_of(root, NOW)
    episode = next(e for e in site.shows[2].episodes if str(e.entry.manifest) == EP)
    assert episode.audio is not None
    episode.audio = Enclosure(
        "https://cdn.example.org/a file.ogg", episode.audio.path, 0, "audio/ogg", 61.0,
        episode.audio.source,
    )  # fmt: skip
    assert [str(p) for p in lint.lint_episode(site.shows[2], episode)] == [
        f"{EP}:8: media[0].file: audio/ogg is not an audio type Spotify takes (Spotify)",
        f"{EP}:8: media[0].file: 'https://cdn.example.org/a file.ogg' is not an absolute URL "
        "without spaces (Spotify)",
        f"{EP}:8: media[0].file: the enclosure length must be the size in bytes (Spotify)",
    ]


def test_lines_survive_the_manifest_cache(root: Path) -> None:
    """A warning on a manifest read from the cache points at the same line as a fresh read."""
    edit(root, EP, "summary: The US", "summary: The <b>US</b>")
    first = problems(root)
    assert (root / ".fo-cast" / "manifests.json").is_file()
    assert problems(root) == first
    assert first[0].startswith(f"{EP}:6: warning: summary:")


def test_funding_text_over_128_characters_is_an_error(root: Path) -> None:
    """podcast:funding takes 128 characters (Podcast Index); the model refuses more."""
    edit(root, TALKS, "text: Support Fair Observer", "text: " + "x" * 129)
    assert problems(root) == [
        f"{TALKS}:23: funding[0].text: is too long; keep it to 128 characters"
    ]


def test_a_chapter_past_the_end_of_the_media_is_a_warning(root: Path) -> None:
    """The sample's audio runs 11.18 s: a chapter at 0:12 cannot be reached."""
    episode = "episodes/talks/2024-08-04-middle-east-part-1/episode.yaml"
    edit(root, episode, 'start: "0:06"', 'start: "0:12"')
    assert problems(root) == [
        f"{episode}:25: warning: chapters[2].start: 0:12 is past the end of the media (0:11); "
        "apps cannot reach it: correct the time or remove the chapter"
    ]
    edit(root, episode, 'start: "0:12"', 'start: "0:11"')
    assert problems(root) == []


def test_chapters_out_of_order_are_a_warning_at_the_first(root: Path) -> None:
    """Apps list chapters as they come and play each until the next one starts: a chapter
    at or before the one above it was written into chapters.json and the tags unremarked."""
    episode = "episodes/talks/2024-08-04-middle-east-part-1/episode.yaml"
    edit(root, episode, 'start: "0:06"', 'start: "0:00"')
    assert problems(root) == [
        f"{episode}:25: warning: chapters[2].start: 0:00 is not after the chapter before "
        "(0:03); apps list chapters as they come and play each until the next: put them in "
        "order, one time each"
    ]
