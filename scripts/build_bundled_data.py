"""Build the data files ShopVeil ships and the small test slice, from the shared Online Retail file.

Run from the repository root, with ``../shared/data`` present::

    .venv/bin/python scripts/build_bundled_data.py

It writes

- ``src/shopveil/data/bundled/online_retail_2010-12-01_2010-12-12.csv.gz``: every row
  dated 2010-12-01 … 2010-12-12, values unchanged;
- ``src/shopveil/data/bundled/product_catalogue.csv.gz``: one row per StockCode of the
  WHOLE file with its most frequent description, the median of its positive unit prices
  and its purchase count (sale lines: not cancelled, quantity and price above zero);
- ``tests/data/online_retail_sample.csv``: 300 rows (three runs of the file, see the README).

Gzip output has no file name and mtime 0, so a rebuild gives identical bytes. This script is
not part of the package and is not run by the tests.
"""

from __future__ import annotations

import csv
import gzip
import io
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "online_retail" / "online_retail_2010-12_2011-09.csv.gz"
BUNDLED = ROOT / "src" / "shopveil" / "data" / "bundled"
SLICE_NAME = "online_retail_2010-12-01_2010-12-12.csv.gz"
SLICE_END = "2010-12-13"  # exclusive: ISO dates compare as strings
# 1-based data-row ranges (header excluded) copied into the test sample: the first rows,
# a run with an empty Description and zero price, and a run with empty CustomerIDs.
SAMPLE_RANGES = ((1, 250), (619, 628), (1439, 1478))


def main() -> int:
    if not SHARED.is_file():
        print(
            f"missing {SHARED}: this script needs ../shared/data (see DESIGN.md)", file=sys.stderr
        )
        return 1
    with gzip.open(SHARED, "rt", encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    header, data = rows[0], rows[1:]
    when = header.index("InvoiceDate")

    head = [row for row in data if row[when] < SLICE_END]
    _write_gzip_csv(BUNDLED / SLICE_NAME, header, head)
    sample = [row for lo, hi in SAMPLE_RANGES for row in data[lo - 1 : hi]]
    _write_csv(ROOT / "tests" / "data" / "online_retail_sample.csv", header, sample)

    catalogue = _catalogue(pd.DataFrame(data, columns=header))
    _write_gzip_csv(
        BUNDLED / "product_catalogue.csv.gz",
        list(catalogue.columns),
        catalogue.astype(str).values.tolist(),
    )
    print(f"slice: {len(head)} rows; sample: {len(sample)} rows; catalogue: {len(catalogue)} rows")
    return 0


def _catalogue(frame: pd.DataFrame) -> pd.DataFrame:
    quantity = pd.to_numeric(frame["Quantity"])
    price = pd.to_numeric(frame["UnitPrice"])
    sales = frame[(quantity > 0) & (price > 0) & ~frame["InvoiceNo"].str.startswith("C")].copy()
    sales["price"] = price[sales.index]
    sales["Description"] = sales["Description"].replace("", pd.NA)
    grouped = sales.groupby("StockCode", sort=True)
    # Most frequent description; ties go to the alphabetically first for a stable build.
    description = (
        sales.dropna(subset=["Description"])
        .groupby(["StockCode", "Description"])
        .size()
        .reset_index(name="n")
        .sort_values(["StockCode", "n", "Description"], ascending=[True, False, True])
        .drop_duplicates("StockCode")
        .set_index("StockCode")["Description"]
    )
    out = pd.DataFrame(
        {
            "stock_code": grouped.size().index,
            "unit_price": grouped["price"].median().round(3).to_numpy(),
            "purchase_count": grouped.size().to_numpy(),
        }
    )
    out.insert(1, "description", out["stock_code"].map(description).fillna(""))
    return out.sort_values(["purchase_count", "stock_code"], ascending=[False, True])


def _csv_bytes(header: list[str], rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def _write_gzip_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
        gz.write(_csv_bytes(header, rows))


def _write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    path.write_bytes(_csv_bytes(header, rows))


if __name__ == "__main__":
    raise SystemExit(main())
