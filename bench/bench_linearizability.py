"""Measure the linearizability check of 1,000-operation histories from 8 concurrent clients.

Usage: ``python -m bench.bench_linearizability [--operations 1000] [--clients 8] [--seeds 3] [--limit 10]``

Each history comes from ``oracle.concurrency.sales_workload`` run against the locked persistent node
(atomic mode) with a seeded scheduler. Two scenarios: ``whole`` (quota 512, finds on: a find reads every
availability, so the history is searched whole) and ``partitioned`` (quota 1 MiB, no finds: rule 4 of
oracle/linearizability.py holds, one search per availability). One row per (scenario, seed): operations,
partitions, the verdict, and the seconds to run and to check. The exit code is 1 when a check takes
longer than ``--limit`` seconds or a verdict is not ``Linearizable``.
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from oracle.concurrency import SeededScheduler, run_history, sales_workload
from oracle.linearizability import Linearizable, check, partition
from persistent.node import Node

#: scenario -> (quota_max_bytes, finds)
SCENARIOS = {"whole": (512, True), "partitioned": (1 << 20, False)}


def _row(scenario: str, seed: int, operations: int, clients: int, root: Path) -> tuple[str, float]:
    quota, finds = SCENARIOS[scenario]

    def factory(scheduler: SeededScheduler) -> Node:
        return Node(root / f"{scenario}-{seed}", quota_max_bytes=quota, scheduler=scheduler, id_seed=seed)

    program = sales_workload(seed, clients=clients, operations=operations, finds=finds)
    started = time.perf_counter()
    history = run_history(factory, program, seed)
    ran = time.perf_counter() - started
    started = time.perf_counter()
    verdict = check(history)
    checked = time.perf_counter() - started
    print(
        f"{scenario:<12} {seed:>4} {len(history):>6} {len(partition(history)):>10} "
        f"{type(verdict).__name__:<16} {ran:>7.2f} {checked:>8.2f}"
    )
    return type(verdict).__name__, checked


def main(argv: Sequence[str] | None = None) -> int:
    top = argparse.ArgumentParser(prog="python -m bench.bench_linearizability", description=__doc__)
    top.add_argument("--operations", type=int, default=1000, help="client calls per history (plus setup)")
    top.add_argument("--clients", type=int, default=8)
    top.add_argument("--seeds", type=int, default=3, help="histories per scenario")
    top.add_argument("--scenario", choices=[*SCENARIOS, "all"], default="all")
    top.add_argument("--limit", type=float, default=10.0, help="seconds one check may take")
    arguments = top.parse_args(argv)
    if arguments.seeds < 1 or arguments.clients < 1:
        top.error("--seeds and --clients must be at least 1")
    scenarios = list(SCENARIOS) if arguments.scenario == "all" else [arguments.scenario]
    print(f"python {platform.python_version()} on {platform.machine()}, {arguments.clients} clients")
    header = ("scenario", "seed", "ops", "partitions", "verdict", "run s", "check s")
    print("{:<12} {:>4} {:>6} {:>10} {:<16} {:>7} {:>8}".format(*header))
    failed, slowest = False, 0.0
    with tempfile.TemporaryDirectory() as directory:
        for scenario in scenarios:
            for seed in range(arguments.seeds):
                verdict, seconds = _row(scenario, seed, arguments.operations, arguments.clients, Path(directory))
                failed = failed or verdict != Linearizable.__name__
                slowest = max(slowest, seconds)
    print(f"slowest check: {slowest:.2f}s (limit {arguments.limit:.0f}s)")
    if failed:
        print("a history of the locked node was not found linearizable", file=sys.stderr)
    return 1 if failed or slowest > arguments.limit else 0


if __name__ == "__main__":
    sys.exit(main())
