"""Deliberately broken variants of the sale machine, the slot queue and the market (see ``variants/__init__.py``).

Rules:
1. A variant is a ``MarketRules`` value: the profile's real rules with one part replaced (the sale
   table, an ending, the queue's push, take or worker release, the request moves). The model is
   never modified or patched.
2. Each broken part reuses the real one and bends its input or output, so the slip it plants is
   the only difference.
3. Each variant names the rules expected to catch it; ``tests/test_market_strength.py`` asserts
   that the exhaustive search (and, for some, the random market machine) finds it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

from model import slot_queue
from model.chain import REQUEST_MOVES, Move, RequestState
from model.market_state import MarketRules, default_rules
from model.sale import Collateral, SaleEvent, SaleState, Target
from model.slot_queue import SlotQueue, SlotQueueItem, SlotQueueItemExists
from model.state import Profile

BOTH = frozenset(Profile)
HEAD = frozenset({Profile.CODEX_HEAD})


@attrs.frozen(kw_only=True)
class MarketVariant:
    """A broken market: what is wrong, what it is modelled on, and which rules should catch it."""

    name: str
    summary: str
    modelled_on: str
    profiles: frozenset[Profile]
    detected_by: frozenset[str]
    scope: str
    breaks: Callable[[MarketRules], MarketRules]

    def rules(self, profile: Profile) -> MarketRules:
        """The profile's real market rules with this variant's slip in place."""
        return self.breaks(default_rules(profile))


def _endings(rules: MarketRules, state: SaleState, **changes: Any) -> MarketRules:
    endings = dict(rules.endings)
    endings[state] = attrs.evolve(endings[state], **changes)
    return attrs.evolve(rules, endings=endings)


def cleanup_forgets_written_bytes(rules: MarketRules) -> MarketRules:
    """Every cleanup deletes the reservation without first returning the written bytes."""
    endings = {state: attrs.evolve(ending, returns_written=False) for state, ending in rules.endings.items()}
    return attrs.evolve(rules, endings=endings)


def ignored_keeps_collateral(rules: MarketRules) -> MarketRules:
    """``SaleIgnored(returnsCollateral)`` passes no collateral to ``deleteReservation``."""
    return _endings(rules, SaleState.IGNORED, collateral=Collateral.NONE)


def _push_evicting_highest(queue: SlotQueue, item: SlotQueueItem) -> SlotQueue | SlotQueueItemExists:
    grown = slot_queue.push(attrs.evolve(queue, max_size=queue.max_size + 1), item)
    if isinstance(grown, SlotQueueItemExists):
        return grown
    items = grown.items[1:] if len(grown.items) > queue.max_size else grown.items
    return attrs.evolve(grown, max_size=queue.max_size, items=items)


def eviction_drops_highest(rules: MarketRules) -> MarketRules:
    """A push onto a full queue drops the highest-priority item instead of the lowest."""
    return attrs.evolve(rules, push=_push_evicting_highest)


def _push_duplicates(queue: SlotQueue, item: SlotQueueItem) -> SlotQueue | SlotQueueItemExists:
    items = tuple(sorted((*queue.items, item), key=lambda i: slot_queue.sort_key(i, queue.profile)))
    return attrs.evolve(queue, items=items[: queue.max_size], paused=queue.paused and item.seen)


def push_allows_duplicates(rules: MarketRules) -> MarketRules:
    """A push does not check whether the slot is already queued."""
    return attrs.evolve(rules, push=_push_duplicates)


def _keep_worker(queue: SlotQueue) -> SlotQueue:
    return queue


def workers_not_freed(rules: MarketRules) -> MarketRules:
    """Neither ``onFilled`` nor the cleanup gives the queue worker back."""
    return attrs.evolve(rules, release_worker=_keep_worker)


def _take_unbounded(queue: SlotQueue) -> tuple[SlotQueue, SlotQueueItem | None] | slot_queue.QueueNotReady:
    return slot_queue.take(attrs.evolve(queue, max_workers=queue.busy + 1)) if queue.items else slot_queue.take(queue)


def _take_past_max(queue: SlotQueue) -> tuple[SlotQueue, SlotQueueItem | None] | slot_queue.QueueNotReady:
    taken = _take_unbounded(queue)
    if isinstance(taken, slot_queue.QueueNotReady):
        return taken
    return attrs.evolve(taken[0], max_workers=queue.max_workers), taken[1]


def take_ignores_max_workers(rules: MarketRules) -> MarketRules:
    """A worker takes an item even when ``maxWorkers`` sales are already in flight."""
    return attrs.evolve(rules, take=_take_past_max)


def _push_unpausing(queue: SlotQueue, item: SlotQueueItem) -> SlotQueue | SlotQueueItemExists:
    pushed = slot_queue.push(queue, item)
    return pushed if isinstance(pushed, SlotQueueItemExists) else attrs.evolve(pushed, paused=False)


def seen_push_unpauses(rules: MarketRules) -> MarketRules:
    """Pushing any item unpauses the queue, seen ones included (the re-queue of a reprocessed slot)."""
    return attrs.evolve(rules, push=_push_unpausing)


def finish_new_request(rules: MarketRules) -> MarketRules:
    """The contract lets a request that never started finish."""
    moves = dict(REQUEST_MOVES)
    moves[(RequestState.NEW, Move.FINISH)] = RequestState.FINISHED
    return attrs.evolve(rules, request_moves=moves)


def errored_handles_cancel(rules: MarketRules) -> MarketRules:
    """``SaleErrored`` reacts to ``onCancelled`` and moves to Cancelled before its cleanup ran."""
    table = dict(rules.table)
    table[(SaleState.ERRORED, SaleEvent.ON_CANCELLED)] = Target(state=SaleState.CANCELLED)
    return attrs.evolve(rules, table=table)


MARKET_VARIANTS: tuple[MarketVariant, ...] = (
    MarketVariant(
        name="cleanup_forgets_written_bytes",
        breaks=cleanup_forgets_written_bytes,
        profiles=HEAD,
        scope="lifecycle",
        summary="a cleanup that deletes the reservation without returning the written bytes",
        modelled_on="nim-codex#411 / #467, PR #650 and #1099 (written bytes returned), spec §3.3, §7 B2-B3",
        detected_by=frozenset({"cleanup_restores_free_size", "free_size_restored"}),
    ),
    MarketVariant(
        name="ignored_keeps_collateral",
        breaks=ignored_keeps_collateral,
        profiles=HEAD,
        scope="pair",
        summary="SaleIgnored(returnsCollateral) that does not return the collateral",
        modelled_on="PR #1216 (28a83db6) part (a), spec §3.3, §7 B11",
        detected_by=frozenset({"collateral_returned_on_end"}),
    ),
    MarketVariant(
        name="eviction_drops_highest",
        breaks=eviction_drops_highest,
        profiles=BOTH,
        scope="queue",
        summary="a full queue that evicts its highest-priority item",
        modelled_on="SlotQueue.push eviction, spec §4",
        detected_by=frozenset({"eviction_drops_lowest", "queue_ordered"}),
    ),
    MarketVariant(
        name="push_allows_duplicates",
        breaks=push_allows_duplicates,
        profiles=BOTH,
        scope="race",
        summary="a push that queues a slot already in the queue",
        modelled_on="SlotQueueItemExistsError, spec §4, §6 INV-16",
        detected_by=frozenset({"queue_items_unique"}),
    ),
    MarketVariant(
        name="workers_not_freed",
        breaks=workers_not_freed,
        profiles=BOTH,
        scope="lifecycle",
        summary="a worker never given back by onFilled or the cleanup",
        modelled_on="PR #1234 (cleanup cancelled midway left the worker waiting), spec §3.3, §7 B14",
        detected_by=frozenset({"workers_accounted"}),
    ),
    MarketVariant(
        name="take_ignores_max_workers",
        breaks=take_ignores_max_workers,
        profiles=BOTH,
        scope="pair",
        summary="a queue that starts more sales than it has workers",
        modelled_on="maxWorkers, spec §4, §6 INV-18, nim-codex#534",
        detected_by=frozenset({"workers_within_max"}),
    ),
    MarketVariant(
        name="seen_push_unpauses",
        breaks=seen_push_unpauses,
        profiles=HEAD,
        scope="queue",
        summary="a queue unpaused by the re-push of a seen item",
        modelled_on="slot-queue pausing (PR #752), spec §4, §6 INV-15",
        detected_by=frozenset({"queue_stays_paused"}),
    ),
    MarketVariant(
        name="finish_new_request",
        breaks=finish_new_request,
        profiles=BOTH,
        scope="lifecycle",
        summary="a request that finishes without ever starting",
        modelled_on="the marketplace contract's request-state rules (Certora), docs NOTES",
        detected_by=frozenset({"request_state_changes_allowed"}),
    ),
    MarketVariant(
        name="errored_handles_cancel",
        breaks=errored_handles_cancel,
        profiles=BOTH,
        scope="lifecycle",
        summary="a sale in Errored that still reacts to onCancelled",
        modelled_on="terminal states and PR #963 (states ignoring events), spec §3.1, §3.2",
        detected_by=frozenset({"terminal_states_absorb"}),
    ),
)
