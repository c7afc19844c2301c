"""Companion files and links: validated at their line, copied beside the page, absolute in feeds."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import feedparser
import pytest

import fo_cast
from fo_cast.build import build_catalogue
from fo_cast.outputs import Stage
from fo_cast.problems import Severity
from fo_cast.publish.plan import plan_publish
from fo_cast.tree import write_tree
from tests.test_plan import published

NOW = datetime(2025, 1, 1, tzinfo=UTC)
BASE = "https://podcasts.fairobserver.com/"
EPISODE = "exclusive/2024-12-07-trump-won-again"
CHART = f"{EPISODE}/electoral-votes.png"
EU_CRISIS = f"{BASE}exclusive/2024-12-09-eu-crisis/"


def _append(companion: Path, text: str) -> int:
    """Appends text to a companion; returns the line its first line lands on."""
    old = companion.read_text(encoding="utf-8")
    companion.write_text(old + text, encoding="utf-8")
    return old.count("\n") + 1


def _lines(root: Path) -> list[str]:
    return [str(p) for p in fo_cast.validate(root) if "companion" in p.field]


def test_a_companion_file_is_published_beside_the_page(sample: Path) -> None:
    _checked, result = build_catalogue(sample, now=NOW)
    chart = next(o for o in result.outputs if o.path == CHART)
    assert (chart.content_type, chart.stage) == ("image/png", Stage.ASSET)
    assert chart.source == sample / CHART
    page = next(o for o in result.outputs if o.path == f"{EPISODE}/index.html")
    assert page.data is not None
    html = page.data.decode("utf-8")
    assert (
        '<img src="electoral-votes.png" alt="Bar chart of the electoral votes: Trump 312, '
        'Harris 226">' in html
    )
    assert '<a href="../../exclusive/2024-12-09-eu-crisis/" rel="noopener noreferrer">' in html
    assert f'<meta property="og:image" content="{BASE}{CHART}">' in html


def test_feeds_carry_absolute_urls_that_exist_in_the_tree(sample: Path, tmp_path: Path) -> None:
    _checked, result = build_catalogue(sample, now=NOW)
    out = tmp_path / "out"
    write_tree(result, out)
    parsed = feedparser.parse((out / "exclusive" / "feed.xml").read_bytes())
    entry = next(e for e in parsed.entries if e.link == f"{BASE}{EPISODE}/")
    content = entry.content[0].value
    assert f'href="{EU_CRISIS}"' in content
    json_feed = json.loads((out / "exclusive" / "feed.json").read_text(encoding="utf-8"))
    item = next(i for i in json_feed["items"] if i["url"] == f"{BASE}{EPISODE}/")
    assert f'href="{EU_CRISIS}"' in item["content_html"]
    # every URL an app would fetch from the companions is absolute and in the tree
    for feed in ("feed.xml", "video.xml"):
        for e in feedparser.parse((out / "exclusive" / feed).read_bytes()).entries:
            for url in _urls(e.content[0].value):
                assert urlsplit(url).scheme in ("http", "https", "mailto"), url
                if url.startswith(BASE):
                    path = urlsplit(url).path.removeprefix(urlsplit(BASE).path)
                    target = out / path
                    assert (target / "index.html" if path.endswith("/") else target).is_file()


def _urls(html: str) -> list[str]:
    import re

    return re.findall(r'(?:href|src)="([^"]*)"', html)


def test_broken_references_are_errors_at_their_line(sample: Path, tmp_path: Path) -> None:
    folder = sample / EPISODE
    outside = tmp_path / "secret.png"
    outside.write_bytes(b"x")
    os.symlink(outside, folder / "leak.png")
    line = _append(
        folder / "companion.md",
        "\n![A missing chart](missing.png)\n\n"
        "See [the notes](../../../secret.png) and ![x](/logo.png).\n\n"
        "![Leak](leak.png) and [artwork](../artwork.png)\n\n"
        "![](electoral-votes.png)\n",
    )
    shown = f"episodes/{EPISODE}/companion.md"
    assert _lines(sample) == [
        f"{shown}:{line + 1}: companion: the image 'missing.png' names no file or episode; "
        "add the file beside the companion or fix it",
        f"{shown}:{line + 3}: companion: the image '/logo.png' is an absolute path; write it "
        "relative to the companion",
        f"{shown}:{line + 3}: companion: the link '../../../secret.png' points outside the "
        "catalogue",
        f"{shown}:{line + 5}: companion: the image 'leak.png' points outside the catalogue",
        f"{shown}:{line + 5}: companion: the link '../artwork.png' points outside the episode's "
        "folder; copy 'artwork.png' into the episode's folder",
        f"{shown}:{line + 7}: warning: companion: the image 'electoral-votes.png' has no alt "
        "text; describe it: ![what it shows](...)",
    ]
    assert build_catalogue(sample, now=NOW)[1].outputs == []


def test_links_to_another_episode_folder_or_companion_resolve_to_its_page(sample: Path) -> None:
    _append(
        sample / EPISODE / "companion.md",
        "\n[Its companion](../2024-12-09-eu-crisis/companion.md#notes), "
        "[a talk](../../talks/2024-08-04-middle-east-part-1) and [here](#top).\n",
    )
    assert _lines(sample) == []
    _checked, result = build_catalogue(sample, now=NOW)
    page = next(o for o in result.outputs if o.path == f"{EPISODE}/index.html")
    assert page.data is not None
    html = page.data.decode("utf-8")
    assert 'href="../../exclusive/2024-12-09-eu-crisis/#notes"' in html
    assert 'href="../../talks/2024-08-04-middle-east-part-1/"' in html
    assert 'href="#top"' in html
    feed = next(o for o in result.outputs if o.path == "exclusive/feed.xml")
    assert feed.data is not None
    text = feed.data.decode("utf-8")
    assert f'href="{EU_CRISIS}#notes"' in text
    assert f'href="{BASE}talks/2024-08-04-middle-east-part-1/"' in text
    assert f'href="{BASE}{EPISODE}/#top"' in text


def test_a_changed_image_is_uploaded_again_and_the_page_is_not(sample: Path) -> None:
    _checked, first = build_catalogue(sample, now=NOW)
    listing = published(first)
    (sample / CHART).write_bytes((sample / CHART).read_bytes() + b"\x00")
    _checked, second = build_catalogue(sample, now=NOW)
    assert [u.key for u in plan_publish(second, listing).uploads] == [CHART]


@pytest.mark.parametrize(
    ("image_line", "expected"),
    [
        ("image: cover.png\n", f"{BASE}{EPISODE}/cover.png"),  # the episode's own image
        ("", f"{BASE}{CHART}"),  # else the companion's first image
    ],
)
def test_the_open_graph_image(sample: Path, image_line: str, expected: str) -> None:
    if image_line:
        (sample / EPISODE / "cover.png").write_bytes(
            (sample / "exclusive" / "artwork.png").read_bytes()
        )
        manifest = sample / EPISODE / "episode.yaml"
        manifest.write_text(manifest.read_text(encoding="utf-8") + image_line, encoding="utf-8")
    _checked, result = build_catalogue(sample, now=NOW)
    page = next(o for o in result.outputs if o.path == f"{EPISODE}/index.html")
    assert page.data is not None
    assert f'<meta property="og:image" content="{expected}">' in page.data.decode("utf-8")
    other = next(o for o in result.outputs if o.path == "exclusive/2024-12-09-eu-crisis/index.html")
    assert other.data is not None
    assert (
        f'<meta property="og:image" content="{BASE}exclusive/artwork.png">' in other.data.decode()
    )


def test_a_link_to_a_draft_episode_is_a_warning(sample: Path) -> None:
    draft = sample / "exclusive" / "2024-12-09-eu-crisis" / "episode.yaml"
    draft.write_text(
        draft.read_text(encoding="utf-8").replace("status: published", "status: draft"), "utf-8"
    )
    line = 9  # the sample's link to ../2024-12-09-eu-crisis/
    assert _lines(sample) == [
        f"episodes/{EPISODE}/companion.md:{line}: warning: companion: the link "
        "'../2024-12-09-eu-crisis/' leads to a draft episode, whose page is not published; "
        "publish it first or remove the link"
    ]


def test_a_web_address_without_its_scheme_is_a_warning(sample: Path) -> None:
    line = _append(
        sample / EPISODE / "companion.md",
        "\nSee [the book](www.example.org/book) and [the site](example.org/about).\n",
    )
    shown = f"episodes/{EPISODE}/companion.md"
    assert _lines(sample) == [
        f"{shown}:{line + 1}: warning: companion: the link 'example.org/about' looks like a web "
        "address without its scheme; write https://example.org/about",
        f"{shown}:{line + 1}: warning: companion: the link 'www.example.org/book' looks like a "
        "web address without its scheme; write https://www.example.org/book",
    ]


def test_html_the_page_drops_is_a_warning_at_its_line(sample: Path) -> None:
    """An editor's tag the sanitiser drops (or drops with its content) is said once, where
    it is first written; tags the page keeps, code and escaped text are not."""
    line = _append(
        sample / EPISODE / "companion.md",
        "\nA <mark>kept</mark> word, `<span>` in code, \\<aside> escaped.\n\n"
        '<div class="box">Boxed</div> and <DIV>again</DIV>\n\n'
        "<script>alert(1)</script>\n",
    )
    shown = f"episodes/{EPISODE}/companion.md"
    keep = "to show it as text, write \\<{0}> or put it in `code`"
    assert _lines(sample) == [
        f"{shown}:{line + 3}: warning: companion: '<div>' is HTML the page does not keep: the "
        f"tag is dropped, its text kept; {keep.format('div')}",
        f"{shown}:{line + 5}: warning: companion: '<script>' is removed from the page and the "
        f"feed with all it holds; {keep.format('script')}",
    ]
    _checked, result = build_catalogue(sample, now=NOW)
    page = next(o.data for o in result.outputs if o.path == f"{EPISODE}/index.html")
    assert page is not None and b"Boxed" in page and b"alert(1)" not in page


def test_raw_img_attributes_are_read_unquoted_too(sample: Path) -> None:
    """`alt=x` without quotes is alt text, and `src=x` names the file (was: "the image ''
    has no alt text" for both)."""
    line = _append(
        sample / EPISODE / "companion.md",
        '\n<img src=electoral-votes.png alt=Votes> <img src=missing.png alt="">\n',
    )
    shown = f"episodes/{EPISODE}"
    assert _lines(sample) == [
        f"{shown}/companion.md:{line + 1}: warning: companion: the image 'missing.png' has no alt "
        "text; describe it: ![what it shows](...)",
        f"{shown}/companion.md:{line + 1}: companion: the image 'missing.png' names no file or "
        "episode; add the file beside the companion or fix it",
    ]


def test_a_link_the_page_drops_by_its_scheme_is_a_warning(sample: Path) -> None:
    line = _append(
        sample / EPISODE / "companion.md",
        "\nSee [this](javascript:alert(1)), ![a chart](file:///etc/passwd) and "
        "[mail](mailto:a@example.org).\n",
    )
    shown = f"episodes/{EPISODE}/companion.md"
    kept = "is dropped from the page and the feed: only http, https and mailto links are kept"
    assert _lines(sample) == [
        f"{shown}:{line + 1}: warning: companion: the image 'file:///etc/passwd' {kept}",
        f"{shown}:{line + 1}: warning: companion: the link 'javascript:alert(1)' {kept}",
    ]


@pytest.mark.parametrize(
    ("written", "point"),
    [("&#x1;", "0001"), ("&#65534;", "FFFE"), ("&#xffff;", "FFFF"),
     ('<abbr title="&#x0B;">x</abbr>', "000B")],
)  # fmt: skip
def test_a_reference_to_a_character_no_feed_carries_is_a_warning_and_a_replacement(
    sample: Path, written: str, point: str
) -> None:
    """A character reference is decoded by cmark-gfm, or by the sanitiser in the editor's HTML:
    to a control character (which makes a feed unreadable to every XML parser), or, for
    U+FFFE and U+FFFF, to bytes that are not UTF-8. Validation warns at its line; the build
    writes U+FFFD in its place (it stopped with exit 70). In code it shows as written."""
    reference = written if written.startswith("&") else "&#x0B;"
    line = _append(
        sample / EPISODE / "companion.md", f"\nIn code `&#x1;` is shown.\n\nSee {written} here.\n"
    )
    assert _lines(sample) == [
        f"episodes/{EPISODE}/companion.md:{line + 3}: warning: companion: {reference} stands "
        f"for U+{point}, which no feed (XML) can carry; pages and feeds show U+FFFD (\ufffd) in "
        "its place: remove it"
    ]
    _checked, result = build_catalogue(sample, now=NOW)
    assert not result.report.errors
    outputs = {o.path: o.data for o in result.outputs if o.rendered}
    page = outputs[f"{EPISODE}/index.html"]
    assert page is not None and "\ufffd".encode() in page and b"<code>&amp;#x1;</code>" in page
    feed = outputs["exclusive/feed.xml"]
    parsed = feedparser.parse(feed)
    assert not parsed.bozo, parsed.get("bozo_exception")
    item = next(e for e in parsed.entries if e.link.endswith("2024-12-07-trump-won-again/"))
    if written.startswith("&"):  # the feed's sanitiser keeps no <abbr> nor its title
        assert "\ufffd" in item.content[0].value
    assert json.loads(outputs["exclusive/feed.json"] or b"")["items"]


def test_a_link_to_the_episodes_own_audio_is_that_one_file(sample: Path) -> None:
    """A companion that links its episode's audio ("download the MP3") made the build stop:
    "two outputs want the same path" (exit 4). It is the same file: published once."""
    _append(sample / EPISODE / "companion.md", "\n[Download the MP3](audio.mp3)\n")
    assert _lines(sample) == []
    _checked, result = build_catalogue(sample, now=NOW)
    assert [o.stage for o in result.outputs if o.path == f"{EPISODE}/audio.mp3"] == [Stage.MEDIA]
    page = next(o.data for o in result.outputs if o.path == f"{EPISODE}/index.html")
    assert page is not None and b'href="audio.mp3"' in page


def test_two_files_published_under_one_name_are_an_error_where_written(sample: Path) -> None:
    """Media, images and transcripts are published flat in the episode's folder, companion
    files as they are; one named as a file fo-cast writes there, or two under one name, made
    the build stop naming neither (exit 4) after validate passed."""
    folder = sample / EPISODE
    (folder / "sub").mkdir()
    (folder / "transcript.vtt").rename(folder / "sub" / "transcript.vtt")
    (folder / "transcript.vtt").write_text("WEBVTT\n")  # another file, the same name
    manifest = folder / "episode.yaml"
    manifest.write_text(
        manifest.read_text().replace("transcript: transcript.vtt", "transcript: sub/transcript.vtt")
    )
    line = _append(folder / "companion.md", "\n[The text](transcript.vtt).\n")
    shown = f"episodes/{EPISODE}/companion.md:{line + 1}: companion:"
    problems = [str(p) for p in fo_cast.validate(sample).errors]
    # (a handout named index.html, the page's name, is refused before: an .html file)
    assert problems == [
        f"{shown} 'transcript.vtt' is published as transcript.vtt, as 'sub/transcript.vtt' is; "
        "rename one",
    ]


@pytest.mark.parametrize(
    ("name", "data", "why"),
    [
        ("notes.html", b"<script>parent.__pwned=1</script>", "is a .html file, which a browser"),
        ("run.js", b"alert(1)", "is a .js file"),
        ("chart.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
         "is an SVG holding script"),
        ("chart.svg", b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>',
         "is an SVG holding script"),
    ],
)  # fmt: skip
def test_a_companion_file_a_browser_would_run_is_an_error(
    sample: Path, name: str, data: bytes, why: str
) -> None:
    """Was: published beside the page as text/html or image/svg+xml, and the page's own link
    ran its script as the site (a helper's sweep, in Chromium)."""
    folder = sample / EPISODE
    (folder / name).write_bytes(data)
    companion = folder / "companion.md"
    companion.write_text(
        companion.read_text(encoding="utf-8") + f"\nSee [the notes]({name}).\n", encoding="utf-8"
    )
    (problem,) = [p for p in fo_cast.validate(sample) if name in p.message]
    assert problem.severity is Severity.ERROR and why in problem.message


def test_a_plain_svg_chart_is_published(sample: Path) -> None:
    folder = sample / EPISODE
    (folder / "plain.svg").write_bytes(
        b'<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"><rect width="4" '
        b'height="4" fill="#c00"/></svg>'
    )
    companion = folder / "companion.md"
    companion.write_text(
        companion.read_text(encoding="utf-8") + "\n![A red square](plain.svg)\n", encoding="utf-8"
    )
    assert not [p for p in fo_cast.validate(sample) if "plain.svg" in p.message]


def test_a_reference_is_named_at_its_link_not_where_prose_names_the_file(sample: Path) -> None:
    """Was: both problems at line 1, which named the files in prose before linking them."""
    companion = sample / EPISODE / "companion.md"
    companion.write_text(
        "We made chart.png and map.pdf for this episode.\n\nThe figures.\n\n"
        "![The chart](chart.png)\n\nThe [map](map.pdf).\n",
        encoding="utf-8",
    )
    shown = f"episodes/{EPISODE}/companion.md"
    assert _lines(sample) == [
        f"{shown}:5: companion: the image 'chart.png' names no file or episode; add the file "
        "beside the companion or fix it",
        f"{shown}:7: companion: the link 'map.pdf' names no file or episode; add the file "
        "beside the companion or fix it",
    ]
