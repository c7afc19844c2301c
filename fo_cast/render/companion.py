"""Markdown companions -> sanitised HTML, once, in the two forms fo-cast publishes.

- `page`: the full article body for the episode web page.
- `feed`: the subset podcast apps render in `content:encoded` (no tables or images).

Markdown is CommonMark plus tables, rendered with raw HTML allowed; then nh3 (Ammonia) removes
everything unsafe: scripts, event handlers, javascript:/data: URLs, iframes, forms, styles.
Sanitising the output rather than disabling HTML keeps an editor's harmless inline HTML
(<sup>, <abbr>) working.

The renderer is cmark-gfm (cmarkgfm, GitHub's C implementation of CommonMark + tables):
markdown-it-py, pure Python, was twenty times slower, about 8 s for a 10,000-episode
catalogue against 0.5 s.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence
from functools import lru_cache

import nh3

from fo_cast.catalogue.companions import markdown_html
from fo_cast.rules import CONTENT_TAGS, FEED_TAGS, LINK_SCHEMES, PAGE_TAGS, xml_safe

PAGE_ATTRIBUTES = {
    "a": {"href", "title"},
    "abbr": {"title"},
    "img": {"src", "alt", "title", "width", "height"},
    "ol": {"start"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
    "q": {"cite"},
    "blockquote": {"cite"},
}
# Attributes kept only with these values: table alignment as the renderer writes it.
ALIGN = {"align": {"left", "center", "right"}}
PAGE_ATTRIBUTE_VALUES = {"td": ALIGN, "th": ALIGN}
# The only classes kept (nh3 forbids also listing "class" in the attributes): the ones fo-cast
# writes itself, so an editor's markup cannot borrow the page's own styles.
PAGE_CLASSES = {"p": {"credit", "disclaimer"}}
FEED_ATTRIBUTES = {"a": {"href"}, "ol": {"start"}}
LINK_REL = "noopener noreferrer"
HEADING_RE = re.compile(r"<(/?)h([1-6])(?=[\s>])", re.IGNORECASE)


class Companion:
    """A companion rendered once: the page body and the feed subset, both sanitised.

    Give both forms, or the rendered HTML to sanitise into each form on first use (a build of
    the feeds alone never needs the page form).
    """

    __slots__ = ("_html", "_tail", "_page", "_feed")

    def __init__(
        self, page: str | None = None, feed: str | None = None, html: str = "", tail: str = ""
    ) -> None:
        self._html = html
        self._tail = tail  # fo-cast's own HTML after the article (credits, disclaimer)
        self._page = page
        self._feed = feed

    # The article and the tail are sanitised apart: an article left open (a comment, a
    # <textarea>, an <a href>) must not swallow or take over the credits and the disclaimer.
    @property
    def page(self) -> str:
        if self._page is None:
            self._page = sanitise(self._html) + (sanitise(self._tail) if self._tail else "")
        return self._page

    @property
    def feed(self) -> str:
        if self._feed is None:
            tail = sanitise(self._tail, feed=True) if self._tail else ""
            self._feed = sanitise(self._html, feed=True) + tail
        return self._feed

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Companion):
            return NotImplemented
        return (self.page, self.feed) == (other.page, other.feed)

    __hash__ = None  # type: ignore[assignment]  # equal by value, and its forms fill in lazily

    def __repr__(self) -> str:
        return f"Companion(page={self.page!r}, feed={self.feed!r})"


def _demote_headings(fragment: str) -> str:
    """Returns the HTML with headings one level down when it uses <h1>.

    The page's title is its only <h1>; a companion that starts at `#` keeps its outline.
    """
    levels = [int(m.group(2)) for m in HEADING_RE.finditer(fragment)]
    if not levels or min(levels) > 1:
        return fragment
    return HEADING_RE.sub(lambda m: f"<{m.group(1)}h{min(int(m.group(2)) + 1, 6)}", fragment)


@lru_cache(maxsize=2)
def _cleaner(feed: bool) -> nh3.Cleaner:
    """Returns the sanitiser for one form, built once (building it costs more than a clean)."""
    if feed:
        return nh3.Cleaner(
            tags=FEED_TAGS,
            clean_content_tags=CONTENT_TAGS,
            attributes=FEED_ATTRIBUTES,
            url_schemes=set(LINK_SCHEMES),
            link_rel=LINK_REL,
            strip_comments=True,
        )
    return nh3.Cleaner(
        tags=PAGE_TAGS,
        clean_content_tags=CONTENT_TAGS,
        attributes=PAGE_ATTRIBUTES,
        tag_attribute_values=PAGE_ATTRIBUTE_VALUES,
        allowed_classes=PAGE_CLASSES,
        url_schemes=set(LINK_SCHEMES),
        link_rel=LINK_REL,
        strip_comments=True,
    )


def render_markdown(text: str) -> str:
    """Returns unsanitised HTML for Markdown text (sanitise before publishing)."""
    return _demote_headings(markdown_html(text))


def sanitise(fragment: str, feed: bool = False) -> str:
    """Returns the HTML fragment with everything unsafe removed, and valid HTML (and XML: a
    character reference such as &#x1; stands for a character no feed can carry; validation
    warns of it, and U+FFFD takes its place)."""
    return xml_safe(_valid(_cleaner(feed).clean(fragment)))


# nh3 serialises attributes quoted and in a fixed form, so these patterns see every case.
IMG_WITHOUT_ALT = re.compile(r"<img(?![^>]*\balt=)")
REL_WITHOUT_HREF = re.compile(r'<a((?:(?!\bhref=)[^>])*?) rel="' + LINK_REL + '"')


def _valid(fragment: str) -> str:
    """Returns the fragment with what the HTML spec requires after sanitising: an alt on every
    image (empty when the editor gave none), and no rel on a link whose href was removed."""
    fragment = IMG_WITHOUT_ALT.sub('<img alt=""', fragment)
    return REL_WITHOUT_HREF.sub(r"<a\1", fragment)


# nh3 (html5ever) serialises every tag as <name attr="value" ...>, a value's '"' as &quot; and
# text's '<' as &lt;: so a '<' and a letter start a tag, and read attribute by attribute from
# there, a value is consumed whole. Matching href=" anywhere instead found it inside another
# attribute's value (alt="x href=") or in prose, and broke the tag open.
TAG_RE = re.compile(r'<([A-Za-z][^\s/>]*)((?:\s+[^\s"\'>/=]+(?:="[^"]*")?)*)(\s*/?>)')
ATTRIBUTE_RE = re.compile(r'(\s+)([^\s"\'>/=]+)(?:="([^"]*)")?')
URL_ATTRIBUTES = ("href", "src")


def rewrite_urls(fragment: str, resolve: Callable[[str], str]) -> str:
    """Returns sanitised HTML with every href and src attribute passed through resolve (which
    takes and returns the URL decoded); nothing else, text and other attributes, changes."""

    def attribute(match: re.Match[str]) -> str:
        space, name, value = match.groups()
        if value is None or name.lower() not in URL_ATTRIBUTES:
            return match.group(0)
        return f'{space}{name}="{html.escape(resolve(html.unescape(value)))}"'

    def tag(match: re.Match[str]) -> str:
        attributes = ATTRIBUTE_RE.sub(attribute, match.group(2))
        return f"<{match.group(1)}{attributes}{match.group(3)}"

    return TAG_RE.sub(tag, fragment)


def credits_html(lines: Sequence[str], disclaimer: str | None) -> str:
    """Returns the credit lines and the show's disclaimer as HTML paragraphs."""
    parts = [f'<p class="credit"><em>[{html.escape(line)}]</em></p>' for line in lines]
    if disclaimer:
        parts.append(f'<p class="disclaimer"><em>{html.escape(disclaimer)}</em></p>')
    return "\n".join(parts)


def render_companion(
    markdown: str, credit_lines: Sequence[str], disclaimer: str | None
) -> Companion:
    """Returns the companion in its two sanitised forms, credits and disclaimer appended.

    Memoised on its inputs, so rebuilding a catalogue in the same process re-renders only the
    companions that changed.
    """
    return _render_companion(markdown, tuple(credit_lines), disclaimer)


@lru_cache(maxsize=1024)
def _render_companion(
    markdown: str, credit_lines: tuple[str, ...], disclaimer: str | None
) -> Companion:
    return Companion(html=render_markdown(markdown), tail=credits_html(credit_lines, disclaimer))
