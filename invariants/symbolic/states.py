"""Pre-states and actions with symbolic fields, in a bounded scope, for either profile.

Rules:
1. One builder makes the state from a ``Source`` of numbers: symbols for a proof, or the
   values of a Z3 model to replay a counterexample concretely. Same names, same shape.
2. Identities (ids, which reservation belongs to which availability, request ids, slot
   indices, whether a reservation was already returned to) are concrete; every quantity
   and flag is symbolic, constrained only by its domain and by the well-formedness of the
   model's own ledgers.
3. An operation is run on a few *shapes* of arguments (an existing target, a missing one,
   a mismatched pair, each optional PATCH field alone or all together). A shape is for
   ``any`` caller, for the ``sales`` flow only (it follows Sales' calling contract, spec §3.3)
   or for an ``api`` caller only (anything the Reservations procedures accept).

Mirrors: codex-sales-spec §1.1, §1.2 (records), §3.3 (how Sales calls the procedures).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import attrs
import immutables

from invariants.symbolic import z3api as z
from invariants.symbolic.domains import domain_of
from invariants.symbolic.values import Domain, Space, Sym, SymBool
from model import actions as act
from model.entities import (
    Availability535,
    AvailabilityHead,
    AvailabilityLedger,
    Reservation535,
    ReservationHead,
    ReservationLedger,
)
from model.quota import RepoQuota
from model.state import AnyState, Profile, State535, StateHead, in_key_order, items_in_key_order

ANY = frozenset({"sales", "api"})
SALES = frozenset({"sales"})
API = frozenset({"api"})


@attrs.frozen
class Scope:
    """How many availabilities the pre-state holds, and how many reservations each."""

    availabilities: int = 2
    reservations: int = 2

    def __str__(self) -> str:
        return f"{self.availabilities}x{self.reservations}"

    @classmethod
    def parse(cls, text: str) -> Scope:
        """``"AxR"``, e.g. ``"2x2"``; a ValueError with the expected form otherwise."""
        parts = text.lower().split("x")
        if len(parts) != 2 or not all(p.isdigit() for p in parts):
            raise ValueError(f"scope must look like 2x2 (availabilities x reservations each), got {text!r}")
        a, r = int(parts[0]), int(parts[1])
        if not (1 <= a <= 4 and 1 <= r <= 4):
            raise ValueError(f"scope {text!r}: both numbers must lie in 1..4")
        return cls(availabilities=a, reservations=r)


class Source(Protocol):
    """Where the quantities of a state come from: fresh symbols, or a model's values."""

    def number(self, name: str, domain: Domain) -> Any: ...

    def flag(self, name: str) -> Any: ...


class SymbolSource:
    """Fresh symbols in one ``Space``; remembers each symbol's domain for range facts."""

    def __init__(self, space: Space) -> None:
        self.space = space

    def number(self, name: str, domain: Domain) -> Sym:
        return self.space.number(name, domain)

    def flag(self, name: str) -> SymBool:
        return self.space.flag(name)


class ValueSource:
    """Concrete values by symbol name (a counterexample's); a missing name is an error."""

    def __init__(self, values: Mapping[str, int | bool]) -> None:
        self.values = values

    def number(self, name: str, domain: Domain) -> int:
        value = self.values[name]
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError(f"{name} must be an integer, got {value!r}")
        return value

    def flag(self, name: str) -> bool:
        return bool(self.values[name])


def availability_ids(scope: Scope) -> list[str]:
    return [f"a{i}" for i in range(1, scope.availabilities + 1)]


def reservation_ids(scope: Scope, availability_id: str) -> list[str]:
    index = availability_id[1:]
    return [f"r{index}{j}" for j in range(1, scope.reservations + 1)]


def is_returned(profile: Profile, scope: Scope, reservation_id: str) -> bool:
    """The last reservation of each availability was already returned to (HEAD, scope >= 2)."""
    return (
        profile is Profile.CODEX_HEAD and scope.reservations >= 2 and reservation_id.endswith(str(scope.reservations))
    )


def slot_of(reservation_id: str) -> tuple[str, int]:
    return f"q{reservation_id[1:]}", int(reservation_id[1:])


def build_state(profile: Profile, scope: Scope, src: Source) -> AnyState:
    """The scope's pre-state with every quantity taken from ``src``, each in its domain (domains.py)."""

    def num(key: str, cls: type, name: str) -> Any:
        return src.number(f"{key}.{name}", domain_of(cls, name, profile))

    repo = RepoQuota(
        max_bytes=num("repo", RepoQuota, "max_bytes"),
        used=num("repo", RepoQuota, "used"),
        reserved=num("repo", RepoQuota, "reserved"),
    )
    availabilities: dict[str, Any] = {}
    reservations: dict[str, Any] = {}
    a_ledgers: dict[str, AvailabilityLedger] = {}
    r_ledgers: dict[str, ReservationLedger] = {}
    head = profile is Profile.CODEX_HEAD
    for aid in availability_ids(scope):
        if head:
            availabilities[aid] = AvailabilityHead(
                id=aid,
                total_size=num(aid, AvailabilityHead, "total_size"),
                free_size=num(aid, AvailabilityHead, "free_size"),
                duration=num(aid, AvailabilityHead, "duration"),
                min_price_per_byte_per_second=num(aid, AvailabilityHead, "min_price_per_byte_per_second"),
                total_collateral=num(aid, AvailabilityHead, "total_collateral"),
                total_remaining_collateral=num(aid, AvailabilityHead, "total_remaining_collateral"),
                enabled=src.flag(f"{aid}.enabled"),
                until=num(aid, AvailabilityHead, "until"),
            )
        else:
            availabilities[aid] = Availability535(
                id=aid,
                size=num(aid, Availability535, "size"),
                duration=num(aid, Availability535, "duration"),
                min_price=num(aid, Availability535, "min_price"),
                max_collateral=num(aid, Availability535, "max_collateral"),
            )
        indexed: dict[str, Any] = {}
        for rid in reservation_ids(scope, aid):
            request_id, slot_index = slot_of(rid)
            if head:
                valid_until = num(rid, ReservationHead, "valid_until")
                reservations[rid] = ReservationHead(
                    id=rid,
                    availability_id=aid,
                    size=num(rid, ReservationHead, "size"),
                    request_id=request_id,
                    slot_index=slot_index,
                    valid_until=valid_until,
                )
                returned = is_returned(profile, scope, rid)
                r_ledgers[rid] = ReservationLedger(
                    slot_size=num(rid, ReservationLedger, "slot_size"),
                    collateral=num(rid, ReservationLedger, "collateral"),
                    returned=num(rid, ReservationLedger, "returned") if returned else 0,
                    returns=1 if returned else 0,
                )
            else:
                valid_until = 0
                reservations[rid] = Reservation535(
                    id=rid,
                    availability_id=aid,
                    size=num(rid, Reservation535, "size"),
                    request_id=request_id,
                    slot_index=slot_index,
                )
                r_ledgers[rid] = ReservationLedger(slot_size=num(rid, ReservationLedger, "slot_size"))
            indexed[rid] = valid_until
        counts: immutables.Map[Any, int] = immutables.Map()
        for valid_until in indexed.values():
            counts = counts.set(valid_until, counts.get(valid_until, 0) + 1)
        a_ledgers[aid] = AvailabilityLedger(
            created_size=num(aid, AvailabilityLedger, "created_size") if not head else 0,
            lost=num(aid, AvailabilityLedger, "lost"),
            reservations=immutables.Map(indexed),
            valid_until_counts=counts,
            latest_valid_until=num(aid, AvailabilityLedger, "latest_valid_until") if head else 0,
            collateral_reset_live=src.flag(f"{aid}.collateral_reset_live") if head else False,
            collateral_leaked=num(aid, AvailabilityLedger, "collateral_leaked") if head else 0,
        )
    state_type = StateHead if head else State535
    return state_type(
        profile=profile,
        repo=repo,
        availabilities=immutables.Map(availabilities),
        reservations=immutables.Map(reservations),
        availability_ledgers=immutables.Map(a_ledgers),
        reservation_ledgers=immutables.Map(r_ledgers),
    )


def well_formed(space: Space, state: AnyState, scope: Scope) -> dict[str, Any]:
    """Named facts about a symbolic pre-state: domains, and the ledgers' own consistency.

    ``range:<entity>`` — every quantity lies in its domain;
    ``ledger:<availability>`` — ``latest_valid_until`` is the largest ``valid_until`` (or 0);
    ``sales:returned_then_deleted:<reservation>`` — a reservation Sales already returned bytes
    for has ``returned + size = slot_size``: Sales returns with ``bytes = slotSize`` once and
    then only deletes (spec §3.3).
    """
    facts: dict[str, Any] = {}
    prefixes = ["repo", *sorted(state.availabilities), *sorted(state.reservations)]
    for prefix in prefixes:
        terms = [space.range_fact(sym) for name, sym in space.symbols.items() if name.split(".")[0] == prefix]
        facts[f"range:{prefix}"] = z.And(space.true(), *terms)
    if state.profile is Profile.CODEX_HEAD:
        for aid, ledger in items_in_key_order(state.availability_ledgers):
            latest: Any = ledger.latest_valid_until
            values = list(in_key_order(ledger.reservations))
            upper = [(latest >= v).term for v in values]
            hits = [(latest == v).term for v in values]
            facts[f"ledger:{aid}"] = z.And((latest >= 0).term, *upper, z.Or((latest == 0).term, *hits))
        for rid, r_ledger in items_in_key_order(state.reservation_ledgers):
            if r_ledger.returns:
                size: Any = state.reservations[rid].size
                facts[f"sales:returned_then_deleted:{rid}"] = (r_ledger.returned + size == r_ledger.slot_size).term
    return facts


@attrs.frozen
class Shape:
    """One way of calling an operation: its action, which callers make it, and their promises."""

    operation: str
    name: str
    action: act.Action
    callers: frozenset[str]
    assumptions: dict[str, Any] = attrs.field(factory=dict)

    @property
    def label(self) -> str:
        return f"{self.operation}[{self.name}]"


def _args(src: Source, shape: str, cls: type, profile: Profile, *fields: str) -> dict[str, Any]:
    """Numbers for ``fields`` of action ``cls`` (in this order), each in its domain (domains.py); a
    field given as ``key:field`` is read under the name ``key``."""
    found = {}
    for entry in fields:
        key, _, field = entry.partition(":")
        found[key] = src.number(f"{shape}.{key}", domain_of(cls, field or key, profile))
    return found


def shapes(profile: Profile, scope: Scope, state: AnyState, src: Source) -> list[Shape]:  # noqa: PLR0912, PLR0915
    """Every shape of every operation of ``profile`` on ``state`` (arguments from ``src``)."""
    a1 = availability_ids(scope)[0]
    a_last = availability_ids(scope)[-1]
    first = reservation_ids(scope, a1)[0]
    other = reservation_ids(scope, a_last)[0]
    foreign = other if a_last != a1 else "r99"
    out: list[Shape] = []
    symbolic = isinstance(src, SymbolSource)

    def add(operation: str, name: str, action: act.Action, callers: frozenset[str] = ANY, **kw: Any) -> None:
        out.append(Shape(operation=operation, name=name, action=action, callers=callers, assumptions=kw))

    head = profile is Profile.CODEX_HEAD
    # -- create_availability ------------------------------------------------------------
    for name, aid in (("new", "a9"), ("id_in_use", a1)):
        tag = f"create_availability[{name}]"
        if head:
            args = _args(
                src,
                tag,
                act.CreateAvailabilityHead,
                profile,
                "total_size",
                "duration",
                "price:min_price_per_byte_per_second",
                "total_collateral",
                "until",
            )
            action: act.Action = act.CreateAvailabilityHead(
                availability_id=aid,
                total_size=args["total_size"],
                duration=args["duration"],
                min_price_per_byte_per_second=args["price"],
                total_collateral=args["total_collateral"],
                enabled=src.flag(f"{tag}.enabled"),
                until=args["until"],
            )
        else:
            args = _args(
                src, tag, act.CreateAvailability535, profile, "size", "duration", "min_price", "max_collateral"
            )
            action = act.CreateAvailability535(availability_id=aid, **args)
        add("create_availability", name, action)
    # -- create_reservation -------------------------------------------------------------
    for name, aid, rid in (("new", a1, "r9"), ("missing_availability", "a9", "r9"), ("id_in_use", a1, first)):
        tag = f"create_reservation[{name}]"
        if head:
            args = _args(
                src, tag, act.CreateReservationHead, profile, "slot_size", "collateral_per_byte", "valid_until"
            )
            action = act.CreateReservationHead(
                availability_id=aid, reservation_id=rid, request_id="q9", slot_index=9, **args
            )
        else:
            args = _args(src, tag, act.CreateReservation535, profile, "slot_size")
            action = act.CreateReservation535(
                availability_id=aid, reservation_id=rid, request_id="q9", slot_index=9, **args
            )
        add("create_reservation", name, action)
    # -- release_bytes ------------------------------------------------------------------
    targets = [("unreturned", first, a1, ANY), ("mismatch", foreign, a1, ANY), ("missing", "r99", a1, ANY)]
    returned_rid = next((rid for rid in sorted(state.reservations) if is_returned(profile, scope, rid)), None)
    if returned_rid is not None:
        targets.append(("after_return", returned_rid, state.reservations[returned_rid].availability_id, API))
    for name, rid, aid, callers in targets:
        tag = f"release_bytes[{name}]"
        add(
            "release_bytes",
            name,
            act.ReleaseBytes(
                reservation_id=rid, availability_id=aid, **_args(src, tag, act.ReleaseBytes, profile, "bytes")
            ),
            callers,
        )
    # -- delete_reservation -------------------------------------------------------------
    delete_targets = [("unreturned", first, a1)]
    if returned_rid is not None:
        delete_targets.append(("returned", returned_rid, state.reservations[returned_rid].availability_id))
    for name, rid, aid in delete_targets:
        if head:
            add(
                "delete_reservation", f"{name},none", act.DeleteReservationHead(reservation_id=rid, availability_id=aid)
            )
            tag = f"delete_reservation[{name},sales]"
            collateral = src.number(
                f"{tag}.returned_collateral", domain_of(act.DeleteReservationHead, "returned_collateral", profile)
            )
            taken = state.reservation_ledgers[rid].collateral
            promise = {f"sales:returned_collateral_within_taken:{rid}": (collateral <= taken).term} if symbolic else {}
            add(
                "delete_reservation",
                f"{name},sales",
                act.DeleteReservationHead(reservation_id=rid, availability_id=aid, returned_collateral=collateral),
                SALES,
                **promise,
            )
            tag = f"delete_reservation[{name},api]"
            add(
                "delete_reservation",
                f"{name},api",
                act.DeleteReservationHead(
                    reservation_id=rid,
                    availability_id=aid,
                    returned_collateral=src.number(
                        f"{tag}.returned_collateral",
                        domain_of(act.DeleteReservationHead, "returned_collateral", profile),
                    ),
                ),
                API,
            )
        else:
            add("delete_reservation", name, act.DeleteReservation535(reservation_id=rid, availability_id=aid))
    delete_type: Any = act.DeleteReservationHead if head else act.DeleteReservation535
    add("delete_reservation", "missing", delete_type(reservation_id="r99", availability_id=a1))
    add("delete_reservation", "mismatch", delete_type(reservation_id=foreign, availability_id=a1))
    # -- find_availability --------------------------------------------------------------
    if head:
        args = _args(
            src,
            "find_availability[query]",
            act.FindAvailabilityHead,
            profile,
            "size",
            "duration",
            "price_per_byte_per_second",
            "collateral_per_byte",
            "valid_until",
        )
        add("find_availability", "query", act.FindAvailabilityHead(**args))
    else:
        args = _args(
            src,
            "find_availability[query]",
            act.FindAvailability535,
            profile,
            "size",
            "duration",
            "min_price",
            "collateral",
        )
        add("find_availability", "query", act.FindAvailability535(**args))
    # -- blocks and restart ---------------------------------------------------------------
    add("store_block", "any", act.StoreBlock(**_args(src, "store_block[any]", act.StoreBlock, profile, "bytes")))
    add("expire_block", "any", act.ExpireBlock(**_args(src, "expire_block[any]", act.ExpireBlock, profile, "bytes")))
    every_slot = frozenset(slot_of(rid) for rid in state.reservations)
    add(
        "delete_inactive_reservations",
        "one_inactive",
        act.DeleteInactiveReservations(active_slots=every_slot - {slot_of(first)}),
    )
    if scope.reservations > 1:
        of_a1 = {slot_of(rid) for rid in reservation_ids(scope, a1)}
        add(
            "delete_inactive_reservations",
            "a1_inactive",
            act.DeleteInactiveReservations(active_slots=every_slot - of_a1),
        )
    if not head:
        return out
    # -- HEAD only: update and return -----------------------------------------------------
    fields = {
        name: domain_of(act.UpdateAvailability, name, profile)
        for name in ("total_size", "duration", "min_price_per_byte_per_second", "total_collateral", "until")
    }
    tag = "update_availability[all]"
    every = {name: src.number(f"{tag}.{name}", domain) for name, domain in fields.items()}
    add(
        "update_availability",
        "all",
        act.UpdateAvailability(availability_id=a1, enabled=src.flag(f"{tag}.enabled"), **every),
    )
    for name, domain in fields.items():
        value = src.number(f"update_availability[{name}].{name}", domain)
        add("update_availability", name, act.UpdateAvailability(availability_id=a1, **{name: value}))
    add(
        "update_availability",
        "enabled",
        act.UpdateAvailability(availability_id=a1, enabled=src.flag("update_availability[enabled].enabled")),
    )
    add("update_availability", "nothing", act.UpdateAvailability(availability_id=a1))
    add(
        "update_availability",
        "free_size",
        act.UpdateAvailability(
            availability_id=a1,
            free_size=src.number(
                "update_availability[free_size].free_size", domain_of(act.UpdateAvailability, "free_size", profile)
            ),
        ),
    )
    add("update_availability", "missing", act.UpdateAvailability(availability_id="a9", duration=0))
    slot_size = state.reservation_ledgers[first].slot_size
    add(
        "return_bytes_to_availability",
        "sales",
        act.ReturnBytesToAvailability(availability_id=a1, reservation_id=first, bytes=slot_size),
        SALES,
    )
    api_returns = [("api", first, a1)]
    if returned_rid is not None:
        api_returns.append(("again", returned_rid, state.reservations[returned_rid].availability_id))
    for name, rid, aid in api_returns:
        tag = f"return_bytes_to_availability[{name}]"
        add(
            "return_bytes_to_availability",
            name,
            act.ReturnBytesToAvailability(
                availability_id=aid,
                reservation_id=rid,
                **_args(src, tag, act.ReturnBytesToAvailability, profile, "bytes"),
            ),
            API,
        )
    add(
        "return_bytes_to_availability",
        "missing",
        act.ReturnBytesToAvailability(availability_id=a1, reservation_id="r99", bytes=0),
    )
    return out
