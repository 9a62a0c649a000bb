"""A synthetic churn task in the layout of :class:`shopveil.federated.ChurnData`.

Raw RFM-like features per customer, a churn label drawn from a logistic model of them
(so a model can learn it), and a skewed country mix like Online Retail's (one big
country, many small ones).
"""

from __future__ import annotations

import numpy as np

from shopveil.federated._data import ChurnData, scale_declared

COUNTRIES = ("United Kingdom", "Germany", "France", "EIRE", "Spain", "Belgium")


def synthetic(n: int = 600, seed: int = 3) -> ChurnData:
    rng = np.random.default_rng(seed)
    recency = rng.uniform(0, 200, n)
    frequency = rng.poisson(4, n) + 1.0
    monetary = frequency * rng.lognormal(5, 0.6, n)
    tenure = recency + rng.uniform(0, 150, n)
    raw = np.column_stack([
        recency, frequency, monetary, tenure, monetary / frequency,
        rng.poisson(20, n) + 1.0, rng.poisson(1, n) * 1.0, rng.poisson(2, n) * 1.0,
        rng.uniform(0, 0.2, n),
    ])  # fmt: skip
    logit = 0.02 * (recency - 100) - 0.4 * (frequency - 4)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.float32)
    country = tuple(rng.choice(COUNTRIES, n, p=[0.8, 0.06, 0.05, 0.04, 0.03, 0.02]).tolist())
    train = np.ones(n, dtype=bool)
    train[rng.permutation(n)[: n * 3 // 10]] = False
    customers = tuple(f"{10000 + i}" for i in range(n))
    return ChurnData(customers, scale_declared(raw), y, country, train, raw)
