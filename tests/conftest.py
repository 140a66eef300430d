"""Shared fixtures: empty nodes with a 1000-byte repo; loads the Hypothesis settings profile.

The profile is ``dev``, or ``ci`` under ``CI=true``, or ``HYPOTHESIS_PROFILE``.
"""

from __future__ import annotations

import pytest
from scenario import QUOTA

from model.state import AnyState, Profile, initial_state
from stateful_tests import profiles

profiles.load()


@pytest.fixture
def head_state() -> AnyState:
    """An empty codex-head node whose repo holds 1000 bytes."""
    return initial_state(Profile.CODEX_HEAD, quota_max_bytes=QUOTA)


@pytest.fixture
def old_state() -> AnyState:
    """An empty codex-535 node whose repo holds 1000 bytes."""
    return initial_state(Profile.CODEX_535, quota_max_bytes=QUOTA)


@pytest.fixture(params=["function", "apply"])
def via(request: pytest.FixtureRequest) -> str:
    """Run the test once calling the module function and once through ``apply``."""
    return str(request.param)
