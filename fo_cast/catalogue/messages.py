"""Plain words for the errors pydantic finds in a manifest: the field path a producer reads
(`media[1].file`) and a message that says what to write instead."""

from __future__ import annotations

import difflib
import typing
from typing import Any

from pydantic import BaseModel


def field_path(path: tuple[Any, ...]) -> str:
    """Returns 'media[1].file' for ('media', 1, 'file')."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def validation_message(model: type[BaseModel], error: Any) -> str:
    """Returns the message for one pydantic error of `model`, in a producer's words."""
    kind, value = error["type"], error.get("input")
    if kind == "extra_forbidden":
        known = _known_keys(model, tuple(error["loc"][:-1]))
        match = difflib.get_close_matches(str(error["loc"][-1]), known, n=1)
        hint = f"; did you mean '{match[0]}'?" if match else f"; known keys: {', '.join(known)}"
        return f"unknown key{hint}"
    if kind == "missing":
        return "required; add it"
    if kind == "bool_type":
        hint = ""
        if isinstance(value, str) and value.lower() in _YAML11_BOOLS:
            hint = " (YAML 1.2 reads yes/no/on/off as text); write true or false"
        return f"expected true or false, got {_show(value)}{hint}"
    if kind in ("int_type", "int_parsing"):
        quoted = isinstance(value, str) and value.strip().isdigit()
        return f"expected a whole number, got {_show(value)}" + ("; remove the quotes" * quoted)
    if kind == "greater_than_equal":
        return f"must be {error['ctx']['ge']} or more, got {_show(value)}"
    if kind == "less_than_equal":
        return f"must be {error['ctx']['le']} or less, got {_show(value)}"
    if kind == "timezone_aware":
        return "needs a timezone, such as 2024-07-23T15:00:00+00:00"
    if kind in ("datetime_parsing", "datetime_type", "datetime_from_date_parsing"):
        return f"expected a date and time such as 2024-07-23T15:00:00+00:00, got {_show(value)}"
    if kind == "string_type":
        hint = "; put it in quotes" if isinstance(value, int | float) else ""
        return f"expected text, got {_show(value)}{hint}"
    if kind == "string_too_long":
        return f"is too long; keep it to {error['ctx']['max_length']} characters"
    if kind == "enum":
        return f"expected {error['ctx']['expected']}, got {_show(value)}"
    if kind == "too_short":
        return f"needs at least {error['ctx']['min_length']} item; add one"
    if kind == "list_type":
        return f"expected a list, got {_show(value)}"
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return f"expected keys and values, got {_show(value)}"
    message = str(error["msg"])
    return message.removeprefix("Value error, ").removeprefix("Assertion failed, ")


_YAML11_BOOLS = frozenset("yes no on off y n".split())


def _show(value: Any) -> str:
    if isinstance(value, str):
        return f"the text '{value}'"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing"
    return repr(value)


def _known_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """Returns the field names of the (nested) model at loc."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        info = current.model_fields.get(part)
        if info is None:
            return []
        current = _model_in(info.annotation)
        if current is None:
            return []
    return sorted(current.model_fields)


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None
