"""Generalization by value hierarchies (ARX's CSV format) and UK postcodes by level."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import ClassVar

import pyarrow as pa
import pyarrow.compute as pc

from shopveil._core.hierarchy import Hierarchy
from shopveil._core.operators import OperatorContext
from shopveil.errors import ParameterError, SchemaError, SourceError
from shopveil.mask._text import as_text

__all__ = ["GeneralizeHierarchy", "GeneralizePostcode", "PostcodeLevel", "read_hierarchy"]


@functools.lru_cache(maxsize=32)
def _load(path: str, mtime: float) -> Hierarchy:
    return Hierarchy.from_csv(path)


def read_hierarchy(path: str | Path) -> Hierarchy:
    """An ARX hierarchy CSV, read once per file version (cached on path and mtime)."""
    path = Path(path)
    if not path.is_file():
        raise SourceError(f"{path}: no such hierarchy file")
    return _load(str(path.resolve()), path.stat().st_mtime)


@dataclass(frozen=True)
class GeneralizeHierarchy:
    """Replace each value by its ancestor ``level`` steps up a hierarchy read from CSV.

    Parameters
    ----------
    path
        An ARX hierarchy file: one row per value, ``;``- or ``,``-separated, no header.
    level
        0 keeps the value; the file's last column (usually ``*``) suppresses it.
    unknown
        ``error`` (default): a value missing from the hierarchy is an error. ``suppress``:
        it becomes ``*``, the most general value.
    """

    name: ClassVar[str] = "generalize_hierarchy"

    path: str = ""
    level: int = 1
    unknown: str = "error"

    def __post_init__(self) -> None:
        if not self.path:
            raise ParameterError("path must name an ARX hierarchy CSV file")
        if isinstance(self.level, bool) or not isinstance(self.level, int) or self.level < 0:
            raise ParameterError(f"level must be an integer >= 0, got {self.level!r}")
        if self.unknown not in ("error", "suppress"):
            raise ParameterError(f"unknown must be error or suppress, got {self.unknown!r}")
        height = read_hierarchy(self.path).height
        if self.level >= height:
            raise ParameterError(
                f"level {self.level} is beyond {Path(self.path).name}, whose levels are 0 to "
                f"{height - 1}"
            )

    def apply(self, values: pa.Array, context: OperatorContext) -> pa.Array:
        """Protect ``values`` row for row (the record-operator contract)."""
        rows = read_hierarchy(self.path).rows
        text = pc.utf8_trim_whitespace(as_text(values, context.column))
        known = pa.array([row[0] for row in rows], pa.string())
        targets = pa.array([row[self.level] for row in rows], pa.string())
        index = pc.index_in(text, value_set=known)
        missing = pc.and_(pc.is_valid(text), pc.is_null(index))
        count = pc.sum(pc.cast(missing, pa.int64())).as_py() or 0
        if count and self.unknown == "error":
            raise SchemaError(
                f"column {context.column!r}: {count} values are not in hierarchy "
                f"{Path(self.path).name}; add rows for them or pass unknown='suppress'"
            )
        out = pc.take(targets, index)
        return pc.if_else(missing, pa.scalar("*", pa.string()), out)


class PostcodeLevel(StrEnum):
    """How much of a postcode is kept."""

    AREA = "area"  # SW
    DISTRICT = "district"  # SW1A
    SECTOR = "sector"  # SW1A 1


_UK = re.compile(r"^([A-Z]{1,2})([0-9][A-Z0-9]?) ?([0-9])([A-Z]{2})$")


@dataclass(frozen=True)
class GeneralizePostcode:
    """A UK postcode cut to its area, district or sector; other codes keep ``fallback_keep``
    leading characters (a US ZIP ``94103`` → ``941``).
    """

    name: ClassVar[str] = "generalize_postcode"

    level: PostcodeLevel = PostcodeLevel.DISTRICT
    fallback_keep: int = 3

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "level", PostcodeLevel(self.level))
        except ValueError:
            raise ParameterError(
                f"level must be area, district or sector, got {self.level!r}"
            ) from None
        keep = self.fallback_keep
        if isinstance(keep, bool) or not isinstance(keep, int) or keep < 0:
            raise ParameterError(f"fallback_keep must be an integer >= 0, got {keep!r}")

    def apply(self, values: pa.Array, context: OperatorContext) -> pa.Array:
        """Protect ``values`` row for row (the record-operator contract)."""
        text = pc.utf8_upper(pc.utf8_trim_whitespace(as_text(values, context.column)))
        replacement = {
            PostcodeLevel.AREA: r"\1",
            PostcodeLevel.DISTRICT: r"\1\2",
            PostcodeLevel.SECTOR: r"\1\2 \3",
        }[self.level]
        is_uk = pc.match_substring_regex(text, _UK.pattern)
        uk = pc.replace_substring_regex(text, _UK.pattern, replacement)
        other = pc.utf8_slice_codeunits(text, 0, self.fallback_keep)
        return pc.if_else(is_uk, uk, other)
