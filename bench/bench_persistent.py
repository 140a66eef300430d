"""Measure the persistent implementation: operations per second per write mode, and lockstep steps
per second in-process and over HTTP.

Usage: ``python -m bench.bench_persistent [--ops 20000] [--examples 40] [--steps 30] [--repeat 3]``

Rules:
1. **Operations per second.** A node's sales (``bench/bench_trace.py``'s lifecycle mix: find, create
   the reservation, per downloaded batch a stored block and a release, then return the bytes and
   delete) are generated with the model first, then replayed on a fresh ``persistent.node.Node``
   per write mode, on LevelDB in a temporary directory. Only the node's calls are timed; every
   outcome must be the model's (a wrong one stops the benchmark), so the rate is of correct work.
2. **Lockstep in-process.** The lockstep machine (``oracle.lockstep``, fields compared after every
   step) runs ``--examples`` programs of ``--steps`` steps against a fresh atomic node per program;
   the rate counts the operations sent to the node.
3. **Lockstep over HTTP.** The same, against the node served by ``persistent.server`` on a
   loopback port and driven by ``oracle.rest.RestImplementation`` (test extension on, so every
   operation goes over HTTP; snapshots too).
4. Each measure runs ``--repeat`` times; the median is reported with the range.

Results are recorded in docs/performance.md.
"""

from __future__ import annotations

import argparse
import itertools
import platform
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.bench_trace import QUOTA, _Lifecycle
from model.actions import Accepted, Action, apply
from model.state import Profile, initial_state
from oracle.interface import CREATES, IdMap, Ok, absent_id, run_async
from oracle.lockstep import benchmark
from persistent.datastore import WriteMode
from persistent.node import Node

Expected = tuple[Action, str | None, str]  # action, found id (queries), outcome kind


def lifecycle(ops: int, seed: int = 1) -> list[Expected]:
    """``ops`` actions of a node's sales, with the model's outcome of each (rule 1)."""
    state: Any = initial_state(Profile.CODEX_HEAD, quota_max_bytes=QUOTA)
    sales = _Lifecycle(random.Random(seed), 16)
    program: list[Expected] = []
    for _ in range(ops):
        action = sales.next(state)
        outcome = apply(state, action)
        found = outcome.found if isinstance(outcome, Accepted) else None
        program.append((action, found, "accepted" if isinstance(outcome, Accepted) else outcome.kind))
        sales.after(action, outcome)
        state = outcome.state if isinstance(outcome, Accepted) else state
    return program


def _arguments(action: Action, ids: IdMap) -> dict[str, Any]:
    arguments = action.arguments()
    arguments.pop(CREATES.get(action.name, ""), None)
    for key in ("availability_id", "reservation_id"):
        if key in arguments:
            model_id = arguments[key]
            arguments[key] = ids.to_impl(model_id) if ids.knows_model(model_id) else absent_id(model_id)
    return arguments


def node_rate(program: list[Expected], mode: WriteMode) -> float:
    """Operations per second of a fresh node replaying ``program`` (rule 1)."""
    with tempfile.TemporaryDirectory(prefix="bench-node-") as tmp:
        node: Any = Node(Path(tmp) / "node", mode=mode, quota_max_bytes=QUOTA, id_seed=1)
        sync: Any = run_async(node)
        ids = IdMap()
        elapsed = 0.0
        try:
            for step, (action, found, kind) in enumerate(program):
                arguments = _arguments(action, ids)
                method = getattr(sync, action.name)
                started = time.perf_counter()
                observed = method(**arguments)
                elapsed += time.perf_counter() - started
                seen = "accepted" if isinstance(observed, Ok) else observed.kind
                if seen != kind:
                    raise SystemExit(f"step {step}: {action!r}: the node answered {observed!r}, the model {kind}")
                if isinstance(observed, Ok) and action.name in CREATES:
                    ids.record(getattr(action, CREATES[action.name]), str(observed.result))
                # Key order is the node's own (spec §1.3): any match will do where the model finds one.
                if action.query and isinstance(observed, Ok) and (observed.result is None) != (found is None):
                    raise SystemExit(f"step {step}: find returned {observed.result}, the model {found}")
        finally:
            sync.close()
    return len(program) / elapsed


def lockstep_rate(factory: Callable[[], Any], examples: int, steps: int) -> tuple[int, float]:
    """(operations sent to the implementation, seconds) of a lockstep run (rules 2, 3)."""
    return benchmark(examples, steps, Profile.CODEX_HEAD, factory)


def in_process(root: Path) -> Callable[[], Any]:
    counter = itertools.count()

    def build() -> Any:
        node: Any = Node(root / f"n{next(counter)}", quota_max_bytes=512, id_seed=1)
        return run_async(node)

    return build


def over_http(root: Path) -> tuple[Callable[[], Any], Callable[[], None], list[float]]:
    """A factory of REST adapters, each against a fresh node behind a fresh server; a cleanup; and
    the seconds spent starting and stopping servers (reported apart, rule 3)."""
    from oracle.rest import RestImplementation
    from persistent.server import Server

    counter = itertools.count()
    servers: list[Any] = []
    overhead = [0.0]

    def stop() -> None:
        started = time.perf_counter()
        for server in servers:
            server.stop()
        servers.clear()
        overhead[0] += time.perf_counter() - started

    def build() -> Any:
        stop()
        started = time.perf_counter()
        server = Server(Node(root / f"h{next(counter)}", quota_max_bytes=512, id_seed=1))
        server.start()
        servers.append(server)
        overhead[0] += time.perf_counter() - started
        return RestImplementation(server.url, extensions=True)

    return build, stop, overhead


def _summary(values: list[float]) -> str:
    return f"{statistics.median(values):,.0f}/s (range {min(values):,.0f}-{max(values):,.0f})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_persistent", description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=20_000, help="operations per node-rate run (default 20000)")
    parser.add_argument("--examples", type=int, default=40, help="lockstep programs per run (default 40)")
    parser.add_argument("--steps", type=int, default=30, help="steps per lockstep program (default 30)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measure (default 3)")
    parser.add_argument("--no-http", action="store_true", help="skip the lockstep run over HTTP")
    args = parser.parse_args(argv)
    if min(args.ops, args.examples, args.steps, args.repeat) < 1:
        parser.error("--ops, --examples, --steps and --repeat must be at least 1")
    print(f"python {platform.python_version()} on {platform.machine()}, {platform.system()}")
    program = lifecycle(args.ops)
    for mode in WriteMode:
        rates = [node_rate(program, mode) for _ in range(args.repeat)]
        print(f"node ops, {mode.value:8}: {_summary(rates)}  ({args.ops} lifecycle operations)")
    with tempfile.TemporaryDirectory(prefix="bench-lockstep-") as tmp:
        root = Path(tmp)
        rates = []
        for run in range(args.repeat):
            calls, seconds = lockstep_rate(in_process(root / f"in-process-{run}"), args.examples, args.steps)
            rates.append(calls / seconds)
        print(f"lockstep in-process:    {_summary(rates)} steps  ({calls} steps per run)")
        if not args.no_http:
            rates, served = [], []
            for run in range(args.repeat):
                build, stop, overhead = over_http(root / f"http-{run}")
                try:
                    calls, seconds = lockstep_rate(build, args.examples, args.steps)
                finally:
                    stop()
                rates.append(calls / seconds)
                served.append(calls / (seconds - overhead[0]))
            print(f"lockstep over HTTP:     {_summary(rates)} steps  ({calls} steps per run)")
            print(f"  without server start/stop: {_summary(served)} steps")
    return 0


if __name__ == "__main__":
    sys.exit(main())
