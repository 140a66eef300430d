"""The slot queue: identity, priority per profile, eviction, workers, seen items and pausing."""

from __future__ import annotations

import attrs
from hypothesis import given
from hypothesis import strategies as st

from model import slot_queue as q
from model.slot_queue import QueueNotReady, SlotQueue, SlotQueueItem, SlotQueueItemExists, outranks
from model.state import Profile

HEAD, OLD = Profile.CODEX_HEAD, Profile.CODEX_535


def item(request_id: str = "r", index: int = 0, *, price: int = 1, collateral: int = 1, **kw: object) -> SlotQueueItem:
    """An item of slot size 1 and duration 1, so its profitability is its price."""
    fields: dict[str, object] = {"slot_size": 1, "duration": 1, "expiry": 10, **kw}
    return SlotQueueItem(
        request_id=request_id, slot_index=index, price_per_byte_per_second=price, collateral=collateral, **fields
    )  # type: ignore[arg-type]


def pushed(queue: SlotQueue, *items: SlotQueueItem) -> SlotQueue:
    for one in items:
        result = q.push(queue, one)
        assert isinstance(result, SlotQueue), result
        queue = result
    return queue


def test_new_queue_starts_paused_at_head_only() -> None:
    """HEAD's queue starts paused (spec §4); 570a1f7b has no pause."""
    assert q.new_queue(HEAD).paused
    assert not q.new_queue(OLD).paused
    assert (q.new_queue(HEAD).max_workers, q.new_queue(HEAD).max_size) == (3, 128)


def test_push_orders_by_profitability_then_collateral() -> None:
    """Higher profitability first; at equal profitability, lower collateral first."""
    queue = pushed(q.new_queue(HEAD), item("a", price=1), item("b", price=3), item("c", price=1, collateral=0))
    assert [i.request_id for i in queue.items] == ["b", "c", "a"]


def test_push_unseen_before_seen_at_head() -> None:
    """At HEAD an unseen item outranks a seen one whatever their profitability."""
    queue = pushed(q.new_queue(HEAD), item("rich", price=9, seen=True), item("poor", price=1))
    assert [i.request_id for i in queue.items] == ["poor", "rich"]


def test_push_535_prefers_smaller_slots_last() -> None:
    """At 570a1f7b, with everything else equal, the smaller slot comes first (weight 1)."""
    big = item("big", slot_size=2, price=1)
    small = item("small", slot_size=1, price=2)
    queue = pushed(q.new_queue(OLD), big, small)
    assert [i.request_id for i in queue.items] == ["small", "big"]


def test_invalid_push_of_a_queued_slot() -> None:
    """Pushing an item whose (request id, slot index) is queued is refused and changes nothing."""
    queue = pushed(q.new_queue(HEAD), item("r", 0))
    assert q.push(queue, item("r", 0, price=5)) == SlotQueueItemExists(request_id="r", slot_index=0)


def test_push_past_max_size_drops_the_lowest_priority_item() -> None:
    """A push onto a full queue keeps the max_size best items."""
    queue = pushed(q.new_queue(HEAD, max_size=2), item("a", price=2), item("b", price=1), item("c", price=3))
    assert [i.request_id for i in queue.items] == ["c", "a"]
    queue = pushed(queue, item("d", price=0))
    assert [i.request_id for i in queue.items] == ["c", "a"]


def test_push_unseen_unpauses_seen_does_not() -> None:
    """An unseen push unpauses a paused queue; a seen one leaves it paused (spec §4)."""
    paused = q.new_queue(HEAD)
    assert pushed(paused, item("s", seen=True)).paused
    assert not pushed(paused, item("u")).paused


def test_take_gives_the_first_item_and_a_worker() -> None:
    """A worker takes the highest-priority item and becomes busy."""
    queue = pushed(q.new_queue(HEAD), item("a", price=1), item("b", price=2))
    taken = q.take(queue)
    assert not isinstance(taken, QueueNotReady)
    after, first = taken
    assert first is not None
    assert first.request_id == "b"
    assert (after.busy, [i.request_id for i in after.items]) == (1, ["a"])


def test_invalid_take_when_paused_empty_or_busy() -> None:
    """No item is taken from a paused or empty queue, nor with every worker busy."""
    assert q.take(q.new_queue(HEAD)) == QueueNotReady(reason="paused")
    assert q.take(q.new_queue(OLD)) == QueueNotReady(reason="empty")
    busy = attrs.evolve(pushed(q.new_queue(OLD, max_workers=1), item()), busy=1)
    assert q.take(busy) == QueueNotReady(reason="busy")


def test_take_of_a_seen_item_pauses_and_keeps_it() -> None:
    """A worker that pops a seen item pauses the queue and puts the item back (spec §4)."""
    queue = attrs.evolve(pushed(q.new_queue(HEAD), item("s", seen=True)), paused=False)
    taken = q.take(queue)
    assert not isinstance(taken, QueueNotReady)
    after, first = taken
    assert first is None
    assert after.paused
    assert after.items == queue.items
    assert after.busy == 0


def test_availability_saved_clears_seen_and_unpauses() -> None:
    """OnAvailabilitySaved (enabled) clears the seen flags and unpauses (HEAD); no effect at 570a1f7b."""
    queue = pushed(q.new_queue(HEAD), item("s", seen=True))
    saved = q.availability_saved(queue)
    assert not saved.paused
    assert not saved.items[0].seen
    old = pushed(q.new_queue(OLD), item("s"))
    assert q.availability_saved(old) is old


def test_535_push_forgets_seen() -> None:
    """570a1f7b has no seen flag: a pushed item is unseen."""
    assert not pushed(q.new_queue(OLD), item(seen=True)).items[0].seen


def test_release_worker_and_deletions() -> None:
    """Workers are released (never below zero); a request's or one slot's items can be dropped."""
    queue = pushed(q.new_queue(OLD), item("a", 0), item("a", 1), item("b", 0))
    assert q.release_worker(attrs.evolve(queue, busy=1)).busy == 0
    assert q.release_worker(queue).busy == 0
    assert [i.key for i in q.delete_request(queue, "a").items] == [("b", 0)]
    assert ("a", 1) not in [i.key for i in q.delete_item(queue, "a", 1).items]


def test_restarted_is_an_empty_queue_with_the_same_bounds() -> None:
    """A restart empties the queue; HEAD's starts paused again."""
    queue = attrs.evolve(pushed(q.new_queue(HEAD, max_size=5, max_workers=2), item()), busy=2)
    again = q.restarted(queue)
    assert (again.items, again.busy, again.paused, again.max_size, again.max_workers) == ((), 0, True, 5, 2)


items_strategy = st.builds(
    SlotQueueItem,
    request_id=st.sampled_from(["a", "b", "c"]),
    slot_index=st.integers(0, 3),
    slot_size=st.integers(0, 3),
    duration=st.integers(0, 3),
    price_per_byte_per_second=st.integers(0, 3),
    collateral=st.integers(0, 3),
    expiry=st.one_of(st.none(), st.integers(0, 3)),
    seen=st.booleans(),
)


@given(st.lists(items_strategy, max_size=8), st.sampled_from(list(Profile)), st.integers(1, 5))
def test_push_keeps_the_order_of_nim_codex_priority(items: list[SlotQueueItem], profile: Profile, size: int) -> None:
    """Whatever is pushed, no queued item outranks one before it, and the queue stays within its size."""
    queue = q.new_queue(profile, max_size=size)
    for drawn in items:
        # every 570a1f7b item carries its request's expiry
        one = attrs.evolve(drawn, expiry=0) if profile is OLD and drawn.expiry is None else drawn
        result = q.push(queue, one)
        queue = result if isinstance(result, SlotQueue) else queue
    assert len(queue.items) <= size
    for i, earlier in enumerate(queue.items):
        assert not any(outranks(later, earlier, profile) for later in queue.items[i + 1 :])
