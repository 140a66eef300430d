"""The pure, synchronous reference model of nim-codex's Reservations module and repo quota.

Two profiles, ``codex-535`` (PR #535, 570a1f7b) and ``codex-head`` (bd360322), selected by
the ``Profile`` value a state carries. No I/O, clock, randomness, z3 or hypothesis here.
"""

from model.actions import OPERATIONS, Accepted, Action, Outcome, apply
from model.errors import Rejection
from model.state import AnyState, Profile, ReservationsState, initial_state

__all__ = [
    "OPERATIONS",
    "Accepted",
    "Action",
    "AnyState",
    "Outcome",
    "Profile",
    "Rejection",
    "ReservationsState",
    "apply",
    "initial_state",
]
