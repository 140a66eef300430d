"""The sale state machine's tables: lookups, illegal events, terminal states and endings per profile."""

from __future__ import annotations

import pytest

from model.sale import (
    ENDINGS,
    EXTERNAL,
    TABLES,
    TERMINAL,
    Collateral,
    IllegalEvent,
    SaleEvent,
    SaleState,
    Target,
    events_of,
    next_state,
    states_of,
)
from model.state import Profile

S, E = SaleState, SaleEvent
BOTH = pytest.mark.parametrize("profile", list(Profile), ids=lambda p: p.value)


def test_head_has_every_state_of_bd360322() -> None:
    """codex-head knows the fourteen states of nim-codex bd360322, in declaration order."""
    assert [s.value for s in states_of(Profile.CODEX_HEAD)] == [
        "Unknown",
        "Preparing",
        "SlotReserving",
        "Downloading",
        "InitialProving",
        "Filling",
        "Filled",
        "Proving",
        "Payout",
        "Finished",
        "Cancelled",
        "Failed",
        "Errored",
        "Ignored",
    ]


def test_535_has_no_slot_reserving() -> None:
    """codex-535 has the thirteen states of spec §3.5: no SlotReserving."""
    states = states_of(Profile.CODEX_535)
    assert S.SLOT_RESERVING not in states
    assert len(states) == 13


def test_next_state_head_preparing_paths() -> None:
    """Preparing's outcomes at HEAD: a reservation leads to SlotReserving, no match and a lost race re-queue."""
    head = Profile.CODEX_HEAD
    assert next_state(head, S.PREPARING, E.RESERVATION_CREATED) == Target(state=S.SLOT_RESERVING)
    assert next_state(head, S.PREPARING, E.NO_MATCHING_AVAILABILITY) == Target(state=S.IGNORED, reprocess=True)
    assert next_state(head, S.PREPARING, E.LOST_RESERVATION_RACE) == Target(state=S.IGNORED, reprocess=True)
    assert next_state(head, S.PREPARING, E.SLOT_NOT_FREE) == Target(state=S.IGNORED)


def test_next_state_535_preparing_goes_straight_to_downloading() -> None:
    """At 570a1f7b a reservation leads to Downloading and a lost race is an error, not an Ignored."""
    old = Profile.CODEX_535
    assert next_state(old, S.PREPARING, E.RESERVATION_CREATED) == Target(state=S.DOWNLOADING)
    assert next_state(old, S.PREPARING, E.LOST_RESERVATION_RACE) == Target(state=S.ERRORED)


def test_next_state_returns_collateral_flags_at_head() -> None:
    """SlotReserving and Filling go to Ignored(returnsCollateral) when the slot cannot be had (PR #1216)."""
    head = Profile.CODEX_HEAD
    assert next_state(head, S.SLOT_RESERVING, E.RESERVE_NOT_ALLOWED) == Target(state=S.IGNORED, returns_collateral=True)
    assert next_state(head, S.FILLING, E.SLOT_STATE_MISMATCH) == Target(state=S.IGNORED, returns_collateral=True)


def test_invalid_event_is_a_value_naming_state_and_event() -> None:
    """An event the state does not handle is ``IllegalEvent`` with the profile, state and event."""
    refused = next_state(Profile.CODEX_HEAD, S.FILLING, E.ON_SLOT_FILLED)
    assert refused == IllegalEvent(profile="codex-head", state="Filling", event="onSlotFilled")
    assert refused.kind == "IllegalEvent"


def test_invalid_event_filling_slot_filled_is_handled_at_535() -> None:
    """570a1f7b's Filling waits for onSlotFilled; HEAD's ignores it (PR #963)."""
    assert next_state(Profile.CODEX_535, S.FILLING, E.ON_SLOT_FILLED) == Target(state=S.FILLED)
    assert isinstance(next_state(Profile.CODEX_HEAD, S.FILLING, E.ON_SLOT_FILLED), IllegalEvent)


def test_next_state_uses_a_given_table() -> None:
    """``next_state`` looks up a table passed to it instead of the profile's (how variants plug in)."""
    table = {(S.ERRORED, E.ON_CANCELLED): Target(state=S.CANCELLED)}
    assert next_state(Profile.CODEX_HEAD, S.ERRORED, E.ON_CANCELLED, table) == Target(state=S.CANCELLED)
    assert isinstance(next_state(Profile.CODEX_HEAD, S.ERRORED, E.ON_CANCELLED), IllegalEvent)


@BOTH
def test_terminal_states_only_clean_up(profile: Profile) -> None:
    """Errored and Ignored handle only ``cleanup``; Finished also keeps the C/F handlers nim-codex declares."""
    table = TABLES[profile]
    assert events_of(table, S.ERRORED) == (E.CLEANUP,)
    assert events_of(table, S.IGNORED) == (E.CLEANUP,)
    assert set(events_of(table, S.FINISHED)) == {E.ON_CANCELLED, E.ON_FAILED, E.CLEANUP}
    for state in TERMINAL[profile]:
        assert next_state(profile, state, E.CLEANUP) == Target(state=state)


@BOTH
def test_every_terminal_state_has_an_ending(profile: Profile) -> None:
    """Each terminal state's cleanup is described by exactly one ending."""
    assert set(ENDINGS[profile]) == set(TERMINAL[profile])


def test_endings_head_return_written_bytes_and_pass_collateral() -> None:
    """HEAD cleanups return the written bytes; Errored never passes collateral (spec §3.3)."""
    endings = ENDINGS[Profile.CODEX_HEAD]
    assert all(e.returns_written for e in endings.values())
    assert endings[S.ERRORED].collateral is Collateral.NONE
    assert endings[S.IGNORED].collateral is Collateral.PER_SLOT_IF_RETURNS
    assert endings[S.FINISHED].collateral is Collateral.CURRENT
    assert endings[S.CANCELLED].collateral is Collateral.CURRENT_IF_HOST


def test_endings_535_consume_written_bytes() -> None:
    """570a1f7b's cleanup only deletes the reservation: no return, no collateral, no re-queue."""
    for ending in ENDINGS[Profile.CODEX_535].values():
        assert (ending.returns_written, ending.collateral, ending.requeues) == (False, Collateral.NONE, False)


@BOTH
def test_external_events_reach_every_non_terminal_state_but_failed(profile: Profile) -> None:
    """onCancelled and onFailed are declared on every state before the endings (spec §3.2, §3.5)."""
    table = TABLES[profile]
    for state in states_of(profile):
        if state in TERMINAL[profile] - {S.FINISHED} or state in (S.CANCELLED, S.FAILED):
            assert not set(events_of(table, state)) & {E.ON_CANCELLED, E.ON_FAILED}
        else:
            assert {E.ON_CANCELLED, E.ON_FAILED} <= set(events_of(table, state))
    assert {E.ON_CANCELLED, E.ON_FAILED, E.ON_SLOT_FILLED} == EXTERNAL
