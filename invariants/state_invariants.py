"""State invariants: claims every state reachable by the model's operations must satisfy.

Rules:
1. Each check walks the state once and yields one ``Violation`` per breaching entity.
2. The OLD capacity is the availability's size at creation; the HEAD capacity is ``total_size``.
3. Written bytes of a reservation are ``slot_size - size`` from its ledger.
4. Every check but the repo's two takes an optional ``Scope`` (catalogue rule 4): with one, it
   walks only the scope's availabilities and reservations, in the same order, with the same code.
5. A caller running several scoped checks on one state may pass ``resolved(state, scope)``: the
   same scope, its records looked up once; a check given it for another state looks them up itself.
6. Three checks walk an availability's whole index (its held bytes, its held collateral, its
   index's consistency). A ``Resolved`` scope may carry each availability's ``Holdings``, sums the
   caller keeps as it goes (the incremental trace checker: oracle/pipeline.py rule 6); a check
   then reads them instead of walking the index. ``holdings(state, id)`` is what they must equal;
   the checks' own walks (the only path the symbolic engine takes) are unchanged.

Mirrors: codex-sales-spec §6 (INV-1..5, INV-7, INV-10, INV-11).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

import attrs

from invariants.catalogue import BOTH, HEAD, Invariant, Scope, Violation, violation
from model.entities import Availability535, AvailabilityHead, free_bytes
from model.numbers import largest
from model.state import AnyState, in_key_order, items_in_key_order


class Holdings(NamedTuple):
    """What one availability's index holds (rule 6): over its indexed reservations that have a
    ledger, the sum of ``slot_size - returned`` and of ``collateral``; how many indexed ids are not
    reservations; and the largest indexed ``valid_until`` (0 when none)."""

    bytes: int
    collateral: int
    missing: int
    latest: int


def held_by(state: AnyState, reservation_id: str) -> tuple[int, int, int]:
    """What one indexed reservation adds to its availability's ``Holdings`` (rule 6): its
    ``slot_size - returned`` and ``collateral`` (0 without a ledger), and 1 if it is no reservation."""
    held = state.reservation_ledgers.get(reservation_id)
    written, collateral = (0, 0) if held is None else (held.slot_size - held.returned, held.collateral)
    return written, collateral, 0 if reservation_id in state.reservations else 1


def holdings(state: AnyState, availability_id: str) -> Holdings:
    """The ``Holdings`` of ``availability_id`` in ``state``, walked from its index (rule 6)."""
    index = state.availability_ledgers[availability_id].reservations
    held_bytes = held_collateral = missing = 0
    for reservation_id in index:
        written, collateral, absent = held_by(state, reservation_id)
        held_bytes, held_collateral, missing = held_bytes + written, held_collateral + collateral, missing + absent
    return Holdings(held_bytes, held_collateral, missing, max((0, *index.values())))


@attrs.frozen
class Resolved(Scope):
    """A scope with its records looked up in one ``state`` (rule 5): what ``_availabilities``,
    ``_reservations`` and ``_availability_ledgers`` give for that state, computed once; and,
    optionally, the ``Holdings`` of availabilities by id (rule 6)."""

    state: AnyState
    availability_records: list[Any]
    reservation_records: list[Any]
    availability_ledger_items: list[tuple[str, Any]]
    holdings: Mapping[str, Holdings] | None = None


def resolved(state: AnyState, scope: Scope, held: Mapping[str, Holdings] | None = None) -> Resolved:
    """``scope`` with its records in ``state`` looked up once, for every scoped check of that state
    (rule 5), with ``held`` the holdings of (at least) its availabilities in ``state`` (rule 6)."""
    availabilities, reservations, ledgers = state.availabilities, state.reservations, state.availability_ledgers
    return Resolved(
        scope.availabilities,
        scope.reservations,
        state,
        [availabilities[key] for key in scope.availabilities if key in availabilities],
        [reservations[key] for key in scope.reservations if key in reservations],
        [(key, ledgers[key]) for key in scope.availabilities if key in ledgers],
        held,
    )


def _held(state: AnyState, scope: Scope | None, availability_id: str) -> Holdings | None:
    """The holdings a ``Resolved`` scope carries for ``availability_id`` in ``state``, or None (rule 6)."""
    if type(scope) is Resolved and scope.state is state and scope.holdings is not None:
        return scope.holdings.get(availability_id)
    return None


def _availabilities(state: AnyState, scope: Scope | None) -> list[Any]:
    """The availabilities by id: all of them, or the scope's that exist (rule 4)."""
    if scope is None:
        return state.availabilities_by_id()
    if type(scope) is Resolved and scope.state is state:
        return scope.availability_records
    found = state.availabilities
    return [found[key] for key in scope.availabilities if key in found]


def _reservations(state: AnyState, scope: Scope | None) -> list[Any]:
    """The reservations by id: all of them, or the scope's that exist (rule 4)."""
    if scope is None:
        return state.reservations_by_id()
    if type(scope) is Resolved and scope.state is state:
        return scope.reservation_records
    found = state.reservations
    return [found[key] for key in scope.reservations if key in found]


def _availability_ledgers(state: AnyState, scope: Scope | None) -> list[tuple[str, Any]]:
    """The availability ledgers by id: all of them, or the scope's that exist (rule 4)."""
    if scope is None:
        return items_in_key_order(state.availability_ledgers)
    if type(scope) is Resolved and scope.state is state:
        return scope.availability_ledger_items
    found = state.availability_ledgers
    return [(key, found[key]) for key in scope.availabilities if key in found]


def repo_within_quota(state: AnyState) -> Iterator[Violation]:
    repo = state.repo
    if repo.used + repo.reserved > repo.max_bytes:
        yield violation(
            rule="repo_within_quota",
            entity="repo",
            message="used + reserved exceeds max_bytes",
            expected=repo.max_bytes,
            observed=repo.used + repo.reserved,
        )


def repo_reserved_identity(state: AnyState) -> Iterator[Violation]:
    free = sum(free_bytes(a) for a in state.availabilities_by_id())
    held = sum(r.size for r in state.reservations_by_id())
    if state.repo.reserved != free + held:
        yield violation(
            rule="repo_reserved_identity",
            entity="repo",
            message=f"repo reserved differs from free sizes ({free}) plus reservation sizes ({held})",
            expected=free + held,
            observed=state.repo.reserved,
        )


def reserved_bytes_within_total(state: AnyState, scope: Scope | None = None) -> Iterator[Violation]:
    for availability in _availabilities(state, scope):
        ledger = state.availability_ledgers.get(availability.id)
        if ledger is None:
            continue
        kept = _held(state, scope, availability.id)
        if kept is not None:
            accounted = free_bytes(availability) + ledger.lost + kept.bytes
        else:
            accounted = free_bytes(availability) + ledger.lost
            for reservation_id in sorted(ledger.reservations):
                held = state.reservation_ledgers.get(reservation_id)
                if held is not None:  # a missing ledger is reservation_has_availability's to report
                    accounted += held.slot_size - held.returned
        capacity = ledger.created_size if isinstance(availability, Availability535) else availability.total_size
        if accounted != capacity:
            yield violation(
                rule="reserved_bytes_within_total",
                entity=availability.id,
                message="free + held + written-not-returned + lost differs from the availability's size",
                expected=capacity,
                observed=accounted,
            )


def free_size_within_total(state: AnyState, scope: Scope | None = None) -> Iterator[Violation]:
    for availability in _availabilities(state, scope):
        if isinstance(availability, AvailabilityHead) and availability.free_size > availability.total_size:
            yield violation(
                rule="free_size_within_total",
                entity=availability.id,
                message="free_size exceeds total_size",
                expected=availability.total_size,
                observed=availability.free_size,
            )


def reservation_size_within_slot(state: AnyState, scope: Scope | None = None) -> Iterator[Violation]:
    for reservation in _reservations(state, scope):
        ledger = state.reservation_ledgers.get(reservation.id)
        if ledger is not None and not 0 <= reservation.size <= ledger.slot_size:
            yield violation(
                rule="reservation_size_within_slot",
                entity=reservation.id,
                message="reservation size outside 0..slot size",
                expected=ledger.slot_size,
                observed=reservation.size,
            )


def reservation_has_availability(state: AnyState, scope: Scope | None = None) -> Iterator[Violation]:
    for reservation in _reservations(state, scope):
        parent = state.availability_ledgers.get(reservation.availability_id)
        if reservation.availability_id not in state.availabilities or parent is None:
            yield violation(
                rule="reservation_has_availability",
                entity=reservation.id,
                message=f"availability {reservation.availability_id} does not exist",
            )
        elif reservation.id not in parent.reservations or reservation.id not in state.reservation_ledgers:
            yield violation(
                rule="reservation_has_availability",
                entity=reservation.id,
                message=f"reservation is not indexed under availability {reservation.availability_id}",
            )
    for availability_id, ledger in _availability_ledgers(state, scope):
        kept = _held(state, scope, availability_id)
        if kept is not None:
            indexed, latest = len(ledger.reservations) - kept.missing, kept.latest
        else:
            indexed = sum(1 for rid in ledger.reservations if rid in state.reservations)
            latest = largest(0, *in_key_order(ledger.reservations))
        if indexed != len(ledger.reservations) or latest != ledger.latest_valid_until:
            yield violation(
                rule="reservation_has_availability",
                entity=availability_id,
                message="the availability indexes reservations that do not exist, or a stale latest valid_until",
                expected=latest,
                observed=ledger.latest_valid_until,
            )


def until_covers_reservations(state: AnyState, scope: Scope | None = None) -> Iterator[Violation]:
    for reservation in _reservations(state, scope):
        availability = state.availabilities.get(reservation.availability_id)
        if not isinstance(availability, AvailabilityHead) or availability.until == 0:
            continue
        valid_until = getattr(reservation, "valid_until", 0)
        if valid_until > availability.until:
            yield violation(
                rule="until_covers_reservations",
                entity=reservation.id,
                message=f"valid_until is after availability {availability.id}'s until",
                expected=availability.until,
                observed=valid_until,
            )


def until_not_negative(state: AnyState, scope: Scope | None = None) -> Iterator[Violation]:
    for availability in _availabilities(state, scope):
        if isinstance(availability, AvailabilityHead) and availability.until < 0:
            yield violation(
                rule="until_not_negative",
                entity=availability.id,
                message="until is negative",
                expected=0,
                observed=availability.until,
            )


def collateral_within_total(state: AnyState, scope: Scope | None = None) -> Iterator[Violation]:
    for availability in _availabilities(state, scope):
        if not isinstance(availability, AvailabilityHead):
            continue
        if not 0 <= availability.total_remaining_collateral <= availability.total_collateral:
            ledger = state.availability_ledgers.get(availability.id)
            reset = ledger is not None and ledger.collateral_reset_live
            yield violation(
                rule="collateral_within_total",
                entity=availability.id,
                message="total_remaining_collateral outside 0..total_collateral",
                expected=availability.total_collateral,
                observed=availability.total_remaining_collateral,
                known="nim-codex#1147" if reset else None,
            )


def collateral_conserved(state: AnyState, scope: Scope | None = None) -> Iterator[Violation]:
    for availability in _availabilities(state, scope):
        if not isinstance(availability, AvailabilityHead):
            continue
        ledger = state.availability_ledgers.get(availability.id)
        if ledger is None:
            continue
        kept = _held(state, scope, availability.id)
        if kept is not None:
            held = kept.collateral
        else:
            held = sum(r.collateral for rid in sorted(ledger.reservations) if (r := state.reservation_ledgers.get(rid)))
        observed = availability.total_remaining_collateral + held
        if observed == availability.total_collateral and ledger.collateral_leaked == 0:
            continue
        known = None
        if ledger.collateral_reset_live:
            known = "nim-codex#1147"
        elif ledger.collateral_leaked > 0 and observed + ledger.collateral_leaked == availability.total_collateral:
            known = "spec §3.3 collateral leak"
        yield violation(
            rule="collateral_conserved",
            entity=availability.id,
            message="remaining collateral plus the collateral live reservations took differs from total collateral",
            expected=availability.total_collateral,
            observed=observed,
            known=known,
        )


def returned_within_written(state: AnyState, scope: Scope | None = None) -> Iterator[Violation]:
    for reservation in _reservations(state, scope):
        ledger = state.reservation_ledgers.get(reservation.id)
        if ledger is not None and ledger.returned > ledger.slot_size - reservation.size:
            yield violation(
                rule="returned_within_written",
                entity=reservation.id,
                message="more bytes returned to the availability than were written",
                expected=ledger.slot_size - reservation.size,
                observed=ledger.returned,
            )
    for availability_id, parent in _availability_ledgers(state, scope):
        if parent.lost < 0:
            yield violation(
                rule="returned_within_written",
                entity=availability_id,
                message="deleted reservations returned more written bytes than they wrote",
                expected=0,
                observed=parent.lost,
            )


# The model operations that write each kind of field (catalogue rule 6): the profiles' operation
# modules, read for which of a state's maps and fields each changes. ``delete_inactive_reservations``
# deletes, so it writes whatever ``delete_reservation`` writes.
CREATE_AVAILABILITY = "create_availability"  # an availability and its ledger (and the repo)
UPDATE = "update_availability"  # an availability's fields, its ledger's collateral facts (and the repo)
CREATE_RESERVATION = "create_reservation"  # the availability, its ledger's index, the reservation and its ledger
RELEASE = "release_bytes"  # a reservation's size (and the repo)
RETURN = "return_bytes_to_availability"  # a reservation ledger's returned bytes, the availability's free size
DELETE = "delete_reservation"  # the availability, its ledger, the reservation and its ledger removed


def _writers(*names: str) -> frozenset[str]:
    return frozenset(names) | ({"delete_inactive_reservations"} if DELETE in names else frozenset())


INVARIANTS: tuple[Invariant, ...] = (
    Invariant(
        name="repo_within_quota",
        spec="§6 INV-1, §1.4",
        profiles=BOTH,
        check=repo_within_quota,
        statement="The repo's used plus reserved bytes never exceed its maximum.",
    ),
    Invariant(
        name="repo_reserved_identity",
        spec="§6 INV-2, §1.4",
        profiles=BOTH,
        check=repo_reserved_identity,
        statement="The repo's reserved counter equals the availabilities' free sizes plus the reservations' sizes.",
    ),
    Invariant(
        name="reserved_bytes_within_total",
        spec="§6 INV-3",
        profiles=BOTH,
        check=reserved_bytes_within_total,
        local=reserved_bytes_within_total,
        written_by=_writers(CREATE_AVAILABILITY, UPDATE, CREATE_RESERVATION, RETURN, DELETE),
        statement=(
            "An availability's free bytes, its live reservations' slot sizes less the bytes already returned, "
            "and the written bytes lost to it add up to its size, so reserved bytes never exceed it."
        ),
    ),
    Invariant(
        name="free_size_within_total",
        spec="§6 INV-4",
        profiles=HEAD,
        check=free_size_within_total,
        local=free_size_within_total,
        written_by=_writers(CREATE_AVAILABILITY, UPDATE, CREATE_RESERVATION, RETURN, DELETE),
        statement="An availability's free size never exceeds its total size.",
    ),
    Invariant(
        name="reservation_size_within_slot",
        spec="§6 INV-5",
        profiles=BOTH,
        check=reservation_size_within_slot,
        local=reservation_size_within_slot,
        written_by=_writers(CREATE_RESERVATION, RELEASE, DELETE),
        statement="A reservation's size stays between zero and the slot size it was created with.",
    ),
    Invariant(
        name="reservation_has_availability",
        spec="§1.3",
        profiles=BOTH,
        check=reservation_has_availability,
        local=reservation_has_availability,
        written_by=_writers(CREATE_AVAILABILITY, CREATE_RESERVATION, DELETE),
        statement="Every reservation's availability exists and lists it among its reservations.",
    ),
    Invariant(
        name="until_covers_reservations",
        spec="§6 INV-11",
        profiles=HEAD,
        check=until_covers_reservations,
        local=until_covers_reservations,
        written_by=_writers(CREATE_AVAILABILITY, UPDATE, CREATE_RESERVATION, DELETE),
        statement="An availability with an until limit hosts no reservation valid past that limit.",
    ),
    Invariant(
        name="until_not_negative",
        spec="§2.1, §2.2 (until < 0 is UntilOutOfBoundsError)",
        profiles=HEAD,
        check=until_not_negative,
        local=until_not_negative,
        written_by=_writers(CREATE_AVAILABILITY, UPDATE),
        statement="An availability's until is never negative.",
    ),
    Invariant(
        name="collateral_within_total",
        spec="§6 INV-10, §7 B9",
        profiles=HEAD,
        check=collateral_within_total,
        local=collateral_within_total,
        written_by=_writers(CREATE_AVAILABILITY, UPDATE, CREATE_RESERVATION, DELETE),
        statement="An availability's remaining collateral is never below zero nor above its total collateral.",
    ),
    Invariant(
        name="collateral_conserved",
        spec="§6 INV-10, §3.3",
        profiles=HEAD,
        check=collateral_conserved,
        local=collateral_conserved,
        written_by=_writers(CREATE_AVAILABILITY, UPDATE, CREATE_RESERVATION, DELETE),
        statement=(
            "An availability's remaining collateral plus what its live reservations took equals its total collateral."
        ),
    ),
    Invariant(
        name="returned_within_written",
        spec="§6 INV-7",
        profiles=HEAD,
        check=returned_within_written,
        local=returned_within_written,
        written_by=_writers(CREATE_RESERVATION, RELEASE, RETURN, DELETE),
        statement="Bytes returned to an availability for a reservation never exceed the bytes it wrote.",
    ),
)
