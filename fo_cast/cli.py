"""The command line: the only module that prints or exits."""

from __future__ import annotations

import enum
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, NoReturn

import typer

import fo_cast
from fo_cast import scaffold
from fo_cast.build import build as build_tree
from fo_cast.build import write_tree
from fo_cast.errors import FoCastError
from fo_cast.outputs import Stage
from fo_cast.probe import ProbeError, probe_media
from fo_cast.problems import Report


class ExitCode(enum.IntEnum):
    OK = 0
    PROBLEMS = 1  # the catalogue has errors (or warnings under --strict)
    USAGE = 2  # Typer's own code for bad options
    PUBLISH_FAILED = 3
    ERROR = 4  # the environment: unreadable target, missing credentials, full disk


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

CatalogueArg = Annotated[
    Path, typer.Argument(help="The catalogue folder (holds fo-cast.toml and the shows).")
]
_state = {"traceback": False}


@app.callback()
def _options(
    traceback: Annotated[bool, typer.Option(help="Show the stack on unexpected errors.")] = False,
) -> None:
    _state["traceback"] = traceback


def _fail(message: str, code: ExitCode) -> NoReturn:
    typer.echo(f"fo-cast: {message}", err=True)
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
    """Check manifests, companions, artwork and media; write nothing.

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
    status: Annotated[str | None, typer.Option(help="draft, scheduled or published.")] = None,
    fmt: Annotated[Format, typer.Option("--format", help="text or json.")] = Format.TEXT,
) -> None:
    """List episodes: show, date, title, status, duration, media.

    Example: fo-cast list episodes --show talks --status draft
    """
    cat, probed, report = fo_cast.check(catalogue)
    rows = []
    for entry in cat.episodes():
        episode = entry.episode
        if (show and entry.show != show) or (status and episode.status.value != status):
            continue
        infos = [probed.media.get(entry.file(m.file)) for m in episode.media if m.file]
        duration = max((i.duration for i in infos if i), default=None)
        duration = duration or max((m.duration or 0 for m in episode.media), default=None)
        rows.append(
            {
                "show": entry.show,
                "date": episode.published.date().isoformat() if episode.published else None,
                "title": episode.title,
                "status": episode.status.value,
                "duration": round(duration) if duration else None,
                "media": [m.file or m.url for m in episode.media],
                "guid": episode.guid,
                "manifest": str(entry.manifest),
            }
        )
    rows.sort(key=lambda r: (r["show"], r["date"] or "9999", r["title"]), reverse=False)
    if fmt is Format.JSON:
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table("show", "date", "title", "status", "duration", "media")
        for r in rows:
            seconds = r["duration"]
            table.add_row(
                r["show"], r["date"] or "-", r["title"], r["status"],
                f"{seconds // 60}:{seconds % 60:02d}" if seconds else "-",
                ", ".join(map(str, r["media"])),
            )  # fmt: skip
        Console().print(table)
    if report.errors:
        typer.echo(f"{report.summary()} Run `fo-cast validate` for details.", err=True)


@app.command()
def probe(
    files: Annotated[list[Path], typer.Argument(help="Media files to probe.")],
    fmt: Annotated[Format, typer.Option("--format", help="text or json.")] = Format.TEXT,
) -> None:
    """Print what fo-cast reads from media files (duration, size, type, codec).

    Example: fo-cast probe episodes/talks/*/audio.mp3
    """
    failed = False
    results = []
    for path in files:
        try:
            info = probe_media(path)
        except ProbeError as exc:
            failed = True
            results.append({"file": str(path), "error": str(exc)})
            continue
        results.append({"file": str(path), **info.__dict__})
    if fmt is Format.JSON:
        typer.echo(json.dumps(results, indent=2))
    else:
        for result in results:
            if "error" in result:
                typer.echo(f"{result['file']}: {result['error']}", err=True)
                continue
            facts = ", ".join(f"{k}={v}" for k, v in result.items() if k != "file" and v)
            typer.echo(f"{result['file']}: {facts}")
    if failed:
        raise typer.Exit(ExitCode.PROBLEMS)


@app.command()
def schema(catalogue: CatalogueArg = Path("episodes")) -> None:
    """Write JSON Schemas for show.yaml and episode.yaml into CATALOGUE/.schema/.

    Example: fo-cast schema episodes
    """
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
BaseUrlOption = Annotated[
    str | None, typer.Option(help="Public URL of the output tree; overrides fo-cast.toml.")
]


@app.command()
def build(
    catalogue: CatalogueArg = Path("episodes"),
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("feeds"),
    base_url: BaseUrlOption = None,
    now: NowOption = None,
    strict: Annotated[bool, typer.Option(help="Fail on warnings too.")] = False,
) -> None:
    """Validate, then write feeds, pages and media links into the output folder.

    Example: fo-cast build episodes --out feeds --now 2025-01-01T00:00:00+00:00
    """
    cat, probed, report = fo_cast.check(catalogue)
    result = build_tree(cat, probed, report, _now(now), base_url=base_url, strict=strict)
    if report.failed(strict=strict):
        _print_report(report, Format.TEXT, strict)
        typer.echo(f"Nothing was written to {out}.", err=True)
        raise typer.Exit(ExitCode.PROBLEMS)
    for problem in report:
        typer.echo(str(problem), err=True)
    write_tree(result, out)
    feeds_count = sum(1 for o in result.outputs if o.stage is Stage.FEED)
    typer.echo(f"Built {len(result.outputs)} files ({feeds_count} feeds) into {out}/")


@new_app.command("show")
def new_show(
    slug: Annotated[str, typer.Argument(help="URL name of the show: lowercase, dashes.")],
    title: Annotated[str | None, typer.Option(help="The show's title.")] = None,
    catalogue: Annotated[Path, typer.Option(help="The catalogue folder.")] = Path("episodes"),
) -> None:
    """Create a show folder with a show.yaml to fill in.

    Example: fo-cast new show weekly --title "FO° Weekly"
    """
    path = scaffold.new_show(catalogue, slug, title)
    typer.echo(f"wrote {path}; add artwork.png (1400-3000 px square) next to it")


@new_app.command("episode")
def new_episode(
    title: Annotated[str, typer.Argument(help="The episode's title.")],
    show: Annotated[str, typer.Option(help="The show's slug.")],
    date: Annotated[
        datetime | None,
        typer.Option(help="Publication time, with timezone, e.g. 2024-07-23T15:00:00+00:00."),
    ] = None,
    catalogue: Annotated[Path, typer.Option(help="The catalogue folder.")] = Path("episodes"),
) -> None:
    """Create a draft episode: folder named by date and slug, a new GUID, a companion stub.

    Example: fo-cast new episode --show talks --date 2024-12-01T09:00:00+00:00 "A Title"
    """
    if date is not None and date.tzinfo is None:
        _fail("--date needs a timezone, such as 2024-07-23T15:00:00+00:00", ExitCode.USAGE)
    path = scaffold.new_episode(catalogue, show, title, date)
    typer.echo(f"wrote {path} and {path.parent / 'companion.md'}")


def main() -> None:
    """Runs the app, turning fo-cast's own errors into one line and an exit code."""
    try:
        app()
    except KeyboardInterrupt:
        typer.echo("Interrupted.", err=True)
        sys.exit(130)
    except FoCastError as exc:
        if _state["traceback"]:
            raise
        _fail(str(exc), ExitCode.ERROR)
