"""yaml12: YAML 1.2 meanings, the line of every key and item, and what a manifest must not hold."""

from __future__ import annotations

import math
import time

import pytest

from fo_cast.catalogue import yaml12
from fo_cast.catalogue.yaml12 import YamlError


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("no", "no"), ("yes", "yes"), ("on", "on"), ("off", "off"), ("y", "y"),
        ("true", True), ("False", False), ("TRUE", True),
        ("12:30", "12:30"), ("1:02:03", "1:02:03"), ("0o17", 15), ("0x1F", 31), ("017", 17),
        ("1_000", "1_000"), ("0b101", "0b101"), ("+5", 5), ("-3", -3), ("1.5", 1.5),
        ("1e3", 1000.0), (".5", 0.5), ("~", None), ("null", None), ("", None),
        ("2024-07-23", "2024-07-23"), ("2024-07-23T15:00:00+00:00", "2024-07-23T15:00:00+00:00"),
        ('"2"', "2"), ("'true'", "true"), ("!!str 12", "12"), ("!!int 7", 7),
        ("!!float 1", 1.0), ("!!bool true", True), ("!!null ~", None),
    ],
)  # fmt: skip
def test_yaml_1_2_scalars(text: str, value: object) -> None:
    data = yaml12.load(f"key: {text}\n").data["key"]
    assert data == value
    assert type(data) is type(value)


def test_infinities_and_nan() -> None:
    data = yaml12.load("a: .inf\nb: -.Inf\nc: .NaN\nd: +.INF\n").data
    assert data["a"] == math.inf and data["b"] == -math.inf and data["d"] == math.inf
    assert math.isnan(data["c"])


def test_lines_of_keys_and_items() -> None:
    doc = yaml12.load(
        "# a comment\n"
        "guid: g\n"
        "media:\n"
        "  - file: audio.mp3\n"
        "  - file: video.mp4\n"
        "    type: video/mp4\n"
        "topics: [a, b]\n"
    )
    assert doc.lines[()] == 2
    assert doc.lines[("guid",)] == 2
    assert doc.lines[("media",)] == 3
    assert doc.lines[("media", 1)] == 5
    assert doc.lines[("media", 1, "type")] == 6
    assert doc.lines[("topics", 1)] == 7
    assert doc.line_of(("media", 1, "nope")) == 5
    assert doc.line_of(("missing",)) == 2
    assert doc.issues == []


def test_duplicate_keys_are_issues_and_the_first_wins() -> None:
    doc = yaml12.load("a: 1\nb:\n  c: 2\n  c: 3\na: 4\n")
    assert doc.data == {"a": 1, "b": {"c": 2}}
    assert [(i.message, i.line, i.path) for i in doc.issues] == [
        ("duplicate key 'c' (first on line 3); keep one", 4, ("b", "c")),
        ("duplicate key 'a' (first on line 1); keep one", 5, ("a",)),
    ]


def test_empty_and_comment_only_documents() -> None:
    assert yaml12.load("").data is None
    assert yaml12.load("# nothing\n").data is None


@pytest.mark.parametrize(
    ("text", "message", "line", "path"),
    [
        ("a: [1\n", "not valid YAML: did not find expected ',' or ']'", 2, ()),
        ("a: 1\n b: 2\n", "not valid YAML: mapping values are not allowed in this context", 2, ()),
        ("a: 1\n---\nb: 2\n",
         "not valid YAML: a second document starts here (---); keep one document per file", 2, ()),
        ("a: *x\n", "not valid YAML: found undefined alias", 1, ()),
        ("a: !!python/name:os.system x\n",
         "the tag !!python/name:os.system is not allowed in a manifest; remove it", 1, ("a",)),
        ("a: !local x\n", "the tag !local is not allowed in a manifest; remove it", 1, ("a",)),
        ("a: !!set {x}\n", "the tag !!set is not allowed in a manifest; remove it", 1, ("a",)),
        ("a: !!binary aGk=\n", "the tag !!binary is not allowed in a manifest; remove "
            "it", 1, ("a",)),
        ("a:\n  b: !!int abc\n", "'abc' is not a valid !!int; remove the tag or fix the value", 2,
         ("a", "b")),
        ("a: !!float x\n", "'x' is not a valid !!float; remove the tag or fix the "
            "value", 1, ("a",)),
        ("a: !!bool maybe\n", "'maybe' is not a valid !!bool; remove the tag or fix the value", 1,
         ("a",)),
        ("a: !!null x\n", "'x' is not a valid !!null; remove the tag or fix the value", 1, ("a",)),
        ("? [a]\n: b\n", "a key must be a plain word, not a list or mapping", 1, ()),
        ("a: &x [1, *x]\n",
         "an alias (*name) refers to the value that contains it; remove it", 1, ("a", 1)),
        ("a: &x\n  b: *x\n",
         "an alias (*name) refers to the value that contains it; remove it", 2, ("a", "b")),
    ],
)  # fmt: skip
def test_refused_documents(text: str, message: str, line: int, path: tuple) -> None:
    with pytest.raises(YamlError) as caught:
        yaml12.load(text)
    assert (caught.value.message, caught.value.line, caught.value.path) == (message, line, path)


def test_aliases_that_stay_small_are_fine() -> None:
    doc = yaml12.load("title: &t Plain\nsummary: *t\nlist: &l [a, b]\nagain: *l\n")
    assert doc.data == {
        "title": "Plain",
        "summary": "Plain",
        "list": ["a", "b"],
        "again": ["a", "b"],
    }


def test_alias_bomb_stops_quickly() -> None:
    text = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [{', '.join(['*' + p] * 10)}]\n"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    )
    started = time.perf_counter()
    with pytest.raises(YamlError) as caught:
        yaml12.load(text)
    assert time.perf_counter() - started < 2
    assert caught.value.message == (
        "more than 100000 values, multiplied by aliases (*name); write the values out instead"
    )


def test_control_characters_are_replaced_and_placed() -> None:
    doc = yaml12.load("guid: g\ntitle: A \x01 title\nlist:\n  - x\x1b\n")
    assert doc.data == {"guid": "g", "title": "A \ufffd title", "list": ["x\ufffd"]}
    assert [(i.message, i.line, i.path) for i in doc.issues] == [
        ("contains the control character U+0001, which YAML cannot carry; remove it", 2,
         ("title",)),
        ("contains the control character U+001B, which YAML cannot carry; remove it", 4,
         ("list", 0)),
    ]  # fmt: skip


def test_control_characters_are_kept_when_the_yaml_is_also_broken() -> None:
    with pytest.raises(YamlError) as caught:
        yaml12.load("a: \x00\nb: [\n")
    assert [(i.message, i.line) for i in caught.value.earlier] == [
        ("contains the control character U+0000, which YAML cannot carry; remove it", 1)
    ]


def test_binary_text_gives_a_few_problems_not_thousands() -> None:
    doc = yaml12.load("\n".join(f"k{n}: \x00" for n in range(200)))
    assert len(doc.issues) == yaml12.MAX_CONTROL_LINES + 1
    assert doc.issues[-1].message == "control characters on 195 more lines; is this a text file?"
    assert doc.issues[-1].line == 6


def test_tabs_newlines_and_unicode_are_fine() -> None:
    doc = yaml12.load('a: "tab\\there"\nb: "FO° — ü 🎙"\nc: |\n  line one\n  line two\n')
    assert doc.data == {"a": "tab\there", "b": "FO° — ü 🎙", "c": "line one\nline two\n"}
    assert doc.issues == []
