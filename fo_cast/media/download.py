"""Parallel, resumable HTTP(S) downloads: download_all() yields events, it never prints.

Each job writes into a hidden part file beside its target (`.audio.mp3.part`) and renames it
into place only when the byte count is right, so a target that exists is always complete. A
part file left by an earlier run (killed, offline, timed out) is resumed with a Range request
instead of being fetched again. Standard library only: urllib follows redirects (bounded
here), and one socket timeout covers the connect and every read.
"""

from __future__ import annotations

import http.client
import json
import queue
import re
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import urljoin, urlsplit

from fo_cast.errors import FoCastError
from fo_cast.limits import load_json

CHUNK = 64 * 1024
MAX_REDIRECTS = 5
FETCHED_SCHEMES = ("http", "https")  # what fo-cast requests, and follows redirects to
USER_AGENT = "fo-cast/1"
_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)", re.IGNORECASE)
_RANGE_UNSATISFIED = re.compile(r"bytes\s+\*/(\d+)", re.IGNORECASE)


@dataclass(frozen=True)
class DownloadJob:
    """One file to fetch: from url into target, with the byte length the feed gives."""

    url: str
    target: Path
    length: int | None = None


@dataclass(frozen=True)
class Started:
    """A request for the job is under way; `offset` bytes are already in the part file."""

    job: DownloadJob
    offset: int
    total: int | None  # the length the server announced, when it did


@dataclass(frozen=True)
class Progress:
    """`bytes` more bytes arrived; `done` of `total` are now in the part file."""

    job: DownloadJob
    bytes: int
    done: int
    total: int | None


@dataclass(frozen=True)
class Retrying:
    """An attempt failed for a reason worth another try (dropped connection, 5xx, timeout)."""

    job: DownloadJob
    attempt: int  # the attempt that failed, from 1
    reason: str


@dataclass(frozen=True)
class Finished:
    """The target is complete: `size` bytes (`skipped` when it already was)."""

    job: DownloadJob
    size: int
    skipped: bool = False


@dataclass(frozen=True)
class Failed:
    """The job gave up; `reason` is one line for people. A part file kept can be resumed."""

    job: DownloadJob
    reason: str


DownloadEvent = Started | Progress | Retrying | Finished | Failed


def part_file(target: Path) -> Path:
    """Returns where a download of target collects its bytes until complete."""
    return target.with_name("." + target.name + ".part")


def validator_file(target: Path) -> Path:
    """Returns where the part file's URL, ETag and Last-Modified are kept: a resume sends them
    as If-Range, so bytes of a file replaced on the server (or re-stitched with other ads) are
    never appended to a part of the old one."""
    return target.with_name("." + target.name + ".part.json")


def _if_range(job: DownloadJob) -> str | None:
    """Returns the validator an earlier response gave for the part file, or None."""
    try:
        kept = load_json(validator_file(job.target).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(kept, dict) or kept.get("url") != job.url:
        return None
    etag, modified = kept.get("etag"), kept.get("last_modified")
    if isinstance(etag, str) and etag and not etag.startswith("W/"):  # If-Range: strong only
        return etag
    return modified if isinstance(modified, str) and modified else None


def _keep_validator(job: DownloadJob, response: Any) -> None:
    etag, modified = response.headers.get("ETag"), response.headers.get("Last-Modified")
    validators = {"url": job.url, "etag": etag, "last_modified": modified}
    validator_file(job.target).write_text(json.dumps(validators), encoding="utf-8")


def _forget(target: Path) -> None:
    part_file(target).unlink(missing_ok=True)
    validator_file(target).unlink(missing_ok=True)


# A download that brings less than STALL_RATE bytes a second over STALL_SECONDS is stalled
# (a server trickling a byte every few seconds, under the read timeout): it is broken off and
# reported, its part file kept for the next run to resume.
STALL_SECONDS = 60.0
STALL_RATE = 1000


def download_all(
    jobs: list[DownloadJob],
    workers: int = 4,
    timeout: float = 15.0,
    deadline: float | None = None,
    *,
    retries: int = 3,
    backoff: float = 0.5,
) -> Iterator[DownloadEvent]:
    """Yields the events of downloading every job, `workers` at a time, in arrival order.

    `timeout` bounds the connect and each read; `deadline` the seconds one file may take in
    all; a dropped connection, a timeout or a 5xx is retried `retries` times, waiting
    `backoff`, then twice that, and so on. Closing the iterator stops the downloads (part
    files stay, to be resumed).
    """
    if not jobs:
        return
    events: queue.Queue[DownloadEvent | Future[None]] = queue.Queue()
    stop = threading.Event()
    fetcher = _Fetcher(timeout, deadline, retries, backoff, stop, events.put)
    pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="fo-cast-download")
    targets: set[Path] = set()
    pending = 0
    try:
        for job in jobs:
            if job.target in targets:  # two writers of one part file would interleave bytes
                yield Failed(job, f"another job already downloads to {job.target.name}")
                continue
            targets.add(job.target)
            pool.submit(fetcher.run, job).add_done_callback(events.put)
            pending += 1
        while pending:
            event = events.get()
            if isinstance(event, Future):
                event.result()  # a bug in a worker surfaces here, not as a silent hang
                pending -= 1
            else:
                yield event
    finally:
        stop.set()
        pool.shutdown(wait=True, cancel_futures=True)


class _Giveup(Exception):
    """This job cannot succeed by trying again."""


class _Again(Exception):
    """This attempt failed in a way another attempt may not (start over if restart)."""

    def __init__(self, reason: str, restart: bool = False) -> None:
        super().__init__(reason)
        self.restart = restart


class RedirectRefused(FoCastError):
    """A server redirected to a URL fo-cast does not follow (not http(s), or not valid)."""


def redacted(url: str) -> str:
    """Returns url with what stands before an @ in its host part shown as `...`: a user name
    and password, which no message may echo. Plain string work: it never fails."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    end = min((i for i in map(rest.find, "/?#") if i >= 0), default=len(rest))
    if "@" not in rest[:end]:
        return url
    return f"{scheme}://...@{rest[:end].rsplit('@', 1)[1]}{rest[end:]}"


def refused_url(url: str, redirect: bool = False) -> str | None:
    """Returns why fo-cast does not fetch url (or, with redirect, follow a redirect to it),
    as words to print after the URL; None for an http(s) URL it fetches.

    The one rule for every request fo-cast makes: feeds, their pages, media and probes."""
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - a port that is no number raises only when read
    except ValueError as exc:
        return f"not a valid URL ({exc})"
    scheme = parts.scheme.lower()
    if scheme not in FETCHED_SCHEMES:
        what = "follows redirects to" if redirect else "fetches"
        other = f"{scheme}: URLs" if scheme else "URLs without http:// or https://"
        return f"fo-cast {what} http(s) URLs only, not {other}"
    if "@" in parts.netloc:  # urllib would take user:password@ for part of the host name
        return "a URL with credentials (user:password@) is not accepted; give one without them"
    if not parts.hostname:
        return "not a valid URL (it names no host)"
    return None


class _Redirects(urllib.request.HTTPRedirectHandler):
    max_redirections = MAX_REDIRECTS

    def http_error_302(
        self, req: urllib.request.Request, fp: IO[bytes], code: int, msg: str,
        headers: http.client.HTTPMessage,
    ) -> Any:  # fmt: skip
        # Checked before urllib's own check, which follows ftp: and answers a file: or data:
        # URL with an HTTPError 302 that reads like one redirect too many.
        location = headers.get("Location") or headers.get("URI")
        if location:
            try:
                target = urljoin(req.full_url, location.strip())
            except ValueError:
                target = location.strip()
            reason = refused_url(target, redirect=True)
            if reason is not None:
                raise RedirectRefused(f"redirected to {_shown(target)!r}: {reason}")
        return super().http_error_302(req, fp, code, msg, headers)

    http_error_301 = http_error_303 = http_error_307 = http_error_308 = http_error_302


def _shown(url: str, most: int = 100) -> str:
    """Returns url as a message shows it: without credentials, cut short (a data: URL)."""
    url = redacted(url)
    return url if len(url) <= most else url[: most - 3] + "..."


def opener(max_redirects: int = MAX_REDIRECTS) -> urllib.request.OpenerDirector:
    """Returns a urllib opener that follows at most max_redirects redirects, to http(s) URLs
    only; a redirect anywhere else raises RedirectRefused."""

    class Bounded(_Redirects):
        max_redirections = max_redirects

    return urllib.request.build_opener(Bounded)


def describe_http_error(exc: urllib.error.HTTPError) -> str:
    """Returns 'HTTP 404 Not Found' (or the loop message of too many redirects)."""
    if exc.code in (301, 302, 303, 307, 308) and not exc.headers.get("Location"):
        return f"HTTP {exc.code} {exc.reason} without saying where to go (no Location)".strip()
    if exc.code in (301, 302, 303, 307, 308):
        return f"more than {MAX_REDIRECTS} redirects (HTTP {exc.code})"
    return f"HTTP {exc.code} {exc.reason}".rstrip()


def describe_network_error(exc: BaseException) -> str:
    """Returns one line for a connection problem: refused, timed out, dropped, unknown host."""
    if isinstance(exc, urllib.error.URLError) and not isinstance(exc, urllib.error.HTTPError):
        exc = exc.reason if isinstance(exc.reason, BaseException) else exc
    if isinstance(exc, TimeoutError | socket.timeout):
        return "timed out"
    if isinstance(exc, http.client.IncompleteRead):
        return "the connection dropped mid-file"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, socket.gaierror):
        return "unknown host"
    if isinstance(exc, ConnectionError | http.client.HTTPException):
        return "the connection dropped"
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


class _Fetcher:
    """Downloads one job at a time on a worker thread, reporting through emit()."""

    def __init__(
        self,
        timeout: float,
        deadline: float | None,
        retries: int,
        backoff: float,
        stop: threading.Event,
        emit: Callable[[DownloadEvent], None],
    ) -> None:
        self.timeout, self.deadline = timeout, deadline
        self.retries, self.backoff = retries, backoff
        self.stop, self.emit = stop, emit
        self.opener = opener()

    def run(self, job: DownloadJob) -> None:
        try:
            self.emit(self._download(job))
        except (_Giveup, RedirectRefused) as exc:  # a redirect elsewhere: the same next time
            self.emit(Failed(job, str(exc)))
        except OSError as exc:  # the disk: full, read-only, no permission
            self.emit(Failed(job, f"cannot write {job.target.name}: {exc.strerror or exc}"))

    def _download(self, job: DownloadJob) -> Finished:
        refused = refused_url(job.url)
        if refused is not None:
            raise _Giveup(refused)
        if job.target.exists():
            size = job.target.stat().st_size
            if job.length is None or size == job.length:
                return Finished(job, size, skipped=True)
            raise _Giveup(
                f"{job.target.name} is already there with {size} bytes, not {job.length}; "
                "remove it to download it again"
            )
        job.target.parent.mkdir(parents=True, exist_ok=True)
        part = part_file(job.target)
        ends = None if self.deadline is None else time.monotonic() + self.deadline
        attempt = 0
        while True:
            attempt += 1
            try:
                size = self._attempt(job, part, ends)
            except _Again as exc:
                if exc.restart:
                    _forget(job.target)
                if attempt > self.retries:
                    raise _Giveup(f"{exc} ({attempt} tries){self._kept(part)}") from None
                self.emit(Retrying(job, attempt, str(exc)))
                pause = self.backoff * 2 ** (attempt - 1)
                if ends is not None and time.monotonic() + pause > ends:
                    raise _Giveup(f"{exc}; no time left to try again{self._kept(part)}") from None
                if self.stop.wait(pause):
                    raise _Giveup("stopped") from None
                continue
            part.replace(job.target)
            validator_file(job.target).unlink(missing_ok=True)
            return Finished(job, size)

    @staticmethod
    def _kept(part: Path) -> str:
        if part.exists():
            return f"; {part.stat().st_size} bytes kept in {part.name} for the next run"
        return ""

    def _attempt(self, job: DownloadJob, part: Path, ends: float | None) -> int:
        """Returns the size of the complete part file after one request; raises _Again."""
        offset = part.stat().st_size if part.exists() else 0
        if job.length is not None and offset > job.length:
            _forget(job.target)  # longer than the file can be: not a prefix of it
            offset = 0
        request = urllib.request.Request(
            job.url, headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
        )
        if offset:
            request.add_header("Range", f"bytes={offset}-")
            validator = _if_range(job)
            if validator is not None:  # the server sends the whole file if it changed
                request.add_header("If-Range", validator)
        try:
            response = self.opener.open(request, timeout=self._timeout(ends))
        except urllib.error.HTTPError as exc:
            with exc:
                return self._refused(job, part, offset, exc)
        except (OSError, http.client.HTTPException) as exc:
            raise _Again(describe_network_error(exc)) from None
        with response:
            offset, total = self._start(job, response, offset)
            if offset == 0:
                _keep_validator(job, response)
            self.emit(Started(job, offset, total))
            done = self._receive(job, response, part, offset, total, ends)
        expected = job.length if job.length is not None else total
        if expected is not None and done != expected:
            if done > expected:
                _forget(job.target)
                raise _Giveup(f"got {done} bytes, expected {expected}; the part file was removed")
            raise _Again(f"the server sent {done} of {expected} bytes")
        return done

    def _timeout(self, ends: float | None) -> float:
        if ends is None:
            return self.timeout
        left = ends - time.monotonic()
        if left <= 0:
            raise _Giveup(f"gave up after {self.deadline:g} s (the deadline per file)")
        return min(self.timeout, left)

    def _refused(
        self, job: DownloadJob, part: Path, offset: int, exc: urllib.error.HTTPError
    ) -> int:
        """Returns the size when a 416 says the part file is already complete; raises else."""
        if exc.code == 416 and offset:
            match = _RANGE_UNSATISFIED.match(exc.headers.get("Content-Range", ""))
            total = int(match.group(1)) if match else None
            if total == offset and job.length in (None, offset):
                return offset
            raise _Again("the part file does not match the file on the server", restart=True)
        reason = describe_http_error(exc)
        if (exc.code >= 500 and exc.code != 501) or exc.code in (408, 429):
            raise _Again(reason)
        raise _Giveup(reason)

    def _start(self, job: DownloadJob, response: Any, offset: int) -> tuple[int, int | None]:
        """Returns where the body starts and the whole file's length (None if unknown)."""
        length = response.headers.get("Content-Length")
        body = int(length) if length and length.isdigit() else None
        if response.status == 206:
            match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
            if match is None or int(match.group(1)) != offset:
                raise _Again("the server answered another range than asked", restart=True)
            total = None if match.group(3) == "*" else int(match.group(3))
        else:  # 200: the whole file, whatever was asked
            offset, total = 0, body
        if total is not None and job.length is not None and total != job.length:
            raise _Giveup(f"the server has {total} bytes but the feed says {job.length}")
        return offset, total

    def _receive(
        self,
        job: DownloadJob,
        response: Any,
        part: Path,
        offset: int,
        total: int | None,
        ends: float | None,
    ) -> int:
        """Returns the part file's size once the body ends; raises _Again if it breaks off."""
        done = offset
        limit = job.length if job.length is not None else total
        window, window_done = time.monotonic(), done  # the stall guard's last minute
        with part.open("ab" if offset else "wb") as out:
            while True:
                if self.stop.is_set():
                    raise _Giveup("stopped")
                now = time.monotonic()
                if ends is not None and now > ends:
                    raise _Giveup(
                        f"gave up after {self.deadline:g} s (the deadline per file); "
                        f"{done} bytes kept in {part.name} for the next run"
                    )
                if now - window > STALL_SECONDS:
                    if done - window_done < STALL_RATE * STALL_SECONDS:
                        out.flush()
                        raise _Giveup(
                            f"under {STALL_RATE // 1000} KB/s for {STALL_SECONDS:g} s (a "
                            f"stalled server); {done} bytes kept in {part.name} for the next run"
                        )
                    window, window_done = now, done
                try:
                    chunk = response.read1(CHUNK)
                except (OSError, http.client.HTTPException) as exc:
                    out.flush()
                    raise _Again(describe_network_error(exc)) from None
                if not chunk:
                    return done
                out.write(chunk)
                done += len(chunk)
                if limit is not None and done > limit:  # an endless body: stop at one past
                    return done
                self.emit(Progress(job, len(chunk), done, total))
