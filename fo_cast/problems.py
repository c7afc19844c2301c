"""Problems found in a catalogue: collected, counted and formatted, never raised."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from fo_cast.units import plural


class Severity(enum.StrEnum):
    ERROR = "error"
    WARNING = "warning"


# C0 and C1 controls, DEL and the Unicode line and paragraph separators: what would break a
# problem's line in a terminal or a log (or move the cursor, for an escape sequence)
_ESCAPED = {
    code: repr(chr(code))[1:-1] for code in (*range(0x20), *range(0x7F, 0xA0), 0x2028, 0x2029)
}


def one_line(text: str) -> str:
    """Returns text with its control characters escaped: one line on a terminal, inert."""
    return text.translate(_ESCAPED)


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with the catalogue, pointing at a file, a line and a field."""

    file: PurePosixPath  # relative to the folder that holds the catalogue: episodes/x/show.yaml
    field: str  # path into the manifest: media[1].file, chapters[2].start, or "" for the file
    message: str  # plain words, saying what to do where possible
    line: int | None = None
    severity: Severity = Severity.ERROR

    def __str__(self) -> str:
        """One line, always: a control character in a file name or a quoted value (a folder
        named with a newline) is shown escaped, as Python writes it (\\n, \\x1b)."""
        where = f"{self.file}:{self.line}" if self.line else str(self.file)
        warn = "warning: " if self.severity is Severity.WARNING else ""
        if self.field:
            return one_line(f"{where}: {warn}{self.field}: {self.message}")
        return one_line(f"{where}: {warn}{self.message}")

    def as_dict(self) -> dict[str, object]:
        return {
            "file": str(self.file),
            "line": self.line,
            "field": self.field,
            "message": self.message,
            "severity": self.severity.value,
        }


@dataclass
class Report:
    """Problems collected by every stage, in the order a reader wants them."""

    problems: list[Problem] = field(default_factory=list)

    def add(
        self,
        file: PurePosixPath | str,
        field: str,
        message: str,
        line: int | None = None,
        severity: Severity = Severity.ERROR,
    ) -> None:
        self.problems.append(Problem(PurePosixPath(file), field, message, line, severity))

    def extend(self, problems: Iterable[Problem]) -> None:
        self.problems.extend(problems)

    def __iter__(self) -> Iterator[Problem]:
        return iter(self.sorted())

    def sorted(self) -> list[Problem]:
        """Returns the problems by file, then line, then field; duplicates dropped."""
        seen: set[Problem] = set()
        unique = [p for p in self.problems if not (p in seen or seen.add(p))]  # type: ignore[func-returns-value]
        return sorted(unique, key=lambda p: (str(p.file), p.line or 0, p.field, p.message))

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.sorted() if p.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.sorted() if p.severity is Severity.WARNING]

    def failed(self, strict: bool = False) -> bool:
        """Returns True when the catalogue must not be built (warnings count under strict)."""
        return bool(self.errors) or (strict and bool(self.warnings))

    def summary(self) -> str:
        """Returns the closing count line: '2 errors, 1 warning in 3 files.'"""
        errors, warnings = len(self.errors), len(self.warnings)
        if not errors and not warnings:
            return "No problems found."
        files = len({p.file for p in self.sorted()})
        parts = []
        if errors:
            parts.append(plural(errors, "error"))
        if warnings:
            parts.append(plural(warnings, "warning"))
        return f"{', '.join(parts)} in {plural(files, 'file')}."
