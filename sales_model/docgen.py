"""Generate ``docs/sale-state-machine.md`` from the sale tables: ``python -m sales_model.docgen [--check]``.

The page is derived only from ``model.sale`` (``TABLES``, ``ENDINGS``, ``TERMINAL``) and the
reachability notes of ``stateful_tests.coverage.UNREACHABLE``; ``tests/test_docgen.py`` fails when
the committed copy drifts. ``--check`` exits 1 when the file differs instead of writing it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from model.sale import ENDINGS, TABLES, TERMINAL, Collateral, SaleEvent, SaleState, Target, states_of
from model.state import Profile
from stateful_tests.coverage import UNREACHABLE

PAGE = Path(__file__).resolve().parent.parent / "docs" / "sale-state-machine.md"
VERSIONS = {Profile.CODEX_HEAD: "nim-codex bd360322 (spec §3.2)", Profile.CODEX_535: "nim-codex 570a1f7b (spec §3.5)"}
COLLATERAL = {
    Collateral.NONE: "none",
    Collateral.PER_SLOT_IF_RETURNS: "`collateralPerSlot` when `returnsCollateral`, else none",
    Collateral.CURRENT: "`currentCollateral` read by Payout",
    Collateral.CURRENT_IF_HOST: "`currentCollateral` when this host filled the slot, else none",
}
PATHS_NOTE = (
    '"Reservation held" is for a sale that came through Preparing\'s `createReservation`; one that reached '
    "Filled by `onSlotFilled` from Preparing, or any restart agent, holds none. Failed (both profiles) and "
    "570a1f7b's Cancelled raise into Errored, whose cleanup runs."
)
#: States an agent can be in before it holds a reservation (Preparing creates it; restart agents never hold one).
NO_RESERVATION = frozenset({SaleState.UNKNOWN, SaleState.PREPARING})


def _label(target: Target) -> str:
    flags = [
        name for name, on in (("reprocess", target.reprocess), ("returnsCollateral", target.returns_collateral)) if on
    ]
    return f"{target.state.value}({', '.join(flags)})" if flags else target.state.value


def mermaid(profile: Profile) -> list[str]:
    """A Mermaid ``stateDiagram-v2`` of the profile's table; parallel edges share one label."""
    edges: dict[tuple[str, str], list[str]] = {}
    for (state, event), target in TABLES[profile].items():
        end = "[*]" if event is SaleEvent.CLEANUP else target.state.value
        edges.setdefault((state.value, end), []).append(event.value)
    lines = [
        "```mermaid",
        "stateDiagram-v2",
        "    [*] --> Preparing : slot queue worker",
        "    [*] --> Unknown : restart (Sales.load)",
    ]
    lines += [f"    {a} --> {b} : {', '.join(events)}" for (a, b), events in edges.items()]
    return [*lines, "```"]


def transitions(profile: Profile) -> list[str]:
    """Every ``(state, event) -> target`` row, with the reason a pair is unreachable where it is."""
    lines = ["| state | event | next state | reachable |", "|---|---|---|---|"]
    unreachable = UNREACHABLE[profile]
    for (state, event), target in TABLES[profile].items():
        note = f"no: {unreachable[(state, event)]}" if (state, event) in unreachable else "yes"
        lines.append(f"| {state.value} | {event.value} | {_label(target)} | {note} |")
    return lines


def endings(profile: Profile) -> list[str]:
    """What each terminal state's cleanup does (spec §3.3 ``Sales.cleanUp``)."""
    lines = [
        "| ending | returns written bytes | collateral passed to deleteReservation | re-queues the slot "
        "| frees the worker | spec |",
        "|---|---|---|---|---|---|",
    ]
    for state, ending in ENDINGS[profile].items():
        requeue = "when `reprocessSlot` (seen)" if ending.requeues else "never"
        written = "yes (`returnBytesToAvailability(slotSize)`)" if ending.returns_written else "no (consumed for good)"
        lines.append(
            f"| {state.value} | {written} | {COLLATERAL[ending.collateral]} | {requeue} | yes | {ending.spec} |"
        )
    return lines


def paths(profile: Profile) -> list[str]:
    """Every table edge into an ending (or into Failed, which raises into Errored), and what it gives back."""
    lines = [
        "| from | event | into | reservation held | free size given back | collateral given back |",
        "|---|---|---|---|---|---|",
    ]
    for (state, event), target in TABLES[profile].items():
        into = target.state
        if into is state or into not in (*TERMINAL[profile], SaleState.FAILED, SaleState.CANCELLED):
            continue
        if state in NO_RESERVATION:
            lines.append(f"| {state.value} | {event.value} | {_label(target)} | no | n/a | n/a |")
            continue
        # Failed (both profiles) and 570a1f7b's Cancelled raise into Errored, whose cleanup then runs.
        ending = ENDINGS[profile].get(into) or ENDINGS[profile][SaleState.ERRORED]
        freed = "the slot size (written + unwritten)" if ending.returns_written else "the unwritten bytes only"
        collateral = COLLATERAL[ending.collateral]
        if into is SaleState.IGNORED and not target.returns_collateral:
            collateral = "none"
        lines.append(f"| {state.value} | {event.value} | {_label(target)} | yes | {freed} | {collateral} |")
    return lines


def page() -> str:
    """The whole generated page."""
    out = [
        "# The sale state machine",
        "",
        "<!-- Generated by `python -m sales_model.docgen` from `model/sale.py`; do not edit by hand. -->",
        "",
        "One table per profile, `(state, event) -> next state` (`model.sale.TABLES`); an event a state does not",
        "handle is refused with `IllegalEvent(profile, state, event)` and changes nothing. `cleanup` is the run of a",
        "terminal state (`onCleanUp`); the effects of each ending are `model.sale.ENDINGS`, run by",
        "`model.sale_effects`. Reachability is what the exhaustive search of `sales-model explore` establishes.",
        "Where a cleanup gives back less collateral than the reservation took, the harness reports a known",
        "violation of `collateral_conserved` and `collateral_returned_on_end` (spec §3.3).",
    ]
    for profile in (Profile.CODEX_HEAD, Profile.CODEX_535):
        states = ", ".join(s.value for s in states_of(profile))
        terminal = ", ".join(s.value for s in states_of(profile) if s in TERMINAL[profile])
        out += ["", f"## `{profile.value}`: {VERSIONS[profile]}", "", f"States: {states}. Terminal: {terminal}.", ""]
        out += [*mermaid(profile), "", "### Transitions", "", *transitions(profile)]
        out += ["", "### Cleanup per ending", "", *endings(profile)]
        out += ["", "### Paths into an ending", "", PATHS_NOTE, "", *paths(profile)]
    return "\n".join(out) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    top = argparse.ArgumentParser(prog="python -m sales_model.docgen", description=__doc__)
    top.add_argument("--check", action="store_true", help="exit 1 if the committed page differs; write nothing")
    arguments = top.parse_args(argv)
    text = page()
    if arguments.check:
        same = PAGE.exists() and PAGE.read_text(encoding="utf-8") == text
        print(f"{PAGE.name} is {'up to date' if same else 'out of date: run python -m sales_model.docgen'}")
        return 0 if same else 1
    PAGE.write_text(text, encoding="utf-8")
    print(f"wrote {PAGE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
