"""Measure exhaustive exploration: states and transitions per second, and the total time of a suite.

Usage: ``python -m bench.bench_explore [--suite default] [--profile all] [--repeat 1] [--limit 60]``

Runs ``stateful_tests.exhaustive.explore_suite`` (the engine of ``sales-model explore``) for each
profile and prints one row per scope and per profile. Every invariant and transition property is
checked on every state and transition, as in ``sales-model explore``. The exit code is 1 when the
whole suite (both profiles, best of ``--repeat``) takes longer than ``--limit`` seconds, or when the
exploration itself fails.
"""

from __future__ import annotations

import argparse
import platform
import sys
from collections.abc import Sequence

from model.state import Profile
from stateful_tests.exhaustive import SCOPES, SUITES, SuiteResult, explore_suite

PROFILES = {profile.value: profile for profile in Profile}


def _rate(count: int, seconds: float) -> float:
    return count / seconds if seconds else 0.0


def _run(profile: Profile, suite: str, repeat: int) -> SuiteResult:
    best: SuiteResult | None = None
    for _ in range(repeat):
        result = explore_suite(profile, tuple(SCOPES[n] for n in SUITES[suite]), name=suite)
        if best is None or result.seconds < best.seconds:
            best = result
    assert best is not None
    return best


def main(argv: Sequence[str] | None = None) -> int:
    top = argparse.ArgumentParser(prog="python -m bench.bench_explore", description=__doc__)
    top.add_argument("--suite", choices=sorted(SUITES), default="default")
    top.add_argument("--profile", choices=[*PROFILES, "all"], default="all")
    top.add_argument("--repeat", type=int, default=1)
    top.add_argument("--limit", type=float, default=60.0, help="seconds the whole suite may take")
    arguments = top.parse_args(argv)
    if arguments.repeat < 1:
        top.error("--repeat must be at least 1")
    profiles = list(Profile) if arguments.profile == "all" else [PROFILES[arguments.profile]]
    machine = f"python {platform.python_version()} on {platform.machine()}"
    print(f"{machine}, suite {arguments.suite}, best of {arguments.repeat}")
    header = ("profile", "scope", "depth", "states", "transitions", "seconds", "states/s", "trans/s")
    print("{:<11} {:<10} {:>5} {:>8} {:>11} {:>8} {:>9} {:>9}".format(*header))
    total, failed = 0.0, False
    for profile in profiles:
        suite = _run(profile, arguments.suite, arguments.repeat)
        for r in suite.results:
            print(
                f"{profile.value:<11} {r.scope.name:<10} {r.depth:>5} {r.states:>8,} {r.transitions:>11,} "
                f"{r.seconds:>8.2f} {r.states_per_second:>9,.0f} {_rate(r.transitions, r.seconds):>9,.0f}"
            )
        print(
            f"{profile.value:<11} {'total':<10} {'':>5} {suite.states:>8,} {suite.transitions:>11,} "
            f"{suite.seconds:>8.2f} {_rate(suite.states, suite.seconds):>9,.0f} "
            f"{_rate(suite.transitions, suite.seconds):>9,.0f}"
        )
        total += suite.seconds
        failed = failed or suite.failed
    print(f"suite {arguments.suite}, all profiles: {total:.1f}s (limit {arguments.limit:.0f}s)")
    if failed:
        print("the exploration found a violation or a coverage gap: run sales-model explore", file=sys.stderr)
    return 1 if failed or total > arguments.limit else 0


if __name__ == "__main__":
    sys.exit(main())
