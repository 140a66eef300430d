"""End-to-end tests of nim-codex log checking: chronicles JSON -> trace events -> model verdict.

Rules:
1. Each committed log in ``tests/logs`` is converted, then checked through the command's ``run``.
2. Exit codes: 0 agrees, 1 divergence (with the log line), 2 bad input (one stderr line).

Mirrors: codex-sales-spec §2.1-§2.8 (attempts, commits, rollbacks; PATCH writes, finds, returned
collateral), §3 (enter state).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from scenario import logs_cli

from oracle.logs import LogError, error_kind, read_log

LOGS = Path(__file__).parent / "logs"


def read(name: str):  # type: ignore[no-untyped-def]
    return read_log((LOGS / name).read_text().splitlines(), name, "codex-head", quota=10_000)


def run(*argv: str) -> int:
    return logs_cli(*argv)


def ops(name: str) -> list[tuple[int, str, str | None]]:
    reading = read(name)
    return [(line, e["op"], e.get("outcome")) for e, line in zip(reading.events, reading.lines, strict=True)]


def test_success_log_pairs_every_operation(capsys: pytest.CaptureFixture[str]) -> None:
    assert ops("success.jsonl") == [
        (3, "create_availability", "accepted"),
        (11, "create_reservation", "accepted"),
        (14, "release_bytes", "accepted"),
        (16, "release_bytes", "accepted"),
        (18, "return_bytes_to_availability", "accepted"),
        (21, "delete_reservation", "accepted"),
    ]
    reading = read("success.jsonl")
    assert reading.events[1]["args"]["collateral_per_byte"] == 1  # from 'availability matched'
    assert reading.events[4]["args"]["bytes"] == 256
    assert reading.skipped["other_topics"] == 1
    assert reading.unpaired == 0
    assert run(str(LOGS / "success.jsonl"), "--quota", "10000") == 0
    assert "6 event(s): ok" in capsys.readouterr().out


def test_rejections_become_rejected_events() -> None:
    assert ops("rejection.jsonl") == [
        (2, "create_availability", "accepted"),
        (10, "create_reservation", "accepted"),
        (13, "create_reservation", "BytesOutOfBounds"),
        (16, "release_bytes", "BytesOutOfBounds"),
    ]
    assert run(str(LOGS / "rejection.jsonl"), "--quota", "10000") == 0


def test_rollbacks_are_dropped_with_notes() -> None:
    assert ops("rollback.jsonl") == [
        (6, "create_availability", "UntilOutOfBounds"),
        (7, "create_availability", "accepted"),
        (21, "create_reservation", "accepted"),
        (26, "release_bytes", "accepted"),
    ]
    reading = read("rollback.jsonl")
    assert reading.unpaired == 3
    assert sum("rolled back" in note for note in reading.notes) == 3
    assert run(str(LOGS / "rollback.jsonl"), "--quota", "10000") == 0


def test_interleaved_sales_pair_by_ids(capsys: pytest.CaptureFixture[str]) -> None:
    reading = read("interleaved.jsonl")
    releases = [
        (line, e["args"]["reservation_id"][:4], e["args"]["bytes"])
        for e, line in zip(reading.events, reading.lines, strict=True)
        if e["op"] == "release_bytes"
    ]
    assert releases == [(27, "0xd4", 200), (28, "0xc3", 128), (32, "0xc3", 128), (33, "0xd4", 56)]
    assert reading.skipped["non_json"] == 1
    assert reading.skipped["other_topics"] == 3
    assert len(reading.transitions) == 5
    assert "SaleDownloading => SaleErrored" in reading.transitions[-1]
    assert [e["op"] for e in reading.events][-3:] == [
        "return_bytes_to_availability",
        "delete_reservation",
        "delete_reservation",
    ]
    assert run(str(LOGS / "interleaved.jsonl"), "--quota", "10000") == 0
    assert "sale transitions (5)" in capsys.readouterr().out


def test_divergence_names_the_log_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(str(LOGS / "diverge.jsonl"), "--quota", "10000") == 1
    out = capsys.readouterr().out
    assert "divergence at line 14" in out
    assert "model 'BytesOutOfBounds'" in out


def test_json_output_and_report_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(str(LOGS / "diverge.jsonl"), "--quota", "10000", "--json", "--report-dir", str(tmp_path)) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["report"]["line"] == 14
    assert data["reading"]["events"][-1]["line"] == 14
    trace = (tmp_path / "diverge.trace.jsonl").read_text().splitlines()
    assert json.loads(trace[0])["setup"] == {"quota_max_bytes": 10000}
    assert len(trace) == 5


def test_truncated_last_line_is_skipped() -> None:
    reading = read("malformed_truncated.jsonl")
    assert reading.skipped["non_json"] == 1
    assert len(reading.events) == 3
    assert run(str(LOGS / "malformed_truncated.jsonl"), "--quota", "10000") == 0


def test_missing_property_is_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(LogError, match="lacks property 'slotSize'"):
        read("malformed_missing.jsonl")
    assert run(str(LOGS / "malformed_missing.jsonl")) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "malformed_missing.jsonl:4:" in err
    assert "Traceback" not in err


def test_no_json_line_and_unreadable_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = tmp_path / "text.log"
    text.write_text("TRC 2025-11-13 creating availability size=1\n")
    assert run(str(text)) == 2
    assert "no JSON log line" in capsys.readouterr().err
    assert run(str(tmp_path / "absent.jsonl")) == 2
    assert "cannot read" in capsys.readouterr().err


def test_missing_success_line_is_a_note() -> None:
    lines = (LOGS / "success.jsonl").read_text().splitlines()[:7]  # stops after 'Creating reservation'
    reading = read_log(lines, "cut", "codex-head")
    assert [e["op"] for e in reading.events] == ["create_availability"]
    assert reading.unpaired == 1
    assert "no outcome before the end of the log" in reading.notes[-1]


def test_error_kinds_and_profile() -> None:
    assert error_kind("object with key /x does not exist") == "NotExists"
    assert error_kind("Not enough storage quota") == "ReserveFailed"
    assert error_kind("datastore failure") is None
    with pytest.raises(LogError, match="only codex-head"):
        read_log(["{}"], "x", "codex-535")


def test_patch_writes_become_update_availability_events() -> None:
    """A PATCH's unexplained availability write is update_availability; the repo delta gives total_size."""
    reading = read("patch.jsonl")
    patches = [
        (line, e["args"])
        for e, line in zip(reading.events, reading.lines, strict=True)
        if e["op"] == "update_availability"
    ]
    assert [(line, args.get("total_size"), args.get("duration")) for line, args in patches] == [
        (7, 1500, None),
        (8, None, 7200),  # filled from availDuration of the next find line
        (20, 1300, None),
    ]
    assert any("repo delta 50000" in note and "never written" in note for note in reading.notes)
    assert reading.unpaired == 0
    assert run(str(LOGS / "patch.jsonl"), "--quota", "10000") == 0


def test_find_and_returned_collateral_become_events(capsys: pytest.CaptureFixture[str]) -> None:
    """A match is find_availability (validUntil from the sale's reservation); a delete carries its collateral."""
    assert ops("find_collateral.jsonl") == [
        (3, "create_availability", "accepted"),
        (7, "find_availability", None),  # a query: its result is recorded, not an outcome
        (13, "create_reservation", "accepted"),
        (15, "release_bytes", "accepted"),
        (18, "delete_reservation", "accepted"),
    ]
    reading = read("find_collateral.jsonl")
    find = reading.events[1]
    assert find["args"]["valid_until"] == 5000
    assert find["result"] == reading.events[0]["args"]["availability_id"]
    assert reading.events[-1]["args"]["returned_collateral"] == 256
    assert run(str(LOGS / "find_collateral.jsonl"), "--quota", "10000") == 0
    assert "5 event(s): ok" in capsys.readouterr().out


def test_find_without_reservation_line_is_dropped() -> None:
    """A match never followed by 'Creating reservation' has no validUntil: no event, a note."""
    lines = (LOGS / "find_collateral.jsonl").read_text().splitlines()[:7]
    reading = read_log(lines, "cut", "codex-head")
    assert [e["op"] for e in reading.events] == ["create_availability"]
    assert reading.unpaired == 0
    assert "valid_until unknown" in reading.notes[-1]


def test_diverging_find_names_the_match_line(capsys: pytest.CaptureFixture[str]) -> None:
    """A node match the model does not make is a divergence at the 'availability matched' line."""
    assert run(str(LOGS / "diverge_find.jsonl"), "--quota", "10000") == 1
    out = capsys.readouterr().out
    assert "divergence at line 12" in out
    assert "model None" in out


def test_diverging_patch_names_the_write_line(capsys: pytest.CaptureFixture[str]) -> None:
    """A PATCH the node wrote but the model refuses is a divergence at its 'updating Availability' line."""
    assert run(str(LOGS / "diverge_patch.jsonl"), "--quota", "10000") == 1
    out = capsys.readouterr().out
    assert "divergence at line 14" in out
    assert "model 'TotalSizeBelowUsed'" in out


def test_invalid_collateral_line_without_collateral(capsys: pytest.CaptureFixture[str]) -> None:
    """'returning collateral' without its 'collateral' property is bad input (exit 2, one line)."""
    with pytest.raises(LogError, match="lacks property 'collateral'"):
        read("malformed_collateral.jsonl")
    assert run(str(LOGS / "malformed_collateral.jsonl")) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "malformed_collateral.jsonl:13:" in err


def test_invalid_repo_line_without_bytes(capsys: pytest.CaptureFixture[str]) -> None:
    """A repo quota line right after 'totalSize changed' without 'bytes' is bad input."""
    lines = (LOGS / "patch.jsonl").read_text().splitlines()[:6]
    lines[5] = lines[5].replace(', "bytes": 500', "")
    with pytest.raises(LogError, match="lacks property 'bytes'"):
        read_log(lines, "cut", "codex-head")
