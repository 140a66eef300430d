"""Invariants and transition properties of a whole market: sales, slot queue, requests.

Rules:
1. Each check is a pure function of a ``MarketState`` (or of a pre-state, a market action and its
   outcome) yielding ``Violation`` values; it restates the spec rather than calling the model's
   effects, so a broken effect cannot vouch for itself.
2. A breach nim-codex commits at the profile's commit carries its spec reference in ``known``:
   the collateral a cleanup does not give back (§3.3), the reservation a restart agent does not
   know about (§3.4), the written bytes a cleanup cannot return for lack of repo headroom (§3.3).
3. The reservation invariants of ``invariants.state_invariants`` apply to ``market.reservations``;
   the harness runs them beside these.

Mirrors: codex-sales-spec §3.2-3.4, §4, §6 (INV-7, INV-10, INV-15 - INV-18); codex-contracts-eth
request-state rules; the Codex team's distributed test "freeSize equals totalSize once contracts ended".
"""

from __future__ import annotations

from collections.abc import Iterator

from invariants.catalogue import BOTH, HEAD, Invariant, TransitionProperty, Violation
from model.chain import RequestState
from model.entities import AvailabilityHead, free_bytes
from model.market import (
    CancelRequest,
    FailRequest,
    FillSlot,
    MarketAccepted,
    MarketAction,
    MarketOutcome,
    ProcessSlot,
    Restart,
    SaleStep,
)
from model.market_state import MarketState
from model.sale import PRE_FILL, TERMINAL, SaleState
from model.slot_queue import outranks
from model.state import Profile, in_key_order, items_in_key_order

MarketInvariant = Invariant[MarketState]
MarketProperty = TransitionProperty[MarketState, MarketAction, MarketOutcome]

#: The request state changes the marketplace contract allows (codex-contracts-eth Certora rules).
ALLOWED_REQUEST_CHANGES = frozenset(
    {
        (RequestState.NEW, RequestState.STARTED),
        (RequestState.NEW, RequestState.CANCELLED),
        (RequestState.STARTED, RequestState.FINISHED),
        (RequestState.STARTED, RequestState.FAILED),
    }
)

LEAK_ERRORED = "spec §3.3: SaleErrored passes no collateral"
LEAK_CANCELLED = "spec §3.3: SaleCancelled passes no collateral for a slot this host did not fill"
LEAK_CURRENT = "spec §3.3: currentCollateral differs from the collateral taken (repair discount)"
RESTART_ORPHAN = "spec §3.4: a restart agent carries no reservation"
NO_HEADROOM = "spec §3.3: written bytes lost when the repo has no headroom to re-reserve them"
LOST_KNOWINGLY = "spec §3.3, §3.4: written bytes never returned (no headroom, restart)"


def terminal_sale_holds_no_reservation(market: MarketState) -> Iterator[Violation]:
    for sale in in_key_order(market.sales):
        if not sale.ended:
            continue
        live = market.reservations.reservations
        if sale.reservation_id is not None and sale.reservation_id in live:
            yield Violation(
                rule="terminal_sale_holds_no_reservation",
                entity=sale.reservation_id,
                message=f"sale {sale.key} ended in {sale.state.value} but its reservation is live",
            )
        if sale.orphan is not None and sale.orphan in live:
            yield Violation(
                rule="terminal_sale_holds_no_reservation",
                entity=sale.orphan,
                message=f"restart agent {sale.key} ended in {sale.state.value}; its slot's reservation is live",
                known=RESTART_ORPHAN,
            )


def free_size_restored(market: MarketState) -> Iterator[Violation]:
    state = market.reservations
    if state.repo.used != 0 or any(not sale.ended for sale in in_key_order(market.sales)):
        return
    held: dict[str, int] = {}
    for reservation_id in sorted(state.reservations):
        reservation = state.reservations[reservation_id]
        ledger = state.reservation_ledgers.get(reservation_id)
        written_back = 0 if ledger is None else ledger.slot_size - ledger.returned
        held[reservation.availability_id] = held.get(reservation.availability_id, 0) + written_back
    for availability in state.availabilities_by_id():
        if not isinstance(availability, AvailabilityHead) or availability.free_size == availability.total_size:
            continue
        explained = market.known_lost.get(availability.id, 0) + held.get(availability.id, 0)
        missing = availability.total_size - availability.free_size
        yield Violation(
            rule="free_size_restored",
            entity=availability.id,
            message="every sale ended and every block expired, but free size differs from total size",
            expected=availability.total_size,
            observed=availability.free_size,
            known=LOST_KNOWINGLY if explained == missing else None,
        )


def workers_within_max(market: MarketState) -> Iterator[Violation]:
    working = [s for s in in_key_order(market.sales) if s.item is not None and not s.ended and s.state in PRE_FILL]
    limit = market.queue.max_workers
    for count, what in (
        (len(working), "queue-started sales between Preparing and Filled"),
        (market.queue.busy, "busy workers"),
    ):
        if count > limit:
            yield Violation(
                rule="workers_within_max",
                entity="queue",
                message=f"{what} exceed max workers",
                expected=limit,
                observed=count,
            )


def workers_accounted(market: MarketState) -> Iterator[Violation]:
    holding = [s for s in in_key_order(market.sales) if s.worker]
    if market.queue.busy != len(holding):
        yield Violation(
            rule="workers_accounted",
            entity="queue",
            message="busy workers differ from the sales holding one",
            expected=len(holding),
            observed=market.queue.busy,
        )
    for sale in in_key_order(market.sales):
        working = sale.item is not None and not sale.ended and sale.state in PRE_FILL
        if sale.worker and (sale.ended or sale.item is None):
            yield Violation(
                rule="workers_accounted", entity=str(sale.key), message="an ended or restarted sale holds a worker"
            )
        elif working and not sale.worker:
            yield Violation(
                rule="workers_accounted",
                entity=str(sale.key),
                message="a queue-started sale before Filled holds no worker",
            )


def queue_items_unique(market: MarketState) -> Iterator[Violation]:
    seen: set[tuple[str, int]] = set()
    for item in market.queue.items:
        if item.key in seen:
            yield Violation(
                rule="queue_items_unique",
                entity=f"{item.request_id}/{item.slot_index}",
                message="the slot is queued twice",
            )
        seen.add(item.key)


def queue_within_max_size(market: MarketState) -> Iterator[Violation]:
    if len(market.queue.items) > market.queue.max_size:
        yield Violation(
            rule="queue_within_max_size",
            entity="queue",
            message="the queue holds more items than its maximum size",
            expected=market.queue.max_size,
            observed=len(market.queue.items),
        )


def queue_ordered(market: MarketState) -> Iterator[Violation]:
    items = market.queue.items
    for i, earlier in enumerate(items):
        for later in items[i + 1 :]:
            if outranks(later, earlier, market.profile):
                yield Violation(
                    rule="queue_ordered",
                    entity=f"{later.request_id}/{later.slot_index}",
                    message=f"queued after {earlier.request_id}/{earlier.slot_index}, which it outranks",
                )


def collateral_returned_on_end(market: MarketState) -> Iterator[Violation]:
    for sale in in_key_order(market.sales):
        if not sale.ended or sale.reservation_id is None:
            continue
        given = 0 if sale.given is None else sale.given
        if given == sale.taken:
            continue
        known = None
        if sale.state is SaleState.ERRORED and sale.given is None:
            known = LEAK_ERRORED
        elif sale.state is SaleState.CANCELLED and sale.given is None:
            known = LEAK_CANCELLED
        elif sale.state in (SaleState.FINISHED, SaleState.CANCELLED) and given < sale.taken:
            known = LEAK_CURRENT
        yield Violation(
            rule="collateral_returned_on_end",
            entity=str(sale.key),
            message=f"sale ended in {sale.state.value} giving back other than the collateral its reservation took",
            expected=sale.taken,
            observed=given,
            known=known,
        )


# -- transition properties ------------------------------------------------------------------------


def _post(outcome: MarketOutcome) -> MarketState | None:
    return outcome.state if isinstance(outcome, MarketAccepted) else None


def terminal_states_absorb(pre: MarketState, action: MarketAction, outcome: MarketOutcome) -> Iterator[Violation]:
    post = _post(outcome)
    if post is None or isinstance(action, Restart):
        return
    terminal = TERMINAL[pre.profile]
    for key, before in items_in_key_order(pre.sales):
        after = post.sales.get(key)
        if after is None:
            yield Violation(rule="terminal_states_absorb", entity=str(key), message="a sale vanished outside a restart")
        elif before.ended and after != before:
            yield Violation(rule="terminal_states_absorb", entity=str(key), message="an ended sale changed")
        elif before.state in terminal and after.state not in (before.state, SaleState.ERRORED):
            known = (
                "spec §3.2: SaleFinished still declares onCancelled/onFailed"
                if before.state is SaleState.FINISHED
                else None
            )
            yield Violation(
                rule="terminal_states_absorb",
                entity=str(key),
                message=f"left terminal state {before.state.value} for {after.state.value}",
                known=known,
            )


def _saved_enabled(pre: MarketState, post: MarketState) -> bool:
    for availability_id in sorted(post.reservations.availabilities):
        after = post.reservations.availabilities[availability_id]
        before = pre.reservations.availabilities.get(availability_id)
        if not isinstance(after, AvailabilityHead) or not after.enabled:
            continue
        if not isinstance(before, AvailabilityHead):
            return True
        grew = (
            after.free_size > before.free_size
            or after.duration > before.duration
            or after.min_price_per_byte_per_second > before.min_price_per_byte_per_second
            or after.total_remaining_collateral > before.total_remaining_collateral
        )
        if grew:
            return True
    return False


def queue_stays_paused(pre: MarketState, action: MarketAction, outcome: MarketOutcome) -> Iterator[Violation]:
    post = _post(outcome)
    if post is None:
        return
    rule = "queue_stays_paused"
    if isinstance(action, ProcessSlot) and pre.queue.items and pre.queue.items[0].seen and not post.queue.paused:
        yield Violation(rule=rule, entity="queue", message="a worker took a seen item and the queue did not pause")
    if not pre.queue.paused or post.queue.paused or isinstance(action, Restart):
        return
    unseen_push = isinstance(outcome, MarketAccepted) and any(not item.seen for item in outcome.pushed)
    if not unseen_push and not _saved_enabled(pre, post):
        yield Violation(
            rule=rule, entity="queue", message="unpaused without an unseen push or an enabled availability save"
        )


def _accounted_removals(pre: MarketState, post: MarketState, action: MarketAction) -> set[tuple[str, int]] | None:
    """Queue items the action removes on purpose; None when it may remove them all (restart)."""
    if isinstance(action, Restart):
        return None
    if isinstance(action, ProcessSlot):
        return {pre.queue.items[0].key} if pre.queue.items else set()
    removed: set[tuple[str, int]] = set()
    if isinstance(action, CancelRequest | FailRequest):
        removed |= {item.key for item in pre.queue.items if item.request_id == action.request_id}
    if isinstance(action, FillSlot | SaleStep):
        removed.add((action.request_id, action.slot_index))
        started = pre.requests.get(action.request_id)
        if started is not None and started.state is not post.requests[action.request_id].state:
            removed |= {item.key for item in pre.queue.items if item.request_id == action.request_id}
    return removed


def eviction_drops_lowest(pre: MarketState, action: MarketAction, outcome: MarketOutcome) -> Iterator[Violation]:
    post = _post(outcome)
    if post is None:
        return
    accounted = _accounted_removals(pre, post, action)
    if accounted is None:
        return
    kept = {item.key for item in post.queue.items}
    for item in pre.queue.items:
        if item.key in kept or item.key in accounted:
            continue
        if len(post.queue.items) < post.queue.max_size:
            yield Violation(
                rule="eviction_drops_lowest",
                entity=f"{item.request_id}/{item.slot_index}",
                message="an item left a queue that is not full",
            )
        for other in post.queue.items:
            if outranks(item, other, pre.profile):
                yield Violation(
                    rule="eviction_drops_lowest",
                    entity=f"{item.request_id}/{item.slot_index}",
                    message=f"evicted although it outranks {other.request_id}/{other.slot_index}",
                )


def request_state_changes_allowed(
    pre: MarketState, action: MarketAction, outcome: MarketOutcome
) -> Iterator[Violation]:
    post = _post(outcome)
    if post is None:
        return
    rule = "request_state_changes_allowed"
    for request_id, after in items_in_key_order(post.requests):
        before = pre.requests.get(request_id)
        if before is None and after.state is not RequestState.NEW:
            yield Violation(rule=rule, entity=request_id, message=f"a new request starts {after.state.value}")
        elif (
            before is not None
            and before.state is not after.state
            and (before.state, after.state) not in ALLOWED_REQUEST_CHANGES
        ):
            yield Violation(rule=rule, entity=request_id, message=f"{before.state.value} -> {after.state.value}")
    for request_id in pre.requests:
        if request_id not in post.requests:
            yield Violation(rule=rule, entity=request_id, message="a request vanished")


def cleanup_restores_free_size(pre: MarketState, action: MarketAction, outcome: MarketOutcome) -> Iterator[Violation]:
    post = _post(outcome)
    if post is None or not isinstance(action, SaleStep):
        return
    before, after = pre.sales.get(action.key), post.sales.get(action.key)
    if before is None or after is None or before.ended or not after.ended or before.reservation_id is None:
        return
    res = pre.reservations
    reservation, ledger = (
        res.reservations.get(before.reservation_id),
        res.reservation_ledgers.get(before.reservation_id),
    )
    if reservation is None or ledger is None:
        return
    pre_a = res.availabilities.get(reservation.availability_id)
    post_a = post.reservations.availabilities.get(reservation.availability_id)
    if pre_a is None or post_a is None:
        return
    written = ledger.slot_size - reservation.size - ledger.returned
    expected = reservation.size + (written if pre.profile is Profile.CODEX_HEAD else 0)
    grown = free_bytes(post_a) - free_bytes(pre_a)
    if grown == expected:
        return
    repo = res.repo
    no_headroom = repo.used + repo.reserved + written > repo.max_bytes
    yield Violation(
        rule="cleanup_restores_free_size",
        entity=reservation.availability_id,
        message=f"sale {before.key}'s cleanup gave back other than the slot's bytes",
        expected=expected,
        observed=grown,
        known=NO_HEADROOM if no_headroom and grown == reservation.size else None,
    )


MARKET_INVARIANTS: tuple[MarketInvariant, ...] = (
    Invariant(
        name="terminal_sale_holds_no_reservation",
        spec="§3.3, §3.4, §6 INV-7",
        profiles=BOTH,
        check=terminal_sale_holds_no_reservation,
        statement="A sale that ended in a terminal state leaves no live reservation behind.",
    ),
    Invariant(
        name="free_size_restored",
        spec="§6 INV-3, INV-7; Codex distributed tests",
        profiles=HEAD,
        check=free_size_restored,
        statement=(
            "Once every sale has ended and every written block expired, each availability's free size equals its "
            "total size."
        ),
    ),
    Invariant(
        name="workers_within_max",
        spec="§3.3, §4, §6 INV-18",
        profiles=BOTH,
        check=workers_within_max,
        statement=(
            "At most maxWorkers queue-started sales are between Preparing and Filled, and at most maxWorkers "
            "workers are busy."
        ),
    ),
    Invariant(
        name="workers_accounted",
        spec="§3.3 cleanup step 4, §4",
        profiles=BOTH,
        check=workers_accounted,
        statement="The queue's busy workers are exactly the queue-started sales not yet filled nor cleaned up.",
    ),
    Invariant(
        name="queue_items_unique",
        spec="§4, §6 INV-16",
        profiles=BOTH,
        check=queue_items_unique,
        statement="No two queue items have the same request id and slot index.",
    ),
    Invariant(
        name="queue_within_max_size",
        spec="§4",
        profiles=BOTH,
        check=queue_within_max_size,
        statement="The queue never holds more than its maximum size.",
    ),
    Invariant(
        name="queue_ordered",
        spec="§4",
        profiles=BOTH,
        check=queue_ordered,
        statement="No queue item outranks an item queued before it.",
    ),
    Invariant(
        name="collateral_returned_on_end",
        spec="§3.3, §6 INV-10",
        profiles=HEAD,
        check=collateral_returned_on_end,
        statement="A sale that ended gave back exactly the collateral its reservation took.",
    ),
)

MARKET_PROPERTIES: tuple[MarketProperty, ...] = (
    TransitionProperty(
        name="terminal_states_absorb",
        spec="§3.1, §3.2, §3.5",
        profiles=BOTH,
        check=terminal_states_absorb,
        statement=(
            "A sale in a terminal state stays there (its run may still fail into Errored), and an ended sale never "
            "changes."
        ),
    ),
    TransitionProperty(
        name="queue_stays_paused",
        spec="§4, §6 INV-15",
        profiles=HEAD,
        check=queue_stays_paused,
        statement=(
            "A paused queue unpauses only on an unseen push or an enabled availability save; taking a seen item "
            "pauses it."
        ),
    ),
    TransitionProperty(
        name="eviction_drops_lowest",
        spec="§4",
        profiles=BOTH,
        check=eviction_drops_lowest,
        statement=(
            "An item leaves the queue unasked only when the queue is full, and never one that outranks an item kept."
        ),
    ),
    TransitionProperty(
        name="request_state_changes_allowed",
        spec="marketplace contract (Certora rules)",
        profiles=BOTH,
        check=request_state_changes_allowed,
        statement="Requests start New and change only New to Started or Cancelled and Started to Finished or Failed.",
    ),
    TransitionProperty(
        name="cleanup_restores_free_size",
        spec="§3.3, §6 INV-7",
        profiles=BOTH,
        check=cleanup_restores_free_size,
        statement=(
            "A cleanup gives the slot's bytes back to its availability: all of them (HEAD), the unwritten ones "
            "(570a1f7b)."
        ),
    ),
)


def market_rules_for(profile: Profile) -> tuple[tuple[MarketInvariant, ...], tuple[MarketProperty, ...]]:
    """The market invariants and properties that apply to ``profile``."""
    return (
        tuple(i for i in MARKET_INVARIANTS if profile in i.profiles),
        tuple(p for p in MARKET_PROPERTIES if profile in p.profiles),
    )


def check_market(market: MarketState) -> list[Violation]:
    """Every violation of the profile's market invariants in ``market``."""
    invariants, _ = market_rules_for(market.profile)
    return [v for invariant in invariants for v in invariant.check(market)]


def check_market_transition(pre: MarketState, action: MarketAction, outcome: MarketOutcome) -> list[Violation]:
    """Every violation of the profile's market properties by one step."""
    _, properties = market_rules_for(pre.profile)
    return [v for prop in properties for v in prop.check(pre, action, outcome)]


def market_rule(name: str) -> MarketInvariant | MarketProperty:
    """The market rule called ``name``; KeyError when there is none."""
    rules: dict[str, MarketInvariant | MarketProperty] = {r.name: r for r in MARKET_INVARIANTS}
    rules.update((p.name, p) for p in MARKET_PROPERTIES)
    return rules[name]
