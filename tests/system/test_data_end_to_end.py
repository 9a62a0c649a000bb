"""End to end: a generated shop goes to disk and back, and the loaders meet the I/O layer."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from shopveil.data import (
    bundled_online_retail,
    generate_retail,
    load_online_retail,
    open_source,
    read_table,
    write_table,
)
from shopveil.data._io import _dictionary_text_columns


def test_generated_tables_round_trip_through_parquet_and_csv(tmp_path: Path) -> None:
    data = generate_retail(1_500, seed=42)
    for name, table in data.tables.items():
        parquet = tmp_path / f"{name}.parquet"
        write_table(table, parquet)
        assert read_table(parquet).equals(table), name
        csv = tmp_path / f"{name}.csv"
        write_table(table, csv)
        source = open_source(csv)
        assert source.schema.names == table.column_names
        back = read_table(csv)
        assert back.num_rows == table.num_rows
        # CSV reads every column as text; free text with newlines and commas survives.
        if "text" in table.column_names:
            assert back.column("text").to_pylist() == table.column("text").to_pylist()


def test_span_truth_survives_the_round_trip(tmp_path: Path) -> None:
    data = generate_retail(800, seed=3)
    path = tmp_path / "chats.csv"
    write_table(data.tables["chats"], path)
    texts = read_table(path).column("text").to_pylist()
    original = data.tables["chats"].column("text").to_pylist()
    for span in data.spans_for("chats"):
        assert texts[span.row][span.start : span.end] == original[span.row][span.start : span.end]


def test_bundled_slice_written_as_online_retail_csv_loads_back(tmp_path: Path) -> None:
    typed = bundled_online_retail().slice(0, 2_000)
    as_text = pa.table(
        {
            name: pc.cast(typed.column(name), pa.string())
            for name in typed.column_names
            if name != "InvoiceDate"
        }
        | {
            "InvoiceDate": pc.strftime(
                typed.column("InvoiceDate").cast(pa.timestamp("s")), "%Y-%m-%d %H:%M:%S"
            )
        }
    )
    path = tmp_path / "retail.csv"
    write_table(as_text, path)
    loaded = load_online_retail(path)
    assert loaded.num_rows == typed.num_rows
    for name in ("InvoiceNo", "Quantity", "UnitPrice", "CustomerID", "InvoiceDate"):
        assert loaded.column(name).equals(typed.column(name)), name


def test_parquet_text_reads_back_the_same_whichever_way_it_was_stored(tmp_path: Path) -> None:
    # Repeated text is stored as a dictionary and read as one; unique text outgrows the
    # dictionary page and is read value by value; both come back as the file's types.
    rows = 150_000
    repeated = pa.array([None if i % 7 == 0 else f"customer {i % 300}" for i in range(rows)])
    unique = pa.array([f"order-{i:09d}" for i in range(rows)])
    table = pa.table(
        {
            "repeated": repeated,
            "wide": repeated.cast(pa.large_string()),
            "unique": unique,
            "typed": pc.dictionary_encode(repeated),
            "number": pa.array(range(rows), pa.int64()),
        }
    )
    path = tmp_path / "mixed.parquet"
    pq.write_table(table, path, row_group_size=75_000)
    meta = pq.ParquetFile(path)
    assert _dictionary_text_columns(meta.metadata, meta.schema_arrow) == ["repeated", "wide"]
    source = open_source(path)
    batches = list(source.batches(batch_size=25_000))
    assert [batch.schema for batch in batches] == [source.schema] * len(batches)
    assert pa.Table.from_batches(batches).equals(pq.read_table(path))
    assert read_table(path).equals(table)
