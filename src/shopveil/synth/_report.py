"""How close a synthetic table is to the real one: marginal errors and closest records.

This reads the real data without noise: it is for the data owner deciding whether to
release, never something to publish beside the synthetic table.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shopveil.errors import ParameterError, SchemaError

__all__ = ["SynthReport", "compare_tables"]


@dataclass(frozen=True)
class SynthReport:
    """Utility and closeness of a synthetic table to the real one (not private).

    Attributes
    ----------
    marginal_error
        Per order k, the mean total variation distance over every k-way marginal.
    closest_record
        Over sampled synthetic rows, the Hamming distance (columns that differ) to the
        nearest real row: ``mean``, ``median`` and ``exact_copies`` (share at 0).
    columns
        The columns compared.
    """

    marginal_error: Mapping[int, float]
    closest_record: Mapping[str, float]
    columns: tuple[str, ...]

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dictionary."""
        return {
            "marginal_error": {f"{k}-way": round(v, 4) for k, v in self.marginal_error.items()},
            "closest_record": dict(self.closest_record),
            "columns": list(self.columns),
            "note": "computed from the real data without noise: for the data owner only",
        }


def compare_tables(
    real: pa.Table,
    synthetic: pa.Table,
    *,
    bounds: Mapping[str, tuple[float, float]] | None = None,
    bins: int = 16,
    ways: Sequence[int] = (1, 2, 3),
    sample: int = 2000,
    rng: np.random.Generator | None = None,
) -> SynthReport:
    """Compare ``synthetic`` with ``real`` on the columns they share.

    Numeric columns named in ``bounds`` are compared in ``bins`` equal-width bins over
    them; every other column by value. ``sample`` synthetic rows (drawn with ``rng``)
    are matched to their closest real row.
    """
    columns = [c for c in synthetic.column_names if c in real.column_names]
    if not columns:
        raise SchemaError("the synthetic and real tables share no column")
    if real.num_rows == 0 or synthetic.num_rows == 0:
        raise ParameterError("both tables need rows to be compared")
    bounds = bounds or {}
    a = np.empty((real.num_rows, len(columns)), dtype=np.int64)
    b = np.empty((synthetic.num_rows, len(columns)), dtype=np.int64)
    for k, name in enumerate(columns):
        a[:, k], b[:, k] = _codes(real.column(name), synthetic.column(name), bounds.get(name), bins)
    errors = {}
    for way in ways:
        if not 1 <= way <= len(columns):
            continue
        errors[way] = float(
            np.mean(
                [
                    _tvd(a[:, list(c)], b[:, list(c)])
                    for c in itertools.combinations(range(len(columns)), way)
                ]
            )
        )
    rng = rng if rng is not None else np.random.default_rng()
    picked = b[rng.choice(len(b), min(sample, len(b)), replace=False)]
    nearest = np.array([(a != row).sum(axis=1).min() for row in picked])
    return SynthReport(
        marginal_error=errors,
        closest_record={
            "mean": round(float(nearest.mean()), 4),
            "median": float(np.median(nearest)),
            "exact_copies": round(float((nearest == 0).mean()), 4),
        },
        columns=tuple(columns),
    )


def _codes(
    real: pa.ChunkedArray, synthetic: pa.ChunkedArray, bound: tuple[float, float] | None, bins: int
) -> tuple[np.ndarray, np.ndarray]:
    if bound is not None:
        low, high = bound
        width = (high - low) / bins

        def binned(column: pa.ChunkedArray) -> np.ndarray:
            values = pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False)
            codes = np.floor((np.clip(values, low, high) - low) / width).clip(0, bins - 1)
            return np.where(np.isnan(values), bins, codes).astype(np.int64)

        return binned(real), binned(synthetic)
    both = pa.chunked_array(
        [*pc.cast(real, pa.string()).chunks, *pc.cast(synthetic, pa.string()).chunks], pa.string()
    )
    encoded = pc.fill_null(both.dictionary_encode().combine_chunks().indices, -1)
    codes = encoded.to_numpy(zero_copy_only=False).astype(np.int64)
    return codes[: len(real)], codes[len(real) :]


def _tvd(a: np.ndarray, b: np.ndarray) -> float:
    values, inverse = np.unique(np.vstack([a, b]), axis=0, return_inverse=True)
    inverse = inverse.ravel()
    p = np.bincount(inverse[: len(a)], minlength=len(values)) / len(a)
    q = np.bincount(inverse[len(a) :], minlength=len(values)) / len(b)
    return 0.5 * float(np.abs(p - q).sum())
