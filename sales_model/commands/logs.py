"""``sales-model logs check``: replay a nim-codex chronicles JSON log through the model.

Reads the log (``--log-format=json``), pairs attempts with commits and rollbacks
(``oracle.logs`` for ``--profile codex-head``, the default; ``oracle.logs535`` for
``codex-535``), and checks the events with ``oracle.trace.check``. Prints the verdict with
the LOG line of the first divergence, the skipped and unpaired counts, the notes and the sale
transitions.

Rules:
1. Exit 0 the log agrees with the model; 1 a divergence or violation; 2 bad input (unreadable
   file, no JSON line, a reservations-topic line missing a required property, an event naming
   an id whose creation the log does not show): one line on stderr, no traceback.
2. ``--json`` prints one JSON object (reading + report); ``--report-dir`` also writes the
   converted trace (``<name>.trace.jsonl``) and the report (``<name>.report.json``) there.
3. ``--quota`` defaults to the profile's ``quotaMaxBytes`` (20 GiB at codex-head, 8 GiB at codex-535).

Mirrors: codex-sales-spec §2 (operations and failure points), §3 (sale states).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from oracle.logs import DEFAULT_QUOTA, LogError, LogReading, read_log
from oracle.logs535 import DEFAULT_QUOTA_535, read_log535


def _read_head(lines: Iterable[str], source: str, quota: int) -> LogReading:
    return read_log(lines, source, "codex-head", quota)


#: profile -> (log reader, default quotaMaxBytes).
READERS: dict[str, tuple[Callable[[Iterable[str], str, int], LogReading], int]] = {
    "codex-head": (_read_head, DEFAULT_QUOTA),
    "codex-535": (read_log535, DEFAULT_QUOTA_535),
}


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "logs",
        help="check a nim-codex node's chronicles JSON log against the model",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    inner = parser.add_subparsers(dest="logs_command", metavar="SUBCOMMAND")
    check = inner.add_parser("check", help="convert a log to trace events and check them")
    check.add_argument("file", metavar="FILE")
    check.add_argument("--profile", choices=sorted(READERS), default="codex-head")
    check.add_argument("--quota", type=int, help="the node's quotaMaxBytes (default: the profile's)")
    check.add_argument("--json", action="store_true", help="print the result as one JSON object")
    check.add_argument("--report-dir", metavar="DIR", help="write the converted trace and the report here")
    parser.set_defaults(run=run)


def _fail(message: str) -> int:
    print(f"sales-model logs: {message}", file=sys.stderr)
    return 2


def run(arguments: argparse.Namespace) -> int:
    if getattr(arguments, "logs_command", None) != "check":
        return _fail("usage: sales-model logs check FILE [--profile codex-head|codex-535] [--quota N] [--json]")
    reader, default_quota = READERS[arguments.profile]
    quota = default_quota if arguments.quota is None else arguments.quota
    if quota < 0:
        return _fail("--quota must be non-negative")
    path = Path(arguments.file)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as error:
        return _fail(f"{path}: cannot read: {error.strerror or error}")
    try:
        reading = reader(text.splitlines(), str(path), quota)
    except LogError as error:
        return _fail(str(error))
    from oracle import trace

    try:
        header = trace.parse_header(reading.header, str(path), 0)
        events = [
            trace.parse_event(event, line, str(path), header.profile)
            for event, line in zip(reading.events, reading.lines, strict=True)
        ]
        report = trace.check(header, events)
    except trace.TraceFormatError as error:
        return _fail(f"{error} (the log does not show what this event needs)")
    if arguments.report_dir:
        try:
            _write(Path(arguments.report_dir), path.stem, reading, report)
        except OSError as error:
            return _fail(f"{arguments.report_dir}: cannot write: {error.strerror or error}")
    if arguments.json:
        print(json.dumps({"reading": summary(reading), "report": report.to_json()}, sort_keys=True))
    else:
        print("\n".join(render(reading, report)))
    return 0 if report.ok else 1


def summary(reading: LogReading) -> dict[str, Any]:
    """The reading as JSON-ready data (events with their log lines)."""
    return {
        "source": reading.source,
        "json_lines": reading.json_lines,
        "events": [{"line": line, **event} for event, line in zip(reading.events, reading.lines, strict=True)],
        "skipped": reading.skipped,
        "unpaired": reading.unpaired,
        "notes": reading.notes,
        "transitions": reading.transitions,
    }


def render(reading: LogReading, report: Any) -> list[str]:
    """The text report: counts, the check's verdict (log line numbers), notes, transitions."""
    skipped = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in reading.skipped.items() if n)
    out = [
        f"log {reading.source}: {reading.json_lines} JSON line(s) -> {len(reading.events)} event(s); "
        f"skipped: {skipped or 'none'}; unpaired attempts: {reading.unpaired}",
        *report.lines(),
    ]
    if not report.ok and report.event_index is not None:
        event = reading.events[report.event_index]
        out.append(f"  log line {report.line}: {event['op']} {json.dumps(event['args'], sort_keys=True)}")
    if reading.notes:
        out.append(f"notes ({len(reading.notes)}):")
        out += [f"  {note}" for note in reading.notes]
    if reading.transitions:
        out.append(f"sale transitions ({len(reading.transitions)}):")
        out += [f"  {t}" for t in reading.transitions]
    return out


def _write(directory: Path, stem: str, reading: LogReading, report: Any) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(reading.header, sort_keys=True)]
    lines += [json.dumps(event, sort_keys=True) for event in reading.events]
    (directory / f"{stem}.trace.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    data = {"reading": summary(reading), "report": report.to_json()}
    (directory / f"{stem}.report.json").write_text(json.dumps(data, sort_keys=True, indent=2) + "\n", encoding="utf-8")
