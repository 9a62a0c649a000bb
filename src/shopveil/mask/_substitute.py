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
from faker import Faker

from shopveil._core.operators import OperatorContext
from shopveil.errors import ParameterError
from shopveil.pseudo._tokens import hmac_sha256_batch

__all__ = ["FakeKind", "FakeSubstitute"]

_POOL_SEED = 20101201
_POOL_SIZE = 1000


class FakeKind(StrEnum):
    PERSON_NAME = "person_name"
    FIRST_NAME = "first_name"
    LAST_NAME = "last_name"
    EMAIL = "email"
    PHONE = "phone"
    STREET_ADDRESS = "street_address"
    CITY = "city"


@dataclass(frozen=True)
class _Pools:
    first: np.ndarray
    last: np.ndarray
    street: np.ndarray
    city: np.ndarray


@functools.lru_cache(maxsize=8)
def _pools(locale: str) -> _Pools:
    try:
        fake = Faker(locale)
    except AttributeError:
        raise ParameterError(f"locale {locale!r} is not known to Faker; use e.g. en_GB") from None
    fake.seed_instance(_POOL_SEED)

    def pool(make: object) -> np.ndarray:
        values = sorted({make() for _ in range(_POOL_SIZE * 2)})  # type: ignore[operator]
        return np.array(values[:_POOL_SIZE], dtype=object)

    return _Pools(
        first=pool(fake.first_name),
        last=pool(fake.last_name),
        street=pool(fake.street_name),
        city=pool(fake.city),
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
        pools = _pools(self.locale)
        key = context.require_keys().derive(
            context.purpose, f"fake:{self.domain or context.column}"
        )
        encoded = pc.dictionary_encode(values.cast(pa.string()))
        distinct = encoded.dictionary.to_pylist()
        digests = hmac_sha256_batch(key, (value.encode("utf-8") for value in distinct))
        # Eight independent 32-bit draws per value from its MAC.
        draws = np.frombuffer(b"".join(digests), dtype="<u4").reshape(-1, 8).astype(np.int64)
        fakes = pa.array(_compose(self.kind, pools, draws), type=pa.string())
        return pc.take(fakes, encoded.indices)


def _compose(kind: FakeKind, pools: _Pools, draws: np.ndarray) -> list[str]:
    def pick(pool: np.ndarray, column: int) -> np.ndarray:
        return pool[draws[:, column] % len(pool)]

    first, last = pick(pools.first, 0), pick(pools.last, 1)
    number = draws[:, 2] % 1000
    if kind is FakeKind.FIRST_NAME:
        return list(first)
    if kind is FakeKind.LAST_NAME:
        return list(last)
    if kind is FakeKind.PERSON_NAME:
        return [f"{f} {surname}" for f, surname in zip(first, last, strict=True)]
    if kind is FakeKind.EMAIL:
        tlds = np.array(["com", "org", "net"], dtype=object)[draws[:, 3] % 3]
        return [
            f"{f.lower()}.{surname.lower().replace(' ', '')}{n}@example.{tld}"
            for f, surname, n, tld in zip(first, last, number, tlds, strict=True)
        ]
    if kind is FakeKind.PHONE:
        # 07700 900000–900999 is reserved by Ofcom for drama: never a real subscriber.
        return [f"+44 7700 900{n:03d}" for n in number]
    if kind is FakeKind.STREET_ADDRESS:
        streets = pick(pools.street, 4)
        return [f"{n % 200 + 1} {street}" for n, street in zip(number, streets, strict=True)]
    return list(pick(pools.city, 5))
