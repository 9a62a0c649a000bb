"""DP-SGD's noise, measured per step in the optimizer: make_private, churn models, DP-MF.

Opacus adds ``N(0, (σ·C)²)`` to the sum of the clipped per-example gradients and divides
by the batch size B (the declared one under a fixed sample rate). Where every
per-example gradient of a parameter is zero (a layer whose input is zero, or a loss of
zero), the gradient the inner optimizer sees is pure noise of standard deviation σ·C/B.
A global step pre-hook reads it there, with the real training running; the promised σ
is what Opacus's accountant needs for the ε charged on the ledger, or for the budget of
a bare ``make_private`` (which charges nothing itself; see ``_noise`` for the margins).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pytest
import torch
from _noise import assert_noise, interactions, seeded
from opacus.accountants.utils import get_noise_multiplier
from opacus.optimizers import DPOptimizer
from torch.optim.optimizer import register_optimizer_step_pre_hook

from shopveil._core.budgets import ApproxDP
from shopveil.dp import Ledger
from shopveil.learn._charging import CUSTOMER
from shopveil.learn._customers import CustomerModelConfig, train_customer_model
from shopveil.learn._dp_mf import DPMF
from shopveil.learn._dpsgd import make_private
from shopveil.learn._dpsgd_budget import DPSGDConfig, quiet_opacus, training_epsilon
from shopveil.learn._features import FEATURE_CAPS, FEATURE_NAMES, CustomerFeatures
from shopveil.learn._recommender import FitContext

torch.set_num_threads(1)
pytestmark = pytest.mark.filterwarnings("ignore::shopveil.learn._recommender.NoSignalWarning")


@contextmanager
def gradients_seen(parameter: int) -> Iterator[list[np.ndarray]]:
    """Every gradient of the ``parameter``-th parameter as the inner optimizer steps."""
    seen: list[np.ndarray] = []

    def hook(optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        if isinstance(optimizer, DPOptimizer):
            return  # the wrapper: noise is not added yet
        grad = optimizer.param_groups[0]["params"][parameter].grad
        if grad is not None:
            seen.append(grad.detach().double().numpy().copy())

    handle = register_optimizer_step_pre_hook(hook)
    try:
        yield seen
    finally:
        handle.remove()


def _promised_sigma(charged: object, rate: float, epochs: int, accountant: str) -> float:
    """The noise multiplier Opacus's accountant needs for the charged (ε, δ)."""
    assert isinstance(charged, ApproxDP)
    with quiet_opacus():
        return float(
            get_noise_multiplier(
                target_epsilon=charged.epsilon, target_delta=charged.delta, sample_rate=rate,
                epochs=epochs, accountant=accountant, epsilon_tolerance=0.001,
            )
        )  # fmt: skip


def test_make_private_adds_sigma_times_clip_over_batch() -> None:
    # Zero inputs: every per-example gradient of the bias-free layer is zero. The caller
    # charges config.budget before make_private, so σ is what that budget needs.
    clip = 2.5
    rows, batch, epochs = 64, 16, 2
    x = torch.zeros(rows, 50)
    y = torch.zeros(rows, dtype=torch.long)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=batch)
    model = torch.nn.Linear(50, 200, bias=False)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    config = DPSGDConfig(ApproxDP(2.0, 1e-5), epochs, max_grad_norm=clip, accountant="rdp")
    training = make_private(
        model, optimizer, loader, config=config, charge=None, unit=CUSTOMER, rng=seeded(11),
    )  # fmt: skip
    with gradients_seen(0) as seen, quiet_opacus():
        for _ in range(epochs):
            for batch_x, batch_y in training.data_loader:
                training.optimizer.zero_grad()
                loss = torch.nn.functional.cross_entropy(training.model(batch_x), batch_y)
                loss.backward()
                training.optimizer.step()
    rate = 1 / len(loader)
    sigma = _promised_sigma(config.budget, rate, epochs, "rdp")
    assert_noise(np.concatenate([g.ravel() for g in seen]), sigma * clip / (rows * rate), "dp-sgd")


def test_churn_model_training_noise_is_what_the_charge_promises(scratch_ledger: Ledger) -> None:
    # Every customer sits at the centre of the declared box, where the DP scaling maps
    # the features to 0: the hidden layer's weights get no gradient but the noise.
    customers, batch, epochs, hidden = 512, 64, 5, 64
    centre = [math.sqrt(1 + FEATURE_CAPS[name]) - 1 for name in FEATURE_NAMES]
    features = CustomerFeatures(
        tuple(f"c{i:04d}" for i in range(customers)),
        np.tile(centre, (customers, 1)),
    )
    labels = np.arange(customers) % 2
    config = CustomerModelConfig("churn", hidden=hidden, epochs=epochs, batch_size=batch)
    rate = batch / customers  # 1/8: the declared batch is the expected one
    privacy = DPSGDConfig(
        ApproxDP(3.0, 1e-5), epochs, max_grad_norm=1.5, accountant="rdp", sample_rate=rate
    )
    with gradients_seen(0) as seen:
        train_customer_model(
            features, labels, config=config, privacy=privacy, ledger=scratch_ledger,
            dataset="churn", request_id="churn-1", rng=seeded(12),
        )  # fmt: skip
    charged = scratch_ledger.show("churn", CUSTOMER).spent
    sigma = _promised_sigma(charged, rate, epochs, privacy.accountant)
    draws = np.concatenate([g.ravel() for g in seen])
    assert_noise(draws, sigma * privacy.max_grad_norm / batch, "churn DP-SGD")


def test_dp_mf_training_noise_is_what_the_charge_promises(scratch_ledger: Ledger) -> None:
    # 200 customers each buy one item of 5,000, so the 50 kept items are mostly chosen by
    # the popularity noise and bought by at most a few customers: nearly every customer's
    # loss on them is 0, and the few others (clipped to C each) add well under 1% to the
    # 6,400 noisy coordinates of the input embedding per step. Sampling 1/4 of them
    # expects the declared batch of 50.
    customers, n_items, batch = 200, 5_000, 50
    train = interactions(np.arange(customers), np.arange(customers) * 25, customers, n_items)
    config = DPMF(
        ApproxDP(4.0, 1e-6), dim=128, epochs=2, batch_size=batch, top_items=50, text_scale=0.0,
        sample_rate=batch / customers,
    )  # fmt: skip
    context = FitContext(ledger=scratch_ledger, dataset="mf", request_id="mf-1", rng=seeded(13))
    with gradients_seen(0) as seen:
        fitted = config.fit(train, context)
    assert fitted.kept.size == 50
    charged = scratch_ledger.show("mf", CUSTOMER).spent
    assert isinstance(charged, ApproxDP)
    rate, _, steps, _ = config.plan()
    sgd = config.sgd_config()
    sigma = _composed_sigma(sgd, charged, rate, steps)
    draws = np.concatenate([g.ravel() for g in seen])
    assert_noise(draws, sigma * config.max_grad_norm / batch, "dp-mf DP-SGD")


def _composed_sigma(sgd: DPSGDConfig, charged: ApproxDP, rate: float, steps: int) -> float:
    """The least σ whose RDP curve, with the popularity release's, meets the charge."""
    low, high = 0.1, 100.0
    for _ in range(30):  # to a relative 1e-8
        mid = math.sqrt(low * high)
        fits = training_epsilon(sgd, [(mid, rate, steps)]) <= charged.epsilon
        low, high = (low, mid) if fits else (mid, high)
    return high
