"""Consistent fake substitution: a realistic stand-in chosen by a keyed index into pools.

The same input gets the same fake under one key (joins across tables and runs survive);
without the key the choice reveals nothing about the input. Pools come from Faker's
locale data, generated once with a fixed seed and cached. Fake emails use the reserved
``example.*`` domains and fake phones use Ofcom's drama ranges, so a fake can never reach
a real person.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shopveil._core.operators import OperatorContext
from shopveil._core.prf import hmac_sha256_array
from shopveil.errors import ParameterError
from shopveil.mask._text import as_text

__all__ = ["FakeKind", "FakeSubstitute"]

_POOL_SEED = 20101201
_POOL_SIZE = 1000


class FakeKind(StrEnum):
    """The kind of value a fake substitute imitates."""

    PERSON_NAME = "person_name"
    FIRST_NAME = "first_name"
    LAST_NAME = "last_name"
    EMAIL = "email"
    PHONE = "phone"
    STREET_ADDRESS = "street_address"
    CITY = "city"


@dataclass(frozen=True)
class _Pools:
    first: pa.Array
    last: pa.Array
    street: pa.Array
    city: pa.Array
    first_lower: pa.Array  # as emails spell them, made once with Python's own lower()
    last_lower: pa.Array


@functools.lru_cache(maxsize=8)
def _pools(locale: str) -> _Pools:
    from faker import Faker  # on use: every policy load names this operator, few run it

    try:
        fake = Faker(locale)
    except AttributeError:
        raise ParameterError(f"locale {locale!r} is not known to Faker; use e.g. en_GB") from None
    fake.seed_instance(_POOL_SEED)

    def pool(make: object) -> list[str]:
        values = sorted({make() for _ in range(_POOL_SIZE * 2)})  # type: ignore[operator]
        return values[:_POOL_SIZE]

    first, last = pool(fake.first_name), pool(fake.last_name)
    street, city = pool(fake.street_name), pool(fake.city)
    return _Pools(
        first=pa.array(first, pa.string()),
        last=pa.array(last, pa.string()),
        street=pa.array(street, pa.string()),
        city=pa.array(city, pa.string()),
        first_lower=pa.array([f.lower() for f in first], pa.string()),
        last_lower=pa.array([surname.lower().replace(" ", "") for surname in last], pa.string()),
    )


@dataclass(frozen=True)
class FakeSubstitute:
    """Replace each value by a consistent, realistic fake of the given kind."""

    name: ClassVar[str] = "fake"

    kind: FakeKind = FakeKind.PERSON_NAME
    locale: str = "en_GB"
    domain: str | None = None

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "kind", FakeKind(self.kind))
        except ValueError:
            choices = ", ".join(kind.value for kind in FakeKind)
            raise ParameterError(f"kind must be one of {choices}, got {self.kind!r}") from None

    def apply(self, values: pa.Array, context: OperatorContext) -> pa.Array:
        """Protect ``values`` row for row (the record-operator contract)."""
        pools = _pools(self.locale)
        key = context.require_keys().derive(
            context.purpose, f"fake:{self.domain or context.column}"
        )
        raw = pa.types.is_binary(values.type) or pa.types.is_large_binary(values.type)
        text = values if raw else as_text(values, context.column)  # bytes are MACed as they are
        # Eight independent 32-bit draws per value from its MAC.
        draws = hmac_sha256_array(key, text).view("<u4").astype(np.int64)
        fakes = _compose(self.kind, pools, draws)
        if values.null_count:
            fakes = pc.if_else(pc.is_valid(values), fakes, pa.scalar(None, pa.string()))
        return fakes


def _compose(kind: FakeKind, pools: _Pools, draws: np.ndarray) -> pa.Array:
    def pick(pool: pa.Array, column: int) -> pa.Array:
        return pool.take(pa.array(draws[:, column] % len(pool)))

    def join(*parts: pa.Array | str) -> pa.Array:
        return pc.binary_join_element_wise(*parts, "")

    number = pa.array(draws[:, 2] % 1000).cast(pa.string())
    if kind is FakeKind.FIRST_NAME:
        return pick(pools.first, 0)
    if kind is FakeKind.LAST_NAME:
        return pick(pools.last, 1)
    if kind is FakeKind.PERSON_NAME:
        return pc.binary_join_element_wise(pick(pools.first, 0), pick(pools.last, 1), " ")
    if kind is FakeKind.EMAIL:
        tlds = pa.array(["com", "org", "net"]).take(pa.array(draws[:, 3] % 3))
        first, last = pick(pools.first_lower, 0), pick(pools.last_lower, 1)
        return join(first, ".", last, number, "@example.", tlds)
    if kind is FakeKind.PHONE:
        # 07700 900000–900999 is reserved by Ofcom for drama: never a real subscriber.
        return join("+44 7700 900", pc.utf8_lpad(number, 3, "0"))
    if kind is FakeKind.STREET_ADDRESS:
        house = pa.array(draws[:, 2] % 1000 % 200 + 1).cast(pa.string())
        return join(house, " ", pick(pools.street, 4))
    return pick(pools.city, 5)
