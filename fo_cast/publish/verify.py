"""Checks a published show over HTTP the way podcast apps will fetch it."""

from __future__ import annotations

import contextlib
import http.client
import socket
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from email.message import Message
from urllib.parse import urljoin, urlsplit, urlunsplit

from fo_cast.build import Checked
from fo_cast.outputs import Build, Stage
from fo_cast.units import plural

ITUNES = "{http://www.itunes.com/dtds/podcast-1.0.dtd}"
FEED_TYPES = ("application/rss+xml", "application/xml", "text/xml")
USER_AGENT = "fo-cast-verify/1"
MB = 1024 * 1024
MAX_FEED = 64 * MB  # Apple refuses feeds far smaller; more is no feed
RANGE_READ = 65536
MAX_REDIRECTS = 5
TIMEOUT = 15.0  # seconds one read may wait
DEADLINE = 60.0  # seconds one request may take, redirects and every read included


@dataclass(frozen=True)
class _Limits:
    timeout: float
    deadline: float


@dataclass(frozen=True)
class Target:
    """One URL a feed points at, with what the feed promises about it."""

    url: str
    feed: str
    kind: str  # "enclosure" or "artwork"
    length: int | None = None
    content_type: str | None = None


@dataclass
class VerifyReport:
    """What was checked and each failure in plain words, one per line."""

    feeds: int = 0
    checked: int = 0
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    def summary(self) -> str:
        """Returns '3 feeds, 42 URLs checked, 1 failure.'"""
        failed = len(self.failures)
        return (
            f"{plural(self.feeds, 'feed')}, {self.checked} URLs checked, "
            f"{plural(failed, 'failure')}."
        )


def feed_urls(build: Build, base_url: str) -> list[str]:
    """Returns the public URL of every RSS feed in the build (JSON feeds and OPML skipped)."""
    base = base_url.rstrip("/") + "/"
    return [
        urljoin(base, o.path)
        for o in build.ordered()
        if o.stage is Stage.FEED
        and _media_type(o.content_type) in FEED_TYPES
        and not o.path.endswith(".opml")
    ]


def verify_catalogue(
    checked: Checked, build: Build, *, timeout: float = TIMEOUT, deadline: float = DEADLINE
) -> VerifyReport:
    """Returns the report of verify() over every RSS feed of a checked catalogue's build."""
    assert checked.site is not None, "verify needs a catalogue without errors"
    return verify(feed_urls(build, checked.site.base_url), timeout=timeout, deadline=deadline)


def verify(
    feeds: Iterable[str],
    *,
    timeout: float = TIMEOUT,
    deadline: float = DEADLINE,
    workers: int = 8,
) -> VerifyReport:
    """Returns a report after fetching each feed, then HEAD and a 2-byte range GET per file.

    Every enclosure and artwork must answer 200 to HEAD with the Content-Length and
    Content-Type the feed declares, and 206 with a Content-Range to `Range: bytes=0-1`:
    Apple Podcasts refuses media served without range support. `timeout` bounds each read,
    `deadline` each request as a whole; a URL that misses either is one failure.
    """
    limits = _Limits(timeout, deadline)
    report = VerifyReport()
    targets: dict[tuple[str, int | None, str | None], Target] = {}
    for url in feeds:
        report.feeds += 1
        try:
            for target in _read_feed(url, limits):
                targets.setdefault((target.url, target.length, target.content_type), target)
        except _Failure as failure:
            report.failures.append(f"{url}: {failure}")
    with ThreadPoolExecutor(workers) as pool:
        for problems in pool.map(lambda t: _check(t, limits), targets.values()):
            report.failures.extend(problems)
    report.checked = len(targets)
    return report


class _Failure(Exception):
    pass


def _read_feed(url: str, limits: _Limits) -> list[Target]:
    status, headers, body = _fetch(url, "GET", limits)
    if status != 200:
        raise _Failure(f"feed answered {status}, expected 200")
    if _media_type(headers.get("Content-Type", "")) not in FEED_TYPES:
        raise _Failure(f"feed served as {headers.get('Content-Type')!r}, expected an XML type")
    try:
        channel = ET.fromstring(body).find("channel")
    except ET.ParseError as error:
        raise _Failure(f"feed is not well-formed XML: {error}") from error
    if channel is None:
        raise _Failure("feed has no <channel>")
    found = [Target(u, url, "artwork") for u in _artwork(channel, url)]
    for item in channel.iter("item"):
        found += [Target(u, url, "artwork") for u in _artwork(item, url)]
        enclosure = item.find("enclosure")
        if enclosure is None:
            continue
        length = enclosure.get("length", "")
        found.append(
            Target(
                urljoin(url, enclosure.get("url", "")),
                url,
                "enclosure",
                int(length) if length.isdigit() else None,
                enclosure.get("type"),
            )
        )
    return found


def _artwork(element: ET.Element, base: str) -> list[str]:
    urls = [e.get("href", "") for e in element.findall(f"{ITUNES}image")]
    urls += [e.text or "" for e in element.findall("image/url")]
    return [urljoin(base, u.strip()) for u in urls if u.strip()]


def _check(target: Target, limits: _Limits) -> list[str]:
    """Returns the failures of one enclosure or artwork URL (empty when it is fine)."""
    where = f"{target.url} ({target.kind} in {target.feed})"
    try:
        status, head, _ = _fetch(target.url, "HEAD", limits)
        if status != 200:
            return [f"{where}: HEAD answered {status}, expected 200"]
        problems = _check_headers(head, target)
        status, ranged, body = _fetch(target.url, "GET", limits, {"Range": "bytes=0-1"})
    except _Failure as failure:
        return [f"{where}: {failure}"]
    if status != 206:
        problems.append(f"range request answered {status}, expected 206 (apps need ranges)")
    elif not ranged.get("Content-Range"):
        problems.append("range request answered without Content-Range")
    else:
        total = ranged["Content-Range"].rpartition("/")[2]
        if target.length is not None and total != str(target.length):
            problems.append(f"Content-Range total is {total}, the feed says {target.length}")
        if len(body) != 2 and target.length != 1:
            problems.append(f"range request for 2 bytes returned {len(body)}")
    return [f"{where}: {p}" for p in problems]


def _check_headers(head: Message, target: Target) -> list[str]:
    problems = []
    length = head.get("Content-Length")
    if length is None:
        problems.append("HEAD has no Content-Length")
    elif target.length is not None and length != str(target.length):
        problems.append(f"Content-Length is {length}, the feed says {target.length}")
    served = _media_type(head.get("Content-Type", ""))
    if target.content_type and served != _media_type(target.content_type):
        problems.append(f"served as {served or 'no type'}, the feed says {target.content_type}")
    elif target.kind == "artwork" and not served.startswith("image/"):
        problems.append(f"artwork served as {served or 'no type'}, expected an image type")
    return problems


def _fetch(
    url: str, method: str, limits: _Limits, headers: dict[str, str] | None = None
) -> tuple[int, Message, bytes]:
    """Returns status, headers and body; network errors and slow servers raise _Failure.

    Each request (redirects included) must be complete within `limits.deadline` seconds,
    whatever the per-read timeout allows: a server that sends one byte per second would
    otherwise hold verify for as long as it likes. A range request reads at most 64 KB (a
    server that ignores Range sends the whole file), a feed at most MAX_FEED bytes.
    """
    started = time.monotonic()
    limit = RANGE_READ if headers and "Range" in headers else MAX_FEED
    for _ in range(MAX_REDIRECTS + 1):
        remaining = limits.deadline - (time.monotonic() - started)
        status, reply, body = _fetch_once(url, method, limits.timeout, remaining, headers, limit)
        location = reply.get("Location")
        if status not in (301, 302, 303, 307, 308) or not location:
            return status, reply, body
        url = urljoin(url, location)
    raise _Failure(f"more than {MAX_REDIRECTS} redirects")


def _fetch_once(
    url: str,
    method: str,
    timeout: float,
    remaining: float,
    headers: dict[str, str] | None,
    limit: int,
) -> tuple[int, Message, bytes]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _Failure("cannot fetch: not an http:// or https:// URL")
    if remaining <= 0:
        raise _Failure(_too_slow(timeout, remaining))
    kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    try:
        connection = kind(parts.hostname, parts.port, timeout=min(timeout, remaining))
    except ValueError as error:  # a port that is not a number
        raise _Failure(f"cannot fetch: {error}") from error
    expired = threading.Event()
    # The socket as sent on: a reply that closes the connection (HTTP/1.0, Connection: close)
    # takes it off the connection object, while its body is still read from it.
    sent: list[socket.socket] = []

    def expire() -> None:
        expired.set()
        for sock in [*sent, connection.sock]:
            with contextlib.suppress(OSError, AttributeError):
                sock.shutdown(socket.SHUT_RDWR)  # wakes the blocked read at once

    watchdog = threading.Timer(remaining, expire)
    watchdog.daemon = True
    watchdog.start()
    target = urlunsplit(("", "", parts.path or "/", parts.query, ""))
    try:
        connection.request(method, target, headers={"User-Agent": USER_AGENT, **(headers or {})})
        if connection.sock is not None:
            sent.append(connection.sock)
        reply = connection.getresponse()
        body = b""
        if method == "GET":
            body = reply.read(limit + 1)
        if expired.is_set():  # a read cut short by the watchdog can return what it had
            raise _Failure(_too_slow(timeout, remaining))
        if len(body) > limit and limit == MAX_FEED:
            raise _Failure(f"answer larger than {MAX_FEED // MB} MB; a feed is far smaller")
        return reply.status, reply.headers, body[:limit]
    except (OSError, http.client.HTTPException, ValueError) as error:
        if expired.is_set():
            raise _Failure(_too_slow(timeout, remaining)) from error
        reason = getattr(error, "reason", None) or error
        raise _Failure(f"cannot fetch: {reason}") from error
    finally:
        watchdog.cancel()
        connection.close()


def _too_slow(timeout: float, deadline: float) -> str:
    return f"no complete answer within {max(deadline, 0):.0f} s (the server is too slow)"


def _media_type(value: str) -> str:
    return value.split(";")[0].strip().lower()
