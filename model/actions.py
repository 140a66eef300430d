"""The action vocabulary shared by every engine, and ``apply``, the one way to run an action.

Rules:
1. An action is a frozen value naming one operation and its arguments; its ``name`` is the
   operation's snake_case name, the same in both profiles where the operation exists.
2. ``apply(state, action)`` returns ``Accepted`` (new state, and the id found by a query) or
   the operation's ``Rejection``; a rejection means the state is unchanged.
3. What runs is looked up in an ``OperationTable`` (action type -> function); ``apply`` takes
   an alternative table, so broken variants are plugged in as values, never by patching.
4. An action the profile does not know is rejected with ``UnsupportedOperation``.

Mirrors: codex-sales-spec §2 (one action per Reservations procedure), §1.4, §2.10.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import attrs

from model import codex535, codex_head, common
from model.entities import Availability535, AvailabilityHead
from model.errors import Rejection, UnsupportedOperation
from model.records import arguments, constructor
from model.state import AnyState, Profile


@attrs.frozen(kw_only=True)
class Action:
    """Base of every action; ``name`` is the operation's name, ``query`` marks read-only ones."""

    name: ClassVar[str] = ""
    query: ClassVar[bool] = False

    def arguments(self) -> dict[str, Any]:
        """The keyword arguments of the operation, by field name."""
        return arguments(self)


@attrs.frozen(kw_only=True)
class CreateAvailability535(Action):
    name: ClassVar[str] = "create_availability"
    availability_id: str
    size: int
    duration: int
    min_price: int
    max_collateral: int


@attrs.frozen(kw_only=True)
class CreateReservation535(Action):
    name: ClassVar[str] = "create_reservation"
    availability_id: str
    reservation_id: str
    slot_size: int
    request_id: str
    slot_index: int


@attrs.frozen(kw_only=True)
class DeleteReservation535(Action):
    name: ClassVar[str] = "delete_reservation"
    reservation_id: str
    availability_id: str


@attrs.frozen(kw_only=True)
class FindAvailability535(Action):
    name: ClassVar[str] = "find_availability"
    query: ClassVar[bool] = True
    size: int
    duration: int
    min_price: int
    collateral: int


@attrs.frozen(kw_only=True)
class CreateAvailabilityHead(Action):
    name: ClassVar[str] = "create_availability"
    availability_id: str
    total_size: int
    duration: int
    min_price_per_byte_per_second: int
    total_collateral: int
    enabled: bool = True
    until: int = 0


@attrs.frozen(kw_only=True)
class UpdateAvailability(Action):
    name: ClassVar[str] = "update_availability"
    availability_id: str
    total_size: int | None = None
    free_size: int | None = None
    duration: int | None = None
    min_price_per_byte_per_second: int | None = None
    total_collateral: int | None = None
    enabled: bool | None = None
    until: int | None = None


@attrs.frozen(kw_only=True)
class CreateReservationHead(Action):
    name: ClassVar[str] = "create_reservation"
    availability_id: str
    reservation_id: str
    slot_size: int
    request_id: str
    slot_index: int
    collateral_per_byte: int
    valid_until: int


@attrs.frozen(kw_only=True)
class ReturnBytesToAvailability(Action):
    name: ClassVar[str] = "return_bytes_to_availability"
    availability_id: str
    reservation_id: str
    bytes: int


@attrs.frozen(kw_only=True)
class DeleteReservationHead(Action):
    name: ClassVar[str] = "delete_reservation"
    reservation_id: str
    availability_id: str
    returned_collateral: int | None = None


@attrs.frozen(kw_only=True)
class FindAvailabilityHead(Action):
    name: ClassVar[str] = "find_availability"
    query: ClassVar[bool] = True
    size: int
    duration: int
    price_per_byte_per_second: int
    collateral_per_byte: int
    valid_until: int


@attrs.frozen(kw_only=True)
class ReleaseBytes(Action):
    name: ClassVar[str] = "release_bytes"
    reservation_id: str
    availability_id: str
    bytes: int


@attrs.frozen(kw_only=True)
class StoreBlock(Action):
    name: ClassVar[str] = "store_block"
    bytes: int


@attrs.frozen(kw_only=True)
class ExpireBlock(Action):
    name: ClassVar[str] = "expire_block"
    bytes: int


@attrs.frozen(kw_only=True)
class DeleteInactiveReservations(Action):
    name: ClassVar[str] = "delete_inactive_reservations"
    active_slots: frozenset[tuple[str, int]] = frozenset()


@attrs.frozen(kw_only=True)
class Accepted:
    """An operation went through: the new state, and for a query the id it found (or None)."""

    state: AnyState
    found: str | None = None


Outcome = Accepted | Rejection
#: ``operation(state, **action.arguments())`` -> new state, a Rejection, or (queries) an entity or None.
Operation = Callable[..., Any]
OperationTable = Mapping[type[Action], Operation]

OPERATIONS: Mapping[Profile, OperationTable] = {
    Profile.CODEX_535: {
        CreateAvailability535: codex535.create_availability,
        CreateReservation535: codex535.create_reservation,
        ReleaseBytes: common.release_bytes,
        DeleteReservation535: codex535.delete_reservation,
        FindAvailability535: codex535.find_availability,
        StoreBlock: common.store_block,
        ExpireBlock: common.expire_block,
        DeleteInactiveReservations: codex535.delete_inactive_reservations,
    },
    Profile.CODEX_HEAD: {
        CreateAvailabilityHead: codex_head.create_availability,
        UpdateAvailability: codex_head.update_availability,
        CreateReservationHead: codex_head.create_reservation,
        ReleaseBytes: common.release_bytes,
        ReturnBytesToAvailability: codex_head.return_bytes_to_availability,
        DeleteReservationHead: codex_head.delete_reservation,
        FindAvailabilityHead: codex_head.find_availability,
        StoreBlock: common.store_block,
        ExpireBlock: common.expire_block,
        DeleteInactiveReservations: codex_head.delete_inactive_reservations,
    },
}


_accepted = constructor(Accepted)


def apply(state: AnyState, action: Action, operations: OperationTable | None = None) -> Outcome:
    """Run ``action`` on ``state`` with the profile's operations (or ``operations``)."""
    table = OPERATIONS[state.profile] if operations is None else operations
    operation = table.get(type(action))
    if operation is None:
        return UnsupportedOperation(profile=state.profile.value, operation=type(action).__name__)
    result = operation(state, **arguments(action))
    if isinstance(result, Rejection):
        return result
    if action.query:
        return _accepted(
            state=state, found=result.id if isinstance(result, Availability535 | AvailabilityHead) else None
        )
    return _accepted(state=result)


def with_operation(profile: Profile, action_type: type[Action], operation: Operation) -> OperationTable:
    """The profile's table with one operation replaced (how broken variants are built)."""
    table = dict(OPERATIONS[profile])
    table[action_type] = operation
    return table
