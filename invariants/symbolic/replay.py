"""Concrete replay of a refutation: the same pre-state and action, with the model's values.

A symbolic counterexample is only trusted once the plain model, run on plain integers,
shows the same failure: for a rule, the concrete check reports a violation of it; for a
wrap, the concrete operands at that line leave the domain. Replay is also how a report
shows the state before and after.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from invariants import check_state, check_transition
from invariants.catalogue import Violation
from invariants.symbolic.states import Scope, ValueSource, build_state, shapes
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
