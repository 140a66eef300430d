"""Copying frozen records with some fields changed: ``attrs.evolve`` without its per-call lookups.

Rules:
1. ``evolve(record, **changes)`` gives a record equal to ``attrs.evolve(record, **changes)`` and
   raises where it raises (an unknown field is a ``TypeError``; a changed value that fails its
   field's validator raises the validator's error, unless validators are disabled).
2. For a *plain* record class (attrs, slotted, with fields, every field a slot of its own name, no converter,
   no ``__attrs_post_init__``, no cached hash) the copy is made by one function generated per
   class: it sets every slot, the changed ones from ``changes``, then runs the validators of the
   changed fields only, in field order. The unchanged fields already passed their validators when
   the record was built (validators check a field's own shape, never another field: model/numbers.py),
   so the result is the one ``__init__`` would give. A record built while validators were disabled
   (the symbolic engine, which runs with them off throughout) keeps its unchanged fields unchecked.
3. Any other class is copied through its ``__init__``, as ``attrs.evolve`` does.
4. The generated functions and the field names are made once per class and kept; this is the only
   state of the module (a cache of a pure function of the class).
5. ``arguments(record)`` is ``attrs.asdict(record, recurse=False)``, by one generated function per
   class, kept like the copiers.

6. ``constructor(cls)`` builds records of a plain class without its ``__init__`` (the same
   value, validators run on every field), for the few records the hot path builds per operation.

Mirrors: nothing in nim-codex; the model's hot path (docs/performance.md, trace checking).
"""

from __future__ import annotations

from collections.abc import Callable
from types import MemberDescriptorType
from typing import Any, TypeVar

import attrs

T = TypeVar("T")

_NAMES: dict[type, tuple[str, ...]] = {}
_COPIERS: dict[type, Callable[..., Any]] = {}
_UNSET = object()


def field_names(cls: type) -> tuple[str, ...]:
    """The attrs fields of ``cls`` by name, in declaration order (rule 4)."""
    names = _NAMES.get(cls)
    if names is None:
        names = _NAMES[cls] = tuple(f.name for f in attrs.fields(cls))
    return names


def is_plain(cls: type) -> bool:
    """Whether ``cls`` is a plain record (rule 2)."""
    if (
        not attrs.fields(cls)
        or hasattr(cls, "__attrs_post_init__")
        or any("_attrs_cached_hash" in getattr(k, "__slots__", ()) for k in cls.__mro__)
    ):
        return False
    for field in attrs.fields(cls):
        if field.converter is not None or field.alias != field.name or not field.init:
            return False
        if not isinstance(getattr(cls, field.name, None), MemberDescriptorType):
            return False
    return True


def _through_init(cls: type) -> Callable[..., Any]:
    names = field_names(cls)

    def copy(record: Any, **changes: Any) -> Any:
        for name in names:
            if name not in changes:
                changes[name] = getattr(record, name)
        return cls(**changes)

    return copy


def _compiled(
    cls: type, leading: str, parameters: list[str], body: list[str], checks: list[str], extra: dict[str, Any]
) -> Any:
    """Compile ``def build(<leading>*, <parameters>)`` for ``cls``: make an instance without ``__init__``, run
    ``body`` (which sets field i through ``_set<i>``), then, unless validators are disabled,
    ``checks`` (which call field i's validator as ``_check<i>(new, _field<i>, value)``)."""
    scope: dict[str, Any] = {"_new": object.__new__, "_cls": cls, "_off": attrs.validators.get_disabled, **extra}
    for index, field in enumerate(attrs.fields(cls)):
        scope[f"_set{index}"] = getattr(cls, field.name).__set__
        scope[f"_check{index}"], scope[f"_field{index}"] = field.validator, field
    source = [f"def build({leading}*, {', '.join(parameters)}):", "    new = _new(_cls)", *body]
    if checks:
        source += ["    if not _off():", *checks]
    source.append("    return new")
    exec("\n".join(source), scope)  # the source is built from the class's own field names
    return scope["build"]


def _generated(cls: type) -> Callable[..., Any]:
    """The copier of a plain record class (rule 2): unchanged fields read from ``record``, the
    validators of the changed ones run."""
    fields = attrs.fields(cls)
    body, checks = [], []
    for index, field in enumerate(fields):
        body += [f"    if {field.name} is _UNSET:", f"        {field.name} = record.{field.name}"]
        if field.validator is not None:
            body = [f"    changed{index} = False", *body, "    else:", f"        changed{index} = True"]
            checks += [f"        if changed{index}:", f"            _check{index}(new, _field{index}, {field.name})"]
        body.append(f"    _set{index}(new, {field.name})")
    copier: Callable[..., Any] = _compiled(
        cls, "record, ", [f"{f.name}=_UNSET" for f in fields], body, checks, {"_UNSET": _UNSET}
    )
    return copier


def constructor(cls: type[T]) -> Callable[..., T]:
    """A function building ``cls`` from keyword arguments as ``cls(**fields)`` does (rule 6): for a
    plain record class whose defaults are plain values, generated code sets the slots and then runs
    every field's validator (unless validators are disabled); any other class is returned itself."""
    fields = attrs.fields(cls)  # type: ignore[arg-type]
    if not is_plain(cls) or any(isinstance(f.default, attrs.Factory) for f in fields):  # type: ignore[arg-type]
        return cls
    parameters, body, checks, defaults = [], [], [], {}
    for index, field in enumerate(fields):
        if field.default is attrs.NOTHING:
            parameters.append(field.name)
        else:
            defaults[f"_default{index}"] = field.default
            parameters.append(f"{field.name}=_default{index}")
        body.append(f"    _set{index}(new, {field.name})")
        if field.validator is not None:
            checks.append(f"        _check{index}(new, _field{index}, {field.name})")
    make: Callable[..., T] = _compiled(cls, "", parameters, body, checks, defaults)
    return make


def _copier(cls: type) -> Callable[..., Any]:
    copier = _COPIERS[cls] = _generated(cls) if is_plain(cls) else _through_init(cls)
    return copier


def evolve(record: T, **changes: Any) -> T:
    """A copy of ``record`` with ``changes`` (rules 1-3)."""
    cls = type(record)
    copier = _COPIERS.get(cls) or _copier(cls)
    result: T = copier(record, **changes)
    return result


_READERS: dict[type, Callable[[Any], dict[str, Any]]] = {}


def _reader(cls: type) -> Callable[[Any], dict[str, Any]]:
    """``arguments`` for ``cls``: one dict display of its fields, generated once (rule 5)."""
    names = field_names(cls)
    scope: dict[str, Any] = {}
    exec(f"def read(r):\n    return {{{', '.join(f'{n!r}: r.{n}' for n in names)}}}", scope)  # field names only
    read: Callable[[Any], dict[str, Any]] = scope["read"]
    _READERS[cls] = read
    return read


def arguments(record: object) -> dict[str, Any]:
    """Every field of ``record`` by name, values not copied (rule 5)."""
    read = _READERS.get(type(record)) or _reader(type(record))
    return read(record)
