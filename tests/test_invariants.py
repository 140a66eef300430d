"""Unit tests of ``invariants``: every named rule stays silent on correct steps and catches a concrete breach.

Correct states and steps come from the real model; breaches are hand-built with ``attrs.evolve``
on a real state, or are wrong outcomes (an ``Accepted`` post-state or a rejection) paired with
a real pre-state and action.
"""

from __future__ import annotations

import re

import attrs
import pytest
from scenario import QUOTA, apply_ok

import invariants
from invariants import INVARIANTS, TRANSITION_PROPERTIES, check_state, check_transition
from model import errors
from model.actions import (
    Accepted,
    CreateAvailability535,
    CreateAvailabilityHead,
    CreateReservation535,
    CreateReservationHead,
    DeleteInactiveReservations,
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
from model.numbers import U64_MAX
from model.state import Profile, initial_state

# --- building states from actions ---------------------------------------------------------


def head(*actions):
    """A codex-head node with a 1000-byte repo after the given actions, each of which must be accepted."""
    state = initial_state(Profile.CODEX_HEAD, quota_max_bytes=QUOTA)
    for action in actions:
        state = apply_ok(state, action)
    return state


def old(*actions):
    """A codex-535 node with a 1000-byte repo after the given actions, each of which must be accepted."""
    state = initial_state(Profile.CODEX_535, quota_max_bytes=QUOTA)
    for action in actions:
        state = apply_ok(state, action)
    return state


def evolve_in(state, collection, key, **changes):
    """``state`` with the record ``key`` of ``collection`` (a field of the state) changed directly."""
    records = getattr(state, collection)
    return attrs.evolve(state, **{collection: records.set(key, attrs.evolve(records[key], **changes))})


def with_repo(state, **changes):
    """``state`` with repo counters changed directly."""
    return attrs.evolve(state, repo=attrs.evolve(state.repo, **changes))


def offer(availability_id="a", total_size=100, total_collateral=1000, until=0):
    """A HEAD create of an availability: duration 60, min price 2."""
    return CreateAvailabilityHead(
        availability_id=availability_id,
        total_size=total_size,
        duration=60,
        min_price_per_byte_per_second=2,
        total_collateral=total_collateral,
        until=until,
    )


def reserve(reservation_id="r", availability_id="a", slot_size=40, cpb=5, valid_until=500, request_id="q", index=0):
    """A HEAD create of a reservation for slot ``(request_id, index)``."""
    return CreateReservationHead(
        availability_id=availability_id,
        reservation_id=reservation_id,
        slot_size=slot_size,
        request_id=request_id,
        slot_index=index,
        collateral_per_byte=cpb,
        valid_until=valid_until,
    )


def release(bytes, reservation_id="r", availability_id="a"):
    """A release of one downloaded batch."""
    return ReleaseBytes(reservation_id=reservation_id, availability_id=availability_id, bytes=bytes)


def return_bytes(bytes=40, reservation_id="r", availability_id="a"):
    """The cleanup's return of a slot's bytes."""
    return ReturnBytesToAvailability(availability_id=availability_id, reservation_id=reservation_id, bytes=bytes)


def delete(reservation_id="r", availability_id="a", returned_collateral=None):
    """A HEAD delete of a reservation."""
    return DeleteReservationHead(
        reservation_id=reservation_id, availability_id=availability_id, returned_collateral=returned_collateral
    )


def offer_old(availability_id="a", size=100):
    """A codex-535 create of an availability: duration 60, min price 10, max collateral 50."""
    return CreateAvailability535(
        availability_id=availability_id, size=size, duration=60, min_price=10, max_collateral=50
    )


def reserve_old(reservation_id="r", availability_id="a", slot_size=40, request_id="q", index=0):
    """A codex-535 create of a reservation."""
    return CreateReservation535(
        availability_id=availability_id,
        reservation_id=reservation_id,
        slot_size=slot_size,
        request_id=request_id,
        slot_index=index,
    )


FIND = FindAvailabilityHead(size=10, duration=60, price_per_byte_per_second=2, collateral_per_byte=5, valid_until=500)
FIND_OLD = FindAvailability535(size=10, duration=60, min_price=10, collateral=50)

#: A whole life of two availabilities per profile, every step accepted and every rule satisfied.
SALES = {
    Profile.CODEX_HEAD: (
        offer(until=1000),
        offer("b", total_size=50, total_collateral=100),
        reserve(),
        StoreBlock(bytes=10),
        release(10),
        StoreBlock(bytes=20),
        release(20),
        FIND,
        UpdateAvailability(availability_id="a", total_size=150, duration=90),
        return_bytes(),
        delete(returned_collateral=200),
        reserve("s", "b", slot_size=50, cpb=2, valid_until=2000, index=1),
        StoreBlock(bytes=5),
        release(5, "s", "b"),
        UpdateAvailability(availability_id="a", total_size=120, until=900),
        return_bytes(50, "s", "b"),
        delete("s", "b", returned_collateral=100),
        reserve("t", slot_size=10, cpb=0, valid_until=900, request_id="p"),
        reserve("u", slot_size=20, cpb=1, valid_until=800, request_id="p", index=1),
        DeleteInactiveReservations(active_slots=frozenset({("p", 1)})),
        ExpireBlock(bytes=35),
    ),
    Profile.CODEX_535: (
        offer_old(),
        offer_old("b", size=200),
        reserve_old(),
        reserve_old("s", "b", slot_size=50, index=1),
        StoreBlock(bytes=15),
        release(15),
        FIND_OLD,
        DeleteReservation535(reservation_id="r", availability_id="a"),
        DeleteInactiveReservations(active_slots=frozenset({("q", 1)})),
        reserve_old("t", slot_size=10, request_id="p"),
        DeleteInactiveReservations(active_slots=frozenset()),
        ExpireBlock(bytes=15),
    ),
}


def walk(profile):
    """Every (pre-state, action, outcome) of the profile's sale scenario."""
    state = initial_state(profile, quota_max_bytes=QUOTA)
    for action in SALES[profile]:
        outcome = apply(state, action)
        assert isinstance(outcome, Accepted), f"{action!r} was refused: {outcome!r}"
        yield state, action, outcome
        state = outcome.state


def _profile_order(profile):
    return profile.value


def _rule_name(rule):
    return rule.name


# --- the catalogue --------------------------------------------------------------------------


def test_catalogue_rule_names_are_unique():
    """No two rules, invariant or transition property, share a name."""
    names = [r.name for r in (*INVARIANTS, *TRANSITION_PROPERTIES)]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("rule", [*INVARIANTS, *TRANSITION_PROPERTIES], ids=_rule_name)
def test_catalogue_rule_is_documented(rule):
    """Every rule has a snake_case name, a one-sentence statement, a spec reference and at least one profile."""
    assert re.fullmatch(r"[a-z][a-z0-9_]*", rule.name)
    assert re.fullmatch(r"[A-Z][^.]*(\.[^ .][^.]*)*\.", rule.statement), rule.statement
    assert rule.spec.startswith("§")
    assert rule.profiles
    assert invariants.rule(rule.name) is rule


def test_rule_unknown_name_raises_key_error():
    """Looking up a name the catalogue lacks raises KeyError."""
    with pytest.raises(KeyError):
        invariants.rule("no_such_rule")


def test_rules_for_codex535_leaves_out_head_only_rules():
    """codex-535 is checked against every rule except those that name HEAD-only fields or operations."""
    state_rules, step_rules = invariants.rules_for(Profile.CODEX_535)
    assert {r.name for r in state_rules} == {
        "repo_within_quota",
        "repo_reserved_identity",
        "reserved_bytes_within_total",
        "reservation_size_within_slot",
        "reservation_has_availability",
    }
    assert {r.name for r in step_rules} == {p.name for p in TRANSITION_PROPERTIES} - {
        "return_then_delete_returns_slot_size",
        "return_bytes_re_reserves_written",
        "update_availability_follows_patch",
    }


# --- state invariants: silent on a correct sale ---------------------------------------------


@pytest.mark.parametrize("invariant", INVARIANTS, ids=_rule_name)
def test_invariant_holds_through_a_sale(invariant):
    """The invariant yields no violation in any state of a full sale, in every profile it applies to."""
    for profile in sorted(invariant.profiles, key=_profile_order):
        for _, _, outcome in walk(profile):
            assert list(invariant.check(outcome.state)) == []


# --- state invariants: each catches a concrete breach ---------------------------------------


def _overcommitted_repo():
    """Stored blocks fill the repo while an availability still reserves 100 bytes."""
    return with_repo(head(offer()), used=QUOTA)


def _reserved_counter_short():
    """The repo counts one reserved byte fewer than the codex-535 availability offers."""
    return with_repo(old(offer_old()), reserved=99)


def _old_size_inflated():
    """A codex-535 availability offers 110 bytes after being created with 100 (the repo agrees with it)."""
    return with_repo(evolve_in(old(offer_old()), "availabilities", "a", size=110), reserved=110)


def _free_above_total():
    """Free size 150 on an availability of total size 100."""
    return evolve_in(head(offer()), "availabilities", "a", free_size=150)


def _reservation_grown():
    """A reservation of slot size 40 that holds 50 bytes."""
    return evolve_in(head(offer(), reserve()), "reservations", "r", size=50)


def _reservation_unindexed():
    """A reservation its availability's ledger does not list."""
    state = head(offer(), reserve())
    ledger = state.availability_ledgers["a"]
    return evolve_in(state, "availability_ledgers", "a", reservations=ledger.reservations.delete("r"))


def _until_below_reservation():
    """An availability limited to 400 hosting a reservation valid until 500."""
    return evolve_in(head(offer(), reserve()), "availabilities", "a", until=400)


def _until_negative():
    """An availability whose until is -1 (creation and PATCH refuse that)."""
    return evolve_in(head(offer()), "availabilities", "a", until=-1)


def _collateral_above_total():
    """Remaining collateral 1001 of a total of 1000, with no reservation."""
    return evolve_in(head(offer()), "availabilities", "a", total_remaining_collateral=1001)


def _collateral_drifted():
    """Remaining collateral 700 although the only reservation took 200 of 1000."""
    return evolve_in(head(offer(), reserve()), "availabilities", "a", total_remaining_collateral=700)


def _returned_unwritten():
    """A reservation whose ledger counts 5 bytes returned although none was written."""
    return evolve_in(head(offer(), reserve()), "reservation_ledgers", "r", returned=5)


#: rule name -> (broken state, violating entity, expected, observed)
BROKEN_STATES = {
    "repo_within_quota": (_overcommitted_repo, "repo", QUOTA, QUOTA + 100),
    "repo_reserved_identity": (_reserved_counter_short, "repo", 100, 99),
    "reserved_bytes_within_total": (_old_size_inflated, "a", 100, 110),
    "free_size_within_total": (_free_above_total, "a", 100, 150),
    "reservation_size_within_slot": (_reservation_grown, "r", 40, 50),
    "reservation_has_availability": (_reservation_unindexed, "r", None, None),
    "until_covers_reservations": (_until_below_reservation, "r", 400, 500),
    "until_not_negative": (_until_negative, "a", 0, -1),
    "collateral_within_total": (_collateral_above_total, "a", 1000, 1001),
    "collateral_conserved": (_collateral_drifted, "a", 1000, 900),
    "returned_within_written": (_returned_unwritten, "r", 0, 5),
}


def test_every_invariant_has_a_broken_state():
    """The table of breaches covers exactly the catalogue's invariants."""
    assert set(BROKEN_STATES) == {i.name for i in INVARIANTS}


@pytest.mark.parametrize("name", sorted(BROKEN_STATES))
def test_check_state_reports_broken_state(name):
    """``check_state`` reports the hand-built breach under the invariant's name, on the right entity."""
    build, entity, expected, observed = BROKEN_STATES[name]
    reported = [(v.entity, v.expected, v.observed, v.known) for v in check_state(build()) if v.rule == name]
    assert (entity, expected, observed, None) in reported


@pytest.mark.parametrize(
    ("build", "entity", "expected", "observed"),
    [
        pytest.param(
            lambda: evolve_in(head(offer(), reserve()), "reservations", "r", availability_id="zz"),
            "r",
            None,
            None,
            id="availability_missing",
        ),
        pytest.param(_reservation_unindexed, "a", 0, 500, id="index_lists_fewer"),
        pytest.param(
            lambda: evolve_in(head(offer(), reserve()), "availability_ledgers", "a", latest_valid_until=600),
            "a",
            500,
            600,
            id="stale_latest_valid_until",
        ),
    ],
)
def test_reservation_has_availability_reports_each_broken_link(build, entity, expected, observed):
    """A reservation without its availability, a short index and a stale latest valid_until are each reported."""
    reported = [
        (v.entity, v.expected, v.observed) for v in check_state(build()) if v.rule == "reservation_has_availability"
    ]
    assert (entity, expected, observed) in reported


def test_returned_within_written_reports_negative_lost():
    """An availability whose ledger lost a negative number of bytes has had more returned than written."""
    state = evolve_in(head(offer()), "availability_ledgers", "a", lost=-3)
    reported = [(v.entity, v.observed) for v in check_state(state) if v.rule == "returned_within_written"]
    assert reported == [("a", -3)]


def test_check_state_reports_double_return():
    """Returning a slot twice (nim-codex allows it) lifts free above total and returned above written."""
    state = head(offer(), reserve(), release(30), return_bytes(), return_bytes())
    rules = {v.rule for v in check_state(state)}
    assert {"returned_within_written", "free_size_within_total"} <= rules


def test_collateral_within_total_known_after_patch_reset():
    """PATCH totalCollateral with a live reservation, then a delete returning collateral, is known #1147."""
    state = head(
        offer(),
        reserve(),
        UpdateAvailability(availability_id="a", total_collateral=1000),
        delete(returned_collateral=200),
    )
    reported = [v for v in check_state(state) if v.rule == "collateral_within_total"]
    assert [(v.entity, v.expected, v.observed, v.known) for v in reported] == [("a", 1000, 1200, "nim-codex#1147")]


def test_collateral_within_total_unknown_without_reset():
    """Returning more collateral than was taken, with no PATCH reset, is reported with no known issue."""
    state = head(offer(), reserve(), delete(returned_collateral=400))
    reported = [v for v in check_state(state) if v.rule == "collateral_within_total"]
    assert [(v.entity, v.expected, v.observed, v.known) for v in reported] == [("a", 1000, 1200, None)]


@pytest.mark.parametrize(
    ("actions", "known"),
    [
        pytest.param((delete(),), "spec §3.3 collateral leak", id="delete_without_collateral"),
        pytest.param((delete(returned_collateral=150),), "spec §3.3 collateral leak", id="partial_return"),
        pytest.param((UpdateAvailability(availability_id="a", total_collateral=600),), "nim-codex#1147", id="reset"),
        pytest.param((delete(returned_collateral=400),), None, id="over_return"),
    ],
)
def test_collateral_conserved_attributes_known_causes(actions, known):
    """Collateral not given back at delete is a known leak, a live reset is #1147, an over-return is unexplained."""
    state = head(offer(), reserve(), *actions)
    reported = [v.known for v in check_state(state) if v.rule == "collateral_conserved"]
    assert reported == [known]


def test_check_state_reports_reservation_without_ledger():
    """A live reservation with no ledger is reported under reservation_has_availability, not a crash elsewhere."""
    state = head(offer(), reserve())
    state = attrs.evolve(state, reservation_ledgers=state.reservation_ledgers.delete("r"))
    assert "reservation_has_availability" in {v.rule for v in check_state(state)}


def test_check_state_reports_availability_without_ledger():
    """An availability with no ledger is reported through its reservation, never a crash of another check."""
    state = head(offer(), reserve())
    state = attrs.evolve(state, availability_ledgers=state.availability_ledgers.delete("a"))
    assert "reservation_has_availability" in {v.rule for v in check_state(state)}


# --- transition properties: silent on correct steps -----------------------------------------


@pytest.mark.parametrize("profile", list(Profile), ids=_profile_order)
def test_check_transition_silent_through_a_sale(profile):
    """No transition property reports a step of a full, correct sale."""
    for pre, action, outcome in walk(profile):
        assert check_transition(pre, action, outcome) == [], action


#: rule name -> (pre-state, action) of a correct step the property inspects
CORRECT_STEPS = {
    "delete_returns_remaining_bytes": lambda: (head(offer(), reserve(), release(10)), delete(returned_collateral=200)),
    "return_then_delete_returns_slot_size": lambda: (
        head(offer(), reserve(), release(30), return_bytes()),
        delete(returned_collateral=200),
    ),
    "release_moves_batch": lambda: (head(offer(), reserve()), release(10)),
    "create_reservation_moves_free_size": lambda: (head(offer()), reserve()),
    "create_availability_reserves_size": lambda: (head(), offer()),
    "return_bytes_re_reserves_written": lambda: (head(offer(), reserve(), release(30)), return_bytes()),
    "update_availability_follows_patch": lambda: (
        head(offer(), reserve()),
        UpdateAvailability(availability_id="a", total_size=150, duration=90, total_collateral=2000),
    ),
    "find_returns_first_match": lambda: (head(offer("b"), offer("a")), FIND),
    "restart_cleanup_deletes_inactive": lambda: (
        head(offer(), reserve(), reserve("s", slot_size=20, index=1), release(5, "s")),
        DeleteInactiveReservations(active_slots=frozenset({("q", 0)})),
    ),
    "reservation_size_never_grows": lambda: (head(offer(), reserve(), release(30)), return_bytes()),
    "rejection_is_justified": lambda: (head(offer()), reserve(slot_size=101)),
}


def test_every_transition_property_has_a_correct_step():
    """The table of correct steps covers exactly the catalogue's transition properties."""
    assert set(CORRECT_STEPS) == {p.name for p in TRANSITION_PROPERTIES}


@pytest.mark.parametrize("name", sorted(CORRECT_STEPS))
def test_check_transition_silent_on_correct_step(name):
    """The property, and every other one, is silent on the model's own outcome of its step."""
    pre, action = CORRECT_STEPS[name]()
    outcome = apply(pre, action)
    assert isinstance(outcome, errors.Rejection) is (name == "rejection_is_justified")
    assert check_transition(pre, action, outcome) == []


# --- transition properties: each catches a concrete wrong outcome ---------------------------


def _real(pre, action):
    outcome = apply(pre, action)
    assert isinstance(outcome, Accepted)
    return outcome.state


def _delete_returns_slot_size():
    """A delete that gives back the slot size (40) instead of the remaining 30 bytes."""
    pre, action = CORRECT_STEPS["delete_returns_remaining_bytes"]()
    post = _real(pre, action)
    return (
        pre,
        action,
        Accepted(state=evolve_in(post, "availabilities", "a", free_size=post.availabilities["a"].free_size + 10)),
    )


def _return_twice_then_delete():
    """The real model after two returns of the same slot: return plus delete give back 70 of a 40-byte slot."""
    pre = head(offer(), reserve(), release(30), return_bytes(), return_bytes())
    action = delete(returned_collateral=200)
    return pre, action, apply(pre, action)


def _release_keeps_repo():
    """A release that lowers the reservation but not the repo's reserved bytes."""
    pre, action = CORRECT_STEPS["release_moves_batch"]()
    return pre, action, Accepted(state=attrs.evolve(_real(pre, action), repo=pre.repo))


def _reservation_takes_no_collateral():
    """A reservation created without taking its collateral from the availability."""
    pre, action = CORRECT_STEPS["create_reservation_moves_free_size"]()
    post = evolve_in(_real(pre, action), "availabilities", "a", total_remaining_collateral=1000)
    return pre, action, Accepted(state=post)


def _availability_reserves_nothing():
    """An availability created without reserving its size in the repo."""
    pre, action = CORRECT_STEPS["create_availability_reserves_size"]()
    return pre, action, Accepted(state=attrs.evolve(_real(pre, action), repo=pre.repo))


def _return_skips_repo():
    """A return that adds to free size but does not re-reserve the bytes in the repo."""
    pre, action = CORRECT_STEPS["return_bytes_re_reserves_written"]()
    return pre, action, Accepted(state=attrs.evolve(_real(pre, action), repo=pre.repo))


def _patch_leaves_free_size():
    """A PATCH growing total size by 50 that leaves free size where it was."""
    pre, action = CORRECT_STEPS["update_availability_follows_patch"]()
    post = evolve_in(_real(pre, action), "availabilities", "a", free_size=pre.availabilities["a"].free_size)
    return pre, action, Accepted(state=post)


def _find_returns_larger_id():
    """A find answering "b" although "a" matches too."""
    pre, action = CORRECT_STEPS["find_returns_first_match"]()
    return pre, action, Accepted(state=pre, found="b")


def _cleanup_keeps_inactive():
    """A restart cleanup that deletes nothing although slot (q, 1) is inactive."""
    pre, action = CORRECT_STEPS["restart_cleanup_deletes_inactive"]()
    return pre, action, Accepted(state=pre)


def _return_refills_reservation():
    """A return that also puts the slot's bytes back into the reservation."""
    pre, action = CORRECT_STEPS["reservation_size_never_grows"]()
    return pre, action, Accepted(state=evolve_in(_real(pre, action), "reservations", "r", size=40))


def _unfounded_bytes_out_of_bounds():
    """A 40-byte reservation refused as too large for an availability with 100 free bytes."""
    pre = head(offer())
    action = reserve()
    return pre, action, errors.BytesOutOfBounds(entity="availability", id="a", requested=40, available=100)


BROKEN_STEPS = {
    "delete_returns_remaining_bytes": _delete_returns_slot_size,
    "return_then_delete_returns_slot_size": _return_twice_then_delete,
    "release_moves_batch": _release_keeps_repo,
    "create_reservation_moves_free_size": _reservation_takes_no_collateral,
    "create_availability_reserves_size": _availability_reserves_nothing,
    "return_bytes_re_reserves_written": _return_skips_repo,
    "update_availability_follows_patch": _patch_leaves_free_size,
    "find_returns_first_match": _find_returns_larger_id,
    "restart_cleanup_deletes_inactive": _cleanup_keeps_inactive,
    "reservation_size_never_grows": _return_refills_reservation,
    "rejection_is_justified": _unfounded_bytes_out_of_bounds,
}


def test_every_transition_property_has_a_broken_step():
    """The table of wrong outcomes covers exactly the catalogue's transition properties."""
    assert set(BROKEN_STEPS) == {p.name for p in TRANSITION_PROPERTIES}


@pytest.mark.parametrize("name", sorted(BROKEN_STEPS))
def test_check_transition_reports_broken_step(name):
    """``check_transition`` reports the wrong outcome under the property's name."""
    pre, action, outcome = BROKEN_STEPS[name]()
    assert name in {v.rule for v in check_transition(pre, action, outcome)}


def test_delete_returns_remaining_bytes_reports_amounts():
    """The wrong delete is reported on its availability with the expected and observed free sizes."""
    pre, action, outcome = _delete_returns_slot_size()
    reported = [(v.entity, v.expected, v.observed) for v in check_transition(pre, action, outcome)]
    assert ("a", 90, 100) in reported


def test_return_then_delete_reports_double_return_amounts():
    """Two returns then a delete are reported with the slot size expected and 60 returned + 10 remaining observed."""
    pre, action, outcome = _return_twice_then_delete()
    reported = [
        (v.entity, v.expected, v.observed)
        for v in check_transition(pre, action, outcome)
        if v.rule == "return_then_delete_returns_slot_size"
    ]
    assert reported == [("r", 40, 70)]


def test_delete_returns_remaining_bytes_reports_missing_delete_that_changes_state():
    """Deleting a missing reservation must change nothing; an outcome that changed the state is reported."""
    pre = head(offer(), reserve())
    action = delete("zz")
    changed = evolve_in(pre, "availabilities", "a", free_size=0)
    assert "delete_returns_remaining_bytes" in {v.rule for v in check_transition(pre, action, Accepted(state=changed))}


def test_delete_returns_remaining_bytes_reports_codex535_delete_returning_written_bytes():
    """A codex-535 delete that gives written bytes back too (not consumed for good) is reported."""
    pre = old(offer_old(), reserve_old(), release(15))
    action = DeleteReservation535(reservation_id="r", availability_id="a")
    post = evolve_in(_real(pre, action), "availabilities", "a", size=100)
    assert "delete_returns_remaining_bytes" in {v.rule for v in check_transition(pre, action, Accepted(state=post))}


def test_find_returns_first_match_reports_changed_state():
    """A find must leave the state alone; an outcome carrying another state is reported."""
    pre, action = CORRECT_STEPS["find_returns_first_match"]()
    outcome = Accepted(state=head(offer("a")), found="a")
    assert "find_returns_first_match" in {v.rule for v in check_transition(pre, action, outcome)}


def test_properties_ignore_actions_they_do_not_name():
    """A property restricted to deletes says nothing about a wrong release outcome."""
    pre, action, outcome = _release_keeps_repo()
    reported = {v.rule for v in check_transition(pre, action, outcome)}
    assert reported == {"release_moves_batch"}


def test_check_transition_reports_accepted_release_of_missing_reservation():
    """An implementation that accepts a release of a missing reservation is reported, not a crash of the check."""
    pre = head(offer())
    assert "release_moves_batch" in {v.rule for v in check_transition(pre, release(1, "zz"), Accepted(state=pre))}


def _without_a(state):
    return attrs.evolve(state, availabilities=state.availabilities.delete("a"))


@pytest.mark.parametrize(
    ("name", "build", "action", "post"),
    [
        pytest.param(
            "return_bytes_re_reserves_written",
            lambda: head(offer()),
            return_bytes(reservation_id="zz"),
            lambda pre: pre,
            id="return_missing_reservation",
        ),
        pytest.param(
            "create_reservation_moves_free_size",
            lambda: head(offer()),
            reserve(availability_id="zz"),
            lambda pre: pre,
            id="reserve_missing_availability",
        ),
        pytest.param(
            "update_availability_follows_patch",
            lambda: head(offer()),
            UpdateAvailability(availability_id="zz", total_size=5),
            lambda pre: pre,
            id="patch_missing_availability",
        ),
        pytest.param(
            "delete_returns_remaining_bytes",
            lambda: head(offer(), reserve()),
            delete(),
            lambda pre: _without_a(attrs.evolve(pre, reservations=pre.reservations.delete("r"))),
            id="delete_drops_availability",
        ),
        pytest.param(
            "restart_cleanup_deletes_inactive",
            lambda: head(offer(), reserve()),
            DeleteInactiveReservations(active_slots=frozenset({("q", 0)})),
            _without_a,
            id="cleanup_drops_availability",
        ),
    ],
)
def test_check_transition_reports_accepted_step_on_missing_record(name, build, action, post):
    """An accepted step whose record is missing before or after is reported under the property, never a KeyError."""
    pre = build()
    assert name in {v.rule for v in check_transition(pre, action, Accepted(state=post(pre)))}


# --- rejection_is_justified, kind by kind ---------------------------------------------------


def _drained():
    return with_repo(head(offer(), reserve()), reserved=10)


def _huge_free():
    return evolve_in(head(offer(), reserve()), "availabilities", "a", free_size=U64_MAX, total_size=U64_MAX)


def _free_over_total():
    return evolve_in(head(offer()), "availabilities", "a", free_size=150)


REAL_REJECTIONS = [
    pytest.param(lambda: head(offer()), reserve(slot_size=101), errors.BytesOutOfBounds, id="bytes_availability"),
    pytest.param(lambda: head(offer(), reserve()), release(41), errors.BytesOutOfBounds, id="bytes_reservation"),
    pytest.param(lambda: head(offer()), reserve(availability_id="zz"), errors.NotExists, id="not_exists_availability"),
    pytest.param(
        lambda: head(offer(), reserve()), release(1, "r", "zz"), errors.NotExists, id="not_exists_reservation"
    ),
    pytest.param(lambda: head(offer()), offer(), errors.IdInUse, id="id_in_use"),
    pytest.param(head, offer(total_size=QUOTA + 1), errors.ReserveFailed, id="reserve_failed"),
    pytest.param(lambda: head(offer()), StoreBlock(bytes=901), errors.QuotaNotEnough, id="quota_not_enough"),
    pytest.param(_drained, release(11), errors.ReleaseFailed, id="release_failed"),
    pytest.param(head, ExpireBlock(bytes=1), errors.QuotaUnderflow, id="quota_underflow"),
    pytest.param(head, offer(until=-1), errors.UntilOutOfBounds, id="until_negative"),
    pytest.param(
        lambda: head(offer(), reserve()),
        UpdateAvailability(availability_id="a", until=499),
        errors.UntilOutOfBounds,
        id="until_below_valid_until",
    ),
    pytest.param(
        lambda: head(offer(until=400)), reserve(valid_until=401), errors.UntilOutOfBounds, id="until_new_reservation"
    ),
    pytest.param(lambda: head(offer()), reserve(slot_size=100, cpb=11), errors.CollateralUnderflow, id="collateral"),
    pytest.param(
        lambda: head(offer(), reserve()),
        UpdateAvailability(availability_id="a", total_size=39),
        errors.TotalSizeBelowUsed,
        id="below_used",
    ),
    pytest.param(
        lambda: head(offer()),
        UpdateAvailability(availability_id="a", total_size=900),
        errors.NotEnoughStorageQuota,
        id="not_enough_storage_quota",
    ),
    pytest.param(head, offer(total_size=-1), errors.OutOfRange, id="out_of_range"),
    pytest.param(_huge_free, delete(), errors.Overflow, id="overflow"),
    pytest.param(
        lambda: head(offer(), reserve()), return_bytes(39), errors.ReturnBytesUnderflow, id="return_underflow"
    ),
    pytest.param(
        lambda: head(offer()), UpdateAvailability(availability_id="a", total_size=0), errors.TotalSizeZero, id="zero"
    ),
    pytest.param(
        lambda: head(offer()),
        UpdateAvailability(availability_id="a", free_size=10),
        errors.FreeSizeNotUpdatable,
        id="free_size",
    ),
    pytest.param(
        _free_over_total,
        UpdateAvailability(availability_id="a", total_size=120),
        errors.TotalSizeUnderflow,
        id="total_underflow",
    ),
    pytest.param(lambda: head(offer()), offer_old(), errors.UnsupportedOperation, id="unsupported"),
    pytest.param(lambda: old(offer_old()), reserve_old(slot_size=101), errors.BytesOutOfBounds, id="codex535_bytes"),
    pytest.param(
        lambda: old(offer_old(), reserve_old()),
        DeleteReservation535(reservation_id="r", availability_id="zz"),
        None,
        id="codex535_missing_delete_is_accepted",
    ),
]


@pytest.mark.parametrize(("build", "action", "kind"), REAL_REJECTIONS)
def test_rejection_is_justified_silent_on_model_rejections(build, action, kind):
    """Every rejection the model really makes is borne out by its pre-state."""
    pre = build()
    outcome = apply(pre, action)
    assert type(outcome) is kind if kind is not None else isinstance(outcome, Accepted)
    assert check_transition(pre, action, outcome) == []


UNFOUNDED_REJECTIONS = [
    pytest.param(
        lambda: head(offer(), reserve()),
        release(10),
        errors.BytesOutOfBounds(entity="reservation", id="r", requested=10, available=40),
        id="bytes_reservation",
    ),
    pytest.param(
        lambda: head(offer()), reserve(), errors.NotExists(entity="availability", id="a"), id="not_exists_availability"
    ),
    pytest.param(
        lambda: head(offer(), reserve()),
        release(1),
        errors.NotExists(entity="reservation", id="r"),
        id="not_exists_reservation",
    ),
    pytest.param(lambda: head(offer()), offer("b"), errors.IdInUse(entity="availability", id="b"), id="id_in_use"),
    pytest.param(
        head,
        offer(),
        errors.ReserveFailed(parent=errors.QuotaNotEnough(requested=100, used=0, reserved=0, max_bytes=QUOTA)),
        id="reserve_failed",
    ),
    pytest.param(
        lambda: head(offer()),
        StoreBlock(bytes=10),
        errors.QuotaNotEnough(requested=10, used=0, reserved=100, max_bytes=QUOTA),
        id="quota_not_enough",
    ),
    pytest.param(
        lambda: head(offer()),
        StoreBlock(bytes=901),
        errors.QuotaNotEnough(requested=901, used=0, reserved=0, max_bytes=QUOTA),
        id="quota_not_enough_stale_counters",
    ),
    pytest.param(
        lambda: head(offer(), reserve()),
        release(10),
        errors.ReleaseFailed(parent=errors.QuotaUnderflow(counter="reserved", requested=10, current=100)),
        id="release_failed",
    ),
    pytest.param(
        lambda: head(StoreBlock(bytes=300)),
        ExpireBlock(bytes=10),
        errors.QuotaUnderflow(counter="used", requested=10, current=300),
        id="quota_underflow",
    ),
    pytest.param(
        lambda: head(offer(), reserve()),
        UpdateAvailability(availability_id="a", until=600),
        errors.UntilOutOfBounds(availability_id="a", until=600, latest_valid_until=500),
        id="until_covering",
    ),
    pytest.param(
        lambda: head(offer()),
        UpdateAvailability(availability_id="a", until=5),
        errors.UntilOutOfBounds(availability_id="a", until=-1, latest_valid_until=0),
        id="until_negative_not_asked",
    ),
    pytest.param(
        lambda: head(offer()),
        reserve(),
        errors.CollateralUnderflow(availability_id="a", required=200, remaining=1000),
        id="collateral",
    ),
    pytest.param(
        lambda: head(offer(), reserve()),
        UpdateAvailability(availability_id="a", total_size=50),
        errors.TotalSizeBelowUsed(availability_id="a", requested=50, used=40),
        id="below_used",
    ),
    pytest.param(
        lambda: head(offer()),
        UpdateAvailability(availability_id="a", total_size=150),
        errors.NotEnoughStorageQuota(requested=150, available=900),
        id="not_enough_storage_quota",
    ),
    pytest.param(head, offer(), errors.OutOfRange(field="total_size", value=100, low=0, high=U64_MAX), id="range"),
    pytest.param(
        lambda: head(offer(), reserve()),
        delete(),
        errors.Overflow(field="free_size", value=60, addend=40, high=U64_MAX),
        id="overflow",
    ),
    pytest.param(
        lambda: head(offer(), reserve()),
        return_bytes(40),
        errors.ReturnBytesUnderflow(reservation_id="r", bytes=40, reservation_size=40),
        id="return_underflow",
    ),
    pytest.param(
        lambda: head(offer()),
        UpdateAvailability(availability_id="a", total_size=10),
        errors.TotalSizeZero(availability_id="a"),
        id="zero",
    ),
    pytest.param(
        lambda: head(offer()),
        UpdateAvailability(availability_id="a", total_size=150),
        errors.FreeSizeNotUpdatable(availability_id="a"),
        id="free_size",
    ),
    pytest.param(
        lambda: head(offer()),
        UpdateAvailability(availability_id="a", total_size=50),
        errors.TotalSizeUnderflow(availability_id="a", total_size=100, free_size=150),
        id="total_underflow",
    ),
]


@pytest.mark.parametrize(("build", "action", "rejection"), UNFOUNDED_REJECTIONS)
def test_rejection_is_justified_reports_unfounded_rejection(build, action, rejection):
    """A rejection the pre-state does not bear out is reported under ``rejection_is_justified``."""
    pre = build()
    assert "rejection_is_justified" in {v.rule for v in check_transition(pre, action, rejection)}


def test_rejection_is_justified_reports_unsupported_supported_action():
    """Refusing an action the profile supports as unsupported is reported."""
    pre = head(offer())
    refusal = errors.UnsupportedOperation(profile="codex-head", operation="CreateReservationHead")
    assert "rejection_is_justified" in {v.rule for v in check_transition(pre, reserve(), refusal)}


# --- the scoped forms (catalogue rules 4 and 5) ---------------------------------------------------


def _states_along_a_mix(events: int = 300) -> list[object]:
    """Every state a seeded mix of the benchmark passes through (codex-head)."""
    import random

    from bench.bench_trace import QUOTA as BENCH_QUOTA
    from bench.bench_trace import _next_action

    rng = random.Random(7)
    state = initial_state(Profile.CODEX_HEAD, quota_max_bytes=BENCH_QUOTA)
    counter, pending, found = [0, 0], [], [state]
    for _ in range(events):
        outcome = apply(state, _next_action(rng, state, counter, pending))
        if isinstance(outcome, Accepted) and outcome.state is not state:
            state = outcome.state
            found.append(state)
    return found


def _by_entity(state: object, ids: set[str]) -> dict[str, list[object]]:
    found: dict[str, list[object]] = {}
    for invariant in INVARIANTS:
        if invariant.local is not None and state.profile in invariant.profiles:  # type: ignore[attr-defined]
            for v in invariant.check(state):
                if v.entity in ids:
                    found.setdefault(v.entity, []).append(v)
    return found


def test_scoped_checks_yield_what_the_whole_check_yields_for_the_scope():
    """Rule 4: ``local(state, scope)`` is ``check(state)`` restricted to the scope's records."""
    for state in _states_along_a_mix()[::7]:
        aids, rids = sorted(state.availabilities)[:3], sorted(state.reservations)[::2]
        scope = invariants.catalogue.Scope.of(aids, rids)
        for invariant in INVARIANTS:
            if invariant.local is None or state.profile not in invariant.profiles:
                continue
            whole = [v for v in invariant.check(state) if v.entity in {*aids, *rids}]
            assert list(invariant.local(state, scope)) == whole, invariant.name


AVAILABILITY_CHANGES = {
    "total_size": lambda a: a.total_size + 1,
    "free_size": lambda a: a.free_size + 1,
    "duration": lambda a: a.duration + 1,
    "min_price_per_byte_per_second": lambda a: a.min_price_per_byte_per_second + 1,
    "total_collateral": lambda a: a.total_collateral // 2,
    "total_remaining_collateral": lambda a: a.total_remaining_collateral + 3,
    "enabled": lambda a: not a.enabled,
}
LEDGER_CHANGES = {
    "lost": lambda ledger: ledger.lost + 5,
    "latest_valid_until": lambda ledger: ledger.latest_valid_until + 1,
    "collateral_reset_live": lambda ledger: not ledger.collateral_reset_live,
    "collateral_leaked": lambda ledger: ledger.collateral_leaked + 2,
}


def _breaking_reservation_claims(state, aid):
    """``state`` with claims about ``aid``'s reservations broken: an until before their valid_until,
    the first one larger than its slot and credited with more returned bytes than it wrote."""
    availability = attrs.evolve(state.availabilities[aid], until=1)
    rid = sorted(state.availability_ledgers[aid].reservations)[0]
    ledger = state.reservation_ledgers[rid]
    grown = attrs.evolve(state.reservations[rid], size=ledger.slot_size + 1)
    credited = attrs.evolve(ledger, returned=ledger.slot_size)
    return attrs.evolve(
        state,
        availabilities=state.availabilities.set(aid, availability),
        reservations=state.reservations.set(rid, grown),
        reservation_ledgers=state.reservation_ledgers.set(rid, credited),
    )


@pytest.mark.parametrize("field", [*AVAILABILITY_CHANGES, *LEDGER_CHANGES])
def test_a_reservations_claims_read_no_other_availability_field(field):
    """Rule 4's contract: changing any field of an availability (or of its ledger) but its
    existence, ``until`` and index changes no violation reported against one of its reservations,
    which is why the incremental checker need not re-check them (oracle/pipeline.py rule 6)."""
    checked = 0
    for real in _states_along_a_mix()[::5]:
        for aid in real.availabilities:
            rids = set(real.availability_ledgers[aid].reservations)
            if not rids:
                continue
            state = _breaking_reservation_claims(real, aid)
            assert _by_entity(state, rids), "the broken state breaks some reservation's claim"
            availability, ledger = state.availabilities[aid], state.availability_ledgers[aid]
            if field in AVAILABILITY_CHANGES:
                changed = attrs.evolve(availability, **{field: AVAILABILITY_CHANGES[field](availability)})
                other = attrs.evolve(state, availabilities=state.availabilities.set(aid, changed))
            else:
                moved = attrs.evolve(ledger, **{field: LEDGER_CHANGES[field](ledger)})
                other = attrs.evolve(state, availability_ledgers=state.availability_ledgers.set(aid, moved))
            assert _by_entity(other, rids) == _by_entity(state, rids)
            checked += 1
    assert checked > 20


def test_a_reservations_claims_do_read_until():
    """The contract names ``until`` because a reservation's claim does read it: an until moved
    before a live reservation's valid_until breaks until_covers_reservations for that reservation."""
    state = head(offer(), reserve())
    moved = attrs.evolve(state.availabilities["a"], until=1)
    other = attrs.evolve(state, availabilities=state.availabilities.set("a", moved))
    assert "r" in _by_entity(other, {"r"})


@pytest.mark.parametrize("prop", TRANSITION_PROPERTIES, ids=_rule_name)
def test_a_property_says_nothing_about_steps_it_is_not_about(prop):
    """Rule 5: on a step whose action or outcome the property does not declare, it yields nothing;
    checked over every step of a mix (accepted and rejected, every operation)."""
    import random

    from bench.bench_trace import QUOTA as BENCH_QUOTA
    from bench.bench_trace import _next_action

    rng = random.Random(11)
    state = initial_state(Profile.CODEX_HEAD, quota_max_bytes=BENCH_QUOTA)
    counter, pending, skipped = [0, 0], [], 0
    unfounded = errors.NotExists(entity="availability", id="never")
    for _ in range(400):
        action = _next_action(rng, state, counter, pending)
        outcome = apply(state, action)
        accepted = isinstance(outcome, Accepted)
        post = outcome.state if accepted else state
        # wrong outcomes too: a state whose repo and a record moved, and an unfounded rejection
        wrong = attrs.evolve(post, repo=attrs.evolve(post.repo, reserved=post.repo.reserved + 1))
        if post.reservations:
            rid = sorted(post.reservations)[0]
            grown = attrs.evolve(post.reservations[rid], size=post.reservations[rid].size + 1)
            wrong = attrs.evolve(wrong, reservations=wrong.reservations.set(rid, grown))
        for answer in (outcome, Accepted(state=wrong, found="never"), unfounded):
            if Profile.CODEX_HEAD in prop.profiles and not prop.concerns(action.name, isinstance(answer, Accepted)):
                assert list(prop.check(state, action, answer)) == []
                skipped += 1
        state = post
    assert skipped
