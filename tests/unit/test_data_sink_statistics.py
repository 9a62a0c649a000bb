"""Parquet outputs keep min/max statistics for range columns and read back unchanged."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from shopveil.data import write_table


def _table() -> pa.Table:
    return pa.table(
        {
            "token": pa.array(["k3b", "a9f", None]),
            "quantity": pa.array([3, -1, 7]),
            "price": pa.array([2.5, None, 0.1]),
            "day": pa.array([dt.date(2011, 1, 4), dt.date(2010, 12, 1), None]),
            "at": pa.array([dt.datetime(2011, 1, 4, 9, 30)] * 3, pa.timestamp("us")),
            "country": pa.array(["UK", "FR", "UK"]).dictionary_encode(),
            "basket": pa.array([{"items": 2}, {"items": 1}, None]),
        }
    )


def test_a_parquet_output_reads_back_with_its_types_and_values(tmp_path: Path) -> None:
    table = _table()
    write_table(table, tmp_path / "out.parquet")
    assert pq.read_table(tmp_path / "out.parquet").equals(table)


def test_numbers_and_dates_keep_their_ranges_and_text_has_none(tmp_path: Path) -> None:
    write_table(_table(), tmp_path / "out.parquet")
    group = pq.ParquetFile(tmp_path / "out.parquet").metadata.row_group(0)
    stats = {group.column(i).path_in_schema: group.column(i) for i in range(group.num_columns)}
    assert stats["quantity"].statistics.min == -1 and stats["quantity"].statistics.max == 7
    assert stats["day"].statistics.min == dt.date(2010, 12, 1)
    assert stats["price"].statistics.null_count == 1
    assert stats["at"].is_stats_set
    assert not stats["token"].is_stats_set
    assert not stats["country"].is_stats_set
    assert not stats["basket.items"].is_stats_set
