"""The one table of value domains: which range (and width) each quantity of the model has.

Rules:
1. A validated entity field says its domain through its validator (``model.numbers``:
   ``size_field`` is SIZE, ``money_field`` MONEY, ``time_field`` TIME, ``natural_field`` NATURAL).
2. Every other quantity (ledger fields, repo counters, action arguments) is named in ``NAMED``.
3. ``duration`` is a UInt256 at 570a1f7b and a uint64 at bd360322, whatever record carries it.
4. ``CONCRETE`` quantities have no domain: ``slot_index`` is part of a slot's identity and
   ``returns`` counts returns; neither is ever a symbolic number.
5. Both the symbolic pre-states and shapes (``states.py``) and the lifting of concrete values
   (``replay.py``) read domains here, so they cannot disagree.

Mirrors: codex-sales-spec §0 "Number semantics" (the nim types of each field).
"""

from __future__ import annotations

from typing import Any

import attrs

from invariants.symbolic.values import MONEY, NATURAL, SIZE, TIME, Domain
from model.numbers import money_field, natural_field, size_field, time_field
from model.state import Profile

#: Domains of the quantities that are not validated entity fields (rule 2).
NAMED: dict[str, Domain] = {
    "max_bytes": NATURAL,
    "used": NATURAL,
    "reserved": NATURAL,
    "slot_size": SIZE,
    "collateral": MONEY,
    "returned": SIZE,
    "created_size": SIZE,
    "lost": SIZE,
    "latest_valid_until": TIME,
    "collateral_leaked": MONEY,
    "total_size": SIZE,
    "free_size": SIZE,
    "size": SIZE,
    "bytes": SIZE,
    "min_price_per_byte_per_second": MONEY,
    "price_per_byte_per_second": MONEY,
    "total_collateral": MONEY,
    "collateral_per_byte": MONEY,
    "returned_collateral": MONEY,
    "min_price": MONEY,
    "max_collateral": MONEY,
    "until": TIME,
    "valid_until": TIME,
}
#: Integers that are never symbolic (rule 4).
CONCRETE = frozenset({"slot_index", "returns"})
_BY_VALIDATOR: dict[Any, Domain] = {size_field: SIZE, money_field: MONEY, time_field: TIME, natural_field: NATURAL}


def field_domain(name: str, profile: Profile, validator: Any = None) -> Domain | None:
    """The domain of a quantity called ``name`` (rules 1-4), or None when it has none."""
    if name in CONCRETE:
        return None
    if validator is not None:
        return _BY_VALIDATOR.get(validator)
    if name == "duration":
        return MONEY if profile is Profile.CODEX_535 else SIZE
    return NAMED.get(name)


def domain_of(cls: type, name: str, profile: Profile) -> Domain:
    """The domain of field ``name`` of record or action class ``cls`` (rules 1-4); KeyError if none."""
    field = attrs.fields_dict(cls)[name]
    found = field_domain(name, profile, field.validator)
    if found is None:
        raise KeyError(f"{cls.__name__}.{name} has no domain")
    return found
