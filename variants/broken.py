"""The catalogue of broken variants (see ``variants/__init__.py`` for the rules)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import attrs

from model.actions import (
    OPERATIONS,
    Action,
    CreateAvailability535,
    CreateAvailabilityHead,
    CreateReservation535,
    CreateReservationHead,
    DeleteInactiveReservations,
    DeleteReservation535,
    DeleteReservationHead,
    FindAvailabilityHead,
    OperationTable,
    ReleaseBytes,
    ReturnBytesToAvailability,
    UpdateAvailability,
    with_operation,
)
from model.entities import Availability535, free_bytes
from model.errors import Rejection
from model.state import AnyState, Profile, StateHead

BOTH = frozenset(Profile)
HEAD = frozenset({Profile.CODEX_HEAD})

Wrapper = Callable[..., Any]


@attrs.frozen(kw_only=True)
class Variant:
    """A broken model: what is wrong, what it is modelled on, and which rules should catch it."""

    name: str
    summary: str
    modelled_on: str
    profiles: frozenset[Profile]
    detected_by: frozenset[str]
    actions: dict[Profile, type[Action]]
    wrapper: Wrapper

    def operations(self, profile: Profile) -> OperationTable:
        """The profile's operation table with this variant's broken operation in place."""
        action_type = self.actions[profile]
        real = OPERATIONS[profile][action_type]
        return with_operation(profile, action_type, functools.partial(self.wrapper, real))


def _shift_free(state: Any, availability_id: str, delta: int) -> Any:
    """``state`` with one availability's free bytes moved by ``delta`` (a planted slip)."""
    a = state.availabilities[availability_id]
    if isinstance(a, Availability535):
        moved: Any = attrs.evolve(a, size=a.size + delta)
    else:
        moved = attrs.evolve(a, free_size=a.free_size + delta)
    return attrs.evolve(state, availabilities=state.availabilities.set(availability_id, moved))


def _free(state: AnyState, availability_id: str) -> int:
    return free_bytes(state.availabilities[availability_id])


def delete_keeps_bytes(real: Wrapper, state: AnyState, **kw: Any) -> Any:
    """Delete drops the reservation but never gives its remaining bytes back."""
    reservation = state.reservations.get(kw["reservation_id"])
    result = real(state, **kw)
    if isinstance(result, Rejection) or reservation is None or result is state:
        return result
    return _shift_free(result, reservation.availability_id, -reservation.size)


def delete_returns_slot_size(real: Wrapper, state: AnyState, **kw: Any) -> Any:
    """Delete gives back the whole slot size, as if nothing had been written."""
    reservation = state.reservations.get(kw["reservation_id"])
    result = real(state, **kw)
    if isinstance(result, Rejection) or reservation is None or result is state:
        return result
    written = state.reservation_ledgers[reservation.id].slot_size - reservation.size
    return _shift_free(result, reservation.availability_id, written)


def return_twice(real: Wrapper, state: AnyState, **kw: Any) -> Any:
    """Return bytes applies its effect twice."""
    once = real(state, **kw)
    return once if isinstance(once, Rejection) else real(once, **kw)


def free_guard_off_by_one(real: Wrapper, state: AnyState, **kw: Any) -> Any:
    """The free-size guard lets a slot one byte larger than the free size through."""
    aid = kw["availability_id"]
    if aid in state.availabilities and kw["slot_size"] == _free(state, aid) + 1:
        return real(_shift_free(state, aid, 1), **kw)
    return real(state, **kw)


def release_keeps_repo_reserved(real: Wrapper, state: AnyState, **kw: Any) -> Any:
    """Release lowers the reservation but not the repo's reserved counter."""
    result = real(state, **kw)
    return result if isinstance(result, Rejection) else attrs.evolve(result, repo=state.repo)


def restart_deletes_active(real: Wrapper, state: AnyState, **kw: Any) -> Any:
    """The restart cleanup deletes every reservation, active slots included."""
    return real(state, active_slots=frozenset())


def collateral_dropped_when_empty(real: Wrapper, state: AnyState, **kw: Any) -> Any:
    """Delete drops the returned collateral when the reservation's size is zero (before #1216)."""
    reservation = state.reservations.get(kw["reservation_id"])
    if reservation is not None and reservation.size == 0:
        kw = {**kw, "returned_collateral": None}
    return real(state, **kw)


def reservation_takes_no_collateral(real: Wrapper, state: AnyState, **kw: Any) -> Any:
    """Creating a reservation leaves the remaining collateral untouched."""
    return real(state, **{**kw, "collateral_per_byte": 0})


def patch_total_keeps_free(real: Wrapper, state: AnyState, **kw: Any) -> Any:
    """A totalSize PATCH changes the total but leaves freeSize as it was (hazard §2.12 item 9)."""
    result = real(state, **kw)
    aid = kw["availability_id"]
    if isinstance(result, Rejection) or kw.get("total_size") is None:
        return result
    return _shift_free(result, aid, _free(state, aid) - _free(result, aid))


def patch_growth_not_reserved(real: Wrapper, state: AnyState, **kw: Any) -> Any:
    """A totalSize PATCH moves freeSize but never touches the repo's reserved counter."""
    result = real(state, **kw)
    return result if isinstance(result, Rejection) else attrs.evolve(result, repo=state.repo)


def return_skips_repo(real: Wrapper, state: AnyState, **kw: Any) -> Any:
    """Return bytes adds to freeSize without re-reserving the bytes in the repo."""
    result = real(state, **kw)
    return result if isinstance(result, Rejection) else attrs.evolve(result, repo=state.repo)


def find_ignores_enabled(real: Wrapper, state: StateHead, **kw: Any) -> Any:
    """Matching forgets the ``enabled`` flag and offers disabled availabilities."""
    enabled = {aid: attrs.evolve(a, enabled=True) for aid, a in state.availabilities.items()}
    return real(attrs.evolve(state, availabilities=state.availabilities.update(enabled)), **kw)


def until_ignored_on_create(real: Wrapper, state: StateHead, **kw: Any) -> Any:
    """createReservation skips the until rule, hosting slots that outlive the availability."""
    aid = kw["availability_id"]
    original = state.availabilities.get(aid)
    if original is None:
        return real(state, **kw)
    unlimited = attrs.evolve(state, availabilities=state.availabilities.set(aid, attrs.evolve(original, until=0)))
    result = real(unlimited, **kw)
    if isinstance(result, Rejection):
        return result
    restored = attrs.evolve(result.availabilities[aid], until=original.until)
    return attrs.evolve(result, availabilities=result.availabilities.set(aid, restored))


def quota_check_off_by_one(real: Wrapper, state: AnyState, **kw: Any) -> Any:
    """The repo's reserve check lets one byte past the maximum through."""
    size = kw.get("size", kw.get("total_size", 0))
    repo = state.repo
    if repo.used + repo.reserved + size == repo.max_bytes + 1:
        bigger = attrs.evolve(state, repo=attrs.evolve(repo, max_bytes=repo.max_bytes + 1))
        result = real(bigger, **kw)
        return (
            result
            if isinstance(result, Rejection)
            else attrs.evolve(result, repo=attrs.evolve(result.repo, max_bytes=repo.max_bytes))
        )
    return real(state, **kw)


def _both(head: type[Action], old: type[Action]) -> dict[Profile, type[Action]]:
    return {Profile.CODEX_HEAD: head, Profile.CODEX_535: old}


VARIANTS: tuple[Variant, ...] = (
    Variant(
        name="delete_keeps_bytes",
        wrapper=delete_keeps_bytes,
        profiles=BOTH,
        actions=_both(DeleteReservationHead, DeleteReservation535),
        summary="a delete that does not return the reservation's remaining bytes",
        modelled_on="nim-codex#411 / #467 (bytes never returned), spec §2.7, §7 B2-B3",
        detected_by=frozenset(
            {"delete_returns_remaining_bytes", "repo_reserved_identity", "reserved_bytes_within_total"}
        ),
    ),
    Variant(
        name="delete_returns_slot_size",
        wrapper=delete_returns_slot_size,
        profiles=BOTH,
        actions=_both(DeleteReservationHead, DeleteReservation535),
        summary="a delete that returns the whole slot size, written bytes included",
        modelled_on="nim-codex#1172 (suspected freeSize > totalSize), spec §2.7, §7 B10",
        detected_by=frozenset(
            {"delete_returns_remaining_bytes", "repo_reserved_identity", "reserved_bytes_within_total"}
        ),
    ),
    Variant(
        name="return_twice",
        wrapper=return_twice,
        profiles=HEAD,
        actions={Profile.CODEX_HEAD: ReturnBytesToAvailability},
        summary="a return that returns the written bytes twice",
        modelled_on="returnBytesToAvailability is not idempotent, spec §2.6 step 7, §6 INV-7",
        detected_by=frozenset(
            {"return_bytes_re_reserves_written", "returned_within_written", "free_size_within_total"}
        ),
    ),
    Variant(
        name="free_guard_off_by_one",
        wrapper=free_guard_off_by_one,
        profiles=BOTH,
        actions=_both(CreateReservationHead, CreateReservation535),
        summary="a free-size guard off by one that over-books an availability by a byte",
        modelled_on="nim-codex PR #825 (over-booked availabilities), spec §2.4, §6 INV-6",
        detected_by=frozenset(
            {
                "expected_outcome",
                "repo_reserved_identity",
                "reserved_bytes_within_total",
                "create_reservation_moves_free_size",
            }
        ),
    ),
    Variant(
        name="release_keeps_repo_reserved",
        wrapper=release_keeps_repo_reserved,
        profiles=BOTH,
        actions=_both(ReleaseBytes, ReleaseBytes),
        summary="a release that does not lower the repo's reserved counter",
        modelled_on="spec §2.5 step 3, §1.4; quota lock-up of nim-codex#1251",
        detected_by=frozenset({"release_moves_batch", "repo_reserved_identity"}),
    ),
    Variant(
        name="restart_deletes_active",
        wrapper=restart_deletes_active,
        profiles=BOTH,
        actions=_both(DeleteInactiveReservations, DeleteInactiveReservations),
        summary="a restart cleanup that deletes active reservations too",
        modelled_on="Sales.load / deleteInactiveReservations, spec §2.10, §6 INV-17, nim-codex#556",
        detected_by=frozenset({"restart_cleanup_deletes_inactive"}),
    ),
    Variant(
        name="collateral_dropped_when_empty",
        wrapper=collateral_dropped_when_empty,
        profiles=HEAD,
        actions={Profile.CODEX_HEAD: DeleteReservationHead},
        summary="a collateral return dropped when the reservation's size is zero",
        modelled_on="nim-codex PR #1216 (28a83db6) part (b), spec §2.7 history, §7 B11",
        detected_by=frozenset({"delete_returns_remaining_bytes"}),
    ),
    Variant(
        name="reservation_takes_no_collateral",
        wrapper=reservation_takes_no_collateral,
        profiles=HEAD,
        actions={Profile.CODEX_HEAD: CreateReservationHead},
        summary="a reservation that does not consume the collateral budget",
        modelled_on="per-slot collateral before PR #1078, spec §2.4 step 4, §7 B19",
        detected_by=frozenset({"create_reservation_moves_free_size", "expected_outcome"}),
    ),
    Variant(
        name="patch_total_keeps_free",
        wrapper=patch_total_keeps_free,
        profiles=HEAD,
        actions={Profile.CODEX_HEAD: UpdateAvailability},
        summary="a totalSize update that leaves freeSize behind",
        modelled_on="update(Availability) changing totalSize without freeSize, spec §2.12 item 9",
        detected_by=frozenset(
            {
                "update_availability_follows_patch",
                "repo_reserved_identity",
                "reserved_bytes_within_total",
                "free_size_within_total",
            }
        ),
    ),
    Variant(
        name="patch_growth_not_reserved",
        wrapper=patch_growth_not_reserved,
        profiles=HEAD,
        actions={Profile.CODEX_HEAD: UpdateAvailability},
        summary="a totalSize update that does not reserve or release the delta in the repo",
        modelled_on="updateAvailability step 4, spec §2.2, §6 INV-2",
        detected_by=frozenset({"update_availability_follows_patch", "repo_reserved_identity"}),
    ),
    Variant(
        name="return_skips_repo",
        wrapper=return_skips_repo,
        profiles=HEAD,
        actions={Profile.CODEX_HEAD: ReturnBytesToAvailability},
        summary="a return that adds to freeSize without re-reserving the bytes in the repo",
        modelled_on="returnBytesToAvailability step 4, spec §2.6, §6 INV-2",
        detected_by=frozenset({"return_bytes_re_reserves_written", "repo_reserved_identity"}),
    ),
    Variant(
        name="find_ignores_enabled",
        wrapper=find_ignores_enabled,
        profiles=HEAD,
        actions={Profile.CODEX_HEAD: FindAvailabilityHead},
        summary="matching that offers disabled availabilities",
        modelled_on="findAvailability's enabled predicate (PR #1099), spec §2.8, §6 INV-12",
        detected_by=frozenset({"find_returns_first_match"}),
    ),
    Variant(
        name="until_ignored_on_create",
        wrapper=until_ignored_on_create,
        profiles=HEAD,
        actions={Profile.CODEX_HEAD: CreateReservationHead},
        summary="a reservation accepted for a slot that outlives the availability's until",
        modelled_on="updateAvailability's until rule (PR #1099), spec §2.2 step 3, §6 INV-11",
        detected_by=frozenset({"until_covers_reservations", "expected_outcome"}),
    ),
    Variant(
        name="quota_check_off_by_one",
        wrapper=quota_check_off_by_one,
        profiles=BOTH,
        actions=_both(CreateAvailabilityHead, CreateAvailability535),
        summary="a repo reserve check that lets one byte past the maximum through",
        modelled_on="RepoStore.reserve, spec §1.4, §6 INV-1, nim-codex#919",
        detected_by=frozenset({"expected_outcome", "repo_within_quota"}),
    ),
)
