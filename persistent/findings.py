"""The findings of the oracle on the persistent implementation, as committed to docs/findings.md.

Two generated sections:
- ``findings``: the fault and crash table, every scenario of ``oracle.faults.catalogue`` in both
  write modes (F4);
- ``concurrency``: the minimal non-linearizable histories found by ``oracle.linearizability`` on
  the lock-free node (nim-codex#825, F5) and on the locked node when PATCH races reservations
  (spec §2.3, F6), each minimised and rendered with its timeline and a replay.

``python -m persistent.findings`` prints both; ``--write docs/findings.md`` replaces the text
between each section's ``<!-- NAME:begin -->`` and ``<!-- NAME:end -->`` markers there, and
``--check docs/findings.md`` exits 1 when the committed text differs from a fresh run (CI runs the
same comparison as a test, so the committed findings cannot go stale). Everything is seeded.

Mirrors: codex-sales-spec §1.4, §2.3, §2.10, §2.11, §2.12 items 5-8, §7 B5.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from oracle.concurrency import Program, SeededScheduler, run_history, sales_workload
from oracle.faults import Row, Scenario, catalogue, crash_sweep, fault_sweep, render_table, summarise
from oracle.linearizability import NotLinearizable, check, minimise_program, report
from persistent.datastore import WriteMode
from persistent.node import Node

SECTIONS = ("findings", "overbooking", "patch-race")
BEGIN, END = "<!-- findings:begin -->", "<!-- findings:end -->"
#: The quota the scenarios run under (the stateful tests' quota).
QUOTA = 512


def factory(mode: WriteMode) -> Callable[[Path], Node]:
    def build(directory: Path) -> Node:
        return Node(directory, mode=mode, quota_max_bytes=QUOTA, id_seed=1)

    return build


def findings(scenarios: Sequence[Scenario] | None = None, modes: Sequence[WriteMode] = tuple(WriteMode)) -> list[Row]:
    """One row per (write mode, scenario), faults and crashes swept over every point."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="findings-") as tmp:
        root = Path(tmp)
        for mode in modes:
            build = factory(mode)
            for n, scenario in enumerate(scenarios or catalogue()):
                base = root / f"{mode.value}-{n}"
                faults = fault_sweep(build, base / "faults", scenario)
                crashes = crash_sweep(build, base / "crashes", scenario)
                rows.append(summarise(scenario, mode.value, faults, crashes))
    return rows


#: The node a concurrency finding replays on (an expression of ``scheduler`` and ``tmp_path``).
NODE_SOURCE = 'Node(tmp_path / "node", quota_max_bytes={quota}, lock={lock}, scheduler=scheduler, id_seed=1)'


def _minimal(lock: bool, workloads: Sequence[tuple[int, Program]], enough: int) -> str:
    """The report of the smallest minimised non-linearizable history over ``workloads`` (stopping at
    one of at most ``enough`` calls, setup included)."""
    best: tuple[int, str] | None = None
    with tempfile.TemporaryDirectory(prefix="findings-lin-") as tmp:
        counter = iter(range(10**9))

        def build(scheduler: SeededScheduler) -> Node:
            path = Path(tmp) / f"n{next(counter)}"
            return Node(path, quota_max_bytes=QUOTA, lock=lock, scheduler=scheduler, id_seed=1)

        for seed, program in workloads:
            if not isinstance(check(run_history(build, program, seed)), NotLinearizable):
                continue
            smallest, history = minimise_program(build, program, seed)
            verdict = check(history)
            if not isinstance(verdict, NotLinearizable):  # minimise_program keeps the verdict
                raise AssertionError(f"seed {seed}: the minimal program is linearizable")
            size = len(smallest.all_calls())
            if best is None or size < best[0]:
                source = NODE_SOURCE.format(quota=QUOTA, lock=lock)
                best = size, report(smallest, seed, history, verdict, factory_source=source)
            if size <= enough:
                break
    if best is None:
        raise AssertionError("no workload gave a non-linearizable history")
    return best[1]


def _demote(markdown: str, levels: int = 2) -> str:
    """Markdown headings moved ``levels`` down (outside code fences), to nest a report in a document."""
    lines, fenced = [], False
    for line in markdown.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        lines.append("#" * levels + line if line.startswith("#") and not fenced else line)
    return "\n".join(lines) + "\n"


def generated(name: str) -> str:
    """The text of one generated section of docs/findings.md."""
    if name == "findings":
        return render_table(findings())
    if name == "overbooking":  # F5: no lock, nim-codex#825
        workloads = [(seed, sales_workload(seed, clients=8, operations=32)) for seed in range(12)]
        return _demote(_minimal(False, workloads, enough=3))
    if name == "patch-race":  # F6: the locked node, PATCH read outside the lock (spec §2.3)
        workloads = [(seed, sales_workload(seed, patch_races=True)) for seed in range(6)]
        return _demote(_minimal(True, workloads, enough=4))
    raise ValueError(f"unknown section {name!r}: expected one of {', '.join(SECTIONS)}")


def splice(document: str, text: str, name: str = "findings") -> str:
    """``document`` with the text between the ``name`` section's markers replaced by ``text``."""
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    if begin not in document or end not in document:
        raise ValueError(f"the document has no {begin} ... {end} markers")
    head, rest = document.split(begin, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{begin}\n{text}{end}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m persistent.findings", description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--write", type=Path, help="replace the table in this Markdown file")
    group.add_argument("--check", type=Path, help="exit 1 if this file's table differs from a fresh run")
    args = parser.parse_args(argv)
    sections = {name: generated(name) for name in SECTIONS}
    target = args.write or args.check
    if target is None:
        sys.stdout.write("\n".join(sections.values()))
        return 0
    try:
        document = target.read_text()
        updated = document
        for name, text in sections.items():
            updated = splice(updated, text, name)
    except (OSError, ValueError) as error:
        print(f"error: {target}: {error}", file=sys.stderr)
        return 2
    if args.write:
        target.write_text(updated)
        return 0
    if updated != document:
        print(f"{target}: the committed findings differ from a fresh run; run with --write", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
