"""A saved trace replayed through the model: the first step where the trace and the model part.

Rules:
1. ``replay(cx)`` restores ``cx.initial`` (``reports.restore``), decodes each step's action in the
   vocabulary and applies it through the model (``reports.build.run_steps``, the engines' checks).
   A start snapshot that lacks some of the state's fields (a partial trace) is made from
   ``cx.setup`` instead, and its recorded fields are compared as step 0.
2. A step *diverges* when its recorded outcome, found id, or any state field the trace records
   differs from the model's; fields a state does not record (a missing var, a record field left
   out) are not checked (partial observability), though a map's keys are; nor are outcome, found
   and violations when the counterexample's notes list
   them as ``unobserved: ...`` (``reports.itf`` rule 6).
3. A step *violates* when the model finds an invariant or property violation after it that is
   not a known nim-codex behaviour; known ones are listed in the report, never a failure.
4. The report names the first failing step (1-based; 0 is the start state), its kind
   (``divergence`` or ``violation``), one sentence, and the differences or violations.
5. With no operation table or market rules given, the variant the counterexample names (a broken
   reservations variant, a broken market variant or a faithful one) is the model replayed.

Mirrors: Quint's model-based testing (replaying ``mbt::actionTaken`` with its ``mbt::nondetPicks``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from model.actions import Action, OperationTable
from model.market import MarketAction
from model.market_state import MarketRules, default_rules
from model.state import Profile
from reports.build import run_steps, start_state
from reports.counterexample import Counterexample, Found, Rec, Step, snapshot
from reports.itf import UNOBSERVED
from reports.restore import restore
from reports.vocabulary import VocabularyError, decode_action


@attrs.frozen(kw_only=True)
class Difference:
    """One recorded leaf that the model computes differently."""

    field: str
    recorded: Any
    model: Any


@attrs.frozen(kw_only=True)
class ReplayReport:
    """What a replay found: ``ok``, or the first failing ``step`` and its ``kind``."""

    ok: bool
    step: int | None
    kind: str | None  # divergence | violation | None
    message: str
    differences: tuple[Difference, ...] = ()
    violations: tuple[Found, ...] = ()
    known: tuple[tuple[int, Found], ...] = ()
    steps: int = 0
    title: str = ""

    def lines(self) -> list[str]:
        """The report as text lines, for a terminal."""
        verdict = "ok" if self.ok else f"{self.kind} at step {self.step}"
        found = [f"replay of {self.title}: {self.steps} step(s): {verdict}", self.message]
        found += [f"  {d.field}: recorded {d.recorded!r}, model {d.model!r}" for d in self.differences]
        found += [f"  {v.rule} on {v.entity}: {v.message}{_numbers(v)}" for v in self.violations]
        for step, violation in self.known:
            found.append(f"  known at step {step}: {violation.rule} on {violation.entity} ({violation.known})")
        return found

    def to_json(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        return {
            "ok": self.ok,
            "step": self.step,
            "kind": self.kind,
            "message": self.message,
            "steps": self.steps,
            "differences": [{"field": d.field, "recorded": d.recorded, "model": d.model} for d in self.differences],
            "violations": [_violation(v) for v in self.violations],
            "known": [{"step": step, **_violation(v)} for step, v in self.known],
        }


def _numbers(found: Found) -> str:
    if found.expected is None and found.observed is None:
        return ""
    return f" (expected {found.expected}, observed {found.observed})"


def _violation(found: Found) -> dict[str, Any]:
    return {
        "rule": found.rule,
        "entity": found.entity,
        "message": found.message,
        "expected": found.expected,
        "observed": found.observed,
        "known": found.known,
    }


def tables_for(variant: str | None, profile: Profile, level: str) -> tuple[OperationTable | None, MarketRules | None]:
    """The operation table and market rules of the variant named ``variant`` (rule 5)."""
    if variant is None:
        return None, None
    from variants.broken import VARIANTS
    from variants.broken_market import MARKET_VARIANTS
    from variants.faithful import FAITHFUL

    operations: OperationTable | None = None
    for broken in VARIANTS:
        if broken.name == variant and profile in broken.actions:
            operations = broken.operations(profile)
    for faithful in FAITHFUL:
        if faithful.name == variant and faithful.profile is profile:
            operations = faithful.table
    for market in MARKET_VARIANTS:
        if market.name == variant:
            return None, market.rules(profile)
    if operations is None:
        raise VocabularyError(f"variant: expected a variant of {profile.value} (variants/), got {variant!r}")
    if level == "market":
        return None, attrs.evolve(default_rules(profile), operations=operations)
    return operations, None


def _unobserved(cx: Counterexample) -> frozenset[str]:
    names: set[str] = set()
    for note in cx.notes:
        if note.startswith(UNOBSERVED):
            names.update(n.strip() for n in note[len(UNOBSERVED) :].split(","))
    return frozenset(names)


def _leaves(value: Any, prefix: str) -> dict[str, Any]:
    """Leaf paths of a snapshot, by value: records by field, maps by key, tuples by index."""
    if isinstance(value, Mapping) and value:
        found: dict[str, Any] = {}
        for key in sorted(value, key=lambda k: (type(k).__name__, repr(k))):
            name = f"{prefix}.{key}" if isinstance(value, Rec) else f"{prefix}[{_key_text(key)}]"
            found.update(_leaves(value[key], name))
        return found
    if isinstance(value, tuple) and value:
        found = {}
        for index, item in enumerate(value):
            found.update(_leaves(item, f"{prefix}[{index}]"))
        return found
    return {prefix: value}


def _key_text(key: Any) -> str:
    return ",".join(str(k) for k in key) if isinstance(key, tuple) else str(key)


def differences(recorded: Any, model: Any) -> tuple[Difference, ...]:
    """Recorded leaves that differ from the model's, for the top-level fields recorded (rule 2)."""
    if not isinstance(recorded, Mapping) or not isinstance(model, Mapping):
        return () if recorded is None else (Difference(field="state", recorded=recorded, model=model),)
    found = []
    for name in sorted(recorded):
        mine = _leaves(recorded[name], name)
        theirs = _leaves(_prune(recorded[name], model.get(name)), name)
        for path in sorted(mine.keys() | theirs.keys()):
            if path not in mine or path not in theirs or mine[path] != theirs[path]:
                found.append(Difference(field=path, recorded=_shown(mine.get(path)), model=_shown(theirs.get(path))))
    return tuple(found)


def _prune(recorded: Any, model: Any) -> Any:
    """``model`` restricted to the record fields ``recorded`` has (rule 2); map keys are all kept."""
    if isinstance(recorded, Rec) and isinstance(model, Rec):
        return Rec({k: _prune(v, model[k]) for k, v in recorded.items() if k in model})
    if isinstance(recorded, Mapping) and isinstance(model, Mapping):
        return {k: _prune(recorded[k], v) if k in recorded else v for k, v in model.items()}
    if isinstance(recorded, tuple) and isinstance(model, tuple) and len(recorded) == len(model):
        return tuple(_prune(r, m) for r, m in zip(recorded, model, strict=True))
    return model


def _shown(value: Any) -> Any:
    """A leaf as JSON-ready data (a set or an empty container as its text)."""
    if isinstance(value, frozenset):
        return "{" + ", ".join(sorted(repr(v) for v in value)) + "}"
    if isinstance(value, Mapping | tuple):
        return "{}" if isinstance(value, Mapping) else "()"
    return value


def model_start(cx: Counterexample, profile: Profile) -> tuple[Any, tuple[Difference, ...]]:
    """The state ``replay`` starts from (rule 1): the recorded start when it is whole, else the
    setup's, with the recorded start's differences from it."""
    template = start_state(profile, cx.level, cx.setup)
    fields = [f.name for f in attrs.fields(type(template))]
    if isinstance(cx.initial, Mapping) and all(name in cx.initial for name in fields):
        return restore(profile, cx.level, cx.initial), ()
    return template, differences(cx.initial, snapshot(template))


def replay(
    cx: Counterexample, operations: OperationTable | None = None, rules: MarketRules | None = None
) -> ReplayReport:
    """Replay ``cx`` through the model (rules 1-5); the first divergence or unknown violation."""
    try:
        profile = Profile(cx.profile)
    except ValueError:
        raise VocabularyError(f"profile: expected codex-535 or codex-head, got {cx.profile!r}") from None
    if operations is None and rules is None:
        operations, rules = tables_for(cx.variant, profile, cx.level)
    title = f"{cx.profile} {cx.level} trace"
    start, initial = model_start(cx, profile)
    total = len(cx.steps)
    if initial:
        message = f"The recorded start state differs from the model's in {len(initial)} field(s)."
        return ReplayReport(
            ok=False, step=0, kind="divergence", message=message, differences=initial, steps=total, title=title
        )
    actions: list[Action | MarketAction] = []
    for index, step in enumerate(cx.steps, start=1):
        try:
            actions.append(decode_action(profile, cx.level, step.action, step.arguments))
        except VocabularyError as error:
            raise VocabularyError(f"step {index}: {error}") from None
    model_steps = run_steps(start, actions, operations=operations, rules=rules)
    unobserved = _unobserved(cx)
    known: list[tuple[int, Found]] = []
    for index, (recorded, ran) in enumerate(zip(cx.steps, model_steps, strict=True), start=1):
        diverged = _step_differences(recorded, ran, unobserved)
        if diverged:
            return ReplayReport(
                ok=False,
                step=index,
                kind="divergence",
                message=f"Step {index} ({recorded.action}) differs from the model in {len(diverged)} field(s).",
                differences=diverged,
                known=tuple(known),
                steps=total,
                title=title,
            )
        known += [(index, v) for v in ran.violations if v.known]
        broken = tuple(v for v in ran.violations if not v.known)
        if broken:
            rules_broken = ", ".join(sorted({v.rule for v in broken}))
            return ReplayReport(
                ok=False,
                step=index,
                kind="violation",
                message=f"Step {index} ({recorded.action}) breaks {rules_broken}.",
                violations=broken,
                known=tuple(known),
                steps=total,
                title=title,
            )
    message = f"The trace replays through the model: {total} step(s), no divergence, no unknown violation."
    return ReplayReport(ok=True, step=None, kind=None, message=message, known=tuple(known), steps=total, title=title)


def _step_differences(recorded: Step, ran: Step, unobserved: frozenset[str]) -> tuple[Difference, ...]:
    found = []
    if "outcome" not in unobserved and recorded.outcome != ran.outcome:
        found.append(Difference(field="outcome", recorded=recorded.outcome, model=ran.outcome))
    if "found" not in unobserved and recorded.found != ran.found:
        found.append(Difference(field="found", recorded=recorded.found, model=ran.found))
    return (*found, *differences(recorded.state, ran.state))
