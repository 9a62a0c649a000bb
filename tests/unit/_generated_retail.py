"""One generated retail dataset shared by the data tests (generated once per session)."""

from __future__ import annotations

from functools import lru_cache

from shopveil.data import RetailDataset, generate_retail

__all__ = ["dataset", "luhn_ok"]


@lru_cache(maxsize=2)
def dataset(seed: int = 7) -> RetailDataset:
    return generate_retail(3_000, seed=seed)


def luhn_ok(number: str) -> bool:
    """An independent Luhn check, written the textbook way."""
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d * 2 > 9 else d * 2
        total += d
    return total % 10 == 0
