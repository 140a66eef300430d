"""What an exploration saw: steps, rules hit per operation and outcome, checks, known violations."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import attrs

from invariants import Violation


@attrs.define
class ExplorationStats:
    """Mutable tallies filled by a running machine (outside the functional core)."""

    runs: int = 0
    steps: int = 0
    hits: Counter[tuple[str, str]] = attrs.field(factory=Counter)
    invariant_checks: int = 0
    property_checks: int = 0
    known: Counter[tuple[str, str]] = attrs.field(factory=Counter)
    listener: Callable[[ExplorationStats], None] | None = None

    def finish_run(self) -> None:
        """A run (one generated program) ended; tell the listener, if any."""
        if self.listener is not None:
            self.listener(self)

    def record_step(self, operation: str, outcome: str, properties: int) -> None:
        self.steps += 1
        self.hits[(operation, outcome)] += 1
        self.property_checks += properties

    def record_invariants(self, checked: int, known: list[Violation]) -> None:
        self.invariant_checks += checked
        for violation in known:
            self.known[(violation.rule, violation.known or "")] += 1

    def operations(self) -> dict[str, Counter[str]]:
        """Outcome counts per operation name."""
        table: dict[str, Counter[str]] = {}
        for (operation, outcome), count in self.hits.items():
            table.setdefault(operation, Counter())[outcome] += count
        return table
