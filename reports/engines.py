"""Each engine's failure as a ``Counterexample``: the adapters from what an engine found to one value.

Rules:
1. Every adapter hands ``reports.build.make`` the start and the actions the engine ran, so the
   states and the violations in a report come from replaying the model, never from the engine's
   own records; the engine's own words (messages, z3 values, the triage verdict) go to ``notes``.
2. The rule is the first violation's rule (Hypothesis: the first one the catalogue knows; the
   exhaustive search: the example's; Z3: the obligation's). A rule outside the catalogue (a
   no-wrap obligation, a harness expectation, a crash) passes its own statement, spec and kind.
3. ``known`` is the known nim-codex reference of the rule's violation at the failing step (for a
   no-wrap refutation of a faithful variant: the obligation's own reference).
4. ``reproduce`` is a command that finds the failure again: ``sales-model check`` (Hypothesis),
   ``sales-model explore`` (the exhaustive search, and the random market machine),
   ``sales-model prove`` (Z3).

Mirrors: stateful_tests/machines.py, stateful_tests/market_machine.py (HarnessFailure.trace, .setup),
stateful_tests/exhaustive.py (``initial``), invariants/symbolic/triage.py (its start),
invariants/symbolic/run.py (``confirm``), sales_model/commands/ (the commands).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs

from invariants.catalogue import Violation
from invariants.symbolic import run as proofs
from invariants.symbolic import z3api as z
from invariants.symbolic.prover import Result
from invariants.symbolic.replay import replay
from invariants.symbolic.triage import Bounds, Triage
from invariants.symbolic.values import Mode
from model.actions import Action, OperationTable
from model.market import MarketAction, SaveAvailability
from model.market_state import MarketRules
from model.state import Profile
from reports.build import make, statement_of
from reports.counterexample import Counterexample
from stateful_tests.exhaustive import SCOPES, Example, Scope, _availability
from stateful_tests.exploration import BUDGETS, ExplorationResult
from stateful_tests.machines import HarnessFailure
from variants.faithful import FAITHFUL

#: Rules the harnesses check that the catalogue does not hold: (statement, spec, kind).
HARNESS_RULES: dict[str, tuple[str, str, str]] = {
    "expected_outcome": (
        "A rule aimed at one outcome (an acceptance or a named rejection) gets that outcome.",
        "spec §2 (the operations' guards)",
        "property",
    ),
    "model_raised": ("No operation of the model raises a Python exception.", "spec §2", "crash"),
    "illegal_event_changes_nothing": (
        "An event a sale's state does not handle is refused as IllegalEvent and changes nothing.",
        "spec §3.1",
        "property",
    ),
}
#: The prover's default scope (``sales-model prove --scope``).
DEFAULT_PROOF_SCOPE = "2x2"
#: How many programs the random market machine runs when a report reproduces one of its failures.
MARKET_PROGRAMS = 200


def _describe(rule_name: str) -> tuple[str, str, str]:
    """(statement, spec, kind) of ``rule_name``: the catalogue's, or a harness rule's."""
    if rule_name in HARNESS_RULES:
        return HARNESS_RULES[rule_name]
    return statement_of(rule_name)


def _in_catalogue(rule_name: str) -> bool:
    try:
        statement_of(rule_name)
    except KeyError:
        return False
    return True


def _with_known(cx: Counterexample, fallback: str | None = None) -> Counterexample:
    """``cx`` with ``known`` set from the rule's violation at the failing step (rule 3)."""
    from reports.headline import sentence

    index = cx.failing_step
    known = fallback
    if index is not None:
        violation = next(v for v in cx.steps[index].violations if v.rule == cx.rule)
        known = violation.known or fallback
    if known == cx.known:
        return cx
    evolved = attrs.evolve(cx, known=known)
    return attrs.evolve(evolved, summary=sentence(evolved))


def _harness_lines(violations: Sequence[Violation]) -> list[str]:
    """The violations as the engine reported them; a state's repr (whose maps iterate in hash
    order) is cut off, so a note is the same in every process."""
    return [
        f"harness: {v.rule}: {v.entity}: {v.message.split('(state=', 1)[0]}"
        + (
            f" (expected {v.expected}, observed {v.observed})"
            if v.expected is not None or v.observed is not None
            else ""
        )
        for v in violations
    ]


# -- Hypothesis --------------------------------------------------------------------------------


def from_harness_failure(
    failure: HarnessFailure,
    profile: Profile,
    operations: OperationTable | None = None,
    variant: str | None = None,
    *,
    rules: MarketRules | None = None,
    reproduce: str | None = None,
    notes: Sequence[str] = (),
) -> Counterexample:
    """The run that raised ``failure`` (a reservations or market machine's), replayed from its start.

    ``operations`` (reservations) or ``rules`` (market) are what the machine ran, ``variant`` the
    broken variant's name. A crash (``model_raised``) is replayed up to the step that raised.
    """
    chosen = next((v for v in failure.violations if _in_catalogue(v.rule)), failure.violations[0])
    statement, spec, kind = _describe(chosen.rule)
    actions: list[Any] = list(failure.trace)
    extra = _harness_lines(failure.violations)
    if chosen.rule == "model_raised" and actions:
        crashed = actions.pop()
        extra.append(f"the last action, not replayed, raised: {crashed!r}")
    if reproduce is None:
        reproduce = _check_command(profile, failure.level, variant)
    cx = make(
        rule=chosen.rule,
        engine="hypothesis",
        profile=profile,
        level=failure.level,
        actions=actions,
        setup=failure.setup,
        operations=operations,
        rules=rules,
        variant=variant,
        statement=statement,
        spec=spec,
        kind=kind,
        reproduce=reproduce,
        notes=(*notes, *extra),
    )
    return _with_known(cx)


def _check_command(profile: Profile, level: str, variant: str | None, budget: str | None = None) -> str:
    with_variant = f" --variant {variant}" if variant else ""
    if level == "market":
        return f"sales-model explore --profile {profile.value} --scope tiny --random {MARKET_PROGRAMS}{with_variant}"
    with_budget = f" --budget {budget}" if budget and budget != "default" else ""
    return f"sales-model check --profile {profile.value}{with_budget}{with_variant}"


def program_steps(program: str) -> int:
    """The rule calls of a shrunk Hypothesis program (``state.<rule>(...)`` lines, not checks)."""
    calls = [line for line in program.splitlines() if "state." in line]
    return sum(1 for line in calls if "state.invariants_hold(" not in line and "state.teardown(" not in line)


def from_exploration(
    result: ExplorationResult, operations: OperationTable | None = None, variant: str | None = None
) -> Counterexample | None:
    """The shrunk failing run of a ``sales-model check`` exploration, or None when nothing failed."""
    failure = result.failure
    if failure is None:
        return None
    budget = result.budget
    named = budget.name if BUDGETS.get(budget.name) == budget else None
    notes = [
        f"Hypothesis, budget {budget.name}: {budget.programs} programs of up to {budget.steps} steps"
        + (", derandomized" if budget.derandomize else ", random"),
        f"shrunk program: {program_steps(result.program)} rule calls, {len(failure.trace)} actions",
    ]
    return from_harness_failure(
        failure,
        result.profile,
        operations,
        variant,
        reproduce=_check_command(result.profile, failure.level, variant, named),
        notes=notes,
    )


# -- the exhaustive search ---------------------------------------------------------------------


def scope_setup(scope: Scope) -> dict[str, Any]:
    """The ``initial_market`` keyword arguments of ``scope``'s start (``exhaustive.initial``)."""
    return {
        "quota_max_bytes": scope.quota,
        "max_size": scope.max_size,
        "max_workers": scope.max_workers,
        "repair_discount": scope.repair_discount,
    }


def scope_actions(profile: Profile, scope: Scope) -> list[MarketAction]:
    """The availabilities ``exhaustive.initial`` creates before the search (its prelude is in traces)."""
    return [
        SaveAvailability(action=_availability(profile, f"a{n}", size))
        for n, size in enumerate(scope.availabilities, start=1)
    ]


def from_exhaustive(
    profile: Profile, scope: Scope, example: Example, rules: MarketRules | None = None, variant: str | None = None
) -> Counterexample:
    """A shortest trace of the exhaustive search of ``scope``, from an empty node."""
    first = example.violations[0]
    created = scope_actions(profile, scope)
    command = f"sales-model explore --profile {profile.value} --scope {scope.name}"
    named = SCOPES.get(scope.name)
    if named is not None and attrs.evolve(named, depth=scope.depth) == scope and named.depth != scope.depth:
        command += f" --depth {scope.depth}"
    command += (f" --variant {variant}" if variant else "") + (" --traces" if first.known else "")
    notes = [
        f"exhaustive breadth-first search of scope {scope.name} (depth {scope.depth}): a shortest trace",
        f"steps 1-{len(created)} create the scope's availabilities" if created else "the scope starts empty",
        *_harness_lines(example.violations),
    ]
    cx = make(
        rule=first.rule,
        engine="exhaustive",
        profile=profile,
        level="market",
        actions=[*created, *example.trace],
        setup=scope_setup(scope),
        rules=rules,
        variant=variant,
        known=first.known,
        reproduce=command,
        notes=notes,
    )
    return _with_known(cx, first.known)


# -- Z3 ----------------------------------------------------------------------------------------


def prove_command(result: Result) -> str:
    """The ``sales-model prove`` command that decides ``result``'s obligation again."""
    obligation = result.obligation
    command = f"sales-model prove --profile {obligation.profile.value}"
    suite = obligation.suite
    if suite is not None and str(suite.scope) != DEFAULT_PROOF_SCOPE:
        command += f" --scope {suite.scope}"
    if obligation.mode is Mode.BV:
        command += " --mode bv"
    return command


def mentioned_values(result: Result) -> list[str]:
    """``name=value`` of every symbol the failing case mentions, sorted by name."""
    assert result.model is not None
    obligation = result.obligation
    case = next(c for c in obligation.cases if c.label == result.model.case)
    names = sorted({str(s) for s in z.constants(z.And(case.premise, z.Not(case.goal)))})
    values = result.model.values
    return [f"{name}={values[name]}" for name in names if name in values]


def _rule_text(result: Result) -> tuple[str, str, str]:
    """(statement, spec, kind) of a refuted obligation's rule (rule 2)."""
    obligation = result.obligation
    variant = obligation.suite.variant if obligation.suite is not None else None
    if obligation.kind == "no_wrap":
        faithful = next((f for f in FAITHFUL if f.name == variant), None)
        return obligation.statement, (faithful.spec if faithful else "§2.12"), "no_wrap"
    if obligation.kind == "no_crash":
        return obligation.statement, "§2", "crash"
    return statement_of(obligation.rule)


def from_refutation(result: Result, found: Triage | None, *, bounds: Bounds | None = None) -> Counterexample:
    """A Z3 refutation: the triage's trace from an empty node when it is reachable, else the
    refutation's own pre-state (``replay``) and its one action. ``bounds`` are the triage's."""
    obligation, model = result.obligation, result.model
    suite = obligation.suite
    if result.status != "refuted" or model is None or suite is None:
        raise ValueError(f"a counterexample needs a refuted result with a model, got {result.status}")
    operations = proofs.operations_of(suite)
    statement, spec, kind = _rule_text(result)
    notes = [f"z3 refuted {obligation.name} ({result.engine}), case {model.case}"]
    if obligation.kind == "no_wrap":
        notes.append(proofs.confirm(result))
    setup: dict[str, Any] | None = None
    start = None
    actions: list[Action] = []
    if found is not None and found.verdict == "reachable" and found.trace:
        setup = {"quota_max_bytes": (bounds or Bounds()).quota}
        actions = list(found.trace)
        notes.append(f"triage: reachable from an empty node ({found.states:,} states expanded): {found.explanation}")
    else:
        replayed = replay(
            obligation.profile,
            suite.scope,
            model.values,
            model.case,
            obligation.rule,
            strict=obligation.kind == "strict",
            operations=operations,
        )
        start = replayed.pre
        actions = [] if obligation.kind == "no_crash" else [replayed.action]
        verdict = "not run" if found is None else f"{found.verdict} ({found.states:,} states expanded)"
        notes.append(f"triage: {verdict}" + (f": {found.explanation}" if found is not None else ""))
        notes.append("start: the refutation's own pre-state, rebuilt from the z3 values (it may be unreachable)")
        notes.append("z3 values of the failing case: " + ", ".join(mentioned_values(result)))
        notes.append("z3 values minimal (Optimize)" if model.minimal else "z3 values not minimised within the budget")
    cx = make(
        rule=obligation.rule,
        engine="z3",
        profile=obligation.profile,
        level="reservations",
        actions=actions,
        setup=setup,
        start=start,
        operations=operations,
        variant=suite.variant,
        statement=statement,
        spec=spec,
        kind=kind,
        known=obligation.known if obligation.kind == "no_wrap" else None,
        reproduce=prove_command(result),
        notes=notes,
    )
    return _with_known(cx, obligation.known if obligation.kind == "no_wrap" else None)
