"""A node: the Reservations service on a data directory, behind the oracle's implementation Protocol.

Rules:
1. ``Node(path)`` opens (or creates) the LevelDB store at ``path/meta``; a fresh directory is a
   fresh node, an existing one is the node restarted: everything it knows is read from disk.
   The repo's ``quota_max_bytes`` is a start-up setting (nim-codex ``--storage-quota``).
2. ``Node`` is an ``oracle.interface.AsyncImplementation`` of ``codex-head``: each operation runs
   in one ``Txn`` (persistent/datastore.py), returns ``Ok(id or None)`` or ``Rejected(kind)``
   with the model's kind, and commits only when it succeeded (the commit is the one write of an
   ``atomic`` operation; a ``faithful`` one has written as it went).
3. A write that fails (``DatastoreError`` escaping the service) is ``Rejected("UpdateFailed")``;
   an atomic batch refused for quota (``QuotaConflict``) is ``Rejected("ReserveFailed")``.
   ``Crashed`` is never caught: the node object is then dead, and the harness reopens the path.
4. ``update_availability`` is the REST PATCH composition (spec §2.3, as ``model.codex_head``);
   ``create_availability`` is ``Reservations.createAvailability`` without REST's checks (those
   live in persistent/http.py, as in nim-codex's REST layer).
5. ``snapshot()`` reads every record and the quota record from the committed store; ids are the
   node's own ``0x`` hex ids.
6. Logs go to ``log_path`` (chronicles JSON lines, appended), or are kept in ``log.lines``.

Mirrors: codex-sales-spec §1.3, §1.4, §2 (operations), §2.10 (restart), §2.11 (lock).
"""

from __future__ import annotations

import json
import random
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

import attrs

from model.state import Profile
from oracle.interface import Observed, Ok, Rejected, Snapshot
from persistent.chronicles import Log
from persistent.datastore import (
    RESERVATIONS_PREFIX,
    Datastore,
    DatastoreError,
    FaultPlan,
    QuotaConflict,
    Txn,
    WriteMode,
    depth,
)
from persistent.reservations import Failure, Repo, Reservations, availability_of, check_ranges, reservation_of

#: nim-codex HEAD's default ``quotaMaxBytes`` (20 GiB), spec §1.4.
DEFAULT_QUOTA = 20 * 1024**3
U64 = 2**64 - 1


@attrs.frozen
class Failed:
    """How a rejected operation is logged: nim-codex's caller's message, topics and properties; the
    ``error`` property is the kind itself (``raw_kind``) or its nim-codex error text."""

    message: str
    topics: str
    properties: dict[str, Any]
    raw_kind: bool = False


class NodeError(Exception):
    """The node cannot start: its data directory is unusable (rule 1)."""


class Node:
    """The persistent implementation (module rules)."""

    profile = Profile.CODEX_HEAD

    def __init__(
        self,
        path: Path | str,
        *,
        mode: WriteMode | str = WriteMode.ATOMIC,
        quota_max_bytes: int = DEFAULT_QUOTA,
        lock: bool = True,
        scheduler: Any = None,
        log_path: Path | str | None = None,
        id_seed: int | None = None,
    ) -> None:
        self.path = Path(path)
        self.settings: dict[str, Any] = {
            "mode": mode,
            "quota_max_bytes": quota_max_bytes,
            "lock": lock,
            "scheduler": scheduler,
            "log_path": log_path,
            "id_seed": None if id_seed is None else id_seed + 1,
        }
        self.mode = WriteMode(mode)
        self.name = f"persistent-{self.mode.value}" + ("" if lock else "-unlocked")
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            self.store = Datastore(self.path / "meta", self.mode)
        except Exception as error:  # OSError, plyvel.Error: not a directory, not a LevelDB store, locked
            raise NodeError(f"{self.path}: cannot open the node's LevelDB store: {error}") from None
        self.log = Log(log_path)
        self.repo = Repo(quota_max_bytes, self.log)
        point: Callable[[str], Awaitable[None]] | None = None if scheduler is None else scheduler.point
        self.service = Reservations(self.store, self.repo, self.log, lock=lock, point=point, ids=random.Random(id_seed))

    # -- running one operation ---------------------------------------------------------------

    async def _run(self, body: Callable[[Txn], Awaitable[Any]], failed: Failed | None = None) -> Observed:
        """``body`` in one transaction, committed when it succeeds; a rejection is logged as ``failed``
        says, as the nim-codex caller of the procedure logs it (persistent/reservations.py rule 6)."""
        txn = self.store.transaction()
        try:
            result = await body(txn)
            txn.commit(self.repo.max_bytes)
        except Failure as failure:
            outcome = Rejected(failure.kind)
        except QuotaConflict:
            outcome = Rejected("ReserveFailed")
        except DatastoreError:
            outcome = Rejected("UpdateFailed")
        else:
            return Ok(result)
        if failed is not None:
            error = outcome.kind if failed.raw_kind else _error_text(outcome.kind)
            self.log.failed(failed.message, failed.topics, **failed.properties, error=error)
        return outcome

    # -- the operations (oracle/interface.py rule 2) ---------------------------------------------

    async def create_availability(
        self,
        *,
        total_size: int,
        duration: int,
        min_price_per_byte_per_second: int,
        total_collateral: int,
        enabled: bool = True,
        until: int = 0,
    ) -> Observed:
        async def body(txn: Txn) -> str:
            created = await self.service.create_availability(
                txn,
                total_size=total_size,
                duration=duration,
                price=min_price_per_byte_per_second,
                collateral=total_collateral,
                enabled=enabled,
                until=until,
            )
            return str(created["id"])

        return await self._run(body)

    async def update_availability(self, *, availability_id: str, **fields: Any) -> Observed:
        async def body(txn: Txn) -> None:
            await self.service.patch(txn, availability_id, fields)

        return await self._run(body)

    async def create_reservation(
        self,
        *,
        availability_id: str,
        slot_size: int,
        request_id: str,
        slot_index: int,
        collateral_per_byte: int,
        valid_until: int,
    ) -> Observed:
        async def body(txn: Txn) -> str:
            created = await self.service.create_reservation(
                txn,
                availability_id=availability_id,
                slot_size=slot_size,
                request_id=request_id,
                slot_index=slot_index,
                collateral_per_byte=collateral_per_byte,
                valid_until=valid_until,
            )
            return str(created["id"])

        where = {"requestId": request_id, "slotIndex": slot_index}
        return await self._run(
            body, Failed("Creation of reservation failed", "marketplace sales preparing", where, raw_kind=True)
        )

    async def release_bytes(self, *, reservation_id: str, availability_id: str, bytes: int) -> Observed:
        async def body(txn: Txn) -> None:
            await self.service.release(txn, reservation_id=reservation_id, availability_id=availability_id, bytes=bytes)

        where = {"reservationId": reservation_id}
        return await self._run(body, Failed("Error releasing bytes", "marketplace sales downloading", where))

    async def return_bytes_to_availability(self, *, availability_id: str, reservation_id: str, bytes: int) -> Observed:
        async def body(txn: Txn) -> None:
            await self.service.return_bytes(
                txn, availability_id=availability_id, reservation_id=reservation_id, bytes=bytes
            )

        where = {"reservationId": reservation_id, "availabilityId": availability_id, "bytes": bytes}
        return await self._run(body, Failed("failure returning bytes", "marketplace sales", where))

    async def delete_reservation(
        self, *, reservation_id: str, availability_id: str, returned_collateral: int | None = None
    ) -> Observed:
        async def body(txn: Txn) -> None:
            await self.service.delete_reservation(
                txn,
                reservation_id=reservation_id,
                availability_id=availability_id,
                returned_collateral=returned_collateral,
            )

        where = {"reservationId": reservation_id, "availabilityId": availability_id}
        return await self._run(body, Failed("failure deleting reservation", "marketplace sales", where))

    async def find_availability(
        self, *, size: int, duration: int, price_per_byte_per_second: int, collateral_per_byte: int, valid_until: int
    ) -> Observed:
        async def body(txn: Txn) -> str | None:
            found = await self.service.find_availability(
                txn,
                size=size,
                duration=duration,
                price=price_per_byte_per_second,
                collateral_per_byte=collateral_per_byte,
                valid_until=valid_until,
            )
            return None if found is None else str(found["id"])

        return await self._run(body)

    async def delete_inactive_reservations(self, *, active_slots: Iterable[tuple[str, int]] = ()) -> Observed:
        """``Sales.load`` → ``deleteInactiveReservations`` (spec §2.10)."""
        await self.service.delete_inactive(self.store.transaction, active_slots)
        return Ok(None)

    async def store_block(self, *, bytes: int) -> Observed:
        async def body(txn: Txn) -> None:
            check_ranges(bytes=(bytes, 0, U64))
            self.repo.store_block(txn, bytes)

        return await self._run(body)

    async def expire_block(self, *, bytes: int) -> Observed:
        async def body(txn: Txn) -> None:
            check_ranges(bytes=(bytes, 0, U64))
            self.repo.expire_block(txn, bytes)

        return await self._run(body)

    # -- what the node shows -----------------------------------------------------------------------

    def records(self) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
        """(availabilities, reservations) by id, read from the committed store."""
        rows = self.store.committed_under(RESERVATIONS_PREFIX)
        availabilities, reservations = {}, {}
        for key, raw in sorted(rows.items()):
            try:
                value = json.loads(raw)
                if depth(key) == 4:
                    a = availability_of(value)
                    availabilities[a["id"]] = a
                elif depth(key) == 5:
                    r = reservation_of(value)
                    reservations[r["id"]] = r
            except (ValueError, KeyError, TypeError) as error:
                raise CorruptStore(f"{self.path}: the record at {key} is not a valid {_kind(key)}: {error!r}") from None
        return availabilities, reservations

    async def snapshot(self) -> Snapshot:
        return self.snapshot_now()

    def snapshot_now(self) -> Snapshot:
        """The snapshot, synchronously (rule 5)."""
        availabilities, reservations = self.records()
        used, reserved = self.store.usage()
        return Snapshot(
            availabilities={i: _without_id(a) for i, a in availabilities.items()},
            reservations={i: _without_id(r) for i, r in reservations.items()},
            max_bytes=self.repo.max_bytes,
            used=used,
            reserved=reserved,
        )

    async def availability(self, availability_id: str) -> dict[str, Any] | None:
        """One stored availability's fields, or None (the REST front reads it for its messages)."""
        return self.records()[0].get(availability_id)

    # -- fault injection (oracle/faults.py's Faultable) ----------------------------------------------

    def arm(
        self, *, fail_write: int | None = None, crash_before_write: int | None = None, fail_read: int | None = None
    ) -> None:
        """Count this node's datastore accesses afresh; fail or crash at the numbered one."""
        self.store.arm(FaultPlan(fail_write=fail_write, crash_before_write=crash_before_write, fail_read=fail_read))

    def write_labels(self) -> list[str]:
        """The write points reached since ``arm``, labelled (a failed one ends in ``(failed)``)."""
        return list(self.store.writes)

    def reads(self) -> int:
        """The read points reached since ``arm``."""
        return self.store.reads

    def reopen(self) -> Node:
        """The node restarted after a crash: the process state is gone, the directory is opened again
        (rule 1). Ids drawn after the restart come from a new seed, as a new process's would."""
        self.close()
        return Node(self.path, **self.settings)

    def close(self) -> None:
        self.store.close()
        self.log.close()


class CorruptStore(DatastoreError):
    """A stored record that is not the JSON nim-codex writes (names the key and what is wrong)."""


def _kind(key: str) -> str:
    return {4: "Availability", 5: "Reservation"}.get(depth(key), "record")


def _without_id(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k != "id"}


def _error_text(kind: str) -> str:
    """The error text a caller logs for a failure ``kind`` (what ``sales-model logs check`` reads)."""
    return ERROR_TEXTS.get(kind, kind)


ERROR_TEXTS = {
    "NotExists": "Key doesn't exist: reservation does not exist",
    "BytesOutOfBounds": "trying to release an amount of bytes that is greater than the total size of the Reservation",
    "UntilOutOfBounds": "Until parameter must be greater or equal to the longest currently hosted slot",
    "ReserveFailed": "Quota usage would exceed the limit",
}
