"""Fault and crash harnesses: every datastore access of an operation made to fail, or the process
killed there, in turn, and the result judged against the model.

Rules:
1. A *faultable* implementation (``Faultable``) is an ``AsyncImplementation`` that can be armed:
   ``arm(fail_write=k)`` makes its k-th datastore write of the next operation fail (the write does
   not happen), ``arm(crash_before_write=k)`` kills it there (a ``SimulatedCrash`` escapes the
   operation), ``arm(fail_read=k)`` fails its k-th read. ``write_labels()`` names the write points
   reached since ``arm``; ``reopen()`` drops the process state and opens the same store again.
2. A ``Scenario`` is a setup program and one target action, in model terms (model ids). The
   harness builds a fresh implementation per injected fault, runs the setup in lockstep with the
   model (any divergence there is a ``SetupDiverged`` error, not a finding), then arms one fault
   and runs the target. First a clean run counts the target's write and read points, so every
   point is visited and none is invented.
3. **Faults** (``fault_sweep``): after the operation, the implementation's committed state must
   equal the model's state *before* the operation (verdict ``restored``), or be one of nim-codex's
   known non-atomic paths, recognised by their exact signature (verdict ``known``, spec §2.12):
   - item 5: a PATCH that changes ``totalSize`` whose availability write fails keeps the repo's
     reserve or release of the difference: the only difference is ``repo.reserved`` moved by
     ``new - old``;
   - item 6: ``returnBytesToAvailability`` whose read of the availability fails after the repo
     reserve keeps it: the only difference is ``repo.reserved`` up by ``bytes - r.size``;
   - item 7: ``deleteReservation`` whose key delete fails keeps the updated availability: the
     only differences are that availability's ``free_size`` up by ``r.size`` and (with collateral)
     ``total_remaining_collateral`` up by the returned collateral, the reservation unchanged.
   Anything else is ``diverged``, a finding. ``deleteInactiveReservations`` is a loop of separate
   ``deleteReservation`` calls that logs and skips a failure (§2.10): its baseline is the model's
   post-state with the failing reservation's delete skipped.
4. **Crashes** (``crash_sweep``): the process dies before write k (k = 1 .. n), or just after
   the last write (k = n + 1); the store is reopened and the restart cleanup
   (``delete_inactive_reservations``, §2.10) run, with the slots of the reservations live before
   the operation as active, less the one a ``delete_reservation`` was ending (its sale is over).
   Then the identity of §1.4 is measured: ``gap = reserved - (sum of free sizes + sum of
   reservation sizes)``. ``gap > 0``: bytes lost (held by the repo, usable by nobody);
   ``gap < 0``: bytes double-counted (offered twice). ``faithful`` mode shows nim-codex's crash
   windows (§2.12 item 8); ``atomic`` mode must show none.
5. The harnesses are deterministic: implementations are built by the caller's factory from a
   fresh directory each time, with fixed id seeds.

Mirrors: codex-sales-spec §1.4 (the identity), §2.10 (restart cleanup), §2.12 items 5-8.
"""

from __future__ import annotations

import contextlib
import enum
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import attrs

from model.actions import (
    Accepted,
    Action,
    CreateAvailabilityHead,
    CreateReservationHead,
    DeleteInactiveReservations,
    DeleteReservationHead,
    ExpireBlock,
    FindAvailabilityHead,
    ReleaseBytes,
    ReturnBytesToAvailability,
    StoreBlock,
    UpdateAvailability,
    apply,
)
from model.state import AnyState, Profile, initial_state
from oracle.interface import Observed, Ok, Rejected, Snapshot, run_async
from oracle.lockstep import Lockstep, checkable, compare_snapshot, snapshot_violations


class SimulatedCrash(BaseException):
    """The process died at a write point (rule 1): nothing in the implementation may catch it."""


class Faultable(Protocol):
    """What the harnesses need of an implementation (rule 1), besides the operations."""

    profile: Profile

    def arm(
        self, *, fail_write: int | None = None, crash_before_write: int | None = None, fail_read: int | None = None
    ) -> None: ...
    def write_labels(self) -> list[str]: ...
    def reads(self) -> int: ...
    def reopen(self) -> Faultable: ...
    def close(self) -> None: ...


#: Builds a fresh faultable implementation in the given empty directory.
Factory = Callable[[Path], Any]


class SetupDiverged(AssertionError):
    """The scenario's setup already diverges from the model: the harness cannot judge the target."""


class Verdict(enum.Enum):
    RESTORED = "restored"
    KNOWN = "known"
    DIVERGED = "diverged"


@attrs.frozen
class Scenario:
    """A setup program and the target action whose faults are swept, in model terms (rule 2)."""

    name: str
    setup: tuple[Action, ...]
    action: Action


@attrs.frozen
class FaultResult:
    """One injected fault: where, what the operation answered, and the verdict (rule 3)."""

    scenario: str
    point: str  # "write 2 (availability)" or "read 3"
    observed: Observed
    verdict: Verdict
    known: str | None  # the §2.12 item recognised, for a KNOWN verdict
    differences: tuple[tuple[str, Any, Any], ...]


@attrs.frozen
class CrashResult:
    """One crash point: the gap of the §1.4 identity after restart and cleanup (rule 4)."""

    scenario: str
    point: str  # "before write 1 (quota)" or "after the last write"
    gap: int
    violations: tuple[str, ...]

    @property
    def lost(self) -> bool:
        return self.gap > 0

    @property
    def double_counted(self) -> bool:
        return self.gap < 0


# -- running a scenario ----------------------------------------------------------------------------


class _Run:
    """A fresh implementation with the scenario's setup applied in lockstep (rule 2)."""

    def __init__(self, factory: Factory, directory: Path, scenario: Scenario, profile: Profile) -> None:
        self.node: Any = factory(directory)
        self.sync: Any = run_async(self.node)
        self.lockstep = Lockstep(self.sync, profile, compare_fields=True)
        state: AnyState = initial_state(profile, **self.lockstep.setup)
        for step, action in enumerate(scenario.setup):
            outcome = apply(state, action)
            post = outcome.state if isinstance(outcome, Accepted) else state
            mismatch = self.lockstep.check(state, action, outcome, post)
            if mismatch is not None:
                self.close()
                raise SetupDiverged(f"{scenario.name}: setup step {step} ({action.name}) diverges: {mismatch}")
            state = post
        self.pre = state
        outcome = apply(state, scenario.action)
        self.outcome = outcome
        self.post = outcome.state if isinstance(outcome, Accepted) else state

    def call(self, action: Action) -> Observed:
        """Run the target; a ``SimulatedCrash`` escapes (the caller reopens the store)."""
        return self.lockstep._call(action)

    def snapshot(self) -> Snapshot:
        taken: Snapshot = self.sync.snapshot()
        return taken

    def close(self) -> None:
        self.sync.close()


def _points(factory: Factory, directory: Path, scenario: Scenario, profile: Profile) -> tuple[list[str], int]:
    """The target's write points (labels) and read count in a clean run (rule 2)."""
    run = _Run(factory, directory, scenario, profile)
    try:
        run.node.arm()
        run.call(scenario.action)
        return run.node.write_labels(), run.node.reads()
    finally:
        run.close()


def _fresh(root: Path, counter: list[int]) -> Path:
    counter[0] += 1
    path = root / f"run-{counter[0]}"
    path.mkdir(parents=True)
    return path


# -- faults (rule 3) -------------------------------------------------------------------------------


def fault_sweep(
    factory: Factory, root: Path, scenario: Scenario, profile: Profile = Profile.CODEX_HEAD, *, reads: bool = True
) -> list[FaultResult]:
    """Fail each write point of the target in turn (and each read point, if ``reads``); judge each."""
    counter = [0]
    labels, read_count = _points(factory, _fresh(root, counter), scenario, profile)
    plans: list[tuple[str, dict[str, int]]] = [
        (f"write {k} ({label})", {"fail_write": k}) for k, label in enumerate(labels, start=1)
    ]
    if reads:
        plans += [(f"read {k}", {"fail_read": k}) for k in range(1, read_count + 1)]
    results = []
    for point, plan in plans:
        run = _Run(factory, _fresh(root, counter), scenario, profile)
        try:
            run.node.arm(**plan)
            observed = run.call(scenario.action)
            snapshot = run.snapshot()
            results.append(_judge_fault(scenario, point, run, observed, snapshot))
        finally:
            run.close()
    return results


def _judge_fault(scenario: Scenario, point: str, run: _Run, observed: Observed, snap: Snapshot) -> FaultResult:
    action = scenario.action
    baselines: list[AnyState] = [run.pre]
    if isinstance(action, DeleteInactiveReservations):
        baselines = _skipping_one(run.pre, action)
    best: tuple[tuple[str, Any, Any], ...] | None = None
    for baseline in baselines:
        differences = tuple(compare_snapshot(baseline, snap, run.lockstep.ids))
        if not differences and (isinstance(observed, Rejected) or isinstance(action, DeleteInactiveReservations)):
            return FaultResult(scenario.name, point, observed, Verdict.RESTORED, None, ())
        item = known_path(baseline, action, observed, differences)
        if item is not None:
            return FaultResult(scenario.name, point, observed, Verdict.KNOWN, item, differences)
        if best is None or len(differences) < len(best):
            best = differences
    return FaultResult(scenario.name, point, observed, Verdict.DIVERGED, None, best or ())


def _skipping_one(pre: AnyState, action: DeleteInactiveReservations) -> list[AnyState]:
    """The cleanup's acceptable end states after one failed access: every inactive reservation
    deleted except the one whose delete failed (§2.10: errors are logged, the loop continues), or
    none, when listing them failed (HEAD logs and returns early)."""
    inactive = [r for r in pre.reservations.values() if (r.request_id, r.slot_index) not in action.active_slots]
    states = []
    for skipped in inactive:
        active = {*action.active_slots, (skipped.request_id, skipped.slot_index)}
        outcome = apply(pre, DeleteInactiveReservations(active_slots=frozenset(active)))
        states.append(outcome.state if isinstance(outcome, Accepted) else pre)
    return [*states, pre]  # listing the reservations failed: nothing deleted (HEAD returns early)


def known_path(pre: Any, action: Action, observed: Observed, differences: Sequence[tuple[str, Any, Any]]) -> str | None:
    """The §2.12 item whose exact signature ``differences`` are (rule 3), or None; ``pre`` is the
    codex-head state the operation started from (the items are HEAD's)."""
    if not differences or (isinstance(observed, Ok) and not isinstance(action, DeleteInactiveReservations)):
        return None
    changed = {field: (expected, seen) for field, expected, seen in differences}
    if set(changed) == {"repo.reserved"}:
        expected, seen = changed["repo.reserved"]
        if isinstance(action, UpdateAvailability) and action.total_size is not None:
            old = pre.availabilities[action.availability_id].total_size
            if seen - expected == action.total_size - old:
                return "§2.12 item 5: updateAvailability keeps the repo delta when the write fails"
        if isinstance(action, ReturnBytesToAvailability) and action.reservation_id in pre.reservations:
            size = pre.reservations[action.reservation_id].size
            if seen - expected == action.bytes - size:
                return "§2.12 item 6: returnBytesToAvailability keeps the reserve when loading A fails"
        return None
    for availability_id, reservation in _deleted(pre, action):
        a = pre.availabilities.get(availability_id)
        if a is None:
            continue
        prefix = f"availabilities[{availability_id}]."
        allowed = {prefix + "free_size": a.free_size + reservation.size}
        collateral = getattr(action, "returned_collateral", None)
        if collateral:
            allowed[prefix + "total_remaining_collateral"] = a.total_remaining_collateral + collateral
        if set(changed) <= set(allowed) and all(changed[f][1] == allowed[f] for f in changed):
            return "§2.12 item 7: deleteReservation keeps the updated availability when the key delete fails"
    return None


def _deleted(pre: AnyState, action: Action) -> Iterable[tuple[str, Any]]:
    """The (availability id, reservation) pairs ``action`` deletes."""
    if isinstance(action, DeleteReservationHead):
        r = pre.reservations.get(action.reservation_id)
        if r is not None and r.availability_id == action.availability_id:
            yield r.availability_id, r
    elif isinstance(action, DeleteInactiveReservations):
        for r in pre.reservations.values():
            if (r.request_id, r.slot_index) not in action.active_slots:
                yield r.availability_id, r


# -- crashes (rule 4) ------------------------------------------------------------------------------


def crash_sweep(
    factory: Factory, root: Path, scenario: Scenario, profile: Profile = Profile.CODEX_HEAD
) -> list[CrashResult]:
    """Kill the process before each write point of the target, and after its last; reopen, clean up
    as a restarted node does, and measure the §1.4 identity's gap."""
    counter = [0]
    labels, _ = _points(factory, _fresh(root, counter), scenario, profile)
    points = [(f"before write {k} ({label})", k) for k, label in enumerate(labels, start=1)]
    points.append(("after the last write", len(labels) + 1))
    results = []
    for point, k in points:
        run = _Run(factory, _fresh(root, counter), scenario, profile)
        active = _active_after_restart(run.pre, scenario.action)
        node = run.node
        try:
            node.arm(crash_before_write=k)
            with contextlib.suppress(SimulatedCrash):
                run.call(scenario.action)
            run.sync.close()  # the dead process: its loop and its handle on the store
            node = node.reopen()
            restarted: Any = run_async(node)
            try:
                restarted.delete_inactive_reservations(active_slots=active)
                snap = restarted.snapshot()
            finally:
                restarted.close()
        finally:
            node.close()
        results.append(CrashResult(scenario.name, point, identity_gap(snap), _violations(profile, snap)))
    return results


def _active_after_restart(pre: AnyState, action: Action) -> frozenset[tuple[str, int]]:
    """The slots still filled on chain when the node restarts (rule 4): every reservation live
    before the operation, except the one a delete was ending; a reservation being created is not."""
    if isinstance(action, DeleteInactiveReservations):
        return action.active_slots
    ending = action.reservation_id if isinstance(action, DeleteReservationHead) else None
    return frozenset((r.request_id, r.slot_index) for r in pre.reservations.values() if r.id != ending)


def identity_gap(snap: Snapshot) -> int:
    """``reserved - (sum of free sizes + sum of reservation sizes)`` (spec §1.4; rule 4)."""
    free = sum(int(a["free_size"]) for a in (snap.availabilities or {}).values())
    held = sum(int(r["size"]) for r in (snap.reservations or {}).values())
    return int(snap.reserved or 0) - (free + held)


def _violations(profile: Profile, snap: Snapshot) -> tuple[str, ...]:
    return tuple(sorted({v.rule for v in snapshot_violations(profile, snap, checkable(profile, snap))}))


# -- the catalogue ---------------------------------------------------------------------------------


def catalogue() -> tuple[Scenario, ...]:
    """One scenario per operation of codex-head (three for PATCH: grow, shrink, other fields), each
    on a state where the operation goes through, so its every write point is reached."""
    a1 = CreateAvailabilityHead(
        availability_id="a1", total_size=200, duration=100, min_price_per_byte_per_second=1, total_collateral=1000
    )
    r1 = CreateReservationHead(
        availability_id="a1",
        reservation_id="r1",
        slot_size=50,
        request_id="q1",
        slot_index=0,
        collateral_per_byte=2,
        valid_until=50,
    )
    r2 = CreateReservationHead(
        availability_id="a1",
        reservation_id="r2",
        slot_size=30,
        request_id="q2",
        slot_index=1,
        collateral_per_byte=1,
        valid_until=60,
    )
    released = ReleaseBytes(reservation_id="r1", availability_id="a1", bytes=20)
    return (
        Scenario("create_availability", (), a1),
        Scenario("create_reservation", (a1,), r1),
        Scenario("release_bytes", (a1, r1), released),
        Scenario(
            "return_bytes_to_availability",
            (a1, r1, released),
            ReturnBytesToAvailability(availability_id="a1", reservation_id="r1", bytes=50),
        ),
        Scenario(
            "delete_reservation",
            (a1, r1, released),
            DeleteReservationHead(reservation_id="r1", availability_id="a1", returned_collateral=100),
        ),
        Scenario("update_availability (grow)", (a1, r1), UpdateAvailability(availability_id="a1", total_size=300)),
        Scenario("update_availability (shrink)", (a1, r1), UpdateAvailability(availability_id="a1", total_size=100)),
        Scenario(
            "update_availability (fields)", (a1, r1), UpdateAvailability(availability_id="a1", duration=200, until=100)
        ),
        Scenario(
            "find_availability",
            (a1,),
            FindAvailabilityHead(
                size=10, duration=10, price_per_byte_per_second=1, collateral_per_byte=1, valid_until=0
            ),
        ),
        Scenario("delete_inactive_reservations", (a1, r1, r2, released), DeleteInactiveReservations()),
        Scenario("store_block", (), StoreBlock(bytes=64)),
        Scenario("expire_block", (StoreBlock(bytes=64),), ExpireBlock(bytes=32)),
    )


# -- the findings table ----------------------------------------------------------------------------


@attrs.frozen
class Row:
    """One operation in one write mode: its points and what happened at them."""

    scenario: str
    mode: str
    writes: int
    reads: int
    faults: Mapping[str, int]  # verdict -> count (write and read faults)
    known: tuple[str, ...]
    crash_points: int
    lost: int
    double_counted: int
    worst_gap: int


def summarise(scenario: Scenario, mode: str, faults: Sequence[FaultResult], crashes: Sequence[CrashResult]) -> Row:
    counts = {v.value: sum(1 for f in faults if f.verdict is v) for v in Verdict}
    known = tuple(sorted({f.known.split(":")[0] for f in faults if f.known}))
    worst = max(crashes, key=lambda c: abs(c.gap)).gap if crashes else 0
    return Row(
        scenario=scenario.name,
        mode=mode,
        writes=sum(f.point.startswith("write") for f in faults),
        reads=sum(f.point.startswith("read") for f in faults),
        faults=counts,
        known=known,
        crash_points=len(crashes),
        lost=sum(c.lost for c in crashes),
        double_counted=sum(c.double_counted for c in crashes),
        worst_gap=worst,
    )


def render_table(rows: Sequence[Row]) -> str:
    """The Markdown table committed to docs/findings.md."""
    lines = [
        "| operation | mode | write points | read points | faults restored | faults on a known path "
        "| faults diverged | crash points | bytes lost after | double-counted after | worst gap |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        known = f"{r.faults['known']} ({', '.join(r.known)})" if r.known else str(r.faults["known"])
        lines.append(
            f"| {r.scenario} | {r.mode} | {r.writes} | {r.reads} | {r.faults['restored']} | {known} "
            f"| {r.faults['diverged']} "
            f"| {r.crash_points} | {r.lost} | {r.double_counted} | {r.worst_gap:+d} |"
        )
    return "\n".join(lines) + "\n"
