"""``shopveil query --engine spark``: a DP query over a file as Spark jobs."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from shopveil.dp import Answer, Catalog, run_query, table_name
from shopveil.errors import SourceError
from shopveil.pipeline._spark import no_pandas_warning, read_frame, spark_session

__all__ = ["query_file_on_spark"]


def query_file_on_spark(
    sql: str,
    data: str | os.PathLike[str],
    *,
    master: str = "local[*]",
    table: str | None = None,
    catalog: Catalog | None = None,
    **options: Any,
) -> Answer:
    """Answer ``sql`` over ``data`` (a CSV or Parquet file, or a dataset registered in
    ``catalog``) with :func:`shopveil.dp.run_query` on the Spark ``master``.

    The rows are filtered, bounded per person and aggregated by Spark; the groups are
    chosen and the noise added here, and the people are charged to the ledger as the
    local engine charges them. CSV is read with Spark's type inference (Parquet keeps
    its types, as DuckDB reads them). ``options`` go to :func:`run_query`.
    """
    path = Path(data)
    if not path.exists() and catalog is not None:
        entry = catalog.find(str(data))
        if entry is None:
            raise SourceError(
                f"{data}: no such file, nor a registered dataset (`shopveil data list` shows them)"
            )
        path, table = Path(entry.path), table or entry.name
    with no_pandas_warning():
        frame = read_frame(spark_session(master), path, typed=True)
        return run_query(
            sql, frame, table=table or table_name(path), path=str(path), catalog=catalog,
            **options,
        )  # fmt: skip
