"""The one sentence a report opens with: what went wrong, in the terms of the failing step.

Rules:
1. ``sentence(cx)`` names the operation (as a code span, with its step number), the entity and
   the numbers: ``delete_reservation (step 4) returned 0 bytes to availability a1 where 5 were
   unused``. It is built from the failing step, its violation of ``cx.rule`` (entity, message,
   expected, observed), the step's arguments and, where a quantity is a difference, the state
   before the step.
2. Each catalogue rule the engines hit has its phrasing in ``PHRASINGS`` (rule name -> function);
   a rule with several messages picks the phrasing by message. A rule outside the table, or a
   phrasing that cannot find a number it needs, falls back to ``GENERIC``: the operation, the
   rule, the entity, the message and (when given) expected and observed.
3. A known nim-codex behaviour ends the sentence with ``(known: <ref>)``: the violation's own
   reference, else the counterexample's.
4. Kind ``no_wrap`` (a Z3 refutation of a no-wrap obligation) names the operation, the source
   line and the expression; kind ``divergence`` names the first side where expected and observed
   differ. A counterexample with no failing step says the rule fails and its statement.
5. Pure and deterministic: a function of the value alone.

Mirrors: the catalogue's messages (invariants/state_invariants.py, invariants/transitions.py,
invariants/market_invariants.py), whose wording each phrasing restates with the numbers.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from reports.counterexample import Counterexample, Found, Step

#: Placeholder for a number the phrasing could not find (never expected in a good report).
UNKNOWN = "?"


@attrs.frozen(kw_only=True)
class Context:
    """What a phrasing may use: the failing step, its violation, and the states around it."""

    index: int  # 0-based index of the failing step
    step: Step
    violation: Found
    before: Any  # snapshot before the step
    after: Any  # snapshot after the step
    level: str

    @property
    def op(self) -> str:
        """The operation as a code span with its step number: ``create_reservation`` (step 2)."""
        return f"{operation(self.step)} (step {self.index + 1})"

    @property
    def entity(self) -> str:
        return self.violation.entity

    @property
    def expected(self) -> Any:
        return UNKNOWN if self.violation.expected is None else self.violation.expected

    @property
    def observed(self) -> Any:
        return UNKNOWN if self.violation.observed is None else self.violation.observed

    def argument(self, name: str) -> Any:
        value = self.step.arguments.get(name)
        return UNKNOWN if value is None else value

    def store(self, snapshot: Any) -> Any:
        """The reservations store of a snapshot (the snapshot itself at reservations level)."""
        if self.level == "market" and isinstance(snapshot, Mapping):
            return snapshot.get("reservations")
        return snapshot

    def field_before(self, table: str, key: str, *names: str) -> int | None:
        """The first of ``names`` the record ``table[key]`` had before the step (an int), else None."""
        return _field(self.store(self.before), table, key, names)


def _field(store: Any, table: str, key: str, names: tuple[str, ...]) -> int | None:
    if not isinstance(store, Mapping):
        return None
    records = store.get(table)
    record = records.get(key) if isinstance(records, Mapping) else None
    if not isinstance(record, Mapping):
        return None
    for name in names:
        value = record.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def operation(step: Step) -> str:
    """The step's operation as a code span; a sale step names its event (``sale_step[cleanup]``)."""
    if step.action == "sale_step" and step.arguments.get("event") is not None:
        return f"`sale_step[{step.arguments['event']}]`"
    return f"`{step.action}`"


def _numbers(v: Found) -> str:
    if v.expected is None and v.observed is None:
        return ""
    expected = UNKNOWN if v.expected is None else v.expected
    observed = UNKNOWN if v.observed is None else v.observed
    return f" (expected {expected}, observed {observed})"


def generic(c: Context) -> str:
    """The fallback: operation, rule, entity, message and the numbers."""
    return f"{c.op} breaks {c.violation.rule} on {c.entity}: {c.violation.message}{_numbers(c.violation)}"


GENERIC = generic

Phrasing = Callable[[Context], str]


def _untouched(c: Context) -> str | None:
    """The shared 'changed although the action does not touch it' message, phrased."""
    found = re.fullmatch(
        r"(availability|reservation) (\S+) changed although the action does not touch it", c.violation.message
    )
    if found:
        return f"{c.op} changed {found.group(1)} {found.group(2)}, which it does not touch"
    if c.violation.message.startswith("accepted although"):
        return f"{c.op} was accepted although {c.entity} is missing before or after it"
    return None


def _growth(c: Context, names: tuple[str, ...]) -> tuple[Any, Any]:
    """(observed growth, expected growth) of an availability field over the step, from the state before."""
    base = c.field_before("availabilities", c.entity, *names)
    if base is None or c.violation.expected is None or c.violation.observed is None:
        return UNKNOWN, UNKNOWN
    return c.violation.observed - base, c.violation.expected - base


FREE = ("free_size", "size")  # HEAD availabilities have free_size; 570a1f7b ones only size
COLLATERAL = ("total_remaining_collateral",)


# -- state invariants ----------------------------------------------------------------------------


def _repo_within_quota(c: Context) -> str:
    return f"after {c.op} the repo holds {c.observed} bytes used plus reserved, over its maximum of {c.expected}"


def _repo_reserved_identity(c: Context) -> str:
    return (
        f"after {c.op} the repo's reserved counter is {c.observed} where the availabilities' free sizes plus "
        f"the reservations' sizes come to {c.expected}"
    )


def _reserved_bytes_within_total(c: Context) -> str:
    return (
        f"after {c.op} availability {c.entity} accounts for {c.observed} bytes (free, held, written and lost) "
        f"where its size is {c.expected}"
    )


def _free_size_within_total(c: Context) -> str:
    return f"after {c.op} availability {c.entity}'s free size is {c.observed}, above its total size {c.expected}"


def _reservation_size_within_slot(c: Context) -> str:
    return f"after {c.op} reservation {c.entity} holds {c.observed} bytes, outside 0..{c.expected} (its slot size)"


def _reservation_has_availability(c: Context) -> str:
    if c.violation.expected is not None:
        return (
            f"after {c.op} availability {c.entity} indexes missing reservations or records latest valid_until "
            f"{c.observed} where its reservations give {c.expected}"
        )
    return f"after {c.op} reservation {c.entity} is orphaned: {c.violation.message}"


def _until_covers_reservations(c: Context) -> str:
    return (
        f"after {c.op} reservation {c.entity} is valid until {c.observed}, past its availability's until {c.expected}"
    )


def _until_not_negative(c: Context) -> str:
    return f"after {c.op} availability {c.entity}'s until is {c.observed}, below 0"


def _collateral_within_total(c: Context) -> str:
    where = "below 0" if isinstance(c.violation.observed, int) and c.violation.observed < 0 else "above"
    if where == "above":
        return (
            f"after {c.op} availability {c.entity}'s remaining collateral is {c.observed}, "
            f"above its total collateral {c.expected}"
        )
    return f"after {c.op} availability {c.entity}'s remaining collateral is {c.observed}, below 0"


def _collateral_conserved(c: Context) -> str:
    return (
        f"after {c.op} availability {c.entity}'s remaining collateral plus what its reservations took is "
        f"{c.observed} where its total collateral is {c.expected}"
    )


def _returned_within_written(c: Context) -> str:
    if c.violation.message.startswith("deleted reservations"):
        return (
            f"after {c.op} availability {c.entity} has lost {c.observed} written bytes: deleted reservations "
            "returned more than they wrote"
        )
    return f"after {c.op} {c.observed} bytes were returned for reservation {c.entity}, which wrote only {c.expected}"


# -- transition properties -----------------------------------------------------------------------


def _delete_returns_remaining_bytes(c: Context) -> str:
    message = c.violation.message
    if message.startswith("free size did not grow"):
        returned, unused = _growth(c, FREE)
        return f"{c.op} returned {returned} bytes to availability {c.entity} where {unused} were unused"
    if message.startswith("remaining collateral did not grow"):
        given, due = _growth(c, COLLATERAL)
        return f"{c.op} gave back {given} collateral to availability {c.entity} where {due} was returned with it"
    if message == "the reservation still exists after delete":
        return f"{c.op} left reservation {c.entity} in place"
    if message == "delete changed the repo quota":
        return f"{c.op} changed the repo quota, which a delete never touches"
    if message == "deleting a missing reservation changed the state":
        return f"{c.op} of missing reservation {c.entity} changed the state"
    return _untouched(c) or generic(c)


def _return_then_delete_returns_slot_size(c: Context) -> str:
    return (
        f"{c.op} after a return gave back {c.observed} bytes in all for reservation {c.entity} "
        f"where its slot size is {c.expected}"
    )


def _release_moves_batch(c: Context) -> str:
    batch = c.argument("bytes")
    message = c.violation.message
    if message.startswith("reservation size did not drop"):
        return f"{c.op} of {batch} bytes left reservation {c.entity} at {c.observed} bytes where {c.expected} remain"
    if message.startswith("repo reserved did not drop"):
        return f"{c.op} of {batch} bytes left the repo's reserved bytes at {c.observed} where {c.expected} remain"
    if message == "release changed repo used":
        return f"{c.op} of {batch} bytes changed the repo's used bytes from {c.expected} to {c.observed}"
    return _untouched(c) or generic(c)


def _create_reservation_moves_free_size(c: Context) -> str:
    slot = c.argument("slot_size")
    message = c.violation.message
    if message.startswith("free size did not drop"):
        return (
            f"{c.op} of a {slot}-byte slot left availability {c.entity}'s free size at {c.observed} "
            f"where {c.expected} remain"
        )
    if message.startswith("remaining collateral did not drop"):
        return (
            f"{c.op} of a {slot}-byte slot at {c.argument('collateral_per_byte')} collateral per byte left "
            f"availability {c.entity}'s remaining collateral at {c.observed} where {c.expected} remain"
        )
    if message.startswith("the new reservation"):
        return f"{c.op} of a {slot}-byte slot did not create reservation {c.entity} holding the slot size"
    if message.startswith("creating a reservation changed the repo"):
        return f"{c.op} changed the repo quota, which creating a reservation never touches"
    return _untouched(c) or generic(c)


def _create_availability_reserves_size(c: Context) -> str:
    size = c.step.arguments.get("total_size", c.step.arguments.get("size", UNKNOWN))
    message = c.violation.message
    if message.startswith("repo reserved did not grow"):
        return f"{c.op} of {size} bytes left the repo's reserved bytes at {c.observed} where {c.expected} were due"
    if message.startswith("the new availability"):
        return f"{c.op} of {size} bytes did not offer all of them in availability {c.entity}"
    if message.startswith("remaining collateral differs"):
        return (
            f"{c.op} gave availability {c.entity} a remaining collateral of {c.observed} "
            f"where its total collateral is {c.expected}"
        )
    return _untouched(c) or generic(c)


def _return_bytes_re_reserves_written(c: Context) -> str:
    returned = c.argument("bytes")
    message = c.violation.message
    if message.startswith("free size did not grow"):
        grown, due = _growth(c, FREE)
        return (
            f"{c.op} of {returned} bytes grew availability {c.entity}'s free size by {grown} where the written "
            f"{due} were due"
        )
    if message.startswith("repo reserved did not grow"):
        return f"{c.op} of {returned} bytes left the repo's reserved bytes at {c.observed} where {c.expected} were due"
    return _untouched(c) or generic(c)


def _update_availability_follows_patch(c: Context) -> str:
    message = c.violation.message
    if message.startswith("free size did not move"):
        return (
            f"{c.op} left availability {c.entity}'s free size at {c.observed} where moving it with the total "
            f"size gives {c.expected}"
        )
    if message.startswith("repo reserved did not move"):
        return (
            f"{c.op} left the repo's reserved bytes at {c.observed} where moving them with the total size "
            f"gives {c.expected}"
        )
    found = re.fullmatch(r"(\w+) is not what the PATCH asked", message)
    if found:
        name = found.group(1)
        store = c.store(c.after)
        records = store.get("availabilities") if isinstance(store, Mapping) else None
        record = records.get(c.entity) if isinstance(records, Mapping) else None
        left = record.get(name, UNKNOWN) if isinstance(record, Mapping) else UNKNOWN
        asked = c.step.arguments.get(name)
        shown = "unchanged" if asked is None else asked
        return f"{c.op} left availability {c.entity}'s {name} at {left} where the PATCH asked {shown}"
    if message.startswith("remaining collateral changed"):
        return f"{c.op} changed availability {c.entity}'s remaining collateral without a total collateral"
    return _untouched(c) or generic(c)


def _find_returns_first_match(c: Context) -> str:
    found = re.fullmatch(r"find returned (.+) where the first match by id is (.+)", c.violation.message)
    if found:
        return f"{c.op} returned {found.group(1)} where the first matching availability by id is {found.group(2)}"
    if c.violation.message == "find changed the state":
        return f"{c.op} changed the state, which a query never does"
    return generic(c)


def _restart_cleanup_deletes_inactive(c: Context) -> str:
    message = c.violation.message
    if message.startswith("an active reservation"):
        return f"{c.op} deleted or changed reservation {c.entity} of an active slot"
    if message.startswith("an inactive reservation survived"):
        return f"{c.op} kept reservation {c.entity} of an inactive slot"
    if message.startswith("free size did not grow"):
        grown, due = _growth(c, FREE)
        return f"{c.op} grew availability {c.entity}'s free size by {grown} where the deleted reservations held {due}"
    if message.startswith("restart cleanup changed remaining collateral"):
        return (
            f"{c.op} moved availability {c.entity}'s remaining collateral from {c.expected} to {c.observed}, "
            "which a restart cleanup never touches"
        )
    if message.startswith("restart cleanup changed the repo"):
        return f"{c.op} changed the repo quota, which a restart cleanup never touches"
    return _untouched(c) or generic(c)


def _reservation_size_never_grows(c: Context) -> str:
    return f"{c.op} grew reservation {c.entity} from {c.expected} to {c.observed} bytes"


def _rejection_is_justified(c: Context) -> str:
    return f"{c.op} was refused with {c.step.outcome} although the state before it does not bear the refusal out"


# -- market rules --------------------------------------------------------------------------------


def _terminal_sale_holds_no_reservation(c: Context) -> str:
    return f"after {c.op} reservation {c.entity} is still live: {c.violation.message}"


def _free_size_restored(c: Context) -> str:
    missing = (
        c.violation.expected - c.violation.observed
        if c.violation.expected is not None and c.violation.observed is not None
        else UNKNOWN
    )
    return (
        f"after {c.op} every sale has ended, yet availability {c.entity}'s free size is {c.observed} "
        f"where its total size is {c.expected} ({missing} bytes never came back)"
    )


def _workers_within_max(c: Context) -> str:
    what = c.violation.message.removesuffix(" exceed max workers")
    return f"after {c.op} {c.observed} {what} exceed the queue's max workers {c.expected}"


def _workers_accounted(c: Context) -> str:
    if c.violation.expected is not None:
        return f"after {c.op} the queue counts {c.observed} busy workers where {c.expected} sales hold one"
    return f"after {c.op} sale {c.entity}: {c.violation.message}"


def _queue_items_unique(c: Context) -> str:
    return f"after {c.op} slot {c.entity} is queued twice"


def _queue_within_max_size(c: Context) -> str:
    return f"after {c.op} the queue holds {c.observed} items, over its maximum size {c.expected}"


def _queue_ordered(c: Context) -> str:
    return f"after {c.op} queue item {c.entity} is {c.violation.message}"


def _collateral_returned_on_end(c: Context) -> str:
    found = re.match(r"sale ended in (\w+)", c.violation.message)
    state = found.group(1) if found else "a terminal state"
    return (
        f"{c.op} ended sale {c.entity} in {state} giving back {c.observed} collateral "
        f"where its reservation took {c.expected}"
    )


def _terminal_states_absorb(c: Context) -> str:
    found = re.fullmatch(r"left terminal state (\w+) for (\w+)", c.violation.message)
    if found:
        return f"{c.op} moved sale {c.entity} out of terminal state {found.group(1)} into {found.group(2)}"
    return f"{c.op}: {c.violation.message} (sale {c.entity})"


def _queue_stays_paused(c: Context) -> str:
    return f"{c.op}: {c.violation.message}"


def _eviction_drops_lowest(c: Context) -> str:
    return f"{c.op} dropped queue item {c.entity}: {c.violation.message}"


def _request_state_changes_allowed(c: Context) -> str:
    found = re.fullmatch(r"(\w+) -> (\w+)", c.violation.message)
    if found:
        return (
            f"{c.op} moved request {c.entity} from {found.group(1)} to {found.group(2)}, "
            "which the marketplace contract forbids"
        )
    return f"{c.op}: {c.violation.message} (request {c.entity})"


def _cleanup_restores_free_size(c: Context) -> str:
    found = re.match(r"sale (.+)'s cleanup", c.violation.message)
    sale = f" of sale {found.group(1)}" if found else ""
    return (
        f"{c.op}: the cleanup{sale} gave back {c.observed} bytes to availability {c.entity} where {c.expected} were due"
    )


#: Rule name -> its phrasing (rule 2).
PHRASINGS: Mapping[str, Phrasing] = {
    "repo_within_quota": _repo_within_quota,
    "repo_reserved_identity": _repo_reserved_identity,
    "reserved_bytes_within_total": _reserved_bytes_within_total,
    "free_size_within_total": _free_size_within_total,
    "reservation_size_within_slot": _reservation_size_within_slot,
    "reservation_has_availability": _reservation_has_availability,
    "until_covers_reservations": _until_covers_reservations,
    "until_not_negative": _until_not_negative,
    "collateral_within_total": _collateral_within_total,
    "collateral_conserved": _collateral_conserved,
    "returned_within_written": _returned_within_written,
    "delete_returns_remaining_bytes": _delete_returns_remaining_bytes,
    "return_then_delete_returns_slot_size": _return_then_delete_returns_slot_size,
    "release_moves_batch": _release_moves_batch,
    "create_reservation_moves_free_size": _create_reservation_moves_free_size,
    "create_availability_reserves_size": _create_availability_reserves_size,
    "return_bytes_re_reserves_written": _return_bytes_re_reserves_written,
    "update_availability_follows_patch": _update_availability_follows_patch,
    "find_returns_first_match": _find_returns_first_match,
    "restart_cleanup_deletes_inactive": _restart_cleanup_deletes_inactive,
    "reservation_size_never_grows": _reservation_size_never_grows,
    "rejection_is_justified": _rejection_is_justified,
    "terminal_sale_holds_no_reservation": _terminal_sale_holds_no_reservation,
    "free_size_restored": _free_size_restored,
    "workers_within_max": _workers_within_max,
    "workers_accounted": _workers_accounted,
    "queue_items_unique": _queue_items_unique,
    "queue_within_max_size": _queue_within_max_size,
    "queue_ordered": _queue_ordered,
    "collateral_returned_on_end": _collateral_returned_on_end,
    "terminal_states_absorb": _terminal_states_absorb,
    "queue_stays_paused": _queue_stays_paused,
    "eviction_drops_lowest": _eviction_drops_lowest,
    "request_state_changes_allowed": _request_state_changes_allowed,
    "cleanup_restores_free_size": _cleanup_restores_free_size,
}


def bare_rule(name: str) -> str:
    """The catalogue name of a rule written with an engine prefix (``strict:collateral_conserved``)."""
    return name.split(":", 1)[1] if name.startswith(("strict:", "invariant:", "property:")) else name


def failing_violation(cx: Counterexample) -> Found | None:
    """The first violation of ``cx.rule`` at the failing step."""
    index = cx.failing_step
    if index is None:
        return None
    return next(v for v in cx.steps[index].violations if v.rule == cx.rule)


def known_reference(cx: Counterexample) -> str | None:
    """The known nim-codex behaviour this reproduces: the failing violation's, else the counterexample's."""
    violation = failing_violation(cx)
    if violation is not None and violation.known:
        return violation.known
    return cx.known


def _with_known(text: str, cx: Counterexample) -> str:
    known = known_reference(cx)
    return f"{text} (known: {known})" if known else text


def _last_step(cx: Counterexample) -> str:
    if not cx.steps:
        return "the start state"
    return f"{operation(cx.steps[-1])} (step {len(cx.steps)})"


def _text(value: Any) -> str:
    return "None" if value is None else str(value)


def _no_wrap(cx: Counterexample) -> str:
    site = cx.rule.removeprefix("no_wrap:")
    expression = next(
        (m.group(1) for note in cx.notes if "wraps" in note and (m := re.search(r"`([^`]+)`", note))), None
    )
    if expression is None:
        found = re.search(r"`([^`]+)`", cx.statement)
        expression = found.group(1) if found else "its checked arithmetic"
    arguments = (
        ", ".join(f"{k}={_text(v)}" for k, v in sorted(cx.steps[-1].arguments.items()) if v is not None)
        if cx.steps
        else ""
    )
    given = f" with {arguments}" if arguments else ""
    return _with_known(f"{_last_step(cx)}{given} leaves the range of `{expression}` at {site}", cx)


def _divergence(cx: Counterexample) -> str:
    first = min(cx.sides, key=lambda s: (s.step, s.field))
    more = len(cx.sides) - 1
    if 0 <= first.step < len(cx.steps):
        where = f"{operation(cx.steps[first.step])} (step {first.step + 1})"
    else:
        where = f"step {first.step + 1}"
    tail = f" (and {more} more field{'s' if more > 1 else ''})" if more else ""
    return _with_known(
        f"{where}: {first.field} is {_text(first.observed)} where the model expects {_text(first.expected)}{tail}",
        cx,
    )


def sentence(cx: Counterexample) -> str:
    """The headline of ``cx`` (rules 1-4)."""
    if cx.kind == "no_wrap":
        return _no_wrap(cx)
    if cx.kind == "divergence" and cx.sides:
        return _divergence(cx)
    index = cx.failing_step
    violation = failing_violation(cx)
    if index is None or violation is None:
        if cx.sides:
            return _divergence(cx)
        return _with_known(f"{cx.rule} fails after {_last_step(cx)}: {cx.statement}", cx)
    step = cx.steps[index]
    context = Context(
        index=index,
        step=step,
        violation=violation,
        before=cx.steps[index - 1].state if index > 0 else cx.initial,
        after=step.state,
        level=cx.level,
    )
    phrasing = PHRASINGS.get(bare_rule(cx.rule), GENERIC)
    return _with_known(_capital(phrasing(context)), cx)


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]
