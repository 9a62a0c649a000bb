"""Benchmark linked DP synthesis on UCI Online Retail: customers → invoices → invoice lines.

The three tables are cut from the raw file (rows with a CustomerID): customers
(CustomerID, Country), invoices (InvoiceNo, CustomerID, month) and lines (InvoiceNo,
StockCode, Quantity, UnitPrice). :func:`shopveil.synth.synthesize_linked` releases them
at (ε, δ) with the customer as the privacy unit, at most ``--max-orders`` invoices per
customer and ``--max-lines`` lines per invoice, each table modelled with ``--method``.
Checked in the run: every synthetic foreign key resolves, the charge is made once, and
the total variation distance between the real (capped) and synthetic distributions of
invoices per customer is within the stated ``--max-tvd`` (0.05). Reported: that
distance, the same for lines per invoice, and the time. Prints one JSON object.

    python benchmarks/bench_synth_linked.py --epsilon 1
    python benchmarks/bench_synth_linked.py --epsilon 1 --method aim
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from _harness import load_average, machine, peak_rss_mb, shared_data
from shopveil._core.budgets import ApproxDP
from shopveil._core.units import PerCustomer
from shopveil.data import load_online_retail
from shopveil.dp import Ledger, PeopleKey
from shopveil.store import Store
from shopveil.synth import Child, SynthOptions, synthesize_linked

DATA = shared_data() / "online_retail" / "online_retail_2010-12_2011-09.csv.gz"


def tables() -> tuple[pa.Table, pa.Table, pa.Table]:
    raw = load_online_retail(DATA)
    raw = raw.filter(pc.is_valid(raw["CustomerID"]))
    raw = raw.set_column(
        raw.column_names.index("CustomerID"), "CustomerID", pc.cast(raw["CustomerID"], pa.string())
    )
    frame = raw.to_pandas()
    frame["month"] = frame["InvoiceDate"].dt.strftime("%Y-%m")
    customers = frame.drop_duplicates("CustomerID")[["CustomerID", "Country"]]
    invoices = frame.drop_duplicates("InvoiceNo")[["InvoiceNo", "CustomerID", "month"]]
    lines = frame[["InvoiceNo", "StockCode", "Quantity", "UnitPrice"]]
    return tuple(
        pa.Table.from_pandas(t, preserve_index=False) for t in (customers, invoices, lines)
    )  # type: ignore[return-value]


def per_parent(parents: pa.Table, key: str, children: pa.Table, cap: int) -> np.ndarray:
    index = pc.index_in(children[key], value_set=parents[key]).to_numpy(zero_copy_only=False)
    index = index[~np.isnan(index.astype(np.float64))].astype(np.int64)
    counts = np.bincount(index, minlength=parents.num_rows).clip(0, cap)
    return np.bincount(counts, minlength=cap + 1) / parents.num_rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epsilon", type=float, default=1.0)
    parser.add_argument("--delta", type=float, default=1e-6)
    parser.add_argument("--max-orders", type=int, default=10)
    parser.add_argument("--max-lines", type=int, default=20)
    parser.add_argument("--method", choices=["mst", "aim"], default="mst")
    parser.add_argument(
        "--max-tvd", type=float, default=0.05, help="stated distance for invoices per customer"
    )
    args = parser.parse_args()
    if not DATA.exists():
        print(json.dumps({"error": f"{DATA} is missing"}))
        return 2
    load_before = load_average()
    customers, invoices, lines = tables()
    options = SynthOptions(
        epsilon=args.epsilon,
        delta=args.delta,
        bounds={"Quantity": (1, 48), "UnitPrice": (0, 20)},
        method=args.method,
    )
    children = [
        Child(invoices, "CustomerID", "InvoiceNo", args.max_orders),
        Child(lines, "InvoiceNo", None, args.max_lines),
    ]
    with tempfile.TemporaryDirectory() as folder:
        store = Store.open(f"sqlite:///{Path(folder) / 'ledger.db'}")
        ledger = Ledger(
            store, people_key=PeopleKey(secrets.token_bytes(32)), default_total=ApproxDP(10, 1e-3)
        )
        start = time.perf_counter()
        result = synthesize_linked(
            customers, "CustomerID", children, options, ledger=ledger, dataset="retail", scan=False
        )
        seconds = time.perf_counter() - start
        charges = ledger.history("retail", PerCustomer("CustomerID"))
        store.close()
    assert len(charges) == 1, charges
    s_customers, s_invoices, s_lines = result.tables
    assert pc.all(pc.is_in(s_invoices["CustomerID"], value_set=s_customers["CustomerID"])).as_py()
    assert pc.all(pc.is_in(s_lines["InvoiceNo"], value_set=s_invoices["InvoiceNo"])).as_py()
    real_orders = per_parent(customers, "CustomerID", invoices, args.max_orders)
    synth_orders = per_parent(s_customers, "CustomerID", s_invoices, args.max_orders)
    orders_tvd = round(0.5 * float(np.abs(real_orders - synth_orders).sum()), 4)
    assert orders_tvd <= args.max_tvd, (orders_tvd, args.max_tvd)
    real_lines = per_parent(invoices, "InvoiceNo", lines, args.max_lines)
    synth_lines = per_parent(s_invoices, "InvoiceNo", s_lines, args.max_lines)
    print(
        json.dumps(
            {
                "benchmark": "synth_linked",
                "data": "UCI Online Retail (rows with a CustomerID)",
                "epsilon": args.epsilon,
                "delta": args.delta,
                "method": args.method,
                "rows_real": [customers.num_rows, invoices.num_rows, lines.num_rows],
                "rows_synthetic": [t.num_rows for t in result.tables],
                "foreign_keys_resolve": True,
                "tvd_invoices_per_customer": orders_tvd,
                "stated_max_tvd_invoices_per_customer": args.max_tvd,
                "tvd_lines_per_invoice": round(
                    0.5 * float(np.abs(real_lines - synth_lines).sum()), 4
                ),
                "seconds": round(seconds, 2),
                "peak_rss_mb": peak_rss_mb(),
                "machine": machine(load_before),
            },
            indent=1,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
