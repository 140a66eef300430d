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
from typing import TYPE_CHECKING, Generic

import attrs

from model.actions import Action, Outcome
from model.state import AnyState, Profile

if TYPE_CHECKING:  # defaults keep ``Invariant`` meaning ``Invariant[AnyState]``; typing_extensions is mypy's only
    from typing_extensions import TypeVar

    StateT = TypeVar("StateT", default=AnyState)
    ActionT = TypeVar("ActionT", default=Action)
    OutcomeT = TypeVar("OutcomeT", default=Outcome)
else:
    from typing import TypeVar

    StateT, ActionT, OutcomeT = TypeVar("StateT"), TypeVar("ActionT"), TypeVar("OutcomeT")

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
class Invariant(Generic[StateT]):
    """A named claim about every reachable state (of the reservations store, or of a whole market)."""

    name: str
    statement: str
    spec: str
    profiles: frozenset[Profile]
    check: Callable[[StateT], Iterable[Violation]]


@attrs.frozen(kw_only=True)
class TransitionProperty(Generic[StateT, ActionT, OutcomeT]):
    """A named claim relating a state, an action on it, and the outcome."""

    name: str
    statement: str
    spec: str
    profiles: frozenset[Profile]
    check: Callable[[StateT, ActionT, OutcomeT], Iterable[Violation]]
