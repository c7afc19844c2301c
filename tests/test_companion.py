"""The companion sanitiser: what an editor may write, and what never reaches a reader."""

from __future__ import annotations

import re

import pytest

from fo_cast.render import companion
from fo_cast.render.companion import render_companion, sanitise

HOSTILE = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=https://evil.example/x.js></SCRIPT>",
    '<img src="x" onerror="alert(1)">',
    "<img src=x onerror=alert(1)//>",
    '<a href="javascript:alert(1)">click</a>',
    '<a href="JaVaScRiPt:alert(1)">click</a>',
    '<a href="&#106;avascript:alert(1)">click</a>',
    '<a href=" javascript:alert(1)">click</a>',
    "[click](javascript:alert(1))",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "![pic](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
    '<a href="vbscript:msgbox(1)">click</a>',
    '<iframe src="https://evil.example/"></iframe>',
    '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
    '<form action="https://evil.example/"><input name="q"><button>Go</button></form>',
    "<style>body { display: none }</style>",
    '<p style="position:fixed;top:0">covered</p>',
    '<svg onload="alert(1)"><circle r="1"/></svg>',
    "<math><mtext><script>alert(1)</script></mtext></math>",
    '<object data="https://evil.example/x.swf"></object>',
    '<embed src="https://evil.example/x.swf">',
    '<meta http-equiv="refresh" content="0;url=https://evil.example/">',
    '<link rel="stylesheet" href="https://evil.example/x.css">',
    '<base href="https://evil.example/">',
    '<div onclick="alert(1)" onmouseover="alert(2)">hover</div>',
    '<p onclick="alert(1)">text</p>',
    '<body onload="alert(1)">',
    '<video src="x" onerror="alert(1)"></video>',
    '<details open ontoggle="alert(1)">x</details>',
    "<!-- <script>alert(1)</script> -->",
    '<a href="https://ok.example/" target="_blank" onclick="alert(1)">ok</a>',
]

UNSAFE = re.compile(
    r"<\s*(script|iframe|form|input|button|style|svg|math|object|embed|meta|link|base|video"
    r"|body|details)\b|\son\w+\s*=|javascript:|vbscript:|data:|\sstyle\s*=|srcdoc",
    re.IGNORECASE,
)


@pytest.mark.parametrize("feed", [False, True], ids=["page", "feed"])
@pytest.mark.parametrize("snippet", HOSTILE)
def test_hostile_markup_never_survives(snippet: str, feed: bool) -> None:
    result = render_companion(f"Before.\n\n{snippet}\n\nAfter.", [], None)
    html = result.feed if feed else result.page
    assert UNSAFE.search(html) is None, html
    assert "Before." in html and "After." in html


def test_hostile_inline_in_a_paragraph() -> None:
    text = "Some *text* <img src=x onerror=alert(1)> and <script>alert(2)</script> and ]]> end."
    page = render_companion(text, [], None).page
    assert UNSAFE.search(page) is None
    assert "alert(2)" not in page  # script content goes with the tag, not shown as text
    assert "]]&gt;" in page  # a CDATA terminator stays text: feeds can wrap this safely
    assert "]]>" not in page and "]]>" not in render_companion(text, [], None).feed


def test_links_get_rel_noopener_and_keep_their_href() -> None:
    page = render_companion("[Fair Observer](https://www.fairobserver.com/ 'FO')", [], None).page
    assert page == (
        '<p><a href="https://www.fairobserver.com/" title="FO" rel="noopener noreferrer">'
        "Fair Observer</a></p>\n"
    )


def test_an_editors_rel_and_target_are_replaced() -> None:
    page = sanitise('<a href="https://x.example/" rel="opener" target="_blank">x</a>')
    assert page == '<a href="https://x.example/" rel="noopener noreferrer">x</a>'


def test_mailto_and_relative_links_survive() -> None:
    page = render_companion("[mail](mailto:a@b.example) [other](../other/)", [], None).page
    assert 'href="mailto:a@b.example"' in page
    assert 'href="../other/"' in page


def test_images_keep_alt_and_title() -> None:
    page = render_companion('![A map of the region](https://x.example/map.png "Map")', [], None)
    assert page.page == (
        '<p><img src="https://x.example/map.png" alt="A map of the region" title="Map"></p>\n'
    )
    assert "<img" not in page.feed  # apps get text only


def test_an_image_with_an_unsafe_src_keeps_its_alt_text() -> None:
    page = render_companion("![the chart](javascript:alert(1))", [], None).page
    assert page == '<p><img alt="the chart"></p>\n'


def test_tables_survive_in_page_form_with_alignment() -> None:
    text = "| Country | Shells |\n|:--|--:|\n| North Korea | 5 million |\n"
    page = render_companion(text, [], None).page
    assert "<table>" in page and "<thead>" in page and "<tbody>" in page
    assert '<th align="left">Country</th>' in page
    assert '<td align="right">5 million</td>' in page
    feed = render_companion(text, [], None).feed
    assert "<table" not in feed and "North Korea" in feed


def test_alignment_accepts_only_left_center_right() -> None:
    assert sanitise('<table><tr><td align="justify">x</td></tr></table>') == (
        "<table><tbody><tr><td>x</td></tr></tbody></table>"
    )


def test_headings_lists_quotes_emphasis_and_code_survive() -> None:
    text = (
        "## Heading\n\n- one\n- two\n\n1. first\n\n> quoted\n\n*em* **strong** `code`\n\n"
        "```\n<b>raw</b>\n```\n"
    )
    page = render_companion(text, [], None).page
    for fragment in (
        "<h2>Heading</h2>",
        "<ul>\n<li>one</li>",
        "<ol>\n<li>first</li>",
        "<blockquote>\n<p>quoted</p>",
        "<em>em</em>",
        "<strong>strong</strong>",
        "<code>code</code>",
        "<pre><code>&lt;b&gt;raw&lt;/b&gt;\n</code></pre>",
    ):
        assert fragment in page


def test_harmless_inline_html_is_kept() -> None:
    page = render_companion('CO<sub>2</sub>, 10<sup>3</sup>, <abbr title="x">X</abbr>', [], None)
    assert "<sub>2</sub>" in page.page and '<abbr title="x">X</abbr>' in page.page


def test_an_h1_in_a_companion_becomes_h2_so_the_page_keeps_one_h1() -> None:
    page = render_companion("# Top\n\n## Sub\n\ntext", [], None).page
    assert page.startswith("<h2>Top</h2>\n<h3>Sub</h3>")
    untouched = render_companion("## Already h2", [], None).page
    assert untouched == "<h2>Already h2</h2>\n"


def test_only_fo_casts_own_classes_survive() -> None:
    page = sanitise('<p class="credit evil">a</p><p class="hero">b</p><span class="x">c</span>')
    assert page == '<p class="credit">a</p><p class="">b</p>c'  # Ammonia leaves it empty


def test_credits_and_disclaimer_are_appended_and_escaped() -> None:
    result = render_companion("Body.", ["Ana <b>Lima</b> wrote it."], "Views & opinions.")
    assert result.page == (
        "<p>Body.</p>\n"
        '<p class="credit"><em>[Ana &lt;b&gt;Lima&lt;/b&gt; wrote it.]</em></p>\n'
        '<p class="disclaimer"><em>Views &amp; opinions.</em></p>'
    )
    assert result.feed == (
        "<p>Body.</p>\n"
        "<p><em>[Ana &lt;b&gt;Lima&lt;/b&gt; wrote it.]</em></p>\n"
        "<p><em>Views &amp; opinions.</em></p>"
    )


def test_empty_companion_has_only_the_credits() -> None:
    assert render_companion("", [], "D.").page == '<p class="disclaimer"><em>D.</em></p>'
    assert render_companion("", [], None).page == ""


def test_rendering_is_memoised_and_deterministic() -> None:
    first = render_companion("Text *here*.", ["A wrote it."], None)
    again = render_companion("Text *here*.", ["A wrote it."], None)
    assert first is again  # the second call is a cache hit
    assert companion._render_companion.__wrapped__("Text *here*.", ("A wrote it.",), None) == first


SAMPLE_MARKDOWN = """# A title

Intro with [a link](https://example.com/ "t"), *em*, **strong**, `code` and <sup>1</sup>.

| Left | Right |
|:-----|------:|
| a    | b     |

> A quote
> on two lines.

1. one
2. two

![alt text](https://example.com/a.png)

<div onclick="x">raw block</div>

Hard\\
break and a [javascript link](javascript:alert(1)).
"""


MARKDOWN = [
    "",
    "# Title\n\nA *paragraph* with [a link](https://example.com/) and `code`.\n",
    "| a | b |\n|:--|--:|\n| 1 | 2 |\n",
    "- one\n- two\n\n> quoted <em>html</em>\n\n```\nblock\n```\n",
    "Ünïcode — “quotes” and an image ![alt](pic.png)\n",
]


@pytest.mark.parametrize("text", MARKDOWN)
def test_the_markdown_renderer_is_cmarkgfms_own_rendering(text: str) -> None:
    """The renderer frees what cmark-gfm allocates; its HTML is cmarkgfm's, byte for byte."""
    from cmarkgfm import cmark

    from fo_cast.catalogue import companions

    expected = cmark.markdown_to_html_with_extensions(
        text, cmark.Options.CMARK_OPT_UNSAFE, ["table"]
    )
    assert companions._cmark_freeing(cmark) is not None  # the freeing path is the one tested
    assert companions._renderer()(text) == expected


XSS_IN_ATTRIBUTES = [
    '<img alt="x href=">" src=x onerror=window.__pwned=1 y=',
    '<ol start="1 href="><li>" autofocus tabindex=1 onfocus=alert(2) x=',
    '<a title="src=" href="b.pdf">b</a>" onmouseover=alert(3) <img src="c.png" alt="d">',
]


@pytest.mark.parametrize("markdown", XSS_IN_ATTRIBUTES)
def test_rewriting_links_never_breaks_a_tag_open(markdown: str) -> None:
    """Was: href=" inside another attribute's value was taken for a link and re-escaped,
    which turned the tag's own '>' into '&gt;' and made the text after it attributes: the
    script ran on the page and in the feeds (found by a helper's sweep, in Chromium)."""
    import lxml.html

    from fo_cast.render.companion import rewrite_urls

    rendered = render_companion(markdown + "\n\nSee [the chart](chart.png).", ["Credit"], "Note")
    for form in (rendered.page, rendered.feed):
        rewritten = rewrite_urls(form, lambda url: "https://podcasts.example.org/e/" + url)
        for element in lxml.html.fragments_fromstring(rewritten):
            if isinstance(element, str):
                continue
            for node in element.iter():
                assert not [a for a in node.attrib if a.lower().startswith("on")], rewritten
        assert "https://podcasts.example.org/e/chart.png" in rewritten


def test_text_that_looks_like_an_attribute_is_not_rewritten() -> None:
    from fo_cast.render.companion import rewrite_urls

    page = render_companion('Write `<audio src="player.mp3">` or src="data.csv".', [], None).page
    assert rewrite_urls(page, lambda url: "https://x.example/" + url) == page


@pytest.mark.parametrize(
    "ending",
    [
        "<!-- a note left open",
        "<textarea>",
        "<noscript>",
        "<style>",
        '<a href="https://evil.example/">',
    ],
)
def test_an_article_left_open_keeps_the_credits_and_the_disclaimer(ending: str) -> None:
    """The companion was sanitised with fo-cast's credits after it: an open comment or
    <textarea> swallowed them, an open <a> made the disclaimer a link to elsewhere."""
    rendered = render_companion(f"The article.\n\n{ending}\n", ["Produced by Ana"], "Views vary.")
    assert rendered.page.endswith(
        '<p class="credit"><em>[Produced by Ana]</em></p>\n'
        '<p class="disclaimer"><em>Views vary.</em></p>'
    )
    assert rendered.feed.endswith("<p><em>[Produced by Ana]</em></p>\n<p><em>Views vary.</em></p>")
