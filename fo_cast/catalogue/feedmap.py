"""What other hosts write in feeds -> what fo-cast's manifests hold: dates, durations, media
types, explicit flags, Apple's retired categories, HTML show notes. Pure functions.
"""

from __future__ import annotations

import functools
import html
import re
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from fo_cast import rules
from fo_cast.limits import TooDeep, guarded

# Types hosts write for the types Apple accepts (rules.ACCEPTED_TYPES).
MEDIA_TYPE_ALIASES = {
    "audio/mp3": "audio/mpeg",
    "audio/x-mp3": "audio/mpeg",
    "audio/mpeg3": "audio/mpeg",
    "audio/x-mpeg": "audio/mpeg",
    "audio/x-mpeg-3": "audio/mpeg",
    "audio/mpg": "audio/mpeg",
    "audio/x-mpg": "audio/mpeg",
    "audio/m4a": "audio/x-m4a",
    "audio/x-mp4": "audio/mp4",
    "audio/x-aac": "audio/aac",
    "audio/aacp": "audio/aac",
    "video/x-mp4": "video/mp4",
    "video/m4v": "video/x-m4v",
    "video/mov": "video/quicktime",
}


def media_type(declared: str | None, url: str) -> tuple[str | None, str | None]:
    """Returns (type, note): the declared type with aliases normalised, or the type of the
    URL's extension when none is declared; the note says what was changed."""
    value = (declared or "").strip().lower().split(";")[0].strip()
    if value in MEDIA_TYPE_ALIASES:
        return MEDIA_TYPE_ALIASES[value], f"type {value} written as {MEDIA_TYPE_ALIASES[value]}"
    if value:
        return value, None
    suffix = PurePosixPath(urlsplit(url).path).suffix.lower()
    inferred = rules.MEDIA_TYPES.get(suffix)
    if inferred:
        return inferred, f"no type; {inferred} from the file name"
    return None, None


# Apple's categories before the 2019 revision -> today's (rules.APPLE_CATEGORIES).
RETIRED_CATEGORIES = {
    "Games & Hobbies": "Leisure",
    "Games & Hobbies/Automotive": "Leisure/Automotive",
    "Games & Hobbies/Aviation": "Leisure/Aviation",
    "Games & Hobbies/Hobbies": "Leisure/Hobbies",
    "Games & Hobbies/Other Games": "Leisure/Games",
    "Games & Hobbies/Video Games": "Leisure/Video Games",
    "Government & Organizations": "Government",
    "Government & Organizations/Local": "Government",
    "Government & Organizations/National": "Government",
    "Government & Organizations/Regional": "Government",
    "Government & Organizations/Non-Profit": "Business/Non-Profit",
    "Science & Medicine": "Science",
    "Science & Medicine/Medicine": "Health & Fitness/Medicine",
    "Science & Medicine/Natural Sciences": "Science/Natural Sciences",
    "Science & Medicine/Social Sciences": "Science/Social Sciences",
    "Health": "Health & Fitness",
    "Health/Alternative Health": "Health & Fitness/Alternative Health",
    "Health/Fitness & Nutrition": "Health & Fitness/Fitness",
    "Health/Self-Help": "Education/Self-Improvement",
    "Health/Sexuality": "Health & Fitness/Sexuality",
    "Education/Educational Technology": "Education",
    "Education/Higher Education": "Education",
    "Education/K-12": "Education",
    "Education/Language Courses": "Education/Language Learning",
    "Education/Training": "Education/Courses",
    "Business/Business News": "News/Business News",
    "Business/Management & Marketing": "Business/Management",
    "Business/Shopping": "Business",
    "Technology/Gadgets": "Technology",
    "Technology/Tech News": "News/Tech News",
    "Technology/Podcasting": "Technology",
    "Technology/Software How-To": "Technology",
    "Arts/Literature": "Arts/Books",
    "News & Politics": "News/Politics",
    "Religion & Spirituality/Other": "Religion & Spirituality",
    "Society & Culture/History": "History",
    "Sports & Recreation": "Sports",
    "Sports & Recreation/Amateur": "Sports",
    "Sports & Recreation/College & High School": "Sports",
    "Sports & Recreation/Outdoor": "Sports/Wilderness",
    "Sports & Recreation/Professional": "Sports",
}


def category(main: str, sub: str | None) -> tuple[str | None, str | None]:
    """Returns (category, note) for an itunes:category: today's name for a retired one, None
    for one Apple never had; the note says which."""
    given = f"{main}/{sub}" if sub else main
    if given in RETIRED_CATEGORIES:
        mapped = RETIRED_CATEGORIES[given]
        return mapped, f"retired Apple category '{given}' written as '{mapped}'"
    try:
        return rules.check_category(given), None
    except ValueError:
        pass
    if sub and main in rules.APPLE_CATEGORIES:
        return main, f"'{sub}' is not a subcategory of {main} today; kept '{main}'"
    return None, f"'{given}' is not an Apple Podcasts category; left out"


_TRUE = {"yes", "true", "explicit", "1"}
_FALSE = {"no", "false", "clean", "0", ""}


def explicit(value: str | None) -> bool | None:
    """Returns the flag of itunes:explicit (yes/no/clean/true/false), None if unreadable."""
    text = (value or "").strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    return None


def duration(value: str | None) -> float | None:
    """Returns the seconds of itunes:duration ('3723', '1:02:03', '62:03', '3723.5')."""
    text = (value or "").strip()
    if not text:
        return None
    parts = text.split(":")
    if len(parts) > 3:
        return None
    try:
        numbers = [float(p) for p in parts]
    except ValueError:
        return None
    if any(n < 0 or n != n for n in numbers):
        return None
    seconds = 0.0
    for number in numbers:
        seconds = seconds * 60 + number
    return seconds


# Time zone names that RFC 822 lists and hosts still write (email.utils knows the US ones).
_ZONES = {"UT": 0, "Z": 0, "CET": 1, "CEST": 2, "MEZ": 1, "MESZ": 2, "BST": 1, "IST": 5.5}
_DAY_NAME = re.compile(r"^\s*[^\d\s,]+\.?,?\s*")


def published(value: str | None) -> datetime | None:
    """Returns the instant of an RFC 822 date as hosts write it (two-digit years, missing
    day names, named zones, ISO 8601 too), None when it cannot be read."""
    text = " ".join((value or "").split())
    if not text:
        return None
    for candidate in (text, _DAY_NAME.sub("", text)):
        parsed = _rfc822(candidate)
        if parsed is not None:
            return parsed
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _rfc822(text: str) -> datetime | None:
    zone = None
    last = text.rsplit(" ", 1)
    if len(last) == 2 and last[1].upper() in _ZONES:
        zone = timezone(timedelta(hours=_ZONES[last[1].upper()]))
        text = last[0] + " +0000"
    try:
        parsed = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):  # a year past C's long
        return None
    years = [t for t in text.replace(",", " ").split() if t.isdigit() and len(t) >= 3]
    if years and int(years[0]) != parsed.year:
        return None  # "0000" or "0099": email.utils reads them as two-digit years (2000, 1999)
    if zone is not None:
        parsed = parsed.replace(tzinfo=zone)
    if parsed.tzinfo is None:  # "-0000": the time is UTC, its zone unknown
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


# --- show notes -----------------------------------------------------------------------------

_TAG = re.compile(r"<[A-Za-z/!][^>]*>")
_SCRIPTS = re.compile(r"<(script|style)\b[^>]*>.*?</\1\s*>", re.I | re.S)


def looks_like_html(text: str) -> bool:
    return bool(_TAG.search(text))


def plain_text(text: str) -> str:
    """Returns HTML (or text) as plain text: tags dropped, entities decoded, paragraphs kept
    (a reference to a character XML cannot carry, such as &#x1;, decoded to U+FFFD)."""
    if not looks_like_html(text):
        return rules.xml_safe(html.unescape(text).strip())
    spaced = re.sub(r"(?i)<br\s*/?>|</p\s*>|</li\s*>|</h\d\s*>|</div\s*>", "\n", text)
    stripped = html.unescape(_TAG.sub("", spaced))
    lines = [" ".join(line.split()) for line in stripped.splitlines()]
    paragraphs = "\n".join(lines)
    return rules.xml_safe(re.sub(r"\n{3,}", "\n\n", paragraphs).strip())


def companion_markdown(text: str) -> str:
    """Returns show notes as Markdown: HTML through markdownify, plain text as paragraphs
    (a character XML cannot carry, which entities decode to, as U+FFFD: see plain_text)."""
    if not looks_like_html(text):
        return _escape_markdown(rules.xml_safe(html.unescape(text).strip())) + "\n"
    from bs4 import BeautifulSoup  # loaded on first use: validate never needs them

    text = _SCRIPTS.sub("", text)  # markdownify keeps the text of stripped tags
    try:
        # markdownify recurses once per nested element: thousands of them in hostile notes
        markdown: str = guarded(
            lambda: _converter().convert_soup(BeautifulSoup(text, "html.parser"))
        )
    except TooDeep:  # kept as plain paragraphs, which need no nesting
        return _escape_markdown(plain_text(text)) + "\n"
    return rules.xml_safe(re.sub(r"\n{3,}", "\n\n", markdown).strip()) + "\n"


@functools.cache
def _converter() -> Any:
    """Returns markdownify's converter, made once (it is the slow part of an import)."""
    from markdownify import MarkdownConverter

    return MarkdownConverter(
        heading_style="ATX",
        bullets="-",
        strip=["script", "style", "iframe", "form", "img"],
        escape_misc=False,
        newline_style="BACKSLASH",
    )


def _escape_markdown(text: str) -> str:
    """Returns plain text that CommonMark reads back as the same text."""
    escaped = re.sub(r"([\\`*_\[\]<>#|])", r"\\\1", text)
    return re.sub(r"(?m)^(\s*)(\d+)\.(\s)", r"\1\2\\.\3", escaped)
