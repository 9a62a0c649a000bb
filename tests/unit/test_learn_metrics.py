"""Ranking metrics on hand-computed cases, and their range and perfect-ranking properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import sparse

from shopveil.learn._metrics import (
    catalogue_coverage,
    intra_list_diversity,
    item_self_information,
    novelty,
    ranking_scores,
    top_k,
)


def _relevant(rows: list[list[int]], n_items: int) -> sparse.csr_matrix:
    dense = np.zeros((len(rows), n_items))
    for r, items in enumerate(rows):
        dense[r, items] = 1
    return sparse.csr_matrix(dense)


def test_one_hit_at_rank_two_by_hand() -> None:
    # list 0, 1, 2; relevant {1, 3}: one hit, at rank 2
    result = ranking_scores(np.array([[0, 1, 2]]), _relevant([[1, 3]], 5), 3)
    assert result.recall[0] == pytest.approx(1 / 2)  # capped at min(3, 2) = 2
    dcg = 1 / math.log2(3)
    assert result.ndcg[0] == pytest.approx(dcg / (1 + 1 / math.log2(3)))
    assert result.ap[0] == pytest.approx((1 / 2) / 2)


def test_recall_is_capped_at_k() -> None:
    # 4 relevant items, k = 2, both slots hit: capped recall is 1, not 2/4
    result = ranking_scores(np.array([[0, 1]]), _relevant([[0, 1, 2, 3]], 5), 2)
    assert result.recall[0] == 1.0
    assert result.ndcg[0] == pytest.approx(1.0)
    assert result.ap[0] == pytest.approx(1.0)


def test_user_without_relevant_items_is_nan() -> None:
    result = ranking_scores(np.array([[0, 1], [0, 1]]), _relevant([[], [1]], 3), 2)
    assert math.isnan(result.recall[0]) and math.isnan(result.ndcg[0])
    assert result.recall[1] == 1.0
    assert result.ap[1] == pytest.approx(1 / 2)  # hit at rank 2: precision 1/2


def test_top_k_orders_and_excludes() -> None:
    scores = np.array([[0.1, 0.9, 0.5, 0.7]])
    assert top_k(scores, 3).tolist() == [[1, 3, 2]]
    exclude = sparse.csr_matrix(np.array([[0, 1, 0, 0]]))
    assert top_k(scores, 3, exclude=exclude).tolist() == [[3, 2, 0]]
    assert top_k(scores, 10).shape == (1, 4)
    ties = np.zeros((2, 50))
    assert top_k(ties, 5).tolist() == [[0, 1, 2, 3, 4]] * 2  # ties: lower index first


def test_coverage_diversity_novelty_by_hand() -> None:
    # items 0 and 1 bought by the same two users; item 2 by a third user
    train = sparse.csr_matrix(np.array([[1, 1, 0], [1, 1, 0], [0, 0, 1]], dtype=float))
    assert catalogue_coverage(np.array([[0, 1], [0, 2]]), 4) == 0.75
    diversity = intra_list_diversity(np.array([[0, 1], [0, 2], [1, 2]]), train)
    assert diversity.tolist() == pytest.approx([0.0, 1.0, 1.0])
    assert intra_list_diversity(np.array([[0, 1, 2]]), train)[0] == pytest.approx(2 / 3)
    info = item_self_information(train)  # p = (buyers + 1) / (3 + 1)
    assert info.tolist() == pytest.approx([-math.log2(3 / 4), -math.log2(3 / 4), 1.0])
    assert novelty(np.array([[0, 2]]), info)[0] == pytest.approx((-math.log2(3 / 4) + 1) / 2)


def test_item_nobody_bought_is_dissimilar_and_most_novel() -> None:
    train = sparse.csr_matrix(np.array([[1, 0], [1, 0]], dtype=float))
    assert intra_list_diversity(np.array([[0, 1]]), train)[0] == 1.0
    info = item_self_information(train)
    assert info[1] > info[0]


@st.composite
def _cases(draw: st.DrawFn) -> tuple[np.ndarray, sparse.csr_matrix, int]:
    n_users = draw(st.integers(1, 6))
    n_items = draw(st.integers(2, 15))
    k = draw(st.integers(1, n_items))
    seed = draw(st.integers(0, 2**32 - 1))
    gen = np.random.Generator(np.random.PCG64(seed))
    relevant = gen.random((n_users, n_items)) < draw(st.floats(0.05, 0.9))
    relevant[np.arange(n_users), gen.integers(0, n_items, n_users)] = True
    return gen.random((n_users, n_items)), sparse.csr_matrix(relevant.astype(float)), k


@given(_cases())
def test_metrics_lie_in_unit_interval(case: tuple[np.ndarray, sparse.csr_matrix, int]) -> None:
    scores, relevant, k = case
    result = ranking_scores(top_k(scores, k), relevant, k)
    for values in (result.recall, result.ndcg, result.ap):
        assert np.all((values >= 0) & (values <= 1 + 1e-12))


@given(_cases())
def test_perfect_ranking_scores_one(case: tuple[np.ndarray, sparse.csr_matrix, int]) -> None:
    noise, relevant, k = case
    perfect = relevant.toarray() + 0.5 * noise  # every relevant item above every other
    result = ranking_scores(top_k(perfect, k), relevant, k)
    assert result.recall == pytest.approx(1.0)
    assert result.ndcg == pytest.approx(1.0)
    assert result.ap == pytest.approx(1.0)
