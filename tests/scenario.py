"""Helpers for scenario tests: run an operation and fail the test on a refusal.

``accepted`` and ``apply_ok`` fail the test on a rejection, so a scenario reads as its steps;
``run`` runs one action either through its module function or through ``model.actions.apply``
so a test taking the ``via`` fixture checks both entry points.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest

from model import actions as act
from model import codex535, codex_head, common
from model.actions import OPERATIONS, Accepted, Action, apply
from model.errors import Rejection
from model.market import MarketAccepted, apply_market
from model.state import AnyState, Profile

QUOTA = 1000

_PROFILE_MODULES = {Profile.CODEX_535: codex535, Profile.CODEX_HEAD: codex_head}


def accepted(result: Any) -> Any:
    """``result`` itself, failing the test when it is a rejection."""
    if isinstance(result, Rejection):
        pytest.fail(f"unexpected rejection: {result!r}")
    return result


def apply_ok(state: AnyState, action: Action) -> AnyState:
    """The state after ``apply(state, action)``, failing the test when the action is refused."""
    outcome = apply(state, action)
    if not isinstance(outcome, Accepted):
        pytest.fail(f"{action!r} was refused: {outcome!r}")
    return outcome.state


def run(state: AnyState, action: Action, via: str) -> Any:
    """The new state or the rejection of a non-query ``action``, run the way ``via`` names."""
    if via == "apply":
        outcome = apply(state, action)
        return outcome.state if isinstance(outcome, Accepted) else outcome
    function = getattr(_PROFILE_MODULES[state.profile], action.name, None) or getattr(common, action.name)
    return function(state, **action.arguments())


def market_ok(market: Any, *actions: Any) -> Any:
    """The market after ``apply_market`` of each action in turn, failing the test on a refusal."""
    for action in actions:
        outcome = apply_market(market, action)
        if not isinstance(outcome, MarketAccepted):
            pytest.fail(f"{action!r} was refused: {outcome!r}")
        market = outcome.state
    return market


def outputs_under_hash_seeds(script: str, seeds: tuple[str, ...] = ("1", "2")) -> set[str]:
    """What ``python -c script`` prints under each ``PYTHONHASHSEED``: one element when nothing it
    prints depends on string hashing (the order a HAMT or a set iterates in)."""
    return {
        subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in seeds
    }


def head_reservation_1147(request_id: str = "q") -> list[Action]:
    """codex-head: availability a1 (100 bytes, 500 collateral) and reservation r1 of 10 bytes at 3 per
    byte: the start of nim-codex#1147 (a totalCollateral PATCH while r1 holds 30)."""
    from model.actions import CreateAvailabilityHead, CreateReservationHead

    return [
        CreateAvailabilityHead(
            availability_id="a1", total_size=100, duration=10, min_price_per_byte_per_second=1, total_collateral=500
        ),
        CreateReservationHead(
            availability_id="a1",
            reservation_id="r1",
            slot_size=10,
            request_id=request_id,
            slot_index=0,
            collateral_per_byte=3,
            valid_until=5,
        ),
    ]


def logs_cli(*argv: str) -> int:
    """``sales-model logs check ARGV...`` through the command's own parser; its exit code."""
    import argparse

    from sales_model.commands import logs

    top = argparse.ArgumentParser()
    logs.register(top.add_subparsers(dest="command"))
    arguments = top.parse_args(["logs", "check", *argv])
    code: int = arguments.run(arguments)
    return code


def random_action(rng: random.Random, state: AnyState, fresh: list[int]) -> act.Action:
    """An action of any kind of ``state``'s profile table with small random arguments, mostly naming
    records that exist (``fresh[0]`` numbers new ids)."""
    aids, rids = sorted(state.availabilities), sorted(state.reservations)
    aid = rng.choice(aids) if aids and rng.random() < 0.9 else f"a{rng.randint(0, 9)}"
    rid = rng.choice(rids) if rids and rng.random() < 0.9 else f"r{rng.randint(0, 9)}"
    if rid in state.reservations and rng.random() < 0.9:
        aid = state.reservations[rid].availability_id
    fresh[0] += 1
    size = rng.choice((0, 1, 7, 40, 100))
    kinds = sorted(OPERATIONS[state.profile], key=lambda cls: cls.__name__)
    kind = rng.choice(kinds)
    new_aid, new_rid = f"a{fresh[0]}" if rng.random() < 0.7 else aid, f"r{fresh[0]}"
    held = state.reservations[rid].size if rid in state.reservations else 0  # returns nothing: accepted
    slots = frozenset((r.request_id, r.slot_index) for r in state.reservations.values() if rng.random() < 0.5)
    built: dict[type, Callable[[], act.Action]] = {
        act.CreateAvailability535: lambda: act.CreateAvailability535(
            availability_id=new_aid, size=rng.choice((50, 200)), duration=10, min_price=1, max_collateral=100
        ),
        act.CreateAvailabilityHead: lambda: act.CreateAvailabilityHead(
            availability_id=new_aid,
            total_size=rng.choice((50, 200)),
            duration=10,
            min_price_per_byte_per_second=1,
            total_collateral=rng.choice((100, 10_000)),
            until=rng.choice((0, 0, 300)),
        ),
        act.UpdateAvailability: lambda: act.UpdateAvailability(
            availability_id=aid,
            total_size=rng.choice((None, 50, 300)),
            total_collateral=rng.choice((None, None, 5_000)),
            until=rng.choice((None, None, 0, 250, 600)),
            enabled=rng.choice((None, False, True)),
        ),
        act.CreateReservation535: lambda: act.CreateReservation535(
            availability_id=aid, reservation_id=new_rid, slot_size=size, request_id="q", slot_index=fresh[0] % 4
        ),
        act.CreateReservationHead: lambda: act.CreateReservationHead(
            availability_id=aid,
            reservation_id=new_rid,
            slot_size=size,
            request_id="q",
            slot_index=fresh[0] % 4,
            collateral_per_byte=rng.choice((0, 1, 3)),
            valid_until=rng.choice((0, 100, 500)),
        ),
        act.ReleaseBytes: lambda: act.ReleaseBytes(
            reservation_id=rid, availability_id=aid, bytes=rng.choice((0, 1, 5))
        ),
        act.ReturnBytesToAvailability: lambda: act.ReturnBytesToAvailability(
            availability_id=aid, reservation_id=rid, bytes=rng.choice((40, 100, 200, held))
        ),
        act.DeleteReservation535: lambda: act.DeleteReservation535(reservation_id=rid, availability_id=aid),
        act.DeleteReservationHead: lambda: act.DeleteReservationHead(
            reservation_id=rid, availability_id=aid, returned_collateral=rng.choice((None, 0, 40))
        ),
        act.FindAvailability535: lambda: act.FindAvailability535(size=size, duration=1, min_price=5, collateral=1),
        act.FindAvailabilityHead: lambda: act.FindAvailabilityHead(
            size=size, duration=1, price_per_byte_per_second=5, collateral_per_byte=0, valid_until=0
        ),
        act.StoreBlock: lambda: act.StoreBlock(bytes=rng.choice((1, 10))),
        act.ExpireBlock: lambda: act.ExpireBlock(bytes=rng.choice((1, 10))),
        act.DeleteInactiveReservations: lambda: act.DeleteInactiveReservations(active_slots=slots),
    }
    return built[kind]()
