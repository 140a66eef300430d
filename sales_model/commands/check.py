"""``sales-model check``: the main job. Explores every profile's stateful machine and summarises.

Exit codes: 0 no violation; 1 a violation (other than known nim-codex ones) was found;
2 bad usage (including a ``--variant`` that does not apply to the chosen ``--profile``).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO

from invariants import rules_for
from model.state import Profile
from stateful_tests.exploration import BUDGETS, Budget, ExplorationResult, explore
from stateful_tests.stats import ExplorationStats
from variants import VARIANTS

BROKEN = {variant.name: variant for variant in VARIANTS}

PROFILES = {profile.value: profile for profile in Profile}


def register(subparsers: Any) -> None:
    command = subparsers.add_parser(
        "check",
        help="explore both profiles with the stateful machines and report violations",
        description="Run the Hypothesis stateful exploration of each profile, checking every invariant and "
        "transition property after every step.",
    )
    command.add_argument("--profile", choices=[*PROFILES, "all"], default="all", help="which nim-codex version")
    command.add_argument("--budget", choices=list(BUDGETS), default="default", help="how much to explore")
    command.add_argument(
        "--variant",
        choices=sorted(BROKEN),
        default=None,
        help="check a deliberately broken variant of the model instead (to see the harness catch it)",
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
    """The human-readable summary of one profile's exploration."""
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


def run(arguments: argparse.Namespace) -> int:
    profiles = list(Profile) if arguments.profile == "all" else [PROFILES[arguments.profile]]
    budget = BUDGETS[arguments.budget]
    variant = BROKEN.get(arguments.variant) if arguments.variant else None
    if variant is not None:
        profiles = [p for p in profiles if p in variant.profiles]
        print(f"checking broken variant {variant.name}: {variant.summary} ({variant.modelled_on})")
        if not profiles:
            print(f"variant {variant.name} does not apply to profile {arguments.profile}", file=sys.stderr)
            return 2
    results = []
    for profile in profiles:
        progress = Progress(profile, budget, sys.stderr)
        operations = variant.operations(profile) if variant is not None else None
        results.append(explore(profile, budget, operations=operations, listener=progress))
        progress.close()
    for result in results:
        print(summary(result))
        print()
    failed = [r.profile.value for r in results if r.failed]
    total_steps = sum(r.stats.steps for r in results)
    verdict = f"FAILED: violations in {', '.join(failed)}" if failed else "OK: no violation"
    print(f"{verdict} ({total_steps} steps, {sum(r.seconds for r in results):.1f}s)")
    return 1 if failed else 0
