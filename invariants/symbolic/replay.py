"""Concrete replay of a refutation: the same pre-state and action, with the model's values.

A symbolic counterexample is only trusted once the plain model, run on plain integers,
shows the same failure: for a rule, the concrete check reports a violation of it; for a
wrap, the concrete operands at that line leave the domain. Replay is also how a report
shows the state before and after.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
import immutables

from invariants import check_state, check_transition
from invariants.catalogue import Violation
from invariants.symbolic import z3api as z
from invariants.symbolic.states import Scope, ValueSource, build_state, shapes
from invariants.symbolic.values import (
    MONEY,
    NATURAL,
    SIZE,
    TIME,
    Domain,
    Mode,
    Space,
    Sym,
    SymbolicUnsupported,
    explore,
)
from model.actions import Accepted, Action, OperationTable, Outcome, apply
from model.numbers import money_field, natural_field, size_field, time_field
from model.state import AnyState, Profile


@attrs.frozen
class Replay:
    """What the plain model does with a counterexample's values."""

    pre: AnyState
    action: Action
    outcome: Outcome
    violations: tuple[Violation, ...]


def replay(
    profile: Profile,
    scope: Scope,
    values: Mapping[str, int | bool],
    case: str,
    rule: str,
    *,
    strict: bool = False,
    operations: OperationTable | None = None,
) -> Replay:
    """Rebuild the pre-state and the case's action from ``values`` and run them concretely."""
    src = ValueSource(values)
    pre = build_state(profile, scope, src)
    label = case.split(" ", 1)[0]
    shape = next(s for s in shapes(profile, scope, pre, src) if s.label == label)
    outcome = apply(pre, shape.action, operations)
    found: list[Violation] = []
    if isinstance(outcome, Accepted):
        found.extend(check_state(outcome.state))
    found.extend(check_transition(pre, shape.action, outcome))
    relevant = tuple(v for v in found if v.rule == rule and (strict or v.known is None))
    return Replay(pre=pre, action=shape.action, outcome=outcome, violations=relevant)


@attrs.frozen
class ConcreteWrap:
    """One line of checked arithmetic whose exact result, in one concrete step, left its domain."""

    site: str  # the no_wrap obligation's label: "path:line function"
    text: str


def concrete_wraps(pre: AnyState, action: Action, operations: OperationTable | None = None) -> tuple[ConcreteWrap, ...]:
    """Run one concrete step through the symbolic engine to see its checked arithmetic.

    Every quantity of the state and the action becomes an exact constant carrying its field's
    domain (the same domains ``states.build_state`` and ``states.shapes`` give the symbols);
    identifiers, slot indices and counters stay plain integers. There is one path, and each
    checked line whose exact result leaves its domain (or divides by zero) is returned. This is how a trace shows a
    no-wrap counterexample: the plain model computes with Python integers and never wraps.
    """
    from invariants.symbolic.obligations import validators_off

    space = Space(Mode.INT)
    with validators_off():
        lifted_pre = _lift(space, pre, pre.profile)
        lifted_action = _lift(space, action, pre.profile)
        paths = explore(lambda: apply(lifted_pre, lifted_action, operations))
    if len(paths) != 1:
        raise SymbolicUnsupported(f"a concrete step took {len(paths)} paths")
    if paths[0].crashed is not None:
        raise paths[0].crashed
    found = []
    for check in paths[0].wraps:
        safe = z.simplify(check.safe)
        if not (z.is_true(safe) or z.is_false(safe)):
            raise SymbolicUnsupported(f"a concrete wrap check did not simplify: {check.safe}")
        if z.is_false(safe):
            found.append(ConcreteWrap(site=check.site.label(), text=check.site.text))
    return tuple(found)


#: Domains of the quantities that are not validated entity fields (entity fields say theirs
#: through their validators). Names are those of the ledgers, the repo and the actions.
_NAMED: dict[str, Domain] = {
    "max_bytes": NATURAL,
    "used": NATURAL,
    "reserved": NATURAL,
    "slot_size": SIZE,
    "collateral": MONEY,
    "returned": SIZE,
    "created_size": SIZE,
    "lost": SIZE,
    "latest_valid_until": TIME,
    "collateral_leaked": MONEY,
    "total_size": SIZE,
    "free_size": SIZE,
    "size": SIZE,
    "bytes": SIZE,
    "min_price_per_byte_per_second": MONEY,
    "price_per_byte_per_second": MONEY,
    "total_collateral": MONEY,
    "collateral_per_byte": MONEY,
    "returned_collateral": MONEY,
    "min_price": MONEY,
    "max_collateral": MONEY,
    "until": TIME,
    "valid_until": TIME,
}
_BY_VALIDATOR: dict[Any, Domain] = {size_field: SIZE, money_field: MONEY, time_field: TIME, natural_field: NATURAL}


def _domain(field: attrs.Attribute, profile: Profile) -> Domain | None:  # type: ignore[type-arg]
    if field.validator is not None:
        return _BY_VALIDATOR.get(field.validator)
    if field.name == "duration":  # an availability's duration is a UInt256 at 570a1f7b, a uint64 at HEAD
        return MONEY if profile is Profile.CODEX_535 else SIZE
    return _NAMED.get(field.name)


def _lift(space: Space, value: Any, profile: Profile) -> Any:
    if isinstance(value, immutables.Map):
        return immutables.Map({k: _lift(space, v, profile) for k, v in value.items()})
    if not attrs.has(type(value)):
        return value
    changes: dict[str, Any] = {}
    for field in attrs.fields(type(value)):
        current = getattr(value, field.name)
        domain = _domain(field, profile) if field.name != "slot_index" else None
        if type(current) is int and domain is not None:
            changes[field.name] = Sym(space, z.IntVal(current, space.ctx), current, current, domain, domain.signed)
        elif isinstance(current, immutables.Map) or attrs.has(type(current)):
            changes[field.name] = _lift(space, current, profile)
    return attrs.evolve(value, **changes) if changes else value
