"""The linearizability checker on hand-built histories, and on concurrent clients driving the persistent node."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from oracle.concurrency import (
    READ,
    SETUP,
    History,
    Operation,
    Program,
    Ref,
    SeededScheduler,
    call,
    run_history,
    sales_workload,
)
from oracle.interface import Observed, Ok, Rejected
from oracle.linearizability import (
    Linearizable,
    NotLinearizable,
    Unknown,
    check,
    minimise_program,
    partition,
    report,
    unpartitionable,
)
from persistent.node import Node

UNLOCKED = 'Node(tmp_path / "node", quota_max_bytes=512, lock=False, scheduler=scheduler, id_seed=1)'


def node_factory(root: Path, **settings: Any) -> Callable[[SeededScheduler], Node]:
    """Fresh nodes under ``root``, one directory per run, quota 512, fixed id seed."""
    count = itertools.count()

    def factory(scheduler: SeededScheduler) -> Node:
        return Node(root / f"node{next(count)}", quota_max_bytes=512, scheduler=scheduler, id_seed=1, **settings)

    return factory


# -- hand-built histories --------------------------------------------------------------------------------

AVAILABILITY = {"duration": 1000, "min_price_per_byte_per_second": 1, "total_collateral": 1000}
SLOT_QUERY = {"collateral_per_byte": 0, "valid_until": 0}
SLOT = {"request_id": "0x01", "slot_index": 0, **SLOT_QUERY}


def op(client: int, name: str, times: tuple[int, int], outcome: Observed, seen: Any = None, **arguments: Any) -> Any:
    """An operation (index filled in by ``history``) from client, name, (invoked, returned), outcome."""
    return (client, name, times, outcome, seen, arguments)


def history(*specs: Any, max_bytes: int = 512) -> History:
    """A ``History`` of ``op`` specs, ordered by invocation."""
    ordered = sorted(specs, key=lambda spec: spec[2][0])
    return History(
        operations=tuple(
            Operation(
                index=i,
                label=f"op{i}",
                client=client,
                name=name,
                arguments=tuple(arguments.items()),
                invoked=times[0],
                returned=times[1],
                outcome=outcome,
                seen=seen,
            )
            for i, (client, name, times, outcome, seen, arguments) in enumerate(ordered)
        ),
        max_bytes=max_bytes,
    )


def create(availability_id: str, size: int, times: tuple[int, int] = (1, 2)) -> Any:
    return op(SETUP, "create_availability", times, Ok(availability_id), total_size=size, **AVAILABILITY)


def reserve(client: int, availability_id: str, size: int, times: tuple[int, int], outcome: Observed) -> Any:
    return op(client, "create_reservation", times, outcome, availability_id=availability_id, slot_size=size, **SLOT)


def test_check_concurrent_overlap_linearizable() -> None:
    """An accepted reservation overlapping a rejected one linearizes first, although it responded last."""
    h = history(
        create("A", 100),
        reserve(0, "A", 60, (3, 6), Ok("r1")),
        reserve(1, "A", 60, (4, 5), Rejected("BytesOutOfBounds")),
    )
    verdict = check(h)
    assert isinstance(verdict, Linearizable)
    assert dict(verdict.orders)["A"] == (0, 1, 2)


def test_check_sequential_contradiction_not_linearizable() -> None:
    """Two accepted sequential reservations of 60 bytes from 100 contradict the model in every order."""
    h = history(create("A", 100), reserve(0, "A", 60, (3, 4), Ok("r1")), reserve(1, "A", 60, (5, 6), Ok("r2")))
    verdict = check(h)
    assert isinstance(verdict, NotLinearizable)
    assert verdict.prefix == (0, 1)
    assert "freeSize >= 60 + 60 = 120" in verdict.explanation


@pytest.mark.parametrize(("free_size", "linearizable"), [(70, False), (40, True)])
def test_check_read_exposes_lost_update(free_size: int, linearizable: bool) -> None:
    """A read after two accepted 30-byte reservations must see both (40 free); seeing 70 is a lost update."""
    h = history(
        create("A", 100),
        reserve(0, "A", 30, (3, 5), Ok("r1")),
        reserve(1, "A", 30, (4, 6), Ok("r2")),
        op(2, READ, (7, 8), Ok(None), seen=(("free_size", free_size), ("total_size", 100)), availability_id="A"),
    )
    assert isinstance(check(h), Linearizable) is linearizable
    assert isinstance(check(h), NotLinearizable) is not linearizable


def two_availabilities(*extra: Any, max_bytes: int = 512) -> History:
    return history(
        create("A", 100),
        create("B", 100, (3, 4)),
        reserve(0, "A", 60, (5, 7), Ok("r1")),
        reserve(1, "B", 60, (6, 8), Ok("r2")),
        *extra,
        max_bytes=max_bytes,
    )


def test_partition_per_availability_when_sound() -> None:
    """Operations each naming one availability, within the quota slack, are checked per availability."""
    h = two_availabilities()
    assert unpartitionable(h) is None
    assert sorted(partition(h)) == ["A", "B"]
    verdict = check(h)
    assert isinstance(verdict, Linearizable)
    assert verdict.partitions == 2


def test_partition_whole_when_an_operation_names_no_availability() -> None:
    """A ``find_availability`` reads every availability, so the history is checked whole."""
    find = op(2, "find_availability", (9, 10), Ok("A"), size=10, duration=1, price_per_byte_per_second=5, **SLOT_QUERY)
    h = two_availabilities(find)
    assert "names no single availability" in (unpartitionable(h) or "")
    assert list(partition(h)) == ["whole"]
    assert check(h) == Linearizable((("whole", (0, 1, 2, 3, 4)),))


def test_partition_whole_when_quota_slack_is_short() -> None:
    """When possible reserves exceed the quota the repo couples availabilities: the history is checked whole."""
    h = two_availabilities(max_bytes=150)
    assert "exceed the quota" in (unpartitionable(h) or "")
    assert list(partition(h)) == ["whole"]
    assert isinstance(check(h), NotLinearizable)  # the second create exceeds 150 in the model


def test_partition_whole_when_patch_meets_quota_guard() -> None:
    """A PATCH whose totalSize may meet the REST quota guard forbids partitioning."""
    patch = op(2, "update_availability", (9, 10), Ok(None), availability_id="A", total_size=300)
    h = two_availabilities(patch)
    assert "quota guard" in (unpartitionable(h) or "")
    assert list(partition(h)) == ["whole"]


def test_check_budget_exhausted_is_unknown() -> None:
    """A search that runs out of budget claims nothing, even on a linearizable history."""
    h = two_availabilities()
    assert isinstance(check(h, budget=3), Unknown)
    assert isinstance(check(h), Linearizable)


# -- concurrent clients on the persistent node ---------------------------------------------------------------


@pytest.mark.parametrize("mode", ["atomic", "faithful"])
def test_locked_node_linearizable(tmp_path: Path, mode: str) -> None:
    """The locked node's histories under 8 concurrent clients are linearizable, with both outcomes seen."""
    factory = node_factory(tmp_path, mode=mode)
    for seed in range(4):
        h = run_history(factory, sales_workload(seed, clients=8, operations=64), seed)
        verdict = check(h)
        assert isinstance(verdict, Linearizable), (seed, verdict)
        outcomes = {type(o.outcome) for o in h.operations}
        assert outcomes == {Ok, Rejected}


def test_run_history_same_seed_same_history(tmp_path: Path) -> None:
    """A seed and a program replay the same history; another seed interleaves differently."""
    factory = node_factory(tmp_path, lock=False)
    program = sales_workload(3, operations=32)
    first, again, other = (run_history(factory, program, seed) for seed in (3, 3, 4))
    assert first == again
    assert [o.label for o in first.operations] != [o.label for o in other.operations]


def test_ref_to_missing_call_is_absent(tmp_path: Path) -> None:
    """A ``Ref`` to a call that returned no id resolves to an absent id, which names nothing."""
    program = Program(calls=(call(0, "c0.0", READ, availability_id=Ref("nowhere")),))
    (only,) = run_history(node_factory(tmp_path), program, 0).operations
    assert only.argument("availability_id") == "absent-nowhere"
    assert only.outcome == Rejected("NotExists")


def test_unlocked_node_overbooking_found_and_minimised(tmp_path: Path) -> None:
    """The lock-free node (nim-codex before #825) is caught, minimised to 3 calls, replayed and reported."""
    factory = node_factory(tmp_path, lock=False)
    for seed in range(12):
        program = sales_workload(seed, clients=8, operations=32)
        if not isinstance(check(run_history(factory, program, seed)), NotLinearizable):
            continue
        smallest, h = minimise_program(factory, program, seed)
        if len(smallest.all_calls()) <= 3:
            break
    else:
        pytest.fail("no seed in 0..11 gave a non-linearizable history minimised to 3 calls")
    assert [c.operation for c in smallest.all_calls()].count("create_reservation") == 2
    verdict = check(run_history(factory, smallest, seed))
    assert isinstance(verdict, NotLinearizable)
    assert "nim-codex#825" in verdict.explanation
    text = report(smallest, seed, h, verdict, factory_source=UNLOCKED)
    assert "## Timeline (logical clock)" in text
    assert "setup [#0" in text
    replay = text.split("```python\n")[1].split("```")[0]
    namespace: dict[str, Any] = {}
    exec(compile(replay, "replay", "exec"), namespace)
    namespace[f"test_replay_seed_{seed}"](tmp_path / "replay")


def test_locked_node_patch_race_is_a_lost_update(tmp_path: Path) -> None:
    """PATCH reads the availability outside the lock (spec §2.3): the locked node loses racing reservations."""
    factory = node_factory(tmp_path)
    verdicts = [check(run_history(factory, sales_workload(s, patch_races=True), s)) for s in range(4)]
    caught = [v for v in verdicts if isinstance(v, NotLinearizable)]
    assert caught
    assert any("update_availability" in v.explanation for v in caught)
