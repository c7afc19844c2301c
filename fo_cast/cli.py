"""The command line: the only module that prints or exits."""

from __future__ import annotations

import enum
import json
import signal
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

import fo_cast
from fo_cast import gcpause
from fo_cast.catalogue.status import Status
from fo_cast.errors import FoCastError, UsageError
from fo_cast.units import format_clock, format_size, plural  # pure formatters: no libraries

# Only what every command needs is imported here; each command imports its own stages, so
# `fo-cast --help` and a `validate` with nothing changed load neither pydantic nor jinja2.
if TYPE_CHECKING:
    from fo_cast.problems import Report
    from fo_cast.publish.plan import Plan
    from fo_cast.publish.run import Summary
    from fo_cast.publish.session import Session
    from fo_cast.storage import Storage


class ExitCode(enum.IntEnum):
    OK = 0
    PROBLEMS = 1  # the catalogue has errors (or warnings under --strict)
    USAGE = 2  # Typer's own code for bad options
    PUBLISH_FAILED = 3  # an upload failed, or the guard refused the plan
    ERROR = 4  # the environment: unreadable target, missing credentials, full disk
    LOCKED = 5  # another publish holds the target (or took it over from this one)
    BUG = 70  # an error fo-cast did not foresee (sysexits' EX_SOFTWARE): a bug to report


class Format(enum.StrEnum):
    TEXT = "text"
    JSON = "json"


app = typer.Typer(
    help="Validate, build and publish Fair Observer's podcast catalogue.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # never show credentials in a traceback
    add_completion=False,
)
new_app = typer.Typer(help="Scaffold a new show or episode.", no_args_is_help=True)
app.add_typer(new_app, name="new")


def _folder(what: str, example: str) -> Callable[[str | Path], Path]:
    """Returns the parser of a folder argument or option, which refuses "" (exit 2): an
    unset variable in a script, which Path("") would read as the current folder."""

    def parse(value: str | Path) -> Path:
        if not str(value).strip():
            _fail(f"{what} is empty; name a folder, such as {example}", ExitCode.USAGE)
        return Path(value)

    return parse


CatalogueArg = Annotated[
    Path,
    typer.Argument(
        help="The catalogue folder (holds fo-cast.toml and the shows).",
        parser=_folder("the catalogue folder", "episodes"),
    ),
]
CatalogueOption = Annotated[
    Path,
    typer.Option(help="The catalogue folder.", parser=_folder("--catalogue", "episodes")),
]
_state = {"traceback": False, "interrupted": False}


@app.callback()
def _options(
    traceback: Annotated[bool, typer.Option(help="Show the stack on unexpected errors.")] = False,
) -> None:
    _state["traceback"] = traceback


def _fail(message: str, code: ExitCode) -> NoReturn:
    from fo_cast.problems import one_line

    typer.echo(f"fo-cast: {one_line(message)}", err=True)
    raise typer.Exit(code)


def _print_report(report: Report, fmt: Format, strict: bool) -> None:
    if fmt is Format.JSON:
        payload = {
            "problems": [p.as_dict() for p in report.sorted()],
            "errors": len(report.errors),
            "warnings": len(report.warnings),
            "ok": not report.failed(strict=strict),
        }
        typer.echo(json.dumps(payload, indent=2, ensure_ascii=False))
        return
    for problem in report:
        typer.echo(str(problem), err=True)
    typer.echo(report.summary(), err=True)


@app.command()
def validate(
    catalogue: CatalogueArg = Path("episodes"),
    strict: Annotated[bool, typer.Option(help="Fail on warnings too.")] = False,
    fmt: Annotated[Format, typer.Option("--format", help="text or json.")] = Format.TEXT,
) -> None:
    """Check manifests, companions, artwork and media; write only fo-cast's caches.

    Nothing of the catalogue changes: validate writes only its caches (parsed manifests,
    probed media) into CATALOGUE/.fo-cast/, so the next run opens nothing that is unchanged.

    Example: fo-cast validate episodes --strict
    """
    report = fo_cast.validate(catalogue)
    _print_report(report, fmt, strict)
    if report.failed(strict=strict):
        raise typer.Exit(ExitCode.PROBLEMS)


@app.command("list")
def list_episodes(
    catalogue: CatalogueArg = Path("episodes"),
    show: Annotated[str | None, typer.Option(help="Only this show (its slug).")] = None,
    status: Annotated[Status | None, typer.Option(help="Only episodes with this status.")] = None,
    fmt: Annotated[Format, typer.Option("--format", help="text or json.")] = Format.TEXT,
) -> None:
    """List episodes: show, date, title, status, duration, media.

    Example: fo-cast list episodes --show talks --status draft
    """
    from fo_cast.catalogue.listing import episode_rows

    checked = fo_cast.check(catalogue)
    if not catalogue.is_dir():  # nothing to list: not an empty table and exit 0
        _print_report(checked.report, Format.TEXT, strict=False)
        raise typer.Exit(ExitCode.PROBLEMS)
    try:
        rows = episode_rows(checked.catalogue, checked.probed, show, status)
    except UsageError as exc:
        _fail(str(exc), ExitCode.USAGE)
    if fmt is Format.JSON:
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table("show", "date", "title", "status", "duration", "media")
        for r in rows:
            clock = format_clock(r["duration"]) if r["duration"] else "-"
            media = ", ".join(map(str, r["media"]))
            table.add_row(r["show"], r["date"] or "-", r["title"], r["status"], clock, media)
        Console().print(table)
    if checked.report.errors:
        typer.echo(f"{checked.report.summary()} Run `fo-cast validate` for details.", err=True)


class ProbeFormat(enum.StrEnum):
    TEXT = "text"
    JSON = "json"
    YAML = "yaml"


@app.command()
def probe(
    targets: Annotated[list[str], typer.Argument(help="Media files or http(s) URLs.")],
    fmt: Annotated[
        ProbeFormat, typer.Option("--format", help="text, json, or yaml: media entries to paste.")
    ] = ProbeFormat.TEXT,
) -> None:
    """Print what fo-cast reads from media files or URLs (duration, size, type, codec; the
    chapters inside a file).

    A URL is read over HTTP: a HEAD, then byte ranges (the start, the moov box of an MP4).
    --format yaml prints `media:` entries for episode.yaml, with a URL's length, type and
    duration filled in: fo-cast probe https://cdn.example.com/ep-12.mp3 --format yaml

    Example: fo-cast probe episodes/talks/*/audio.mp3
    """
    from fo_cast.catalogue import scaffold
    from fo_cast.media.remote import probe_all

    rows = probe_all(targets)
    if fmt is ProbeFormat.JSON:
        typer.echo(json.dumps(rows, indent=2))
    elif fmt is ProbeFormat.YAML:
        typer.echo(scaffold.media_entries(rows), nl=False)
    for row in rows:
        name = row.get("url") or row["file"]
        if "error" in row:
            typer.echo(f"{name}: {row['error']}", err=True)
        elif fmt is ProbeFormat.TEXT:
            shown = ("file", "url", "chapters")
            facts = ", ".join(f"{k}={v}" for k, v in row.items() if k not in shown and v)
            typer.echo(f"{name}: {facts}")
            for mark in row.get("chapters", []):
                typer.echo(f"  chapter {format_clock(mark['start'])} {mark['title']}")
    if any("error" in row for row in rows):
        raise typer.Exit(ExitCode.PROBLEMS)


@app.command()
def tag(
    catalogue: CatalogueArg = Path("episodes"),
    dry_run: Annotated[bool, typer.Option(help="List what would change; write nothing.")] = False,
) -> None:
    """Write title, show, date, summary, GUID, feed URL, cover and chapters into the media.

    Every local MP3 (ID3 v2.3) and MP4/M4A (iTunes atoms) of a scheduled or published
    episode; files whose tags already agree are not touched.

    Example: fo-cast tag episodes --dry-run
    """
    from fo_cast.build import tag_media
    from fo_cast.tagging import Outcome

    run = tag_media(catalogue, dry_run=dry_run)
    if run.report.errors:
        _stop_on_problems(run.report, False, "Nothing was tagged.")
    for result in run.results:
        if result.outcome is not Outcome.UNCHANGED:
            typer.echo(str(result))
    done = Outcome.WOULD_TAG if dry_run else Outcome.TAGGED
    typer.echo(
        f"{plural(run.count(done), 'file')} {done}, {run.count(Outcome.UNCHANGED)} unchanged, "
        f"{run.count(Outcome.SKIPPED)} skipped."
    )
    if run.chapters_left_out:
        typer.echo(
            f"note: chapters not written into {plural(run.chapters_left_out, 'MP4 file')}: "
            "mutagen cannot, and ffmpeg is not installed (apt-get install ffmpeg)",
            err=True,
        )


@app.command()
def schema(catalogue: CatalogueArg = Path("episodes")) -> None:
    """Write JSON Schemas for show.yaml and episode.yaml into CATALOGUE/.schema/.

    Example: fo-cast schema episodes
    """
    from fo_cast.catalogue import scaffold

    for path in scaffold.write_schemas(catalogue):
        typer.echo(f"wrote {path}")


def _now(value: datetime | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    if value.tzinfo is None:
        _fail("--now needs a timezone, such as 2024-12-31T00:00:00+00:00", ExitCode.USAGE)
    return value


NowOption = Annotated[
    datetime | None,
    typer.Option(help="The clock for deciding what is published (ISO 8601 with timezone)."),
]


def _base_url(value: str | None) -> str | None:
    """Returns --base-url unchanged; every feed URL is it plus a path, so it must be plain."""
    if value is None:
        return None
    from fo_cast.rules import check_base_url

    try:
        return check_base_url(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


BaseUrlOption = Annotated[
    str | None,
    typer.Option(help="Public URL of the output tree; overrides fo-cast.toml.", callback=_base_url),
]


def _check_out(catalogue: Path, out: Path) -> None:
    """Exits 2 unless out is a folder `build` may replace (see build.refuse_output)."""
    from fo_cast.tree import refuse_output

    refusal = refuse_output(catalogue, out)
    if refusal:
        _fail(f"--out {out} {refusal}", ExitCode.USAGE)


@app.command()
def build(
    catalogue: CatalogueArg = Path("episodes"),
    out: Annotated[
        Path, typer.Option(help="Output folder.", parser=_folder("--out", "feeds"))
    ] = Path("feeds"),
    base_url: BaseUrlOption = None,
    now: NowOption = None,
    strict: Annotated[bool, typer.Option(help="Fail on warnings too.")] = False,
) -> None:
    """Validate, then write feeds, pages and media links into the output folder.

    Example: fo-cast build episodes --out feeds --now 2025-01-01T00:00:00+00:00
    """
    from fo_cast.build import build_tree

    _check_out(catalogue, out)  # the library refuses too, as a last guard
    built = build_tree(catalogue, out, now=_now(now), base_url=base_url, strict=strict)
    _stop_on_problems(built.report, strict, f"Nothing was written to {out}.")
    typer.echo(f"Built {built.files} files ({built.feeds} feeds) into {out}/")


@app.command("serve")
def serve_tree(
    directory: Annotated[
        Path,
        typer.Argument(
            help="The built tree to serve.", parser=_folder("the folder to serve", "feeds")
        ),
    ] = Path("feeds"),
    host: Annotated[
        str, typer.Option(help="Address to listen on; 0.0.0.0 lets phones on the network in.")
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(min=0, max=65535, help="Port to listen on; 0 picks a free one.")
    ] = 8000,
) -> None:
    """Serve a built tree over HTTP (HEAD, byte ranges, ETags) for preview and subscribing.

    Example: fo-cast serve feeds --port 8000
    """
    from fo_cast.serve import serve

    if not host.strip():  # "" would listen on every interface: that must be asked for by name
        _fail("--host needs an address: 127.0.0.1, or 0.0.0.0 for the network", ExitCode.USAGE)
    server = serve(directory, host, port, log=lambda line: typer.echo(line, err=True))
    typer.echo(f"Serving {directory}/ at {server.url} (Ctrl-C stops)")
    try:
        server.serve_forever()
    finally:
        server.server_close()


def _stop_on_problems(report: Report, strict: bool, outcome: str) -> None:
    """Exits 1 after printing the problems when the report failed; else prints its warnings."""
    if report.failed(strict=strict):
        _print_report(report, Format.TEXT, strict)
        typer.echo(outcome, err=True)
        raise typer.Exit(ExitCode.PROBLEMS)
    for problem in report:
        typer.echo(str(problem), err=True)


@app.command()
def publish(
    catalogue: CatalogueArg = Path("episodes"),
    to: Annotated[
        str | None,
        typer.Option(help="Target: s3://bucket/prefix, file:///folder or a folder path."),
    ] = None,
    base_url: BaseUrlOption = None,
    endpoint_url: Annotated[
        str | None, typer.Option(help="S3 endpoint for S3 compatibles (SeaweedFS, MinIO, R2).")
    ] = None,
    dry_run: Annotated[bool, typer.Option(help="Print the plan; change nothing.")] = False,
    prune: Annotated[
        bool, typer.Option(help="Delete what fo-cast published that the build no longer has.")
    ] = False,
    adopt: Annotated[
        bool,
        typer.Option(help="Publish into a target holding files fo-cast did not write (kept)."),
    ] = False,
    max_deletes: Annotated[
        int | None, typer.Option(help="Refuse to prune more than this many objects.")
    ] = None,
    force: Annotated[bool, typer.Option(help="Upload everything, changed or not.")] = False,
    allow_removal: Annotated[
        list[str] | None,
        typer.Option(help="GUID of a published episode that may leave its feed (repeatable)."),
    ] = None,
    now: NowOption = None,
    strict: Annotated[bool, typer.Option(help="Fail on warnings too.")] = False,
    fmt: Annotated[Format, typer.Option("--format", help="text or json.")] = Format.TEXT,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Print the plan before carrying it out.")
    ] = False,
    timeout: Annotated[
        float | None,
        typer.Option(min=1, help="S3: seconds to wait for an answer before retrying [15]."),
    ] = None,
    tries: Annotated[
        int | None,
        typer.Option(min=1, max=20, help="S3: tries per request, retries included [4]."),
    ] = None,
    wait: Annotated[
        float, typer.Option(min=0, help="Seconds to wait for another publish's lock.")
    ] = 0,
    break_lock: Annotated[
        bool, typer.Option(help="Take over the target's lock if its lease has expired.")
    ] = False,
    lease: Annotated[float | None, typer.Option(min=1, hidden=True)] = None,
) -> None:
    """Validate, build and sync the tree to a target: media first, feeds last.

    Holds the target's lock while it lists, plans and uploads; pings the directories
    [notify] names once the feeds are out.

    Example: fo-cast publish episodes --to s3://podcasts/fo --dry-run
    """
    from fo_cast.publish.lock import LockHeld
    from fo_cast.publish.session import PublishOptions, prepare_publish

    if to is not None and not to.strip():  # an unset variable in a script: not the default
        _fail("--to is empty; give a target (s3://bucket/prefix or a folder)", ExitCode.USAGE)
    try:
        options = PublishOptions(
            to=to, endpoint_url=endpoint_url, base_url=base_url, max_deletes=max_deletes,
            prune=prune, adopt=adopt, force=force, allow_removal=tuple(allow_removal or ()),
            strict=strict, read_timeout=timeout, max_attempts=tries, now=_now(now),
            lock=not dry_run, wait=wait, break_lock=break_lock, lease=lease,
        )  # fmt: skip
        session = prepare_publish(catalogue, options)
    except UsageError as exc:
        _fail(str(exc), ExitCode.USAGE)
    except LockHeld as exc:
        _fail(str(exc), ExitCode.LOCKED)
    try:
        with session:
            _publish_session(session, strict, dry_run, verbose, fmt)
    finally:
        if session.unreleased:
            typer.echo(f"fo-cast: warning: {session.unreleased}", err=True)


def _publish_session(
    session: Session, strict: bool, dry_run: bool, verbose: bool, fmt: Format
) -> None:
    from fo_cast.publish.lock import LockLost

    _stop_on_problems(session.build.report, strict, "Nothing was published.")
    plan, storage, text = session.plan, session.storage, fmt is Format.TEXT
    assert storage is not None
    if dry_run or plan.refusals or (verbose and text):
        _print_plan(plan, storage, fmt)
        if plan.refusals:
            typer.echo("Nothing was published.", err=True)
            raise typer.Exit(ExitCode.PUBLISH_FAILED)
        if dry_run:
            pings, warnings = session.pings()
            for line in [f"would notify {ping}" for ping in pings] + warnings:
                typer.echo(line, err=not text)
            return
    if session.lock is not None and session.lock.broken is not None:
        typer.echo(f"took over the expired lock of {session.lock.broken.describe()}", err=True)
    if session.lock is not None and text:
        typer.echo(f"locked {storage.describe()} (lease {session.lock.lease:g} s)", err=True)
    try:
        summary = _run_publish(session, storage, quiet=not text)
    except LockLost as exc:
        _fail(str(exc), ExitCode.LOCKED)
    except FoCastError as exc:
        _fail(str(exc), ExitCode.PUBLISH_FAILED)
    session.close()  # the feeds and the record are out: the next publish may start
    notices, warnings = session.notify()
    for line in [str(n) for n in notices] + warnings:
        typer.echo(line, err=True)
    if fmt is Format.JSON:
        payload = {"target": storage.describe(), "plan": plan.as_dict(), **summary.as_dict()}
        payload["notifications"] = [n.as_dict() for n in notices]
        typer.echo(json.dumps(payload, indent=2))
    else:
        typer.echo(f"Published to {storage.describe()}: {summary}")


def _print_plan(plan: Plan, storage: Storage, fmt: Format) -> None:
    if fmt is Format.JSON:
        typer.echo(json.dumps({"target": storage.describe(), "plan": plan.as_dict()}, indent=2))
        return
    from fo_cast.problems import one_line

    typer.echo(f"Plan for {storage.describe()}:")  # describe() never carries credentials
    for text in plan.lines():  # a key of someone else's may hold any character: escaped
        typer.echo(one_line(text), err=text.startswith("refused:"))


def _run_publish(session: Session, storage: Storage, quiet: bool) -> Summary:
    """Returns the summary after applying the session's plan, showing progress as it goes.

    A rich progress bar (bytes, rate, ETA) on a terminal; plain lines otherwise.
    """
    from contextlib import closing

    from fo_cast.problems import one_line
    from fo_cast.publish.run import Deleted, Done, Failed, Sent, StageStarted, Uploaded, publish

    summary: Summary | None = None
    plan = session.plan
    events = publish(
        plan, storage, check=session.check, ahead=session.ahead, stamp=session.pending_stamp
    )
    if quiet or not sys.stderr.isatty():
        with closing(events):
            for event in events:
                if isinstance(event, StageStarted) and not quiet:
                    sent = f"{plural(event.uploads, 'upload')} ({format_size(event.bytes)})"
                    typer.echo(f"{event.stage.name.lower()}: {sent}", err=True)
                elif isinstance(event, Uploaded) and not quiet:
                    typer.echo(one_line(f"uploaded {event.key} ({event.reason})"))
                elif isinstance(event, Deleted) and not quiet:
                    typer.echo(one_line(f"deleted {event.key}"))
                elif isinstance(event, Failed):
                    typer.echo(f"failed {event.key}: {event.message}", err=True)
                elif isinstance(event, Done):
                    summary = event.summary
    else:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )  # fmt: skip

        console = Console(stderr=True)
        columns = (
            TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
            TransferSpeedColumn(), TimeRemainingColumn(),
        )  # fmt: skip
        with Progress(*columns, console=console) as progress, closing(events):
            task = progress.add_task("publishing", total=plan.bytes or 1)
            for event in events:
                if isinstance(event, StageStarted):
                    progress.update(task, description=event.stage.name.lower())
                elif isinstance(event, Sent):
                    progress.advance(task, event.bytes)
                elif isinstance(event, Failed):
                    progress.console.print(f"failed {event.key}: {event.message}")
                elif isinstance(event, Done):
                    summary = event.summary
    assert summary is not None
    return summary


@app.command()
def verify(
    catalogue: CatalogueArg = Path("episodes"),
    base_url: BaseUrlOption = None,
    now: NowOption = None,
    timeout: Annotated[
        float | None, typer.Option(min=0.1, help="Seconds one read may wait for the server [15].")
    ] = None,
    deadline: Annotated[
        float | None, typer.Option(min=0.1, help="Seconds one request may take in all [60].")
    ] = None,
) -> None:
    """Fetch the published feeds over HTTP and check every enclosure and artwork URL.

    The feeds name their files by the base URL they were published with, so give the same
    one (a local preview: publish --base-url http://127.0.0.1:8000/, then fo-cast serve).

    Example: fo-cast verify episodes --base-url http://127.0.0.1:8000/
    """
    from fo_cast.build import build_catalogue
    from fo_cast.publish.verify import verify_catalogue

    checked, result = build_catalogue(catalogue, now=_now(now), base_url=base_url)
    _stop_on_problems(result.report, False, "Nothing was checked.")
    limits = {"timeout": timeout, "deadline": deadline}
    report = verify_catalogue(checked, result, **{k: v for k, v in limits.items() if v})
    for failure in report.failures:
        typer.echo(failure, err=True)
    typer.echo(report.summary(), err=not report.ok)
    if not report.ok:
        raise typer.Exit(ExitCode.PUBLISH_FAILED)


class MediaMode(enum.StrEnum):
    URL = "url"
    DOWNLOAD = "download"


@app.command("import")
def import_show(
    source: Annotated[str, typer.Argument(help="The feed: a file or an http(s) URL.")],
    show: Annotated[str, typer.Option(help="Slug of the show folder to write or add to.")],
    catalogue: CatalogueOption = Path("episodes"),
    media: Annotated[
        MediaMode, typer.Option(help="url: keep media at the source; download: fetch it.")
    ] = MediaMode.URL,
    i_own_this_feed: Annotated[
        bool, typer.Option(help="Import a feed marked podcast:locked yes: it is yours.")
    ] = False,
    merge: Annotated[
        bool,
        typer.Option(help="Add the feed's episodes to an existing show of another title."),
    ] = False,
) -> None:
    """Import a podcast feed as a show, every GUID kept; a second run adds only new items.

    Example: fo-cast import https://feeds.example.com/show.xml --show talks
    """
    from fo_cast.build import import_show
    from fo_cast.catalogue.importer import ImportOptions

    options = ImportOptions(
        media=media.value, i_own_this_feed=i_own_this_feed, merge=merge, on_event=_print_download
    )
    try:
        result = import_show(source, catalogue, show, options)
    except UsageError as exc:
        _fail(str(exc), ExitCode.USAGE)
    except FoCastError as exc:
        _fail(str(exc), ExitCode.PROBLEMS)
    for line in result.summary_lines():
        typer.echo(line, err=True)
    if result.report.problems:
        _print_report(result.report, Format.TEXT, strict=False)
    if result.report.failed():
        raise typer.Exit(ExitCode.PROBLEMS)


def _print_download(event: object) -> None:
    from fo_cast.media.download import redacted  # a URL's user:password@ is never printed

    kind, job = type(event).__name__, getattr(event, "job", None)
    if kind == "Finished" and job is not None:
        typer.echo(f"downloaded {job.target.name} ({redacted(job.url)})", err=True)
    elif kind == "Failed" and job is not None:
        typer.echo(f"failed {redacted(job.url)}: {getattr(event, 'reason', '')}", err=True)


@new_app.command("show")
def new_show(
    slug: Annotated[str, typer.Argument(help="URL name of the show: lowercase, dashes.")],
    title: Annotated[str | None, typer.Option(help="The show's title.")] = None,
    catalogue: CatalogueOption = Path("episodes"),
) -> None:
    """Create a show folder with a show.yaml to fill in.

    Example: fo-cast new show weekly --title "FO° Weekly"
    """
    from fo_cast.catalogue import scaffold

    try:
        path = scaffold.new_show(catalogue, slug, title)
    except FoCastError as exc:
        _fail(str(exc), ExitCode.USAGE)
    typer.echo(f"wrote {path}; replace the placeholder artwork.png (1400-3000 px square)")


@new_app.command("episode")
def new_episode(
    title: Annotated[str, typer.Argument(help="The episode's title.")],
    show: Annotated[str, typer.Option(help="The show's slug.")],
    date: Annotated[
        datetime | None,
        typer.Option(help="Publication time, with timezone, e.g. 2024-07-23T15:00:00+00:00."),
    ] = None,
    catalogue: CatalogueOption = Path("episodes"),
    chapters_from: Annotated[
        Path | None, typer.Option(help="Take the chapters from this media file's tags.")
    ] = None,
) -> None:
    """Create a draft episode: folder named by date and slug, a new GUID, a companion stub.

    Example: fo-cast new episode --show talks --date 2024-12-01T09:00:00+00:00 "A Title"
    """
    from fo_cast.catalogue import scaffold

    if date is not None and date.tzinfo is None:
        _fail("--date needs a timezone, such as 2024-07-23T15:00:00+00:00", ExitCode.USAGE)
    try:
        path = scaffold.new_episode(catalogue, show, title, date, chapters_from)
    except FoCastError as exc:
        _fail(str(exc), ExitCode.USAGE)
    typer.echo(f"wrote {path} and {path.parent / 'companion.md'}")


def main() -> None:
    """Runs the app, turning fo-cast's own errors into one line and an exit code."""
    # Outside the Typer app a typer.Exit is just an exception (it would print a traceback),
    # so this wrapper leaves with sys.exit.
    # A cancelled CI job gets SIGTERM: stop as on Ctrl-C, so the target's lock is released.
    signal.signal(signal.SIGTERM, _interrupted)
    signal.signal(signal.SIGINT, _interrupted)
    gcpause.for_one_command()
    for arg in sys.argv[1:]:
        # Bytes that are not UTF-8 arrive as surrogates, which no URL, feed or file name
        # fo-cast writes can hold: refused here, not as a UnicodeEncodeError deep inside.
        bad = next((c for c in arg if "\udc80" <= c <= "\udcff"), None)
        if bad is not None:
            shown = arg.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
            typer.echo(
                f"fo-cast: the argument '{shown}' is not UTF-8 (byte 0x{ord(bad) - 0xDC00:02x});"
                " give names, paths and URLs in UTF-8",
                err=True,
            )
            sys.exit(ExitCode.USAGE)
    try:
        app()
    except KeyboardInterrupt:
        typer.echo("Interrupted.", err=True)
        sys.exit(130)
    except SystemExit as exit_:  # Typer turns Ctrl-C into a silent exit 130
        if exit_.code == 130 and _state.get("interrupted"):
            typer.echo("Interrupted.", err=True)
        raise
    except (FoCastError, OSError) as exc:
        # OSError: the environment (unwritable folder, full disk, a path that is a file).
        if _state["traceback"]:
            raise
        typer.echo(f"fo-cast: {_one_line(exc)}", err=True)
        sys.exit(ExitCode.ERROR)
    except Exception as exc:  # a bug of fo-cast's own: one line, and the way to say more
        if _state["traceback"]:
            raise
        typer.echo(
            f"fo-cast: internal error ({type(exc).__name__}: {_one_line(exc)}). This is a bug "
            "in fo-cast: run the command again with --traceback and report what it prints",
            err=True,
        )
        sys.exit(ExitCode.BUG)


def _interrupted(signum: int, frame: object) -> None:
    _state["interrupted"] = True
    raise KeyboardInterrupt


def _one_line(exc: BaseException) -> str:
    """Returns an error as one line: OSErrors name the file, never the stack."""
    if isinstance(exc, OSError) and exc.strerror:
        where = f"{exc.filename}: " if exc.filename else ""
        return f"{where}{exc.strerror}"
    return " ".join(str(exc).split()) or type(exc).__name__
