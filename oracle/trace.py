"""The JSON-lines trace vocabulary (version 1): reading a recorded run and checking it against the model.

Rules:
1. A trace file is JSON lines. Line 1 is the header ``{"trace": "codex-sales-model/oracle",
   "version": 1, "profile": "codex-head", "setup": {...}}`` (``setup`` optional: keyword arguments
   of ``model.state.initial_state``, ``quota_max_bytes`` and ``used``). Every other non-empty line
   is one event ``{"op", "args", "outcome"?, "result"?, "state"?}``:
   ``op`` an operation of ``model.actions`` for the profile (reservations level); ``args`` its
   arguments as JSON (ids are the implementation's ids, used as model ids; ``active_slots`` a list
   of ``[request_id, slot_index]``); ``outcome`` ``"accepted"`` or a rejection kind of
   ``model.errors`` (absent: not observed); ``result`` the id a ``find_availability`` returned,
   ``null`` for none (absent: not observed); ``state`` a partial record of the state after the
   event: ``{"availabilities": {id: {field: value} | null}, "reservations": {...},
   "repo": {"max_bytes", "used", "reserved"}}``, any subset, ``null`` for an entity recorded absent.
2. Bad input (``TraceFormatError``, one line ``<file>:<line>: expected <what>, got <what>``; the
   CLI exits 2) is anything that is not a trace of this vocabulary: a line that is not JSON or not
   an object, a truncated last line, a wrong header or version, an unknown op, argument, field,
   outcome kind or state field, a value of the wrong JSON type (an integer that is not an
   integer; a boolean that is not a boolean), ``result`` on an op that is not a query, and an id in
   ``args`` or ``result`` that no earlier create introduced (a create counts unless its recorded
   outcome is a rejection; an id once created stays known after its delete, so using a deleted id
   is compared with the model, which rejects it). An integer out of nim-codex's range is NOT bad
   input: the model rejects it with its own rejection kind (``OutOfRange``, ...), compared like any outcome.
3. A divergence (exit 1) is an event whose recorded outcome, result, or any recorded state field
   differs from the model's after running the same operation from the header's setup; fields not
   recorded are not checked (partial observability).
4. A violation (exit 1) is an event after which the model itself breaks an invariant or a
   transition property that is not a known nim-codex behaviour: the recorded run took the model
   somewhere the catalogue forbids (returning more bytes than were written), or the operation
   table is a broken variant's. Known ones are listed once per (rule, entity), never failures.
5. ``check`` reports the FIRST failing event only. It runs each operation once, compares only
   the recorded leaves, and runs the rule checks as oracle/pipeline.py says: only after an event
   that changed the state for the invariants (a rejection or a query leaves the very same
   immutable state, already checked), only the properties about the step, and with the model's
   own operations only on the records the event touched (pipeline rule 6); ``full=True`` (and any
   other operation table) checks the whole state after every change. The checks of each chunk of
   events may run in forked workers; the report is the same for any number of them.
6. ``check_file`` dispatches on the name: ``*.itf.json`` goes to ``reports.itf.load`` and
   ``reports.replay.replay``; anything else is read and checked as it streams (``check_lines``).
7. Reading: ``oracle.decode`` decodes and type-checks a line in one msgspec call; a line it does
   not take goes to the reference reader here, which accepts it or names what is wrong. Both give
   the same event: ``args`` in the operation's field order, ``state`` in the canonical order (its
   parts as in rule 1, each record's fields in the record's field order, ids as recorded).

Mirrors: codex-sales-spec §2 (the Reservations procedures, one op each), §1.2 (record fields),
§1.4 (repo counters), §5 (REST rejections); reports/replay.py (divergence and violation).
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple, cast

import attrs

from model import errors
from model.actions import OPERATIONS, Accepted, Action, OperationTable
from model.entities import Availability535, AvailabilityHead, Reservation535, ReservationHead
from model.errors import Rejection
from model.quota import RepoQuota
from model.state import AnyState, Profile
from reports.build import found as as_found
from reports.build import start_state
from reports.counterexample import Counterexample, Found, Side
from reports.replay import Difference

TRACE = "codex-sales-model/oracle"
VERSION = 1
LEVEL = "reservations"
SETUP_FIELDS = ("quota_max_bytes", "used")
STATE_PARTS = ("availabilities", "reservations", "repo")
#: Rule name of a divergence counterexample (not a catalogue rule).
DIVERGENCE = "oracle_divergence"


class TraceFormatError(ValueError):
    """A trace that is not in the vocabulary: one line ``<file>:<line>: expected <what>, got <what>``."""

    def __init__(self, source: str, line: int, expected: str, got: str) -> None:
        super().__init__(f"{source}:{line}: expected {expected}, got {got}")
        self.source = source
        self.line = line


@attrs.frozen(kw_only=True)
class Header:
    """The first line: the profile and the ``initial_state`` arguments; ``source`` names the file."""

    profile: Profile
    setup: Mapping[str, int] = attrs.field(factory=dict)
    source: str = "<trace>"

    def to_json(self) -> dict[str, Any]:
        found: dict[str, Any] = {"trace": TRACE, "version": VERSION, "profile": self.profile.value}
        if self.setup:
            found["setup"] = dict(self.setup)
        return found


class Event(NamedTuple):
    """One recorded operation: ``line`` in the file, the op and raw ``args``, the decoded ``action``,
    the recorded ``outcome``/``result`` (``has_result`` says whether a result was recorded) and the
    partial ``state`` (or None)."""

    line: int
    op: str
    args: dict[str, Any]
    action: Action
    outcome: str | None = None
    result: str | None = None
    has_result: bool = False
    state: dict[str, Any] | None = None


def _got(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int):
        return f"the integer {value}"
    if isinstance(value, float):
        return f"the number {value!r}"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return repr(value)


# --- the vocabulary, compiled once per profile ------------------------------------------------

_INT, _STR, _BOOL, _OPT_INT, _OPT_BOOL, _SLOTS = "int", "str", "bool", "int?", "bool?", "slots"
_WHAT = {
    _INT: "an integer",
    _STR: "a string",
    _BOOL: "a boolean",
    _OPT_INT: "an integer or null",
    _OPT_BOOL: "a boolean or null",
    _SLOTS: "a list of [request_id, slot_index] pairs",
}


def _kind_of(annotation: Any) -> str:
    text = str(annotation).replace("typing.", "")
    table = {
        "int": _INT,
        "str": _STR,
        "bool": _BOOL,
        "int | None": _OPT_INT,
        "bool | None": _OPT_BOOL,
        "frozenset[tuple[str, int]]": _SLOTS,
    }
    if text not in table:
        raise TypeError(f"no trace encoding for {text}")
    return table[text]


class _Op(NamedTuple):
    cls: type[Action]
    kinds: dict[str, str]
    required: frozenset[str]
    query: bool
    slots: tuple[str, ...]


def _ops(profile: Profile) -> dict[str, _Op]:
    found = {}
    for cls in OPERATIONS[profile]:
        kinds = {f.name: _kind_of(f.type) for f in attrs.fields(cls)}
        required = frozenset(f.name for f in attrs.fields(cls) if f.default is attrs.NOTHING)
        slots = tuple(name for name, kind in kinds.items() if kind == _SLOTS)
        found[cls.name] = _Op(cls=cls, kinds=kinds, required=required, query=cls.query, slots=slots)
    return found


def _entity_kinds(cls: type[Any]) -> dict[str, str]:
    return {f.name: _kind_of(f.type) for f in attrs.fields(cls)}


_OPS = {p: _ops(p) for p in Profile}
_ENTITIES = {
    Profile.CODEX_535: {
        "availabilities": _entity_kinds(Availability535),
        "reservations": _entity_kinds(Reservation535),
    },
    Profile.CODEX_HEAD: {
        "availabilities": _entity_kinds(AvailabilityHead),
        "reservations": _entity_kinds(ReservationHead),
    },
}
_REPO = _entity_kinds(RepoQuota)
OUTCOMES = frozenset(
    {"accepted"}
    | {
        name
        for name, value in vars(errors).items()
        if isinstance(value, type) and issubclass(value, Rejection) and value is not Rejection
    }
)
#: The argument that introduces a new id, per op (the others that name an id refer to one).
_INTRODUCES = {"create_availability": "availability_id", "create_reservation": "reservation_id"}
_ID_ARGS = {"availability_id": "availability", "reservation_id": "reservation"}
#: Per introduced argument (None: none), the (argument, entity) pairs an event must name known ids by.
_ID_CHECKS = {
    introduced: tuple((name, entity) for name, entity in _ID_ARGS.items() if name != introduced)
    for introduced in (None, *_INTRODUCES.values())
}


_EVENT_KEYS = frozenset({"op", "args", "outcome", "result", "state"})
#: Kinds checked by one exact type test (``bool`` is not an ``int`` here, nor ``int`` a ``bool``).
_SIMPLE: dict[str, type] = {_INT: int, _STR: str, _BOOL: bool}


def _accepts(kind: str, value: Any) -> bool:
    t = type(value)
    if kind == _INT:
        return t is int
    if kind == _STR:
        return t is str
    if kind == _BOOL:
        return t is bool
    if kind == _OPT_INT:
        return value is None or t is int
    if kind == _OPT_BOOL:
        return value is None or t is bool
    return t is list and all(type(p) is list and len(p) == 2 and type(p[0]) is str and type(p[1]) is int for p in value)


# --- parsing ------------------------------------------------------------------------------------


def parse_header(obj: object, source: str, line: int = 1) -> Header:
    """The header line as a ``Header`` (rule 1), or a ``TraceFormatError``."""
    if not isinstance(obj, dict):
        raise TraceFormatError(source, line, "a header object", _got(obj))
    if obj.get("trace") != TRACE:
        raise TraceFormatError(source, line, f'a header with "trace": "{TRACE}"', _got(obj.get("trace")))
    version = obj.get("version")
    if type(version) is not int or version != VERSION:
        raise TraceFormatError(source, line, f"version {VERSION}", _got(version))
    unknown = sorted(set(obj) - {"trace", "version", "profile", "setup"})
    if unknown:
        raise TraceFormatError(source, line, "header keys trace, version, profile, setup", f"{unknown[0]!r}")
    try:
        profile = Profile(obj.get("profile"))
    except ValueError:
        choices = ", ".join(p.value for p in Profile)
        raise TraceFormatError(source, line, f"a profile ({choices})", _got(obj.get("profile"))) from None
    setup = obj.get("setup", {})
    if not isinstance(setup, dict):
        raise TraceFormatError(source, line, "setup to be an object", _got(setup))
    for key, value in setup.items():
        if key not in SETUP_FIELDS:
            raise TraceFormatError(source, line, f"setup keys {', '.join(SETUP_FIELDS)}", repr(key))
        if type(value) is not int or value < 0:
            raise TraceFormatError(source, line, f"setup.{key} to be a non-negative integer", _got(value))
    return Header(profile=profile, setup=dict(setup), source=source)


def _parse_record(part: str, key: str, record: Any, kinds: dict[str, str], source: str, line: int) -> None:
    if record is None and part != "repo":
        return
    where = f"state.{part}" if part == "repo" else f"state.{part}.{key}"
    if not isinstance(record, dict):
        raise TraceFormatError(source, line, f"{where} to be an object of fields", _got(record))
    for field, value in record.items():
        kind = kinds.get(field)
        if kind is None:
            raise TraceFormatError(source, line, f"a field of {where} ({', '.join(kinds)})", repr(field))
        simple = _SIMPLE.get(kind)
        if (type(value) is not simple) if simple is not None else not _accepts(kind, value):
            raise TraceFormatError(source, line, f"{where}.{field} to be {_WHAT[kind]}", _got(value))


def _parse_state(state: Any, entities: dict[str, dict[str, str]], source: str, line: int) -> dict[str, Any]:
    if not isinstance(state, dict):
        raise TraceFormatError(source, line, "state to be an object", _got(state))
    for part, value in state.items():
        if part == "repo":
            _parse_record(part, "", value, _REPO, source, line)
            continue
        kinds = entities.get(part)
        if kinds is None:
            raise TraceFormatError(source, line, f"a state part ({', '.join(STATE_PARTS)})", repr(part))
        if not isinstance(value, dict):
            raise TraceFormatError(source, line, f"state.{part} to be an object of id -> record", _got(value))
        for key, record in value.items():
            _parse_record(part, key, record, kinds, source, line)
    return canonical_state(state, entities)


def canonical_state(state: dict[str, Any], entities: dict[str, dict[str, str]]) -> dict[str, Any]:
    """A checked ``state`` in the canonical order (rule 7): parts as ``entities`` lists them, then
    ``repo``; each record's fields in the record's field order; ids in their recorded order."""
    canonical: dict[str, Any] = {}
    for part, kinds in entities.items():
        if part in state:
            canonical[part] = {
                key: None if record is None else {field: record[field] for field in kinds if field in record}
                for key, record in state[part].items()
            }
    if "repo" in state:
        canonical["repo"] = {field: state["repo"][field] for field in _REPO if field in state["repo"]}
    return canonical


def parse_event(obj: object, line: int, source: str, profile: Profile) -> Event:
    """One event line (already JSON-decoded) as an ``Event`` (rules 1, 2); ids are not checked here
    (``load_events`` and ``check`` check them against the events before)."""
    return _parse_event(obj, line, source, profile, _OPS[profile])


def _parse_event(  # noqa: PLR0912 - one check per key of the vocabulary
    obj: object,
    line: int,
    source: str,
    profile: Profile,
    ops: dict[str, _Op],
    entities: dict[str, dict[str, str]] | None = None,
) -> Event:
    if type(obj) is not dict:
        raise TraceFormatError(source, line, "an event object", _got(obj))
    op_name = obj.get("op")
    op = ops.get(op_name) if type(op_name) is str else None
    if op is None:
        raise TraceFormatError(
            source, line, f"an op of {profile.value} ({', '.join(sorted(_OPS[profile]))})", _got(op_name)
        )
    if not obj.keys() <= _EVENT_KEYS:
        extra = [k for k in obj if k not in _EVENT_KEYS]
        if extra:
            raise TraceFormatError(source, line, "event keys op, args, outcome, result, state", repr(extra[0]))
    args = obj.get("args", {})
    if type(args) is not dict:
        raise TraceFormatError(source, line, "args to be an object", _got(args))
    kinds = op.kinds
    for key, value in args.items():
        kind = kinds.get(key)
        if kind is None:
            raise TraceFormatError(source, line, f"an argument of {op_name} ({', '.join(kinds)})", repr(key))
        simple = _SIMPLE.get(kind)
        if (type(value) is not simple) if simple is not None else not _accepts(kind, value):
            raise TraceFormatError(source, line, f"args.{key} to be {_WHAT[kind]}", _got(value))
    if not op.required <= args.keys():
        missing = sorted(op.required - args.keys())
        raise TraceFormatError(source, line, f"args.{missing[0]} (required by {op_name})", "no such argument")
    outcome = obj.get("outcome")
    if outcome is not None and (type(outcome) is not str or outcome not in OUTCOMES):
        raise TraceFormatError(source, line, "an outcome: accepted or a rejection kind of model.errors", _got(outcome))
    has_result = "result" in obj
    result = obj.get("result")
    if has_result:
        if not op.query:
            raise TraceFormatError(source, line, "result only on a query (find_availability)", f"result on {op_name}")
        if result is not None and type(result) is not str:
            raise TraceFormatError(source, line, "result to be an availability id or null", _got(result))
    state = obj.get("state")
    if state is not None:
        state = _parse_state(state, _ENTITIES[profile] if entities is None else entities, source, line)
    return build_event(op, line, args, outcome, has_result, result, state)


def build_event(
    op: _Op,
    line: int,
    args: dict[str, Any],
    outcome: str | None,
    has_result: bool,
    result: str | None,
    state: dict[str, Any] | None,
) -> Event:
    """The ``Event`` of a line already checked (rules 1-2), by the reference reader (and by
    ``oracle.decode`` for ops with slot arguments): ``args`` in the operation's field order, the
    action built from them; ``state`` as given (already canonical, rule 7)."""
    ordered = {key: args[key] for key in op.kinds if key in args}
    values = ordered
    for key in op.slots:
        if key in ordered:
            values = {**values, key: frozenset((p[0], p[1]) for p in ordered[key])}
    return Event(line, op.cls.name, ordered, op.cls(**values), outcome, result, has_result, state)


class _Ids:
    """The ids the creates so far introduced (rule 2), fed one event at a time."""

    def __init__(self) -> None:
        self.created: dict[str, set[str]] = {"availability": set(), "reservation": set()}

    def unknown(self, event: Event) -> tuple[str, str] | None:
        """The (argument, id) of ``event`` no earlier create introduced, or None; then records its create."""
        args = event.args
        created = self.created
        introduced = _INTRODUCES.get(event.op)
        for name, entity in _ID_CHECKS[introduced]:
            if name in args and args[name] not in created[entity]:
                return name, args[name]
        if event.result is not None and event.result not in created["availability"]:
            return "result", event.result
        if introduced is not None and (event.outcome is None or event.outcome == "accepted"):
            created[_ID_ARGS[introduced]].add(args[introduced])
        return None


def unknown_id(events: Iterable[Event]) -> tuple[Event, str, str] | None:
    """The first (event, argument, id) whose id no earlier create introduced (rule 2), or None."""
    ids = _Ids()
    for event in events:
        bad = ids.unknown(event)
        if bad is not None:
            return event, bad[0], bad[1]
    return None


def _unknown_id_error(source: str, event: Event, name: str, value: str) -> TraceFormatError:
    where = name if name == "result" else f"args.{name}"
    what = f"{where} to name an id created by an earlier accepted create"
    return TraceFormatError(source, event.line, what, f"{value!r}, never created before line {event.line}")


def _raise_unknown_id(events: Sequence[Event], source: str) -> None:
    bad = unknown_id(events)
    if bad is not None:
        raise _unknown_id_error(source, *bad)


def load_events(lines: Iterable[str], source: str, *, fast: bool = True) -> tuple[Header, list[Event]]:
    """The header and events of a JSON-lines trace (rules 1, 2); a ``TraceFormatError`` names the line.

    ``fast`` reads each line through ``oracle.decode`` first and falls back to the reference reader
    for any line it does not take (rule 7); ``fast=False`` uses the reference reader alone."""
    with _no_gc():
        return _load_events(lines, source, fast)


@contextlib.contextmanager
def _no_gc() -> Iterator[None]:
    """The cyclic collector paused: reading and checking allocate many objects and free no cycles."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _load_events(lines: Iterable[str], source: str, fast: bool = True) -> tuple[Header, list[Event]]:
    stream = read_events(lines, source, fast=fast)
    header = next(stream)
    assert isinstance(header, Header)
    return header, list(stream)  # type: ignore[arg-type]


def read_events(lines: Iterable[str], source: str, *, fast: bool = True) -> Iterator[Header | Event]:
    """The header, then each event as its line is read (rules 1, 2, 7). A bad line raises
    ``TraceFormatError`` when it is reached; an id no earlier create introduced is reported only
    after the last line, so the first error is the one ``load_events`` reports (a bad line anywhere
    before an unknown id anywhere)."""
    header: Header | None = None
    loads = json.loads
    profile = Profile.CODEX_HEAD
    ops, entities = _OPS[profile], _ENTITIES[profile]
    quick: Any = None
    ids = _Ids()
    unknown: TraceFormatError | None = None
    number = 0
    for number, text in enumerate(lines, start=1):
        event = None if quick is None else quick(text, number)
        if event is None:
            if not text.strip():
                continue
            try:
                obj = loads(text)
            except json.JSONDecodeError as error:
                if not text.endswith("\n"):
                    raise TraceFormatError(source, number, "a complete JSON line", "a truncated last line") from None
                raise TraceFormatError(source, number, "a JSON value", f"invalid JSON ({error.msg})") from None
            if header is None:
                header = parse_header(obj, source, number)
                profile = header.profile
                ops, entities = _OPS[profile], _ENTITIES[profile]
                if fast:
                    from oracle.decode import line_decoder

                    quick = line_decoder(profile)
                yield header
                continue
            event = _parse_event(obj, number, source, profile, ops, entities)
        if unknown is None:
            bad = ids.unknown(event)
            if bad is not None:
                unknown = _unknown_id_error(source, event, *bad)
        yield event
    if header is None:
        raise TraceFormatError(source, max(number, 1), "a header line", "an empty file")
    if unknown is not None:
        raise unknown


def load_file(path: str | Path) -> tuple[Header, list[Event]]:
    """``load_events`` on a file; an unreadable file is a ``TraceFormatError`` at line 0."""
    try:
        with open(path, encoding="utf-8") as handle:
            return load_events(handle, str(path))
    except OSError as error:
        raise TraceFormatError(str(path), 0, "a readable file", error.strerror or str(error)) from None
    except UnicodeDecodeError:
        raise TraceFormatError(str(path), 0, "UTF-8 text", "undecodable bytes") from None


def dump_events(header: Header, events: Iterable[Event]) -> str:
    """The trace as JSON-lines text (keys in a fixed order; the inverse of ``load_events``)."""
    out = [json.dumps(header.to_json())]
    for event in events:
        obj: dict[str, Any] = {"op": event.op, "args": event.args}
        if event.outcome is not None:
            obj["outcome"] = event.outcome
        if event.has_result:
            obj["result"] = event.result
        if event.state is not None:
            obj["state"] = event.state
        out.append(json.dumps(obj))
    return "\n".join(out) + "\n"


# --- checking -----------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class TraceReport:
    """What ``check`` found: ``ok``, or the first failing event (``line``, 0-based ``event_index``),
    its ``kind`` (divergence | violation), a sentence, and the differences or violations; ``trace``
    holds the events up to and including the failing one (none when ok)."""

    ok: bool
    kind: str | None
    line: int | None
    event_index: int | None
    message: str
    differences: tuple[Difference, ...] = ()
    violations: tuple[Found, ...] = ()
    known: tuple[tuple[int, Found], ...] = ()
    events: int = 0
    source: str = ""
    header: Header | None = attrs.field(default=None, repr=False, eq=False)
    trace: tuple[Event, ...] = attrs.field(default=(), repr=False, eq=False)
    operations: OperationTable | None = attrs.field(default=None, repr=False, eq=False)
    itf: Counterexample | None = attrs.field(default=None, repr=False, eq=False)

    def signature(self) -> tuple[str | None, frozenset[str]]:
        """How it fails: the kind, and the differing fields (divergence) or broken rules (violation)."""
        if self.kind == "divergence":
            return self.kind, frozenset(d.field for d in self.differences)
        return self.kind, frozenset(v.rule for v in self.violations)

    def lines(self) -> list[str]:
        """The report as text lines, for a terminal."""
        if self.ok:
            verdict = "ok"
        elif self.line is not None:
            verdict = f"{self.kind} at line {self.line} (event {self.event_index})"
        else:  # an ITF trace: steps are numbered from 1, as reports.replay numbers them
            verdict = f"{self.kind} at step {(self.event_index or 0) + 1}"
        found = [f"trace {self.source}: {self.events} event(s): {verdict}", self.message]
        found += [f"  {d.field}: recorded {d.recorded!r}, model {d.model!r}" for d in self.differences]
        for v in self.violations:
            numbers = (
                "" if v.expected is None and v.observed is None else f" (expected {v.expected}, observed {v.observed})"
            )
            found.append(f"  {v.rule} on {v.entity}: {v.message}{numbers}")
        for line, v in self.known:
            found.append(f"  known at line {line}: {v.rule} on {v.entity} ({v.known})")
        return found

    def to_json(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        return {
            "ok": self.ok,
            "kind": self.kind,
            "line": self.line,
            "event_index": self.event_index,
            "message": self.message,
            "events": self.events,
            "source": self.source,
            "differences": [{"field": d.field, "recorded": d.recorded, "model": d.model} for d in self.differences],
            "violations": [_violation(v) for v in self.violations],
            "known": [{"line": line, **_violation(v)} for line, v in self.known],
        }

    def counterexample(self) -> Counterexample:
        """The failure as a ``Counterexample`` (engine ``oracle``): the steps up to the failing event
        run through the model from the header's setup; a divergence has kind ``divergence`` and one
        side per differing field (model expected, recorded observed)."""
        if self.ok or self.event_index is None:
            raise ValueError("a passing trace has no counterexample")
        if self.itf is not None:
            return _itf_counterexample(self)
        assert self.header is not None
        from reports.build import make

        actions = [e.action for e in self.trace[: self.event_index + 1]]
        notes = (f"recorded trace {self.source}, failing at line {self.line}",)
        reproduce = f"sales-model trace check {self.source}"
        if self.kind == "divergence":
            sides = [
                Side(step=self.event_index, field=d.field, expected=d.model, observed=d.recorded)
                for d in self.differences
            ]
            return make(
                rule=DIVERGENCE,
                engine="oracle",
                profile=self.header.profile,
                level=LEVEL,
                actions=actions,
                setup=dict(self.header.setup),
                operations=self.operations,
                statement="The recorded implementation run agrees with the model at every event.",
                spec="codex-sales-spec §2",
                kind="divergence",
                sides=sides,
                notes=notes,
                reproduce=reproduce,
            )
        return make(
            rule=self.violations[0].rule,
            engine="oracle",
            profile=self.header.profile,
            level=LEVEL,
            actions=actions,
            setup=dict(self.header.setup),
            operations=self.operations,
            notes=notes,
            reproduce=reproduce,
        )


def _violation(v: Found) -> dict[str, Any]:
    return {
        "rule": v.rule,
        "entity": v.entity,
        "message": v.message,
        "expected": v.expected,
        "observed": v.observed,
        "known": v.known,
    }


def _record_differences(part: str, recorded: dict[str, Any], model: Any, found: list[Difference]) -> None:
    for key, record in recorded.items():
        entity = model.get(key)
        if record is None or entity is None:
            if (record is None) != (entity is None):
                found.append(
                    Difference(
                        field=f"{part}[{key}]",
                        recorded="absent" if record is None else "present",
                        model="absent" if entity is None else "present",
                    )
                )
            continue
        for field, value in record.items():
            mine = getattr(entity, field)
            if mine != value:
                found.append(Difference(field=f"{part}[{key}].{field}", recorded=value, model=mine))


def state_differences(recorded: Mapping[str, Any], state: AnyState) -> list[Difference]:
    """The recorded leaves (rule 1) that differ from ``state``; unrecorded fields are not compared."""
    found: list[Difference] = []
    for part, value in recorded.items():
        if part == "repo":
            for field, number in value.items():
                mine = getattr(state.repo, field)
                if mine != number:
                    found.append(Difference(field=f"repo.{field}", recorded=number, model=mine))
        else:
            _record_differences(part, value, getattr(state, part), found)
    if len(found) > 1:
        found.sort(key=lambda d: d.field)
    return found


def _compare(event: Event, outcome: Any, after: AnyState) -> list[Difference]:
    """What ``event`` recorded that differs from the model's step (rule 3): outcome, result, state."""
    diverged: list[Difference] = []
    accepted = type(outcome) is Accepted
    if event.outcome is not None:
        kind = "accepted" if accepted else outcome.kind
        if kind != event.outcome:
            diverged.append(Difference(field="outcome", recorded=event.outcome, model=kind))
    if event.has_result:
        answer = outcome.found if accepted else None
        if answer != event.result:
            diverged.append(Difference(field="result", recorded=event.result, model=answer))
    if event.state is not None:
        diverged += state_differences(event.state, after)
    return diverged


def check(
    header: Header,
    events: Sequence[Event],
    operations: OperationTable | None = None,
    *,
    full: bool = False,
    workers: int = 0,
    chunk: int | None = None,
) -> TraceReport:
    """Replay ``events`` through the model (or ``operations``) from the header's setup (rules 3-5).

    With the model's own operations (and not ``full``) invariants are checked incrementally: after
    an event only the records it touched are re-checked, and the repo identity is kept as running
    sums; ``full`` (and any other operation table) re-checks the whole state after every change.
    ``workers`` forked processes check chunks of ``chunk`` events (oracle/pipeline.py); the report
    is the same for any number."""
    _raise_unknown_id(events, header.source)
    with _no_gc():
        return _run(header, events, operations, full, workers, chunk)


def _run(
    header: Header,
    events: Iterable[Event],
    operations: OperationTable | None,
    full: bool,
    workers: int,
    chunk: int | None,
    prefix: Callable[[int], Sequence[Event]] | None = None,
) -> TraceReport:
    """Check ``events`` (oracle/pipeline.py); the report's ``trace`` is the events up to the failing
    one, kept while checking, or read again by ``prefix(n)`` (the first n events) when given."""
    from oracle import pipeline

    rules = pipeline.Rules(header.profile, operations, full, _compare)
    start: Any = start_state(header.profile, LEVEL, header.setup)
    size = pipeline.CHUNK if chunk is None else chunk
    found = pipeline.run(start, events, rules, workers=workers, chunk=size, keep=prefix is None)
    failing, known_lines = pipeline.merge(found.verdicts)
    index: int | None = None
    kind: str | None = None
    more: dict[str, Any] = {}
    if failing is not None and failing.failing is not None:
        index = failing.failing
        if failing.differences:
            kind, more["differences"] = "divergence", failing.differences
        else:
            kind, more["violations"] = "violation", as_found(list(failing.violations))
    if index is None:
        trace: tuple[Event, ...] = ()
        message = f"The trace agrees with the model: {found.read} event(s), no divergence, no unknown violation."
    else:
        trace = tuple(found.events[: index + 1] if prefix is None else prefix(index + 1))
        event = trace[index]
        if kind == "violation":
            broken = ", ".join(sorted({v.rule for v in more["violations"]}))
            message = f"{header.source}:{event.line}: event {index} ({event.op}) breaks {broken} in the model."
        else:
            message = (
                f"{header.source}:{event.line}: event {index} ({event.op}) differs from the model "
                f"in {len(more['differences'])} field(s): {', '.join(d.field for d in more['differences'])}."
            )
    return TraceReport(
        ok=index is None,
        kind=kind,
        line=None if index is None else trace[index].line,
        event_index=index,
        message=message,
        known=tuple(known_lines),
        events=found.read,
        source=header.source,
        header=header,
        trace=trace,
        operations=operations,
        **more,
    )


# --- ITF traces ---------------------------------------------------------------------------------


def check_itf(path: str | Path) -> TraceReport:
    """An ITF trace replayed by ``reports.replay`` (rule 6), as a ``TraceReport`` (``line`` None;
    ``event_index`` the 0-based step; -1 for the start state)."""
    from reports.itf import load
    from reports.replay import replay

    cx = load(path)
    report = replay(cx)
    return TraceReport(
        ok=report.ok,
        kind=report.kind,
        line=None,
        event_index=None if report.step is None else report.step - 1,
        message=report.message,
        differences=report.differences,
        violations=report.violations,
        known=report.known,
        events=report.steps,
        source=str(path),
        itf=cx,
    )


def _itf_counterexample(report: TraceReport) -> Counterexample:
    from reports.build import make
    from reports.replay import tables_for
    from reports.restore import restore
    from reports.vocabulary import decode_action

    cx = report.itf
    assert cx is not None
    assert report.event_index is not None
    profile = Profile(cx.profile)
    operations, rules = tables_for(cx.variant, profile, cx.level)
    actions = [decode_action(profile, cx.level, s.action, s.arguments) for s in cx.steps[: report.event_index + 1]]
    start = None if cx.setup is not None else restore(profile, cx.level, cx.initial)
    common: dict[str, Any] = {
        "engine": "oracle",
        "profile": profile,
        "level": cx.level,
        "actions": actions,
        "setup": cx.setup,
        "start": start,
        "operations": operations,
        "rules": rules,
        "variant": cx.variant,
        "reproduce": f"sales-model trace check {report.source}",
    }
    if report.kind == "divergence":
        sides = [
            Side(step=max(report.event_index, 0), field=d.field, expected=d.model, observed=d.recorded)
            for d in report.differences
        ]
        return make(
            rule=DIVERGENCE,
            statement="The recorded run agrees with the model at every step.",
            spec="codex-sales-spec §2",
            kind="divergence",
            sides=sides,
            **common,
        )
    return make(rule=report.violations[0].rule, **common)


def _events_only(stream: Iterator[Header | Event]) -> Iterator[Event]:
    """The events of ``read_events`` (its header already taken, or skipped here)."""
    for item in stream:
        if isinstance(item, Event):
            yield item


def check_file(
    path: str | Path, operations: OperationTable | None = None, *, workers: int | None = None
) -> TraceReport:
    """Check a trace file: ``*.itf.json`` through ``reports.replay``, anything else as JSON lines
    (``check_lines``, with ``workers`` worker processes; default one per core)."""
    if str(path).endswith(".itf.json"):
        return check_itf(path)
    return check_lines(path, operations, workers=workers)


def check_lines(
    path: str | Path,
    operations: OperationTable | None = None,
    *,
    full: bool = False,
    workers: int | None = None,
    chunk: int | None = None,
) -> TraceReport:
    """A JSON-lines trace file read and checked as it is read (rules 1-5): the same report as
    ``load_file`` + ``check``, in one pass; ``workers`` defaults to one per core
    (oracle/pipeline.py)."""
    from oracle.pipeline import default_workers

    count = default_workers() if workers is None else workers

    def prefix(n: int) -> list[Event]:
        with open(path, encoding="utf-8") as again:
            return list(itertools.islice(_events_only(read_events(again, str(path))), n))

    try:
        with open(path, encoding="utf-8") as handle, _no_gc():
            stream = read_events(handle, str(path))
            header = next(stream)
            assert isinstance(header, Header)
            events = cast(Iterator[Event], stream)  # read_events yields the header first, then events only
            return _run(header, events, operations, full, count, chunk, prefix)
    except OSError as error:
        raise TraceFormatError(str(path), 0, "a readable file", error.strerror or str(error)) from None
    except UnicodeDecodeError:
        raise TraceFormatError(str(path), 0, "UTF-8 text", "undecodable bytes") from None
