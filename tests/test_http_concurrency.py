"""Concurrent HTTP clients against the persistent node behind its real server, judged for
linearizability (oracle/linearizability.py). Requests really overlap here: each client is an
asyncio task with its own requests in flight on one connection pool, and the server handles them
concurrently on its own event loop, where the node's scheduler yields at every datastore access
(a seeded number of times, or for a millisecond: a slow disk). The interleaving is therefore not
fully seeded; the verdicts asserted hold for every interleaving (the lock-free one is searched for
over five rushes on a slow disk, where every request's read overlaps the others')."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from oracle.concurrency import SETUP, History, Program, Ref, SeededScheduler, call, run_clients, sales_workload
from oracle.interface import Ok, Rejected
from oracle.linearizability import Linearizable, NotLinearizable, check, report
from oracle.rest import AsyncRestImplementation
from persistent.node import Node
from persistent.server import Server


class SlowDisk:
    """A datastore whose every access takes a millisecond (the node awaits it, as nim-codex awaits
    LevelDB): requests in flight together then overlap at their datastore accesses for sure."""

    async def point(self, label: str) -> None:
        await asyncio.sleep(0.001)


def over_http(directory: Path, program: Program, seed: int, *, lock: bool, slow: bool = False) -> History:
    """``program`` run by concurrent HTTP clients against a fresh node served on a loopback port."""
    scheduler = SlowDisk() if slow else SeededScheduler(seed)
    node = Node(directory, quota_max_bytes=512, lock=lock, scheduler=scheduler, id_seed=1)
    server = Server(node)
    try:
        server.start()

        async def clients() -> History:
            impl = AsyncRestImplementation(server.url)
            try:
                return await run_clients(impl, program, SeededScheduler(seed))
            finally:
                await impl.aclose()

        return asyncio.run(clients())
    finally:
        server.close()


@pytest.mark.parametrize("seed", [0, 1])
def test_eight_http_clients_on_the_locked_node_are_linearizable(tmp_path: Path, seed: int) -> None:
    program = sales_workload(seed, clients=8, operations=64)
    history = over_http(tmp_path / "node", program, seed, lock=True)
    assert len(history.operations) == len(program.all_calls())
    assert {type(op.outcome) for op in history.operations} == {Ok, Rejected}
    assert not [op for op in history.operations if isinstance(op.outcome, Rejected) and "Crash" in op.outcome.kind]
    verdict = check(history)
    assert isinstance(verdict, Linearizable), verdict


def _rush(clients: int, size: int, slot: int) -> Program:
    """``clients`` sale agents reserving ``slot`` bytes each, at once, on one availability of ``size``."""
    setup = (
        call(
            SETUP,
            "a0",
            "create_availability",
            total_size=size,
            duration=1000,
            min_price_per_byte_per_second=1,
            total_collateral=1000,
        ),
    )
    calls = tuple(
        call(
            c,
            f"c{c}",
            "create_reservation",
            availability_id=Ref("a0"),
            slot_size=slot,
            request_id=f"0x{c:064x}",
            slot_index=c,
            collateral_per_byte=0,
            valid_until=0,
        )
        for c in range(clients)
    )
    return Program(setup=setup, calls=calls)


def test_a_rush_of_http_reservations_on_the_locked_node_takes_exactly_what_fits(tmp_path: Path) -> None:
    history = over_http(tmp_path / "node", _rush(8, 100, 40), 0, lock=True, slow=True)
    accepted = [op for op in history.operations if op.name == "create_reservation" and isinstance(op.outcome, Ok)]
    assert len(accepted) == 2  # 2 x 40 <= 100 < 3 x 40
    assert isinstance(check(history), Linearizable)


def test_the_lock_free_node_over_http_is_caught_over_booking(tmp_path: Path) -> None:
    """nim-codex#825 over HTTP: concurrent requests over-book the lock-free node, and the checker says so."""
    for seed in range(5):
        history = over_http(tmp_path / f"node{seed}", _rush(8, 100, 40), seed, lock=False, slow=True)
        verdict = check(history)
        if isinstance(verdict, NotLinearizable):
            break
    else:
        pytest.fail("5 rushes of 8 HTTP reservations never over-booked the lock-free node")
    assert "nim-codex#825" in verdict.explanation
    text = report(_rush(8, 100, 40), seed, history, verdict, factory_source="Node(..., lock=False)")
    assert "## Timeline (logical clock)" in text
