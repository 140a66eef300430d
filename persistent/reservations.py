"""The Reservations service at nim-codex bd360322, on the LevelDB datastore: steps, lock, rollbacks, logs.

Rules:
1. Each public coroutine follows the nim-codex procedure it names, step by step and in the same
   order of reads, writes and log lines (spec §2.1-§2.10), through one ``Txn`` per operation.
   A failure is raised as ``Failure(kind, message)``; ``kind`` is the model's rejection kind,
   ``message`` nim-codex's error text.
2. One ``asyncio.Lock`` is held exactly where nim-codex holds ``availabilityLock`` (§2.11):
   around ``update(Availability)`` (so inside ``createAvailability`` after the repo reserve),
   the whole of ``createReservation``, ``returnBytesToAvailability`` and ``deleteReservation``;
   never around ``release``, ``findAvailability`` or the PATCH read. ``lock=False`` removes it
   (nim-codex before #825): concurrent reservations can then over-book an availability.
3. Before every datastore access the service awaits ``point(label)``: nim-codex awaits there,
   and a seeded scheduler chooses the interleavings through it (oracle/concurrency.py).
4. Rollback steps are nim-codex's: createAvailability releases the reserved bytes when the
   availability write fails; createReservation deletes the reservation when the availability
   update fails; release re-reserves when the reservation write fails; returnBytesToAvailability
   releases when the availability update fails. updateAvailability does not undo its repo delta
   when the write fails (§2.12 item 5); deleteReservation does not undo the availability update
   when the key delete fails (item 7); returnBytesToAvailability keeps the reserved bytes when
   loading the availability fails (item 6).
5. Where nim-codex would wrap around (§2.12 items 1-3) the service refuses as the model does,
   with the model's kind (``ReturnBytesUnderflow``, ``CollateralUnderflow``, ``Overflow``,
   ``TotalSizeUnderflow``), before any write, or after undoing the writes made so far. Arguments
   outside nim-codex's types are ``OutOfRange`` before anything is logged (they cannot exist in
   nim-codex). Malformed ids name nothing: ``NotExists``.
6. Log lines are nim-codex's (persistent/chronicles.py). Failures nim-codex's callers log (the
   sales states) are logged as those callers do: ``Creation of reservation failed``,
   ``failure returning bytes``, ``failure deleting reservation``, and a ``WRN`` with ``error``
   and ``reservationId`` for a failed release.

Mirrors: codex-sales-spec §2.1-§2.12 (codex/sales/reservations.nim, codex/stores/repostore at bd360322).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any

from persistent.chronicles import RELEASE, REPOSTORE, Log
from persistent.datastore import (
    RESERVATIONS_PREFIX,
    Datastore,
    DatastoreError,
    Txn,
    availability_key,
    depth,
    reservation_key,
)

U64 = 2**64 - 1
U256 = 2**256 - 1
I64 = (-(2**63), 2**63 - 1)
NATURAL = 2**63 - 1


class Failure(Exception):
    """An operation failed: the model's rejection ``kind`` and nim-codex's ``message`` (rule 1)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


def check_ranges(**fields: tuple[Any, int, int]) -> None:
    """``OutOfRange`` for the first argument that is not an int within its nim-codex type (rule 5)."""
    for name, (value, low, high) in fields.items():
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise Failure("OutOfRange", f"{name} must be an integer in {low}..{high}, got {value!r}")


def hex_of(entity_id: Any) -> str | None:
    """The 64 lowercase hex digits of a ``0x`` id, or None for anything else."""
    if not isinstance(entity_id, str) or len(entity_id) != 66 or not entity_id.startswith("0x"):
        return None
    digits = entity_id[2:].lower()
    return digits if all(c in "0123456789abcdef" for c in digits) else None


# -- JSON records (nim-codex ``toJson`` field names; UInt256 as decimal strings) ---------------------


def availability_json(a: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": a["id"],
        "totalSize": a["total_size"],
        "freeSize": a["free_size"],
        "duration": a["duration"],
        "minPricePerBytePerSecond": str(a["min_price_per_byte_per_second"]),
        "totalCollateral": str(a["total_collateral"]),
        "totalRemainingCollateral": str(a["total_remaining_collateral"]),
        "enabled": a["enabled"],
        "until": a["until"],
    }


def availability_of(j: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": j["id"],
        "total_size": int(j["totalSize"]),
        "free_size": int(j["freeSize"]),
        "duration": int(j["duration"]),
        "min_price_per_byte_per_second": int(j["minPricePerBytePerSecond"]),
        "total_collateral": int(j["totalCollateral"]),
        "total_remaining_collateral": int(j["totalRemainingCollateral"]),
        "enabled": bool(j["enabled"]),
        "until": int(j["until"]),
    }


def reservation_json(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": r["id"],
        "availabilityId": r["availability_id"],
        "size": r["size"],
        "requestId": r["request_id"],
        "slotIndex": r["slot_index"],
        "validUntil": r["valid_until"],
    }


def reservation_of(j: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": j["id"],
        "availability_id": j["availabilityId"],
        "size": int(j["size"]),
        "request_id": j["requestId"],
        "slot_index": int(j["slotIndex"]),
        "valid_until": int(j["validUntil"]),
    }


async def _no_pause(_label: str) -> None:
    await asyncio.sleep(0)


class Repo:
    """The repo quota (``RepoStore.reserve`` / ``release`` / ``putBlock`` / ``delBlock``), persisted (spec §1.4)."""

    def __init__(self, max_bytes: int, log: Log) -> None:
        self.max_bytes = max_bytes
        self.log = log

    def reserve(self, txn: Txn, n: int) -> None:
        """``reserved += n``; ``QuotaNotEnough`` when ``used + reserved + n > max`` (equality allowed)."""
        self.log.trace("Reserving bytes", REPOSTORE, bytes=n)
        used, reserved = txn.usage()
        self._within(used, reserved + n)
        txn.change_quota(0, n, "quota")

    def release(self, txn: Txn, n: int) -> None:
        """``reserved -= n``; ``QuotaUnderflow`` below zero (nim-codex: a range Defect, §2.12 item 10)."""
        self.log.trace("Releasing bytes", REPOSTORE, bytes=n)
        _used, reserved = txn.usage()
        if reserved < n:
            raise Failure("QuotaUnderflow", f"Cannot release {n} bytes: only {reserved} reserved")
        txn.change_quota(0, -n, "quota")

    def store_block(self, txn: Txn, n: int) -> None:
        used, reserved = txn.usage()
        self._within(used + n, reserved)
        txn.change_quota(n, 0, "quota (block stored)")

    def expire_block(self, txn: Txn, n: int) -> None:
        used, _reserved = txn.usage()
        if used < n:
            raise Failure("QuotaUnderflow", f"Cannot delete a block of {n} bytes: only {used} used")
        txn.change_quota(-n, 0, "quota (block deleted)")

    def _within(self, used: int, reserved: int) -> None:
        if used + reserved > self.max_bytes:
            raise Failure(
                "QuotaNotEnough",
                f"Quota usage would exceed the limit. Used: {used}, reserved: {reserved}, limit: {self.max_bytes}",
            )


class Reservations:
    """nim-codex's ``Reservations`` object over one datastore (module rules)."""

    def __init__(
        self,
        store: Datastore,
        repo: Repo,
        log: Log,
        *,
        lock: bool = True,
        point: Callable[[str], Awaitable[None]] | None = None,
        ids: random.Random | None = None,
    ) -> None:
        self.store = store
        self.repo = repo
        self.log = log
        self.locking = lock
        self._lock: asyncio.Lock | None = None
        self.point = point or _no_pause
        self.ids = ids or random.Random()
        self.saved: list[str] = []  # OnAvailabilitySaved calls (availability ids), for tests

    # -- helpers ---------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def availability_lock(self) -> AsyncIterator[None]:
        """``withLock(self.availabilityLock)``; nothing when the lock is removed (rule 2)."""
        if not self.locking:
            yield
            return
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            yield

    def new_id(self) -> str:
        return "0x" + self.ids.randbytes(32).hex()

    async def get(self, txn: Txn, key: str, what: str) -> dict[str, Any]:
        """``get(key, T)``: ``NotExists`` when absent, ``GetFailed`` when the read fails (§2.0)."""
        await self.point(f"read {what}")
        try:
            found = txn.get(key)
        except DatastoreError as error:
            raise Failure("GetFailed", str(error)) from None
        if found is None:
            raise Failure("NotExists", f"Key doesn't exist: {what} does not exist")
        return dict(found)

    async def load_availability(self, txn: Txn, availability_id: str) -> dict[str, Any]:
        digits = hex_of(availability_id)
        if digits is None:
            raise Failure("NotExists", f"Availability {availability_id} does not exist")
        return availability_of(await self.get(txn, availability_key(digits), "availability"))

    async def load_reservation(self, txn: Txn, reservation_id: str, availability_id: str) -> dict[str, Any]:
        a, r = hex_of(availability_id), hex_of(reservation_id)
        if a is None or r is None:
            raise Failure("NotExists", f"Reservation {reservation_id} does not exist")
        return reservation_of(await self.get(txn, reservation_key(a, r), "reservation"))

    async def write(self, txn: Txn, kind: str, record: dict[str, Any]) -> None:
        """``updateImpl``: log ``updating <T>`` and write the JSON; ``UpdateFailed`` on failure (§2.0)."""
        self.log.trace(f"updating {kind}", id=record["id"])
        await self.point(f"write {kind}")
        if kind == "Availability":
            key, value, label = availability_key(record["id"][2:]), availability_json(record), "availability"
        else:
            key = reservation_key(record["availability_id"][2:], record["id"][2:])
            value, label = reservation_json(record), "reservation"
        try:
            txn.put(key, value, label)
        except DatastoreError as error:
            raise Failure("UpdateFailed", f"Failed to update {kind}: {error}") from None

    async def delete_key(self, txn: Txn, reservation: dict[str, Any]) -> None:
        await self.point("delete reservation")
        key = reservation_key(reservation["availability_id"][2:], reservation["id"][2:])
        try:
            txn.delete(key, "delete reservation")
        except DatastoreError as error:
            raise Failure("DeleteFailed", f"Failed to delete reservation: {error}") from None

    async def quota(self, txn: Txn, change: Callable[[Txn, int], None], n: int, failed: str) -> None:
        """A repo reserve or release: ``failed`` (ReserveFailed / ReleaseFailed) wraps its error."""
        await self.point("quota")
        try:
            change(txn, n)
        except Failure as error:
            raise Failure(failed, error.message) from None
        except DatastoreError as error:
            raise Failure(failed, str(error)) from None

    async def reservations_of(self, txn: Txn, availability_id: str) -> list[dict[str, Any]]:
        """``all(Reservation, availabilityId)``: the availability's subtree, in key order."""
        await self.point("read reservations")
        prefix = availability_key(availability_id[2:])
        try:
            rows = txn.query(prefix)
        except DatastoreError as error:
            raise Failure("GetFailed", str(error)) from None
        return [reservation_of(value) for key, value in rows if depth(key) == 5]

    async def all_availabilities(self, txn: Txn) -> list[dict[str, Any]]:
        """``all(Availability)`` in key order (the hex id's order, spec §1.3)."""
        await self.point("read availabilities")
        return [availability_of(v) for k, v in txn.query(RESERVATIONS_PREFIX) if depth(k) == 4]

    async def all_reservations(self, txn: Txn) -> list[dict[str, Any]]:
        await self.point("read reservations")
        return [reservation_of(v) for k, v in txn.query(RESERVATIONS_PREFIX) if depth(k) == 5]

    # -- §2.1 createAvailability -------------------------------------------------------------------

    async def create_availability(
        self, txn: Txn, *, total_size: int, duration: int, price: int, collateral: int, enabled: bool, until: int
    ) -> dict[str, Any]:
        """``createAvailability``: reserve the size in the repo, then ``update`` (locked); release on failure."""
        check_ranges(
            total_size=(total_size, 0, U64),
            duration=(duration, 0, U64),
            min_price_per_byte_per_second=(price, 0, U256),
            total_collateral=(collateral, 0, U256),
            until=(until, *I64),
        )
        self.log.trace(
            "creating availability",
            size=total_size,
            duration=duration,
            minPricePerBytePerSecond=str(price),
            totalCollateral=str(collateral),
            enabled=enabled,
            until=until,
        )
        if until < 0:
            raise Failure("UntilOutOfBounds", "Cannot set until to a negative value")
        availability = {
            "id": self.new_id(),
            "total_size": total_size,
            "free_size": total_size,
            "duration": duration,
            "min_price_per_byte_per_second": price,
            "total_collateral": collateral,
            "total_remaining_collateral": collateral,
            "enabled": enabled,
            "until": until,
        }
        await self.quota(txn, self.repo.reserve, total_size, "ReserveFailed")
        try:
            async with self.availability_lock():
                await self.update_availability(txn, availability)
        except Failure:
            self.log.trace("rolling back reserve")
            await self.quota(txn, self.repo.release, total_size, "ReleaseFailed")
            raise
        return availability

    # -- §2.2 updateAvailability (the caller holds the lock) -------------------------------------------

    async def update_availability(self, txn: Txn, new: dict[str, Any]) -> None:
        """``updateAvailability``: until rule, create path, repo delta of a ``totalSize`` change, write."""
        if new["until"] < 0:
            raise Failure("UntilOutOfBounds", "Cannot set until to a negative value")
        try:
            old = await self.load_availability(txn, new["id"])
        except Failure as error:
            if error.kind != "NotExists":
                raise
            self.log.trace("Creating new Availability", availabilityId=new["id"])
            try:
                await self.write(txn, "Availability", new)
            finally:
                self.saved.append(new["id"])  # OnAvailabilitySaved fires even when the write failed
            return
        if new["until"] > 0:
            hosted = await self.reservations_of(txn, new["id"])
            if hosted and max(r["valid_until"] for r in hosted) > new["until"]:
                raise Failure(
                    "UntilOutOfBounds", "Until parameter must be greater or equal to the longest currently hosted slot"
                )
        if old["total_size"] != new["total_size"]:
            self.log.trace("totalSize changed, updating repo reservation", availabilityId=new["id"])
            if old["total_size"] < new["total_size"]:
                await self.quota(txn, self.repo.reserve, new["total_size"] - old["total_size"], "ReserveFailed")
            else:
                await self.quota(txn, self.repo.release, old["total_size"] - new["total_size"], "ReleaseFailed")
        try:
            await self.write(txn, "Availability", new)
        finally:
            grew = ("free_size", "duration", "min_price_per_byte_per_second", "total_remaining_collateral")
            if any(old[f] < new[f] for f in grew):
                self.saved.append(new["id"])

    # -- §2.3 PATCH ----------------------------------------------------------------------------------

    async def patch(self, txn: Txn, availability_id: str, fields: dict[str, Any]) -> None:
        """The REST PATCH handler: read A unlocked, REST guards, apply the fields, ``update(A)`` (locked)."""
        check_ranges(
            **{name: (fields[name], *bounds) for name, bounds in PATCH_RANGES.items() if fields.get(name) is not None}
        )
        availability = await self.load_availability(txn, availability_id)
        if fields.get("free_size") is not None:
            raise Failure("FreeSizeNotUpdatable", "Updating freeSize is not allowed")
        total = fields.get("total_size")
        if total is not None:
            self.resize(txn, availability, total)
        for name in ("duration", "min_price_per_byte_per_second", "enabled", "until"):
            if fields.get(name) is not None:
                availability[name] = fields[name]
        if fields.get("total_collateral") is not None:  # ``totalCollateral=`` also resets TRC (nim-codex#1147)
            availability["total_collateral"] = availability["total_remaining_collateral"] = fields["total_collateral"]
        async with self.availability_lock():
            await self.update_availability(txn, availability)

    def resize(self, txn: Txn, availability: dict[str, Any], total: int) -> None:
        """The PATCH ``totalSize`` guards (§5) and ``freeSize += new - old``."""
        if total == 0:
            raise Failure("TotalSizeZero", "Total size must be larger then zero")
        if availability["free_size"] > availability["total_size"]:
            raise Failure("TotalSizeUnderflow", "totalSize - freeSize would wrap around")
        used = availability["total_size"] - availability["free_size"]
        if total < used:
            raise Failure(
                "TotalSizeBelowUsed",
                f"New totalSize must be larger then current totalSize - freeSize, which is currently: {used}",
            )
        now_used, now_reserved = txn.usage()
        if not total < self.repo.max_bytes - (now_used + now_reserved):
            raise Failure("NotEnoughStorageQuota", "Not enough storage quota")
        availability["free_size"] += total - availability["total_size"]
        availability["total_size"] = total

    # -- §2.4 createReservation ------------------------------------------------------------------------

    async def create_reservation(
        self,
        txn: Txn,
        *,
        availability_id: str,
        slot_size: int,
        request_id: str,
        slot_index: int,
        collateral_per_byte: int,
        valid_until: int,
    ) -> dict[str, Any]:
        """``createReservation``, whole body under the lock: check, write r, reduce A, roll r back on failure."""
        check_ranges(
            slot_size=(slot_size, 0, U64),
            slot_index=(slot_index, 0, U64),
            collateral_per_byte=(collateral_per_byte, 0, U256),
            valid_until=(valid_until, *I64),
        )
        async with self.availability_lock():
            availability = await self.load_availability(txn, availability_id)
            if availability["free_size"] < slot_size:
                raise Failure(
                    "BytesOutOfBounds",
                    "trying to reserve an amount of bytes that is greater than the free size of the Availability",
                )
            remaining = availability["total_remaining_collateral"]
            if slot_size > 0 and collateral_per_byte > remaining // slot_size:
                raise Failure("CollateralUnderflow", "totalRemainingCollateral -= slotSize * collateralPerByte wraps")
            self.log.trace(
                "Creating reservation",
                availabilityId=availability_id,
                slotSize=slot_size,
                requestId=request_id,
                slotIndex=slot_index,
                validUntil=valid_until,
                collateralPerByte=str(collateral_per_byte),
            )
            reservation = {
                "id": self.new_id(),
                "availability_id": availability_id,
                "size": slot_size,
                "request_id": request_id,
                "slot_index": slot_index,
                "valid_until": valid_until,
            }
            await self.write(txn, "Reservation", reservation)
            availability["free_size"] -= slot_size
            availability["total_remaining_collateral"] = remaining - slot_size * collateral_per_byte
            self.log.trace("Updating availability with reduced size")
            try:
                await self.update_availability(txn, availability)
            except Failure:
                self.log.trace("Updating availability failed, rolling back reservation creation")
                await self.delete_key(txn, reservation)
                raise
            self.log.trace("Reservation succesfully created")
            return reservation

    # -- §2.5 release --------------------------------------------------------------------------------

    async def release(self, txn: Txn, *, reservation_id: str, availability_id: str, bytes: int) -> None:
        """``release`` (no lock): check, repo release, write r; re-reserve when the write fails."""
        check_ranges(bytes=(bytes, 0, U64))
        scope = {"bytes": bytes, "reservationId": reservation_id, "availabilityId": availability_id}
        self.log.trace("releasing bytes and updating reservation", RELEASE, **scope)
        reservation = await self.load_reservation(txn, reservation_id, availability_id)
        if reservation["size"] < bytes:
            raise Failure(
                "BytesOutOfBounds",
                "trying to release an amount of bytes that is greater than the total size of the Reservation",
            )
        await self.quota(txn, self.repo.release, bytes, "ReleaseFailed")
        reservation["size"] -= bytes
        try:
            await self.write(txn, "Reservation", reservation)
        except Failure:
            self.log.trace("rolling back release", RELEASE, **scope)
            await self.quota(txn, self.repo.reserve, bytes, "ReserveFailed")
            raise

    # -- §2.6 returnBytesToAvailability ----------------------------------------------------------------

    async def return_bytes(self, txn: Txn, *, availability_id: str, reservation_id: str, bytes: int) -> None:
        """``returnBytesToAvailability`` (locked): re-reserve ``bytes - r.size`` and add it to ``freeSize``."""
        check_ranges(bytes=(bytes, 0, U64))
        async with self.availability_lock():
            reservation = await self.load_reservation(txn, reservation_id, availability_id)
            if bytes < reservation["size"]:
                raise Failure("ReturnBytesUnderflow", "bytes - reservation.size wraps around")
            to_return = bytes - reservation["size"]
            scope = {"reservationId": reservation_id, "availabilityId": availability_id}
            if to_return == 0:
                self.log.trace("No bytes are returned", requestSizeBytes=bytes, returningBytes=0, **scope)
                return
            self.log.trace("Returning bytes", requestSizeBytes=bytes, returningBytes=to_return, **scope)
            await self.quota(txn, self.repo.reserve, to_return, "ReserveFailed")
            availability = await self.load_availability(txn, availability_id)  # a failure here leaks (§2.12 #6)
            if availability["free_size"] > U64 - to_return:
                await self.quota(txn, self.repo.release, to_return, "ReleaseFailed")
                raise Failure("Overflow", "freeSize + bytes overflows uint64")
            availability["free_size"] += to_return
            try:
                await self.update_availability(txn, availability)
            except Failure:
                self.log.trace("Rolling back returning bytes", **scope)
                await self.quota(txn, self.repo.release, to_return, "ReleaseFailed")
                raise

    # -- §2.7 deleteReservation ----------------------------------------------------------------------

    async def delete_reservation(
        self, txn: Txn, *, reservation_id: str, availability_id: str, returned_collateral: int | None
    ) -> None:
        """``deleteReservation`` (locked): give back ``r.size`` and collateral, update A, then delete r."""
        if returned_collateral is not None:
            check_ranges(returned_collateral=(returned_collateral, 0, U256))
        scope = {"reservationId": reservation_id, "availabilityId": availability_id}
        self.log.trace("deleting reservation", **scope)
        async with self.availability_lock():
            try:
                reservation = await self.load_reservation(txn, reservation_id, availability_id)
            except Failure as error:
                if error.kind == "NotExists":
                    return
                raise
            availability = await self.load_availability(txn, availability_id)
            if reservation["size"] > 0:
                self.log.trace(
                    "returning remaining reservation bytes to availability", size=reservation["size"], **scope
                )
                if availability["free_size"] > U64 - reservation["size"]:
                    raise Failure("Overflow", "freeSize + reservation.size overflows uint64")
                availability["free_size"] += reservation["size"]
            if returned_collateral is not None:
                self.log.trace("returning collateral", collateral=str(returned_collateral), **scope)
                if availability["total_remaining_collateral"] > U256 - returned_collateral:
                    raise Failure("Overflow", "totalRemainingCollateral + collateral overflows UInt256")
                availability["total_remaining_collateral"] += returned_collateral
            await self.update_availability(txn, availability)
            await self.delete_key(txn, reservation)

    # -- §2.8 findAvailability -------------------------------------------------------------------------

    async def find_availability(
        self, txn: Txn, *, size: int, duration: int, price: int, collateral_per_byte: int, valid_until: int
    ) -> dict[str, Any] | None:
        """``findAvailability`` (no lock): the first availability in key order matching all six parts."""
        check_ranges(
            size=(size, 0, U64),
            duration=(duration, 0, U64),
            price_per_byte_per_second=(price, 0, U256),
            collateral_per_byte=(collateral_per_byte, 0, U256),
            valid_until=(valid_until, *I64),
        )
        for a in await self.all_availabilities(txn):
            free, remaining = a["free_size"], a["total_remaining_collateral"]
            max_cpb = remaining // free if free > 0 else remaining
            shown = {
                "id": a["id"],
                "enabled": a["enabled"],
                "size": size,
                "availFreeSize": free,
                "duration": duration,
                "availDuration": a["duration"],
                "pricePerBytePerSecond": str(price),
                "availMinPricePerBytePerSecond": str(a["min_price_per_byte_per_second"]),
                "collateralPerByte": str(collateral_per_byte),
                "availMaxCollateralPerByte": str(max_cpb),
                "until": a["until"],
            }
            if (
                a["enabled"]
                and size <= free
                and duration <= a["duration"]
                and collateral_per_byte <= max_cpb
                and price >= a["min_price_per_byte_per_second"]
                and (a["until"] == 0 or a["until"] >= valid_until)
            ):
                self.log.trace("availability matched", **shown)
                return a
            self.log.trace("availability did not match", **shown)
            await self.point("next availability")  # findAvailability yields between items
        return None

    # -- §2.10 restart cleanup -----------------------------------------------------------------------

    async def delete_inactive(self, txn_of: Callable[[], Txn], active: Iterable[tuple[str, int]]) -> None:
        """``deleteInactiveReservations``: delete every reservation whose slot is not active; errors are logged."""
        slots = set(active)
        try:
            reservations = await self.all_reservations(txn_of())
        except DatastoreError as error:  # HEAD logs and returns early when listing fails (§2.10)
            self.log.failed("Error retrieving reservations", error=str(error))
            return
        for r in reservations:
            if (r["request_id"], r["slot_index"]) in slots:
                continue
            txn = txn_of()
            try:
                await self.delete_reservation(
                    txn, reservation_id=r["id"], availability_id=r["availability_id"], returned_collateral=None
                )
                txn.commit(self.repo.max_bytes)
            except (Failure, DatastoreError) as error:
                self.log.failed("Failed to delete inactive reservation", reservationId=r["id"], error=str(error))


PATCH_RANGES: dict[str, tuple[int, int]] = {
    "total_size": (0, U64),
    "free_size": (0, U64),
    "duration": (0, U64),
    "min_price_per_byte_per_second": (0, U256),
    "total_collateral": (0, U256),
    "until": I64,
}
