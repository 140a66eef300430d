"""Argument checks shared by both profiles: ranges and fresh ids.

Rules:
1. Arguments are checked before any nim-codex guard; the first failing check wins.
2. Only comparisons, so the checks run unchanged over symbolic values.

Mirrors: codex-sales-spec §0 "Number semantics"; docs/divergences.md (ids chosen by the caller).
"""

from __future__ import annotations

from collections.abc import Mapping

from model.errors import IdInUse, OutOfRange


def out_of_range(**fields: tuple[int, tuple[int, int]]) -> OutOfRange | None:
    """The first ``name=(value, (low, high))`` whose value lies outside its range, in argument order.

    A ``bool`` is refused too: Python counts it as an int, nim-codex does not.
    """
    for name, (value, (low, high)) in fields.items():
        if isinstance(value, bool) or value < low or value > high:
            return OutOfRange(field=name, value=value, low=low, high=high)
    return None


def id_in_use(entity: str, new_id: str, taken: Mapping[str, object]) -> IdInUse | None:
    """``IdInUse`` when ``new_id`` already names a record of ``taken``."""
    if new_id in taken:
        return IdInUse(entity=entity, id=new_id)
    return None
