"""media/download.py against a real HTTP server on 127.0.0.1: ranges, drops, lies, errors."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pytest
from httpserver import Host, Resource

from fo_cast.media.download import (
    MAX_REDIRECTS,
    DownloadEvent,
    DownloadJob,
    Failed,
    Finished,
    Progress,
    Retrying,
    Started,
    download_all,
    part_file,
    validator_file,
)

DATA = b"".join(hashlib.sha256(str(i).encode()).digest() for i in range(20_000))  # 640,000 B


def run(jobs: list[DownloadJob], **options: float) -> list[DownloadEvent]:
    options.setdefault("backoff", 0.01)
    return list(download_all(jobs, **options))  # type: ignore[arg-type]


def last(events: list[DownloadEvent], job: DownloadJob) -> DownloadEvent:
    return [e for e in events if e.job == job][-1]


def test_downloads_in_parallel_and_renames_into_place(http_host: Host, tmp_path: Path) -> None:
    jobs = [
        DownloadJob(http_host.add(f"/{n}.mp3", Resource(DATA[: 1000 * n])), tmp_path / f"{n}.mp3")
        for n in range(1, 7)
    ]
    events = run(jobs, workers=3)
    for n, job in enumerate(jobs, start=1):
        assert last(events, job) == Finished(job, 1000 * n)
        assert job.target.read_bytes() == DATA[: 1000 * n]
        assert not part_file(job.target).exists()
        started = [e for e in events if isinstance(e, Started) and e.job == job]
        assert started == [Started(job, 0, 1000 * n)]
        assert sum(e.bytes for e in events if isinstance(e, Progress) and e.job == job) == 1000 * n
    assert http_host.sent == sum(1000 * n for n in range(1, 7))
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{n}.mp3" for n in range(1, 7)]


def test_a_dropped_connection_is_resumed_with_identical_bytes(
    http_host: Host, tmp_path: Path
) -> None:
    url = http_host.add("/ep.mp3", Resource(DATA, drop_after=200_000, etag='"v1"'))
    job = DownloadJob(url, tmp_path / "ep.mp3", length=len(DATA))
    events = run([job])
    assert last(events, job) == Finished(job, len(DATA))
    assert job.target.read_bytes() == DATA
    assert http_host.if_ranges == [None, '"v1"']  # the resume names the version it continues
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ep.mp3"]
    retrying = [e for e in events if isinstance(e, Retrying)]
    assert retrying == [Retrying(job, 1, f"the server sent 200000 of {len(DATA)} bytes")]
    assert [r[2] for r in http_host.requests] == [None, "bytes=200000-"]
    assert [e for e in events if isinstance(e, Started)][1] == Started(job, 200_000, len(DATA))
    assert http_host.sent == len(DATA)  # nothing sent twice


def test_a_killed_download_resumes_without_sending_the_prefix_again(
    http_host: Host, tmp_path: Path
) -> None:
    url = http_host.add("/ep.mp3", Resource(DATA))
    target = tmp_path / "shows" / "ep.mp3"
    target.parent.mkdir()
    part_file(target).write_bytes(DATA[:300_001])  # what a killed run left behind
    job = DownloadJob(url, target, length=len(DATA))
    events = run([job])
    assert last(events, job) == Finished(job, len(DATA))
    assert target.read_bytes() == DATA
    assert http_host.requests == [("GET", "/ep.mp3", "bytes=300001-")]
    assert http_host.sent == len(DATA) - 300_001


def test_a_part_of_a_file_since_replaced_starts_over(http_host: Host, tmp_path: Path) -> None:
    new = DATA[::-1]
    url = http_host.add("/ep.mp3", Resource(new, etag='"v2"'))
    target = tmp_path / "ep.mp3"
    part_file(target).write_bytes(DATA[:300_001])  # of the old version, "v1"
    validator_file(target).write_text(f'{{"url": "{url}", "etag": "\\"v1\\""}}')
    job = DownloadJob(url, target, length=len(new))
    assert last(run([job]), job) == Finished(job, len(new))
    assert target.read_bytes() == new
    assert http_host.requests == [("GET", "/ep.mp3", "bytes=300001-")]
    assert http_host.if_ranges == ['"v1"']
    assert http_host.sent == len(new)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ep.mp3"]


def test_a_server_without_ranges_starts_over(http_host: Host, tmp_path: Path) -> None:
    url = http_host.add("/ep.mp3", Resource(DATA, ranges=False))
    target = tmp_path / "ep.mp3"
    part_file(target).write_bytes(b"x" * 1000)  # 200 to a Range request: the part is dropped
    job = DownloadJob(url, target)
    assert last(run([job]), job) == Finished(job, len(DATA))
    assert target.read_bytes() == DATA
    assert http_host.sent == len(DATA)


def test_a_complete_part_file_needs_no_body(http_host: Host, tmp_path: Path) -> None:
    url = http_host.add("/ep.mp3", Resource(DATA))
    target = tmp_path / "ep.mp3"
    part_file(target).write_bytes(DATA)
    job = DownloadJob(url, target, length=len(DATA))
    assert last(run([job]), job) == Finished(job, len(DATA))
    assert http_host.sent == 0 and target.read_bytes() == DATA


def test_a_server_that_lies_about_the_length_fails(http_host: Host, tmp_path: Path) -> None:
    url = http_host.add("/ep.mp3", Resource(DATA[:5000], extra_length=100))
    job = DownloadJob(url, tmp_path / "ep.mp3")
    events = run([job], retries=2)
    assert last(events, job) == Failed(
        job,
        "the server sent 5000 of 5100 bytes (3 tries); "
        "5000 bytes kept in .ep.mp3.part for the next run",
    )
    assert not job.target.exists()
    assert [r[2] for r in http_host.requests] == [None, "bytes=5000-", "bytes=5000-"]


def test_a_length_other_than_the_feeds_fails_before_downloading(
    http_host: Host, tmp_path: Path
) -> None:
    url = http_host.add("/ep.mp3", Resource(DATA[:5000]))
    job = DownloadJob(url, tmp_path / "ep.mp3", length=6000)
    events = run([job])
    assert events == [Failed(job, "the server has 5000 bytes but the feed says 6000")]
    assert not any(tmp_path.iterdir())  # nothing written, no part file


def test_a_longer_body_than_the_feed_says_is_not_kept(http_host: Host, tmp_path: Path) -> None:
    # a part file longer than the feed's length cannot be a prefix of the file: start over
    url = http_host.add("/ep.mp3", Resource(DATA[:5000]))
    target = tmp_path / "ep.mp3"
    part_file(target).write_bytes(b"y" * 7000)
    job = DownloadJob(url, target, length=5000)
    assert last(run([job]), job) == Finished(job, 5000)
    assert target.read_bytes() == DATA[:5000]
    assert http_host.requests == [("GET", "/ep.mp3", None)]


def test_not_found_fails_at_once_and_500_after_retries(http_host: Host, tmp_path: Path) -> None:
    broken = http_host.add("/broken.mp3", Resource(status=500))
    missing = DownloadJob(http_host.url("/missing.mp3"), tmp_path / "missing.mp3")
    failing = DownloadJob(broken, tmp_path / "broken.mp3")
    events = run([missing, failing], retries=2)
    assert last(events, missing) == Failed(missing, "HTTP 404 Not Found")
    assert last(events, failing) == Failed(failing, "HTTP 500 Internal Server Error (3 tries)")
    assert [e.attempt for e in events if isinstance(e, Retrying)] == [1, 2]
    assert [r[1] for r in http_host.requests].count("/missing.mp3") == 1
    assert [r[1] for r in http_host.requests].count("/broken.mp3") == 3
    assert not any(tmp_path.iterdir())


def test_redirects_are_followed_with_a_bound(http_host: Host, tmp_path: Path) -> None:
    http_host.add("/real.mp3", Resource(DATA[:4000]))
    moved = http_host.add("/old.mp3", Resource(location="/real.mp3", status=301))
    job = DownloadJob(moved, tmp_path / "ep.mp3", length=4000)
    for n in range(MAX_REDIRECTS + 1):  # /r0 -> /r1 -> ... -> /r5 -> /r6 ...: one too many
        http_host.add(f"/r{n}", Resource(location=f"/r{n + 1}"))
    http_host.add(f"/r{MAX_REDIRECTS + 1}", Resource(DATA[:10]))
    loop = DownloadJob(http_host.url("/r0"), tmp_path / "loop.mp3")
    elsewhere = {
        scheme: DownloadJob(http_host.add(f"/{scheme}.mp3", Resource(location=where)),
                            tmp_path / f"{scheme}.mp3")
        for scheme, where in (("ftp", "ftp://example.org/x.mp3"), ("file", "file:///etc/passwd"),
                              ("data", "data:audio/mpeg;base64,AAAA"))
    }  # fmt: skip
    events = run([job, loop, *elsewhere.values()])
    assert last(events, job) == Finished(job, 4000)
    assert job.target.read_bytes() == DATA[:4000]
    assert last(events, loop) == Failed(loop, f"more than {MAX_REDIRECTS} redirects (HTTP 302)")
    for scheme, refused in elsewhere.items():  # file: and data: are not "too many redirects"
        where = http_host.resources[f"/{scheme}.mp3"].location
        assert last(events, refused) == Failed(
            refused,
            f"redirected to {where!r}: fo-cast follows redirects to http(s) URLs only, "
            f"not {scheme}: URLs",
        )
    assert not any(p.name.startswith((".ftp", ".file", ".data")) for p in tmp_path.iterdir())


def test_a_url_that_is_not_valid_or_has_credentials_fails_at_once(
    http_host: Host, tmp_path: Path
) -> None:
    host = http_host.base.removeprefix("http://")
    bad = DownloadJob("http://[::1/ep.mp3", tmp_path / "bad.mp3")
    secret = DownloadJob(f"http://user:pw@{host}/ep.mp3", tmp_path / "secret.mp3")
    events = run([bad, secret])
    assert len(events) == 2
    assert last(events, bad) == Failed(bad, "not a valid URL (Invalid IPv6 URL)")
    assert last(events, secret) == Failed(
        secret, "a URL with credentials (user:password@) is not accepted; give one without them"
    )
    assert http_host.requests == []


def test_an_existing_target_is_not_fetched_again(http_host: Host, tmp_path: Path) -> None:
    url = http_host.add("/ep.mp3", Resource(DATA[:100]))
    done = tmp_path / "done.mp3"
    done.write_bytes(DATA[:100])
    other = tmp_path / "other.mp3"
    other.write_bytes(b"mine")
    same, differs = DownloadJob(url, done, length=100), DownloadJob(url, other, length=100)
    events = run([same, differs])
    assert last(events, same) == Finished(same, 100, skipped=True)
    assert last(events, differs) == Failed(
        differs, "other.mp3 is already there with 4 bytes, not 100; remove it to download it again"
    )
    assert http_host.requests == [] and other.read_bytes() == b"mine"


def test_a_refused_connection_is_retried_then_fails(tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    job = DownloadJob(f"http://127.0.0.1:{port}/ep.mp3", tmp_path / "ep.mp3")
    events = run([job], retries=1)
    assert events == [
        Retrying(job, 1, "connection refused"),
        Failed(job, "connection refused (2 tries)"),
    ]


def test_the_deadline_per_file_gives_up_and_keeps_the_part(http_host: Host, tmp_path: Path) -> None:
    url = http_host.add("/ep.mp3", Resource(DATA, drop_after=1000, drops=100))
    job = DownloadJob(url, tmp_path / "ep.mp3", length=len(DATA))
    # tries at 0 s and 0.5 s; waiting 1 s more would pass the deadline
    events = run([job], deadline=1.0, retries=50, backoff=0.5)
    assert last(events, job) == Failed(
        job,
        f"the server sent 2000 of {len(DATA)} bytes; no time left to try again; "
        "2000 bytes kept in .ep.mp3.part for the next run",
    )
    assert part_file(job.target).read_bytes() == DATA[:2000]


def test_two_jobs_for_one_target_do_not_share_the_part_file(
    http_host: Host, tmp_path: Path
) -> None:
    first = DownloadJob(http_host.add("/a.mp3", Resource(DATA[:10])), tmp_path / "ep.mp3")
    second = DownloadJob(http_host.add("/b.mp3", Resource(DATA[10:30])), tmp_path / "ep.mp3")
    events = run([first, second])
    assert last(events, second) == Failed(second, "another job already downloads to ep.mp3")
    assert last(events, first) == Finished(first, 10)
    assert (tmp_path / "ep.mp3").read_bytes() == DATA[:10]


def test_closing_the_events_stops_the_downloads(http_host: Host, tmp_path: Path) -> None:
    big = DATA * 20  # 12.8 MB: still running when the consumer stops listening
    jobs = [
        DownloadJob(http_host.add(f"/{n}.mp4", Resource(big)), tmp_path / f"{n}.mp4")
        for n in range(3)
    ]
    events = download_all(jobs, workers=3)
    assert isinstance(next(e for e in events if isinstance(e, Progress)), Progress)
    events.close()  # joins the workers: nothing runs after this returns
    sizes = {p.name: p.stat().st_size for p in tmp_path.iterdir()}
    assert not any(job.target.exists() for job in jobs)
    assert all(size < len(big) for name, size in sizes.items() if name.endswith(".part"))
    assert sizes == {p.name: p.stat().st_size for p in tmp_path.iterdir()}  # nothing moves


def test_an_endless_body_is_cut_one_byte_past_the_feeds_length(
    http_host: Host, tmp_path: Path
) -> None:
    """Was: a server sending no Content-Length and no end filled the disk (2 GB seen)."""
    url = http_host.add("/ep.mp3", Resource(DATA[:5000], endless=True, ranges=False))
    job = DownloadJob(url, tmp_path / "ep.mp3", length=5000)
    events = run([job])
    failed = last(events, job)
    assert isinstance(failed, Failed) and failed.reason.endswith(
        "expected 5000; the part file was removed"
    )
    got = int(failed.reason.split()[1])  # "got N bytes, expected 5000; ..."
    assert 5000 < got <= 5000 + 64 * 1024  # one read past the length, not on and on
    assert not part_file(job.target).exists() and not job.target.exists()


def test_a_trickling_server_is_given_up_on(
    http_host: Host, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Was: a byte every 5 s (under the read timeout) held an import for ever."""
    from fo_cast.media import download

    monkeypatch.setattr(download, "STALL_SECONDS", 1.0)
    url = http_host.add("/ep.mp3", Resource(DATA[:5000], trickle=0.2))
    job = DownloadJob(url, tmp_path / "ep.mp3", length=5000)
    started = time.monotonic()
    events = run([job])
    assert time.monotonic() - started < 10
    failed = last(events, job)
    assert isinstance(failed, Failed) and "(a stalled server)" in failed.reason
    assert part_file(job.target).read_bytes() == DATA[: len(part_file(job.target).read_bytes())]
