"""``sales-model trace``: check a recorded implementation trace against the model, or shrink one.

``trace check FILE`` reads a JSON-lines trace (oracle/trace.py; ``*.itf.json`` is replayed as an ITF
trace) and prints the report: ok, or the first event (by line) whose recorded outcome, result or
state fields differ from the model (a divergence), or after which the model breaks a rule that is
not a known nim-codex behaviour (a violation). ``--json`` prints the report as JSON;
``--report-dir DIR`` writes the failure's three renderings (Markdown, ITF, pytest) there.

``trace shrink FILE -o OUT`` writes the smallest sub-trace that fails the same way (oracle/shrink.py)
to OUT and prints its report.

Exit codes: check: 0 the trace agrees with the model; 1 it diverges or violates; 2 bad input (one
line on stderr). shrink: 0 a failing trace was shrunk and written; 2 the input passes, or is bad.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "trace",
        help="check or shrink a recorded implementation trace (JSON lines, or ITF) against the model",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="trace_command", metavar="{check,shrink}")
    commands.required = True
    check = commands.add_parser("check", help="check a trace against the model")
    check.add_argument("file", metavar="FILE", help="a JSON-lines trace (or an .itf.json trace)")
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    check.add_argument("--report-dir", metavar="DIR", help="write the failure's renderings into DIR")
    check.set_defaults(run=run_check)
    shrink = commands.add_parser("shrink", help="write the smallest sub-trace that fails the same way")
    shrink.add_argument("file", metavar="FILE", help="a failing JSON-lines trace")
    shrink.add_argument("-o", "--output", metavar="OUT", required=True, help="where to write the shrunk trace")
    shrink.add_argument("--report-dir", metavar="DIR", help="write the failure's renderings into DIR")
    shrink.set_defaults(run=run_shrink)
    parser.set_defaults(run=run_check)


def _bad(error: Exception) -> int:
    print(f"sales-model trace: {str(error).splitlines()[0] if str(error) else type(error).__name__}", file=sys.stderr)
    return 2


def _write_reports(report: Any, directory: str | None) -> None:
    if directory is None or report.ok:
        return
    from reports.render import write_all

    for path in write_all(report.counterexample(), Path(directory)):
        print(f"wrote {path}")


def run_check(arguments: argparse.Namespace) -> int:
    from oracle.trace import TraceFormatError, check_file
    from reports.itf import TraceError
    from reports.vocabulary import VocabularyError

    try:
        report = check_file(arguments.file)
    except (TraceFormatError, TraceError, VocabularyError) as error:
        return _bad(error)
    if arguments.json:
        print(json.dumps(report.to_json(), indent=2, sort_keys=True, ensure_ascii=False))
    else:
        for line in report.lines():
            print(line)
    _write_reports(report, arguments.report_dir)
    return 0 if report.ok else 1


def run_shrink(arguments: argparse.Namespace) -> int:
    from oracle.shrink import NotFailing, shrink
    from oracle.trace import TraceFormatError, check, dump_events, load_file

    if str(arguments.file).endswith(".itf.json"):
        print("sales-model trace: shrink reads JSON-lines traces, not ITF", file=sys.stderr)
        return 2
    try:
        header, events = load_file(arguments.file)
        smallest = shrink(header, events)
    except (TraceFormatError, NotFailing) as error:
        return _bad(error)
    try:
        Path(arguments.output).write_text(dump_events(header, smallest), encoding="utf-8")
    except OSError as error:
        return _bad(error)
    report = check(*load_file(arguments.output))  # lines of OUT, not of FILE
    print(f"shrank {len(events)} event(s) to {len(smallest)}; wrote {arguments.output}")
    for line in report.lines():
        print(line)
    _write_reports(report, arguments.report_dir)
    return 0
