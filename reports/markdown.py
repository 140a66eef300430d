"""A counterexample as a Markdown report a person reads top to bottom and can act on.

Rules:
1. The report opens with a ``#`` title (rule and profile) and the one sentence (``cx.summary``),
   then a facts list (profile, level, engine, kind, variant, known reference, failing step), the
   violated rule (name, statement, spec section), the steps, the start state, expected versus
   observed (when there are sides), the notes, and how to reproduce.
2. The steps table shows each action as ``name(k=v, ...)`` (arguments sorted; ``None`` ones left
   out, as they mean "not given"), its outcome, ONLY the leaf fields the step changed
   (``changes(previous state, state after)``; the first step compares with ``cx.initial``) as
   ``path: before → after``, and the violations found after it, known ones marked. The failing
   step is marked. A record that appears is one line ``+ path = {field: value, ...}``; one that
   disappears is ``- path``; "—" means absent.
3. A tuple of records in a snapshot (the slot queue's items) is shown by index
   (``queue.items[0].seen``), so a change names the field that changed.
4. The start state is the ``setup`` arguments when there are some; otherwise the leaf fields that
   differ from the profile's fresh start at that level.
5. Deterministic: no clock, no environment; every map is walked in sorted key order. Table cells
   escape ``|`` and hold no newline.

Mirrors: reports/render.py (the file names of the other renderings named in "How to reproduce").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from reports.counterexample import Counterexample, Found, Rec, Side, Step, changes, flatten, snapshot
from reports.headline import known_reference

ABSENT = "—"
ARROW = "→"
EMPTY = ("{}", "()")


def cell(text: str) -> str:
    """``text`` fit for a table cell: ``|`` escaped, no newline (rule 5)."""
    return text.replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def value_text(value: Any) -> str:
    """A snapshot leaf or an argument as text: strings bare, ``None`` as ``None``, sets sorted."""
    if value is None:
        return "None"
    if isinstance(value, bool | int):
        return str(value)
    if isinstance(value, str):
        return value
    if isinstance(value, frozenset | set):
        return "{" + ", ".join(sorted(value_text(v) for v in value)) + "}"
    if isinstance(value, tuple | list):
        return "(" + ", ".join(value_text(v) for v in value) + ")"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{value_text(k)}: {value_text(value[k])}" for k in sorted(value, key=repr)) + "}"
    return str(value)


def _argument_text(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, frozenset | set):
        return "{" + ", ".join(sorted(_argument_text(v) for v in value)) + "}"
    if isinstance(value, tuple | list):
        inner = ", ".join(_argument_text(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    return value_text(value)


def call(name: str, arguments: Mapping[str, Any]) -> str:
    """``name(k=v, ...)``: sorted keys, ``None`` arguments left out (rule 2)."""
    shown = ", ".join(f"{k}={_argument_text(arguments[k])}" for k in sorted(arguments) if arguments[k] is not None)
    return f"{name}({shown})"


def expand(value: Any) -> Any:
    """A snapshot with each tuple of records turned into a map by index (rule 3)."""
    if isinstance(value, Rec):
        return Rec({k: expand(v) for k, v in value.items()})
    if isinstance(value, dict):
        return {k: expand(v) for k, v in value.items()}
    if isinstance(value, tuple) and value and any(isinstance(v, dict) for v in value):
        return {i: expand(v) for i, v in enumerate(value)}
    return value


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith((prefix + ".", prefix + "["))


def _entries(path: str) -> list[str]:
    """The map-entry prefixes of ``path``, shortest first: ``a[x].b[y].c`` -> ``a[x]``, ``a[x].b[y]``."""
    found, depth = [], 0
    for i, char in enumerate(path):
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
            if depth == 0:
                found.append(path[: i + 1])
    return found


def _record(group: str, leaves: Mapping[str, Any]) -> str:
    """A record's leaves under ``group`` as ``{field: value, ...}`` (a lone leaf as its value)."""
    fields = sorted(p for p in leaves if _under(p, group))
    if fields == [group]:
        return value_text(leaves[group])
    return "{" + ", ".join(f"{p[len(group) :].lstrip('.')}: {value_text(leaves[p])}" for p in fields) + "}"


def _changed(before: Any, after: Any) -> list[tuple[str, str, str | None, str | None]]:
    """(kind, path, before text, after text) per change: ``new`` and ``gone`` records, ``leaf`` changes."""
    old, new = expand(before), expand(after)
    old_leaves, new_leaves = flatten(old), flatten(new)
    changed = changes(old, new)
    paths = [p for p, _, _ in changed]
    found: list[tuple[str, str, str | None, str | None]] = []
    done: set[str] = set()
    for path, was, now in changed:
        if path in done:
            continue
        had, has = path in old_leaves, path in new_leaves
        # An empty map or tuple leaf that only gave way to (or made way for) its entries.
        if ((was in EMPTY and not has) or (now in EMPTY and not had)) and any(
            p != path and _under(p, path) for p in paths
        ):
            continue
        other = new_leaves if had else old_leaves
        group = next((e for e in _entries(path) if not any(_under(p, e) for p in other)), None)
        if group is not None and not had:
            done.update(p for p in new_leaves if _under(p, group))
            found.append(("new", group, None, _record(group, new_leaves)))
        elif group is not None and not has:
            done.update(p for p in old_leaves if _under(p, group))
            found.append(("gone", group, _record(group, old_leaves), None))
        else:
            found.append(("leaf", path, value_text(was) if had else None, value_text(now) if has else None))
    return found


def describe_changes(before: Any, after: Any) -> list[str]:
    """One line per change from ``before`` to ``after`` (rules 2-3), in path order."""
    lines = []
    for kind, path, was, now in _changed(before, after):
        if kind == "new":
            lines.append(f"+ `{path}` = {now}")
        elif kind == "gone":
            lines.append(f"- `{path}`")
        else:
            lines.append(f"`{path}`: {ABSENT if was is None else was} {ARROW} {ABSENT if now is None else now}")
    return lines


def describe_state(fresh: Any, state: Any) -> list[str]:
    """The fields of ``state`` that differ from ``fresh``, as ``path = value`` lines (rule 4)."""
    lines = []
    for kind, path, _, now in _changed(fresh, state):
        if kind == "gone" or now is None:
            lines.append(f"`{path}` absent")
        else:
            lines.append(f"`{path}` = {now}")
    return lines


def _violation_text(v: Found) -> str:
    numbers = ""
    if v.expected is not None or v.observed is not None:
        numbers = f" (expected {value_text(v.expected)}, observed {value_text(v.observed)})"
    known = f" — known: {v.known}" if v.known else ""
    return f"`{v.rule}` on {v.entity}: {v.message}{numbers}{known}"


def _outcome(step: Step) -> str:
    if step.found is not None:
        return f"{step.outcome}, found {step.found}"
    return step.outcome


def _table(header: Iterable[str], rows: Iterable[Iterable[str]]) -> list[str]:
    head = list(header)
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines.extend("| " + " | ".join(cell(c) for c in row) + " |" for row in rows)
    return lines


def failing_index(cx: Counterexample) -> int | None:
    """The failing step: the first violation of the rule, else (a divergence) the first side's step."""
    if cx.failing_step is not None:
        return cx.failing_step
    steps = sorted(s.step for s in cx.sides if 0 <= s.step < len(cx.steps))
    return steps[0] if steps else None


def _steps(cx: Counterexample) -> list[str]:
    failing = failing_index(cx)
    rows = []
    previous = cx.initial
    for index, step in enumerate(cx.steps):
        number = f"**{index + 1}** ✗" if index == failing else str(index + 1)
        changed = describe_changes(previous, step.state) if step.state is not None else []
        rows.append(
            [
                number,
                f"`{call(step.action, step.arguments)}`",
                _outcome(step),
                "<br>".join(changed) or ABSENT,
                "<br>".join(_violation_text(v) for v in step.violations) or ABSENT,
            ]
        )
        if step.state is not None:
            previous = step.state
    if not rows:
        return ["No steps: the start state itself breaks the rule."]
    legend = "✗ marks the failing step. Changes list only the fields the step changed; — means absent."
    return [legend, "", *_table(["#", "Action", "Outcome", "Changes", "Violations found after it"], rows)]


def _fresh_start(cx: Counterexample) -> Any:
    from model.state import Profile
    from reports.build import start_state

    try:
        return snapshot(start_state(Profile(cx.profile), cx.level))
    except (ValueError, KeyError, TypeError):
        return None


def _start(cx: Counterexample) -> list[str]:
    if cx.setup is not None:
        maker = "initial_state" if cx.level == "reservations" else "initial_market"
        if not cx.setup:
            return [f"A fresh node: `{maker}({cx.profile})` with every default."]
        lines = [f"A fresh node: `{maker}({cx.profile}, ...)` with these arguments, every other at its default:", ""]
        lines.extend(f"- `{k}` = {value_text(cx.setup[k])}" for k in sorted(cx.setup))
        return lines
    fresh = _fresh_start(cx)
    if fresh is None:
        found = [f"`{p}` = {value_text(v)}" for p, v in sorted(flatten(expand(cx.initial)).items())]
        return ["Every leaf field of the start state:", "", *(f"- {line}" for line in found)]
    found = describe_state(fresh, cx.initial)
    if not found:
        return ["A fresh node: nothing differs from the profile's start."]
    return [
        "Given as a state (no setup); the fields that differ from a fresh node of the profile:",
        "",
        *(f"- {line}" for line in found),
    ]


def _sides(sides: tuple[Side, ...], steps: tuple[Step, ...]) -> list[str]:
    rows = []
    for side in sorted(sides, key=lambda s: (s.step, s.field)):
        action = f"`{steps[side.step].action}`" if 0 <= side.step < len(steps) else ABSENT
        rows.append(
            [str(side.step + 1), action, f"`{side.field}`", value_text(side.expected), value_text(side.observed)]
        )
    return _table(["Step", "Action", "Field", "Expected (model)", "Observed"], rows)


def render(cx: Counterexample) -> str:
    """The Markdown report of ``cx`` (rule 1)."""
    slug = cx.slug()
    known = known_reference(cx)
    failing = failing_index(cx)
    lines = [f"# `{cx.rule}` on {cx.profile}", "", cx.summary, ""]
    facts = [
        ("Profile", cx.profile),
        ("Level", cx.level),
        ("Engine", cx.engine),
        ("Kind", cx.kind),
        ("Variant", cx.variant),
        ("Known", known),
        ("Failing step", None if failing is None else f"{failing + 1} of {len(cx.steps)}"),
    ]
    lines.extend(f"- **{name}:** {value}" for name, value in facts if value)
    lines += ["", "## Violated rule", "", f"**`{cx.rule}`** ({cx.kind}; codex-sales-spec {cx.spec})", ""]
    lines += [f"> {cx.statement}", "", "## Steps", "", *_steps(cx), "", "## Start state", "", *_start(cx), ""]
    if cx.sides:
        lines += ["## Expected versus observed", "", *_sides(cx.sides, cx.steps), ""]
    if cx.notes:
        lines += ["## Notes", "", *(f"- {note}" for note in cx.notes), ""]
    lines += ["## How to reproduce", ""]
    if cx.reproduce:
        lines += ["```sh", cx.reproduce, "```", ""]
    lines += [
        "Replay the saved trace through the model, or run the generated regression test:",
        "",
        "```sh",
        f"sales-model replay {slug}.itf.json",
        f"pytest test_{slug.replace('-', '_')}.py",
        "```",
        "",
    ]
    return "\n".join(lines)
