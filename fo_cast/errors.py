"""Exceptions for bugs and for the environment; catalogue problems are `Problem`s instead."""

from __future__ import annotations


class FoCastError(Exception):
    """Base of every error fo-cast raises on purpose; the CLI prints it as one line."""


class ConfigError(FoCastError):
    """The catalogue settings (fo-cast.toml) or a command-line option cannot be used."""


class StorageError(FoCastError):
    """A publish target refused, failed or could not be reached."""


class PublishRefused(FoCastError):
    """Publishing would break a promise made to subscribers (GUIDs, deletes)."""


class UsageError(ConfigError):
    """An option asks for what fo-cast will not do (a show that does not exist, a target
    that overlaps the catalogue); the CLI exits 2, as for any bad option."""
