"""Generated purchase files in the Online Retail layout, with churn to learn."""

from __future__ import annotations

import csv
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

HEADER = ["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice",
          "CustomerID", "Country"]  # fmt: skip


def write_retail(path: Path, customers: int, *, seed: int, first_id: int = 13000) -> Path:
    """``customers`` customers in 3 countries buying from 2010-12 to 2011-09; about half
    stop buying in June 2011 (they churn), the others buy on, so churn is learnable."""
    rng = np.random.default_rng(seed)
    start = datetime(2010, 12, 1, 9)
    invoice = 540000 + 100000 * seed
    with path.open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(HEADER)
        for c in range(customers):
            country = ("United Kingdom", "Germany", "France")[c % 7 % 3]
            churns = rng.random() < 0.5
            last = 200 if churns else 300
            days = np.sort(rng.uniform(0 if churns else 60, last, rng.integers(2, 12)))
            for day in days:
                invoice += 1
                when = start + timedelta(days=float(day))
                for _ in range(rng.integers(1, 4)):
                    item, quantity = f"8{rng.integers(1000, 1100)}", int(rng.integers(1, 12))
                    price, stamp = f"{rng.uniform(0.5, 9):.2f}", f"{when:%Y-%m-%d %H:%M:%S}"
                    out.writerow([invoice, item, "ITEM", quantity, stamp, price,
                                  f"{first_id + c}.0", country])  # fmt: skip
    return path
