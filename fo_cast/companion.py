"""Markdown companions -> sanitised HTML, once, in the two forms fo-cast publishes.

- `page`: the full article body for the episode web page.
- `feed`: the subset podcast apps render in `content:encoded` (no tables or images).

Rendering uses markdown-it-py (CommonMark + tables) with raw HTML allowed, then nh3 (Ammonia)
removes everything unsafe: scripts, event handlers, javascript:/data: URLs, iframes, forms,
styles. Sanitising the output rather than disabling HTML keeps an editor's harmless inline
HTML (<sup>, <abbr>) working.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from functools import lru_cache

import nh3
from markdown_it import MarkdownIt

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
PAGE_ATTRIBUTES = {
    "a": {"href", "title"},
    "abbr": {"title"},
    "img": {"src", "alt", "title", "width", "height"},
    "td": {"align"},
    "th": {"align"},
    "ol": {"start"},
}
FEED_ATTRIBUTES = {"a": {"href"}, "ol": {"start"}}
URL_SCHEMES = {"http", "https", "mailto"}


@dataclass(frozen=True)
class Companion:
    """A companion rendered once: the page body and the feed subset, both sanitised."""

    page: str
    feed: str


@lru_cache(maxsize=1)
def _markdown() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": True, "typographer": False}).enable("table")


def render_markdown(text: str) -> str:
    """Returns unsanitised HTML for Markdown text (sanitise before publishing)."""
    return _markdown().render(text)


def sanitise(fragment: str, feed: bool = False) -> str:
    """Returns the HTML fragment with everything unsafe removed."""
    return nh3.clean(
        fragment,
        tags=FEED_TAGS if feed else PAGE_TAGS,
        attributes=FEED_ATTRIBUTES if feed else PAGE_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer",
        strip_comments=True,
    )


def credits_html(lines: list[str], disclaimer: str | None) -> str:
    """Returns the credit lines and the show's disclaimer as HTML paragraphs."""
    parts = [f'<p class="credit"><em>[{html.escape(line)}]</em></p>' for line in lines]
    if disclaimer:
        parts.append(f'<p class="disclaimer"><em>{html.escape(disclaimer)}</em></p>')
    return "\n".join(parts)


def render_companion(markdown: str, credit_lines: list[str], disclaimer: str | None) -> Companion:
    """Returns the companion in its two sanitised forms, credits and disclaimer appended."""
    body = render_markdown(markdown)
    tail = credits_html(credit_lines, disclaimer)
    return Companion(
        page=sanitise(body + tail),
        feed=sanitise(body + tail, feed=True),
    )
