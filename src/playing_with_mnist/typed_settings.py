"""Settings as frozen dataclasses, built from plain mappings (parameters, checkpoints) in one way."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import MISSING, Field, fields, is_dataclass
from typing import Any, TypeVar

T = TypeVar("T")


def from_mapping(cls: type[T], values: Mapping[str, Any], section: str) -> T:
    """``cls(**values)``; a name ``cls`` does not have is a ValueError naming ``section.<name>``, and a
    value the class refuses is its ValueError with ``section.`` before the setting it names."""
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"unknown parameter(s) {', '.join(f'{section}.{k}' for k in unknown)}; known: {', '.join(sorted(known))}")
    try:
        return cls(**values)
    except TypeError as error:  # a required setting is missing
        raise ValueError(f"{section}: {error}") from None
    except ValueError as error:  # the class's own checks start with the setting's name
        raise ValueError(f"{section}.{error}") from None


def default_of(field: Field) -> Any:
    return field.default_factory() if field.default_factory is not MISSING else field.default


def describe_changes(settings: Any) -> list[str]:
    """The settings of ``settings`` (a dataclass, nested ones included) that differ from their
    defaults and carry a ``describe`` text in their metadata, as those texts filled in."""
    parts = []
    for field in fields(settings):
        value, text = getattr(settings, field.name), field.metadata.get("describe")
        if is_dataclass(value):
            inner = describe_changes(value)
            if inner:
                parts += [text.format(", ".join(inner))] if text else inner
        elif text and value != default_of(field):
            parts.append(text.format(value))
    return parts
