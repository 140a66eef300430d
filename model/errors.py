"""Typed rejections: every refused operation returns one of these values.

Rules:
1. A rejection is a frozen value named after nim-codex's error (``BytesOutOfBoundsError``
   becomes ``BytesOutOfBounds``) or, where nim-codex has none, after the condition.
2. It carries what a report needs: the quantities compared and the entity involved.
3. Returning a rejection means the operation changed nothing; the caller still holds
   the state it passed in.
4. ``kind`` is the stable name used by traces, reports and the oracle.

Mirrors: codex-sales-spec §1.2 "Error kinds", §2.12 (hazards the model refuses), §5 (REST 422s).
"""

from __future__ import annotations

import attrs


@attrs.frozen(kw_only=True)
class Rejection:
    """Base of every rejection; ``kind`` is the class name."""

    @property
    def kind(self) -> str:
        return type(self).__name__


@attrs.frozen(kw_only=True)
class OutOfRange(Rejection):
    """An argument lies outside the range nim-codex can represent."""

    field: str
    value: int
    low: int
    high: int


@attrs.frozen(kw_only=True)
class IdInUse(Rejection):
    """The caller chose an id that already names an entity (nim-codex draws random ids)."""

    entity: str
    id: str


@attrs.frozen(kw_only=True)
class NotExists(Rejection):
    """No record at the key: nim-codex ``NotExistsError``."""

    entity: str
    id: str


@attrs.frozen(kw_only=True)
class BytesOutOfBounds(Rejection):
    """More bytes asked than the availability's free size or the reservation's size holds."""

    entity: str
    id: str
    requested: int
    available: int


@attrs.frozen(kw_only=True)
class UntilOutOfBounds(Rejection):
    """``until`` is negative, or earlier than a hosted reservation's ``valid_until``."""

    availability_id: str
    until: int
    latest_valid_until: int


@attrs.frozen(kw_only=True)
class QuotaNotEnough(Rejection):
    """The repo cannot take the bytes: ``used + reserved + requested > max_bytes``."""

    requested: int
    used: int
    reserved: int
    max_bytes: int


@attrs.frozen(kw_only=True)
class QuotaUnderflow(Rejection):
    """A repo counter would go below zero (HEAD: range Defect; OLD: failure value)."""

    counter: str
    requested: int
    current: int


@attrs.frozen(kw_only=True)
class ReserveFailed(Rejection):
    """nim-codex ``ReserveFailedError``: the repo refused to reserve."""

    parent: QuotaNotEnough


@attrs.frozen(kw_only=True)
class ReleaseFailed(Rejection):
    """nim-codex ``ReleaseFailedError``: the repo refused to release."""

    parent: QuotaUnderflow


@attrs.frozen(kw_only=True)
class ReturnBytesUnderflow(Rejection):
    """``bytes - reservation.size`` would wrap (hazard §2.12 item 1); nim-codex wraps."""

    reservation_id: str
    bytes: int
    reservation_size: int


@attrs.frozen(kw_only=True)
class CollateralUnderflow(Rejection):
    """``totalRemainingCollateral - slotSize*cpb`` would wrap (hazard §2.12 item 2)."""

    availability_id: str
    required: int
    remaining: int


@attrs.frozen(kw_only=True)
class TotalSizeUnderflow(Rejection):
    """``totalSize - freeSize`` would wrap because free exceeds total (hazard §2.12 item 3)."""

    availability_id: str
    total_size: int
    free_size: int


@attrs.frozen(kw_only=True)
class Overflow(Rejection):
    """An addition would pass the field's maximum (nim-codex wraps silently)."""

    field: str
    value: int
    addend: int
    high: int


@attrs.frozen(kw_only=True)
class FreeSizeNotUpdatable(Rejection):
    """PATCH carried ``freeSize``: REST 422 "Updating freeSize is not allowed"."""

    availability_id: str


@attrs.frozen(kw_only=True)
class TotalSizeZero(Rejection):
    """POST or PATCH ``totalSize == 0``: REST 422 "Total size must be larger then zero"."""

    availability_id: str


@attrs.frozen(kw_only=True)
class DurationZero(Rejection):
    """POST ``duration == 0``: REST 422 "duration must be larger then zero" (nim-codex f1440993)."""

    availability_id: str


@attrs.frozen(kw_only=True)
class MinPricePerBytePerSecondZero(Rejection):
    """POST ``minPricePerBytePerSecond == 0``: REST 422 "minPricePerBytePerSecond must be larger then zero"."""

    availability_id: str


@attrs.frozen(kw_only=True)
class TotalCollateralZero(Rejection):
    """POST ``totalCollateral == 0``: REST 422 "totalCollateral must be larger then zero"."""

    availability_id: str


@attrs.frozen(kw_only=True)
class TotalSizeBelowUsed(Rejection):
    """PATCH ``totalSize < totalSize - freeSize``: REST 422 "New totalSize must be larger ..."."""

    availability_id: str
    requested: int
    used: int


@attrs.frozen(kw_only=True)
class NotEnoughStorageQuota(Rejection):
    """PATCH ``totalSize >= available`` (strict ``hasAvailable``): REST 422 "Not enough storage quota"."""

    requested: int
    available: int


@attrs.frozen(kw_only=True)
class UnsupportedOperation(Rejection):
    """The profile's nim-codex version has no such operation."""

    profile: str
    operation: str
