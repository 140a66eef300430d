"""Delta debugging: a 1-minimal subsequence of a failing sequence that still fails.

Rules:
1. A candidate is a subsequence of the input (order kept, items unchanged); ``fails`` says whether
   it still fails the same way, and is asked at most once per candidate (answers are cached).
2. First delta debugging's minimising loop (ddmin, Zeller and Hildebrandt 2002): try each chunk,
   then each chunk's complement, at doubling granularity; then one-by-one removal, from the end,
   until no single item can go. The result is 1-minimal: removing any one item makes ``fails``
   false. Deterministic: the same input and predicate give the same result.
3. The input itself is assumed to fail; ``fails`` is never asked about it (nor about the empty
   sequence, which is never returned unless given).

Mirrors: oracle/shrink.py (the same loop over trace events); Zeller and Hildebrandt, "Simplifying and
Isolating Failure-Inducing Input", IEEE TSE 28(2), 2002.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")


def minimise(items: Sequence[T], fails: Callable[[list[T]], bool]) -> list[T]:
    """A 1-minimal subsequence of ``items`` that ``fails`` (rules 1-3)."""
    cache: dict[tuple[int, ...], bool] = {}

    def still_fails(chosen: list[int]) -> bool:
        key = tuple(chosen)
        if key not in cache:
            cache[key] = bool(chosen) and fails([items[i] for i in chosen])
        return cache[key]

    current = ddmin(list(range(len(items))), still_fails)
    changed = True
    while changed:
        changed = False
        for position in range(len(current) - 1, -1, -1):
            candidate = current[:position] + current[position + 1 :]
            if still_fails(candidate):
                current, changed = candidate, True
    return [items[i] for i in current]


def ddmin(indices: list[int], fails: Callable[[list[int]], bool]) -> list[int]:
    """Delta debugging's minimising loop over ``indices`` (rule 2): subsets, then complements."""
    granularity = 2
    while len(indices) >= 2:
        size = -(-len(indices) // granularity)  # ceiling: exactly ``granularity`` chunks or fewer
        chunks = [indices[i : i + size] for i in range(0, len(indices), size)]
        reduced = False
        for chunk in chunks:
            if fails(chunk):
                indices, granularity, reduced = chunk, 2, True
                break
        if not reduced and len(chunks) > 2:
            for index in range(len(chunks)):
                complement = [i for j, chunk in enumerate(chunks) if j != index for i in chunk]
                if fails(complement):
                    indices, granularity, reduced = complement, max(granularity - 1, 2), True
                    break
        if not reduced:
            if granularity >= len(indices):
                break
            granularity = min(granularity * 2, len(indices))
    return indices
