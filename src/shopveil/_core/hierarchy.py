"""Generalization hierarchies in ARX's CSV format: the value masking and k-anonymity share.

A hierarchy file has one row per original value and no header: column 0 holds the value,
each further column the value one level more general, the last usually ``*``. Masking
replaces values by an ancestor (``mask.GeneralizeHierarchy``); k-anonymity searches the
levels (``anonymity.anonymize_lattice``), encoding the hierarchy onto a column's codes.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from shopveil.errors import ParameterError, SourceError

__all__ = ["Hierarchy"]


@dataclass(frozen=True)
class Hierarchy:
    """A value generalization hierarchy.

    Attributes
    ----------
    rows
        One tuple per original value: the value, then its generalization at each level.
    name
        Where it came from (a file name), for messages.
    """

    rows: tuple[tuple[str, ...], ...]
    name: str = "hierarchy"

    def __post_init__(self) -> None:
        rows = tuple(tuple(str(cell) for cell in row) for row in self.rows)
        object.__setattr__(self, "rows", rows)
        if not rows:
            raise ParameterError(f"{self.name}: the hierarchy has no rows; give one per value")
        width = len(rows[0])
        for number, row in enumerate(rows, start=1):
            if len(row) != width:
                raise ParameterError(
                    f"{self.name} row {number}: has {len(row)} levels, row 1 has {width}; "
                    "every row needs the same number of columns"
                )
        originals = [row[0] for row in rows]
        if len(set(originals)) != len(originals):
            raise ParameterError(f"{self.name}: an original value appears on two rows; keep one")
        for level in range(1, width - 1):
            parent: dict[str, str] = {}
            for number, row in enumerate(rows, start=1):
                if parent.setdefault(row[level], row[level + 1]) != row[level + 1]:
                    raise ParameterError(
                        f"{self.name} row {number}: a level-{level} group generalizes to two "
                        f"different level-{level + 1} groups; groups must nest"
                    )

    @property
    def height(self) -> int:
        """The number of levels, the original values included."""
        return len(self.rows[0])

    @classmethod
    def from_csv(cls, path: str | os.PathLike[str], *, delimiter: str | None = None) -> Hierarchy:
        """Read an ARX hierarchy CSV (no header; ``;`` or ``,`` separated, detected)."""
        path = Path(path)
        if not path.is_file():
            raise SourceError(f"{path}: no such hierarchy file")
        try:
            text = path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError as exc:
            raise SourceError(
                f"{path}: byte {exc.start} is not UTF-8 text; save the hierarchy as UTF-8"
            ) from None
        if delimiter is None:
            head = text.splitlines()[0] if text else ""
            delimiter = max((";", ",", "\t", "|"), key=head.count)
        try:
            rows = [tuple(row) for row in csv.reader(text.splitlines(), delimiter=delimiter) if row]
        except csv.Error as exc:
            raise SourceError(f"{path}: not a hierarchy CSV ({exc}); fix the file") from None
        return cls(tuple(rows), name=path.name)

    @classmethod
    def from_rows(cls, rows: Iterable[Sequence[str]], *, name: str = "hierarchy") -> Hierarchy:
        """Build a hierarchy from rows of ``(value, level 1, level 2, ...)``."""
        return cls(tuple(tuple(row) for row in rows), name=name)
