"""Actions as (name, arguments) and back: the vocabulary every trace and report is written in.

Rules:
1. An action's name is its operation's snake_case ``name`` (``create_reservation``,
   ``sale_step``); which class it means depends on the profile and the level
   (``reservations`` or ``market``). Arguments are the action's fields as plain values.
2. Nested values are flattened: ``save_availability`` carries the availability action's
   arguments plus ``operation`` (its name); ``request_storage`` carries the request terms'
   fields; a ``sale_step`` event is its nim-codex name (``onCancelled``); ``active_slots`` is a
   set of (request id, slot index) tuples.
3. Decoding checks every argument against the field's type and says what was expected; an
   unknown name or argument is a ``VocabularyError``, never a silent default.

Mirrors: model/actions.py, model/market.py (the action records).
"""

from __future__ import annotations

import enum
import types
import typing
from collections.abc import Mapping
from typing import Any

import attrs

from model import market as market_actions
from model.actions import OPERATIONS, Action
from model.chain import RequestTerms
from model.market import MarketAction, RequestStorage, SaveAvailability
from model.sale import SaleEvent
from model.state import Profile
from reports.counterexample import snapshot


class VocabularyError(ValueError):
    """An action name or argument outside the vocabulary; the message says what was expected."""


def action_classes(profile: Profile) -> dict[str, type[Action]]:
    """The reservations-level action class of each operation name ``profile`` has."""
    return {cls.name: cls for cls in OPERATIONS[profile]}


def _market_classes() -> dict[str, type[MarketAction]]:
    found: dict[str, type[MarketAction]] = {}
    for value in vars(market_actions).values():
        if isinstance(value, type) and issubclass(value, MarketAction) and value is not MarketAction and value.name:
            found[value.name] = value
    return found


def action_names(profile: Profile, level: str) -> list[str]:
    """Every action name of ``level`` for ``profile``, sorted."""
    if level == "reservations":
        return sorted(action_classes(profile))
    if level == "market":
        return sorted(_market_classes())
    raise VocabularyError(f"level must be 'reservations' or 'market', not {level!r}")


def encode_action(action: Action | MarketAction) -> tuple[str, dict[str, Any]]:
    """``action`` as its name and plain arguments (rule 2), keys sorted."""
    if isinstance(action, SaveAvailability):
        name, arguments = encode_action(action.action)
        return action.name, dict(sorted({"operation": name, **arguments}.items()))
    if isinstance(action, RequestStorage):
        return action.name, dict(sorted(snapshot(action.terms).items()))
    arguments = {f.name: snapshot(getattr(action, f.name)) for f in attrs.fields(type(action))}
    return action.name, dict(sorted(arguments.items()))


def decode_action(profile: Profile, level: str, name: str, arguments: Mapping[str, Any]) -> Action | MarketAction:
    """The action ``name`` with ``arguments`` at ``level`` for ``profile`` (rule 3)."""
    if level == "reservations":
        classes: Mapping[str, type[Any]] = action_classes(profile)
    elif level == "market":
        classes = _market_classes()
    else:
        raise VocabularyError(f"level must be 'reservations' or 'market', not {level!r}")
    cls = classes.get(name)
    if cls is None:
        raise VocabularyError(
            f"unknown {level} action {name!r} for {profile.value}; expected one of {', '.join(sorted(classes))}"
        )
    if cls is SaveAvailability:
        inner = dict(arguments)
        operation = inner.pop("operation", None)
        if not isinstance(operation, str):
            raise VocabularyError("save_availability needs 'operation': the availability action's name")
        action = decode_action(profile, "reservations", operation, inner)
        return SaveAvailability(action=typing.cast(Action, action))
    if cls is RequestStorage:
        return RequestStorage(terms=_build(RequestTerms, arguments, "request_storage"))
    built: Action | MarketAction = _build(cls, arguments, name)
    return built


def _build(cls: type[Any], arguments: Mapping[str, Any], name: str) -> Any:
    fields = {f.name: f for f in attrs.fields(cls)}
    unknown = sorted(set(arguments) - set(fields))
    if unknown:
        raise VocabularyError(f"{name}: unknown argument(s) {', '.join(unknown)}; expected {', '.join(sorted(fields))}")
    hints = typing.get_type_hints(cls)
    values = {}
    for key, value in arguments.items():
        values[key] = _coerce(hints[key], value, f"{name}.{key}")
    missing = sorted(k for k, f in fields.items() if f.default is attrs.NOTHING and k not in values)
    if missing:
        raise VocabularyError(f"{name}: missing argument(s) {', '.join(missing)}")
    try:
        return cls(**values)
    except (TypeError, ValueError) as error:
        raise VocabularyError(f"{name}: {error}") from None


_SCALARS: dict[Any, tuple[str, Any]] = {
    bool: ("a boolean", lambda v: isinstance(v, bool)),
    int: ("an integer", lambda v: isinstance(v, int) and not isinstance(v, bool)),
    str: ("a string", lambda v: isinstance(v, str)),
}


def _coerce(hint: Any, value: Any, where: str) -> Any:
    if hint in _SCALARS:
        what, accepts = _SCALARS[hint]
        if accepts(value):
            return value
        raise VocabularyError(f"{where}: expected {what}, got {value!r}")
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return _coerce_union(typing.get_args(hint), value, where)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        try:
            return hint(value)
        except ValueError:
            choices = ", ".join(e.value for e in hint)
            raise VocabularyError(f"{where}: expected one of {choices}, got {value!r}") from None
    if origin is frozenset:
        (inner,) = typing.get_args(hint)
        if not isinstance(value, frozenset | set | list | tuple):
            raise VocabularyError(f"{where}: expected a set, got {value!r}")
        return frozenset(_coerce(inner, v, where) for v in value)
    if origin is tuple:
        return _coerce_tuple(typing.get_args(hint), value, where)
    raise VocabularyError(f"{where}: cannot read a value of type {hint}")


def _coerce_union(options: tuple[Any, ...], value: Any, where: str) -> Any:
    if value is None and type(None) in options:
        return None
    errors = []
    for option in options:
        if option is type(None):
            continue
        try:
            return _coerce(option, value, where)
        except VocabularyError as error:
            errors.append(str(error))
    raise VocabularyError(errors[0] if errors else f"{where}: expected a value, got {value!r}")


def _coerce_tuple(args: tuple[Any, ...], value: Any, where: str) -> Any:
    if not isinstance(value, tuple | list):
        raise VocabularyError(f"{where}: expected a tuple, got {value!r}")
    if len(args) == 2 and args[1] is Ellipsis:
        return tuple(_coerce(args[0], v, where) for v in value)
    if len(args) != len(value):
        raise VocabularyError(f"{where}: expected a tuple of {len(args)}, got {value!r}")
    return tuple(_coerce(a, v, where) for a, v in zip(args, value, strict=True))


__all__ = ["SaleEvent", "VocabularyError", "action_classes", "action_names", "decode_action", "encode_action"]
