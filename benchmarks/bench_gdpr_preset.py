"""Rows per second of the GDPR preset end to end, next to pandas hashing each distinct id once.

Data: the shared UCI Online Retail file (``../shared/data/online_retail``, 370,931 rows)
repeated to ``--rows`` rows (8M by default) and written to Parquet; ``--source
generated`` uses generated order lines instead (no shared data needed). Everything runs in
this one process on the same file:

- ``shopveil``: ``anonymize_file`` end to end (read Parquet, scan, compile the GDPR preset,
  tokenize ids, generalize dates, write Parquet atomically, audit), and the keyed-token
  operator alone on the customer id column;
- ``pandas`` (the peers): what a pandas user writes for the same release by hand (read
  Parquet, tokenize the ids, months for the dates, write Parquet), and for the id column
  alone; both hash each distinct id once with Python's ``hmac`` and map the tokens back
  (``pd.factorize``), and make the same tokens as ShopVeil, which the run checks. The
  row-by-row ``.apply`` version is timed on a slice as a labelled extra row.

Peak memory of the full preset is measured in a fresh process for each of
``--memory-rows`` (is it flat in the input size?). Each output is checked in the run: the
peers' tokens and files equal ours row for row, the file the preset wrote holds every
row, our tokens, the month of each date, no original id, and nulls where ids were null.

Prints one JSON object (and writes it to ``--out`` when given). Usage::

    python benchmarks/bench_gdpr_preset.py [--rows 8000000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import base64
import hmac
import json
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from _harness import load_average, machine, run_in_child, shared_data, timed
from shopveil._core.operators import OperatorContext
from shopveil.data import generate_retail
from shopveil.keys import Keyring
from shopveil.pipeline import anonymize_file
from shopveil.store import Store

RETAIL = shared_data() / "online_retail" / "online_retail_2010-12_2011-09.csv.gz"
RETAIL_COLUMNS = [
    "InvoiceNo",
    "StockCode",
    "Description",
    "Quantity",
    "InvoiceDate",
    "UnitPrice",
    "CustomerID",
    "Country",
]


def online_retail(rows: int) -> tuple[pa.Table, str, str]:
    """The shared Online Retail file, every column as text (as the CLI reads it), repeated."""
    types = {name: pa.string() for name in RETAIL_COLUMNS}
    table = pacsv.read_csv(
        RETAIL,
        convert_options=pacsv.ConvertOptions(column_types=types, strings_can_be_null=True),
    )
    copies = -(-rows // table.num_rows)
    return pa.concat_tables([table] * copies).slice(0, rows), "CustomerID", "InvoiceDate"


def order_lines(rows: int, seed: int) -> tuple[pa.Table, str, str]:
    """Generated order lines joined with their orders, denormalized like Online Retail."""
    customers = max(rows // 20, 1_000)
    data = generate_retail(customers, seed=seed)
    lines = pl.from_arrow(data.tables["order_lines"])
    orders = pl.from_arrow(data.tables["orders"])
    assert isinstance(lines, pl.DataFrame) and isinstance(orders, pl.DataFrame)
    table = lines.join(orders, on="order_id", how="inner")
    while table.height < rows:
        table = pl.concat([table, table])
    return table.head(rows).to_arrow(), "customer_id", "order_time"


def token_of(key: bytes) -> object:
    """ShopVeil's token format in plain Python: ``tk1_`` and 22 base64url characters."""

    def token(value: str) -> str:
        mac = hmac.digest(key, value.encode(), "sha256")
        return "tk1_" + base64.urlsafe_b64encode(mac[:17]).decode()[:22]

    return token


def pandas_distinct(ids: pd.Series, key: bytes) -> np.ndarray:
    """The pandas way: each distinct id hashed once, the tokens mapped back to the rows."""
    token = token_of(key)
    codes, uniques = pd.factorize(ids)  # a missing id gets code -1
    tokens = np.array([token(u) for u in uniques] + [None], dtype=object)  # type: ignore[operator]
    return tokens[codes]


def pandas_apply(ids: pd.Series, key: bytes) -> pd.Series:
    """The row-by-row way: ``.apply`` of ``hmac`` on every row."""
    token = token_of(key)
    return ids.apply(lambda v: None if pd.isna(v) else token(v))  # type: ignore[operator]


def pandas_end_to_end(
    source: Path, output: Path, id_column: str, date_column: str, key: bytes
) -> None:
    """The same release by hand in pandas: read, tokenize ids, months for dates, write.

    It does less than the preset (no scan, no policy, no atomic write, no audit), and like
    the token column it works on each distinct value once.
    """
    frame = pd.read_parquet(source)
    frame[id_column] = pandas_distinct(frame[id_column], key)
    codes, uniques = pd.factorize(frame[date_column])
    parsed = pd.to_datetime(pd.Series(uniques).astype(str).str.strip(), format="ISO8601")
    months = np.append(parsed.dt.strftime("%Y-%m").to_numpy(dtype=object), None)
    frame[date_column] = months[codes]
    frame.to_parquet(output, index=False)


def preset_once(source: str, output: str, master_hex: str) -> float:
    """One ``anonymize_file`` run (in a child process, for its peak memory)."""
    os.environ["SHOPVEIL_MASTER_KEY"] = master_hex
    folder = Path(output).parent
    store = Store.open(f"sqlite:///{folder / 'child.db'}")
    try:
        started = time.perf_counter()
        anonymize_file(source, output, policy="gdpr", store=store)
        return time.perf_counter() - started
    finally:
        store.close()


def check_output(
    output: Path, source: pa.Table, id_column: str, date_column: str, ours: pa.Array
) -> dict[str, bool]:
    """What the preset wrote, checked against the source and our token column."""
    written = pq.read_table(output, columns=[id_column, date_column])
    ids = source.column(id_column).combine_chunks()
    tokens = written.column(id_column).combine_chunks()
    months = written.column(date_column).combine_chunks()
    dates = source.column(date_column).combine_chunks()
    if not pa.types.is_string(dates.type):
        dates = pc.strftime(dates, format="%Y-%m-%d %H:%M:%S")
    return {
        "rows_kept": written.num_rows == source.num_rows,
        "tokens_equal_the_token_operator": tokens.equals(ours),
        "nulls_where_ids_were_null": pc.is_null(tokens).equals(pc.is_null(ids)),
        "no_original_id_in_output": not pc.any(
            pc.is_in(tokens, value_set=pc.drop_null(pc.unique(ids.cast(pa.string()))))
        ).as_py(),
        "dates_are_their_month": months.equals(pc.utf8_slice_codeunits(dates, 0, 7)),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=8_000_000)
    parser.add_argument("--source", choices=["online-retail", "generated"], default="online-retail")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--apply-rows", type=int, default=500_000, help="slice for .apply")
    parser.add_argument(
        "--memory-rows", default="1000000,8000000", help="sizes whose peak memory is measured"
    )
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    args = parser.parse_args()
    load_before = load_average()

    if args.source == "online-retail":
        if not RETAIL.is_file():
            print(json.dumps({"error": f"{RETAIL} not found: this benchmark needs ../shared/data"}))
            return 2
        table, id_column, date_column = online_retail(args.rows)
    else:
        table, id_column, date_column = order_lines(args.rows, seed=7)

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        source = folder / "source.parquet"
        pq.write_table(table, source)
        store = Store.open(f"sqlite:///{folder / 'bench.db'}")
        master = secrets.token_bytes(32)
        keyring = Keyring.open(store, master_key=master)
        os.environ["SHOPVEIL_MASTER_KEY"] = master.hex()
        output = folder / "out.parquet"

        cpu = time.process_time()
        result, full_s = timed(
            lambda: anonymize_file(source, output, policy="gdpr", store=store), args.repeats
        )
        full_cpu = (time.process_time() - cpu) / args.repeats
        (step,) = [s for s in result.plan.steps if s.column == id_column]
        ids = table.column(id_column).combine_chunks()
        context = OperatorContext(purpose="analytics", column=id_column, keys=keyring)
        ours, tokens_s = timed(lambda: step.operator.apply(ids, context), args.repeats)
        checks = check_output(output, table, id_column, date_column, ours)

        frame = pd.Series(ids.to_pandas(), name=id_column)
        key = keyring.derive("analytics", f"token:{step.operator.domain or id_column}")
        peer, pandas_s = timed(lambda: pandas_distinct(frame, key), args.repeats)
        checks["pandas_tokens_equal_ours"] = pa.array(peer, pa.string()).equals(ours)
        head = frame.iloc[: args.apply_rows]
        by_hand = folder / "pandas.parquet"
        _, pandas_full_s = timed(
            lambda: pandas_end_to_end(source, by_hand, id_column, date_column, key), args.repeats
        )
        theirs = pq.read_table(by_hand, columns=[id_column, date_column])
        mine = pq.read_table(output, columns=[id_column, date_column])
        # pandas 3 writes its text columns as large_string: the values are compared.
        checks["pandas_end_to_end_equals_ours"] = all(
            theirs.column(c)
            .combine_chunks()
            .cast(pa.string())
            .equals(mine.column(c).combine_chunks().cast(pa.string()))
            for c in (id_column, date_column)
        )
        slow, apply_s = timed(lambda: pandas_apply(head, key), 1)
        checks["pandas_apply_tokens_equal_ours"] = pa.array(slow, pa.string()).equals(
            ours.slice(0, len(head))
        )
        store.close()

        memory: dict[str, dict[str, float]] = {}
        for rows in [int(r) for r in args.memory_rows.split(",") if r]:
            part = folder / f"source_{rows}.parquet"
            pq.write_table(table.slice(0, rows), part)
            seconds, peak = run_in_child(
                preset_once, str(part), str(folder / f"child_{rows}.parquet"), master.hex()
            )
            memory[str(min(rows, table.num_rows))] = {"peak_rss_mb": peak, "seconds": seconds}

    n = table.num_rows
    distinct = len(pc.unique(ids)) - (1 if ids.null_count else 0)
    report = {
        "benchmark": "gdpr_preset",
        "source": "online_retail_repeated" if args.source == "online-retail" else "generated",
        "rows": n,
        "distinct_ids": distinct,
        "null_ids": ids.null_count,
        "machine": machine(load_before),
        "shopveil_full_gdpr_rows_per_s": round(n / full_s),
        "shopveil_full_gdpr_cpu_s": round(full_cpu, 2),
        "shopveil_token_column_rows_per_s": round(n / tokens_s),
        "pandas_end_to_end_rows_per_s": round(n / pandas_full_s),
        "pandas_distinct_hmac_rows_per_s": round(n / pandas_s),
        "pandas_apply_hmac_rows_per_s": round(len(head) / apply_s),
        "pandas_apply_rows_timed": len(head),
        "ratio_token_column_vs_pandas_distinct": round(pandas_s / tokens_s, 2),
        "ratio_full_gdpr_vs_pandas_end_to_end": round(pandas_full_s / full_s, 2),
        "peak_memory_by_rows": memory,
        "seconds": {
            "full_gdpr": full_s,
            "pandas_end_to_end": pandas_full_s,
            "token_column": tokens_s,
            "pandas_distinct": pandas_s,
        },
        "checks": checks,
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.out is not None:
        args.out.write_text(text + "\n")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
