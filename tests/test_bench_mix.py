"""The benchmark's generated traces (bench/bench_trace.py rule 1): valid, and the lifecycle mix is a
node's sales, sale by sale."""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

import pytest

from bench.bench_trace import BATCH, LIFECYCLE, MIXES, SLOT_SIZES, generate, main
from oracle.trace import check, load_events


def _events(tmp_path: Path, mix: str, events: int, seed: int = 1) -> list:  # type: ignore[type-arg]
    path = tmp_path / f"{mix}.jsonl"
    generate(str(path), events, seed, mix=mix)
    header, found = load_events(path.read_text(encoding="utf-8").splitlines(keepends=True), path.name)
    report = check(header, found)
    assert report.ok, report.lines()
    return found


@pytest.mark.parametrize("mix", MIXES)
def test_every_mix_is_a_valid_trace_the_model_agrees_with(mix: str, tmp_path: Path) -> None:
    events = _events(tmp_path, mix, 2500)
    ops = Counter(event.op for event in events)
    assert set(ops) >= {"create_reservation", "release_bytes", "delete_reservation", "find_availability"}, ops


def test_the_lifecycle_mix_follows_each_sale(tmp_path: Path) -> None:
    """Per reservation: created (after a find that offered its availability, unless it is a slot
    too big for any), then released batch by batch, each batch stored just before, until the whole
    slot is released; then its written bytes returned and it is deleted, in that order."""
    events = _events(tmp_path, LIFECYCLE, 6000)
    history: dict[str, list[str]] = defaultdict(list)
    released: Counter[str] = Counter()
    slot: dict[str, int] = {}
    for index, event in enumerate(events):
        rid = event.args.get("reservation_id")
        if event.op == "create_reservation" and event.outcome == "accepted":
            assert event.args["slot_size"] in SLOT_SIZES
            offer = events[index - 1]
            assert offer.op == "find_availability"
            assert offer.result == event.args["availability_id"]
            slot[rid] = event.args["slot_size"]
        if event.op == "create_reservation" and event.outcome != "accepted":
            assert event.args["slot_size"] not in SLOT_SIZES  # only a slot too big is refused
            continue
        if rid is None:
            continue
        history[rid].append(event.op)
        if event.op == "release_bytes":
            stored = events[index - 1]
            assert stored.op == "store_block"
            assert stored.args["bytes"] == event.args["bytes"] <= BATCH
            released[rid] += event.args["bytes"]
        if event.op == "return_bytes_to_availability":
            assert released[rid] == slot[rid] == event.args["bytes"]
    finished = 0
    for rid, ops in history.items():
        assert ops[0] == "create_reservation"
        middle = ops[1:]
        if middle[-2:] == ["return_bytes_to_availability", "delete_reservation"]:
            middle, finished = middle[:-2], finished + 1
        assert set(middle) <= {"release_bytes"}, (rid, ops)
    assert finished > 20
    batches = sum(1 for event in events if event.op in ("store_block", "release_bytes"))
    assert batches > 0.7 * len(events)


def test_an_unknown_mix_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown mix"):
        generate(str(tmp_path / "x.jsonl"), 10, 1, mix="random")


def test_the_benchmark_runs_end_to_end_on_a_short_trace(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--events", "400", "--mix", "lifecycle", "--workers", "0"]) == 0
    out = capsys.readouterr().out
    for part in ("== lifecycle mix", "ratio (b)/(a)", "median ratio of 3 pairs", "(c) model apply only"):
        assert part in out
