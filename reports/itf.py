"""Counterexamples as Informal Trace Format (ITF) JSON, and ITF traces back as counterexamples.

Rules:
1. A trace's vars are the top-level fields of the state snapshot (``reservations`` level:
   ``profile``, ``repo``, ``availabilities``, ...; ``market`` level: the ``MarketState`` fields), in
   field order, then ``mbt::actionTaken`` (the step's action name; ``init`` in state 0),
   ``mbt::nondetPicks``, ``outcome`` (``init``, ``accepted`` or the rejection's kind), ``found`` (the
   id a query returned, an option) and ``violations`` (a list of records ``rule``, ``entity``,
   ``message`` and the options ``expected``, ``observed``, ``known``).
2. ``mbt::nondetPicks`` has, in every state, one field per argument name any step of the trace
   takes (Quint's shape: one record type for the whole trace): ``Some(v)`` for the step's own
   arguments (``None`` where the argument itself is None), ``None`` for the others and in state 0.
   Reading it back drops the ``None`` picks and re-encodes the decoded action, so the arguments
   are the vocabulary's canonical ones (``reports.vocabulary``).
3. Snapshot values: a ``Rec`` is an ITF record (a JSON object), a ``dict`` a ``#map`` (entries in
   sorted key order), a tuple a ``#tup``, a frozenset a ``#set`` (sorted by its elements' JSON text),
   an int ``{"#bigint": "..."}``, a bool or a str itself. ``None`` is the variant
   ``{"tag": "None", "value": {"#tup": []}}`` and a present value of an optional field is written
   plain (not wrapped in ``Some``), so our states read as the model's records. Reading accepts
   ``Some(v)`` as ``v``, and a variant with a unit value (a Quint enum) as its tag's string.
4. ``#meta`` holds ``format``, ``format-description``, ``description``, ``source``, ``vocabulary``,
   ``profile``, ``level``, ``varTypes`` and ``counterexample`` (every field of the value but its
   states: ``initial`` is state 0, each step is the next state), so ``from_itf(to_itf(cx)) == cx``.
5. ``varTypes`` are inferred from the values across all states: Int, Str, Bool, ``Set(T)``,
   ``Seq(T)``, ``<<A, B>>``, ``(K -> V)``, ``{ f: T, ... }``, ``None(UNIT) | Some(T)``. Types of
   the same position in different states are joined (``outcome``, ``found``, ``violations`` and
   ``mbt::actionTaken`` have their declared types); an empty collection's element type is
   unknown and takes the other side's. Where no Apalache type covers every value (an optional
   field holding plain values beside ``None``, a tuple whose length changes, values of two
   kinds) the position gets a fresh type variable (``a``, ``b``, ...): the trace claims nothing
   about it, so the annotation is never wrong, only sometimes uninformative.
6. A trace written by another tool in our vocabulary (Quint, Apalache) may lack
   ``#meta.counterexample`` and the extra vars: its profile and level come from ``#meta.profile``
   and ``#meta.level``, its start from ``#meta.setup`` when given, and the counterexample is a
   ``replay`` of rule ``replay``; unrecorded ``outcome``/``found``/``violations`` are listed in its
   notes (``unobserved: ...``) so a replay does not check them.
7. Every error in a trace is a ``TraceError`` of one line:
   ``<file>: <position>: expected <what>, got <what>`` (JSON syntax errors give ``line L column C``).
8. Output is deterministic: the same value gives the same bytes (``json.dumps`` with sorted keys,
   indent 2, a trailing newline).

Mirrors: Apalache ADR-015 (the Informal Trace Format) and Quint's model-based-testing vars
(``mbt::actionTaken``, ``mbt::nondetPicks``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from model.state import Profile
from reports.counterexample import LEVELS, VOCABULARY, Counterexample, Found, Rec, Side, Step
from reports.vocabulary import VocabularyError, decode_action, encode_action

FORMAT_DESCRIPTION = "https://apalache-mc.org/docs/adr/015adr-trace.html"
SOURCE = "codex-sales-model"
ACTION = "mbt::actionTaken"
PICKS = "mbt::nondetPicks"
EXTRA = (ACTION, PICKS, "outcome", "found", "violations")
NONE: dict[str, Any] = {"tag": "None", "value": {"#tup": []}}
_INT_OPTION = "None(UNIT) | Some(Int)"
_STR_OPTION = "None(UNIT) | Some(Str)"
#: The declared types of the vars every trace of ours has (``mbt::nondetPicks`` is inferred).
EXTRA_TYPES = {
    ACTION: "Str",
    "outcome": "Str",
    "found": _STR_OPTION,
    "violations": (
        f"Seq({{ entity: Str, expected: {_INT_OPTION}, known: {_STR_OPTION}, message: Str, "
        f"observed: {_INT_OPTION}, rule: Str }})"
    ),
}
UNOBSERVED = "unobserved: "


class TraceError(ValueError):
    """A trace that cannot be read: ``<file>: <position>: expected <what>, got <what>``."""

    def __init__(self, source: str, position: str, expected: str, got: str) -> None:
        super().__init__(f"{source}: {position}: expected {expected}, got {got}")


# ---------------------------------------------------------------- writing


def _json_text(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def encode(value: Any) -> Any:
    """A snapshot value as an ITF value (rule 3)."""
    if value is None:
        return dict(NONE)
    if isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return {"#bigint": str(value)}
    if isinstance(value, Rec):
        return {name: encode(field) for name, field in value.items()}
    if isinstance(value, Mapping):
        entries = [[encode(k), encode(v)] for k, v in value.items()]
        return {"#map": sorted(entries, key=lambda e: _json_text(e[0]))}
    if isinstance(value, tuple | list):
        return {"#tup": [encode(v) for v in value]}
    if isinstance(value, frozenset | set):
        return {"#set": sorted((encode(v) for v in value), key=_json_text)}
    raise TypeError(f"cannot write a {type(value).__name__} as ITF")


def _option(value: Any) -> Any:
    return dict(NONE) if value is None else {"tag": "Some", "value": encode(value)}


def _violation(found: Found) -> dict[str, Any]:
    return {
        "rule": found.rule,
        "entity": found.entity,
        "message": found.message,
        "expected": _option(found.expected),
        "observed": _option(found.observed),
        "known": _option(found.known),
    }


def _meta_counterexample(cx: Counterexample) -> dict[str, Any]:
    return {
        "rule": cx.rule,
        "statement": cx.statement,
        "spec": cx.spec,
        "kind": cx.kind,
        "engine": cx.engine,
        "profile": cx.profile,
        "level": cx.level,
        "summary": cx.summary,
        "setup": None if cx.setup is None else {k: encode(v) for k, v in cx.setup.items()},
        "variant": cx.variant,
        "sides": [
            {"step": encode(s.step), "field": s.field, "expected": encode(s.expected), "observed": encode(s.observed)}
            for s in cx.sides
        ],
        "known": cx.known,
        "reproduce": cx.reproduce,
        "notes": list(cx.notes),
    }


def to_itf(cx: Counterexample) -> dict[str, Any]:
    """``cx`` as an ITF trace (rules 1-5)."""
    if not isinstance(cx.initial, Mapping):
        raise TypeError("a counterexample's initial snapshot must be a record to be written as ITF")
    names = list(cx.initial)
    picked = sorted({name for step in cx.steps for name in step.arguments})
    states: list[dict[str, Any]] = []
    init: dict[str, Any] = {name: encode(cx.initial[name]) for name in names}
    init.update(
        {
            ACTION: "init",
            PICKS: {name: dict(NONE) for name in picked},
            "outcome": "init",
            "found": dict(NONE),
            "violations": [],
        }
    )
    states.append(init)
    for step in cx.steps:
        snap = step.state if isinstance(step.state, Mapping) else {}
        state = {name: encode(snap.get(name)) for name in names}
        state.update(
            {
                ACTION: step.action,
                PICKS: {
                    name: _option(step.arguments[name]) if name in step.arguments else dict(NONE) for name in picked
                },
                "outcome": step.outcome,
                "found": _option(step.found),
                "violations": [_violation(v) for v in step.violations],
            }
        )
        states.append(state)
    variables = [*names, *EXTRA]
    for index, state in enumerate(states):
        state["#meta"] = {"index": index}
    return {
        "#meta": {
            "format": "ITF",
            "format-description": FORMAT_DESCRIPTION,
            "description": cx.summary,
            "source": SOURCE,
            "vocabulary": VOCABULARY,
            "profile": cx.profile,
            "level": cx.level,
            "varTypes": {name: EXTRA_TYPES.get(name) or var_type([s[name] for s in states]) for name in variables},
            "counterexample": _meta_counterexample(cx),
        },
        "vars": variables,
        "states": states,
    }


def dumps(cx: Counterexample) -> str:
    """``to_itf(cx)`` as JSON text: sorted keys, indent 2, a trailing newline (rule 8)."""
    return json.dumps(to_itf(cx), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


# ---------------------------------------------------------------- types (rule 5)

_UNKNOWN = ("unknown",)
_CONFLICT = ("conflict",)


def _type_of(value: Any) -> tuple[Any, ...]:
    if isinstance(value, bool):
        return ("Bool",)
    if isinstance(value, str):
        return ("Str",)
    if isinstance(value, list):
        return ("Seq", _join_all([_type_of(v) for v in value]))
    if not isinstance(value, dict):
        return _CONFLICT
    if "#bigint" in value:
        return ("Int",)
    if "#tup" in value:
        return ("Tup", tuple(_type_of(v) for v in value["#tup"]))
    if "#set" in value:
        return ("Set", _join_all([_type_of(v) for v in value["#set"]]))
    if "#map" in value:
        entries = value["#map"]
        return ("Map", _join_all([_type_of(k) for k, _ in entries]), _join_all([_type_of(v) for _, v in entries]))
    if set(value) == {"tag", "value"}:
        if value["tag"] == "None":
            return ("Var", (("None", ("UNIT",)),))
        return ("Var", ((str(value["tag"]), _type_of(value["value"])),))
    return ("Rec", tuple(sorted((k, _type_of(v)) for k, v in value.items() if not k.startswith("#"))))


def _join_all(types: list[tuple[Any, ...]]) -> tuple[Any, ...]:
    joined = _UNKNOWN
    for one in types:
        joined = _join(joined, one)
    return joined


def _join(first: tuple[Any, ...], second: tuple[Any, ...]) -> tuple[Any, ...]:
    if first == _UNKNOWN:
        return second
    if second == _UNKNOWN:
        return first
    if first == second:
        return first
    if _CONFLICT in (first, second) or first[0] != second[0]:
        return _CONFLICT
    kind = first[0]
    if kind in ("Seq", "Set"):
        return (kind, _join(first[1], second[1]))
    if kind == "Map":
        return ("Map", _join(first[1], second[1]), _join(first[2], second[2]))
    if kind == "Tup":
        if len(first[1]) != len(second[1]):
            return _CONFLICT
        return ("Tup", tuple(_join(a, b) for a, b in zip(first[1], second[1], strict=True)))
    if kind == "Rec":
        mine, theirs = dict(first[1]), dict(second[1])
        if set(mine) != set(theirs):
            return _CONFLICT
        return ("Rec", tuple((k, _join(mine[k], theirs[k])) for k in sorted(mine)))
    if kind == "Var":
        tags = dict(first[1])
        for tag, inner in second[1]:
            tags[tag] = _join(tags[tag], inner) if tag in tags else inner
        return ("Var", tuple(sorted(tags.items())))
    return _CONFLICT


class _Letters:
    def __init__(self) -> None:
        self.used = 0

    def fresh(self) -> str:
        letter = "abcdefghijklmnopqrstuvwxyz"[self.used % 26]
        suffix = "" if self.used < 26 else str(self.used // 26)
        self.used += 1
        return letter + suffix


def _show(kind: tuple[Any, ...], letters: _Letters) -> str:
    name = kind[0]
    if kind in (_UNKNOWN, _CONFLICT):
        return letters.fresh()
    if name in ("Int", "Str", "Bool", "UNIT"):
        return str(name)
    if name in ("Seq", "Set"):
        return f"{name}({_show(kind[1], letters)})"
    if name == "Map":
        return f"({_show(kind[1], letters)} -> {_show(kind[2], letters)})"
    if name == "Tup":
        return "<<" + ", ".join(_show(k, letters) for k in kind[1]) + ">>"
    if name == "Rec":
        if not kind[1]:
            return "{}"
        return "{ " + ", ".join(f"{k}: {_show(v, letters)}" for k, v in kind[1]) + " }"
    return " | ".join(f"{tag}({_show(inner, letters)})" for tag, inner in kind[1])


def var_type(values: list[Any]) -> str:
    """The Apalache type of one var, from its ITF values in every state (rule 5)."""
    return _show(_join_all([_type_of(v) for v in values]), _Letters())


# ---------------------------------------------------------------- reading


def _got(value: Any) -> str:
    if value is None:
        return "nothing"
    text = json.dumps(value, sort_keys=True, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


class _Reader:
    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, position: str, expected: str, got: Any) -> TraceError:
        return TraceError(self.source, position, expected, _got(got))

    def value(self, value: Any, where: str) -> Any:  # noqa: PLR0912
        if isinstance(value, bool | str):
            return value
        if isinstance(value, int | float):
            raise self.fail(where, 'an integer as {"#bigint": "..."}', value)
        if isinstance(value, list):
            return tuple(self.value(v, f"{where}[{i}]") for i, v in enumerate(value))
        if not isinstance(value, dict):
            raise self.fail(where, "an ITF value", value)
        if "#bigint" in value:
            text = value["#bigint"]
            if len(value) != 1 or not isinstance(text, str):
                raise self.fail(where, 'an integer as {"#bigint": "..."}', value)
            try:
                return int(text)
            except ValueError:
                raise self.fail(where, "a decimal integer in #bigint", text) from None
        for key in ("#tup", "#set", "#map"):
            if key in value:
                items = value[key]
                if len(value) != 1 or not isinstance(items, list):
                    raise self.fail(where, f"{key} with a list", value)
                if key == "#tup":
                    return tuple(self.value(v, f"{where}.#tup[{i}]") for i, v in enumerate(items))
                if key == "#set":
                    return self._set(items, where)
                return self._map(items, where)
        if set(value) == {"tag", "value"}:
            return self._variant(value, where)
        odd = sorted(k for k in value if k.startswith("#"))
        if odd:
            raise self.fail(f"{where}.{odd[0]}", "a record field, #bigint, #tup, #set or #map", odd[0])
        return Rec({name: self.value(field, f"{where}.{name}") for name, field in value.items()})

    def _set(self, items: list[Any], where: str) -> frozenset[Any]:
        members = [self.value(v, f"{where}.#set[{i}]") for i, v in enumerate(items)]
        try:
            return frozenset(members)
        except TypeError:
            raise self.fail(where, "set members that are scalars, tuples or sets", items) from None

    def _map(self, items: list[Any], where: str) -> dict[Any, Any]:
        found: dict[Any, Any] = {}
        for index, entry in enumerate(items):
            spot = f"{where}.#map[{index}]"
            if not isinstance(entry, list) or len(entry) != 2:
                raise self.fail(spot, "a [key, value] pair", entry)
            key = self.value(entry[0], f"{spot}[0]")
            try:
                hash(key)
            except TypeError:
                raise self.fail(f"{spot}[0]", "a map key that is a scalar, tuple or set", entry[0]) from None
            found[key] = self.value(entry[1], f"{spot}[1]")
        return found

    def _variant(self, value: dict[str, Any], where: str) -> Any:
        tag = value["tag"]
        if tag == "None":
            return None
        if tag == "Some":
            return self.value(value["value"], f"{where}.value")
        if isinstance(tag, str) and value["value"] == {"#tup": []}:
            return tag
        raise self.fail(where, "a None or Some variant, or a variant with a unit value", value)

    def option(self, value: Any, where: str) -> Any:
        if isinstance(value, dict) and set(value) == {"tag", "value"} and value["tag"] in ("None", "Some"):
            return self.value(value, where)
        raise self.fail(where, 'an option ({"tag": "Some" | "None", "value": ...})', value)

    def text(self, value: Any, where: str, *, optional: bool = False) -> Any:
        if isinstance(value, str) or (optional and value is None):
            return value
        raise self.fail(where, "a string" + (" or null" if optional else ""), value)


def _found(reader: _Reader, value: Any, where: str) -> Found:
    if not isinstance(value, dict):
        raise reader.fail(where, "a violation record", value)
    fields = {}
    for name in ("rule", "entity", "message"):
        fields[name] = reader.text(value.get(name), f"{where}.{name}")
    for name in ("expected", "observed"):
        number = reader.option(value.get(name), f"{where}.{name}")
        if number is not None and (not isinstance(number, int) or isinstance(number, bool)):
            raise reader.fail(f"{where}.{name}", "an integer option", value.get(name))
        fields[name] = number
    known = reader.option(value.get("known"), f"{where}.known")
    fields["known"] = reader.text(known, f"{where}.known", optional=True)
    return Found(**fields)


_ARGUMENT_ERROR = re.compile(r"^\w+\.(\w+): expected (.*), got (.*)$")


def _canonical(
    reader: _Reader, profile: Profile, level: str, name: str, picks: dict[str, Any], where: str
) -> dict[str, Any]:
    """The step's arguments as the vocabulary encodes them (rule 2); ``where`` is the state."""
    arguments = {k: v for k, v in picks.items() if v is not None}
    try:
        action = decode_action(profile, level, name, arguments)
    except VocabularyError as error:
        bad = _ARGUMENT_ERROR.match(str(error))
        if bad:
            raise TraceError(reader.source, f"{where}.{PICKS}.{bad[1]}", bad[2], bad[3]) from None
        raise TraceError(reader.source, f"{where}.{ACTION}", "an action of the vocabulary", str(error)) from None
    return encode_action(action)[1]


def _meta_value(meta: Mapping[str, Any], key: str) -> Any:
    inner = meta.get("counterexample")
    if isinstance(inner, dict) and key in inner:
        return inner[key]
    return meta.get(key)


def from_itf(document: object, source: str) -> Counterexample:  # noqa: PLR0912, PLR0915
    """The counterexample an ITF trace records (rules 1-7); ``source`` names it in errors."""
    reader = _Reader(source)
    if not isinstance(document, dict):
        raise reader.fail("document", "an object with #meta, vars and states", document)
    meta = document.get("#meta", {})
    if not isinstance(meta, dict):
        raise reader.fail("#meta", "an object", meta)
    vocabulary = meta.get("vocabulary")
    if vocabulary is not None and vocabulary != VOCABULARY:
        raise reader.fail("#meta.vocabulary", json.dumps(VOCABULARY), vocabulary)
    variables = document.get("vars")
    if not isinstance(variables, list) or not all(isinstance(v, str) for v in variables):
        raise reader.fail("vars", "a list of var names", variables)
    states = document.get("states")
    if not isinstance(states, list) or not states:
        raise reader.fail("states", "a non-empty list of states", states)
    profile_name = _meta_value(meta, "profile")
    if profile_name is None:
        raise reader.fail(
            "#meta.profile", "the profile (codex-535 or codex-head), needed without #meta.counterexample", None
        )
    try:
        profile = Profile(profile_name)
    except ValueError:
        raise reader.fail("#meta.profile", "codex-535 or codex-head", profile_name) from None
    level = _meta_value(meta, "level")
    if level not in LEVELS:
        raise reader.fail("#meta.level", "reservations or market, needed without #meta.counterexample", level)
    own = isinstance(meta.get("counterexample"), dict)
    names = [v for v in variables if v not in EXTRA]
    unobserved = sorted(v for v in ("found", "outcome", "violations") if v not in variables)
    snapshots: list[Rec] = []
    steps: list[Step] = []
    for index, state in enumerate(states):
        where = f"states[{index}]"
        if not isinstance(state, dict):
            raise reader.fail(where, "a state object", state)
        for name in variables:
            if name not in state:
                raise reader.fail(f"{where}.{name}", f"the var {name} (every state defines every var)", None)
        snapshots.append(Rec({name: reader.value(state[name], f"{where}.{name}") for name in names}))
        if index == 0:
            continue
        if ACTION not in state:
            raise reader.fail(f"{where}.{ACTION}", "the action taken (var mbt::actionTaken)", None)
        action = reader.text(state[ACTION], f"{where}.{ACTION}")
        raw_picks = state.get(PICKS, {})
        if not isinstance(raw_picks, dict):
            raise reader.fail(f"{where}.{PICKS}", "a record of options", raw_picks)
        picks = {k: reader.option(v, f"{where}.{PICKS}.{k}") for k, v in raw_picks.items()}
        arguments = _canonical(reader, profile, level, action, picks, where)
        outcome = reader.text(state.get("outcome", "accepted"), f"{where}.outcome")
        found = reader.option(state.get("found", NONE), f"{where}.found")
        found = reader.text(found, f"{where}.found", optional=True)
        violations = state.get("violations", [])
        if not isinstance(violations, list):
            raise reader.fail(f"{where}.violations", "a list of violation records", violations)
        steps.append(
            Step(
                action=action,
                arguments=arguments,
                outcome=outcome,
                found=found,
                state=snapshots[index],
                violations=tuple(_found(reader, v, f"{where}.violations[{i}]") for i, v in enumerate(violations)),
            )
        )
    if own:
        return _own(reader, meta["counterexample"], snapshots[0], tuple(steps))
    setup = meta.get("setup")
    if setup is not None and not isinstance(setup, dict):
        raise reader.fail("#meta.setup", "an object of initial_state / initial_market arguments", setup)
    return Counterexample(
        rule="replay",
        statement="The trace replays through the model.",
        spec="",
        kind="divergence",
        engine="replay",
        profile=profile.value,
        level=level,
        summary=str(meta.get("description") or f"a trace of {len(steps)} step(s) read from {source}"),
        initial=snapshots[0],
        steps=tuple(steps),
        setup=None if setup is None else {k: _plain(reader.value(v, f"#meta.setup.{k}")) for k, v in setup.items()},
        notes=(UNOBSERVED + ", ".join(unobserved),) if unobserved else (),
    )


def _plain(value: Any) -> Any:
    return dict(value) if isinstance(value, Rec) else value


def _own(reader: _Reader, meta: dict[str, Any], initial: Rec, steps: tuple[Step, ...]) -> Counterexample:
    where = "#meta.counterexample"
    fields: dict[str, Any] = {}
    for name in ("rule", "statement", "spec", "kind", "engine", "profile", "level", "summary", "reproduce"):
        fields[name] = reader.text(meta.get(name), f"{where}.{name}")
    for name in ("variant", "known"):
        fields[name] = reader.text(meta.get(name), f"{where}.{name}", optional=True)
    setup = meta.get("setup")
    if setup is not None and not isinstance(setup, dict):
        raise reader.fail(f"{where}.setup", "an object or null", setup)
    fields["setup"] = None if setup is None else {k: reader.value(v, f"{where}.setup.{k}") for k, v in setup.items()}
    notes = meta.get("notes", [])
    if not isinstance(notes, list):
        raise reader.fail(f"{where}.notes", "a list of strings", notes)
    fields["notes"] = tuple(reader.text(n, f"{where}.notes[{i}]") for i, n in enumerate(notes))
    sides = meta.get("sides", [])
    if not isinstance(sides, list):
        raise reader.fail(f"{where}.sides", "a list of sides", sides)
    read_sides = []
    for index, side in enumerate(sides):
        spot = f"{where}.sides[{index}]"
        if not isinstance(side, dict):
            raise reader.fail(spot, "a side record", side)
        step = reader.value(side.get("step"), f"{spot}.step")
        if not isinstance(step, int) or isinstance(step, bool):
            raise reader.fail(f"{spot}.step", "an integer step", side.get("step"))
        read_sides.append(
            Side(
                step=step,
                field=reader.text(side.get("field"), f"{spot}.field"),
                expected=reader.value(side.get("expected"), f"{spot}.expected"),
                observed=reader.value(side.get("observed"), f"{spot}.observed"),
            )
        )
    return Counterexample(**fields, initial=initial, steps=steps, sides=tuple(read_sides))


def loads(text: str, source: str) -> Counterexample:
    """The counterexample of ITF JSON ``text``; syntax errors name the line and column (rule 7)."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        got = "the end of the file" if error.pos >= len(text.rstrip()) else f"a syntax error ({error.msg})"
        raise TraceError(source, f"line {error.lineno} column {error.colno}", "valid JSON", got) from None
    return from_itf(document, source)


def load(path: str | Path) -> Counterexample:
    """The counterexample saved in the ITF file ``path``; an unreadable file is a ``TraceError``."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise TraceError(str(path), "file", "a readable ITF file", error.strerror or type(error).__name__) from None
    except UnicodeDecodeError:
        raise TraceError(str(path), "file", "UTF-8 text", "undecodable bytes") from None
    return loads(text, str(path))
