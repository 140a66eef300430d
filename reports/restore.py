"""Model states rebuilt from their snapshots: the inverse of ``reports.counterexample.snapshot``.

Rules:
1. ``restore(profile, level, snapshot)`` is type-directed: each attrs record is rebuilt from the
   type hints of its fields (``typing.get_type_hints``), maps become ``immutables.Map``, tuples,
   frozensets and enums (by value) their types, so ``restore(p, level, snapshot(s)) == s``.
2. The generic ``ReservationsState[A, R]`` is resolved by the profile: codex-535 stores
   ``Availability535``/``Reservation535``, codex-head ``AvailabilityHead``/``ReservationHead``.
3. Every field must be present (a snapshot is a whole state); a missing or unknown field, a value
   of the wrong type or one a record's validator refuses is a ``VocabularyError`` naming the path
   (``reservations.availabilities[a1].free_size``) and what was expected.
4. A record is read from any mapping (``Rec`` or a plain ``dict``), a tuple or set from a tuple,
   list or set, so a regression file may write its start state as Python literals.

Mirrors: model/state.py, model/market_state.py (the state records and their field types).
"""

from __future__ import annotations

import enum
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

import attrs
import immutables

from model.entities import Availability535, AvailabilityHead, Reservation535, ReservationHead
from model.market_state import MarketState
from model.state import AnyState, Profile, ReservationsState
from reports.counterexample import LEVELS
from reports.vocabulary import VocabularyError

_RECORDS = {
    Profile.CODEX_535: (Availability535, Reservation535),
    Profile.CODEX_HEAD: (AvailabilityHead, ReservationHead),
}

_PARAMETERS: tuple[Any, ...] = ReservationsState.__parameters__  # type: ignore[attr-defined]


def restore(profile: Profile | str, level: str, snapshot: Any) -> AnyState | MarketState:
    """The ``level`` state of ``profile`` whose snapshot is ``snapshot`` (rules 1-4)."""
    if not isinstance(profile, Profile):
        try:
            profile = Profile(profile)
        except ValueError:
            raise VocabularyError(f"profile: expected codex-535 or codex-head, got {profile!r}") from None
    if level not in LEVELS:
        raise VocabularyError(f"level: expected reservations or market, got {level!r}")
    bindings: dict[Any, Any] = dict(zip(_PARAMETERS, _RECORDS[profile], strict=True))
    target: Any = ReservationsState if level == "reservations" else MarketState
    state: AnyState | MarketState = _Restorer(profile, bindings).value(target, snapshot, "")
    if state.profile is not profile:
        raise VocabularyError(f"profile: expected {profile.value}, got {state.profile.value!r}")
    return state


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _key_text(key: Any) -> str:
    if isinstance(key, tuple):
        return ",".join(str(k) for k in key)
    return str(key)


class _Restorer:
    def __init__(self, profile: Profile, bindings: Mapping[Any, Any]) -> None:
        self.profile = profile
        self.bindings = bindings

    def fail(self, where: str, expected: str, value: Any) -> VocabularyError:
        return VocabularyError(f"{where or 'state'}: expected {expected}, got {_describe(value)}")

    def value(self, hint: Any, value: Any, where: str) -> Any:  # noqa: PLR0912
        if isinstance(hint, TypeVar):
            hint = self.bindings[hint]
        origin = typing.get_origin(hint)
        if origin in (typing.Union, types.UnionType):
            return self._union(hint, value, where)
        if hint is Any:
            return value
        if hint is bool:
            if isinstance(value, bool):
                return value
            raise self.fail(where, "a boolean", value)
        if hint is int:
            if isinstance(value, int) and not isinstance(value, bool):
                return value
            raise self.fail(where, "an integer", value)
        if hint is str:
            if isinstance(value, str):
                return value
            raise self.fail(where, "a string", value)
        if isinstance(hint, type) and issubclass(hint, enum.Enum):
            return self._enum(hint, value, where)
        if origin is immutables.Map:
            key_hint, value_hint = typing.get_args(hint)
            if not isinstance(value, Mapping):
                raise self.fail(where, "a map", value)
            return immutables.Map(
                {
                    self.value(key_hint, k, f"{where}[{_key_text(k)}]"): self.value(
                        value_hint, v, f"{where}[{_key_text(k)}]"
                    )
                    for k, v in value.items()
                }
            )
        if origin is tuple:
            return self._tuple(hint, value, where)
        if origin is frozenset:
            (inner,) = typing.get_args(hint)
            if not isinstance(value, frozenset | set | tuple | list):
                raise self.fail(where, "a set", value)
            return frozenset(self.value(inner, v, f"{where}{{}}") for v in value)
        record = origin if origin is not None and attrs.has(origin) else hint
        if isinstance(record, type) and attrs.has(record):
            return self._record(record, value, where)
        raise self.fail(where, f"a value of a type restore cannot read ({hint})", value)

    def _union(self, hint: Any, value: Any, where: str) -> Any:
        options = [o for o in typing.get_args(hint) if o is not type(None)]
        if value is None:
            if len(options) < len(typing.get_args(hint)):
                return None
            raise self.fail(where, "a value", value)
        records = {typing.get_origin(o) or o for o in options}
        if len(records) == 1 and len(options) > 1:  # ReservationsState[A535, R535] | [AHead, RHead]: rule 2
            return self.value(records.pop(), value, where)
        errors = []
        for option in options:
            try:
                return self.value(option, value, where)
            except VocabularyError as error:
                errors.append(error)
        raise errors[0]

    def _enum(self, hint: type[enum.Enum], value: Any, where: str) -> Any:
        if isinstance(value, hint):
            return value
        try:
            return hint(value)
        except ValueError:
            choices = ", ".join(str(e.value) for e in hint)
            raise self.fail(where, f"one of {choices}", value) from None

    def _tuple(self, hint: Any, value: Any, where: str) -> tuple[Any, ...]:
        args = typing.get_args(hint)
        if not isinstance(value, tuple | list):
            raise self.fail(where, "a tuple", value)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(self.value(args[0], v, f"{where}[{i}]") for i, v in enumerate(value))
        if len(args) != len(value):
            raise self.fail(where, f"a tuple of {len(args)}", value)
        return tuple(self.value(a, v, f"{where}[{i}]") for i, (a, v) in enumerate(zip(args, value, strict=True)))

    def _record(self, cls: type[Any], value: Any, where: str) -> Any:
        if not isinstance(value, Mapping):
            raise self.fail(where, f"a {cls.__name__} record", value)
        names = [f.name for f in attrs.fields(cls)]
        unknown = sorted(set(value) - set(names))
        if unknown:
            raise self.fail(f"{where}.{unknown[0]}" if where else unknown[0], f"a field of {cls.__name__}", unknown[0])
        missing = [n for n in names if n not in value]
        if missing:
            spot = f"{where}.{missing[0]}" if where else missing[0]
            raise VocabularyError(f"{spot}: expected the field {missing[0]} of {cls.__name__}, got nothing")
        hints = typing.get_type_hints(cls)
        fields = {n: self.value(hints[n], value[n], f"{where}.{n}" if where else n) for n in names}
        try:
            return cls(**fields)
        except (TypeError, ValueError) as error:
            raise VocabularyError(f"{where or 'state'}: expected a valid {cls.__name__}, got {error}") from None
