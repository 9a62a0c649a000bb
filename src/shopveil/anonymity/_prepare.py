"""Checking and encoding the inputs of every anonymity function, and building outputs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic

import numpy as np
import polars as pl
import pyarrow as pa

from shopveil.anonymity._classes import Sensitive
from shopveil.anonymity._encode import (
    EncodedColumn,
    TableLike,
    encode_column,
    require_columns,
    to_arrow,
)
from shopveil.anonymity._requirements import (
    KAnonymity,
    LDiversity,
    LDiversityVariant,
    MaxRisk,
    Requirement,
    TCloseness,
)
from shopveil.anonymity._utility import UtilityReport
from shopveil.errors import ParameterError

__all__ = ["AnonymizationResult", "Prepared", "build_output", "prepare"]


@dataclass(frozen=True)
class AnonymizationResult(Generic[TableLike]):
    """An anonymized table and what it cost.

    Attributes
    ----------
    table
        The released rows, quasi-identifiers generalized, suppressed rows removed; the
        same kind of table (Arrow or polars) as the input.
    utility
        The :class:`UtilityReport`.
    method
        ``"lattice"`` or ``"mondrian"``.
    requirements
        The requirements every class of ``table`` meets.
    """

    table: TableLike
    utility: UtilityReport
    method: str
    requirements: tuple[Requirement, ...]


@dataclass(frozen=True, eq=False)
class Prepared:
    """Validated, encoded inputs."""

    source: pa.Table
    qi: tuple[EncodedColumn, ...]
    sensitives: tuple[Sensitive, ...]
    requirements: tuple[Requirement, ...]
    population_size: int

    @property
    def n(self) -> int:
        return self.source.num_rows

    @property
    def pi(self) -> float:
        return self.n / self.population_size

    @property
    def k(self) -> int | None:
        ks = [r.k for r in self.requirements if isinstance(r, KAnonymity)]
        return max(ks) if ks else None


def prepare(
    table: pa.Table | pl.DataFrame,
    qi: Sequence[str],
    sensitive: Sequence[str],
    requirements: Sequence[Requirement],
    *,
    population_size: int | None = None,
    need_requirements: bool = True,
) -> Prepared:
    """Validate names and parameters, then encode the columns in play."""
    source = to_arrow(table)
    qi, sensitive = _names(qi, "qi"), _names(sensitive, "sensitive")
    if not qi:
        raise ParameterError("qi: name at least one quasi-identifier column (--qi A,B,C)")
    overlap = sorted(set(qi) & set(sensitive))
    if overlap:
        raise ParameterError(
            f"{overlap[0]!r} is both a quasi-identifier and a sensitive attribute; pick one"
        )
    require_columns(source, qi, "quasi-identifier")
    require_columns(source, sensitive, "sensitive attribute")
    requirements = tuple(requirements)
    for req in requirements:
        if not isinstance(req, KAnonymity | LDiversity | TCloseness | MaxRisk):
            raise ParameterError(
                f"requirements: {req!r} is not a requirement; use KAnonymity, LDiversity, "
                "TCloseness or MaxRisk"
            )
    if need_requirements and not requirements:
        raise ParameterError("requirements: give at least one, e.g. [KAnonymity(5)]")
    n = source.num_rows
    if n == 0:
        raise ParameterError("the table is empty; there is nothing to assess or anonymize")
    for req in requirements:
        if isinstance(req, KAnonymity) and req.k > n:
            raise ParameterError(f"k={req.k} is larger than the table ({n} rows); choose k <= {n}")
        if isinstance(req, LDiversity | TCloseness) and not sensitive:
            raise ParameterError(
                f"{type(req).__name__} needs a sensitive attribute; pass sensitive=[...] "
                "(--sensitive)"
            )
    if population_size is None:
        population_size = n
    if isinstance(population_size, bool) or not isinstance(population_size, int):
        raise ParameterError(f"population_size: expected an integer, got {population_size!r}")
    if population_size < n:
        raise ParameterError(
            f"population_size={population_size} is smaller than the table ({n} rows); "
            "give the size of the population the table was drawn from"
        )
    encoded_qi = tuple(encode_column(source, name) for name in qi)
    sensitives = tuple(Sensitive(encode_column(source, name)) for name in sensitive)
    for req in requirements:
        if isinstance(req, LDiversity) and req.variant is not LDiversityVariant.ENTROPY:
            fewest = min(s.m for s in sensitives)
            if req.l > fewest:
                raise ParameterError(
                    f"l={req.l:g} cannot be met: a sensitive attribute has only {fewest} "
                    f"distinct values in the whole table; choose l <= {fewest}"
                )
    return Prepared(source, encoded_qi, sensitives, requirements, population_size)


def _names(names: Sequence[str] | str, what: str) -> list[str]:
    if isinstance(names, str):
        names = [names]
    out = list(names)
    if len(set(out)) != len(out):
        raise ParameterError(f"{what}: a column is named twice in {out}; name each once")
    return out


def build_output(
    prepared: Prepared,
    labels: Sequence[tuple[np.ndarray, Sequence[str | None]]],
    released: np.ndarray,
) -> pa.Table:
    """The source table with each QI replaced by ``labels[j][1][labels[j][0][row]]`` and only
    the released rows kept, in their original order."""
    table = prepared.source
    for column, (codes, names) in zip(prepared.qi, labels, strict=True):
        dictionary = pa.array(list(names), type=pa.string())
        values = pa.DictionaryArray.from_arrays(pa.array(codes, type=pa.int64()), dictionary)
        position = table.column_names.index(column.name)
        table = table.set_column(position, column.name, values.cast(pa.string()))
    if not bool(np.all(released)):
        table = table.filter(pa.array(released))
    return table
