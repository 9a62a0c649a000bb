"""DP-SGD matrix factorization: its accounting (DP popularity + DP-SGD), its charge, its scores."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime

import numpy as np
import pyarrow.compute as pc
import pytest
from _people import PEOPLE_KEY

from shopveil._core.budgets import ApproxDP
from shopveil._core.rng import InsecureRandomnessWarning, insecure_seeded_rng
from shopveil.data import bundled_online_retail, product_catalogue
from shopveil.dp import Ledger
from shopveil.dp.hazmat import max_zcdp_within
from shopveil.errors import BudgetExceeded, ParameterError
from shopveil.learn import _dp_mf
from shopveil.learn._catalogue import Catalogue
from shopveil.learn._charging import CUSTOMER
from shopveil.learn._dp_mf import DPMF
from shopveil.learn._dpsgd_budget import DPSGDConfig, noise_multiplier_for, training_epsilon
from shopveil.learn._interactions import Interactions, from_table, temporal_split
from shopveil.learn._recommender import FitContext
from shopveil.store import Store

TARGET = ApproxDP(1.0, 1e-5)
SMALL = {"dim": 8, "epochs": 2, "batch_size": 128, "top_items": 300}


@pytest.fixture(scope="module")
def train() -> Interactions:
    table = bundled_online_retail()
    bought = pc.and_(
        pc.greater(table["Quantity"], 0), pc.invert(pc.starts_with(table["InvoiceNo"], "C"))
    )
    data = from_table(
        table.filter(bought), user="CustomerID", item="StockCode", time="InvoiceDate",
        catalogue=Catalogue.from_table(product_catalogue()),
    )  # fmt: skip
    return temporal_split(data, datetime(2010, 12, 9))[0]


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    s = Store.open(store_url)
    yield s
    s.close()


def _seeded(seed: int = 0) -> np.random.Generator:
    with pytest.warns(InsecureRandomnessWarning):
        return insecure_seeded_rng(seed)


def test_importing_the_module_does_not_import_torch() -> None:
    code = "import sys, shopveil.learn._dp_mf; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


@pytest.mark.parametrize("target", [ApproxDP(1.0, 1e-5), ApproxDP(8.0, 1e-6)])
def test_the_plan_states_at_most_the_target(target: ApproxDP) -> None:
    config = DPMF(target, epochs=5)
    rate, sigma, steps, cost = config.plan()
    assert 0 < rate <= 1 and sigma > 0 and steps >= 5
    assert cost.epsilon <= target.epsilon and cost.delta == target.delta
    sgd = config.sgd_config()
    assert sgd.composed_with is not None
    assert sgd.composed_with.rho == pytest.approx(
        max_zcdp_within(target).rho * config.popularity_share
    )
    assert training_epsilon(sgd, [(sigma, rate, steps)]) == cost.epsilon
    # Less noise would overspend: the multiplier is (nearly) the least that fits.
    assert training_epsilon(sgd, [(sigma * 0.97, rate, steps)]) > target.epsilon
    # The popularity release is counted: DP-SGD alone at this σ would state less.
    alone = DPSGDConfig(target, 5, accountant="rdp")
    assert noise_multiplier_for(alone, rate) < sigma


def test_fit_charges_once_and_scores_every_item(train: Interactions, store: Store) -> None:
    ledger = Ledger(store, people_key=PEOPLE_KEY)
    ledger.set_budget("retail", CUSTOMER, ApproxDP(2.0, 1e-5))
    fitted = DPMF(TARGET, **SMALL).fit(train, FitContext(ledger, "retail", "mf-1", _seeded()))
    assert fitted.privacy is not None and fitted.privacy.epsilon <= TARGET.epsilon
    assert ledger.show("retail", CUSTOMER).spent == fitted.privacy
    history = train.matrix()[:5].tolil()
    history[4, :] = 0  # a customer with no history scores the item biases
    scores = fitted.scores(np.arange(5), history.tocsr())
    assert scores.shape == (5, train.n_items) and np.all(np.isfinite(scores))
    assert np.allclose(scores[4], fitted.item_bias)
    assert not np.allclose(scores[0], fitted.item_bias)
    # Only the DP-popular items are scored by the network; the others keep their biases.
    assert len(fitted.kept) == SMALL["top_items"] < train.n_items
    others = np.setdiff1d(np.arange(train.n_items), fitted.kept)
    assert np.array_equal(scores[:, others], np.tile(fitted.item_bias[others], (5, 1)))
    rebuilt = _dp_mf.FittedDPMF(**fitted.arrays(), privacy=fitted.privacy)
    assert np.array_equal(rebuilt.scores(np.arange(5), history.tocsr()), scores)


def test_a_refused_fit_trains_nothing(
    train: Interactions, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = Ledger(store, people_key=PEOPLE_KEY)
    ledger.set_budget("retail", CUSTOMER, ApproxDP(0.5, 1e-5))

    def no_training(*args: object, **kwargs: object) -> None:
        raise AssertionError("trained before the charge")

    monkeypatch.setattr(_dp_mf, "_train", no_training)
    monkeypatch.setattr(_dp_mf, "release_popularity", no_training)
    with pytest.raises(BudgetExceeded):
        DPMF(TARGET, **SMALL).fit(train, FitContext(ledger, "retail", "mf-2"))
    assert ledger.show("retail", CUSTOMER).spent == ApproxDP(0.0, 0.0)


def test_seeded_fits_are_reproducible(train: Interactions, scratch_ledger: Ledger) -> None:
    config = DPMF(ApproxDP(8.0, 1e-5), **{**SMALL, "epochs": 1})
    a = config.fit(train, FitContext(ledger=scratch_ledger, rng=_seeded(3)))
    b = config.fit(train, FitContext(ledger=scratch_ledger, rng=_seeded(3)))
    assert np.array_equal(a.item_in, b.item_in) and np.array_equal(a.item_out, b.item_out)
    assert np.array_equal(a.kept, b.kept) and np.array_equal(a.item_bias, b.item_bias)
    c = config.fit(train, FitContext(ledger=scratch_ledger, rng=_seeded(4)))
    assert not np.array_equal(a.item_bias, c.item_bias)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"epsilon": 1.0},
        {"epsilon": ApproxDP(1.0, 0.0)},
        {"epsilon": TARGET, "dim": 0},
        {"epsilon": TARGET, "dropout": 1.0},
        {"epsilon": TARGET, "max_grad_norm": 0},
        {"epsilon": TARGET, "popularity_share": 1.0},
        {"epsilon": TARGET, "top_items": 0},
        {"epsilon": TARGET, "text_scale": -1.0},
        {"epsilon": TARGET, "sample_rate": 0.15},
    ],
)
def test_bad_configs_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ParameterError):
        DPMF(**kwargs)  # type: ignore[arg-type]
