"""``sales-model explore``: exhaustive breadth-first exploration of small market scopes, with coverage.

Exit codes: 0 no violation and every reachable sale transition exercised; 1 a violation (other than
known nim-codex ones) was found, or (default suite, default depths) a table pair that is not known
unreachable was never hit; 2 bad usage.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO

import attrs

from model.market import MarketAction, SaleStep
from model.state import Profile
from stateful_tests.coverage import Coverage
from stateful_tests.exhaustive import SCOPES, SUITES, ExhaustiveResult, Scope, SuiteResult, explore_suite
from variants.broken_market import MARKET_VARIANTS

PROFILES = {profile.value: profile for profile in Profile}
BROKEN = {variant.name: variant for variant in MARKET_VARIANTS}


def _depth(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"depth must be a whole number, got {text!r}") from None
    if not 0 <= value <= 60:
        raise argparse.ArgumentTypeError(f"depth must be between 0 and 60, got {value}")
    return value


def _programs(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"programs must be a whole number, got {text!r}") from None
    if not 0 <= value <= 100_000:
        raise argparse.ArgumentTypeError(f"programs must be between 0 and 100000, got {value}")
    return value


def register(subparsers: Any) -> None:
    command = subparsers.add_parser(
        "explore",
        help="explore small market scopes exhaustively (breadth first) and report coverage",
        description="Breadth-first search of every state of small market scopes (availabilities, requests, "
        "sales, queue, restarts), checking every invariant and transition property, with the shortest "
        "counterexample for any violation and a coverage report of the sale state machine.",
    )
    command.add_argument("--profile", choices=[*PROFILES, "all"], default="all", help="which nim-codex version")
    where = command.add_mutually_exclusive_group()
    where.add_argument("--suite", choices=sorted(SUITES), default="default", help="a named set of scopes")
    where.add_argument("--scope", choices=sorted(SCOPES), default=None, help="one scope instead of a suite")
    command.add_argument("--depth", type=_depth, default=None, help="steps to explore in every scope (0-60)")
    command.add_argument(
        "--variant", choices=sorted(BROKEN), default=None, help="explore a deliberately broken market instead"
    )
    command.add_argument(
        "--random", type=_programs, default=0, metavar="PROGRAMS", help="also run the random market machine"
    )
    command.add_argument("--traces", action="store_true", help="print the shortest trace of each known violation")
    command.set_defaults(run=run)


class Progress:
    """One line on stderr per explored level (redrawn on a terminal), one per scope otherwise."""

    def __init__(self, profile: Profile, stream: TextIO) -> None:
        self.profile, self.stream = profile, stream
        self.tty = stream.isatty()

    def __call__(self, result: ExhaustiveResult, frontier: int) -> None:
        line = (
            f"[{self.profile.value}] {result.scope.name}: depth {result.depth}/{result.scope.depth}  "
            f"states {result.states}  transitions {result.transitions}  frontier {frontier}  {result.seconds:.1f}s"
        )
        if self.tty:
            self.stream.write("\r\033[K" + line)
        elif frontier == 0 or result.depth == result.scope.depth:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")


def show(action: MarketAction) -> str:
    """One trace step, readable: a sale step names its sale and event."""
    if isinstance(action, SaleStep):
        extra = f" {action.bytes} B" if action.bytes else ""
        return f"sale {action.request_id}/{action.slot_index}#{action.number}: {action.event.value}{extra}"
    fields = attrs.asdict(action, recurse=False)
    inner = fields.get("action") or fields.get("terms")
    detail = repr(inner) if inner is not None else ", ".join(f"{k}={v}" for k, v in fields.items())
    return f"{action.name}({detail})"


def summary(suite: SuiteResult, judge_coverage: bool, traces: bool) -> str:
    """The human-readable report of one profile's suite."""
    lines = [f"== {suite.profile.value} (suite {suite.suite}) =="]
    for r in suite.results:
        done = "complete" if r.complete else f"depth {r.depth}"
        lines.append(
            f"  {r.scope.name:<10} states {r.states:>7}  transitions {r.transitions:>8}  {done:<9}"
            f"  {r.seconds:6.1f}s  ({r.states_per_second:,.0f} states/s)"
        )
    lines.append(
        f"  total      states {suite.states:>7}  transitions {suite.transitions:>8}  time {suite.seconds:.1f}s"
    )
    known: dict[tuple[str, str], tuple[int, tuple[MarketAction, ...]]] = {}
    for r in suite.results:
        for key, example in r.known.items():
            count = known.get(key, (0, example.trace))[0] + r.known_counts[key]
            best = known[key][1] if key in known and len(known[key][1]) <= len(example.trace) else example.trace
            known[key] = (count, best)
    if known:
        lines.append(
            "known nim-codex violations reproduced (reported, not failures): rule, reference, states, shortest"
        )
        for (rule, ref), (count, trace) in sorted(known.items()):
            lines.append(f"  {rule:<36} {ref:<80} {count:>6}  {len(trace)} steps")
            if traces:
                lines.extend(f"      {n}. {show(a)}" for n, a in enumerate(trace, start=1))
    failed = [r for r in suite.results if r.violation is not None]
    lines.append(f"violations: {sum(len(r.violation.violations) for r in failed if r.violation)}")
    for r in failed:
        assert r.violation is not None
        lines.extend(f"  {v.rule}: {v.entity}: {v.message}" for v in r.violation.violations)
        lines.append(f"shortest counterexample ({len(r.violation.trace)} steps, scope {r.scope.name}):")
        lines.extend(f"  {n}. {show(a)}" for n, a in enumerate(r.violation.trace, start=1))
    lines.append(suite.coverage.report())
    problems = suite.coverage.problems()
    if not judge_coverage:
        lines.append("coverage not judged: a reduced scope cannot reach every transition")
    elif problems:
        lines.append("coverage problems:")
        lines.extend(f"  {p}" for p in problems)
    else:
        lines.append("coverage: every reachable sale transition exercised")
    return "\n".join(lines)


def _random(profile: Profile, programs: int, rules: Any) -> tuple[Coverage, str]:
    from hypothesis import HealthCheck, settings
    from hypothesis.stateful import run_state_machine_as_test

    from stateful_tests.market_machine import market_machine
    from stateful_tests.stats import ExplorationStats

    coverage, stats = Coverage(profile=profile), ExplorationStats()
    config = settings(
        max_examples=programs,
        stateful_step_count=50,
        derandomize=True,
        database=None,
        deadline=None,
        print_blob=False,
        suppress_health_check=list(HealthCheck),
    )
    try:
        run_state_machine_as_test(market_machine(profile, rules=rules, stats=stats, coverage=coverage), settings=config)
    except Exception as failure:  # reported as data: the exit code says it
        return coverage, f"random market machine FAILED: {failure}"
    known = ", ".join(f"{rule} ({ref}) {n}" for (rule, ref), n in sorted(stats.known.items()))
    return coverage, f"random market machine: {stats.runs} programs, {stats.steps} steps; known: {known or 'none'}"


def run(arguments: argparse.Namespace) -> int:
    profiles = list(Profile) if arguments.profile == "all" else [PROFILES[arguments.profile]]
    variant = BROKEN.get(arguments.variant) if arguments.variant else None
    if variant is not None:
        profiles = [p for p in profiles if p in variant.profiles]
        print(f"exploring broken variant {variant.name}: {variant.summary} ({variant.modelled_on})")
        if not profiles:
            print(f"variant {variant.name} does not apply to profile {arguments.profile}", file=sys.stderr)
            return 2
    names = (arguments.scope,) if arguments.scope else SUITES[arguments.suite]
    scopes: tuple[Scope, ...] = tuple(SCOPES[n] for n in names)
    if arguments.depth is not None:
        scopes = tuple(attrs.evolve(scope, depth=arguments.depth) for scope in scopes)
    judge = variant is None and arguments.scope is None and arguments.suite == "default" and arguments.depth is None
    failed = []
    for profile in profiles:
        progress = Progress(profile, sys.stderr)
        rules = variant.rules(profile) if variant is not None else None
        suite = explore_suite(profile, scopes, name=arguments.scope or arguments.suite, rules=rules, listener=progress)
        progress.close()
        print(summary(suite, judge, arguments.traces))
        bad = any(r.failed for r in suite.results) or (judge and bool(suite.coverage.problems()))
        if arguments.random:
            coverage, line = _random(profile, arguments.random, rules)
            print(line)
            print("random machine coverage:\n" + coverage.report())
            bad = bad or "FAILED" in line
        print()
        if bad:
            failed.append(profile.value)
    verdict = f"FAILED: {', '.join(failed)}" if failed else "OK: no violation, every reachable transition exercised"
    print(verdict if judge or failed else "OK: no violation")
    return 1 if failed else 0
