"""The whole proof suite: generate, discharge, and print with the assumption ledger.

Exit status of a run: 0 when every obligation ends as expected (proved, or refuted where a
refutation is expected); 1 when an obligation expected to be proved is refuted (or an
expected refutation is proved, or vacuous); 3 when something is undecided (unknown) and
nothing is refuted.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import attrs

from invariants.symbolic import z3api as z
from invariants.symbolic.obligations import Suite, generate
from invariants.symbolic.prover import Budget, Result, discharge
from invariants.symbolic.replay import concrete_wraps, replay
from invariants.symbolic.states import Scope
from invariants.symbolic.values import Mode
from model.actions import OperationTable
from model.state import Profile
from variants.faithful import FAITHFUL


@attrs.frozen
class Outcome:
    """Everything one run decided, in order."""

    suites: tuple[Suite, ...]
    results: tuple[Result, ...]
    seconds: float

    @property
    def exit_code(self) -> int:
        if any(not r.as_expected and r.status in ("refuted", "vacuous", "proved") for r in self.results):
            return 1
        if any(r.status == "unknown" for r in self.results):
            return 3
        return 0


def _faithful_suites(profiles: Sequence[Profile], mode: Mode, scope: Scope) -> list[Suite]:
    suites = []
    for faithful in FAITHFUL:
        if faithful.profile not in profiles:
            continue
        suite = generate(
            faithful.profile,
            mode,
            scope,
            operations=faithful.table,
            variant=faithful.name,
            only=frozenset({faithful.operation}),
        )
        kept = []
        for generated in suite.obligations:
            if generated.kind != "no_wrap":
                continue
            obligation = attrs.evolve(generated, name=f"{generated.name} [{faithful.name}]")
            if f"`{faithful.expected_refutation} (" in obligation.statement:
                obligation = attrs.evolve(
                    obligation, expected="refuted", known=f"{faithful.name}: spec {faithful.spec}"
                )
            kept.append(obligation)
        suite.obligations[:] = kept
        suites.append(suite)
    return suites


def run(
    profiles: Sequence[Profile],
    modes: Sequence[Mode],
    scope: Scope,
    budget: Budget,
    progress: Callable[[str], None] = lambda _: None,
    on_result: Callable[[Result], None] = lambda _: None,
) -> Outcome:
    """Generate and discharge every obligation of ``profiles`` in ``modes``."""
    started = time.perf_counter()
    suites: list[Suite] = []
    results: list[Result] = []
    cores: dict[str, tuple[str, ...]] = {}
    if Mode.BV in modes and Mode.INT not in modes and budget.bv_engine == "bitblast":
        progress("integer mode first, for the unsat cores bit-vector mode tries first")
        hints = run(profiles, [Mode.INT], scope, attrs.evolve(budget, cores=True))
        cores = {r.obligation.name: core for r in hints.results if (core := _usable_core(r)) is not None}
    for mode in sorted(modes, key=lambda m: m is Mode.BV):
        batch = []
        for profile in profiles:
            progress(f"generating {profile.value} / {mode.value} / scope {scope}")
            batch.append(generate(profile, mode, scope))
        batch.extend(_faithful_suites(profiles, mode, scope))
        for suite in batch:
            suites.append(suite)
            for obligation in suite.obligations:
                blasting = mode is Mode.BV and budget.bv_engine == "bitblast"
                focus = cores.get(_in_int(obligation.name)) if blasting else None
                result = discharge(obligation, budget, focus=focus)
                results.append(result)
                on_result(result)
                if mode is Mode.INT and (core := _usable_core(result)) is not None:
                    cores[obligation.name] = core
    return Outcome(suites=tuple(suites), results=tuple(results), seconds=time.perf_counter() - started)


def _usable_core(result: Result) -> tuple[str, ...] | None:
    """The hypotheses an integer-mode proof used, or None when there is no proof or no core."""
    if result.status != "proved" or not result.core:
        return None
    if result.core[0].startswith("(none"):
        return ()
    if result.core[0].startswith("("):
        return None
    return result.core


def _in_int(name: str) -> str:
    """The name of the same obligation in integer mode (names are ``profile/mode/...``)."""
    profile, _, rest = name.split("/", 2)
    return f"{profile}/{Mode.INT.value}/{rest}"


def operations_of(suite: Suite) -> OperationTable | None:
    """The operation table a suite ran: the profile's own, a faithful variant's or a broken one's."""
    if suite.variant is None:
        return None
    for faithful in FAITHFUL:
        if faithful.name == suite.variant:
            return faithful.table
    from variants.broken import VARIANTS

    for broken in VARIANTS:
        if broken.name == suite.variant:
            return broken.operations(suite.profile)
    raise KeyError(f"no variant named {suite.variant}")


def confirm(result: Result) -> str:
    """Replay a refutation on plain integers: does the plain model show the same failure?"""
    obligation = result.obligation
    suite = obligation.suite
    if result.model is None or suite is None or obligation.kind == "no_crash":
        return ""
    operations = operations_of(suite)
    outcome = replay(
        obligation.profile,
        suite.scope,
        result.model.values,
        result.model.case,
        obligation.rule,
        strict=obligation.kind == "strict",
        operations=operations,
    )
    if obligation.kind == "no_wrap":
        site = obligation.rule.removeprefix("no_wrap:")
        wraps = [w for w in concrete_wraps(outcome.pre, outcome.action, operations) if w.site == site]
        return f"concrete replay: `{wraps[0].text}` wraps" if wraps else "concrete replay: NOT reproduced"
    if not outcome.violations:
        return "concrete replay: NOT reproduced"
    first = outcome.violations[0]
    known = f" (known: {first.known})" if first.known else ""
    return f"concrete replay: {first.entity}: {first.message}{known}"


def line(result: Result) -> str:
    """One line per obligation: name, verdict, time, rlimit, and the hypotheses or the reason."""
    verdict = (
        result.status.upper()
        if result.as_expected
        else f"{result.status.upper()} (expected {result.obligation.expected})"
    )
    engine = f"  [{result.engine}]" if result.engine != "lia" else ""
    head = f"{verdict:<24} {result.obligation.name}  {result.seconds * 1000:.0f} ms  rlimit {result.rlimit:,}{engine}"
    if result.status == "proved":
        return f"{head}\n    uses: {', '.join(result.core)}"
    if result.status == "refuted" and result.model is not None:
        relevant = _relevant(result)
        tail = f"\n    known: {result.obligation.known}" if result.obligation.known else ""
        replayed = confirm(result)
        tail += f"\n    {replayed}" if replayed else ""
        minimal = "minimal " if result.model.minimal else ""
        return f"{head}\n    {minimal}counterexample ({result.model.case}): {relevant}{tail}"
    return f"{head}\n    reason: {result.reason}"


def _relevant(result: Result) -> str:
    assert result.model is not None
    ob = result.obligation
    case = next(c for c in ob.cases if c.label == result.model.case)
    names = sorted({str(s) for s in z.constants(z.And(case.premise, z.Not(case.goal)))})
    values = result.model.values
    shown = [f"{n}={values[n]}" for n in names if n in values]
    return ", ".join(shown[:14]) + (" …" if len(shown) > 14 else "")


def ledger(outcome: Outcome, scope: Scope) -> list[str]:
    """The assumption ledger: what every proof above took for granted, and why it extends."""
    lines = [
        "Assumption ledger",
        f"  scope: {scope.availabilities} availabilities x {scope.reservations} reservations each, every quantity and",
        "    flag symbolic; ids, ownership, request ids and slot indices concrete; the last reservation of each",
        "    availability (codex-head) has already been returned to by Sales.",
        "  locality: every operation reads and writes at most one availability, one reservation and the repo",
        "    (the restart cleanup is a sequence of deletes, proved with one inactive reservation and with all of",
        "    a1's); every invariant is a conjunction over entities or a sum whose untouched terms are the same",
        "    before and after; so one touched availability with one other reservation, next to one untouched",
        "    availability whose symbolic fields stand for any number of others (their sums are bounded by the",
        "    repo's 63-bit counters), covers states of any size.",
        "  ranges: sizes 0..2^64-1, money 0..2^256-1, times -2^63..2^63-1, repo counters 0..2^63-1 (spec §0);",
        "    in bit-vector mode the widths say it, except repo counters (63-bit bound asserted).",
        "  ledger: latest_valid_until is the largest live valid_until or 0 (ledger:<availability>).",
        "  Sales calling contract (spec §3.3), as named hypotheses, used only where the unsat core says so:",
        "    returned_then_deleted:<r>  after returnBytesToAvailability(slotSize) Sales only deletes,",
        "                                so returned + size = slot_size;",
        "    returned_collateral_within_taken:<r>  deleteReservation's returnedCollateral is at most what",
        "                                the reservation took (the slot's on-chain collateral);",
        "    shapes marked 'sales' return once with bytes = slot size and release only before returning.",
        "  invariant hypotheses: every invariant of the profile holds in the pre-state, modulo violations",
        "    attributed to a known nim-codex behaviour (strict obligations assume the strict form instead).",
        "  arithmetic: nim-codex's additions, subtractions, products and divisions (model/ outside state.py and",
        "    entities.py) carry no-wrap obligations; bookkeeping and the catalogue are exact.",
    ]
    if any(s.space.abstract_nonlinear for s in outcome.suites):
        lines.append(
            "  bit-vector mode: products and quotients of two symbols are fresh symbols bound by lemmas (zero,"
        )
        lines.append("    monotonicity, c <= t div s <=> s*c <= t for s > 0), which hold of integer arithmetic.")
    return lines


def vacuity(outcome: Outcome) -> list[str]:
    """Per operation: paths explored, merged groups, and branches the hypotheses rule out."""
    lines = ["Paths and vacuity checks"]
    for suite in outcome.suites:
        tag = f"{suite.profile.value}/{suite.mode.value}" + (f" [{suite.variant}]" if suite.variant else "")
        lines.append(f"  {tag}: {len(suite.obligations)} obligations, digest {suite.digest()}")
        for runs in suite.operations:
            groups = sum(len(g) for _, g in runs.merged)
            lines.append(f"  {tag} {runs.operation}: {runs.paths} paths in {groups} groups")
        for site, count in sorted(suite.dead_branches.items()):
            lines.append(f"  {tag} one side never taken under the hypotheses ({count}x): {site}")
    vacuous = [r for r in outcome.results if r.status == "vacuous"]
    lines.append(f"  obligations whose premises are unsatisfiable: {len(vacuous)}")
    lines.extend(f"    {r.obligation.name}: {r.reason}" for r in vacuous)
    return lines
