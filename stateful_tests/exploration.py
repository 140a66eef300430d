"""Run a profile's machine under a budget and collect what it saw: the engine behind ``sales-model check``.

Rules:
1. A budget names a number of generated programs and their length; ``quick`` and
   ``default`` are derandomized (the same run every time), ``thorough`` is random.
2. A failure is returned as data (the violations and the shrunk program), never raised.
3. The failure Hypothesis raises last is the shrunk one: it is kept whole (``failure``: its
   violations, the actions its run applied and its start), so a report can replay it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import attrs
from hypothesis import HealthCheck, settings
from hypothesis.reporting import with_reporter
from hypothesis.stateful import run_state_machine_as_test

from invariants import Violation
from model.actions import OperationTable
from model.state import Profile
from stateful_tests.machines import HarnessFailure, reservations_machine
from stateful_tests.stats import ExplorationStats


@attrs.frozen(kw_only=True)
class Budget:
    """How much to explore: programs, steps per program, and whether runs repeat exactly."""

    name: str
    programs: int
    steps: int
    derandomize: bool


BUDGETS = {
    "quick": Budget(name="quick", programs=40, steps=30, derandomize=True),
    "default": Budget(name="default", programs=300, steps=40, derandomize=True),
    "thorough": Budget(name="thorough", programs=3000, steps=80, derandomize=False),
}


@attrs.frozen(kw_only=True)
class ExplorationResult:
    """What one exploration of one profile found."""

    profile: Profile
    budget: Budget
    stats: ExplorationStats
    seconds: float
    violations: tuple[Violation, ...] = ()
    program: str = ""
    error: str = ""
    failure: HarnessFailure | None = None  # the shrunk failing run, when a rule was broken

    @property
    def failed(self) -> bool:
        return bool(self.violations or self.error)


def _violations(failure: BaseException) -> tuple[Violation, ...]:
    if isinstance(failure, HarnessFailure):
        return tuple(failure.violations)
    if isinstance(failure, BaseExceptionGroup):
        return tuple(v for sub in failure.exceptions for v in _violations(sub))
    return ()


def _first_failure(failure: BaseException) -> HarnessFailure | None:
    """The (first) ``HarnessFailure`` Hypothesis raised: the shrunk run's, with its trace."""
    if isinstance(failure, HarnessFailure):
        return failure
    if isinstance(failure, BaseExceptionGroup):
        for sub in failure.exceptions:
            found = _first_failure(sub)
            if found is not None:
                return found
    return None


def _notes(failure: BaseException) -> list[str]:
    """The shrunk program Hypothesis attaches to a failure as PEP 678 notes."""
    notes = [str(note) for note in getattr(failure, "__notes__", [])]
    if isinstance(failure, BaseExceptionGroup):
        for sub in failure.exceptions:
            notes.extend(_notes(sub))
    return notes


def explore(
    profile: Profile,
    budget: Budget,
    *,
    operations: OperationTable | None = None,
    listener: Callable[[ExplorationStats], None] | None = None,
) -> ExplorationResult:
    """Explore ``profile`` (with ``operations`` instead of the real ones if given) within ``budget``."""
    stats = ExplorationStats(listener=listener)
    machine = reservations_machine(profile, operations=operations, stats=stats)
    config = settings(
        max_examples=budget.programs,
        stateful_step_count=budget.steps,
        derandomize=budget.derandomize,
        database=None,
        deadline=None,
        print_blob=False,
        suppress_health_check=[HealthCheck.too_slow],
    )
    report: list[str] = []
    started = time.perf_counter()
    try:
        with with_reporter(lambda line: report.append(str(line))):
            run_state_machine_as_test(machine, settings=config)
    except Exception as failure:  # a failure is data here; the CLI decides the exit code
        violations = _violations(failure)
        error = "" if violations else f"{type(failure).__name__}: {failure}"
        report.extend(_notes(failure))
        return ExplorationResult(
            profile=profile,
            budget=budget,
            stats=stats,
            seconds=time.perf_counter() - started,
            violations=violations,
            program="\n".join(report),
            error=error,
            failure=_first_failure(failure),
        )
    return ExplorationResult(profile=profile, budget=budget, stats=stats, seconds=time.perf_counter() - started)
