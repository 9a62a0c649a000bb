"""Contribution bounding, unit-norm customer rows, and the DP popularity release that
the private models share.

Each customer's purchase row is divided by the square root of its number of distinct
items, so its L2 norm is at most 1. Summed per item, adding or removing one customer
then moves the vector of sums by at most 1 in L2 norm, whatever they bought: Gaussian
noise calibrated to sensitivity 1 needs no sampling and drops no rows.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from shopveil._core.budgets import ZCDP
from shopveil.dp import gaussian_for
from shopveil.dp.hazmat import Rng, as_bits

__all__ = ["bound_contributions", "release_popularity", "unit_rows"]


def bound_contributions(matrix: sparse.csr_matrix, m: int, rng: Rng) -> sparse.csr_matrix:
    """Each row cut to at most ``m`` of its entries, chosen uniformly at random."""
    matrix = sparse.csr_matrix(matrix, dtype=np.float64)
    lengths = np.diff(matrix.indptr)
    if lengths.max(initial=0) <= m:
        return matrix
    # A uniform random key per entry; within each row the m smallest keys stay.
    keys = (as_bits(rng).words(matrix.nnz) >> np.uint64(11)).astype(np.float64)
    row_of = np.repeat(np.arange(matrix.shape[0]), lengths)
    order = np.lexsort((keys, row_of))
    rank_in_row = np.arange(matrix.nnz) - np.repeat(matrix.indptr[:-1], lengths)
    keep = np.zeros(matrix.nnz, dtype=bool)
    keep[order[rank_in_row < m]] = True
    coo = matrix.tocoo()
    return sparse.csr_matrix((coo.data[keep], (coo.row[keep], coo.col[keep])), shape=matrix.shape)


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
