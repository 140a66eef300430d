"""The fault and crash findings of the persistent implementation: every scenario of
``oracle.faults.catalogue`` in both write modes, as the table committed to docs/findings.md.

``python -m persistent.findings`` prints the table; ``--write docs/findings.md`` replaces the
table between the ``<!-- findings:begin -->`` and ``<!-- findings:end -->`` markers there, and
``--check docs/findings.md`` exits 1 when the committed table differs from a fresh run (CI runs
the same comparison as a test, so the committed findings cannot go stale).

Mirrors: codex-sales-spec §1.4, §2.10, §2.12 items 5-8.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from oracle.faults import Row, Scenario, catalogue, crash_sweep, fault_sweep, render_table, summarise
from persistent.datastore import WriteMode
from persistent.node import Node

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


def splice(document: str, table: str) -> str:
    """``document`` with the text between the markers replaced by ``table``."""
    if BEGIN not in document or END not in document:
        raise ValueError(f"the document has no {BEGIN} ... {END} markers")
    head, rest = document.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{table}{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m persistent.findings", description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--write", type=Path, help="replace the table in this Markdown file")
    group.add_argument("--check", type=Path, help="exit 1 if this file's table differs from a fresh run")
    args = parser.parse_args(argv)
    table = render_table(findings())
    target = args.write or args.check
    if target is None:
        sys.stdout.write(table)
        return 0
    try:
        document = target.read_text()
        updated = splice(document, table)
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
