"""``sales-model report``: render a saved counterexample (an ``.itf.json`` file) as Markdown, ITF or pytest.

Prints the chosen rendering (default Markdown), or with ``--out DIR`` writes all three renderings
(``<slug>.md``, ``<slug>.itf.json``, ``test_<slug>.py``) into DIR and prints their paths.

Exit codes: 0 rendered; 2 bad input (an unreadable or malformed trace, an action outside the
vocabulary).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

FORMATS = ("markdown", "itf", "pytest")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "report",
        help="render a saved counterexample as Markdown, ITF or a pytest regression file",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("file", metavar="FILE", help="a saved counterexample (.itf.json)")
    parser.add_argument("--format", choices=FORMATS, default="markdown", help="what to print (default: markdown)")
    parser.add_argument("--out", metavar="DIR", type=Path, help="write all three renderings into DIR instead")
    parser.set_defaults(run=run)


def run(arguments: argparse.Namespace) -> int:
    from reports.itf import TraceError, load
    from reports.vocabulary import VocabularyError

    try:
        cx = load(arguments.file)
        if arguments.out is not None:
            from reports.render import write_all

            for path in write_all(cx, arguments.out):
                print(path)
            return 0
        text = _rendering(cx, arguments.format)
    except (TraceError, VocabularyError) as error:
        print(f"sales-model report: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"sales-model report: {arguments.out}: {error.strerror or error}", file=sys.stderr)
        return 2
    sys.stdout.write(text)
    return 0


def _rendering(cx: Any, form: str) -> str:
    if form == "itf":
        from reports import itf

        return itf.dumps(cx)
    if form == "pytest":
        from reports import regression

        return regression.render(cx)
    from reports import markdown  # type: ignore[attr-defined,unused-ignore]

    text: str = markdown.render(cx)
    return text
