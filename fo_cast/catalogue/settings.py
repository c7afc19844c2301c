"""Catalogue settings from `fo-cast.toml`: site URL, feed defaults, the default publish target."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictInt

from fo_cast import rules

SETTINGS_FILE = "fo-cast.toml"
XmlText = Annotated[str, AfterValidator(rules.check_xml_safe)]


def _base_url(value: str) -> str:
    value = rules.check_base_url(value)  # encoded: punycode host, percent-encoded path
    return value if value.endswith("/") else value + "/"


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Site(Section):
    title: XmlText = Field("Podcasts", description="Name of the website that carries the episodes.")
    publisher: XmlText = Field("", description="Publisher's name, shown in every page's footer.")
    address: XmlText = Field("", description="Publisher's postal address, shown in the footer.")
    episodes_per_page: Annotated[StrictInt, Field(ge=1)] = Field(
        50, description="Episodes on one page of a show's list."
    )


class Feeds(Section):
    max_size_mb: Annotated[float, Field(gt=0)] = Field(
        4.0, description="Warn when a feed grows past this many megabytes (Apple's limit is 4)."
    )
    enclosure_prefix: str | None = Field(
        None,
        description="Put before every enclosure URL in the feeds, for download analytics: "
        "https://op3.dev/e/ (takes the whole URL) or dts.podtrac.com/redirect.mp3/ "
        "(no scheme: takes the URL without its scheme).",
        pattern=r"^[^\s<>\"']+/$",
    )


MAX_DELETES = 25  # the default of [publish] max_deletes and of plan_publish()


class Publish(Section):
    target: str | None = Field(
        None, description="Default target: file:///path or s3://bucket/prefix."
    )
    endpoint_url: str | None = Field(None, description="S3 endpoint for S3 compatibles.")
    max_deletes: Annotated[StrictInt, Field(ge=0)] = Field(
        MAX_DELETES, description="Refuse to prune more objects than this unless told otherwise."
    )


# An endpoint publish sends to: http(s), no spaces or quotes, no user:password@.
_HTTP_URL = re.compile(r"https?://[^\s<>\"'@/\x00-\x1f\x7f]+(?:/[^\s<>\"'\x00-\x1f\x7f]*)?")


def _endpoint(value: str) -> str:
    if not _HTTP_URL.fullmatch(value):
        raise ValueError(
            f"{value!r} is not an http(s) URL fo-cast sends to (no spaces, quotes, control "
            "characters or user:password@); such as https://hub.example.org/"
        )
    return value


Endpoint = Annotated[str, AfterValidator(_endpoint)]


class Notify(Section):
    """Whom publish tells about changed feeds; nobody unless switched on."""

    podcastindex: bool = Field(False, description="Ping the Podcast Index (pubnotify).")
    podcastindex_url: Endpoint = Field(
        "https://hub.podcastindex.org/pubnotify", description="The Podcast Index ping endpoint."
    )
    podping: bool = Field(False, description="Send a Podping (needs the token in the env).")
    podping_url: Endpoint = Field("https://podping.cloud/", description="The Podping endpoint.")
    podping_token_env: str = Field(
        "PODPING_TOKEN", description="Environment variable holding the Podping token."
    )
    websub_hub: Endpoint | None = Field(
        None,
        description="A WebSub hub (e.g. https://pubsubhubbub.appspot.com/): the feeds name "
        'it in <atom:link rel="hub">, and publish pings it.',
    )
    tries: Annotated[StrictInt, Field(ge=1, le=10)] = Field(
        3, description="Tries per notification, with backoff between them."
    )
    timeout: Annotated[float, Field(gt=0, le=120)] = Field(10.0, description="Seconds per try.")
    backoff: Annotated[float, Field(ge=0, le=60)] = Field(
        2.0, description="Seconds before the second try; doubled before each later one."
    )


MEDIA_ENV = "FO_CAST_MEDIA"  # overrides [media] folder, for one machine's mount point


class MediaSettings(Section):
    folder: Annotated[str, AfterValidator(rules.check_no_control)] | None = Field(
        None,
        description=(
            "A folder outside the checkout holding media too big for git (a disk, a NAS, a "
            "synced bucket), laid out SHOW/EPISODE/FILE like the catalogue; relative to the "
            f"folder holding the catalogue. {MEDIA_ENV} overrides it."
        ),
    )


class Settings(Section):
    """fo-cast.toml at the root of the catalogue."""

    base_url: Annotated[str, AfterValidator(_base_url)] = Field(
        "http://127.0.0.1:8000/",
        description="Public URL the output tree is served from; every feed URL starts with it.",
    )
    site: Site = Field(default_factory=Site)  # type: ignore[arg-type]
    feeds: Feeds = Field(default_factory=Feeds)  # type: ignore[arg-type]
    publish: Publish = Field(default_factory=Publish)  # type: ignore[arg-type]
    notify: Notify = Field(default_factory=Notify)  # type: ignore[arg-type]
    media: MediaSettings = Field(default_factory=MediaSettings)  # type: ignore[arg-type]
