"""What a table file is, from its name, and which column names a table may have."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from shopveil.errors import ParameterError, SourceError

__all__ = ["check_column_names", "is_tsv", "table_format"]

_CSV_SUFFIXES = (".csv", ".tsv", ".txt", ".csv.gz", ".tsv.gz")
_PARQUET_SUFFIXES = (".parquet", ".pq")


def table_format(path: str | os.PathLike[str]) -> str:
    """``"csv"`` or ``"parquet"``, from the file name."""
    name = str(path).lower()
    if name.endswith(_PARQUET_SUFFIXES):
        return "parquet"
    if name.endswith(_CSV_SUFFIXES):
        return "csv"
    raise ParameterError(
        f"cannot tell the format of {Path(path).name!r}: use a .csv, .tsv, .csv.gz or .parquet name"
    )


def check_column_names(names: Sequence[str], where: str) -> None:
    """Refuse an empty or blank column name, or one that appears twice, naming ``where``.

    Two columns of one name cannot both be protected by a policy that names one column
    and would silently lose rows or values further on.
    """
    seen: dict[str, int] = {}
    for position, name in enumerate(names, start=1):
        if not name.strip():
            raise SourceError(
                f"{where}: column {position} has an empty name; give every column a name "
                "in the header row"
            )
        key = name.strip()
        if key in seen:
            raise SourceError(
                f"{where}: column name {name!r} appears twice (columns {seen[key]} and "
                f"{position}); rename one of them in the header row"
            )
        seen[key] = position


def is_tsv(path: Path) -> bool:
    return path.name.lower().endswith((".tsv", ".tsv.gz"))
