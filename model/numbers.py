"""Value ranges of the quantities nim-codex stores, and the shape checks built on them.

Rules:
1. Sizes are Nim ``uint64`` (HEAD) or capped to it (OLD, see docs/divergences.md).
2. Money (prices, collateral) is ``UInt256``.
3. Timestamps (``until``, ``validUntil``) are signed ``int64`` (``SecondsSince1970``).
4. Repo quota counters are ``NBytes = distinct Natural``: ``0 .. 2**63 - 1``.

Validators here check shape only (an ``int`` in range), never business rules, so a
broken snapshot of a real implementation can still be held and reported on.

Mirrors: codex-sales-spec §0 "Number semantics".
"""

from __future__ import annotations

from typing import Any

import attrs

U64_MAX = 2**64 - 1
U256_MAX = 2**256 - 1
I64_MIN = -(2**63)
I64_MAX = 2**63 - 1
NATURAL_MAX = 2**63 - 1

SIZE = (0, U64_MAX)
MONEY = (0, U256_MAX)
TIME = (I64_MIN, I64_MAX)
NATURAL = (0, NATURAL_MAX)


def _ranged(low: int, high: int) -> Any:
    def check(_instance: object, attribute: attrs.Attribute[int], value: int) -> None:
        if type(value) is not int or not low <= value <= high:
            raise ValueError(f"{attribute.name} must be an int in {low}..{high}, got {value!r}")

    return check


size_field = _ranged(*SIZE)
money_field = _ranged(*MONEY)
time_field = _ranged(*TIME)
natural_field = _ranged(*NATURAL)


def largest(*values: int) -> int:
    """The largest of ``values``.

    A number type may answer itself through a ``maximum(*values)`` class method: the
    symbolic engine's integers do, so that a maximum in the model's bookkeeping becomes one
    term instead of a fork per comparison. Plain ints use ``max``.
    """
    for value in values:
        if type(value) is int:  # the common case, and ``int`` has no ``maximum``
            continue
        maximum = getattr(type(value), "maximum", None)
        if maximum is not None:
            result: int = maximum(*values)
            return result
    return max(values)
