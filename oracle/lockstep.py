"""Lockstep testing: every step runs on the model and on an implementation, and they must agree.

Rules:
1. ``lockstep_machine`` subclasses the profile's ``reservations_machine`` (same bundles, rules,
   strategies and model checks); its ``step`` applies each action to the model (the reference),
   then, through ``Lockstep.check``, the same operation to a fresh implementation made per test
   case by the factory.
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
   steps = the program's actions replayed on the model, the diverging one last) and the program;
   with ``report_dir`` its three renderings are written there (Hypothesis replays the failing
   example last, so the files left describe it).
7. A crash of the implementation (an exception from an operation) is observed as
   ``Rejected("Crash:<Type>")`` and is a divergence like any other; one from ``snapshot()`` is a
   ``lockstep:snapshot`` divergence on the field ``snapshot``.
8. With ``minimise`` (the default) the reported program is 1-minimal: ``minimise_divergence``
   runs delta debugging (``oracle.minimise``) over subsequences of the actions, replaying each
   candidate with ``replay`` on a fresh model and a fresh implementation through the machine's own
   ``Lockstep.check``. A candidate fails the same way when it diverges with the same rule and at
   least one same ``Side.field``. A candidate naming an id it never created is valid: the id is
   sent as ``absent_id``, as the machine sends ``missing-a3`` (rule 2), so a step on a dropped
   entity is compared as a step on a missing one. A candidate on which the model raises does not
   fail the same way. The notes say "shrunk from N to M steps"; a program whose fresh replay does
   not diverge the same way (a nondeterministic implementation) is reported unshrunk, with a note.
   A machine minimises each program once and reuses a core it found before when that core lies
   within the new program and is still 1-minimal for it (Hypothesis's shrinker, when on, tries
   many programs holding the same core).
9. ``operations`` (names of ``oracle.interface.OPERATION_NAMES``) restricts the machine to the rules
   whose every operation is among them (``RULE_OPERATIONS``); the other rules are removed, so a
   real node that serves only part of the set (the REST API: POST and PATCH) can be driven.
   ``model_operations`` is the model's operation table (default: the profile's); with one given,
   replays use it too, and a rule's expected outcome is not asserted: the rules aim at the
   Reservations procedures' rejections, which another front (REST's checks) may pre-empt.

Mirrors: codex-sales-spec §2 (operations and guards), §1.4 (repo counters), §6 (invariants).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import immutables
from hypothesis.stateful import RuleBasedStateMachine

from invariants import INVARIANTS, Violation, rule, rules_for
from model.actions import OPERATIONS, Accepted, Action, OperationTable, Outcome, apply
from model.entities import Availability535, AvailabilityHead, Reservation535, ReservationHead
from model.quota import RepoQuota
from model.state import AnyState, Profile, ReservationsState, initial_state
from oracle.adapters import record_fields
from oracle.interface import (
    CREATES,
    OPERATION_NAMES,
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
from oracle.minimise import minimise as smallest_failing
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

#: The operations each rule of ``stateful_tests.machines.reservations_machine`` may call (rule 9).
RULE_OPERATIONS: Mapping[str, frozenset[str]] = {
    "create_availability": frozenset({"create_availability"}),
    "create_availability_refused": frozenset({"create_availability"}),
    "update_availability": frozenset({"update_availability"}),
    "update_availability_refused": frozenset({"update_availability"}),
    "update_until_before_reservation_refused": frozenset({"update_availability"}),
    "create_reservation": frozenset({"create_reservation"}),
    "create_reservation_refused": frozenset({"create_reservation"}),
    "create_reservation_reused_id_refused": frozenset({"create_reservation"}),
    "create_reservation_after_until": frozenset({"create_reservation"}),
    "create_reservation_over_collateral_refused": frozenset({"create_reservation"}),
    "create_reservation_taking_collateral": frozenset({"create_reservation"}),
    "release_bytes": frozenset({"release_bytes"}),
    "release_bytes_too_many_refused": frozenset({"release_bytes"}),
    "return_bytes_to_availability": frozenset({"release_bytes", "return_bytes_to_availability"}),
    "return_bytes_underflow_refused": frozenset({"return_bytes_to_availability"}),
    "return_bytes_unsupported_refused": frozenset({"return_bytes_to_availability"}),
    "delete_reservation": frozenset({"delete_reservation"}),
    "delete_missing_reservation": frozenset({"delete_reservation"}),
    "delete_returned_reservation": frozenset({"delete_reservation"}),
    "find_availability": frozenset({"find_availability"}),
    "store_block": frozenset({"store_block"}),
    "expire_block": frozenset({"expire_block"}),
    "restart": frozenset({"delete_inactive_reservations"}),
}


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


@attrs.frozen
class Mismatch:
    """A step's disagreement: the rule broken and (field, model value, implementation value) per field."""

    rule: str
    differences: tuple[tuple[str, Any, Any], ...]

    @property
    def fields(self) -> frozenset[str]:
        """The differing fields (``Side.field`` of the report)."""
        return frozenset(field for field, _, _ in self.differences)

    def same_way(self, other: Mismatch | None) -> bool:
        """Whether ``other`` breaks this rule on at least one of these fields (rule 8)."""
        return other is not None and other.rule == self.rule and bool(self.fields & other.fields)


class _Diverged(Exception):
    """Ends a step's comparisons at the first mismatch (internal to ``Lockstep``)."""

    def __init__(self, rule_name: str, differences: list[tuple[str, Any, Any]]) -> None:
        super().__init__(rule_name)
        self.mismatch = Mismatch(rule_name, tuple(differences))


class Lockstep:
    """One implementation beside the model: its start, the id map, each call and the comparisons
    after it (rules 2-5, 7). The machine and ``replay`` both step through it."""

    def __init__(
        self, impl: Implementation, profile: Profile, *, compare_fields: bool = False, quota_max_bytes: int = s.QUOTA
    ) -> None:
        declared = getattr(impl, "profile", None)
        if declared is not profile:
            raise ValueError(f"the implementation declares profile {declared!r}, the machine runs {profile!r}")
        self.impl = impl
        self.profile = profile
        self.compare_fields = compare_fields
        self.ids = IdMap()
        self.name = str(getattr(impl, "name", type(impl).__name__))
        first = self._snapshot()
        start = {"quota_max_bytes": quota_max_bytes}
        if isinstance(first, Snapshot):
            if first.max_bytes is not None:
                start["quota_max_bytes"] = first.max_bytes
            if first.used:
                start["used"] = first.used
        self.setup: dict[str, int] = start

    def close(self) -> None:
        close = getattr(self.impl, "close", None)
        if callable(close):
            close()

    def check(self, pre: AnyState, action: Action, outcome: Outcome, post: AnyState) -> Mismatch | None:
        """Send ``action`` to the implementation and compare it with the model's step from ``pre``
        (``outcome``, leaving ``post``): the first mismatch, or ``None`` if they agree."""
        try:
            self._compare_outcome(pre, action, outcome, self._call(action))
            snap = self._snapshot()
            if not isinstance(snap, Snapshot):
                raise _Diverged("lockstep:snapshot", [("snapshot", "a Snapshot", snap)])
            if self.compare_fields:
                differences = compare_snapshot(post, snap, self.ids)
                if differences:
                    raise _Diverged("lockstep:snapshot", differences)
            self._check_invariants(post, snap)
        except _Diverged as diverged:
            return diverged.mismatch
        return None

    # -- the implementation side ----------------------------------------------------------

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

    # -- comparisons -----------------------------------------------------------------------

    def _compare_outcome(self, pre: AnyState, action: Action, outcome: Outcome, observed: Observed) -> None:
        expected_kind = ACCEPTED if isinstance(outcome, Accepted) else outcome.kind
        observed_kind = ACCEPTED if isinstance(observed, Ok) else observed.kind
        if expected_kind != observed_kind:
            raise _Diverged("lockstep:outcome", [("outcome", expected_kind, observed_kind)])
        if not isinstance(outcome, Accepted) or not isinstance(observed, Ok):
            return
        if action.name in CREATES:
            model_id = getattr(action, CREATES[action.name])
            if not isinstance(observed.result, str):
                raise _Diverged("lockstep:outcome", [("result", "a new id", observed.result)])
            try:
                self.ids.record(model_id, str(observed.result))
            except IdConflict:
                raise _Diverged("lockstep:outcome", [("result", "a new id", observed.result)]) from None
        elif action.query and self.compare_fields:
            self._compare_found(pre, action, outcome.found, observed.result)

    def _compare_found(self, pre: AnyState, action: Action, found: str | None, result: str | None) -> None:
        if result is None or found is None:
            if result != found:
                shown = result if result is None or not self.ids.knows_impl(result) else self.ids.to_model(result)
                raise _Diverged("lockstep:outcome", [("result", found, shown)])
            return
        if not self.ids.knows_impl(result):
            raise _Diverged("lockstep:outcome", [("result", found, f"impl:{result}")])
        answer = self.ids.to_model(result)
        if answer == found or answer not in pre.availabilities:
            if answer != found:
                raise _Diverged("lockstep:outcome", [("result", found, answer)])
            return
        # Key order is the node's own (spec §1.3): another availability the model finds matching is fine.
        narrowed: Any = pre
        alone = attrs.evolve(narrowed, availabilities=immutables.Map({answer: pre.availabilities[answer]}))
        again = apply(alone, action)
        if not isinstance(again, Accepted) or again.found != answer:
            raise _Diverged("lockstep:outcome", [("result", found, answer)])

    def _check_invariants(self, post: AnyState, snap: Snapshot) -> None:
        names = checkable(self.profile, snap)
        if not names:
            return
        try:
            broken = snapshot_violations(self.profile, snap, names)
        except Exception as exc:  # a field of the wrong type: the snapshot cannot be read
            raise _Diverged(
                "lockstep:snapshot", [("snapshot", "readable fields", f"{type(exc).__name__}: {exc}")]
            ) from None
        model_broken = {v.rule for i in INVARIANTS if i.name in names for v in i.check(post)}
        fresh = [v for v in broken if v.rule not in model_broken]
        if fresh:
            first = fresh[0]
            same = [v for v in fresh if v.rule == first.rule]
            entity = {v.entity: self._label(v.entity) for v in same}
            raise _Diverged(
                f"lockstep:{first.rule}", [(f"{entity[v.entity]}: {v.message}", v.expected, v.observed) for v in same]
            )

    def _label(self, entity: str) -> str:
        return self.ids.to_model(entity) if self.ids.knows_impl(entity) else entity


@attrs.frozen(kw_only=True)
class Replay:
    """A program replayed in lockstep from a fresh start: how far it ran, and where it diverged."""

    program: tuple[Action, ...]  # the actions run: up to and including the diverging one
    mismatch: Mismatch | None  # None: the two sides agreed on every step (or the model raised)
    setup: dict[str, int]
    ids: tuple[tuple[str, str], ...]  # (model id, implementation id) at the end
    name: str  # the implementation's name


def replay(
    implementation_factory: Callable[[], Implementation],
    profile: Profile,
    program: Sequence[Action],
    *,
    compare_fields: bool = False,
    quota_max_bytes: int = s.QUOTA,
    model_operations: OperationTable | None = None,
) -> Replay:
    """``program`` (model ids) run on a fresh model and a fresh ``implementation_factory()``
    through ``Lockstep`` as the machine runs it (rules 2-5, 8), stopping at the first mismatch."""
    run = Lockstep(implementation_factory(), profile, compare_fields=compare_fields, quota_max_bytes=quota_max_bytes)
    state = initial_state(profile, **run.setup)
    mismatch: Mismatch | None = None
    ran = len(program)
    try:
        for index, action in enumerate(program):
            try:
                outcome = apply(state, action, model_operations)
            except Exception:  # a model bug is the model machine's to report, not a divergence
                ran = index + 1
                break
            post = outcome.state if isinstance(outcome, Accepted) else state
            mismatch = run.check(state, action, outcome, post)
            state = post
            if mismatch is not None:
                ran = index + 1
                break
    finally:
        run.close()
    return Replay(
        program=tuple(program[:ran]), mismatch=mismatch, setup=run.setup, ids=tuple(run.ids.items()), name=run.name
    )


def _within(small: Sequence[Action], large: Sequence[Action]) -> bool:
    rest = iter(large)
    return all(any(action == other for other in rest) for action in small)


def minimise_divergence(
    implementation_factory: Callable[[], Implementation],
    profile: Profile,
    program: Sequence[Action],
    *,
    compare_fields: bool = False,
    quota_max_bytes: int = s.QUOTA,
    known: Sequence[Replay] = (),
    model_operations: OperationTable | None = None,
) -> Replay:
    """The replay of a 1-minimal subsequence of ``program`` diverging the same way as ``program``
    does (rule 8); the replay of ``program`` itself if it does not diverge when replayed. A
    ``known`` result within ``program`` that is still 1-minimal for this divergence is reused."""

    def run(candidate: Sequence[Action]) -> Replay:
        return replay(
            implementation_factory,
            profile,
            candidate,
            compare_fields=compare_fields,
            quota_max_bytes=quota_max_bytes,
            model_operations=model_operations,
        )

    original = run(program)
    target = original.mismatch
    if target is None:
        return original

    def fails(candidate: Sequence[Action]) -> bool:
        return target.same_way(run(candidate).mismatch)

    for core in known:
        steps = list(core.program)
        reusable = target.same_way(core.mismatch) and _within(steps, original.program)
        if reusable and not any(fails(steps[:i] + steps[i + 1 :]) for i in range(len(steps))):
            return core
    return run(smallest_failing(list(original.program), fails))


class Divergence(AssertionError):
    """The implementation disagreed with the model; ``counterexample`` says where and how, ``program``
    is the actions (model ids) that replay it with ``replay``."""

    def __init__(
        self, counterexample: Counterexample, written: list[Path] | None = None, program: Sequence[Action] = ()
    ) -> None:
        self.counterexample = counterexample
        self.written = list(written or [])
        self.program = tuple(program)
        lines = [
            f"{side.field}: expected {side.expected!r}, observed {side.observed!r}" for side in counterexample.sides
        ]
        super().__init__(f"{counterexample.rule}: {counterexample.summary}\n  " + "\n  ".join(lines))


def _reported(profile: Profile, program: Sequence[Action]) -> list[Action]:
    # Actions the profile does not know changed nothing on the model; the report vocabulary has
    # no name for them, so they are left out of the replay (the diverging one is kept).
    known = OPERATIONS[profile]
    return [a for a in program[:-1] if type(a) in known] + list(program[-1:])


def counterexample(
    profile: Profile, program: Sequence[Action], mismatch: Mismatch, setup: Mapping[str, int], notes: Sequence[str]
) -> Counterexample:
    """The report of ``mismatch``, found at the last action of ``program`` (rule 6)."""
    actions = _reported(profile, program)
    step = len(actions) - 1
    if mismatch.rule in LOCKSTEP_RULES:
        statement, spec = LOCKSTEP_RULES[mismatch.rule]
    else:
        found = rule(mismatch.rule.split(":", 1)[1])
        statement, spec = found.statement, found.spec
    return make(
        rule=mismatch.rule,
        engine="oracle",
        profile=profile,
        level="reservations",
        actions=tuple(actions),
        setup=dict(setup),
        statement=statement,
        spec=spec,
        kind="divergence",
        sides=[Side(step=step, field=f, expected=e, observed=o) for f, e, o in mismatch.differences],
        notes=tuple(notes),
        reproduce="pytest (the lockstep test that raised this divergence)",
    )


def lockstep_machine(
    implementation_factory: Callable[[], Implementation],
    profile: Profile,
    *,
    compare_fields: bool = False,
    report_dir: Path | None = None,
    quota_max_bytes: int = s.QUOTA,
    minimise: bool = True,
    operations: Collection[str] | None = None,
    model_operations: OperationTable | None = None,
) -> type[RuleBasedStateMachine]:
    """A machine running the model and ``implementation_factory()`` side by side (module rules)."""
    unknown = sorted(set(operations or ()) - set(OPERATION_NAMES))
    if unknown:
        raise ValueError(f"unknown operations {unknown}; known: {list(OPERATION_NAMES)}")
    base: Any = reservations_machine(profile, operations=model_operations)
    options: dict[str, Any] = {"compare_fields": compare_fields, "quota_max_bytes": quota_max_bytes}
    # Hypothesis replays a failing example at least once more, and its shrinker tries many programs
    # holding the same core: minimise each program once, and reuse a core found before.
    minimised: dict[tuple[tuple[Action, ...], str, frozenset[str]], Replay] = {}
    cores: list[Replay] = []

    def shrunk(program: tuple[Action, ...], mismatch: Mismatch) -> Replay:
        key = (program, mismatch.rule, mismatch.fields)
        if key not in minimised:
            found = minimise_divergence(
                implementation_factory, profile, program, known=cores, model_operations=model_operations, **options
            )
            if found.mismatch is not None and all(found is not core for core in cores):
                cores.append(found)
            minimised[key] = found
        return minimised[key]

    class LockstepMachine(base):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.run = Lockstep(implementation_factory(), profile, **options)
            self.setup = dict(self.run.setup)
            self.state = initial_state(profile, **self.setup)

        def teardown(self) -> None:
            super().teardown()
            self.run.close()

        # The model's "reuse a reservation id" rule cannot be put to an implementation (rule 2).
        def create_reservation_reused_id_refused(self) -> None:  # not a rule: overrides the base's
            return None

        def step(self, action: Action, expect: set[str] | None = None) -> Outcome:
            pre = self.state
            outcome: Outcome = super().step(action, expect if model_operations is None else None)
            mismatch = self.run.check(pre, action, outcome, self.state)
            if mismatch is not None:
                self._diverge(mismatch)
            return outcome

        def _diverge(self, mismatch: Mismatch) -> None:
            program, setup, ids = tuple(self.trace), self.setup, self.run.ids.items()
            notes = [f"implementation: {self.run.name}"]
            if minimise:
                smaller = shrunk(program, mismatch)
                if smaller.mismatch is not None and mismatch.same_way(smaller.mismatch):
                    before, after = len(_reported(profile, program)), len(_reported(profile, smaller.program))
                    notes.append(f"shrunk from {before} to {after} steps (lockstep delta debugging)")
                    program, mismatch, setup, ids = smaller.program, smaller.mismatch, smaller.setup, list(smaller.ids)
                else:
                    notes.append("not shrunk: a fresh replay of the program does not diverge the same way")
            notes.append(f"id map (model -> implementation): {ids}")
            cx = counterexample(profile, program, mismatch, setup, notes)
            written: list[Path] = []
            if report_dir is not None:
                try:
                    written = write_all(cx, report_dir)
                except Exception as exc:  # a rendering's limit must not hide the divergence itself
                    cx = attrs.evolve(cx, notes=(*cx.notes, f"reports not written: {type(exc).__name__}: {exc}"))
            raise Divergence(cx, written, program)

    if operations is not None:
        for rule_name in _rules_outside(base, frozenset(operations)):
            setattr(LockstepMachine, rule_name, _removed_rule)

    name = "LockstepHead" if profile is Profile.CODEX_HEAD else "Lockstep535"
    LockstepMachine.__name__ = LockstepMachine.__qualname__ = name
    machine: type[RuleBasedStateMachine] = LockstepMachine
    return machine


def _rules_outside(machine: type, allowed: frozenset[str]) -> list[str]:
    """The rules of ``machine`` that call an operation outside ``allowed`` (rule 9); a rule missing
    from ``RULE_OPERATIONS`` counts as calling every operation."""
    rules = [name for name in dir(machine) if hasattr(getattr(machine, name), "hypothesis_stateful_rule")]
    everything = frozenset(OPERATION_NAMES)
    return [name for name in rules if not RULE_OPERATIONS.get(name, everything) <= allowed]


def _removed_rule(self: Any, *args: Any, **kwargs: Any) -> None:  # a plain method: no longer a rule (rule 9)
    return None


class _Counting:
    """An implementation that counts the operations sent to ``inner`` (snapshots are not operations)."""

    def __init__(self, inner: Any, calls: list[int]) -> None:
        self.inner, self.calls = inner, calls
        self.profile = inner.profile
        self.name = getattr(inner, "name", type(inner).__name__)

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.inner, name)
        if name not in OPERATION_NAMES:
            return attribute

        def counted(**kwargs: Any) -> Any:
            self.calls[0] += 1
            return attribute(**kwargs)

        return counted


def benchmark(
    examples: int = 50,
    steps: int = 40,
    profile: Profile = Profile.CODEX_HEAD,
    factory: Callable[[], Implementation] | None = None,
) -> tuple[int, float]:
    """Lockstep against ``factory()`` (default: the self-test adapter, the model behind the
    Protocol), fields compared: (operations sent to the implementation, seconds). Used by
    ``bench/bench_trace.py`` and ``bench/bench_persistent.py``."""
    import time

    from hypothesis import HealthCheck, settings
    from hypothesis.stateful import run_state_machine_as_test

    from oracle.adapters import ModelImplementation

    calls = [0]
    build: Callable[[], Any] = factory or (lambda: ModelImplementation(profile))
    machine = lockstep_machine(lambda: _Counting(build(), calls), profile, compare_fields=True)
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
