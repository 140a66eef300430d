"""Concurrent clients against an ``AsyncImplementation``, interleaved by a seed, recorded as a history.

Rules:
1. A ``Program`` is a sequential ``setup`` list, then one list of ``Call`` per client; the clients run
   as concurrent tasks on one private event loop, each client's calls in order.
2. ``SeededScheduler(seed).point(label)`` yields to the event loop 0-3 times, the count drawn from a
   ``random.Random`` seeded by ``seed`` and the label of the call running (a context variable). The
   implementation awaits it before every datastore access and each client before every call, so the
   interleaving depends only on the seed and the program: the same seed replays the same history
   (asyncio's ready queue is FIFO; the node's ids come from its own seed). One stream per call keeps
   a call's pauses when other calls are removed, which lets minimisation keep a race.
3. A ``Ref(label)`` argument stands for the id the call labelled ``label`` returned; it is resolved when
   its call is invoked. A call that did not return an id (rejected, not yet returned, or removed by
   minimisation) resolves to ``absent_id(label)``, a well-formed id naming nothing.
4. The ``History`` is one ``Operation`` per call: client, resolved arguments (implementation ids),
   invocation and response times on a logical clock (one tick per invocation and per response, never
   the wall clock) and the ``Observed`` outcome. ``read_availability`` is a read the harness adds: it
   observes one availability's fields through ``snapshot()`` so a lost update shows in the history.
5. An exception raised by an implementation is an outcome (``Crash:<Type>``), as in oracle/interface.py.

Mirrors: codex-sales-spec §2 (the operations clients call), §2.11 (where nim-codex awaits and locks),
§7 B5 (nim-codex#825, the race the interleavings must reach).
"""

from __future__ import annotations

import asyncio
import contextvars
import itertools
import random
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import attrs

from oracle.interface import AsyncImplementation, Observed, Ok, Rejected, absent_id, crash

#: The read operation the harness adds to the implementation's operations (rule 4).
READ = "read_availability"
#: The ``client`` of a setup call.
SETUP = -1


@attrs.frozen
class Ref:
    """The id returned by the call labelled ``label`` (rule 3)."""

    label: str


@attrs.frozen(kw_only=True)
class Call:
    """One operation a client calls: its name and keyword arguments (values may be ``Ref``)."""

    client: int
    operation: str
    arguments: tuple[tuple[str, Any], ...]
    label: str


@attrs.frozen(kw_only=True)
class Program:
    """What the clients do: ``setup`` runs alone first, then every client's calls concurrently (rule 1)."""

    setup: tuple[Call, ...] = ()
    calls: tuple[Call, ...] = ()

    def clients(self) -> dict[int, list[Call]]:
        """Each client's calls, in order, by client number."""
        by_client: dict[int, list[Call]] = {}
        for call in self.calls:
            by_client.setdefault(call.client, []).append(call)
        return dict(sorted(by_client.items()))

    def all_calls(self) -> list[Call]:
        """Setup calls, then client calls."""
        return [*self.setup, *self.calls]

    def keeping(self, calls: list[Call]) -> Program:
        """The program with only ``calls`` (a subsequence of ``all_calls``), setup kept apart."""
        kept = {call.label for call in calls}
        return Program(
            setup=tuple(c for c in self.setup if c.label in kept),
            calls=tuple(c for c in self.calls if c.label in kept),
        )


@attrs.frozen(kw_only=True)
class Operation:
    """One call as it happened: resolved arguments, logical invocation/response times, outcome (rule 4)."""

    index: int
    label: str
    client: int
    name: str
    arguments: tuple[tuple[str, Any], ...]
    invoked: int
    returned: int
    outcome: Observed
    seen: tuple[tuple[str, Any], ...] | None = None

    def argument(self, name: str) -> Any:
        """The resolved value of argument ``name`` (None when absent)."""
        return dict(self.arguments).get(name)


@attrs.frozen(kw_only=True)
class History:
    """Every operation, by invocation time, and the repo quota the implementation started with."""

    operations: tuple[Operation, ...]
    max_bytes: int | None = None

    def __len__(self) -> int:
        return len(self.operations)


#: The label of the call the current task is running (rule 2).
RUNNING: contextvars.ContextVar[str] = contextvars.ContextVar("RUNNING", default="")


class SeededScheduler:
    """Yield 0-3 times at each point, as the running call's seeded stream says (rule 2)."""

    def __init__(self, seed: int, *, most: int = 3) -> None:
        self.seed = seed
        self.most = most
        self.points = 0
        self.streams: dict[str, random.Random] = {}

    async def point(self, _label: str) -> None:
        self.points += 1
        running = RUNNING.get()
        stream = self.streams.get(running)
        if stream is None:
            stream = self.streams[running] = random.Random(f"{self.seed}:{running}")
        for _ in range(stream.randint(0, self.most)):
            await asyncio.sleep(0)


def resolve(value: Any, results: Mapping[str, Observed]) -> Any:
    """``value``, or for a ``Ref`` the id its call returned, else an absent id (rule 3)."""
    if not isinstance(value, Ref):
        return value
    outcome = results.get(value.label)
    if isinstance(outcome, Ok) and outcome.result is not None:
        return outcome.result
    return absent_id(value.label)


async def invoke(
    impl: AsyncImplementation, operation: str, arguments: Mapping[str, Any]
) -> tuple[Observed, tuple[tuple[str, Any], ...] | None]:
    """Run one operation; a read returns the availability's fields as well (rules 4-5)."""
    try:
        if operation == READ:
            snapshot = await impl.snapshot()
            fields = (snapshot.availabilities or {}).get(arguments["availability_id"])
            if fields is None:
                return Rejected("NotExists"), None
            return Ok(None), tuple(sorted(fields.items()))
        method = getattr(impl, operation, None)
        if method is None:
            return Rejected("UnsupportedOperation"), None
        outcome = await method(**arguments)
    except Exception as exc:
        return crash(exc), None
    if not isinstance(outcome, Ok | Rejected):
        return Rejected(f"Crash:NotAnOutcome({type(outcome).__name__})"), None
    return outcome, None


async def run_clients(impl: AsyncImplementation, program: Program, scheduler: SeededScheduler) -> History:
    """Run ``program`` against ``impl``: setup alone, then the clients concurrently (rule 1)."""
    clock = itertools.count(1)
    results: dict[str, Observed] = {}
    done: list[Operation] = []

    async def perform(call: Call, client: int) -> None:
        arguments = tuple((name, resolve(value, results)) for name, value in call.arguments)
        invoked = next(clock)
        outcome, seen = await invoke(impl, call.operation, dict(arguments))
        returned = next(clock)
        results[call.label] = outcome
        done.append(
            Operation(
                index=-1,
                label=call.label,
                client=client,
                name=call.operation,
                arguments=arguments,
                invoked=invoked,
                returned=returned,
                outcome=outcome,
                seen=seen,
            )
        )

    async def client(calls: list[Call]) -> None:
        for call in calls:
            RUNNING.set(call.label)
            await scheduler.point("invoke")
            await perform(call, call.client)

    max_bytes = (await impl.snapshot()).max_bytes
    for call in program.setup:
        RUNNING.set(call.label)
        await perform(call, SETUP)
    await asyncio.gather(*(client(calls) for calls in program.clients().values()))
    ordered = sorted(done, key=lambda op: op.invoked)
    return History(
        operations=tuple(attrs.evolve(op, index=i) for i, op in enumerate(ordered)),
        max_bytes=max_bytes,
    )


#: Makes a fresh implementation driven by the scheduler: an ``AsyncImplementation`` in spirit. Typed ``Any``
#: because an implementation's keyword-only signatures do not match the Protocol's ``**kwargs`` for mypy.
Factory = Callable[[SeededScheduler], Any]


def run_history(factory: Factory, program: Program, seed: int) -> History:
    """Run ``program`` on a fresh ``factory(scheduler)`` with ``seed``'s interleaving, on a private loop."""
    scheduler = SeededScheduler(seed)
    impl = factory(scheduler)
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(run_clients(impl, program, scheduler))
    finally:
        loop.close()
        close = getattr(impl, "close", None)
        if callable(close):
            close()


# -- a random Sales workload ------------------------------------------------------------------------

#: Setup: three availabilities sales clients reserve from, and one only the operator PATCHes.
SALES_SIZE, REST_SIZE, SALES_AVAILABILITIES = 100, 50, 3
SLOT_SIZES = (10, 20, 30, 40, 50, 60)


def call(client: int, label: str, operation: str, **arguments: Any) -> Call:
    """A ``Call`` from keyword arguments."""
    return Call(client=client, operation=operation, arguments=tuple(arguments.items()), label=label)


def _setup(availabilities: int) -> tuple[Call, ...]:
    sizes = [(f"a{i}", SALES_SIZE) for i in range(availabilities)] + [("rest", REST_SIZE)]
    return tuple(
        call(
            SETUP,
            label,
            "create_availability",
            total_size=size,
            duration=1000,
            min_price_per_byte_per_second=1,
            total_collateral=1000,
        )
        for label, size in sizes
    )


@attrs.define
class _Sale:
    """A sale agent's reservation as the generator tracks it: what is left to release."""

    label: str
    availability: str
    slot_size: int
    collateral: int
    remaining: int
    returned: bool = False


def _sale_step(rng: random.Random, client: int, label: str, sale: _Sale) -> tuple[Call, bool]:
    """The next call of an open sale: a release, the return of written bytes, or the delete; and whether it ended."""
    where = {"availability_id": Ref(sale.availability), "reservation_id": Ref(sale.label)}
    if sale.remaining and not sale.returned and rng.random() < 0.6:
        released = rng.randint(1, sale.remaining)
        sale.remaining -= released
        return call(client, label, "release_bytes", bytes=released, **where), False
    if not sale.returned and rng.random() < 0.7:
        sale.returned = True
        return call(client, label, "return_bytes_to_availability", bytes=sale.slot_size, **where), False
    collateral = rng.choice([None, sale.collateral])
    return call(client, label, "delete_reservation", returned_collateral=collateral, **where), True


def _patch(rng: random.Random, client: int, label: str, target: str) -> Call:
    change = rng.choice(["total_size", "total_size", "duration", "enabled", "min_price_per_byte_per_second"])
    value = {
        "total_size": rng.choice([40, 60, 80, 200]),
        "duration": rng.choice([500, 1000]),
        "enabled": rng.choice([True, False]),
        "min_price_per_byte_per_second": rng.choice([1, 2]),
    }[change]
    return call(client, label, "update_availability", availability_id=Ref(target), **{change: value})


def _client_calls(
    rng: random.Random, client: int, count: int, targets: list[str], *, patch_races: bool, finds: bool
) -> Iterator[Call]:
    """``count`` calls of one client: sales (reserve, releases, return, delete), reads, finds, PATCHes."""
    sales: list[_Sale] = []
    for step in range(count):
        label, roll = f"c{client}.{step}", rng.random()
        if (client == 0 or patch_races) and roll < 0.12:
            yield _patch(rng, client, label, rng.choice(targets) if patch_races else "rest")
        elif sales and roll < 0.55:
            sale = rng.choice(sales)
            step_call, ended = _sale_step(rng, client, label, sale)
            if ended:
                sales.remove(sale)
            yield step_call
        elif len(sales) < 2 and roll < 0.8:
            slot, cpb = rng.choice(SLOT_SIZES), rng.choice([0, 1, 2])
            sale = _Sale(label, rng.choice(targets), slot, slot * cpb, slot)
            sales.append(sale)
            yield call(
                client,
                label,
                "create_reservation",
                availability_id=Ref(sale.availability),
                slot_size=slot,
                request_id=f"0x{client:064x}",
                slot_index=step,
                collateral_per_byte=cpb,
                valid_until=0,
            )
        elif finds and roll < 0.9:
            yield call(
                client,
                label,
                "find_availability",
                size=rng.choice(SLOT_SIZES),
                duration=100,
                price_per_byte_per_second=5,
                collateral_per_byte=1,
                valid_until=0,
            )
        else:
            yield call(client, label, READ, availability_id=Ref(rng.choice([*targets, "rest"])))


def sales_workload(
    seed: int,
    *,
    clients: int = 8,
    operations: int = 64,
    availabilities: int = SALES_AVAILABILITIES,
    patch_races: bool = False,
    finds: bool = True,
) -> Program:
    """A random program: setup creates ``availabilities`` sales availabilities of 100 bytes and one REST
    availability of 50 (fits quota 512); ``operations`` client calls split over ``clients``.

    Each client follows nim-codex's caller discipline: a reservation's release, return and delete come
    from the sale agent (client) that created it, in order. PATCHes come from client 0 (the operator) on
    the REST availability only, unless ``patch_races``: then any client PATCHes any availability, which
    races the unlocked PATCH read with reservations (spec §2.3, a lost update on the locked node too).
    """
    rng = random.Random(seed)
    targets = [f"a{i}" for i in range(availabilities)]
    calls: list[Call] = []
    for client in range(clients):
        count = operations // clients + (1 if client < operations % clients else 0)
        calls.extend(_client_calls(rng, client, count, targets, patch_races=patch_races, finds=finds))
    return Program(setup=_setup(availabilities), calls=tuple(calls))
