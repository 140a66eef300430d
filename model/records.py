"""Copying frozen records with some fields changed: ``attrs.evolve`` without its per-call lookups.

Rules:
1. ``evolve(record, **changes)`` equals ``attrs.evolve(record, **changes)`` for the model's
   records (attrs classes whose ``__init__`` takes every field by its own name): it builds the
   record through its ``__init__``, so validators run exactly as they do for ``attrs.evolve``.
2. The field names of each class are read once and kept; this is the only state of the module
   (a cache of a pure function of the class).
3. ``arguments(record)`` is ``attrs.asdict(record, recurse=False)``, by the same cache.

Mirrors: nothing in nim-codex; the model's hot path (docs/performance.md, trace checking).
"""

from __future__ import annotations

from typing import Any, TypeVar

import attrs

T = TypeVar("T")

_NAMES: dict[type, tuple[str, ...]] = {}


def field_names(cls: type) -> tuple[str, ...]:
    """The attrs fields of ``cls`` by name, in declaration order (rule 2)."""
    names = _NAMES.get(cls)
    if names is None:
        names = _NAMES[cls] = tuple(f.name for f in attrs.fields(cls))
    return names


def evolve(record: T, **changes: Any) -> T:
    """A copy of ``record`` with ``changes`` (rule 1)."""
    cls = type(record)
    for name in _NAMES.get(cls) or field_names(cls):
        if name not in changes:
            changes[name] = getattr(record, name)
    return cls(**changes)


def arguments(record: object) -> dict[str, Any]:
    """Every field of ``record`` by name, values not copied (rule 3)."""
    cls = type(record)
    return {name: getattr(record, name) for name in _NAMES.get(cls) or field_names(cls)}
