"""Int-blasting decides the same bit-vector formulas as z3's bit-blaster, point by point.

``invariants/symbolic/intblast.py`` is trusted by every bit-vector proof, so it is tested
against the bit-blaster on random formulas of small width (where bit-blasting is instant),
with wrapping arithmetic on purpose, and the prover's guard against a wrong translation is
shown to fire on a deliberately broken translator.
"""

from __future__ import annotations

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from invariants.symbolic import intblast
from invariants.symbolic import z3api as z
from invariants.symbolic.intblast import Blaster, Untranslatable
from invariants.symbolic.obligations import generate
from invariants.symbolic.prover import Budget, discharge
from invariants.symbolic.states import Scope
from invariants.symbolic.values import Mode
from variants.faithful import RETURN_BYTES_UNGUARDED

WIDTH = 6  # every compared term; variables are 4 (extended) or 6 bits wide
NARROW = 4


class _Terms:
    """Builds random bit-vector terms over three variables in one context."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.x = z.BitVec("x", NARROW, ctx)
        self.s = z.BitVec("s", NARROW, ctx)  # read signed by the blaster
        self.w = z.BitVec("w", WIDTH, ctx)

    def build(self, plan):
        kind = plan[0]
        if kind == "x":
            return z.ZeroExt(WIDTH - NARROW, self.x)
        if kind == "s":
            return z.SignExt(WIDTH - NARROW, self.s)
        if kind == "w":
            return self.w
        if kind == "const":
            return z.BitVecVal(plan[1], WIDTH, self.ctx)
        a = self.build(plan[1])
        if kind == "neg":
            return -a
        if kind == "scale":
            return a * z.BitVecVal(plan[2], WIDTH, self.ctx)
        b = self.build(plan[2])
        return {"+": lambda: a + b, "-": lambda: a - b, "*": lambda: a * b, "div": lambda: z.UDiv(a, b)}[kind]()

    def atom(self, plan):
        op, left, right = plan
        a, b = self.build(left), self.build(right)
        return {
            "sle": lambda: a <= b,
            "slt": lambda: a < b,
            "ule": lambda: z.ULE(a, b),
            "ult": lambda: z.Not(z.ULE(b, a)),
            "eq": lambda: a == b,
            "ne": lambda: a != b,
        }[op]()


_leaves = st.one_of(
    st.just(("x",)), st.just(("s",)), st.just(("w",)), st.tuples(st.just("const"), st.integers(0, (1 << WIDTH) - 1))
)
_terms = st.recursive(
    _leaves,
    lambda inner: st.one_of(
        st.tuples(st.sampled_from(["+", "-", "*", "div"]), inner, inner),
        st.tuples(st.just("neg"), inner),
        st.tuples(st.just("scale"), inner, st.integers(0, (1 << WIDTH) - 1)),
    ),
    max_leaves=5,
)
_atoms = st.tuples(st.sampled_from(["sle", "slt", "ule", "ult", "eq", "ne"]), _terms, _terms)
_formulas = st.lists(st.tuples(st.booleans(), _atoms), min_size=1, max_size=3)


def _formula(terms, plan):
    parts = [terms.atom(atom) if positive else z.Not(terms.atom(atom)) for positive, atom in plan]
    return z.And(*parts)


def _int_value(pattern, width, signed):
    return pattern - (1 << width) if signed and pattern >= 1 << (width - 1) else pattern


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    plan=_formulas,
    x=st.integers(0, (1 << NARROW) - 1),
    s=st.integers(0, (1 << NARROW) - 1),
    w=st.integers(0, (1 << WIDTH) - 1),
)
def test_the_translation_has_the_same_truth_value_at_every_point(plan, x, s, w):
    ctx = z.Context()
    terms = _Terms(ctx)
    formula = _formula(terms, plan)
    bits = {"x": (terms.x, x, NARROW), "s": (terms.s, s, NARROW), "w": (terms.w, w, WIDTH)}
    expected = z.is_true(
        z.simplify(z.substitute(formula, *[(var, z.BitVecVal(v, width, ctx)) for var, v, width in bits.values()]))
    )
    blaster = Blaster(ctx, signed={"s"})
    translated = blaster.formula(formula)
    solver = z.Solver(ctx=ctx)
    solver.add(*blaster.definitions, translated)
    for name, (var, width, signed) in blaster.variables.items():
        solver.add(var == _int_value(bits[name][1], width, signed))
    assert (solver.check() == z.sat) == expected


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plan=_formulas)
def test_the_translation_is_satisfiable_exactly_when_the_bit_vector_formula_is(plan):
    ctx = z.Context()
    formula = _formula(_Terms(ctx), plan)
    by_bits = z.Solver(ctx=ctx)
    by_bits.add(formula)
    blaster = Blaster(ctx, signed={"s"})
    translated = blaster.formula(formula)  # first: translating adds the definitions
    by_ints = z.Solver(ctx=ctx)
    by_ints.add(*blaster.definitions, translated)
    answer = by_ints.check()
    assert answer == by_bits.check()
    if answer == z.sat:
        assert blaster.bv_model_satisfies(formula, by_ints.model())


def test_wrapping_arithmetic_is_translated_exactly():
    ctx = z.Context()
    x = z.BitVec("x", 8, ctx)
    blaster = Blaster(ctx)
    solver = z.Solver(ctx=ctx)
    # x + 1 == 0 and x + 1 < x (unsigned) hold only by wrapping, at x = 255.
    translated = blaster.formula(z.And(x + 1 == 0, z.Not(z.ULE(x, x + 1))))
    solver.add(*blaster.definitions, translated)
    assert solver.check() == z.sat
    assert blaster.bits(solver.model()) == {"x": 255}
    # ... and 255 is the only solution.
    solver.add(*[var != 255 for var, _, _ in blaster.variables.values()])
    assert solver.check() == z.unsat


def test_operators_outside_the_fragment_are_refused_not_approximated():
    ctx = z.Context()
    x = z.BitVec("x", 8, ctx)
    with pytest.raises(Untranslatable, match="extract"):
        Blaster(ctx).formula(z.Extract(3, 0, x) == z.BitVecVal(0, 4, ctx))


def _unguarded_return():
    suite = generate(
        RETURN_BYTES_UNGUARDED.profile,
        Mode.BV,
        Scope(),
        operations=RETURN_BYTES_UNGUARDED.table,
        only=frozenset({"return_bytes_to_availability"}),
    )
    (obligation,) = [o for o in suite.obligations if "to_return = bytes - reservation.size" in o.statement]
    return obligation


def test_both_engines_refute_the_unguarded_return_with_the_same_minimal_counterexample():
    obligation = _unguarded_return()
    verdicts = {}
    for engine in ("intblast", "bitblast"):
        result = discharge(obligation, Budget(cores=False, bv_engine=engine))
        assert (result.status, result.engine) == ("refuted", engine)
        assert result.model is not None
        values = result.model.values
        verdicts[engine] = (values["r11.size"], values["return_bytes_to_availability[api].bytes"])
    assert verdicts == {"intblast": (1, 0), "bitblast": (1, 0)}


def test_an_int_blasted_refutation_is_checked_in_the_bit_vector_formula(monkeypatch):
    """Make the translation of one hypothesis wrong (dropped): the solver then finds a
    'counterexample' the bit-vector formula rules out, and the prover must say unknown."""
    obligation = _unguarded_return()
    real = intblast.Blaster.formula

    def forgetful(self, term):
        translated = real(self, term)
        return z.BoolVal(True, self.ctx) if z.is_bool(translated) and "r11.size" in str(term) else translated

    monkeypatch.setattr(intblast.Blaster, "formula", forgetful)
    # With every formula about r11.size forgotten, the obligation's goal is gone too; any model
    # the solver finds breaks the bit-vector formula, which the prover must notice.
    result = discharge(attrs.evolve(obligation, expected="refuted"), Budget(cores=False))
    assert result.status == "unknown"
    assert "bit-vector formula" in result.reason
