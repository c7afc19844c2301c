"""What a companion references: the files and episodes its links and images point at.

A reference is found in the HTML cmark-gfm makes of the Markdown (links, images, and the
editor's inline HTML alike; never text inside code), then placed on the line of the companion
where it is written. Validation checks every relative reference here; `render.site` resolves
the same references to URLs, with the same rules (`resolve_reference`).
"""

from __future__ import annotations

import enum
import html
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

from fo_cast.catalogue.models import Status
from fo_cast.catalogue.reader import Catalogue, EpisodeEntry, is_inside
from fo_cast.problems import Report, Severity
from fo_cast.rules import CONTENT_TAGS, LINK_SCHEMES, PAGE_TAGS, first_xml_illegal

TAG_RE = re.compile(r"<(a|img)\b([^>]*)>", re.IGNORECASE)
# Any tag in cmark's HTML: cmark writes only tags the page keeps, so the others are the
# editor's own HTML, which the render drops.
ANY_TAG_RE = re.compile(r"</?([A-Za-z][A-Za-z0-9-]*)(?=[\s/>])")
ATTRIBUTE_RE = re.compile(r"""([A-Za-z-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""")
# A companion without any of these has no relative reference and no image: it is not parsed.
HINT_RE = re.compile(
    r"!\[|<img|\b(?:src|href)\s*="
    r"|\]\(\s*<?(?![A-Za-z][A-Za-z0-9+.-]*:)"  # an inline link without a scheme
    r"|^ {0,3}\[[^\]]+\]:\s*<?(?![A-Za-z][A-Za-z0-9+.-]*:)"  # a link definition without one
    r"|\]\(\s*<?(?!(?:https?|mailto):)[A-Za-z][A-Za-z0-9+.-]*:",  # a scheme the page drops
    re.IGNORECASE | re.MULTILINE,
)
SCHEME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
# "www.example.com/book": a web address missing its https://, common in imported feeds.
HOST_LIKE_RE = re.compile(r"^(?:www\.[^/]+|[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}/.*)$", re.I)


# A numeric character reference, as CommonMark and HTML read them (decimal or hexadecimal)
_NUMERIC_REF = re.compile(r"&#(?:[xX]([0-9A-Fa-f]{1,8})|([0-9]{1,10}));")
_NONCHARACTER_REF = re.compile(r"&#(?:[xX]0*[Ff][Ff][Ff][EeFf]|0*6553[45]);")


@dataclass(frozen=True)
class Reference:
    """A link or image of a companion."""

    url: str  # as the HTML has it (entities decoded): "chart.png", "../other/", "https://..."
    line: int | None  # line of the companion where it is written
    image: bool
    alt: str = ""  # images only

    @property
    def relative(self) -> bool:
        """True for a URL without scheme or host: a file or episode of the catalogue."""
        return not SCHEME_RE.match(self.url) and not self.url.startswith("//")

    @property
    def target(self) -> str:
        """The path part, decoded ("" for a link to a fragment of the page itself)."""
        return unquote(urlsplit(self.url).path)

    @property
    def suffix(self) -> str:
        """What follows the path: "?query#fragment", kept on the resolved URL."""
        return self.url[len(urlsplit(self.url).path) :]


@lru_cache(maxsize=1)
def _renderer() -> Callable[[str], str]:
    from cmarkgfm import cmark

    # UNSAFE keeps raw HTML and every URL: the renderer's sanitiser decides what survives.
    options = cmark.Options.CMARK_OPT_UNSAFE
    freeing = _cmark_freeing(cmark)
    if freeing is None:

        def plain(text: str) -> str:
            try:
                return str(cmark.markdown_to_html_with_extensions(text, options, ["table"]))
            except UnicodeDecodeError:  # see render() below
                return str(cmark.markdown_to_html_with_extensions(
                    _NONCHARACTER_REF.sub("&#xFFFD;", text), options, ["table"]
                ))  # fmt: skip

        return plain
    # cmarkgfm's markdown_to_html_with_extensions never frees the document it parses nor the
    # HTML it renders (about 6 KB a companion: 60 MB for 10,000 of them): the same calls,
    # and both freed with the functions cmark-gfm allocated them with.
    node_free, free = freeing
    lib, ffi = cmark._cmark.lib, cmark._cmark.ffi
    cmark.core_extensions_ensure_registered()
    table = cmark.find_syntax_extension("table")

    def address(pointer: object) -> int:
        return int(ffi.cast("uintptr_t", pointer))

    def render(text: str) -> str:
        parser = cmark.parser_new(options=options)
        try:
            cmark.parser_attach_syntax_extension(parser, table)
            cmark.parser_feed(parser, text)
            root = cmark.parser_finish(parser)
            try:
                if lib.cmark_node_get_type(root) == lib.CMARK_NODE_NONE:
                    raise ValueError("Error parsing markdown!")
                extensions = cmark.parser_get_syntax_extensions(parser)
                raw = lib.cmark_render_html(root, options, extensions)
                try:
                    # cmark-gfm writes &#xFFFE; and &#xFFFF; as one byte each, no UTF-8
                    return str(ffi.string(raw).decode("utf-8", "replace"))
                finally:
                    free(address(raw))
            finally:
                node_free(address(root))
        finally:
            cmark.parser_free(parser)

    return render


def _cmark_freeing(cmark: object) -> tuple[Callable[[int], None], Callable[[int], None]] | None:
    """Returns cmark-gfm's cmark_node_free and the C library's free (what its default
    allocator frees with), or None where they cannot be found (then nothing is freed)."""
    try:
        import ctypes

        module = cmark._cmark  # type: ignore[attr-defined]
        node_free = ctypes.CDLL(module.__file__).cmark_node_free
        free = ctypes.CDLL(None).free
        for function in (node_free, free):
            function.argtypes, function.restype = [ctypes.c_void_p], None
        find = module.lib.cmark_find_syntax_extension  # the calls render() makes
    except (ImportError, OSError, AttributeError, TypeError):  # TypeError: no CDLL(None)
        return None
    return (node_free, free) if find is not None else None


@lru_cache(maxsize=16384)
def markdown_html(text: str) -> str:
    """Returns cmark-gfm's HTML for Markdown (CommonMark + tables), not sanitised.

    The one Markdown renderer of fo-cast, memoised: validation reads references from it and
    the render stage sanitises the same string.
    """
    return _renderer()(text)


@lru_cache(maxsize=16384)
def references(text: str) -> tuple[Reference, ...]:
    """Returns the links and images of a companion, in order, each with its line."""
    if not HINT_RE.search(text):
        return ()
    lines = text.splitlines()
    found = []
    searched: dict[str, int] = {}  # url -> the line after the last one it was found on
    for match in TAG_RE.finditer(markdown_html(text)):
        attributes = {
            name.lower(): html.unescape("".join(values))  # the one alternative that matched
            for name, *values in ATTRIBUTE_RE.findall(match.group(2))
        }
        image = match.group(1).lower() == "img"
        url = attributes.get("src" if image else "href")
        if url is None:
            continue
        line = _line_of(url, lines, searched.get(url, 0))
        if line is not None:
            searched[url] = line
        found.append(Reference(url, line, image, attributes.get("alt", "")))
    return tuple(found)


def dropped_tags(text: str) -> list[tuple[str, int | None]]:
    """Returns each tag name of the companion's own HTML that the page does not keep, once,
    with the first line it is written on."""
    if "<" not in text:
        return []
    dropped: dict[str, int | None] = {}
    for match in ANY_TAG_RE.finditer(markdown_html(text)):
        name = match.group(1).lower()
        if name not in PAGE_TAGS and name not in dropped:
            written = re.compile(rf"</?{re.escape(name)}(?=[\s/>])", re.IGNORECASE)
            lines = text.splitlines()
            dropped[name] = next((n for n, t in enumerate(lines, 1) if written.search(t)), None)
    return list(dropped.items())


def _line_of(url: str, lines: list[str], start: int) -> int | None:
    """Returns the 1-based line, at or after `start`, where url is written (cmark may have
    percent-encoded it, so its decoded form is looked for too)."""
    forms = {url, unquote(url), html.escape(url, quote=False)}
    # where it is written as a link or an image first ("](url", an attribute, "<url>", a
    # reference "]: url"), then anywhere: prose naming the file before its link is not it
    written = [
        f"{before}{form}" for form in forms for before in ("](", "]( ", '"', "'", "<", "]: ")
    ]
    order = (*range(start, len(lines)), *range(0, start))
    for candidates in (written, forms):
        for number in order:
            if any(form in lines[number] for form in candidates):
                return number + 1
    return None


class Kind(enum.Enum):
    """What a relative reference resolves to."""

    FRAGMENT = "fragment"  # "#notes": a place on the page itself
    EPISODE = "episode"  # another episode's folder or companion: its page
    FILE = "file"  # a file of the episode's folder: copied beside the page
    ABSOLUTE = "absolute"  # "/x.png": not relative to the companion
    OUTSIDE = "outside"  # leaves the catalogue (.., a symlink)
    ELSEWHERE = "elsewhere"  # inside the catalogue, outside the episode's folder
    MISSING = "missing"


@dataclass(frozen=True)
class Resolved:
    kind: Kind
    path: Path | None = None  # FILE: the file; EPISODE: the episode folder
    episode: EpisodeEntry | None = None  # EPISODE


def episode_folders(catalogue: Catalogue) -> dict[str, EpisodeEntry]:
    """Returns every episode by its folder (normalised), for resolving links to episodes."""
    return {os.path.normpath(e.folder): e for e in catalogue.episodes()}


def resolve_reference(
    catalogue: Catalogue,
    entry: EpisodeEntry,
    reference: Reference,
    folders: dict[str, EpisodeEntry],
) -> Resolved:
    """Returns what a relative reference of the entry's companion points at."""
    target = reference.target
    if not target:
        return Resolved(Kind.FRAGMENT)
    if target.startswith("/"):
        return Resolved(Kind.ABSOLUTE)
    companion = entry.file(entry.episode.companion)
    path = os.path.normpath(os.path.join(companion.parent, target))
    if not is_inside(catalogue.root, Path(path)):
        return Resolved(Kind.OUTSIDE)
    other = folders.get(path)
    if other is None:
        parent, name = os.path.split(path)
        other = folders.get(parent)
        if other is not None and name != other.episode.companion:
            other = None
    if other is not None:
        return Resolved(Kind.EPISODE, Path(other.folder), other)
    if not os.path.isfile(path):
        return Resolved(Kind.MISSING)
    if not is_inside(entry.folder, Path(path)):
        return Resolved(Kind.ELSEWHERE)
    return Resolved(Kind.FILE, Path(path))


def xml_illegal_reference(text: str) -> tuple[str, int, int] | None:
    """Returns the first numeric character reference of a companion that stands for a
    character XML cannot carry (a control character, U+FFFE, U+FFFF), with that character and
    the line, or None. Not one in code, which shows as written (cmark escapes its "&")."""
    if "&#" not in text:
        return None
    found: dict[str, tuple[int, list[int]]] = {}  # each such reference: its character, where
    for match in _NUMERIC_REF.finditer(text):
        hexadecimal, decimal = match.groups()
        point = int(hexadecimal, 16) if hexadecimal else int(decimal)
        # 0, surrogates and past U+10FFFF: CommonMark and HTML read them as U+FFFD already
        if (
            0 < point <= 0x10FFFF
            and not 0xD800 <= point <= 0xDFFF
            and first_xml_illegal(chr(point))
        ):
            found.setdefault(match.group(), (point, []))[1].append(match.start())
    if not found:
        return None
    rendered = markdown_html(text)
    for written, (point, starts) in found.items():
        # in code (or not a reference to CommonMark) it is shown as written: "&amp;#x1;"
        if rendered.count("&amp;" + written[1:]) >= len(starts):
            continue
        # the first not inside `code` on its line, for the line (cmark knows no more of it)
        start = next((n for n in starts if _outside_code_span(text, n)), starts[0])
        return written, point, text.count("\n", 0, start) + 1
    return None


def _outside_code_span(text: str, start: int) -> bool:
    line_start = text.rfind("\n", 0, start) + 1
    return text.count("`", line_start, start) % 2 == 0


def check_references(
    catalogue: Catalogue, entry: EpisodeEntry, folders: dict[str, EpisodeEntry], report: Report
) -> None:
    """Adds a problem for each reference of the companion that cannot be published: a missing
    file or one outside the catalogue or the episode's folder (errors), an image without alt
    text (a warning); a warning for each kind of HTML tag of the editor's that the page
    drops, and one for a character reference to a character no feed can carry."""
    if entry.companion is None:
        return
    shown = entry.shown(entry.episode.companion)
    illegal = xml_illegal_reference(entry.companion)
    if illegal is not None:
        written, point, at = illegal
        report.add(
            shown,
            "companion",
            f"{written} stands for U+{point:04X}, which no feed (XML) can carry; pages and feeds "
            "show U+FFFD (\ufffd) in its place: remove it",
            at,
            Severity.WARNING,
        )
    for name, line in dropped_tags(entry.companion):
        if name in CONTENT_TAGS:
            what = "is removed from the page and the feed with all it holds"
        else:
            what = "is HTML the page does not keep: the tag is dropped, its text kept"
        report.add(
            shown,
            "companion",
            f"'<{name}>' {what}; to show it as text, write \\<{name}> or put it in `code`",
            line,
            Severity.WARNING,
        )
    for reference in references(entry.companion):
        what = "image" if reference.image else "link"
        if reference.image and not reference.alt.strip():
            report.add(
                shown,
                "companion",
                f"the image '{reference.url}' has no alt text; describe it: ![what it shows](...)",
                reference.line,
                Severity.WARNING,
            )
        scheme = SCHEME_RE.match(reference.url)
        if scheme is not None and scheme.group()[:-1].lower() not in LINK_SCHEMES:
            report.add(
                shown,
                "companion",
                f"the {what} '{reference.url}' is dropped from the page and the feed: only "
                "http, https and mailto links are kept",
                reference.line,
                Severity.WARNING,
            )
            continue
        if not reference.relative:
            continue
        resolved = resolve_reference(catalogue, entry, reference, folders)
        if _links_to_a_draft(entry, resolved):
            report.add(
                shown,
                "companion",
                f"the link '{reference.url}' leads to a draft episode, whose page is not "
                "published; publish it first or remove the link",
                reference.line,
                Severity.WARNING,
            )
        if resolved.kind is Kind.MISSING and HOST_LIKE_RE.match(reference.target):
            report.add(
                shown,
                "companion",
                f"the {what} '{reference.url}' looks like a web address without its scheme; "
                f"write https://{reference.url}",
                reference.line,
                Severity.WARNING,
            )
            continue
        message = _problem(resolved, reference)
        if message is None and resolved.kind is Kind.FILE and resolved.path is not None:
            message = active_content(resolved.path)
        if message is not None:
            report.add(
                shown, "companion", f"the {what} '{reference.url}' {message}", reference.line
            )


# Files a browser runs when it opens them: beside the page they would run as the site itself.
ACTIVE_SUFFIXES = {".html", ".htm", ".xhtml", ".xht", ".js", ".mjs", ".shtml", ".php"}
SVG_ACTIVE_RE = re.compile(
    rb"<script|<foreignobject|\son[a-z]+\s*=|javascript:|<iframe|<embed|<object|<handler",
    re.IGNORECASE,
)
MAX_SVG_SCAN = 16 << 20


def active_content(path: Path) -> str | None:
    """Returns why a companion's file must not be published beside the page (a page, a script,
    an SVG holding script: opened from the page's link, each would run as the site), or None."""
    suffix = path.suffix.lower()
    if suffix in ACTIVE_SUFFIXES:
        return (
            f"is a {suffix} file, which a browser runs as a page of the site; publish it "
            "elsewhere and link there, or give it as a PDF or text"
        )
    if suffix not in (".svg", ".svgz"):
        return None
    try:
        with open(path, "rb") as file:
            head = file.read(MAX_SVG_SCAN)
    except OSError:
        return None  # the file checks say why it cannot be read
    if suffix == ".svgz" or head[:2] == b"\x1f\x8b":
        return "is a compressed SVG, which fo-cast cannot check for script; give it as .svg"
    if SVG_ACTIVE_RE.search(head):
        return (
            "is an SVG holding script (a <script>, an on...= handler, a javascript: link or "
            "embedded HTML), which runs as the site when the SVG is opened; remove it"
        )
    return None


def _links_to_a_draft(entry: EpisodeEntry, resolved: Resolved) -> bool:
    other = resolved.episode
    return (
        other is not None
        and other.episode.status is Status.DRAFT
        and entry.episode.status is not Status.DRAFT
    )


def _problem(resolved: Resolved, reference: Reference) -> str | None:
    folder = PurePosixPath(reference.target).name or reference.target
    return {
        Kind.ABSOLUTE: "is an absolute path; write it relative to the companion",
        Kind.OUTSIDE: "points outside the catalogue",
        Kind.ELSEWHERE: (
            f"points outside the episode's folder; copy '{folder}' into the episode's folder"
        ),
        Kind.MISSING: "names no file or episode; add the file beside the companion or fix it",
    }.get(resolved.kind)
