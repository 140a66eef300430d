"""Regression test: codex-head market, rule collateral_returned_on_end (found by exhaustive).

`sale_step[cleanup]` (step 8) ended sale ('r1', 0, 0) in Errored giving back 0 collateral where its
reservation took 2 (known: spec §3.3: SaleErrored passes no collateral)

Rule collateral_returned_on_end: A sale that ended gave back exactly the collateral its reservation
took. (spec §3.3, §6 INV-10)
Known nim-codex behaviour: spec §3.3: SaleErrored passes no collateral.
Reproduces the counterexample codex-head-collateral-returned-on-end-exhaustive in 8 step(s); its
violation must appear after step 8.
Regenerate with (one command):
    sales-model report --format pytest codex-head-collateral-returned-on-end-exhaustive.itf.json
"""

from __future__ import annotations

from model.actions import CreateAvailabilityHead
from model.chain import RequestTerms
from model.market import ProcessSlot, RequestStorage, SaleStep, SaveAvailability
from model.market_state import initial_market
from model.sale import SaleEvent
from model.state import Profile
from reports.build import run_steps

PROFILE = Profile.CODEX_HEAD
RULE = "collateral_returned_on_end"
FAILING_STEP = 8
START = initial_market(PROFILE, quota_max_bytes=4, max_size=2, max_workers=1, repair_discount=0)
ACTIONS = [
    SaveAvailability(
        action=CreateAvailabilityHead(
            availability_id="a1", total_size=0, duration=10, min_price_per_byte_per_second=1, total_collateral=1000
        )
    ),
    SaveAvailability(
        action=CreateAvailabilityHead(
            availability_id="a2", total_size=2, duration=10, min_price_per_byte_per_second=1, total_collateral=1000
        )
    ),
    RequestStorage(
        terms=RequestTerms(
            request_id="r1",
            slots=1,
            slot_size=2,
            duration=5,
            price_per_byte_per_second=1,
            collateral_per_byte=1,
            expiry=10,
            end=30,
        )
    ),
    ProcessSlot(),
    SaleStep(request_id="r1", slot_index=0, event=SaleEvent.AVAILABILITY_FOUND),
    SaleStep(request_id="r1", slot_index=0, event=SaleEvent.RESERVATION_CREATED),
    SaleStep(request_id="r1", slot_index=0, event=SaleEvent.MARKET_ERROR),
    SaleStep(request_id="r1", slot_index=0, event=SaleEvent.CLEANUP),
]
OUTCOMES = ["accepted", "accepted", "accepted", "accepted", "accepted", "accepted", "accepted", "accepted"]


def test_reproduces_collateral_returned_on_end() -> None:
    steps = run_steps(START, ACTIONS)
    assert [step.outcome for step in steps] == OUTCOMES
    found = [v for v in steps[FAILING_STEP - 1].violations if v.rule == RULE]
    assert found, f"{RULE} is not violated after step {FAILING_STEP}"
    assert {v.known for v in found} == {"spec §3.3: SaleErrored passes no collateral"}
