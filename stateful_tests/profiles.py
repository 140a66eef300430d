"""Hypothesis settings profiles: ``dev`` (default), ``ci`` and ``thorough``.

``ci`` extends Hypothesis's built-in ``ci`` profile (derandomized, no database, no deadline),
which ``CI=true`` loads; ``HYPOTHESIS_PROFILE`` picks one explicitly.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

STEPS = {"dev": 40, "ci": 40, "thorough": 80}
EXAMPLES = {"dev": 60, "ci": 150, "thorough": 1500}

settings.register_profile(
    "dev",
    max_examples=EXAMPLES["dev"],
    stateful_step_count=STEPS["dev"],
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "ci",
    settings.get_profile("ci"),
    max_examples=EXAMPLES["ci"],
    stateful_step_count=STEPS["ci"],
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "thorough",
    max_examples=EXAMPLES["thorough"],
    stateful_step_count=STEPS["thorough"],
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def active_profile() -> str:
    """``HYPOTHESIS_PROFILE`` if set, else ``ci`` under ``CI=true``, else ``dev``."""
    chosen = os.environ.get("HYPOTHESIS_PROFILE")
    if chosen:
        return chosen
    return "ci" if os.environ.get("CI", "").lower() in {"1", "true", "yes"} else "dev"


def load() -> str:
    """Load and return the active profile."""
    name = active_profile()
    settings.load_profile(name)
    return name
