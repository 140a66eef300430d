"""A counterexample as a standalone pytest file that rebuilds its start, runs its actions, and asserts.

Rules:
1. The start is ``initial_state`` / ``initial_market`` called with ``cx.setup`` when the
   counterexample has one, else ``reports.restore.restore`` of its start snapshot written as a
   literal. Each action is its model class (``CreateReservationHead(availability_id="a1", ...)``),
   fields equal to their default left out.
2. The actions run through ``reports.build.run_steps`` (the engines' own checks), with the
   operations or market rules of the variant ``cx.variant`` names (``variants.broken``,
   ``variants.broken_market``, ``variants.faithful``). The test asserts every step's recorded
   outcome, then that the rule's violation appears after the failing step, carrying exactly the
   known nim-codex references the counterexample recorded (or none).
3. The text is deterministic and formatted as ``ruff format`` would (line length 120): a call or
   literal that does not fit is split after its opening bracket, its items on one line if they fit,
   else one per line with a trailing comma.

Mirrors: the checks after each step of stateful_tests/machines.py (through ``reports.build``).
"""

from __future__ import annotations

import enum
import json
import re
import textwrap
from collections.abc import Mapping
from typing import Any

import attrs

from model.state import Profile
from reports.counterexample import Counterexample, Rec, snapshot
from reports.restore import restore
from reports.vocabulary import decode_action

WIDTH = 120
_CONFUSABLE = str.maketrans(
    dict.fromkeys("\u2018\u2019", "'") | dict.fromkeys("\u201c\u201d", '"') | dict.fromkeys("\u2013\u2014\u2212", "-")
)


@attrs.frozen
class _Group:
    """A call or a literal: ``head`` then ``open``, items (prefix, node), ``close``."""

    head: str
    open: str
    close: str
    items: tuple[tuple[str, Any], ...]
    one_tuple: bool = False


def _flat(node: Any) -> str:
    if isinstance(node, str):
        return node
    body = ", ".join(prefix + _flat(item) for prefix, item in node.items)
    text: str = node.head + node.open + body + ("," if node.one_tuple else "") + node.close
    return text


def _lines(node: Any, indent: str, prefix: str, suffix: str) -> list[str]:
    flat = indent + prefix + _flat(node) + suffix
    if isinstance(node, str) or len(flat) <= WIDTH or not node.items:
        return [flat]
    inner = indent + "    "
    opening = indent + prefix + node.head + node.open
    closing = indent + node.close + suffix
    body = inner + ", ".join(p + _flat(item) for p, item in node.items) + ("," if node.one_tuple else "")
    if len(body) <= WIDTH:
        return [opening, body, closing]
    if len(node.items) == 1 and not node.one_tuple:
        ((item_prefix, item),) = node.items
        return [opening, *_lines(item, inner, item_prefix, ""), closing]
    found = [opening]
    for item_prefix, item in node.items:
        found += _lines(item, inner, item_prefix, ",")
    return [*found, closing]


def _string(text: str) -> str:
    quoted: str = json.dumps(text, ensure_ascii=False)
    return quoted


def _order(key: Any) -> tuple[str, str]:
    return (type(key).__name__, repr(key))


class _Writer:
    """Python source for values, remembering what it must import."""

    def __init__(self) -> None:
        self.imports: set[tuple[str, str]] = set()

    def need(self, module: str, name: str) -> str:
        self.imports.add((module, name))
        return name

    def value(self, value: Any) -> Any:
        if value is None or isinstance(value, bool | int):
            return repr(value)
        if isinstance(value, str):
            return _string(value)
        if isinstance(value, enum.Enum):
            cls = type(value)
            return f"{self.need(cls.__module__, cls.__name__)}.{value.name}"
        if attrs.has(type(value)):
            return self.record(value)
        if isinstance(value, Rec):
            return _Group("", "{", "}", tuple((f"{_string(k)}: ", self.value(v)) for k, v in value.items()))
        if isinstance(value, Mapping):
            keys = sorted(value, key=_order)
            return _Group("", "{", "}", tuple((f"{_flat(self.value(k))}: ", self.value(value[k])) for k in keys))
        if isinstance(value, tuple | list):
            return _Group("", "(", ")", tuple(("", self.value(v)) for v in value), one_tuple=len(value) == 1)
        if isinstance(value, frozenset | set):
            if not value:
                return "frozenset()"
            members = sorted(value, key=_order)
            return _Group("frozenset(", "{", "})", tuple(("", self.value(v)) for v in members))
        raise TypeError(f"cannot write a {type(value).__name__} as Python")

    def record(self, value: Any) -> _Group:
        cls = type(value)
        items = []
        for field in attrs.fields(cls):
            current = getattr(value, field.name)
            default = field.default
            if default is not attrs.NOTHING and not isinstance(default, attrs.Factory) and current == default:  # type: ignore[arg-type]
                continue
            items.append((f"{field.name}=", self.value(current)))
        return _Group(self.need(cls.__module__, cls.__name__), "(", ")", tuple(items))

    def import_lines(self) -> list[str]:
        by_module: dict[str, set[str]] = {}
        for module, name in self.imports:
            by_module.setdefault(module, set()).add(name)
        found = []
        for module in sorted(by_module):
            names = sorted(by_module[module], key=_import_order)
            line = f"from {module} import {', '.join(names)}"
            if len(line) <= WIDTH:
                found.append(line)
            else:
                found += [f"from {module} import (", *(f"    {n}," for n in names), ")"]
        return found


def _import_order(name: str) -> tuple[int, str]:
    """isort's order-by-type: CONSTANTS, then Classes, then functions."""
    if name.isupper() and len(name) > 1:
        return (0, name)
    return (1, name) if name[:1].isupper() else (2, name)


def _docstring(cx: Counterexample, failing: int | None) -> list[str]:
    def wrap(text: str) -> list[str]:
        clean = text.translate(_CONFUSABLE).replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
        return textwrap.wrap(clean, 100, break_long_words=False, break_on_hyphens=False) or [""]

    variant = f", variant {cx.variant}" if cx.variant else ""
    first = wrap(f"Regression test: {cx.profile} {cx.level}, rule {cx.rule} (found by {cx.engine}{variant}).")
    lines = ['"""' + first[0], *first[1:], "", *wrap(cx.summary), ""]
    spec = f" (spec {cx.spec})" if cx.spec else ""
    lines += wrap(f"Rule {cx.rule}: {cx.statement}{spec}")
    if cx.known:
        lines += wrap(f"Known nim-codex behaviour: {cx.known}.")
    where = f"its violation must appear after step {failing}" if failing else "no step violates it"
    lines += wrap(f"Reproduces the counterexample {cx.slug()} in {len(cx.steps)} step(s); {where}.")
    command = [f"    sales-model report --format pytest {cx.slug()}.itf.json"]
    if len(command[0]) > 100:  # keep the file within the line length ruff allows
        command = ["    sales-model report --format pytest", f"        {cx.slug()}.itf.json"]
    lines += ["Regenerate with (one command):", *command, '"""']
    return lines


def _identifier(text: str) -> str:
    return re.sub(r"[^0-9a-zA-Z_]+", "_", text).strip("_").lower() or "trace"


def _variant_lines(cx: Counterexample, writer: _Writer, profile: Profile) -> tuple[list[str], list[str]]:
    """Assignments of OPERATIONS / RULES and the keyword arguments to pass run_steps."""
    if cx.variant is None:
        return [], []
    from variants.broken import VARIANTS
    from variants.broken_market import MARKET_VARIANTS
    from variants.faithful import FAITHFUL

    name = _string(cx.variant)
    if any(v.name == cx.variant for v in MARKET_VARIANTS):
        writer.need("variants.broken_market", "MARKET_VARIANTS")
        return [f"RULES = {{v.name: v for v in MARKET_VARIANTS}}[{name}].rules(PROFILE)"], ["rules=RULES"]
    if cx.level == "market":
        writer.need("reports.replay", "tables_for")
        return [f"OPERATIONS, RULES = tables_for({name}, PROFILE, {_string(cx.level)})"], ["rules=RULES"]
    if any(v.name == cx.variant for v in VARIANTS):
        writer.need("variants.broken", "VARIANTS")
        return [f"OPERATIONS = {{v.name: v for v in VARIANTS}}[{name}].operations(PROFILE)"], ["operations=OPERATIONS"]
    if any(f.name == cx.variant and f.profile is profile for f in FAITHFUL):
        writer.need("variants.faithful", "FAITHFUL")
        return [f"OPERATIONS = {{f.name: f for f in FAITHFUL}}[{name}].table"], ["operations=OPERATIONS"]
    raise ValueError(f"unknown variant {cx.variant!r}")


def render(cx: Counterexample) -> str:
    """``cx`` as a standalone pytest file (rules 1-3)."""
    profile = Profile(cx.profile)
    writer = _Writer()
    writer.need("model.state", "Profile")
    writer.need("reports.build", "run_steps")
    failing = cx.failing_step
    failing_number = None if failing is None else failing + 1
    body: list[str] = [f"PROFILE = Profile.{profile.name}", f"RULE = {_string(cx.rule)}"]
    if failing_number is not None:
        body.append(f"FAILING_STEP = {failing_number}")
    variant_lines, keywords = _variant_lines(cx, writer, profile)
    body += variant_lines
    if cx.setup is not None:
        function = "initial_state" if cx.level == "reservations" else "initial_market"
        module = "model.state" if cx.level == "reservations" else "model.market_state"
        writer.need(module, function)
        arguments = [("", "PROFILE"), *((f"{k}=", writer.value(v)) for k, v in cx.setup.items())]
        body += _lines(_Group(function, "(", ")", tuple(arguments)), "", "START = ", "")
    else:
        writer.need("reports.restore", "restore")
        start = snapshot(restore(profile, cx.level, cx.initial))  # records in field order, whatever the source
        body += _lines(writer.value(start), "", "SNAPSHOT = ", "")
        body.append(f"START = restore(PROFILE, {_string(cx.level)}, SNAPSHOT)")
    actions = [writer.value(decode_action(profile, cx.level, s.action, s.arguments)) for s in cx.steps]
    body += _lines(_Group("", "[", "]", tuple(("", a) for a in actions)), "", "ACTIONS = ", "")
    body += _lines(_Group("", "[", "]", tuple(("", _string(s.outcome)) for s in cx.steps)), "", "OUTCOMES = ", "")
    call = ", ".join(["START", "ACTIONS", *keywords])
    test = [
        "",
        "",
        f"def test_reproduces_{_identifier(cx.rule)}() -> None:",
        f"    steps = run_steps({call})",
        "    assert [step.outcome for step in steps] == OUTCOMES",
    ]
    if failing is not None:
        known = sorted({v.known for v in cx.steps[failing].violations if v.rule == cx.rule}, key=_order)
        expected = "{" + ", ".join("None" if k is None else _string(k) for k in known) + "}"
        test += [
            "    found = [v for v in steps[FAILING_STEP - 1].violations if v.rule == RULE]",
            '    assert found, f"{RULE} is not violated after step {FAILING_STEP}"',
            f"    assert {{v.known for v in found}} == {expected}",
        ]
    if failing is None and cx.kind == "no_wrap" and cx.steps and cx.level == "reservations":
        # A wrap breaks no state rule: assert the wrap itself, by running the last step concretely
        # through the symbolic engine (``invariants.symbolic.replay.concrete_wraps``).
        writer.need("model.actions", "apply")
        writer.need("invariants.symbolic.replay", "concrete_wraps")
        table = "OPERATIONS" if any(k.startswith("operations=") for k in keywords) else "None"
        body.append(f"SITE = {_string(cx.rule.removeprefix('no_wrap:'))}")
        test += [
            "    state = START",
            "    for action in ACTIONS[:-1]:",
            f"        state = apply(state, action, {table}).state",
            f"    wraps = [w.text for w in concrete_wraps(state, ACTIONS[-1], {table}) if w.site == SITE]",
            '    assert wraps, f"{SITE} does not wrap at the last step"',
        ]
    head = [*_docstring(cx, failing_number), "", "from __future__ import annotations", "", *writer.import_lines(), ""]
    return "\n".join([*head, *body, *test]) + "\n"
