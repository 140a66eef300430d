"""The symbolic engine: branching, checked and exact arithmetic, merging, and its limits."""

from __future__ import annotations

import pytest
from scenario import outputs_under_hash_seeds

from invariants.symbolic import z3api as z
from invariants.symbolic.merge import merge
from invariants.symbolic.obligations import validators_off
from invariants.symbolic.values import (
    MONEY,
    SIZE,
    TIME,
    Mode,
    OffTrail,
    Pruner,
    Space,
    Sym,
    SymbolicUnsupported,
    explore,
)
from model import quota
from model.numbers import largest
from model.quota import RepoQuota


@pytest.fixture(autouse=True)
def _symbolic_records():
    """Records hold symbols here, which attrs' int validators would refuse."""
    with validators_off():
        yield


def _valid(space: Space, formula: object) -> bool:
    solver = z.Solver(ctx=space.ctx)
    solver.add(z.Not(formula))
    return bool(solver.check() == z.unsat)


@pytest.mark.parametrize("mode", list(Mode))
def test_explore_runs_each_side_of_a_branch_once(mode):
    space = Space(mode)
    a, b = space.number("a", SIZE), space.number("b", SIZE)
    paths = explore(lambda: "less" if a < b else "not less")
    assert sorted(p.result for p in paths) == ["less", "not less"]
    assert all(len(p.condition) == 1 for p in paths)


@pytest.mark.parametrize("mode", list(Mode))
def test_pruner_drops_the_side_the_facts_rule_out(mode):
    space = Space(mode)
    a = space.number("a", SIZE)
    pruner = Pruner(space, [(a > 5).term])
    paths = explore(lambda: "small" if a < 3 else "big", pruner)
    assert [p.result for p in paths] == ["big"]
    assert sum(pruner.dead.values()) == 1


@pytest.mark.parametrize("mode", list(Mode))
def test_model_subtraction_records_a_no_wrap_check_at_its_line(mode):
    space = Space(mode)
    repo = RepoQuota(max_bytes=space.number("m", SIZE), used=space.number("u", SIZE), reserved=space.number("r", SIZE))
    n = space.number("n", SIZE)
    paths = explore(lambda: quota.release(repo, n))
    assert len(paths) == 2  # refused, or released
    sites = {(w.site.path, w.site.function) for p in paths for w in p.wraps}
    assert sites == {("model/quota.py", "release")}


@pytest.mark.parametrize("mode", list(Mode))
def test_no_wrap_condition_is_false_exactly_when_the_result_leaves_its_domain(mode):
    space = Space(mode)
    a, b = space.number("a", SIZE), space.number("b", SIZE)

    def subtract() -> Sym:
        return a - b  # written here, in a test: checked like model code

    (path,) = explore(subtract)
    (check,) = path.wraps
    assert check.domain == "size"
    ranges = z.And(space.range_fact(a), space.range_fact(b))
    assert _valid(space, z.Implies(z.And(ranges, (a >= b).term), check.safe))
    solver = z.Solver(ctx=space.ctx)
    solver.add((a < b).term, check.safe)
    assert solver.check() == z.unsat


def test_bookkeeping_and_catalogue_arithmetic_is_exact():
    """``largest`` (model/numbers.py) takes no branch, and invariants/ code records no wrap check."""
    from invariants.state_invariants import repo_within_quota
    from model.state import Profile, StateHead

    space = Space(Mode.INT)
    repo = RepoQuota(max_bytes=space.number("m", SIZE), used=space.number("u", SIZE), reserved=space.number("r", SIZE))
    state = StateHead(profile=Profile.CODEX_HEAD, repo=repo)
    paths = explore(lambda: list(repo_within_quota(state)))
    assert len(paths) == 2
    assert not any(p.wraps for p in paths)
    x, y = space.number("x", TIME), space.number("y", TIME)
    (path,) = explore(lambda: largest(0, x, y))
    assert _valid(space, z.And((path.result >= x).term, (path.result >= y).term, (path.result >= 0).term))


def test_money_times_size_is_checked_against_256_bits():
    space = Space(Mode.INT)
    s, c = space.number("s", SIZE), space.number("c", MONEY)

    def product() -> Sym:
        return s * c

    (path,) = explore(product)
    (check,) = path.wraps
    solver = z.Solver(ctx=space.ctx)
    solver.add(z.Not(check.safe))
    assert solver.check() == z.sat  # 2 * 2**255 does not fit


def test_bit_vector_products_become_symbols_bound_by_lemmas():
    space = Space(Mode.BV)
    t, s, c = space.number("t", MONEY), space.number("s", SIZE), space.number("c", MONEY)
    quotient = space.exact("//", t, s)
    product = space.exact("*", s, c)
    names = {name for name, _ in space.lemmas}
    assert names == {"lemma:quotient", "lemma:product", "lemma:galois"}
    lemmas = z.And(*(f for _, f in space.lemmas))
    claim = z.Implies(z.And((s >= 1).term, (c <= quotient).term), (product <= t).term)
    assert _valid(space, z.Implies(lemmas, claim))


def test_merge_turns_paths_with_one_skeleton_into_one_result():
    space = Space(Mode.INT)
    a, b = space.number("a", SIZE), space.number("b", SIZE)
    paths = explore(lambda: ("same", a if a > b else b))
    (group,) = merge(space, paths)
    assert group.paths == (0, 1)
    merged = group.result[1]
    assert _valid(space, z.And((merged >= a).term, (merged >= b).term))


def test_concrete_value_of_a_symbol_is_refused():
    space = Space(Mode.INT)
    a = space.number("a", SIZE)
    with pytest.raises(SymbolicUnsupported):
        range(a)  # type: ignore[call-overload]
    with pytest.raises(SymbolicUnsupported, match="outside an exploration"):
        bool(a < 1)


def test_symbols_hash_by_identity_without_comparing():
    import immutables

    space = Space(Mode.INT)
    keys = [space.number(f"k{i}", TIME) for i in range(200)]
    table = immutables.Map({k: i for i, k in enumerate(keys)})
    assert [table[k] for k in keys] == list(range(200))


def test_a_path_that_raises_is_kept_as_a_crash():
    space = Space(Mode.INT)
    a = space.number("a", SIZE)

    def fragile() -> int:
        if a > 3:
            raise KeyError("boom")
        return 0

    paths = explore(fragile)
    assert sorted(type(p.crashed).__name__ for p in paths) == ["KeyError", "NoneType"]


def test_generated_obligations_are_the_same_in_every_process():
    """String hashes change per process; no term may depend on a map's hash order (state.py rule 5)."""
    script = (
        "from invariants.symbolic.obligations import generate\n"
        "from invariants.symbolic.states import Scope\n"
        "from invariants.symbolic.values import Mode\n"
        "from model.state import Profile\n"
        "ops = frozenset({'find_availability', 'delete_reservation'})\n"
        "for profile in Profile:\n"
        "    print(generate(profile, Mode.INT, Scope.parse('2x2'), only=ops).digest())\n"
    )
    digests = outputs_under_hash_seeds(script)
    assert len(digests) == 1, digests


def test_bit_vector_comparisons_of_sums_are_one_canonical_term():
    """The quota guard and the invariant it protects, associated differently, become one term
    (SAT cannot cheaply prove two adder trees equal; the linear normal form makes them the same)."""
    space = Space(Mode.BV)
    n, m, u, r = (space.number(name, SIZE) for name in ("n", "m", "u", "r"))
    guard = space.compare("<=", n, m - (u + r))
    invariant = space.compare("<=", u + n + r, m)
    assert guard.term.eq(invariant.term)


@pytest.mark.parametrize(
    "values",
    [(0, 0, 0, 0), (5, 3, -7, 2), (2**64 - 1, 1, -(2**63), 2**64 - 1), (1, 2**64 - 1, 2**63 - 1, 0)],
)
def test_the_linear_normal_form_means_what_the_comparison_means(values):
    space = Space(Mode.BV)
    x, y = space.number("x", SIZE), space.number("y", SIZE)
    t, w = space.number("t", TIME), space.number("w", SIZE)
    vx, vy, vt, vw = values
    cases = {
        "<": (x - y + t, w + 3, vx - vy + vt < vw + 3),
        "==": (x + w, y + w - t, vx + vw == vy + vw - vt),
        ">=": (x + x - y, t - 5, 2 * vx - vy >= vt - 5),
    }
    binding = [
        (x.term, z.BitVecVal(vx, 64, space.ctx)),
        (y.term, z.BitVecVal(vy, 64, space.ctx)),
        (t.term, z.BitVecVal(vt % 2**64, 64, space.ctx)),
        (w.term, z.BitVecVal(vw, 64, space.ctx)),
    ]
    for op, (left, right, expected) in cases.items():
        formula = space.compare(op, left, right).term
        assert z.is_true(z.simplify(z.substitute(formula, *binding))) is expected, op


def _branchy(a: Sym, b: Sym) -> str:
    if a < b:
        return "less" if a + 1 < b else "next"
    return "equal" if a == b else "more"


def test_bit_vector_mode_replays_the_paths_integer_mode_found():
    ints = Space(Mode.INT)
    a, b = ints.number("a", SIZE), ints.number("b", SIZE)
    found = explore(lambda: _branchy(a, b), Pruner(ints, []))
    bits = Space(Mode.BV)
    c, d = bits.number("a", SIZE), bits.number("b", SIZE)
    replayed = explore(lambda: _branchy(c, d), trails=[p.trail for p in found])
    assert [p.result for p in replayed] == [p.result for p in found]
    assert [p.trail for p in replayed] == [p.trail for p in found]
    with pytest.raises(OffTrail):
        explore(lambda: _branchy(c, d), trails=[found[0].trail[:1]])


def test_every_number_of_the_model_has_one_domain():
    """domains.py is the one table: every int field of every record and action has a domain, and a
    name the table lists for unvalidated quantities agrees with the validator wherever both speak."""
    import typing

    import attrs as _attrs

    from invariants.symbolic.domains import CONCRETE, NAMED, domain_of, field_domain
    from model import actions as act
    from model.entities import (
        Availability535,
        AvailabilityHead,
        AvailabilityLedger,
        Reservation535,
        ReservationHead,
        ReservationLedger,
    )
    from model.quota import RepoQuota
    from model.state import Profile

    records = [
        Availability535,
        AvailabilityHead,
        AvailabilityLedger,
        Reservation535,
        ReservationHead,
        ReservationLedger,
        RepoQuota,
    ]
    classes = records + [cls for table in act.OPERATIONS.values() for cls in table]
    checked = 0
    for cls in classes:
        hints = typing.get_type_hints(cls)
        for field in _attrs.fields(cls):
            if field.name in CONCRETE or hints[field.name] not in (int, int | None):
                continue
            for profile in Profile:
                domain = domain_of(cls, field.name, profile)
                if field.validator is not None and field.name in NAMED and field.name != "duration":
                    assert NAMED[field.name] == domain, f"{cls.__name__}.{field.name}"
                checked += 1
    assert checked > 60
    assert field_domain("slot_index", Profile.CODEX_HEAD) is None
