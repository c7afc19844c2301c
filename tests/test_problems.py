"""problems.py: how a problem reads, and how a report counts and sorts."""

from __future__ import annotations

from pathlib import PurePosixPath

from fo_cast.problems import Problem, Report, Severity

FILE = PurePosixPath("episodes/talks/ep/episode.yaml")


def test_problem_text() -> None:
    assert str(Problem(FILE, "media[0].file", "no such file 'a.mp3'", 7)) == (
        "episodes/talks/ep/episode.yaml:7: media[0].file: no such file 'a.mp3'"
    )
    assert str(Problem(FILE, "", "the file is empty")) == (
        "episodes/talks/ep/episode.yaml: the file is empty"
    )
    assert str(Problem(FILE, "type", "says x", 3, Severity.WARNING)) == (
        "episodes/talks/ep/episode.yaml:3: warning: type: says x"
    )
    assert str(Problem(FILE.parent, "", "no episode.yaml", None, Severity.WARNING)) == (
        "episodes/talks/ep: warning: no episode.yaml"
    )


def test_as_dict() -> None:
    assert Problem(FILE, "guid", "m", 2).as_dict() == {
        "file": "episodes/talks/ep/episode.yaml", "line": 2, "field": "guid", "message": "m",
        "severity": "error",
    }  # fmt: skip


def test_report_sorts_dedups_and_counts() -> None:
    report = Report()
    report.add("b/show.yaml", "title", "x", 3)
    report.add("a/episode.yaml", "media", "y", 10)
    report.add("a/episode.yaml", "guid", "z", 2, Severity.WARNING)
    report.add("a/episode.yaml", "media", "y", 10)  # the same problem twice
    report.add("a/episode.yaml", "", "no line")
    assert [str(p) for p in report] == [
        "a/episode.yaml: no line",
        "a/episode.yaml:2: warning: guid: z",
        "a/episode.yaml:10: media: y",
        "b/show.yaml:3: title: x",
    ]
    assert (len(report.errors), len(report.warnings)) == (3, 1)
    assert report.summary() == "3 errors, 1 warning in 2 files."
    assert report.failed() and report.failed(strict=True)


def test_summary_wording() -> None:
    report = Report()
    assert report.summary() == "No problems found."
    assert not report.failed(strict=True)
    report.add("a", "", "w", severity=Severity.WARNING)
    assert report.summary() == "1 warning in 1 file."
    assert not report.failed() and report.failed(strict=True)
    report.add("b", "", "e")
    report.add("b", "", "f")
    assert report.summary() == "2 errors, 1 warning in 2 files."
    report.extend([Problem(PurePosixPath("c"), "", "g")])
    assert report.summary() == "3 errors, 1 warning in 3 files."


def test_a_problem_is_one_line_whatever_its_names_hold() -> None:
    """A folder named with a newline, a value with an escape sequence: shown escaped, so one
    problem is one line in a terminal or a CI log (the JSON report keeps them as they are)."""
    problem = Problem(
        PurePosixPath("talks/2025-01-01-bad\nname/episode.yaml"),
        "slug",
        "folder name '2025-01-01-bad\nname\x1b[31m' is not a slug\u2028; rename it",
        3,
    )
    shown = str(problem)
    assert shown == (
        "talks/2025-01-01-bad\\nname/episode.yaml:3: slug: folder name "
        "'2025-01-01-bad\\nname\\x1b[31m' is not a slug\\u2028; rename it"
    )
    assert problem.as_dict()["file"] == "talks/2025-01-01-bad\nname/episode.yaml"
    assert str(Problem(PurePosixPath("épisode.yaml"), "", "ça va", None)) == "épisode.yaml: ça va"
