"""Ranking metrics for top-k recommendation lists, vectorized over a batch of users.

Definitions (the same everywhere in ShopVeil):

- **Recall@k** = hits in the top k / ``min(k, |relevant|)`` — *capped* recall, so a user
  with more than k relevant items can still reach 1 (as in Chien et al. 2021 and most
  implicit-feedback papers); a perfect ranking always scores 1.
- **NDCG@k** = DCG@k / ideal DCG@k with binary gains and ``1 / log2(rank + 1)`` discounts.
- **MAP@k** = mean over users of ``Σ_{r ≤ k} precision@r · hit_r / min(k, |relevant|)``.
- **Catalogue coverage** = distinct items in any list / number of items.
- **Intra-list diversity** = 1 − the mean cosine similarity over the pairs of a list,
  item vectors being the columns of the training user × item matrix.
- **Novelty** = the mean self-information ``−log2 p(i)`` of recommended items, with
  ``p(i) = (buyers(i) + 1) / (users + 1)`` from training (add-one, so an item nobody
  bought in training has a finite, maximal novelty).

Users without relevant items have no recall, NDCG or MAP; callers leave them out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

__all__ = [
    "RankingScores",
    "catalogue_coverage",
    "intra_list_diversity",
    "item_self_information",
    "novelty",
    "ranking_scores",
    "top_k",
]


def top_k(scores: np.ndarray, k: int, *, exclude: sparse.csr_matrix | None = None) -> np.ndarray:
    """The indexes of the ``k`` highest scores per row, best first (``n × min(k, items)``).

    Equal scores go to the lower item index, so lists are reproducible. ``exclude``
    (same shape as ``scores``) marks items that may not be recommended; they rank after
    every other item.
    """
    scores = np.array(scores, dtype=np.float64, copy=True)
    if exclude is not None and exclude.nnz:
        rows, cols = exclude.nonzero()
        scores[rows, cols] = -np.inf
    k = min(k, scores.shape[1])
    # A stable full sort, not argpartition: SIMD partitioning may resolve ties
    # differently from run to run, and ties are common (popularity counts, cold users).
    return np.argsort(-scores, axis=1, kind="stable")[:, : max(k, 0)]


@dataclass(frozen=True)
class RankingScores:
    """Per-user Recall@k, NDCG@k and AP@k of a batch (users with no relevant item: NaN)."""

    recall: np.ndarray
    ndcg: np.ndarray
    ap: np.ndarray


def ranking_scores(lists: np.ndarray, relevant: sparse.csr_matrix, k: int) -> RankingScores:
    """Recall@k, NDCG@k and AP@k of each row of ``lists`` against ``relevant``'s row.

    ``lists`` holds item indexes best first (``n × ≤ k``); ``relevant`` is ``n × items``
    (nonzero = relevant).
    """
    lists = lists[:, :k]
    n, width = lists.shape
    dense = relevant.toarray() != 0 if n else np.zeros((0, relevant.shape[1]), dtype=bool)
    hits = np.take_along_axis(dense, lists, axis=1).astype(np.float64)
    n_relevant = dense.sum(axis=1)
    ideal = np.minimum(n_relevant, k).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = hits.sum(axis=1) / ideal
        discounts = 1.0 / np.log2(np.arange(2, k + 2, dtype=np.float64))
        dcg = hits @ discounts[:width]
        idcg = np.concatenate([[0.0], np.cumsum(discounts)])[ideal.astype(np.int64)]
        ndcg = dcg / idcg
        precision_at = np.cumsum(hits, axis=1) / np.arange(1, width + 1)
        ap = (precision_at * hits).sum(axis=1) / ideal
    missing = ideal == 0
    for values in (recall, ndcg, ap):
        values[missing] = np.nan
    return RankingScores(recall, ndcg, ap)


def catalogue_coverage(lists: np.ndarray, n_items: int) -> float:
    """The fraction of the ``n_items`` items that appear in at least one list."""
    if n_items <= 0:
        return 0.0
    return float(np.unique(lists).size / n_items) if lists.size else 0.0


def intra_list_diversity(lists: np.ndarray, train: sparse.csr_matrix) -> np.ndarray:
    """Per list: 1 − mean pairwise cosine similarity of its items (NaN for < 2 items).

    Item vectors are the columns of ``train`` (users × items); an item nobody bought
    has a zero vector, similar to nothing.
    """
    n, width = lists.shape
    if width < 2:
        return np.full(n, np.nan)
    columns = sparse.csc_matrix(train, dtype=np.float64)
    norms = np.sqrt(np.asarray(columns.multiply(columns).sum(axis=0))).ravel()
    scale = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    unit_items = sparse.csr_matrix(columns.T.multiply(scale[:, None]))  # items × users
    picks = sparse.csr_matrix(
        (np.ones(lists.size), lists.ravel(), np.arange(0, lists.size + 1, width)),
        shape=(n, train.shape[1]),
    )
    sums = picks @ unit_items  # per list, the sum of its unit item vectors
    # Σ_{i≠j} cos(i, j) = ‖Σ v̂_i‖² − Σ ‖v̂_i‖²
    squared = np.asarray(sums.multiply(sums).sum(axis=1)).ravel()
    self_terms = (norms[lists] > 0).sum(axis=1)
    mean_similarity = (squared - self_terms) / (width * (width - 1))
    return 1.0 - mean_similarity


def item_self_information(train: sparse.csr_matrix) -> np.ndarray:
    """``−log2 p(i)`` per item, ``p(i) = (buyers(i) + 1) / (active users + 1)``."""
    binary = sparse.csr_matrix(train, copy=True)
    binary.data[:] = 1.0
    buyers = np.asarray(binary.sum(axis=0)).ravel()
    active = int((np.diff(binary.indptr) > 0).sum())
    return -np.log2((buyers + 1.0) / (active + 1.0))


def novelty(lists: np.ndarray, self_information: np.ndarray) -> np.ndarray:
    """Per list: the mean self-information of its items (NaN for an empty list)."""
    if lists.shape[1] == 0:
        return np.full(lists.shape[0], np.nan)
    return self_information[lists].mean(axis=1)
