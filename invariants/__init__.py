"""The named invariants and transition properties of the Reservations model, and their checks.

Pure and synchronous like ``model/``: no I/O, z3 or hypothesis.
"""

from __future__ import annotations

from invariants.catalogue import Invariant, TransitionProperty, Violation
from invariants.market_invariants import (
    MARKET_INVARIANTS,
    MARKET_PROPERTIES,
    check_market,
    check_market_transition,
    market_rule,
    market_rules_for,
)
from invariants.state_invariants import INVARIANTS
from invariants.transitions import TRANSITION_PROPERTIES
from model.actions import Action, Outcome
from model.state import AnyState, Profile

__all__ = [
    "INVARIANTS",
    "MARKET_INVARIANTS",
    "MARKET_PROPERTIES",
    "TRANSITION_PROPERTIES",
    "Invariant",
    "TransitionProperty",
    "Violation",
    "check_market",
    "check_market_transition",
    "check_state",
    "check_transition",
    "market_rule",
    "market_rules_for",
    "rule",
    "rules_for",
]


def rules_for(profile: Profile) -> tuple[tuple[Invariant, ...], tuple[TransitionProperty, ...]]:
    """The invariants and transition properties that apply to ``profile``."""
    return (
        tuple(i for i in INVARIANTS if profile in i.profiles),
        tuple(p for p in TRANSITION_PROPERTIES if profile in p.profiles),
    )


def rule(name: str) -> Invariant | TransitionProperty:
    """The rule called ``name``; KeyError when there is none."""
    rules: dict[str, Invariant | TransitionProperty] = {r.name: r for r in INVARIANTS}
    rules.update((p.name, p) for p in TRANSITION_PROPERTIES)
    return rules[name]


def check_state(state: AnyState) -> list[Violation]:
    """Every violation of the profile's invariants in ``state``."""
    invariants, _ = rules_for(state.profile)
    return [v for invariant in invariants for v in invariant.check(state)]


def check_transition(pre: AnyState, action: Action, outcome: Outcome) -> list[Violation]:
    """Every violation of the profile's transition properties by one step."""
    _, properties = rules_for(pre.profile)
    return [v for prop in properties for v in prop.check(pre, action, outcome)]
