"""The repo quota: ``max_bytes`` (M), ``used`` (U, stored blocks), ``reserved`` (R).

Rules:
1. ``reserve(n)`` fails unless ``U + R + n <= M`` (equality allowed).
2. ``release(n)`` fails when ``R - n < 0`` (HEAD crashes there; the model refuses, see divergences).
3. ``store_block(n)`` fails unless ``U + n + R <= M``; ``expire_block(n)`` fails when ``U - n < 0``.
4. ``available = M - (U + R)``; ``has_available(n)`` is strict: ``n < available``.
5. ``U + R + n > M`` is tested as ``n > available``: the same comparison while ``U + R <= M``
   (INV-1), written so that no intermediate sum can leave the 63-bit range of ``NBytes``
   (nim-codex adds first; for ``n`` near ``2**63`` that is a Nim overflow Defect).

Each function is straight-line: guards that compare, then one effect.

Mirrors: codex-sales-spec §1.4; nim-codex ``RepoStore.reserve/release/putBlock/delBlock`` at
570a1f7b and bd360322 (one shared behaviour once wrap and crash are refused).
"""

from __future__ import annotations

import attrs

from model.errors import QuotaNotEnough, QuotaUnderflow
from model.numbers import natural_field
from model.records import evolve


@attrs.frozen(kw_only=True)
class RepoQuota:
    """The three repo counters, each a ``Natural``."""

    max_bytes: int = attrs.field(validator=natural_field)
    used: int = attrs.field(default=0, validator=natural_field)
    reserved: int = attrs.field(default=0, validator=natural_field)


def _not_enough(quota: RepoQuota, requested: int) -> QuotaNotEnough:
    return QuotaNotEnough(requested=requested, used=quota.used, reserved=quota.reserved, max_bytes=quota.max_bytes)


def reserve(quota: RepoQuota, n: int) -> RepoQuota | QuotaNotEnough:
    """Reserve ``n`` bytes for availabilities.

    Guards: QuotaNotEnough when ``used + reserved + n > max_bytes``.
    Effect: ``reserved += n``.
    Mirrors: ``RepoStore.reserve`` (bd360322; 570a1f7b same check).
    """
    if n > available(quota):
        return _not_enough(quota, n)
    return evolve(quota, reserved=quota.reserved + n)


def release(quota: RepoQuota, n: int) -> RepoQuota | QuotaUnderflow:
    """Give ``n`` reserved bytes back to the repo.

    Guards: QuotaUnderflow when ``reserved < n``.
    Effect: ``reserved -= n``.
    Mirrors: ``RepoStore.release`` (570a1f7b guard "Cannot release this many bytes").
    """
    if quota.reserved < n:
        return QuotaUnderflow(counter="reserved", requested=n, current=quota.reserved)
    return evolve(quota, reserved=quota.reserved - n)


def store_block(quota: RepoQuota, n: int) -> RepoQuota | QuotaNotEnough:
    """Count a newly stored block of ``n`` bytes as used.

    Guards: QuotaNotEnough when ``used + n + reserved > max_bytes``.
    Effect: ``used += n``.
    Mirrors: ``RepoStore.putBlock`` quota update (bd360322 ``updateQuotaUsage``).
    """
    if n > available(quota):
        return _not_enough(quota, n)
    return evolve(quota, used=quota.used + n)


def expire_block(quota: RepoQuota, n: int) -> RepoQuota | QuotaUnderflow:
    """Forget a deleted (expired) block of ``n`` bytes.

    Guards: QuotaUnderflow when ``used < n``.
    Effect: ``used -= n``.
    Mirrors: ``RepoStore.delBlock`` quota update (bd360322).
    """
    if quota.used < n:
        return QuotaUnderflow(counter="used", requested=n, current=quota.used)
    return evolve(quota, used=quota.used - n)


def available(quota: RepoQuota) -> int:
    """Bytes neither used nor reserved: ``max_bytes - (used + reserved)``."""
    return quota.max_bytes - (quota.used + quota.reserved)


def has_available(quota: RepoQuota, n: int) -> bool:
    """``Reservations.hasAvailable``: ``n < available`` (strict, spec §2.9)."""
    return n < available(quota)
