"""The market of many sales: sale paths and their accounting per profile, the queue wiring, the chain, restarts."""

from __future__ import annotations

import pytest
from scenario import market_ok

from invariants import check_market, check_state
from model.actions import CreateAvailability535, CreateAvailabilityHead, ReleaseBytes, UpdateAvailability
from model.chain import RequestState, RequestTerms, SlotStatus
from model.errors import IdInUse, UnsupportedOperation
from model.market import (
    CancelRequest,
    ExpireBlocks,
    FailRequest,
    FillSlot,
    FinishRequest,
    FreeSlot,
    MarketAccepted,
    MarketAction,
    ProcessSlot,
    RequestStorage,
    Restart,
    SaleStep,
    SaveAvailability,
    apply_market,
)
from model.market_state import MarketState, NotEnabled, initial_market
from model.sale import IllegalEvent, SaleEvent, SaleState
from model.slot_queue import QueueNotReady
from model.state import Profile

E, S = SaleEvent, SaleState
HEAD, OLD = Profile.CODEX_HEAD, Profile.CODEX_535


def terms(request_id: str = "r1", slots: int = 1, slot_size: int = 2, cpb: int = 3, end: int = 40) -> RequestTerms:
    return RequestTerms(
        request_id=request_id,
        slots=slots,
        slot_size=slot_size,
        duration=5,
        price_per_byte_per_second=1,
        collateral_per_byte=cpb,
        expiry=10,
        end=end,
    )


def node(profile: Profile, size: int = 4, *, quota: int = 20, workers: int = 3, discount: int = 0) -> MarketState:
    """A node with one availability ``a1`` of ``size`` bytes and a collateral budget of 100."""
    market = initial_market(profile, quota_max_bytes=quota, max_workers=workers, repair_discount=discount)
    if profile is HEAD:
        create: object = CreateAvailabilityHead(
            availability_id="a1", total_size=size, duration=10, min_price_per_byte_per_second=1, total_collateral=100
        )
    else:
        create = CreateAvailability535(availability_id="a1", size=size, duration=10, min_price=1, max_collateral=100)
    return market_ok(market, SaveAvailability(action=create))  # type: ignore[arg-type]


def sale(event: SaleEvent, index: int = 0, number: int = 0, request_id: str = "r1", size: int = 0) -> SaleStep:
    return SaleStep(request_id=request_id, slot_index=index, number=number, event=event, bytes=size)


def to_downloading(
    profile: Profile, market: MarketState, index: int = 0, number: int = 0, request_id: str = "r1"
) -> MarketState:
    """Take the next item and run its sale to Downloading with a reservation."""
    events = [E.AVAILABILITY_FOUND, E.RESERVATION_CREATED] + ([E.RESERVE_SLOT_OK] if profile is HEAD else [])
    steps: list[MarketAction] = [ProcessSlot(), *(sale(e, index, number, request_id) for e in events)]
    return market_ok(market, *steps)


def to_proving(profile: Profile, market: MarketState, slot_size: int = 2) -> MarketState:
    market = to_downloading(profile, market)
    market = market_ok(market, sale(E.BATCH, size=slot_size), sale(E.DOWNLOADED), sale(E.PROOF_OK), sale(E.FILL_OK))
    return market_ok(market, sale(E.HOST_IS_ME))


def availability(market: MarketState) -> object:
    return market.reservations.availabilities["a1"]


def assert_clean(market: MarketState) -> None:
    """No invariant is violated other than the known nim-codex ones."""
    unknown = [v for v in check_state(market.reservations) + check_market(market) if not v.known]
    assert unknown == []


@pytest.mark.parametrize("profile", [HEAD, OLD], ids=lambda p: p.value)
def test_sale_happy_path_to_finished(profile: Profile) -> None:
    """A slot goes from queue to Finished; HEAD gets bytes and collateral back, 570a1f7b loses the written bytes."""
    market = market_ok(node(profile), RequestStorage(terms=terms()))
    market = to_proving(profile, market)
    assert market.requests["r1"].state is RequestState.STARTED
    assert market.queue.busy == 0  # onFilled freed the worker
    market = market_ok(market, FinishRequest(request_id="r1"), sale(E.SLOT_FINISHED), sale(E.PAYOUT), sale(E.CLEANUP))
    ended = market.sales[("r1", 0, 0)]
    assert ended.state is S.FINISHED
    assert ended.ended
    assert len(market.reservations.reservations) == 0
    market = market_ok(market, ExpireBlocks(request_id="r1", slot_index=0))
    a = availability(market)
    if profile is HEAD:
        assert (a.free_size, a.total_remaining_collateral) == (4, 100)  # type: ignore[attr-defined]
        assert ended.given == 6
    else:
        assert a.size == 2  # type: ignore[attr-defined]
    assert market.reservations.repo.used == 0
    assert_clean(market)


def test_sale_errored_leaks_collateral_as_a_known_violation() -> None:
    """SlotReserving -> Errored returns the bytes but no collateral: a known spec §3.3 violation."""
    market = market_ok(node(HEAD), RequestStorage(terms=terms()), ProcessSlot())
    market = market_ok(market, sale(E.AVAILABILITY_FOUND), sale(E.RESERVATION_CREATED), sale(E.MARKET_ERROR))
    market = market_ok(market, sale(E.CLEANUP))
    a = availability(market)
    assert (a.free_size, a.total_remaining_collateral) == (4, 94)  # type: ignore[attr-defined]
    found = {(v.rule, v.known) for v in check_state(market.reservations) + check_market(market)}
    assert ("collateral_conserved", "spec §3.3 collateral leak") in found
    assert ("collateral_returned_on_end", "spec §3.3: SaleErrored passes no collateral") in found
    assert_clean(market)


def test_sale_ignored_returns_collateral_per_slot() -> None:
    """SlotReserving -> Ignored(returnsCollateral) gives back exactly collateralPerSlot (PR #1216)."""
    market = market_ok(node(HEAD), RequestStorage(terms=terms()), ProcessSlot())
    market = market_ok(market, sale(E.AVAILABILITY_FOUND), sale(E.RESERVATION_CREATED), sale(E.RESERVE_NOT_ALLOWED))
    market = market_ok(market, sale(E.CLEANUP))
    assert availability(market).total_remaining_collateral == 100  # type: ignore[attr-defined]
    assert check_market(market) == []


def test_sale_cancelled_after_fill_returns_current_collateral() -> None:
    """Proving -> onCancelled (slot filled by this host, request still New) returns currentCollateral."""
    market = market_ok(node(HEAD), RequestStorage(terms=terms(slots=2)))
    market = to_proving(HEAD, market)
    market = market_ok(market, CancelRequest(request_id="r1"))
    assert market.sales[("r1", 0, 0)].state is S.CANCELLED
    market = market_ok(market, sale(E.CLEANUP))
    assert market.requests["r1"].slots[0].status is SlotStatus.WITHDRAWN
    assert availability(market).total_remaining_collateral == 100  # type: ignore[attr-defined]
    assert check_market(market) == []


def test_sale_lost_reservation_race_is_ignored_and_requeued() -> None:
    """Two agents find the same availability; the second create is refused and its slot re-queued seen (HEAD)."""
    market = market_ok(node(HEAD, size=2), RequestStorage(terms=terms(slots=2)), ProcessSlot(), ProcessSlot())
    market = market_ok(market, sale(E.AVAILABILITY_FOUND, 0), sale(E.AVAILABILITY_FOUND, 1))
    market = market_ok(market, sale(E.RESERVATION_CREATED, 0), sale(E.LOST_RESERVATION_RACE, 1), sale(E.CLEANUP, 1))
    assert market.sales[("r1", 1, 0)].state is S.IGNORED
    assert [(i.key, i.seen) for i in market.queue.items] == [(("r1", 1), True)]
    assert market.queue.busy == 1


def test_invalid_lost_race_when_the_create_succeeds() -> None:
    """An outcome the market does not allow is refused with NotEnabled and changes nothing."""
    market = market_ok(node(HEAD), RequestStorage(terms=terms()), ProcessSlot(), sale(E.AVAILABILITY_FOUND))
    refused = apply_market(market, sale(E.LOST_RESERVATION_RACE))
    assert isinstance(refused, NotEnabled)


def test_invalid_event_for_the_state_is_illegal_and_changes_nothing() -> None:
    """A run outcome of another state is ``IllegalEvent`` naming the state and the event."""
    market = market_ok(node(HEAD), RequestStorage(terms=terms()), ProcessSlot())
    assert apply_market(market, sale(E.PAYOUT)) == IllegalEvent(profile="codex-head", state="Preparing", event="payout")


def test_invalid_external_event_as_a_sale_step() -> None:
    """External events come from the chain actions, not from a sale step."""
    market = market_ok(node(HEAD), RequestStorage(terms=terms()), ProcessSlot())
    assert isinstance(apply_market(market, sale(E.ON_CANCELLED)), NotEnabled)


def test_invalid_step_of_an_unknown_or_ended_sale() -> None:
    """A sale that does not exist, or has ended, takes no more steps."""
    market = market_ok(node(HEAD), RequestStorage(terms=terms()), ProcessSlot(), sale(E.MARKET_ERROR))
    assert isinstance(apply_market(market, sale(E.CLEANUP, number=7)), NotEnabled)
    market = market_ok(market, sale(E.CLEANUP))
    assert isinstance(apply_market(market, sale(E.CLEANUP)), NotEnabled)


def test_downloading_releases_per_batch_and_repair_releases_nothing() -> None:
    """Each batch is stored then released; a repair download stores without releasing (spec §3.3)."""
    market = market_ok(node(HEAD, discount=50), RequestStorage(terms=terms()))
    market = to_downloading(HEAD, market)
    market = market_ok(market, sale(E.BATCH, size=1))
    repo = market.reservations.repo
    assert (repo.used, repo.reserved, market.reservations.reservations["r1/0/0"].size) == (1, 3, 1)
    market = market_ok(market, FillSlot(request_id="r1", slot_index=0))  # another host wins the slot
    assert market.sales[("r1", 0, 0)].state is S.FILLED
    market = market_ok(market, sale(E.HOST_IS_OTHER), sale(E.CLEANUP), FreeSlot(request_id="r1", slot_index=0))
    assert market.queue.items[0].collateral == 3  # 6 less the 50% repair discount
    market = to_downloading(HEAD, market, number=1)
    assert market.sales[("r1", 0, 1)].repairing
    market = market_ok(market, sale(E.BATCH, number=1, size=2))
    assert market.reservations.reservations["r1/0/1"].size == 2
    assert_clean(market)


def test_fill_by_another_host_starts_the_request_and_empties_its_items() -> None:
    """Filling the last slot starts the request; its items leave the queue (RequestFulfilled)."""
    market = market_ok(node(OLD), RequestStorage(terms=terms(slots=2)), FillSlot(request_id="r1", slot_index=0))
    assert [i.key for i in market.queue.items] == [("r1", 1)]
    market = market_ok(market, FillSlot(request_id="r1", slot_index=1))
    assert market.requests["r1"].state is RequestState.STARTED
    assert market.queue.items == ()


def test_invalid_request_moves() -> None:
    """The contract's rules: no finish or failure before start, no cancel after it, no duplicate request."""
    market = market_ok(node(HEAD), RequestStorage(terms=terms()))
    assert isinstance(apply_market(market, FinishRequest(request_id="r1")), NotEnabled)
    assert isinstance(apply_market(market, FailRequest(request_id="r1")), NotEnabled)
    assert apply_market(market, RequestStorage(terms=terms())) == IdInUse(entity="request", id="r1")
    started = market_ok(market, FillSlot(request_id="r1", slot_index=0))
    assert isinstance(apply_market(started, CancelRequest(request_id="r1")), NotEnabled)


def test_restart_keeps_active_reservations_with_agents_that_do_not_know_them() -> None:
    """Sales.load deletes inactive reservations and starts Unknown agents without reservation (spec §2.10)."""
    market = market_ok(node(HEAD), RequestStorage(terms=terms()), RequestStorage(terms=terms("r2", slot_size=1)))
    market = to_proving(HEAD, market)
    market = to_downloading(HEAD, market, request_id="r2")
    market = market_ok(market, sale(E.BATCH, request_id="r2", size=1), Restart())
    assert set(market.sales) == {("r1", 0, 0)}
    agent = market.sales[("r1", 0, 0)]
    assert (agent.state, agent.orphan, agent.reservation_id, agent.item) == (S.UNKNOWN, "r1/0/0", None, None)
    assert set(market.reservations.reservations) == {"r1/0/0"}
    assert dict(market.known_lost) == {"a1": 1}  # r2's written byte was never returned
    assert market.queue.items == ()
    assert market.queue.paused
    market = market_ok(market, sale(E.SLOT_IS_FILLED), sale(E.HOST_IS_ME), FinishRequest(request_id="r1"))
    market = market_ok(market, sale(E.SLOT_FINISHED), sale(E.PAYOUT), sale(E.CLEANUP))
    found = {(v.rule, v.known) for v in check_market(market)}
    assert ("terminal_sale_holds_no_reservation", "spec §3.4: a restart agent carries no reservation") in found


def test_restart_agent_of_a_cancelled_request_gets_on_cancelled_at_535() -> None:
    """At 570a1f7b the watcher fires onCancelled for an agent that subscribes after the cancellation."""
    market = market_ok(node(OLD), RequestStorage(terms=terms(slots=2)))
    market = to_downloading(OLD, market)
    market = market_ok(market, sale(E.BATCH, size=2), sale(E.DOWNLOADED), sale(E.PROOF_OK), sale(E.FILL_OK))
    market = market_ok(market, sale(E.HOST_IS_ME), Restart(), CancelRequest(request_id="r1"))
    assert market.sales[("r1", 0, 0)].state is S.CANCELLED  # delivered at the cancellation
    market = market_ok(market, Restart(), sale(E.SLOT_IS_FILLED))
    assert market.sales[("r1", 0, 0)].state is S.CANCELLED


def test_on_availability_saved_unpauses_the_queue() -> None:
    """A seen item pauses the queue; saving an enabled availability clears the flags and unpauses (HEAD)."""
    market = market_ok(node(HEAD, size=0), RequestStorage(terms=terms()), ProcessSlot())
    market = market_ok(market, sale(E.NO_MATCHING_AVAILABILITY), sale(E.CLEANUP), ProcessSlot())
    assert market.queue.paused
    assert market.queue.items[0].seen
    assert apply_market(market, ProcessSlot()) == QueueNotReady(reason="paused")
    disabled = market_ok(
        market, SaveAvailability(action=UpdateAvailability(availability_id="a1", duration=11, enabled=False))
    )
    assert disabled.queue.paused
    grown = market_ok(market, SaveAvailability(action=UpdateAvailability(availability_id="a1", duration=11)))
    assert not grown.queue.paused
    assert not grown.queue.items[0].seen


def test_535_new_availability_pushes_slots_of_new_requests() -> None:
    """570a1f7b's onAvailabilityAdded re-pushes the slots of requests still New, filled ones included."""
    market = market_ok(node(OLD, size=0), RequestStorage(terms=terms(slots=2)), FillSlot(request_id="r1", slot_index=0))
    create = CreateAvailability535(availability_id="a2", size=2, duration=10, min_price=1, max_collateral=100)
    market = market_ok(market, SaveAvailability(action=create))
    assert sorted(i.key for i in market.queue.items) == [("r1", 0), ("r1", 1)]
    market = market_ok(market, ProcessSlot(), sale(E.SLOT_NOT_FREE))
    assert market.sales[("r1", 0, 0)].state is S.IGNORED


def test_cleanup_without_headroom_loses_written_bytes_knowingly() -> None:
    """When the repo cannot re-reserve the written bytes, they are lost to the availability (known, spec §3.3)."""
    market = market_ok(node(HEAD, size=1, quota=2), RequestStorage(terms=terms(slot_size=1)))
    market = market_ok(to_downloading(HEAD, market), sale(E.BATCH, size=1))
    create = CreateAvailabilityHead(
        availability_id="a2", total_size=1, duration=10, min_price_per_byte_per_second=1, total_collateral=1
    )
    pre = market_ok(market, SaveAvailability(action=create), sale(E.DOWNLOAD_FAILED))
    outcome = apply_market(pre, sale(E.CLEANUP))
    assert isinstance(outcome, MarketAccepted)
    assert type(outcome.steps[0].outcome).__name__ == "ReserveFailed"
    assert dict(outcome.state.known_lost) == {"a1": 1}
    from invariants import check_market_transition

    found = {(v.rule, v.known) for v in check_market_transition(pre, sale(E.CLEANUP), outcome)}
    assert found == {
        ("cleanup_restores_free_size", "spec §3.3: written bytes lost when the repo has no headroom to re-reserve them")
    }


def test_invalid_market_actions() -> None:
    """Only availability creates and PATCHes are saved through the market; unknown actions are unsupported."""
    market = node(HEAD)
    release = ReleaseBytes(reservation_id="x", availability_id="a1", bytes=1)
    assert isinstance(apply_market(market, SaveAvailability(action=release)), UnsupportedOperation)
    assert isinstance(apply_market(market, MarketAction()), UnsupportedOperation)
    assert isinstance(apply_market(market, ExpireBlocks(request_id="r1", slot_index=0)), NotEnabled)
    assert isinstance(apply_market(market, FillSlot(request_id="nope", slot_index=0)), NotEnabled)
    assert isinstance(apply_market(market, FreeSlot(request_id="nope", slot_index=0)), NotEnabled)


def test_failed_frees_this_hosts_slot_then_errors_at_head() -> None:
    """HEAD's SaleFailed calls freeSlot (the slot is withdrawn), then raises into Errored (nim-codex#556)."""
    market = market_ok(node(HEAD), RequestStorage(terms=terms()))
    market = market_ok(to_proving(HEAD, market), FailRequest(request_id="r1"))
    assert market.sales[("r1", 0, 0)].state is S.FAILED
    market = market_ok(market, sale(E.RAISE), sale(E.CLEANUP))
    assert market.requests["r1"].slots[0].status is SlotStatus.WITHDRAWN
    assert market.sales[("r1", 0, 0)].state is S.ERRORED
