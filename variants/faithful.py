"""nim-codex's own code where the model deliberately departs from it: run to show why.

The model refuses where nim-codex wraps (spec §2.12). These variants put nim-codex's
arithmetic back, exactly as written at bd360322, so the proofs can refute it with a
minimal counterexample (docs/findings.md). They are not broken *models*: they are the
implementation's behaviour, kept apart from the reference.
"""

from __future__ import annotations

import functools

import attrs

from model import codex_head
from model.actions import OperationTable, ReturnBytesToAvailability, with_operation
from model.entities import ReservationHead
from model.state import Profile


def nim_bytes_to_return(reservation: ReservationHead, bytes: int) -> int:
    """Step 2 of ``returnBytesToAvailability`` as nim-codex writes it: ``bytes - r.size`` in uint64.

    Nim's unsigned subtraction is modulo ``2**64``: when ``r.size > bytes`` the result wraps to
    nearly ``2**64``, which the next step's ``repo.reserve`` then refuses (spec §2.6 step 2).
    """
    to_return = bytes - reservation.size
    if to_return < 0:  # uint64 arithmetic: modulo 2**64
        to_return += 1 << 64
    return to_return


@attrs.frozen(kw_only=True)
class Faithful:
    """An operation as nim-codex writes it, and the proof obligation it is expected to fail."""

    name: str
    summary: str
    spec: str
    profile: Profile
    operation: str
    expected_refutation: str  # the source line whose no-wrap obligation must be refuted
    table: OperationTable


RETURN_BYTES_UNGUARDED = Faithful(
    name="return_bytes_unguarded",
    summary="returnBytesToAvailability computes bytes - reservation.size with no guard (uint64 wrap)",
    spec="§2.6 step 2, §2.12 item 1",
    profile=Profile.CODEX_HEAD,
    operation="return_bytes_to_availability",
    expected_refutation="to_return = bytes - reservation.size",
    table=with_operation(
        Profile.CODEX_HEAD,
        ReturnBytesToAvailability,
        functools.partial(codex_head.return_bytes_to_availability, to_return=nim_bytes_to_return),
    ),
)

FAITHFUL: tuple[Faithful, ...] = (RETURN_BYTES_UNGUARDED,)
