"""The vocabulary of the catalogue: rules, their violations, and how they are checked.

Rules:
1. A rule is named once (``repo_reserved_identity``) and that name is used in code, docs,
   proofs and reports; it carries a one-sentence statement and the spec section it comes from.
2. A state invariant is a pure function of one state; a transition property is a pure
   function of (pre-state, action, outcome). Both yield ``Violation`` values, never raise.
3. A violation that nim-codex is known to commit at a profile's version carries the issue
   reference in ``known``: it is reported, and it is not a failure of the model.
4. A rule may also offer a ``local`` check: the same function, told by a ``Scope`` which records
   to look at (the ones an action touched). ``local(state, scope)`` yields exactly the violations
   ``check(state)`` yields for those records; the incremental trace checker uses it. Whole-state
   claims ("nothing else changed") are the caller's, not the scoped check's. A claim about one
   reservation reads of its availability no more than whether it exists, its ``until`` and its
   ledger's index, which lets the checker leave a changed availability's other reservations out
   (oracle/pipeline.py rule 6; tests/test_invariants.py holds the invariants to it).
5. A transition property names the actions it is about (``actions``, None for all) and the
   outcomes (``outcomes``: accepted, rejected or both); on any other step its check yields nothing,
   so a caller may skip it. ``tests/test_invariants.py`` holds every property to its declaration.
6. An invariant may name the model operations that write a field its check reads
   (``written_by``, None for any): a step of any other model operation leaves what its check
   yields unchanged, so a caller checking every step may skip it there (the incremental trace
   checker does, oracle/pipeline.py rule 6). The names are those of ``model.actions`` actions; the
   claim is about the model's own operations only, never about a broken variant's table, and
   ``tests/test_invariants.py`` holds every invariant to it on states that break it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Generic

import attrs

from model.actions import Action, Outcome
from model.records import constructor
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


#: ``Violation(...)`` built without ``__init__`` (model/records.py rule 6): a known breach is met, and
#: built, at every check of its entity, not only the first (the trace checker lists it once).
violation = constructor(Violation)


@attrs.frozen
class Scope:
    """The records a local check looks at (rule 4): availability ids and reservation ids, each
    sorted (``Scope.of`` sorts them), so a scoped check walks them in the whole check's order."""

    availabilities: tuple[str, ...]
    reservations: tuple[str, ...]

    @classmethod
    def of(cls, availabilities: Iterable[str], reservations: Iterable[str]) -> Scope:
        """The scope of these ids, sorted."""
        return cls(tuple(sorted(set(availabilities))), tuple(sorted(set(reservations))))


ACCEPTED, REJECTED = "accepted", "rejected"
BOTH_OUTCOMES = frozenset({ACCEPTED, REJECTED})


@attrs.frozen(kw_only=True)
class Invariant(Generic[StateT]):
    """A named claim about every reachable state (of the reservations store, or of a whole market)."""

    name: str
    statement: str
    spec: str
    profiles: frozenset[Profile]
    check: Callable[[StateT], Iterable[Violation]]
    local: Callable[[StateT, Scope], Iterable[Violation]] | None = None
    written_by: frozenset[str] | None = None

    def may_change(self, action_name: str) -> bool:
        """Whether a step of ``action_name`` may change what the check yields (rule 6)."""
        return self.written_by is None or action_name in self.written_by


@attrs.frozen(kw_only=True)
class TransitionProperty(Generic[StateT, ActionT, OutcomeT]):
    """A named claim relating a state, an action on it, and the outcome."""

    name: str
    statement: str
    spec: str
    profiles: frozenset[Profile]
    check: Callable[[StateT, ActionT, OutcomeT], Iterable[Violation]]
    local: Callable[[StateT, ActionT, OutcomeT, Scope], Iterable[Violation]] | None = None
    actions: frozenset[str] | None = None
    outcomes: frozenset[str] = BOTH_OUTCOMES

    def concerns(self, action_name: str, accepted: bool) -> bool:
        """Whether a step of ``action_name`` with this outcome is one the property is about (rule 5)."""
        return (self.actions is None or action_name in self.actions) and (
            (ACCEPTED if accepted else REJECTED) in self.outcomes
        )
