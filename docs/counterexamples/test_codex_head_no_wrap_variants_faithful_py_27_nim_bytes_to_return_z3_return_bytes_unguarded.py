"""Regression test: codex-head reservations, rule no_wrap:variants/faithful.py:27 nim_bytes_to_return
(found by z3, variant return_bytes_unguarded).

`return_bytes_to_availability` (step 3) with availability_id=a1, bytes=0, reservation_id=r11 leaves
the range of `to_return = bytes - reservation.size` at variants/faithful.py:27 nim_bytes_to_return
(known: return_bytes_unguarded: spec §2.6 step 2, §2.12 item 1)

Rule no_wrap:variants/faithful.py:27 nim_bytes_to_return: `to_return = bytes - reservation.size
(size)` never leaves its range. (spec §2.6 step 2, §2.12 item 1)
Known nim-codex behaviour: return_bytes_unguarded: spec §2.6 step 2, §2.12 item 1.
Reproduces the counterexample
codex-head-no-wrap-variants-faithful-py-27-nim-bytes-to-return-z3-return-bytes-unguarded in 3
step(s); no step violates it.
Regenerate with (one command):
    sales-model report --format pytest
        codex-head-no-wrap-variants-faithful-py-27-nim-bytes-to-return-z3-return-bytes-unguarded.itf.json
"""

from __future__ import annotations

from invariants.symbolic.replay import concrete_wraps
from model.actions import CreateAvailabilityHead, CreateReservationHead, ReturnBytesToAvailability, apply
from model.state import Profile, initial_state
from reports.build import run_steps
from variants.faithful import FAITHFUL

PROFILE = Profile.CODEX_HEAD
RULE = "no_wrap:variants/faithful.py:27 nim_bytes_to_return"
OPERATIONS = {f.name: f for f in FAITHFUL}["return_bytes_unguarded"].table
START = initial_state(PROFILE, quota_max_bytes=4)
ACTIONS = [
    CreateAvailabilityHead(
        availability_id="a1", total_size=1, duration=2, min_price_per_byte_per_second=1, total_collateral=0
    ),
    CreateReservationHead(
        availability_id="a1",
        reservation_id="r11",
        slot_size=1,
        request_id="q11",
        slot_index=11,
        collateral_per_byte=0,
        valid_until=1,
    ),
    ReturnBytesToAvailability(availability_id="a1", reservation_id="r11", bytes=0),
]
OUTCOMES = ["accepted", "accepted", "ReserveFailed"]
SITE = "variants/faithful.py:27 nim_bytes_to_return"


def test_reproduces_no_wrap_variants_faithful_py_27_nim_bytes_to_return() -> None:
    steps = run_steps(START, ACTIONS, operations=OPERATIONS)
    assert [step.outcome for step in steps] == OUTCOMES
    state = START
    for action in ACTIONS[:-1]:
        state = apply(state, action, OPERATIONS).state
    wraps = [w.text for w in concrete_wraps(state, ACTIONS[-1], OPERATIONS) if w.site == SITE]
    assert wraps, f"{SITE} does not wrap at the last step"
