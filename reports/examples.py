"""The committed example reports of the known nim-codex violations, found by the real engines.

Rules:
1. Each example is found again on every run, by the engine that finds it in CI: the exhaustive
   search (its shortest trace of a known violation, ``ExhaustiveResult.known``) for the collateral
   leaks, and Z3 with its reachability triage for nim-codex#1147 and the return-bytes wrap-around.
   Nothing is written by hand but the one-sentence description in the index.
2. Deterministic and fast: the smallest scopes and ``only=`` filters that still show the
   behaviour; the same bytes in every process (``PYTHONHASHSEED``), a few seconds in all.
3. ``python -m reports.examples`` writes the three renderings of each example
   (``reports.render.write_all``) and ``README.md`` (the index) into ``docs/counterexamples/``,
   and removes any other file there; ``--check`` writes nothing, and exits 1 listing every file
   that differs, is missing or is extra, 0 when the directory is up to date.

Mirrors: spec §3.3 (the collateral leaks), nim-codex#1147, spec §2.6 step 2 / §2.12 item 1
(variants/faithful.py); invariants/symbolic/obligations.py KNOWN_BREAKS.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import attrs

from invariants.market_invariants import LEAK_ERRORED
from invariants.symbolic import run as proofs
from invariants.symbolic.obligations import Obligation, generate
from invariants.symbolic.prover import Budget, Result, discharge
from invariants.symbolic.states import Scope as ProofScope
from invariants.symbolic.triage import triage
from invariants.symbolic.values import Mode
from model.market import Restart
from model.state import Profile
from reports import engines, render
from reports.counterexample import Counterexample
from stateful_tests.exhaustive import SCOPES, ExhaustiveResult, explore_exhaustively

DIRECTORY = Path(__file__).resolve().parent.parent / "docs" / "counterexamples"
INDEX = "README.md"
#: The exhaustive scope the leaks are found in (a shortest trace each, in well under a second).
LEAK_SCOPE = "tiny"
RESTART_LEAK = "spec §3.3 collateral leak"


@attrs.frozen(kw_only=True)
class Example:
    """One committed example: how to find it, and the sentence the index gives it."""

    name: str
    description: str
    find: Callable[[], Counterexample]


def _leaks() -> ExhaustiveResult:
    return explore_exhaustively(Profile.CODEX_HEAD, SCOPES[LEAK_SCOPE])


def ending_leak() -> Counterexample:
    """A sale that errors after reserving ends by deleting its reservation with no collateral back."""
    scope = SCOPES[LEAK_SCOPE]
    found = _leaks().known[("collateral_returned_on_end", LEAK_ERRORED)]
    return engines.from_exhaustive(Profile.CODEX_HEAD, scope, found)


def restart_leak() -> Counterexample:
    """A restart's cleanup deletes an inactive reservation and returns none of its collateral."""
    scope = SCOPES[LEAK_SCOPE]
    found = _leaks().known[("collateral_conserved", RESTART_LEAK)]
    if not found.trace or not isinstance(found.trace[-1], Restart):
        raise AssertionError(f"the shortest {RESTART_LEAK} in scope {LEAK_SCOPE} no longer ends with a restart")
    return engines.from_exhaustive(Profile.CODEX_HEAD, scope, found)


def _refuted(obligations: Sequence[Obligation], pick: Callable[[Obligation], bool]) -> Result:
    chosen = [ob for ob in obligations if pick(ob)]
    if len(chosen) != 1:
        raise AssertionError(f"expected one obligation, found {[ob.name for ob in chosen]}")
    result = discharge(chosen[0], Budget())
    if result.status != "refuted":
        raise AssertionError(f"{chosen[0].name} is {result.status}, expected refuted")
    return result


def collateral_reset() -> Counterexample:
    """nim-codex#1147: a totalCollateral PATCH while a reservation holds collateral resets the remainder."""
    suite = generate(Profile.CODEX_HEAD, Mode.INT, ProofScope(), only=frozenset({"update_availability"}))
    result = _refuted(suite.obligations, lambda ob: ob.kind == "strict" and ob.rule == "collateral_conserved")
    return engines.from_refutation(result, triage(result))


def return_bytes_wrap() -> Counterexample:
    """nim-codex's unguarded ``bytes - reservation.size`` in returnBytesToAvailability wraps in uint64."""
    suites = proofs._faithful_suites([Profile.CODEX_HEAD], Mode.INT, ProofScope())
    obligations = [ob for suite in suites for ob in suite.obligations]
    result = _refuted(obligations, lambda ob: ob.expected == "refuted")
    return engines.from_refutation(result, triage(result))


EXAMPLES: tuple[Example, ...] = (
    Example(
        name="ending_leak",
        description="A sale that errors after its reservation is made ends by deleting the reservation "
        "without returning the collateral it took (the SaleErrored path).",
        find=ending_leak,
    ),
    Example(
        name="restart_leak",
        description="A node restart's cleanup deletes the inactive reservation and returns none of its collateral.",
        find=restart_leak,
    ),
    Example(
        name="collateral_reset",
        description="A totalCollateral PATCH while a reservation holds collateral resets the remaining collateral, "
        "so remaining plus held no longer equals the total.",
        find=collateral_reset,
    ),
    Example(
        name="return_bytes_wrap",
        description="returnBytesToAvailability as nim-codex writes it computes `bytes - reservation.size` in "
        "uint64, which wraps when fewer bytes are returned than the reservation still holds.",
        find=return_bytes_wrap,
    ),
)


def found() -> list[tuple[Example, Counterexample]]:
    """Every example with its counterexample, found by the engines (rule 1), in the index's order."""
    return [(example, example.find()) for example in EXAMPLES]


def index(pairs: Sequence[tuple[Example, Counterexample]]) -> str:
    """The README: one line per example (its Markdown file, one sentence, the known reference)."""
    lines = [
        "# Counterexamples of known nim-codex behaviours",
        "",
        "Generated by `python -m reports.examples` (checked by `python -m reports.examples --check`); do not edit.",
        "Each example is found by the engine named in its report and comes in three renderings: Markdown (`.md`),",
        "ITF JSON (`.itf.json`) and a pytest regression file (`test_*.py`).",
        "",
    ]
    for example, cx in pairs:
        page = f"{cx.slug()}.md"
        lines.append(f"- [`{page}`]({page.replace(' ', '%20')}): {example.description} Known: {cx.known}.")
    return "\n".join(lines) + "\n"


def files(pairs: Sequence[tuple[Example, Counterexample]] | None = None) -> dict[str, str]:
    """File name -> text of everything the directory must hold."""
    pairs = found() if pairs is None else pairs
    out: dict[str, str] = {}
    for _, cx in pairs:
        for name, text in render.renderings(cx).items():
            if name in out:
                raise AssertionError(f"two examples render to {name}")
            out[name] = text
    out[INDEX] = index(pairs)
    return dict(sorted(out.items()))


def _present(directory: Path) -> list[str]:
    if not directory.is_dir():
        return []
    return sorted(p.name for p in directory.iterdir() if p.is_file())


def differences(directory: Path = DIRECTORY, expected: dict[str, str] | None = None) -> list[str]:
    """One line per file that differs, is missing or is extra in ``directory`` (empty: up to date)."""
    expected = files() if expected is None else expected
    present = _present(directory)
    problems = []
    for name, text in expected.items():
        path = directory / name
        if not path.is_file():
            problems.append(f"missing: {path}")
        elif path.read_text(encoding="utf-8") != text:
            problems.append(f"differs: {path}")
    problems.extend(f"extra: {directory / name}" for name in present if name not in expected)
    return problems


def write(directory: Path = DIRECTORY) -> list[Path]:
    """Write every example's renderings and the index; remove any other file (rule 3)."""
    pairs = found()
    expected = files(pairs)
    written: list[Path] = []
    for _, cx in pairs:
        written.extend(render.write_all(cx, directory))
    path = directory / INDEX
    path.write_text(expected[INDEX], encoding="utf-8")
    written.append(path)
    for name in _present(directory):
        if name not in expected:
            (directory / name).unlink()
    return sorted(written)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m reports.examples", description="Regenerate or check the committed example reports."
    )
    parser.add_argument("--check", action="store_true", help="exit 1 if a committed file differs; write nothing")
    parser.add_argument("--directory", type=Path, default=DIRECTORY, help="where the examples live")
    arguments = parser.parse_args(argv)
    if arguments.check:
        problems = differences(arguments.directory)
        for line in problems:
            print(line)
        print(f"{len(problems)} file(s) out of date" if problems else "examples up to date")
        return 1 if problems else 0
    for path in write(arguments.directory):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
