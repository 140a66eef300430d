"""``model.records.evolve`` gives what ``attrs.evolve`` gives, on every record class of the model.

Mirrors: model/records.py rules 1-3.
"""

from __future__ import annotations

import random
from typing import Any

import attrs
import pytest

from model import records
from model.entities import AvailabilityHead, AvailabilityLedger, ReservationHead, ReservationLedger
from model.market_state import MarketState
from model.quota import RepoQuota
from model.state import Profile, initial_state


def _every_record_class() -> list[type]:
    """Every attrs class defined in the model's modules."""
    import importlib
    import pkgutil

    import model

    found: dict[str, type] = {}
    for info in pkgutil.iter_modules(model.__path__):
        module = importlib.import_module(f"model.{info.name}")
        for value in vars(module).values():
            if isinstance(value, type) and attrs.has(value) and value.__module__ == module.__name__:
                found[f"{value.__module__}.{value.__qualname__}"] = value
    return [found[name] for name in sorted(found)]


def _availability() -> AvailabilityHead:
    return AvailabilityHead(
        id="a",
        total_size=100,
        free_size=60,
        duration=10,
        min_price_per_byte_per_second=2,
        total_collateral=500,
        total_remaining_collateral=400,
        enabled=True,
        until=7,
    )


def test_the_hot_records_take_the_generated_path() -> None:
    """Rule 2: the records trace checking copies most are plain; a cached hash is not."""
    for cls in (AvailabilityHead, ReservationHead, AvailabilityLedger, ReservationLedger, RepoQuota):
        assert records.is_plain(cls), cls
    assert records.is_plain(type(initial_state(Profile.CODEX_HEAD)))
    assert not records.is_plain(MarketState)


@pytest.mark.parametrize("cls", _every_record_class(), ids=lambda c: c.__qualname__)
def test_every_model_record_class_gets_a_copier(cls: type) -> None:
    """Rules 2-3: each class of the model gets a copier (generated, or through ``__init__``)."""
    assert callable(records._COPIERS.get(cls) or records._copier(cls))


SAMPLES: list[Any] = [
    _availability(),
    ReservationHead(id="r", availability_id="a", size=5, request_id="q", slot_index=1, valid_until=3),
    AvailabilityLedger(created_size=100),
    ReservationLedger(slot_size=5, collateral=3),
    RepoQuota(max_bytes=1000, used=10, reserved=20),
    initial_state(Profile.CODEX_HEAD),
]


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: type(s).__name__)
def test_changing_any_subset_of_fields_gives_attrs_evolve(sample: Any) -> None:
    rng = random.Random(3)
    names = [f.name for f in attrs.fields(type(sample))]
    for _ in range(50):
        chosen = rng.sample(names, rng.randint(0, len(names)))
        changes = {}
        for name in chosen:
            value = getattr(sample, name)
            changes[name] = value + rng.randint(0, 9) if type(value) is int else value
        copy = records.evolve(sample, **changes)
        assert copy == attrs.evolve(sample, **changes)
        assert type(copy) is type(sample)
        assert copy is not sample
        assert hash(copy) == hash(attrs.evolve(sample, **changes))


def test_a_changed_field_is_validated_and_an_unchanged_one_kept() -> None:
    """Rule 1: a bad new value raises as ``attrs.evolve`` does; validators off lets it through."""
    sample = _availability()
    with pytest.raises(ValueError, match="free_size"):
        records.evolve(sample, free_size=-1)
    with pytest.raises(ValueError, match="until"):
        records.evolve(sample, until=2**63)
    with pytest.raises(TypeError):
        records.evolve(sample, nonsense=1)
    for changes in ({"until": 2**63, "free_size": -1}, {"free_size": -1, "until": 2**63}):
        with pytest.raises(ValueError, match="free_size"):  # the first failing field in field order
            attrs.evolve(sample, **changes)
        with pytest.raises(ValueError, match="free_size"):
            records.evolve(sample, **changes)
    before = attrs.validators.get_disabled()
    attrs.validators.set_disabled(True)
    try:
        assert records.evolve(sample, free_size=-1).free_size == -1
    finally:
        attrs.validators.set_disabled(before)


def test_a_cached_hash_record_goes_through_init() -> None:
    """Rule 3: a record with a cached hash is rebuilt through ``__init__``, so its hash is fresh."""
    from model.market_state import initial_market

    market = initial_market(Profile.CODEX_HEAD)
    lost = market.known_lost.set("a", 3)
    changed = records.evolve(market, known_lost=lost)
    assert changed == attrs.evolve(market, known_lost=lost)
    assert hash(changed) == hash(attrs.evolve(market, known_lost=lost)) != hash(market)


def test_arguments_are_asdict_without_recursion() -> None:
    """Rule 5, on records and on an action of every kind."""
    from model.actions import OPERATIONS, ReleaseBytes, StoreBlock

    samples = [*SAMPLES, ReleaseBytes(reservation_id="r", availability_id="a", bytes=1), StoreBlock(bytes=2)]
    for sample in samples:
        assert records.arguments(sample) == attrs.asdict(sample, recurse=False)
        assert list(records.arguments(sample)) == [f.name for f in attrs.fields(type(sample))]
    for table in OPERATIONS.values():
        for cls in table:
            assert callable(records._READERS.get(cls) or records._reader(cls))


def test_a_constructor_builds_what_init_builds() -> None:
    """Rule 6: same value as ``cls(**fields)``, defaults included; validators run on every field;
    a class that is not plain (a cached hash) gets ``cls`` itself."""
    from model.actions import Accepted
    from model.market_state import MarketState

    state = initial_state(Profile.CODEX_HEAD)
    make = records.constructor(Accepted)
    assert make is not Accepted
    assert make(state=state) == Accepted(state=state)
    assert make(state=state, found="a") == Accepted(state=state, found="a")
    assert type(make(state=state)) is Accepted
    build = records.constructor(RepoQuota)
    assert build(max_bytes=10) == RepoQuota(max_bytes=10)
    assert build(max_bytes=10, used=3, reserved=2) == RepoQuota(max_bytes=10, used=3, reserved=2)
    with pytest.raises(ValueError, match="used"):
        build(max_bytes=10, used=-1)
    with pytest.raises(TypeError):
        build(used=1)  # max_bytes is required
    assert records.constructor(MarketState) is MarketState
    ledger = records.constructor(AvailabilityLedger)
    assert ledger(created_size=5) == AvailabilityLedger(created_size=5)


def test_records_are_made_through_a_builder_and_are_of_their_own_class() -> None:
    """Rule 7: every hot record class has a builder; a record made through it is an instance of
    the class itself (not of the builder), frozen, and pickles and compares as one made by ``__init__``."""
    import pickle

    for sample in SAMPLES:
        cls = type(sample)
        made = records.builder(cls)
        assert made is not None, cls
        assert issubclass(made, cls)
        assert made.__basicsize__ == cls.__basicsize__
        copy = records.evolve(sample)
        assert type(copy) is cls
        assert pickle.loads(pickle.dumps(copy)) == sample
        name = attrs.fields(cls)[0].name
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            setattr(copy, name, getattr(copy, name))


@attrs.frozen(kw_only=True)
class _NoSubclasses:
    """A plain record whose class refuses subclasses, so it can have no builder."""

    size: int = attrs.field(validator=attrs.validators.ge(0))
    name: str = "x"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        raise TypeError("no subclasses")


def test_a_class_without_a_builder_keeps_the_descriptor_path() -> None:
    """Rule 7: when no builder can be made, the copier and the constructor set the slots through
    their descriptors, with the same results and the same validation."""
    assert records.is_plain(_NoSubclasses)
    assert records.builder(_NoSubclasses) is None
    sample = _NoSubclasses(size=3)
    assert records.evolve(sample, size=4) == _NoSubclasses(size=4, name="x")
    assert type(records.evolve(sample, name="y")) is _NoSubclasses
    with pytest.raises(ValueError, match="size"):
        records.evolve(sample, size=-1)
    with pytest.raises(TypeError):
        records.evolve(sample, nonsense=1)
    make = records.constructor(_NoSubclasses)
    assert make(size=2) == _NoSubclasses(size=2)
    with pytest.raises(ValueError, match="size"):
        make(size=-2)
