"""DP-SGD through Opacus: charged once, before training; the noise meets the target; metadata."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
import torch
from _customer_data import AS_OF, HORIZON, START, synthetic_transactions
from _people import PEOPLE_KEY

from shopveil._core.budgets import ZCDP, ApproxDP
from shopveil._core.rng import InsecureRandomnessWarning, insecure_seeded_rng
from shopveil._core.units import PerCustomer
from shopveil.dp import Ledger
from shopveil.errors import BudgetExceeded, ParameterError, PrivacyError, SourceError
from shopveil.learn._customers import CustomerModel, CustomerModelConfig, train_customer_model
from shopveil.learn._dpsgd import make_private
from shopveil.learn._dpsgd_budget import (
    DPSGDAccountant,
    DPSGDConfig,
    noise_multiplier_for,
    quiet_opacus,
    training_epsilon,
)
from shopveil.learn._features import CustomerFeatures, churn_labels, customer_features
from shopveil.learn._model_file import PrivacyMetadata, load_model, save_model
from shopveil.store import Store

torch.set_num_threads(1)

UNIT = PerCustomer("CustomerID")


@pytest.fixture
def ledger(store_url: str) -> Iterator[Ledger]:
    store = Store.open(store_url)
    yield Ledger(store, people_key=PEOPLE_KEY)
    store.close()


@pytest.fixture(scope="module")
def churn_data() -> tuple[CustomerFeatures, np.ndarray]:
    data = synthetic_transactions(400, seed=11)
    f = customer_features(data, as_of=AS_OF, since=START)
    return f, churn_labels(data, as_of=AS_OF, horizon=HORIZON, customers=f.customers)


def _seeded(seed: int) -> np.random.Generator:
    with pytest.warns(InsecureRandomnessWarning):
        return insecure_seeded_rng(seed)


def _loader(rows: int = 200, batch: int = 50) -> torch.utils.data.DataLoader:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(rows, 3, generator=gen)
    y = (x[:, 0] > 0).float()
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=batch)


def _train(training: object, epochs: int) -> None:
    model, optimizer, loader = training.model, training.optimizer, training.data_loader  # type: ignore[attr-defined]
    with quiet_opacus():
        for _ in range(epochs):
            for x, y in loader:
                optimizer.zero_grad()
                torch.nn.functional.mse_loss(model(x).squeeze(1), y).backward()
                optimizer.step()


def test_private_churn_model_charges_once_and_saves_its_metadata(
    ledger: Ledger, churn_data: tuple[CustomerFeatures, np.ndarray], tmp_path: Path
) -> None:
    features, churn = churn_data
    budget = ApproxDP(3.0, 1e-5)
    ledger.set_budget("shop", UNIT, ApproxDP(5.0, 1e-4))
    config = CustomerModelConfig(epochs=3, batch_size=50)
    privacy = DPSGDConfig(budget, epochs=3, accountant="rdp", sample_rate=1 / 8)
    model = train_customer_model(
        features, churn, config=config, privacy=privacy,
        ledger=ledger, dataset="shop", request_id="churn-1", rng=_seeded(5),
    )  # fmt: skip
    state = ledger.show("shop", UNIT)
    assert state.spent == budget
    charge = ledger.find("churn-1", "shop", UNIT)
    assert charge is not None and charge.cost == budget
    meta = model.privacy
    assert (meta.mechanism, meta.budget, meta.unit, meta.dataset) == (
        "dp-sgd",
        budget,
        UNIT.key,
        "shop",
    )
    assert (meta.window_start, meta.window_end) == (START, AS_OF)
    assert meta.params["epochs"] == 3 and meta.params["max_grad_norm"] == 1.0
    assert meta.params["sample_rate"] == 1 / 8  # fixed, not 50 / customers
    assert 0 < float(meta.params["epsilon_spent"]) <= 3.0 * (1 + 1e-3)  # type: ignore[arg-type]
    model.save(tmp_path / "dp.npz")
    loaded = CustomerModel.load(tmp_path / "dp.npz")
    assert loaded.privacy == meta
    np.testing.assert_allclose(loaded.predict(features), model.predict(features), rtol=1e-6)
    # DP models scale with the declared caps, never with statistics of the data.
    assert np.all(np.isfinite(loaded.caps)) and np.allclose(loaded.scale, np.log1p(loaded.caps))


def test_a_refused_charge_trains_nothing(
    ledger: Ledger, churn_data: tuple[CustomerFeatures, np.ndarray]
) -> None:
    features, churn = churn_data
    ledger.set_budget("shop", UNIT, ApproxDP(0.5, 1e-5))
    privacy = DPSGDConfig(ApproxDP(1.0, 1e-5), epochs=2, accountant="rdp", sample_rate=1 / 8)
    with pytest.raises(BudgetExceeded):
        train_customer_model(
            features, churn, config=CustomerModelConfig(epochs=2), privacy=privacy,
            ledger=ledger, dataset="shop", request_id="too-big",
        )  # fmt: skip
    assert ledger.show("shop", UNIT).spent == ApproxDP(0.0, 0.0)
    assert ledger.find("too-big", "shop", UNIT) is None


def test_the_accountant_is_an_enum_and_its_name_is_still_accepted() -> None:
    assert DPSGDConfig(ApproxDP(1.0, 1e-5), epochs=1).accountant is DPSGDAccountant.PRV
    by_name = DPSGDConfig(ApproxDP(1.0, 1e-5), epochs=1, accountant="rdp")
    assert by_name.accountant is DPSGDAccountant.RDP
    assert by_name == DPSGDConfig(ApproxDP(1.0, 1e-5), epochs=1, accountant=DPSGDAccountant.RDP)
    with pytest.raises(ParameterError, match="accountant must be one of prv, rdp, got 'gdp'"):
        DPSGDConfig(ApproxDP(1.0, 1e-5), epochs=1, accountant="gdp")


def test_a_model_opacus_cannot_handle_is_refused() -> None:
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    config = DPSGDConfig(ApproxDP(0.5, 1e-7), epochs=1, accountant="rdp")
    with pytest.raises(ParameterError, match="Opacus cannot train this model"):
        make_private(
            model, torch.optim.SGD(model.parameters(), lr=0.1), _loader(), config=config,
            charge=None, unit=UNIT,
        )  # fmt: skip
    assert not model._forward_hooks


def test_a_paid_request_id_cannot_train_a_second_model(
    ledger: Ledger, churn_data: tuple[CustomerFeatures, np.ndarray]
) -> None:
    features, churn = churn_data
    privacy = DPSGDConfig(ApproxDP(0.3, 1e-7), epochs=1, accountant="rdp", sample_rate=1 / 8)
    config = CustomerModelConfig(epochs=1)
    train_customer_model(
        features, churn, config=config, privacy=privacy, ledger=ledger, dataset="shop",
        request_id="same", rng=_seeded(1),
    )  # fmt: skip
    with pytest.raises(PrivacyError, match="already paid"):
        train_customer_model(
            features, churn, config=config, privacy=privacy, ledger=ledger, dataset="shop",
            request_id="same", rng=_seeded(1),
        )  # fmt: skip
    assert ledger.show("shop", UNIT).spent == ApproxDP(0.3, 1e-7)


@pytest.mark.parametrize("accountant", ["rdp", "prv"])
def test_the_noise_multiplier_meets_the_target(accountant: str) -> None:
    from opacus.accountants import create_accountant

    config = DPSGDConfig(ApproxDP(2.0, 1e-5), epochs=4, accountant=accountant)
    sample_rate = 0.05
    sigma = noise_multiplier_for(config, sample_rate)
    steps = int(config.epochs / sample_rate)

    def epsilon(noise: float) -> float:
        acc = create_accountant(accountant)
        acc.history = [(noise, sample_rate, steps)]
        with quiet_opacus():
            return float(acc.get_epsilon(delta=config.budget.delta))

    assert epsilon(sigma) <= config.budget.epsilon
    assert epsilon(sigma * 0.95) > config.budget.epsilon * 0.99  # not needlessly noisy


def test_finish_refuses_a_model_trained_beyond_its_charge() -> None:
    model = torch.nn.Linear(3, 1)
    config = DPSGDConfig(ApproxDP(1.0, 1e-5), epochs=1, accountant="rdp")
    training = make_private(
        model, torch.optim.SGD(model.parameters(), lr=0.1), _loader(), config=config,
        charge=None, unit=UNIT, rng=_seeded(2),
    )  # fmt: skip
    _train(training, epochs=1)
    assert training.finish().budget == config.budget
    _train(training, epochs=2)
    with pytest.raises(PrivacyError, match="do not release"):
        training.finish()


def test_dpsgd_config_is_checked() -> None:
    with pytest.raises(ParameterError, match="delta"):
        DPSGDConfig(ApproxDP(1.0, 0.0), epochs=1)
    with pytest.raises(ParameterError, match="ApproxDP"):
        DPSGDConfig(ZCDP(1.0), epochs=1)  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="accountant"):
        DPSGDConfig(ApproxDP(1.0, 1e-5), epochs=1, accountant="gdp")
    with pytest.raises(ParameterError, match="epochs"):
        DPSGDConfig(ApproxDP(1.0, 1e-5), epochs=0)


@pytest.mark.parametrize("budget", [None, ApproxDP(1.0, 1e-6), ZCDP(0.25)])
def test_model_file_round_trips_arrays_config_and_metadata(
    tmp_path: Path, budget: ApproxDP | ZCDP | None
) -> None:
    meta = PrivacyMetadata(
        mechanism="none" if budget is None else "test-mechanism",
        budget=budget,
        unit=UNIT.key,
        window_start=datetime(2010, 12, 1),
        window_end=datetime(2011, 7, 1),
        dataset="shop",
        params={"noise_multiplier": 1.25, "epochs": 3, "note": "x", "flag": True},
    )
    arrays = {"w": np.arange(6.0).reshape(2, 3), "ids": np.array(["a", "bb"])}
    path = save_model(tmp_path / "m.npz", kind="toy", arrays=arrays, privacy=meta, config={"k": 2})
    loaded = load_model(path, kind="toy")
    assert loaded.privacy == meta and loaded.config == {"k": 2}
    np.testing.assert_array_equal(loaded.arrays["w"], arrays["w"])
    np.testing.assert_array_equal(loaded.arrays["ids"], arrays["ids"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz"]  # no temporary left
    if budget is None:
        assert math.isinf(meta.epsilon)


def test_model_file_refuses_what_it_cannot_trust(tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match="budget"):
        PrivacyMetadata(mechanism="dp-sgd", budget=None, unit=UNIT.key)
    with pytest.raises(ParameterError, match="budget"):
        PrivacyMetadata(mechanism="none", budget=ApproxDP(1.0, 1e-6), unit=UNIT.key)
    meta = PrivacyMetadata(mechanism="none", budget=None, unit=UNIT.key)
    path = save_model(tmp_path / "m.npz", kind="toy", arrays={"w": np.ones(2)}, privacy=meta)
    with pytest.raises(SourceError, match="not 'other'"):
        load_model(path, kind="other")
    np.savez(tmp_path / "plain.npz", w=np.ones(2))
    with pytest.raises(SourceError, match="metadata"):
        load_model(tmp_path / "plain.npz")
    with pytest.raises(SourceError, match="no model file"):
        load_model(tmp_path / "missing.npz")


def test_a_composed_release_is_counted_and_ghost_clipping_trains_without_a_ledger() -> None:
    prior = ZCDP(0.02)
    config = DPSGDConfig(ApproxDP(1.0, 1e-5), epochs=1, accountant="rdp", composed_with=prior)
    alone = DPSGDConfig(ApproxDP(1.0, 1e-5), epochs=1, accountant="rdp")
    sigma = noise_multiplier_for(config, 0.25)
    assert sigma > noise_multiplier_for(alone, 0.25)  # the prior's ρ costs noise
    assert training_epsilon(config, [(sigma, 0.25, 4)]) <= 1.0
    assert training_epsilon(config, [(sigma * 0.97, 0.25, 4)]) > 1.0  # nearly the least
    model = torch.nn.Linear(3, 1)
    training = make_private(
        model, torch.optim.SGD(model.parameters(), lr=0.1), _loader(), config=config,
        charge=None, unit=UNIT, rng=_seeded(3),
        criterion=torch.nn.MSELoss(), grad_sample_mode="ghost",
    )  # fmt: skip
    assert training.charge is None and training.criterion is not None
    with quiet_opacus():
        for x, y in training.data_loader:
            training.optimizer.zero_grad()
            training.criterion(training.model(x).squeeze(1), y).backward()
            training.optimizer.step()
    meta = training.finish()
    # The stated ε includes the prior release: more than DP-SGD's own accountant says.
    spent = float(meta.params["epsilon_spent"])  # type: ignore[arg-type]
    assert training.engine.get_epsilon(1e-5) < spent <= 1.0 * (1 + 1e-3)
    assert meta.dataset is None and meta.params["request_id"] is None


def test_composed_with_is_checked() -> None:
    with pytest.raises(ParameterError, match="rdp"):
        DPSGDConfig(ApproxDP(1.0, 1e-5), epochs=1, composed_with=ZCDP(0.01))
    with pytest.raises(ParameterError, match="whole budget"):
        DPSGDConfig(ApproxDP(1.0, 1e-5), epochs=1, accountant="rdp", composed_with=ZCDP(1.0))
