"""``sales-model check``: the main job. Every engine on every profile, one summary, one exit code.

For each chosen profile it runs, in this order:

  stateful    the Hypothesis rule-based machine: random programs of operations, every invariant
              and transition property checked after every step;
  proofs      the Z3 proofs of the catalogue, from the model's own code (integer arithmetic; also
              64/256-bit bit-vectors at --budget thorough);
  exhaustive  breadth-first exploration of small market scopes (suite quick at --budget quick,
              suite default otherwise), shortest counterexamples, known nim-codex violations;
  coverage    the sale-table pairs the exhaustive run hit: a pair never hit that is not known
              unreachable is a failure (judged on the default suite only, as `sales-model explore`
              judges it; with suite quick the figures are shown, not judged).

Rules:
  1. Budgets map onto each engine's own: quick = stateful quick (40 programs), proofs int,
     exhaustive suite quick; default = stateful default (300 programs), proofs int, exhaustive
     suite default; thorough = stateful thorough (3,000 random programs), proofs int and bv,
     exhaustive suite default.
  2. --variant runs a deliberately broken model through the engines it applies to: a broken
     operation table (variants/broken.py) through stateful, proofs and exhaustive (coverage is not
     judged on a broken model); a broken market (variants/broken_market.py) through exhaustive only,
     with the scope made to catch it added to the suite.
  3. Every counterexample found (an unexpected violation, a Z3 refutation that is not expected) is
     written to --report-dir (default: ./sales-model-reports) three times, via
     reports.render.write_all: Markdown, ITF JSON and a pytest regression file. Each known nim-codex
     violation reproduced with a trace (exhaustive, Z3; the stateful engine counts them without a
     trace) is written once per profile, rule, engine and reference into the known/ subdirectory.
     Files of earlier runs are left alone; only this run's are listed.
     Two counterexamples with the same file names go to a subdirectory named after the second.
  4. --json prints only a JSON summary on stdout; progress (and nothing else) goes to stderr.
     Keys: command, budget, variant, report_dir, profiles (profile -> engine -> status, counts,
     seconds, figures, problems, notes, reports, known_reports), reports, known_reports, seconds,
     exit_code.
     A status is ok, counterexample (for coverage: a reachable pair never hit) or undecided.

Exit codes: 0 all good; 1 a counterexample (a violation other than the known nim-codex ones, an
unexpected proof verdict, or a coverage gap); 2 bad input or usage (including a --variant that does
not apply to the chosen --profile, or a --report-dir that is a file); 3 something undecided (a Z3
unknown) and no counterexample.

Mirrors: sales-model explore (exhaustive and coverage), sales-model prove (proofs and triage).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

import attrs

from invariants import rules_for
from model.state import Profile
from stateful_tests.exploration import BUDGETS, Budget, ExplorationResult, explore
from stateful_tests.stats import ExplorationStats
from variants import VARIANTS
from variants.broken_market import MARKET_VARIANTS

BROKEN = {variant.name: variant for variant in VARIANTS}
BROKEN_MARKETS = {variant.name: variant for variant in MARKET_VARIANTS}

PROFILES = {profile.value: profile for profile in Profile}

DEFAULT_REPORT_DIR = "sales-model-reports"

OK, COUNTEREXAMPLE, UNDECIDED = "ok", "counterexample", "undecided"
ENGINES = ("stateful", "proofs", "exhaustive", "coverage")


@attrs.frozen(kw_only=True)
class Plan:
    """What one ``--budget`` means for each engine (rule 1)."""

    stateful: str
    modes: tuple[str, ...]
    suite: str


PLANS = {
    "quick": Plan(stateful="quick", modes=("int",), suite="quick"),
    "default": Plan(stateful="default", modes=("int",), suite="default"),
    "thorough": Plan(stateful="thorough", modes=("int", "bv"), suite="default"),
}
if "ci" in BUDGETS:  # only if the stateful engine has a ci budget of its own
    PLANS["ci"] = Plan(stateful="ci", modes=("int",), suite="default")


def register(subparsers: Any) -> None:
    command = subparsers.add_parser(
        "check",
        help="the main job: stateful exploration, proofs, exhaustive exploration and coverage of every profile",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    command.add_argument("--profile", choices=[*PROFILES, "all"], default="all", help="which nim-codex version")
    command.add_argument("--budget", choices=list(PLANS), default="default", help="how much to explore (rule 1)")
    command.add_argument(
        "--variant",
        choices=sorted([*BROKEN, *BROKEN_MARKETS]),
        default=None,
        metavar="VARIANT",
        help="check a deliberately broken variant instead (to see the engines catch it): a name from "
        "variants/broken.py or variants/broken_market.py",
    )
    command.add_argument(
        "--report-dir",
        type=Path,
        default=Path(DEFAULT_REPORT_DIR),
        metavar="DIR",
        help=f"where counterexample reports go (default: ./{DEFAULT_REPORT_DIR}; known ones in DIR/known)",
    )
    command.add_argument(
        "--json", action="store_true", help="print only a JSON summary on stdout (progress stays on stderr)"
    )
    command.set_defaults(run=run)


class Progress:
    """A one-line progress display on stderr (redrawn on a terminal, every 10% otherwise)."""

    def __init__(self, profile: Profile, budget: Budget, stream: TextIO) -> None:
        self.profile, self.budget, self.stream = profile, budget, stream
        self.tty = stream.isatty()
        self.shown = -1

    def __call__(self, stats: ExplorationStats) -> None:
        done = min(stats.runs, self.budget.programs)
        tenth = done * 10 // self.budget.programs
        line = f"[{self.profile.value}] programs {done}/{self.budget.programs}  steps {stats.steps}"
        if self.tty:
            self.stream.write("\r" + line)
        elif tenth != self.shown:
            self.stream.write(line + "\n")
        self.shown = tenth
        self.stream.flush()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")


def summary(result: ExplorationResult) -> str:
    """The human-readable summary of one profile's stateful exploration."""
    stats = result.stats
    invariants, properties = rules_for(result.profile)
    rate = stats.steps / result.seconds if result.seconds else 0.0
    lines = [
        f"== {result.profile.value} (budget {result.budget.name}) ==",
        f"programs {stats.runs}   steps {stats.steps}   time {result.seconds:.1f}s   ({rate:.0f} steps/s)",
        f"invariants checked: {len(invariants)} rules, {stats.invariant_checks} checks;"
        f" transition properties: {len(properties)} rules, {stats.property_checks} checks",
        "rules hit per operation:",
    ]
    for operation, outcomes in sorted(stats.operations().items()):
        parts = ", ".join(f"{kind} {count}" for kind, count in sorted(outcomes.items()))
        lines.append(f"  {operation:<30} {sum(outcomes.values()):>7}   {parts}")
    if stats.known:
        lines.append("known nim-codex violations reproduced (reported, not failures):")
        lines.extend(f"  {rule:<36} {ref:<28} {count}" for (rule, ref), count in sorted(stats.known.items()))
    lines.append(f"violations: {len(result.violations) + (1 if result.error else 0)}")
    lines.extend(f"  {v.rule}: {v.entity}: {v.message}" for v in result.violations)
    if result.error:
        lines.append(f"  error: {result.error}")
    if result.program:
        lines.append("shrunk program:")
        lines.extend("  " + line for line in result.program.splitlines())
    return "\n".join(lines)


# -- results and reports ----------------------------------------------------------------


@attrs.define
class EngineRun:
    """What one engine decided on one profile: status, figures, and the reports it wrote."""

    engine: str
    status: str = OK
    seconds: float = 0.0
    counts: dict[str, int] = attrs.field(factory=dict)
    figures: str = ""
    details: list[str] = attrs.field(factory=list)
    problems: list[str] = attrs.field(factory=list)
    notes: list[str] = attrs.field(factory=list)
    reports: list[str] = attrs.field(factory=list)
    known_reports: list[str] = attrs.field(factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "counts": self.counts,
            "seconds": round(self.seconds, 3),
            "figures": self.figures,
            "problems": self.problems,
            "notes": self.notes,
            "reports": self.reports,
            "known_reports": self.known_reports,
        }


def _slugify(text: str, limit: int = 48) -> str:
    """A directory name for ``text`` (a known reference such as "spec §3.3: currentCollateral differs
    from ..."), cut at a word boundary within ``limit`` characters, never mid-word."""
    words = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-").split("-")
    kept: list[str] = []
    for word in words:
        if kept and len("-".join([*kept, word])) > limit:
            break
        kept.append(word)
    return "-".join(kept)[:limit].strip("-") or "other"


class Reports:
    """Writes counterexamples under one directory (rule 3), one set of files per counterexample."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.taken: set[tuple[Path, str]] = set()  # (directory, slug) written
        self.known: set[tuple[str, str]] = set()  # (slug, known reference) written

    def write(self, cx: Any, run: EngineRun, *, known: bool) -> None:
        """Write the three renderings of ``cx`` (a ``reports.counterexample.Counterexample``)."""
        from reports.render import write_all

        directory = self.directory / "known" if known else self.directory
        slug = cx.slug()
        if known:
            if (slug, str(cx.known)) in self.known:
                return  # this known violation is already written (rule 3)
            self.known.add((slug, str(cx.known)))
        if (directory, slug) in self.taken:
            base = directory / _slugify(cx.known or (cx.steps[-1].action if cx.steps else "other"))
            directory, number = base, 2
            while (directory, slug) in self.taken:
                directory, number = base.with_name(f"{base.name}-{number}"), number + 1
        self.taken.add((directory, slug))
        paths = [str(path) for path in write_all(cx, directory)]
        (run.known_reports if known else run.reports).extend(paths)

    def convert(self, run: EngineRun, make: Callable[[], Any], *, known: bool) -> None:
        """Build a counterexample with ``make`` and write it; a failure to build is a problem, not a crash."""
        try:
            cx = make()
            if cx is not None:
                self.write(cx, run, known=known)
        except Exception as error:  # the verdict stands; only its rendering is missing
            run.notes.append(f"could not render a counterexample: {type(error).__name__}: {error}")


def _engines() -> Any:
    """``reports.engines``, imported when a counterexample is to be built (its failure is a problem)."""
    from reports import engines

    return engines


def _timed(run: EngineRun, started: float) -> EngineRun:
    run.seconds = time.perf_counter() - started
    return run


# -- the engines ------------------------------------------------------------------------


def stateful(profile: Profile, plan: Plan, variant: Any, reports: Reports, stream: TextIO) -> EngineRun:
    """The Hypothesis stateful exploration of ``profile``."""
    started = time.perf_counter()
    budget = BUDGETS[plan.stateful]
    progress = Progress(profile, budget, stream)
    operations = variant.operations(profile) if variant is not None else None
    result = explore(profile, budget, operations=operations, listener=progress)
    progress.close()
    stats = result.stats
    found = len(result.violations) + (1 if result.error else 0)
    run = EngineRun(
        engine="stateful",
        status=COUNTEREXAMPLE if result.failed else OK,
        counts={
            "programs": stats.runs,
            "steps": stats.steps,
            "invariant_checks": stats.invariant_checks,
            "property_checks": stats.property_checks,
            "violations": found,
            "known": sum(stats.known.values()),
        },
        figures=f"{stats.runs} programs, {stats.steps} steps, {found} violations, {len(stats.known)} known",
        details=[summary(result)],
    )
    if result.failed:
        name = variant.name if variant is not None else None
        reports.convert(
            run, lambda: _engines().from_exploration(result, operations=operations, variant=name), known=False
        )
    return _timed(run, started)


def _proof_line(result: Any) -> str:
    from invariants.symbolic import run as proofs

    try:
        return proofs.line(result)
    except Exception:  # a broken variant's suite has no faithful table to replay with
        return f"{result.status.upper()} (expected {result.obligation.expected})  {result.obligation.name}"


def prove(profile: Profile, plan: Plan, variant: Any, reports: Reports, stream: TextIO) -> EngineRun:
    """The Z3 proofs of ``profile`` (with a broken operation table in place of the real one if given)."""
    from invariants.symbolic import run as proofs
    from invariants.symbolic.obligations import generate
    from invariants.symbolic.prover import Budget as ProofBudget
    from invariants.symbolic.prover import discharge
    from invariants.symbolic.states import Scope
    from invariants.symbolic.triage import triage
    from invariants.symbolic.values import Mode

    started = time.perf_counter()
    modes = [Mode(mode) for mode in plan.modes]
    scope, budget = Scope.parse("2x2"), ProofBudget()
    operations = variant.operations(profile) if variant is not None else None
    results: list[Any] = []
    if variant is None:
        results = list(proofs.run([profile], modes, scope, budget).results)
    else:
        for mode in modes:
            suite = generate(profile, mode, scope, operations=operations, variant=variant.name)
            results.extend(discharge(obligation, budget) for obligation in suite.obligations)
    run = EngineRun(engine="proofs")
    unexpected = [r for r in results if not r.as_expected]
    refuted_known = [r for r in results if r.as_expected and r.status == "refuted"]
    unknown = [r for r in results if r.status == "unknown"]
    run.counts = {
        "obligations": len(results),
        "proved": sum(1 for r in results if r.status == "proved"),
        "refuted_as_expected": len(refuted_known),
        "unexpected": len(unexpected),
        "unknown": len(unknown),
    }
    if any(r.status in ("refuted", "vacuous", "proved") for r in unexpected):
        run.status = COUNTEREXAMPLE
    elif unknown:
        run.status = UNDECIDED
    run.figures = (
        f"{len(results)} obligations ({'+'.join(plan.modes)}): {run.counts['proved']} proved, "
        f"{len(refuted_known)} refuted as expected, {len(unexpected)} unexpected, {len(unknown)} unknown"
    )
    for result in unexpected:
        run.details.append(_proof_line(result))
        run.problems.append(f"{result.obligation.name}: {result.status} (expected {result.obligation.expected})")
    for result in [*unexpected, *refuted_known]:
        if result.status != "refuted" or result.model is None:
            continue
        if variant is not None:
            # A broken variant's refutation is rendered from the Z3 pre-state, untriaged: the search
            # for a trace through a broken model is long and the stateful engine shows one anyway.
            def untriaged(result: Any = result) -> Any:
                return _engines().from_refutation(result, None)

            reports.convert(run, untriaged, known=result.as_expected)
            continue
        try:
            found = triage(result)
        except Exception as error:  # triage knows no such obligation: render without a trace
            run.notes.append(f"{result.obligation.name}: no triage ({type(error).__name__}: {error})")
            found = None
        if found is not None and not result.as_expected:
            run.details.extend(found.render())

        def make(result: Any = result, found: Any = found) -> Any:
            return _engines().from_refutation(result, found)

        reports.convert(run, make, known=result.as_expected)
    return _timed(run, started)


def _market_rules(profile: Profile, variant: Any) -> Any:
    """The market rules a variant means: a broken market's, or the real ones with broken operations."""
    if variant is None:
        return None
    if variant.name in BROKEN_MARKETS:
        return variant.rules(profile)
    from model.market_state import default_rules

    return attrs.evolve(default_rules(profile), operations=variant.operations(profile))


def exhaustive(profile: Profile, plan: Plan, variant: Any, reports: Reports, stream: TextIO) -> tuple[EngineRun, Any]:
    """The exhaustive exploration of the plan's suite (and a broken market's own scope); the suite result."""
    from sales_model.commands import explore as explore_command
    from stateful_tests.exhaustive import SCOPES, SUITES, explore_suite

    started = time.perf_counter()
    names = list(SUITES[plan.suite])
    if variant is not None and variant.name in BROKEN_MARKETS and variant.scope not in names:
        names.append(variant.scope)
    rules = _market_rules(profile, variant)
    progress = explore_command.Progress(profile, stream)
    suite = explore_suite(profile, tuple(SCOPES[n] for n in names), name=plan.suite, rules=rules, listener=progress)
    progress.close()
    name = variant.name if variant is not None else None
    run = EngineRun(engine="exhaustive")
    for r in suite.results:
        done = "complete" if r.complete else f"depth {r.depth}"
        run.details.append(
            f"  {r.scope.name:<10} states {r.states:>7}  transitions {r.transitions:>8}  {done:<9}  {r.seconds:6.1f}s"
        )
    shortest: dict[tuple[str, str], tuple[Any, Any]] = {}
    for r in suite.results:
        for key, example in r.known.items():
            if key not in shortest or len(example.trace) < len(shortest[key][1].trace):
                shortest[key] = (r.scope, example)
    for (rule, ref), (scope, example) in sorted(shortest.items(), key=lambda item: item[0]):
        run.details.append(f"  known: {rule} ({ref}), shortest {len(example.trace)} steps in scope {scope.name}")

        def make_known(scope: Any = scope, example: Any = example) -> Any:
            return _engines().from_exhaustive(profile, scope, example, rules=rules, variant=name)

        reports.convert(run, make_known, known=True)
    violations = 0
    for r in suite.results:
        if r.violation is None:
            continue
        violations += len(r.violation.violations)
        run.status = COUNTEREXAMPLE
        run.details.extend(f"  {v.rule}: {v.entity}: {v.message}" for v in r.violation.violations)
        run.details.append(f"  shortest counterexample ({len(r.violation.trace)} steps, scope {r.scope.name}):")
        run.details.extend(f"    {n}. {explore_command.show(a)}" for n, a in enumerate(r.violation.trace, 1))
        run.problems.extend(f"{r.scope.name}: {v.rule}: {v.entity}: {v.message}" for v in r.violation.violations)

        def make(r: Any = r) -> Any:
            return _engines().from_exhaustive(profile, r.scope, r.violation, rules=rules, variant=name)

        reports.convert(run, make, known=False)
    run.counts = {
        "scopes": len(suite.results),
        "states": suite.states,
        "transitions": suite.transitions,
        "violations": violations,
        "known": len(shortest),
    }
    run.figures = (
        f"suite {plan.suite}: {len(suite.results)} scopes, {suite.states} states, "
        f"{suite.transitions} transitions, {violations} violations, {len(shortest)} known"
    )
    return _timed(run, started), suite


def coverage(suite: Any, judged: bool) -> EngineRun:
    """The sale-table coverage of an exhaustive suite, judged as ``sales-model explore`` judges it."""
    from model.sale import TABLES
    from stateful_tests.coverage import UNREACHABLE

    cover = suite.coverage
    table = TABLES[suite.profile]
    hit = sum(1 for pair in table if cover.pairs[pair])
    problems = cover.problems() if judged else []
    run = EngineRun(
        engine="coverage",
        status=COUNTEREXAMPLE if problems else OK,
        counts={
            "pairs": len(table),
            "hit": hit,
            "unreachable": len(UNREACHABLE[suite.profile]),
            "problems": len(problems),
            "judged": int(judged),
        },
        figures=f"{hit}/{len(table)} table pairs hit ({len(UNREACHABLE[suite.profile])} unreachable)"
        + ("" if judged else f", not judged (suite {suite.suite})"),
        problems=problems,
    )
    if problems:
        run.details.append(cover.report())
        run.details.append("coverage problems:")
        run.details.extend(f"  {p}" for p in problems)
    elif judged:
        run.details.append("  every reachable sale transition exercised")
    else:
        run.details.append(f"  not judged: suite {suite.suite} cannot reach every transition")
    return run


# -- the command ------------------------------------------------------------------------


def _engines_for(variant: Any) -> tuple[str, ...]:
    if variant is None:
        return ENGINES
    if variant.name in BROKEN_MARKETS:
        return ("exhaustive",)
    return ("stateful", "proofs", "exhaustive")


def _exit_code(runs: dict[str, dict[str, EngineRun]]) -> int:
    statuses = {run.status for engines in runs.values() for run in engines.values()}
    if COUNTEREXAMPLE in statuses:
        return 1
    return 3 if UNDECIDED in statuses else 0


def table(runs: dict[str, dict[str, EngineRun]]) -> list[str]:
    """The summary table: profile x engine, status, key figures, time."""
    lines = [f"{'profile':<11} {'engine':<11} {'status':<15} {'time':>7}  figures"]
    for profile, engines in runs.items():
        for engine, run in engines.items():
            lines.append(f"{profile:<11} {engine:<11} {run.status:<15} {run.seconds:6.1f}s  {run.figures}")
    return lines


def run(arguments: argparse.Namespace) -> int:
    out = sys.stderr if arguments.json else sys.stdout
    profiles = list(Profile) if arguments.profile == "all" else [PROFILES[arguments.profile]]
    variant: Any = None
    if arguments.variant:
        variant = BROKEN.get(arguments.variant) or BROKEN_MARKETS[arguments.variant]
        profiles = [p for p in profiles if p in variant.profiles]
        print(f"checking broken variant {variant.name}: {variant.summary} ({variant.modelled_on})", file=out)
        if not profiles:
            print(f"variant {variant.name} does not apply to profile {arguments.profile}", file=sys.stderr)
            return 2
    directory: Path = arguments.report_dir
    if directory.exists() and not directory.is_dir():
        print(f"sales-model check: --report-dir {directory} is not a directory", file=sys.stderr)
        return 2
    plan = PLANS[arguments.budget]
    reports = Reports(directory)
    started = time.perf_counter()
    runs: dict[str, dict[str, EngineRun]] = {}
    for profile in profiles:
        done: dict[str, EngineRun] = {}
        runs[profile.value] = done
        wanted = _engines_for(variant)
        suite = None
        for engine in wanted:
            print(f"[{profile.value}] {engine}: started", file=sys.stderr, flush=True)
            if engine == "stateful":
                done[engine] = stateful(profile, plan, variant, reports, sys.stderr)
            elif engine == "proofs":
                done[engine] = prove(profile, plan, variant, reports, sys.stderr)
            elif engine == "exhaustive":
                done[engine], suite = exhaustive(profile, plan, variant, reports, sys.stderr)
            else:
                done[engine] = coverage(suite, judged=plan.suite == "default")
            finished = done[engine]
            print(
                f"[{profile.value}] {engine}: {finished.status} in {finished.seconds:.1f}s ({finished.figures})",
                file=sys.stderr,
                flush=True,
            )
    code = _exit_code(runs)
    seconds = time.perf_counter() - started
    every = [p for engines in runs.values() for r in engines.values() for p in r.reports]
    known = [p for engines in runs.values() for r in engines.values() for p in r.known_reports]
    if arguments.json:
        document = {
            "command": "check",
            "budget": arguments.budget,
            "variant": arguments.variant,
            "report_dir": str(directory),
            "profiles": {p: {e: r.as_json() for e, r in engines.items()} for p, engines in runs.items()},
            "reports": every,
            "known_reports": known,
            "seconds": round(seconds, 3),
            "exit_code": code,
        }
        print(json.dumps(document, indent=2))
        return code
    _print_human(runs, every, known, code, seconds)
    return code


def _print_human(
    runs: dict[str, dict[str, EngineRun]], every: Sequence[str], known: Sequence[str], code: int, seconds: float
) -> None:
    for profile, engines in runs.items():
        for engine, run in engines.items():
            if engine != "stateful":
                print(f"-- {profile} {engine}: {run.status}; {run.figures}")
            print("\n".join(run.details))
            for note in run.notes:
                print(f"  note: {note}")
        print()
    print("\n".join(table(runs)))
    print()
    print(f"counterexample reports ({len(every)} files):")
    print("\n".join(f"  {path}" for path in every) if every else "  none")
    print(f"known nim-codex violations reproduced ({len(known)} files):")
    print("\n".join(f"  {path}" for path in known) if known else "  none")
    failed = [p for p, engines in runs.items() if any(r.status == COUNTEREXAMPLE for r in engines.values())]
    undecided = [p for p, engines in runs.items() if any(r.status == UNDECIDED for r in engines.values())]
    if failed:
        verdict = f"FAILED: violations in {', '.join(failed)}"
    elif undecided:
        verdict = f"UNDECIDED: z3 answered unknown in {', '.join(undecided)}"
    else:
        verdict = "OK: no violation"
    print(f"{verdict} ({seconds:.1f}s; exit {code})")
