"""The Online Retail loader, the bundled slice and the product catalogue."""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from shopveil.data import (
    ONLINE_RETAIL_SCHEMA,
    bundled_online_retail,
    load_online_retail,
    product_catalogue,
)
from shopveil.errors import SourceError

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "online_retail_sample.csv"


def _raw_rows() -> list[dict[str, str]]:
    with SAMPLE.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_sample_is_typed_and_values_kept() -> None:
    table = load_online_retail(SAMPLE)
    raw = _raw_rows()
    assert table.schema == ONLINE_RETAIL_SCHEMA
    assert table.num_rows == len(raw) == 300
    for row, typed in zip(raw, table.to_pylist(), strict=True):
        assert typed["InvoiceNo"] == row["InvoiceNo"]
        assert typed["StockCode"] == row["StockCode"]
        assert typed["Quantity"] == int(row["Quantity"])
        assert typed["UnitPrice"] == float(row["UnitPrice"])
        assert typed["InvoiceDate"].strftime("%Y-%m-%d %H:%M:%S") == row["InvoiceDate"]
        assert typed["Country"] == row["Country"]
        # CSV reading turns empty descriptions into null; everything else is unchanged.
        assert (typed["Description"] or "") == row["Description"]


def test_customer_id_loses_float_suffix_and_empty_is_null() -> None:
    table = load_online_retail(SAMPLE)
    raw = [r["CustomerID"] for r in _raw_rows()]
    got = table.column("CustomerID").to_pylist()
    assert "" in raw and any(r.endswith(".0") for r in raw)
    for before, after in zip(raw, got, strict=True):
        if before == "":
            assert after is None
        else:
            assert after == str(int(float(before)))
            assert "." not in after


def test_gzip_and_semicolon_layouts_load_the_same(tmp_path: Path) -> None:
    gz = tmp_path / "retail.csv.gz"
    gz.write_bytes(gzip.compress(SAMPLE.read_bytes()))
    semi = tmp_path / "retail_semicolon.csv"
    with semi.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter=";")
        with SAMPLE.open(encoding="utf-8", newline="") as src:
            writer.writerows(csv.reader(src))
    expected = load_online_retail(SAMPLE)
    assert load_online_retail(gz).equals(expected)
    assert load_online_retail(semi).equals(expected)


def test_missing_file_is_a_source_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no such file"):
        load_online_retail(tmp_path / "nope.csv")


def test_wrong_layout_names_the_missing_columns(tmp_path: Path) -> None:
    path = tmp_path / "other.csv"
    path.write_text("InvoiceNo,StockCode,Quantity\n1,A,2\n", encoding="utf-8")
    with pytest.raises(SourceError) as info:
        load_online_retail(path)
    message = str(info.value)
    for col in ("Description", "InvoiceDate", "UnitPrice", "CustomerID", "Country"):
        assert col in message
    assert "StockCode," not in message.split("missing")[1].split("(")[0]


@pytest.mark.parametrize(
    ("column", "bad"),
    [
        ("Quantity", "six"),  # not an integer
        ("UnitPrice", "2,55 GBP"),  # not a decimal
        ("InvoiceDate", "yesterday"),  # not a time
    ],
)
def test_bad_value_names_column_and_line_not_value(tmp_path: Path, column: str, bad: str) -> None:
    rows = _raw_rows()[:5]
    rows[3][column] = bad
    path = tmp_path / "bad.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    with pytest.raises(SourceError) as info:
        load_online_retail(path)
    message = str(info.value)
    assert column in message and "line 5" in message
    assert bad not in message


def test_bundled_slice_is_december_2010_and_typed() -> None:
    table = bundled_online_retail()
    assert table.schema == ONLINE_RETAIL_SCHEMA
    assert 20_000 <= table.num_rows <= 30_000
    low, high = pc.min_max(table.column("InvoiceDate")).values()
    assert low.as_py().date().isoformat() == "2010-12-01"
    assert high.as_py().date().isoformat() <= "2010-12-12"
    assert table.column("CustomerID").null_count > 0
    assert not pc.any(pc.match_substring(table.column("CustomerID"), ".")).as_py()


def test_catalogue_has_one_row_per_code_with_positive_prices() -> None:
    cat = product_catalogue()
    assert cat.column_names == ["stock_code", "description", "unit_price", "purchase_count"]
    assert cat.num_rows > 3_000
    assert pc.count_distinct(cat.column("stock_code")).as_py() == cat.num_rows
    assert pc.all(pc.greater(cat.column("unit_price"), 0)).as_py()
    assert pc.all(pc.greater(cat.column("purchase_count"), 0)).as_py()
    counts = cat.column("purchase_count").to_pylist()
    assert counts == sorted(counts, reverse=True)


def test_catalogue_agrees_with_the_bundled_slice() -> None:
    # Every product sold in the first days of December is in the whole-period catalogue.
    sold = bundled_online_retail().filter((pc.field("Quantity") > 0) & (pc.field("UnitPrice") > 0))
    codes = pc.unique(sold.column("StockCode"))
    known = pc.is_in(codes, product_catalogue().column("stock_code"))
    assert pc.all(known).as_py()


def test_bundled_tables_are_shared_but_immutable() -> None:
    assert isinstance(product_catalogue(), pa.Table)
    assert product_catalogue() is product_catalogue()
