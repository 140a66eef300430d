"""The REST front of a node (nim-codex ``codex/rest/api.nim`` at bd360322), as a Starlette app.

Rules:
1. ``make_app(node)`` serves spec §5 under ``/api/codex/v1``: ``GET``/``POST /sales/availability``,
   ``PATCH``/``OPTIONS /sales/availability/{id}``, ``GET /sales/availability/{id}/reservations`` and
   ``GET /space``, with §5's status codes, check order and messages (plain-text bodies, as nim-codex's
   ``RestApiResponse.error``). JSON field names are nim-codex's camelCase; UInt256 fields
   (``minPricePerBytePerSecond``, ``totalCollateral``, ``totalRemainingCollateral``) are decimal strings.
2. A body is parsed by one table (``FIELDS``): a body that is not a JSON object, a field of the wrong
   JSON type, an integer outside its nim-codex type (uint64 sizes, int64 ``until``, UInt256 money) or a
   missing required field is a 400 naming the field; unknown fields (``freeSize`` on POST) are ignored.
3. An id is ``0x`` + 64 hex digits (nim-codex ``AvailabilityId``); any other string is a 400.
4. The POST's REST checks (zero fields, strict ``hasAvailable``) run here, on the node's committed
   quota, before ``node.create_availability`` (``Reservations.createAvailability``), as in nim-codex:
   a quota race between the check and the reserve is then a 500. The PATCH's checks live in
   ``node.update_availability`` (the handler's composition, §2.3); its rejection kinds are turned
   into §5's statuses and messages by ``PATCH_ERRORS``.
5. Test-only, not in nim-codex: ``POST /api/codex/v1/test/reservations/{operation}`` runs any
   operation of ``oracle.interface.OPERATION_NAMES`` with the JSON body as its keyword arguments
   (``active_slots`` as a list of ``[request id, slot index]``) and answers ``{"ok": true, "result":
   id or null}`` or ``{"ok": false, "kind": kind}``; ``GET /api/codex/v1/test/snapshot`` answers the
   node's ``Snapshot`` with its own (snake_case) field names and integers as JSON numbers.
6. Every node call runs on the server's event loop (the node's asyncio lock lives there). An
   exception escaping a handler is a 500 with its type and message.

Mirrors: codex-sales-spec §5 (REST API), §2.3 (PATCH composition), §2.9 (``hasAvailable``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import attrs
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from oracle.interface import OPERATION_NAMES, Ok, Rejected, Snapshot
from persistent.node import Node
from persistent.reservations import availability_json, hex_of, reservation_json

BASE = "/api/codex/v1"
U64 = (0, 2**64 - 1)
I64 = (-(2**63), 2**63 - 1)
U256 = (0, 2**256 - 1)
OUT_OF_RANGE = "Parsed integer outside of valid range"
NOT_FOUND = "Availability not found"
NEGATIVE_UNTIL = "Cannot set until to a negative value"
UNTIL_BEFORE_SLOT = "Until parameter must be greater or equal to the longest currently hosted slot"
BELOW_USED = "New totalSize must be larger then current totalSize - freeSize, which is currently: {used}"


class BadRequest(Exception):
    """The request cannot be parsed: a 400 with ``message``."""


@attrs.frozen
class Field:
    """One body field: its model name, JSON type (``int``, ``uint256`` string, ``bool``) and range."""

    name: str
    kind: str
    bounds: tuple[int, int] = U64


#: The ``SalesAvailability`` schema (rule 2), by JSON name.
FIELDS: Mapping[str, Field] = {
    "totalSize": Field("total_size", "int"),
    "freeSize": Field("free_size", "int"),
    "duration": Field("duration", "int"),
    "minPricePerBytePerSecond": Field("min_price_per_byte_per_second", "uint256", U256),
    "totalCollateral": Field("total_collateral", "uint256", U256),
    "enabled": Field("enabled", "bool"),
    "until": Field("until", "int", I64),
}
POST_REQUIRED = ("totalSize", "duration", "minPricePerBytePerSecond", "totalCollateral")

#: POST checks 2-5 of spec §5: (model field, 422 message), in order.
POST_ZERO_CHECKS: tuple[tuple[str, str], ...] = (
    ("total_size", "Total size must be larger then zero"),
    ("duration", "duration must be larger then zero"),
    ("min_price_per_byte_per_second", "minPricePerBytePerSecond must be larger then zero"),
    ("total_collateral", "totalCollateral must be larger then zero"),
)

#: PATCH rejection kind -> (status, message); ``{used}`` is the availability's totalSize - freeSize.
PATCH_ERRORS: Mapping[str, tuple[int, str]] = {
    "NotExists": (404, NOT_FOUND),
    "FreeSizeNotUpdatable": (422, "Updating freeSize is not allowed"),
    "TotalSizeZero": (422, "Total size must be larger then zero"),
    "TotalSizeBelowUsed": (422, BELOW_USED),
    # nim-codex computes totalSize - freeSize in uint64: free > total wraps into the same 422.
    "TotalSizeUnderflow": (422, BELOW_USED),
    "NotEnoughStorageQuota": (422, "Not enough storage quota"),
    "OutOfRange": (400, OUT_OF_RANGE),
}


# -- parsing -----------------------------------------------------------------------------------------


def _value(key: str, field: Field, raw: Any) -> int | bool:
    if field.kind == "bool":
        if not isinstance(raw, bool):
            raise BadRequest(f"{key} must be a boolean")
        return raw
    if field.kind == "uint256":
        digits = raw[1:] if isinstance(raw, str) and raw.startswith("-") else raw
        if not isinstance(digits, str) or not digits.isascii() or not digits.isdigit():
            raise BadRequest(f"{key} must be a decimal string")
        value = int(raw)
    else:
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise BadRequest(f"{key} must be an integer")
        value = raw
    low, high = field.bounds
    if not low <= value <= high:
        raise BadRequest(f"{OUT_OF_RANGE}: {key}")
    return value


async def parse_body(request: Request, required: tuple[str, ...] = ()) -> dict[str, Any]:
    """The body's known fields by model name (rule 2); ``BadRequest`` when it cannot be parsed."""
    raw = await request.body()
    try:
        body = json.loads(raw)
    except ValueError as error:
        raise BadRequest(f"Unable to deserialize the body: {error}") from None
    if not isinstance(body, dict):
        raise BadRequest("Unable to deserialize the body: a JSON object is expected")
    missing = [key for key in required if key not in body]
    if missing:
        raise BadRequest(f"Missing required field: {missing[0]}")
    return {field.name: _value(key, field, body[key]) for key, field in FIELDS.items() if key in body}


def parse_id(raw: str) -> str:
    """The node's spelling of an availability id (rule 3); ``BadRequest`` for anything else."""
    digits = hex_of(raw)
    if digits is None:
        raise BadRequest(f"Invalid availability id: {raw!r} is not 0x followed by 64 hex digits")
    return "0x" + digits


def _error(status: int, message: str) -> Response:
    return PlainTextResponse(message, status_code=status)


# -- the handlers --------------------------------------------------------------------------------------


class Front:
    """The handlers of ``make_app``, over one node (module rules)."""

    def __init__(self, node: Node) -> None:
        self.node = node

    async def list_availabilities(self, _request: Request) -> Response:
        availabilities, _ = self.node.records()
        return JSONResponse([availability_json(a) for a in availabilities.values()])

    async def post_availability(self, request: Request) -> Response:
        try:
            body = await parse_body(request, POST_REQUIRED)
        except BadRequest as error:
            return _error(400, str(error))
        body.pop("free_size", None)  # accepted by the parser and ignored (spec §5)
        for name, message in POST_ZERO_CHECKS:
            if body[name] == 0:
                return _error(422, message)
        used, reserved = self.node.store.usage()
        if not body["total_size"] < self.node.repo.max_bytes - (used + reserved):
            return _error(422, "Not enough storage quota")
        outcome = await self.node.create_availability(**body)
        if isinstance(outcome, Rejected):
            if outcome.kind == "UntilOutOfBounds":
                return _error(422, NEGATIVE_UNTIL)
            return _error(500, outcome.kind)
        created = await self.node.availability(str(outcome.result))
        if created is None:
            return _error(500, "the created availability cannot be read back")
        return JSONResponse(availability_json(created), status_code=201)

    async def patch_availability(self, request: Request) -> Response:
        try:
            availability_id = parse_id(request.path_params["id"])
            fields = await parse_body(request)
        except BadRequest as error:
            return _error(400, str(error))
        before = await self.node.availability(availability_id)
        if before is None:
            return _error(404, NOT_FOUND)
        outcome = await self.node.update_availability(availability_id=availability_id, **fields)
        if isinstance(outcome, Ok):
            return Response(status_code=204)
        return _patch_error(outcome.kind, before, fields)

    async def options_availability(self, _request: Request) -> Response:
        headers = {
            "Access-Control-Allow-Origin": "*",
            "Access-Control-Allow-Methods": "PATCH",
            "Access-Control-Allow-Headers": "content-type",
        }
        return Response(status_code=204, headers=headers)

    async def list_reservations(self, request: Request) -> Response:
        try:
            availability_id = parse_id(request.path_params["id"])
        except BadRequest as error:
            return _error(400, str(error))
        availabilities, reservations = self.node.records()
        if availability_id not in availabilities:
            return _error(404, NOT_FOUND)
        hosted = [reservation_json(r) for r in reservations.values() if r["availability_id"] == availability_id]
        return JSONResponse(hosted)

    async def space(self, _request: Request) -> Response:
        used, reserved = self.node.store.usage()
        return JSONResponse(
            {
                "totalBlocks": 0,  # the node counts stored bytes, not blocks
                "quotaMaxBytes": self.node.repo.max_bytes,
                "quotaUsedBytes": used,
                "quotaReservedBytes": reserved,
            }
        )

    async def extension_operation(self, request: Request) -> Response:
        operation = request.path_params["operation"]
        if operation not in OPERATION_NAMES:
            return _error(404, f"No such operation: {operation}")
        try:
            arguments = json.loads(await request.body())
        except ValueError as error:
            return _error(400, f"Unable to deserialize the body: {error}")
        if not isinstance(arguments, dict):
            return _error(400, "Unable to deserialize the body: a JSON object is expected")
        if "active_slots" in arguments:
            arguments["active_slots"] = frozenset((str(r), int(i)) for r, i in arguments["active_slots"])
        try:
            outcome = await getattr(self.node, operation)(**arguments)
        except TypeError as error:
            return _error(400, f"Bad arguments for {operation}: {error}")
        if isinstance(outcome, Ok):
            return JSONResponse({"ok": True, "result": outcome.result})
        return JSONResponse({"ok": False, "kind": outcome.kind})

    async def extension_snapshot(self, _request: Request) -> Response:
        return JSONResponse(snapshot_json(await self.node.snapshot()))

    async def crashed(self, _request: Request, exc: Exception) -> Response:
        return _error(500, f"{type(exc).__name__}: {exc}")


def make_app(node: Node) -> Starlette:
    """The REST front of ``node`` (module rules)."""
    front = Front(node)
    routes = [
        Route(f"{BASE}/sales/availability", front.list_availabilities, methods=["GET"]),
        Route(f"{BASE}/sales/availability", front.post_availability, methods=["POST"]),
        Route(f"{BASE}/sales/availability/{{id}}", front.patch_availability, methods=["PATCH"]),
        Route(f"{BASE}/sales/availability/{{id}}", front.options_availability, methods=["OPTIONS"]),
        Route(f"{BASE}/sales/availability/{{id}}/reservations", front.list_reservations, methods=["GET"]),
        Route(f"{BASE}/space", front.space, methods=["GET"]),
        Route(f"{BASE}/test/reservations/{{operation}}", front.extension_operation, methods=["POST"]),
        Route(f"{BASE}/test/snapshot", front.extension_snapshot, methods=["GET"]),
    ]
    handlers: dict[Any, Callable[[Request, Exception], Any]] = {Exception: front.crashed}
    return Starlette(routes=routes, exception_handlers=handlers)


def _patch_error(kind: str, before: Mapping[str, Any], fields: Mapping[str, Any]) -> Response:
    """The §5 status and message of a refused PATCH (rule 4); an unlisted kind is a 500 naming it."""
    if kind == "UntilOutOfBounds":
        negative = fields.get("until") is not None and fields["until"] < 0
        return _error(422, NEGATIVE_UNTIL if negative else UNTIL_BEFORE_SLOT)
    if kind not in PATCH_ERRORS:
        return _error(500, kind)
    status, message = PATCH_ERRORS[kind]
    used = (before["total_size"] - before["free_size"]) % 2**64
    return _error(status, message.format(used=used))


def snapshot_json(snap: Snapshot) -> dict[str, Any]:
    """``snap`` as the test endpoint's JSON (rule 5): the Snapshot's own field names."""
    return {
        "availabilities": None if snap.availabilities is None else {i: dict(f) for i, f in snap.availabilities.items()},
        "reservations": None if snap.reservations is None else {i: dict(f) for i, f in snap.reservations.items()},
        "max_bytes": snap.max_bytes,
        "used": snap.used,
        "reserved": snap.reserved,
    }
