"""The persistent implementation (persistent/) judged by the oracle in-process: lockstep in both
write modes, restart from disk, bad directories and records, and its own logs read back by
``sales-model logs check``."""

from __future__ import annotations

import itertools
import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import plyvel
import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from bench.bench_trace import QUOTA as LIFECYCLE_QUOTA
from bench.bench_trace import _Lifecycle
from model.actions import Accepted, Action, apply
from model.state import Profile, initial_state
from oracle.interface import Ok, Rejected, run_async
from oracle.lockstep import Divergence, Lockstep, lockstep_machine
from persistent.datastore import QUOTA_KEY, WriteMode, availability_key
from persistent.node import CorruptStore, Node, NodeError
from persistent.reservations import Reservations

SETTINGS = settings(
    max_examples=150,
    stateful_step_count=30,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)

#: Hunting a broken node: generation only (Hypothesis's shrinking of a found program costs far more).
HUNT = settings(SETTINGS, max_examples=200, phases=[Phase.generate], report_multiple_bugs=False)


def _factory(tmp_path: Path, mode: WriteMode, **options: Any) -> Any:
    counter = itertools.count()

    def build() -> Any:
        return run_async(Node(tmp_path / f"node-{next(counter)}", mode=mode, quota_max_bytes=512, id_seed=1, **options))

    return build


@pytest.mark.parametrize("mode", list(WriteMode))
def test_lockstep_in_process_finds_no_divergence(tmp_path: Path, mode: WriteMode) -> None:
    machine = lockstep_machine(_factory(tmp_path, mode), Profile.CODEX_HEAD, compare_fields=True)
    run_state_machine_as_test(machine, settings=SETTINGS)


def test_lockstep_catches_a_node_that_releases_too_little(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same machine must see a real bug in the node: a release that frees one byte too few."""
    original = Reservations.release

    async def stingy(self: Reservations, txn: Any, *, bytes: int, **kwargs: Any) -> None:
        await original(self, txn, bytes=max(bytes - 1, 0), **kwargs)

    monkeypatch.setattr(Reservations, "release", stingy)
    machine = lockstep_machine(
        _factory(tmp_path, WriteMode.ATOMIC), Profile.CODEX_HEAD, compare_fields=True, minimise=False
    )
    with pytest.raises(Divergence, match=r"`release_bytes` \(step \d+\)"):
        run_state_machine_as_test(machine, settings=HUNT)


def test_lockstep_catches_a_node_that_keeps_the_collateral(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """deleteReservation that drops the collateral it was given back (the §3.3 leak, made a bug)."""
    original = Reservations.delete_reservation

    async def forgetful(self: Reservations, txn: Any, **kwargs: Any) -> None:
        await original(self, txn, **{**kwargs, "returned_collateral": None})

    monkeypatch.setattr(Reservations, "delete_reservation", forgetful)
    machine = lockstep_machine(
        _factory(tmp_path, WriteMode.ATOMIC), Profile.CODEX_HEAD, compare_fields=True, minimise=False
    )
    with pytest.raises(Divergence, match="total_remaining_collateral"):
        run_state_machine_as_test(machine, settings=HUNT)


# -- restart ----------------------------------------------------------------------------------------


async def _populate(node: Node) -> tuple[str, str, str]:
    a = await node.create_availability(
        total_size=300, duration=100, min_price_per_byte_per_second=1, total_collateral=900
    )
    assert isinstance(a, Ok)
    assert a.result
    made = []
    for index in (0, 1):
        r = await node.create_reservation(
            availability_id=a.result,
            slot_size=40,
            request_id="0x" + "11" * 32,
            slot_index=index,
            collateral_per_byte=1,
            valid_until=10,
        )
        assert isinstance(r, Ok)
        assert r.result
        made.append(r.result)
    assert await node.release_bytes(reservation_id=made[0], availability_id=a.result, bytes=15) == Ok(None)
    return a.result, made[0], made[1]


@pytest.mark.parametrize("mode", list(WriteMode))
def test_a_restarted_node_reads_everything_back_from_disk(tmp_path: Path, mode: WriteMode) -> None:
    node = Node(tmp_path / "n", mode=mode, quota_max_bytes=512, id_seed=1)
    sync = run_async(node)
    availability, first, second = sync._run(_populate(node))  # type: ignore[attr-defined]
    before = node.snapshot_now()
    sync.close()

    again = Node(tmp_path / "n", mode=mode, quota_max_bytes=512, id_seed=2)
    assert again.snapshot_now() == before
    assert before.reserved == 300 - 15
    assert before.availabilities[availability]["free_size"] == 220
    restarted = run_async(again)
    # §2.10: the slot of ``second`` is still filled; ``first``'s is not, so the cleanup deletes it
    # and gives back its remaining size (no collateral).
    assert restarted.delete_inactive_reservations(active_slots=[("0x" + "11" * 32, 1)]) == Ok(None)
    after = again.snapshot_now()
    assert set(after.reservations) == {second}
    assert after.availabilities[availability]["free_size"] == 220 + 25
    assert after.availabilities[availability]["total_remaining_collateral"] == 900 - 80
    made = restarted.create_availability(total_size=10, duration=1, min_price_per_byte_per_second=1, total_collateral=1)
    assert isinstance(made, Ok)
    assert made.result not in {availability, first, second}
    restarted.close()


def test_a_directory_that_is_not_a_store_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(NodeError, match="cannot open the node's LevelDB store"):
        Node(blocker)
    node = Node(tmp_path / "locked")
    with pytest.raises(NodeError, match="locked"):  # LevelDB's LOCK: one node per directory
        Node(tmp_path / "locked")
    node.close()


def test_a_corrupt_record_names_its_key(tmp_path: Path) -> None:
    node = Node(tmp_path / "n", quota_max_bytes=512, id_seed=1)
    sync = run_async(node)
    made = sync.create_availability(total_size=10, duration=1, min_price_per_byte_per_second=1, total_collateral=1)
    assert isinstance(made, Ok)
    assert made.result
    key = availability_key(made.result[2:])
    node.store.db.put(key.encode(), b'{"id": "x"}')
    with pytest.raises(CorruptStore, match=f"record at {key} is not a valid Availability"):
        node.snapshot_now()
    node.store.db.put(key.encode(), b"{truncated")
    assert sync.update_availability(availability_id=made.result, duration=5) == Rejected("GetFailed")
    node.store.db.put(QUOTA_KEY.encode(), b"[]")
    with pytest.raises(Exception, match="quota record"):
        node.store.usage()
    sync.close()


def test_the_store_holds_nim_codex_keys_and_json(tmp_path: Path) -> None:
    node = Node(tmp_path / "n", quota_max_bytes=512, id_seed=1)
    sync = run_async(node)
    availability, first, _ = sync._run(_populate(node))  # type: ignore[attr-defined]
    sync.close()
    db = plyvel.DB(str(tmp_path / "n" / "meta"))
    stored = {k.decode(): json.loads(v) for k, v in db.iterator()}
    db.close()
    a_key = f"/meta/sales/reservations/{availability[2:]}"
    assert stored[a_key]["freeSize"] == 220
    assert stored[a_key]["totalCollateral"] == "900"
    r = stored[f"{a_key}/{first[2:]}"]
    assert r == {
        "id": first,
        "availabilityId": availability,
        "size": 25,
        "requestId": "0x" + "11" * 32,
        "slotIndex": 0,
        "validUntil": 10,
    }
    assert stored["/meta/quota/used"] == {"used": 0, "reserved": 285}


# -- its own logs, read by the node-log checker -------------------------------------------------------


def _lifecycle_log(tmp_path: Path, mode: WriteMode, seed: int, steps: int) -> Path:
    """A node's sales (bench/bench_trace.py's lifecycle mix) run in lockstep, logging to a file."""
    log = tmp_path / f"{mode.value}-{seed}.log"
    node = Node(
        tmp_path / f"{mode.value}-{seed}", mode=mode, quota_max_bytes=LIFECYCLE_QUOTA, id_seed=seed, log_path=log
    )
    run = Lockstep(run_async(node), Profile.CODEX_HEAD, compare_fields=True)
    state: Any = initial_state(Profile.CODEX_HEAD, **run.setup)
    sales = _Lifecycle(random.Random(seed), 4)
    for _ in range(steps):
        action: Action = sales.next(state)
        outcome = apply(state, action)
        post = outcome.state if isinstance(outcome, Accepted) else state
        assert run.check(state, action, outcome, post) is None
        sales.after(action, outcome)
        state = post
    run.close()
    return log


def _logs_check(log: Path) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).with_name("sales-model")  # the console script, as a user runs it
    command = [str(script), "logs", "check", "--quota", str(LIFECYCLE_QUOTA), str(log)]
    return subprocess.run(command, capture_output=True, text=True, check=False)


@pytest.mark.parametrize("mode", list(WriteMode))
def test_its_own_log_passes_sales_model_logs_check(tmp_path: Path, mode: WriteMode) -> None:
    log = _lifecycle_log(tmp_path, mode, seed=1, steps=300)
    checked = _logs_check(log)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "The trace agrees with the model" in checked.stdout
    events = int(checked.stdout.split("-> ")[1].split(" event")[0])
    assert events > 100


def test_a_tampered_log_fails_sales_model_logs_check(tmp_path: Path) -> None:
    """The checker reads the node's log for real: a release of more bytes than the reservation holds,
    written into the log, is a divergence."""
    log = _lifecycle_log(tmp_path, WriteMode.ATOMIC, seed=1, steps=300)
    lines = log.read_text().splitlines()
    index = next(i for i, line in enumerate(lines) if '"releasing bytes and updating reservation"' in line)
    record = json.loads(lines[index])
    record["bytes"] = 1 << 40
    lines[index] = json.dumps(record)
    log.write_text("\n".join(lines) + "\n")
    checked = _logs_check(log)
    assert checked.returncode == 1, checked.stdout + checked.stderr


def test_the_server_cli_refuses_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from persistent.server import main as serve

    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    for argv, message in (
        (["--data", str(blocker)], "cannot open the node's LevelDB store"),
        (["--data", str(tmp_path / "n"), "--quota", "-1"], "--quota must be a number of bytes >= 0"),
        (["--data", str(tmp_path / "n"), "--port", "70000"], "--port must be 0..65535"),
    ):
        with pytest.raises(SystemExit) as exited:
            serve(argv)
        assert exited.value.code == 2
        assert message in capsys.readouterr().err
