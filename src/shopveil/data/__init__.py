"""Data in and out: table I/O, loaders for public datasets, bundled data, a synthetic shop.

- :func:`load_online_retail`, :func:`load_movielens`: typed Arrow tables from the public
  files (MovieLens is never shipped; point at your own copy).
- :func:`bundled_online_retail`, :func:`product_catalogue`: small Online Retail data that
  ships inside the package.
- :func:`generate_retail`: a linked synthetic retail dataset with ground truth for every
  column (:class:`ColumnTruth`) and every personal-data span in its text (:class:`SpanTruth`).
- :func:`open_source`, :func:`read_table`, :func:`write_table`, :func:`writing_batches`:
  streaming CSV / Parquet I/O with atomic writes; :func:`write_text` writes a report the
  same way; :func:`check_column_names` refuses blank or repeated column names;
  :class:`TextTypes` finds the numbers, dates and booleans a CSV's text columns hold, so
  outputs keep them.
"""

from typing import TYPE_CHECKING

from shopveil._core.lazy import lazy_exports

if TYPE_CHECKING:
    from shopveil.data._bundled import bundled_online_retail, product_catalogue
    from shopveil.data._formats import check_column_names
    from shopveil.data._generator import COLUMN_TRUTH, RetailOptions, generate_retail
    from shopveil.data._io import (
        TableSource,
        escape_formulas,
        open_source,
        read_table,
        table_format,
        write_table,
        write_text,
        writing_batches,
    )
    from shopveil.data._movielens import MovieLens, load_movielens
    from shopveil.data._retail import ONLINE_RETAIL_SCHEMA, load_online_retail
    from shopveil.data._truth import ColumnTruth, RetailDataset, SpanTruth
    from shopveil.data._types import TextTypes, apply_types

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "shopveil.data._bundled": ("bundled_online_retail", "product_catalogue"),
        "shopveil.data._formats": ("check_column_names",),
        "shopveil.data._generator": ("COLUMN_TRUTH", "RetailOptions", "generate_retail"),
        "shopveil.data._io": (
            "TableSource",
            "escape_formulas",
            "open_source",
            "read_table",
            "table_format",
            "write_table",
            "write_text",
            "writing_batches",
        ),
        "shopveil.data._movielens": ("MovieLens", "load_movielens"),
        "shopveil.data._retail": ("ONLINE_RETAIL_SCHEMA", "load_online_retail"),
        "shopveil.data._truth": ("ColumnTruth", "RetailDataset", "SpanTruth"),
        "shopveil.data._types": ("TextTypes", "apply_types"),
    },
)

__all__ = [
    "COLUMN_TRUTH",
    "ONLINE_RETAIL_SCHEMA",
    "ColumnTruth",
    "MovieLens",
    "RetailDataset",
    "RetailOptions",
    "SpanTruth",
    "TableSource",
    "TextTypes",
    "apply_types",
    "bundled_online_retail",
    "check_column_names",
    "escape_formulas",
    "generate_retail",
    "load_movielens",
    "load_online_retail",
    "open_source",
    "product_catalogue",
    "read_table",
    "table_format",
    "write_table",
    "write_text",
    "writing_batches",
]
