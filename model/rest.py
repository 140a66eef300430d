"""The REST front of nim-codex HEAD as model operations: what ``/api/codex/v1`` lets a client do.

Rules:
1. ``POST /sales/availability`` is ``post_availability``: the handler's checks in the order of
   spec §5 (a body outside the field types is the 400, then the 422s: ``totalSize``, ``duration``,
   ``minPricePerBytePerSecond``, ``totalCollateral`` zero, then strict ``hasAvailable``), and only
   then ``Reservations.createAvailability`` (``codex_head.create_availability``). The first failing
   check wins and changes nothing.
2. ``PATCH /sales/availability/{id}`` is ``codex_head.update_availability``, which already holds the
   handler's guards and composition (spec §2.3).
3. The reads (``GET /sales/availability``, ``GET /sales/availability/{id}/reservations``,
   ``GET /space``) change nothing and are not operations: they are what a snapshot shows.
4. ``REST_OPERATIONS`` is the table of the operations the API exposes (action type -> endpoint and
   model function); ``REST_TABLE`` is it as a ``model.actions.OperationTable``, so an engine can run
   the model as a REST client sees it.

Mirrors: codex-sales-spec §5 (REST API, HEAD), §2.1, §2.3; nim-codex ``codex/rest/api.nim`` at bd360322.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from model import codex_head, quota
from model.actions import (
    Action,
    CreateAvailabilityHead,
    Operation,
    OperationTable,
    Outcome,
    UpdateAvailability,
    apply,
)
from model.checks import out_of_range
from model.errors import (
    DurationZero,
    MinPricePerBytePerSecondZero,
    NotEnoughStorageQuota,
    Rejection,
    TotalCollateralZero,
    TotalSizeZero,
)
from model.numbers import MONEY, SIZE, TIME
from model.state import StateHead

#: The base path of every endpoint (spec §5).
BASE = "/api/codex/v1"


def post_guards(
    state: StateHead,
    *,
    availability_id: str,
    total_size: int,
    duration: int,
    min_price_per_byte_per_second: int,
    total_collateral: int,
    until: int = 0,
) -> Rejection | None:
    """The POST handler's checks before ``createAvailability``: the first that fails, or ``None``.

    Guards: OutOfRange (the 400 of an unparseable body); TotalSizeZero; DurationZero;
    MinPricePerBytePerSecondZero; TotalCollateralZero; NotEnoughStorageQuota unless
    ``has_available(total_size)`` (strict: ``total_size < available``).
    Mirrors: REST ``POST /sales/availability`` at bd360322 (checks 1-6 of spec §5; f1440993 for the zero checks).
    """
    bad = out_of_range(
        total_size=(total_size, SIZE),
        duration=(duration, SIZE),
        min_price_per_byte_per_second=(min_price_per_byte_per_second, MONEY),
        total_collateral=(total_collateral, MONEY),
        until=(until, TIME),
    )
    if bad is not None:
        return bad
    zero: list[tuple[int, type[TotalSizeZero | DurationZero | MinPricePerBytePerSecondZero | TotalCollateralZero]]] = [
        (total_size, TotalSizeZero),
        (duration, DurationZero),
        (min_price_per_byte_per_second, MinPricePerBytePerSecondZero),
        (total_collateral, TotalCollateralZero),
    ]
    for value, rejection in zero:
        if value == 0:
            return rejection(availability_id=availability_id)
    if not quota.has_available(state.repo, total_size):
        return NotEnoughStorageQuota(requested=total_size, available=quota.available(state.repo))
    return None


def create_via_post(
    state: StateHead,
    *,
    availability_id: str,
    total_size: int,
    duration: int,
    min_price_per_byte_per_second: int,
    total_collateral: int,
    enabled: bool = True,
    until: int = 0,
) -> StateHead | Rejection:
    """``POST /sales/availability`` as an operation-table function: ``post_guards``, then create.

    Guards: those of ``post_guards``, then those of ``codex_head.create_availability``
    (IdInUse, UntilOutOfBounds, ReserveFailed).
    Effect: that of ``codex_head.create_availability``.
    Mirrors: REST ``POST /sales/availability`` at bd360322, spec §5 (checks 1-7), §2.1.
    """
    refused = post_guards(
        state,
        availability_id=availability_id,
        total_size=total_size,
        duration=duration,
        min_price_per_byte_per_second=min_price_per_byte_per_second,
        total_collateral=total_collateral,
        until=until,
    )
    if refused is not None:
        return refused
    return codex_head.create_availability(
        state,
        availability_id=availability_id,
        total_size=total_size,
        duration=duration,
        min_price_per_byte_per_second=min_price_per_byte_per_second,
        total_collateral=total_collateral,
        enabled=enabled,
        until=until,
    )


def post_availability(state: StateHead, **fields: Any) -> Outcome:
    """``POST /sales/availability`` on ``state`` with the fields of ``CreateAvailabilityHead``:
    ``Accepted`` with the new availability, or the rejection.

    Guards: those of ``create_via_post``, in its order.
    Mirrors: REST ``POST /sales/availability`` at bd360322, spec §5.
    """
    return apply(state, CreateAvailabilityHead(**fields), REST_TABLE)


@attrs.frozen(kw_only=True)
class Endpoint:
    """One REST endpoint that changes state: HTTP method, path under ``BASE``, success status, model function."""

    method: str
    path: str
    status: int
    operation: Operation


#: The operations the REST API exposes, by action type (rule 4).
REST_OPERATIONS: Mapping[type[Action], Endpoint] = {
    CreateAvailabilityHead: Endpoint(method="POST", path="/sales/availability", status=201, operation=create_via_post),
    UpdateAvailability: Endpoint(
        method="PATCH", path="/sales/availability/{id}", status=204, operation=codex_head.update_availability
    ),
}

#: The reads (rule 3): (method, path, what it shows).
REST_READS: tuple[tuple[str, str, str], ...] = (
    ("GET", "/sales/availability", "every availability"),
    ("GET", "/sales/availability/{id}/reservations", "the reservations of one availability"),
    ("GET", "/space", "the repo counters"),
)

#: ``REST_OPERATIONS`` as an operation table for ``model.actions.apply``.
REST_TABLE: OperationTable = {action: endpoint.operation for action, endpoint in REST_OPERATIONS.items()}

#: The oracle's names of the exposed operations (``oracle.interface.OPERATION_NAMES`` spelling).
REST_OPERATION_NAMES: tuple[str, ...] = tuple(action.name for action in REST_OPERATIONS)
