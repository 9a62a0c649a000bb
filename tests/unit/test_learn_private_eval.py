"""Evaluating a trained model with DP: charged first, per-customer sums, Laplace noise 8/ε."""

from __future__ import annotations

import numpy as np
import pytest
from _noise import MIN_DRAWS, assert_noise, discrete_laplace_sd, interactions, seeded
from _people import PEOPLE_KEY

from shopveil._core.budgets import ApproxDP, PureDP
from shopveil.dp import Ledger
from shopveil.dp._bits import as_bits
from shopveil.errors import BudgetExceeded, ParameterError
from shopveil.learn import FitContext, Popularity, evaluate
from shopveil.learn._charging import CUSTOMER
from shopveil.learn._private_eval import GRID_BITS, evaluate_private, release_metrics
from shopveil.store import Store


def _shop(n_users: int = 400, n_items: int = 30, seed: int = 0):  # type: ignore[no-untyped-def]
    """Training and test windows of one shop (same vocabularies), cut by event order."""
    rng = np.random.default_rng(seed)
    users = np.repeat(np.arange(n_users), 6)
    items = np.minimum(rng.geometric(0.15, size=len(users)) - 1, n_items - 1)
    data = interactions(users, items, n_users, n_items)
    train_mask = np.tile([True, True, True, True, False, False], n_users)
    keep = lambda m: type(data)(  # noqa: E731
        data.users[m], data.items[m], data.times[m], data.user_ids, data.item_ids, data.catalogue
    )
    return keep(train_mask), keep(~train_mask)


def test_the_released_means_are_the_evaluate_metrics_when_the_noise_is_negligible(
    scratch_ledger: Ledger,
) -> None:
    train, test = _shop()
    model = Popularity().fit(train, FitContext())
    exact = evaluate(model, train, test, k=5).as_dict()
    context = FitContext(ledger=scratch_ledger, dataset="shop", rng=seeded(1))
    released = evaluate_private(
        model, train, test, budget=PureDP(1e7), context=context, k=5
    ).as_dict()
    for name in ("recall@5", "ndcg@5", "map@5", "recall@5_new", "ndcg@5_new", "map@5_new"):
        assert released[name] == pytest.approx(exact[name], abs=1e-4), name
    assert released["users"] == exact["users"] and released["users_new"] == exact["users_new"]
    assert released["evaluation_cost"] == {"epsilon": 1e7, "dataset": "shop"}
    assert "coverage" not in released and "novelty" not in released


def test_every_test_customer_is_charged_before_anything_is_computed(store: Store) -> None:
    train, test = _shop(n_users=50)
    ledger = Ledger(store, default_total=ApproxDP(1.0, 1e-6), people_key=PEOPLE_KEY)
    model = Popularity().fit(train, FitContext())
    context = FitContext(ledger=ledger, dataset="shop")
    evaluate_private(model, train, test, budget=PureDP(0.75), context=context, k=5)
    assert ledger.show("shop", CUSTOMER).spent == ApproxDP(0.75, 0.0)
    spending = ledger.spending(CUSTOMER.namespace, ApproxDP(1.0, 1e-6))
    assert spending.most == ApproxDP(0.75, 0.0)
    with pytest.raises(BudgetExceeded):  # the account cannot pay again: nothing computed
        evaluate_private(model, train, test, budget=PureDP(0.5), context=context, k=5)


def test_bad_parameters_are_refused_uncharged(scratch_ledger: Ledger) -> None:
    train, test = _shop(n_users=20)
    model = Popularity().fit(train, FitContext())
    context = FitContext(ledger=scratch_ledger, dataset="shop")
    for budget, k in ((PureDP(0.5), 0), (ApproxDP(0.5, 1e-6), 5)):
        with pytest.raises(ParameterError):
            evaluate_private(model, train, test, budget=budget, context=context, k=k)  # type: ignore[arg-type]
    assert scratch_ledger.accounts() == []


@pytest.mark.parametrize("epsilon", [0.5, 2.0])
def test_every_count_and_sum_gets_laplace_noise_of_scale_8_over_epsilon(epsilon: float) -> None:
    """2 counts (ε/4, L1 sensitivity 2) and 6 sums (3ε/4, L1 sensitivity 6 grid units)."""
    bits = as_bits(seeded(7))
    unit = 2**GRID_BITS
    sums = np.arange(6, dtype=np.int64) * unit * 10
    counts = np.array([100, 80], dtype=np.int64)
    count_noise, sum_noise = [], []
    for _ in range(MIN_DRAWS // 2):
        released = release_metrics(sums, counts, PureDP(epsilon), bits)
        count_noise.append(released.counts - counts)
        sum_noise.append(released.sums * unit - sums)
    promised = 8 / epsilon
    assert_noise(np.concatenate(count_noise), discrete_laplace_sd(promised), "counts")
    assert_noise(
        np.concatenate(sum_noise) / unit, discrete_laplace_sd(promised * unit) / unit, "sums"
    )
    assert released.scale == pytest.approx(promised)
