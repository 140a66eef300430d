"""Entry point of ``sales-model``: parses the command line and dispatches to a subcommand module.

Each subcommand lives in ``sales_model/commands/<name>.py`` with ``register(subparsers)``,
which adds its parser and sets ``run`` (taking the parsed arguments, returning an exit code).

Exit codes: 0 all good; 1 a violation was found; 2 bad input or usage; 3 undecided (prove).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from sales_model.commands import check, explore, logs, prove, replay, report, trace

SUBCOMMANDS = (check, explore, prove, replay, report, trace, logs)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="sales-model",
        description="Reference model of nim-codex's Availabilities and Reservations: explore, check, report.",
    )
    subparsers = top.add_subparsers(dest="command", metavar="COMMAND")
    for command in SUBCOMMANDS:
        command.register(subparsers)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    top = parser()
    try:
        arguments = top.parse_args(argv)
    except SystemExit as exit_:  # argparse exits 2 on usage errors, 0 on --help
        return int(exit_.code or 0)
    if arguments.command is None:
        top.print_help(sys.stderr)
        return 2
    code: int = arguments.run(arguments)
    return code
