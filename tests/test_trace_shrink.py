"""``sales-model trace shrink`` on ITF traces and with ``--no-relax``: 1-minimal, honest, and the errors.

ITF traces shrink end to end through the CLI to a 1-minimal trace (checked here by removing each
step and replaying, independently of the shrinker); ``--no-relax`` keeps the recorded
observations and is never shorter; a bad output name and a passing trace exit 2.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import attrs
import pytest

from model.actions import (
    Accepted,
    Action,
    CreateAvailability535,
    CreateReservation535,
    DeleteReservation535,
    FindAvailability535,
    ReleaseBytes,
    StoreBlock,
    apply,
)
from model.state import Profile, initial_state
from oracle.trace import TRACE, check_file
from reports import itf
from reports.build import make, run_steps, start_state
from reports.counterexample import Counterexample, Rec, Side
from reports.replay import ReplayReport, replay, tables_for
from reports.vocabulary import decode_action, encode_action
from sales_model.cli import main
from variants import VARIANTS

OLD = Profile.CODEX_535
SETUP = {"quota_max_bytes": 1000}
DOCS = Path(__file__).resolve().parent.parent / "docs" / "counterexamples"
ACTIONS: list[Action] = [
    CreateAvailability535(availability_id="a1", size=50, duration=10, min_price=1, max_collateral=100),
    CreateAvailability535(availability_id="a2", size=70, duration=10, min_price=1, max_collateral=100),
    StoreBlock(bytes=3),
    CreateReservation535(availability_id="a1", reservation_id="r1", slot_size=5, request_id="q", slot_index=0),
    CreateReservation535(availability_id="a2", reservation_id="r2", slot_size=7, request_id="q", slot_index=1),
    ReleaseBytes(reservation_id="r1", availability_id="a1", bytes=2),
    FindAvailability535(size=10, duration=5, min_price=1, collateral=5),
    DeleteReservation535(reservation_id="r1", availability_id="a1"),
]


def violating() -> Counterexample:
    """A broken variant's run (delete keeps the bytes): a violation at the last of eight steps."""
    variant = next(v for v in VARIANTS if v.name == "delete_keeps_bytes")
    return make(
        rule="delete_returns_remaining_bytes",
        engine="hypothesis",
        profile=OLD,
        level="reservations",
        actions=ACTIONS,
        setup=SETUP,
        operations=variant.operations(OLD),
        variant=variant.name,
    )


def diverging() -> Counterexample:
    """The model's own run with the last step's recorded ``repo.reserved`` 5 too high: a divergence."""
    cx = make(
        rule="oracle_divergence",
        engine="oracle",
        profile=OLD,
        level="reservations",
        actions=ACTIONS,
        setup=SETUP,
        statement="The recorded run agrees with the model at every step.",
        spec="codex-sales-spec §2",
        kind="divergence",
    )
    last = cx.steps[-1]
    repo = Rec(last.state["repo"])
    side = Side(step=len(cx.steps) - 1, field="repo.reserved", expected=repo["reserved"], observed=repo["reserved"] + 5)
    repo["reserved"] += 5
    state = Rec({**last.state, "repo": repo})
    return attrs.evolve(cx, steps=(*cx.steps[:-1], attrs.evolve(last, state=state)), sides=(side,))


def _how(report: ReplayReport) -> tuple[Any, ...]:
    if report.kind == "divergence":
        outcome = [(d.recorded, d.model) for d in report.differences if d.field == "outcome"]
        return report.step, report.kind, frozenset(d.field for d in report.differences), tuple(outcome)
    return report.step, report.kind, frozenset(v.rule for v in report.violations), ()


def _model_states(cx: Counterexample, keep_last: bool) -> Counterexample:
    """``cx`` with the states and violations of its steps recomputed by the model (the last step's
    state kept as recorded when ``keep_last``), independently of ``oracle.shrink``."""
    profile = Profile(cx.profile)
    operations, rules = tables_for(cx.variant, profile, cx.level)
    actions = [decode_action(profile, cx.level, s.action, s.arguments) for s in cx.steps]
    ran = run_steps(start_state(profile, cx.level, cx.setup), actions, operations=operations, rules=rules)
    steps = [attrs.evolve(s, state=r.state, violations=r.violations) for s, r in zip(cx.steps, ran, strict=True)]
    if keep_last and steps:
        steps[-1] = cx.steps[-1]
    return attrs.evolve(cx, steps=tuple(steps))


CREATES = {"create_availability": "availability_id", "create_reservation": "reservation_id"}


def _names_an_unknown_id(cx: Counterexample) -> bool:
    """Whether a step names an id (``*_id`` argument, found id) that no earlier create introduced."""
    created: set[str] = set()
    for step in cx.steps:
        new = CREATES.get(step.action)
        ids = {v for k, v in step.arguments.items() if k.endswith("_id") and k != new}
        if ids - created or (step.found is not None and step.found not in created):
            return True
        if new is not None and step.outcome == "accepted":
            created.add(step.arguments[new])
    return False


def assert_one_minimal(cx: Counterexample, original: Counterexample) -> None:
    """``cx`` fails at its last step like ``original`` fails, and removing any one of its steps (the
    earlier states re-recorded by the model) makes it pass, fail elsewhere, or fail differently."""
    mine = replay(cx)
    theirs = replay(original)
    assert not mine.ok
    assert mine.step == len(cx.steps)
    _, kind, keys, outcome = _how(mine)
    _, original_kind, original_keys, original_outcome = _how(theirs)
    assert (kind, outcome) == (original_kind, original_outcome)
    assert keys & original_keys
    for position in range(len(cx.steps)):
        fewer = attrs.evolve(cx, steps=cx.steps[:position] + cx.steps[position + 1 :])
        if _names_an_unknown_id(fewer):
            continue
        report = replay(_model_states(fewer, keep_last=position != len(cx.steps) - 1))
        if report.ok or report.step != len(fewer.steps):
            continue
        _, their_kind, their_keys, their_outcome = _how(report)
        assert their_kind != kind or not (their_keys & keys) or their_outcome != outcome, position


def _write(tmp_path: Path, name: str, cx: Counterexample) -> Path:
    path = tmp_path / name
    path.write_text(itf.dumps(cx), encoding="utf-8")
    return path


@pytest.mark.parametrize("build", [violating, diverging], ids=["violation", "divergence"])
def test_shrink_itf_gives_a_one_minimal_itf_trace(
    build: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A failing ITF trace shrinks through the CLI to a shorter 1-minimal ITF trace failing the same way."""
    source = _write(tmp_path, "run.itf.json", build())
    out = tmp_path / "small.itf.json"
    assert main(["trace", "shrink", str(source), "-o", str(out), "--report-dir", str(tmp_path / "r")]) == 0
    captured = capsys.readouterr()
    assert "(relaxed)" in captured.out.splitlines()[0]
    assert [line for line in captured.err.splitlines() if "warning: relaxed" in line] == captured.err.splitlines()
    assert len(captured.err.splitlines()) == 1
    small = itf.load(out)
    assert [s.action for s in small.steps] == ["create_availability", "create_reservation", "delete_reservation"]
    assert_one_minimal(small, itf.load(source))
    written = check_file(out)
    assert (written.ok, written.event_index) == (False, 2)
    assert len(list((tmp_path / "r").iterdir())) == 3
    assert all(side.step == 2 for side in small.sides)


def test_shrink_itf_no_relax_keeps_the_recorded_states(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """With --no-relax every kept step is the input's step unchanged, and the trace is no shorter."""
    cx = violating()
    source = _write(tmp_path, "run.itf.json", cx)
    relaxed, recorded = tmp_path / "relaxed.itf.json", tmp_path / "recorded.itf.json"
    assert main(["trace", "shrink", str(source), "-o", str(relaxed)]) == 0
    capsys.readouterr()
    assert main(["trace", "shrink", str(source), "-o", str(recorded), "--no-relax"]) == 0
    captured = capsys.readouterr()
    assert "(as recorded)" in captured.out.splitlines()[0]
    assert captured.err == ""
    kept = itf.load(recorded).steps
    original = itf.load(source).steps
    assert all(step in original for step in kept)
    assert len(kept) > len(itf.load(relaxed).steps)
    assert not check_file(recorded).ok


def _jsonl(actions: list[Action]) -> str:
    """The JSON-lines trace a broken implementation (delete keeps the bytes) would log, repo state included."""
    operations = next(v for v in VARIANTS if v.name == "delete_keeps_bytes").operations(OLD)
    state: Any = initial_state(OLD, **SETUP)
    lines = [json.dumps({"trace": TRACE, "version": 1, "profile": OLD.value, "setup": SETUP})]
    for action in actions:
        outcome = apply(state, action, operations)
        state = outcome.state if isinstance(outcome, Accepted) else state
        name, arguments = encode_action(action)
        event: dict[str, Any] = {"op": name, "args": arguments, "outcome": "accepted"}
        if action.query:
            event["result"] = outcome.found if isinstance(outcome, Accepted) else None
        event["state"] = {"repo": {"used": state.repo.used, "reserved": state.repo.reserved}}
        aid = arguments.get("availability_id")
        if aid in state.availabilities:
            event["state"]["availabilities"] = {aid: {"size": state.availabilities[aid].size}}
        lines.append(json.dumps(event))
    return "\n".join(lines) + "\n"


def test_shrink_jsonl_no_relax_keeps_recorded_observations(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Relaxing drops earlier observations (and says so); --no-relax keeps them and is no shorter."""
    source = tmp_path / "run.jsonl"
    source.write_text(_jsonl(ACTIONS), encoding="utf-8")
    relaxed, recorded = tmp_path / "relaxed.jsonl", tmp_path / "recorded.jsonl"
    assert main(["trace", "shrink", str(source), "-o", str(relaxed)]) == 0
    captured = capsys.readouterr()
    assert "(relaxed)" in captured.out.splitlines()[0]
    assert len(captured.err.splitlines()) == 1
    assert "dropped" in captured.err
    assert main(["trace", "shrink", str(source), "-o", str(recorded), "--no-relax"]) == 0
    captured = capsys.readouterr()
    assert "(as recorded)" in captured.out.splitlines()[0]
    assert captured.err == ""
    loose = [json.loads(line) for line in relaxed.read_text(encoding="utf-8").splitlines()[1:]]
    strict = [json.loads(line) for line in recorded.read_text(encoding="utf-8").splitlines()[1:]]
    original = [json.loads(line) for line in source.read_text(encoding="utf-8").splitlines()[1:]]
    assert all("state" not in event for event in loose[:-1])
    assert all(event in original for event in strict)
    assert len(strict) > len(loose)
    assert not check_file(recorded).ok


def test_invalid_itf_input_with_a_non_itf_output_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An ITF trace shrunk into a name not ending .itf.json is exit 2, one line, nothing written."""
    source = _write(tmp_path, "run.itf.json", violating())
    out = tmp_path / "small.jsonl"
    assert main(["trace", "shrink", str(source), "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert ".itf.json" in err[0]
    assert not out.exists()


def test_invalid_jsonl_input_with_an_itf_output_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A JSON-lines trace shrunk into an .itf.json name is exit 2, one line."""
    source = tmp_path / "run.jsonl"
    source.write_text(_jsonl(ACTIONS), encoding="utf-8")
    assert main(["trace", "shrink", str(source), "-o", str(tmp_path / "small.itf.json")]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


@pytest.mark.parametrize("path", sorted(DOCS.glob("*.itf.json")), ids=lambda p: p.name[:40])
def test_invalid_passing_itf_has_nothing_to_shrink(
    path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A committed counterexample that replays ok (a known behaviour) is exit 2, "nothing to shrink"."""
    assert main(["trace", "shrink", str(path), "-o", str(tmp_path / "small.itf.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "nothing to shrink" in err[0]
    assert not (tmp_path / "small.itf.json").exists()
