"""Shrinking a failing trace (JSON lines or ITF) to a 1-minimal sub-trace that fails the same way.

Rules:
1. A candidate is a subsequence of the events (in order, each event unchanged, its ``line`` kept
   from the input so reports still point at the original file); the header is kept.
2. A candidate that names an id no earlier create in it introduced (``oracle.trace.unknown_id``)
   is invalid: it does not count as failing.
3. A candidate fails *the same way* when it keeps the input's failing event and ``check`` fails
   it there (not at an earlier event), with the same kind (divergence or violation) and at least
   one differing field (divergence) or broken rule (violation) in common with the input's failure.
4. First everything after the failing event is dropped; then delta debugging (ddmin, Zeller and
   Hildebrandt 2002) over the rest; then one-by-one removal until no single event can go. The
   result is 1-minimal: removing any one event makes it pass or invalid. Deterministic. The
   algorithm is ``oracle.minimise.minimise`` over a predicate; both trace formats use it.
5. Recorded observations describe the whole recorded run: a repo counter recorded after event 10
   depends on events 1-9, so no earlier event could go. With ``relax`` (the default) the events
   before the failing one keep their op and args only (the failing event keeps its records), when
   that still fails the same way; otherwise the trace is shrunk as recorded.
6. An ITF trace (a ``Counterexample``, replayed by ``reports.replay.replay``) is shrunk over its
   steps up to the failing one; its start state and metadata are kept. A candidate fails the same
   way when it keeps the input's failing step and its replay fails there (so no earlier step may
   fail instead), with the same kind and a common differing field or broken rule (rule 3), and
   with the model's outcome of that step unchanged (the same ``outcome`` difference, or none).
   Rule 2 for any level: a candidate that keeps a step naming an id (an ``*_id`` argument or the
   found id) but drops the step that first named it in the input is invalid.
7. An ITF step records the whole state after it, which depends on every step before it. With
   ``relax`` every kept step keeps its action, recorded outcome and found id (so each still does
   what the implementation did), and its state is re-recorded from the model running the kept
   steps; the failing step's state keeps, in addition, the recorded value of each leaf that
   differed in the input's failure (the divergence's fields), so it differs from the model there
   and nowhere else. The written trace carries these states and the model's violations, and
   replays exactly as the candidate did. Without ``relax`` every step is checked as recorded.

Mirrors: oracle/trace.py (the check every candidate runs), reports/replay.py (the ITF one);
codex-sales-spec §2.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from model.actions import OperationTable
from model.state import Profile
from oracle.minimise import minimise
from oracle.trace import Event, Header, TraceReport, check, unknown_id
from reports.counterexample import Counterexample, Rec, Step
from reports.replay import ReplayReport, model_start, replay


class NotFailing(ValueError):
    """The input trace passes the check: there is nothing to shrink."""


# --- JSON-lines traces ------------------------------------------------------------------------------


def _same_way(report: TraceReport, kind: str | None, keys: frozenset[str]) -> bool:
    if report.ok:
        return False
    their_kind, their_keys = report.signature()
    return their_kind == kind and bool(their_keys & keys)


def relaxed(events: Sequence[Event]) -> list[Event]:
    """``events`` with every observation but the last event's dropped (rule 5): op and args only."""
    return [e._replace(outcome=None, result=None, has_result=False, state=None) for e in events[:-1]] + list(
        events[-1:]
    )


def shrink_events(
    header: Header, events: Sequence[Event], operations: OperationTable | None = None, *, relax: bool = True
) -> tuple[list[Event], bool]:
    """The smallest sub-trace found that fails like ``events`` does (rules 1-5), and whether the
    events before the failing one were relaxed; ``NotFailing`` if ``events`` passes."""
    original = check(header, events, operations)
    if original.ok or original.event_index is None:
        raise NotFailing("the trace passes the check: nothing to shrink")
    kind, keys = original.signature()
    pool = list(events[: original.event_index + 1])
    failing = pool[-1].line

    def same(chosen: list[Event]) -> bool:
        return _fails_there(header, chosen, operations, failing, kind, keys)

    relaxing = relax and same(relaxed(pool))
    if relaxing:
        pool = relaxed(pool)
    return minimise(pool, same), relaxing


def _fails_there(
    header: Header,
    chosen: Sequence[Event],
    operations: OperationTable | None,
    failing: int,
    kind: str | None,
    keys: frozenset[str],
) -> bool:
    """Whether ``chosen`` fails the same way at the event of line ``failing``, its last (rule 3)."""
    if not chosen or chosen[-1].line != failing or unknown_id(chosen) is not None:
        return False
    report = check(header, chosen, operations)
    return report.event_index == len(chosen) - 1 and _same_way(report, kind, keys)


def shrink(
    header: Header, events: Sequence[Event], operations: OperationTable | None = None, *, relax: bool = True
) -> list[Event]:
    """The smallest sub-trace found that fails like ``events`` does (rules 1-5); ``NotFailing`` if
    ``events`` passes."""
    return shrink_events(header, events, operations, relax=relax)[0]


def is_one_minimal(header: Header, events: Sequence[Event], operations: OperationTable | None = None) -> bool:
    """Whether removing any one event makes the trace pass or invalid (rule 4), given it fails."""
    report = check(header, events, operations)
    if report.ok or report.event_index != len(events) - 1:
        return False
    kind, keys = report.signature()
    for position in range(len(events)):
        candidate = list(events[:position]) + list(events[position + 1 :])
        if _fails_there(header, candidate, operations, events[-1].line, kind, keys):
            return False
    return True


# --- ITF traces -------------------------------------------------------------------------------------


def _signature(report: ReplayReport) -> tuple[str | None, frozenset[str], tuple[Any, Any] | None]:
    """How a replay fails (rule 6): the kind, the differing fields or broken rules, and the
    (recorded, model) outcome difference or None."""
    if report.kind == "divergence":
        outcome = next(((d.recorded, d.model) for d in report.differences if d.field == "outcome"), None)
        return report.kind, frozenset(d.field for d in report.differences), outcome
    return report.kind, frozenset(v.rule for v in report.violations), None


def shrink_itf(cx: Counterexample, *, relax: bool = True) -> tuple[Counterexample, bool]:
    """The smallest sub-trace of ``cx`` found that fails like it does (rules 4, 6, 7), and whether
    the steps before the failing one were relaxed; ``NotFailing`` if ``cx`` replays ok."""
    original = replay(cx)
    if original.ok or original.step is None:
        raise NotFailing("the trace replays through the model: nothing to shrink")
    kind, keys, outcome = _signature(original)
    pool = list(cx.steps[: original.step])

    def same(chosen: list[Step]) -> bool:
        report = replay(attrs.evolve(cx, steps=tuple(chosen)))
        if report.ok or report.step != len(chosen):
            return False
        their_kind, their_keys, their_outcome = _signature(report)
        return their_kind == kind and bool(their_keys & keys) and their_outcome == outcome

    def relaxed_same(chosen: list[Step]) -> bool:
        return same(_rerecorded(cx, chosen, keys if kind == "divergence" else frozenset()))

    relaxing = relax and relaxed_same(pool)
    test = relaxed_same if relaxing else same
    last, needs = len(pool) - 1, _introducers(pool)  # every candidate keeps the failing step (rule 6)

    def fails(chosen: list[int]) -> bool:
        valid = chosen[-1] == last and all(needs[i] <= set(chosen) for i in chosen)
        return valid and test([pool[i] for i in chosen])

    kept = minimise(list(range(len(pool))), fails)
    steps = [pool[i] for i in kept]
    if relaxing:
        steps = _rerecorded(cx, steps, keys if kind == "divergence" else frozenset())
    mode = "relaxed" if relaxing else "as recorded"
    note = f"shrunk from {len(cx.steps)} to {len(steps)} step(s) by sales-model trace shrink ({mode})"
    renumber = {old: new for new, old in enumerate(kept)}
    sides = tuple(attrs.evolve(s, step=renumber[s.step]) for s in cx.sides if s.step in renumber)
    return attrs.evolve(cx, steps=tuple(steps), sides=sides, notes=(*cx.notes, note)), relaxing


def _introducers(steps: Sequence[Step]) -> list[frozenset[int]]:
    """For each step, the steps that first named the ids it names (``*_id`` arguments, the found
    id): rule 6's ids, introduced by their first mention."""
    first: dict[str, int] = {}
    needs = []
    for index, step in enumerate(steps):
        ids = {v for k, v in step.arguments.items() if k.endswith("_id") and isinstance(v, str)}
        ids |= {step.found} if step.found is not None else set()
        for name in sorted(ids):
            first.setdefault(name, index)
        needs.append(frozenset(first[name] for name in ids))
    return needs


def _rerecorded(cx: Counterexample, steps: list[Step], keep: frozenset[str]) -> list[Step]:
    """``steps`` with the model's states and violations, but the recorded leaves ``keep`` (paths as
    ``reports.replay`` names them) in the last one (rule 7)."""
    from reports.build import run_steps
    from reports.replay import tables_for
    from reports.vocabulary import decode_action

    profile = Profile(cx.profile)
    operations, rules = tables_for(cx.variant, profile, cx.level)
    actions = [decode_action(profile, cx.level, s.action, s.arguments) for s in steps]
    ran = run_steps(model_start(cx, profile)[0], actions, operations=operations, rules=rules)
    found = [attrs.evolve(s, state=r.state, violations=r.violations) for s, r in zip(steps, ran, strict=True)]
    if found and keep:
        last, model = steps[-1], ran[-1]
        state = _patched(last.state, model.state, "", keep)
        found[-1] = attrs.evolve(last, state=state, violations=model.violations)
    return found


def _within(path: str, keep: frozenset[str]) -> bool:
    return any(k == path or k.startswith((f"{path}.", f"{path}[")) for k in keep)


def _patched(recorded: Any, model: Any, path: str, keep: frozenset[str]) -> Any:
    """``model`` with each leaf named in ``keep`` taken from ``recorded`` (records by ``.field``,
    maps by ``[key]``, tuples by ``[index]``, the top level by var name)."""
    if path in keep:
        return recorded
    if path and not _within(path, keep):
        return model
    if isinstance(recorded, Mapping) and isinstance(model, Mapping):
        record = isinstance(model, Rec) or not path
        found: dict[Any, Any] = {}
        for key in [*model, *(k for k in recorded if k not in model)]:
            name = (f"{path}.{key}" if path else str(key)) if record else f"{path}[{_key_text(key)}]"
            if key in model and key in recorded:
                found[key] = _patched(recorded[key], model[key], name, keep)
            elif key in model and name not in keep:
                found[key] = model[key]
            elif key in recorded and _within(name, keep):
                found[key] = recorded[key]
        return Rec(found) if isinstance(model, Rec) else found
    if isinstance(recorded, tuple) and isinstance(model, tuple) and len(recorded) == len(model):
        return tuple(_patched(r, m, f"{path}[{i}]", keep) for i, (r, m) in enumerate(zip(recorded, model, strict=True)))
    return recorded


def _key_text(key: Any) -> str:
    return ",".join(str(k) for k in key) if isinstance(key, tuple) else str(key)
