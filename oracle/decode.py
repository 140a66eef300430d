"""A fast path for reading trace lines: one typed msgspec decode checks what ``oracle.trace`` checks.

Rules:
1. ``oracle.trace._parse_event`` (on ``json.loads``) is the reference reader: it defines what a
   valid event line is and says what is wrong with an invalid one. This module only makes the
   common case cheap; it never decides that a line is bad.
2. Per profile, one msgspec decoder is built from the same tables the reference reader uses
   (``trace._OPS``, ``trace._ENTITIES``, ``trace._REPO``): a union of event structs tagged by
   ``op``, each with its op's arguments (required ones required, optional ones absent by
   default), ``outcome`` one of ``trace.OUTCOMES`` or null, ``result`` on queries only, and a
   partial ``state`` whose records have every field optional. Every struct forbids unknown keys;
   msgspec's integers refuse booleans and floats, its strings refuse everything else, as the
   reference reader's exact type tests do.
3. ``decode_line`` returns the ``Event`` when the typed decode succeeds, else None; the caller
   then runs the reference reader on the line, which either accepts it (the fast path is only
   stricter, e.g. an event without ``args``) or raises the error that names the line.
4. A line the typed decode accepts is decoded again as plain JSON data (msgspec's untyped decoder:
   cheaper than turning the structs back into dicts) and built by the reference reader's own
   ``trace.build_event``, so both paths give equal events; ``tests/test_trace_decode.py`` holds
   them to that on valid and broken lines.

Mirrors: oracle/trace.py rules 1-2 (the trace vocabulary v1).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any, Literal, Union

import msgspec
from msgspec import UNSET, UnsetType

from model.state import Profile
from oracle import trace

_TYPES: dict[str, Any] = {
    trace._INT: int,
    trace._STR: str,
    trace._BOOL: bool,
    trace._OPT_INT: int | None,
    trace._OPT_BOOL: bool | None,
    trace._SLOTS: list[tuple[str, int]],
}


def _record(name: str, kinds: dict[str, str]) -> Any:
    """A struct of ``kinds`` with every field optional (a partial record, rule 2)."""
    fields = [(field, _TYPES[kind] | UnsetType, UNSET) for field, kind in kinds.items()]
    return msgspec.defstruct(name, fields, forbid_unknown_fields=True)


def _state(profile: Profile) -> Any:
    entities = trace._ENTITIES[profile]
    parts: list[tuple[str, Any, Any]] = [
        (part, dict[str, _record(f"{part}_record", kinds) | None] | UnsetType, UNSET)  # type: ignore[misc]
        for part, kinds in entities.items()
    ]
    parts.append(("repo", _record("repo_record", trace._REPO) | UnsetType, UNSET))
    return msgspec.defstruct("State", parts, forbid_unknown_fields=True)


@cache
def _decoder(profile: Profile) -> msgspec.json.Decoder[Any]:
    """The typed decoder of one profile's event lines (rule 2)."""
    state = _state(profile)
    outcome = Literal[tuple(sorted(trace.OUTCOMES))]  # type: ignore[valid-type]
    events = []
    for name, op in trace._OPS[profile].items():
        required = [(field, _TYPES[kind]) for field, kind in op.kinds.items() if field in op.required]
        optional = [
            (field, _TYPES[kind] | UnsetType, UNSET) for field, kind in op.kinds.items() if field not in op.required
        ]
        arguments = msgspec.defstruct(f"{name}_args", [*required, *optional], forbid_unknown_fields=True)
        fields: list[Any] = [("args", arguments), ("outcome", outcome | None, None), ("state", state | None, None)]
        if op.query:
            fields.append(("result", str | None | UnsetType, UNSET))
        events.append(msgspec.defstruct(f"{name}_event", fields, tag_field="op", tag=name, forbid_unknown_fields=True))
    return msgspec.json.Decoder(Union[tuple(events)])  # noqa: UP007 - a runtime union of generated types


def line_decoder(profile: Profile) -> Callable[[str, int], trace.Event | None]:
    """``decode_line(text, line)`` for ``profile`` (rule 3): the event, or None (ask the reference reader)."""
    check = _decoder(profile).decode
    data = msgspec.json.Decoder().decode
    ops = trace._OPS[profile]
    build = trace.build_event
    errors = (msgspec.DecodeError, msgspec.ValidationError)

    def decode_line(text: str, line: int) -> trace.Event | None:
        try:
            check(text)
        except errors:
            return None
        obj = data(text)
        return build(
            ops[obj["op"]],
            line,
            obj["args"],
            obj.get("outcome"),
            "result" in obj,
            obj.get("result"),
            obj.get("state"),
        )

    return decode_line
