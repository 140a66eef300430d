"""Shrinking a failing JSON-lines trace to a 1-minimal sub-trace that fails the same way.

Rules:
1. A candidate is a subsequence of the events (in order, each event unchanged, its ``line`` kept
   from the input so reports still point at the original file); the header is kept.
2. A candidate that names an id no earlier create in it introduced (``oracle.trace.unknown_id``)
   is invalid: it does not count as failing.
3. A candidate fails *the same way* when ``check`` fails it with the same kind (divergence or
   violation) and at least one differing field (divergence) or broken rule (violation) in common
   with the input's failure.
4. First everything after the failing event is dropped; then delta debugging (ddmin, Zeller and
   Hildebrandt 2002) over the rest; then one-by-one removal until no single event can go. The
   result is 1-minimal: removing any one event makes it pass or invalid. Deterministic.
5. Recorded observations describe the whole recorded run: a repo counter recorded after event 10
   depends on events 1-9, so no earlier event could go. With ``relax`` (the default) the events
   before the failing one keep their op and args only (the failing event keeps its records), when
   that still fails the same way; otherwise the trace is shrunk as recorded.

Mirrors: oracle/trace.py (the check every candidate runs); codex-sales-spec §2.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from model.actions import OperationTable
from oracle.trace import Event, Header, TraceReport, check, unknown_id


class NotFailing(ValueError):
    """The input trace passes the check: there is nothing to shrink."""


def _same_way(report: TraceReport, kind: str | None, keys: frozenset[str]) -> bool:
    if report.ok:
        return False
    their_kind, their_keys = report.signature()
    return their_kind == kind and bool(their_keys & keys)


def relaxed(events: Sequence[Event]) -> list[Event]:
    """``events`` with every observation but the last event's dropped (rule 5): op and args only."""
    return [e._replace(outcome=None, result=None, has_result=False, state=None) for e in events[:-1]] + list(
        events[-1:]
    )


def shrink(
    header: Header, events: Sequence[Event], operations: OperationTable | None = None, *, relax: bool = True
) -> list[Event]:
    """The smallest sub-trace found that fails like ``events`` does (rules 1-5); ``NotFailing`` if
    ``events`` passes."""
    original = check(header, events, operations)
    if original.ok or original.event_index is None:
        raise NotFailing("the trace passes the check: nothing to shrink")
    kind, keys = original.signature()
    pool = list(events[: original.event_index + 1])

    def same(chosen: list[Event]) -> bool:
        return unknown_id(chosen) is None and _same_way(check(header, chosen, operations), kind, keys)

    if relax and same(relaxed(pool)):
        pool = relaxed(pool)
    cache: dict[tuple[int, ...], bool] = {}

    def fails(candidate: list[int]) -> bool:
        key = tuple(candidate)
        if key not in cache:
            cache[key] = same([pool[i] for i in candidate])
        return cache[key]

    current = _ddmin(list(range(len(pool))), fails)
    changed = True
    while changed:
        changed = False
        for position in range(len(current) - 1, -1, -1):
            candidate = current[:position] + current[position + 1 :]
            if fails(candidate):
                current = candidate
                changed = True
    return [pool[i] for i in current]


def _ddmin(items: list[int], fails: Callable[[list[int]], bool]) -> list[int]:
    """Delta debugging's minimising loop: try subsets, then complements, at growing granularity."""
    granularity = 2
    while len(items) >= 2:
        size = len(items) // granularity
        chunks = [items[i : i + size] for i in range(0, len(items), size)] if size else [[i] for i in items]
        reduced = False
        for chunk in chunks:
            if fails(chunk):
                items, granularity, reduced = chunk, 2, True
                break
        if not reduced:
            for index in range(len(chunks)):
                complement = [i for j, chunk in enumerate(chunks) if j != index for i in chunk]
                if fails(complement):
                    items, granularity, reduced = complement, max(granularity - 1, 2), True
                    break
        if not reduced:
            if granularity >= len(items):
                break
            granularity = min(granularity * 2, len(items))
    return items


def is_one_minimal(header: Header, events: Sequence[Event], operations: OperationTable | None = None) -> bool:
    """Whether removing any one event makes the trace pass or invalid (rule 4), given it fails."""
    report = check(header, events, operations)
    if report.ok:
        return False
    kind, keys = report.signature()
    for position in range(len(events)):
        candidate = list(events[:position]) + list(events[position + 1 :])
        if unknown_id(candidate) is None and _same_way(check(header, candidate, operations), kind, keys):
            return False
    return True
