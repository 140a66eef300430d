"""The stateful machines of both profiles, run under the active Hypothesis profile."""

from __future__ import annotations

from model.state import Profile
from stateful_tests.machines import reservations_machine

TestReservations535Machine = reservations_machine(Profile.CODEX_535).TestCase
TestReservationsHeadMachine = reservations_machine(Profile.CODEX_HEAD).TestCase
