"""Telling the directories that feeds changed: the Podcast Index, Podping, a WebSub hub.

Apps learn of a new episode when their directory next polls the feed, which can take
hours; a ping makes it minutes. Pings go only after the feeds have arrived, only for the
RSS feeds this publish changed, and only to the services `[notify]` in fo-cast.toml
switches on (none by default). A failed ping is a warning, retried with backoff a bounded
number of times; it never fails a publish, whose files are out already.
"""

from __future__ import annotations

import os
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from urllib.parse import quote, urlencode

from fo_cast.catalogue.settings import Notify
from fo_cast.outputs import Stage
from fo_cast.publish.plan import Plan
from fo_cast.units import plural

RSS_PREFIX = "application/rss+xml"
VIDEO_MEDIUM = b"<podcast:medium>video</podcast:medium>"


BUDGET = 120.0  # seconds all notifications of one publish may take, retries included


def user_agent() -> str:
    try:
        return f"fo-cast/{version('fo-cast')}"
    except PackageNotFoundError:
        return "fo-cast"


@dataclass(frozen=True)
class Ping:
    """One HTTP request that tells a service about one feed."""

    service: str  # "Podcast Index", "Podping", "WebSub"
    feed: str
    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None

    def __str__(self) -> str:
        return f"{self.service}: {self.method} {self.url.split('?', 1)[0]} for {self.feed}"


@dataclass(frozen=True)
class Notice:
    """How one ping went."""

    ping: Ping
    ok: bool
    tries: int
    message: str = ""  # the last failure's reason

    def __str__(self) -> str:
        if self.ok:
            return f"notified {self.ping.service} of {self.ping.feed}"
        tried = f"; tried {plural(self.tries, 'time')}" if self.tries else ""
        return (
            f"warning: could not notify {self.ping.service} of {self.ping.feed} "
            f"({self.message}{tried}); the feed is published, the directory will see it "
            "when it next polls"
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "service": self.ping.service,
            "feed": self.ping.feed,
            "ok": self.ok,
            "tries": self.tries,
            "message": self.message,
        }


def changed_feeds(plan: Plan, base_url: str) -> list[tuple[str, bool]]:
    """Returns (URL, is video) of every RSS feed the plan uploads, in plan order."""
    base = base_url if base_url.endswith("/") else base_url + "/"
    feeds = []
    for upload in plan.uploads:
        output = upload.output
        if output.stage is Stage.FEED and output.content_type.startswith(RSS_PREFIX):
            data = output.data  # read once: it may be kept in the render cache
            video = data is not None and VIDEO_MEDIUM in data
            feeds.append((base + quote(output.path), video))
    return feeds


def plan_pings(
    feeds: Iterable[tuple[str, bool]], settings: Notify, env: Mapping[str, str] | None = None
) -> tuple[list[Ping], list[str]]:
    """Returns the pings [notify] asks for, and warnings for those that cannot be sent."""
    env = os.environ if env is None else env
    agent = {"User-Agent": user_agent()}
    pings: list[Ping] = []
    warnings: list[str] = []
    token = env.get(settings.podping_token_env, "")
    feeds = list(feeds)
    if settings.podping and not token and feeds:  # a warning only when a ping was due
        warnings.append(
            f"warning: Podping is on in fo-cast.toml but {settings.podping_token_env} is not "
            "set; no Podping was sent"
        )
    for feed, video in feeds:
        if settings.podcastindex:
            url = _with_query(settings.podcastindex_url, {"url": feed})
            pings.append(Ping("Podcast Index", feed, "GET", url, agent))
        if settings.podping and token:
            query = {"url": feed, "reason": "update", "medium": "video" if video else "podcast"}
            pings.append(
                Ping(
                    "Podping", feed, "GET", _with_query(settings.podping_url, query),
                    {**agent, "Authorization": token},
                )
            )  # fmt: skip
        if settings.websub_hub:
            body = urlencode({"hub.mode": "publish", "hub.url": feed}).encode()
            form = {**agent, "Content-Type": "application/x-www-form-urlencoded"}
            pings.append(Ping("WebSub", feed, "POST", settings.websub_hub, form, body))
    return pings, warnings


def _with_query(url: str, fields: Mapping[str, str]) -> str:
    """Returns url with fields added to its query: after '&' when it has one already (an
    apikey=... of the service's), never a second '?'."""
    base, _, fragment = url.partition("#")
    joiner = "&" if "?" in base else "?"
    if base.endswith(("?", "&")):
        joiner = ""
    return f"{base}{joiner}{urlencode(fields)}" + (f"#{fragment}" if fragment else "")


def send_pings(
    pings: Iterable[Ping],
    settings: Notify,
    sleep: Callable[[float], None] = time.sleep,
    budget: float = BUDGET,
) -> list[Notice]:
    """Returns how each ping went, in order, after up to `settings.tries` tries with backoff.

    A service that failed every try of one ping (no answer, or a 5xx) is not sent the rest,
    and all pings end within `budget` seconds: a service that never
    answers once held the end of a publish for tries x timeout x feeds (seven minutes for
    six feeds at the defaults).
    """
    deadline = time.monotonic() + budget
    failing: dict[str, str] = {}  # service -> why its last ping failed
    notices = []
    for ping in pings:
        if ping.service in failing:
            why = f"not sent: it failed the ping before ({failing[ping.service]})"
            notices.append(Notice(ping, False, 0, why))
            continue
        notice = _tried(ping, settings, sleep, deadline, budget)
        if not notice.ok and not notice.message.startswith("HTTP 4"):
            # down, or failing (5xx): the service's other pings would fare no better; a 4xx
            # is about this feed (one the directory does not know yet), not the service
            failing[ping.service] = notice.message
        notices.append(notice)
    return notices


def _tried(
    ping: Ping,
    settings: Notify,
    sleep: Callable[[float], None],
    deadline: float,
    budget: float,
) -> Notice:
    message = ""
    for attempt in range(1, settings.tries + 1):
        left = deadline - time.monotonic()
        if left <= 0:
            why = f"not sent: notifications may take {budget:g} s in all"
            return Notice(ping, False, attempt - 1, message or why)
        message = _send(ping, min(settings.timeout, left))
        if not message:
            return Notice(ping, True, attempt)
        if attempt < settings.tries:
            pause = settings.backoff * 2 ** (attempt - 1)
            sleep(min(pause, max(0.0, deadline - time.monotonic())))
    return Notice(ping, False, settings.tries, message)


def _send(ping: Ping, timeout: float) -> str:
    """Returns '' when the service accepted the ping, else the reason it did not.

    A try ends after `timeout` seconds in all: urlopen's timeout bounds each read only, and a
    service answering a byte at a time would hold the end of a publish for as long as it
    liked. The late try is left to finish on its own (a daemon thread, never waited for).
    """
    outcome: list[str] = []
    worker = threading.Thread(
        target=lambda: outcome.append(_send_now(ping, timeout)), daemon=True, name="fo-cast-ping"
    )
    worker.start()
    worker.join(timeout)
    if not outcome:
        return f"no complete answer within {timeout:g} s"
    return outcome[0]


class _Unfollowed(urllib.request.HTTPRedirectHandler):
    """Follows no redirect: a ping with a token must not carry it to wherever one leads."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def _send_now(ping: Ping, timeout: float) -> str:
    from fo_cast.errors import FoCastError
    from fo_cast.media.download import opener, refused_url

    refused = refused_url(ping.url)  # http(s) only, no user:password@ (the one rule)
    if refused is not None:
        return f"not sent: {refused}"
    secret = "Authorization" in ping.headers
    try:
        request = urllib.request.Request(
            ping.url, data=ping.body, method=ping.method, headers=ping.headers
        )
        client = urllib.request.build_opener(_Unfollowed) if secret else opener()
        with client.open(request, timeout=timeout) as reply:
            reply.read(64 * 1024)
            return ""
    except urllib.error.HTTPError as error:
        if secret and 300 <= error.code < 400:
            return (
                f"HTTP {error.code}: redirected elsewhere, where a ping carrying a token is not "
                "sent; give the service's final URL"
            )
        said = " ".join(str(error.reason).split())  # a redirect loop's spans three lines
        return f"HTTP {error.code} {said}".rstrip()
    except FoCastError as error:  # a redirect to a URL fo-cast does not follow
        return str(error)
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        text = " ".join(str(reason).split())  # urllib's own messages span lines
        return f"{type(reason).__name__}: {text}" if text else type(reason).__name__
