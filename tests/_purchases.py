"""Small purchase data with taste groups, for the attack tests."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from shopveil.learn import Catalogue, Interactions, from_table

__all__ = ["purchases"]


def purchases(customers: int = 240, items: int = 80, seed: int = 0) -> Interactions:
    """Customers in four taste groups, each buying 8 to 20 items mostly from their group's."""
    rng = np.random.default_rng(seed)
    ids = [f"i{k:03d}" for k in range(items)]
    users, bought = [], []
    for c in range(customers):
        group = c % 4
        liked = np.arange(group * items // 4, (group + 1) * items // 4)
        n = int(rng.integers(8, 21))
        picks = np.where(rng.random(n) < 0.7, rng.choice(liked, n), rng.integers(0, items, n))
        for item in np.unique(picks):
            users.append(f"c{c:04d}")
            bought.append(ids[item])
    table = pa.table(
        {"user": users, "item": bought, "time": pa.array([0] * len(users), pa.timestamp("us"))}
    )
    catalogue = Catalogue.from_table(pa.table({"item": ids}))
    return from_table(table, user="user", item="item", time="time", catalogue=catalogue)
