"""Lockstep testing: every step runs on the model and on an implementation, and they must agree.

Rules:
1. ``lockstep_machine`` subclasses the profile's ``reservations_machine`` (same bundles, rules,
   strategies and model checks); its ``step`` applies each action to the model (the reference),
   then the same operation to a fresh implementation made per test case by the factory.
2. Ids: the machine's actions use model ids; a create's model id is mapped to the id the
   implementation returns (``IdMap``); every other id argument is sent as its implementation id,
   or, for a model id no entity ever had (``missing-a3``), as ``absent_id`` of it. The machine's
   "reuse an id" rule is left out: an implementation chooses its own ids, so it cannot be asked to.
3. The model's start is the implementation's: ``max_bytes`` and ``used`` of its first snapshot
   when observed, else ``quota_max_bytes`` (512) and 0.
4. After every step it compares (``lockstep:outcome``) acceptance versus rejection and the
   rejection kind, and that an accepted create returns a new id; with ``compare_fields`` also
   (``lockstep:outcome``) what ``find_availability`` found (the same availability, or, key order
   being the node's own, one the model agrees matches the query) and (``lockstep:snapshot``) every
   field the snapshot shows against the model's state: repo counters, each availability and
   reservation (presence, and each field named as ``model.entities`` names it; other fields are
   ignored). ``id`` and ``availability_id`` fields are read as implementation ids.
5. After every step it checks, on a model state built from the implementation's snapshot, every
   invariant of ``SNAPSHOT_INVARIANTS`` whose fields the snapshot shows for every entity (rule
   ``lockstep:<invariant>``); a violation the model's own state also has (a known nim-codex
   violation) is not a divergence. Invariants that need the model's ledgers (slot sizes, bytes
   written or returned, lost bytes, collateral taken) cannot be checked on a snapshot.
6. A divergence raises ``Divergence`` (an ``AssertionError``) carrying a ``Counterexample``
   (engine ``oracle``, kind ``divergence``, sides expected = model, observed = implementation,
   steps = the actions so far replayed on the model); with ``report_dir`` its three renderings
   are written there (Hypothesis replays the shrunk example last, so the files left describe it).
7. A crash of the implementation (an exception from an operation) is observed as
   ``Rejected("Crash:<Type>")`` and is a divergence like any other; one from ``snapshot()`` is a
   ``lockstep:snapshot`` divergence on the field ``snapshot``.

Mirrors: codex-sales-spec §2 (operations and guards), §1.4 (repo counters), §6 (invariants).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs
import immutables
from hypothesis.stateful import RuleBasedStateMachine

from invariants import INVARIANTS, Violation, rule, rules_for
from model.actions import OPERATIONS, Accepted, Action, Outcome, apply
from model.entities import Availability535, AvailabilityHead, Reservation535, ReservationHead
from model.quota import RepoQuota
from model.state import AnyState, Profile, ReservationsState, initial_state
from oracle.adapters import record_fields
from oracle.interface import (
    CREATES,
    IdConflict,
    IdMap,
    Implementation,
    Observed,
    Ok,
    Rejected,
    Snapshot,
    absent_id,
    observe,
)
from reports.build import make
from reports.counterexample import Counterexample, Side
from reports.render import write_all
from stateful_tests import strategies as s
from stateful_tests.machines import reservations_machine

ACCEPTED = "accepted"
PRESENT, ABSENT = "present", "absent"

#: The lockstep rules that are not catalogue invariants: (statement, spec).
LOCKSTEP_RULES: dict[str, tuple[str, str]] = {
    "lockstep:outcome": (
        "The implementation gives every operation the model's outcome: acceptance (with a new id for a "
        "create, a matching availability for a query) or the same rejection kind.",
        "codex-sales-spec §2",
    ),
    "lockstep:snapshot": (
        "Every repo counter, availability and reservation field the implementation shows equals the model's.",
        "codex-sales-spec §1.1-§1.4",
    ),
}

FREE = {Profile.CODEX_535: "size", Profile.CODEX_HEAD: "free_size"}


@attrs.frozen(kw_only=True)
class Needs:
    """The snapshot fields an invariant reads: repo counters, and fields of every entity of a kind."""

    repo: frozenset[str] = frozenset()
    availabilities: frozenset[str] | None = None
    reservations: frozenset[str] | None = None


def snapshot_invariants(profile: Profile) -> dict[str, Needs]:
    """Invariant name -> the fields it needs, for the invariants checkable on a snapshot (rule 5)."""
    table = {
        "repo_within_quota": Needs(repo=frozenset({"max_bytes", "used", "reserved"})),
        "repo_reserved_identity": Needs(
            repo=frozenset({"reserved"}), availabilities=frozenset({FREE[profile]}), reservations=frozenset({"size"})
        ),
        "free_size_within_total": Needs(availabilities=frozenset({"free_size", "total_size"})),
        "until_not_negative": Needs(availabilities=frozenset({"until"})),
        "until_covers_reservations": Needs(
            availabilities=frozenset({"until"}), reservations=frozenset({"availability_id", "valid_until"})
        ),
        "collateral_within_total": Needs(availabilities=frozenset({"total_remaining_collateral", "total_collateral"})),
    }
    invariants, _ = rules_for(profile)
    applicable = {i.name for i in invariants}
    return {name: needs for name, needs in table.items() if name in applicable}


#: For documentation: the invariants checked on a snapshot, per profile.
SNAPSHOT_INVARIANTS: dict[Profile, tuple[str, ...]] = {p: tuple(snapshot_invariants(p)) for p in Profile}


def _shows(section: Mapping[str, Mapping[str, Any]] | None, fields: frozenset[str] | None) -> bool:
    if fields is None:
        return True
    return section is not None and all(fields <= set(record) for record in section.values())


def checkable(profile: Profile, snap: Snapshot) -> tuple[str, ...]:
    """The snapshot invariants whose fields ``snap`` shows (rule 5)."""
    return tuple(
        name
        for name, needs in snapshot_invariants(profile).items()
        if needs.repo <= set(snap.repo())
        and _shows(snap.availabilities, needs.availabilities)
        and _shows(snap.reservations, needs.reservations)
    )


_DEFAULTS: dict[str, Any] = {"availability_id": "", "request_id": "", "enabled": True}


def _record(cls: type, record_id: str, fields: Mapping[str, Any]) -> Any:
    names = [f.name for f in attrs.fields(cls) if f.name != "id"]
    values = {name: fields[name] if name in fields else _DEFAULTS.get(name, 0) for name in names}
    return cls(id=record_id, **values)


def state_of(profile: Profile, snap: Snapshot) -> AnyState:
    """A model state holding what ``snap`` shows, keyed by implementation ids, without ledgers;
    fields not shown are 0 (validators off), so only ``checkable`` invariants may read it."""
    head = profile is Profile.CODEX_HEAD
    availability_cls = AvailabilityHead if head else Availability535
    reservation_cls = ReservationHead if head else Reservation535
    with attrs.validators.disabled():
        repo = RepoQuota(**{"max_bytes": 0, "used": 0, "reserved": 0, **snap.repo()})
        availabilities = {i: _record(availability_cls, i, f) for i, f in (snap.availabilities or {}).items()}
        reservations = {i: _record(reservation_cls, i, f) for i, f in (snap.reservations or {}).items()}
    return ReservationsState(
        profile=profile,
        repo=repo,
        availabilities=immutables.Map(availabilities),
        reservations=immutables.Map(reservations),
    )


def snapshot_violations(profile: Profile, snap: Snapshot, names: tuple[str, ...]) -> list[Violation]:
    """Violations of the invariants ``names`` in the state ``snap`` shows."""
    state = state_of(profile, snap)
    return [v for i in INVARIANTS if i.name in names for v in i.check(state)]


def compare_snapshot(state: AnyState, snap: Snapshot, ids: IdMap) -> list[tuple[str, Any, Any]]:
    """(field, model value, implementation value) for every shown field that differs (rule 4)."""
    differences: list[tuple[str, Any, Any]] = []
    for name, counter in sorted(snap.repo().items()):
        expected = getattr(state.repo, name)
        if expected != counter:
            differences.append((f"repo.{name}", expected, counter))
    for section in ("availabilities", "reservations"):
        shown: Mapping[str, Mapping[str, Any]] | None = getattr(snap, section)
        if shown is None:
            continue
        model: Mapping[str, Any] = getattr(state, section)
        seen = set()
        for impl_id in sorted(shown):
            if not ids.knows_impl(impl_id) or ids.to_model(impl_id) not in model:
                label = ids.to_model(impl_id) if ids.knows_impl(impl_id) else f"impl:{impl_id}"
                differences.append((f"{section}[{label}]", ABSENT, PRESENT))
                continue
            model_id = ids.to_model(impl_id)
            seen.add(model_id)
            expected_fields = record_fields(model[model_id])
            for field in sorted(shown[impl_id]):
                if field not in expected_fields:
                    continue
                value = shown[impl_id][field]
                if field in {"id", "availability_id"} and isinstance(value, str) and ids.knows_impl(value):
                    value = ids.to_model(value)
                if expected_fields[field] != value:
                    differences.append((f"{section}[{model_id}].{field}", expected_fields[field], value))
        differences.extend((f"{section}[{mid}]", PRESENT, ABSENT) for mid in sorted(model) if mid not in seen)
    return differences


class Divergence(AssertionError):
    """The implementation disagreed with the model; ``counterexample`` says where and how."""

    def __init__(self, counterexample: Counterexample, written: list[Path] | None = None) -> None:
        self.counterexample = counterexample
        self.written = list(written or [])
        lines = [
            f"{side.field}: expected {side.expected!r}, observed {side.observed!r}" for side in counterexample.sides
        ]
        super().__init__(f"{counterexample.rule}: {counterexample.summary}\n  " + "\n  ".join(lines))


def lockstep_machine(
    implementation_factory: Callable[[], Implementation],
    profile: Profile,
    *,
    compare_fields: bool = False,
    report_dir: Path | None = None,
    quota_max_bytes: int = s.QUOTA,
) -> type[RuleBasedStateMachine]:
    """A machine running the model and ``implementation_factory()`` side by side (module rules)."""
    base: Any = reservations_machine(profile)

    class LockstepMachine(base):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.impl = implementation_factory()
            declared = getattr(self.impl, "profile", None)
            if declared is not profile:
                raise ValueError(f"the implementation declares profile {declared!r}, the machine runs {profile!r}")
            self.ids = IdMap()
            self.impl_name = str(getattr(self.impl, "name", type(self.impl).__name__))
            first = self._snapshot()
            start = {"quota_max_bytes": quota_max_bytes}
            if isinstance(first, Snapshot):
                if first.max_bytes is not None:
                    start["quota_max_bytes"] = first.max_bytes
                if first.used:
                    start["used"] = first.used
            self.setup = start
            self.state = initial_state(profile, **start)

        def teardown(self) -> None:
            super().teardown()
            close = getattr(self.impl, "close", None)
            if callable(close):
                close()

        # The model's "reuse a reservation id" rule cannot be put to an implementation (rule 2).
        def create_reservation_reused_id_refused(self) -> None:  # not a rule: overrides the base's
            return None

        def step(self, action: Action, expect: set[str] | None = None) -> Outcome:
            pre = self.state
            outcome: Outcome = super().step(action, expect)
            observed = self._call(action)
            self._compare_outcome(pre, action, outcome, observed)
            snap = self._snapshot()
            if not isinstance(snap, Snapshot):
                self._diverge("lockstep:snapshot", [("snapshot", "a Snapshot", snap)])
            else:
                if compare_fields:
                    differences = compare_snapshot(self.state, snap, self.ids)
                    if differences:
                        self._diverge("lockstep:snapshot", differences)
                self._check_invariants(snap)
            return outcome

        # -- the implementation side ------------------------------------------------------

        def _snapshot(self) -> Snapshot | str:
            try:
                taken = self.impl.snapshot()
            except Exception as exc:
                return f"Crash:{type(exc).__name__}"
            return taken if isinstance(taken, Snapshot) else f"not a Snapshot: {type(taken).__name__}"

        def _arguments(self, action: Action) -> dict[str, Any]:
            arguments = action.arguments()
            arguments.pop(CREATES.get(action.name, ""), None)
            for key in ("availability_id", "reservation_id"):
                if key in arguments:
                    model_id = arguments[key]
                    known = self.ids.knows_model(model_id)
                    arguments[key] = self.ids.to_impl(model_id) if known else absent_id(model_id)
            return arguments

        def _call(self, action: Action) -> Observed:
            method = getattr(self.impl, action.name, None)
            if method is None:
                return Rejected("UnsupportedOperation")
            arguments = self._arguments(action)
            return observe(lambda: method(**arguments))

        # -- comparisons -------------------------------------------------------------------

        def _compare_outcome(self, pre: AnyState, action: Action, outcome: Outcome, observed: Observed) -> None:
            expected_kind = ACCEPTED if isinstance(outcome, Accepted) else outcome.kind
            observed_kind = ACCEPTED if isinstance(observed, Ok) else observed.kind
            if expected_kind != observed_kind:
                self._diverge("lockstep:outcome", [("outcome", expected_kind, observed_kind)])
            if not isinstance(outcome, Accepted) or not isinstance(observed, Ok):
                return
            if action.name in CREATES:
                model_id = getattr(action, CREATES[action.name])
                if not isinstance(observed.result, str):
                    self._diverge("lockstep:outcome", [("result", "a new id", observed.result)])
                try:
                    self.ids.record(model_id, str(observed.result))
                except IdConflict:
                    self._diverge("lockstep:outcome", [("result", "a new id", observed.result)])
            elif action.query and compare_fields:
                self._compare_found(pre, action, outcome.found, observed.result)

        def _compare_found(self, pre: AnyState, action: Action, found: str | None, result: str | None) -> None:
            if result is None or found is None:
                if result != found:
                    shown = result if result is None or not self.ids.knows_impl(result) else self.ids.to_model(result)
                    self._diverge("lockstep:outcome", [("result", found, shown)])
                return
            if not self.ids.knows_impl(result):
                self._diverge("lockstep:outcome", [("result", found, f"impl:{result}")])
            answer = self.ids.to_model(result)
            if answer == found or answer not in pre.availabilities:
                if answer != found:
                    self._diverge("lockstep:outcome", [("result", found, answer)])
                return
            # Key order is the node's own (spec §1.3): another availability the model finds matching is fine.
            narrowed: Any = pre
            alone = attrs.evolve(narrowed, availabilities=immutables.Map({answer: pre.availabilities[answer]}))
            again = apply(alone, action)
            if not isinstance(again, Accepted) or again.found != answer:
                self._diverge("lockstep:outcome", [("result", found, answer)])

        def _check_invariants(self, snap: Snapshot) -> None:
            names = checkable(profile, snap)
            if not names:
                return
            try:
                broken = snapshot_violations(profile, snap, names)
            except Exception as exc:  # a field of the wrong type: the snapshot cannot be read
                self._diverge("lockstep:snapshot", [("snapshot", "readable fields", f"{type(exc).__name__}: {exc}")])
            model_broken = {v.rule for i in INVARIANTS if i.name in names for v in i.check(self.state)}
            fresh = [v for v in broken if v.rule not in model_broken]
            if fresh:
                first = fresh[0]
                same = [v for v in fresh if v.rule == first.rule]
                entity = {v.entity: self._label(v.entity) for v in same}
                self._diverge(
                    f"lockstep:{first.rule}",
                    [(f"{entity[v.entity]}: {v.message}", v.expected, v.observed) for v in same],
                )

        def _label(self, entity: str) -> str:
            return self.ids.to_model(entity) if self.ids.knows_impl(entity) else entity

        def _diverge(self, rule_name: str, differences: list[tuple[str, Any, Any]]) -> None:
            # Actions the profile does not know changed nothing on the model; the report vocabulary has
            # no name for them, so they are left out of the replay (the diverging one is kept).
            known = OPERATIONS[profile]
            actions = [a for a in self.trace[:-1] if type(a) in known] + self.trace[-1:]
            step = len(actions) - 1
            if rule_name in LOCKSTEP_RULES:
                statement, spec = LOCKSTEP_RULES[rule_name]
            else:
                found = rule(rule_name.split(":", 1)[1])
                statement, spec = found.statement, found.spec
            sides = [Side(step=step, field=f, expected=e, observed=o) for f, e, o in differences]
            cx = make(
                rule=rule_name,
                engine="oracle",
                profile=profile,
                level="reservations",
                actions=tuple(actions),
                setup=dict(self.setup),
                statement=statement,
                spec=spec,
                kind="divergence",
                sides=sides,
                notes=(f"implementation: {self.impl_name}", f"id map (model -> implementation): {self.ids.items()}"),
                reproduce="pytest (the lockstep test that raised this divergence)",
            )
            written: list[Path] = []
            if report_dir is not None:
                try:
                    written = write_all(cx, report_dir)
                except Exception as exc:  # a rendering's limit must not hide the divergence itself
                    cx = attrs.evolve(cx, notes=(*cx.notes, f"reports not written: {type(exc).__name__}: {exc}"))
            raise Divergence(cx, written)

    name = "LockstepHead" if profile is Profile.CODEX_HEAD else "Lockstep535"
    LockstepMachine.__name__ = LockstepMachine.__qualname__ = name
    machine: type[RuleBasedStateMachine] = LockstepMachine
    return machine


def benchmark(examples: int = 50, steps: int = 40, profile: Profile = Profile.CODEX_HEAD) -> tuple[int, float]:
    """Lockstep against the self-test adapter (the model behind the Protocol, fields compared):
    (operations applied to both sides, seconds). Used by ``bench/bench_trace.py``."""
    import time

    from hypothesis import HealthCheck, settings
    from hypothesis.stateful import run_state_machine_as_test

    from oracle.adapters import ModelImplementation

    calls = [0]

    class Counting(ModelImplementation):
        def run(self, operation: str, **kwargs: Any) -> Any:
            calls[0] += 1
            return super().run(operation, **kwargs)

    machine = lockstep_machine(lambda: Counting(profile), profile, compare_fields=True)
    chosen = settings(
        max_examples=examples,
        stateful_step_count=steps,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    started = time.perf_counter()
    run_state_machine_as_test(machine, settings=chosen)
    return calls[0], time.perf_counter() - started
