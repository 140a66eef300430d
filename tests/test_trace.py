"""``oracle.trace``, ``oracle.shrink`` and ``sales-model trace``: recorded runs checked against the model.

Traces recorded from the model check ok; traces recorded from each broken variant diverge at the
first line where the variant's observations differ from the model's; partial traces are checked on
their recorded fields only; ITF traces are accepted; every bad input is one line naming the line and
exit 2; shrinking gives a 1-minimal trace.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from trace_cases import (
    BAD_INPUTS,
    CASES,
    HEAD,
    HEAD_SCENARIO,
    OLD,
    SCENARIOS,
    Step,
    head_reservation,
    loaded,
    observe,
    record,
    text_of,
)

from model.actions import (
    Accepted,
    Action,
    CreateAvailabilityHead,
    FindAvailabilityHead,
    OperationTable,
    ReturnBytesToAvailability,
    StoreBlock,
    apply,
)
from model.state import Profile, initial_state
from oracle.shrink import NotFailing, is_one_minimal, shrink
from oracle.trace import (
    TRACE,
    Header,
    TraceFormatError,
    check,
    check_file,
    dump_events,
    load_events,
    parse_event,
)
from reports import itf
from reports.render import renderings
from reports.vocabulary import encode_action
from sales_model.commands import trace as trace_command
from variants import VARIANTS, Variant

SCHEMA = Path(__file__).resolve().parent.parent / "schemas" / "oracle-trace-v1.schema.json"


def main(argv: list[str]) -> int:
    """``sales-model`` with only the trace command (``sales_model/cli.py`` registers it for real)."""
    top = argparse.ArgumentParser(prog="sales-model")
    trace_command.register(top.add_subparsers(dest="command"))
    arguments = top.parse_args(argv)
    code: int = arguments.run(arguments)
    return code


# --- our own traces -------------------------------------------------------------------------------


@pytest.mark.parametrize("profile", [HEAD, OLD], ids=lambda p: p.value)
def test_traces_recorded_from_the_model_check_ok(profile: Profile) -> None:
    events, _ = record(profile, SCENARIOS[profile])
    header, parsed = loaded(profile, events)
    assert len(parsed) == len(SCENARIOS[profile])
    assert [e.line for e in parsed] == list(range(2, len(parsed) + 2))
    report = check(header, parsed)
    assert report.ok, report.lines()
    assert (report.line, report.event_index, report.kind) == (None, None, None)
    assert check(header, parsed, full=True).ok
    # the known collateral leak (deletes that give back less than was taken) is listed, not failed
    if profile is HEAD:
        assert report.known


def test_dump_events_round_trips() -> None:
    events, _ = record(HEAD, HEAD_SCENARIO)
    header, parsed = loaded(HEAD, events)
    again = load_events(dump_events(header, parsed).splitlines(keepends=True), "t.jsonl")
    assert again[0] == header
    assert [(e.op, e.args, e.outcome, e.result, e.state) for e in again[1]] == [
        (e.op, e.args, e.outcome, e.result, e.state) for e in parsed
    ]


def test_parse_event_is_what_load_events_does() -> None:
    events, _ = record(HEAD, HEAD_SCENARIO)
    _, parsed = loaded(HEAD, events)
    for index, obj in enumerate(events):
        assert parse_event(obj, index + 2, "t.jsonl", HEAD) == parsed[index]


# --- broken variants, recorded, diverge at the right line -----------------------------------------


def _first_different(real: Sequence[dict[str, Any]], broken: Sequence[dict[str, Any]]) -> int | None:
    for index, (mine, theirs) in enumerate(zip(real, broken, strict=True)):
        if mine != theirs:
            return index
    return None


@pytest.mark.parametrize(("variant", "profile"), CASES)
def test_trace_recorded_from_a_broken_variant_is_flagged_at_the_right_line(variant: Variant, profile: Profile) -> None:
    """The variant, run as the implementation, logs a trace; the real model flags its first event
    whose observations differ from what the model would have logged."""
    steps = SCENARIOS[profile]
    broken, _ = record(profile, steps, variant.operations(profile))
    real, _ = record(profile, steps)
    expected = _first_different(real, broken)
    assert expected is not None, f"the scenario does not expose {variant.name}"
    header, parsed = loaded(profile, broken)
    report = check(header, parsed)
    assert not report.ok
    assert report.kind == "divergence"
    assert (report.event_index, report.line) == (expected, expected + 2)
    assert f"t.jsonl:{expected + 2}:" in report.message
    assert report.differences
    assert any(f"line {expected + 2}" in line for line in report.lines())


def test_a_variant_as_the_model_finds_the_rule_it_breaks() -> None:
    """Checked against a broken operation table, a trace of the real model shows the variant's rule
    as a violation (or a divergence first where the variant changes an observation)."""
    variant = next(v for v in VARIANTS if v.name == "release_keeps_repo_reserved")
    events, _ = record(HEAD, HEAD_SCENARIO, states=False)
    header, parsed = loaded(HEAD, events)
    report = check(header, parsed, variant.operations(HEAD))
    assert (report.kind, report.line) == ("violation", 5)
    assert {v.rule for v in report.violations} & variant.detected_by


# --- partial traces ---------------------------------------------------------------------------------


def test_partial_traces_are_checked_on_recorded_fields_only() -> None:
    variant = next(v for v in VARIANTS if v.name == "reservation_takes_no_collateral")
    broken, _ = record(HEAD, HEAD_SCENARIO, variant.operations(HEAD))
    header, parsed = loaded(HEAD, broken)
    report = check(header, parsed)
    assert report.line == 4
    assert [d.field for d in report.differences] == ["availabilities[a1].total_remaining_collateral"]
    # drop that one field from every record: nothing recorded differs any more, so the trace passes
    for event in broken:
        for record_ in (event.get("state") or {}).get("availabilities", {}).values():
            if record_ is not None:
                record_.pop("total_remaining_collateral", None)
    assert check(*loaded(HEAD, broken)).ok
    # no state at all: outcomes only
    bare = [{k: v for k, v in e.items() if k != "state"} for e in broken]
    assert check(*loaded(HEAD, bare)).ok
    # no outcome either: a trace of calls alone is checked on nothing but its ids
    calls = [{"op": e["op"], "args": e["args"]} for e in broken]
    assert check(*loaded(HEAD, calls)).ok


def test_recorded_absence_is_compared() -> None:
    events, _ = record(HEAD, HEAD_SCENARIO)
    events[5]["state"]["reservations"]["r1"] = {"size": 0}  # recorded present, model deleted it
    report = check(*loaded(HEAD, events))
    assert (report.line, report.kind) == (7, "divergence")
    assert [(d.field, d.recorded, d.model) for d in report.differences] == [("reservations[r1]", "present", "absent")]


def test_out_of_range_integers_are_the_models_rejection_not_bad_input() -> None:
    events = [
        {
            "op": "create_availability",
            "args": {
                "availability_id": "a1",
                "total_size": -1,
                "duration": 1,
                "min_price_per_byte_per_second": 1,
                "total_collateral": 2**300,
            },
            "outcome": "OutOfRange",
        }
    ]
    assert check(*loaded(HEAD, events)).ok
    events[0]["outcome"] = "accepted"
    report = check(*loaded(HEAD, events))
    assert [(d.field, d.recorded, d.model) for d in report.differences] == [("outcome", "accepted", "OutOfRange")]


# --- counterexamples and the CLI ---------------------------------------------------------------------


def test_counterexample_renders_in_all_three_formats(tmp_path: Path) -> None:
    variant = next(v for v in VARIANTS if v.name == "delete_keeps_bytes")
    broken, _ = record(HEAD, HEAD_SCENARIO, variant.operations(HEAD))
    path = tmp_path / "broken.jsonl"
    path.write_text(text_of(HEAD, broken), encoding="utf-8")
    report = check_file(path)
    cx = report.counterexample()
    assert (cx.engine, cx.kind, cx.profile, cx.level) == ("oracle", "divergence", "codex-head", "reservations")
    assert report.event_index is not None
    assert len(cx.steps) == report.event_index + 1
    assert {s.field for s in cx.sides} == {d.field for d in report.differences}
    assert all(s.step == report.event_index for s in cx.sides)
    texts = renderings(cx)
    assert len(texts) == 3
    assert all(texts.values())
    assert itf.loads(next(t for n, t in texts.items() if n.endswith(".itf.json")), "x").steps == cx.steps
    assert renderings(cx) == texts  # deterministic
    # through the CLI: exit 1, the line printed, and the three files written
    out = tmp_path / "reports"
    assert main(["trace", "check", str(path), "--report-dir", str(out)]) == 1
    assert len(list(out.iterdir())) == 3


def test_cli_check_ok_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    events, _ = record(HEAD, HEAD_SCENARIO)
    path = tmp_path / "ok.jsonl"
    path.write_text(text_of(HEAD, events), encoding="utf-8")
    assert main(["trace", "check", str(path)]) == 0
    assert ": ok" in capsys.readouterr().out
    assert main(["trace", "check", str(path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] is True
    assert data["events"] == len(events)


def test_cli_check_prints_the_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    variant = next(v for v in VARIANTS if v.name == "return_twice")
    broken, _ = record(HEAD, HEAD_SCENARIO, variant.operations(HEAD))
    path = tmp_path / "broken.jsonl"
    path.write_text(text_of(HEAD, broken), encoding="utf-8")
    assert main(["trace", "check", str(path)]) == 1
    out = capsys.readouterr().out
    assert "divergence at line 6" in out
    assert main(["trace", "check", str(path), "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["line"] == 6


def test_itf_traces_are_accepted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from test_itf import broken, head_1147

    path = tmp_path / "head.itf.json"
    path.write_text(itf.dumps(head_1147()), encoding="utf-8")
    report = check_file(path)
    assert report.ok
    assert main(["trace", "check", str(path)]) == 0
    failing = tmp_path / "broken.itf.json"
    failing.write_text(itf.dumps(broken()), encoding="utf-8")
    report = check_file(failing)
    assert (report.ok, report.kind, report.event_index) == (False, "violation", 2)
    assert "violation at step 3" in report.lines()[0], "ITF steps are numbered from 1, as replay numbers them"
    assert "Step 3" in report.message or "step 3" in report.message.lower()
    cx = report.counterexample()
    assert cx.engine == "oracle"
    assert len(renderings(cx)) == 3
    assert main(["trace", "check", str(failing)]) == 1
    bad = tmp_path / "bad.itf.json"
    bad.write_text("{", encoding="utf-8")
    capsys.readouterr()
    assert main(["trace", "check", str(bad)]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


# --- bad input: one line, the line number, exit 2 ----------------------------------------------------


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
def test_bad_input_is_one_line_with_the_line_number_and_exit_2(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text, line, expected = BAD_INPUTS[name]
    path = tmp_path / "bad.jsonl"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(TraceFormatError) as caught:
        check_file(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:{line}: expected ")
    assert ", got " in message
    assert expected in message
    assert "\n" not in message
    assert main(["trace", "check", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.err.strip().splitlines() == [f"sales-model trace: {message}"]
    assert "Traceback" not in captured.err
    assert main(["trace", "shrink", str(path), "-o", str(tmp_path / "out.jsonl")]) == 2


def test_missing_file_is_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["trace", "check", str(tmp_path / "nope.jsonl")]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


# --- shrinking ----------------------------------------------------------------------------------------


def _long_failing_trace() -> tuple[Header, list[Any], Variant]:
    """Three hundred ordinary events (the benchmark's mix), then a disabled availability a find offers."""
    import random

    from bench.bench_trace import AVAILABILITIES, _next_action

    variant = next(v for v in VARIANTS if v.name == "find_ignores_enabled")
    rng, state = random.Random(7), initial_state(HEAD, quota_max_bytes=1 << 50)
    counter: list[int] = [0, 0]
    pending: list[Action] = []
    steps: list[Step] = []
    for _ in range(300):
        action = _next_action(rng, state, counter, pending)
        outcome = apply(state, action)
        state = outcome.state if isinstance(outcome, Accepted) else state
        steps.append(action)
    assert len(state.availabilities) == AVAILABILITIES
    steps += [
        CreateAvailabilityHead(
            availability_id="z1",
            total_size=1 << 44,
            duration=10**6,
            min_price_per_byte_per_second=1,
            total_collateral=1,
            enabled=False,
        ),
        FindAvailabilityHead(
            size=1 << 43, duration=10, price_per_byte_per_second=5, collateral_per_byte=0, valid_until=0
        ),
        StoreBlock(bytes=1),
    ]
    broken = _record_big(steps, variant.operations(HEAD))
    header = {"trace": TRACE, "version": 1, "profile": "codex-head", "setup": {"quota_max_bytes": 1 << 50}}
    text = "\n".join(json.dumps(line) for line in [header, *broken]) + "\n"
    parsed_header, events = load_events(text.splitlines(keepends=True), "long.jsonl")
    return parsed_header, events, variant


def _record_big(steps: Sequence[Step], operations: OperationTable) -> list[dict[str, Any]]:
    state: Any = initial_state(HEAD, quota_max_bytes=1 << 50)
    found = []
    for step in steps:
        action = step if isinstance(step, Action) else step(state)
        outcome = apply(state, action, operations)
        accepted = isinstance(outcome, Accepted)
        after = outcome.state if isinstance(outcome, Accepted) else state
        name, arguments = encode_action(action)
        event: dict[str, Any] = {"op": name, "args": arguments, "outcome": "accepted" if accepted else outcome.kind}  # type: ignore[union-attr]
        if action.query:
            event["result"] = outcome.found if isinstance(outcome, Accepted) else None
        event["state"] = observe(state, after, action, accepted)
        found.append(event)
        state = after
    return found


def test_shrinking_a_long_failing_trace_gives_a_one_minimal_one(tmp_path: Path) -> None:
    header, events, _ = _long_failing_trace()
    original = check(header, events)
    assert (original.kind, original.line) == ("divergence", 303)
    smallest = shrink(header, events)
    assert [e.op for e in smallest] == ["create_availability", "find_availability"]
    assert len(smallest) * 100 < len(events)
    assert is_one_minimal(header, smallest)
    again = check(header, smallest)
    assert again.signature()[0] == "divergence"
    assert again.signature()[1] & original.signature()[1]
    assert shrink(header, events) == smallest  # deterministic
    # the CLI writes it, and it loads and fails the same way
    source = tmp_path / "long.jsonl"
    source.write_text(dump_events(header, events), encoding="utf-8")
    out = tmp_path / "small.jsonl"
    assert main(["trace", "shrink", str(source), "-o", str(out), "--report-dir", str(tmp_path / "r")]) == 0
    written = check_file(out)
    assert (written.kind, written.line, written.events) == ("divergence", 3, 2)
    assert len(list((tmp_path / "r").iterdir())) == 3


@pytest.mark.parametrize(("variant", "profile"), CASES[:6])
def test_shrunk_variant_traces_are_one_minimal(variant: Variant, profile: Profile) -> None:
    broken, _ = record(profile, SCENARIOS[profile], variant.operations(profile))
    header, events = loaded(profile, broken)
    smallest = shrink(header, events)
    assert len(smallest) <= len(events)
    assert is_one_minimal(header, smallest)


def test_a_passing_trace_does_not_shrink(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    events, _ = record(HEAD, HEAD_SCENARIO)
    header, parsed = loaded(HEAD, events)
    with pytest.raises(NotFailing):
        shrink(header, parsed)
    path = tmp_path / "ok.jsonl"
    path.write_text(text_of(HEAD, events), encoding="utf-8")
    assert main(["trace", "shrink", str(path), "-o", str(tmp_path / "out.jsonl")]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


# --- the schema -------------------------------------------------------------------------------------


def _validate(value: Any, schema: dict[str, Any], root: dict[str, Any]) -> bool:  # noqa: PLR0912
    """A validator of the JSON Schema subset the trace schema uses (``jsonschema`` is not a dependency)."""
    if "$ref" in schema:
        return _validate(value, root["$defs"][schema["$ref"].removeprefix("#/$defs/")], root)
    if "anyOf" in schema:
        return any(_validate(value, s, root) for s in schema["anyOf"])
    if "oneOf" in schema:
        return sum(_validate(value, s, root) for s in schema["oneOf"]) == 1
    if "const" in schema:
        return bool(value == schema["const"] and type(value) is type(schema["const"]))
    if "enum" in schema:
        return value in schema["enum"]
    kinds = schema.get("type")
    if kinds is not None:
        names = [kinds] if isinstance(kinds, str) else kinds
        checks = {
            "integer": lambda v: type(v) is int,
            "string": lambda v: type(v) is str,
            "boolean": lambda v: type(v) is bool,
            "null": lambda v: v is None,
            "object": lambda v: type(v) is dict,
            "array": lambda v: type(v) is list,
        }
        if not any(checks[n](value) for n in names):
            return False
    if type(value) is int and "minimum" in schema and value < schema["minimum"]:
        return False
    if type(value) is dict:
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        if any(key not in value for key in schema.get("required", ())):
            return False
        for key, item in value.items():
            if key in properties:
                if not _validate(item, properties[key], root):
                    return False
            elif extra is False or (isinstance(extra, dict) and not _validate(item, extra, root)):
                return False
    if type(value) is list:
        prefix = schema.get("prefixItems", [])
        if len(value) < schema.get("minItems", 0) or len(value) > schema.get("maxItems", len(value)):
            return False
        for index, item in enumerate(value):
            sub = prefix[index] if index < len(prefix) else schema.get("items")
            if sub is not None and not _validate(item, sub, root):
                return False
    return True


def _schema() -> dict[str, Any]:
    loaded_schema: dict[str, Any] = json.loads(SCHEMA.read_text(encoding="utf-8"))
    return loaded_schema


def test_schema_uses_only_the_validated_subset() -> None:
    allowed = {
        "$schema", "$id", "title", "description", "$defs", "$ref", "anyOf", "oneOf", "const", "enum", "type",
        "minimum", "properties", "required", "additionalProperties", "prefixItems", "items", "minItems", "maxItems",
    }  # fmt: skip
    schema = _schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"

    def keywords(node: Any, inside_properties: bool = False) -> set[str]:
        if isinstance(node, list):
            return set().union(*(keywords(n) for n in node)) if node else set()
        if not isinstance(node, dict):
            return set()
        found = set() if inside_properties else set(node)
        for key, value in node.items():
            found |= keywords(value, inside_properties=key in ("properties", "$defs") and not inside_properties)
        return found

    assert keywords(schema) <= allowed


@pytest.mark.parametrize("profile", [HEAD, OLD], ids=lambda p: p.value)
def test_our_traces_validate_against_the_schema(profile: Profile) -> None:
    schema = _schema()
    events, _ = record(profile, SCENARIOS[profile])
    lines = text_of(profile, events).splitlines()
    for line in lines:
        assert _validate(json.loads(line), schema, schema), line
    variant = next(v for v in VARIANTS if profile in v.profiles)
    broken, _ = record(profile, SCENARIOS[profile], variant.operations(profile))
    for line in text_of(profile, broken).splitlines():
        assert _validate(json.loads(line), schema, schema), line


def test_schema_rejects_what_the_reader_rejects() -> None:
    schema = _schema()
    for name in ("unknown op", "unknown argument", "string for integer", "bool for integer", "unknown state part"):
        text, line, _ = BAD_INPUTS[name]
        assert not _validate(json.loads(text.splitlines()[line - 1]), schema, schema), name
    assert not _validate({"trace": TRACE, "version": 2, "profile": "codex-head"}, schema, schema)


# --- incremental checking agrees with the full check -----------------------------------------------


@pytest.mark.parametrize(("seed", "mix"), [(1, "uniform"), (2, "uniform"), (3, "uniform"), (1, "lifecycle")])
def test_incremental_check_agrees_with_the_full_check(seed: int, mix: str, tmp_path: Path) -> None:
    """On the benchmark's mixes, the incremental check and the full one give the same report."""
    from bench.bench_trace import generate

    path = tmp_path / "mix.jsonl"
    generate(str(path), 1500, seed, mix=mix)
    header, events = load_events(path.read_text(encoding="utf-8").splitlines(keepends=True), "mix.jsonl")
    fast, slow = check(header, events), check(header, events, full=True)
    assert fast.ok, fast.lines()
    assert fast == slow
    assert fast.known == slow.known
    # a planted slip is found at the same line by both
    broken = list(events)
    index = next(i for i, e in enumerate(broken) if e.op == "release_bytes" and e.outcome == "accepted")
    state = dict(broken[index].state or {})
    state["repo"] = {**state["repo"], "reserved": state["repo"]["reserved"] + 1}
    broken[index] = broken[index]._replace(state=state)
    assert check(header, broken) == check(header, broken, full=True)
    assert check(header, broken).line == broken[index].line


def test_a_run_the_catalogue_forbids_is_a_violation_of_the_real_model() -> None:
    """Returning more bytes than were written is accepted by nim-codex (and the model) but breaks
    returned_within_written: the recorded run agrees, and the check reports the violation's line."""
    steps: list[Step] = [
        HEAD_SCENARIO[0],
        head_reservation("r1", 100, "q1"),
        ReturnBytesToAvailability(reservation_id="r1", availability_id="a1", bytes=150),
    ]
    events, _ = record(HEAD, steps)
    report = check(*loaded(HEAD, events))
    assert (report.kind, report.line, report.event_index) == ("violation", 4, 2)
    assert "returned_within_written" in {v.rule for v in report.violations}
    cx = report.counterexample()
    assert (cx.engine, cx.rule, cx.failing_step) == ("oracle", report.violations[0].rule, 2)
