"""The built site in a real browser: Debian's Chromium and Playwright against `fo-cast serve`.

One build, one server and one browser for the whole session. The sample catalogue is built
with one extra, hostile episode; its page is checked on its own (it is not part of the sample).
Every page type is audited with the vendored axe-core (README.md here), in light and dark mode,
and checked on a phone, from the keyboard, in print and without JavaScript.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
NOW = "2025-01-01T00:00:00+00:00"
HOSTILE_EPISODE = "exclusive/2024-12-20-hostile-companion/"
HOSTILE_COMPANION = """\
## Hostile companion

<script>alert("script tag")</script>
<SCRIPT SRC="../../assets/player.js?evil"></SCRIPT>

<img src="x" onerror="alert('onerror')">
<svg onload="alert('svg')"><circle r="3"/></svg>

[a javascript link](javascript:alert('link')) and <a href="JaVaScRiPt:alert('raw')">raw</a>
and <a href="data:text/html,<script>alert('data')</script>">data</a>

<iframe src="javascript:alert('iframe')"></iframe>
<iframe srcdoc="<script>alert('srcdoc')</script>"></iframe>
<form action="javascript:alert('form')"><button>Send</button></form>
<style>body { background: red }</style>

A CDATA terminator ]]> and <div onclick="alert('click')" style="position:fixed">text</div>

<img alt="x href=">" src=x onerror=alert('breakout') y=
(the relative src="x" below has the page's links rewritten, where this one broke its tag open)

<ol start="1 href="><li>" autofocus tabindex=1 onfocus=alert('focus') x=
</li></ol>
"""
SAMPLE_PAGES = [
    "",
    "exclusive/",
    "talks/",
    "live/",
    "exclusive/2024-07-23-russia-charm-offensive/",
    "talks/2024-08-04-middle-east-part-1/",
]
EPISODE = "talks/2024-08-04-middle-east-part-1/"  # video, chapters, a .vtt transcript
PER_PAGE = 6  # episodes per show page in the browser build, so the show list has a page 2
PAGE_TYPES = {  # one page of every template, each with its own features
    "home": "",
    "show": "exclusive/",
    "show page 2": "exclusive/page/2/",
    "episode with video, chapters and captions": EPISODE,
    "episode without video": "talks/2024-08-24-middle-east-part-2/",
    "404": "exclusive/no-such-episode/",
    "topics index": "topics/",
    "topic": "topics/united-states/",
    "topic page 2": "topics/united-states/page/2/",
    "search": "search/",
    "search with results": "search/?q=hezbollah",
}
BUDGET = "Rachel Reeves Delivers Important Post-Brexit Budget"
# axe-core (MPL-2.0), vendored: see README.md here. WCAG 2.1 A and AA, plus axe's best
# practices, which hold the landmark, heading-order and region rules.
AXE = Path(__file__).parent / "vendor" / "axe.min.js"
AXE_SHA256 = "29348999450cdf2849a8e70b7912fc2da85a849da39c0d0d5394f51d4a9ed95c"  # 4.14.1
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
PHONE = {"width": 375, "height": 812}


@dataclass
class Server:
    url: str
    tree: Path
    catalogue: Path


@dataclass
class Watch:
    """What a page did while it loaded: console messages, errors, failed requests, dialogs."""

    console: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    ranges: list[tuple[str, str | None, int]] = field(default_factory=list)


def _make_catalogue(where: Path) -> Path:
    root = where / "episodes"
    shutil.copytree(REPO / "episodes", root, ignore=shutil.ignore_patterns(".fo-cast", ".schema"))
    settings = root / "fo-cast.toml"
    text = settings.read_text(encoding="utf-8")
    assert "\n[site]\n" in text and "episodes_per_page" not in text
    text = text.replace("\n[site]\n", f"\n[site]\nepisodes_per_page = {PER_PAGE}\n")
    settings.write_text(text, encoding="utf-8")
    source = root / "exclusive" / "2024-08-18-middle-east-boiling-hot"
    folder = root / HOSTILE_EPISODE.rstrip("/")
    folder.mkdir()
    shutil.copyfile(source / "audio.mp3", folder / "audio.mp3")
    (folder / "companion.md").write_text(HOSTILE_COMPANION, encoding="utf-8")
    # An image that fails to decode (the companion's src="x", published beside the page): if
    # an onerror handler survived, it would run.
    (folder / "x").write_bytes(b"this is not an image")
    (folder / "episode.yaml").write_text(
        "guid: 0b6f1f0e-6a51-4a43-9d0e-2f1a3c4b5d6e\n"
        "title: \"</title></script><script>alert('title')</script>\"\n"
        "published: 2024-12-20T15:00:00+00:00\n"
        "status: published\n"
        "summary: \"<img src=x onerror=alert('summary')> ]]>\"\n"
        "media:\n  - file: audio.mp3\n",
        encoding="utf-8",
    )
    return root


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Builds the sample (plus the hostile episode) and serves it with `fo-cast serve`."""
    where = tmp_path_factory.mktemp("browser")
    catalogue = _make_catalogue(where)
    tree = where / "site"
    fo_cast = [sys.executable, "-m", "fo_cast"]
    subprocess.run(
        [*fo_cast, "build", str(catalogue), "--out", str(tree), "--now", NOW],
        check=True,
        capture_output=True,
        text=True,
    )
    process = subprocess.Popen(
        [*fo_cast, "serve", str(tree), "--host", "127.0.0.1", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r"at (http://127\.0\.0\.1:\d+/)", line)
        assert match, f"fo-cast serve said {line!r}"
        yield Server(match.group(1), tree, catalogue)
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"Chromium is not installed at {CHROMIUM}: the browser tests need Debian's chromium. "
            "Run `make test` (it installs it) or `apt-get install chromium`."
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    ctx = browser.new_context(viewport={"width": 1200, "height": 900}, color_scheme="light")
    try:
        yield ctx
    finally:
        ctx.close()


def watched(context: Any) -> tuple[Any, Watch]:
    page = context.new_page()
    watch = Watch()
    page.on("console", lambda m: watch.console.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: watch.errors.append(str(e)))
    page.on("dialog", lambda d: (watch.dialogs.append(d.message), d.dismiss()))

    def failed(request: Any) -> None:
        # Chromium cancels a media download once it has the metadata it asked for
        # (preload="metadata"): that abort is the player working, not a failed request.
        if request.resource_type == "media" and "ERR_ABORTED" in (request.failure or ""):
            return
        watch.failed.append(f"{request.url}: {request.failure}")

    def response(resp: Any) -> None:
        if resp.status >= 400:
            watch.failed.append(f"{resp.url}: HTTP {resp.status}")
        if resp.request.resource_type == "media":
            watch.ranges.append((resp.url, resp.request.headers.get("range"), resp.status))

    page.on("requestfailed", failed)
    page.on("response", response)
    return page, watch


def sample_pages(tree: Path) -> list[str]:
    """Returns the URL path of every page of the built sample (not the hostile episode)."""
    found = sorted(
        str(p.parent.relative_to(tree)) + "/" for p in tree.rglob("index.html") if p.parent != tree
    )
    return ["", *[p for p in found if p != HOSTILE_EPISODE]]


@pytest.fixture(scope="session")
def axe_source() -> str:
    data = AXE.read_bytes()
    assert hashlib.sha256(data).hexdigest() == AXE_SHA256, (
        "see tests/browser/README.md to update axe"
    )
    return data.decode("utf-8")


def axe_violations(page: Any, axe_source: str) -> list[str]:
    """Returns what axe-core finds wrong with the page in AXE_TAGS, one line per rule."""
    page.add_script_tag(content=axe_source)
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags},"
        " resultTypes: ['violations']})",
        AXE_TAGS,
    )
    # A page with text always passes or fails color-contrast: proof that axe really ran.
    assert "color-contrast" in {r["id"] for r in result["passes"] + result["violations"]}
    return [
        f"{v['id']} ({v['impact']}): {v['help']}: "
        + "; ".join(" ".join(map(str, node["target"])) for node in v["nodes"])
        for v in result["violations"]
    ]


def test_every_page_loads_without_errors(server: Server, context: Any) -> None:
    paths = sample_pages(server.tree)
    assert set(SAMPLE_PAGES) <= set(paths)
    page, watch = watched(context)
    for path in paths:
        # networkidle: let the favicon and media metadata finish before the next navigation
        # cancels them.
        response = page.goto(server.url + path, wait_until="networkidle")
        assert response is not None and response.status == 200, path
        assert page.locator("h1").count() == 1, path
    assert [m for m in watch.console if m.startswith("error")] == []
    assert watch.errors == []
    assert watch.failed == []
    assert watch.dialogs == []


def test_the_404_page(server: Server, context: Any) -> None:
    page, watch = watched(context)
    response = page.goto(server.url + "exclusive/no-such-episode/", wait_until="load")
    assert response is not None and response.status == 404
    assert page.locator("h1").inner_text() == "Page not found"
    # Styled inline, so it looks right at any depth; only the 404 itself "failed".
    assert page.evaluate("getComputedStyle(document.body).margin") == "0px"
    assert watch.errors == [] and watch.dialogs == []
    assert [f for f in watch.failed if "no-such-episode" not in f] == []


def test_audio_loads_its_duration_through_ranges_and_chapters_seek(
    server: Server, context: Any
) -> None:
    from fo_cast.media.probe import probe_media

    expected = probe_media(server.catalogue / EPISODE / "audio.mp3").duration
    page, watch = watched(context)
    page.goto(server.url + EPISODE, wait_until="load")
    page.wait_for_function(
        "() => { const a = document.querySelector('audio');"
        " return a.readyState >= 1 && isFinite(a.duration); }",
        timeout=10_000,
    )
    duration = page.evaluate("document.querySelector('audio').duration")
    assert abs(duration - expected) < 0.5
    audio_requests = [r for r in watch.ranges if r[0].endswith("/audio.mp3")]
    assert audio_requests, watch.ranges
    assert all(header and header.startswith("bytes=") for _, header, _ in audio_requests)
    assert any(status == 206 for *_, status in audio_requests)

    page.get_by_role("link", name=re.compile("The main argument")).click()
    page.wait_for_function("() => document.querySelector('audio').currentTime >= 2.9", timeout=5000)
    assert 2.9 <= page.evaluate("document.querySelector('audio').currentTime") < 6
    assert page.url == server.url + EPISODE  # JS seeked instead of following the link
    assert watch.errors == [] and watch.dialogs == []


def test_pages_work_without_javascript(server: Server, browser: Any) -> None:
    ctx = browser.new_context(java_script_enabled=False)
    try:
        page = ctx.new_page()
        page.goto(server.url + EPISODE, wait_until="load")
        items = page.locator(".chapters li").all_inner_texts()
        assert items == ["0:00 Introduction", "0:03 The main argument", "0:06 What comes next"]
        # Chapters are plain links to the audio at their start (Media Fragments #t=seconds).
        links = page.evaluate(
            "Array.from(document.querySelectorAll('.chapters a'), a => [a.href, a.dataset.start])"
        )
        audio = server.url + EPISODE + "audio.mp3"
        assert links == [[f"{audio}#t={t}", t] for t in ("0", "3", "6")]
        assert (server.tree / EPISODE / "audio.mp3").is_file()
        for path in (EPISODE, PAGE_TYPES["show"]):
            page.goto(server.url + path, wait_until="load")
            field = page.get_by_label("Paste this address into your podcast app:")
            expect(field).to_be_visible()
            assert field.input_value().endswith("/feed.xml")
            assert page.locator("button[data-copy]").is_hidden()  # it needs JS to copy
        page.goto(server.url + EPISODE, wait_until="load")
        with page.expect_navigation(url=audio + "#t=3"):
            page.get_by_role("link", name=re.compile("The main argument")).click()
    finally:
        ctx.close()


def test_search_finds_an_episode_by_a_word_of_its_companion(server: Server, context: Any) -> None:
    page, watch = watched(context)
    page.goto(server.url + "search/", wait_until="networkidle")
    expect(page.locator("#search-fallback")).to_be_hidden()
    # "Chancellor" is in the companion of the budget episode only, not in its title or summary
    page.get_by_label("Search titles, summaries and companions").fill("chancellor")
    results = page.locator("#search-results li a")
    expect(results).to_have_text([BUDGET])
    expect(page.locator("#search-status")).to_have_text("1 episode found")
    # networkidle: let the favicon finish before a navigation cancels it
    page.wait_for_load_state("networkidle")
    with page.expect_navigation(url=server.url + "exclusive/2024-11-07-reeves-budget/"):
        results.first.click()
    page.wait_for_load_state("networkidle")
    # every bundle loaded, and a word of another show's episode is found too
    page.goto(server.url + "search/?q=quintet", wait_until="networkidle")
    expect(results).to_have_text(
        ["Now Is the Time to Invite South Korea in and Turn Quad Into Quintet"]
    )
    assert watch.errors == [] and watch.failed == []
    assert [m for m in watch.console if m.startswith("error")] == []


def test_without_javascript_search_links_to_the_topics(server: Server, browser: Any) -> None:
    ctx = browser.new_context(java_script_enabled=False)
    try:
        page = ctx.new_page()
        page.goto(server.url + "search/", wait_until="load")
        expect(page.locator("#search-form")).to_be_hidden()
        link = page.get_by_role("link", name="Browse the episodes by topic")
        expect(link).to_be_visible()
        link.click()
        expect(page.locator("h1")).to_have_text("Topics")
        page.get_by_role("link", name="Brexit").click()
        expect(page.locator(".episode-list a")).to_have_text([BUDGET])
    finally:
        ctx.close()


def test_copy_button_copies_the_feed_url(server: Server, browser: Any) -> None:
    ctx = browser.new_context(permissions=["clipboard-read", "clipboard-write"])
    try:
        page = ctx.new_page()
        page.goto(server.url + "talks/", wait_until="load")
        button = page.locator("button[data-copy]")
        button.click()
        # The label changes once the clipboard's promise settles: wait for it, do not race it.
        expect(button).to_have_text("Copied", timeout=5000)
        copied = page.evaluate("navigator.clipboard.readText()")
        assert copied == "https://podcasts.fairobserver.com/talks/feed.xml"
    finally:
        ctx.close()


def test_a_hostile_companion_runs_no_script(server: Server, context: Any) -> None:
    page, watch = watched(context)
    response = page.goto(server.url + HOSTILE_EPISODE, wait_until="load")
    assert response is not None and response.status == 200
    page.wait_for_timeout(500)  # time for any handler (onerror, onload) that survived to fire
    for link in page.locator(".companion a").all():
        link.click()  # links lose their javascript: href; clicking does nothing
    page.wait_for_timeout(200)
    assert watch.dialogs == []
    assert watch.console == []
    assert watch.errors == []
    assert page.url == server.url + HOSTILE_EPISODE
    counts = page.evaluate(
        """() => ({
            scripts: document.querySelectorAll('.companion script, body script').length,
            frames: document.querySelectorAll('iframe, form, style, svg').length,
            handlers: document.querySelectorAll('[onerror], [onload], [onclick]').length,
            js_links: document.querySelectorAll(
                'a[href^="javascript:" i], a[href^="data:" i]').length,
        })"""
    )
    assert counts == {"scripts": 0, "frames": 0, "handlers": 0, "js_links": 0}
    assert "]]>" in page.locator(".companion").inner_text()
    assert page.locator("h1").inner_text() == "</title></script><script>alert('title')</script>"


@pytest.mark.parametrize(
    ("scheme", "viewport"),
    [("light", None), ("dark", None), ("light", PHONE)],
    ids=["light", "dark", "light-phone"],
)
def test_every_page_type_passes_axe(
    server: Server, browser: Any, axe_source: str, scheme: str, viewport: dict[str, int] | None
) -> None:
    ctx = browser.new_context(
        viewport=viewport or {"width": 1200, "height": 900}, color_scheme=scheme
    )
    try:
        page = ctx.new_page()
        found = {}
        for name, path in PAGE_TYPES.items():
            response = page.goto(server.url + path, wait_until="load")
            assert response is not None
            assert response.status == (404 if name == "404" else 200), name
            # The theme really switched (the 404 page inlines the same CSS).
            paper = "rgb(20, 24, 29)" if scheme == "dark" else "rgb(255, 255, 255)"
            assert page.evaluate("getComputedStyle(document.body).backgroundColor") == paper
            if name == "search with results":
                expect(page.locator("#search-results li").first).to_be_visible()
            found[name] = axe_violations(page, axe_source)
        assert found == {name: [] for name in PAGE_TYPES}
    finally:
        ctx.close()


def test_no_horizontal_scrolling_on_a_phone(server: Server, browser: Any) -> None:
    ctx = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    try:
        page = ctx.new_page()
        wide = {}
        for path in [*sample_pages(server.tree), PAGE_TYPES["404"], HOSTILE_EPISODE]:
            page.goto(server.url + path, wait_until="load")
            width, inner = page.evaluate("[document.scrollingElement.scrollWidth, innerWidth]")
            if width > inner or inner != PHONE["width"]:
                # A phone zooms out to fit wide content, so compare with the phone's width.
                wide[path] = page.evaluate(
                    """w => [...document.querySelectorAll('body *')]
                        .filter(e => e.getBoundingClientRect().right > w)
                        .slice(0, 5).map(e => e.tagName.toLowerCase() + '.' + e.className)""",
                    PHONE["width"],
                )
        assert wide == {}
    finally:
        ctx.close()


def test_tab_reaches_the_skip_link_first_and_it_moves_focus_to_main(
    server: Server, context: Any
) -> None:
    page = context.new_page()
    focused = """() => { const e = document.activeElement, r = e.getBoundingClientRect();
        return [e.tagName.toLowerCase() + '#' + e.id + '.' + e.className, e.getAttribute('href'),
                r.width > 1 && r.left >= 0 && r.top >= 0 && r.right <= innerWidth]; }"""
    for name, path in PAGE_TYPES.items():
        page.goto(server.url + path, wait_until="load")
        page.keyboard.press("Tab")
        assert page.evaluate(focused) == ["a#.skip-link", "#main", True], name  # on screen
        page.keyboard.press("Enter")
        assert page.evaluate(focused)[0] == "main#main.wrap", name
        assert page.url.endswith("#main")
        page.keyboard.press("Tab")  # the next stop is the first link (or field) in the content
        assert page.evaluate("document.querySelector('main').contains(document.activeElement)")
        first = "input#search-input" if name.startswith("search") else "a#"
        assert page.evaluate(focused)[0].startswith(first), name


def test_the_video_loads_its_captions_track(server: Server, context: Any) -> None:
    page, watch = watched(context)
    page.goto(server.url + EPISODE, wait_until="load")
    page.wait_for_function(
        "() => { const t = document.querySelector('video.player track');"
        " return t.readyState === 2 && t.track.cues.length > 0; }",
        timeout=10_000,
    )
    track = page.evaluate(
        """() => { const t = document.querySelector('video.player track');
            return {kind: t.track.kind, language: t.track.language, mode: t.track.mode,
                    cues: Array.from(t.track.cues, c => c.text)}; }"""
    )
    vtt = (server.catalogue / EPISODE / "transcript.vtt").read_text(encoding="utf-8")
    assert track["kind"] == "captions" and track["language"] == "en"
    assert track["mode"] == "showing"  # `default`: shown without the viewer asking
    assert len(track["cues"]) == vtt.count(" --> ")
    assert track["cues"][0] == "America’s New Fast-Changing Role in the Middle East, Part 1"
    assert watch.errors == [] and watch.failed == []


def test_print_hides_the_players_and_navigation(server: Server, context: Any) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page = context.new_page()
    display = "sels => Object.fromEntries(sels.map(s => [s, getComputedStyle("
    display += "document.querySelector(s)).display]))"
    hidden = [".skip-link", ".site-header nav", ".breadcrumbs", ".players", "video", "audio"]
    hidden += [".subscribe", ".recent", ".footer-links"]
    kept = ["h1", ".episode-meta", ".chapters", ".companion", ".transcript", ".site-footer"]
    page.goto(server.url + EPISODE, wait_until="load")
    assert "none" not in page.evaluate(display, hidden + kept).values()
    page.emulate_media(media="print")
    shown = page.evaluate(display, hidden + kept)
    assert {s: shown[s] for s in hidden} == {s: "none" for s in hidden}
    assert "none" not in [shown[s] for s in kept]
    page.screenshot(path=str(ARTIFACTS / "episode-print.png"), full_page=True)
    page.goto(server.url + PAGE_TYPES["show page 2"], wait_until="load")
    assert page.evaluate(display, [".pagination", ".subscribe"]) == {
        ".pagination": "none",
        ".subscribe": "none",
    }


def test_screenshots(server: Server, context: Any, browser: Any) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    phone = browser.new_context(
        viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2
    )
    try:
        shots = (("home", ""), ("show", "exclusive/"), ("episode", EPISODE))
        for suffix, page in (("", context.new_page()), ("-mobile", phone.new_page())):
            for name, path in shots:
                # networkidle: the video's poster, not its loading spinner
                page.goto(server.url + path, wait_until="networkidle")
                target = ARTIFACTS / f"{name}{suffix}.png"
                page.screenshot(path=str(target), full_page=True)
                assert target.stat().st_size > 10_000
    finally:
        phone.close()
