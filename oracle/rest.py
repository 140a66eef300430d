"""A node driven over HTTP: the oracle's ``Implementation`` protocol spoken to the REST API of spec §5.

Rules:
1. ``RestImplementation(base_url)`` (``extensions=False``) uses only what a real Codex node serves:
   ``create_availability`` is ``POST /sales/availability``, ``update_availability`` is
   ``PATCH /sales/availability/{id}``, and ``snapshot()`` reads ``GET /sales/availability``, then
   ``GET /sales/availability/{id}/reservations`` for each availability, then ``GET /space``. Every
   other operation is ``Rejected("UnsupportedOperation")`` without a request.
2. With ``extensions=True`` every operation is ``POST /test/reservations/{operation}`` and the
   snapshot is ``GET /test/snapshot`` (persistent/http.py rule 5): the whole operation set, without
   REST's own checks.
3. An answer is turned back into the model's outcome by ``kind_of`` with ``STATUS_KINDS``: 2xx is
   ``Ok`` (a POST's created ``id`` as the result); 4xx/5xx are looked up by (status, message
   prefix). ``TotalSizeBelowUsed``'s "currently: <n>" with ``n >= 2**63`` is ``TotalSizeUnderflow``:
   an availability's ``totalSize`` is reserved in a repo whose counters are Natural (< 2**63), so only
   nim-codex's uint64 wrap of ``totalSize - freeSize`` (``freeSize > totalSize``) can show such an n.
   A 500 whose body is a model rejection kind (this project's server names it) is that kind; any
   other unlisted answer is ``HttpError:<status>``, a divergence by construction.
4. Ids: the oracle sends ``absent_id`` (``absent-<model id>``) for a model id no entity ever had. The
   REST API answers a malformed id with 400, while the model answers ``NotExists`` (404); so an id
   that is not ``0x`` + 64 hex digits is sent as ``0x`` + the SHA-256 of it, a well-formed id that
   names nothing (a collision with a node's random id has probability 2**-256).
5. A transport failure (server gone, timeout) raises the ``httpx`` exception: the oracle observes it as
   a crash (oracle/interface.py rule 3), never as a rejection.
6. ``AsyncRestImplementation`` is the same over ``httpx.AsyncClient`` (extensions on by default), an
   ``AsyncImplementation`` several concurrent clients can share a node through.

Mirrors: codex-sales-spec §5 (REST API: statuses and messages), §2.3 (PATCH), §1.3 (ids).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import httpx

from model.rest import REST_OPERATION_NAMES
from model.state import Profile
from oracle.interface import AsyncOperationMethods, Observed, Ok, OperationMethods, Rejected, Snapshot

API = "/api/codex/v1"
#: The operations a real Codex node exposes (rule 1).
REST_ONLY: tuple[str, ...] = REST_OPERATION_NAMES

#: (status, message prefix) -> model rejection kind (rule 3); the first matching row wins.
STATUS_KINDS: tuple[tuple[int, str, str], ...] = (
    (400, "Parsed integer outside of valid range", "OutOfRange"),
    (404, "Availability not found", "NotExists"),
    (422, "Total size must be larger then zero", "TotalSizeZero"),
    (422, "duration must be larger then zero", "DurationZero"),
    (422, "minPricePerBytePerSecond must be larger then zero", "MinPricePerBytePerSecondZero"),
    (422, "totalCollateral must be larger then zero", "TotalCollateralZero"),
    (422, "Not enough storage quota", "NotEnoughStorageQuota"),
    (422, "Cannot set until to a negative value", "UntilOutOfBounds"),
    (422, "Until parameter must be greater or equal", "UntilOutOfBounds"),
    (422, "Updating freeSize is not allowed", "FreeSizeNotUpdatable"),
    (422, "New totalSize must be larger then current totalSize - freeSize", "TotalSizeBelowUsed"),
)
WRAPPED = 2**63
U256_FIELDS = frozenset({"min_price_per_byte_per_second", "total_collateral", "total_remaining_collateral"})
MODEL_KINDS = frozenset(
    {"ReserveFailed", "ReleaseFailed", "UpdateFailed", "GetFailed", "DeleteFailed", "NotExists", "OutOfRange"}
)

#: JSON (camelCase) -> model field name, for availabilities and reservations (spec §5 schemas).
CAMEL: Mapping[str, str] = {
    "totalSize": "total_size",
    "freeSize": "free_size",
    "duration": "duration",
    "minPricePerBytePerSecond": "min_price_per_byte_per_second",
    "totalCollateral": "total_collateral",
    "totalRemainingCollateral": "total_remaining_collateral",
    "enabled": "enabled",
    "until": "until",
    "availabilityId": "availability_id",
    "size": "size",
    "requestId": "request_id",
    "slotIndex": "slot_index",
    "validUntil": "valid_until",
}
SNAKE: Mapping[str, str] = {snake: camel for camel, snake in CAMEL.items()}


def wire_id(entity_id: str) -> str:
    """``entity_id`` if it is well formed, else a well-formed id naming nothing (rule 4)."""
    digits = entity_id[2:] if entity_id.startswith("0x") else ""
    if len(digits) == 64 and all(c in "0123456789abcdefABCDEF" for c in digits):
        return entity_id
    return "0x" + hashlib.sha256(entity_id.encode()).hexdigest()


def kind_of(status: int, message: str) -> str:
    """The model rejection kind of a refused request (rule 3)."""
    for row_status, prefix, kind in STATUS_KINDS:
        if status == row_status and message.startswith(prefix):
            if kind == "TotalSizeBelowUsed" and int(message.rsplit(":", 1)[1]) >= WRAPPED:
                return "TotalSizeUnderflow"
            return kind
    if status == 500 and message.strip() in MODEL_KINDS:
        return message.strip()
    return f"HttpError:{status}"


def body_json(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Model keyword arguments as a ``SalesAvailability`` body: camelCase, UInt256 as decimal strings,
    absent (``None``) fields left out."""
    return {SNAKE[name]: str(v) if name in U256_FIELDS else v for name, v in fields.items() if v is not None}


def record_of(j: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON availability or reservation as snapshot fields (model names, integers); ``id`` left out."""
    fields = {CAMEL[key]: value for key, value in j.items() if key in CAMEL}
    return {k: int(v) if k in U256_FIELDS else v for k, v in fields.items()}


def snapshot_of(j: Mapping[str, Any]) -> Snapshot:
    """The test endpoint's snapshot JSON as a ``Snapshot``."""
    return Snapshot(
        availabilities=j["availabilities"],
        reservations=j["reservations"],
        max_bytes=j["max_bytes"],
        used=j["used"],
        reserved=j["reserved"],
    )


@attrs.frozen
class Request:
    """One HTTP request of an operation, and how its response becomes an outcome."""

    method: str
    path: str
    body: Any
    decode: Callable[[httpx.Response], Observed]


def _rest_outcome(response: httpx.Response) -> Observed:
    if response.is_success:
        created = response.json() if response.status_code == 201 else None
        return Ok(created["id"] if isinstance(created, dict) else None)
    return Rejected(kind_of(response.status_code, response.text))


def _test_outcome(response: httpx.Response) -> Observed:
    if not response.is_success:
        return Rejected(kind_of(response.status_code, response.text))
    answer = response.json()
    return Ok(answer["result"]) if answer["ok"] else Rejected(answer["kind"])


def request_for(operation: str, kwargs: Mapping[str, Any], extensions: bool) -> Request | None:
    """The request that runs ``operation`` (rules 1, 2, 4), or ``None`` when the API has no such operation."""
    arguments = dict(kwargs)
    for key in ("availability_id", "reservation_id"):
        if isinstance(arguments.get(key), str):
            arguments[key] = wire_id(arguments[key])
    if extensions:
        if "active_slots" in arguments:
            arguments["active_slots"] = sorted([list(slot) for slot in arguments["active_slots"]])
        return Request("POST", f"{API}/test/reservations/{operation}", arguments, _test_outcome)
    if operation == "create_availability":
        return Request("POST", f"{API}/sales/availability", body_json(arguments), _rest_outcome)
    if operation == "update_availability":
        availability_id = arguments.pop("availability_id")
        return Request("PATCH", f"{API}/sales/availability/{availability_id}", body_json(arguments), _rest_outcome)
    return None


def _checked(response: httpx.Response) -> Any:
    response.raise_for_status()
    return response.json()


def _space(j: Mapping[str, Any]) -> dict[str, int]:
    return {"max_bytes": j["quotaMaxBytes"], "used": j["quotaUsedBytes"], "reserved": j["quotaReservedBytes"]}


class RestImplementation(OperationMethods):
    """A node over HTTP, synchronously (module rules); ``on_close`` runs after the client closes."""

    profile = Profile.CODEX_HEAD

    def __init__(
        self,
        base_url: str,
        extensions: bool = False,
        *,
        timeout: float = 10.0,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        self.base_url = base_url
        self.extensions = extensions
        self.name = "rest+extensions" if extensions else "rest"
        self.client = httpx.Client(base_url=base_url, timeout=timeout)
        self.on_close = on_close

    def run(self, operation: str, **kwargs: Any) -> Observed:
        """Send ``operation`` and return its outcome; an operation the API lacks is ``UnsupportedOperation``."""
        request = request_for(operation, kwargs, self.extensions)
        if request is None:
            return Rejected("UnsupportedOperation")
        response = self.client.request(request.method, request.path, json=request.body)
        return request.decode(response)

    def snapshot(self) -> Snapshot:
        """What the node shows (rules 1, 2); a failed read raises."""
        if self.extensions:
            return snapshot_of(_checked(self.client.get(f"{API}/test/snapshot")))
        listed = _checked(self.client.get(f"{API}/sales/availability"))
        reservations: dict[str, dict[str, Any]] = {}
        for a in listed:
            for r in _checked(self.client.get(f"{API}/sales/availability/{a['id']}/reservations")):
                reservations[r["id"]] = record_of(r)
        space = _space(_checked(self.client.get(f"{API}/space")))
        return Snapshot(availabilities={a["id"]: record_of(a) for a in listed}, reservations=reservations, **space)

    def close(self) -> None:
        """Close the client, then run ``on_close`` (e.g. stop the server and close the node)."""
        self.client.close()
        if self.on_close is not None:
            self.on_close()


class AsyncRestImplementation(AsyncOperationMethods):
    """A node over HTTP, as coroutines (rule 6); ``aclose()`` closes the client."""

    profile = Profile.CODEX_HEAD

    def __init__(self, base_url: str, extensions: bool = True, *, timeout: float = 10.0) -> None:
        self.base_url = base_url
        self.extensions = extensions
        self.name = "async-rest+extensions" if extensions else "async-rest"
        self.client = httpx.AsyncClient(base_url=base_url, timeout=timeout)

    async def run(self, operation: str, **kwargs: Any) -> Observed:
        """Send ``operation`` and return its outcome (as ``RestImplementation.run``)."""
        request = request_for(operation, kwargs, self.extensions)
        if request is None:
            return Rejected("UnsupportedOperation")
        response = await self.client.request(request.method, request.path, json=request.body)
        return request.decode(response)

    async def snapshot(self) -> Snapshot:
        """What the node shows (as ``RestImplementation.snapshot``)."""
        if self.extensions:
            return snapshot_of(_checked(await self.client.get(f"{API}/test/snapshot")))
        listed = _checked(await self.client.get(f"{API}/sales/availability"))
        reservations: dict[str, dict[str, Any]] = {}
        for a in listed:
            for r in _checked(await self.client.get(f"{API}/sales/availability/{a['id']}/reservations")):
                reservations[r["id"]] = record_of(r)
        space = _space(_checked(await self.client.get(f"{API}/space")))
        return Snapshot(availabilities={a["id"]: record_of(a) for a in listed}, reservations=reservations, **space)

    async def aclose(self) -> None:
        await self.client.aclose()
