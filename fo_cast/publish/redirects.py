"""Old URLs of re-slugged episodes, kept working: planned from the GUID record.

An episode whose folder (so its slug) changed keeps its GUID; apps that cached the old
feed, search engines and shared links still ask for the old page and media URLs. The
record remembers every URL an item was published with, so the old ones are planned as
uploads of their own, with nobody listing them by hand:

- S3: an object at the old key with `x-amz-website-redirect-location` (a 301 from the
  bucket's website endpoint or a CDN in front of it) and, for anything that reads the
  object itself, a small HTML page that refreshes to the new URL.
- a folder: pages become that HTML page (canonical link, meta refresh). Media become a
  copy of the new file: a static host would serve an HTML page at an .mp3 URL as
  text/html, which a podcast app would "play" as a broken download, so the old media URL
  keeps the same bytes instead (it costs the disk space of the re-slugged files only).

They are part of the build's outputs, so prune leaves them alone until the GUID itself is
allowed to go (`--allow-removal`), when the record stops listing it as live.
"""

from __future__ import annotations

import html
from urllib.parse import unquote

from fo_cast.outputs import Build, Output, Stage
from fo_cast.publish.guard import GuardRecord, moved_urls

HTML = "text/html; charset=utf-8"


def plan_redirects(record: GuardRecord, build: Build, base_url: str, folder: bool) -> list[Output]:
    """Returns an output for every old URL of a live item that the build no longer has."""
    base = base_url if base_url.endswith("/") else base_url + "/"
    by_path = {o.path: o for o in build.outputs}
    redirects: dict[str, Output] = {}
    for old, new in sorted(moved_urls(record).items()):
        old_key = url_key(old, base)
        if old_key is None or old_key in by_path or old_key in redirects:
            continue  # another site's URL, or a URL the build fills with real content
        target = by_path.get(url_key(new, base) or "")
        if folder and not old.endswith("/") and target is not None and target.source:
            redirects[old_key] = Output(
                old_key, target.content_type, Stage.MEDIA, source=target.source,
                size=target.size, redirect=new,
            )  # fmt: skip
        else:
            page = redirect_page(new)
            redirects[old_key] = Output(old_key, HTML, Stage.ASSET, data=page, redirect=new)
    return list(redirects.values())


def url_key(url: str, base: str) -> str | None:
    """Returns the output path a URL under base is served from; None for other URLs."""
    if not url.startswith(base):
        return None
    key = unquote(url[len(base) :].split("?", 1)[0].split("#", 1)[0])
    if ".." in key.split("/") or key.startswith("/"):
        return None
    return key + "index.html" if key == "" or key.endswith("/") else key


def redirect_page(url: str) -> bytes:
    """Returns a small HTML page that sends readers and search engines to url."""
    href = html.escape(url, quote=True)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>Moved</title>\n'
        f'<link rel="canonical" href="{href}">\n'
        '<meta name="robots" content="noindex">\n'
        f'<meta http-equiv="refresh" content="0; url={href}">\n'
        "</head>\n<body>\n"
        f'<p>This has moved to <a href="{href}">{href}</a>.</p>\n'
        "</body>\n</html>\n"
    ).encode()
