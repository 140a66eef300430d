"""The slot queue: slots waiting for a worker, by priority, with a bounded size and worker pool.

Rules:
1. An item's identity is ``(request_id, slot_index)``; a push of a present identity is refused.
2. ``items`` is kept highest priority first. The order is a total refinement of nim-codex's
   ``<`` (``outranks``): where nim-codex leaves two items unordered (a tie, or an expiry missing on
   one side at HEAD), the model orders them by ``sort_key``'s later fields, which a heap may also do.
   (At 570a1f7b every item has an expiry; there a missing one would break the refinement.)
3. After a push that makes the queue longer than ``max_size``, the last (lowest-priority) item goes.
4. A worker takes the first item only when the queue is not paused (HEAD) and a worker is idle
   (``busy < max_workers``). At HEAD a seen item is not processed: the queue pauses and the item
   goes back. An unseen push unpauses; so does ``unpause`` (an enabled availability was saved).
5. At 570a1f7b there is no seen flag and no pause: items are pushed unseen and the queue never pauses.

Mirrors: codex-sales-spec §4; nim-codex ``codex/sales/slotqueue.nim`` at bd360322 and 570a1f7b.
"""

from __future__ import annotations

import attrs

from model.errors import Rejection
from model.records import evolve
from model.state import Profile

DEFAULT_MAX_WORKERS = 3
DEFAULT_MAX_SIZE = 128


@attrs.frozen(kw_only=True)
class SlotQueueItem:
    """nim-codex ``SlotQueueItem``; ``collateral`` is per slot, ``expiry`` is None for freed slots."""

    request_id: str
    slot_index: int
    slot_size: int
    duration: int
    price_per_byte_per_second: int
    collateral: int
    expiry: int | None = None
    seen: bool = False

    @property
    def key(self) -> tuple[str, int]:
        return (self.request_id, self.slot_index)

    @property
    def profitability(self) -> int:
        """``duration * pricePerBytePerSecond * slotSize`` (HEAD); equals OLD's ``pricePerSlot``."""
        return self.duration * self.price_per_byte_per_second * self.slot_size


@attrs.frozen(kw_only=True)
class SlotQueue:
    """The queue's items (highest priority first), bounds, busy workers and pause flag."""

    profile: Profile
    max_size: int = DEFAULT_MAX_SIZE
    max_workers: int = DEFAULT_MAX_WORKERS
    items: tuple[SlotQueueItem, ...] = ()
    busy: int = 0
    paused: bool = False


@attrs.frozen(kw_only=True)
class SlotQueueItemExists(Rejection):
    """nim-codex ``SlotQueueItemExistsError``: an item with this identity is already queued."""

    request_id: str
    slot_index: int


@attrs.frozen(kw_only=True)
class QueueNotReady(Rejection):
    """No worker can take an item now: the queue is ``empty``, ``paused``, or every worker is ``busy``."""

    reason: str


def new_queue(
    profile: Profile, *, max_size: int = DEFAULT_MAX_SIZE, max_workers: int = DEFAULT_MAX_WORKERS
) -> SlotQueue:
    """An empty queue; it starts paused at HEAD (spec §4 "The queue starts paused")."""
    return SlotQueue(profile=profile, max_size=max_size, max_workers=max_workers, paused=profile is Profile.CODEX_HEAD)


def _score(a: SlotQueueItem, b: SlotQueueItem, profile: Profile) -> tuple[int, int]:
    """nim-codex ``<``: weighted wins of ``a`` over ``b`` and of ``b`` over ``a``."""
    wins = [0, 0]

    def add(a_wins: bool, b_wins: bool, weight: int) -> None:
        wins[0] += (1 << weight) if a_wins else 0
        wins[1] += (1 << weight) if b_wins else 0

    if profile is Profile.CODEX_HEAD:
        add(not a.seen and b.seen, a.seen and not b.seen, 4)
    add(a.profitability > b.profitability, a.profitability < b.profitability, 3)
    add(a.collateral < b.collateral, a.collateral > b.collateral, 2)
    if a.expiry is not None and b.expiry is not None:
        add(a.expiry > b.expiry, a.expiry < b.expiry, 1)
    if profile is Profile.CODEX_535:
        add(a.slot_size < b.slot_size, a.slot_size > b.slot_size, 0)
    return wins[0], wins[1]


def outranks(a: SlotQueueItem, b: SlotQueueItem, profile: Profile) -> bool:
    """``a`` has strictly higher priority than ``b`` under nim-codex's ``<`` (spec §4)."""
    mine, theirs = _score(a, b, profile)
    return mine > theirs


def sort_key(item: SlotQueueItem, profile: Profile) -> tuple[int | str, ...]:
    """A total order refining ``outranks``: smaller keys come first."""
    expiry = -1 if item.expiry is None else item.expiry
    seen = int(item.seen) if profile is Profile.CODEX_HEAD else 0
    size = item.slot_size if profile is Profile.CODEX_535 else 0
    return (seen, -item.profitability, item.collateral, -expiry, size, item.request_id, item.slot_index)


def _insert(items: tuple[SlotQueueItem, ...], item: SlotQueueItem, profile: Profile) -> tuple[SlotQueueItem, ...]:
    key = sort_key(item, profile)
    at = next((i for i, other in enumerate(items) if key < sort_key(other, profile)), len(items))
    return (*items[:at], item, *items[at:])


def push(queue: SlotQueue, item: SlotQueueItem) -> SlotQueue | SlotQueueItemExists:
    """Queue ``item`` by priority, dropping the lowest-priority item if the queue grows past ``max_size``.

    Guards: SlotQueueItemExists when an item with the same identity is queued.
    Effect: item inserted; the last item dropped when ``len > max_size``; at HEAD an unseen item unpauses.
    Mirrors: ``SlotQueue.push`` (bd360322, 570a1f7b), spec §4.
    """
    if any(other.key == item.key for other in queue.items):
        return SlotQueueItemExists(request_id=item.request_id, slot_index=item.slot_index)
    if queue.profile is Profile.CODEX_535:
        item = evolve(item, seen=False)
    items = _insert(queue.items, item, queue.profile)
    if len(items) > queue.max_size:
        items = items[:-1]
    return evolve(queue, items=items, paused=queue.paused and item.seen)


def take(queue: SlotQueue) -> tuple[SlotQueue, SlotQueueItem | None] | QueueNotReady:
    """A worker pops the first item: the item to process, or None when it was seen (the queue pauses).

    Guards: QueueNotReady when paused (HEAD), empty, or every worker is busy.
    Effect: unseen item: removed, ``busy += 1``. Seen item (HEAD): the queue pauses, the item stays.
    Mirrors: the ``SlotQueue`` worker loop (bd360322; 570a1f7b without seen/pause), spec §4.
    """
    if queue.paused:
        return QueueNotReady(reason="paused")
    if not queue.items:
        return QueueNotReady(reason="empty")
    if queue.busy >= queue.max_workers:
        return QueueNotReady(reason="busy")
    first = queue.items[0]
    if first.seen:
        return evolve(queue, paused=True), None
    return evolve(queue, items=queue.items[1:], busy=queue.busy + 1), first


def release_worker(queue: SlotQueue) -> SlotQueue:
    """A sale was filled or cleaned up: its worker is idle again (``completed.fire()``, spec §3.3 step 4)."""
    return evolve(queue, busy=max(queue.busy - 1, 0))


def delete_request(queue: SlotQueue, request_id: str) -> SlotQueue:
    """Drop every item of a request (RequestCancelled / Failed / Fulfilled, spec §4)."""
    return evolve(queue, items=tuple(i for i in queue.items if i.request_id != request_id))


def delete_item(queue: SlotQueue, request_id: str, slot_index: int) -> SlotQueue:
    """Drop one slot's item (SlotFilled / SlotReservationsFull, spec §4)."""
    return evolve(queue, items=tuple(i for i in queue.items if i.key != (request_id, slot_index)))


def availability_saved(queue: SlotQueue) -> SlotQueue:
    """``OnAvailabilitySaved`` of an enabled availability: clear seen flags, then unpause (HEAD, spec §4)."""
    if queue.profile is not Profile.CODEX_HEAD:
        return queue
    cleared = tuple(evolve(i, seen=False) if i.seen else i for i in queue.items)
    items = tuple(sorted(cleared, key=lambda i: sort_key(i, queue.profile)))
    return evolve(queue, items=items, paused=False)


def restarted(queue: SlotQueue) -> SlotQueue:
    """The node restarted: an empty queue with the same bounds (the queue lives in memory only)."""
    return new_queue(queue.profile, max_size=queue.max_size, max_workers=queue.max_workers)
