"""An episode's status: a plain enum the command line offers without loading the models."""

from __future__ import annotations

import enum


class Status(enum.StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    PUBLISHED = "published"
