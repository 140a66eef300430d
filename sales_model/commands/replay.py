"""``sales-model replay``: replay an ITF trace through the model and report where it parts from it.

Prints the replay report: ok, or the first step whose recorded outcome, found id or recorded state
fields differ from the model's (a divergence), or after which the model finds a violation that is
not a known nim-codex behaviour; known ones are listed. ``--json`` prints the report as JSON.

Exit codes: 0 the trace replays; 1 it diverges or breaks an invariant or property; 2 bad input
(an unreadable or malformed trace, an action outside the vocabulary).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "replay",
        help="replay an ITF trace (ours, or Quint's/Apalache's in our vocabulary) through the model",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("file", metavar="FILE", help="an ITF trace (.itf.json)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.set_defaults(run=run)


def run(arguments: argparse.Namespace) -> int:
    from reports.itf import TraceError, load
    from reports.replay import replay
    from reports.vocabulary import VocabularyError

    try:
        report = replay(load(arguments.file))
    except (TraceError, VocabularyError) as error:
        print(f"sales-model replay: {error}", file=sys.stderr)
        return 2
    if arguments.json:
        print(json.dumps(report.to_json(), indent=2, sort_keys=True, ensure_ascii=False))
    else:
        for line in report.lines():
            print(line)
    return 0 if report.ok else 1
