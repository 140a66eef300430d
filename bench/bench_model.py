"""Measure model operations per second against the number of live reservations, and stateful steps per second.

Usage: ``python -m bench.bench_model [--sizes 10 1000 100000] [--ops 20000] [--repeat 3]``

One "mix" is eight operations that leave the state's size unchanged: create a reservation,
release part of it, return its bytes (HEAD), delete it, find an availability, PATCH an
availability (HEAD) or store a block (535), release zero bytes from an existing reservation,
and expire a block. The per-operation cost must stay flat: within 2x from the smallest to the
largest state. The exit code is 1 when it does not.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from collections.abc import Callable

from model.actions import (
    Accepted,
    Action,
    CreateAvailability535,
    CreateAvailabilityHead,
    CreateReservation535,
    CreateReservationHead,
    DeleteReservation535,
    DeleteReservationHead,
    ExpireBlock,
    FindAvailability535,
    FindAvailabilityHead,
    ReleaseBytes,
    ReturnBytesToAvailability,
    StoreBlock,
    UpdateAvailability,
    apply,
)
from model.state import AnyState, Profile, initial_state
from stateful_tests.exploration import BUDGETS, explore

AVAILABILITIES = 16
SLOT = 64


def _must(state: AnyState, action: Action) -> AnyState:
    outcome = apply(state, action)
    if not isinstance(outcome, Accepted):
        raise SystemExit(f"benchmark setup refused {action!r}: {outcome!r}")
    return outcome.state


def _availability(profile: Profile, index: int, size: int) -> Action:
    if profile is Profile.CODEX_HEAD:
        return CreateAvailabilityHead(
            availability_id=f"a{index:02}",
            total_size=size,
            duration=100,
            min_price_per_byte_per_second=1,
            total_collateral=10**30,
            until=10**9,
        )
    return CreateAvailability535(
        availability_id=f"a{index:02}", size=size, duration=100, min_price=1, max_collateral=10**6
    )


def _reservation(profile: Profile, availability: str, reservation: str, index: int) -> Action:
    if profile is Profile.CODEX_HEAD:
        return CreateReservationHead(
            availability_id=availability,
            reservation_id=reservation,
            slot_size=SLOT,
            request_id=f"q{index % 97}",
            slot_index=index,
            collateral_per_byte=2,
            valid_until=1000 + index % 5000,
        )
    return CreateReservation535(
        availability_id=availability,
        reservation_id=reservation,
        slot_size=SLOT,
        request_id=f"q{index % 97}",
        slot_index=index,
    )


def populate(profile: Profile, live: int) -> AnyState:
    """A node with ``AVAILABILITIES`` availabilities and ``live`` reservations spread over them."""
    headroom = (live // AVAILABILITIES + 1000) * SLOT
    state = initial_state(profile, quota_max_bytes=AVAILABILITIES * headroom * 4)
    for index in range(AVAILABILITIES):
        state = _must(state, _availability(profile, index, headroom))
    for index in range(live):
        state = _must(state, _reservation(profile, f"a{index % AVAILABILITIES:02}", f"r{index:07}", index))
    return state


def mix(profile: Profile, live: int) -> list[Callable[[AnyState, int], Action]]:
    """The eight operations of one mix, each built from the iteration number."""
    head = profile is Profile.CODEX_HEAD

    def aid(i: int) -> str:
        return f"a{i % AVAILABILITIES:02}"

    def create(_s: AnyState, i: int) -> Action:
        return _reservation(profile, aid(i), f"new{i}", 10**7 + i)

    def release(_s: AnyState, i: int) -> Action:
        return ReleaseBytes(reservation_id=f"new{i}", availability_id=aid(i), bytes=SLOT // 2)

    def give_back(_s: AnyState, i: int) -> Action:
        if head:
            return ReturnBytesToAvailability(availability_id=aid(i), reservation_id=f"new{i}", bytes=SLOT)
        return StoreBlock(bytes=SLOT // 2)

    def delete(_s: AnyState, i: int) -> Action:
        if head:
            return DeleteReservationHead(reservation_id=f"new{i}", availability_id=aid(i), returned_collateral=2 * SLOT)
        return DeleteReservation535(reservation_id=f"new{i}", availability_id=aid(i))

    def find(_s: AnyState, i: int) -> Action:
        if head:
            return FindAvailabilityHead(
                size=SLOT, duration=10, price_per_byte_per_second=5, collateral_per_byte=1, valid_until=i % 1000
            )
        return FindAvailability535(size=SLOT, duration=10, min_price=5, collateral=10)

    def patch(_s: AnyState, i: int) -> Action:
        if head:
            return UpdateAvailability(availability_id=aid(i), duration=100 + i % 7)
        return StoreBlock(bytes=1)

    def touch(_s: AnyState, i: int) -> Action:
        index = (i * 7919) % live if live else 0
        return ReleaseBytes(reservation_id=f"r{index:07}", availability_id=aid(index), bytes=0)

    def expire(s: AnyState, _i: int) -> Action:
        return ExpireBlock(bytes=min(s.repo.used, SLOT // 2))

    return [create, release, give_back, delete, find, patch, touch, expire]


def ops_per_second(profile: Profile, live: int, operations: int, repeat: int) -> float:
    """Best of ``repeat`` timings of ``operations`` mixed operations on a state with ``live`` reservations."""
    base = populate(profile, live)
    steps = mix(profile, live)
    best = 0.0
    for _ in range(repeat):
        state = base
        started = time.perf_counter()
        for n in range(operations // len(steps)):
            for build in steps:
                state = _must(state, build(state, n))
        elapsed = time.perf_counter() - started
        best = max(best, (operations // len(steps)) * len(steps) / elapsed)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 1_000, 100_000])
    parser.add_argument("--ops", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--budget", choices=list(BUDGETS), default="default")
    arguments = parser.parse_args()
    print(f"machine: {platform.machine()} {platform.processor() or ''} python {platform.python_version()}")
    flat = True
    print("\n| profile | live reservations | ops/s | µs/op |\n|---|---:|---:|---:|")
    for profile in Profile:
        rates = {}
        for live in arguments.sizes:
            rates[live] = ops_per_second(profile, live, arguments.ops, arguments.repeat)
            print(f"| {profile.value} | {live:,} | {rates[live]:,.0f} | {1e6 / rates[live]:.1f} |", flush=True)
        ratio = max(rates.values()) / min(rates.values())
        flat = flat and ratio <= 2.0
        print(f"| {profile.value} | slowest/fastest | {ratio:.2f}x | {'ok' if ratio <= 2.0 else 'NOT FLAT'} |")
    print("\n| profile | budget | programs | steps | seconds | steps/s |\n|---|---|---:|---:|---:|---:|")
    for profile in Profile:
        result = explore(profile, BUDGETS[arguments.budget])
        rate = result.stats.steps / result.seconds
        print(
            f"| {profile.value} | {arguments.budget} | {result.stats.runs} | {result.stats.steps} |"
            f" {result.seconds:.1f} | {rate:,.0f} |"
        )
    return 0 if flat else 1


if __name__ == "__main__":
    sys.exit(main())
