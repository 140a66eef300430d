"""``sales-model prove``: the Z3 proofs of the catalogue, obtained from the model's own code.

Prints one line per obligation (verdict, time, rlimit spent, hypotheses used or the
counterexample; under a refutation, its reachability triage: reachable with the shortest trace
from an empty node, unreachable within the triage's bounds, or undecided), then the assumption
ledger and the vacuity checks.

Exit codes: 0 every obligation as expected; 1 an unexpected refutation (or an expected one
not refuted); 2 bad usage; 3 something undecided (z3 answered unknown).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from model.state import Profile

PROFILES = {p.value: p for p in Profile}


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "prove",
        help="prove the invariants and transition properties with Z3, from the model's own code",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--profile", choices=[*PROFILES, "all"], default="all")
    parser.add_argument("--mode", choices=["int", "bv", "all"], default="int", help="arithmetic (default: int)")
    parser.add_argument(
        "--bv-engine",
        choices=["intblast", "bitblast"],
        default="intblast",
        help="how bit-vector formulas are decided: exact translation to integer arithmetic (default), "
        "or z3's bit-blaster (slow on sums of 256-bit facts)",
    )
    parser.add_argument("--scope", default="2x2", help="availabilities x reservations each (default: 2x2)")
    parser.add_argument("--rlimit", type=int, default=50_000_000, help="z3 resource budget per obligation")
    parser.add_argument("--timeout", type=float, default=60.0, help="wall-clock backstop per obligation, seconds")
    parser.add_argument("--no-cores", action="store_true", help="skip the unsat-core pass")
    parser.add_argument("--no-triage", action="store_true", help="skip the reachability search under refutations")
    parser.add_argument("--triage-states", type=int, default=20_000, help="states a triage may expand")
    parser.add_argument("--triage-depth", type=int, default=8, help="steps a triage trace may take")
    parser.add_argument("--quiet", action="store_true", help="print only what is not as expected, and the summary")
    parser.set_defaults(run=run)


def run(arguments: argparse.Namespace) -> int:
    from invariants.symbolic import run as proofs
    from invariants.symbolic import z3api
    from invariants.symbolic.prover import Budget
    from invariants.symbolic.states import Scope
    from invariants.symbolic.triage import triage
    from invariants.symbolic.values import Mode

    try:
        scope = Scope.parse(arguments.scope)
    except ValueError as error:
        print(f"sales-model prove: {error}", file=sys.stderr)
        return 2
    if min(arguments.rlimit, arguments.timeout, arguments.triage_states, arguments.triage_depth) <= 0:
        print("sales-model prove: --rlimit, --timeout and the triage caps must be positive", file=sys.stderr)
        return 2
    profiles = list(Profile) if arguments.profile == "all" else [PROFILES[arguments.profile]]
    modes = list(Mode) if arguments.mode == "all" else [Mode(arguments.mode)]
    budget = Budget(
        rlimit=arguments.rlimit,
        timeout_ms=int(arguments.timeout * 1000),
        cores=not arguments.no_cores,
        bv_engine=arguments.bv_engine,
    )
    names = ", ".join(p.value for p in profiles)
    engine = f" (bit-vectors decided by {budget.bv_engine})" if Mode.BV in modes else ""
    print(f"z3 {z3api.VERSION}; profiles {names}; modes {', '.join(m.value for m in modes)}{engine}; scope {scope}")

    def show(result: Any) -> None:
        if not arguments.quiet or not result.as_expected:
            print(proofs.line(result), flush=True)
            if result.status == "refuted" and not arguments.no_triage:
                found = triage(result, max_states=arguments.triage_states, max_depth=arguments.triage_depth)
                print("\n".join(found.render()), flush=True)

    outcome = proofs.run(
        profiles, modes, scope, budget, progress=lambda text: print(f"... {text}", file=sys.stderr), on_result=show
    )
    print()
    for text in proofs.ledger(outcome, scope):
        print(text)
    print()
    for text in proofs.vacuity(outcome):
        print(text)
    counts: dict[str, int] = {}
    for result in outcome.results:
        key = result.status if result.as_expected else f"{result.status} (unexpected)"
        counts[key] = counts.get(key, 0) + 1
    summary = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
    print(f"\n{len(outcome.results)} obligations in {outcome.seconds:.1f} s: {summary}; exit {outcome.exit_code}")
    return outcome.exit_code
