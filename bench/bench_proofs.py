"""Time the whole proof suite:
``python -m bench.bench_proofs [--mode int|bv|all] [--scope 2x2] [--bv-engine intblast|bitblast]``.

Targets (issue 3): integer mode under 30 s, bit-vector mode under 120 s on this machine class.
Prints, per mode, generation + discharge time and the verdict counts.
"""

from __future__ import annotations

import argparse
import platform
import time
from collections import Counter

from invariants.symbolic import z3api
from invariants.symbolic.prover import Budget
from invariants.symbolic.run import run
from invariants.symbolic.states import Scope
from invariants.symbolic.values import Mode
from model.state import Profile


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mode", choices=["int", "bv", "all"], default="int")
    parser.add_argument("--scope", default="2x2")
    parser.add_argument("--no-cores", action="store_true")
    parser.add_argument("--bv-engine", choices=["intblast", "bitblast"], default="intblast")
    arguments = parser.parse_args()
    modes = list(Mode) if arguments.mode == "all" else [Mode(arguments.mode)]
    print(f"python {platform.python_version()}, z3 {z3api.VERSION}, {platform.machine()}")
    for mode in modes:
        started = time.perf_counter()
        budget = Budget(cores=not arguments.no_cores, bv_engine=arguments.bv_engine)
        outcome = run(list(Profile), [mode], Scope.parse(arguments.scope), budget)
        counts = Counter(r.status if r.as_expected else f"{r.status}!" for r in outcome.results)
        engine = f" [{arguments.bv_engine}]" if mode is Mode.BV else ""
        print(
            f"{mode.value}{engine}: {len(outcome.results)} obligations in {time.perf_counter() - started:.1f} s "
            f"({dict(sorted(counts.items()))}; '!' = not as expected)"
        )


if __name__ == "__main__":
    main()
