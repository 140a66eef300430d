"""Building a counterexample by running actions through the model: every engine's one path in.

Rules:
1. An engine hands over what it knows (the rule, the profile and level, the start, the action
   sequence, the operation table or market rules it ran); ``make`` replays the actions from the
   start, records each step's outcome and state, and checks the catalogue after every step
   exactly as the engines do (state invariants; transition properties; at market level also the
   reservation-level properties of each reservation operation a market step ran).
2. The rule's statement and spec section come from the catalogue, so a report never restates
   them by hand; a rule outside the catalogue (a no-wrap obligation, a divergence) passes its own.
3. The start is ``setup`` (keyword arguments of ``initial_state`` / ``initial_market``) or any
   model state (a Z3 counterexample's pre-state).

Mirrors: stateful_tests/machines.py and stateful_tests/exhaustive.py (the checks after each step).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from invariants import check_state, check_transition, market_rule, market_rules_for, rule
from invariants.catalogue import Violation
from model.actions import Accepted, Action, OperationTable, apply
from model.market import MarketAccepted, MarketAction, apply_market
from model.market_state import MarketRules, MarketState, initial_market
from model.state import AnyState, Profile, initial_state
from reports.counterexample import Counterexample, Found, Side, Step, snapshot
from reports.vocabulary import encode_action


def start_state(profile: Profile, level: str, setup: Mapping[str, Any] | None = None) -> AnyState | MarketState:
    """A fresh node of ``profile`` at ``level`` made with ``setup``."""
    arguments = dict(setup or {})
    if level == "reservations":
        return initial_state(profile, **arguments)
    return initial_market(profile, **arguments)


def found(violations: Iterable[Violation]) -> tuple[Found, ...]:
    return tuple(
        Found(rule=v.rule, entity=v.entity, message=v.message, expected=v.expected, observed=v.observed, known=v.known)
        for v in violations
    )


def _market_checks(pre: MarketState, action: MarketAction, outcome: Any) -> list[Violation]:
    invariants, properties = market_rules_for(pre.profile)
    after = outcome.state if isinstance(outcome, MarketAccepted) else pre
    checked = [v for i in invariants for v in i.check(after)]
    checked = list(check_state(after.reservations)) + checked
    if isinstance(outcome, MarketAccepted):
        checked += [v for p in properties for v in p.check(pre, action, outcome)]
        for step in outcome.steps:
            checked += check_transition(step.pre, step.action, step.outcome)
    return checked


def run_steps(
    start: AnyState | MarketState,
    actions: Sequence[Action | MarketAction],
    *,
    operations: OperationTable | None = None,
    rules: MarketRules | None = None,
) -> tuple[Step, ...]:
    """Each action applied in turn from ``start``: its outcome, the state after, what broke (rule 1)."""
    steps = []
    state: Any = start
    for action in actions:
        name, arguments = encode_action(action)
        if isinstance(state, MarketState):
            assert isinstance(action, MarketAction), f"{name} is not a market action"
            outcome: Any = apply_market(state, action, rules)
            violations = _market_checks(state, action, outcome)
            accepted = isinstance(outcome, MarketAccepted)
            result, answer = (outcome.state if accepted else state), None
        else:
            assert isinstance(action, Action), f"{name} is not a reservations action"
            outcome = apply(state, action, operations)
            accepted = isinstance(outcome, Accepted)
            result = outcome.state if accepted else state
            answer = outcome.found if accepted else None
            violations = check_state(result) + check_transition(state, action, outcome)
        steps.append(
            Step(
                action=name,
                arguments=arguments,
                outcome="accepted" if accepted else outcome.kind,
                found=answer,
                state=snapshot(result),
                violations=found(violations),
            )
        )
        state = result
    return tuple(steps)


def statement_of(rule_name: str) -> tuple[str, str, str]:
    """(statement, spec, kind) of a catalogue rule; ``strict:``/``invariant:`` prefixes are read."""
    bare = rule_name.split(":", 1)[1] if ":" in rule_name else rule_name
    for lookup in (rule, market_rule):
        try:
            found_rule = lookup(bare)
        except KeyError:
            continue
        kind = "invariant" if type(found_rule).__name__ == "Invariant" else "property"
        return found_rule.statement, found_rule.spec, kind
    raise KeyError(rule_name)


def make(
    *,
    rule: str,
    engine: str,
    profile: Profile,
    level: str,
    actions: Sequence[Action | MarketAction],
    setup: Mapping[str, Any] | None = None,
    start: AnyState | MarketState | None = None,
    operations: OperationTable | None = None,
    rules: MarketRules | None = None,
    variant: str | None = None,
    statement: str | None = None,
    spec: str | None = None,
    kind: str | None = None,
    summary: str | None = None,
    known: str | None = None,
    reproduce: str = "",
    notes: Sequence[str] = (),
    sides: Sequence[Side] = (),
) -> Counterexample:
    """A counterexample of ``rule`` made by replaying ``actions`` from ``setup`` (or ``start``)."""
    from reports.headline import sentence

    begin = start if start is not None else start_state(profile, level, setup)
    steps = run_steps(begin, actions, operations=operations, rules=rules)
    if statement is None or spec is None or kind is None:
        looked_up = statement_of(rule)
        statement = statement if statement is not None else looked_up[0]
        spec = spec if spec is not None else looked_up[1]
        kind = kind if kind is not None else looked_up[2]
    draft = Counterexample(
        rule=rule,
        statement=statement,
        spec=spec,
        kind=kind,
        engine=engine,
        profile=profile.value,
        level=level,
        summary="",
        initial=snapshot(begin),
        steps=steps,
        setup=dict(setup) if setup is not None and start is None else None,
        variant=variant,
        sides=tuple(sides),
        known=known,
        reproduce=reproduce,
        notes=tuple(notes),
    )
    import attrs

    return attrs.evolve(draft, summary=summary or sentence(draft))
