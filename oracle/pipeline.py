"""Checking a trace in chunks: the model steps here, the rule checks of each chunk in a forked worker.

Rules:
1. Checking an event has two parts. *Stepping*, in order, in this process: apply the event's op to
   the model state. *Checking*, a pure function of (event, pre-state, outcome, post-state): compare
   the recorded outcome, result and state fields (oracle/trace.py rule 3; a difference is a
   divergence and ends the chunk's checks), then the invariants and the transition properties of
   the step (oracle/trace.py rules 4-5).
2. Steps are grouped in chunks of ``chunk`` events. With ``workers`` > 0, a full chunk's checks run
   in a child process forked at that moment: the model's states are persistent maps, so the child
   holds the very states the parent made, with nothing copied or pickled on the way in; it sends
   back (pickled) only the first failing event of its chunk and the known violations it met. At
   most ``workers`` children run at once; the parent steps on meanwhile. With ``workers=0``, or
   without ``os.fork``, or for the last (partial) chunk, the same chunk checks run in this process.
3. The report is the one checking event by event gives: the first event that diverges or breaks
   a rule, whichever comes first, and the known violations met up to it (the first of each
   (rule, entity, reference)), in trace order.
4. Bad input anywhere in the file wins over a failure, as if the whole file were read first:
   after a chunk's failure is known, stepping stops but reading goes on to the last line.
5. A worker that dies, or sends something that is not a verdict, has its chunk checked again here.
   Children are always reaped, also when reading fails.
6. Checking is incremental with the model's own operations (not ``full``): after an accepted change
   only the records the action may have touched are checked, through each rule's scoped form
   (invariants/catalogue.py rule 4; after a step that changed nothing, none: a property's scoped
   form gets the empty scope), the repo identity by running sums (started afresh at each
   chunk from its first pre-state); properties run only on the steps they are about (catalogue
   rule 5). A reservation's claims read of its availability only whether it exists, its ``until``
   and its index (catalogue rule 4), so an availability's other reservations are re-checked only
   when it appears, goes, or moves its ``until``. A step runs only the invariants its operation
   may change (``written_by``, catalogue rule 6), each given the scope with its records looked up
   once (invariants/state_invariants.py rule 5) and every availability's holdings, kept as the
   chunk goes like the repo sums (``advance_holdings``; state_invariants rule 6), so no check walks
   an availability's whole index. Any other operation table, or ``full``, checks the whole state
   after every change.
7. Memory: a step's states live only until its chunk is checked; with ``keep`` False (a file
   checked as it streams) no event is kept either, so memory stays bounded by the chunks in
   flight, whatever the trace's length, and the caller reads the prefix again for a report.

Mirrors: oracle/trace.py rules 3-5 (what is checked); invariants/catalogue.py rules 4-6.
"""

from __future__ import annotations

import contextlib
import os
import pickle
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import attrs

from invariants import rules_for
from invariants.catalogue import Scope, TransitionProperty, Violation
from invariants.state_invariants import Holdings, Resolved, held_by, holdings
from model.actions import OPERATIONS, Accepted, Action, OperationTable, Outcome, apply
from model.entities import free_bytes
from model.records import constructor
from model.state import AnyState, Profile
from reports.replay import Difference

#: Events per chunk: a fork costs a few milliseconds, a chunk's checks about half a second.
CHUNK = 20_000
_GLOBAL = "repo_reserved_identity"
_resolved = constructor(Resolved)


def default_workers() -> int:
    """Workers by default: none on one core or without ``os.fork``, else one per core."""
    cores = os.cpu_count() or 1
    return cores if cores > 1 and hasattr(os, "fork") else 0


class Step(NamedTuple):
    """One stepped event: its 0-based ``position``, the event, pre-state, outcome, post-state."""

    position: int
    event: Any
    pre: Any
    outcome: Outcome
    post: Any


#: ``Step(*fields)`` without the generated ``__new__``'s Python frame: one per stepped event.
_step = tuple.__new__


@attrs.frozen
class Verdict:
    """What one chunk's checks found: the index of its first failing event (None: none), that
    event's differences from the model (a divergence) or else its unknown violations, and the known
    violations met up to it as (line, violation)."""

    failing: int | None
    violations: tuple[Violation, ...]
    known: tuple[tuple[int, Violation], ...]
    differences: tuple[Difference, ...] = ()


def _touched(pre: AnyState, post: AnyState, action: Action) -> tuple[list[str], list[str]]:
    """The availability ids and reservation ids of ``scope_of``, each sorted (rule 6)."""
    aid = getattr(action, "availability_id", None)
    rid = getattr(action, "reservation_id", None)
    aids = [] if aid is None else [aid]
    rids = [] if rid is None else [rid]
    if rid is not None:
        for reservations in (pre.reservations, post.reservations):
            owner = reservations.get(rid)
            if owner is not None and owner.availability_id not in aids:
                aids.append(owner.availability_id)
    if len(aids) > 1:
        aids.sort()
    pre_availabilities, post_availabilities = pre.availabilities, post.availabilities
    whole: set[str] | None = None
    for key in aids:
        was, now = pre_availabilities.get(key), post_availabilities.get(key)
        if was is None or now is None or getattr(was, "until", 0) != getattr(now, "until", 0):
            whole = set(rids) if whole is None else whole
            for side in (pre, post):
                ledger = side.availability_ledgers.get(key)
                if ledger is not None:
                    whole.update(ledger.reservations)
    return aids, (rids if whole is None else sorted(whole))


def scope_of(
    pre: AnyState, post: AnyState, action: Action, held: Mapping[str, Holdings] | None = None
) -> Resolved | None:
    """The records ``action`` may have changed, or None (check in full): the availabilities and
    reservations its arguments name and the named reservation's availability; and every reservation
    of such an availability when the availability appeared, went, or changed its ``until`` (rule 6).
    The scope comes with its records in ``post`` looked up (``state_invariants.resolved`` gives the
    same), and ``held``.

    Every model operation changes only the records its arguments name (and the reservation's
    parent availability), and the repo; ``delete_inactive_reservations`` changes many."""
    if action.name == "delete_inactive_reservations":
        return None
    aids, rids = _touched(pre, post, action)
    availabilities, reservations, ledgers = post.availabilities, post.reservations, post.availability_ledgers
    availability_records, ledger_items = [], []
    for key in aids:
        availability = availabilities.get(key)
        if availability is not None:
            availability_records.append(availability)
        ledger = ledgers.get(key)
        if ledger is not None:
            ledger_items.append((key, ledger))
    return _resolved(
        availabilities=tuple(aids),
        reservations=tuple(rids),
        state=post,
        availability_records=availability_records,
        reservation_records=[found for key in rids if (found := reservations.get(key)) is not None],
        availability_ledger_items=ledger_items,
        holdings=held,
    )


def all_holdings(state: AnyState) -> dict[str, Holdings]:
    """The holdings of every availability of ``state`` (invariants/state_invariants.py rule 6)."""
    return {aid: holdings(state, aid) for aid in state.availability_ledgers}


def advance_holdings(held: dict[str, Holdings], pre: AnyState, post: AnyState, scope: Scope) -> None:
    """Bring ``held`` (the holdings of ``pre``) to those of ``post`` after a step of the model's own
    operations whose scope is ``scope`` (rule 6): only the scope's availabilities can have moved,
    and in each only the entries of the scope's reservations (``scope_of`` puts every reservation
    of an availability in the scope when it appears, goes or moves its ``until``). A new
    availability is walked; the largest ``valid_until`` is walked again only when it left. An
    availability whose ledger is the very same object, in a step that left the reservation ledgers
    alone and no scope reservation appear or go, keeps its holdings as they are (what the sums
    below would give back)."""
    same_ledgers = pre.reservation_ledgers is post.reservation_ledgers
    if same_ledgers:
        pre_reservations, post_reservations = pre.reservations, post.reservations
        same_ledgers = all((rid in pre_reservations) == (rid in post_reservations) for rid in scope.reservations)
    for aid in scope.availabilities:
        after = post.availability_ledgers.get(aid)
        if after is None:
            held.pop(aid, None)
            continue
        before = pre.availability_ledgers.get(aid)
        if before is after and same_ledgers and aid in held:
            continue
        old = held.get(aid)
        if before is None or old is None:
            held[aid] = holdings(post, aid)
            continue
        written, collateral, missing, latest = old
        was, now = before.reservations, after.reservations
        rewalk = False
        for rid in scope.reservations:
            if rid in was:  # its entry in pre leaves the sums
                gone_written, gone_collateral, gone_missing = held_by(pre, rid)
                written, collateral, missing = (
                    written - gone_written,
                    collateral - gone_collateral,
                    missing - gone_missing,
                )
                if was[rid] == latest and now.get(rid) != latest:
                    rewalk = True
            if rid in now:  # its entry in post joins them
                new_written, new_collateral, new_missing = held_by(post, rid)
                written, collateral, missing = written + new_written, collateral + new_collateral, missing + new_missing
                latest = max(latest, now[rid])
        if rewalk:
            latest = max((0, *now.values()))
        held[aid] = Holdings(written, collateral, missing, latest)


def _sums(state: AnyState) -> list[int]:
    return [sum(free_bytes(a) for a in state.availabilities.values()), sum(r.size for r in state.reservations.values())]


class Rules:
    """The checks of one trace's steps (rules 1, 6): built once per profile and operation table."""

    def __init__(
        self,
        profile: Profile,
        operations: OperationTable | None,
        full: bool,
        compare: Callable[[Any, Outcome, Any], list[Difference]],
    ) -> None:
        self.compare = compare
        invariants, properties = rules_for(profile)
        self.incremental = operations is None and not full
        self.invariants = invariants
        self.local = tuple(i for i in invariants if i.local is not None)
        self.repo_rules = tuple(i for i in invariants if i.local is None and i.name != _GLOBAL)
        self.identity = tuple(i for i in invariants if i.name == _GLOBAL)
        self.table = OPERATIONS[profile] if operations is None else operations
        self.about = self._dispatch(properties)
        self.local_for = {
            name: tuple(i.local for i in self.local if i.local is not None and i.may_change(name))
            for name in {cls.name for cls in self.table}
        }

    def _dispatch(
        self, properties: Sequence[TransitionProperty]
    ) -> dict[tuple[str, bool], tuple[tuple[TransitionProperty, bool], ...]]:
        """Per (action name, accepted): the properties about such a step (catalogue rule 5), each
        with whether its scoped form is used."""
        found = {}
        for name in {cls.name for cls in self.table}:
            for accepted in (True, False):
                found[name, accepted] = tuple(
                    (p, self.incremental and p.local is not None) for p in properties if p.concerns(name, accepted)
                )
        return found

    def check_chunk(self, steps: Sequence[Step]) -> Verdict:  # noqa: PLR0912 - one flat loop, for speed
        """The checks of ``steps`` (consecutive): comparisons, then rules; stops at the first failing event."""
        known: list[tuple[int, Violation]] = []
        seen: set[tuple[str, str, str]] = set()
        if not steps:
            return Verdict(None, (), ())
        sums = _sums(steps[0].pre)
        held = all_holdings(steps[0].pre) if self.incremental else {}
        invariants, local_for, repo_rules, identity, about = (
            self.invariants,
            self.local_for,
            self.repo_rules,
            self.identity,
            self.about,
        )
        incremental, compare = self.incremental, self.compare
        unchanged = Scope((), ())
        for step in steps:
            position, event, state, outcome, after = step
            differences = compare(event, outcome, after)
            if differences:
                return Verdict(position, (), tuple(known), tuple(differences))
            line, action = event.line, event.action
            violations: list[Violation] = []
            scope = unchanged if incremental else None  # nothing changed: every scoped claim holds
            if after is not state:
                scope = scope_of(state, after, action, held) if incremental else None
                if scope is None:
                    for invariant in invariants:
                        violations.extend(invariant.check(after))
                    sums = _sums(after)
                    if incremental:
                        held = all_holdings(after)
                else:
                    advance_holdings(held, state, after, scope)
                    for aid in scope.availabilities:
                        now, was = after.availabilities.get(aid), state.availabilities.get(aid)
                        if now is not was:
                            sums[0] += (0 if now is None else free_bytes(now)) - (0 if was is None else free_bytes(was))
                    for rid in scope.reservations:
                        now, was = after.reservations.get(rid), state.reservations.get(rid)
                        if now is not was:
                            sums[1] += (0 if now is None else now.size) - (0 if was is None else was.size)
                    for check_local in local_for[action.name]:
                        violations.extend(check_local(after, scope))
                    if after.repo is not state.repo:
                        for invariant in repo_rules:
                            violations.extend(invariant.check(after))
                    if after.repo.reserved != sums[0] + sums[1]:
                        for invariant in identity:
                            violations.extend(invariant.check(after))
            for prop, scoped in about[action.name, type(outcome) is Accepted]:
                if scoped and scope is not None:
                    violations.extend(prop.local(state, action, outcome, scope))  # type: ignore[misc]
                else:
                    violations.extend(prop.check(state, action, outcome))
            if violations:
                broken = tuple(v for v in violations if not v.known)
                for v in violations:
                    if v.known and (v.rule, v.entity, v.known) not in seen:
                        seen.add((v.rule, v.entity, v.known))
                        known.append((line, v))
                if broken:
                    return Verdict(position, broken, tuple(known))
        return Verdict(None, (), tuple(known))


class _Worker(NamedTuple):
    pid: int
    fd: int
    steps: list[Step]


class _Pool:
    """Forked workers checking chunks in order (rules 2, 5)."""

    def __init__(self, rules: Rules, workers: int) -> None:
        self.rules = rules
        self.workers = workers if hasattr(os, "fork") else 0
        self.running: deque[_Worker] = deque()
        self.verdicts: list[Verdict] = []

    def submit(self, steps: list[Step], last: bool = False) -> None:
        """Check ``steps`` here (no workers, or the last chunk) or in a new child."""
        if self.workers == 0 or last:
            self.drain()
            self.verdicts.append(self.rules.check_chunk(steps))
            return
        while len(self.running) >= self.workers:
            self._collect()
        self.running.append(self._fork(steps))

    def failed(self) -> bool:
        """Whether a verdict collected so far names a violating event (stepping may stop)."""
        while self.running and _done(self.running[0].pid):
            self._collect()
        return any(v.failing is not None for v in self.verdicts)

    def drain(self) -> None:
        """Wait for every child, collecting verdicts in chunk order."""
        while self.running:
            self._collect()

    def kill(self) -> None:
        """Reap every child without using its verdict (reading failed)."""
        while self.running:
            worker = self.running.popleft()
            os.close(worker.fd)
            with contextlib.suppress(ProcessLookupError):
                os.kill(worker.pid, 9)
            os.waitpid(worker.pid, 0)

    def _fork(self, steps: list[Step]) -> _Worker:
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: check, send the verdict, leave without running any cleanup
            status = 1
            try:
                os.close(read)
                data = pickle.dumps(self.rules.check_chunk(steps), protocol=pickle.HIGHEST_PROTOCOL)
                with os.fdopen(write, "wb") as out:
                    out.write(data)
                status = 0
            finally:
                os._exit(status)
        os.close(write)
        return _Worker(pid, read, steps)

    def _collect(self) -> None:
        worker = self.running.popleft()
        with os.fdopen(worker.fd, "rb") as handle:
            data = handle.read()
        _, status = os.waitpid(worker.pid, 0)
        verdict: Any = None
        if status == 0:
            try:
                verdict = pickle.loads(data)
            except Exception:
                verdict = None
        if not isinstance(verdict, Verdict):
            verdict = self.rules.check_chunk(worker.steps)
        self.verdicts.append(verdict)


def _done(pid: int) -> bool:
    """Whether child ``pid`` has finished (it is not reaped here)."""
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except (AttributeError, ChildProcessError):
        return False


class Outcomes(NamedTuple):
    """What ``run`` found: the number of events ``read``, the events themselves when kept, and the
    chunk verdicts in order."""

    read: int
    events: list[Any]
    verdicts: list[Verdict]


def run(
    start: AnyState,
    events: Iterable[Any],
    rules: Rules,
    *,
    workers: int = 0,
    chunk: int = CHUNK,
    keep: bool = True,
) -> Outcomes:
    """Step every event of ``events`` (oracle.trace ``Event`` values, possibly read lazily) from
    ``start`` and check the steps in chunks (rules 1-5): comparisons first, then the rules. With
    ``keep`` False the events are not kept (rule 7)."""
    pool = _Pool(rules, workers)
    table = rules.table
    state = start
    kept: list[Any] = []
    steps: list[Step] = []
    stepping = True
    index = -1
    try:
        for index, event in enumerate(events):
            if keep:
                kept.append(event)
            if not stepping:
                continue
            outcome = apply(state, event.action, table)
            after = outcome.state if type(outcome) is Accepted else state
            steps.append(_step(Step, (index, event, state, outcome, after)))
            state = after
            if len(steps) >= chunk:
                pool.submit(steps)
                steps = []
                if pool.failed():
                    stepping = False
    except BaseException:
        pool.kill()
        raise
    pool.submit(steps, last=True)
    return Outcomes(index + 1, kept, pool.verdicts)


def merge(verdicts: Iterable[Verdict]) -> tuple[Verdict | None, list[tuple[int, Violation]]]:
    """The first failing verdict (None: none) and the known violations up to it, first of each (rule 3)."""
    known: list[tuple[int, Violation]] = []
    seen: set[tuple[str, str, str | None]] = set()
    for verdict in verdicts:
        for line, violation in verdict.known:
            key = (violation.rule, violation.entity, violation.known)
            if key not in seen:
                seen.add(key)
                known.append((line, violation))
        if verdict.failing is not None:
            return verdict, known
    return None, known
