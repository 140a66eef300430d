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

Mirrors: codex-sales-spec §2.1, §2.4-§2.7 (steps and failure points), §2.10, §2.12 (#5-#7),
§3.3 (where reservation operations happen), §1.2 (error kinds).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

RESERVATIONS_TOPIC = "marketplace sales reservations"
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


def error_kind(text: str) -> str | None:
    """The model's rejection kind a nim-codex error message names, or None."""
    lowered = text.lower()
    for fragment, kind in ERROR_KINDS:
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


@dataclass
class _Pending:
    op: str
    args: dict[str, Any]
    line: int
    key: str = ""
    bound: str | None = None  # id learnt after the attempt (availability / reservation)
    event: int | None = None  # index in the draft list once committed


@dataclass
class _Reader:
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
    availability_creates: list[_Pending] = field(default_factory=list)
    last_availability_create: _Pending | None = None
    reservation_creates: dict[str, _Pending] = field(default_factory=dict)
    releases: dict[str, _Pending] = field(default_factory=dict)
    returns: dict[str, _Pending] = field(default_factory=dict)
    deletes: dict[str, _Pending] = field(default_factory=dict)
    locked: _Pending | None = None
    reservations: dict[str, dict[str, Any]] = field(default_factory=dict)
    matched: dict[tuple[str, int], tuple[int, int]] = field(default_factory=dict)
    last_matched: tuple[str, int, int] | None = None
    slot_match: dict[str, tuple[str, int, int]] = field(default_factory=dict)
    rolled_back: set[str] = field(default_factory=set)
    counter: int = 0

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
        kind = error_kind(text) if text else None
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
        for name in REQUIRED.get(msg, ()):
            if name not in obj:
                raise LogError(self.source, line, f"{msg!r} line lacks property {name!r} (expected {REQUIRED[msg]})")

    def synthetic(self, kind: str, line: int) -> str:
        self.counter += 1
        return f"unlogged-{kind}@L{line}"

    def slot_key(self, obj: Mapping[str, Any], line: int) -> str | None:
        if "requestId" in obj and "slotIndex" in obj:
            return f"{_id(obj['requestId'])}#{_int(obj['slotIndex'], self.source, line, 'slotIndex')}"
        return None

    # -- dispatch ---------------------------------------------------------------------------

    def feed(self, obj: Mapping[str, Any], line: int) -> None:
        msg = str(obj.get("msg", obj.get("message", "")))
        topics = str(obj.get("topics", obj.get("topic", "")))
        words = topics.split()
        level = str(obj.get("lvl", obj.get("level", ""))).upper()
        if msg == "enter state":
            slot = self.slot_key(obj, line)
            where = f" {slot}" if slot else ""
            self.transitions.append(f"line {line}:{where} {obj.get('state', '?')}")
            return
        reservations_topic = "reservations" in words or words == ["release"]
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
            slot = self.slot_key(obj, line)
            if slot is not None and self.last_matched is not None:
                self.slot_match[slot] = self.last_matched
            return
        if level in FAILURE_LEVELS and ("error" in obj or "err" in obj) and self.on_generic_failure(obj, line):
            return
        if reservations_topic:
            self.skipped["unmapped"] += 1
        else:
            self.skipped["other_topics"] += 1

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

    def move(self, pending: _Pending, line: int) -> None:
        """Re-date a provisionally committed event to a later line of the same operation."""
        if pending.event is not None and (draft := self.drafts[pending.event]) is not None:
            self.drafts[pending.event] = None
            self.drafts.append((line, draft[1]))
            pending.event = len(self.drafts) - 1

    # -- the lock holder's availability write ------------------------------------------------

    def on_updating_availability(self, obj: Mapping[str, Any], line: int) -> None:
        availability = _id(obj["id"])
        pending = self.locked
        if pending is None or pending.args.get("availability_id") != availability:
            self.skipped["unmapped"] += 1
            return
        if pending.op == "return_bytes_to_availability" and pending.event is None:
            self.emit(line, pending, "accepted")
        elif pending.op == "delete_reservation":
            self.move(pending, line)
        else:
            self.skipped["unmapped"] += 1

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

    ``profile`` is a ``model.state.Profile`` or its value; only ``codex-head`` logs are mapped.
    Raises ``LogError`` for bad input (no JSON object at all; a required property missing).
    """
    name = getattr(profile, "value", profile)
    if name != "codex-head":
        raise LogError(source, 0, f"only codex-head logs can be read (got profile {name!r})")
    reader = _Reader(source=source, profile=name, quota=quota)
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
        "profile": name,
        "setup": {"quota_max_bytes": quota},
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
