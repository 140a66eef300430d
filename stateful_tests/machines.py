"""Hypothesis rule-based machines that exercise the reservations model, one per profile.

Theory of operation:
1. The machine holds one model state and applies actions through ``model.actions.apply``
   with an operation table (the real one, or a broken variant's).
2. After every step it checks every transition property of the profile, and after every
   step (and at the start) every state invariant. Violations that nim-codex is known to
   commit are tallied, not failed; any other violation raises ``HarnessFailure``.
3. Rules named ``*_refused`` aim at one rejection and assert that it is the outcome.
4. Ids come from bundles: availabilities, live reservations, and (HEAD) reservations whose
   bytes were returned and await their delete, as the Sales cleanup does (spec §3.3).
5. A Python exception escaping the model is itself a failure (``model_raised``).
"""

from __future__ import annotations

from typing import Any

import attrs
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, invariant, multiple, precondition, rule

from invariants import Violation, check_state, check_transition, rules_for
from model import quota
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
    ExpireBlock,
    FindAvailability535,
    FindAvailabilityHead,
    OperationTable,
    Outcome,
    ReleaseBytes,
    ReturnBytesToAvailability,
    StoreBlock,
    UpdateAvailability,
    apply,
)
from model.entities import AvailabilityHead, free_bytes
from model.state import AnyState, Profile, initial_state
from stateful_tests import strategies as s
from stateful_tests.stats import ExplorationStats

ACCEPTED = "accepted"


class HarnessFailure(AssertionError):
    """A rule of the catalogue (or a rule's expected outcome) was broken by a step.

    ``trace`` is every action the failing run applied from its start, the failing one last (for
    an invariant broken at the start, empty); ``setup`` the keyword arguments of the start
    (``initial_state``, or ``initial_market`` at ``level`` ``market``), so the run can be replayed.
    """

    def __init__(
        self,
        violations: list[Violation],
        action: Action | None,
        *,
        trace: tuple[Any, ...] = (),
        setup: dict[str, Any] | None = None,
        level: str = "reservations",
    ) -> None:
        self.violations = violations
        self.action = action
        self.trace = trace
        self.setup = dict(setup or {})
        self.level = level
        lines = [
            f"{v.rule}: {v.entity}: {v.message} (expected {v.expected}, observed {v.observed})" for v in violations
        ]
        super().__init__(f"after {action!r}:\n  " + "\n  ".join(lines))

    @property
    def rules(self) -> frozenset[str]:
        return frozenset(v.rule for v in self.violations)


@attrs.frozen(kw_only=True)
class Handle:
    """What the machine itself knows about a reservation it created."""

    reservation_id: str
    availability_id: str
    slot_size: int
    request_id: str
    slot_index: int
    valid_until: int = 0
    collateral: int = 0


def reservations_machine(
    profile: Profile, *, operations: OperationTable | None = None, stats: ExplorationStats | None = None
) -> type[RuleBasedStateMachine]:
    """A machine class exploring ``profile`` (with ``operations`` in place of the real ones if given)."""
    head = profile is Profile.CODEX_HEAD
    collector = stats if stats is not None else ExplorationStats()
    invariants, properties = rules_for(profile)

    class ReservationsMachine(RuleBasedStateMachine):
        availabilities = Bundle("availabilities")
        reservations = Bundle("reservations")
        returned = Bundle("returned")

        def __init__(self) -> None:
            super().__init__()
            self.setup: dict[str, Any] = {"quota_max_bytes": s.QUOTA}
            self.state: AnyState = initial_state(profile, **self.setup)
            self.trace: list[Action] = []  # every action applied since the start, for HarnessFailure
            self.counter = 0
            self.live: dict[str, Handle] = {}
            collector.runs += 1

        def teardown(self) -> None:
            collector.finish_run()

        def fresh(self, prefix: str) -> str:
            self.counter += 1
            return f"{prefix}{self.counter}"

        def step(self, action: Action, expect: set[str] | None = None) -> Outcome:
            pre = self.state
            try:
                outcome = apply(pre, action, operations)
                violations = check_transition(pre, action, outcome)
            except Exception as exc:
                failure = Violation(rule="model_raised", entity=action.name, message=repr(exc))
                raise HarnessFailure([failure], action, trace=(*self.trace, action), setup=self.setup) from exc
            self.trace.append(action)
            kind = ACCEPTED if isinstance(outcome, Accepted) else outcome.kind
            collector.record_step(action.name, kind, len(properties))
            if expect is not None and kind not in expect:
                message = f"expected {sorted(expect)}, got {outcome!r}"
                violations.append(Violation(rule="expected_outcome", entity=action.name, message=message))
            if violations:
                raise HarnessFailure(violations, action, trace=tuple(self.trace), setup=self.setup)
            if isinstance(outcome, Accepted):
                self.state = outcome.state
            return outcome

        @invariant()
        def invariants_hold(self) -> None:
            found = check_state(self.state)
            collector.record_invariants(len(invariants), [v for v in found if v.known])
            unknown = [v for v in found if not v.known]
            if unknown:
                raise HarnessFailure(unknown, None, trace=tuple(self.trace), setup=self.setup)

        def availability(self, availability_id: str) -> Any:
            return self.state.availabilities[availability_id]

        def remember(self, outcome: Outcome, handle: Handle) -> Any:
            if isinstance(outcome, Accepted):
                self.live[handle.reservation_id] = handle
                return multiple(handle)
            return multiple()

        # -- availabilities -------------------------------------------------------------

        @rule(
            target=availabilities,
            size=s.sizes,
            duration=s.durations,
            price=s.prices,
            collateral=s.collaterals,
            enabled=st.booleans(),
            until=s.untils,
        )
        def create_availability(
            self, size: int, duration: int, price: int, collateral: int, enabled: bool, until: int
        ) -> Any:
            availability_id = self.fresh("a")
            outcome = self.step(
                _availability(profile, availability_id, size, duration, price, collateral, enabled, until)
            )
            return multiple(availability_id) if isinstance(outcome, Accepted) else multiple()

        @rule(
            availability_id=availabilities,
            kind=st.sampled_from(["over_quota", "out_of_range", "negative_until"]),
            excess=s.excess,
            size=s.out_of_range_sizes,
        )
        def create_availability_refused(self, availability_id: str, kind: str, excess: int, size: int) -> None:
            """Aim at ReserveFailed, OutOfRange and (HEAD) UntilOutOfBounds; needs one availability to exist."""
            until = 0
            if kind == "over_quota" or (kind == "negative_until" and not head):
                size, expected = quota.available(self.state.repo) + excess, "ReserveFailed"
            elif kind == "out_of_range":
                expected = "OutOfRange"
            else:
                size, until, expected = excess, -excess, "UntilOutOfBounds"
            self.step(_availability(profile, self.fresh("a"), size, 1, 1, 1, True, until), {expected})

        # -- reservations ---------------------------------------------------------------

        @rule(
            target=reservations,
            availability_id=availabilities,
            share=s.shares,
            per_byte=s.per_byte,
            valid_until=s.times,
            request_id=s.request_ids,
        )
        def create_reservation(
            self, availability_id: str, share: int, per_byte: int, valid_until: int, request_id: str
        ) -> Any:
            slot_size = s.share_of(free_bytes(self.availability(availability_id)), share)
            handle = self._handle(availability_id, slot_size, request_id, valid_until, per_byte)
            return self.remember(self.step(_reservation(profile, handle, per_byte)), handle)

        @rule(availability_id=availabilities, kind=st.sampled_from(["too_big", "unknown"]), excess=s.excess)
        def create_reservation_refused(self, availability_id: str, kind: str, excess: int) -> None:
            """Aim at BytesOutOfBounds (one byte or more past the free size) and NotExists."""
            if kind == "unknown":
                availability_id, slot_size, expected = self.fresh("missing-a"), excess, "NotExists"
            else:
                slot_size, expected = free_bytes(self.availability(availability_id)) + excess, "BytesOutOfBounds"
            handle = self._handle(availability_id, slot_size, "req-x", 1, 0)
            self.step(_reservation(profile, handle, 0), {expected})

        @rule(existing=reservations, availability_id=availabilities)
        def create_reservation_reused_id_refused(self, existing: Handle, availability_id: str) -> None:
            handle = attrs.evolve(existing, availability_id=availability_id, slot_size=0)
            self.step(_reservation(profile, handle, 0), {"IdInUse"})

        def _handle(
            self, availability_id: str, slot_size: int, request_id: str, valid_until: int, per_byte: int
        ) -> Handle:
            return Handle(
                reservation_id=self.fresh("r"),
                availability_id=availability_id,
                slot_size=slot_size,
                request_id=request_id,
                slot_index=self.counter,
                valid_until=valid_until if head else 0,
                collateral=slot_size * per_byte if head else 0,
            )

        @rule(handle=reservations, share=s.shares)
        def release_bytes(self, handle: Handle, share: int) -> None:
            size = self.state.reservations[handle.reservation_id].size
            action = ReleaseBytes(
                reservation_id=handle.reservation_id,
                availability_id=handle.availability_id,
                bytes=s.share_of(size, share),
            )
            self.step(action, {ACCEPTED})

        @rule(handle=reservations, excess=s.excess)
        def release_bytes_too_many_refused(self, handle: Handle, excess: int) -> None:
            size = self.state.reservations[handle.reservation_id].size
            action = ReleaseBytes(
                reservation_id=handle.reservation_id, availability_id=handle.availability_id, bytes=size + excess
            )
            self.step(action, {"BytesOutOfBounds"})

        @rule(handle=consumes(reservations), choice=st.sampled_from(["none", "exact", "part"]), share=s.shares)
        def delete_reservation(self, handle: Handle, choice: str, share: int) -> None:
            self._delete(handle, choice, share)

        @rule(availability_id=availabilities)
        def delete_missing_reservation(self, availability_id: str) -> None:
            self.step(_delete(profile, self.fresh("gone-r"), availability_id, None), {ACCEPTED})

        def _delete(self, handle: Handle, choice: str, share: int) -> None:
            returned = {"none": None, "exact": handle.collateral, "part": s.share_of(handle.collateral, share)}[choice]
            expected = {ACCEPTED}
            if self.state.availability_ledgers[handle.availability_id].collateral_reset_live:
                # nim-codex#1147: after the reset, returning collateral can pass 2**256 - 1 (nim wraps).
                expected.add("Overflow")
            outcome = self.step(_delete(profile, handle.reservation_id, handle.availability_id, returned), expected)
            if isinstance(outcome, Accepted):
                del self.live[handle.reservation_id]
            else:
                collector.known[("delete_reservation:Overflow", "nim-codex#1147")] += 1

        # -- queries, blocks, restart ---------------------------------------------------

        @rule(availability_id=availabilities, nudge=st.tuples(*[st.integers(min_value=-1, max_value=1)] * 5))
        def find_availability(self, availability_id: str, nudge: tuple[int, int, int, int, int]) -> None:
            """Query around one availability's terms, so that matches and near misses are both common."""
            a = self.availability(availability_id)
            if isinstance(a, AvailabilityHead):
                per_byte = a.total_remaining_collateral // a.free_size if a.free_size > 0 else 0
                action: Action = FindAvailabilityHead(
                    size=max(a.free_size + nudge[0], 0),
                    duration=max(a.duration + nudge[1], 0),
                    price_per_byte_per_second=max(a.min_price_per_byte_per_second - nudge[2], 0),
                    collateral_per_byte=min(max(per_byte + nudge[3], 0), s.U256_MAX),
                    valid_until=max(a.until + nudge[4], 0),
                )
            else:
                action = FindAvailability535(
                    size=max(a.size + nudge[0], 0),
                    duration=max(a.duration + nudge[1], 0),
                    min_price=max(a.min_price - nudge[2], 0),
                    collateral=min(max(a.max_collateral + nudge[3], 0), s.U256_MAX),
                )
            self.step(action, {ACCEPTED})

        @rule(handle=reservations, share=s.shares)
        def store_block(self, handle: Handle, share: int) -> None:
            """A downloaded block of part of a reservation lands in the repo (``putBlock``)."""
            self.step(StoreBlock(bytes=s.share_of(self.state.reservations[handle.reservation_id].size, share)))

        @precondition(lambda self: self.state.repo.used > 0)
        @rule(share=s.shares, too_many=st.booleans(), excess=s.excess)
        def expire_block(self, share: int, too_many: bool, excess: int) -> None:
            used = self.state.repo.used
            if too_many:
                self.step(ExpireBlock(bytes=used + excess), {"QuotaUnderflow"})
            else:
                self.step(ExpireBlock(bytes=s.share_of(used, share)), {ACCEPTED})

        @rule(first=consumes(reservations), more=st.lists(consumes(reservations), max_size=1))
        def restart(self, first: Handle, more: list[Handle]) -> None:
            """Node restart: the consumed reservations' slots are no longer active on chain."""
            gone = {h.reservation_id for h in (first, *more)}
            active = frozenset((h.request_id, h.slot_index) for h in self.live.values() if h.reservation_id not in gone)
            self.step(DeleteInactiveReservations(active_slots=active), {ACCEPTED})
            for reservation_id in gone:
                del self.live[reservation_id]

        if not head:

            @rule(handle=reservations)
            def return_bytes_unsupported_refused(self, handle: Handle) -> None:
                action = ReturnBytesToAvailability(
                    availability_id=handle.availability_id, reservation_id=handle.reservation_id, bytes=handle.slot_size
                )
                self.step(action, {"UnsupportedOperation"})

        if head:

            @rule(
                availability_id=availabilities,
                total=s.optional(s.sizes),
                duration=s.optional(s.durations),
                price=s.optional(s.prices),
                collateral=s.optional(s.collaterals),
                enabled=st.one_of(st.none(), st.booleans()),
                until=s.optional(s.untils),
            )
            def update_availability(
                self,
                availability_id: str,
                total: int | None,
                duration: int | None,
                price: int | None,
                collateral: int | None,
                enabled: bool | None,
                until: int | None,
            ) -> None:
                self.step(
                    UpdateAvailability(
                        availability_id=availability_id,
                        total_size=total,
                        duration=duration,
                        min_price_per_byte_per_second=price,
                        total_collateral=collateral,
                        enabled=enabled,
                        until=until,
                    )
                )

            @rule(
                availability_id=availabilities,
                excess=s.excess,
                kind=st.sampled_from(["below_used", "over_quota", "free_size", "unknown"]),
            )
            def update_availability_refused(self, availability_id: str, excess: int, kind: str) -> None:
                """Aim at each REST guard of the PATCH handler (spec §5)."""
                a = self.availability(availability_id)
                used = a.total_size - a.free_size
                if kind == "below_used":
                    action = UpdateAvailability(availability_id=availability_id, total_size=max(used - excess, 0))
                    expected = {"TotalSizeBelowUsed", "TotalSizeZero"}
                elif kind == "over_quota":
                    total = max(used, quota.available(self.state.repo)) + excess
                    action, expected = (
                        UpdateAvailability(availability_id=availability_id, total_size=total),
                        {"NotEnoughStorageQuota"},
                    )
                elif kind == "free_size":
                    action = UpdateAvailability(availability_id=availability_id, free_size=excess)
                    expected = {"FreeSizeNotUpdatable"}
                else:
                    action = UpdateAvailability(availability_id=self.fresh("missing-a"), duration=excess)
                    expected = {"NotExists"}
                self.step(action, expected)

            @rule(handle=reservations, share=s.shares)
            def update_until_before_reservation_refused(self, handle: Handle, share: int) -> None:
                until = 1 + s.share_of(handle.valid_until - 2, share) if handle.valid_until > 1 else -1
                self.step(UpdateAvailability(availability_id=handle.availability_id, until=until), {"UntilOutOfBounds"})

            @rule(target=reservations, availability_id=availabilities, excess=s.excess, request_id=s.request_ids)
            def create_reservation_after_until(self, availability_id: str, excess: int, request_id: str) -> Any:
                until = self.availability(availability_id).until
                handle = self._handle(availability_id, 0, request_id, until + excess, 0)
                outcome = self.step(_reservation(profile, handle, 0), {"UntilOutOfBounds"} if until > 0 else {ACCEPTED})
                return self.remember(outcome, handle)

            @rule(
                target=reservations,
                availability_id=availabilities,
                share=s.shares,
                valid_until=s.times,
                request_id=s.request_ids,
            )
            def create_reservation_taking_collateral(
                self, availability_id: str, share: int, valid_until: int, request_id: str
            ) -> Any:
                """A slot that takes the most collateral per byte the availability can give, so that live
                reservations holding collateral (and deletes returning it) are common, not rare."""
                a = self.availability(availability_id)
                slot_size = max(1, s.share_of(a.free_size, share))
                per_byte = min(a.total_remaining_collateral // slot_size, s.U256_MAX)
                handle = self._handle(availability_id, slot_size, request_id, valid_until, per_byte)
                return self.remember(self.step(_reservation(profile, handle, per_byte)), handle)

            @rule(availability_id=availabilities, share=s.shares)
            def create_reservation_over_collateral_refused(self, availability_id: str, share: int) -> None:
                a = self.availability(availability_id)
                slot_size = max(1, s.share_of(a.free_size, share))
                per_byte = a.total_remaining_collateral // slot_size + 1
                handle = self._handle(availability_id, slot_size, "req-x", 1, 0)
                expected = "BytesOutOfBounds" if slot_size > a.free_size else "CollateralUnderflow"
                if per_byte > s.U256_MAX:
                    expected = "OutOfRange"
                self.step(_reservation(profile, handle, per_byte), {expected})

            @rule(target=returned, handle=consumes(reservations), downloaded=s.shares)
            def return_bytes_to_availability(self, handle: Handle, downloaded: int) -> Any:
                """Sales cleanup: the last batch (a share of what remains) lands, then the slot's bytes return."""
                batch = s.share_of(self.state.reservations[handle.reservation_id].size, downloaded)
                if batch > 0:
                    release = ReleaseBytes(
                        reservation_id=handle.reservation_id, availability_id=handle.availability_id, bytes=batch
                    )
                    self.step(release, {ACCEPTED})
                action = ReturnBytesToAvailability(
                    availability_id=handle.availability_id, reservation_id=handle.reservation_id, bytes=handle.slot_size
                )
                self.step(action, {ACCEPTED, "ReserveFailed"})
                return multiple(handle)

            @rule(handle=reservations, share=s.shares)
            def return_bytes_underflow_refused(self, handle: Handle, share: int) -> None:
                size = self.state.reservations[handle.reservation_id].size
                below = size - 1 - s.share_of(size - 1, share) if size > 0 else -1
                action = ReturnBytesToAvailability(
                    availability_id=handle.availability_id, reservation_id=handle.reservation_id, bytes=below
                )
                self.step(action, {"ReturnBytesUnderflow"} if size > 0 else {"OutOfRange"})

            @rule(handle=consumes(returned), choice=st.sampled_from(["none", "exact", "part"]), share=s.shares)
            def delete_returned_reservation(self, handle: Handle, choice: str, share: int) -> None:
                self._delete(handle, choice, share)

    ReservationsMachine.__name__ = ReservationsMachine.__qualname__ = (
        "ReservationsHeadMachine" if head else "Reservations535Machine"
    )
    return ReservationsMachine


def _availability(
    profile: Profile,
    availability_id: str,
    size: int,
    duration: int,
    price: int,
    collateral: int,
    enabled: bool,
    until: int,
) -> Action:
    if profile is Profile.CODEX_HEAD:
        return CreateAvailabilityHead(
            availability_id=availability_id,
            total_size=size,
            duration=duration,
            min_price_per_byte_per_second=price,
            total_collateral=collateral,
            enabled=enabled,
            until=until,
        )
    return CreateAvailability535(
        availability_id=availability_id, size=size, duration=duration, min_price=price * 10, max_collateral=collateral
    )


def _reservation(profile: Profile, handle: Handle, per_byte: int) -> Action:
    if profile is Profile.CODEX_HEAD:
        return CreateReservationHead(
            availability_id=handle.availability_id,
            reservation_id=handle.reservation_id,
            slot_size=handle.slot_size,
            request_id=handle.request_id,
            slot_index=handle.slot_index,
            collateral_per_byte=per_byte,
            valid_until=handle.valid_until,
        )
    return CreateReservation535(
        availability_id=handle.availability_id,
        reservation_id=handle.reservation_id,
        slot_size=handle.slot_size,
        request_id=handle.request_id,
        slot_index=handle.slot_index,
    )


def _delete(profile: Profile, reservation_id: str, availability_id: str, returned: int | None) -> Action:
    if profile is Profile.CODEX_HEAD:
        return DeleteReservationHead(
            reservation_id=reservation_id, availability_id=availability_id, returned_collateral=returned
        )
    return DeleteReservation535(reservation_id=reservation_id, availability_id=availability_id)
