"""Rows per second of the GDPR preset over generated order lines, next to pandas + hmac.

Both sides run in this one process on the same data:

- ``shopveil``: ``anonymize_file`` end to end (read Parquet, scan, compile the GDPR preset,
  tokenize ids, generalize dates, write Parquet atomically, audit), and the keyed-token
  operator alone on the customer id column;
- ``pandas``: the usual hand-written baseline, ``df[col].apply`` of Python's ``hmac`` on the
  same column (tokenization only: it does strictly less work than the full preset).

Prints one JSON object. Usage: ``python benchmarks/bench_gdpr_preset.py [--rows 1000000]``.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import secrets
import tempfile
from pathlib import Path

import pandas as pd
import polars as pl
import pyarrow.parquet as pq

from _harness import machine, timed
from shopveil._core.operators import OperatorContext
from shopveil.data import generate_retail
from shopveil.keys import Keyring
from shopveil.pipeline import anonymize_file
from shopveil.pseudo import KeyedToken
from shopveil.store import Store


def order_lines(rows: int, seed: int) -> pl.DataFrame:
    """Generated order lines joined with their orders, denormalized like Online Retail."""
    customers = max(rows // 20, 1_000)
    data = generate_retail(customers, seed=seed)
    lines = pl.from_arrow(data.tables["order_lines"])
    orders = pl.from_arrow(data.tables["orders"])
    assert isinstance(lines, pl.DataFrame) and isinstance(orders, pl.DataFrame)
    table = lines.join(orders, on="order_id", how="inner")
    while table.height < rows:
        table = pl.concat([table, table])
    return table.head(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    table = order_lines(args.rows, seed=7)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        source = folder / "order_lines.parquet"
        table.write_parquet(source)
        store = Store.open(f"sqlite:///{folder / 'bench.db'}")
        master = secrets.token_bytes(32)
        keyring = Keyring.open(store, master_key=master)
        os.environ["SHOPVEIL_MASTER_KEY"] = master.hex()

        def full_preset() -> None:
            anonymize_file(source, folder / "out.parquet", policy="gdpr", store=store)

        ids = pq.read_table(source, columns=["customer_id"]).column("customer_id").combine_chunks()
        context = OperatorContext(purpose="analytics", column="customer_id", keys=keyring)
        token_op = KeyedToken(domain="customer_id")

        def shopveil_tokens() -> None:
            token_op.apply(ids, context)

        frame = pd.read_parquet(source, columns=["customer_id"])
        key = keyring.derive("analytics", "token:customer_id")

        def pandas_hmac() -> None:
            frame["customer_id"].apply(
                lambda v: hmac.new(key, str(v).encode(), hashlib.sha256).hexdigest()
            )

        _, full_s = timed(full_preset, args.repeats)
        _, tokens_s = timed(shopveil_tokens, args.repeats)
        _, pandas_s = timed(pandas_hmac, args.repeats)
        distinct = len(set(ids.to_pylist()))
        store.close()

    result = {
        "benchmark": "gdpr_preset_order_lines",
        "rows": args.rows,
        "distinct_customer_ids": distinct,
        "machine": machine(),
        "shopveil_full_gdpr_rows_per_s": round(args.rows / full_s),
        "shopveil_token_column_rows_per_s": round(args.rows / tokens_s),
        "pandas_apply_hmac_rows_per_s": round(args.rows / pandas_s),
        "ratio_full_gdpr_vs_pandas_hmac": round(pandas_s / full_s, 2),
        "ratio_token_column_vs_pandas_hmac": round(pandas_s / tokens_s, 2),
        "seconds": {"full_gdpr": full_s, "token_column": tokens_s, "pandas_hmac": pandas_s},
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
