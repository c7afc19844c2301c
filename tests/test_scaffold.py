"""scaffold.py: slugs, new shows and episodes, JSON Schemas."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest

from fo_cast.catalogue import scaffold, yaml12
from fo_cast.errors import FoCastError


@pytest.mark.parametrize(
    ("title", "slug"),
    [
        ("Russia’s New Charm Offensive", "russias-new-charm-offensive"),
        ("FO° Talks: Can Europe Vote?", "fo-talks-can-europe-vote"),
        ("Café au lait — naïve", "cafe-au-lait-naive"),
        ("???", "episode"),
        ("a" * 80, "a" * 60),
        ("word " * 30, "-".join(["word"] * 12)),
    ],
)
def test_slugify(title: str, slug: str) -> None:
    assert scaffold.slugify(title) == slug


def test_new_show_files(tmp_path: Path) -> None:
    manifest = scaffold.new_show(tmp_path, "weekly", "FO° Weekly")
    assert manifest == tmp_path / "weekly" / "show.yaml"
    doc = yaml12.load(manifest.read_text(encoding="utf-8"))
    assert doc.data["title"] == "FO° Weekly" and doc.issues == []
    assert (tmp_path / "weekly" / "artwork.png").is_file()
    assert sorted(p.name for p in (tmp_path / ".schema").iterdir()) == [
        "episode.schema.json", "show.schema.json"
    ]  # fmt: skip
    with pytest.raises(FoCastError, match="already exists; choose another slug$"):
        scaffold.new_show(tmp_path, "weekly")


def test_new_episode_files(tmp_path: Path) -> None:
    scaffold.new_show(tmp_path, "weekly")
    date = datetime(2024, 7, 23, 15, tzinfo=UTC)
    manifest = scaffold.new_episode(tmp_path, "weekly", 'A "quoted": title #1', date)
    assert manifest.parent.name == "2024-07-23-a-quoted-title-1"
    data = yaml12.load(manifest.read_text(encoding="utf-8")).data
    assert data["title"] == 'A "quoted": title #1'
    assert data["published"] == "2024-07-23T15:00:00+00:00"
    assert (data["status"], data["media"]) == ("draft", [])
    assert uuid.UUID(data["guid"]).version == 4
    other = scaffold.new_episode(tmp_path, "weekly", "Another")
    assert yaml12.load(other.read_text(encoding="utf-8")).data["guid"] != data["guid"]
    assert (
        (manifest.parent / "companion.md")
        .read_text(encoding="utf-8")
        .startswith('# A "quoted": title #1\n')
    )


def test_schemas_validate_the_sample_and_catch_typos(tmp_path: Path) -> None:
    from conftest import SAMPLE

    folder = tmp_path / "c"
    paths = scaffold.write_schemas(folder)
    show_schema, episode_schema = (json.loads(p.read_text(encoding="utf-8")) for p in paths)
    for schema in (show_schema, episode_schema):
        jsonschema.Draft202012Validator.check_schema(schema)
    shows = sorted(SAMPLE.glob("*/show.yaml"))
    episodes = sorted(SAMPLE.glob("*/*/episode.yaml"))
    assert len(shows) == 3 and len(episodes) >= 10
    for path, schema in [
        *((p, show_schema) for p in shows),
        *((p, episode_schema) for p in episodes),
    ]:
        data = yaml12.load(path.read_text(encoding="utf-8")).data
        jsonschema.validate(data, schema, cls=jsonschema.Draft202012Validator)
    bad = yaml12.load(episodes[0].read_text(encoding="utf-8")).data | {"titel": "x"}
    with pytest.raises(jsonschema.ValidationError, match="'titel' was unexpected"):
        jsonschema.validate(bad, episode_schema, cls=jsonschema.Draft202012Validator)
    chapter = {"guid": "g", "title": "t", "chapters": [{"start": "12:30", "title": "c"}]}
    jsonschema.validate(chapter, episode_schema, cls=jsonschema.Draft202012Validator)
