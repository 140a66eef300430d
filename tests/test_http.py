"""The REST front over a real loopback server: spec §5 statuses and messages, and lockstep over HTTP."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from model.rest import REST_OPERATION_NAMES, REST_TABLE
from model.state import Profile
from oracle.interface import Implementation, Ok, Rejected, observe
from oracle.lockstep import Divergence, lockstep_machine
from oracle.rest import AsyncRestImplementation, RestImplementation, kind_of, wire_id
from persistent.node import Node
from persistent.server import Server

API = "/api/codex/v1"
QUOTA = 512
BODY: dict[str, Any] = {"totalSize": 100, "duration": 10, "minPricePerBytePerSecond": "2", "totalCollateral": "300"}
UNKNOWN = "0x" + "ab" * 32


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """A node with a 512-byte repo served on a loopback port; stopped and closed afterwards."""
    node = Node(tmp_path / "node", quota_max_bytes=QUOTA, id_seed=1)
    running = Server(node).start()
    yield running
    running.close()


@pytest.fixture
def client(server: Server) -> Iterator[httpx.Client]:
    """An HTTP client on the served node's base URL."""
    with httpx.Client(base_url=server.url + API) as c:
        yield c


def _create(client: httpx.Client, **changes: Any) -> str:
    response = client.post("/sales/availability", json={**BODY, **changes})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _reserve(client: httpx.Client, availability_id: str, slot_size: int, valid_until: int = 50) -> str:
    arguments = {
        "availability_id": availability_id,
        "slot_size": slot_size,
        "request_id": "req-a",
        "slot_index": 0,
        "collateral_per_byte": 1,
        "valid_until": valid_until,
    }
    answer = client.post("/test/reservations/create_reservation", json=arguments).json()
    assert answer["ok"], answer
    return str(answer["result"])


# -- GET / POST /sales/availability ---------------------------------------------------------------


def test_post_availability_answers_201_with_the_record(client: httpx.Client) -> None:
    """A valid POST answers 201 with the created SalesAvailabilityREAD; GET lists it."""
    response = client.post("/sales/availability", json={**BODY, "freeSize": 7, "until": 40, "enabled": False})
    assert response.status_code == 201
    created = response.json()
    assert created["id"].startswith("0x")
    assert len(created["id"]) == 66
    expected = {"totalSize": 100, "freeSize": 100, "minPricePerBytePerSecond": "2", "totalCollateral": "300"}
    assert {k: created[k] for k in expected} == expected
    assert (created["totalRemainingCollateral"], created["enabled"], created["until"]) == ("300", False, 40)
    assert client.get("/sales/availability").json() == [created]


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        pytest.param(b"{not json", "Unable to deserialize", id="malformed_json"),
        pytest.param(b"[1, 2]", "a JSON object is expected", id="not_an_object"),
        pytest.param(
            b'{"duration": 1, "minPricePerBytePerSecond": "1", "totalCollateral": "1"}', "totalSize", id="missing"
        ),
    ],
)
def test_invalid_post_unparseable_body(client: httpx.Client, content: bytes, fragment: str) -> None:
    """A body that is not a complete SalesAvailability object is a 400 that says why."""
    response = client.post("/sales/availability", content=content)
    assert response.status_code == 400
    assert fragment in response.text


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        pytest.param({"totalSize": -1}, "Parsed integer outside of valid range: totalSize", id="negative_size"),
        pytest.param({"duration": 2**64}, "Parsed integer outside of valid range: duration", id="duration_over_u64"),
        pytest.param({"until": 2**63}, "Parsed integer outside of valid range: until", id="until_over_i64"),
        pytest.param(
            {"totalCollateral": str(2**256)}, "Parsed integer outside of valid range: totalCollateral", id="over_u256"
        ),
        pytest.param(
            {"minPricePerBytePerSecond": "-1"}, "Parsed integer outside of valid range: minPrice", id="negative_price"
        ),
        pytest.param({"minPricePerBytePerSecond": 2}, "minPricePerBytePerSecond must be a decimal string", id="number"),
        pytest.param({"totalSize": "100"}, "totalSize must be an integer", id="size_as_string"),
        pytest.param({"totalSize": 1.5}, "totalSize must be an integer", id="size_as_float"),
        pytest.param({"enabled": 1}, "enabled must be a boolean", id="enabled_as_int"),
    ],
)
def test_invalid_post_field_out_of_type(client: httpx.Client, changes: dict[str, Any], message: str) -> None:
    """A field outside its nim-codex type is a 400 naming the field, and nothing is created."""
    response = client.post("/sales/availability", json={**BODY, **changes})
    assert response.status_code == 400
    assert response.text.startswith(message)
    assert client.get("/sales/availability").json() == []


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        pytest.param({"totalSize": 0, "duration": 0}, "Total size must be larger then zero", id="size"),
        pytest.param({"duration": 0, "totalCollateral": "0"}, "duration must be larger then zero", id="duration"),
        pytest.param(
            {"minPricePerBytePerSecond": "0"}, "minPricePerBytePerSecond must be larger then zero", id="price"
        ),
        pytest.param(
            {"totalCollateral": "0", "totalSize": QUOTA}, "totalCollateral must be larger then zero", id="collateral"
        ),
        pytest.param({"totalSize": QUOTA, "until": -1}, "Not enough storage quota", id="quota_strict"),
        pytest.param({"until": -1}, "Cannot set until to a negative value", id="negative_until"),
    ],
)
def test_invalid_post_refused_with_422(client: httpx.Client, changes: dict[str, Any], message: str) -> None:
    """Each POST check answers 422 with spec §5's message, the first failing check winning."""
    response = client.post("/sales/availability", json={**BODY, **changes})
    assert (response.status_code, response.text) == (422, message)
    assert client.get("/space").json()["quotaReservedBytes"] == 0


# -- PATCH / OPTIONS /sales/availability/{id} -----------------------------------------------------------


def test_patch_availability_answers_204_and_applies(client: httpx.Client) -> None:
    """A PATCH answers 204 with no body; totalSize moves freeSize and the repo reservation."""
    availability_id = _create(client)
    response = client.patch(f"/sales/availability/{availability_id}", json={"totalSize": 150, "totalCollateral": "9"})
    assert (response.status_code, response.content) == (204, b"")
    [record] = client.get("/sales/availability").json()
    assert (record["totalSize"], record["freeSize"], record["totalRemainingCollateral"]) == (150, 150, "9")
    assert client.get("/space").json()["quotaReservedBytes"] == 150


def test_invalid_patch_malformed_id(client: httpx.Client) -> None:
    """An id that is not 0x + 64 hex digits is a 400, before the body is read."""
    response = client.patch("/sales/availability/absent-a3", content=b"{oops")
    assert response.status_code == 400
    assert "Invalid availability id" in response.text


def test_invalid_patch_unparseable_body_before_unknown_id(client: httpx.Client) -> None:
    """An unparseable body is a 400 even for an id that names nothing (body before lookup)."""
    assert client.patch(f"/sales/availability/{UNKNOWN}", content=b"{oops").status_code == 400
    response = client.patch(f"/sales/availability/{UNKNOWN}", json={"totalSize": -3})
    assert (response.status_code, response.text) == (400, "Parsed integer outside of valid range: totalSize")


def test_invalid_patch_unknown_id(client: httpx.Client) -> None:
    """A well-formed id that names nothing is a 404 "Availability not found"."""
    response = client.patch(f"/sales/availability/{UNKNOWN}", json={"freeSize": 1})
    assert (response.status_code, response.text) == (404, "Availability not found")


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        pytest.param({"freeSize": 5, "totalSize": 0}, "Updating freeSize is not allowed", id="free_size"),
        pytest.param({"totalSize": 0}, "Total size must be larger then zero", id="size_zero"),
        pytest.param(
            {"totalSize": 39},
            "New totalSize must be larger then current totalSize - freeSize, which is currently: 40",
            id="below_used",
        ),
        pytest.param({"totalSize": QUOTA - 100}, "Not enough storage quota", id="quota_checks_full_size"),
        pytest.param({"until": -1}, "Cannot set until to a negative value", id="negative_until"),
        pytest.param(
            {"until": 49},
            "Until parameter must be greater or equal to the longest currently hosted slot",
            id="until_before_slot",
        ),
    ],
)
def test_invalid_patch_refused_with_422(client: httpx.Client, patch: dict[str, Any], message: str) -> None:
    """Each PATCH check answers 422 with spec §5's message and changes nothing."""
    availability_id = _create(client)
    _reserve(client, availability_id, 40, valid_until=50)
    before = client.get("/sales/availability").json()
    response = client.patch(f"/sales/availability/{availability_id}", json=patch)
    assert (response.status_code, response.text) == (422, message)
    assert client.get("/sales/availability").json() == before


def test_options_availability_answers_204(client: httpx.Client) -> None:
    """OPTIONS on an availability answers 204 with CORS headers allowing PATCH."""
    response = client.options(f"/sales/availability/{UNKNOWN}")
    assert response.status_code == 204
    assert response.headers["access-control-allow-methods"] == "PATCH"


# -- GET /sales/availability/{id}/reservations, GET /space, 500 -------------------------------------------


def test_get_reservations_lists_the_availability_s_reservations(client: httpx.Client) -> None:
    """The reservations endpoint lists each reservation of the availability with nim-codex's fields."""
    availability_id = _create(client)
    reservation_id = _reserve(client, availability_id, 30)
    [reservation] = client.get(f"/sales/availability/{availability_id}/reservations").json()
    assert reservation == {
        "id": reservation_id,
        "availabilityId": availability_id,
        "size": 30,
        "requestId": "req-a",
        "slotIndex": 0,
        "validUntil": 50,
    }


def test_invalid_get_reservations_bad_or_unknown_id(client: httpx.Client) -> None:
    """The reservations endpoint answers 400 for a malformed id and 404 for an unknown one."""
    assert client.get("/sales/availability/0x12/reservations").status_code == 400
    response = client.get(f"/sales/availability/{UNKNOWN}/reservations")
    assert (response.status_code, response.text) == (404, "Availability not found")


def test_get_space_shows_the_repo_counters(client: httpx.Client) -> None:
    """GET /space shows quotaMaxBytes, quotaUsedBytes and quotaReservedBytes."""
    _create(client, totalSize=70)
    assert client.post("/test/reservations/store_block", json={"bytes": 5}).json() == {"ok": True, "result": None}
    assert client.get("/space").json() == {
        "totalBlocks": 0,
        "quotaMaxBytes": QUOTA,
        "quotaUsedBytes": 5,
        "quotaReservedBytes": 70,
    }


def test_invalid_request_on_a_failed_store_answers_500(server: Server, client: httpx.Client) -> None:
    """A datastore that fails under a read makes the endpoint answer 500."""
    server.node.store.close()
    response = client.get("/sales/availability")
    assert response.status_code == 500


def test_invalid_test_extension_operation(client: httpx.Client) -> None:
    """The test extension answers 404 for an unknown operation and 400 for bad arguments."""
    assert client.post("/test/reservations/format_disk", json={}).status_code == 404
    assert client.post("/test/reservations/store_block", json={"blocks": 1}).status_code == 400
    assert client.post("/test/reservations/store_block", json={"bytes": -1}).json() == {
        "ok": False,
        "kind": "OutOfRange",
    }


# -- the REST adapter ------------------------------------------------------------------------------


def test_kind_of_maps_statuses_to_model_kinds() -> None:
    """The status table maps §5's answers to the model's kinds, a wrapped used size to TotalSizeUnderflow."""
    below = "New totalSize must be larger then current totalSize - freeSize, which is currently: "
    assert kind_of(422, below + "40") == "TotalSizeBelowUsed"
    assert kind_of(422, below + str(2**64 - 3)) == "TotalSizeUnderflow"
    assert kind_of(404, "Availability not found") == "NotExists"
    assert kind_of(500, "ReserveFailed") == "ReserveFailed"
    assert kind_of(500, "boom") == "HttpError:500"
    assert kind_of(418, "Not enough storage quota") == "HttpError:418"


def test_wire_id_keeps_well_formed_ids_and_hashes_the_rest() -> None:
    """A well-formed id is sent as is; an absent-<id> becomes a well-formed id naming nothing."""
    assert wire_id(UNKNOWN) == UNKNOWN
    sent = wire_id("absent-missing-a3")
    assert sent.startswith("0x")
    assert len(sent) == 66
    assert sent != wire_id("absent-missing-a4")


def test_rest_implementation_rejects_unexposed_operations(server: Server) -> None:
    """Without extensions the adapter answers UnsupportedOperation for what a Codex node does not serve."""
    impl = RestImplementation(server.url)
    try:
        assert impl.store_block(bytes=1) == Rejected("UnsupportedOperation")
        assert impl.update_availability(availability_id="absent-a1", duration=3) == Rejected("NotExists")
        assert impl.snapshot().repo() == {"max_bytes": QUOTA, "used": 0, "reserved": 0}
    finally:
        impl.close()


def test_invalid_server_unavailable_is_a_crash(tmp_path: Path) -> None:
    """Against a stopped server every operation is observed as a crash and the snapshot raises."""
    node = Node(tmp_path / "gone", quota_max_bytes=QUOTA, id_seed=1)
    stopped = Server(node).start()
    stopped.close()
    impl = RestImplementation(stopped.url, extensions=True, timeout=2.0)
    try:
        outcome = observe(lambda: impl.create_availability(**_availability_arguments()))
        assert outcome == Rejected("Crash:ConnectError")
        with pytest.raises(httpx.ConnectError):
            impl.snapshot()
    finally:
        impl.close()


def _availability_arguments() -> dict[str, Any]:
    return {"total_size": 10, "duration": 1, "min_price_per_byte_per_second": 1, "total_collateral": 1}


def test_async_clients_share_one_node(server: Server) -> None:
    """Concurrent async clients each create availabilities; every create lands once in the repo."""

    async def main() -> list[Any]:
        clients = [AsyncRestImplementation(server.url) for _ in range(4)]
        try:
            calls = [c.create_availability(**_availability_arguments()) for c in clients for _ in range(3)]
            return list(await asyncio.gather(*calls))
        finally:
            await asyncio.gather(*(c.aclose() for c in clients))

    outcomes = asyncio.run(main())
    assert all(isinstance(o, Ok) for o in outcomes)
    assert len({o.result for o in outcomes}) == 12
    snap = RestImplementation(server.url, extensions=True).snapshot()
    assert snap.reserved == 120
    assert len(snap.availabilities or {}) == 12


# -- lockstep over HTTP ------------------------------------------------------------------------------


def _served(tmp_path: Path, extensions: bool) -> Callable[[], Implementation]:
    """A factory of fresh nodes, each served on its own port, behind the REST adapter."""
    counter = itertools.count()

    def factory() -> Implementation:
        node = Node(tmp_path / f"n{next(counter)}", mode="atomic", quota_max_bytes=QUOTA, id_seed=1)
        served = Server(node).start()
        return RestImplementation(served.url, extensions=extensions, on_close=served.close)

    return factory


def _run(machine: Any, examples: int, steps: int, *, shrink: bool = True) -> None:
    chosen = settings(
        phases=tuple(Phase) if shrink else (Phase.explicit, Phase.generate),
        max_examples=examples,
        stateful_step_count=steps,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    run_state_machine_as_test(machine, settings=chosen)


def test_lockstep_over_http_with_extensions(tmp_path: Path) -> None:
    """The whole operation set driven over HTTP agrees with the model, field by field (atomic mode)."""
    machine = lockstep_machine(_served(tmp_path, True), Profile.CODEX_HEAD, compare_fields=True)
    _run(machine, 20, 20)


def test_lockstep_over_rest_only(tmp_path: Path) -> None:
    """POST/PATCH/GET alone agree with the model's REST table, field by field."""
    machine = lockstep_machine(
        _served(tmp_path, False),
        Profile.CODEX_HEAD,
        compare_fields=True,
        operations=REST_OPERATION_NAMES,
        model_operations=REST_TABLE,
    )
    _run(machine, 20, 20)


def test_lockstep_over_rest_finds_post_checks_missing_from_the_model(tmp_path: Path) -> None:
    """Against the bare Reservations model, the REST node's POST checks are found as a divergence."""
    machine = lockstep_machine(
        _served(tmp_path, False), Profile.CODEX_HEAD, operations=REST_OPERATION_NAMES, minimise=False
    )
    with pytest.raises(Divergence) as raised:
        _run(machine, 20, 20, shrink=False)
    assert raised.value.counterexample.rule == "lockstep:outcome"


def test_lockstep_operations_keep_only_their_rules(tmp_path: Path) -> None:
    """``operations=`` leaves only the rules whose every operation is listed; an unknown name is refused."""
    machine: Any = lockstep_machine(_served(tmp_path, False), Profile.CODEX_HEAD, operations=REST_OPERATION_NAMES)
    kept = _rule_names(machine)
    assert kept == {
        "create_availability",
        "create_availability_refused",
        "update_availability",
        "update_availability_refused",
        "update_until_before_reservation_refused",
    }
    everything: Any = lockstep_machine(_served(tmp_path, True), Profile.CODEX_HEAD)
    assert {"create_reservation", "restart", "return_bytes_to_availability"} <= _rule_names(everything)
    with pytest.raises(ValueError, match="format_disk"):
        lockstep_machine(_served(tmp_path, False), Profile.CODEX_HEAD, operations=["format_disk"])


def _rule_names(machine: Any) -> set[str]:
    """The rules Hypothesis itself finds on ``machine`` (its per-class setup state)."""
    return {r.function.__name__ for r in machine.setup_state().rules}
