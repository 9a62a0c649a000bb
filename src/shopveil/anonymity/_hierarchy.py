"""Generalization hierarchies encoded as lookup arrays, loaded by column, or made up as
intervals for a numeric column without one. The :class:`Hierarchy` value itself lives in
``_core``: masking reads the same files.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from shopveil._core.hierarchy import Hierarchy
from shopveil.anonymity._encode import EncodedColumn, format_number
from shopveil.errors import SchemaError, SourceError

__all__ = ["LevelMaps", "hierarchies_for", "interval_hierarchy", "load_hierarchies"]


@dataclass(frozen=True, eq=False)
class LevelMaps:
    """A hierarchy applied to one encoded column.

    ``maps[level][code]`` is the group of value ``code`` at ``level``; ``labels[level][g]``
    the group's text; ``leaves[level][g]`` how many of the column's values it covers.
    """

    column: EncodedColumn
    maps: tuple[np.ndarray, ...]
    labels: tuple[tuple[str | None, ...], ...]

    @classmethod
    def of(cls, hierarchy: Hierarchy, column: EncodedColumn) -> LevelMaps:
        """Lookup arrays from the column's codes to ``hierarchy``'s group codes at each level."""
        lookup: dict[object, int] = {}
        for index, row in enumerate(hierarchy.rows):
            lookup.setdefault(row[0], index)
            if column.is_numeric:
                with contextlib.suppress(ValueError):
                    lookup.setdefault(format_number(float(row[0])), index)
        positions = np.array([lookup.get(label, -1) for label in column.labels], dtype=np.int64)
        missing = int(np.count_nonzero(positions < 0))
        if missing:
            raise SchemaError(
                f"{hierarchy.name}: the hierarchy for {column.name!r} has no row for {missing} of "
                f"the column's {column.cardinality} distinct values; add a row for each "
                "(column 0 holds the original value)"
            )
        maps, labels = [], []
        for level in range(hierarchy.height):
            names = [hierarchy.rows[p][level] for p in positions.tolist()]
            unique = sorted(set(names))
            group_of = {name: i for i, name in enumerate(unique)}
            if level == 0:
                maps.append(np.arange(column.cardinality, dtype=np.int64))
                labels.append(tuple(column.labels))
            else:
                maps.append(np.array([group_of[name] for name in names], dtype=np.int64))
                labels.append(tuple(unique))
        return cls(column, tuple(maps), tuple(labels))

    @property
    def height(self) -> int:
        return len(self.maps)

    def cardinality(self, level: int) -> int:
        return len(self.labels[level])

    def leaves(self, level: int) -> np.ndarray:
        return np.bincount(self.maps[level], minlength=self.cardinality(level))

    def ncp(self, level: int) -> np.ndarray:
        """Normalized certainty penalty of each group: ``(leaves - 1) / (domain - 1)``."""
        domain = self.column.cardinality
        if domain < 2:
            return np.zeros(self.cardinality(level))
        return np.asarray((self.leaves(level) - 1) / (domain - 1))


def load_hierarchies(
    directory: str | os.PathLike[str], columns: Sequence[str]
) -> dict[str, Hierarchy]:
    """Load one hierarchy per column from ``directory``.

    A column ``age`` is read from ``age.csv``, ``hierarchy_age.csv`` or
    ``<anything>_hierarchy_age.csv`` (ARX's naming).
    """
    folder = Path(directory)
    if not folder.is_dir():
        raise SourceError(f"{folder}: no such hierarchy folder")
    found: dict[str, Hierarchy] = {}
    files = sorted(p for p in folder.iterdir() if p.is_file())
    for column in columns:
        names = (f"{column}.csv", f"hierarchy_{column}.csv")
        match = [p for p in files if p.name in names or p.name.endswith(f"_hierarchy_{column}.csv")]
        if not match:
            raise SourceError(
                f"{folder}: no hierarchy for column {column!r}; add {column}.csv or "
                f"<name>_hierarchy_{column}.csv (ARX format, no header)"
            )
        found[column] = Hierarchy.from_csv(match[0])
    return found


def interval_hierarchy(column: EncodedColumn, *, levels: int = 6) -> Hierarchy:
    """Intervals for a numeric column: widths double per level, then ``*``."""
    if column.numbers is None:
        return Hierarchy.from_rows(((str(label), "*") for label in column.labels), name="auto")
    values = column.numbers
    low, high = float(values.min()), float(values.max())
    span = high - low
    if span <= 0:
        return Hierarchy.from_rows(((str(label), "*") for label in column.labels), name="auto")
    width = _nice(span / 2 ** (levels - 1))
    rows = []
    for label, value in zip(column.labels, values.tolist(), strict=True):
        row = [str(label)]
        step = width
        while step < 2 * span:
            start = math.floor(value / step) * step
            row.append(f"[{format_number(start)}, {format_number(start + step)})")
            step *= 2
        row.append("*")
        rows.append(row)
    return Hierarchy.from_rows(rows, name=f"intervals for {column.name}")


def _nice(width: float) -> float:
    """Round a width up to 1, 2 or 5 times a power of ten."""
    power = 10.0 ** math.floor(math.log10(width))
    for factor in (1.0, 2.0, 5.0, 10.0):
        if factor * power >= width:
            return factor * power
    return 10 * power


def hierarchies_for(
    columns: Sequence[EncodedColumn], given: Mapping[str, Hierarchy] | None
) -> list[LevelMaps]:
    """Each column's level maps: its given hierarchy, or intervals / suppression."""
    given = dict(given or {})
    out = []
    for column in columns:
        hierarchy = given.get(column.name) or interval_hierarchy(column)
        out.append(LevelMaps.of(hierarchy, column))
    return out
