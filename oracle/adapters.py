"""The model itself, and each broken variant, behind the implementation Protocol.

Rules:
1. ``ModelImplementation`` runs ``model.actions.apply`` on its own state, with the profile's
   operations or an alternative table, and chooses its OWN ids (``impl-1``, ``impl-2``, ... one
   counter for availabilities and reservations), never the model's, so the oracle's id map is
   exercised on every create.
2. Its outcomes follow ``oracle.interface``: ``Ok(new id)`` for a create, ``Ok(found id or None)``
   for ``find_availability``, ``Ok(None)`` otherwise, ``Rejected(kind)`` for a rejection; an
   exception escapes (the oracle observes it as a crash).
3. Its snapshot shows everything: every field of every record, and the three repo counters.
4. ``broken_adapters(profile)`` gives one factory per broken variant of ``variants.broken`` that
   applies to ``profile``; a faithful oracle must find each of them.
5. ``AsyncModelImplementation`` is the same, with coroutine methods (for ``run_async``).

Mirrors: codex-sales-spec §2 (the operations), §1.3 (ids chosen by the node).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

from model.actions import (
    OPERATIONS,
    Accepted,
    Action,
    OperationTable,
    apply,
)
from model.state import AnyState, Profile, initial_state
from oracle.interface import CREATES, AsyncOperationMethods, Observed, Ok, OperationMethods, Rejected, Snapshot
from reports.vocabulary import action_classes
from stateful_tests.strategies import QUOTA
from variants.broken import VARIANTS, Variant

#: The action type of each operation name, per profile; an operation a profile lacks uses the
#: other profile's action, which ``apply`` rejects as ``UnsupportedOperation`` (as nim-codex has none).
ACTION_TYPES: dict[Profile, dict[str, type[Action]]] = {
    profile: {**action_classes(other), **action_classes(profile)}
    for profile, other in ((Profile.CODEX_535, Profile.CODEX_HEAD), (Profile.CODEX_HEAD, Profile.CODEX_535))
}


def record_fields(record: Any) -> dict[str, Any]:
    """Every field of a ``model.entities`` record, by name (what a full snapshot shows)."""
    return attrs.asdict(record, recurse=False)


class ModelImplementation(OperationMethods):
    """The model as an implementation (rules 1-3): the oracle's self-test."""

    def __init__(
        self,
        profile: Profile,
        operations: OperationTable | None = None,
        id_prefix: str = "impl-",
        *,
        quota_max_bytes: int = QUOTA,
        name: str = "model",
    ) -> None:
        self.profile = profile
        self.operations = OPERATIONS[profile] if operations is None else operations
        self.id_prefix = id_prefix
        self.name = name
        self.state: AnyState = initial_state(profile, quota_max_bytes=quota_max_bytes)
        self._counter = 0

    def _fresh(self) -> str:
        self._counter += 1
        return f"{self.id_prefix}{self._counter}"

    def run(self, operation: str, **kwargs: Any) -> Observed:
        """Apply ``operation`` with ``kwargs`` (implementation ids) to this implementation's state."""
        action_type = ACTION_TYPES[self.profile][operation]
        new_id = None
        if operation in CREATES:
            new_id = self._fresh()
            kwargs = {**kwargs, CREATES[operation]: new_id}
        outcome = apply(self.state, action_type(**kwargs), self.operations)
        if not isinstance(outcome, Accepted):
            return Rejected(outcome.kind)
        self.state = outcome.state
        return Ok(new_id if new_id is not None else outcome.found)

    def snapshot(self) -> Snapshot:
        repo = self.state.repo
        return Snapshot(
            availabilities={aid: record_fields(a) for aid, a in sorted(self.state.availabilities.items())},
            reservations={rid: record_fields(r) for rid, r in sorted(self.state.reservations.items())},
            max_bytes=repo.max_bytes,
            used=repo.used,
            reserved=repo.reserved,
        )


def broken_implementation(variant: Variant, profile: Profile, **options: Any) -> ModelImplementation:
    """The model with ``variant``'s broken operation in place, as an implementation of ``profile``."""
    if profile not in variant.profiles:
        raise ValueError(f"variant {variant.name} does not apply to {profile.value}")
    return ModelImplementation(profile, variant.operations(profile), name=variant.name, **options)


def broken_adapters(profile: Profile) -> dict[str, Callable[[], ModelImplementation]]:
    """Variant name -> factory of a fresh broken implementation, for every variant of ``profile``."""
    return {
        variant.name: (lambda variant=variant: broken_implementation(variant, profile))  # type: ignore[misc]
        for variant in VARIANTS
        if profile in variant.profiles
    }


class AsyncModelImplementation(AsyncOperationMethods):
    """``ModelImplementation`` with coroutine methods (rule 5), optionally yielding to the loop."""

    def __init__(self, profile: Profile, operations: OperationTable | None = None, id_prefix: str = "aimpl-") -> None:
        self.inner = ModelImplementation(profile, operations, id_prefix, name="async-model")
        self.profile = profile
        self.name = "async-model"

    async def run(self, operation: str, **kwargs: Any) -> Observed:
        import asyncio

        await asyncio.sleep(0)  # a real client awaits I/O here; yielding proves the loop is driven
        return self.inner.run(operation, **kwargs)

    async def snapshot(self) -> Snapshot:
        return self.inner.snapshot()
