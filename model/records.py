"""Copying frozen records with some fields changed: ``attrs.evolve`` without its per-call lookups.

Rules:
1. ``evolve(record, **changes)`` gives a record equal to ``attrs.evolve(record, **changes)`` and
   raises where it raises (an unknown field is a ``TypeError``; a changed value that fails its
   field's validator raises the validator's error, unless validators are disabled).
2. For a *plain* record class (attrs, slotted, with fields, every field a slot of its own name, no converter,
   no ``__attrs_post_init__``, no cached hash) the copy is made by one function generated per
   class: it sets every slot, the changed ones from ``changes``, then runs the validators of the
   changed fields only (in the order given; when one fails, all of them again in field order, so
   the error raised is the one ``__init__`` would raise first). The unchanged fields already
   passed their validators when the record was built (validators check a field's own shape, never
   another field: model/numbers.py), so the result is the one ``__init__`` would give. A record
   built while validators were disabled (the symbolic engine, which runs with them off throughout)
   keeps its unchanged fields unchecked.
3. Any other class is copied through its ``__init__``, as ``attrs.evolve`` does.
4. The generated functions, builder classes and field names are made once per class and kept;
   this is the only state of the module (a cache of a pure function of the class).
5. ``arguments(record)`` is ``attrs.asdict(record, recurse=False)``, by one generated function per
   class, kept like the copiers.

6. ``constructor(cls)`` builds records of a plain class without its ``__init__`` (the same
   value, validators run on every field), for the few records the hot path builds per operation.
7. A frozen class refuses attribute assignment, so its slots are set through their descriptors,
   one call each. Where CPython allows it, the generated code instead fills in an instance of
   ``builder(cls)``, a subclass that adds no field and assigns attributes plainly, and then makes
   it a ``cls`` by assigning ``__class__`` (allowed because the two layouts are the same): the very
   same object results, of type ``cls``, with half to two thirds of the instructions. A class that
   cannot have such a builder keeps the descriptor path.

Mirrors: nothing in nim-codex; the model's hot path (docs/performance.md, trace checking).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from types import MemberDescriptorType
from typing import Any, TypeVar

import attrs

T = TypeVar("T")

_NAMES: dict[type, tuple[str, ...]] = {}
_COPIERS: dict[type, Callable[..., Any]] = {}
_BUILDERS: dict[type, type | None] = {}
_SETTER = re.compile(r"^(\s*)_set(\d+)\(new, (.+)\)$")


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

    def copy(record: Any, changes: dict[str, Any]) -> Any:
        merged = {name: getattr(record, name) for name in names if name not in changes}
        return cls(**merged, **changes)

    return copy


def builder(cls: type) -> type | None:
    """A subclass of ``cls`` that adds nothing to its layout and whose fields can be stored by plain
    attribute assignment (rule 7), or None when ``cls`` does not allow it; a record is filled in
    as a builder and then made a ``cls`` by assigning ``__class__``."""
    if cls in _BUILDERS:
        return _BUILDERS[cls]
    made: type | None
    try:  # CPython allows the __class__ assignment only between layout-compatible classes
        made = type(
            f"_{cls.__name__}Builder",
            (cls,),
            {"__slots__": (), "__setattr__": object.__setattr__, "__delattr__": object.__delattr__},
        )
        probe: Any = object.__new__(made)
        probe.__class__ = cls
    except TypeError:
        made = None
    _BUILDERS[cls] = made
    return made


def _compiled(
    cls: type, leading: str, parameters: list[str], body: list[str], checks: list[str], extra: dict[str, Any]
) -> Any:
    """Compile ``def build(<leading>*, <parameters>)`` for ``cls``: make an instance without ``__init__``, run
    ``body`` (which sets field i through ``_set<i>(new, value)``), then, unless validators are disabled,
    ``checks`` (which call field i's validator as ``_check<i>(new, _field<i>, value)``).

    With a builder class (rule 7) ``_set<i>(new, value)`` is compiled as ``new.<name> = value``
    and the instance becomes a ``cls`` before the checks run; otherwise each slot is set through
    its descriptor."""
    made = builder(cls)
    scope: dict[str, Any] = {"_new": object.__new__, "_cls": cls, "_off": attrs.validators.get_disabled, **extra}
    scope["_made"] = cls if made is None else made
    for index, field in enumerate(attrs.fields(cls)):
        scope[f"_set{index}"] = getattr(cls, field.name).__set__
        scope[f"_check{index}"], scope[f"_field{index}"] = field.validator, field
    signature = f"{leading}*, {', '.join(parameters)}" if parameters else leading
    if made is not None:  # ``_set<i>(new, value)`` becomes ``new.<name> = value``
        names = [field.name for field in attrs.fields(cls)]
        body = [_SETTER.sub(lambda m: f"{m[1]}new.{names[int(m[2])]} = {m[3]}", line) for line in body]
    source = [f"def build({signature}):", "    new = _new(_made)", *body]
    if made is not None:
        source.append("    new.__class__ = _cls")
    if checks:
        source += ["    if not _off():", *checks]
    source.append("    return new")
    exec("\n".join(source), scope)  # the source is built from the class's own field names
    return scope["build"]


def _generated(cls: type) -> Callable[..., Any]:
    """The copier ``copy(record, changes)`` of a plain record class (rule 2): every field copied
    from ``record``, then the changed ones set (an unknown name is a ``TypeError``, as from
    ``__init__``), then the validators of the changed fields run (rule 2)."""
    fields = attrs.fields(cls)
    plain_setattr = builder(cls) is not None
    body = [f"    _set{index}(new, record.{field.name})" for index, field in enumerate(fields)]
    body += [
        "    for name, value in changes.items():",
        "        if name not in _fields:",
        "            raise TypeError(f'{_cls.__name__}.__init__() got an unexpected keyword argument {name!r}')",
        "        _put(new, name, value)" if plain_setattr else "        _fields[name](new, value)",
    ]
    checks = {f.name: (f.validator, f) for f in fields if f.validator is not None}
    tail = [  # validators are pure shape checks: on a failure, run them again in field order
        "        for name, value in changes.items():",
        "            found = _checks.get(name)",
        "            if found is not None:",
        "                try:",
        "                    found[0](new, found[1], value)",
        "                except Exception:",
        "                    for name, (check, field) in _checks.items():",
        "                        if name in changes:",
        "                            check(new, field, changes[name])",
        "                    raise",
    ]
    setters = {f.name: getattr(cls, f.name).__set__ for f in fields}  # a slot's own setter
    extra = {"_fields": setters, "_checks": checks, "_put": setattr}
    copier: Callable[..., Any] = _compiled(cls, "record, changes", [], body, tail if checks else [], extra)
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
    result: T = copier(record, changes)
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
