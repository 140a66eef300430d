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
4. A line the typed decode accepts becomes its event straight from the decoded structs: per op,
   generated code copies the fields present into ``args`` (the op's field order) and builds the
   action from them; ``state`` is the decoded struct as plain data (``msgspec.to_builtins``, which
   leaves absent fields out and gives the canonical order of oracle/trace.py rule 7). An op with
   slot arguments (``active_slots``) is decoded again as plain JSON and built by the reference
   reader's ``trace.build_event``. Both paths give events equal to the reference reader's, key
   order included; ``tests/test_trace_pipeline.py`` holds them to that on valid and broken lines.

Mirrors: oracle/trace.py rules 1-2 (the trace vocabulary v1).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any, Literal, Union, get_args

import attrs
import msgspec
from msgspec import UNSET, UnsetType

from model import records
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


def _builder(op: trace._Op) -> Callable[..., trace.Event]:
    """``build(args_struct, line, outcome, has_result, result, state)``: the event of one typed
    decode (rule 4), made by code generated for the op: ``args`` holds the fields present, in the
    op's field order; the action is built from them (through ``__init__`` unless the action class is
    a plain record without validators, whose slots are then set directly: the same value)."""
    cls = op.cls
    direct = records.is_plain(cls) and not any(f.validator for f in attrs.fields(cls))
    defaults = {f.name: f.default for f in attrs.fields(cls)}
    scope: dict[str, Any] = {"_UNSET": UNSET, "_Event": trace.Event, "_cls": cls, "_new": object.__new__}
    lines = ["def build(s, line, outcome, has_result, result, state):"]
    names = list(op.kinds)
    for index, name in enumerate(names):
        lines.append(f"    v{index} = s.{name}")
    lines.append("    args = {}")
    for index, name in enumerate(names):
        if name in op.required:
            lines.append(f"    args[{name!r}] = v{index}")
        else:
            scope[f"_default{index}"] = defaults[name]
            lines += [
                f"    if v{index} is _UNSET:",
                f"        v{index} = _default{index}",
                "    else:",
                f"        args[{name!r}] = v{index}",
            ]
    made = records.builder(cls) if direct else None
    if made is not None:  # filled in by plain assignment, then made a ``cls`` (model/records.py rule 7)
        scope["_made"] = made
        lines.append("    action = _new(_made)")
        lines += [f"    action.{name} = v{index}" for index, name in enumerate(names)]
        lines.append("    action.__class__ = _cls")
    elif direct:
        lines.append("    action = _new(_cls)")
        for index, name in enumerate(names):
            scope[f"_set{index}"] = getattr(cls, name).__set__
            lines.append(f"    _set{index}(action, v{index})")
    else:
        lines.append(f"    action = _cls({', '.join(f'{name}=v{index}' for index, name in enumerate(names))})")
    lines.append(f"    return _Event(line, {cls.name!r}, args, action, outcome, result, has_result, state)")
    exec("\n".join(lines), scope)  # the source is built above from the op's own field names
    build: Callable[..., trace.Event] = scope["build"]
    return build


def line_decoder(profile: Profile) -> Callable[[str, int], trace.Event | None]:
    """``decode_line(text, line)`` for ``profile`` (rule 3): the event, or None (ask the reference reader)."""
    decoder = _decoder(profile)
    check = decoder.decode
    data = msgspec.json.Decoder().decode
    ops = trace._OPS[profile]
    builders = {}
    for event_type in get_args(decoder.type):
        op = ops[event_type.__struct_config__.tag]
        if not op.slots:
            builders[event_type] = _builder(op)
    build_event = trace.build_event
    plain = msgspec.to_builtins
    errors = (msgspec.DecodeError, msgspec.ValidationError)

    def decode_line(text: str, line: int) -> trace.Event | None:
        try:
            event = check(text)
        except errors:
            return None
        state = event.state
        if state is not None:
            state = plain(state)
        result = getattr(event, "result", UNSET)
        has_result = result is not UNSET
        build = builders.get(type(event))
        if build is not None:
            return build(event.args, line, event.outcome, has_result, result if has_result else None, state)
        obj = data(text)  # an op with slot arguments: rare, built as the reference reader builds it
        return build_event(ops[obj["op"]], line, obj["args"], obj.get("outcome"), has_result, obj.get("result"), state)

    return decode_line
