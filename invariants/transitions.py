"""Transition properties: claims relating a state, an action on it, and its outcome.

Rules:
1. Each property looks only at the actions it names and ignores the rest.
2. Expected values are restated from the spec, not computed with the model's own kernels,
   so a broken kernel cannot vouch for itself.
3. "Nothing else changes" compares every other record of the pre- and post-state.

Mirrors: codex-sales-spec §2.4-2.8, §2.10, §6 (INV-5, INV-7, INV-12, INV-17).
"""

from __future__ import annotations

from collections.abc import Iterator

from invariants.catalogue import ACCEPTED, BOTH, HEAD, REJECTED, Scope, TransitionProperty, Violation, violation
from invariants.justified import rejection_is_justified
from model.actions import (
    Accepted,
    Action,
    CreateAvailability535,
    CreateAvailabilityHead,
    CreateReservation535,
    CreateReservationHead,
    DeleteInactiveReservations,
    DeleteReservation535,
    DeleteReservationHead,
    FindAvailability535,
    FindAvailabilityHead,
    Outcome,
    ReleaseBytes,
    ReturnBytesToAvailability,
    UpdateAvailability,
)
from model.entities import Availability535, AvailabilityHead, free_bytes
from model.state import AnyState, same_state


def _collateral(availability: Availability535 | AvailabilityHead) -> int:
    return availability.total_remaining_collateral if isinstance(availability, AvailabilityHead) else 0


def _others_unchanged(
    rule: str,
    pre: AnyState,
    post: AnyState,
    availability_ids: set[str],
    reservation_ids: set[str],
    scope: Scope | None = None,
) -> Iterator[Violation]:
    """Every availability and reservation not named is the same record before and after; a scoped
    check leaves this whole-state clause to its caller (catalogue rule 4)."""
    if scope is not None:
        return
    for kind, before, after, named in (
        ("availability", pre.availabilities, post.availabilities, availability_ids),
        ("reservation", pre.reservations, post.reservations, reservation_ids),
    ):
        for key in sorted(set(before) | set(after)):
            if key not in named and before.get(key) != after.get(key):
                yield violation(
                    rule=rule, entity=key, message=f"{kind} {key} changed although the action does not touch it"
                )


def _missing(rule: str, key: str, *records: object) -> tuple[Violation, ...]:
    """An accepted action whose record is absent before or after: reported, never a KeyError.

    This and ``_delta`` return a tuple, not a generator: ``yield from`` walks it the same, one
    comparison made either way, without building a generator per clause of every checked step."""
    if any(record is None for record in records):
        return (violation(rule=rule, entity=key, message=f"accepted although {key} is missing before or after"),)
    return ()


def _delta(rule: str, entity: str, what: str, expected: int, observed: int) -> tuple[Violation, ...]:
    if expected != observed:
        return (violation(rule=rule, entity=entity, message=what, expected=expected, observed=observed),)
    return ()


def delete_returns_remaining_bytes(
    pre: AnyState, action: Action, outcome: Outcome, scope: Scope | None = None
) -> Iterator[Violation]:
    rule = "delete_returns_remaining_bytes"
    if not isinstance(action, DeleteReservation535 | DeleteReservationHead) or not isinstance(outcome, Accepted):
        return
    post = outcome.state
    reservation = pre.reservations.get(action.reservation_id)
    if reservation is None or reservation.availability_id != action.availability_id:
        if not same_state(post, pre):
            yield violation(
                rule=rule, entity=action.reservation_id, message="deleting a missing reservation changed the state"
            )
        return
    aid = reservation.availability_id
    before, after = pre.availabilities.get(aid), post.availabilities.get(aid)
    if before is None or after is None:
        yield from _missing(rule, aid, before, after)
        return
    yield from _delta(
        rule,
        aid,
        "free size did not grow by the reservation's remaining size",
        free_bytes(before) + reservation.size,
        free_bytes(after),
    )
    returned = getattr(action, "returned_collateral", None) or 0
    yield from _delta(
        rule,
        aid,
        "remaining collateral did not grow by the returned collateral",
        _collateral(before) + returned,
        _collateral(after),
    )
    if action.reservation_id in post.reservations:
        yield violation(rule=rule, entity=action.reservation_id, message="the reservation still exists after delete")
    if post.repo != pre.repo:
        yield violation(rule=rule, entity="repo", message="delete changed the repo quota")
    yield from _others_unchanged(rule, pre, post, {aid}, {action.reservation_id}, scope)


def return_then_delete_returns_slot_size(pre: AnyState, action: Action, outcome: Outcome) -> Iterator[Violation]:
    rule = "return_then_delete_returns_slot_size"
    if not isinstance(action, DeleteReservationHead) or not isinstance(outcome, Accepted):
        return
    reservation = pre.reservations.get(action.reservation_id)
    ledger = pre.reservation_ledgers.get(action.reservation_id)
    if reservation is None or ledger is None or ledger.returns == 0:
        return
    yield from _delta(
        rule,
        action.reservation_id,
        "return then delete gave back other than the slot size",
        ledger.slot_size,
        ledger.returned + reservation.size,
    )


def release_moves_batch(
    pre: AnyState, action: Action, outcome: Outcome, scope: Scope | None = None
) -> Iterator[Violation]:
    rule = "release_moves_batch"
    if not isinstance(action, ReleaseBytes) or not isinstance(outcome, Accepted):
        return
    post = outcome.state
    rid = action.reservation_id
    before, after = pre.reservations.get(rid), post.reservations.get(rid)
    if before is None or after is None:
        yield from _missing(rule, rid, before, after)
        return
    yield from _delta(rule, rid, "reservation size did not drop by the batch", before.size - action.bytes, after.size)
    yield from _delta(
        rule, "repo", "repo reserved did not drop by the batch", pre.repo.reserved - action.bytes, post.repo.reserved
    )
    yield from _delta(rule, "repo", "release changed repo used", pre.repo.used, post.repo.used)
    yield from _others_unchanged(rule, pre, post, set(), {rid}, scope)


def create_reservation_moves_free_size(
    pre: AnyState, action: Action, outcome: Outcome, scope: Scope | None = None
) -> Iterator[Violation]:
    rule = "create_reservation_moves_free_size"
    if not isinstance(action, CreateReservation535 | CreateReservationHead) or not isinstance(outcome, Accepted):
        return
    post = outcome.state
    aid, rid = action.availability_id, action.reservation_id
    before, after = pre.availabilities.get(aid), post.availabilities.get(aid)
    if before is None or after is None:
        yield from _missing(rule, aid, before, after)
        return
    yield from _delta(
        rule, aid, "free size did not drop by the slot size", free_bytes(before) - action.slot_size, free_bytes(after)
    )
    taken = action.slot_size * getattr(action, "collateral_per_byte", 0)
    yield from _delta(
        rule,
        aid,
        "remaining collateral did not drop by slot size times collateral per byte",
        _collateral(before) - taken,
        _collateral(after),
    )
    created = post.reservations.get(rid)
    if created is None or created.size != action.slot_size or created.availability_id != aid:
        yield violation(rule=rule, entity=rid, message="the new reservation is missing or does not hold the slot size")
    if post.repo != pre.repo:
        yield violation(rule=rule, entity="repo", message="creating a reservation changed the repo quota")
    yield from _others_unchanged(rule, pre, post, {aid}, {rid}, scope)


def create_availability_reserves_size(
    pre: AnyState, action: Action, outcome: Outcome, scope: Scope | None = None
) -> Iterator[Violation]:
    rule = "create_availability_reserves_size"
    if not isinstance(action, CreateAvailability535 | CreateAvailabilityHead) or not isinstance(outcome, Accepted):
        return
    post = outcome.state
    size = action.size if isinstance(action, CreateAvailability535) else action.total_size
    yield from _delta(
        rule, "repo", "repo reserved did not grow by the size", pre.repo.reserved + size, post.repo.reserved
    )
    created = post.availabilities.get(action.availability_id)
    if created is None or free_bytes(created) != size:
        yield violation(
            rule=rule, entity=action.availability_id, message="the new availability does not offer its whole size"
        )
    if isinstance(created, AvailabilityHead) and isinstance(action, CreateAvailabilityHead):
        yield from _delta(
            rule,
            created.id,
            "remaining collateral differs from total collateral",
            action.total_collateral,
            created.total_remaining_collateral,
        )
    yield from _others_unchanged(rule, pre, post, {action.availability_id}, set(), scope)


def return_bytes_re_reserves_written(
    pre: AnyState, action: Action, outcome: Outcome, scope: Scope | None = None
) -> Iterator[Violation]:
    rule = "return_bytes_re_reserves_written"
    if not isinstance(action, ReturnBytesToAvailability) or not isinstance(outcome, Accepted):
        return
    post = outcome.state
    aid = action.availability_id
    reservation, before, after = (
        pre.reservations.get(action.reservation_id),
        pre.availabilities.get(aid),
        post.availabilities.get(aid),
    )
    if reservation is None or before is None or after is None:
        yield from _missing(rule, aid, reservation, before, after)
        return
    amount = action.bytes - reservation.size
    yield from _delta(
        rule, aid, "free size did not grow by bytes - size", free_bytes(before) + amount, free_bytes(after)
    )
    yield from _delta(
        rule, "repo", "repo reserved did not grow by bytes - size", pre.repo.reserved + amount, post.repo.reserved
    )
    yield from _others_unchanged(rule, pre, post, {aid}, set(), scope)


def update_availability_follows_patch(
    pre: AnyState, action: Action, outcome: Outcome, scope: Scope | None = None
) -> Iterator[Violation]:
    rule = "update_availability_follows_patch"
    if not isinstance(action, UpdateAvailability) or not isinstance(outcome, Accepted):
        return
    post = outcome.state
    before, after = pre.availabilities.get(action.availability_id), post.availabilities.get(action.availability_id)
    if not isinstance(before, AvailabilityHead) or not isinstance(after, AvailabilityHead):
        yield from _missing(rule, action.availability_id, before, after)
        return
    grown = after.total_size - before.total_size
    yield from _delta(
        rule, after.id, "free size did not move with total size", before.free_size + grown, after.free_size
    )
    yield from _delta(
        rule, "repo", "repo reserved did not move with total size", pre.repo.reserved + grown, post.repo.reserved
    )
    for field in ("total_size", "duration", "min_price_per_byte_per_second", "total_collateral", "enabled", "until"):
        wanted = getattr(action, field)
        if getattr(after, field) != (getattr(before, field) if wanted is None else wanted):
            yield violation(rule=rule, entity=after.id, message=f"{field} is not what the PATCH asked")
    if action.total_collateral is None and after.total_remaining_collateral != before.total_remaining_collateral:
        yield violation(rule=rule, entity=after.id, message="remaining collateral changed without a total collateral")
    yield from _others_unchanged(rule, pre, post, {after.id}, set(), scope)


def _head_match(a: AvailabilityHead, action: FindAvailabilityHead) -> bool:
    collateral_ok = (
        action.collateral_per_byte * a.free_size <= a.total_remaining_collateral
        if a.free_size > 0
        else action.collateral_per_byte <= a.total_remaining_collateral
    )
    return (
        a.enabled
        and action.size <= a.free_size
        and action.duration <= a.duration
        and collateral_ok
        and action.price_per_byte_per_second >= a.min_price_per_byte_per_second
        and (a.until == 0 or a.until >= action.valid_until)
    )


def _old_match(a: Availability535, action: FindAvailability535) -> bool:
    return (
        action.size <= a.size
        and action.duration <= a.duration
        and action.collateral <= a.max_collateral
        and action.min_price >= a.min_price
    )


def find_returns_first_match(pre: AnyState, action: Action, outcome: Outcome) -> Iterator[Violation]:
    rule = "find_returns_first_match"
    if not isinstance(action, FindAvailability535 | FindAvailabilityHead) or not isinstance(outcome, Accepted):
        return
    matching = sorted(
        a.id
        for a in pre.availabilities_by_id()
        if (isinstance(a, AvailabilityHead) and isinstance(action, FindAvailabilityHead) and _head_match(a, action))
        or (isinstance(a, Availability535) and isinstance(action, FindAvailability535) and _old_match(a, action))
    )
    expected = matching[0] if matching else None
    if outcome.found != expected:
        yield violation(
            rule=rule,
            entity=str(outcome.found),
            message=f"find returned {outcome.found!r} where the first match by id is {expected!r}",
        )
    if not same_state(outcome.state, pre):
        yield violation(rule=rule, entity="state", message="find changed the state")


def restart_cleanup_deletes_inactive(pre: AnyState, action: Action, outcome: Outcome) -> Iterator[Violation]:
    rule = "restart_cleanup_deletes_inactive"
    if not isinstance(action, DeleteInactiveReservations) or not isinstance(outcome, Accepted):
        return
    post = outcome.state
    given_back: dict[str, int] = {}
    for rid in sorted(pre.reservations):
        reservation = pre.reservations[rid]
        active = (reservation.request_id, reservation.slot_index) in action.active_slots
        if active and post.reservations.get(rid) != reservation:
            yield violation(rule=rule, entity=rid, message="an active reservation was deleted or changed")
        if not active:
            if rid in post.reservations:
                yield violation(rule=rule, entity=rid, message="an inactive reservation survived the restart cleanup")
            given_back[reservation.availability_id] = given_back.get(reservation.availability_id, 0) + reservation.size
    for aid in sorted(pre.availabilities):
        before = pre.availabilities[aid]
        after = post.availabilities.get(aid)
        if after is None:
            yield from _missing(rule, aid, after)
            continue
        yield from _delta(
            rule,
            aid,
            "free size did not grow by the deleted reservations' sizes",
            free_bytes(before) + given_back.get(aid, 0),
            free_bytes(after),
        )
        yield from _delta(
            rule, aid, "restart cleanup changed remaining collateral", _collateral(before), _collateral(after)
        )
    if post.repo != pre.repo:
        yield violation(rule=rule, entity="repo", message="restart cleanup changed the repo quota")


def reservation_size_never_grows(
    pre: AnyState, action: Action, outcome: Outcome, scope: Scope | None = None
) -> Iterator[Violation]:
    if not isinstance(outcome, Accepted):
        return
    post = outcome.state.reservations
    for rid in sorted(post) if scope is None else scope.reservations:
        after = post.get(rid)
        before = pre.reservations.get(rid)
        if before is not None and after is not None and after.size > before.size:
            yield violation(
                rule="reservation_size_never_grows",
                entity=rid,
                message="reservation size grew",
                expected=before.size,
                observed=after.size,
            )


TRANSITION_PROPERTIES: tuple[TransitionProperty, ...] = (
    TransitionProperty(
        name="delete_returns_remaining_bytes",
        spec="§2.7, §6 INV-7, INV-8",
        profiles=BOTH,
        check=delete_returns_remaining_bytes,
        local=delete_returns_remaining_bytes,
        actions=frozenset({"delete_reservation"}),
        outcomes=frozenset({ACCEPTED}),
        statement=(
            "Deleting a reservation returns exactly its remaining bytes (and any returned collateral) to its "
            "availability and changes nothing else; deleting a missing one changes nothing."
        ),
    ),
    TransitionProperty(
        name="return_then_delete_returns_slot_size",
        spec="§2.6, §3.3, §6 INV-7",
        profiles=HEAD,
        check=return_then_delete_returns_slot_size,
        actions=frozenset({"delete_reservation"}),
        outcomes=frozenset({ACCEPTED}),
        statement="Returning a slot's bytes and then deleting its reservation gives back exactly the slot size.",
    ),
    TransitionProperty(
        name="release_moves_batch",
        spec="§2.5",
        profiles=BOTH,
        check=release_moves_batch,
        local=release_moves_batch,
        actions=frozenset({"release_bytes"}),
        outcomes=frozenset({ACCEPTED}),
        statement="Releasing a batch moves exactly the batch out of the reservation and the repo's reserved bytes.",
    ),
    TransitionProperty(
        name="create_reservation_moves_free_size",
        spec="§2.4, §6 INV-6",
        profiles=BOTH,
        check=create_reservation_moves_free_size,
        local=create_reservation_moves_free_size,
        actions=frozenset({"create_reservation"}),
        outcomes=frozenset({ACCEPTED}),
        statement=(
            "Creating a reservation moves exactly the slot size from the availability's free size into the "
            "reservation, and (HEAD) exactly slot size times collateral per byte out of the remaining collateral."
        ),
    ),
    TransitionProperty(
        name="create_availability_reserves_size",
        spec="§2.1, §1.4",
        profiles=BOTH,
        check=create_availability_reserves_size,
        local=create_availability_reserves_size,
        actions=frozenset({"create_availability"}),
        outcomes=frozenset({ACCEPTED}),
        statement="Creating an availability reserves exactly its size in the repo and offers all of it.",
    ),
    TransitionProperty(
        name="return_bytes_re_reserves_written",
        spec="§2.6",
        profiles=HEAD,
        check=return_bytes_re_reserves_written,
        local=return_bytes_re_reserves_written,
        actions=frozenset({"return_bytes_to_availability"}),
        outcomes=frozenset({ACCEPTED}),
        statement=(
            "Returning bytes adds bytes minus the reservation's size to both the free size "
            "and the repo's reserved bytes."
        ),
    ),
    TransitionProperty(
        name="update_availability_follows_patch",
        spec="§2.2, §2.3",
        profiles=HEAD,
        check=update_availability_follows_patch,
        local=update_availability_follows_patch,
        actions=frozenset({"update_availability"}),
        outcomes=frozenset({ACCEPTED}),
        statement=(
            "A PATCH sets exactly the given fields, moves free size and repo reserved with the total size, "
            "and changes nothing else."
        ),
    ),
    TransitionProperty(
        name="find_returns_first_match",
        spec="§2.8, §6 INV-12",
        profiles=BOTH,
        check=find_returns_first_match,
        actions=frozenset({"find_availability"}),
        outcomes=frozenset({ACCEPTED}),
        statement=(
            "Finding an availability returns the matching availability with the smallest id, or none when none matches."
        ),
    ),
    TransitionProperty(
        name="restart_cleanup_deletes_inactive",
        spec="§2.10, §6 INV-17",
        profiles=BOTH,
        check=restart_cleanup_deletes_inactive,
        actions=frozenset({"delete_inactive_reservations"}),
        outcomes=frozenset({ACCEPTED}),
        statement="The restart cleanup deletes exactly the reservations of inactive slots, returning only their sizes.",
    ),
    TransitionProperty(
        name="reservation_size_never_grows",
        spec="§6 INV-5",
        profiles=BOTH,
        check=reservation_size_never_grows,
        local=reservation_size_never_grows,
        outcomes=frozenset({ACCEPTED}),
        statement="No operation makes a reservation's size grow.",
    ),
    TransitionProperty(
        name="rejection_is_justified",
        spec="§2 (guards)",
        profiles=BOTH,
        check=rejection_is_justified,
        outcomes=frozenset({REJECTED}),
        statement="An operation is refused only when the pre-state really fails the guard the refusal names.",
    ),
)
