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

try:  # the C parser; the pure-Python one behaves the same, only slower
    from yaml.cyaml import CParser as _Parser
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


class _Loader(_Parser, yaml.composer.Composer, _Resolver12):  # type: ignore[misc,valid-type]
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


def load(text: str) -> Document:
    """Returns the one document in text; raises YamlError when it cannot be read."""
    try:
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = exc.problem or exc.context or "not valid YAML"
        return _raise(f"not valid YAML: {what}", mark.line + 1 if mark else None)
    except yaml.YAMLError as exc:
        return _raise(f"not valid YAML: {exc}", None)
    doc = Document(data=None)
    if node is None:
        return doc
    doc.lines[()] = node.start_mark.line + 1
    builder = _Builder(doc)
    doc.data = builder.build(node, ())
    return doc


def _raise(message: str, line: int | None) -> Document:
    raise YamlError(message, line)


class _Builder:
    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.count = 0
        self.active: set[int] = set()

    def build(self, node: yaml.Node, path: Path_) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise YamlError("too many values (aliases expanding?); keep manifests plain", None)
        if id(node) in self.active:
            raise YamlError("an alias refers to itself", node.start_mark.line + 1, path)
        if isinstance(node, yaml.ScalarNode):
            return self.scalar(node, path)
        self.active.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                return self.sequence(node, path)
            return self.mapping(node, path)
        finally:
            self.active.discard(id(node))

    def sequence(self, node: yaml.SequenceNode, path: Path_) -> list[Any]:
        if node.tag not in ("tag:yaml.org,2002:seq",):
            raise YamlError(f"unsupported tag {node.tag}", node.start_mark.line + 1, path)
        items = []
        for index, child in enumerate(node.value):
            self.doc.lines[(*path, index)] = child.start_mark.line + 1
            items.append(self.build(child, (*path, index)))
        return items

    def mapping(self, node: yaml.MappingNode, path: Path_) -> dict[str, Any]:
        if node.tag not in ("tag:yaml.org,2002:map",):
            raise YamlError(f"unsupported tag {node.tag}", node.start_mark.line + 1, path)
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                raise YamlError("a key must be a plain word", line, path)
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
        raise YamlError(f"unsupported tag {tag}", node.start_mark.line + 1, path)
