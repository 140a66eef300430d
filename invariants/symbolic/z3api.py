"""The one module that imports z3: a small facade that gives its API names mypy can see.

z3 ships no type information, so every term is ``Any`` here; the engine's own types
(``Sym``, ``SymBool``, results) carry the meaning.
"""

from __future__ import annotations

from typing import Any

import z3  # type: ignore[import-untyped]

VERSION: str = z3.get_version_string()

Context: Any = z3.Context
Solver: Any = z3.Solver
Optimize: Any = z3.Optimize
Int: Any = z3.Int
IntVal: Any = z3.IntVal
BitVec: Any = z3.BitVec
BitVecVal: Any = z3.BitVecVal
Bool: Any = z3.Bool
BoolVal: Any = z3.BoolVal
And: Any = z3.And
Or: Any = z3.Or
Not: Any = z3.Not
Implies: Any = z3.Implies
If: Any = z3.If
ULE: Any = z3.ULE
UDiv: Any = z3.UDiv
ZeroExt: Any = z3.ZeroExt
SignExt: Any = z3.SignExt
Extract: Any = z3.Extract
BV2Int: Any = z3.BV2Int
Sum: Any = z3.Sum
simplify: Any = z3.simplify
substitute: Any = z3.substitute
is_true: Any = z3.is_true
is_false: Any = z3.is_false
is_bv: Any = z3.is_bv
is_bool: Any = z3.is_bool
Xor: Any = z3.Xor
sat: Any = z3.sat
unsat: Any = z3.unsat
unknown: Any = z3.unknown


def translate(term: Any, ctx: Any) -> Any:
    """``term`` rebuilt in another context (one fresh context per obligation)."""
    return term.translate(ctx)


def constants(term: Any) -> list[Any]:
    """The uninterpreted constants (symbols) a term mentions, each once."""
    seen: dict[int, Any] = {}
    stack = [term]
    visited: set[int] = set()
    while stack:
        node = stack.pop()
        key = node.get_id()
        if key in visited:
            continue
        visited.add(key)
        if z3.is_const(node) and node.decl().kind() == z3.Z3_OP_UNINTERPRETED:
            seen[key] = node
        stack.extend(node.children())
    return list(seen.values())


def rlimit_used(solver: Any) -> int:
    """The resource counter a solver's context has spent (deterministic for one z3 build)."""
    stats = solver.statistics()
    for key in stats.keys():  # noqa: SIM118 (z3 Statistics has keys(), not __contains__)
        if key == "rlimit count":
            return int(stats.get_key_value(key))
    return 0


_KINDS: dict[int, str] = {
    z3.Z3_OP_TRUE: "true",
    z3.Z3_OP_FALSE: "false",
    z3.Z3_OP_UNINTERPRETED: "uninterpreted",
    z3.Z3_OP_AND: "and",
    z3.Z3_OP_OR: "or",
    z3.Z3_OP_NOT: "not",
    z3.Z3_OP_IMPLIES: "implies",
    z3.Z3_OP_XOR: "xor",
    z3.Z3_OP_ITE: "ite",
    z3.Z3_OP_EQ: "eq",
    z3.Z3_OP_DISTINCT: "distinct",
    z3.Z3_OP_BNUM: "bv_numeral",
    z3.Z3_OP_BADD: "bvadd",
    z3.Z3_OP_BSUB: "bvsub",
    z3.Z3_OP_BNEG: "bvneg",
    z3.Z3_OP_BMUL: "bvmul",
    z3.Z3_OP_BUDIV: "bvudiv",
    z3.Z3_OP_BUDIV_I: "bvudiv",
    z3.Z3_OP_ZERO_EXT: "zero_extend",
    z3.Z3_OP_SIGN_EXT: "sign_extend",
    z3.Z3_OP_ULEQ: "bvule",
    z3.Z3_OP_ULT: "bvult",
    z3.Z3_OP_UGEQ: "bvuge",
    z3.Z3_OP_UGT: "bvugt",
    z3.Z3_OP_SLEQ: "bvsle",
    z3.Z3_OP_SLT: "bvslt",
    z3.Z3_OP_SGEQ: "bvsge",
    z3.Z3_OP_SGT: "bvsgt",
}


def kind(term: Any) -> str:
    """The operator at the root of ``term``, by a stable name (``other:<z3 name>`` if unlisted)."""
    if z3.is_bv_value(term):
        return "bv_numeral"
    if z3.is_true(term):
        return "true"
    if z3.is_false(term):
        return "false"
    found = _KINDS.get(term.decl().kind())
    if found == "uninterpreted" and term.num_args() > 0:
        return f"other:{term.decl().name()}"
    return found if found is not None else f"other:{term.decl().name()}"
