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
from invariants.symbolic.domains import field_domain
from invariants.symbolic.states import Scope, ValueSource, build_state, shapes
from invariants.symbolic.values import (
    Domain,
    Mode,
    Space,
    Sym,
    SymbolicUnsupported,
    explore,
)
from model.actions import Accepted, Action, OperationTable, Outcome, apply
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


def _domain(field: attrs.Attribute, profile: Profile) -> Domain | None:  # type: ignore[type-arg]
    return field_domain(field.name, profile, field.validator)


def _lift(space: Space, value: Any, profile: Profile) -> Any:
    if isinstance(value, immutables.Map):
        return immutables.Map({k: _lift(space, v, profile) for k, v in value.items()})
    if not attrs.has(type(value)):
        return value
    changes: dict[str, Any] = {}
    for field in attrs.fields(type(value)):
        current = getattr(value, field.name)
        domain = _domain(field, profile)
        if type(current) is int and domain is not None:
            changes[field.name] = Sym(space, z.IntVal(current, space.ctx), current, current, domain, domain.signed)
        elif isinstance(current, immutables.Map) or attrs.has(type(current)):
            changes[field.name] = _lift(space, current, profile)
    return attrs.evolve(value, **changes) if changes else value
