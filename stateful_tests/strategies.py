"""Every Hypothesis strategy the project uses, in one place.

Rules:
1. Quantities are small (a quota of ``QUOTA`` bytes) so that full, empty and exactly-fitting
   availabilities are common; the extremes of each range are mixed in to reach the
   overflow and range guards.
2. Sizes that must relate to the current state (a slot that just fits) are drawn as a
   share and scaled by the rule, so shrinking stays meaningful.
"""

from __future__ import annotations

from hypothesis import strategies as st

from model.numbers import I64_MAX, U64_MAX, U256_MAX

__all__ = ["U256_MAX"]

#: ``quotaMaxBytes`` of the explored node: small, so the quota fills up within a run.
QUOTA = 512

sizes = st.integers(min_value=0, max_value=160)
positive_sizes = st.integers(min_value=1, max_value=160)
batches = st.integers(min_value=0, max_value=48)
durations = st.integers(min_value=0, max_value=20)
prices = st.integers(min_value=0, max_value=12)
collaterals = st.one_of(st.integers(min_value=0, max_value=4000), st.sampled_from([U256_MAX - 1, U256_MAX]))
per_byte = st.integers(min_value=0, max_value=6)
times = st.integers(min_value=1, max_value=100)
untils = st.one_of(st.just(0), st.integers(min_value=1, max_value=120))
#: Percent shares, with the boundaries (nothing, everything) drawn as often as the rest.
shares = st.one_of(st.sampled_from([0, 100]), st.integers(min_value=0, max_value=100))
#: How far past a limit a refused request goes; one byte (the off-by-one case) is drawn often.
excess = st.one_of(st.just(1), st.integers(min_value=1, max_value=64))
request_ids = st.sampled_from(["req-a", "req-b", "req-c"])
out_of_range_sizes = st.sampled_from([-1, U64_MAX + 1, -(2**70)])
out_of_range_times = st.sampled_from([I64_MAX + 1, -(2**64)])


def optional(strategy: st.SearchStrategy[int]) -> st.SearchStrategy[int | None]:
    """``None`` (field absent from a PATCH) or a value."""
    return st.one_of(st.none(), strategy)


def share_of(total: int, share: int) -> int:
    """``share`` percent of ``total``, rounded down; 100 gives exactly ``total``."""
    return total * share // 100


# -- the market machine (stateful_tests/market_machine.py) ---------------------------------

#: ``quotaMaxBytes`` of the market machine's node: a few slots' worth, so the repo fills up.
MARKET_QUOTA = 24
market_sizes = st.integers(min_value=0, max_value=8)
slot_sizes = st.integers(min_value=0, max_value=4)
slot_counts = st.integers(min_value=1, max_value=2)
market_durations = st.integers(min_value=1, max_value=12)
availability_durations = st.integers(min_value=6, max_value=20)
market_prices = st.integers(min_value=0, max_value=3)
market_collaterals = st.one_of(st.just(1_000), st.integers(min_value=0, max_value=40))
request_ends = st.integers(min_value=1, max_value=60)
max_workers = st.integers(min_value=1, max_value=3)
max_queue_sizes = st.integers(min_value=1, max_value=4)
repair_discounts = st.sampled_from([0, 50])
#: Whether ``advance`` may take a failure outcome: one time in five.
mishaps = st.integers(min_value=0, max_value=4).map(lambda n: n == 0)
#: Which enabled action to take, as an index into the list the model allows; shrinks towards the first.
picks = st.integers(min_value=0, max_value=255)
