"""End-to-end tests of codex-535 log checking: chronicles JSON -> trace events -> model verdict.

Rules:
1. Each committed log ``tests/logs/535_*.jsonl`` is converted by ``oracle.logs535`` and checked
   through the command's ``run`` with ``--profile codex-535``.
2. Exit codes: 0 agrees, 1 divergence (with the log line), 2 bad input (one stderr line).

Mirrors: codex-sales-spec §2.1, §2.4, §2.5, §2.7, §2.8 (OLD notes), §2.11 (no lock at OLD).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from scenario import logs_cli

from oracle.logs import LogError, LogReading
from oracle.logs535 import DEFAULT_QUOTA_535, read_log535

LOGS = Path(__file__).parent / "logs"
A1, A2 = "0x" + "a1" * 32, "0x" + "a2" * 32
C3, D4 = "0x" + "c3" * 32, "0x" + "d4" * 32


def read(name: str, cut: int | None = None) -> LogReading:
    lines = (LOGS / name).read_text().splitlines()[:cut]
    return read_log535(lines, name, quota=10_000)


def run(*argv: str) -> int:
    return logs_cli(*argv)


def check(name: str, *extra: str) -> int:
    return run(str(LOGS / name), "--profile", "codex-535", "--quota", "10000", *extra)


def ops(reading: LogReading) -> list[tuple[int, str, str | None]]:
    return [(line, e["op"], e.get("outcome")) for e, line in zip(reading.events, reading.lines, strict=True)]


def test_success_log_pairs_every_operation(capsys: pytest.CaptureFixture[str]) -> None:
    """Every attempt of a clean run is committed by its write, and the written sizes are recorded."""
    reading = read("535_success.jsonl")
    assert ops(reading) == [
        (2, "create_availability", "accepted"),
        (3, "find_availability", None),
        (6, "create_reservation", "accepted"),
        (9, "release_bytes", "accepted"),
        (11, "release_bytes", "accepted"),
        (12, "delete_reservation", "accepted"),
        (13, "find_availability", None),
        (16, "create_reservation", "accepted"),
        (18, "release_bytes", "accepted"),
        (21, "delete_reservation", "accepted"),
    ]
    assert reading.events[1]["result"] == A1
    assert reading.events[1]["args"] == {"size": 256, "duration": 1800, "min_price": 200, "collateral": 300}
    assert reading.events[2]["args"]["reservation_id"] == C3
    assert reading.events[2]["state"] == {"availabilities": {A1: {"size": 744}}, "reservations": {C3: {"size": 256}}}
    assert reading.events[-1]["state"] == {"reservations": {D4: None}, "availabilities": {A1: {"size": 644}}}
    assert reading.header["profile"] == "codex-535"
    assert reading.unpaired == 0
    assert check("535_success.jsonl") == 0
    assert "10 event(s): ok" in capsys.readouterr().out


def test_rejections_become_rejected_events() -> None:
    """A silent quota failure, and error lines naming the size checks, become rejected events."""
    reading = read("535_rejection.jsonl")
    assert ops(reading) == [
        (2, "create_availability", "accepted"),
        (3, "create_availability", "ReserveFailed"),  # overtaken by line 4's write: placed at its attempt
        (5, "create_availability", "accepted"),
        (8, "create_reservation", "accepted"),
        (11, "create_reservation", "BytesOutOfBounds"),
        (13, "release_bytes", "BytesOutOfBounds"),
    ]
    assert reading.events[1]["args"]["size"] == 20_000
    assert reading.events[4]["args"]["reservation_id"].startswith("unlogged-reservation@")
    assert check("535_rejection.jsonl") == 0


def test_rollbacks_are_dropped_with_notes() -> None:
    """Rollback lines retract the writes they undo; a retried reservation then pairs with the restored size."""
    reading = read("535_rollback.jsonl")
    assert ops(reading) == [
        (5, "create_availability", "accepted"),
        (13, "create_reservation", "accepted"),
        (18, "release_bytes", "accepted"),
    ]
    assert reading.events[0]["args"]["availability_id"] == A2
    assert reading.events[1]["args"]["reservation_id"] == D4
    assert reading.unpaired == 3
    assert sum("rolled back" in note for note in reading.notes) == 3
    assert check("535_rollback.jsonl") == 0


def test_interleaved_sales_pair_by_ids_and_sizes(capsys: pytest.CaptureFixture[str]) -> None:
    """Interleaved sales pair by reservation ids and sizes; alike availabilities leave finds to the sales."""
    reading = read("535_interleaved.jsonl")
    finds = [e["result"] for e in reading.events if e["op"] == "find_availability"]
    assert finds == [A1, A1]  # both A1 and A2 fit at lines 6-7: the sales' reservations tell
    releases = [
        (line, e["args"]["reservation_id"], e["args"]["bytes"])
        for e, line in zip(reading.events, reading.lines, strict=True)
        if e["op"] == "release_bytes"
    ]
    assert releases == [(16, C3, 200), (19, C3, 56), (20, D4, 128)]
    creates = [
        (line, e["args"]["reservation_id"])
        for e, line in zip(reading.events, reading.lines, strict=True)
        if e["op"] == "create_reservation"
    ]
    assert creates == [(10, C3), (15, D4)]
    assert reading.skipped["non_json"] == 1
    assert reading.skipped["other_topics"] == 1
    assert check("535_interleaved.jsonl") == 0
    out = capsys.readouterr().out
    assert "11 event(s): ok" in out
    assert "sale transitions (2)" in out


def test_divergence_names_the_log_line(capsys: pytest.CaptureFixture[str]) -> None:
    """A lost update (two unlocked creations read the same size) diverges at the second write's line."""
    assert check("535_diverge.jsonl") == 1
    out = capsys.readouterr().out
    assert "divergence at line 8" in out
    assert "recorded 872, model 616" in out
    assert "a concurrent write was lost" in out


def test_json_output_and_report_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--json`` and ``--report-dir`` give the codex-535 trace; the quota defaults to 8 GiB."""
    code = run(str(LOGS / "535_diverge.jsonl"), "--profile", "codex-535", "--json", "--report-dir", str(tmp_path))
    assert code == 1
    data = json.loads(capsys.readouterr().out)
    assert data["report"]["line"] == 8
    header = json.loads((tmp_path / "535_diverge.trace.jsonl").read_text().splitlines()[0])
    assert header["profile"] == "codex-535"
    assert header["setup"] == {"quota_max_bytes": DEFAULT_QUOTA_535} == {"quota_max_bytes": 1 << 33}


def test_find_never_resolved_is_dropped() -> None:
    """A match between alike availabilities that no sale's reservation follows is dropped with a note."""
    reading = read("535_interleaved.jsonl", cut=7)
    assert [e["op"] for e in reading.events] == ["create_availability", "create_availability"]
    assert sum("result unknown" in note for note in reading.notes) == 2


def test_attempt_without_outcome_is_a_note() -> None:
    """A reservation attempt whose availability write never comes is dropped as unpaired."""
    reading = read("535_success.jsonl", cut=5)
    assert [e["op"] for e in reading.events] == ["create_availability", "find_availability"]
    assert reading.unpaired == 1
    assert "no outcome before the end of the log" in reading.notes[-1]


def test_ambiguous_failure_line_is_not_paired() -> None:
    """An error line without ids while two reservation attempts wait rejects neither."""
    lines = (LOGS / "535_diverge.jsonl").read_text().splitlines()[:4]
    error = {"lvl": "ERR", "msg": "Sale error", "error": "object with key /x does not exist"}
    reading = read_log535([*lines, json.dumps(error)], "cut")
    assert [e["op"] for e in reading.events] == ["create_availability"]
    assert any("could belong to 2 waiting attempts" in note for note in reading.notes)
    assert reading.unpaired == 2


def test_invalid_missing_property(capsys: pytest.CaptureFixture[str]) -> None:
    """A reservations-topic line without a property it must carry is bad input (exit 2, one line)."""
    with pytest.raises(LogError, match="lacks property 'slotSize'"):
        read("535_malformed_missing.jsonl")
    assert check("535_malformed_missing.jsonl") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "535_malformed_missing.jsonl:3:" in err
    assert "Traceback" not in err


def test_invalid_profile_for_the_log(capsys: pytest.CaptureFixture[str]) -> None:
    """A HEAD log read as codex-535, or a 535 log read with the default profile, is bad input."""
    assert run(str(LOGS / "success.jsonl"), "--profile", "codex-535") == 2
    assert "lacks property 'minPrice'" in capsys.readouterr().err
    assert run(str(LOGS / "535_success.jsonl")) == 2
    assert "lacks property 'minPricePerBytePerSecond'" in capsys.readouterr().err


def test_invalid_no_json_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A log with no JSON object line is bad input."""
    text = tmp_path / "text.log"
    text.write_text("TRC 2023-10-02 creating availability size=1\n")
    assert run(str(text), "--profile", "codex-535") == 2
    assert "no JSON log line" in capsys.readouterr().err
