"""Symbolic integers and booleans that run the model's own Python code over Z3 terms.

Rules:
1. A ``Sym`` behaves like an ``int`` to the model: ``+ - * //``, comparisons, truth value.
   A comparison gives a ``SymBool``; asking a ``SymBool`` for its truth value is a *decision*
   that the current ``Run`` answers (and the explorer later re-runs with the other answer).
2. Two arithmetic modes: ``INT`` (mathematical integers; ranges are explicit facts) and
   ``BV`` (each value is a bit-vector of its domain's width: 64 bits for sizes, repo
   counters and times, 256 bits for money).
3. Arithmetic written in nim-codex's code paths (``model/``, ``variants/``) is *checked*: every
   addition, subtraction, product and division records a no-wrap obligation (the exact result
   lies in the result's domain; a divisor is not zero) under the current path condition, and
   the exact value is carried on (equal to the machine's wherever the obligation holds).
   Arithmetic written in the model's bookkeeping (``model/state.py``, ``model/entities.py``)
   and in the catalogue (``invariants/``) is *exact*: computed without wrap at whatever width
   it needs.
4. Anything the engine cannot represent (``int(sym)``, a decision outside a run, negative
   floor division) raises ``SymbolicUnsupported``: never a silent concretisation.

Mirrors: codex-sales-spec §0 "Number semantics" (uint64 sizes, UInt256 money, int64 times,
Natural repo counters).
"""

from __future__ import annotations

import contextvars
import enum
import itertools
import linecache
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

import attrs

from invariants.symbolic import z3api as z
from model.numbers import I64_MAX, I64_MIN, NATURAL_MAX, U64_MAX, U256_MAX


class Mode(enum.Enum):
    """How numbers are represented: mathematical integers or fixed-width bit-vectors."""

    INT = "int"
    BV = "bv"


@attrs.frozen
class Domain:
    """The range and machine representation of one kind of quantity."""

    name: str
    low: int
    high: int
    width: int
    signed: bool


SIZE = Domain("size", 0, U64_MAX, 64, False)
NATURAL = Domain("natural", 0, NATURAL_MAX, 64, False)
MONEY = Domain("money", 0, U256_MAX, 256, False)
TIME = Domain("time", I64_MIN, I64_MAX, 64, True)


class SymbolicUnsupported(Exception):
    """The model did something the symbolic engine cannot run; the proof is then undecided."""


@attrs.frozen
class Site:
    """A place in the source where checked arithmetic happens."""

    path: str
    line: int
    function: str
    text: str

    def label(self) -> str:
        return f"{self.path}:{self.line} {self.function}"


@attrs.frozen
class WrapCheck:
    """One evaluation of checked arithmetic: where, what, and the condition for no wrap."""

    site: Site
    operation: str
    domain: str
    safe: Any  # z3 BoolRef: the exact result lies within the domain
    path_condition: tuple[Any, ...]


_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_EXACT_PREFIXES = (
    os.path.join(_ROOT, "invariants") + os.sep,
    os.path.join(_ROOT, "model", "state.py"),
    os.path.join(_ROOT, "model", "entities.py"),
)
_HERE = os.path.dirname(os.path.abspath(__file__)) + os.sep


def _caller() -> Any:
    """The first frame outside this package: the code that wrote the arithmetic."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_HERE):
        frame = frame.f_back  # type: ignore[assignment]
    return frame


def _is_exact(frame: Any) -> bool:
    return frame is None or os.path.abspath(frame.f_code.co_filename).startswith(_EXACT_PREFIXES)


def _site(frame: Any) -> Site:
    filename = os.path.abspath(frame.f_code.co_filename)
    path = os.path.relpath(filename, _ROOT) if filename.startswith(_ROOT) else filename
    text = linecache.getline(filename, frame.f_lineno).strip()
    return Site(path=path, line=frame.f_lineno, function=frame.f_code.co_name, text=text)


def signed_width(low: int, high: int) -> int:
    """The fewest bits a two's-complement value needs to hold every integer in ``low..high``."""
    width = 1
    while not (-(1 << (width - 1)) <= low and high <= (1 << (width - 1)) - 1):
        width += 1
    return width


#: Exact bit-vector arithmetic runs at one of these widths, so that ``(a - b) + b`` is built at
#: a single width and z3's rewriter can cancel it (growing one bit per operation defeats it).
EXACT_WIDTHS = (72, 288, 584)


def exact_width(bits: int) -> int:
    """The smallest standard exact width that holds ``bits`` signed bits."""
    for width in EXACT_WIDTHS:
        if bits <= width:
            return width
    raise SymbolicUnsupported(f"a value needs {bits} bits, more than {EXACT_WIDTHS[-1]}")


class Space:
    """One Z3 context and mode: the factory of symbols and constants."""

    def __init__(self, mode: Mode, abstract_nonlinear: bool | None = None) -> None:
        self.mode = mode
        self.ctx = z.Context()
        self.symbols: dict[str, Sym] = {}
        self.flags: dict[str, SymBool] = {}
        #: Products and quotients of two symbols become fresh symbols bound by lemmas
        #: (default in BV mode, where bit-blasting 256-bit multipliers does not finish).
        self.abstract_nonlinear = mode is Mode.BV if abstract_nonlinear is None else abstract_nonlinear
        self.lemmas: list[tuple[str, Any]] = []
        self._products: dict[tuple[int, int], tuple[Sym, Sym, Sym]] = {}
        self._quotients: dict[tuple[int, int], tuple[Sym, Sym, Sym]] = {}

    # -- construction -------------------------------------------------------------------

    def number(self, name: str, domain: Domain) -> Sym:
        """A fresh symbol ranging over ``domain``."""
        if name in self.symbols:
            raise ValueError(f"symbol {name} defined twice")
        term = z.Int(name, self.ctx) if self.mode is Mode.INT else z.BitVec(name, domain.width, self.ctx)
        sym = Sym(self, term, domain.low, domain.high, domain, domain.signed)
        self.symbols[name] = sym
        return sym

    def flag(self, name: str) -> SymBool:
        """A fresh symbolic boolean."""
        if name in self.flags:
            raise ValueError(f"flag {name} defined twice")
        flag = SymBool(self, z.Bool(name, self.ctx))
        self.flags[name] = flag
        return flag

    def const(self, value: int) -> Sym:
        """An exact constant."""
        if self.mode is Mode.INT:
            return Sym(self, z.IntVal(value, self.ctx), value, value, None, True)
        width = signed_width(value, value)
        return Sym(self, z.BitVecVal(value, width, self.ctx), value, value, None, True)

    def true(self) -> Any:
        return z.BoolVal(True, self.ctx)

    def false(self) -> Any:
        return z.BoolVal(False, self.ctx)

    def range_fact(self, sym: Sym) -> Any:
        """What the representation does not already say about ``sym``'s domain."""
        domain = sym.dom
        assert domain is not None
        if self.mode is Mode.INT:
            return z.And(sym.term >= domain.low, sym.term <= domain.high)
        if domain.high < (1 << domain.width) - 1 and not domain.signed:
            return z.ULE(sym.term, z.BitVecVal(domain.high, domain.width, self.ctx))
        return self.true()

    def lift(self, value: object) -> Sym | None:
        if isinstance(value, Sym):
            return value
        if type(value) is int:
            return self.const(value)
        return None

    # -- exact arithmetic ---------------------------------------------------------------

    def widen(self, sym: Sym, width: int) -> Any:
        """``sym``'s term as a signed bit-vector of ``width`` bits (same value)."""
        have = sym.term.size()
        if have == width:
            return sym.term
        if have > width:
            raise SymbolicUnsupported(f"cannot narrow a {have}-bit value to {width} bits exactly")
        if sym.signed:
            return z.SignExt(width - have, sym.term)
        return z.ZeroExt(width - have, sym.term)

    @staticmethod
    def _bits(sym: Sym) -> int:
        width: int = sym.term.size()
        return width + (0 if sym.signed else 1)

    def exact(self, op: str, a: Sym, b: Sym) -> Sym:
        """``a op b`` without wrap."""
        low, high = _interval(op, a, b)
        if op in ("*", "//") and self.abstract_nonlinear and a.lo != a.hi and b.lo != b.hi:
            return self._abstract(op, a, b, low, high)
        if self.mode is Mode.INT:
            return Sym(self, _apply_int(op, a.term, b.term), low, high, None, True)
        width = exact_width(max(signed_width(low, high), self._bits(a), self._bits(b)))
        x, y = self.widen(a, width), self.widen(b, width)
        result = Sym(self, _apply_bv(op, x, y), low, high, None, True)
        if op in ("+", "-"):
            result.lin = a.linear().combine(b.linear(), 1 if op == "+" else -1)
        return result

    def _abstract(self, op: str, a: Sym, b: Sym, low: int, high: int) -> Sym:
        """A fresh symbol for ``a * b`` or ``a // b``, bound by the lemmas of ``LEMMAS``."""
        if a.lo < 0 or b.lo < 0:
            raise SymbolicUnsupported(f"non-linear {op} of a possibly negative value")
        ids = (a.term.get_id(), b.term.get_id())
        table = self._products if op == "*" else self._quotients
        key = (min(ids), max(ids)) if op == "*" else ids
        if key in table:
            return table[key][0]
        width = exact_width(max(signed_width(low, high), self._bits(a), self._bits(b)))
        name = f"#{'product' if op == '*' else 'quotient'}{len(table) + 1}"
        term = z.Int(name, self.ctx) if self.mode is Mode.INT else z.BitVec(name, width, self.ctx)
        result = Sym(self, term, low, high, None, True)
        table[key] = (result, a, b)
        zero = self.const(0)
        one = self.const(1)

        def c(o: str, x: Sym, y: Sym) -> Any:
            return self.compare(o, x, y).term

        if op == "*":
            self.lemmas.append(
                (
                    "lemma:product",
                    z.And(
                        c(">=", result, zero),
                        c("==", result, zero) == z.Or(c("==", a, zero), c("==", b, zero)),
                        z.Implies(c(">=", a, one), c(">=", result, b)),
                        z.Implies(c(">=", b, one), c(">=", result, a)),
                    ),
                )
            )
            for quotient, dividend, divisor in self._quotients.values():
                for s_, other in ((a, b), (b, a)):
                    if s_.term.get_id() == divisor.term.get_id():
                        self._galois(quotient, dividend, divisor, other, result)
        else:
            self.lemmas.append(
                (
                    "lemma:quotient",
                    z.Implies(
                        c(">=", b, one),
                        z.And(
                            c(">=", result, zero),
                            c("<=", result, a),
                            z.Implies(c("<", a, b), c("==", result, zero)),
                            z.Implies(c("==", b, one), c("==", result, a)),
                        ),
                    ),
                )
            )
            for product, x, y in self._products.values():
                for s_, other in ((x, y), (y, x)):
                    if s_.term.get_id() == b.term.get_id():
                        self._galois(result, a, b, other, product)
        return result

    def _galois(self, quotient: Sym, dividend: Sym, divisor: Sym, factor: Sym, product: Sym) -> None:
        """``divisor > 0  =>  (factor <= dividend // divisor  <=>  divisor * factor <= dividend)``."""
        one = self.const(1)
        self.lemmas.append(
            (
                "lemma:galois",
                z.Implies(
                    self.compare(">=", divisor, one).term,
                    self.compare("<=", factor, quotient).term == self.compare("<=", product, dividend).term,
                ),
            )
        )

    def compare(self, op: str, a: Sym, b: Sym) -> SymBool:
        if self.mode is Mode.INT:
            x, y = a.term, b.term
        elif a.lin is not None or b.lin is not None:
            return self._compare_linear(op, a.linear().combine(b.linear(), -1))
        else:
            width = exact_width(max(self._bits(a), self._bits(b)))
            x, y = self.widen(a, width), self.widen(b, width)
        return SymBool(self, _COMPARE[op](x, y))

    def _compare_linear(self, op: str, difference: Linear) -> SymBool:
        """``a op b`` as ``P + p op N + n``, where ``a - b = P - N + (p - n)``, P and N are sums of
        atoms with positive coefficients in one canonical order (by atom), and p, n >= 0.

        Bit-blasted adders with different associations are hard for SAT to prove equal (the
        guard ``n <= max - (used + reserved)`` against the invariant ``used + n + reserved <=
        max``); in this form both are the same term. Exact: each side's width holds its range.
        """
        sides: list[list[tuple[int, Sym]]] = [[], []]
        for key in sorted(difference.terms):
            coefficient, atom = difference.terms[key]
            sides[0 if coefficient > 0 else 1].append((abs(coefficient), atom))
        constants = (max(difference.constant, 0), max(-difference.constant, 0))
        bounds = []
        for side, constant in zip(sides, constants, strict=True):
            lo = constant + sum(c * atom.lo for c, atom in side)
            hi = constant + sum(c * atom.hi for c, atom in side)
            bounds.append((lo, hi))
        width = exact_width(
            max([signed_width(lo, hi) for lo, hi in bounds] + [self._bits(atom) for side in sides for _, atom in side])
        )
        terms = []
        for side, constant in zip(sides, constants, strict=True):
            parts = [
                self.widen(atom, width) if c == 1 else self.widen(atom, width) * z.BitVecVal(c, width, self.ctx)
                for c, atom in side
            ]
            if constant or not parts:
                parts.append(z.BitVecVal(constant, width, self.ctx))
            total = parts[0]
            for part in parts[1:]:
                total = total + part
            terms.append(total)
        return SymBool(self, _COMPARE[op](terms[0], terms[1]))

    def within(self, sym: Sym, domain: Domain) -> Any:
        """``domain.low <= sym <= domain.high`` as a formula (exact)."""
        low, high = self.const(domain.low), self.const(domain.high)
        return z.And(self.compare("<=", low, sym).term, self.compare("<=", sym, high).term)

    # -- checked arithmetic (nim-codex's own) --------------------------------------------

    def checked(self, op: str, a: Sym, b: Sym, domain: Domain, site: Site) -> Sym:
        exact = self.exact(op, a, b)
        run = current_run()
        if run is not None and not (domain.low <= exact.lo and exact.hi <= domain.high):
            run.wraps.append(
                WrapCheck(
                    site=site,
                    operation=op,
                    domain=domain.name,
                    safe=self.within(exact, domain),
                    path_condition=tuple(run.pc),
                )
            )
        # Both modes carry the exact value on: the no-wrap obligation just recorded says it equals
        # the machine's (docs/proofs.md, "Bit-vector mode").
        result = Sym(self, exact.term, exact.lo, exact.hi, domain, exact.signed)
        result.lin = exact.lin
        return result


def _interval(op: str, a: Sym, b: Sym) -> tuple[int, int]:
    if op == "+":
        return a.lo + b.lo, a.hi + b.hi
    if op == "-":
        return a.lo - b.hi, a.hi - b.lo
    if op == "*":
        corners = (a.lo * b.lo, a.lo * b.hi, a.hi * b.lo, a.hi * b.hi)
        return min(corners), max(corners)
    if op == "//":
        if a.lo < 0 or b.lo < 0:
            raise SymbolicUnsupported("floor division of a possibly negative value")
        return 0, a.hi
    raise SymbolicUnsupported(f"operator {op}")


def _apply_int(op: str, x: Any, y: Any) -> Any:
    if op == "+":
        return x + y
    if op == "-":
        return x - y
    if op == "*":
        return x * y
    return x / y  # z3 Int division is Euclidean: floor division for the non-negative values allowed here


def _apply_bv(op: str, x: Any, y: Any) -> Any:
    if op == "+":
        return x + y
    if op == "-":
        return x - y
    if op == "*":
        return x * y
    return z.UDiv(x, y)


_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "<": lambda x, y: x < y,
    "<=": lambda x, y: x <= y,
    ">": lambda x, y: x > y,
    ">=": lambda x, y: x >= y,
    "==": lambda x, y: x == y,
    "!=": lambda x, y: x != y,
}


_KEYS = itertools.count(1)


@attrs.frozen
class Linear:
    """A linear form ``sum(c * atom) + constant`` with integer coefficients, keyed by the atom's
    term id (creation order in its context: the same in every run)."""

    terms: dict[int, tuple[int, Sym]]
    constant: int

    def combine(self, other: Linear, sign: int) -> Linear:
        terms = dict(self.terms)
        for key, (coefficient, atom) in other.terms.items():
            total = terms.get(key, (0, atom))[0] + sign * coefficient
            if total:
                terms[key] = (total, atom)
            else:
                terms.pop(key, None)
        return Linear(terms, self.constant + sign * other.constant)


class Sym:
    """A symbolic integer: a Z3 term, its static bounds, and (for stored values) its domain."""

    __slots__ = ("_key", "dom", "hi", "lin", "lo", "signed", "space", "term")

    def __init__(self, space: Space, term: Any, lo: int, hi: int, dom: Domain | None, signed: bool) -> None:
        self._key = next(_KEYS)
        self.space = space
        self.term = term
        self.lo = lo
        self.hi = hi
        self.dom = dom
        self.signed = signed
        #: Bit-vector mode: the value as a linear form over atoms (see ``Space.compare``); None = an atom.
        self.lin: Linear | None = None

    def linear(self) -> Linear:
        """This value as ``{atom key: (coefficient, atom)}`` plus a constant."""
        if self.lin is not None:
            return self.lin
        if self.lo == self.hi and self.dom is None:
            return Linear({}, self.lo)
        # Keyed by the term, not the Sym: two Syms of one term (a product formed twice, a checked
        # result re-wrapped) are one atom, so they cancel and sort together.
        return Linear({self.term.get_id(): (1, self)}, 0)

    # -- arithmetic -----------------------------------------------------------------------

    def _arith(self, other: object, op: str, reflected: bool) -> Sym:
        peer = self.space.lift(other)
        if peer is None:
            return NotImplemented  # type: ignore[no-any-return]
        a, b = (peer, self) if reflected else (self, peer)
        if op == "//":
            _guard_division(self.space, b)
        frame = _caller()
        domain = _result_domain(a, b)
        if _is_exact(frame) or domain is None or op == "//":
            result = self.space.exact(op, a, b)
            if domain is not None and op == "//":
                result.dom = domain
            return result
        return self.space.checked(op, a, b, domain, _site(frame))

    def __add__(self, other: object) -> Sym:
        return self._arith(other, "+", False)

    def __radd__(self, other: object) -> Sym:
        return self._arith(other, "+", True)

    def __sub__(self, other: object) -> Sym:
        return self._arith(other, "-", False)

    def __rsub__(self, other: object) -> Sym:
        return self._arith(other, "-", True)

    def __mul__(self, other: object) -> Sym:
        return self._arith(other, "*", False)

    def __rmul__(self, other: object) -> Sym:
        return self._arith(other, "*", True)

    def __floordiv__(self, other: object) -> Sym:
        return self._arith(other, "//", False)

    def __rfloordiv__(self, other: object) -> Sym:
        return self._arith(other, "//", True)

    @classmethod
    def maximum(cls, *values: object) -> Sym:
        """The largest of ``values`` as one if-then-else term (``model.numbers.largest``)."""
        space = next(v.space for v in values if isinstance(v, Sym))
        syms = [space.lift(v) for v in values]
        if any(s is None for s in syms):
            raise SymbolicUnsupported(f"maximum of non-integers: {values!r}")
        best: Sym = syms[0]  # type: ignore[assignment]
        for candidate in syms[1:]:
            assert candidate is not None
            if candidate is best:
                continue
            low, high = max(best.lo, candidate.lo), max(best.hi, candidate.hi)
            bigger = space.compare(">", candidate, best).term
            if space.mode is Mode.INT:
                term = z.If(bigger, candidate.term, best.term)
                signed = True
            else:
                width = exact_width(max(space._bits(candidate), space._bits(best)))
                term = z.If(bigger, space.widen(candidate, width), space.widen(best, width))
                signed = True
            domain = best.dom if best.dom == candidate.dom else (best.dom or candidate.dom)
            best = Sym(space, term, low, high, domain, signed)
        return best

    def __neg__(self) -> Sym:
        return self.space.exact("-", self.space.const(0), self)

    # -- comparison -----------------------------------------------------------------------

    def _cmp(self, other: object, op: str) -> SymBool:
        peer = self.space.lift(other)
        if peer is None:
            return NotImplemented  # type: ignore[no-any-return]
        return self.space.compare(op, self, peer)

    def __lt__(self, other: object) -> SymBool:
        return self._cmp(other, "<")

    def __le__(self, other: object) -> SymBool:
        return self._cmp(other, "<=")

    def __gt__(self, other: object) -> SymBool:
        return self._cmp(other, ">")

    def __ge__(self, other: object) -> SymBool:
        return self._cmp(other, ">=")

    def __eq__(self, other: object) -> SymBool:  # type: ignore[override]
        return self._cmp(other, "==")

    def __ne__(self, other: object) -> SymBool:  # type: ignore[override]
        return self._cmp(other, "!=")

    def __hash__(self) -> int:
        # Identity, as a small serial number: maps fold hashes to 32 bits, and two symbols whose
        # folded hashes collided would be compared with ``==``, which is a symbolic decision.
        return self._key

    def __bool__(self) -> bool:
        return bool(self.space.compare("!=", self, self.space.const(0)))

    def _concrete(self) -> int:
        raise SymbolicUnsupported(f"the model needs the concrete value of {self.term}")

    __index__ = __int__ = _concrete

    def __repr__(self) -> str:
        return f"«{self.term}»"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)


class SymBool:
    """A symbolic condition; its truth value is decided by the current run."""

    __slots__ = ("_key", "space", "term")

    def __init__(self, space: Space, term: Any) -> None:
        self._key = next(_KEYS)
        self.space = space
        self.term = term

    def __bool__(self) -> bool:
        run = current_run()
        if run is None:
            raise SymbolicUnsupported(f"a decision on {self.term} outside an exploration")
        return run.decide(self.term)

    def __eq__(self, other: object) -> SymBool:  # type: ignore[override]
        if isinstance(other, bool):
            return SymBool(self.space, self.term == z.BoolVal(other, self.space.ctx))
        if isinstance(other, SymBool):
            return SymBool(self.space, self.term == other.term)
        return NotImplemented

    def __ne__(self, other: object) -> SymBool:  # type: ignore[override]
        equal = self.__eq__(other)
        if equal is NotImplemented:
            return NotImplemented
        return SymBool(self.space, z.Not(equal.term))

    def __hash__(self) -> int:
        return self._key

    def __repr__(self) -> str:
        return f"«{self.term}»"


def _result_domain(a: Sym, b: Sym) -> Domain | None:
    domains = [x.dom for x in (a, b) if x.dom is not None]
    if not domains:
        return None
    return max(domains, key=lambda d: (d.width, d.high))


def _guard_division(space: Space, divisor: Sym) -> None:
    run = current_run()
    if run is None or divisor.lo > 0:
        return
    frame = _caller()
    if _is_exact(frame):
        return
    nonzero = space.compare("!=", divisor, space.const(0)).term
    run.wraps.append(
        WrapCheck(site=_site(frame), operation="//", domain="nonzero", safe=nonzero, path_condition=tuple(run.pc))
    )


# -- runs and decisions ---------------------------------------------------------------------


class Run:
    """One execution along one path: replays ``prefix``, then decides new branches."""

    def __init__(self, prefix: tuple[bool, ...], oracle: Callable[[list[Any], Any], tuple[bool, bool]]) -> None:
        self.prefix = prefix
        self.oracle = oracle
        self.trail: list[bool] = []
        self.pc: list[Any] = []
        self.wraps: list[WrapCheck] = []
        self.forks: list[tuple[bool, ...]] = []

    def decide(self, cond: Any) -> bool:
        index = len(self.trail)
        if index < len(self.prefix):
            choice = self.prefix[index]
        else:
            simple = z.simplify(cond)
            if z.is_true(simple):
                choice = True
            elif z.is_false(simple):
                choice = False
            else:
                can_true, can_false = self.oracle(self.pc, cond)
                if can_true and can_false:
                    self.forks.append((*self.trail, False))
                choice = can_true
        self.trail.append(choice)
        self.pc.append(cond if choice else z.Not(cond))
        return choice


_RUN: contextvars.ContextVar[Run | None] = contextvars.ContextVar("symbolic_run", default=None)


def current_run() -> Run | None:
    return _RUN.get()


@attrs.frozen
class Path:
    """One feasible path of an exploration: its condition, what it returned, and its wrap checks."""

    condition: tuple[Any, ...]
    result: Any
    crashed: BaseException | None
    wraps: tuple[WrapCheck, ...]
    trail: tuple[bool, ...] = ()  # every decision taken, in order: the path's name in any mode


class OffTrail(Exception):
    """A replayed run asked a decision its trail does not have: the trails belong to other code."""


def explore(
    thunk: Callable[[], Any],
    oracle: Callable[[list[Any], Any], tuple[bool, bool]] | None = None,
    max_paths: int = 20_000,
    trails: Sequence[tuple[bool, ...]] | None = None,
) -> list[Path]:
    """Run ``thunk`` once per path; ``oracle(pc, cond)`` says which sides are feasible (default: both).

    With ``trails`` (the ``Path.trail``s of an earlier exploration of the same code), run exactly
    those paths and ask no oracle: a path's decisions depend only on the choices before them,
    never on the arithmetic mode, so the feasible paths found in integer mode are the feasible
    paths in bit-vector mode. ``OffTrail`` is raised if a run leaves its trail.
    """

    def both(_pc: list[Any], _cond: Any) -> tuple[bool, bool]:
        return True, True

    def off_trail(_pc: list[Any], cond: Any) -> tuple[bool, bool]:
        raise OffTrail(f"a decision on {cond} beyond the recorded trail")

    decide = both if oracle is None else oracle
    pending: list[tuple[bool, ...]] = [()] if trails is None else list(reversed(trails))
    paths: list[Path] = []
    while pending:
        if len(paths) >= max_paths:
            raise SymbolicUnsupported(f"more than {max_paths} paths")
        prefix = pending.pop()
        run = Run(prefix, decide if trails is None else off_trail)
        token = _RUN.set(run)
        crashed: BaseException | None = None
        result: Any = None
        try:
            result = thunk()
        except (SymbolicUnsupported, OffTrail):
            raise
        except Exception as exc:  # a crash of the model on this path is itself a finding
            crashed = exc
        finally:
            _RUN.reset(token)
        if trails is not None and len(run.trail) != len(prefix):
            raise OffTrail(f"a run took {len(run.trail)} decisions where its trail has {len(prefix)}")
        paths.append(
            Path(
                condition=tuple(run.pc),
                result=result,
                crashed=crashed,
                wraps=tuple(run.wraps),
                trail=tuple(run.trail),
            )
        )
        pending.extend(run.forks)
    return paths


class Pruner:
    """The explorer's oracle: a side of a branch is taken only if it is satisfiable with the facts.

    An ``unknown`` answer counts as satisfiable, so pruning never hides a path it cannot rule out.
    Every side ruled out is counted by the source line that asked (dead branches).
    """

    def __init__(self, space: Space, facts: list[Any], rlimit: int = 2_000_000) -> None:
        self.solver = z.Solver(ctx=space.ctx)
        self.solver.set("rlimit", rlimit)
        self.solver.add(*facts)
        self.space = space
        self.lemmas_seen = 0
        self.checks = 0
        self.dead: dict[str, int] = {}

    def _possible(self, pc: list[Any], cond: Any) -> bool:
        fresh = self.space.lemmas[self.lemmas_seen :]
        if fresh:
            self.solver.add(*(formula for _, formula in fresh))
            self.lemmas_seen = len(self.space.lemmas)
        self.solver.push()
        self.solver.add(*pc, cond)
        answer = self.solver.check()
        self.solver.pop()
        self.checks += 1
        return bool(answer != z.unsat)

    def __call__(self, pc: list[Any], cond: Any) -> tuple[bool, bool]:
        can_true = self._possible(pc, cond)
        can_false = self._possible(pc, z.Not(cond))
        if not (can_true and can_false):
            frame = _caller()
            if frame is not None:
                label = _site(frame).label()
                self.dead[label] = self.dead.get(label, 0) + 1
        if not (can_true or can_false):
            raise SymbolicUnsupported(f"no side of {cond} is satisfiable: the path condition is contradictory")
        return can_true, can_false
