"""Is a concurrent history linearizable against the model? A Wing-Gong / Porcupine search, pure.

Rules:
1. Each operation of the ``History`` becomes a ``model.actions`` action of ``Profile.CODEX_HEAD`` whose
   ids are the implementation's ids; a create takes the id the implementation returned, a rejected
   create a fresh id (``unused-<index>``). ``read_availability`` is checked against the model's record.
2. An operation *matches* at a point when the model's outcome there equals the observed one: both
   accepted or both rejected with the same ``kind``; ``find_availability`` found the same id; a read saw
   the model's field values (an absent availability is ``Rejected("NotExists")``).
3. The search (Wing and Gong 1993, with Lowe's memoisation as in Porcupine) linearizes, depth first, a
   *minimal* pending operation (one invoked before every unlinearized operation's response), keeps it
   while it matches, and backtracks at a response whose operation is not linearized yet. A pair
   (linearized set as a bitmask, model state) is visited at most once: model states are frozen,
   hashable values.
4. Partitioning per availability is sound, and used, when both of:
   a. every operation names exactly one availability: its ``availability_id`` argument, or for an
      accepted ``create_availability`` the id it returned (``find_availability`` and a rejected create
      name none);
   b. the quota slack covers every possible reserve: with ``R`` = the sum of every
      ``create_availability`` ``total_size``, every PATCH ``total_size`` and every
      ``return_bytes_to_availability`` ``bytes`` (a bound on ``repo.reserved`` in any order),
      ``R <= max_bytes`` and every PATCH ``total_size < max_bytes - R`` (the REST quota guard).
   Then no repo reserve and no REST quota guard fails in any order, whole or partitioned; a release
   never underflows since each availability's share of ``reserved`` is ``free_size`` plus its
   reservations' sizes (spec §1.4). The model's state is the product of per-availability states, so
   the history is linearizable iff every partition is (linearizability is local, Herlihy and Wing
   1990). Otherwise the whole history is searched.
5. The search has a budget of steps over all partitions; exhausting it gives ``Unknown``, never a pass.
6. Everything here is pure except ``minimise_program``, which reruns the implementation through
   ``oracle.concurrency.run_history`` (delta debugging over the program's calls, the same seed).
7. ``report`` renders a non-linearizable history as Markdown: the program and seed, a timeline on the
   logical clock, the outcomes, why no order works, and a pytest-runnable replay.

Mirrors: codex-sales-spec §2 (operations), §2.3 (PATCH read outside the lock), §2.11 (lock), §7 B5
(nim-codex#825: concurrent ``createReservation`` over-booking an availability).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from model.actions import (
    Accepted,
    Action,
    CreateAvailabilityHead,
    CreateReservationHead,
    DeleteReservationHead,
    FindAvailabilityHead,
    ReleaseBytes,
    ReturnBytesToAvailability,
    UpdateAvailability,
    apply,
)
from model.state import AnyState, Profile, initial_state
from oracle.concurrency import READ, SETUP, Call, Factory, History, Operation, Program, run_history
from oracle.interface import CREATES, Ok, Rejected
from oracle.minimise import minimise

#: Default search budget: steps over all partitions.
BUDGET = 2_000_000

ACTIONS: Mapping[str, type[Action]] = {
    "create_availability": CreateAvailabilityHead,
    "update_availability": UpdateAvailability,
    "create_reservation": CreateReservationHead,
    "release_bytes": ReleaseBytes,
    "return_bytes_to_availability": ReturnBytesToAvailability,
    "delete_reservation": DeleteReservationHead,
    "find_availability": FindAvailabilityHead,
}


@attrs.frozen
class Linearizable:
    """Every partition has a linearization: ``orders`` maps a partition to its operation indices in order."""

    orders: tuple[tuple[str, tuple[int, ...]], ...]

    @property
    def partitions(self) -> int:
        return len(self.orders)


@attrs.frozen(kw_only=True)
class NotLinearizable:
    """No order of ``partition``'s operations matches: the longest matching ``prefix`` and why it ends."""

    partition: str
    prefix: tuple[int, ...]
    explanation: str


@attrs.frozen
class Unknown:
    """The search ran out of budget: nothing is claimed."""

    reason: str


Verdict = Linearizable | NotLinearizable | Unknown
#: One operation's step at a state: the new state, or None when the observed outcome does not match.
Step = Callable[[AnyState], "AnyState | None"]


# -- operations as model steps (rules 1-2) ----------------------------------------------------------


def action_of(op: Operation) -> Action | None:
    """The model action of ``op`` with the implementation's ids (rule 1); None for a read."""
    if op.name == READ:
        return None
    arguments: dict[str, Any] = dict(op.arguments)
    created = CREATES.get(op.name)
    if created is not None:
        made = op.outcome.result if isinstance(op.outcome, Ok) else None
        arguments[created] = made if made is not None else f"unused-{op.index}"
    return ACTIONS[op.name](**arguments)


def model_outcome(state: AnyState, op: Operation, action: Action | None) -> tuple[AnyState, Ok | Rejected, Any]:
    """What the model does with ``op`` (as ``action``) at ``state``: new state, outcome as observed, fields read."""
    if action is None:
        record = state.availabilities.get(op.argument("availability_id"))
        if record is None:
            return state, Rejected("NotExists"), None
        return state, Ok(None), tuple(sorted(attrs.asdict(record).items()))
    outcome = apply(state, action)
    if not isinstance(outcome, Accepted):
        return state, Rejected(outcome.kind), None
    if op.name == "find_availability":
        return outcome.state, Ok(outcome.found), None
    created = CREATES.get(op.name)
    return outcome.state, Ok(getattr(action, created) if created else None), None


def matches(op: Operation, model: Ok | Rejected, fields: Any) -> bool:
    """Whether the model's outcome equals the observed one (rule 2)."""
    observed = op.outcome
    if isinstance(observed, Rejected) or isinstance(model, Rejected):
        return observed == model
    if op.name == READ:
        model_fields = dict(fields)
        return all(model_fields.get(name) == value for name, value in op.seen or () if name != "id")
    if op.name == "find_availability":
        return observed.result == model.result
    return True


def stepper(op: Operation) -> Step:
    """``op`` as a step: the model state after it, or None when it cannot be linearized there."""
    action = action_of(op)

    def step(state: AnyState) -> AnyState | None:
        after, model, fields = model_outcome(state, op, action)
        return after if matches(op, model, fields) else None

    return step


# -- partitions (rule 4) ----------------------------------------------------------------------------


def availability_of(op: Operation) -> str | None:
    """The one availability ``op`` names (rule 4a), or None."""
    if op.name == "create_availability":
        return op.outcome.result if isinstance(op.outcome, Ok) else None
    if op.name == "find_availability":
        return None
    named = op.argument("availability_id")
    return named if isinstance(named, str) else None


def reserve_bound(history: History) -> int:
    """``R`` of rule 4b: an upper bound of ``repo.reserved`` in any order."""
    sizes = {"create_availability": "total_size", "update_availability": "total_size"}
    sizes["return_bytes_to_availability"] = "bytes"
    return sum(op.argument(sizes[op.name]) or 0 for op in history.operations if op.name in sizes)


def unpartitionable(history: History) -> str | None:
    """Why partitioning ``history`` per availability is not sound (rule 4), or None when it is."""
    for op in history.operations:
        if availability_of(op) is None:
            return f"operation {op.index} ({op.name}) names no single availability"
    max_bytes = max_bytes_of(history)
    bound = reserve_bound(history)
    if bound > max_bytes:
        return f"possible reserves {bound} exceed the quota {max_bytes}"
    for op in history.operations:
        total = op.argument("total_size") if op.name == "update_availability" else None
        if total is not None and not total < max_bytes - bound:
            return f"PATCH {op.index} totalSize {total} may meet the quota guard (slack {max_bytes - bound})"
    return None


def partition(history: History, *, split: bool = True) -> dict[str, list[Operation]]:
    """The operations by availability when rule 4 allows (and ``split``), else one ``whole`` partition."""
    if not split or unpartitionable(history) is not None:
        return {"whole": list(history.operations)}
    parts: dict[str, list[Operation]] = {}
    for op in history.operations:
        parts.setdefault(str(availability_of(op)), []).append(op)
    return parts


def max_bytes_of(history: History) -> int:
    """The repo quota the model starts with: the implementation's, else nim-codex's default."""
    return initial_state(Profile.CODEX_HEAD, quota_max_bytes=history.max_bytes).repo.max_bytes


# -- the search (rule 3) ----------------------------------------------------------------------------


@attrs.define
class _Search:
    """One partition's search: a dancing-links list of call/response events over the operations."""

    ops: Sequence[Operation]
    budget: int
    steps: int = 0
    longest: tuple[int, ...] = ()
    stuck: AnyState | None = None

    def run(self, start: AnyState) -> tuple[int, ...] | Unknown | None:
        """A matching order (operation positions), None when there is none, ``Unknown`` past the budget."""
        events = sorted(
            [(op.invoked, 2 * i + 1) for i, op in enumerate(self.ops)]
            + [(op.returned, 2 * i + 2) for i, op in enumerate(self.ops)]
        )
        size = 2 * len(self.ops) + 1
        nxt, prv = [0] * size, [0] * size
        order = [0] + [node for _, node in events]
        for a, b in zip(order, [*order[1:], 0], strict=True):
            nxt[a], prv[b] = b, a
        steps = [stepper(op) for op in self.ops]
        seen: set[tuple[int, AnyState]] = set()
        stack: list[tuple[int, AnyState]] = []
        state, linearized, entry = start, 0, nxt[0]
        self.stuck = start

        def lift(node: int) -> None:
            for n in (node, node + 1):
                nxt[prv[n]], prv[nxt[n]] = nxt[n], prv[n]

        def unlift(node: int) -> None:
            for n in (node + 1, node):
                nxt[prv[n]] = prv[nxt[n]] = n

        while nxt[0] != 0:
            self.steps += 1
            if self.steps > self.budget:
                return Unknown(f"search budget of {self.budget} steps exhausted")
            i = (entry - 1) // 2
            if entry % 2 == 1:
                after = steps[i](state)
                if after is not None and (linearized | 1 << i, after) not in seen:
                    seen.add((linearized | 1 << i, after))
                    stack.append((entry, state))
                    state, linearized = after, linearized | 1 << i
                    lift(entry)
                    entry = nxt[0]
                    if len(stack) > len(self.longest):
                        self.longest, self.stuck = tuple((e - 1) // 2 for e, _ in stack), state
                    continue
                entry = nxt[entry]
            else:
                if not stack:
                    return None
                entry, state = stack.pop()
                linearized &= ~(1 << ((entry - 1) // 2))
                unlift(entry)
                entry = nxt[entry]
        return tuple((e - 1) // 2 for e, _ in stack)


def check(history: History, *, budget: int = BUDGET, split: bool = True) -> Verdict:
    """Whether ``history`` is linearizable against the codex-head model (rules 1-5)."""
    start = initial_state(Profile.CODEX_HEAD, quota_max_bytes=max_bytes_of(history))
    orders: list[tuple[str, tuple[int, ...]]] = []
    left = budget
    for name, ops in partition(history, split=split).items():
        search = _Search(ops, left)
        found = search.run(start)
        left -= search.steps
        if isinstance(found, Unknown):
            return found
        if found is None:
            prefix = tuple(ops[i].index for i in search.longest)
            assert search.stuck is not None
            return NotLinearizable(
                partition=name, prefix=prefix, explanation=explain(history, ops, search.longest, search.stuck)
            )
        orders.append((name, tuple(ops[i].index for i in found)))
    return Linearizable(tuple(orders))


# -- explanations ------------------------------------------------------------------------------------


def _describe(op: Operation) -> str:
    shown = {k: v for k, v in op.arguments if not (isinstance(v, str) and len(v) > 20)}
    return f"#{op.index} {op.label} {op.name}({', '.join(f'{k}={v}' for k, v in shown.items())})"


def explain(history: History, ops: Sequence[Operation], longest: tuple[int, ...], state: AnyState) -> str:
    """Why the longest matching prefix cannot be extended: each next candidate's model vs observed outcome."""
    done = set(longest)
    pending = [i for i in range(len(ops)) if i not in done]
    first_return = min(ops[i].returned for i in pending)
    candidates = [i for i in pending if ops[i].invoked < first_return]
    lines = [f"After the longest matching prefix ({len(longest)} operations) no pending operation matches:"]
    for i in candidates:
        _, model, fields = model_outcome(state, ops[i], action_of(ops[i]))
        said = f"saw {dict(ops[i].seen or ())}" if ops[i].name == READ else f"said {ops[i].outcome}"
        modelled = f"{model} with fields {dict(fields)}" if fields else str(model)
        lines.append(f"- {_describe(ops[i])}: the model gives {modelled}; the implementation {said}")
    overbooked = overbooking(history)
    if overbooked:
        lines.append("")
        lines.extend(overbooked)
    return "\n".join(lines)


def overbooking(history: History) -> list[str]:
    """For each availability whose accepted reservations outgrew it: the nim-codex#825 sentence."""
    sizes: dict[str, int] = {}
    for op in history.operations:
        if op.name == "create_availability" and isinstance(op.outcome, Ok) and op.outcome.result:
            sizes[op.outcome.result] = op.argument("total_size")
    taken: dict[str, list[int]] = {}
    for op in history.operations:
        if op.name == "create_reservation" and isinstance(op.outcome, Ok) and op.argument("availability_id") in sizes:
            taken.setdefault(op.argument("availability_id"), []).append(op.argument("slot_size"))
    sentences = []
    freed = {op.argument("availability_id") for op in history.operations if op.name in FREEING}
    for availability, slots in taken.items():
        if sum(slots) > sizes[availability] and availability not in freed:
            sentences.append(
                f"Every order that accepts all {len(slots)} reservations on {availability[:10]}… needs "
                f"freeSize >= {' + '.join(map(str, slots))} = {sum(slots)}; the availability had "
                f"{sizes[availability]} (an over-booking, nim-codex#825)."
            )
    return sentences


#: Operations that can give bytes back to an availability (an over-booking sentence would be unsound).
FREEING = frozenset({"update_availability", "return_bytes_to_availability", "delete_reservation"})


# -- minimisation (rule 6) ----------------------------------------------------------------------------


def minimise_program(factory: Factory, program: Program, seed: int, *, budget: int = BUDGET) -> tuple[Program, History]:
    """A 1-minimal sub-program whose history with ``seed`` is still ``NotLinearizable``, and that history.

    ``program`` itself must give a non-linearizable history with ``seed``.
    """
    histories: dict[tuple[str, ...], History] = {}

    def fails(calls: list[Call]) -> bool:
        history = run_history(factory, program.keeping(calls), seed)
        histories[tuple(c.label for c in calls)] = history
        return isinstance(check(history, budget=budget), NotLinearizable)

    kept = minimise(program.all_calls(), fails)
    smallest = program.keeping(kept)
    history = histories.get(tuple(c.label for c in kept)) or run_history(factory, smallest, seed)
    return smallest, history


# -- the report (rule 7) ------------------------------------------------------------------------------

#: Widest history whose timeline is drawn.
TIMELINE_LIMIT = 80
TICK = 3


def client_name(client: int) -> str:
    return "setup" if client == SETUP else f"c{client}"


def timeline(history: History) -> str:
    """One row per client: each operation a bar ``[#k--]`` from invocation to response on the logical clock."""
    ops = history.operations
    end = max((op.returned for op in ops), default=0)
    ruler = "".join(f"{t:<{TICK}}" if t % 5 == 0 or t == 1 else " " * TICK for t in range(1, end + 1))
    rows = [f"{'clock':<6}{ruler}".rstrip()]
    for client in sorted({op.client for op in ops}):
        row = [" "] * (TICK * end)
        for op in ops:
            if op.client != client:
                continue
            start, stop = TICK * (op.invoked - 1), TICK * (op.returned - 1) + TICK - 1
            bar = f"[#{op.index}".ljust(stop - start, "-") + "]"
            row[start : stop + 1] = list(bar[: stop - start + 1])
        rows.append(f"{client_name(client):<6}{''.join(row)}".rstrip())
    return "\n".join(rows)


def _arguments(op: Operation) -> str:
    return ", ".join(f"{k}={_short(v)}" for k, v in op.arguments)


def _short(value: Any) -> str:
    return f"{value[:10]}…" if isinstance(value, str) and len(value) > 20 else repr(value)


def _outcome(op: Operation) -> str:
    if isinstance(op.outcome, Ok):
        shown = "Ok" if op.outcome.result is None else f"Ok({_short(op.outcome.result)})"
        seen = dict(op.seen or ())
        return f"{shown} free_size={seen['free_size']}" if "free_size" in seen else shown
    return f"Rejected({op.outcome.kind})"


def program_source(program: Program) -> str:
    """``program`` as Python source (``Program``, ``Call``, ``Ref`` in scope), one call per line."""
    setup = "".join(f"        {c!r},\n" for c in program.setup)
    calls = "".join(f"        {c!r},\n" for c in program.calls)
    return f"Program(\n    setup=(\n{setup}    ),\n    calls=(\n{calls}    ),\n)"


def replay_source(program: Program, seed: int, factory_source: str) -> str:
    """A pytest module replaying ``program`` with ``seed`` on ``factory_source`` (an expression of
    ``scheduler`` and ``tmp_path``) and asserting the verdict."""
    return (
        "from oracle.concurrency import Call, Program, Ref, run_history\n"
        "from oracle.linearizability import NotLinearizable, check\n"
        "from persistent.node import Node\n\n"
        f"PROGRAM = {program_source(program)}\n\n\n"
        f"def test_replay_seed_{seed}(tmp_path):\n"
        f'    """Seed {seed} replays a history no order of the model explains."""\n'
        f"    history = run_history(lambda scheduler: {factory_source}, PROGRAM, seed={seed})\n"
        "    assert isinstance(check(history), NotLinearizable)\n"
    )


def report(program: Program, seed: int, history: History, verdict: NotLinearizable, *, factory_source: str) -> str:
    """The Markdown report of a non-linearizable history (rule 7)."""
    rows = [
        f"| {op.index} | {client_name(op.client)} | {op.label} | `{op.name}({_arguments(op)})` "
        f"| {op.invoked} | {op.returned} | {_outcome(op)} |"
        for op in history.operations
    ]
    drawn = (
        timeline(history)
        if len(history) <= TIMELINE_LIMIT
        else f"(not drawn: {len(history)} operations, limit {TIMELINE_LIMIT})"
    )
    prefix = ", ".join(f"#{i}" for i in verdict.prefix) or "(none)"
    return "\n".join(
        [
            f"# Not linearizable: {len(history)} operations, seed {seed}",
            "",
            f"Implementation: `{factory_source}`; partition `{verdict.partition}`.",
            "",
            "## Timeline (logical clock)",
            "",
            "```text",
            drawn,
            "```",
            "",
            "## Outcomes",
            "",
            "| # | client | call | operation | invoked | returned | outcome |",
            "|---|---|---|---|---|---|---|",
            *rows,
            "",
            "## Why no order works",
            "",
            f"Longest matching prefix: {prefix}.",
            "",
            verdict.explanation,
            "",
            "## Replay",
            "",
            "```python",
            replay_source(program, seed, factory_source),
            "```",
            "",
        ]
    )
