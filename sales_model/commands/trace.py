"""``sales-model trace``: check a recorded implementation trace against the model, or shrink one.

``trace check FILE`` reads a JSON-lines trace (oracle/trace.py; ``*.itf.json`` is replayed as an ITF
trace) and prints the report: ok, or the first event (by line) whose recorded outcome, result or
state fields differ from the model (a divergence), or after which the model breaks a rule that is
not a known nim-codex behaviour (a violation). ``--json`` prints the report as JSON;
``--report-dir DIR`` writes the failure's three renderings (Markdown, ITF, pytest) there.
A JSON-lines trace is checked as it is read, the rule checks of each chunk of events in a forked
worker (oracle/pipeline.py); ``--jobs N`` sets the workers (default one per core, 0 for none).

``trace shrink FILE -o OUT`` writes the smallest sub-trace that fails the same way (oracle/shrink.py)
to OUT and prints the mode and its report. A JSON-lines trace gives a JSON-lines OUT; an ITF trace
(``*.itf.json``) gives an ITF OUT, whose name must end ``.itf.json`` too. By default the trace is
relaxed: the events before the failing one lose their recorded outcome, result and state (an ITF
trace's steps keep their outcome and found id, and their states are re-recorded from the model; the
failing step keeps the recorded fields that differed); a one-line warning on stderr says so.
``--no-relax`` shrinks the trace as recorded: every kept event keeps its observations and is checked
on them, so fewer events can go.

Exit codes: check: 0 the trace agrees with the model; 1 it diverges or violates; 2 bad input (one
line on stderr). shrink: 0 a failing trace was shrunk and written; 2 the input passes, or is bad, or
OUT is not the input's format.
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
    check.add_argument(
        "--jobs",
        type=_jobs,
        metavar="N",
        help="worker processes checking chunks of a JSON-lines trace (default: one per core; 0: none); "
        "the report is the same for any N",
    )
    check.set_defaults(run=run_check)
    shrink = commands.add_parser("shrink", help="write the smallest sub-trace that fails the same way")
    shrink.add_argument("file", metavar="FILE", help="a failing JSON-lines trace (or an .itf.json trace)")
    shrink.add_argument(
        "-o", "--output", metavar="OUT", required=True, help="where to write the shrunk trace (.itf.json for ITF)"
    )
    shrink.add_argument(
        "--no-relax",
        dest="relax",
        action="store_false",
        help="shrink as recorded: keep (and check) the observations of the events before the failing one",
    )
    shrink.add_argument("--report-dir", metavar="DIR", help="write the failure's renderings into DIR")
    shrink.set_defaults(run=run_shrink)
    parser.set_defaults(run=run_check)


def _jobs(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of workers (0 or more), got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number of workers (0 or more), got {value}")
    return value


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
        report = check_file(arguments.file, workers=arguments.jobs)
    except (TraceFormatError, TraceError, VocabularyError) as error:
        return _bad(error)
    if arguments.json:
        print(json.dumps(report.to_json(), indent=2, sort_keys=True, ensure_ascii=False))
    else:
        for line in report.lines():
            print(line)
    _write_reports(report, arguments.report_dir)
    return 0 if report.ok else 1


def _mode(relaxed: bool, relax: bool) -> str:
    if relaxed:
        return "relaxed"
    return "as recorded" if not relax else "as recorded (relaxing changed the failure)"


def _warn_relaxed(what: str) -> None:
    print(f"sales-model trace: warning: relaxed: {what} (--no-relax keeps them)", file=sys.stderr)


def run_shrink(arguments: argparse.Namespace) -> int:
    itf_in = str(arguments.file).endswith(".itf.json")
    if itf_in != str(arguments.output).endswith(".itf.json"):
        wanted = "end .itf.json for an ITF trace" if itf_in else "not end .itf.json for a JSON-lines trace"
        print(f"sales-model trace: OUT must {wanted}, got {arguments.output}", file=sys.stderr)
        return 2
    return _shrink_itf(arguments) if itf_in else _shrink_lines(arguments)


def _shrink_lines(arguments: argparse.Namespace) -> int:
    from oracle.shrink import NotFailing, shrink_events
    from oracle.trace import TraceFormatError, check, dump_events, load_file

    try:
        header, events = load_file(arguments.file)
        smallest, relaxed = shrink_events(header, events, relax=arguments.relax)
    except (TraceFormatError, NotFailing) as error:
        return _bad(error)
    try:
        Path(arguments.output).write_text(dump_events(header, smallest), encoding="utf-8")
    except OSError as error:
        return _bad(error)
    report = check(*load_file(arguments.output))  # lines of OUT, not of FILE
    mode = _mode(relaxed, arguments.relax)
    print(f"shrank {len(events)} event(s) to {len(smallest)} ({mode}); wrote {arguments.output}")
    if relaxed:
        _warn_relaxed("the recorded outcome, result and state of the events before the failing one were dropped")
    for line in report.lines():
        print(line)
    _write_reports(report, arguments.report_dir)
    return 0


def _shrink_itf(arguments: argparse.Namespace) -> int:
    from oracle.shrink import NotFailing, shrink_itf
    from oracle.trace import check_itf
    from reports.itf import TraceError, dumps, load
    from reports.vocabulary import VocabularyError

    try:
        cx = load(arguments.file)
        smallest, relaxed = shrink_itf(cx, relax=arguments.relax)
    except (TraceError, VocabularyError, NotFailing) as error:
        return _bad(error)
    try:
        Path(arguments.output).write_text(dumps(smallest), encoding="utf-8")
    except OSError as error:
        return _bad(error)
    report = check_itf(arguments.output)
    mode = _mode(relaxed, arguments.relax)
    print(f"shrank {len(cx.steps)} step(s) to {len(smallest.steps)} ({mode}); wrote {arguments.output}")
    if relaxed:
        _warn_relaxed(
            "the recorded states of the steps before the failing one were dropped, re-recorded from the model"
        )
    for line in report.lines():
        print(line)
    _write_reports(report, arguments.report_dir)
    return 0
