"""Unit-norm customer rows and the DP popularity release that three private models share.

Each customer's purchase row is divided by the square root of its number of distinct
items, so its L2 norm is at most 1. Summed per item, adding or removing one customer
then moves the vector of sums by at most 1 in L2 norm, whatever they bought: Gaussian
noise calibrated to sensitivity 1 needs no sampling and drops no rows.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from shopveil._core.budgets import ZCDP
from shopveil.dp._bits import Rng
from shopveil.dp._measurement import gaussian_for

__all__ = ["release_popularity", "unit_rows"]


def unit_rows(rows: sparse.csr_matrix) -> sparse.csr_matrix:
    """Each row divided by the square root of its number of items (L2 norm ≤ 1 if binary)."""
    lengths = np.diff(rows.indptr).astype(np.float64)
    return sparse.csr_matrix(sparse.diags(1 / np.sqrt(np.maximum(lengths, 1.0))) @ rows)


def release_popularity(rows: sparse.csr_matrix, rho: ZCDP | None, rng: Rng) -> np.ndarray:
    """Per-item sums of the unit rows, with ρ-zCDP discrete Gaussian noise (exact if None)."""
    sums = np.asarray(unit_rows(rows).sum(axis=0)).ravel()
    if rho is None:
        return sums
    release = gaussian_for(rho, 1.0, integer=False, changed_coordinates=len(sums))
    return np.asarray(release(sums, rng=rng), dtype=np.float64)
