"""Reads a podcast RSS feed someone else made, safely and leniently -> SourceFeed.

Safety: lxml parses with `resolve_entities=False` (no entity is ever expanded, so neither an
external entity naming a local file or a URL, nor a billion-laughs bomb, can do anything),
`load_dtd=False` and `no_network=True` (no DTD or other file is fetched), and
`huge_tree=False` (libxml2's limits on depth and text size stay on). Entity references a
feed's own DTD declares are dropped, and said so.

Leniency: apps read feeds that are not quite XML, so the importer does too, and says what it
repaired: junk or blank lines before the XML declaration, HTML entities such as `&nbsp;`
that XML does not define, bare `&`, and a tag that does not match (libxml2's recovery).
What no app reads is refused with one line: an empty file, an HTML page, a truncated
download, an Atom feed.

Paged feeds (RFC 5005, `<atom:link rel="next">`) are followed to the end, MAX_PAGES at most:
over http(s) to http(s) pages, and from a feed file to files in its own folder only (a feed
names whatever it likes, /etc/passwd too); a page not followed is a warning.
"""

from __future__ import annotations

import codecs
import html.entities
import http.client
import re
import threading
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

from lxml import etree

from fo_cast.errors import FoCastError
from fo_cast.media.download import (
    RedirectRefused,
    describe_network_error,
    opener,
    redacted,
    refused_url,
)
from fo_cast.units import format_size

ATOM_NS = "http://www.w3.org/2005/Atom"
MAX_PAGES = 100
MAX_FEED_BYTES = 256_000_000  # for all pages together; Apple stops at far less
FETCH_DEADLINE = 120.0  # seconds for all pages together
FEED_REDIRECTS = 10  # urllib's own bound, which feed imports always had
USER_AGENT = "fo-cast (podcast import)"


class FeedError(FoCastError):
    """The source cannot be read as a podcast feed (one line saying why)."""


@dataclass
class SourceFeed:
    """A source feed as read: its channel element, every item of every page, and repairs."""

    source: str
    channel: etree._Element
    items: list[etree._Element] = field(default_factory=list)
    repairs: list[str] = field(default_factory=list)
    pages: int = 1
    warnings: list[str] = field(default_factory=list)  # next pages not followed, and why


def _parser(recover: bool = False) -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        load_dtd=False,
        no_network=True,
        huge_tree=False,
        dtd_validation=False,
        recover=recover,
        remove_blank_text=False,
    )


# The five entities XML defines; every other named one needs a DTD, which feeds never bring.
_XML_ENTITIES = frozenset({"amp", "lt", "gt", "quot", "apos"})
_ENTITY = re.compile(rb"&([A-Za-z][A-Za-z0-9]{1,31});")
_BARE_AMP = re.compile(rb"&(?!#[0-9]+;|#x[0-9A-Fa-f]+;|[A-Za-z][A-Za-z0-9]{1,31};)")
_CDATA = re.compile(rb"(<!\[CDATA\[.*?\]\]>)", re.S)
_ENTITY_DECLARED = re.compile(rb"<!ENTITY\s+([A-Za-z][A-Za-z0-9]{1,31})\s")
# The root element's end, then at most comments and processing instructions (XML allows both
# after the root: <?generator ...?>, <!-- cached 12:00 -->). Each ends at its first "-->" or
# "?>": a lazy ".*?" there let the tail split in 2^n ways, and 30 comments before junk took
# minutes to refuse.
_ROOT_END = re.compile(
    rb"</(?:[A-Za-z_][\w.-]*:)?(rss|feed|rdf:RDF|RDF)\s*>"
    rb"(?:\s|<!--(?:[^-]|-(?!->))*-->|<\?(?:[^?]|\?(?!>))*\?>)*$"
)
# The root element's start: "<?xml" after it is text of the feed, not its declaration
_ROOT_START = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(rss|feed|RDF)[\s>/]")


def read_source(
    source: str,
    fetch: Callable[[str], bytes] | None = None,
    max_pages: int = MAX_PAGES,
) -> SourceFeed:
    """Returns the feed at source (a file path or an http(s) URL), every page of it.

    `fetch` reads a URL (default: urllib, with a deadline and a size bound for all pages).
    """
    fetcher = fetch or Fetcher()
    data = _read(source, fetcher)
    channel, repairs = parse_feed(data, source)
    feed = SourceFeed(source=source, channel=channel, repairs=repairs)
    feed.items.extend(_items(channel))
    seen = {_absolute(source)}
    page_url = _next_page(channel, source, feed)
    while page_url is not None:
        if page_url in seen:
            feed.repairs.append(f"page {feed.pages} links back to {page_url}; stopped there")
            break
        if feed.pages >= max_pages:
            raise FeedError(
                f"{source}: more than {max_pages} pages (atom:link rel=next); "
                "is the feed paging in a loop?"
            )
        seen.add(page_url)
        page, page_repairs = parse_feed(_read(page_url, fetcher), page_url)
        feed.pages += 1
        feed.repairs.extend(f"page {feed.pages}: {r}" for r in page_repairs)
        feed.items.extend(_items(page))
        page_url = _next_page(page, page_url, feed)
    return feed


def _absolute(source: str) -> str:
    return source if _is_url(source) else str(Path(source).resolve())


def _is_url(source: str) -> bool:
    # By its start, not urlsplit(), which raises on a URL that is not valid ("http://[::1"):
    # that one is refused by _read in words.
    return source.strip().lower().startswith(("http://", "https://"))


def _read(source: str, fetch: Callable[[str], bytes]) -> bytes:
    if _is_url(source):
        refused = refused_url(source)
        if refused is not None:
            raise FeedError(f"{redacted(source)}: {refused}")
        return fetch(source)
    if "://" in source:
        raise FeedError(f"{source}: only files and http(s) URLs can be imported")
    try:
        return Path(source).read_bytes()
    except IsADirectoryError:
        raise FeedError(f"{source}: is a folder; give the feed file") from None
    except OSError as exc:
        raise FeedError(f"{source}: cannot read it: {exc.strerror or exc}") from None


def _next_page(channel: etree._Element, source: str, feed: SourceFeed) -> str | None:
    """Returns the page after this one (atom:link rel=next), None when there is none or it
    is not followed (a warning in feed says why)."""
    href = next(
        (
            (link.get("href") or "").strip()
            for link in channel.iterchildren(f"{{{ATOM_NS}}}link")
            if link.get("rel") == "next" and (link.get("href") or "").strip()
        ),
        None,
    )
    if href is None:
        return None
    why, page = _unfollowed(source, href)
    if why is not None:
        feed.warnings.append(
            f"page {feed.pages}: the next page {redacted(href)!r} (atom:link rel=next) was "
            f"not followed: {why}; its episodes are not imported"
        )
        return None
    return page


_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")


def _unfollowed(source: str, href: str) -> tuple[str | None, str]:
    """Returns (why not, "") for a next page fo-cast does not follow, or (None, where it is):
    a URL's pages are http(s) URLs; a file's are files in the file's own folder."""
    if _is_url(source):
        try:
            page = urljoin(source, href)
        except ValueError as exc:
            return f"not a valid URL ({exc})", ""
        return refused_url(page), page
    folder = Path(source).resolve().parent
    if _SCHEME.match(href):  # http:, file:, data: ...
        return (
            "the pages of a feed file are read from its own folder, not from URLs (import "
            "the feed by its URL to follow them)",
            "",
        )
    path = (folder / href).resolve()  # a link that leads out of the folder leads out of it
    if path.parent != folder:
        return f"it is outside the folder of {Path(source).name}, where its pages are read", ""
    return None, str(path)


class Fetcher:
    """Reads URLs with urllib: one deadline and one size bound for every page of a feed.

    The deadline bounds each fetch as a whole, not only each read: a server that trickles a
    byte a second answers every read in time, so the fetch runs aside and is abandoned when
    time is up (as media.remote.probe_url does).
    """

    def __init__(self, deadline: float = FETCH_DEADLINE, max_bytes: int = MAX_FEED_BYTES):
        self.ends = time.monotonic() + deadline
        self.deadline = deadline
        self.left = max_bytes
        self.max_bytes = max_bytes
        self.opener = opener(FEED_REDIRECTS)

    def __call__(self, url: str) -> bytes:
        outcome: list[bytes | BaseException] = []
        got = [0]  # body bytes read so far, as the worker counts them

        def run() -> None:
            try:
                outcome.append(self._fetch(url, got))
            except BaseException as exc:  # handed to the caller's thread below
                outcome.append(exc)

        worker = threading.Thread(target=run, daemon=True, name="fo-cast-feed-fetch")
        worker.start()
        worker.join(max(0.0, self.ends - time.monotonic()))
        if not outcome:  # the worker stops at its next read, past the deadline too
            raise self._late(url, got[0])
        if isinstance(outcome[0], BaseException):
            raise outcome[0]
        return outcome[0]

    def _fetch(self, url: str, got: list[int]) -> bytes:
        headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "gzip, deflate"}
        request = urllib.request.Request(url, headers=headers)
        chunks: list[bytes] = []
        try:
            with self.opener.open(request, timeout=self._remaining(url, got)) as response:
                expected = response.headers.get("Content-Length")
                unpack = _Unpacker(url, response.headers.get("Content-Encoding"))
                kept = 0
                while chunk := response.read1(1 << 16):  # what has arrived, not 64 KB
                    got[0] += len(chunk)
                    for piece in unpack(chunk):
                        kept += len(piece)
                        if kept > self.left:
                            raise FeedError(
                                f"{url}: larger than {format_size(self.max_bytes)}; not a feed "
                                "fo-cast imports"
                            )
                        chunks.append(piece)
                    self._remaining(url, got)
                if expected is None or not expected.isdigit() or int(expected) == got[0]:
                    unpack.end()  # a compressed stream cut short: truncated
        except RedirectRefused as exc:
            raise FeedError(f"{url}: {exc}") from None
        except urllib.error.HTTPError as exc:
            if 300 <= exc.code < 400 and not exc.headers.get("Location"):
                raise FeedError(
                    f"{url}: the server answered {exc.code} {exc.reason} without saying where "
                    "to go (no Location); give the feed's own URL"
                ) from None
            if 300 <= exc.code < 400:  # FEED_REDIRECTS at most, never a loop
                raise FeedError(
                    f"{url}: the server redirects in a loop (or too many times); give the "
                    "feed's final URL"
                ) from None
            raise FeedError(f"{url}: the server answered {exc.code} {exc.reason}") from None
        except http.client.IncompleteRead as exc:
            got[0] += len(exc.partial)
            # a chunked answer says no length: only how much came (expected: what is missing)
            size = f"{got[0]} of {got[0] + exc.expected}" if exc.expected else f"after {got[0]}"
            raise FeedError(
                f"{url}: the download is truncated ({size} bytes); fetch it again"
            ) from None
        except http.client.HTTPException as exc:
            raise FeedError(f"{url}: cannot fetch it: {describe_network_error(exc)}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", None) or exc
            if isinstance(reason, TimeoutError) or "timed out" in str(reason):
                raise self._late(url, got[0]) from None
            raise FeedError(f"{url}: cannot fetch it: {describe_network_error(exc)}") from None
        data = b"".join(chunks)
        self.left -= len(data)
        if expected is not None and expected.isdigit() and int(expected) != got[0]:
            raise FeedError(
                f"{url}: the download is truncated ({got[0]} of {int(expected)} bytes); "
                "fetch it again"
            )
        return data

    def _remaining(self, url: str, got: list[int]) -> float:
        left = self.ends - time.monotonic()
        if left <= 0:
            raise self._late(url, got[0])
        return left

    def _late(self, url: str, got: int) -> FeedError:
        """Returns the error of a fetch past the deadline: no answer, or too slow a one."""
        if not got:
            return FeedError(f"{url}: no answer within {self.deadline:g} s")
        return FeedError(
            f"{url}: gave up after {self.deadline:g} s with {format_size(got)} arrived; the "
            "server sends too slowly, try again later"
        )


class _Unpacker:
    """Unpacks a response as its Content-Encoding says (gzip or deflate, what fo-cast asks
    for), a bounded piece at a time: a small bomb never becomes one large string."""

    PIECE = 1 << 20

    def __init__(self, url: str, encoding: str | None) -> None:
        self.url = url
        self.name = (encoding or "identity").strip().lower()
        if self.name in ("gzip", "x-gzip"):
            self.inflate: Any = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif self.name == "deflate":
            self.inflate = None  # zlib-wrapped as HTTP says, or raw as some servers send it
        elif self.name == "identity":
            self.inflate = False
        else:
            raise FeedError(
                f"{url}: the server compressed it as '{self.name}', which fo-cast does not read"
            )

    def __call__(self, chunk: bytes) -> Iterator[bytes]:
        if self.inflate is False:
            yield chunk
            return
        if self.inflate is None:  # deflate: try the zlib wrapper, else raw deflate
            wrapped = zlib.decompressobj(zlib.MAX_WBITS)
            try:
                wrapped.decompress(chunk[:2])
            except zlib.error:
                self.inflate = zlib.decompressobj(-zlib.MAX_WBITS)
            else:
                self.inflate = zlib.decompressobj(zlib.MAX_WBITS)
        data = chunk
        while data:
            try:
                piece = self.inflate.decompress(data, self.PIECE)
            except zlib.error as error:
                raise FeedError(
                    f"{self.url}: the server said {self.name} but sent something else ({error})"
                ) from None
            if piece:
                yield piece
            data = self.inflate.unconsumed_tail
            if self.inflate.eof and self.inflate.unused_data and self.name != "deflate":
                # gzip allows members one after another (RFC 1952): gzip -c a b, pigz
                data = self.inflate.unused_data
                self.inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)

    def end(self) -> None:
        if self.inflate is not False and self.inflate is not None and not self.inflate.eof:
            raise FeedError(f"{self.url}: the download is truncated; fetch it again")


def parse_feed(data: bytes, where: str) -> tuple[etree._Element, list[str]]:
    """Returns the RSS channel element of one feed document and what was repaired in it."""
    repairs: list[str] = []
    data = _trim_front(data, where, repairs)
    _refuse_non_feeds(data, where)
    root = _parse(data, where, repairs)
    _drop_entities(root, repairs)
    tag = etree.QName(root).localname if isinstance(root.tag, str) else ""
    if tag == "feed":
        raise FeedError(f"{where}: is an Atom feed; fo-cast imports RSS podcast feeds")
    if tag != "rss":
        raise FeedError(f"{where}: is not an RSS feed (its root element is <{tag}>)")
    channel = root.find("channel")
    if channel is None:
        if root.find("item") is None and root.find("title") is None:
            raise FeedError(f"{where}: an RSS document without a <channel>; not a feed")
        channel = root  # recovered from a lost <channel> tag: its children sit on <rss>
    return channel, repairs


def _trim_front(data: bytes, where: str, repairs: list[str]) -> bytes:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]  # the UTF-8 byte order mark is allowed; junk after it is not
    if not data.strip():
        raise FeedError(f"{where}: is empty; not a feed")
    declaration = data.find(b"<?xml")
    if 0 < declaration < 4096 and _ROOT_START.search(data, 0, declaration):
        declaration = -1  # the feed began before it: "<?xml" in a description, say
    if 0 < declaration < 4096:
        junk = data[:declaration]
        what = "blank lines" if not junk.strip() else f"{len(junk)} bytes"
        repairs.append(f"removed {what} before the XML declaration")
        return data[declaration:]
    if declaration < 0:
        stripped = data.lstrip()
        if len(stripped) != len(data):
            repairs.append("removed blank lines before the feed")
        return stripped
    return data


def _refuse_non_feeds(data: bytes, where: str) -> None:
    head = data[:2048].lower()
    body = re.sub(rb"<\?xml[^>]*\?>|<!--.*?-->|\s", b"", head, flags=re.S)
    if body.startswith((b"<!doctypehtml", b"<html")):
        raise FeedError(
            f"{where}: is an HTML page, not a feed; give the feed's own URL (the page's RSS link)"
        )
    if not _ROOT_END.search(data[-4096:]) and body.startswith((b"<rss", b"<?xml", b"<!doctype")):
        line = data.count(b"\n") + 1
        raise FeedError(
            f"{where}: is truncated (it stops at line {line} before </rss>); download it again"
        )


def _parse(data: bytes, where: str, repairs: list[str]) -> etree._Element:
    try:
        return etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as first:
        error = first
    if "amplification" in str(error):  # libxml2 measured an entity bomb, unexpanded
        raise FeedError(
            f"{where}: declares entities that would expand without bound (a 'billion laughs' "
            "bomb); refused"
        )
    # The damage apps read past, each repaired once and said, whichever the parser meets
    # first: bytes that are not UTF-8, a prefix used undeclared (itunes: without
    # xmlns:itunes), &nbsp;, bare & and entities nobody defined.
    fixed = data
    left: dict[Callable[[bytes, list[str]], bytes], tuple[str, ...]] = {
        _repair_encoding: ("encoding", "utf-8"),
        _declare_prefixes: ("namespace prefix",),
        _repair_entities: ("entity", "entityref"),
    }
    while True:
        message = str(error).lower()
        repair = next((r for r, said in left.items() if any(w in message for w in said)), None)
        if repair is None:
            break
        del left[repair]
        repaired = repair(fixed, repairs)
        if repaired is fixed:
            continue
        fixed = repaired
        try:
            return etree.fromstring(fixed, _parser())
        except etree.XMLSyntaxError as again:
            error = again
    parser = _parser(recover=True)
    root = etree.fromstring(fixed, parser)
    if root is None or len(root) == 0:
        raise FeedError(f"{where}: not XML ({_message(error)}); not a feed")
    repairs.append(
        f"read past an XML error: {_message(error)} (libxml2's recovery, as lenient apps read "
        "it; check the imported text after that line)"
    )
    return root


_DECLARED_ENCODING = re.compile(rb"""<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")


def _repair_encoding(data: bytes, repairs: list[str]) -> bytes:
    """Returns a feed that says UTF-8 (or says nothing) but holds bytes that are not, with
    those bytes read as Windows-1252 (what they nearly always are: the ’ “ ” – of a word
    processor pasted into a CMS), or data itself. libxml2's recovery would read past them
    and drop every later entity of the feed; feedparser guesses the same way."""
    declared = _DECLARED_ENCODING.match(data.lstrip()[:200])
    if declared and declared.group(1).lower() not in (b"utf-8", b"utf8"):
        return data
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return data
    read: list[bytes] = []

    def windows_1252(error: UnicodeError) -> tuple[str, int]:
        assert isinstance(error, UnicodeDecodeError)
        bad = error.object[error.start : error.end]
        read.append(bad)
        return bad.decode("cp1252", errors="replace"), error.end

    codecs.register_error("fo-cast-windows-1252", windows_1252)
    text = data.decode("utf-8", errors="fo-cast-windows-1252")
    shown = "".join(sorted({b.decode("cp1252", errors="replace") for b in read}))[:20]
    count = sum(len(b) for b in read)
    one = count == 1
    repairs.append(f"read {count} byte{'' if one else 's'} that {'is' if one else 'are'} not "
                   f"UTF-8 as Windows-1252 ({shown})")  # fmt: skip
    return text.encode("utf-8")


# The namespaces podcast feeds use, by the prefix they are given: a feed that uses a prefix
# it never declares (many do, and apps read them) is read as if it had declared this one.
NAMESPACES = {
    "itunes": "http://www.itunes.com/dtds/podcast-1.0.dtd",
    "podcast": "https://podcastindex.org/namespace/1.0",
    "content": "http://purl.org/rss/1.0/modules/content/",
    "atom": "http://www.w3.org/2005/Atom",
    "media": "http://search.yahoo.com/mrss/",
    "googleplay": "http://www.google.com/schemas/play-podcasts/1.0",
    "dc": "http://purl.org/dc/elements/1.1/",
    "psc": "http://podlove.org/simple-chapters",
    "sy": "http://purl.org/rss/1.0/modules/syndication/",
    "spotify": "http://www.spotify.com/ns/rss",
    "rawvoice": "http://www.rawvoice.com/rawvoiceRssModule/",
    "fyyd": "https://fyyd.de/fyyd-ns/",
}
_PREFIXED = re.compile(rb"<([A-Za-z_][\w.-]*):[A-Za-z_]|\s([A-Za-z_][\w.-]*):[A-Za-z_][\w.-]*\s*=")
_DECLARED = re.compile(rb"xmlns:([A-Za-z_][\w.-]*)\s*=")
_RSS_START = re.compile(rb"<rss(?=[\s>/])")


def _declare_prefixes(data: bytes, repairs: list[str]) -> bytes:
    """Returns data with the prefixes it uses undeclared declared on <rss> (the well-known
    URI for a known prefix, an fo-cast URN for any other), or data itself."""
    start = _RSS_START.search(data)
    if start is None:
        return data
    used = {m.group(1) or m.group(2) for m in _PREFIXED.finditer(data)}
    undeclared = sorted(used - set(_DECLARED.findall(data)) - {b"xml", b"xmlns"})
    if not undeclared:
        return data
    declarations = b"".join(
        b' xmlns:%s="%s"'
        % (
            prefix,
            NAMESPACES.get(
                prefix.decode("ascii"), f"urn:fo-cast:undeclared:{prefix.decode('ascii')}"
            ).encode(),
        )
        for prefix in undeclared
    )
    names = ", ".join(f"{p.decode('ascii')}:" for p in undeclared)
    repairs.append(f"declared the namespace prefixes the feed uses without declaring ({names})")
    return data[: start.end()] + declarations + data[start.end() :]


def _message(error: etree.XMLSyntaxError) -> str:
    text = str(error.msg or error).split(", line")[0].strip()
    line = error.lineno or error.position[0]
    return f"{text} at line {line}" if line else text


def _repair_entities(data: bytes, repairs: list[str]) -> bytes:
    names: dict[str, int] = {}

    declared = {m.decode("ascii") for m in _ENTITY_DECLARED.findall(data)}
    undefined: dict[str, int] = {}

    def numeric(match: re.Match[bytes]) -> bytes:
        name = match.group(1).decode("ascii")
        if name in _XML_ENTITIES or name in declared:
            return match.group(0)
        codepoint = html.entities.name2codepoint.get(name)
        if codepoint is None:  # defined nowhere: kept as the text it is (&gtgt; stays &gtgt;)
            undefined[name] = undefined.get(name, 0) + 1
            return b"&amp;" + match.group(0)[1:]
        names[name] = names.get(name, 0) + 1
        return b"&#%d;" % codepoint

    parts = _CDATA.split(data)  # CDATA sections (odd indexes) are text already: untouched
    bare = 0
    for index in range(0, len(parts), 2):
        parts[index], count = _BARE_AMP.subn(b"&amp;", _ENTITY.sub(numeric, parts[index]))
        bare += count
    fixed = b"".join(parts)
    if names:
        listed = ", ".join(f"&{n};" for n in sorted(names))
        count = sum(names.values())
        repairs.append(f"replaced {count} HTML entit{'y' if count == 1 else 'ies'} XML lacks "
                       f"({listed}) with the characters they stand for")  # fmt: skip
    if undefined:
        listed = ", ".join(f"&{n};" for n in sorted(undefined))
        count = sum(undefined.values())
        repairs.append(f"kept {count} reference{'' if count == 1 else 's'} to entities nothing "
                       f"defines ({listed}) as the text they are")  # fmt: skip
    if bare:
        repairs.append(f"escaped {bare} bare '&'")
    return fixed if (names or bare or undefined) else data


def _drop_entities(root: etree._Element, repairs: list[str]) -> None:
    """Removes entity references left unexpanded (declared in the feed's own DTD)."""
    found = list(root.iter(etree.Entity))
    for entity in found:
        parent = entity.getparent()
        if parent is None:
            continue
        tail = entity.tail or ""
        previous = entity.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail
        parent.remove(entity)
    if found:
        names = ", ".join(sorted({f"&{e.name};" for e in found}))
        repairs.append(
            f"left out {len(found)} entity reference{'s' if len(found) > 1 else ''} the feed "
            f"declares itself ({names}); fo-cast never expands them"
        )


def _items(channel: etree._Element) -> list[etree._Element]:
    return list(channel.iterchildren("item"))
