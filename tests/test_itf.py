"""ITF traces: golden files, round trips, the inferred var types, and one-line errors on bad input."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import attrs
import pytest
from scenario import head_reservation_1147

from model.actions import (
    CreateAvailability535,
    CreateAvailabilityHead,
    CreateReservation535,
    DeleteReservation535,
    DeleteReservationHead,
    FindAvailability535,
    UpdateAvailability,
)
from model.chain import RequestTerms
from model.market import ProcessSlot, RequestStorage, SaleStep, SaveAvailability
from model.sale import SaleEvent
from model.state import Profile
from reports import itf
from reports.build import make, run_steps, start_state
from reports.counterexample import VOCABULARY, Counterexample

HEAD, OLD = Profile.CODEX_HEAD, Profile.CODEX_535
GOLDEN = Path(__file__).parent / "golden" / "itf"

HEAD_1147 = [
    *head_reservation_1147(),
    UpdateAvailability(availability_id="a1", total_collateral=500),
    DeleteReservationHead(reservation_id="r1", availability_id="a1", returned_collateral=30),
]
TERMS = RequestTerms(
    request_id="r1",
    slots=2,
    slot_size=2,
    duration=5,
    price_per_byte_per_second=1,
    collateral_per_byte=3,
    expiry=10,
    end=40,
)


def _sale(event: SaleEvent) -> SaleStep:
    return SaleStep(request_id="r1", slot_index=0, event=event)


MARKET_ERRORED = [
    SaveAvailability(
        action=CreateAvailabilityHead(
            availability_id="a1", total_size=4, duration=10, min_price_per_byte_per_second=1, total_collateral=100
        )
    ),
    RequestStorage(terms=TERMS),
    ProcessSlot(),
    _sale(SaleEvent.AVAILABILITY_FOUND),
    _sale(SaleEvent.RESERVATION_CREATED),
    _sale(SaleEvent.MARKET_ERROR),
    _sale(SaleEvent.CLEANUP),
]
OLD_QUERIES = [
    CreateAvailability535(availability_id="a1", size=50, duration=10, min_price=1, max_collateral=100),
    FindAvailability535(size=10, duration=5, min_price=1, collateral=5),
    CreateReservation535(availability_id="a1", reservation_id="r1", slot_size=500, request_id="q", slot_index=0),
    CreateReservation535(availability_id="a1", reservation_id="r1", slot_size=5, request_id="q", slot_index=1),
]
BROKEN = [
    CreateAvailability535(availability_id="a1", size=50, duration=10, min_price=1, max_collateral=100),
    CreateReservation535(availability_id="a1", reservation_id="r1", slot_size=5, request_id="q", slot_index=0),
    DeleteReservation535(reservation_id="r1", availability_id="a1"),
]


def head_1147() -> Counterexample:
    """A reservations-level counterexample of a known nim-codex violation (#1147), with a setup."""
    return make(
        rule="collateral_within_total",
        engine="hypothesis",
        profile=HEAD,
        level="reservations",
        actions=HEAD_1147,
        setup={"quota_max_bytes": 1000},
        known="nim-codex#1147",
        reproduce="sales-model check --profile codex-head",
        notes=("seed 1",),
    )


def market_errored() -> Counterexample:
    """A market-level counterexample: SaleErrored keeps the collateral (a known spec §3.3 leak)."""
    return make(
        rule="collateral_returned_on_end",
        engine="exhaustive",
        profile=HEAD,
        level="market",
        actions=MARKET_ERRORED,
        setup={"quota_max_bytes": 20},
    )


def old_queries() -> Counterexample:
    """codex-535 with a query (found id) and a rejection; no violation."""
    return make(
        rule="repo_within_quota",
        engine="oracle",
        profile=OLD,
        level="reservations",
        actions=OLD_QUERIES,
        setup={"quota_max_bytes": 1000},
    )


def from_start() -> Counterexample:
    """A counterexample whose start is a state, not a setup (as Z3 gives), with sides."""
    start: Any = start_state(HEAD, "reservations", {"quota_max_bytes": 1000})
    from model.actions import Accepted, apply

    for action in HEAD_1147[:2]:
        outcome = apply(start, action)
        assert isinstance(outcome, Accepted)
        start = outcome.state
    from reports.counterexample import Side

    return make(
        rule="collateral_within_total",
        engine="z3",
        profile=HEAD,
        level="reservations",
        actions=HEAD_1147[2:],
        start=start,
        known="nim-codex#1147",
        sides=(Side(step=1, field="free_size", expected=3, observed=None),),
    )


def broken() -> Counterexample:
    """A broken variant's counterexample: an unknown violation."""
    from variants import VARIANTS

    variant = next(v for v in VARIANTS if v.name == "delete_keeps_bytes")
    return make(
        rule="delete_returns_remaining_bytes",
        engine="hypothesis",
        profile=OLD,
        level="reservations",
        actions=BROKEN,
        setup={"quota_max_bytes": 1000},
        operations=variant.operations(OLD),
        variant="delete_keeps_bytes",
    )


SAMPLES = [head_1147, market_errored, old_queries, from_start, broken]


def document(cx: Counterexample) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(itf.dumps(cx))
    return data


def error_of(text: str, source: str = "trace.itf.json") -> str:
    with pytest.raises(itf.TraceError) as caught:
        itf.loads(text, source)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{source}: ")
    return message


@pytest.mark.parametrize("name", ["head_1147", "market_errored"])
def test_golden(name: str) -> None:
    """``dumps`` is byte-identical to the committed file (``UPDATE_GOLDEN=1`` rewrites it)."""
    text = itf.dumps(globals()[name]())
    path = GOLDEN / f"{name}.itf.json"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: s.__name__)
def test_round_trip(sample: Any) -> None:
    cx = sample()
    assert itf.loads(itf.dumps(cx), "x") == cx
    assert itf.from_itf(itf.to_itf(cx), "x") == cx
    assert itf.dumps(itf.loads(itf.dumps(cx), "x")) == itf.dumps(cx)


def test_shape() -> None:
    data = document(head_1147())
    meta = data["#meta"]
    assert meta["format"] == "ITF"
    assert meta["format-description"] == "https://apalache-mc.org/docs/adr/015adr-trace.html"
    assert meta["source"] == "codex-sales-model"
    assert meta["vocabulary"] == VOCABULARY
    assert data["vars"] == [
        "profile",
        "repo",
        "availabilities",
        "reservations",
        "availability_ledgers",
        "reservation_ledgers",
        "mbt::actionTaken",
        "mbt::nondetPicks",
        "outcome",
        "found",
        "violations",
    ]
    states = data["states"]
    assert [s["#meta"] for s in states] == [{"index": i} for i in range(5)]
    assert all(set(data["vars"]) <= set(s) for s in states)
    assert states[0]["mbt::actionTaken"] == "init"
    assert states[0]["outcome"] == "init"
    assert all(v == {"tag": "None", "value": {"#tup": []}} for v in states[0]["mbt::nondetPicks"].values())
    assert states[1]["repo"]["reserved"] == {"#bigint": "100"}
    assert states[3]["mbt::nondetPicks"]["total_collateral"] == {"tag": "Some", "value": {"#bigint": "500"}}
    assert states[3]["mbt::nondetPicks"]["duration"] == {"tag": "None", "value": {"#tup": []}}
    assert states[4]["violations"][0]["known"] == {"tag": "Some", "value": "nim-codex#1147"}
    assert meta["varTypes"]["repo"] == "{ max_bytes: Int, reserved: Int, used: Int }"
    assert meta["varTypes"]["reservations"].startswith("(Str -> { availability_id: Str")
    assert meta["varTypes"]["found"] == "None(UNIT) | Some(Str)"


def _numbers(value: Any) -> list[Any]:
    """Every JSON number in ``value`` outside ``#meta`` (a state's ``#meta.index`` is a plain number)."""
    if isinstance(value, bool):
        return []
    if isinstance(value, int | float):
        return [value]
    if isinstance(value, list):
        return [n for v in value for n in _numbers(v)]
    if isinstance(value, dict):
        return [n for k, v in value.items() if k != "#meta" for n in _numbers(v)]
    return []


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: s.__name__)
def test_integers_are_bigints_and_output_is_deterministic(sample: Any) -> None:
    data = document(sample())
    assert _numbers({"vars": data["vars"], "states": data["states"]}) == []
    assert itf.dumps(sample()) == itf.dumps(sample())


def test_market_types_and_values() -> None:
    data = document(market_errored())
    sales = data["states"][4]["sales"]["#map"]
    key, sale = sales[0]
    assert key == {"#tup": ["r1", {"#bigint": "0"}, {"#bigint": "0"}]}
    assert sale["state"] == "Preparing"
    assert sale["reservation_id"] == {"tag": "None", "value": {"#tup": []}}
    types = data["#meta"]["varTypes"]
    assert types["sales"].startswith("(<<Str, Int, Int>> -> {")
    assert types["requests"].startswith("(Str -> {")


def test_var_type_inference() -> None:
    assert itf.var_type([{"#set": []}, {"#set": [{"#bigint": "1"}]}]) == "Set(Int)"
    assert itf.var_type([{"#map": []}]) == "(a -> b)"
    assert itf.var_type([{"#tup": ["x", True]}]) == "<<Str, Bool>>"
    assert itf.var_type([{"tag": "None", "value": {"#tup": []}}, {"tag": "Some", "value": "x"}]) == (
        "None(UNIT) | Some(Str)"
    )
    # an optional field's plain value beside None: no Apalache type covers both, so a type variable
    assert itf.var_type([{"tag": "None", "value": {"#tup": []}}, "x"]) == "a"
    assert itf.var_type([[{"#bigint": "1"}], []]) == "Seq(Int)"


def test_foreign_trace_without_counterexample_meta() -> None:
    """A Quint-style trace: only some vars, #meta.profile/level, no outcome/found/violations."""
    data = document(head_1147())
    keep = ["availabilities", "mbt::actionTaken", "mbt::nondetPicks"]
    foreign = {
        "#meta": {"profile": "codex-head", "level": "reservations", "setup": {"quota_max_bytes": {"#bigint": "1000"}}},
        "vars": keep,
        "states": [{k: s[k] for k in [*keep, "#meta"]} for s in data["states"]],
    }
    cx = itf.from_itf(foreign, "quint.itf.json")
    assert (cx.rule, cx.engine, cx.profile, cx.level) == ("replay", "replay", "codex-head", "reservations")
    assert cx.setup == {"quota_max_bytes": 1000}
    assert [s.action for s in cx.steps] == [s.action for s in head_1147().steps]
    assert cx.steps[2].arguments == head_1147().steps[2].arguments
    assert set(cx.steps[0].state) == {"availabilities"}
    assert cx.notes == ("unobserved: found, outcome, violations",)
    del foreign["#meta"]["profile"]
    assert "#meta.profile: expected the profile" in error_of(json.dumps(foreign))


def test_malformed_json() -> None:
    assert error_of('{"vars": [,]}') == "trace.itf.json: line 1 column 11: expected valid JSON, got a syntax error " + (
        "(Expecting value)"
    )


def test_truncated_file() -> None:
    text = itf.dumps(head_1147())
    message = error_of(text[: len(text) // 2])
    assert ": expected valid JSON, got " in message
    assert "line " in message
    assert "column " in message


def test_wrong_vocabulary() -> None:
    data = document(head_1147())
    data["#meta"]["vocabulary"] = "codex-sales-model/0"
    assert error_of(json.dumps(data)) == (
        'trace.itf.json: #meta.vocabulary: expected "codex-sales-model/1", got "codex-sales-model/0"'
    )


def test_state_missing_a_var() -> None:
    data = document(head_1147())
    del data["states"][3]["availabilities"]
    assert error_of(json.dumps(data)).startswith("trace.itf.json: states[3].availabilities: expected the var")


def test_plain_json_number() -> None:
    data = document(head_1147())
    data["states"][2]["repo"]["used"] = 0
    assert error_of(json.dumps(data)) == (
        'trace.itf.json: states[2].repo.used: expected an integer as {"#bigint": "..."}, got 0'
    )


def test_unknown_action() -> None:
    data = document(head_1147())
    data["states"][1]["mbt::actionTaken"] = "format_disk"
    message = error_of(json.dumps(data))
    assert message.startswith("trace.itf.json: states[1].mbt::actionTaken: expected an action of the vocabulary, got ")
    assert "format_disk" in message


def test_bad_argument_type() -> None:
    data = document(head_1147())
    data["states"][1]["mbt::nondetPicks"]["total_size"] = {"tag": "Some", "value": "big"}
    assert error_of(json.dumps(data)) == (
        "trace.itf.json: states[1].mbt::nondetPicks.total_size: expected an integer, got 'big'"
    )


def test_bad_option() -> None:
    data = document(head_1147())
    data["states"][2]["found"] = "a1"
    assert error_of(json.dumps(data)).startswith("trace.itf.json: states[2].found: expected an option")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(itf.TraceError, match=r"nothing\.itf\.json: file: expected a readable ITF file"):
        itf.load(tmp_path / "nothing.itf.json")


def test_load_reads_a_file(tmp_path: Path) -> None:
    cx = market_errored()
    path = tmp_path / "m.itf.json"
    path.write_text(itf.dumps(cx), encoding="utf-8")
    assert itf.load(path) == cx
    assert attrs.evolve(cx, notes=("x",)) != itf.load(path)


def test_run_steps_agrees_with_make() -> None:
    cx = head_1147()
    steps = run_steps(start_state(HEAD, "reservations", cx.setup), HEAD_1147)
    assert steps == cx.steps
