"""Unit tests of ``model.quota``: the repo counters M (max_bytes), U (used) and R (reserved)."""

from __future__ import annotations

import pytest

from model import quota
from model.errors import QuotaNotEnough, QuotaUnderflow
from model.numbers import NATURAL_MAX
from model.quota import RepoQuota


def test_reserve_adds_to_reserved():
    """Reserving n bytes raises R by n and leaves U and M alone."""
    assert quota.reserve(RepoQuota(max_bytes=1000, used=100, reserved=200), 50) == RepoQuota(
        max_bytes=1000, used=100, reserved=250
    )


def test_reserve_accepts_exactly_full_quota():
    """A reserve with U + R + n == M is accepted (the comparison allows equality)."""
    assert quota.reserve(RepoQuota(max_bytes=1000, used=300, reserved=200), 500) == RepoQuota(
        max_bytes=1000, used=300, reserved=700
    )


def test_invalid_reserve_one_byte_over_quota():
    """A reserve with U + R + n == M + 1 is refused with the counters it compared."""
    assert quota.reserve(RepoQuota(max_bytes=1000, used=300, reserved=200), 501) == QuotaNotEnough(
        requested=501, used=300, reserved=200, max_bytes=1000
    )


def test_invalid_reserve_counts_used_bytes():
    """Stored blocks (U) count against the quota as much as reserved bytes do."""
    assert isinstance(quota.reserve(RepoQuota(max_bytes=1000, used=1000), 1), QuotaNotEnough)


def test_reserve_accepts_zero_bytes_on_full_quota():
    """Reserving zero bytes succeeds even when the quota is exactly full."""
    full = RepoQuota(max_bytes=1000, used=400, reserved=600)
    assert quota.reserve(full, 0) == full


def test_release_subtracts_from_reserved():
    """Releasing n bytes lowers R by n and leaves U alone."""
    assert quota.release(RepoQuota(max_bytes=1000, used=100, reserved=200), 50) == RepoQuota(
        max_bytes=1000, used=100, reserved=150
    )


def test_release_accepts_exactly_reserved():
    """Releasing exactly R bytes brings R to zero."""
    assert quota.release(RepoQuota(max_bytes=1000, used=100, reserved=200), 200).reserved == 0


def test_invalid_release_more_than_reserved():
    """Releasing R + 1 bytes is refused as an underflow of the reserved counter."""
    assert quota.release(RepoQuota(max_bytes=1000, used=100, reserved=200), 201) == QuotaUnderflow(
        counter="reserved", requested=201, current=200
    )


def test_invalid_release_ignores_used_bytes():
    """Used bytes cannot cover a release: only R is compared."""
    assert isinstance(quota.release(RepoQuota(max_bytes=1000, used=500), 1), QuotaUnderflow)


def test_release_accepts_zero_bytes_on_empty_repo():
    """Releasing zero bytes from an empty repo succeeds and changes nothing."""
    empty = RepoQuota(max_bytes=1000)
    assert quota.release(empty, 0) == empty


def test_store_block_adds_to_used():
    """Storing a block raises U by its size and leaves R alone."""
    assert quota.store_block(RepoQuota(max_bytes=1000, used=100, reserved=200), 50) == RepoQuota(
        max_bytes=1000, used=150, reserved=200
    )


def test_store_block_accepts_exactly_full_quota():
    """A block with U + n + R == M is accepted."""
    assert quota.store_block(RepoQuota(max_bytes=1000, used=100, reserved=200), 700).used == 800


def test_invalid_store_block_one_byte_over_quota():
    """A block with U + n + R == M + 1 is refused with the counters it compared."""
    assert quota.store_block(RepoQuota(max_bytes=1000, used=100, reserved=200), 701) == QuotaNotEnough(
        requested=701, used=100, reserved=200, max_bytes=1000
    )


def test_invalid_store_block_counts_reserved_bytes():
    """Reserved bytes block storage: a repo fully reserved cannot store one more byte."""
    assert isinstance(quota.store_block(RepoQuota(max_bytes=1000, reserved=1000), 1), QuotaNotEnough)


def test_store_block_accepts_zero_bytes_on_full_quota():
    """Storing an empty block succeeds even when the quota is exactly full."""
    full = RepoQuota(max_bytes=1000, used=1000)
    assert quota.store_block(full, 0) == full


def test_expire_block_subtracts_from_used():
    """Expiring a block lowers U by its size and leaves R alone."""
    assert quota.expire_block(RepoQuota(max_bytes=1000, used=100, reserved=200), 40) == RepoQuota(
        max_bytes=1000, used=60, reserved=200
    )


def test_expire_block_accepts_exactly_used():
    """Expiring exactly U bytes brings U to zero."""
    assert quota.expire_block(RepoQuota(max_bytes=1000, used=100), 100).used == 0


def test_invalid_expire_block_more_than_used():
    """Expiring U + 1 bytes is refused as an underflow of the used counter."""
    assert quota.expire_block(RepoQuota(max_bytes=1000, used=100, reserved=500), 101) == QuotaUnderflow(
        counter="used", requested=101, current=100
    )


def test_expire_block_accepts_zero_bytes_on_empty_repo():
    """Expiring zero bytes from an empty repo succeeds and changes nothing."""
    empty = RepoQuota(max_bytes=1000)
    assert quota.expire_block(empty, 0) == empty


@pytest.mark.parametrize(
    ("used", "reserved", "expected"),
    [(0, 0, 1000), (100, 200, 700), (400, 600, 0)],
)
def test_available_is_max_minus_used_and_reserved(used, reserved, expected):
    """``available`` is M - (U + R), zero when the quota is exactly full."""
    assert quota.available(RepoQuota(max_bytes=1000, used=used, reserved=reserved)) == expected


@pytest.mark.parametrize(("n", "expected"), [(699, True), (700, False), (701, False)])
def test_has_available_is_strict(n, expected):
    """``has_available(n)`` holds only for n strictly below the available bytes (700 here)."""
    assert quota.has_available(RepoQuota(max_bytes=1000, used=100, reserved=200), n) is expected


def test_reserve_then_release_restores_quota():
    """A reserve followed by a release of the same amount gives back the original counters."""
    start = RepoQuota(max_bytes=1000, used=10, reserved=20)
    assert quota.release(quota.reserve(start, 300), 300) == start


def test_reserve_leaves_input_unchanged():
    """Counters are values: an operation returns a new quota and the old one keeps its numbers."""
    start = RepoQuota(max_bytes=1000, used=10, reserved=20)
    quota.reserve(start, 30)
    assert start == RepoQuota(max_bytes=1000, used=10, reserved=20)


@pytest.mark.parametrize(
    "fields",
    [
        {"max_bytes": -1},
        {"max_bytes": NATURAL_MAX + 1},
        {"max_bytes": 10, "used": -1},
        {"max_bytes": 10, "reserved": NATURAL_MAX + 1},
        {"max_bytes": True},
    ],
)
def test_repo_quota_refuses_counter_outside_natural(fields):
    """Each counter must be an int in the Nim ``Natural`` range ``0 .. 2**63 - 1``."""
    with pytest.raises(ValueError, match="must be an int"):
        RepoQuota(**fields)


def test_repo_quota_holds_counters_over_max():
    """The validator checks shape only, so an over-committed repo can still be held and reported on."""
    assert RepoQuota(max_bytes=10, used=8, reserved=8).used == 8
