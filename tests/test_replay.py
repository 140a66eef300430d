"""``reports.replay`` and ``sales-model replay``: our traces replay; edited ones diverge at the edited step."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import attrs
import pytest
from test_itf import SAMPLES, broken, document, head_1147, market_errored, old_queries

from reports import itf
from reports.counterexample import Counterexample
from reports.replay import replay
from reports.vocabulary import VocabularyError
from sales_model.commands import replay as replay_command


def main(argv: list[str]) -> int:
    """``sales-model`` with only the replay command (``sales_model/cli.py`` registers it for real)."""
    top = argparse.ArgumentParser(prog="sales-model")
    replay_command.register(top.add_subparsers(dest="command"))
    arguments = top.parse_args(argv)
    code: int = arguments.run(arguments)
    return code


@pytest.mark.parametrize("sample", [s for s in SAMPLES if s is not broken], ids=lambda s: s.__name__)
def test_our_traces_replay(sample: Any) -> None:
    cx = itf.loads(itf.dumps(sample()), "x")
    report = replay(cx)
    assert report.ok, report.lines()
    assert (report.step, report.kind) == (None, None)
    assert report.steps == len(cx.steps)


def test_known_violations_are_listed_not_failures() -> None:
    report = replay(head_1147())
    assert report.ok
    assert (4, "collateral_within_total", "nim-codex#1147") in [(s, v.rule, v.known) for s, v in report.known]
    assert any("known at step 4: collateral_within_total" in line for line in report.lines())


def test_broken_variant_replays_with_its_variant_and_breaks_the_rule() -> None:
    cx = itf.loads(itf.dumps(broken()), "x")
    report = replay(cx)
    assert not report.ok
    assert (report.step, report.kind) == (3, "violation")
    assert "delete_returns_remaining_bytes" in {v.rule for v in report.violations}
    # without the variant the real model diverges from the recorded states instead
    real = replay(attrs.evolve(cx, variant=None))
    assert (real.step, real.kind) == (3, "divergence")


def _edited(cx: Counterexample, step: int, change: Any) -> Counterexample:
    data = itf.to_itf(cx)
    change(data["states"][step])
    return itf.from_itf(json.loads(json.dumps(data)), "edited")


def test_an_edited_state_field_diverges_at_that_step() -> None:
    def edit(state: dict[str, Any]) -> None:
        state["availabilities"]["#map"][0][1]["free_size"] = {"#bigint": "77"}

    report = replay(_edited(head_1147(), 2, edit))
    assert (report.ok, report.step, report.kind) == (False, 2, "divergence")
    assert [(d.field, d.recorded, d.model) for d in report.differences] == [("availabilities[a1].free_size", 77, 90)]
    assert report.message == "Step 2 (create_reservation) differs from the model in 1 field(s)."


def test_an_edited_outcome_or_found_diverges() -> None:
    cx = old_queries()
    assert cx.steps[1].found == "a1"
    assert cx.steps[2].outcome != "accepted"

    def found(state: dict[str, Any]) -> None:
        state["found"] = {"tag": "Some", "value": "a9"}

    report = replay(_edited(cx, 2, found))
    assert (report.step, report.kind) == (2, "divergence")
    assert [(d.field, d.recorded, d.model) for d in report.differences] == [("found", "a9", "a1")]

    def outcome(state: dict[str, Any]) -> None:
        state["outcome"] = "accepted"

    report = replay(_edited(cx, 3, outcome))
    assert (report.step, report.differences[0].field) == (3, "outcome")


def test_an_edited_market_field_diverges() -> None:
    def edit(state: dict[str, Any]) -> None:
        state["queue"]["busy"] = {"#bigint": "0"}

    report = replay(_edited(market_errored(), 3, edit))
    assert (report.step, report.kind) == (3, "divergence")
    assert [d.field for d in report.differences] == ["queue.busy"]


def test_partial_trace_checks_only_recorded_fields() -> None:
    """A trace recording only ``availabilities`` (some fields of it) is checked on those alone."""
    data = document(head_1147())
    keep = ["availabilities", "mbt::actionTaken", "mbt::nondetPicks"]
    for state in data["states"]:
        for availability in state["availabilities"]["#map"]:
            del availability[1]["total_collateral"]
    foreign = {
        "#meta": {"profile": "codex-head", "level": "reservations", "setup": {"quota_max_bytes": {"#bigint": "1000"}}},
        "vars": keep,
        "states": [{k: s[k] for k in [*keep, "#meta"]} for s in data["states"]],
    }
    assert replay(itf.from_itf(foreign, "quint")).ok
    foreign["states"][4]["availabilities"]["#map"][0][1]["free_size"] = {"#bigint": "1"}
    report = replay(itf.from_itf(foreign, "quint"))
    assert (report.step, [d.field for d in report.differences]) == (4, ["availabilities[a1].free_size"])


def test_a_differing_start_is_step_0() -> None:
    data = document(head_1147())
    keep = ["repo", "mbt::actionTaken", "mbt::nondetPicks"]
    foreign = {
        "#meta": {"profile": "codex-head", "level": "reservations"},
        "vars": keep,
        "states": [{k: s[k] for k in [*keep, "#meta"]} for s in data["states"]],
    }
    report = replay(itf.from_itf(foreign, "quint"))  # no setup: the default quota, not 1000
    assert (report.step, report.kind) == (0, "divergence")
    assert report.differences[0].field == "repo.max_bytes"


def test_bad_step_action_is_a_vocabulary_error() -> None:
    cx = head_1147()
    bad = attrs.evolve(cx, steps=(attrs.evolve(cx.steps[0], action="nope"), *cx.steps[1:]))
    with pytest.raises(VocabularyError, match=r"^step 1: unknown reservations action 'nope'"):
        replay(bad)


def test_report_json_is_plain_data() -> None:
    data = replay(head_1147()).to_json()
    assert json.loads(json.dumps(data)) == data
    assert data["ok"] is True


# ---------------------------------------------------------------- the command


def _write(tmp_path: Path, cx: Counterexample, name: str = "t.itf.json") -> Path:
    path = tmp_path / name
    path.write_text(itf.dumps(cx), encoding="utf-8")
    return path


def test_cli_ok(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", str(_write(tmp_path, market_errored()))]) == 0
    out = capsys.readouterr().out
    assert "7 step(s): ok" in out


def test_cli_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", str(_write(tmp_path, broken())), "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert (data["ok"], data["step"], data["kind"]) == (False, 3, "violation")


def test_cli_divergence_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = itf.to_itf(head_1147())
    data["states"][1]["repo"]["reserved"] = {"#bigint": "99"}
    path = tmp_path / "edited.itf.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    assert main(["replay", str(path)]) == 1
    assert "divergence at step 1" in capsys.readouterr().out


BAD_INPUTS = {
    "malformed": lambda text: text.replace('"vars"', '"vars" "', 1),
    "truncated": lambda text: text[: len(text) // 3],
    "vocabulary": lambda text: text.replace('"codex-sales-model/1"', '"codex-sales-model/9"'),
    "missing-var": lambda text: _json_edit(text, lambda d: d["states"][2].pop("repo")),
    "plain-number": lambda text: _json_edit(text, lambda d: d["states"][1]["repo"].__setitem__("used", 3)),
    "unknown-action": lambda text: _json_edit(text, lambda d: d["states"][1].__setitem__("mbt::actionTaken", "zap")),
    "bad-argument": lambda text: _json_edit(
        text, lambda d: d["states"][1]["mbt::nondetPicks"].__setitem__("total_size", {"tag": "Some", "value": True})
    ),
}


def _json_edit(text: str, change: Any) -> str:
    data = json.loads(text)
    change(data)
    return json.dumps(data)


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_cli_bad_input_exits_2_with_one_line(case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.itf.json"
    path.write_text(BAD_INPUTS[case](itf.dumps(head_1147())), encoding="utf-8")
    assert main(["replay", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith(f"sales-model replay: {path}: ")
    assert "expected " in lines[0]
    assert "Traceback" not in captured.err


def test_cli_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", str(tmp_path / "none.itf.json")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("sales-model replay: ")
    assert len(err.splitlines()) == 1
