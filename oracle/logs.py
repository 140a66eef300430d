"""nim-codex chronicles JSON logs as trace events: pairs logged attempts with commits and rollbacks.

A node started with ``--log-format=json`` and TRACE enabled for ``marketplace`` writes one JSON
object per line. ``read_log`` turns the lines of the reservations topic into the trace events
``oracle.trace`` checks (header + ``{"op", "args", "outcome"}``), remembering for each event the
log line that committed it.

Rules:
1. A log line is an attempt, not a commit. An event is emitted only at the line that shows the
   operation went through (its commit line): ``Creating new Availability`` for
   ``creating availability``; ``Reservation succesfully created`` for ``Creating reservation``;
   ``updating Reservation id=R`` for ``releasing bytes and updating reservation``;
   ``updating Availability id=A`` for ``Returning bytes`` and for a delete that returned bytes;
   ``No bytes are returned`` is its own commit; ``deleting reservation`` commits unless a
   failure line for the same reservation follows.
2. A rollback line (``rolling back reserve``, ``Updating availability failed, rolling back
   reservation creation``, ``rolling back release``, ``Rolling back returning bytes``) retracts
   the event it undoes; the model has no datastore failures, so the event is dropped with a note.
3. A failure line (WRN/ERR/FTL with an ``error`` property, ``failure returning bytes``,
   ``failure deleting reservation``, ``Creation of reservation failed``) turns the pending
   attempt it names into a rejected event when the error text tells the kind (``NotExists``,
   ``BytesOutOfBounds``, ``UntilOutOfBounds``, ``ReserveFailed``), else drops it with a note.
   An attempt superseded by the next attempt of the same operation on the same key, with no
   commit in between, is treated the same way (kind told only where one failure is possible).
4. Pairing is by ids (availabilityId, reservationId, requestId + slotIndex), never by
   adjacency, except where nim-codex logs no id: availability creation (first attempt first)
   and the sections under the global ``availabilityLock`` (one holder at a time).
5. Non-JSON lines, other topics and unmapped messages are counted as skipped; a file with no
   JSON object at all, or a reservations-topic line missing a required property, is bad input
   (``LogError`` naming the line).
6. ``enter state`` lines (topic ``statemachine``) become transitions shown in the report; they
   produce no event. Events are ordered by commit line; output is deterministic.
7. PATCH (REST ``PATCH /sales/availability/{id}``, codex/rest/api.nim) logs nothing itself; its
   write ``updating Availability id=A`` (``updateImpl``) is the one no lock holder, creation or
   open delete explains, and becomes ``update_availability(availability_id=A)``. When
   ``totalSize changed, updating repo reservation`` (``updateAvailability``) precedes it, the
   next line, ``Reserving bytes`` / ``Releasing bytes bytes=d`` (topic ``codex repostore``,
   ``RepoStore.reserve`` / ``release``, logged before their first await), gives ``total_size``
   = the tracked total +/- d. A resize followed by another lock holder's line instead of the
   write failed (quota, until): no event, a note. The other PATCH fields are not logged: a
   later ``availability (did not) match`` line showing a changed ``availDuration``,
   ``availMinPricePerBytePerSecond``, ``enabled`` or ``until`` (fields only PATCH changes) gives
   the value to the last PATCH of A since A was last seen; ``totalCollateral`` stays unknown.
8. ``availability matched`` (``findAvailability``) with the query properties ``size``,
   ``duration``, ``pricePerBytePerSecond``, ``collateralPerByte`` is a ``find_availability``
   event with ``result`` = ``id``, placed at that line. ``validUntil`` is not logged by find;
   SalePreparing passes the same ``requestEnd`` to ``createReservation``, so it is taken from
   the sale's next ``Creating reservation`` (slot via ``Availability found for request``, else
   the same availability and size); a find never followed by one is dropped with a note, and a
   find that matched nothing (``No availability found for request, ignoring``) makes no event.
9. ``returning collateral collateral=c`` (``deleteReservation``, logScope ``reservationId``)
   sets ``returned_collateral`` of the delete; a delete without it passed none.

Read at: codex/sales/reservations.nim (``updateImpl``, ``updateAvailability``,
``deleteReservation``, ``findAvailability``; the stored post-#1216 revision, the index holds no
copy tagged bd360322), codex/sales/states/preparing.nim (``run``), codex/stores/repostore/store.nim
(``reserve``, ``release``, ``putBlock``), codex/rest/api.nim (PATCH handler).

Mirrors: codex-sales-spec §2.1-§2.8 (steps and failure points), §2.10, §2.11 (lock), §2.12
(#5-#7), §3.3 (where reservation operations happen), §1.2 (error kinds), §5 (PATCH).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

RESERVATIONS_TOPIC = "marketplace sales reservations"
REPO_TOPIC = "codex repostore"
#: repo quota lines (codex/stores/repostore/store.nim ``reserve`` / ``release``) -> sign of the delta.
REPO_LINES: Mapping[str, int] = {"Reserving bytes": 1, "Releasing bytes": -1}
#: lines logged while holding ``availabilityLock``: one of them after a PATCH's repo delta and
#: before its write means the PATCH stopped there (repo quota, until check; REST logs nothing).
LOCK_LINES = frozenset(
    {
        "Creating new Availability",
        "Creating reservation",
        "Returning bytes",
        "No bytes are returned",
        "returning remaining reservation bytes to availability",
        "returning collateral",
        "totalSize changed, updating repo reservation",
        "updating Availability",
    }
)
#: ``availability (did not) match`` property -> availability field it shows (findAvailability).
OBSERVED: Mapping[str, str] = {
    "availDuration": "duration",
    "availMinPricePerBytePerSecond": "min_price_per_byte_per_second",
    "enabled": "enabled",
    "until": "until",
}
#: query properties of ``availability matched`` -> find_availability arguments (valid_until is not logged).
FIND_QUERY: Mapping[str, str] = {
    "size": "size",
    "duration": "duration",
    "pricePerBytePerSecond": "price_per_byte_per_second",
    "collateralPerByte": "collateral_per_byte",
}
DEFAULT_QUOTA = 20 * 1024**3  # nim-codex HEAD default quotaMaxBytes (20.GiBs), spec §1.4
FAILURE_LEVELS = frozenset({"WRN", "ERR", "FTL", "WARN", "ERROR", "FATAL", "WARNING"})

#: message -> properties a reservations-topic line must carry (chronicles property names).
REQUIRED: Mapping[str, tuple[str, ...]] = {
    "creating availability": ("size", "duration", "minPricePerBytePerSecond", "totalCollateral", "enabled", "until"),
    "Creating new Availability": ("availabilityId",),
    "Creating reservation": ("availabilityId", "slotSize", "requestId", "slotIndex", "validUntil"),
    "updating Reservation": ("id",),
    "updating Availability": ("id",),
    "releasing bytes and updating reservation": ("bytes", "reservationId", "availabilityId"),
    "rolling back release": ("reservationId",),
    "Returning bytes": ("requestSizeBytes", "returningBytes", "reservationId", "availabilityId"),
    "No bytes are returned": ("requestSizeBytes", "returningBytes", "reservationId", "availabilityId"),
    "Rolling back returning bytes": ("reservationId",),
    "deleting reservation": ("reservationId", "availabilityId"),
    "returning remaining reservation bytes to availability": ("size", "reservationId", "availabilityId"),
    "availability matched": ("id", "size"),
    "availability did not match": ("id",),
    "returning collateral": ("collateral", "reservationId"),
    "totalSize changed, updating repo reservation": ("availabilityId",),
    "Reservation succesfully created": (),
    "rolling back reserve": (),
    "Updating availability failed, rolling back reservation creation": (),
}

#: error text fragment (lower case) -> rejection kind of the model.
ERROR_KINDS: tuple[tuple[str, str], ...] = (
    ("greater than the free size of the availability", "BytesOutOfBounds"),
    ("greater than the total size of the reservation", "BytesOutOfBounds"),
    ("does not exist", "NotExists"),
    ("cannot set until", "UntilOutOfBounds"),
    ("until parameter must be", "UntilOutOfBounds"),
    ("quota", "ReserveFailed"),
)


class LogError(Exception):
    """Bad input: the log cannot be read as a nim-codex chronicles JSON log."""

    def __init__(self, source: str, line: int, message: str) -> None:
        super().__init__(f"{source}:{line}: {message}" if line else f"{source}: {message}")
        self.source = source
        self.line = line
        self.message = message


@dataclass
class LogReading:
    """What a log said: the trace header, the events with their commit lines, and what was left out."""

    source: str
    header: dict[str, Any]
    events: list[dict[str, Any]]
    lines: list[int]
    skipped: dict[str, int]
    notes: list[str]
    transitions: list[str]
    unpaired: int = 0
    json_lines: int = 0

    def line_of(self, index: int) -> int:
        """The log line that committed event ``index`` (0-based)."""
        return self.lines[index]


def error_kind(text: str, kinds: tuple[tuple[str, str], ...] = ERROR_KINDS) -> str | None:
    """The model's rejection kind a nim-codex error message names (by ``kinds``), or None."""
    lowered = text.lower()
    for fragment, kind in kinds:
        if fragment in lowered:
            return kind
    return None


def _int(value: Any, source: str, line: int, name: str) -> int:
    if isinstance(value, bool):
        raise LogError(source, line, f"property {name!r} should be an integer, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        text = value.strip().replace("_", "")
        try:
            return int(text, 16) if text.lower().startswith("0x") else int(text)
        except ValueError:
            pass
    raise LogError(source, line, f"property {name!r} should be an integer, got {value!r}")


def _bool(value: Any, source: str, line: int, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise LogError(source, line, f"property {name!r} should be a boolean, got {value!r}")


def _id(value: Any) -> str:
    return str(value).lower()


#: The property parsers under public names, for the other profiles' readers (``oracle.logs535``).
as_int, as_bool, as_id = _int, _bool, _id


@dataclass
class _Pending:
    op: str
    args: dict[str, Any]
    line: int
    key: str = ""
    bound: str | None = None  # id learnt after the attempt (availability / reservation)
    event: int | None = None  # index in the draft list once committed
    written: bool = False  # its availability write ('updating Availability') was seen


Pending = _Pending  # public name, for the other profiles' readers


@dataclass(kw_only=True)
class Drafts:
    """What a reader has made so far (draft events at their commit lines, notes, counts) and the
    helpers every profile's reader shares; ``feed`` and ``finish`` are the profile's own."""

    source: str
    profile: str
    quota: int
    drafts: list[tuple[int, dict[str, Any]] | None] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    transitions: list[str] = field(default_factory=list)
    skipped: dict[str, int] = field(
        default_factory=lambda: {"non_json": 0, "other_topics": 0, "unmapped": 0, "blank": 0}
    )
    unpaired: int = 0
    json_lines: int = 0
    counter: int = 0
    releases: dict[str, _Pending] = field(default_factory=dict)
    required: ClassVar[Mapping[str, tuple[str, ...]]] = REQUIRED
    kinds: ClassVar[tuple[tuple[str, str], ...]] = ERROR_KINDS

    def feed(self, obj: Mapping[str, Any], line: int) -> None:
        raise NotImplementedError

    def finish(self, last_line: int) -> None:
        raise NotImplementedError

    # -- release (§2.5): logged alike at 570a1f7b and bd360322 ---------------------------------

    def on_releasing_bytes_and_updating_reservation(self, obj: Mapping[str, Any], line: int) -> None:
        reservation = _id(obj["reservationId"])
        earlier = self.releases.pop(reservation, None)
        if earlier is not None and earlier.event is None:
            self.fail(earlier, line, None)
        args = {
            "reservation_id": reservation,
            "availability_id": _id(obj["availabilityId"]),
            "bytes": _int(obj["bytes"], self.source, line, "bytes"),
        }
        self.releases[reservation] = _Pending("release_bytes", args, line, key=reservation)

    def on_rolling_back_release(self, obj: Mapping[str, Any], line: int) -> None:
        pending = self.releases.pop(_id(obj["reservationId"]), None)
        if pending is None:
            self.unpaired += 1
            self.note(line, "'rolling back release' with no release to undo")
            return
        self.retract(pending, line, "was rolled back (reservation write failed)")

    # -- helpers -----------------------------------------------------------------------------

    def note(self, line: int, text: str) -> None:
        self.notes.append(f"line {line}: {text}")

    def emit(self, line: int, pending: _Pending, outcome: str) -> int:
        event = {"op": pending.op, "args": dict(pending.args), "outcome": outcome}
        self.drafts.append((line, event))
        pending.event = len(self.drafts) - 1
        return pending.event

    def retract(self, pending: _Pending, line: int, why: str) -> None:
        if pending.event is not None and self.drafts[pending.event] is not None:
            self.drafts[pending.event] = None
        self.unpaired += 1
        self.note(line, f"{pending.op} attempted at line {pending.line} {why}; no model action")

    def fail(self, pending: _Pending, line: int, text: str | None, default: str | None = None) -> None:
        """A failure line for ``pending``: a rejected event when the kind is known, else a note."""
        kind = error_kind(text, self.kinds) if text else None
        kind = kind or default
        if pending.event is not None and self.drafts[pending.event] is not None:
            self.drafts[pending.event] = None  # it had been taken as committed
        if kind is None:
            self.unpaired += 1
            detail = f" ({text})" if text else ""
            self.note(line, f"{pending.op} attempted at line {pending.line} failed{detail}; kind unknown, dropped")
            return
        self.emit(line, pending, kind)

    def require(self, obj: Mapping[str, Any], msg: str, line: int) -> None:
        for name in self.required.get(msg, ()):
            if name not in obj:
                expected = self.required[msg]
                raise LogError(self.source, line, f"{msg!r} line lacks property {name!r} (expected {expected})")

    def drop(self, pending: _Pending, line: int, why: str) -> None:
        """An event the log cannot complete: removed, with a note (not an unpaired attempt)."""
        if pending.event is not None:
            self.drafts[pending.event] = None
        self.note(line, f"{pending.op} at line {pending.line} {why}; no event")

    def move(self, pending: _Pending, line: int) -> None:
        """Re-date a provisionally committed event to a later line of the same operation."""
        if pending.event is not None and (draft := self.drafts[pending.event]) is not None:
            self.drafts[pending.event] = None
            self.drafts.append((line, draft[1]))
            pending.event = len(self.drafts) - 1

    def transition(self, obj: Mapping[str, Any], line: int) -> None:
        """An ``enter state`` line (topic ``statemachine``): a transition shown in the report."""
        slot = self.slot_key(obj, line)
        where = f" {slot}" if slot else ""
        self.transitions.append(f"line {line}:{where} {obj.get('state', '?')}")

    def synthetic(self, kind: str, line: int) -> str:
        self.counter += 1
        return f"unlogged-{kind}@L{line}"

    def slot_key(self, obj: Mapping[str, Any], line: int) -> str | None:
        if "requestId" in obj and "slotIndex" in obj:
            return f"{_id(obj['requestId'])}#{_int(obj['slotIndex'], self.source, line, 'slotIndex')}"
        return None


@dataclass(kw_only=True)
class _Reader(Drafts):
    availability_creates: list[_Pending] = field(default_factory=list)
    last_availability_create: _Pending | None = None
    reservation_creates: dict[str, _Pending] = field(default_factory=dict)
    returns: dict[str, _Pending] = field(default_factory=dict)
    deletes: dict[str, _Pending] = field(default_factory=dict)
    locked: _Pending | None = None
    reservations: dict[str, dict[str, Any]] = field(default_factory=dict)
    matched: dict[tuple[str, int], tuple[int, int]] = field(default_factory=dict)
    last_matched: tuple[str, int, int] | None = None
    slot_match: dict[str, tuple[str, int, int]] = field(default_factory=dict)
    rolled_back: set[str] = field(default_factory=set)
    creation_writes: set[str] = field(default_factory=set)
    totals: dict[str, int] = field(default_factory=dict)
    believed: dict[str, dict[str, Any]] = field(default_factory=dict)
    patches: dict[str, list[_Pending]] = field(default_factory=dict)
    resizing: dict[str, int | None] = field(default_factory=dict)
    expect_repo: str | None = None
    finds: dict[tuple[str, int], _Pending] = field(default_factory=dict)
    last_find: _Pending | None = None
    slot_finds: dict[str, _Pending] = field(default_factory=dict)

    # -- dispatch ---------------------------------------------------------------------------

    def feed(self, obj: Mapping[str, Any], line: int) -> None:
        msg = str(obj.get("msg", obj.get("message", "")))
        topics = str(obj.get("topics", obj.get("topic", "")))
        words = topics.split()
        level = str(obj.get("lvl", obj.get("level", ""))).upper()
        if msg == "enter state":
            self.transition(obj, line)
            return
        if self.repo_line(obj, msg, topics, line):
            return
        reservations_topic = "reservations" in words or words == ["release"]
        if self.resizing and msg in LOCK_LINES and reservations_topic:
            self.patch_failed(obj, msg, line)
        if reservations_topic and msg in REQUIRED:
            self.require(obj, msg, line)
            getattr(self, "on_" + msg.replace(" ", "_").replace(",", "").lower())(obj, line)
            return
        if msg in ("failure returning bytes", "failure deleting reservation"):
            self.on_cleanup_failure(obj, msg, line)
            return
        if msg == "Creation of reservation failed":
            self.on_creation_failed(obj, line)
            return
        if msg in ("Reservation created successfully", "Reservation created succesfully"):
            return  # preparing's echo of the commit already seen in the reservations topic
        if msg == "Availability found for request, creating reservation":
            self.on_availability_found(obj, line)
            return
        if level in FAILURE_LEVELS and ("error" in obj or "err" in obj) and self.on_generic_failure(obj, line):
            return
        if reservations_topic:
            self.skipped["unmapped"] += 1
        else:
            self.skipped["other_topics"] += 1

    def on_availability_found(self, obj: Mapping[str, Any], line: int) -> None:
        """SalePreparing's line after a match: ties the last match (and find) to the sale's slot."""
        slot = self.slot_key(obj, line)
        if slot is None:
            return
        if self.last_matched is not None:
            self.slot_match[slot] = self.last_matched
        if self.last_find is not None:
            self.slot_finds[slot] = self.last_find

    # -- create availability (§2.1) ----------------------------------------------------------

    def on_creating_availability(self, obj: Mapping[str, Any], line: int) -> None:
        for earlier in self.availability_creates:
            if earlier.bound is None:
                until = earlier.args["until"]
                self.fail(earlier, line, None, "UntilOutOfBounds" if until < 0 else "ReserveFailed")
        self.availability_creates = []
        s, src = obj, self.source
        args = {
            "availability_id": "",
            "total_size": _int(s["size"], src, line, "size"),
            "duration": _int(s["duration"], src, line, "duration"),
            "min_price_per_byte_per_second": _int(s["minPricePerBytePerSecond"], src, line, "minPricePerBytePerSecond"),
            "total_collateral": _int(s["totalCollateral"], src, line, "totalCollateral"),
            "enabled": _bool(s["enabled"], src, line, "enabled"),
            "until": _int(s["until"], src, line, "until"),
        }
        args["availability_id"] = self.synthetic("availability", line)
        self.availability_creates.append(_Pending("create_availability", args, line))

    def on_creating_new_availability(self, obj: Mapping[str, Any], line: int) -> None:
        waiting = [p for p in self.availability_creates if p.bound is None]
        if not waiting:
            self.unpaired += 1
            self.note(line, "'Creating new Availability' with no 'creating availability' attempt; dropped")
            return
        pending = waiting[0]
        pending.bound = _id(obj["availabilityId"])
        pending.args["availability_id"] = pending.bound
        self.emit(line, pending, "accepted")
        self.availability_creates.remove(pending)
        self.last_availability_create = pending
        self.creation_writes.add(pending.bound)
        self.totals[pending.bound] = pending.args["total_size"]
        self.believed[pending.bound] = {f: pending.args[f] for f in OBSERVED.values()}

    def on_rolling_back_reserve(self, obj: Mapping[str, Any], line: int) -> None:
        pending = self.last_availability_create
        if pending is None:
            self.unpaired += 1
            self.note(line, "'rolling back reserve' with no availability creation to undo")
            return
        self.retract(pending, line, "was rolled back (availability write failed)")
        self.last_availability_create = None

    # -- create reservation (§2.4) -----------------------------------------------------------

    def on_availability_matched(self, obj: Mapping[str, Any], line: int) -> None:
        availability = _id(obj["id"])
        size = _int(obj["size"], self.source, line, "size")
        cpb = _int(obj.get("collateralPerByte", 0), self.source, line, "collateralPerByte")
        self.matched[(availability, size)] = (cpb, line)
        self.last_matched = (availability, size, cpb)
        self.observe(availability, obj, line)
        self.last_find = None
        if not all(name in obj for name in FIND_QUERY):
            return  # an older line shape without the query: no find event
        args = {arg: _int(obj[name], self.source, line, name) for name, arg in FIND_QUERY.items()}
        args["valid_until"] = 0  # filled from the sale's 'Creating reservation' line (requestEnd)
        pending = _Pending("find_availability", args, line, key=availability)
        self.drafts.append((line, {"op": "find_availability", "args": args, "result": availability}))
        pending.event = len(self.drafts) - 1
        earlier = self.finds.pop((availability, size), None)
        if earlier is not None:
            self.drop(earlier, line, "superseded by another match before any 'Creating reservation'")
        self.finds[(availability, size)] = pending
        self.last_find = pending

    def on_availability_did_not_match(self, obj: Mapping[str, Any], line: int) -> None:
        self.observe(_id(obj["id"]), obj, line)

    def observe(self, availability: str, obj: Mapping[str, Any], line: int) -> None:
        """Fields a find line shows of an availability: they complete the PATCHes since the last look.

        ``duration``, ``minPricePerBytePerSecond``, ``enabled`` and ``until`` change only through
        PATCH, whose arguments nim-codex does not log; a changed value is given to the last PATCH
        of the availability since it was last observed.
        """
        believed = self.believed.get(availability)
        if believed is None:
            return
        patches = self.patches.pop(availability, [])
        for name, arg in OBSERVED.items():
            if name not in obj:
                continue
            parse = _bool if arg == "enabled" else _int
            value = parse(obj[name], self.source, line, name)
            if value == believed[arg]:
                continue
            believed[arg] = value
            if not patches:
                continue  # no PATCH to explain it: the model's own state will tell
            draft = self.drafts[patches[-1].event] if patches[-1].event is not None else None
            if draft is not None:
                draft[1]["args"][arg] = value
            if len(patches) > 1:
                self.note(line, f"{arg} of {availability} given to the last of {len(patches)} PATCHes")

    def on_creating_reservation(self, obj: Mapping[str, Any], line: int) -> None:
        src = self.source
        slot = self.slot_key(obj, line)
        assert slot is not None
        availability = _id(obj["availabilityId"])
        slot_size = _int(obj["slotSize"], src, line, "slotSize")
        if "collateralPerByte" in obj:
            cpb = _int(obj["collateralPerByte"], src, line, "collateralPerByte")
        elif (availability, slot_size) in self.matched:
            cpb = self.matched[(availability, slot_size)][0]
        else:
            cpb = 0
            self.note(line, "collateralPerByte not logged and no 'availability matched' line: taken as 0")
        earlier = self.reservation_creates.pop(slot, None)
        if earlier is not None:
            self.fail(earlier, line, None)
        logged_id = _id(obj["reservationId"]) if "reservationId" in obj else None
        args: dict[str, Any] = {
            "availability_id": availability,
            "reservation_id": logged_id or "",
            "slot_size": slot_size,
            "request_id": _id(obj["requestId"]),
            "slot_index": _int(obj["slotIndex"], src, line, "slotIndex"),
            "collateral_per_byte": cpb,
            "valid_until": _int(obj["validUntil"], src, line, "validUntil"),
        }
        pending = _Pending("create_reservation", args, line, key=slot, bound=logged_id)
        self.reservation_creates[slot] = pending
        self.locked = pending
        found = self.slot_finds.pop(slot, None) or self.finds.get((availability, slot_size))
        if found is not None and found in self.finds.values():
            self.finds = {key: p for key, p in self.finds.items() if p is not found}
            draft = self.drafts[found.event] if found.event is not None else None
            if draft is not None:
                draft[1]["args"]["valid_until"] = args["valid_until"]  # preparing passes requestEnd to both

    def on_updating_reservation(self, obj: Mapping[str, Any], line: int) -> None:
        reservation = _id(obj["id"])
        release = self.releases.get(reservation)
        if release is not None and release.event is None:
            self.emit(line, release, "accepted")
            return
        for pending in self.reservation_creates.values():
            if pending.bound is None:
                pending.bound = reservation
                pending.args["reservation_id"] = reservation
                return
        self.skipped["unmapped"] += 1

    def on_reservation_succesfully_created(self, obj: Mapping[str, Any], line: int) -> None:
        candidates = [p for p in self.reservation_creates.values() if p.event is None]
        if not candidates:
            self.unpaired += 1
            self.note(line, "'Reservation succesfully created' with no 'Creating reservation' attempt")
            return
        pending = min(candidates, key=lambda p: p.line)
        del self.reservation_creates[pending.key]
        if pending.bound is None:
            self.unpaired += 1
            self.note(line, f"reservation created at line {pending.line} but its id was never logged; dropped")
            return
        self.emit(line, pending, "accepted")
        self.reservations[pending.bound] = dict(pending.args)

    def on_updating_availability_failed_rolling_back_reservation_creation(
        self, obj: Mapping[str, Any], line: int
    ) -> None:
        pending = self.locked
        if pending is None or pending.op != "create_reservation" or pending.key not in self.reservation_creates:
            self.unpaired += 1
            self.note(line, "reservation rollback with no reservation creation in progress")
            return
        del self.reservation_creates[pending.key]
        self.rolled_back.add(pending.key)
        self.retract(pending, line, "was rolled back (availability update failed)")

    def on_creation_failed(self, obj: Mapping[str, Any], line: int) -> None:
        slot = self.slot_key(obj, line)
        if slot is None:
            self.skipped["unmapped"] += 1
            return
        text = str(obj.get("error", obj.get("err", ""))) or None
        if slot in self.rolled_back:  # preparing's echo of a rollback already accounted for
            self.rolled_back.discard(slot)
            return
        pending = self.reservation_creates.pop(slot, None)
        if pending is not None:  # failed after the attempt line: availability update failed
            self.fail(pending, line, text)
            return
        # failed before 'Creating reservation': the free-size check (availabilities are never deleted)
        if "availabilityId" in obj and "slotSize" in obj:
            availability = _id(obj["availabilityId"])
            slot_size = _int(obj["slotSize"], self.source, line, "slotSize")
            cpb = self.matched.get((availability, slot_size), (0, 0))[0]
        elif slot in self.slot_match:
            availability, slot_size, cpb = self.slot_match[slot]
        else:
            self.unpaired += 1
            self.note(line, f"reservation for {slot} failed before any attempt line; availability unknown, dropped")
            return
        request, index = slot.split("#")
        args = {
            "availability_id": availability,
            "reservation_id": self.synthetic("reservation", line),
            "slot_size": slot_size,
            "request_id": request,
            "slot_index": int(index),
            "collateral_per_byte": cpb,
            "valid_until": 0,
        }
        self.fail(_Pending("create_reservation", args, line), line, text, "BytesOutOfBounds")

    # -- release (§2.5) ----------------------------------------------------------------------

    # -- return bytes (§2.6) -----------------------------------------------------------------

    def _return_args(self, obj: Mapping[str, Any], line: int) -> dict[str, Any]:
        return {
            "availability_id": _id(obj["availabilityId"]),
            "reservation_id": _id(obj["reservationId"]),
            "bytes": _int(obj["requestSizeBytes"], self.source, line, "requestSizeBytes"),
        }

    def on_no_bytes_are_returned(self, obj: Mapping[str, Any], line: int) -> None:
        pending = _Pending("return_bytes_to_availability", self._return_args(obj, line), line)
        self.emit(line, pending, "accepted")

    def on_returning_bytes(self, obj: Mapping[str, Any], line: int) -> None:
        args = self._return_args(obj, line)
        earlier = self.returns.pop(args["reservation_id"], None)
        if earlier is not None and earlier.event is None:
            self.fail(earlier, line, None)
        pending = _Pending("return_bytes_to_availability", args, line, key=args["reservation_id"])
        self.returns[args["reservation_id"]] = pending
        self.locked = pending

    def on_rolling_back_returning_bytes(self, obj: Mapping[str, Any], line: int) -> None:
        pending = self.returns.pop(_id(obj["reservationId"]), None)
        if pending is None:
            self.unpaired += 1
            self.note(line, "'Rolling back returning bytes' with no return to undo")
            return
        self.retract(pending, line, "was rolled back (availability update failed)")

    # -- delete (§2.7, §2.10) ----------------------------------------------------------------

    def on_deleting_reservation(self, obj: Mapping[str, Any], line: int) -> None:
        reservation = _id(obj["reservationId"])
        args = {"reservation_id": reservation, "availability_id": _id(obj["availabilityId"])}
        pending = _Pending("delete_reservation", args, line, key=reservation)
        self.emit(line, pending, "accepted")  # commits unless a failure line follows (rule 1)
        self.deletes[reservation] = pending

    def on_returning_remaining_reservation_bytes_to_availability(self, obj: Mapping[str, Any], line: int) -> None:
        pending = self.deletes.get(_id(obj["reservationId"]))
        if pending is None:
            self.unpaired += 1
            self.note(line, "returning remaining bytes with no 'deleting reservation' attempt")
            return
        self.locked = pending
        self.move(pending, line)

    def on_returning_collateral(self, obj: Mapping[str, Any], line: int) -> None:
        pending = self.deletes.get(_id(obj["reservationId"]))
        if pending is None:
            self.unpaired += 1
            self.note(line, "'returning collateral' with no 'deleting reservation' attempt")
            return
        collateral = _int(obj["collateral"], self.source, line, "collateral")
        pending.args["returned_collateral"] = collateral
        if pending.event is not None and (draft := self.drafts[pending.event]) is not None:
            draft[1]["args"]["returned_collateral"] = collateral
        self.locked = pending
        self.move(pending, line)

    # -- the lock holder's availability write ------------------------------------------------

    def on_updating_availability(self, obj: Mapping[str, Any], line: int) -> None:
        """The write of ``updateImpl``: whose it is, by the lock holder, else a delete, else a PATCH."""
        availability = _id(obj["id"])
        if availability in self.creation_writes:  # createAvailability's own write
            self.creation_writes.discard(availability)
            return
        if availability in self.resizing:  # only a PATCH changes totalSize
            self.on_patch_write(availability, line)
            return
        pending = self.locked
        if pending is None or pending.written or pending.args.get("availability_id") != availability:
            pending = next(
                (p for p in self.deletes.values() if not p.written and p.args["availability_id"] == availability),
                None,
            )
        if pending is None:
            self.on_patch_write(availability, line)
            return
        pending.written = True
        if pending.op == "return_bytes_to_availability" and pending.event is None:
            self.emit(line, pending, "accepted")
        elif pending.op == "delete_reservation":
            self.move(pending, line)

    # -- PATCH (§2.2, §2.3) ------------------------------------------------------------------

    def on_totalsize_changed_updating_repo_reservation(self, obj: Mapping[str, Any], line: int) -> None:
        availability = _id(obj["availabilityId"])
        self.resizing[availability] = None
        self.expect_repo = availability

    def repo_line(self, obj: Mapping[str, Any], msg: str, topics: str, line: int) -> bool:
        """``Reserving bytes`` / ``Releasing bytes``: the delta of a PATCH's totalSize, else no event.

        True when the line was a repo quota line (handled here).
        """
        availability = self.expect_repo
        self.expect_repo = None
        if msg not in REPO_LINES or topics != REPO_TOPIC:
            if availability is not None:
                self.resizing.pop(availability, None)
                self.note(line, f"'totalSize changed' for {availability} not followed by a repo line; delta unknown")
            return False
        if availability is None:
            self.skipped["other_topics"] += 1
            return True
        if "bytes" not in obj:
            raise LogError(self.source, line, f"{msg!r} line lacks property 'bytes'")
        self.resizing[availability] = REPO_LINES[msg] * _int(obj["bytes"], self.source, line, "bytes")
        return True

    def patch_failed(self, obj: Mapping[str, Any], msg: str, line: int) -> None:
        """Another lock holder's line after a PATCH resized: that PATCH failed (no event, as REST logs none)."""
        pending_id = _id(obj.get("id", obj.get("availabilityId", "")))
        for availability in list(self.resizing):
            if msg == "updating Availability" and availability == pending_id:
                continue
            delta = self.resizing.pop(availability)
            self.note(line, f"PATCH of {availability} (repo delta {delta}) was never written; rejected, no event")

    def on_patch_write(self, availability: str, line: int) -> None:
        """An availability write no lock holder explains: the REST PATCH (which logs no line itself)."""
        args: dict[str, Any] = {"availability_id": availability}
        delta = self.resizing.pop(availability, None)
        if delta is not None and availability in self.totals:
            self.totals[availability] += delta
            args["total_size"] = self.totals[availability]
        elif delta is not None:
            self.note(line, f"PATCH of {availability} resized by {delta} but its creation is not in the log")
        pending = _Pending("update_availability", args, line, key=availability, written=True)
        self.emit(line, pending, "accepted")
        self.patches.setdefault(availability, []).append(pending)

    # -- failure lines -----------------------------------------------------------------------

    def on_cleanup_failure(self, obj: Mapping[str, Any], msg: str, line: int) -> None:
        text = str(obj.get("error", obj.get("err", "")))
        if "reservationId" not in obj or "availabilityId" not in obj:
            raise LogError(self.source, line, f"{msg!r} line lacks property 'reservationId' or 'availabilityId'")
        reservation = _id(obj["reservationId"])
        if msg == "failure returning bytes":
            pending = self.returns.pop(reservation, None)
            if pending is None:  # failed before 'Returning bytes': loading the reservation
                if "bytes" not in obj:
                    self.unpaired += 1
                    self.note(line, "'failure returning bytes' without 'bytes'; dropped")
                    return
                args = {
                    "availability_id": _id(obj["availabilityId"]),
                    "reservation_id": reservation,
                    "bytes": _int(obj["bytes"], self.source, line, "bytes"),
                }
                pending = _Pending("return_bytes_to_availability", args, line)
            self.fail(pending, line, text)
            return
        pending = self.deletes.pop(reservation, None)
        if pending is None:
            args = {"reservation_id": reservation, "availability_id": _id(obj["availabilityId"])}
            pending = _Pending("delete_reservation", args, line)
        self.fail(pending, line, text)

    def on_generic_failure(self, obj: Mapping[str, Any], line: int) -> bool:
        text = str(obj.get("error", obj.get("err", "")))
        reservation = _id(obj["reservationId"]) if "reservationId" in obj else None
        if reservation is None:
            slot = self.slot_key(obj, line)
            if slot is not None:
                if slot in self.reservation_creates:
                    self.fail(self.reservation_creates.pop(slot), line, text)
                    return True
                reservation = next(
                    (r for r, a in self.reservations.items() if f"{a['request_id']}#{a['slot_index']}" == slot),
                    None,
                )
        if reservation is None:
            return False
        for table in (self.releases, self.returns):
            pending = table.get(reservation)
            if pending is not None and pending.event is None:
                del table[reservation]
                self.fail(pending, line, text)
                return True
        return False

    # -- end ---------------------------------------------------------------------------------

    def finish(self, last_line: int) -> None:
        for pending in self.finds.values():
            self.drop(pending, pending.line, "was never followed by 'Creating reservation'; valid_until unknown")
        for pending in self.availability_creates:
            self.unpaired += 1
            self.note(pending.line, "create_availability attempt with no outcome before the end of the log; dropped")
        for table in (self.reservation_creates, self.releases, self.returns):
            for pending in table.values():
                if pending.event is None:
                    self.unpaired += 1
                    self.note(pending.line, f"{pending.op} attempt with no outcome before the end of the log; dropped")


def read_log(lines: Iterable[str], source: str, profile: Any = "codex-head", quota: int = DEFAULT_QUOTA) -> LogReading:
    """Read chronicles JSON log lines (as ``--log-format=json`` writes them) into trace events.

    ``profile`` is a ``model.state.Profile`` or its value; only ``codex-head`` logs are mapped here
    (``oracle.logs535.read_log535`` reads codex-535 logs).
    Raises ``LogError`` for bad input (no JSON object at all; a required property missing).
    """
    name = getattr(profile, "value", profile)
    if name != "codex-head":
        raise LogError(source, 0, f"only codex-head logs can be read (got profile {name!r})")
    return read_with(_Reader(source=source, profile=name, quota=quota), lines)


def read_with(reader: Drafts, lines: Iterable[str]) -> LogReading:
    """Feed every JSON object line to ``reader``, then collect its events in commit-line order.

    Raises ``LogError`` when no line is a JSON object.
    """
    source = reader.source
    last = 0
    for number, raw in enumerate(lines, start=1):
        last = number
        text = raw.strip()
        if not text:
            reader.skipped["blank"] += 1
            continue
        try:
            obj = json.loads(text)
        except json.JSONDecodeError:
            reader.skipped["non_json"] += 1
            continue
        if not isinstance(obj, dict):
            reader.skipped["non_json"] += 1
            continue
        reader.json_lines += 1
        reader.feed(obj, number)
    if reader.json_lines == 0:
        raise LogError(source, 0, "no JSON log line (start the node with --log-format=json)")
    reader.finish(last)
    committed = sorted(
        (
            (line, index, event)
            for index, draft in enumerate(reader.drafts)
            if draft is not None
            for line, event in [draft]
        ),
        key=lambda item: (item[0], item[1]),
    )
    header = {
        "trace": "codex-sales-model/oracle",
        "version": 1,
        "profile": reader.profile,
        "setup": {"quota_max_bytes": reader.quota},
    }
    return LogReading(
        source=source,
        header=header,
        events=[event for _, _, event in committed],
        lines=[line for line, _, _ in committed],
        skipped=dict(sorted(reader.skipped.items())),
        notes=reader.notes,
        transitions=reader.transitions,
        unpaired=reader.unpaired,
        json_lines=reader.json_lines,
    )
