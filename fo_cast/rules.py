"""Pure rules of the formats fo-cast writes: XML characters, Apple's categories, media types,
URLs, language codes, the Podcast Index's show GUID. Used by the models (one value at a
time) and by the directory lint."""

from __future__ import annotations

import ipaddress
import re
import uuid
from pathlib import PurePosixPath
from urllib.parse import quote, urlsplit

import idna

# The Podcast Index namespace for podcast:guid (UUIDv5 of the feed URL without its scheme).
PODCAST_GUID_NAMESPACE = uuid.UUID("ead4c236-bf58-58c6-a2c6-a6b28d128cb6")


def podcast_guid(feed_url: str) -> str:
    """Returns the Podcast Index podcast:guid for a feed URL."""
    bare = feed_url.split("://", 1)[-1].rstrip("/")
    return str(uuid.uuid5(PODCAST_GUID_NAMESPACE, bare))


# The HTML a companion keeps on its page, and in content:encoded (the render sanitises to
# these; validation warns of an editor's tags that are not among them).
PAGE_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "caption", "cite", "code", "dd", "del", "dl", "dt",
    "em", "figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins",
    "kbd", "li", "mark", "ol", "p", "pre", "q", "s", "small", "strong", "sub", "sup", "table",
    "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul",
}  # fmt: skip
# Apple and most apps render this much of content:encoded; anything else is stripped.
FEED_TAGS = {
    "a", "b", "blockquote", "br", "code", "em", "h1", "h2", "h3", "h4", "i", "li", "ol", "p",
    "pre", "strong", "ul",
}  # fmt: skip
# The URL schemes a companion's links and images keep; the sanitiser drops the others
# (javascript:, data:, file:...), and validation warns of them.
LINK_SCHEMES = frozenset({"http", "https", "mailto"})
# Dropped with their content, not just unwrapped: their text is code or markup, never prose.
CONTENT_TAGS = {"script", "style", "iframe", "object", "embed", "noscript", "template", "svg",
                "math", "textarea", "select", "title"}  # fmt: skip
# XML 1.0 allows tab, newline, carriage return and everything from U+0020 except surrogates
# and U+FFFE/U+FFFF; anything else makes the whole feed unreadable to a strict parser.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_safe(text: str) -> str:
    """Returns text with each character XML 1.0 cannot carry replaced by U+FFFD, as CommonMark
    and HTML replace a reference to no character at all."""
    return _XML_ILLEGAL.sub("\ufffd", text)


def first_xml_illegal(text: str) -> str | None:
    """Returns the first character XML 1.0 cannot carry, or None."""
    match = _XML_ILLEGAL.search(text)
    return match.group() if match else None


def check_xml_safe(value: str) -> str:
    """Accepts text every XML parser can read; names the first character it cannot."""
    bad = first_xml_illegal(value)
    if bad is not None:
        raise ValueError(
            f"contains the control character U+{ord(bad):04X}, which XML cannot carry; remove it"
        )
    return value


_CLOCK = re.compile(r"^(?:(?:(\d+):)?([0-5]?\d):)?([0-5]?\d|\d+)(\.\d+)?\Z")


def parse_clock(text: str) -> float | None:
    """Returns seconds for '90', '1:30', '01:02:03' or '1:02:03.5'; None if not a time."""
    match = _CLOCK.match(text.strip())
    if not match:
        return None
    hours, minutes, seconds, fraction = match.groups()
    if (hours or minutes) and int(seconds) > 59:
        return None
    return int(hours or 0) * 3600 + int(minutes or 0) * 60 + int(seconds) + float(fraction or 0)


def check_url(value: str) -> str:
    """Accepts an absolute http(s) URL that can go into a public feed: with a port that
    exists, and no user or password."""
    try:
        parts = urlsplit(value)
    except ValueError:  # brackets holding no IPv6 address
        raise ValueError(f"'{value}' is not an absolute http(s) URL") from None
    try:
        port = parts.port
    except ValueError:  # past 65535, or not a number
        port = -1
    if parts.scheme not in ("http", "https") or not parts.netloc or " " in value:
        raise ValueError(f"'{value}' is not an absolute http(s) URL")
    if port is not None and not 0 < port < 65536:
        raise ValueError(f"'{value}' has a port that does not exist")
    if "@" in parts.netloc:  # not echoed: it holds the password
        raise ValueError("the URL carries a user or password, which would be public; remove it")
    return value


# Characters no URL may carry (RFC 3986), and that no encoding of ours should guess at:
# quoted into an attribute or a feed, each breaks every URL built from the base.
_URL_UNSAFE = {'"': "a double quote", "<": "'<'", ">": "'>'", "\\": "a backslash",
               "`": "a backtick", "{": "'{'", "}": "'}'", "|": "'|'", "^": "'^'"}  # fmt: skip
_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_HOST_LABEL = re.compile(r"^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)\Z")
_NETLOC = re.compile(r"^(.*?)(?::\d*)?$")  # host, then any :port


def check_base_url(value: str) -> str:
    """Returns the URL the output tree is served from, encoded: every feed URL is it plus a path.

    What can be encoded is: a non-ASCII path is percent-encoded (UTF-8) and an international
    host name becomes punycode (IDNA 2008, UTS 46), so `https://bücher.example/für/` gives
    `https://xn--bcher-kva.example/f%C3%BCr/`. The rest is refused with the reason.
    """
    for char in value:
        if char.isspace() or ord(char) < 0x20 or ord(char) == 0x7F:
            what = "a space" if char == " " else f"the character U+{ord(char):04X}"
            raise ValueError(f"'{value}' contains {what}; a URL cannot (write a space as %20)")
        if char in _URL_UNSAFE:
            raise ValueError(f"'{value}' contains {_URL_UNSAFE[char]}, which a URL cannot carry")
    try:
        parts = urlsplit(value)
    except ValueError:  # brackets that hold no IPv6 address
        raise ValueError(f"'{value}' has a host that is not an IP address") from None
    try:
        port = parts.port
    except ValueError:
        port = -1
    if port is not None and not 0 < port < 65536:
        raise ValueError(f"'{value}' has a port that does not exist")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"'{value}' is not an absolute http(s) URL")
    if "@" in parts.netloc:
        raise ValueError("a user or password would be in every public feed; remove it")
    if parts.query or parts.fragment or value.endswith(("?", "#")):
        raise ValueError(f"'{value}' has a query or fragment; paths are added after it")
    netloc = _NETLOC.match(parts.netloc)
    assert netloc is not None  # the pattern matches any string
    host = _encode_host(value, netloc.group(1))
    if bad := _PERCENT.search(parts.path):
        escape = parts.path[bad.start() : bad.start() + 3]
        raise ValueError(
            f"'{value}' has '{escape}', which is no percent-escape; write a percent sign as %25"
        )
    segments = parts.path.split("/")[1:]
    if any(seg.lower() in (".", "..", "%2e", "%2e%2e", ".%2e", "%2e.") for seg in segments):
        raise ValueError(
            f"'{value}' has '/./' or '/../' in its path; apps and servers resolve it "
            "differently: give the folder itself"
        )
    if "" in segments[:-1]:
        raise ValueError(f"'{value}' has '//' in its path; remove the empty folder name")
    path = "".join(c if ord(c) < 0x80 else quote(c) for c in parts.path)
    where = host if port is None else f"{host}:{port}"
    return f"{parts.scheme}://{where}{path}"


def _encode_host(value: str, host: str) -> str:
    """Returns the host as ASCII (punycode for a name in another script); raises ValueError."""
    if host.startswith("["):  # an IPv6 literal; urlsplit has checked its brackets
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            raise ValueError(f"'{value}' has a host that is not an IPv6 address") from None
        return host
    ascii_host = host.rstrip(".")
    if not ascii_host.isascii():  # ASCII names stay as typed: the podcast:guid hashes them
        try:
            ascii_host = idna.encode(ascii_host, uts46=True).decode("ascii")
        except idna.IDNAError as error:
            raise ValueError(f"'{value}' has a host that is not a domain name ({error})") from None
    labels = ascii_host.split(".")
    if not ascii_host or not all(_HOST_LABEL.match(label) for label in labels):
        raise ValueError(f"'{value}' has a host that is not a domain name")
    return ascii_host + ("." if host.endswith(".") else "")


_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+\Z")


def check_email(value: str) -> str:
    if not _EMAIL.match(value) or ".." in value:
        raise ValueError(f"'{value}' is not an email address")
    return value


def check_relative_path(value: str) -> str:
    """Accepts a path inside the manifest's folder: no '..', not absolute, forward slashes."""
    if not value.strip():
        raise ValueError("must not be empty")
    if value.startswith("/") or re.match(r"^[A-Za-z]:", value):
        raise ValueError(f"'{value}' is an absolute path; give it relative to this file's folder")
    if "\\" in value:
        raise ValueError(f"'{value}' has backslashes; separate folders with forward slashes")
    if ".." in value.split("/"):
        raise ValueError(f"'{value}' climbs out of its folder with '..'; keep the file inside")
    return value


def is_url(value: str) -> bool:
    """Returns True for a value that names an http(s) URL rather than a file."""
    return value.startswith(("http://", "https://"))


def check_file_or_url(value: str) -> str:
    """Accepts a path inside the manifest's folder, or an absolute http(s) URL."""
    return check_url(value) if is_url(value) else check_relative_path(value)


_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*\Z")


def check_slug(value: str) -> str:
    if not _SLUG.match(value) or len(value) > 100:
        raise ValueError(f"'{value}' is not a slug; use lowercase letters, digits and dashes")
    return value


ISO_639_1 = frozenset(
    """aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu
    cv cy da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho
    hr ht hu hy hz ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv
    kw ky la lb lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl nn no nr
    nv ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm sn so sq
    sr ss st su sv sw ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh
    yi yo za zh zu""".split()
)
_LANGUAGE = re.compile(r"^([A-Za-z]{2,3})(?:-[A-Za-z0-9]{1,8})*\Z")


def check_language(value: str) -> str:
    match = _LANGUAGE.match(value)
    if not match or match.group(1).lower() not in ISO_639_1:
        raise ValueError(f"'{value}' is not a language code; use ISO 639-1, such as en or en-US")
    return value


APPLE_CATEGORIES: dict[str, tuple[str, ...]] = {
    "Arts": ("Books", "Design", "Fashion & Beauty", "Food", "Performing Arts", "Visual Arts"),
    "Business": (
        "Careers", "Entrepreneurship", "Investing", "Management", "Marketing", "Non-Profit",
    ),
    "Comedy": ("Comedy Interviews", "Improv", "Stand-Up"),
    "Education": ("Courses", "How To", "Language Learning", "Self-Improvement"),
    "Fiction": ("Comedy Fiction", "Drama", "Science Fiction"),
    "Government": (),
    "History": (),
    "Health & Fitness": (
        "Alternative Health", "Fitness", "Medicine", "Mental Health", "Nutrition", "Sexuality",
    ),
    "Kids & Family": ("Education for Kids", "Parenting", "Pets & Animals", "Stories for Kids"),
    "Leisure": (
        "Animation & Manga", "Automotive", "Aviation", "Crafts", "Games", "Hobbies",
        "Home & Garden", "Video Games",
    ),
    "Music": ("Music Commentary", "Music History", "Music Interviews"),
    "News": (
        "Business News", "Daily News", "Entertainment News", "News Commentary", "Politics",
        "Sports News", "Tech News",
    ),
    "Religion & Spirituality": (
        "Buddhism", "Christianity", "Hinduism", "Islam", "Judaism", "Religion", "Spirituality",
    ),
    "Science": (
        "Astronomy", "Chemistry", "Earth Sciences", "Life Sciences", "Mathematics",
        "Natural Sciences", "Nature", "Physics", "Social Sciences",
    ),
    "Society & Culture": (
        "Documentary", "Personal Journals", "Philosophy", "Places & Travel", "Relationships",
    ),
    "Sports": (
        "Baseball", "Basketball", "Cricket", "Fantasy Sports", "Football", "Golf", "Hockey",
        "Rugby", "Running", "Soccer", "Swimming", "Tennis", "Volleyball", "Wilderness",
        "Wrestling",
    ),
    "Technology": (),
    "True Crime": (),
    "TV & Film": ("After Shows", "Film History", "Film Interviews", "Film Reviews", "TV Reviews"),
}  # fmt: skip


def split_category(value: str) -> tuple[str, str | None]:
    """Returns (category, subcategory) from 'News/Politics' or 'News'."""
    main, _, sub = value.partition("/")
    return main.strip(), (sub.strip() or None)


def check_category(value: str) -> str:
    main, sub = split_category(value)
    if main not in APPLE_CATEGORIES:
        raise ValueError(f"'{main}' is not an Apple Podcasts category")
    if sub is not None and not APPLE_CATEGORIES[main]:
        raise ValueError(f"{main} has no subcategories; write '{main}' alone")
    if sub is not None and sub not in APPLE_CATEGORIES[main]:
        allowed = ", ".join(APPLE_CATEGORIES[main])
        raise ValueError(f"'{sub}' is not a subcategory of {main} (allowed: {allowed})")
    return value


# What Apple Podcasts and Spotify accept as enclosures, by file extension.
MEDIA_TYPES: dict[str, str] = {
    ".mp3": "audio/mpeg",
    ".m4a": "audio/x-m4a",
    ".mp4": "video/mp4",
    ".m4v": "video/x-m4v",
    ".mov": "video/quicktime",
}
ACCEPTED_TYPES = frozenset({*MEDIA_TYPES.values(), "audio/mp4", "audio/aac"})


def check_media_name(name: str) -> None:
    """Raises ValueError unless the file name's suffix is a media type Apple accepts."""
    if PurePosixPath(name).suffix.lower() not in MEDIA_TYPES:
        allowed = ", ".join(sorted(MEDIA_TYPES))
        raise ValueError(f"'{name}' is not a media type Apple accepts ({allowed})")


def check_media_type(value: str) -> str:
    if value not in ACCEPTED_TYPES:
        allowed = ", ".join(sorted(ACCEPTED_TYPES))
        raise ValueError(f"'{value}' is not a media type Apple Podcasts accepts ({allowed})")
    return value


# The Podcast Index person taxonomy (podcast-namespace taxonomy.json), lower-cased: each
# group and its roles. A podcast:person names its group unless it is the default, "cast".
_ROLE_GROUPS = {
    "cast": "host|co-host|guest host|guest|voice actor|narrator|announcer|reporter",
    "creative direction": "director|assistant director|executive producer|senior producer|"
    "producer|associate producer|development producer|creative director",
    "writing": "author|editorial director|co-writer|writer|songwriter|guest writer|story editor|"
    "managing editor|script editor|script coordinator|researcher|editor|fact checker|"
    "translator|transcriber|logger",
    "audio production": "studio coordinator|technical director|technical manager|"
    "audio engineer|remote recording engineer|post production engineer",
    "audio post-production": "audio editor|sound designer|foley artist|composer|theme music",
    "administration": "production coordinator|booking coordinator|production assistant|"
    "content manager|marketing manager|sales representative|sales manager",
    "visuals": "graphic designer|cover art designer",
    "community": "social media manager",
    "misc.": "consultant|intern",
    "video production": "camera operator|lighting designer|camera grip|assistant camera",
}
PERSON_GROUPS = {
    role: group
    for group, roles in _ROLE_GROUPS.items()
    if group != "cast"
    for role in roles.split("|")
}
PERSON_ROLES = frozenset(role for roles in _ROLE_GROUPS.values() for role in roles.split("|"))


def check_person_role(value: str) -> str:
    if value.lower() not in PERSON_ROLES:
        raise ValueError(
            f"'{value}' is not a Podcast Index person role (such as host, co-host, guest, writer)"
        )
    return value.lower()


# Control characters (C0, DEL, C1) and lone surrogates, in a path or a URL: os.stat() fails
# on a NUL or a surrogate with ValueError, an XML writer on the rest, and no file name or
# URL is meant to hold one; a YAML or TOML escape ("\0", "\x00", "\u0000") puts it there.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")  # and XML's two


def check_no_control(value: str) -> str:
    """Accepts a path or URL without control characters; names the first it has."""
    match = _CONTROL.search(value)
    if match is not None:
        raise ValueError(f"contains the control character U+{ord(match.group()):04X}; remove it")
    return value
