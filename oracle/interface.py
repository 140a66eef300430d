"""What an implementation under test offers the oracle: operations, outcomes, snapshots, ids.

Rules:
1. An implementation declares the nim-codex version it reproduces as a ``profile`` attribute
   (a ``model.state.Profile``); the lockstep machine refuses one whose profile differs from its own.
2. Every operation takes keyword arguments named as the fields of the matching ``model.actions``
   action of that profile, *except* the id of the entity a create makes: implementations choose
   their own ids. So ``create_availability`` takes no ``availability_id`` and ``create_reservation``
   no ``reservation_id``; every other id argument is an *implementation* id.
3. An operation returns an ``Observed`` outcome: ``Ok(result)`` (``result`` is the id a create made,
   the id a ``find_availability`` found, else ``None``) or ``Rejected(kind)`` with the model's
   rejection kind (``NotExists``, ``BytesOutOfBounds``, ...). A divergence is data, never an
   exception: ``observe`` turns an exception raised by an implementation into
   ``Rejected("Crash:<ExceptionType>")``.
4. An operation the implementation does not have (a profile without it) is observed as
   ``Rejected("UnsupportedOperation")``, as the model rejects it.
5. ``snapshot()`` returns what the implementation lets the oracle see; any subset of it may be
   given (``None`` or an absent entity field means "not observed", never "empty").
6. ``IdMap`` is the oracle's two-way map between model ids and implementation ids; a create's id is
   recorded the first time the implementation returns it; looking up an id never recorded is an
   ``UnknownId`` error, and recording an id twice is an ``IdConflict`` error.
7. ``run_async`` makes a sync ``Implementation`` of an ``AsyncImplementation``, running each
   coroutine to completion on a private event loop, so one lockstep machine serves both.

Mirrors: codex-sales-spec §2 (one operation per Reservations procedure, §2.1-§2.10), §1.3 (ids are
chosen by the node), §1.4 (repo counters).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol, runtime_checkable

import attrs

from model.state import Profile

#: The operations of the Protocol, in spec §2 order; ``Implementation`` has one method per name.
OPERATION_NAMES: tuple[str, ...] = (
    "create_availability",
    "update_availability",
    "create_reservation",
    "release_bytes",
    "return_bytes_to_availability",
    "delete_reservation",
    "find_availability",
    "delete_inactive_reservations",
    "store_block",
    "expire_block",
)

#: Operations whose ``Ok(result)`` is the id of the entity they made, and that id's model field.
CREATES: Mapping[str, str] = {"create_availability": "availability_id", "create_reservation": "reservation_id"}


@attrs.frozen
class Ok:
    """The operation went through; ``result`` is the id it created or found, or ``None``."""

    result: str | None = None


@attrs.frozen
class Rejected:
    """The operation was refused with the model's rejection ``kind`` (``Crash:<Type>`` if it raised)."""

    kind: str


Observed = Ok | Rejected


def crash(exc: BaseException) -> Rejected:
    """How an exception raised by an implementation is observed (rule 3)."""
    return Rejected(f"Crash:{type(exc).__name__}")


def observe(call: Callable[[], Any]) -> Observed:
    """Run ``call`` and return its outcome; an exception, or a value that is not an outcome, is data."""
    try:
        outcome = call()
    except Exception as exc:
        return crash(exc)
    if isinstance(outcome, Ok | Rejected):
        return outcome
    return Rejected(f"Crash:NotAnOutcome({type(outcome).__name__})")


@attrs.frozen(kw_only=True)
class Snapshot:
    """What an implementation shows of its state; ``None`` (or an absent field) is "not observed".

    ``availabilities`` and ``reservations`` map an implementation id to a dict of fields named as
    ``model.entities`` names them (``free_size``, ``total_collateral``, ``availability_id``, ...);
    a dict may hold any subset. ``max_bytes``, ``used`` and ``reserved`` are the repo counters.
    Giving a map means giving *all* live entities of that kind (an entity absent from it is absent).
    """

    availabilities: Mapping[str, Mapping[str, Any]] | None = None
    reservations: Mapping[str, Mapping[str, Any]] | None = None
    max_bytes: int | None = None
    used: int | None = None
    reserved: int | None = None

    def repo(self) -> dict[str, int]:
        """The repo counters that were observed, by name."""
        counters = {"max_bytes": self.max_bytes, "used": self.used, "reserved": self.reserved}
        return {name: value for name, value in counters.items() if value is not None}


@runtime_checkable
class Implementation(Protocol):
    """A synchronous implementation of one profile's Reservations operations (rules 1-5)."""

    profile: Profile

    def create_availability(self, **kwargs: Any) -> Observed: ...
    def update_availability(self, **kwargs: Any) -> Observed: ...
    def create_reservation(self, **kwargs: Any) -> Observed: ...
    def release_bytes(self, **kwargs: Any) -> Observed: ...
    def return_bytes_to_availability(self, **kwargs: Any) -> Observed: ...
    def delete_reservation(self, **kwargs: Any) -> Observed: ...
    def find_availability(self, **kwargs: Any) -> Observed: ...
    def delete_inactive_reservations(self, **kwargs: Any) -> Observed: ...
    def store_block(self, **kwargs: Any) -> Observed: ...
    def expire_block(self, **kwargs: Any) -> Observed: ...
    def snapshot(self) -> Snapshot: ...


@runtime_checkable
class AsyncImplementation(Protocol):
    """The same operations as ``Implementation``, as coroutines (a node driven over HTTP or RPC)."""

    profile: Profile

    async def create_availability(self, **kwargs: Any) -> Observed: ...
    async def update_availability(self, **kwargs: Any) -> Observed: ...
    async def create_reservation(self, **kwargs: Any) -> Observed: ...
    async def release_bytes(self, **kwargs: Any) -> Observed: ...
    async def return_bytes_to_availability(self, **kwargs: Any) -> Observed: ...
    async def delete_reservation(self, **kwargs: Any) -> Observed: ...
    async def find_availability(self, **kwargs: Any) -> Observed: ...
    async def delete_inactive_reservations(self, **kwargs: Any) -> Observed: ...
    async def store_block(self, **kwargs: Any) -> Observed: ...
    async def expire_block(self, **kwargs: Any) -> Observed: ...
    async def snapshot(self) -> Snapshot: ...


class UnknownId(LookupError):
    """An id the ``IdMap`` never recorded (a model id with no implementation id, or the reverse)."""


class IdConflict(ValueError):
    """Recording a pair whose model id or implementation id is already mapped to another id."""


class IdMap:
    """The two-way map between model ids and implementation ids (rule 6)."""

    def __init__(self) -> None:
        self._to_impl: dict[str, str] = {}
        self._to_model: dict[str, str] = {}

    def __len__(self) -> int:
        return len(self._to_impl)

    def record(self, model_id: str, impl_id: str) -> None:
        """Map ``model_id`` to ``impl_id``; a conflicting pair is an ``IdConflict``."""
        if self._to_impl.get(model_id, impl_id) != impl_id:
            raise IdConflict(f"model id {model_id!r} is already mapped to {self._to_impl[model_id]!r}, not {impl_id!r}")
        if self._to_model.get(impl_id, model_id) != model_id:
            raise IdConflict(
                f"implementation id {impl_id!r} is already mapped to model id {self._to_model[impl_id]!r}, "
                f"not {model_id!r}"
            )
        self._to_impl[model_id] = impl_id
        self._to_model[impl_id] = model_id

    def to_impl(self, model_id: str) -> str:
        """The implementation id of ``model_id``; ``UnknownId`` if never recorded."""
        try:
            return self._to_impl[model_id]
        except KeyError:
            raise UnknownId(
                f"model id {model_id!r} has no implementation id (known: {sorted(self._to_impl)})"
            ) from None

    def to_model(self, impl_id: str) -> str:
        """The model id of ``impl_id``; ``UnknownId`` if never recorded."""
        try:
            return self._to_model[impl_id]
        except KeyError:
            raise UnknownId(
                f"implementation id {impl_id!r} has no model id (known: {sorted(self._to_model)})"
            ) from None

    def knows_model(self, model_id: str) -> bool:
        return model_id in self._to_impl

    def knows_impl(self, impl_id: str) -> bool:
        return impl_id in self._to_model

    def items(self) -> list[tuple[str, str]]:
        """(model id, implementation id) pairs, by model id."""
        return sorted(self._to_impl.items())


def absent_id(model_id: str) -> str:
    """The implementation id the oracle sends for a model id no entity ever had (``missing-a3``):
    it names nothing in the implementation either."""
    return f"absent-{model_id}"


class OperationMethods:
    """One method per operation of ``OPERATION_NAMES``, each ``self.run(name, **kwargs)``: an
    implementation that dispatches by name defines ``run`` alone."""

    def run(self, operation: str, **kwargs: Any) -> Observed:
        raise NotImplementedError

    def create_availability(self, **kwargs: Any) -> Observed:
        return self.run("create_availability", **kwargs)

    def update_availability(self, **kwargs: Any) -> Observed:
        return self.run("update_availability", **kwargs)

    def create_reservation(self, **kwargs: Any) -> Observed:
        return self.run("create_reservation", **kwargs)

    def release_bytes(self, **kwargs: Any) -> Observed:
        return self.run("release_bytes", **kwargs)

    def return_bytes_to_availability(self, **kwargs: Any) -> Observed:
        return self.run("return_bytes_to_availability", **kwargs)

    def delete_reservation(self, **kwargs: Any) -> Observed:
        return self.run("delete_reservation", **kwargs)

    def find_availability(self, **kwargs: Any) -> Observed:
        return self.run("find_availability", **kwargs)

    def delete_inactive_reservations(self, **kwargs: Any) -> Observed:
        return self.run("delete_inactive_reservations", **kwargs)

    def store_block(self, **kwargs: Any) -> Observed:
        return self.run("store_block", **kwargs)

    def expire_block(self, **kwargs: Any) -> Observed:
        return self.run("expire_block", **kwargs)


class AsyncOperationMethods:
    """``OperationMethods`` as coroutines: each ``await self.run(name, **kwargs)``."""

    async def run(self, operation: str, **kwargs: Any) -> Observed:
        raise NotImplementedError

    async def create_availability(self, **kwargs: Any) -> Observed:
        return await self.run("create_availability", **kwargs)

    async def update_availability(self, **kwargs: Any) -> Observed:
        return await self.run("update_availability", **kwargs)

    async def create_reservation(self, **kwargs: Any) -> Observed:
        return await self.run("create_reservation", **kwargs)

    async def release_bytes(self, **kwargs: Any) -> Observed:
        return await self.run("release_bytes", **kwargs)

    async def return_bytes_to_availability(self, **kwargs: Any) -> Observed:
        return await self.run("return_bytes_to_availability", **kwargs)

    async def delete_reservation(self, **kwargs: Any) -> Observed:
        return await self.run("delete_reservation", **kwargs)

    async def find_availability(self, **kwargs: Any) -> Observed:
        return await self.run("find_availability", **kwargs)

    async def delete_inactive_reservations(self, **kwargs: Any) -> Observed:
        return await self.run("delete_inactive_reservations", **kwargs)

    async def store_block(self, **kwargs: Any) -> Observed:
        return await self.run("store_block", **kwargs)

    async def expire_block(self, **kwargs: Any) -> Observed:
        return await self.run("expire_block", **kwargs)


class _SyncOfAsync(OperationMethods):
    """``run_async``'s wrapper: each method runs the coroutine on a private loop (rule 7)."""

    def __init__(self, impl: AsyncImplementation) -> None:
        self.impl = impl
        self.profile = impl.profile
        self.name = getattr(impl, "name", type(impl).__name__)
        self._loop = asyncio.new_event_loop()

    def _run(self, coroutine: Awaitable[Any]) -> Any:
        async def main() -> Any:
            return await coroutine

        return self._loop.run_until_complete(main())

    def run(self, operation: str, **kwargs: Any) -> Observed:
        return self._call(operation, kwargs)

    def _call(self, operation: str, kwargs: Mapping[str, Any]) -> Observed:
        method = getattr(self.impl, operation, None)
        if method is None:
            return Rejected("UnsupportedOperation")
        outcome: Observed = self._run(method(**kwargs))
        return outcome

    def snapshot(self) -> Snapshot:
        taken: Snapshot = self._run(self.impl.snapshot())
        return taken

    def close(self) -> None:
        """Close the private loop and the implementation, if it has ``close`` (the lockstep machine
        calls ``close`` at the end of a test case)."""
        if not self._loop.is_closed():
            self._loop.close()
        close = getattr(self.impl, "close", None)
        if callable(close):
            close()


def run_async(impl: AsyncImplementation) -> Implementation:
    """A sync ``Implementation`` running ``impl``'s coroutines on a private event loop (rule 7)."""
    return _SyncOfAsync(impl)
