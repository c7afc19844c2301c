"""The sample catalogue in episodes/: clean under --strict and true to the issue's promises."""

from __future__ import annotations

from pathlib import Path

import fo_cast
from fo_cast.catalogue.models import Status


def test_sample_has_zero_errors_and_zero_warnings(sample: Path) -> None:
    report = fo_cast.validate(sample, use_cache=False)
    assert [str(p) for p in report] == []
    assert not report.failed(strict=True)


def test_sample_shape(sample: Path) -> None:
    checked = fo_cast.check(sample, use_cache=False)
    catalogue, probed = checked.catalogue, checked.probed
    titles = {s.slug: s.show.title for s in catalogue.shows}
    assert titles == {"exclusive": "FO° Exclusive", "live": "FO° Live", "talks": "FO° Talks"}
    episodes = catalogue.episodes()
    drafts = [e for e in episodes if e.episode.status is Status.DRAFT]
    assert len(drafts) == 2 and all(e.episode.published is None for e in drafts)
    assert all(e.episode.published for e in episodes if e.episode.status is not Status.DRAFT)
    series = sorted(
        (e.episode.series.part, e.episode.series.name) for e in episodes if e.episode.series
    )
    assert [part for part, _ in series] == [1, 2] and series[0][1] == series[1][1]
    for entry in episodes:
        assert entry.episode.credits, entry.manifest
        assert entry.companion and len(entry.companion.split()) > 40, entry.manifest
        kinds = [probed.media[entry.file(m.file)] for m in entry.episode.media if m.file]
        assert any(k.mime_type == "audio/mpeg" for k in kinds), entry.manifest
    videos = [m for m in probed.media.values() if m.kind == "video"]
    assert len(videos) >= 3
    for show in catalogue.shows:
        assert show.show.disclaimer
        assert any(i.width >= 1400 for p, i in probed.images.items() if p.parent == show.folder)


def test_sample_media_is_small() -> None:
    from conftest import SAMPLE

    total = sum(p.stat().st_size for p in SAMPLE.rglob("*") if p.suffix in (".mp3", ".mp4"))
    assert total < 8_000_000
