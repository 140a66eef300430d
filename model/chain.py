"""The marketplace contract as the sales see it: requests, their slots, and the slot state a node reads.

Rules:
1. A request moves only along ``REQUEST_MOVES``: New -> Started (every slot filled) or Cancelled
   (expired), Started -> Finished or Failed (the marketplace contract's allowed changes).
2. A slot is ``FREE`` until first filled, ``FILLED`` by this host (``ME``) or another, ``REPAIR`` after
   the contract freed it (HEAD; at 570a1f7b a freed slot is ``FREE`` again), and ``WITHDRAWN`` once
   its host called ``freeSlot`` to be paid or to leave (it then leaves the host's ``mySlots``).
3. ``slot_state`` is what ``market.slotState`` returns, restated from the contract's ``slotState``.

Mirrors: codex-sales-spec §3.1-3.5 (slot states read by the sale states), §2.10 (``mySlots``);
codex-contracts-eth ``Marketplace.slotState`` and the Certora request-state rules (docs NOTES).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

import attrs

from model.numbers import money_field, size_field, time_field
from model.records import evolve
from model.state import Profile


class RequestState(enum.Enum):
    """On-chain request state."""

    NEW = "New"
    STARTED = "Started"
    CANCELLED = "Cancelled"
    FINISHED = "Finished"
    FAILED = "Failed"


class Move(enum.Enum):
    """A change of request state the contract can make."""

    START = "start"
    CANCEL = "cancel"
    FINISH = "finish"
    FAIL = "fail"


#: The contract's allowed request state changes (codex-contracts-eth Certora rules).
REQUEST_MOVES: Mapping[tuple[RequestState, Move], RequestState] = {
    (RequestState.NEW, Move.START): RequestState.STARTED,
    (RequestState.NEW, Move.CANCEL): RequestState.CANCELLED,
    (RequestState.STARTED, Move.FINISH): RequestState.FINISHED,
    (RequestState.STARTED, Move.FAIL): RequestState.FAILED,
}

ENDED = frozenset({RequestState.CANCELLED, RequestState.FINISHED, RequestState.FAILED})


class SlotStatus(enum.Enum):
    """The contract's record of one slot."""

    FREE = "free"
    FILLED = "filled"
    REPAIR = "repair"
    WITHDRAWN = "withdrawn"


class Host(enum.Enum):
    """Who filled a slot."""

    NONE = "none"
    ME = "me"
    OTHER = "other"


@attrs.frozen(kw_only=True)
class RequestTerms:
    """What a storage request asks; ``end`` is ``getRequestEnd`` (a reservation's ``valid_until``)."""

    request_id: str
    slots: int = attrs.field(validator=size_field)
    slot_size: int = attrs.field(validator=size_field)
    duration: int = attrs.field(validator=size_field)
    price_per_byte_per_second: int = attrs.field(validator=money_field)
    collateral_per_byte: int = attrs.field(validator=money_field)
    expiry: int = attrs.field(validator=time_field)
    end: int = attrs.field(validator=time_field)

    @property
    def collateral_per_slot(self) -> int:
        """``ask.collateralPerSlot = collateralPerByte * slotSize``."""
        return self.collateral_per_byte * self.slot_size

    @property
    def price_per_slot(self) -> int:
        """570a1f7b ``ask.pricePerSlot = duration * reward``, with ``reward = pricePerBytePerSecond * slotSize``."""
        return self.duration * self.price_per_byte_per_second * self.slot_size


@attrs.frozen(kw_only=True)
class ChainSlot:
    """One slot as the contract holds it; ``collateral`` is what its host deposited."""

    status: SlotStatus = SlotStatus.FREE
    host: Host = Host.NONE
    collateral: int = 0


@attrs.frozen(kw_only=True)
class Request:
    """A request on chain: its terms, state, and slots."""

    terms: RequestTerms
    state: RequestState = RequestState.NEW
    slots: tuple[ChainSlot, ...] = ()


def new_request(terms: RequestTerms) -> Request:
    """A just-submitted request: New, every slot free."""
    return Request(terms=terms, slots=tuple(ChainSlot() for _ in range(terms.slots)))


def slot_state(profile: Profile, request: Request, index: int) -> str:
    """``market.slotState``: Free, Filled, Repair, Paid, Finished, Failed or Cancelled (HEAD).

    Mirrors: ``Marketplace.slotState``: a never-filled slot is Free whatever the request; a withdrawn
    one is Paid; else the ended request's state wins; 570a1f7b has no Cancelled nor Repair slot state.
    """
    slot = request.slots[index]
    if slot.status is SlotStatus.FREE:
        return "Free"
    if slot.status is SlotStatus.WITHDRAWN:
        return "Paid"
    if request.state is RequestState.CANCELLED and profile is Profile.CODEX_HEAD:
        return "Cancelled"
    if request.state in (RequestState.FINISHED, RequestState.FAILED):
        return str(request.state.value)
    return "Filled" if slot.status is SlotStatus.FILLED else "Repair"


def fillable(request: Request, index: int) -> bool:
    """The slot can be reserved and filled: free or in repair, and the request is New or Started."""
    status = request.slots[index].status
    return status in (SlotStatus.FREE, SlotStatus.REPAIR) and request.state in (
        RequestState.NEW,
        RequestState.STARTED,
    )


def mine(request: Request, index: int) -> bool:
    """This host holds the slot on chain (it is in ``mySlots``)."""
    slot = request.slots[index]
    return slot.status is SlotStatus.FILLED and slot.host is Host.ME


def with_slot(request: Request, index: int, slot: ChainSlot) -> Request:
    """``request`` with one slot replaced."""
    return evolve(request, slots=(*request.slots[:index], slot, *request.slots[index + 1 :]))


def repair_collateral(terms: RequestTerms, discount_percent: int) -> int:
    """``market.slotCollateral`` for a slot in repair: the per-slot collateral less the repair discount."""
    return terms.collateral_per_slot - terms.collateral_per_slot * discount_percent // 100
