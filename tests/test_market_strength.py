"""Does the harness find each deliberately broken market variant (exhaustive search; some also at random)?"""

from __future__ import annotations

import pytest
from hypothesis import Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from model.market_state import DEFAULT_RULES
from model.state import Profile
from stateful_tests.exhaustive import SCOPES, explore_exhaustively
from stateful_tests.machines import HarnessFailure
from stateful_tests.market_machine import market_machine
from variants.broken_market import MARKET_VARIANTS, MarketVariant

CASES = [
    pytest.param(variant, profile, id=f"{variant.name}-{profile.value}")
    for variant in MARKET_VARIANTS
    for profile in sorted(variant.profiles, key=lambda p: p.value)
]
RANDOM = ("workers_not_freed", "finish_new_request", "cleanup_forgets_written_bytes")


def test_there_are_at_least_three_market_variants_with_distinct_names() -> None:
    """At least three broken markets, each named once, modelled on something real and aimed at named rules."""
    names = [v.name for v in MARKET_VARIANTS]
    assert len(names) >= 3
    assert len(set(names)) == len(names)
    assert all(v.summary and v.modelled_on and v.detected_by and v.scope in SCOPES for v in MARKET_VARIANTS)


@pytest.mark.parametrize(("variant", "profile"), CASES)
def test_exhaustive_search_finds_variant(variant: MarketVariant, profile: Profile) -> None:
    """The breadth-first search of the variant's scope stops on a violation of a rule meant to catch it."""
    result = explore_exhaustively(profile, SCOPES[variant.scope], rules=variant.rules(profile))
    assert result.violation is not None, f"{variant.name} not found in {result.states} states"
    assert {v.rule for v in result.violation.violations} & variant.detected_by, result.violation


def _rules(failure: BaseException) -> frozenset[str]:
    if isinstance(failure, HarnessFailure):
        return failure.rules
    if isinstance(failure, BaseExceptionGroup):
        return frozenset().union(*(_rules(sub) for sub in failure.exceptions))
    return frozenset()


@pytest.mark.parametrize(("variant", "profile"), [c for c in CASES if c.values[0].name in RANDOM])  # type: ignore[union-attr]
def test_market_machine_finds_variant(variant: MarketVariant, profile: Profile) -> None:
    """The random market machine (ci budget) fails on the variant through a rule meant to catch it."""
    ci = settings(settings.get_profile("ci"), phases=[Phase.explicit, Phase.reuse, Phase.generate], print_blob=False)
    with pytest.raises(Exception) as caught:  # noqa: PT011 - a HarnessFailure, or a group of them
        run_state_machine_as_test(market_machine(profile, rules=variant.rules(profile)), settings=ci)
    assert _rules(caught.value) & variant.detected_by, caught.value


def test_market_variants_never_leak_into_the_model() -> None:
    """Building every variant's rules leaves the profiles' real market rules untouched."""
    before = {profile: (dict(r.table), dict(r.endings), r.push, r.take) for profile, r in DEFAULT_RULES.items()}
    for variant in MARKET_VARIANTS:
        for profile in variant.profiles:
            assert variant.rules(profile) != DEFAULT_RULES[profile]
    after = {profile: (dict(r.table), dict(r.endings), r.push, r.take) for profile, r in DEFAULT_RULES.items()}
    assert after == before
