"""Lockstep testing: the model passes against itself, every broken variant is found with a 1-minimal program,
ids and crashes are data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from model.actions import (
    Action,
    CreateAvailabilityHead,
    CreateReservationHead,
    DeleteReservationHead,
    FindAvailabilityHead,
    ReleaseBytes,
    StoreBlock,
    UpdateAvailability,
)
from model.state import Profile
from oracle.adapters import AsyncModelImplementation, ModelImplementation, broken_adapters
from oracle.interface import (
    IdConflict,
    IdMap,
    Implementation,
    Ok,
    Rejected,
    Snapshot,
    UnknownId,
    observe,
    run_async,
)
from oracle.lockstep import (
    SNAPSHOT_INVARIANTS,
    Divergence,
    checkable,
    lockstep_machine,
    minimise_divergence,
    replay,
)
from oracle.minimise import minimise
from reports.counterexample import Counterexample
from variants.broken import VARIANTS

SELF_TEST = settings(max_examples=40, stateful_step_count=30, derandomize=True, database=None, deadline=None)
#: Finding a variant: generation only (shrinking a 40-step program costs far more than finding it).
HUNT = settings(
    max_examples=400,
    stateful_step_count=40,
    derandomize=True,
    database=None,
    deadline=None,
    phases=[Phase.generate],
    report_multiple_bugs=False,
)
CASES = [(v.name, p) for v in VARIANTS for p in sorted(v.profiles, key=lambda p: p.value)]


def hunt(factory: Any, profile: Profile, **options: Any) -> Divergence:
    machine = lockstep_machine(factory, profile, **options)
    with pytest.raises(Divergence) as caught:
        run_state_machine_as_test(machine, settings=HUNT)
    return caught.value


def fails_like(cx: Counterexample, factory: Any, profile: Profile, program: list[Action], **options: Any) -> bool:
    """Whether a lockstep replay of ``program`` diverges with ``cx``'s rule on one of its fields
    (written here from the report, not with the minimiser's own predicate)."""
    found = replay(factory, profile, program, **options).mismatch
    return (
        found is not None
        and found.rule == cx.rule
        and bool({field for field, _, _ in found.differences} & {side.field for side in cx.sides})
    )


def assert_one_minimal(divergence: Divergence, factory: Any, profile: Profile, **options: Any) -> None:
    """The divergence's program replays it, and removing any one step makes it pass or fail otherwise."""
    cx, program = divergence.counterexample, list(divergence.program)
    assert fails_like(cx, factory, profile, program, **options)
    for position in range(len(program)):
        shorter = program[:position] + program[position + 1 :]
        assert not fails_like(cx, factory, profile, shorter, **options), f"step {position} can go"


@pytest.mark.parametrize("profile", list(Profile), ids=lambda p: p.value)
def test_model_passes_lockstep_against_itself(profile: Profile) -> None:
    machine = lockstep_machine(lambda: ModelImplementation(profile), profile, compare_fields=True)
    run_state_machine_as_test(machine, settings=SELF_TEST)


@pytest.mark.parametrize("profile", list(Profile), ids=lambda p: p.value)
def test_async_model_passes_lockstep_through_run_async(profile: Profile) -> None:
    machine = lockstep_machine(lambda: run_async(AsyncModelImplementation(profile)), profile, compare_fields=True)
    run_state_machine_as_test(machine, settings=SELF_TEST)


def test_every_variant_applies_somewhere() -> None:
    assert len(CASES) == 20
    assert {name for name, _ in CASES} == {v.name for v in VARIANTS}
    for profile in Profile:
        assert set(broken_adapters(profile)) == {v.name for v in VARIANTS if profile in v.profiles}


@pytest.mark.parametrize(("name", "profile"), CASES, ids=[f"{n}-{p.value}" for n, p in CASES])
def test_lockstep_finds_broken_variant(name: str, profile: Profile) -> None:
    divergence = hunt(broken_adapters(profile)[name], profile, compare_fields=True)
    cx = divergence.counterexample
    assert cx.engine == "oracle"
    assert cx.kind == "divergence"
    assert cx.rule.startswith("lockstep:")
    assert cx.profile == profile.value
    assert cx.sides
    side = cx.sides[0]
    assert side.expected != side.observed
    assert side.step == len(cx.steps) - 1  # the steps replayed on the model end at the diverging one
    assert f"implementation: {name}" in cx.notes
    assert str(side.field) in str(divergence)
    assert any(note.startswith("shrunk from ") for note in cx.notes)
    assert len(cx.steps) == len(divergence.program)  # every broken variant's program uses profile actions
    assert_one_minimal(divergence, broken_adapters(profile)[name], profile, compare_fields=True)


def test_ids_differ_between_model_and_implementation() -> None:
    impl = ModelImplementation(Profile.CODEX_HEAD)
    created = impl.create_availability(
        total_size=10, duration=1, min_price_per_byte_per_second=1, total_collateral=10, enabled=True, until=0
    )
    assert created == Ok("impl-1")
    reservation = impl.create_reservation(
        availability_id="impl-1", slot_size=4, request_id="q", slot_index=0, collateral_per_byte=1, valid_until=5
    )
    assert reservation == Ok("impl-2")
    assert impl.find_availability(
        size=1, duration=1, price_per_byte_per_second=1, collateral_per_byte=0, valid_until=0
    ) == Ok("impl-1")
    assert impl.release_bytes(reservation_id="impl-2", availability_id="impl-1", bytes=9) == Rejected(
        "BytesOutOfBounds"
    )
    snap = impl.snapshot()
    assert snap.reserved == 10
    assert snap.availabilities is not None
    assert snap.availabilities["impl-1"]["free_size"] == 6
    assert isinstance(impl, Implementation)


def test_idmap_maps_both_ways_and_rejects_unknown_ids() -> None:
    ids = IdMap()
    ids.record("a1", "impl-7")
    ids.record("a1", "impl-7")  # recording the same pair again is harmless
    assert ids.to_impl("a1") == "impl-7"
    assert ids.to_model("impl-7") == "a1"
    assert len(ids) == 1
    with pytest.raises(UnknownId, match="'a2'"):
        ids.to_impl("a2")
    with pytest.raises(UnknownId, match="'impl-1'"):
        ids.to_model("impl-1")
    with pytest.raises(IdConflict):
        ids.record("a2", "impl-7")
    with pytest.raises(IdConflict):
        ids.record("a1", "impl-8")


class Crashing(ModelImplementation):
    """Raises on the first ``release_bytes`` (an implementation's bug, not the harness's)."""

    def release_bytes(self, **kwargs: Any) -> Any:
        raise ZeroDivisionError("planted")


def test_an_exception_is_observed_as_a_crash() -> None:
    def boom() -> Any:
        raise KeyError("x")

    assert observe(boom) == Rejected("Crash:KeyError")
    assert observe(lambda: 3) == Rejected("Crash:NotAnOutcome(int)")


@pytest.mark.parametrize("profile", list(Profile), ids=lambda p: p.value)
def test_a_crashing_implementation_is_a_divergence(profile: Profile) -> None:
    divergence = hunt(lambda: Crashing(profile, name="crashing"), profile)
    cx = divergence.counterexample
    assert cx.rule == "lockstep:outcome"
    assert cx.steps[-1].action == "release_bytes"
    assert [(s.field, s.expected, s.observed) for s in cx.sides] == [
        ("outcome", cx.steps[-1].outcome, "Crash:ZeroDivisionError")
    ]


class Blind(ModelImplementation):
    """Shows only the repo counters: the oracle checks what is shown and nothing else."""

    def snapshot(self) -> Snapshot:
        full = super().snapshot()
        return Snapshot(max_bytes=full.max_bytes, used=full.used, reserved=full.reserved)


def test_a_partial_snapshot_is_compared_where_shown() -> None:
    machine = lockstep_machine(lambda: Blind(Profile.CODEX_HEAD), Profile.CODEX_HEAD, compare_fields=True)
    run_state_machine_as_test(machine, settings=SELF_TEST)
    assert checkable(Profile.CODEX_HEAD, Snapshot(max_bytes=1, used=0, reserved=0)) == ("repo_within_quota",)
    assert "repo_reserved_identity" in SNAPSHOT_INVARIANTS[Profile.CODEX_535]


def test_invariants_on_the_snapshot_find_a_variant_without_field_comparison() -> None:
    factory = broken_adapters(Profile.CODEX_HEAD)["release_keeps_repo_reserved"]
    cx = hunt(factory, Profile.CODEX_HEAD).counterexample
    assert cx.rule == "lockstep:repo_reserved_identity"
    assert cx.statement.startswith("The repo's reserved counter")


def test_profile_mismatch_is_refused() -> None:
    machine = lockstep_machine(lambda: ModelImplementation(Profile.CODEX_535), Profile.CODEX_HEAD)
    with pytest.raises(ValueError, match="declares profile"):
        machine()


def test_report_dir_gets_three_renderings(tmp_path: Path) -> None:
    factory = broken_adapters(Profile.CODEX_535)["quota_check_off_by_one"]
    divergence = hunt(factory, Profile.CODEX_535, compare_fields=True, report_dir=tmp_path)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert len(names) == 3
    assert sorted(p.name for p in divergence.written) == names
    stem = divergence.counterexample.slug()
    assert names == sorted([f"{stem}.itf.json", f"{stem}.md", f"test_{stem.replace('-', '_')}.py"])
    markdown = (tmp_path / f"{stem}.md").read_text(encoding="utf-8")
    assert "oracle" in markdown
    assert "shrunk from " in markdown  # the files describe the minimised program
    assert len(divergence.counterexample.steps) == len(divergence.program)


def test_minimise_finds_the_two_items_that_fail_together() -> None:
    """ddmin then one-by-one removal keeps exactly the items the failure needs, in order."""
    calls: list[list[int]] = []

    def fails(chosen: list[int]) -> bool:
        calls.append(chosen)
        return {3, 11} <= set(chosen)

    assert minimise(list(range(20)), fails) == [3, 11]
    assert len(calls) == len({tuple(c) for c in calls})  # no candidate is asked twice
    assert minimise([7], fails) == [7]


A1 = CreateAvailabilityHead(
    availability_id="a1", total_size=40, duration=5, min_price_per_byte_per_second=1, total_collateral=400
)
R2 = CreateReservationHead(
    availability_id="a1",
    reservation_id="r2",
    slot_size=10,
    request_id="req-a",
    slot_index=0,
    collateral_per_byte=1,
    valid_until=9,
)
DELETE_R2 = DeleteReservationHead(reservation_id="r2", availability_id="a1")


def noise(index: int) -> list[Action]:
    """Steps the variant ``delete_keeps_bytes`` does not care about: other entities, queries, blocks."""
    availability, reservation = f"a{10 + 2 * index}", f"r{11 + 2 * index}"
    return [
        CreateAvailabilityHead(
            availability_id=availability,
            total_size=20,
            duration=3,
            min_price_per_byte_per_second=2,
            total_collateral=50,
            enabled=index % 2 == 0,
        ),
        FindAvailabilityHead(size=5, duration=1, price_per_byte_per_second=3, collateral_per_byte=0, valid_until=index),
        CreateReservationHead(
            availability_id=availability,
            reservation_id=reservation,
            slot_size=4,
            request_id=f"req-{index}",
            slot_index=index,
            collateral_per_byte=1,
            valid_until=20,
        ),
        ReleaseBytes(reservation_id=reservation, availability_id=availability, bytes=1),
        UpdateAvailability(availability_id=availability, duration=7),
        StoreBlock(bytes=2),
    ]


def test_minimise_divergence_cuts_a_long_program_to_its_core() -> None:
    """A 39-step program whose only relevant steps are create, reserve, delete shrinks to those three."""
    factory = broken_adapters(Profile.CODEX_HEAD)["delete_keeps_bytes"]
    program = [*noise(0), A1, *noise(1), *noise(2), R2, *noise(3), *noise(4), *noise(5), DELETE_R2]
    assert len(program) == 39
    full = replay(factory, Profile.CODEX_HEAD, program, compare_fields=True)
    assert full.mismatch is not None
    assert full.program == tuple(program)  # it diverges at the last step, not before
    smallest = minimise_divergence(factory, Profile.CODEX_HEAD, program, compare_fields=True)
    assert smallest.program == (A1, R2, DELETE_R2)
    assert smallest.mismatch is not None
    assert full.mismatch.same_way(smallest.mismatch)
    assert "availabilities[a1].free_size" in smallest.mismatch.fields


def test_minimise_divergence_reuses_a_known_core_within_the_program() -> None:
    """A core found before, lying within a new program and still 1-minimal for it, is returned as is."""
    factory = broken_adapters(Profile.CODEX_HEAD)["delete_keeps_bytes"]
    core = minimise_divergence(factory, Profile.CODEX_HEAD, [A1, *noise(0), R2, DELETE_R2], compare_fields=True)
    other = [*noise(1), A1, R2, *noise(2), DELETE_R2]
    assert minimise_divergence(factory, Profile.CODEX_HEAD, other, compare_fields=True, known=[core]) is core
    unrelated = [A1, R2, ReleaseBytes(reservation_id="r2", availability_id="a1", bytes=2)]
    assert minimise_divergence(factory, Profile.CODEX_HEAD, unrelated, known=[core]).mismatch is None


def test_minimise_keeps_a_step_on_an_id_it_never_created() -> None:
    """A dropped create leaves its id dangling: it is sent as ``absent_id``, so one crashing step suffices."""
    program: list[Action] = [A1, R2, ReleaseBytes(reservation_id="r2", availability_id="a1", bytes=3)]
    smallest = minimise_divergence(lambda: Crashing(Profile.CODEX_HEAD), Profile.CODEX_HEAD, program)
    assert smallest.program == (program[-1],)
    assert smallest.mismatch is not None
    assert smallest.mismatch.differences == (("outcome", "NotExists", "Crash:ZeroDivisionError"),)
    assert smallest.ids == ()


def test_minimise_off_reports_the_program_as_found() -> None:
    """With ``minimise=False`` the counterexample is the whole program the machine ran."""
    factory = broken_adapters(Profile.CODEX_535)["release_keeps_repo_reserved"]
    divergence = hunt(factory, Profile.CODEX_535, compare_fields=True, minimise=False)
    assert not any(note.startswith("shrunk") for note in divergence.counterexample.notes)
    assert len(divergence.counterexample.steps) > 3
