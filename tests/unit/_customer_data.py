"""Synthetic transactions where churn is real: customers buy at their own rate until they leave.

Each customer buys as a Poisson process (a gamma-distributed rate) from a random first
purchase until a random departure (a Pareto/NBD-like shop), so customers who left before
``AS_OF`` look stale (high recency) and buy nothing after it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import polars as pl

__all__ = ["AS_OF", "HORIZON", "START", "synthetic_transactions"]

START = datetime(2010, 12, 1)
AS_OF = datetime(2011, 7, 1)
HORIZON = timedelta(days=92)


def synthetic_transactions(customers: int, seed: int) -> pl.DataFrame:
    """Invoice lines in the Online Retail layout (test data, plain seeded generator)."""
    gen = np.random.default_rng(seed)
    days = (AS_OF + HORIZON - START).days
    rows: dict[str, list[object]] = {k: [] for k in ("InvoiceNo", "StockCode", "Quantity")}
    rows |= {"InvoiceDate": [], "UnitPrice": [], "CustomerID": []}
    invoice = 0
    for c in range(customers):
        rate = gen.gamma(2.0, 1 / 40)  # purchases per day
        first = gen.uniform(0, days * 0.6)
        leaves = first + gen.exponential(150)
        spend = gen.lognormal(3, 0.8)
        t = first
        while t < min(leaves, days):
            invoice += 1
            for _ in range(int(gen.integers(1, 4))):
                rows["InvoiceNo"].append(str(500000 + invoice))
                rows["StockCode"].append(f"P{int(gen.integers(0, 50))}")
                rows["Quantity"].append(int(gen.integers(1, 6)))
                rows["InvoiceDate"].append(START + timedelta(days=float(t)))
                rows["UnitPrice"].append(round(float(spend * gen.uniform(0.5, 1.5)) / 3, 2))
                rows["CustomerID"].append(str(10000 + c))
            t += gen.exponential(1 / rate)
    return pl.DataFrame(rows).with_columns(pl.col("InvoiceDate").cast(pl.Datetime("us")))
