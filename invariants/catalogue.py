"""The vocabulary of the catalogue: rules, their violations, and how they are checked.

Rules:
1. A rule is named once (``repo_reserved_identity``) and that name is used in code, docs,
   proofs and reports; it carries a one-sentence statement and the spec section it comes from.
2. A state invariant is a pure function of one state; a transition property is a pure
   function of (pre-state, action, outcome). Both yield ``Violation`` values, never raise.
3. A violation that nim-codex is known to commit at a profile's version carries the issue
   reference in ``known``: it is reported, and it is not a failure of the model.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import attrs

from model.actions import Action, Outcome
from model.state import AnyState, Profile

BOTH = frozenset(Profile)
HEAD = frozenset({Profile.CODEX_HEAD})


@attrs.frozen(kw_only=True)
class Violation:
    """One breach of a rule: where, what, and by how much."""

    rule: str
    entity: str
    message: str
    expected: int | None = None
    observed: int | None = None
    known: str | None = None


@attrs.frozen(kw_only=True)
class Invariant:
    """A named claim about every reachable state."""

    name: str
    statement: str
    spec: str
    profiles: frozenset[Profile]
    check: Callable[[AnyState], Iterable[Violation]]


@attrs.frozen(kw_only=True)
class TransitionProperty:
    """A named claim relating a state, an action on it, and the outcome."""

    name: str
    statement: str
    spec: str
    profiles: frozenset[Profile]
    check: Callable[[AnyState, Action, Outcome], Iterable[Violation]]
