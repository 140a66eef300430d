"""Helpers for scenario tests: run an operation and fail the test on a refusal.

``accepted`` and ``apply_ok`` fail the test on a rejection, so a scenario reads as its steps;
``run`` runs one action either through its module function or through ``model.actions.apply``
so a test taking the ``via`` fixture checks both entry points.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest

from model import codex535, codex_head, common
from model.actions import Accepted, Action, apply
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
