"""``reports.restore``: snapshots of states reached by real actions restore to the same states."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from test_itf import BROKEN, HEAD_1147, MARKET_ERRORED, OLD_QUERIES, TERMS

from model.actions import Accepted, CreateAvailability535, apply
from model.market import MarketAccepted, ProcessSlot, RequestStorage, SaleStep, SaveAvailability, apply_market
from model.sale import SaleEvent
from model.state import Profile
from reports.build import start_state
from reports.counterexample import Rec, snapshot
from reports.restore import restore
from reports.vocabulary import VocabularyError

HEAD, OLD = Profile.CODEX_HEAD, Profile.CODEX_535


def _old_sale(event: SaleEvent, size: int = 0) -> SaleStep:
    return SaleStep(request_id="r1", slot_index=0, event=event, bytes=size)


OLD_MARKET = [
    SaveAvailability(
        action=CreateAvailability535(availability_id="a1", size=4, duration=10, min_price=1, max_collateral=100)
    ),
    RequestStorage(terms=TERMS),
    ProcessSlot(),
    _old_sale(SaleEvent.AVAILABILITY_FOUND),
    _old_sale(SaleEvent.RESERVATION_CREATED),
    _old_sale(SaleEvent.BATCH, 2),
    _old_sale(SaleEvent.DOWNLOADED),
]


def _states(profile: Profile, level: str, actions: Sequence[Any], setup: dict[str, int]) -> list[Any]:
    state: Any = start_state(profile, level, setup)
    reached = [state]
    for action in actions:
        outcome: Any = apply_market(state, action) if level == "market" else apply(state, action)
        if isinstance(outcome, Accepted | MarketAccepted):
            state = outcome.state
            reached.append(state)
    return reached


CASES = {
    "head-reservations": (HEAD, "reservations", HEAD_1147, {"quota_max_bytes": 1000}),
    "535-reservations": (OLD, "reservations", [*OLD_QUERIES, *BROKEN[1:]], {"quota_max_bytes": 1000}),
    "head-market": (HEAD, "market", MARKET_ERRORED, {"quota_max_bytes": 20}),
    "535-market": (OLD, "market", OLD_MARKET, {"quota_max_bytes": 20, "max_workers": 2}),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_restore_inverts_snapshot(case: str) -> None:
    profile, level, actions, setup = CASES[case]
    states = _states(profile, level, actions, setup)
    assert len(states) > 3
    for state in states:
        assert restore(profile, level, snapshot(state)) == state
        assert restore(profile.value, level, snapshot(state)) == state


def test_market_states_carry_sales_queue_items_and_blocks() -> None:
    """The market cases do exercise the interesting fields."""
    head = _states(*CASES["head-market"])
    assert any(s.sales and s.queue.items for s in head)
    old = _states(*CASES["535-market"])
    assert any(s.blocks for s in old)
    assert any(s.reservations.reservations for s in old)


def test_restored_types() -> None:
    state = _states(*CASES["head-market"])[-1]
    restored: Any = restore(HEAD, "market", snapshot(state))
    sale = next(iter(restored.sales.values()))
    assert type(sale.state).__name__ == "SaleState"
    assert isinstance(next(iter(restored.sales)), tuple)
    assert type(restored.reservations.repo).__name__ == "RepoQuota"
    assert restored.reservations.profile is HEAD


def test_plain_dicts_are_records_too() -> None:
    state = _states(*CASES["head-reservations"])[2]

    def plain(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        return value

    assert restore(HEAD, "reservations", plain(snapshot(state))) == state


def _bad(profile: Profile, level: str, snap: Any) -> str:
    with pytest.raises(VocabularyError) as caught:
        restore(profile, level, snap)
    return str(caught.value)


def test_bad_values_name_the_path() -> None:
    state = _states(*CASES["head-reservations"])[2]
    snap = snapshot(state)
    snap["availabilities"]["a1"] = Rec(snap["availabilities"]["a1"], free_size="many")
    assert _bad(HEAD, "reservations", snap) == "availabilities[a1].free_size: expected an integer, got 'many'"
    snap = snapshot(state)
    del snap["repo"]["used"]
    assert _bad(HEAD, "reservations", snap) == "repo.used: expected the field used of RepoQuota, got nothing"
    snap = snapshot(state)
    snap["repo"]["extra"] = 1
    assert _bad(HEAD, "reservations", snap).startswith("repo.extra: expected a field of RepoQuota")
    assert _bad(HEAD, "reservations", snapshot(state) | {"profile": "codex-9"}).startswith(
        "profile: expected one of codex-535, codex-head"
    )
    # a codex-head availability does not restore as a codex-535 state (the profile picks the records)
    assert "profile" in _bad(OLD, "reservations", snapshot(state)) or "availabilities" in _bad(
        OLD, "reservations", snapshot(state)
    )
    snap = snapshot(state)
    snap["repo"] = Rec(snap["repo"], used=-1)
    assert _bad(HEAD, "reservations", snap).startswith("repo: expected a valid RepoQuota")


def test_bad_market_values() -> None:
    state = _states(*CASES["head-market"])[-1]
    snap = snapshot(state)
    key = next(iter(snap["sales"]))
    snap["sales"][key] = Rec(snap["sales"][key], state="Dancing")
    assert _bad(HEAD, "market", snap).startswith("sales[r1,0,0].state: expected one of Unknown, Preparing")
    assert _bad(HEAD, "nowhere", snap) == "level: expected reservations or market, got 'nowhere'"
