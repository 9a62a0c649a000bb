"""Churn and lifetime-value models on RFM features, trained plainly or with DP-SGD.

A model is a logistic (churn) or linear (CLV, on ``log1p`` revenue) layer, or a
one-hidden-layer MLP, in torch. Features pass through ``log1p`` and are then centred and
scaled. How the centre and scale are chosen is where a private model must not leak:

* non-private models standardize with the data's own means and standard deviations;
* DP models use the *declared* caps of :data:`~shopveil.learn._features.FEATURE_CAPS`:
  ``log1p(clamp(x, 0, cap))`` centred on ``log1p(cap)/2`` and divided by ``log1p(cap)``,
  so no statistic of the data enters the model outside DP-SGD and no budget is spent
  on normalization. The CLV target is clamped and scaled the same way.

One customer is one training example, so DP-SGD's per-example guarantee is a
per-customer guarantee (unit ``customer:<id column>``).
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from shopveil._core.extras import from_extra
from shopveil._core.rng import secure_rng
from shopveil._core.subjects import SubjectFilter
from shopveil._core.units import PerCustomer
from shopveil.dp import Ledger
from shopveil.errors import ParameterError
from shopveil.learn._charging import CUSTOMER, charge_customers, consenting
from shopveil.learn._dpsgd import make_private
from shopveil.learn._dpsgd_budget import DPSGDConfig, quiet_opacus
from shopveil.learn._features import FEATURE_CAPS, CustomerFeatures
from shopveil.learn._model_file import PrivacyMetadata, load_model, save_model

__all__ = ["TASKS", "CustomerModel", "CustomerModelConfig", "train_customer_model"]

TASKS = ("churn", "clv")
_REVENUE_CAP = FEATURE_CAPS["monetary"]


@dataclass(frozen=True)
class CustomerModelConfig:
    """The model and its optimization; the same for plain and DP training.

    Parameters
    ----------
    task
        ``"churn"`` (binary, 1 = churned) or ``"clv"`` (next-horizon revenue).
    hidden
        Hidden units; 0 for a single linear layer.
    epochs, batch_size, learning_rate
        Adam over shuffled (DP: Poisson-sampled) batches.
    """

    task: str = "churn"
    hidden: int = 0
    epochs: int = 20
    batch_size: int = 256
    learning_rate: float = 0.05

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ParameterError(f"task must be one of {TASKS}, got {self.task!r}")
        for name, low in (("hidden", 0), ("epochs", 1), ("batch_size", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ParameterError(f"{name} must be an int >= {low}, got {value!r}")
        rate = self.learning_rate
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 < rate < math.inf:
            raise ParameterError(f"learning_rate must be finite and > 0, got {rate!r}")


@dataclass(frozen=True, eq=False)
class CustomerModel:
    """A trained churn or CLV model with its feature scaling and privacy metadata."""

    config: CustomerModelConfig
    names: tuple[str, ...]
    caps: np.ndarray
    center: np.ndarray
    scale: np.ndarray
    network: Any = field(repr=False)  # torch.nn.Module; torch is imported lazily
    privacy: PrivacyMetadata
    train_seconds: float = math.nan

    def predict(self, features: CustomerFeatures) -> np.ndarray:
        """Churn probability, or predicted revenue over the horizon, per customer."""
        with from_extra("ml"):
            import torch

        if tuple(features.names) != self.names:
            raise ParameterError(
                f"features have columns {features.names}, model needs {self.names}"
            )
        inputs = torch.from_numpy(_transform(features.values, self.caps, self.center, self.scale))
        with torch.no_grad():
            out = self.network(inputs).squeeze(1).double().numpy()
        if self.config.task == "churn":
            return np.asarray(1 / (1 + np.exp(-out)))
        return np.asarray(np.expm1(np.clip(out, 0, 1) * math.log1p(_REVENUE_CAP)))

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the model, its scaling and its privacy metadata to one file."""
        arrays = {f"net.{k}": v.detach().numpy() for k, v in self.network.state_dict().items()}
        arrays |= {"caps": self.caps, "center": self.center, "scale": self.scale}
        config = {
            "task": self.config.task,
            "hidden": self.config.hidden,
            "epochs": self.config.epochs,
            "batch_size": self.config.batch_size,
            "learning_rate": self.config.learning_rate,
            "names": list(self.names),
        }
        save_model(path, kind="customer-model", arrays=arrays, privacy=self.privacy, config=config)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> CustomerModel:
        """Read a model written by :meth:`save`."""
        with from_extra("ml"):
            import torch

        stored = load_model(path, kind="customer-model")
        settings = dict(stored.config)
        names = tuple(settings.pop("names"))
        config = CustomerModelConfig(**settings)
        network = _network(len(names), config.hidden)
        state = {
            k.removeprefix("net."): torch.from_numpy(np.array(v))
            for k, v in stored.arrays.items()
            if k.startswith("net.")
        }
        network.load_state_dict(state)
        return cls(
            config, names, stored.arrays["caps"], stored.arrays["center"],
            stored.arrays["scale"], network, stored.privacy,
        )  # fmt: skip


def train_customer_model(
    features: CustomerFeatures,
    targets: np.ndarray,
    *,
    config: CustomerModelConfig,
    privacy: DPSGDConfig | None = None,
    ledger: Ledger | None = None,
    dataset: str = "",
    request_id: str = "",
    unit: PerCustomer = CUSTOMER,
    rng: np.random.Generator | None = None,
    subjects: SubjectFilter | None = None,
) -> CustomerModel:
    """Train a churn or CLV model, privately when ``privacy`` is given.

    Parameters
    ----------
    features
        One row per customer (the privacy unit: one customer, one example).
    targets
        Churn labels (0/1) or next-horizon revenue, aligned with ``features``.
    privacy
        DP-SGD settings, with a fixed ``sample_rate`` (``config.batch_size`` is then what
        each noisy gradient sum is averaged over); with it, ``ledger``, ``dataset`` and
        ``request_id`` are required, every customer in ``features`` is charged before
        training, and those who cannot afford it are left out of the training data.
    rng
        Initial weights, batches and DP noise; the default is a CSPRNG.
    subjects
        The consent register's answer for personalization: the customers it does not
        allow are removed first (never charged, never trained on).

    Raises
    ------
    BudgetExceeded
        The ledger refused the charge; nothing was trained.
    """
    with from_extra("ml"):
        import torch

    y = _targets(config.task, targets, len(features))
    allowed = consenting(subjects, features.customers)
    features, y = features.of_customers(allowed), y[allowed]
    rng = rng if rng is not None else secure_rng()
    names = tuple(features.names)
    if privacy is None:
        caps = np.full(len(names), np.inf)
        logged = np.log1p(np.clip(features.values, 0, None))
        center, scale = logged.mean(axis=0), logged.std(axis=0)
        scale = np.where(scale > 0, scale, 1.0)
    else:
        if ledger is None or not dataset or not request_id:
            raise ParameterError("private training needs ledger=, dataset= and request_id=")
        if privacy.sample_rate is None:
            raise ParameterError(
                "privacy.sample_rate must be fixed for a customer model: derived from the "
                "number of customers it would reveal that number in the stored ε; e.g. "
                "DPSGDConfig(..., sample_rate=1/12)"
            )
        charge, keep = charge_customers(
            ledger, request_id, dataset, unit, privacy.budget, features.customers,
            what=f"{config.task} model, DP-SGD", subjects=subjects,
        )  # fmt: skip
        features, y = features.of_customers(keep), y[keep]
        caps = np.array([FEATURE_CAPS[n] for n in names], dtype=np.float64)
        center, scale = np.log1p(caps) / 2, np.log1p(caps)
    torch.manual_seed(int(rng.integers(0, 2**63)))  # initial weights only
    network = _network(len(names), config.hidden)
    inputs = torch.from_numpy(_transform(features.values, caps, center, scale))
    dataset_t = torch.utils.data.TensorDataset(inputs, torch.from_numpy(y))
    shuffle = torch.Generator().manual_seed(int(rng.integers(0, 2**63)))
    loader = torch.utils.data.DataLoader(
        dataset_t, batch_size=config.batch_size, shuffle=True, generator=shuffle
    )
    optimizer: Any = torch.optim.Adam(network.parameters(), lr=config.learning_rate)
    model: Any = network
    metadata = PrivacyMetadata(
        mechanism="none",
        budget=None,
        unit=unit.key,
        window_start=features.window_start,
        window_end=features.window_end,
    )
    training = None
    if privacy is not None:
        assert ledger is not None
        if privacy.epochs != config.epochs:
            raise ParameterError(
                f"privacy.epochs={privacy.epochs} must equal config.epochs={config.epochs}"
            )
        training = make_private(
            network, optimizer, loader, config=privacy, charge=charge, unit=unit, rng=rng,
            window=(features.window_start, features.window_end),
        )  # fmt: skip
        model, optimizer, loader = training.model, training.optimizer, training.data_loader
    loss_fn = _loss(config.task)
    start = time.perf_counter()
    model.train()
    with quiet_opacus():
        for _ in range(config.epochs):
            for batch_x, batch_y in loader:
                optimizer.zero_grad(set_to_none=True)
                loss_fn(model(batch_x).squeeze(1), batch_y).backward()
                optimizer.step()
    seconds = time.perf_counter() - start
    network.eval()
    if training is not None:
        metadata = training.finish()
    return CustomerModel(config, names, caps, center, scale, network, metadata, seconds)


def _network(inputs: int, hidden: int) -> Any:
    with from_extra("ml"):
        import torch

    if hidden == 0:
        return torch.nn.Sequential(torch.nn.Linear(inputs, 1))
    return torch.nn.Sequential(
        torch.nn.Linear(inputs, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 1)
    )


def _loss(task: str) -> Any:
    with from_extra("ml"):
        import torch

    return torch.nn.BCEWithLogitsLoss() if task == "churn" else torch.nn.MSELoss()


def _transform(
    values: np.ndarray, caps: np.ndarray, center: np.ndarray, scale: np.ndarray
) -> np.ndarray:
    logged = np.log1p(np.clip(values, 0, caps))
    return np.ascontiguousarray((logged - center) / scale, dtype=np.float32)


def _targets(task: str, targets: np.ndarray, rows: int) -> np.ndarray:
    if rows < 2:
        raise ParameterError(f"training needs at least 2 customers with history, got {rows}")
    y = np.asarray(targets, dtype=np.float64)
    if y.shape != (rows,):
        raise ParameterError(f"targets must have shape ({rows},), got {y.shape}")
    if not np.all(np.isfinite(y)):
        raise ParameterError("targets hold NaN or infinite values")
    if task == "churn":
        if not np.all((y == 0) | (y == 1)):
            raise ParameterError("churn targets must be 0 or 1")
        return y.astype(np.float32)
    # Revenue → log1p, clamped to a declared cap and scaled into [0, 1].
    scaled = np.log1p(np.clip(y, 0, _REVENUE_CAP)) / math.log1p(_REVENUE_CAP)
    return scaled.astype(np.float32)
