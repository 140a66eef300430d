"""The Markdown report and its headline: golden files, the sentence, changed fields only, determinism.

Rules:
1. Every example counterexample is built by replaying real action sequences through the model
   (``reports.build.make``); the market one replays the shortest trace the exhaustive engine finds.
2. ``render(cx)`` is compared with a committed file under ``tests/golden/markdown/``; with
   ``UPDATE_GOLDEN=1`` the test rewrites the file instead (and then passes).
3. Rendering is the same under different ``PYTHONHASHSEED`` values (checked in subprocesses).

Mirrors: reports/markdown.py, reports/headline.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import attrs
import pytest
from scenario import head_reservation_1147

from model.actions import (
    CreateAvailability535,
    CreateAvailabilityHead,
    CreateReservation535,
    CreateReservationHead,
    DeleteReservationHead,
    ReleaseBytes,
    ReturnBytesToAvailability,
    UpdateAvailability,
)
from model.market import SaveAvailability
from model.state import Profile
from reports.build import make
from reports.counterexample import Counterexample, Found, Rec, Side, changes, flatten
from reports.headline import PHRASINGS, sentence
from reports.markdown import cell, describe_changes, expand, render
from stateful_tests.exhaustive import SCOPES, _availability, explore_exhaustively
from variants.broken import VARIANTS, Variant

GOLDEN = Path(__file__).parent / "golden" / "markdown"
HEAD, OLD = Profile.CODEX_HEAD, Profile.CODEX_535


def _variant(name: str) -> Variant:
    return next(v for v in VARIANTS if v.name == name)


def head_1147() -> Counterexample:
    """nim-codex#1147: PATCH totalCollateral with a live reservation, then return and delete."""
    actions = [
        *head_reservation_1147("q1"),
        UpdateAvailability(availability_id="a1", total_collateral=500),
        ReturnBytesToAvailability(availability_id="a1", reservation_id="r1", bytes=10),
        DeleteReservationHead(reservation_id="r1", availability_id="a1", returned_collateral=30),
    ]
    return make(
        rule="collateral_within_total",
        engine="hypothesis",
        profile=HEAD,
        level="reservations",
        actions=actions,
        setup={"quota_max_bytes": 1000},
        known="nim-codex#1147",
        reproduce="sales-model check --profile codex-head --budget default",
        notes=("hypothesis seed: 0 (shrunk to 5 steps)",),
    )


def head_delete_keeps_bytes() -> Counterexample:
    """The broken ``delete_keeps_bytes`` variant: a delete that gives no bytes back (not known)."""
    variant = _variant("delete_keeps_bytes")
    actions = [
        CreateAvailabilityHead(
            availability_id="a1", total_size=20, duration=10, min_price_per_byte_per_second=1, total_collateral=100
        ),
        CreateReservationHead(
            availability_id="a1",
            reservation_id="r1",
            slot_size=8,
            request_id="q1",
            slot_index=0,
            collateral_per_byte=1,
            valid_until=5,
        ),
        ReleaseBytes(reservation_id="r1", availability_id="a1", bytes=3),
        DeleteReservationHead(reservation_id="r1", availability_id="a1", returned_collateral=8),
    ]
    return make(
        rule="delete_returns_remaining_bytes",
        engine="hypothesis",
        profile=HEAD,
        level="reservations",
        actions=actions,
        setup={"quota_max_bytes": 100},
        operations=variant.operations(HEAD),
        variant=variant.name,
        reproduce="pytest tests/test_harness_strength.py -k delete_keeps_bytes",
    )


def old_release_keeps_reserved() -> Counterexample:
    """codex-535 with the broken ``release_keeps_repo_reserved`` variant, from a state (no setup)."""
    from model.actions import Accepted, apply
    from model.state import initial_state

    variant = _variant("release_keeps_repo_reserved")
    state = initial_state(OLD, quota_max_bytes=50)
    for action in (
        CreateAvailability535(availability_id="a1", size=30, duration=10, min_price=1, max_collateral=10),
        CreateReservation535(availability_id="a1", reservation_id="r1", slot_size=6, request_id="q1", slot_index=1),
    ):
        outcome = apply(state, action)
        assert isinstance(outcome, Accepted)
        state = outcome.state
    return make(
        rule="release_moves_batch",
        engine="z3",
        profile=OLD,
        level="reservations",
        actions=[ReleaseBytes(reservation_id="r1", availability_id="a1", bytes=4)],
        start=state,
        operations=variant.operations(OLD),
        variant=variant.name,
        reproduce="sales-model prove --profile codex-535 --scope 1x1",
        notes=("z3: sat in 0 s; values: bytes=4, size=6", "triage: real (reached in 2 steps)"),
    )


def market_errored_leak() -> Counterexample:
    """The shortest exhaustive trace to a sale that errored and gave no collateral back (spec §3.3)."""
    scope = SCOPES["tiny"]
    result = explore_exhaustively(HEAD, scope)
    example = result.known[("collateral_returned_on_end", "spec §3.3: SaleErrored passes no collateral")]
    setup = {
        "quota_max_bytes": scope.quota,
        "max_size": scope.max_size,
        "max_workers": scope.max_workers,
        "repair_discount": scope.repair_discount,
    }
    created = [
        SaveAvailability(action=_availability(HEAD, f"a{n}", size))
        for n, size in enumerate(scope.availabilities, start=1)
    ]
    return make(
        rule="collateral_returned_on_end",
        engine="exhaustive",
        profile=HEAD,
        level="market",
        actions=[*created, *example.trace],
        setup=setup,
        known=example.violations[0].known,
        reproduce="sales-model explore --profile codex-head --scope tiny --traces",
        notes=(f"scope tiny explored breadth first to depth {result.depth}: {result.states} states",),
    )


def divergence_with_sides() -> Counterexample:
    """A divergence: the model and an implementation disagree on fields after a step (made by evolve)."""
    base = head_delete_keeps_bytes()
    cx = attrs.evolve(
        base,
        rule="oracle_agrees",
        statement="The implementation's state after each step equals the model's.",
        spec="§2.7",
        kind="divergence",
        engine="oracle",
        variant=None,
        sides=(
            Side(step=3, field="availabilities[a1].free_size", expected=17, observed=12),
            Side(step=3, field="repo.reserved | used", expected=20, observed=20 - 5),
        ),
        notes=("oracle: nim-codex bd360322 via the REST API", "a note with a | pipe"),
    )
    return attrs.evolve(cx, summary=sentence(cx))


EXAMPLES: dict[str, Callable[[], Counterexample]] = {
    "head-1147": head_1147,
    "head-delete-keeps-bytes": head_delete_keeps_bytes,
    "codex535-release-keeps-reserved": old_release_keeps_reserved,
    "market-errored-leak": market_errored_leak,
    "divergence-sides": divergence_with_sides,
}


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_render_matches_golden(name: str) -> None:
    """The report is the committed one (rewrite with UPDATE_GOLDEN=1)."""
    text = render(EXAMPLES[name]())
    path = GOLDEN / f"{name}.md"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no golden file {path}; run with UPDATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8")


def test_sentence_names_operation_entity_and_numbers_of_the_issue_example() -> None:
    """The headline of a delete that keeps its bytes reads as the issue asks."""
    cx = head_delete_keeps_bytes()
    assert cx.summary == "`delete_reservation` (step 4) returned 0 bytes to availability a1 where 5 were unused"


def test_sentence_of_a_known_violation_names_its_reference() -> None:
    """#1147: the operation, the availability, observed and expected, and the known reference."""
    text = sentence(head_1147())
    for part in ("`delete_reservation` (step 5)", "a1", "530", "500", "(known: nim-codex#1147)"):
        assert part in text


def test_sentence_of_a_market_violation_names_the_sale_step_and_its_event() -> None:
    """A market sentence names the sale step's event, the sale and both collateral amounts."""
    text = market_errored_leak().summary
    assert text.startswith("`sale_step[cleanup]`")
    for part in ("('r1', 0, 0)", "Errored", "giving back 0", "took 2", "(known: spec §3.3"):
        assert part in text


def test_sentence_of_a_divergence_names_the_first_side() -> None:
    cx = divergence_with_sides()
    assert cx.summary == (
        "`delete_reservation` (step 4): availabilities[a1].free_size is 12 where the model expects 17 "
        "(and 1 more field)"
    )


def test_sentence_of_a_no_wrap_refutation_names_the_line_and_expression() -> None:
    base = old_release_keeps_reserved()
    cx = attrs.evolve(
        base,
        rule="no_wrap:model/common.py:40 release_bytes",
        statement="`reservation.size - bytes (SIZE)` never leaves its range.",
        kind="no_wrap",
        notes=("concrete replay: `reservation.size - bytes` wraps",),
    )
    text = sentence(cx)
    assert text == (
        "`release_bytes` (step 1) with availability_id=a1, bytes=4, reservation_id=r1 leaves the range of "
        "`reservation.size - bytes` at model/common.py:40 release_bytes"
    )


def test_sentence_falls_back_for_an_unknown_rule() -> None:
    """A rule outside the phrasing table still names the operation, the entity and the numbers."""
    cx = head_1147()
    step = cx.steps[-1]
    renamed = tuple(attrs.evolve(v, rule="made_up_rule") for v in step.violations[:1])
    cx = attrs.evolve(
        cx, rule="made_up_rule", known=None, steps=(*cx.steps[:-1], attrs.evolve(step, violations=renamed))
    )
    assert sentence(cx) == (
        "`delete_reservation` (step 5) breaks made_up_rule on a1: total_remaining_collateral outside "
        "0..total_collateral (expected 500, observed 530) (known: nim-codex#1147)"
    )


def test_every_catalogue_rule_has_a_phrasing() -> None:
    from invariants import INVARIANTS, MARKET_INVARIANTS, MARKET_PROPERTIES, TRANSITION_PROPERTIES

    names = {r.name for r in (*INVARIANTS, *TRANSITION_PROPERTIES, *MARKET_INVARIANTS, *MARKET_PROPERTIES)}
    assert names <= set(PHRASINGS)


MESSAGES = (
    "free size did not grow by the reservation's remaining size",
    "remaining collateral did not grow by the returned collateral",
    "reservation a9 changed although the action does not touch it",
    "enabled is not what the PATCH asked",
    "New -> Finished",
    "left terminal state Finished for Cancelled",
    "sale ended in Cancelled giving back other than the collateral its reservation took",
    "anything else",
)


#: Rules about the whole queue or repo (or a refusal, named by its operation): no availability to name.
QUEUE_WIDE = {
    "rejection_is_justified",
    "workers_accounted",
    "queue_stays_paused",
    "queue_within_max_size",
    "workers_within_max",
    "repo_within_quota",
    "repo_reserved_identity",
}


@pytest.mark.parametrize("rule", sorted(PHRASINGS))
@pytest.mark.parametrize("message", MESSAGES)
def test_every_phrasing_names_the_operation_and_entity(rule: str, message: str) -> None:
    """Whatever the message, a phrasing names the failing operation and never raises."""
    cx = head_1147()
    step = cx.steps[-1]
    found = Found(rule=rule, entity="a1", message=message, expected=7, observed=3)
    earlier = tuple(attrs.evolve(s, violations=()) for s in cx.steps[:-1])
    cx = attrs.evolve(cx, rule=rule, known=None, steps=(*earlier, attrs.evolve(step, violations=(found,))))
    text = sentence(cx)
    assert text.startswith(("`delete_reservation` (step 5)", "After `delete_reservation` (step 5)"))
    assert "a1" in text or "a9" in text or rule in QUEUE_WIDE


def test_steps_show_only_the_fields_each_step_changed() -> None:
    """Every changed leaf appears in its step's row (alone or in its new or removed record); no unchanged one does."""
    for cx in (head_1147(), market_errored_leak()):
        text = render(cx)
        rows = [line for line in text.splitlines() if line.startswith("| ") and line.split(" | ")[1].startswith("`")]
        assert len(rows) == len(cx.steps)
        previous = cx.initial
        for row, step in zip(rows, cx.steps, strict=True):
            shown = row.split(" | ")[3]
            changed = changes(expand(previous), expand(step.state))
            for path, was, now in changed:
                if was in ("{}", "()") or now in ("{}", "()"):
                    continue  # an empty container giving way to its entries
                owners = [path[: i + 1] for i, char in enumerate(path) if char == "]"]
                assert any(f"`{p}`" in shown for p in [path, *owners]), (step.action, path)
            moved = {path for path, _, _ in changed}
            for path in flatten(expand(step.state)):
                if path not in moved:
                    assert f"`{path}`" not in shown, (step.action, path)
            previous = step.state
    # The return of step 4 gives back 0 bytes (size 10 of 10): only its ledger's count moves.
    rows = [line for line in render(head_1147()).splitlines() if line.startswith(("| 4 ", "| **4"))]
    assert rows[0].split(" | ")[3] == "`reservation_ledgers[r1].returns`: 0 → 1"


def test_describe_changes_groups_new_and_removed_records() -> None:
    before = Rec({"a": {}, "b": {"k": 1}})
    after = Rec({"a": {"x": Rec({"f": 1, "g": 2})}, "b": {}})
    assert describe_changes(before, after) == ["+ `a[x]` = {f: 1, g: 2}", "- `b[k]`"]


def test_describe_changes_names_queue_items_by_index() -> None:
    before = Rec({"items": (Rec({"id": "s1", "seen": False}),)})
    after = Rec({"items": (Rec({"id": "s1", "seen": True}),)})
    assert describe_changes(before, after) == ["`items[0].seen`: False → True"]


def test_pipes_are_escaped_in_table_cells() -> None:
    text = render(divergence_with_sides())
    assert "`repo.reserved \\| used`" in text
    assert cell("a|b") == "a\\|b"
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    assert len(rows) == 2 + 4 + 2  # two headers, four steps, two sides
    for line in rows:  # both tables have five columns: six unescaped pipes a row
        assert line.replace("\\|", "").count("|") == 6


def test_start_state_is_listed_when_there_is_no_setup() -> None:
    text = render(old_release_keeps_reserved())
    start = text.split("## Start state", 1)[1].split("##", 1)[0]
    assert "- `availabilities[a1]` = {duration: 10, id: a1, max_collateral: 10, min_price: 1, size: 24}" in start
    assert "- `repo.max_bytes` = 50" in start
    assert "- `repo.reserved` = 30" in start
    assert "`repo.used`" not in start  # at its default


_SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
import test_markdown
from reports.markdown import render
for name in sorted(test_markdown.EXAMPLES):
    print(render(test_markdown.EXAMPLES[name]()))
"""


def test_rendering_is_the_same_under_different_hash_seeds() -> None:
    """Rendering depends on the value alone, not on string hashing (HAMT order)."""
    root = Path(__file__).parent.parent
    script = _SCRIPT.format(tests=str(Path(__file__).parent))
    outputs = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run(
            [sys.executable, "-c", script], cwd=root, env=env, capture_output=True, text=True, check=True
        )
        outputs.append(done.stdout)
    assert outputs[0] == outputs[1]
    assert "# `collateral_within_total` on codex-head" in outputs[0]
