"""Matrix factorization trained with DP-SGD (Opacus), one customer per example.

The model is a shallow, denoising autoencoder over a customer's purchase row ``x``: the
customer's vector is the mean of their items' input embeddings, ``h = Eᵀ x / |x|``
(computed from their own history, never stored), and an item's score is ``W_i · h + b_i``.
Trained with the multinomial log-likelihood of the row (Liang et al. 2018's Mult-DAE
objective, input items dropped at random so the model learns to predict unseen ones).
Only ``E``, ``W`` and ``b`` are central, so this is the user-side mode.

Most of the model is set before any gradient step, at little or no privacy cost:

* **DP popularity** (a ``popularity_share`` of the budget): unit-norm popularity, each
  customer's row scaled to L2 norm 1, so the release has L2 sensitivity 1, with exact
  discrete Gaussian noise (as dp-cobuy releases it). Its ``top_items`` most popular items
  are the only ones the network sees and scores (DP item selection, post-processing: far
  fewer noisy parameters); their biases start at log DP popularity, and every other item
  scores its log DP popularity, below them. A customer with no history gets the biases.
* **Catalogue text** (public): ``E`` and ``W`` start from the items' latent semantic
  vectors (TF-IDF + truncated SVD, :func:`~shopveil.learn._dp_als.start_factors`), so
  before training a customer is scored by text similarity to what they bought.

Privacy unit = customer: one example is one customer's whole row, so DP-SGD's
per-example clipping (ghost clipping) bounds each customer's influence on every step,
with Poisson batches at a fixed ``sample_rate`` (:func:`~shopveil.learn._dpsgd.make_private`):
the rate, the steps, the noise multiplier and the charged (ε, δ) do not depend on how
many customers there are. The popularity
release (ρ-zCDP, RDP ``ρα``) and DP-SGD (Opacus's RDP curve) are added over one grid of
orders and converted to (ε, δ) once; the noise multiplier is the least for which that
total meets the target. The ledger is charged with it before anything is computed.

Limitation: DP-SGD's noise is drawn by Opacus with torch's generator in floating point
(see :mod:`shopveil.learn._dpsgd`); the popularity release uses ShopVeil's exact sampler.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import sparse

from shopveil._core.budgets import ZCDP, ApproxDP
from shopveil._core.extras import from_extra
from shopveil.dp.hazmat import RandomBits, as_bits, max_zcdp_within
from shopveil.errors import ParameterError
from shopveil.learn._baselines import admit
from shopveil.learn._charging import CUSTOMER
from shopveil.learn._dp_als import start_factors
from shopveil.learn._dpsgd import make_private
from shopveil.learn._dpsgd_budget import (
    DPSGDAccountant,
    DPSGDConfig,
    noise_multiplier_for,
    quiet_opacus,
    training_epsilon,
)
from shopveil.learn._interactions import Interactions, require_catalogue
from shopveil.learn._popularity import release_popularity
from shopveil.learn._recommender import FitContext

__all__ = ["DPMF", "FittedDPMF"]


@dataclass(frozen=True)
class DPMF:
    """Configuration of DP-SGD matrix factorization.

    Parameters
    ----------
    epsilon
        The target per customer, ``ApproxDP(ε, δ)``; δ well below 1/customers (e.g. 1e-6).
    dim
        Embedding dimension.
    epochs
        Expected passes over the customers.
    batch_size
        The size each noisy gradient sum is averaged over (public); about ``sample_rate ×``
        the customers expected.
    max_grad_norm
        Per-customer gradient clipping bound.
    learning_rate
        Adam's step size.
    dropout
        Fraction of a customer's input items dropped per step (denoising).
    popularity_share
        Fraction of the budget's ρ (:func:`~shopveil.dp.hazmat.max_zcdp_within`) spent on DP
        popularity; DP-SGD gets what is left.
    top_items
        How many of the most popular items (by DP popularity) the network scores.
    text_scale
        Length of each item's text vector at the start (0: random start).
    sample_rate
        Poisson sampling rate, ``1 / k`` (k steps an epoch), fixed in advance: derived from
        the number of customers it would reveal that number in the stored ε.

    The defaults were tuned on Online Retail (about 3,000 customers, 3,500 items) at
    ε = 0.5…8. At ε ≤ 8 there, most of the gain over DP popularity comes from the
    popularity release, the item selection and the text start; DP-SGD adds a little.
    """

    epsilon: ApproxDP
    dim: int = 128
    epochs: int = 15
    batch_size: int = 512
    max_grad_norm: float = 1.0
    learning_rate: float = 0.003
    dropout: float = 0.5
    popularity_share: float = 0.65
    top_items: int = 1500
    text_scale: float = 8.0
    sample_rate: float = 1 / 6

    def __post_init__(self) -> None:
        if not isinstance(self.epsilon, ApproxDP) or not (
            self.epsilon.epsilon > 0 and 0 < self.epsilon.delta < 1
        ):
            raise ParameterError(
                f"epsilon must be ApproxDP(ε > 0, 0 < δ < 1), got {self.epsilon!r}; "
                "e.g. epsilon=ApproxDP(1.0, 1e-6)"
            )
        for name in ("dim", "epochs", "batch_size", "top_items"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ParameterError(f"{name} must be an int >= 1, got {value!r}")
        for name in ("max_grad_norm", "learning_rate"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                raise ParameterError(f"{name} must be a number > 0, got {value!r}")
        if not 0 <= self.dropout < 1:
            raise ParameterError(f"dropout must be in [0, 1), got {self.dropout!r}")
        if not 0 < self.popularity_share < 1:
            raise ParameterError(
                f"popularity_share must be in (0, 1), got {self.popularity_share!r}"
            )
        if not (isinstance(self.text_scale, int | float) and self.text_scale >= 0):
            raise ParameterError(f"text_scale must be a number >= 0, got {self.text_scale!r}")
        self.sgd_config()  # checks sample_rate, and that DP-SGD is left a share

    def sgd_config(self) -> DPSGDConfig:
        """DP-SGD's part: the whole target, of which popularity's ρ is already spent."""
        rho = max_zcdp_within(self.epsilon).rho * self.popularity_share
        return DPSGDConfig(
            self.epsilon,
            self.epochs,
            self.max_grad_norm,
            accountant=DPSGDAccountant.RDP,
            composed_with=ZCDP(rho),
            sample_rate=self.sample_rate,
        )

    def plan(self) -> tuple[float, float, int, ApproxDP]:
        """Sampling rate, noise multiplier, steps and the (ε, δ) of the whole fit: all
        from the configuration, none from the data."""
        config = self.sgd_config()
        rate = 1.0 / round(1 / self.sample_rate)  # make_private's: 1 / batches
        sigma = noise_multiplier_for(config, rate)
        steps = int(config.epochs / rate)
        spent = training_epsilon(config, [(sigma, rate, steps)])
        return rate, sigma, steps, ApproxDP(spent, self.epsilon.delta)

    def fit(self, train: Interactions, context: FitContext) -> FittedDPMF:
        """Charge the ledger with the planned (ε, δ), release popularity, train."""
        train = context.consented(train)
        require_catalogue(train, "dp-mf")
        customers = len(train.active_users())
        if customers < 2:
            raise ParameterError(f"DP-SGD needs at least 2 customers with history, got {customers}")
        *_, cost = self.plan()
        train, _ = admit(train, context, cost, "dp-mf fit")
        rows = train.matrix()
        active = rows[np.diff(rows.indptr) > 0]
        bits = as_bits(context.rng)
        rho = self.sgd_config().composed_with
        assert rho is not None
        popularity = release_popularity(active, rho, bits)
        kept = np.sort(np.argsort(-popularity, kind="stable")[: min(self.top_items, train.n_items)])
        log_pop = np.log(np.maximum(popularity, 1.0))
        texts = None if train.item_text is None else [train.item_text[i] for i in kept]
        start = start_factors(len(kept), texts, self.dim, bits) if self.text_scale else None
        weights = _train(self, active[:, kept], log_pop[kept], start, bits)
        bias = log_pop - log_pop[kept].max() - 1.0  # unkept items rank below kept ones
        bias[kept] = weights[2]
        return FittedDPMF(kept, weights[0], weights[1], bias, privacy=cost)


def _model(config: DPMF, bias: np.ndarray, start: np.ndarray | None) -> Any:
    with from_extra("ml"):
        import torch

    n_items = len(bias)

    class MeanEmbeddingAutoencoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.drop = torch.nn.Dropout(config.dropout)
            self.embed = torch.nn.Linear(n_items, config.dim, bias=False)
            self.out = torch.nn.Linear(config.dim, n_items)
            with torch.no_grad():
                self.out.bias.copy_(torch.from_numpy(bias))
                if start is not None:
                    norms = np.linalg.norm(start, axis=1, keepdims=True)
                    unit = torch.from_numpy(start / np.maximum(norms, 1e-12))
                    self.embed.weight.copy_(unit.T)
                    self.out.weight.copy_(config.text_scale * unit)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = self.drop(x)
            h = self.embed(x / x.sum(dim=1, keepdim=True).clamp(min=1.0))
            return self.out(h)

    return MeanEmbeddingAutoencoder().float()


def _criterion() -> Any:
    with from_extra("ml"):
        import torch

    class MultinomialLoss(torch.nn.Module):
        """Per customer: minus the mean log-softmax of their bought items."""

        reduction = "mean"

        def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
            # A customer who bought no kept item still counts as an example, with loss 0.
            bought = target.sum(1).clamp(min=1.0)
            per_user = -(torch.log_softmax(logits, dim=1) * target).sum(1) / bought
            return per_user if self.reduction == "none" else per_user.mean()

    return MultinomialLoss()


def _train(
    config: DPMF,
    rows: sparse.csr_matrix,
    bias: np.ndarray,
    start: np.ndarray | None,
    bits: RandomBits,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """DP-SGD on the customers' rows over the kept items; the ledger is already charged."""
    with from_extra("ml"):
        import torch

    seed = int(bits.words(1)[0] >> np.uint64(1))
    with torch.random.fork_rng():
        torch.manual_seed(seed)  # dropout masks
        dense = torch.from_numpy(rows.toarray().astype(np.float32))
        loader = torch.utils.data.DataLoader(
            torch.utils.data.TensorDataset(dense), batch_size=config.batch_size
        )
        model = _model(config, bias.astype(np.float32), start)
        optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
        training = make_private(
            model, optimizer, loader, config=config.sgd_config(), charge=None,
            unit=CUSTOMER, rng=np.random.default_rng(seed),
            criterion=_criterion(), grad_sample_mode="ghost",
        )  # fmt: skip
        private, step, criterion = training.model, training.optimizer, training.criterion
        private.train()
        with quiet_opacus():
            for _ in range(config.epochs):
                for (batch,) in training.data_loader:
                    step.zero_grad()
                    if len(batch):
                        criterion(private(batch), batch).backward()
                    step.step()
            training.finish()  # raises if more steps ran than were paid for
        # Opacus's wrapper trains ``model``'s own parameters in place.
        return (
            model.embed.weight.detach().numpy().T.astype(np.float64),
            model.out.weight.detach().numpy().astype(np.float64),
            model.out.bias.detach().numpy().astype(np.float64),
        )


@dataclass(frozen=True)
class FittedDPMF:
    """Released state: the kept items, their embeddings and every item's bias."""

    kept: np.ndarray = field(repr=False)
    item_in: np.ndarray = field(repr=False)
    item_out: np.ndarray = field(repr=False)
    item_bias: np.ndarray = field(repr=False)
    privacy: ApproxDP | None = None
    name: str = "dp-mf"

    def arrays(self) -> dict[str, np.ndarray]:
        """The released arrays, for a model file (``FittedDPMF(**arrays, privacy=…)``)."""
        return {
            "kept": self.kept,
            "item_in": self.item_in,
            "item_out": self.item_out,
            "item_bias": self.item_bias,
        }

    def scores(self, users: np.ndarray, history: sparse.csr_matrix) -> np.ndarray:
        """``W · mean(E[history]) + b`` on kept items, ``b`` elsewhere; empty rows get ``b``."""
        history = sparse.csr_matrix(history, dtype=np.float64)
        if history.shape[0] != len(users):
            raise ParameterError(f"history has {history.shape[0]} rows for {len(users)} users")
        bought = (history[:, self.kept] > 0).astype(np.float64)
        lengths = np.maximum(np.asarray(bought.sum(axis=1)).ravel(), 1.0)
        profiles = (bought @ self.item_in) / lengths[:, None]
        out = np.tile(self.item_bias, (len(users), 1))
        out[:, self.kept] += profiles @ self.item_out.T
        return out
