"""The fault and crash harnesses (oracle/faults.py) on the persistent implementation, and on
deliberately broken versions of it that the harnesses must catch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from model.actions import DeleteReservationHead, ReturnBytesToAvailability, UpdateAvailability, apply
from model.state import Profile, initial_state
from oracle.faults import (
    Scenario,
    SetupDiverged,
    Verdict,
    catalogue,
    crash_sweep,
    fault_sweep,
    identity_gap,
    known_path,
)
from oracle.interface import Rejected, Snapshot
from persistent import datastore
from persistent import findings as findings_module
from persistent.datastore import WriteMode
from persistent.findings import BEGIN, END, SECTIONS, factory, generated, main, splice
from persistent.node import Node
from persistent.reservations import Reservations

SCENARIOS = {s.name: s for s in catalogue()}
ROOT = Path(__file__).resolve().parent.parent


def _sweeps(tmp_path: Path, mode: WriteMode, name: str) -> tuple[list[Any], list[Any]]:
    build = factory(mode)
    scenario = SCENARIOS[name]
    return fault_sweep(build, tmp_path / "f", scenario), crash_sweep(build, tmp_path / "c", scenario)


def test_the_catalogue_covers_every_operation_of_codex_head() -> None:
    from oracle.interface import OPERATION_NAMES

    assert {s.action.name for s in catalogue()} == set(OPERATION_NAMES)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_every_write_point_is_visited_once_per_sweep(tmp_path: Path, name: str) -> None:
    build = factory(WriteMode.FAITHFUL)
    scenario = SCENARIOS[name]
    faults = fault_sweep(build, tmp_path / "f", scenario)
    crashes = crash_sweep(build, tmp_path / "c", scenario)
    writes = [f.point for f in faults if f.point.startswith("write")]
    assert [p.split(" ", 2)[1] for p in writes] == [str(k) for k in range(1, len(writes) + 1)]
    assert len(crashes) == len(writes) + 1  # before each write, and after the last
    if scenario.action.name not in {"find_availability"}:
        assert writes, "an operation that goes through writes at least once"


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_atomic_mode_restores_after_every_fault_and_has_no_crash_window(tmp_path: Path, name: str) -> None:
    faults, crashes = _sweeps(tmp_path, WriteMode.ATOMIC, name)
    assert [f for f in faults if f.verdict is not Verdict.RESTORED] == []
    assert [c for c in crashes if c.gap or c.violations] == []


EXPECTED_KNOWN = {
    "update_availability (grow)": "§2.12 item 5",
    "update_availability (shrink)": "§2.12 item 5",
    "return_bytes_to_availability": "§2.12 item 6",
    "delete_reservation": "§2.12 item 7",
    "delete_inactive_reservations": "§2.12 item 7",
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_faithful_mode_diverges_only_on_known_paths(tmp_path: Path, name: str) -> None:
    faults, _ = _sweeps(tmp_path, WriteMode.FAITHFUL, name)
    assert [f for f in faults if f.verdict is Verdict.DIVERGED] == []
    known = {f.known.split(":")[0] for f in faults if f.verdict is Verdict.KNOWN and f.known}
    assert known == ({EXPECTED_KNOWN[name]} if name in EXPECTED_KNOWN else set())
    for f in faults:
        if f.verdict is Verdict.KNOWN:
            assert isinstance(f.observed, Rejected) or name == "delete_inactive_reservations"


#: nim-codex's crash windows (§2.12 item 8): the sign of the identity's gap after the crash point.
EXPECTED_WINDOWS = {
    "create_availability": ("before write 2 (availability)", +200),
    "create_reservation": ("before write 2 (availability)", -50),
    "release_bytes": ("before write 2 (reservation)", -20),
    "return_bytes_to_availability": ("before write 2 (availability)", +20),
    "delete_reservation": ("before write 2 (delete reservation)", -30),
    "update_availability (grow)": ("before write 2 (availability)", +100),
    "update_availability (shrink)": ("before write 2 (availability)", -100),
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_faithful_mode_shows_nim_codex_crash_windows(tmp_path: Path, name: str) -> None:
    _, crashes = _sweeps(tmp_path, WriteMode.FAITHFUL, name)
    windows = [(c.point, c.gap) for c in crashes if c.gap]
    if name == "delete_inactive_reservations":  # one window per reservation the cleanup deletes
        assert windows == [("before write 2 (delete reservation)", -30), ("before write 4 (delete reservation)", -30)]
    else:
        assert windows == ([EXPECTED_WINDOWS[name]] if name in EXPECTED_WINDOWS else [])
    assert crashes[0].gap == 0
    assert crashes[-1].gap == 0


def test_a_node_without_the_reservation_rollback_is_caught(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """createReservation's rollback (delete r when updating A fails) removed: a diverged verdict."""

    async def no_delete(self: Reservations, txn: Any, reservation: dict[str, Any]) -> None:
        return None

    monkeypatch.setattr(Reservations, "delete_key", no_delete)
    faults = fault_sweep(factory(WriteMode.FAITHFUL), tmp_path, SCENARIOS["create_reservation"])
    diverged = [f for f in faults if f.verdict is Verdict.DIVERGED]
    assert [f.point for f in diverged] == ["write 2 (availability)", "read 2"]  # updating A failed either way
    [(field, expected, seen)] = diverged[0].differences  # the reservation stayed behind
    assert field.startswith("reservations[impl:0x")
    assert (expected, seen) == ("absent", "present")


def test_a_non_atomic_batch_is_caught_by_the_crash_sweep(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An ``atomic`` commit that writes its keys one by one (a write point each) has crash windows."""

    def commit(self: datastore.Txn, max_bytes: int) -> None:
        used, reserved = self.usage()
        for key, value in self.staged.items():
            self.store.write_point(f"put {key}")
            if value is None:
                self.store.db.delete(key.encode())
            else:
                self.store.db.put(key.encode(), value)
        if self.used_delta or self.reserved_delta:
            self.store.write_point("quota")
            self.store.db.put(datastore.QUOTA_KEY.encode(), datastore._quota_record(used, reserved))

    monkeypatch.setattr(datastore.Txn, "commit", commit)
    crashes = crash_sweep(factory(WriteMode.ATOMIC), tmp_path, SCENARIOS["create_reservation"])
    assert any(c.gap for c in crashes)


def test_a_fault_the_node_ignores_is_caught(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A node that swallows a failed write and reports success: the state is neither restored nor known."""
    original = datastore.Txn.put

    def put(self: datastore.Txn, key: str, value: Any, label: str) -> None:
        try:
            original(self, key, value, label)
        except datastore.DatastoreError:
            return

    monkeypatch.setattr(datastore.Txn, "put", put)
    faults = fault_sweep(factory(WriteMode.FAITHFUL), tmp_path, SCENARIOS["release_bytes"])
    assert any(f.verdict is Verdict.DIVERGED for f in faults)


def test_known_paths_need_their_exact_amounts() -> None:
    state = initial_state(Profile.CODEX_HEAD, quota_max_bytes=512)
    for action in SCENARIOS["delete_reservation"].setup:
        outcome = apply(state, action)
        state = outcome.state  # type: ignore[union-attr]
    failed = Rejected("UpdateFailed")
    grow = UpdateAvailability(availability_id="a1", total_size=300)
    assert known_path(state, grow, failed, [("repo.reserved", 200, 300)]) is not None
    assert known_path(state, grow, failed, [("repo.reserved", 200, 301)]) is None
    assert known_path(state, grow, failed, [("repo.reserved", 200, 300), ("repo.used", 0, 1)]) is None
    back = ReturnBytesToAvailability(availability_id="a1", reservation_id="r1", bytes=50)
    assert known_path(state, back, failed, [("repo.reserved", 180, 200)]) is not None
    assert known_path(state, back, failed, [("repo.reserved", 180, 199)]) is None
    delete = DeleteReservationHead(reservation_id="r1", availability_id="a1", returned_collateral=100)
    assert known_path(state, delete, failed, [("availabilities[a1].free_size", 150, 180)]) is not None
    assert known_path(state, delete, failed, [("availabilities[a1].free_size", 150, 181)]) is None
    assert known_path(state, delete, failed, [("reservations[r1].size", 30, 0)]) is None
    assert known_path(state, grow, failed, []) is None


def test_the_identity_gap() -> None:
    snap = Snapshot(
        availabilities={"a": {"free_size": 10}, "b": {"free_size": 5}},
        reservations={"r": {"size": 3}},
        reserved=20,
    )
    assert identity_gap(snap) == 2
    assert identity_gap(Snapshot(availabilities={}, reservations={}, reserved=0)) == 0


def test_a_setup_that_diverges_is_an_error_not_a_finding(tmp_path: Path) -> None:
    bad = Scenario("bad", (UpdateAvailability(availability_id="a1", total_size=10),), SCENARIOS["store_block"].action)

    def build(directory: Path) -> Node:
        node = Node(directory, quota_max_bytes=512, id_seed=1)

        async def accept(**_: Any) -> Any:
            from oracle.interface import Ok

            return Ok(None)

        node.update_availability = accept  # type: ignore[method-assign]
        return node

    with pytest.raises(SetupDiverged, match="setup step 0"):
        fault_sweep(build, tmp_path, bad)


@pytest.mark.parametrize("section", SECTIONS)
def test_committed_findings_match_a_fresh_run(section: str) -> None:
    """docs/findings.md holds what a fresh run gives (``python -m persistent.findings --write``)."""
    document = (ROOT / "docs" / "findings.md").read_text()
    assert splice(document, generated(section), section) == document


def test_findings_cli_check_and_write(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(findings_module, "generated", lambda name: f"fresh {name}\n")  # the CLI, not the runs
    stale = tmp_path / "f.md"
    blocks = "".join(f"<!-- {name}:begin -->\nold\n<!-- {name}:end -->\n" for name in SECTIONS[1:])
    stale.write_text(f"# F\n{BEGIN}\nold\n{END}\n{blocks}tail\n")
    assert main(["--check", str(stale)]) == 1
    assert main(["--write", str(stale)]) == 0
    assert main(["--check", str(stale)]) == 0
    assert stale.read_text().endswith("<!-- patch-race:end -->\ntail\n")
    missing = tmp_path / "none.md"
    missing.write_text("no markers")
    assert main(["--check", str(missing)]) == 2
    assert "markers" in capsys.readouterr().err
