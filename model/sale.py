"""The sale state machine of one slot agent: states, events, and the transition table per profile.

Theory of operation:
1. A sale (nim-codex ``SalesAgent``) is always in one ``SaleState``. Every move is an ``SaleEvent``:
   an external event delivered to the agent (``ON_CANCELLED``, ``ON_FAILED``, ``ON_SLOT_FILLED``)
   or one outcome of the current state's ``run`` (``RESERVATION_CREATED``, ``DOWNLOAD_FAILED``, ...).
2. ``TABLES[profile]`` maps ``(state, event)`` to a ``Target``: the next state and the flags its
   constructor takes in nim-codex (``SaleIgnored(reprocessSlot, returnsCollateral)``). The table is
   the only place a next state is decided; there is no other transition logic.
3. ``next_state(profile, state, event)`` is the lookup: the ``Target``, or the value ``IllegalEvent``
   naming the state and the event when the pair is not in the table. An illegal event changes nothing.
4. Terminal states run the cleanup (``CLEANUP``) and then stay: their row holds only ``CLEANUP``, the
   run error of ``SaleCancelled`` (HEAD) and the handlers nim-codex still declares on ``SaleFinished``.
5. ``ENDINGS[profile]`` says what the cleanup of each terminal state gives back (spec §3.3): written
   bytes, collateral, re-queue, worker. ``model/market.py`` runs it; ``docs/sale-state-machine.md`` is
   generated from these tables by ``sales_model/docgen.py``.

Mirrors: codex-sales-spec §3.1 (machine semantics), §3.2 (HEAD states), §3.3 (cleanup), §3.5 (OLD states);
nim-codex ``codex/sales/states/*.nim`` at bd360322 and 570a1f7b.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

import attrs

from model.errors import Rejection
from model.state import Profile


class SaleState(enum.Enum):
    """A nim-codex sale state (``SaleUnknown`` is ``UNKNOWN``, ...)."""

    UNKNOWN = "Unknown"
    PREPARING = "Preparing"
    SLOT_RESERVING = "SlotReserving"
    DOWNLOADING = "Downloading"
    INITIAL_PROVING = "InitialProving"
    FILLING = "Filling"
    FILLED = "Filled"
    PROVING = "Proving"
    PAYOUT = "Payout"
    FINISHED = "Finished"
    CANCELLED = "Cancelled"
    FAILED = "Failed"
    ERRORED = "Errored"
    IGNORED = "Ignored"


class SaleEvent(enum.Enum):
    """Everything that moves a sale: an external event, or one outcome of a state's ``run``."""

    ON_CANCELLED = "onCancelled"
    ON_FAILED = "onFailed"
    ON_SLOT_FILLED = "onSlotFilled"
    REQUEST_MISSING = "request missing"
    MARKET_ERROR = "market error"
    SLOT_IS_FREE = "slot is free"
    SLOT_IS_FILLED = "slot is filled"
    SLOT_IS_FINISHED = "slot is finished"
    SLOT_IS_PAID = "slot is paid"
    SLOT_IS_FAILED = "slot is failed"
    SLOT_IS_CANCELLED = "slot is cancelled"
    SLOT_IS_REPAIR = "slot is repair"
    SLOT_STATE_UNKNOWN = "slot state unknown"
    SLOT_NOT_FREE = "slot not free"
    AVAILABILITY_FOUND = "availability found"
    NO_MATCHING_AVAILABILITY = "no matching availability"
    RESERVATION_CREATED = "reservation created"
    LOST_RESERVATION_RACE = "lost reservation race"
    RESERVATION_FAILED = "reservation failed"
    RESERVE_SLOT_OK = "reserve slot ok"
    RESERVE_NOT_ALLOWED = "reserve slot not allowed"
    BATCH = "batch downloaded"
    DOWNLOADED = "download done"
    DOWNLOAD_FAILED = "download failed"
    PROOF_OK = "proof ok"
    PROOF_FAILED = "proof failed"
    FILL_OK = "fill ok"
    SLOT_STATE_MISMATCH = "slot state mismatch"
    HOST_IS_ME = "host is me"
    HOST_IS_OTHER = "host is another"
    EXPIRY_UPDATE_FAILED = "expiry update failed"
    SLOT_FINISHED = "slot finished"
    SLOT_REPAIR = "slot in repair"
    SLOT_NOT_FILLED = "slot not filled"
    PAYOUT = "payout"
    RAISE = "raise"
    CLEANUP = "cleanup"


#: The events a sale receives from outside its own ``run`` (spec §3.1 "External events").
EXTERNAL = frozenset({SaleEvent.ON_CANCELLED, SaleEvent.ON_FAILED, SaleEvent.ON_SLOT_FILLED})


@attrs.frozen(kw_only=True)
class Target:
    """The next state, with the flags nim-codex passes to its constructor."""

    state: SaleState
    reprocess: bool = False
    returns_collateral: bool = False


@attrs.frozen(kw_only=True)
class IllegalEvent(Rejection):
    """The sale's state does not handle the event: nim-codex ignores it, the model changes nothing."""

    profile: str
    state: str
    event: str


Table = Mapping[tuple[SaleState, SaleEvent], Target]

S = SaleState
E = SaleEvent
CANCEL_FAIL = ((E.ON_CANCELLED, Target(state=S.CANCELLED)), (E.ON_FAILED, Target(state=S.FAILED)))
ERRORED = Target(state=S.ERRORED)


def _rows(rows: Mapping[SaleState, tuple[tuple[SaleEvent, Target], ...]]) -> Table:
    return {(state, event): target for state, row in rows.items() for event, target in row}


#: nim-codex bd360322 (spec §3.2). ``C/F`` are declared on every non-final state, and on Finished.
HEAD_TABLE: Table = _rows(
    {
        S.UNKNOWN: (
            *CANCEL_FAIL,
            (E.REQUEST_MISSING, ERRORED),
            (E.SLOT_IS_FREE, ERRORED),
            (E.SLOT_IS_FILLED, Target(state=S.FILLED)),
            (E.SLOT_IS_FINISHED, Target(state=S.PAYOUT)),
            (E.SLOT_IS_PAID, Target(state=S.FINISHED)),
            (E.SLOT_IS_FAILED, Target(state=S.FAILED)),
            (E.SLOT_IS_CANCELLED, Target(state=S.CANCELLED)),
            (E.SLOT_IS_REPAIR, ERRORED),
            (E.MARKET_ERROR, ERRORED),
        ),
        S.PREPARING: (
            *CANCEL_FAIL,
            (E.ON_SLOT_FILLED, Target(state=S.FILLED)),
            (E.REQUEST_MISSING, ERRORED),
            (E.SLOT_NOT_FREE, Target(state=S.IGNORED)),
            (E.AVAILABILITY_FOUND, Target(state=S.PREPARING)),
            (E.NO_MATCHING_AVAILABILITY, Target(state=S.IGNORED, reprocess=True)),
            (E.RESERVATION_CREATED, Target(state=S.SLOT_RESERVING)),
            (E.LOST_RESERVATION_RACE, Target(state=S.IGNORED, reprocess=True)),
            (E.RESERVATION_FAILED, ERRORED),
            (E.MARKET_ERROR, ERRORED),
        ),
        S.SLOT_RESERVING: (
            *CANCEL_FAIL,
            (E.RESERVE_SLOT_OK, Target(state=S.DOWNLOADING)),
            (E.RESERVE_NOT_ALLOWED, Target(state=S.IGNORED, returns_collateral=True)),
            (E.MARKET_ERROR, ERRORED),
        ),
        S.DOWNLOADING: (
            *CANCEL_FAIL,
            (E.ON_SLOT_FILLED, Target(state=S.FILLED)),
            (E.BATCH, Target(state=S.DOWNLOADING)),
            (E.DOWNLOADED, Target(state=S.INITIAL_PROVING)),
            (E.DOWNLOAD_FAILED, ERRORED),
        ),
        S.INITIAL_PROVING: (
            *CANCEL_FAIL,
            (E.PROOF_OK, Target(state=S.FILLING)),
            (E.PROOF_FAILED, ERRORED),
        ),
        S.FILLING: (
            *CANCEL_FAIL,
            (E.FILL_OK, Target(state=S.FILLED)),
            (E.SLOT_STATE_MISMATCH, Target(state=S.IGNORED, returns_collateral=True)),
            (E.MARKET_ERROR, ERRORED),
        ),
        S.FILLED: (
            *CANCEL_FAIL,
            (E.HOST_IS_ME, Target(state=S.PROVING)),
            (E.HOST_IS_OTHER, ERRORED),
            (E.EXPIRY_UPDATE_FAILED, ERRORED),
            (E.MARKET_ERROR, ERRORED),
        ),
        S.PROVING: (
            *CANCEL_FAIL,
            (E.SLOT_FINISHED, Target(state=S.PAYOUT)),
            (E.SLOT_REPAIR, ERRORED),
            (E.MARKET_ERROR, ERRORED),
        ),
        S.PAYOUT: (
            *CANCEL_FAIL,
            (E.PAYOUT, Target(state=S.FINISHED)),
            (E.MARKET_ERROR, ERRORED),
        ),
        S.FINISHED: (*CANCEL_FAIL, (E.CLEANUP, Target(state=S.FINISHED))),
        S.CANCELLED: ((E.CLEANUP, Target(state=S.CANCELLED)), (E.MARKET_ERROR, ERRORED)),
        S.FAILED: ((E.RAISE, ERRORED), (E.MARKET_ERROR, ERRORED)),
        S.ERRORED: ((E.CLEANUP, ERRORED),),
        S.IGNORED: ((E.CLEANUP, Target(state=S.IGNORED)),),
    }
)

#: nim-codex 570a1f7b (spec §3.5): no SlotReserving, Filling waits for SlotFilled, Cancelled and
#: Failed raise into Errored, no reprocess or collateral flags.
OLD_TABLE: Table = _rows(
    {
        S.UNKNOWN: (
            *CANCEL_FAIL,
            (E.SLOT_STATE_UNKNOWN, ERRORED),
            (E.SLOT_IS_FREE, ERRORED),
            (E.SLOT_IS_FILLED, Target(state=S.FILLED)),
            (E.SLOT_IS_FINISHED, Target(state=S.PAYOUT)),
            (E.SLOT_IS_PAID, Target(state=S.FINISHED)),
            (E.SLOT_IS_FAILED, Target(state=S.FAILED)),
        ),
        S.PREPARING: (
            *CANCEL_FAIL,
            (E.ON_SLOT_FILLED, Target(state=S.FILLED)),
            (E.SLOT_NOT_FREE, Target(state=S.IGNORED)),
            (E.AVAILABILITY_FOUND, Target(state=S.PREPARING)),
            (E.NO_MATCHING_AVAILABILITY, Target(state=S.IGNORED)),
            (E.RESERVATION_CREATED, Target(state=S.DOWNLOADING)),
            (E.LOST_RESERVATION_RACE, ERRORED),
            (E.RESERVATION_FAILED, ERRORED),
            (E.MARKET_ERROR, ERRORED),
        ),
        S.DOWNLOADING: (
            *CANCEL_FAIL,
            (E.ON_SLOT_FILLED, Target(state=S.FILLED)),
            (E.BATCH, Target(state=S.DOWNLOADING)),
            (E.DOWNLOADED, Target(state=S.INITIAL_PROVING)),
            (E.DOWNLOAD_FAILED, ERRORED),
        ),
        S.INITIAL_PROVING: (
            *CANCEL_FAIL,
            (E.PROOF_OK, Target(state=S.FILLING)),
            (E.PROOF_FAILED, ERRORED),
        ),
        S.FILLING: (
            *CANCEL_FAIL,
            (E.ON_SLOT_FILLED, Target(state=S.FILLED)),
            (E.FILL_OK, Target(state=S.FILLING)),
            (E.MARKET_ERROR, ERRORED),
        ),
        S.FILLED: (
            *CANCEL_FAIL,
            (E.HOST_IS_ME, Target(state=S.PROVING)),
            (E.HOST_IS_OTHER, ERRORED),
            (E.MARKET_ERROR, ERRORED),
        ),
        S.PROVING: (
            *CANCEL_FAIL,
            (E.SLOT_FINISHED, Target(state=S.PAYOUT)),
            (E.SLOT_NOT_FILLED, ERRORED),
            (E.MARKET_ERROR, ERRORED),
        ),
        S.PAYOUT: (
            *CANCEL_FAIL,
            (E.PAYOUT, Target(state=S.FINISHED)),
            (E.MARKET_ERROR, ERRORED),
        ),
        S.FINISHED: (*CANCEL_FAIL, (E.CLEANUP, Target(state=S.FINISHED))),
        S.CANCELLED: ((E.RAISE, ERRORED),),
        S.FAILED: ((E.RAISE, ERRORED),),
        S.ERRORED: ((E.CLEANUP, ERRORED),),
        S.IGNORED: ((E.CLEANUP, Target(state=S.IGNORED)),),
    }
)

TABLES: Mapping[Profile, Table] = {Profile.CODEX_HEAD: HEAD_TABLE, Profile.CODEX_535: OLD_TABLE}

#: States whose ``run`` ends the sale with a cleanup (spec §3.2 "terminal", §3.5).
TERMINAL: Mapping[Profile, frozenset[SaleState]] = {
    Profile.CODEX_HEAD: frozenset({S.FINISHED, S.CANCELLED, S.ERRORED, S.IGNORED}),
    Profile.CODEX_535: frozenset({S.FINISHED, S.ERRORED, S.IGNORED}),
}

#: States in which a queue-started sale holds a worker until it is filled or cleaned up (§3.3, INV-18).
PRE_FILL = frozenset({S.PREPARING, S.SLOT_RESERVING, S.DOWNLOADING, S.INITIAL_PROVING, S.FILLING})


def states_of(profile: Profile) -> tuple[SaleState, ...]:
    """The states the profile's nim-codex version has, in declaration order."""
    present = {state for state, _ in TABLES[profile]}
    return tuple(state for state in SaleState if state in present)


def events_of(table: Table, state: SaleState) -> tuple[SaleEvent, ...]:
    """The events ``state`` handles in ``table``, in declaration order."""
    return tuple(event for event in SaleEvent if (state, event) in table)


def next_state(
    profile: Profile, state: SaleState, event: SaleEvent, table: Table | None = None
) -> Target | IllegalEvent:
    """The target of ``event`` in ``state``, or ``IllegalEvent`` when the state does not handle it.

    Guards: IllegalEvent when ``(state, event)`` is not in the profile's table (or ``table``).
    Effect: none; the caller enters the target.
    Mirrors: ``asyncstatemachine`` event dispatch (spec §3.1): a handler returning none changes nothing.
    """
    target = (TABLES[profile] if table is None else table).get((state, event))
    if target is None:
        return IllegalEvent(profile=profile.value, state=state.value, event=event.value)
    return target


class Collateral(enum.Enum):
    """Which collateral a cleanup passes to ``deleteReservation`` (spec §3.3)."""

    NONE = "none"
    PER_SLOT_IF_RETURNS = "collateralPerSlot if returnsCollateral"
    CURRENT = "currentCollateral from the chain"
    CURRENT_IF_HOST = "currentCollateral if this host filled the slot, else none"


@attrs.frozen(kw_only=True)
class Ending:
    """What the cleanup of a terminal state does to the accounting (spec §3.3 ``Sales.cleanUp``)."""

    returns_written: bool
    collateral: Collateral
    requeues: bool  # re-pushes the item when the state's reprocess flag is set and the sale came from the queue
    spec: str


HEAD_ENDINGS: Mapping[SaleState, Ending] = {
    S.FINISHED: Ending(returns_written=True, collateral=Collateral.CURRENT, requeues=False, spec="§3.2 SaleFinished"),
    S.CANCELLED: Ending(
        returns_written=True, collateral=Collateral.CURRENT_IF_HOST, requeues=False, spec="§3.2 SaleCancelled"
    ),
    S.ERRORED: Ending(returns_written=True, collateral=Collateral.NONE, requeues=True, spec="§3.2 SaleErrored"),
    S.IGNORED: Ending(
        returns_written=True, collateral=Collateral.PER_SLOT_IF_RETURNS, requeues=True, spec="§3.2 SaleIgnored"
    ),
}
OLD_ENDINGS: Mapping[SaleState, Ending] = {
    state: Ending(returns_written=False, collateral=Collateral.NONE, requeues=False, spec="§3.5 Sales.cleanUp")
    for state in (S.FINISHED, S.ERRORED, S.IGNORED)
}
ENDINGS: Mapping[Profile, Mapping[SaleState, Ending]] = {
    Profile.CODEX_HEAD: HEAD_ENDINGS,
    Profile.CODEX_535: OLD_ENDINGS,
}
