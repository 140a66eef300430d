"""Merging paths that end in results of the same shape into one result of if-then-else terms.

Exploration forks at every decision, so an operation has many paths whose results differ
only in the *values* of their symbolic leaves (which value ``max`` picked, which branch
of a guard). Checking every rule once per path repeats work; instead, paths whose results
have the same skeleton (types, ids, concrete fields, map keys) are merged: each leaf
becomes ``If(pc_1, v_1, If(pc_2, v_2, ... v_n))``, and the premise is ``Or(pc_1, ..., pc_n)``.
Under the premise the merged result equals the result of the path whose condition holds,
so a rule holds on it exactly when it holds on every merged path.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Any

import attrs
import immutables

from invariants.symbolic import z3api as z
from invariants.symbolic.values import Mode, Path, Space, Sym, SymBool, exact_width, signed_width


@attrs.frozen
class Merged:
    """One group of paths: the disjunction of their conditions and their merged result."""

    premise: Any
    result: Any
    paths: tuple[int, ...]


def _key_order(key: object) -> tuple[str, Any]:
    if isinstance(key, Sym | SymBool):
        return ("sym", id(key))
    return (type(key).__name__, key)


def skeleton(value: object, leaves: list[Any]) -> Any:
    """A hashable description of ``value`` with its symbolic leaves taken out (in order)."""
    if isinstance(value, Sym):
        leaves.append(value)
        return "§int"
    if isinstance(value, SymBool):
        leaves.append(value)
        return "§bool"
    if value is None or isinstance(value, str | int | enum.Enum):
        return (type(value).__name__, value)
    if isinstance(value, immutables.Map):
        items = sorted(value.items(), key=lambda kv: _key_order(kv[0]))
        return ("map", tuple((_key_order(k), skeleton(v, leaves)) for k, v in items))
    if isinstance(value, tuple):
        return ("tuple", tuple(skeleton(v, leaves) for v in value))
    if isinstance(value, frozenset):
        return ("frozenset", value)
    if attrs.has(type(value)):
        fields = attrs.fields(type(value))  # type: ignore[arg-type]
        return (type(value), tuple(skeleton(getattr(value, f.name), leaves) for f in fields))
    raise TypeError(f"cannot merge a {type(value).__name__}")


def rebuild(value: object, leaves: list[Any], position: list[int]) -> Any:
    """``value`` with its symbolic leaves replaced, in order, by ``leaves``."""
    if isinstance(value, Sym | SymBool):
        leaf = leaves[position[0]]
        position[0] += 1
        return leaf
    if value is None or isinstance(value, str | int | enum.Enum | frozenset):
        return value
    if isinstance(value, immutables.Map):
        items = sorted(value.items(), key=lambda kv: _key_order(kv[0]))
        return immutables.Map({k: rebuild(v, leaves, position) for k, v in items})
    if isinstance(value, tuple):
        return tuple(rebuild(v, leaves, position) for v in value)
    record: Any = value
    fields = attrs.fields(type(record))
    changes = {f.name: rebuild(getattr(record, f.name), leaves, position) for f in fields}
    return attrs.evolve(record, **{f.alias: changes[f.name] for f in fields if f.init})


def _merge_leaf(space: Space, conditions: Sequence[Any], leaves: Sequence[Any]) -> Any:
    first = leaves[0]
    if all(leaf is first for leaf in leaves):
        return first
    if isinstance(first, Sym) and all(isinstance(leaf, Sym) and leaf.term.eq(first.term) for leaf in leaves):
        return first
    if isinstance(first, SymBool):
        term = leaves[-1].term
        for condition, leaf in zip(reversed(conditions[:-1]), reversed(leaves[:-1]), strict=True):
            term = z.If(condition, leaf.term, term)
        return SymBool(space, term)
    syms = [leaf if isinstance(leaf, Sym) else space.const(int(leaf)) for leaf in leaves]
    low, high = min(s.lo for s in syms), max(s.hi for s in syms)
    same = all(s.term.sort() == syms[0].term.sort() and s.signed == syms[0].signed for s in syms)
    if space.mode is Mode.INT or same:
        terms = [s.term for s in syms]
        signed = syms[0].signed
    else:
        width = exact_width(max(signed_width(low, high), *(s.term.size() + (0 if s.signed else 1) for s in syms)))
        terms = [space.widen(s, width) for s in syms]
        signed = True
    term = terms[-1]
    for condition, leaf_term in zip(reversed(conditions[:-1]), reversed(terms[:-1]), strict=True):
        term = z.If(condition, leaf_term, term)
    domains = {s.dom for s in syms}
    return Sym(space, term, low, high, domains.pop() if len(domains) == 1 else None, signed)


def merge(space: Space, paths: Sequence[Path], *, same_numbers: bool = False) -> list[Merged]:
    """Group the paths that did not crash by the skeleton of their result, and merge each group.

    With ``same_numbers`` (bit-vector mode), paths are grouped only when their numbers are the
    same terms, so no number becomes an ``ite``: a sum with an ``ite`` term inside is a different
    adder circuit from the sum the hypotheses state, and SAT cannot cheaply prove the two equal.
    Flags may still differ (an ``ite`` of booleans costs nothing).
    """
    groups: dict[Any, list[tuple[int, list[Any]]]] = {}
    for index, path in enumerate(paths):
        if path.crashed is not None:
            continue
        leaves: list[Any] = []
        key = skeleton(path.result, leaves)
        if same_numbers:
            key = (key, tuple(leaf.term.get_id() for leaf in leaves if isinstance(leaf, Sym)))
        groups.setdefault(key, []).append((index, leaves))
    merged: list[Merged] = []
    for members in groups.values():
        indices = tuple(i for i, _ in members)
        conditions = [z.And(space.true(), *paths[i].condition) for i in indices]
        columns = list(zip(*(leaves for _, leaves in members), strict=True)) if members[0][1] else []
        new_leaves = [_merge_leaf(space, conditions, list(column)) for column in columns]
        result = rebuild(paths[indices[0]].result, new_leaves, [0])
        merged.append(Merged(premise=z.Or(space.false(), *conditions), result=result, paths=indices))
    return merged
