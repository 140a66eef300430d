"""A catalogue rule as a formula: run its own check over a symbolic state, once per path.

A rule holds on a state when its check yields no violation (or, *modulo known*, only
violations attributed to a known nim-codex behaviour). The formula is the disjunction of the
path conditions of the check's runs that end without such a violation; a run stops at the
first one, so a check of N entities costs about N runs, not 2**N.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import attrs

from invariants.catalogue import Violation
from invariants.symbolic import z3api as z
from invariants.symbolic.values import Space, explore


@attrs.frozen
class RuleFormula:
    """``holds`` as a Z3 formula, and whether the check looked at anything at all."""

    holds: Any
    trivial: bool  # one run, no decision, no violation: the rule ignores this step


def rule_formula(space: Space, check: Callable[[], Iterable[Violation]], *, modulo_known: bool) -> RuleFormula:
    """The condition under which ``check()`` yields no (unattributed) violation."""

    def thunk() -> bool:
        return all(modulo_known and violation.known is not None for violation in check())

    paths = explore(thunk)
    good = [z.And(space.true(), *p.condition) for p in paths if p.crashed is None and p.result is True]
    trivial = (
        len(paths) == 1
        and paths[0].result is True
        and bool(z.is_true(z.simplify(z.And(space.true(), *paths[0].condition))))
    )
    return RuleFormula(holds=z.Or(z.BoolVal(False, space.ctx), *good), trivial=trivial)
