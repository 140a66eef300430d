"""The one counterexample value every engine produces, and the snapshots of states it carries.

Rules:
1. A counterexample is a frozen value: what failed (rule, its one-sentence statement, the spec
   section), the profile and level (``reservations``: ``model.actions`` on one node's store;
   ``market``: ``model.market`` actions on a whole node), how the start state is made (``setup``,
   or only its snapshot), the steps (action name, arguments, outcome, state after, violations
   found after it), expected-versus-observed ``sides`` where there are two, and how to reproduce.
2. States are carried as *snapshots*: plain values (``Rec`` for an attrs record, ``dict`` for a
   map, ``tuple``, ``frozenset``, ``int``, ``str``, ``bool``, ``None``; enums by value), so every
   rendering is a function of the value alone, and maps iterate in sorted key order.
3. Nothing here reads a clock or the environment: renderings are deterministic.

Mirrors: the catalogue's rule names and statements (invariants/catalogue.py).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from typing import Any

import attrs
import immutables

from invariants.catalogue import Violation

#: The version of the action and state vocabulary (docs/reports.md); written into every trace.
VOCABULARY = "codex-sales-model/1"

LEVELS = ("reservations", "market")
ENGINES = ("hypothesis", "exhaustive", "z3", "oracle", "replay")


class Rec(dict[str, Any]):
    """A snapshot of an attrs record: field name -> snapshot (a ``dict`` is a map)."""

    def __repr__(self) -> str:
        return f"Rec({dict.__repr__(self)})"


def _order(key: Any) -> tuple[str, str]:
    return (type(key).__name__, repr(key))


def snapshot(value: Any) -> Any:
    """``value`` as plain values (rule 2): records, maps in sorted key order, tuples, sets."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, enum.Enum):
        return value.value
    if attrs.has(type(value)):
        return Rec({f.name: snapshot(getattr(value, f.name)) for f in attrs.fields(type(value))})
    if isinstance(value, immutables.Map | Mapping):
        return {snapshot(k): snapshot(value[k]) for k in sorted(value.keys(), key=_order)}
    if isinstance(value, tuple | list):
        return tuple(snapshot(v) for v in value)
    if isinstance(value, frozenset | set):
        return frozenset(snapshot(v) for v in value)
    raise TypeError(f"cannot snapshot a {type(value).__name__}")


def _key_text(key: Any) -> str:
    if isinstance(key, tuple):
        return ",".join(_key_text(k) for k in key)
    return str(key)


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Leaf paths of a snapshot (``availabilities[a1].free_size`` -> 3); an empty map, a tuple or a
    set is one leaf (shown by its text)."""
    if isinstance(value, Rec):
        found: dict[str, Any] = {}
        for name in sorted(value):
            found.update(flatten(value[name], f"{prefix}.{name}" if prefix else name))
        return found
    if isinstance(value, dict) and value:
        found = {}
        for key in sorted(value, key=_order):
            found.update(flatten(value[key], f"{prefix}[{_key_text(key)}]"))
        return found
    if isinstance(value, frozenset):
        return {prefix: "{" + ", ".join(sorted(_key_text(v) for v in value)) + "}"}
    if isinstance(value, tuple) and any(isinstance(v, dict) for v in value):
        found = {}
        for index, item in enumerate(value):
            found.update(flatten(item, f"{prefix}[{index}]"))
        return found
    if isinstance(value, tuple):
        return {prefix: "(" + ", ".join(_key_text(v) for v in value) + ")"}
    if isinstance(value, dict):
        return {prefix: "{}"}
    return {prefix: value}


def changes(before: Any, after: Any) -> list[tuple[str, Any, Any]]:
    """The leaf paths whose value differs between two snapshots: (path, before, after); a path
    only on one side has ``None`` on the other. Sorted by path."""
    old, new = flatten(before), flatten(after)
    return [
        (path, old.get(path), new.get(path))
        for path in sorted(old.keys() | new.keys())
        if old.get(path) != new.get(path)
    ]


#: One violation found after a step: the catalogue's own ``Violation`` (rule, entity, message,
#: expected, observed, known), already plain data.
Found = Violation


@attrs.frozen(kw_only=True)
class Step:
    """One action and what it did: ``outcome`` is ``accepted`` or the rejection's kind; ``found`` is
    the id a query returned; ``state`` the snapshot after the step; ``violations`` those found after it."""

    action: str
    arguments: Mapping[str, Any]
    outcome: str = "accepted"
    found: str | None = None
    state: Any = None
    violations: tuple[Found, ...] = ()


@attrs.frozen(kw_only=True)
class Side:
    """One field where two sides disagree (model expected, implementation observed), after the step
    at 0-based index ``step`` (as ``Counterexample.failing_step``)."""

    step: int
    field: str
    expected: Any
    observed: Any


@attrs.frozen(kw_only=True)
class Counterexample:
    """What failed, on which profile, by which steps from which start, and how to reproduce it."""

    rule: str
    statement: str
    spec: str
    kind: str  # invariant | property | no_wrap | divergence | crash
    engine: str  # one of ENGINES
    profile: str  # a model.state.Profile value
    level: str  # one of LEVELS
    summary: str  # one sentence a person can act on
    initial: Any  # snapshot of the state before the first step
    steps: tuple[Step, ...]
    setup: Mapping[str, Any] | None = None  # initial_state / initial_market keyword arguments, if the start is one
    variant: str | None = None  # a broken or faithful variant's name, when the model ran one
    sides: tuple[Side, ...] = ()
    known: str | None = None  # a known nim-codex behaviour this reproduces (reference)
    reproduce: str = ""  # a command that finds or replays it
    notes: tuple[str, ...] = ()  # engine-specific facts (z3 values, triage verdict, seed, ...)

    @property
    def failing_step(self) -> int | None:
        """The index (0-based) of the first step after which this rule's violation was found."""
        for index, step in enumerate(self.steps):
            if any(v.rule == self.rule for v in step.violations):
                return index
        return None

    def slug(self) -> str:
        """A file-name stem: profile, rule, engine (and variant), in ``[a-z0-9-]`` only (a shell word,
        and an importable module name once ``-`` becomes ``_``)."""
        parts = [self.profile, self.rule, self.engine] + ([self.variant] if self.variant else [])
        text = "-".join(parts).lower()
        return re.sub(r"-{2,}", "-", re.sub(r"[^a-z0-9-]", "-", text)).strip("-")
