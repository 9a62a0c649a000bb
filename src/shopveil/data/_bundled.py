"""Data shipped inside the package: a slice of Online Retail and its product catalogue.

Both come from UCI Online Retail (see ``bundled/README.md`` for provenance and attribution);
``scripts/build_bundled_data.py`` rebuilds them from the shared copy.
"""

from __future__ import annotations

from functools import lru_cache
from importlib.resources import as_file, files

import pyarrow as pa

from shopveil.data._io import read_table
from shopveil.data._retail import type_online_retail

__all__ = ["CATALOGUE_SCHEMA", "bundled_online_retail", "product_catalogue"]

_ONLINE_RETAIL = "online_retail_2010-12-01_2010-12-12.csv.gz"
_CATALOGUE = "product_catalogue.csv.gz"

CATALOGUE_SCHEMA = pa.schema(
    [
        ("stock_code", pa.string()),
        ("description", pa.string()),
        ("unit_price", pa.float64()),
        ("purchase_count", pa.int64()),
    ]
)


def bundled_online_retail() -> pa.Table:
    """Online Retail rows dated 2010-12-01 … 2010-12-12 (26,732 rows), typed as
    :func:`~shopveil.data.load_online_retail` types them."""
    return _bundled_online_retail()


def product_catalogue() -> pa.Table:
    """One row per StockCode of Online Retail (2010-12 … 2011-09), most popular first.

    Columns: ``stock_code``, ``description`` (its most frequent description),
    ``unit_price`` (median of its positive prices), ``purchase_count`` (sale lines).
    Non-merchandise codes such as ``POST`` or gift vouchers are kept, as in the source.
    """
    return _product_catalogue()


# Arrow tables are immutable, so handing out one cached instance is safe.
@lru_cache(maxsize=1)
def _bundled_online_retail() -> pa.Table:
    return type_online_retail(_read(_ONLINE_RETAIL), name=_ONLINE_RETAIL)


@lru_cache(maxsize=1)
def _product_catalogue() -> pa.Table:
    raw = _read(_CATALOGUE)
    description = raw.column("description").fill_null("")
    return pa.Table.from_arrays(
        [
            raw.column("stock_code"),
            description,
            raw.column("unit_price").cast(pa.float64()),
            raw.column("purchase_count").cast(pa.int64()),
        ],
        schema=CATALOGUE_SCHEMA,
    )


def _read(name: str) -> pa.Table:
    with as_file(files("shopveil.data") / "bundled" / name) as path:
        return read_table(path)
