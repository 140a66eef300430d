"""The metadata datastore: LevelDB through ``plyvel``, nim-codex's keys, JSON values, two write modes.

Rules:
1. Keys are nim-codex's (spec §1.3): ``/meta/sales/reservations/<availability hex>`` for an
   availability, ``/meta/sales/reservations/<availability hex>/<reservation hex>`` for a
   reservation, and ``/meta/quota/used`` for the repo's quota record (§1.4, HEAD: one record
   holding both counters). Values are UTF-8 JSON.
2. Each operation reads and writes through its own ``Txn``. ``faithful`` mode: every ``put``,
   ``delete`` and quota change is its own LevelDB write, in the order the
   caller makes them, as nim-codex's separate datastore writes are (§2.12 item 8).
   ``atomic`` mode: an operation's writes are staged (its own reads see them) and committed by
   ``Txn.commit`` as one LevelDB write batch; an operation that fails never commits.
3. A *write point* is one physical LevelDB write: a put or delete in ``faithful`` mode, the
   batch in ``atomic`` mode. Each is counted, labelled, and may be made to fail or to crash
   by the armed ``FaultPlan``: a failure raises ``DatastoreError`` before the write (nothing
   written), a crash raises ``Crashed`` before the write.
4. ``Crashed`` is a ``BaseException``: no ``except Exception`` in the service catches it, so
   the operation stops dead as a killed process would; the harness then drops the object and
   reopens the directory.
5. Reads never fail unless the plan names them (``fail_read``): nim-codex's read failures
   (``GetFailedError``) matter only for §2.12 item 6.

Mirrors: codex-sales-spec §1.3 (key layout), §1.4 (quota record), §2.0 (helpers), §2.12 (items 5-8).
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import plyvel

from oracle.faults import SimulatedCrash

RESERVATIONS_PREFIX = "/meta/sales/reservations"
QUOTA_KEY = "/meta/quota/used"


class WriteMode(enum.Enum):
    """How an operation's datastore writes reach LevelDB (rule 2)."""

    FAITHFUL = "faithful"
    ATOMIC = "atomic"


class DatastoreError(Exception):
    """A datastore read or write failed (nim-codex: the datastore returned a failure)."""


class Crashed(SimulatedCrash):
    """The process died at a write point (rule 4)."""


@attrs.define
class FaultPlan:
    """Which write point of the armed operation fails or crashes (1-based, counted from ``arm``)."""

    fail_write: int | None = None
    crash_before_write: int | None = None
    fail_read: int | None = None


def availability_key(availability_hex: str) -> str:
    return f"{RESERVATIONS_PREFIX}/{availability_hex}"


def reservation_key(availability_hex: str, reservation_hex: str) -> str:
    return f"{RESERVATIONS_PREFIX}/{availability_hex}/{reservation_hex}"


def depth(key: str) -> int:
    """The number of path segments: 4 for an availability, 5 for a reservation (spec §1.3)."""
    return len(key.strip("/").split("/"))


class QuotaConflict(DatastoreError):
    """An atomic batch would take the repo past its quota: another operation used it meanwhile."""


class Datastore:
    """LevelDB at ``path`` with nim-codex's keys, a write mode, and write points (module rules)."""

    def __init__(self, path: Path | str, mode: WriteMode = WriteMode.ATOMIC) -> None:
        self.path = Path(path)
        self.mode = mode
        self.db: Any = plyvel.DB(str(self.path), create_if_missing=True)
        self.plan = FaultPlan()
        self.writes: list[str] = []  # labels of the write points since ``arm``
        self.reads = 0

    def arm(self, plan: FaultPlan | None = None) -> None:
        """Start counting write points afresh, failing or crashing as ``plan`` says."""
        self.plan = plan or FaultPlan()
        self.writes = []
        self.reads = 0

    def write_point(self, label: str) -> None:
        """One physical write is about to happen: count it, fail it or crash there (rule 3)."""
        index = len(self.writes) + 1
        if self.plan.crash_before_write == index:
            raise Crashed(f"crash before write {index} ({label})")
        if self.plan.fail_write == index:
            self.writes.append(f"{label} (failed)")
            raise DatastoreError(f"injected failure of write {index} ({label})")
        self.writes.append(label)

    def read_point(self, key: str) -> None:
        self.reads += 1
        if self.plan.fail_read == self.reads:
            raise DatastoreError(f"injected failure of read {self.reads} ({key})")

    def committed(self, key: str) -> bytes | None:
        raw: bytes | None = self.db.get(key.encode())
        return raw

    def committed_under(self, prefix: str) -> dict[str, bytes]:
        return {key.decode(): value for key, value in self.db.iterator(prefix=(prefix + "/").encode())}

    def usage(self) -> tuple[int, int]:
        """The committed quota record: (used, reserved)."""
        raw = self.committed(QUOTA_KEY)
        if raw is None:
            return 0, 0
        try:
            record = json.loads(raw)
            return int(record["used"]), int(record["reserved"])
        except (ValueError, KeyError, TypeError) as error:
            raise DatastoreError(f"the quota record at {QUOTA_KEY} is not {{used, reserved}}: {error!r}") from None

    def keys(self) -> Iterator[str]:
        """Every committed key (for tests and the crash harness)."""
        for key in self.db.iterator(include_value=False):
            yield key.decode()

    def transaction(self) -> Txn:
        """The view one operation reads and writes through (rule 2)."""
        return Txn(self)

    def close(self) -> None:
        if not self.db.closed:
            self.db.close()


def _decode(key: str, raw: bytes) -> Any:
    """A stored JSON value; one that is not JSON is a failed read naming its key."""
    try:
        return json.loads(raw)
    except ValueError as error:
        raise DatastoreError(f"the value at {key} is not JSON: {error}") from None


def _quota_record(used: int, reserved: int) -> bytes:
    return json.dumps({"used": used, "reserved": reserved}, sort_keys=True).encode()


class Txn:
    """One operation's access to the store: writes through (faithful) or staged until ``commit`` (atomic).

    The quota record is changed by deltas: in faithful mode each change is an immediate
    read-modify-write of the record (nim-codex ``metaDs.modify``, atomic between awaits); in
    atomic mode the deltas are added to the committed record inside the batch, and a batch that
    would take the repo past ``max_bytes`` (another operation used the quota meanwhile) fails.
    """

    def __init__(self, store: Datastore) -> None:
        self.store = store
        self.atomic = store.mode is WriteMode.ATOMIC
        self.staged: dict[str, bytes | None] = {}
        self.labels: list[str] = []
        self.used_delta = 0
        self.reserved_delta = 0

    def get(self, key: str) -> Any | None:
        """The decoded JSON at ``key``, or None when absent."""
        self.store.read_point(key)
        raw = self.staged[key] if key in self.staged else self.store.committed(key)
        return None if raw is None else _decode(key, raw)

    def query(self, prefix: str) -> list[tuple[str, Any]]:
        """Every (key, JSON value) under ``prefix/``, in key order (this operation's writes included)."""
        self.store.read_point(prefix)
        found: dict[str, bytes | None] = dict(self.store.committed_under(prefix))
        found.update({k: v for k, v in self.staged.items() if k.startswith(prefix + "/")})
        return [(key, _decode(key, value)) for key, value in sorted(found.items()) if value is not None]

    def usage(self) -> tuple[int, int]:
        """(used, reserved) as this operation sees them."""
        used, reserved = self.store.usage()
        return used + self.used_delta, reserved + self.reserved_delta

    def put(self, key: str, value: Any, label: str) -> None:
        """Write ``value`` as JSON at ``key``: a write point in faithful mode, staged in atomic mode."""
        raw = json.dumps(value, sort_keys=True).encode()
        if self.atomic:
            self.staged[key] = raw
            self.labels.append(label)
            return
        self.store.write_point(label)
        self.store.db.put(key.encode(), raw)

    def delete(self, key: str, label: str) -> None:
        """Delete ``key`` (a missing key is fine, as nim-codex's ``delete``)."""
        if self.atomic:
            self.staged[key] = None
            self.labels.append(label)
            return
        self.store.write_point(label)
        self.store.db.delete(key.encode())

    def change_quota(self, used: int, reserved: int, label: str) -> None:
        """Add ``used`` and ``reserved`` (either may be negative) to the quota record."""
        if self.atomic:
            self.used_delta += used
            self.reserved_delta += reserved
            self.labels.append(label)
            return
        now_used, now_reserved = self.store.usage()
        self.store.write_point(label)
        self.store.db.put(QUOTA_KEY.encode(), _quota_record(now_used + used, now_reserved + reserved))

    def commit(self, max_bytes: int) -> None:
        """End an operation that succeeded: in atomic mode, one batch (one write point) holds it all."""
        if not self.atomic or not (self.staged or self.used_delta or self.reserved_delta):
            return
        batch_quota = None
        if self.used_delta or self.reserved_delta:
            used, reserved = self.usage()
            grows = self.used_delta > 0 or self.reserved_delta > 0
            if used < 0 or reserved < 0 or (grows and used + reserved > max_bytes):
                raise QuotaConflict(f"quota changed meanwhile: used {used}, reserved {reserved}, limit {max_bytes}")
            batch_quota = _quota_record(used, reserved)
        self.store.write_point("batch: " + ", ".join(self.labels))
        with self.store.db.write_batch(transaction=True) as batch:
            for key, value in self.staged.items():
                if value is None:
                    batch.delete(key.encode())
                else:
                    batch.put(key.encode(), value)
            if batch_quota is not None:
                batch.put(QUOTA_KEY.encode(), batch_quota)
