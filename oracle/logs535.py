"""nim-codex codex-535 chronicles JSON logs as trace events: pairs attempts with their writes by ids and sizes.

A node of nim-codex PR #535 (570a1f7b) started with ``--log-format=json`` and TRACE enabled writes
the Reservations module's lines under the topic ``sales reservations`` (``release`` for
``release``). ``read_log535`` turns them into the codex-535 trace events ``oracle.trace`` checks,
with the shared machinery of ``oracle.logs`` (``Drafts``, ``read_with``); this module holds only
what differs at 535: the messages, the pairing without ``availabilityLock``, and the sizes.

Rules:
1. Every write logs ``updating Availability`` / ``updating Reservation`` with ``id`` and the new
   ``size`` (``update``, logged just before the datastore put). A write is the commit of the
   operation it finishes, and its ``size`` is recorded as the ``state`` of that event, so a write
   the model does not reproduce (a lost update, possible without a lock) is a divergence there.
2. ``creating availability`` (``size``, ``duration``, ``minPrice``, ``maxCollateral``) is committed
   by the next ``updating Availability`` of a NEW id whose ``size`` equals the attempt's: the
   oldest such attempt (no id is logged before the write). Older attempts still waiting when a
   later one commits failed silently: ``ReserveFailed``, placed at their own line (the repo
   reserve is the only step before the write, and it logs nothing). ``rolling back reserve``
   retracts the last committed creation.
3. ``creating reservation`` (``availabilityId``, ``slotSize``, ``requestId``, ``slotIndex``) is an
   attempt; ``updating Reservation`` of a NEW id with ``size`` = ``slotSize`` gives its id (oldest
   waiting attempt of that size); the next ``updating Availability`` of its availability whose
   ``size`` is the tracked size minus ``slotSize`` commits it. ``rolling back reservation
   creation`` retracts the last committed one and restores the tracked size.
4. ``releasing bytes and updating reservation`` is committed by ``updating Reservation`` of the
   same id, retracted by ``rolling back release``. ``deleting reservation`` commits unless a
   failure line follows; ``returning remaining reservation bytes to availability`` (``size``) and
   then the ``updating Availability`` of its availability (tracked size plus that ``size``) re-date it.
5. When several pending operations could own an availability write, the one whose expected size
   equals the logged ``size`` does (oldest first); when none does, the oldest is taken with a note
   (a lost update) and the recorded size makes the event a divergence.
6. Rejections are logged by nobody in the Reservations module at 535. A WRN/ERR/FTL line with an
   ``error`` whose text tells the kind ("greater than the total size of the Availability" ->
   ``BytesOutOfBounds`` of a creation, "... of the Reservation" -> of a release, "does not exist"
   -> ``NotExists``) rejects the one waiting attempt it can name (by ``reservationId``, or
   ``requestId`` + ``slotIndex``, or the only one waiting); otherwise it is not paired.
7. ``availability matched`` logs the query (``size``, ``duration``, ``minPrice``, ``collateral``)
   and the matched availability's fields (``availsize``, ``availDuration``, ``availMinPrice``,
   ``availMaxCollateral``) but no id. It is a ``find_availability`` event at that line; its
   ``result`` is the one live availability with those fields and that size, else the
   ``availabilityId`` of the next ``creating reservation`` of ``slotSize`` = ``size`` among them;
   a match never resolved is dropped with a note. A find that matched nothing makes no event.
8. Non-JSON lines, other topics and unmapped messages are skipped and counted; bad input (no JSON
   object, a reservations-topic line missing a required property) is ``LogError`` naming the line.
   ``enter state`` lines are transitions in the report. Events are ordered by commit line.

Read at: codex/sales/reservations.nim, the stored #535 revision (``Availability`` with ``size``
only; ``Reservation`` with ``requestId``/``slotIndex``; the index holds no copy tagged 570a1f7b):
``update`` (``trace "updating " & $(obj.type), id = obj.id, size = obj.size``),
``createAvailability``, ``createReservation`` (the ``BytesOutOfBoundsError`` check logs nothing),
``release``, ``deleteReservation``, ``findAvailability`` (``availability matched`` /
``availiability did not match``, both without ``id``). Nearest stored revisions:
codex/sales/states/preparing.nim (``findAvailability(slotSize, duration, pricePerSlot,
collateral)`` then ``createReservation``), codex/sales/states/errored.nim (``error "Sale error",
error = state.error.msg``), codex/sales.nim (``cleanUp``: ``failure deleting reservation``).

Mirrors: codex-sales-spec §1.1, §2.1, §2.4, §2.5, §2.7, §2.8 (OLD notes), §2.11 (no lock at OLD),
§2.13, §3.5; oracle.logs (the codex-head reader) for the shared rules.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from model.state import DEFAULT_QUOTA, Profile
from oracle.logs import (
    ERROR_KINDS,
    FAILURE_LEVELS,
    Drafts,
    LogError,
    LogReading,
    Pending,
    as_id,
    as_int,
    error_kind,
    read_with,
)

PROFILE = "codex-535"
DEFAULT_QUOTA_535 = DEFAULT_QUOTA[Profile.CODEX_535]  # quotaMaxBytes at OLD: 8 GiB (1 shl 33), spec §1.4

#: message -> properties a reservations-topic line must carry (chronicles property names at 535).
REQUIRED_535: Mapping[str, tuple[str, ...]] = {
    "creating availability": ("size", "duration", "minPrice", "maxCollateral"),
    "updating Availability": ("id", "size"),
    "updating Reservation": ("id", "size"),
    "rolling back reserve": (),
    "creating reservation": ("availabilityId", "slotSize", "requestId", "slotIndex"),
    "rolling back reservation creation": (),
    "releasing bytes and updating reservation": ("bytes", "reservationId", "availabilityId"),
    "rolling back release": ("reservationId",),
    "deleting reservation": ("reservationId", "availabilityId"),
    "returning remaining reservation bytes to availability": ("size", "reservationId", "availabilityId"),
    "availability matched": (
        "size",
        "availsize",
        "duration",
        "availDuration",
        "minPrice",
        "availMinPrice",
        "collateral",
        "availMaxCollateral",
    ),
}
#: reservations-topic lines that make no event (``findAvailability``'s misses, the private ``delete``).
QUIET_535 = frozenset({"availiability did not match", "deleting object"})
#: ``createReservation``'s size check says "total size of the Availability" at 535 (HEAD: "free size").
ERROR_KINDS_535: tuple[tuple[str, str], ...] = (
    ("greater than the total size of the availability", "BytesOutOfBounds"),
    *ERROR_KINDS,
)


@dataclass
class _Find:
    pending: Pending
    candidates: tuple[str, ...]


@dataclass(kw_only=True)
class _Reader535(Drafts):
    required: ClassVar[Mapping[str, tuple[str, ...]]] = REQUIRED_535
    kinds: ClassVar[tuple[tuple[str, str], ...]] = ERROR_KINDS_535
    sizes: dict[str, int] = field(default_factory=dict)  # availability -> size its last write logged
    shapes: dict[str, tuple[int, int, int]] = field(default_factory=dict)  # duration, minPrice, maxCollateral
    known: set[str] = field(default_factory=set)  # reservation ids written so far
    slots: dict[str, str] = field(default_factory=dict)  # reservation -> requestId#slotIndex
    availability_creates: list[Pending] = field(default_factory=list)
    last_created: Pending | None = None
    creates: list[Pending] = field(default_factory=list)  # reservation creations until their write
    last_reserved: Pending | None = None
    prior: dict[str, int] = field(default_factory=dict)  # reservation -> its availability's size before
    deletes: dict[str, Pending] = field(default_factory=dict)
    returning: dict[str, int] = field(default_factory=dict)  # reservation -> bytes its delete gives back
    finds: list[_Find] = field(default_factory=list)

    # -- dispatch ---------------------------------------------------------------------------

    def feed(self, obj: Mapping[str, Any], line: int) -> None:
        msg = str(obj.get("msg", obj.get("message", "")))
        words = str(obj.get("topics", obj.get("topic", ""))).split()
        level = str(obj.get("lvl", obj.get("level", ""))).upper()
        if msg == "enter state":
            self.transition(obj, line)
            return
        reservations_topic = "reservations" in words or words == ["release"]
        if reservations_topic and msg in HANDLERS:
            self.require(obj, msg, line)
            HANDLERS[msg](self, obj, line)
            return
        if reservations_topic and msg in QUIET_535:
            return
        if msg == "failure deleting reservation" and self.on_delete_failure(obj, line):
            return
        if level in FAILURE_LEVELS and ("error" in obj or "err" in obj) and self.on_failure(obj, line):
            return
        self.skipped["unmapped" if reservations_topic else "other_topics"] += 1

    def record(self, pending: Pending, part: str, entity: str, size: int | None) -> None:
        """Add the size a write logged (None: the record is gone) to the event's recorded state."""
        if pending.event is None or (draft := self.drafts[pending.event]) is None:
            return
        state = draft[1].setdefault("state", {})
        state.setdefault(part, {})[entity] = None if size is None else {"size": size}

    # -- create availability (§2.1) ----------------------------------------------------------

    def on_creating_availability(self, obj: Mapping[str, Any], line: int) -> None:
        src = self.source
        args = {
            "availability_id": self.synthetic("availability", line),
            "size": as_int(obj["size"], src, line, "size"),
            "duration": as_int(obj["duration"], src, line, "duration"),
            "min_price": as_int(obj["minPrice"], src, line, "minPrice"),
            "max_collateral": as_int(obj["maxCollateral"], src, line, "maxCollateral"),
        }
        self.availability_creates.append(Pending("create_availability", args, line))

    def created(self, availability: str, size: int, line: int) -> None:
        """The first write of a new availability id: commits the oldest attempt of that size."""
        match = next((p for p in self.availability_creates if p.args["size"] == size), None)
        if match is None:
            self.unpaired += 1
            self.note(
                line, f"new availability {availability} (size {size}) with no 'creating availability' of that size"
            )
            return
        index = self.availability_creates.index(match)
        for earlier in self.availability_creates[:index]:
            self.note(line, f"create_availability at line {earlier.line} overtaken with no write: ReserveFailed")
            self.fail(earlier, earlier.line, None, "ReserveFailed")
        del self.availability_creates[: index + 1]
        match.bound = match.args["availability_id"] = availability
        self.emit(line, match, "accepted")
        self.record(match, "availabilities", availability, size)
        self.shapes[availability] = (match.args["duration"], match.args["min_price"], match.args["max_collateral"])
        self.last_created = match

    def on_rolling_back_reserve(self, obj: Mapping[str, Any], line: int) -> None:
        pending = self.last_created
        if pending is None or pending.bound is None:
            self.unpaired += 1
            self.note(line, "'rolling back reserve' with no availability creation to undo")
            return
        self.retract(pending, line, "was rolled back (availability write failed)")
        self.sizes.pop(pending.bound, None)
        self.shapes.pop(pending.bound, None)
        self.last_created = None

    # -- availability writes (rules 1, 5) ----------------------------------------------------

    def on_updating_availability(self, obj: Mapping[str, Any], line: int) -> None:
        availability = as_id(obj["id"])
        size = as_int(obj["size"], self.source, line, "size")
        if availability not in self.sizes:
            self.created(availability, size, line)
        else:
            self.written(availability, size, line)
        self.sizes[availability] = size

    def written(self, availability: str, size: int, line: int) -> None:
        """A write of a known availability: the reservation creation or delete it finishes."""
        current = self.sizes[availability]
        candidates = [
            (p, current - p.args["slot_size"])
            for p in self.creates
            if p.bound is not None and p.args["availability_id"] == availability
        ]
        candidates += [
            (p, current + self.returning[rid])
            for rid, p in self.deletes.items()
            if rid in self.returning and not p.written and p.args["availability_id"] == availability
        ]
        if not candidates:
            self.skipped["unmapped"] += 1
            self.note(line, f"write of availability {availability} that no pending operation explains")
            return
        candidates.sort(key=lambda item: item[0].line)
        pending, expected = next((c for c in candidates if c[1] == size), candidates[0])
        if expected != size:
            self.note(
                line,
                f"{availability} written with size {size}, {pending.op} at line {pending.line} expected "
                f"{expected}: a concurrent write was lost (no lock at 535)",
            )
        pending.written = True
        if pending.op == "create_reservation":
            self.reserved(pending, current, size, line)
            return
        reservation = pending.args["reservation_id"]
        del self.returning[reservation]
        self.move(pending, line)
        self.record(pending, "availabilities", availability, size)

    # -- create reservation (§2.4) -----------------------------------------------------------

    def on_creating_reservation(self, obj: Mapping[str, Any], line: int) -> None:
        src = self.source
        slot = self.slot_key(obj, line)
        assert slot is not None
        earlier = next((p for p in self.creates if p.key == slot and p.bound is None), None)
        if earlier is not None:
            self.creates.remove(earlier)
            self.fail(earlier, line, None)
        args: dict[str, Any] = {
            "availability_id": as_id(obj["availabilityId"]),
            "reservation_id": self.synthetic("reservation", line),  # its write gives the real id
            "slot_size": as_int(obj["slotSize"], src, line, "slotSize"),
            "request_id": as_id(obj["requestId"]),
            "slot_index": as_int(obj["slotIndex"], src, line, "slotIndex"),
        }
        self.creates.append(Pending("create_reservation", args, line, key=slot))
        self.resolve_find(args["availability_id"], args["slot_size"])

    def on_updating_reservation(self, obj: Mapping[str, Any], line: int) -> None:
        reservation = as_id(obj["id"])
        size = as_int(obj["size"], self.source, line, "size")
        release = self.releases.get(reservation)
        if release is not None and release.event is None:
            self.emit(line, release, "accepted")
            self.record(release, "reservations", reservation, size)
            return
        if reservation in self.known:
            self.skipped["unmapped"] += 1
            return
        waiting = next((p for p in self.creates if p.bound is None and p.args["slot_size"] == size), None)
        if waiting is None:
            self.unpaired += 1
            self.note(line, f"new reservation {reservation} (size {size}) with no 'creating reservation' of that size")
            return
        waiting.bound = waiting.args["reservation_id"] = reservation
        self.known.add(reservation)
        self.slots[reservation] = waiting.key

    def reserved(self, pending: Pending, before: int, size: int, line: int) -> None:
        """The availability write of a reservation creation: its commit."""
        self.creates.remove(pending)
        reservation = pending.args["reservation_id"]
        self.emit(line, pending, "accepted")
        self.record(pending, "availabilities", pending.args["availability_id"], size)
        self.record(pending, "reservations", reservation, pending.args["slot_size"])
        self.prior[reservation] = before
        self.last_reserved = pending

    def on_rolling_back_reservation_creation(self, obj: Mapping[str, Any], line: int) -> None:
        pending = self.last_reserved
        if pending is None:
            self.unpaired += 1
            self.note(line, "reservation rollback with no reservation creation committed")
            return
        self.retract(pending, line, "was rolled back (availability write failed)")
        self.sizes[pending.args["availability_id"]] = self.prior.pop(pending.args["reservation_id"])
        self.last_reserved = None

    # -- find (§2.8) -------------------------------------------------------------------------

    def on_availability_matched(self, obj: Mapping[str, Any], line: int) -> None:
        def num(name: str) -> int:
            return as_int(obj[name], self.source, line, name)

        args = {
            "size": num("size"),
            "duration": num("duration"),
            "min_price": num("minPrice"),
            "collateral": num("collateral"),
        }
        shape = (num("availDuration"), num("availMinPrice"), num("availMaxCollateral"))
        alike = [a for a, s in self.shapes.items() if s == shape and a in self.sizes]
        candidates = [a for a in alike if self.sizes[a] == num("availsize")] or alike
        event: dict[str, Any] = {"op": "find_availability", "args": args, "result": None}
        self.drafts.append((line, event))
        pending = Pending("find_availability", args, line, event=len(self.drafts) - 1)
        if len(candidates) == 1:
            event["result"] = candidates[0]
            return
        self.finds.append(_Find(pending, tuple(candidates)))

    def resolve_find(self, availability: str, slot_size: int) -> None:
        """The sale's ``creating reservation`` names the availability its match found (rule 7)."""
        for find in self.finds:
            if find.pending.args["size"] == slot_size and (not find.candidates or availability in find.candidates):
                draft = self.drafts[find.pending.event] if find.pending.event is not None else None
                if draft is not None:
                    draft[1]["result"] = availability
                self.finds.remove(find)
                return

    # -- delete (§2.7) -----------------------------------------------------------------------

    def on_deleting_reservation(self, obj: Mapping[str, Any], line: int) -> None:
        reservation = as_id(obj["reservationId"])
        args = {"reservation_id": reservation, "availability_id": as_id(obj["availabilityId"])}
        pending = Pending("delete_reservation", args, line, key=reservation)
        self.emit(line, pending, "accepted")  # commits unless a failure line follows (rule 4)
        self.record(pending, "reservations", reservation, None)
        self.deletes[reservation] = pending

    def on_returning_remaining_reservation_bytes_to_availability(self, obj: Mapping[str, Any], line: int) -> None:
        reservation = as_id(obj["reservationId"])
        pending = self.deletes.get(reservation)
        if pending is None:
            self.unpaired += 1
            self.note(line, "returning remaining bytes with no 'deleting reservation' attempt")
            return
        self.returning[reservation] = as_int(obj["size"], self.source, line, "size")
        self.move(pending, line)

    def on_delete_failure(self, obj: Mapping[str, Any], line: int) -> bool:
        """``failure deleting reservation`` (``Sales.cleanUp``) naming its reservation; False when it names none."""
        if "reservationId" not in obj:
            return False
        pending = self.deletes.pop(as_id(obj["reservationId"]), None)
        if pending is None:
            return False
        self.returning.pop(pending.key, None)
        self.fail(pending, line, str(obj.get("error", obj.get("err", ""))) or None)
        return True

    # -- failure lines (rule 6) --------------------------------------------------------------

    def on_failure(self, obj: Mapping[str, Any], line: int) -> bool:
        """A failure line whose error tells the kind rejects the one waiting attempt it can name."""
        text = str(obj.get("error", obj.get("err", "")))
        if error_kind(text, self.kinds) is None:
            return False
        slot = self.slot_key(obj, line)
        named = as_id(obj["reservationId"]) if "reservationId" in obj else None
        lowered = text.lower()
        creates = [p for p in self.creates if p.bound is None and slot in (None, p.key) and named is None]
        releases = [
            p
            for r, p in self.releases.items()
            if p.event is None and named in (None, r) and slot in (None, self.slots.get(r))
        ]
        if "release an amount" in lowered:
            creates = []
        elif "reserve an amount" in lowered:
            releases = []
        candidates = creates + releases
        if len(candidates) != 1:
            if candidates:
                self.note(line, f"failure ({text}) could belong to {len(candidates)} waiting attempts; not paired")
            return False
        pending = candidates[0]
        if pending in self.creates:
            self.creates.remove(pending)
        else:
            del self.releases[pending.key]
        self.fail(pending, line, text)
        return True

    # -- end ---------------------------------------------------------------------------------

    def finish(self, last_line: int) -> None:
        for find in self.finds:
            self.drop(find.pending, find.pending.line, "matched an availability the log never names; result unknown")
        for pending in [*self.availability_creates, *self.creates]:
            self.unpaired += 1
            self.note(pending.line, f"{pending.op} attempt with no outcome before the end of the log; dropped")
        for pending in self.releases.values():
            if pending.event is None:
                self.unpaired += 1
                self.note(pending.line, f"{pending.op} attempt with no outcome before the end of the log; dropped")


#: reservations-topic message -> its handler (every message of REQUIRED_535).
HANDLERS: Mapping[str, Callable[[_Reader535, Mapping[str, Any], int], None]] = {
    msg: getattr(_Reader535, "on_" + msg.replace(" ", "_").lower()) for msg in REQUIRED_535
}


def read_log535(lines: Iterable[str], source: str, quota: int = DEFAULT_QUOTA_535) -> LogReading:
    """Read a codex-535 node's chronicles JSON log lines into codex-535 trace events.

    Raises ``LogError`` for bad input (no JSON object at all; a required property missing).
    """
    return read_with(_Reader535(source=source, profile=PROFILE, quota=quota), lines)


__all__ = ["DEFAULT_QUOTA_535", "PROFILE", "REQUIRED_535", "LogError", "LogReading", "read_log535"]
