"""YAML 1.2 reading that keeps the line of every key and item, and refuses what YAML allows
but a manifest must not have (duplicate keys, unknown tags, alias bombs).

PyYAML's C parser composes the node tree fast (about 0.1 ms a manifest, twenty times
ruamel.yaml's round-trip loader) and keeps marks on every node; we resolve scalars with the
YAML 1.2 core schema ourselves so that `12:30` stays a string and `no` is not false.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from fo_cast.limits import MAX_DEPTH, TOO_DEEP

try:  # the C parser; the pure-Python one behaves the same, only slower
    from yaml.cyaml import CParser as _Parser  # type: ignore[attr-defined,unused-ignore]
except ImportError:  # pragma: no cover - libyaml missing

    class _Parser(yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser):  # type: ignore[no-redef]
        def __init__(self, stream: str) -> None:
            yaml.reader.Reader.__init__(self, stream)
            yaml.scanner.Scanner.__init__(self)
            yaml.parser.Parser.__init__(self)


Path_ = tuple[str | int, ...]

MAX_NODES = 100_000  # a manifest is a few dozen nodes; aliases must not multiply them


class _Resolver12(yaml.resolver.BaseResolver):
    """Resolves plain scalars by the YAML 1.2 core schema (no yes/no, no sexagesimal)."""


_Resolver12.yaml_implicit_resolvers = {}
_PATTERNS: dict[str, re.Pattern[str]] = {}  # tag -> what a plain scalar of it looks like
for _tag, _regexp, _first in [
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    (
        "tag:yaml.org,2002:int",
        r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$",
        "-+0123456789",
    ),
    (
        "tag:yaml.org,2002:float",
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        "-+.0123456789",
    ),
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
]:
    _Resolver12.add_implicit_resolver(_tag, re.compile(_regexp), list(_first))
    _PATTERNS[_tag] = re.compile(_regexp)


class _Loader(  # type: ignore[misc,valid-type,unused-ignore]
    _Parser, yaml.composer.Composer, _Resolver12
):
    def __init__(self, stream: str) -> None:
        _Parser.__init__(self, stream)
        yaml.composer.Composer.__init__(self)
        _Resolver12.__init__(self)


@dataclass
class YamlError(Exception):
    """The text is not a YAML document we accept; line is 1-based when known."""

    message: str
    line: int | None = None
    path: Path_ = ()
    # problems found before the one that stopped reading (control characters)
    earlier: list[YamlError] = field(default_factory=list)


@dataclass
class Document:
    """A parsed manifest: plain Python data plus the line of every key and item."""

    data: Any
    lines: dict[Path_, int] = field(default_factory=dict)
    issues: list[YamlError] = field(default_factory=list)  # duplicate keys and the like

    def line_of(self, path: Path_) -> int | None:
        """Returns the line of the deepest part of path that the document has."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:end]))
            if line is not None:
                return line
        return None

    def has(self, path: Path_) -> bool:
        """Returns True when the document has this key or item itself."""
        return tuple(path) in self.lines


class CachedDocument(Document):
    """A document remembered by the manifest cache, its lines keyed "media.0.file"."""

    def __init__(self, data: Any, dotted: dict[str, int]) -> None:
        super().__init__(data)
        self._dotted = dotted

    def line_of(self, path: Path_) -> int | None:
        for end in range(len(path), -1, -1):
            line = self._dotted.get(_dotted(path[:end]))
            if line is not None:
                return line
        return None

    def has(self, path: Path_) -> bool:
        return _dotted(path) in self._dotted


def _dotted(path: Path_) -> str:
    return ".".join(map(str, path))


def dotted_lines(doc: Document) -> dict[str, int]:
    """Returns the document's lines keyed by dotted paths (JSON objects decode fast)."""
    if isinstance(doc, CachedDocument):
        return dict(doc._dotted)
    return {_dotted(path): line for path, line in doc.lines.items()}


# Characters YAML itself cannot hold (the reader refuses the whole file for one of them).
_NON_PRINTABLE = re.compile(
    "[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
)
MAX_CONTROL_LINES = 5  # a binary file would otherwise give one problem per line


def load(text: str) -> Document:
    """Returns the one document in text; raises YamlError when it cannot be read."""
    text, issues = _replace_control_characters(text)
    try:
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
        finally:
            loader.dispose()
    except RecursionError:  # PyYAML's own composer, when libyaml is missing, recurses
        raise YamlError(f"not valid YAML: {TOO_DEEP}", None, (), issues) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = exc.problem or exc.context or "not valid YAML"
        if what == "exceeded maximum nesting depth":  # libyaml's own bound
            what = TOO_DEEP
        if what == "but found another document":
            what = "a second document starts here (---); keep one document per file"
        line = mark.line + 1 if mark else None
        raise YamlError(f"not valid YAML: {what}", line, (), issues) from None
    except yaml.YAMLError as exc:  # pragma: no cover - the reader's errors are caught above
        raise YamlError(f"not valid YAML: {str(exc).splitlines()[0]}", None, (), issues) from None
    doc = Document(data=None, issues=issues)
    if node is None:
        return doc
    doc.lines[()] = node.start_mark.line + 1
    builder = _Builder(doc)
    try:
        doc.data = builder.build(node, ())
    except YamlError as exc:
        exc.earlier = issues
        raise
    _place(doc, issues)
    return doc


def _replace_control_characters(text: str) -> tuple[str, list[YamlError]]:
    """Returns text with characters YAML refuses replaced by U+FFFD, and a problem per line.

    Replacing rather than stopping lets the rest of the manifest be checked, and the line of
    each problem then finds its key (`title: ...`)."""
    issues: list[YamlError] = []
    if not _NON_PRINTABLE.search(text):
        return text, issues
    lines = text.split("\n")
    bad_lines = [(n, m) for n, line in enumerate(lines, 1) if (m := _NON_PRINTABLE.search(line))]
    for number, match in bad_lines[:MAX_CONTROL_LINES]:
        code = f"U+{ord(match.group()):04X}"
        message = f"contains the control character {code}, which YAML cannot carry; remove it"
        issues.append(YamlError(message, number))
    if len(bad_lines) > MAX_CONTROL_LINES:
        more = len(bad_lines) - MAX_CONTROL_LINES
        issues.append(
            YamlError(
                f"control characters on {more} more lines; is this a text file?",
                bad_lines[MAX_CONTROL_LINES][0],
            )
        )
    return _NON_PRINTABLE.sub("\ufffd", text), issues


def _place(doc: Document, issues: list[YamlError]) -> None:
    """Gives each issue without a path the deepest key or item that starts on its line."""
    by_line: dict[int, Path_] = {}
    for path, line in doc.lines.items():
        if len(path) >= len(by_line.get(line, ())):
            by_line[line] = path
    for issue in issues:
        if not issue.path and issue.line is not None:
            issue.path = by_line.get(issue.line, ())


class _Builder:
    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.count = 0
        self.active: set[int] = set()

    def build(self, node: yaml.Node, path: Path_) -> Any:
        if len(path) > MAX_DEPTH:
            raise YamlError(
                f"{TOO_DEEP}; a manifest needs a few levels at most",
                node.start_mark.line + 1,
                path[:1],
            )
        self.count += 1
        if self.count > MAX_NODES:
            raise YamlError(
                f"more than {MAX_NODES} values, multiplied by aliases (*name); "
                "write the values out instead",
                node.start_mark.line + 1,
            )
        if id(node) in self.active:
            raise YamlError(
                "an alias (*name) refers to the value that contains it; remove it",
                self.doc.lines.get(path, node.start_mark.line + 1),  # where the alias is
                path,
            )
        if isinstance(node, yaml.ScalarNode):
            return self.scalar(node, path)
        self.active.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                return self.sequence(node, path)
            if isinstance(node, yaml.MappingNode):
                return self.mapping(node, path)
            raise _tag_error(node, path)  # pragma: no cover - the composer makes no other kind
        finally:
            self.active.discard(id(node))

    def sequence(self, node: yaml.SequenceNode, path: Path_) -> list[Any]:
        if node.tag not in ("tag:yaml.org,2002:seq",):
            raise _tag_error(node, path)
        items = []
        for index, child in enumerate(node.value):
            self.doc.lines[(*path, index)] = child.start_mark.line + 1
            items.append(self.build(child, (*path, index)))
        return items

    def mapping(self, node: yaml.MappingNode, path: Path_) -> dict[str, Any]:
        if node.tag not in ("tag:yaml.org,2002:map",):
            raise _tag_error(node, path)
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                raise YamlError("a key must be a plain word, not a list or mapping", line, path)
            key = str(self.scalar(key_node, path))
            if key in result:
                first = self.doc.lines.get((*path, key))
                self.doc.issues.append(
                    YamlError(
                        f"duplicate key '{key}' (first on line {first}); keep one",
                        line,
                        (*path, key),
                    )
                )
                continue
            self.doc.lines[(*path, key)] = line
            result[key] = self.build(value_node, (*path, key))
        return result

    def scalar(self, node: yaml.ScalarNode, path: Path_) -> Any:
        tag, value = node.tag, node.value
        if tag == "tag:yaml.org,2002:str":
            return value
        # An explicit tag (`!!int abc`) skips the resolver; check the value fits the tag.
        pattern = _PATTERNS.get(tag)
        if pattern is not None and not pattern.match(value):
            short = tag.replace("tag:yaml.org,2002:", "!!")
            raise YamlError(
                f"'{value}' is not a valid {short}; remove the tag or fix the value",
                node.start_mark.line + 1,
                path,
            )
        if tag == "tag:yaml.org,2002:null":
            return None
        if tag == "tag:yaml.org,2002:bool":
            return value.lower() == "true"
        if tag == "tag:yaml.org,2002:int":
            if value.startswith(("0o", "0x")):
                return int(value, 0)
            return int(value, 10)
        if tag == "tag:yaml.org,2002:float":
            lowered = value.lower().lstrip("+")
            if lowered in (".inf", "-.inf"):
                return -math.inf if lowered.startswith("-") else math.inf
            if lowered == ".nan":
                return math.nan
            return float(value)
        raise _tag_error(node, path)


def _tag_error(node: yaml.Node, path: Path_) -> YamlError:
    short = node.tag.replace("tag:yaml.org,2002:", "!!")
    return YamlError(
        f"the tag {short} is not allowed in a manifest; remove it",
        node.start_mark.line + 1,
        path,
    )
