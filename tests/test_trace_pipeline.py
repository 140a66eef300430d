"""Trace checking in chunks on forked workers, read as the file streams, and the fast line decoder:
each must give exactly what the one-process, whole-file, reference-reader check gives.

Mirrors: oracle/pipeline.py rules 1-5, oracle/decode.py rules 1-4, oracle/trace.py rule 7.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from trace_cases import BAD_INPUTS, CASES, HEAD, OLD, SCENARIOS, record, text_of

from invariants.catalogue import Scope
from invariants.state_invariants import resolved
from model.state import Profile
from oracle import pipeline
from oracle.trace import TraceFormatError, TraceReport, check, check_lines, load_events

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="forked workers need os.fork")


def _write(tmp_path: Path, text: str, name: str = "t.jsonl") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _every_way(path: Path) -> list[TraceReport]:
    """The report of one trace file by every route: whole file then check (0 and 2 workers, tiny
    chunks), streamed (0 and 2 workers), and the reference reader alone."""
    text = path.read_text(encoding="utf-8").splitlines(keepends=True)
    header, events = load_events(text, str(path))
    _, reference_events = load_events(text, str(path), fast=False)
    assert events == reference_events
    return [
        check(header, events),
        check(header, events, workers=2, chunk=3),
        check(header, events, workers=1, chunk=1),
        check_lines(path, workers=0),
        check_lines(path, workers=2, chunk=4),
        check(header, reference_events, workers=2, chunk=5),
    ]


def _same(reports: list[TraceReport]) -> TraceReport:
    first = reports[0]
    for other in reports[1:]:
        assert other == first
        assert other.known == first.known
        assert other.trace == first.trace
    assert len(first.trace) == (0 if first.ok else first.event_index + 1)
    return first


def _mix(tmp_path: Path, seed: int, events: int = 400) -> Path:
    from bench.bench_trace import generate

    path = tmp_path / f"mix{seed}.jsonl"
    generate(str(path), events, seed, mix="uniform")
    return path


@pytest.mark.parametrize("seed", [1, 2])
def test_a_passing_trace_gets_the_same_report_every_way(seed: int, tmp_path: Path) -> None:
    report = _same(_every_way(_mix(tmp_path, seed)))
    assert report.ok
    assert report.known, "the mix deletes without returning collateral: the spec §3.3 leak is known"


def test_a_planted_divergence_is_found_at_its_line_every_way(tmp_path: Path) -> None:
    lines = _mix(tmp_path, 3).read_text(encoding="utf-8").splitlines()
    index = next(i for i, line in enumerate(lines) if '"release_bytes"' in line and '"accepted"' in line and i > 150)
    event = json.loads(lines[index])
    event["state"]["repo"]["reserved"] += 1
    lines[index] = json.dumps(event)
    report = _same(_every_way(_write(tmp_path, "\n".join(lines) + "\n")))
    assert (report.kind, report.line) == ("divergence", index + 1)


@pytest.mark.parametrize(("variant", "profile"), CASES[:8])
def test_broken_variant_traces_get_the_same_report_every_way(variant: Any, profile: Profile, tmp_path: Path) -> None:
    broken, _ = record(profile, SCENARIOS[profile], variant.operations(profile))
    report = _same(_every_way(_write(tmp_path, text_of(profile, broken))))
    assert not report.ok


@pytest.mark.parametrize("profile", [HEAD, OLD], ids=lambda p: p.value)
def test_a_variant_table_checks_every_way(profile: Profile, tmp_path: Path) -> None:
    """Checked against a broken operation table (full checks, no scopes), chunks agree too."""
    from variants import VARIANTS

    events, _ = record(profile, SCENARIOS[profile], states=False)
    path = _write(tmp_path, text_of(profile, events))
    header, parsed = load_events(path.read_text(encoding="utf-8").splitlines(keepends=True), str(path))
    for variant in VARIANTS:
        if profile not in variant.profiles:
            continue
        table = variant.operations(profile)
        one = check(header, parsed, table)
        assert check(header, parsed, table, workers=2, chunk=2) == one
        assert check_lines(path, table, workers=2, chunk=3) == one


def test_a_violation_of_the_model_is_found_in_a_worker(tmp_path: Path) -> None:
    """Returning more than was written (accepted by nim-codex) breaks returned_within_written; the
    chunk holding it is checked in a child, and the report is the in-process one."""
    from trace_cases import HEAD_SCENARIO, head_reservation

    from model.actions import ReturnBytesToAvailability

    steps = [
        *HEAD_SCENARIO[:6],
        head_reservation("r9", 100, "q9"),
        ReturnBytesToAvailability(reservation_id="r9", availability_id="a1", bytes=150),
        *HEAD_SCENARIO[6:9],
    ]
    events, _ = record(HEAD, steps)
    report = _same(_every_way(_write(tmp_path, text_of(HEAD, events))))
    assert (report.kind, report.event_index) == ("violation", 7)
    assert "returned_within_written" in {v.rule for v in report.violations}


def test_a_dead_worker_has_its_chunk_checked_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker that dies without answering (rule 5) costs time, not the verdict."""
    path = _mix(tmp_path, 4, 200)
    expected = check_lines(path, workers=0)
    parent = os.getpid()
    real = pipeline.Rules.check_chunk

    def dying(self: pipeline.Rules, steps: Any) -> pipeline.Verdict:
        if os.getpid() != parent:
            os._exit(3)
        return real(self, steps)

    monkeypatch.setattr(pipeline.Rules, "check_chunk", dying)
    assert check_lines(path, workers=2, chunk=16) == expected


def test_bad_input_after_a_failure_still_wins_when_streaming(tmp_path: Path) -> None:
    """Rule 4: a divergence at line 3, then a non-JSON line: the file is bad input (exit 2)."""
    lines = _mix(tmp_path, 5, 60).read_text(encoding="utf-8").splitlines()
    event = json.loads(lines[2])
    event["outcome"] = "QuotaNotEnough"
    lines[2] = json.dumps(event)
    lines.insert(40, "{nope")
    path = _write(tmp_path, "\n".join(lines) + "\n")
    for workers in (0, 2):
        with pytest.raises(TraceFormatError) as error:
            check_lines(path, workers=workers, chunk=4)
        assert error.value.line == 41


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
def test_streaming_reports_the_same_bad_input(name: str, tmp_path: Path) -> None:
    text, line, expected = BAD_INPUTS[name]
    path = _write(tmp_path, text)
    messages = []
    for route in (
        lambda: load_events(text.splitlines(keepends=True), str(path)),
        lambda: load_events(text.splitlines(keepends=True), str(path), fast=False),
        lambda: check_lines(path, workers=0),
        lambda: check_lines(path, workers=2, chunk=1),
    ):
        with pytest.raises(TraceFormatError) as error:
            route()
        messages.append(str(error.value))
    assert len(set(messages)) == 1, messages
    assert f":{line}: expected" in messages[0]
    assert expected in messages[0]


# --- the fast decoder takes nothing the reference reader refuses, and builds the same events ---------

_HEADER = json.dumps({"trace": "codex-sales-model/oracle", "version": 1, "profile": "codex-head"})
_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**260),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["a1", "r1", "accepted", "QuotaNotEnough", "x"]),
    st.lists(st.lists(st.one_of(st.sampled_from(["q1"]), st.integers(0, 3)), max_size=3), max_size=2),
)


def _variants_of(event: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """``event`` with one thing changed: a value anywhere replaced, a key dropped, or a key added."""

    def paths(value: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
        found = [prefix] if prefix else []
        if isinstance(value, dict):
            for key, inner in value.items():
                found += paths(inner, (*prefix, key))
        return found

    every = paths(event)

    def change(path: tuple[str, ...], how: str, value: Any) -> dict[str, Any]:
        copy = json.loads(json.dumps(event))
        parent = copy
        for key in path[:-1]:
            parent = parent[key]
        if how == "drop":
            del parent[path[-1]]
        elif how == "add":
            target = parent[path[-1]] if isinstance(parent[path[-1]], dict) else parent
            target["extra"] = value
        else:
            parent[path[-1]] = value
        return copy

    return st.builds(change, st.sampled_from(every), st.sampled_from(["set", "drop", "add"]), _VALUES)


_SAMPLES = [
    {"op": "store_block", "args": {"bytes": 4}, "outcome": "accepted", "state": {"repo": {"used": 4}}},
    {
        "op": "create_availability",
        "args": {
            "availability_id": "a1",
            "total_size": 10,
            "duration": 1,
            "min_price_per_byte_per_second": 1,
            "total_collateral": 2**255,
            "enabled": True,
            "until": 0,
        },
        "outcome": "accepted",
        "state": {"availabilities": {"a1": {"free_size": 10, "until": 0, "enabled": True}}, "reservations": {}},
    },
    {
        "op": "find_availability",
        "args": {"size": 1, "duration": 1, "price_per_byte_per_second": 1, "collateral_per_byte": 1, "valid_until": 0},
        "result": None,
    },
    {"op": "update_availability", "args": {"availability_id": "a1", "enabled": None, "until": 5}},
    {"op": "delete_inactive_reservations", "args": {"active_slots": [["q1", 0]]}, "outcome": None, "state": None},
    {
        "op": "delete_reservation",
        "args": {"reservation_id": "r1", "availability_id": "a1", "returned_collateral": None},
        "state": {"reservations": {"r1": None}, "availabilities": {"a1": {"total_remaining_collateral": 3}}},
    },
]


def _read(line: str, fast: bool) -> Any:
    """The events of ``line`` and, since dicts compare without order, their args and state as
    JSON text (the order of keys too, oracle/trace.py rule 7); or the error."""
    try:
        _, events = load_events([_HEADER + "\n", line + "\n"], "f.jsonl", fast=fast)
    except TraceFormatError as error:
        return str(error)
    return events, [(json.dumps(e.args), json.dumps(e.state)) for e in events]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_the_fast_decoder_reads_exactly_what_the_reference_reader_reads(data: st.DataObject) -> None:
    sample = data.draw(st.sampled_from(_SAMPLES))
    event = data.draw(st.one_of(st.just(sample), _variants_of(sample)))
    line = json.dumps(event)
    assert _read(line, True) == _read(line, False)


# --- holdings kept as the chunk goes (pipeline rule 6) ------------------------------------------------


@pytest.mark.parametrize("profile", list(Profile), ids=lambda p: p.value)
@pytest.mark.parametrize("seed", range(4))
def test_kept_holdings_equal_walked_holdings_after_every_step(profile: Profile, seed: int) -> None:
    """``advance_holdings`` gives after every step of the model's operations exactly what walking
    every availability's index gives (invariants/state_invariants.py rule 6), over random runs of
    every operation (restart cleanup included, which takes the whole-state path)."""
    import random

    from scenario import random_action

    from model.actions import Accepted, apply
    from model.state import initial_state

    rng = random.Random(seed)
    state = initial_state(profile, quota_max_bytes=1 << 20)
    held = pipeline.all_holdings(state)
    fresh, moved, rich = [0], 0, 0
    for _ in range(600):
        action = random_action(rng, state, fresh)
        outcome = apply(state, action)
        post = outcome.state if isinstance(outcome, Accepted) else state
        scope = None
        if post is not state:
            scope = pipeline.scope_of(state, post, action, held)
            if scope is None:
                held = pipeline.all_holdings(post)
            else:
                pipeline.advance_holdings(held, state, post, scope)
                moved += 1
        assert held == pipeline.all_holdings(post), action
        if scope is not None:  # scope_of resolves its scope as state_invariants.resolved does (rule 5)
            reference = resolved(post, Scope(scope.availabilities, scope.reservations), held)
            assert attrs.astuple(scope, recurse=False) == attrs.astuple(reference, recurse=False)
            assert list(scope.availabilities) == sorted(set(scope.availabilities))
            assert list(scope.reservations) == sorted(set(scope.reservations))
        rich += any(h.bytes and h.collateral and h.latest for h in held.values())
        state = post
    assert moved > 100
    assert rich > 20 or profile is Profile.CODEX_535  # codex-535 takes no collateral


def _edits(state: Any, aid: str, rid: str) -> dict[str, Any]:
    """``state`` changed in one named reservation only, as a faulty operation might change it: what
    ``advance_holdings`` must follow as well as the model's own steps."""
    import attrs

    ledger = state.reservation_ledgers[rid]
    index = state.availability_ledgers[aid]
    unindexed = attrs.evolve(index, reservations=index.reservations.delete(rid))
    return {
        "reservation gone, still indexed": attrs.evolve(state, reservations=state.reservations.delete(rid)),
        "returned bytes moved": attrs.evolve(
            state, reservation_ledgers=state.reservation_ledgers.set(rid, attrs.evolve(ledger, returned=3))
        ),
        "collateral moved": attrs.evolve(
            state, reservation_ledgers=state.reservation_ledgers.set(rid, attrs.evolve(ledger, collateral=7))
        ),
        "ledger gone": attrs.evolve(state, reservation_ledgers=state.reservation_ledgers.delete(rid)),
        "unindexed": attrs.evolve(state, availability_ledgers=state.availability_ledgers.set(aid, unindexed)),
        "valid_until raised": attrs.evolve(
            state,
            availability_ledgers=state.availability_ledgers.set(
                aid, attrs.evolve(index, reservations=index.reservations.set(rid, 10**6))
            ),
        ),
    }


def test_kept_holdings_follow_a_faulty_step_that_changes_only_named_records() -> None:
    """The incremental sums rest on what ``scope_of`` rests on (only named records change), not on
    the model's operations being right: a step that breaks an index or a ledger in a named
    reservation is followed exactly, so the checks that read the holdings still see the fault."""
    from scenario import apply_ok

    from model.actions import CreateAvailabilityHead, CreateReservationHead, DeleteReservationHead
    from model.state import initial_state

    state = apply_ok(
        initial_state(Profile.CODEX_HEAD, quota_max_bytes=1000),
        CreateAvailabilityHead(
            availability_id="a1", total_size=100, duration=9, min_price_per_byte_per_second=1, total_collateral=900
        ),
    )
    for rid, size, until in (("r1", 10, 200), ("r2", 20, 300)):
        state = apply_ok(
            state,
            CreateReservationHead(
                availability_id="a1",
                reservation_id=rid,
                slot_size=size,
                request_id="q",
                slot_index=size,
                collateral_per_byte=2,
                valid_until=until,
            ),
        )
    for rid in ("r1", "r2"):
        for name, post in _edits(state, "a1", rid).items():
            held = pipeline.all_holdings(state)
            scope = pipeline.scope_of(
                state, post, DeleteReservationHead(reservation_id=rid, availability_id="a1"), held
            )
            assert scope is not None
            pipeline.advance_holdings(held, state, post, scope)
            assert held == pipeline.all_holdings(post), (rid, name)
