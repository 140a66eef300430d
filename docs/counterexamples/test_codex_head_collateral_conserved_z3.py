"""Regression test: codex-head reservations, rule collateral_conserved (found by z3).

After `update_availability` (step 3) availability a1's remaining collateral plus what its
reservations took is 1 where its total collateral is 0 (known: nim-codex#1147)

Rule collateral_conserved: An availability's remaining collateral plus what its live reservations
took equals its total collateral. (spec §6 INV-10, §3.3)
Known nim-codex behaviour: nim-codex#1147.
Reproduces the counterexample codex-head-collateral-conserved-z3 in 3 step(s); its violation must
appear after step 3.
Regenerate with (one command):
    sales-model report --format pytest codex-head-collateral-conserved-z3.itf.json
"""

from __future__ import annotations

from model.actions import CreateAvailabilityHead, CreateReservationHead, UpdateAvailability
from model.state import Profile, initial_state
from reports.build import run_steps

PROFILE = Profile.CODEX_HEAD
RULE = "collateral_conserved"
FAILING_STEP = 3
START = initial_state(PROFILE, quota_max_bytes=4)
ACTIONS = [
    CreateAvailabilityHead(
        availability_id="a1", total_size=1, duration=2, min_price_per_byte_per_second=1, total_collateral=1
    ),
    CreateReservationHead(
        availability_id="a1",
        reservation_id="r11",
        slot_size=1,
        request_id="q11",
        slot_index=11,
        collateral_per_byte=1,
        valid_until=1,
    ),
    UpdateAvailability(availability_id="a1", total_collateral=0),
]
OUTCOMES = ["accepted", "accepted", "accepted"]


def test_reproduces_collateral_conserved() -> None:
    steps = run_steps(START, ACTIONS)
    assert [step.outcome for step in steps] == OUTCOMES
    found = [v for v in steps[FAILING_STEP - 1].violations if v.rule == RULE]
    assert found, f"{RULE} is not violated after step {FAILING_STEP}"
    assert {v.known for v in found} == {"nim-codex#1147"}
