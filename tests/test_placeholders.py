"""placeholders.py: what `fo-cast new` writes cannot go out in a scheduled or published episode."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

from PIL import Image

import fo_cast
from fo_cast.catalogue import scaffold
from fo_cast.catalogue.placeholders import is_placeholder_artwork

SAMPLE_AUDIO = next(Path(__file__).parent.parent.glob("episodes/talks/*/audio.mp3"))
DATE = datetime(2024, 1, 1, 10, tzinfo=UTC)


def _scaffolded(tmp_path: Path) -> Path:
    scaffold.new_show(tmp_path, "talks")
    manifest = scaffold.new_episode(tmp_path, "talks", "Hello world", DATE)
    shutil.copy(SAMPLE_AUDIO, manifest.parent / "audio.mp3")
    text = manifest.read_text(encoding="utf-8")
    manifest.write_text(text.replace("media: []", "media: [{file: audio.mp3}]"), encoding="utf-8")
    return manifest


def _lines(root: Path) -> list[str]:
    return [str(p) for p in fo_cast.validate(root).errors]


def test_a_draft_may_keep_every_placeholder(tmp_path: Path) -> None:
    _scaffolded(tmp_path)
    assert _lines(tmp_path) == []


def test_a_published_episode_names_every_placeholder_and_what_to_replace(tmp_path: Path) -> None:
    manifest = _scaffolded(tmp_path)
    text = manifest.read_text(encoding="utf-8")
    manifest.write_text(text.replace("status: draft", "status: published"), encoding="utf-8")
    ep = f"{tmp_path.name}/talks/2024-01-01-hello-world"
    show = f"{tmp_path.name}/talks/show.yaml"
    assert sorted(_lines(tmp_path)) == sorted([
        f"{ep}/companion.md:3: companion: 'Write the companion article here, in Markdown.' is "
        "the placeholder from `fo-cast new`; write the article",
        f"{ep}/episode.yaml:6: summary: still the placeholder from `fo-cast new`; a published "
        "episode needs its own summary",
        f"{show}:3: description: still the placeholder from `fo-cast new`; say what the show is "
        "about in two or three sentences",
        f"{show}:8: owner.email: 'podcasts@example.com' is the placeholder from `fo-cast new`; "
        "give the address that owns the show (Apple and YouTube send verification mail to it)",
        f"{show}:9: artwork: artwork.png is the grey placeholder from `fo-cast new`; replace it "
        "with the show's artwork",
        f"{show}:14: link: 'https://www.example.com/' is the placeholder from `fo-cast new`; "
        "give the show's website",
    ])  # fmt: skip


def test_replaced_placeholders_pass(tmp_path: Path) -> None:
    manifest = _scaffolded(tmp_path)
    text = manifest.read_text(encoding="utf-8").replace("status: draft", "status: scheduled")
    manifest.write_text(text.replace(scaffold.EPISODE_SUMMARY, "A real summary."), "utf-8")
    (manifest.parent / "companion.md").write_text("# Hello\n\nThe article.\n", encoding="utf-8")
    show = tmp_path / "talks" / "show.yaml"
    text = show.read_text(encoding="utf-8")
    for old, new in (
        (scaffold.SHOW_DESCRIPTION, "Talks about the world."),
        (scaffold.OWNER_EMAIL, "podcasts@fairobserver.com"),
        (scaffold.SHOW_LINK, "https://www.fairobserver.com/"),
    ):
        text = text.replace(old, new)
    show.write_text(text, encoding="utf-8")
    # the same grey square saved again by an editor's tool is no longer the placeholder
    Image.open(tmp_path / "talks" / "artwork.png").save(tmp_path / "talks" / "artwork.png")
    assert not is_placeholder_artwork(tmp_path / "talks" / "artwork.png")
    assert _lines(tmp_path) == []


def test_the_sample_artwork_is_not_a_placeholder() -> None:
    root = Path(__file__).parent.parent / "episodes"
    assert [p for p in root.glob("*/artwork.*") if is_placeholder_artwork(p)] == []
