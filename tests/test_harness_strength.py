"""Does the harness find each deliberately broken variant within the ci profile's budget?"""

from __future__ import annotations

import pytest
from hypothesis import Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from model.state import Profile
from stateful_tests.machines import HarnessFailure, reservations_machine
from variants import VARIANTS, Variant

CASES = [
    pytest.param(variant, profile, id=f"{variant.name}-{profile.value}")
    for variant in VARIANTS
    for profile in sorted(variant.profiles, key=lambda p: p.value)
]


def _rules(failure: BaseException) -> frozenset[str]:
    if isinstance(failure, HarnessFailure):
        return failure.rules
    if isinstance(failure, BaseExceptionGroup):
        return frozenset().union(*(_rules(sub) for sub in failure.exceptions))
    return frozenset()


def test_there_are_at_least_ten_variants_with_distinct_names() -> None:
    """The catalogue holds at least ten broken variants, each named once and modelled on something real."""
    names = [v.name for v in VARIANTS]
    assert len(names) >= 10
    assert len(set(names)) == len(names)
    assert all(v.modelled_on and v.summary and v.detected_by for v in VARIANTS)


@pytest.mark.parametrize(("variant", "profile"), CASES)
def test_harness_finds_variant(variant: Variant, profile: Profile) -> None:
    """The ci-budget stateful exploration fails on the variant, through one of the rules meant to catch it."""
    ci = settings(settings.get_profile("ci"), phases=[Phase.explicit, Phase.reuse, Phase.generate], print_blob=False)
    with pytest.raises(Exception) as caught:  # noqa: PT011 - a HarnessFailure, or a group of them
        run_state_machine_as_test(reservations_machine(profile, operations=variant.operations(profile)), settings=ci)
    assert _rules(caught.value) & variant.detected_by, caught.value


def test_variants_never_leak_into_the_model() -> None:
    """Building every variant's table leaves the model's own operation tables untouched."""
    from model.actions import OPERATIONS

    before = {profile: dict(table) for profile, table in OPERATIONS.items()}
    for variant in VARIANTS:
        for profile in variant.profiles:
            assert variant.operations(profile) is not OPERATIONS[profile]
    assert {profile: dict(table) for profile, table in OPERATIONS.items()} == before
