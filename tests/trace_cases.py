"""Recorded traces for the trace tests: a recorder that runs actions through an operation table and
writes what an implementation would log, the scenarios it records, the broken-variant cases, and the
bad inputs with the line and the words their error must name.

Shared by ``test_trace.py`` and ``test_trace_pipeline.py`` (a helper module, not a test module).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from model.actions import (
    Accepted,
    Action,
    CreateAvailability535,
    CreateAvailabilityHead,
    CreateReservation535,
    CreateReservationHead,
    DeleteInactiveReservations,
    DeleteReservation535,
    DeleteReservationHead,
    FindAvailability535,
    FindAvailabilityHead,
    OperationTable,
    ReleaseBytes,
    ReturnBytesToAvailability,
    StoreBlock,
    UpdateAvailability,
    apply,
)
from model.entities import free_bytes
from model.state import Profile, initial_state
from oracle.trace import TRACE, load_events
from reports.counterexample import snapshot
from reports.vocabulary import encode_action
from variants import VARIANTS

HEAD, OLD = Profile.CODEX_HEAD, Profile.CODEX_535
QUOTA = 100_000

Step = Action | Callable[[Any], Action]


# --- a recorder: runs actions through an operation table and writes what an implementation would log


def _slot_past_free(aid: str, rid: str, profile: Profile) -> Callable[[Any], Action]:
    def make(state: Any) -> Action:
        size = free_bytes(state.availabilities[aid]) + 1
        if profile is HEAD:
            return CreateReservationHead(
                availability_id=aid,
                reservation_id=rid,
                slot_size=size,
                request_id="q9",
                slot_index=9,
                collateral_per_byte=1,
                valid_until=10,
            )
        return CreateReservation535(
            availability_id=aid, reservation_id=rid, slot_size=size, request_id="q9", slot_index=9
        )

    return make


def _quota_plus_one(aid: str, profile: Profile) -> Callable[[Any], Action]:
    def make(state: Any) -> Action:
        size = state.repo.max_bytes - state.repo.used - state.repo.reserved + 1
        if profile is HEAD:
            return CreateAvailabilityHead(
                availability_id=aid, total_size=size, duration=100, min_price_per_byte_per_second=1, total_collateral=10
            )
        return CreateAvailability535(availability_id=aid, size=size, duration=100, min_price=1, max_collateral=10)

    return make


def head_reservation(rid: str, slot: int, request: str, valid_until: int = 50, aid: str = "a1") -> Action:
    return CreateReservationHead(
        availability_id=aid,
        reservation_id=rid,
        slot_size=slot,
        request_id=request,
        slot_index=0,
        collateral_per_byte=1,
        valid_until=valid_until,
    )


HEAD_SCENARIO: list[Step] = [
    CreateAvailabilityHead(
        availability_id="a1", total_size=1000, duration=100, min_price_per_byte_per_second=1, total_collateral=10_000
    ),
    CreateAvailabilityHead(
        availability_id="a2",
        total_size=5000,
        duration=100,
        min_price_per_byte_per_second=1,
        total_collateral=10_000,
        enabled=False,
    ),
    head_reservation("r1", 100, "q1"),
    ReleaseBytes(reservation_id="r1", availability_id="a1", bytes=40),
    ReturnBytesToAvailability(reservation_id="r1", availability_id="a1", bytes=100),
    DeleteReservationHead(reservation_id="r1", availability_id="a1", returned_collateral=100),
    head_reservation("r2", 200, "q2"),
    DeleteReservationHead(reservation_id="r2", availability_id="a1"),  # gives no collateral back: a known leak
    head_reservation("r3", 300, "q3"),
    ReleaseBytes(reservation_id="r3", availability_id="a1", bytes=300),
    DeleteReservationHead(reservation_id="r3", availability_id="a1", returned_collateral=300),
    _slot_past_free("a1", "r4", HEAD),
    head_reservation("r5", 10, "q5"),
    DeleteInactiveReservations(active_slots=frozenset({("q5", 0)})),
    UpdateAvailability(availability_id="a1", total_size=2000),
    FindAvailabilityHead(size=3000, duration=10, price_per_byte_per_second=2, collateral_per_byte=1, valid_until=0),
    UpdateAvailability(availability_id="a1", until=55),
    head_reservation("r6", 10, "q6", valid_until=60),
    StoreBlock(bytes=10),
    _quota_plus_one("a3", HEAD),
]

OLD_SCENARIO: list[Step] = [
    CreateAvailability535(availability_id="a1", size=1000, duration=100, min_price=1, max_collateral=1000),
    CreateReservation535(availability_id="a1", reservation_id="r1", slot_size=100, request_id="q1", slot_index=0),
    ReleaseBytes(reservation_id="r1", availability_id="a1", bytes=40),
    DeleteReservation535(reservation_id="r1", availability_id="a1"),
    CreateReservation535(availability_id="a1", reservation_id="r2", slot_size=200, request_id="q2", slot_index=0),
    DeleteReservation535(reservation_id="r2", availability_id="a1"),
    _slot_past_free("a1", "r4", OLD),
    CreateReservation535(availability_id="a1", reservation_id="r5", slot_size=10, request_id="q5", slot_index=0),
    DeleteInactiveReservations(active_slots=frozenset({("q5", 0)})),
    FindAvailability535(size=10, duration=10, min_price=1, collateral=1),
    StoreBlock(bytes=10),
    _quota_plus_one("a3", OLD),
]
SCENARIOS = {HEAD: HEAD_SCENARIO, OLD: OLD_SCENARIO}


def _record_of(entity: Any) -> dict[str, Any] | None:
    return None if entity is None else dict(snapshot(entity))


def observe(before: Any, after: Any, action: Action, accepted: bool) -> dict[str, Any]:
    """The state part a recorder logs after ``action``: the records it names, whole, and the repo."""
    state: dict[str, Any] = {"repo": dict(snapshot(after.repo))}
    if isinstance(action, DeleteInactiveReservations):
        state["reservations"] = {rid: _record_of(after.reservations.get(rid)) for rid in sorted(before.reservations)}
        return state
    aid = getattr(action, "availability_id", None)
    rid = getattr(action, "reservation_id", None)
    if aid is not None and (accepted or aid in after.availabilities):
        state["availabilities"] = {aid: _record_of(after.availabilities.get(aid))}
    if rid is not None and (accepted or rid in after.reservations):
        state["reservations"] = {rid: _record_of(after.reservations.get(rid))}
    return state


def record(
    profile: Profile, steps: Sequence[Step], operations: OperationTable | None = None, *, states: bool = True
) -> tuple[list[dict[str, Any]], list[Action]]:
    """Run ``steps`` through ``operations`` (the model's when None); the events an implementation
    running them would log (outcome, result, partial state), and the actions run."""
    state: Any = initial_state(profile, quota_max_bytes=QUOTA)
    events, actions = [], []
    for step in steps:
        action = step if isinstance(step, Action) else step(state)
        outcome = apply(state, action, operations)
        accepted = isinstance(outcome, Accepted)
        after = outcome.state if isinstance(outcome, Accepted) else state
        name, arguments = encode_action(action)
        if "active_slots" in arguments:
            arguments["active_slots"] = sorted([list(pair) for pair in arguments["active_slots"]])
        event: dict[str, Any] = {"op": name, "args": arguments}
        event["outcome"] = "accepted" if accepted else outcome.kind  # type: ignore[union-attr]
        if action.query:
            event["result"] = outcome.found if isinstance(outcome, Accepted) else None
        if states:
            event["state"] = observe(state, after, action, accepted)
        events.append(event)
        actions.append(action)
        state = after
    return events, actions


def text_of(profile: Profile, events: Sequence[dict[str, Any]]) -> str:
    header = {"trace": TRACE, "version": 1, "profile": profile.value, "setup": {"quota_max_bytes": QUOTA}}
    return "\n".join(json.dumps(line) for line in [header, *events]) + "\n"


def loaded(profile: Profile, events: Sequence[dict[str, Any]], source: str = "t.jsonl") -> Any:
    return load_events(text_of(profile, events).splitlines(keepends=True), source)


CASES = [
    pytest.param(variant, profile, id=f"{variant.name}-{profile.value}")
    for variant in VARIANTS
    for profile in sorted(variant.profiles, key=lambda p: p.value)
]


GOOD_HEADER = json.dumps({"trace": TRACE, "version": 1, "profile": "codex-head"})
CREATE = json.dumps(
    {
        "op": "create_availability",
        "args": {
            "availability_id": "a1",
            "total_size": 10,
            "duration": 1,
            "min_price_per_byte_per_second": 1,
            "total_collateral": 1,
        },
    }
)


def _event(op: str, **fields: Any) -> str:
    return json.dumps({"op": op, **fields})


RELEASE = {"reservation_id": "r1", "availability_id": "a1", "bytes": 1}
BAD_INPUTS = {
    "empty file": ("", 1, "a header line"),
    "not json": (f"{GOOD_HEADER}\n{{nope\n", 2, "a JSON value"),
    "truncated last line": (f"{GOOD_HEADER}\n{CREATE}\n{CREATE[:20]}", 3, "a complete JSON line"),
    "not an object": (f"{GOOD_HEADER}\n[1, 2]\n", 2, "an event object"),
    "wrong header": ('{"trace": "other", "version": 1, "profile": "codex-head"}\n', 1, '"trace"'),
    "wrong version": (GOOD_HEADER.replace('"version": 1', '"version": 2') + "\n", 1, "version 1"),
    "unknown profile": (GOOD_HEADER.replace("codex-head", "codex-9") + "\n", 1, "a profile"),
    "bad setup": (GOOD_HEADER[:-1] + ', "setup": {"quota": 1}}\n', 1, "setup keys"),
    "unknown op": (f"{GOOD_HEADER}\n{_event('explode', args={})}\n", 2, "an op of codex-head"),
    "unknown argument": (f"{GOOD_HEADER}\n{_event('store_block', args={'bytes': 1, 'x': 2})}\n", 2, "an argument"),
    "missing argument": (f"{GOOD_HEADER}\n{_event('store_block', args={})}\n", 2, "args.bytes"),
    "missing argument beside an optional one": (
        f"{GOOD_HEADER}\n{CREATE}\n"
        + _event("delete_reservation", args={"reservation_id": "r1", "returned_collateral": 1})
        + "\n",
        3,
        "args.availability_id (required by delete_reservation)",
    ),
    "string for integer": (f"{GOOD_HEADER}\n{_event('store_block', args={'bytes': '1'})}\n", 2, "an integer"),
    "float for integer": (f"{GOOD_HEADER}\n{_event('store_block', args={'bytes': 1.5})}\n", 2, "an integer"),
    "bool for integer": (f"{GOOD_HEADER}\n{_event('store_block', args={'bytes': True})}\n", 2, "an integer"),
    "bad slots": (
        f"{GOOD_HEADER}\n{_event('delete_inactive_reservations', args={'active_slots': [['q', 'x']]})}\n",
        2,
        "[request_id, slot_index]",
    ),
    "unknown outcome": (f"{GOOD_HEADER}\n{_event('store_block', args={'bytes': 1}, outcome='Boom')}\n", 2, "outcome"),
    "result on a command": (f"{GOOD_HEADER}\n{_event('store_block', args={'bytes': 1}, result=None)}\n", 2, "query"),
    "unknown event key": (f"{GOOD_HEADER}\n{_event('store_block', args={'bytes': 1}, when=3)}\n", 2, "event keys"),
    "unknown state part": (
        f"{GOOD_HEADER}\n{_event('store_block', args={'bytes': 1}, state={'ledgers': {}})}\n",
        2,
        "a state part",
    ),
    "unknown state field": (
        f"{GOOD_HEADER}\n{CREATE}\n"
        f"{_event('store_block', args={'bytes': 1}, state={'availabilities': {'a1': {'colour': 1}}})}\n",
        3,
        "a field of state.availabilities.a1",
    ),
    "wrong state field type": (
        f"{GOOD_HEADER}\n{_event('store_block', args={'bytes': 1}, state={'repo': {'used': 'x'}})}\n",
        2,
        "state.repo.used",
    ),
    "id never created": (
        f"{GOOD_HEADER}\n{CREATE}\n{_event('release_bytes', args=RELEASE)}\n",
        3,
        "'r1', never created before line 3",
    ),
    "id of a rejected create": (
        f"{GOOD_HEADER}\n{_event('create_availability', args=json.loads(CREATE)['args'], outcome='QuotaNotEnough')}\n"
        f"{_event('update_availability', args={'availability_id': 'a1', 'enabled': False})}\n",
        3,
        "'a1', never created",
    ),
    "result never created": (
        f"{GOOD_HEADER}\n"
        + _event(
            "find_availability",
            args={"size": 1, "duration": 1, "price_per_byte_per_second": 1, "collateral_per_byte": 1, "valid_until": 0},
            result="zz",
        )
        + "\n",
        2,
        "'zz', never created",
    ),
}
