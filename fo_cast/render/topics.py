"""Topics across the catalogue: every episode with a topic, all shows, newest first.

    topics/index.html                 every topic, with its number of episodes
    topics/<slug>/index.html          a topic's episodes (page/2/index.html ... when long)

A topic's slug is python-slugify's: a fixed transliteration table (text-unidecode) turns any
script into lowercase ASCII words ("Côte d’Ivoire" -> "cote-divoire", "中国" -> "zhong-guo"),
so a slug depends on the topic's name alone, never on the order episodes are read in.
Spellings that give one slug ("EU", "eu") are one topic, named by its most used spelling.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from functools import lru_cache

from slugify import slugify

from fo_cast.outputs import TOPICS
from fo_cast.render.site import EpisodeView, Site


@lru_cache(maxsize=4096)
def topic_slug(name: str) -> str:
    """Returns the URL slug of a topic: "North Korea" -> "north-korea"."""
    return slugify(name) or "topic"


def topic_path(name: str) -> str:
    """Returns the folder of a topic's first page: "topics/north-korea/"."""
    return f"{TOPICS}{topic_slug(name)}/"


@dataclass
class Topic:
    slug: str
    name: str
    episodes: list[EpisodeView]  # every show's, newest first

    @property
    def path(self) -> str:
        return f"{TOPICS}{self.slug}/"


def collect_topics(site: Site) -> list[Topic]:
    """Returns the site's topics by name (case-insensitive), each with its live episodes."""
    episodes: dict[str, list[EpisodeView]] = defaultdict(list)
    spellings: dict[str, Counter[str]] = defaultdict(Counter)
    for show in site.shows:
        for episode in show.episodes:
            for name in dict.fromkeys(episode.episode.topics):
                slug = topic_slug(name)
                if not episodes[slug] or episodes[slug][-1] is not episode:
                    episodes[slug].append(episode)
                spellings[slug][name] += 1
    topics = []
    for slug, found in episodes.items():
        # the most used spelling names the topic; ties go to the first in sorted order
        name = min(spellings[slug].items(), key=lambda item: (-item[1], item[0]))[0]
        found.sort(key=lambda e: (e.published, e.guid), reverse=True)
        topics.append(Topic(slug, name, found))
    topics.sort(key=lambda t: (t.name.casefold(), t.slug))
    return topics


def topic_page_path(topic: Topic, number: int) -> str:
    """Returns the folder of page `number` of a topic's episode list."""
    return topic.path if number == 1 else f"{topic.path}page/{number}/"
