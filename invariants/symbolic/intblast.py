"""Deciding bit-vector formulas by int-blasting: an exact translation into integer arithmetic.

A bit-blaster turns each adder and comparator into clauses; it proves ``a <= b  and  c <= d
implies  a + c <= b + d`` at 288 bits only after an exponential search, and the collateral
obligations of bit-vector mode are sums of many such facts. Int-blasting (Zohar et al.,
"Bit-precise reasoning via Int-blasting", VMCAI 2022; z3's and cvc5's ``intblast`` solvers)
decides the *same* bit-vector formula with linear integer arithmetic instead.

Rules:
1. Every bit-vector term ``t`` of width ``w`` is translated to an integer term ``M(t)`` with a
   static interval ``I(t)`` such that, for every assignment, ``bits(t) = M(t) mod 2^w`` and
   ``M(t) in I(t)``. Variables, numerals, ``bvadd``, ``bvsub``, ``bvneg``, ``bvmul``,
   ``zero_extend``, ``sign_extend``, ``bvudiv``, ``ite`` keep that invariant by construction.
2. A comparison reads its operands unsigned (``U``) or signed (``S``). A reading is ``M(t)``
   itself when ``I(t)`` lies in the reading's window; when it does not, the value is reduced
   modulo ``2^w`` with a fresh quotient ``k`` (``N = M - 2^w k``, ``0 <= N < 2^w``): a
   definition, added to every question, that holds for exactly one ``k``. So the translation
   is exact for wrapping arithmetic too, not only for arithmetic that stays in range.
3. A variable is read as its domain says: unsigned in ``[0, 2^w)``, or, when the caller names
   it signed, in ``[-2^(w-1), 2^(w-1))``; its range is a definition as in rule 2.
4. Anything else (``extract``, bitwise operators, ...) raises ``Untranslatable``: the caller
   falls back to bit-blasting; a formula is never approximated.

So an assignment satisfies the bit-vector formula iff the corresponding integer assignment
satisfies the translation with its definitions: ``unsat`` of one is ``unsat`` of the other,
and a model of one is a model of the other (``bits``). ``tests/test_intblast.py`` checks this
against z3's bit-blaster on random formulas, and the prover evaluates every counterexample in
the original bit-vector formula before it reports it.

Mirrors: codex-sales-spec §0 "Number semantics" (the widths decided here).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from typing import Any

import attrs

from invariants.symbolic import z3api as z


class Untranslatable(Exception):
    """The formula uses a bit-vector operator outside the fragment translated here."""


@attrs.frozen
class Value:
    """The integer meaning of one bit-vector term: its term, static interval and width."""

    term: Any
    lo: int
    hi: int
    width: int


def _unsigned_window(width: int) -> tuple[int, int]:
    return 0, (1 << width) - 1


def _signed_window(width: int) -> tuple[int, int]:
    return -(1 << (width - 1)), (1 << (width - 1)) - 1


class Blaster:
    """Translates the bit-vector formulas of one z3 context into integer formulas of the same
    context. One instance per question family: the translation of a shared subterm, and the
    definitions it needed, are made once."""

    def __init__(self, ctx: Any, signed: Collection[str] = ()) -> None:
        self.ctx = ctx
        self.signed = frozenset(signed)
        #: Definitions every question must carry (variable ranges, modular reductions).
        self.definitions: list[Any] = []
        #: Bit-vector variable name -> (its integer variable, width, signed reading).
        self.variables: dict[str, tuple[Any, int, bool]] = {}
        self._values: dict[int, Value] = {}
        self._formulas: dict[int, Any] = {}
        self._fresh = 0

    # -- public --------------------------------------------------------------------------

    def formula(self, term: Any) -> Any:
        """The integer formula equivalent to the boolean ``term`` (under ``definitions``)."""
        key = term.get_id()
        found = self._formulas.get(key)
        if found is None:
            found = self._bool(term)
            self._formulas[key] = found
        return found

    def bits(self, model: Any) -> dict[str, int]:
        """The bit-vector variables' values (as unsigned bit patterns) in an integer model."""
        values = {}
        for name, (var, width, _) in self.variables.items():
            number = model.eval(var, model_completion=True).as_long()
            values[name] = number % (1 << width)
        return values

    def bv_model_satisfies(self, formula: Any, model: Any) -> bool:
        """Does the bit-vector ``formula`` hold when its variables take the values ``model`` gives
        their integer counterparts? (The check every counterexample passes before it is reported.)"""
        pairs = []
        for name, pattern in self.bits(model).items():
            _, width, _ = self.variables[name]
            pairs.append((z.BitVec(name, width, self.ctx), z.BitVecVal(pattern, width, self.ctx)))
        for constant in z.constants(formula):
            if z.is_bool(constant):
                value = model.eval(z.Bool(str(constant), self.ctx), model_completion=True)
                pairs.append((constant, value))
        return bool(z.is_true(z.simplify(z.substitute(formula, *pairs) if pairs else formula)))

    def signed_value(self, name: str, model: Any) -> int:
        """A variable's value as its domain reads it (signed or unsigned)."""
        var, _, _ = self.variables[name]
        return int(model.eval(var, model_completion=True).as_long())

    # -- booleans ------------------------------------------------------------------------

    def _bool(self, term: Any) -> Any:
        kind = z.kind(term)
        args = term.children()
        if kind in ("true", "false"):
            return term
        if kind == "uninterpreted":
            return term  # a boolean flag stays itself
        if kind == "and":
            return z.And(*[self.formula(a) for a in args]) if args else z.BoolVal(True, self.ctx)
        if kind == "or":
            return z.Or(*[self.formula(a) for a in args]) if args else z.BoolVal(False, self.ctx)
        if kind == "not":
            return z.Not(self.formula(args[0]))
        if kind == "implies":
            return z.Implies(self.formula(args[0]), self.formula(args[1]))
        if kind == "xor":
            return z.Xor(self.formula(args[0]), self.formula(args[1]))
        if kind == "ite":
            return z.If(self.formula(args[0]), self.formula(args[1]), self.formula(args[2]))
        if kind in ("eq", "distinct"):
            return self._equality(kind, args)
        if kind in _COMPARISONS:
            signed, op = _COMPARISONS[kind]
            read = self._signed if signed else self._unsigned
            return _ORDER[op](read(self.value(args[0])), read(self.value(args[1])))
        raise Untranslatable(f"boolean operator {term.decl().name()}")

    def _equality(self, kind: str, args: list[Any]) -> Any:
        if z.is_bool(args[0]):
            parts = [self.formula(a) for a in args]
            same = z.And(*[parts[0] == p for p in parts[1:]])
            return same if kind == "eq" else z.Not(same) if len(parts) == 2 else _pairwise_distinct(parts)
        readings = [self._unsigned(self.value(a)) for a in args]
        if kind == "eq":
            return z.And(*[readings[0] == r for r in readings[1:]])
        return _pairwise_distinct(readings)

    # -- bit-vector terms ----------------------------------------------------------------

    def value(self, term: Any) -> Value:
        key = term.get_id()
        found = self._values.get(key)
        if found is None:
            found = self._value(term)
            self._values[key] = found
        return found

    def _value(self, term: Any) -> Value:
        if not z.is_bv(term):
            raise Untranslatable(f"a {term.sort()} term inside arithmetic: {term}")
        kind = z.kind(term)
        if kind == "bv_numeral":
            number = term.as_long()
            return Value(z.IntVal(number, self.ctx), number, number, term.size())
        if kind == "uninterpreted":
            return self._variable(str(term), term.size())
        handler = _TERMS.get(kind)
        if handler is None:
            raise Untranslatable(f"bit-vector operator {term.decl().name()}")
        result: Value = handler(self, term.children(), term.size())
        return result

    def _sum(self, args: list[Any], width: int, sign: int) -> Value:
        values = [self.value(a) for a in args]
        total, lo, hi = values[0].term, values[0].lo, values[0].hi
        for v in values[1:]:
            if sign > 0:
                total, lo, hi = total + v.term, lo + v.lo, hi + v.hi
            else:
                total, lo, hi = total - v.term, lo - v.hi, hi - v.lo
        return Value(total, lo, hi, width)

    def _negation(self, args: list[Any], width: int) -> Value:
        v = self.value(args[0])
        return Value(-v.term, -v.hi, -v.lo, width)

    def _zero_extension(self, args: list[Any], width: int) -> Value:
        return Value(self._unsigned(self.value(args[0])), 0, (1 << args[0].size()) - 1, width)

    def _sign_extension(self, args: list[Any], width: int) -> Value:
        lo, hi = _signed_window(args[0].size())
        return Value(self._signed(self.value(args[0])), lo, hi, width)

    def _choice(self, args: list[Any], width: int) -> Value:
        condition = self.formula(args[0])
        a, b = self.value(args[1]), self.value(args[2])
        lo, hi = min(a.lo, b.lo), max(a.hi, b.hi)
        if not _fits(lo, hi, _unsigned_window(width)) and not _fits(lo, hi, _signed_window(width)):
            x, y = self._unsigned(a), self._unsigned(b)
            return Value(z.If(condition, x, y), 0, (1 << width) - 1, width)
        return Value(z.If(condition, a.term, b.term), lo, hi, width)

    def _variable(self, name: str, width: int) -> Value:
        if name in self.variables:
            var, _, signed = self.variables[name]
        else:
            var = z.Int(f"{name}|int", self.ctx)
            signed = name in self.signed
            self.variables[name] = (var, width, signed)
            lo, hi = _signed_window(width) if signed else _unsigned_window(width)
            self.definitions.append(z.And(var >= lo, var <= hi))
        lo, hi = _signed_window(width) if signed else _unsigned_window(width)
        return Value(var, lo, hi, width)

    def _product(self, args: list[Any], width: int) -> Value:
        values = [self.value(a) for a in args]
        constants = [v for v in values if v.lo == v.hi]
        others = [v for v in values if v.lo != v.hi]
        factor = 1
        for c in constants:
            factor *= c.lo
        if len(others) > 1:
            # Exact, but non-linear: left to z3's non-linear integer reasoning.
            term, lo, hi = others[0].term, others[0].lo, others[0].hi
            for v in others[1:]:
                products = (lo * v.lo, lo * v.hi, hi * v.lo, hi * v.hi)
                term, lo, hi = term * v.term, min(products), max(products)
        elif others:
            term, lo, hi = others[0].term, others[0].lo, others[0].hi
        else:
            return Value(z.IntVal(factor, self.ctx), factor, factor, width)
        corners = (lo * factor, hi * factor)
        return Value(term * factor if factor != 1 else term, min(corners), max(corners), width)

    def _quotient(self, args: list[Any], width: int) -> Value:
        a, b = self._unsigned(self.value(args[0])), self._unsigned(self.value(args[1]))
        top = (1 << width) - 1
        # bvudiv by zero is all ones (SMT-LIB); z3's integer ``/`` is Euclidean, floor for these.
        return Value(z.If(b == 0, z.IntVal(top, self.ctx), a / b), 0, top, width)

    # -- readings ------------------------------------------------------------------------

    def _unsigned(self, v: Value) -> Any:
        window = _unsigned_window(v.width)
        if _fits(v.lo, v.hi, window):
            return v.term
        modulus = 1 << v.width
        if _fits(v.lo, v.hi, (-modulus, modulus - 1)):
            return z.If(v.term < 0, v.term + modulus, v.term)
        return self._reduce(v)

    def _signed(self, v: Value) -> Any:
        if _fits(v.lo, v.hi, _signed_window(v.width)):
            return v.term
        half, modulus = 1 << (v.width - 1), 1 << v.width
        unsigned = self._unsigned(v)
        return z.If(unsigned >= half, unsigned - modulus, unsigned)

    def _reduce(self, v: Value) -> Any:
        """``M mod 2^w`` through a fresh quotient: a definition true for exactly one value."""
        modulus = 1 << v.width
        self._fresh += 1
        quotient = z.Int(f"#wrap{self._fresh}|int", self.ctx)
        reduced = z.Int(f"#reduced{self._fresh}|int", self.ctx)
        self.definitions.append(
            z.And(
                reduced == v.term - quotient * modulus,
                reduced >= 0,
                reduced <= modulus - 1,
                quotient >= v.lo // modulus,
                quotient <= v.hi // modulus,
            )
        )
        return reduced


_TERMS: dict[str, Callable[[Blaster, list[Any], int], Value]] = {
    "bvadd": lambda b, args, width: b._sum(args, width, 1),
    "bvsub": lambda b, args, width: b._sum(args, width, -1),
    "bvneg": Blaster._negation,
    "bvmul": Blaster._product,
    "bvudiv": Blaster._quotient,
    "zero_extend": Blaster._zero_extension,
    "sign_extend": Blaster._sign_extension,
    "ite": Blaster._choice,
}

_COMPARISONS: dict[str, tuple[bool, str]] = {
    "bvule": (False, "<="),
    "bvult": (False, "<"),
    "bvuge": (False, ">="),
    "bvugt": (False, ">"),
    "bvsle": (True, "<="),
    "bvslt": (True, "<"),
    "bvsge": (True, ">="),
    "bvsgt": (True, ">"),
}

_ORDER: dict[str, Any] = {
    "<=": lambda x, y: x <= y,
    "<": lambda x, y: x < y,
    ">=": lambda x, y: x >= y,
    ">": lambda x, y: x > y,
}


def _fits(lo: int, hi: int, window: tuple[int, int]) -> bool:
    return window[0] <= lo and hi <= window[1]


def _pairwise_distinct(terms: Iterable[Any]) -> Any:
    items = list(terms)
    return z.And(*[items[i] != items[j] for i in range(len(items)) for j in range(i + 1, len(items))])
