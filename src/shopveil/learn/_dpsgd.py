"""DP-SGD with Opacus, paid for on the ledger before any training step runs.

:func:`make_private` takes the caller's model, optimizer and data loader, as Opacus's
``PrivacyEngine.make_private`` does, and gives back the same three, wrapped. Unlike
Opacus it takes a target ``ApproxDP(ε, δ)`` and an epoch count, picks the smallest noise
multiplier that meets the target under Opacus's accountant (PRV by default, RDP on
request), and **charges the ledger first**: a refused charge raises
:class:`~shopveil.errors.BudgetExceeded` before anything is wrapped, so nothing trains.
:meth:`PrivateTraining.finish` re-checks with the accountant that the steps actually
taken stayed within the charge, and returns the :class:`PrivacyMetadata` to save.

Privacy unit. The guarantee is per *example* under Poisson subsampling (add/remove one
example). It is a per-customer guarantee only when each customer is at most one example
(true for the customer models here: one row of features per customer); the caller
names the unit and is responsible for that. The dataset size (hence the sample rate) is
treated as public, as in Opacus.

Noise. Opacus draws the Gaussian noise and the Poisson batches with ``torch.normal`` /
``torch.rand``, not with an exact sampler. Its ``secure_mode=True`` needs the
``torchcsprng`` package, which is archived and not installable for torch 2.13, so it is
not used. Instead the noise and the sampling use a ``torch.Generator`` seeded with 64
bits from the OS CSPRNG (or from the caller's ``rng`` in experiments), and the
optimizer's floating-point mitigation (the sum of four draws, Holohan & Braghin 2021,
which Opacus runs under ``secure_mode``) is switched on. torch's generator is a Mersenne
Twister, not a cryptographic generator: this is standard Opacus practice, not the exact,
floating-point-safe noise the rest of ShopVeil releases.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from shopveil._core.budgets import ApproxDP, Budget
from shopveil._core.rng import secure_rng
from shopveil.dp._ledger import Charge, Ledger
from shopveil.errors import ParameterError, PrivacyError
from shopveil.learn._model_file import PrivacyMetadata

if TYPE_CHECKING:
    import torch
    from opacus import PrivacyEngine
    from torch.utils.data import DataLoader

__all__ = [
    "ACCOUNTANTS",
    "DPSGDConfig",
    "PrivateTraining",
    "charge_training",
    "make_private",
    "noise_multiplier_for",
    "quiet_opacus",
]

ACCOUNTANTS = ("prv", "rdp")


@dataclass(frozen=True)
class DPSGDConfig:
    """What DP-SGD must guarantee and how long it trains.

    Parameters
    ----------
    budget
        The target ``ApproxDP(ε, δ)`` for the whole training run.
    epochs
        Passes over the data (each of ``1 / sample_rate`` Poisson-sampled steps).
    max_grad_norm
        Per-example gradient clipping norm C.
    accountant
        ``"prv"`` (tighter) or ``"rdp"``.
    """

    budget: ApproxDP
    epochs: int
    max_grad_norm: float = 1.0
    accountant: str = "prv"

    def __post_init__(self) -> None:
        if not isinstance(self.budget, ApproxDP) or self.budget.epsilon <= 0:
            raise ParameterError(
                f"budget must be ApproxDP with epsilon > 0, got {self.budget!r}; "
                "e.g. ApproxDP(3.0, 1e-5)"
            )
        if not 0 < self.budget.delta < 1:
            raise ParameterError(
                f"DP-SGD needs delta in (0, 1), got {self.budget.delta}; use e.g. 1/n²"
            )
        if isinstance(self.epochs, bool) or not isinstance(self.epochs, int) or self.epochs < 1:
            raise ParameterError(f"epochs must be an int >= 1, got {self.epochs!r}")
        norm = self.max_grad_norm
        if isinstance(norm, bool) or not isinstance(norm, int | float) or not 0 < norm < math.inf:
            raise ParameterError(f"max_grad_norm must be finite and > 0, got {norm!r}")
        if self.accountant not in ACCOUNTANTS:
            raise ParameterError(
                f"accountant must be one of {ACCOUNTANTS}, got {self.accountant!r}"
            )


def noise_multiplier_for(config: DPSGDConfig, sample_rate: float) -> float:
    """The smallest noise multiplier for which ``config``'s training meets its budget."""
    from opacus.accountants.utils import get_noise_multiplier

    if not 0 < sample_rate <= 1:
        raise ParameterError(f"sample_rate must be in (0, 1], got {sample_rate}")
    try:
        with quiet_opacus():
            sigma = get_noise_multiplier(
                target_epsilon=config.budget.epsilon,
                target_delta=config.budget.delta,
                sample_rate=sample_rate,
                epochs=config.epochs,
                accountant=config.accountant,
                epsilon_tolerance=0.005,
            )
    except ValueError as exc:
        raise ParameterError(
            f"no noise multiplier reaches {config.budget} in {config.epochs} epochs at "
            f"sample rate {sample_rate:g}: {exc}; raise epsilon or lower the epochs"
        ) from None
    return float(sigma)


@dataclass(frozen=True, eq=False)
class PrivateTraining:
    """The wrapped model, optimizer and data loader, and what the run was charged."""

    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    data_loader: DataLoader[Any]
    engine: PrivacyEngine
    config: DPSGDConfig
    noise_multiplier: float
    sample_rate: float
    charge: Charge
    unit: str
    window: tuple[datetime | None, datetime | None]

    def spent(self) -> float:
        """ε spent so far (at the charged δ), by the accountant, over the steps taken."""
        return float(self.engine.get_epsilon(self.config.budget.delta))

    def finish(self) -> PrivacyMetadata:
        """Check the steps taken stayed within the charge; the metadata to save.

        Raises :class:`PrivacyError` if the model was trained for more steps than were
        paid for: it must not be released.
        """
        with quiet_opacus():
            spent = self.spent()
        if spent > self.config.budget.epsilon * (1 + 1e-3):
            raise PrivacyError(
                f"training spent ε={spent:.4g} but ε={self.config.budget.epsilon:g} was "
                f"charged (more than {self.config.epochs} epochs were run); do not release "
                "this model, train again with the steps the charge covers"
            )
        return PrivacyMetadata(
            mechanism="dp-sgd",
            budget=self.config.budget,
            unit=self.unit,
            window_start=self.window[0],
            window_end=self.window[1],
            dataset=self.charge.dataset,
            params={
                "noise_multiplier": self.noise_multiplier,
                "max_grad_norm": float(self.config.max_grad_norm),
                "epochs": self.config.epochs,
                "sample_rate": self.sample_rate,
                "accountant": self.config.accountant,
                "epsilon_spent": spent,
                "request_id": self.charge.request_id,
            },
        )


def make_private(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    data_loader: DataLoader[Any],
    *,
    config: DPSGDConfig,
    ledger: Ledger,
    dataset: str,
    unit: str,
    request_id: str,
    window: tuple[datetime | None, datetime | None] = (None, None),
    what: str = "dp-sgd training",
    rng: np.random.Generator | None = None,
) -> PrivateTraining:
    """Charge ``config.budget`` on ``ledger``, then wrap the three objects for DP-SGD.

    Parameters
    ----------
    model, optimizer, data_loader
        As for plain training; the loader's batch size sets the expected batch size
        (sample rate ``1 / len(data_loader)``), and its batches become Poisson samples.
    config
        Target budget, epochs, clipping norm, accountant.
    ledger, dataset, unit, request_id
        The account charged, and the charge's id (one id pays for one run: a second
        run under it raises :class:`PrivacyError`).
    window
        The training data window, recorded in the metadata.
    rng
        Seeds the noise and the sampling; the default is a CSPRNG.

    Raises
    ------
    BudgetExceeded
        The ledger refused the charge; nothing was wrapped and nothing may train.
    PrivacyError
        ``request_id`` was charged before.
    """
    import torch
    from opacus import PrivacyEngine
    from opacus.data_loader import DPDataLoader
    from opacus.validators import ModuleValidator

    if not isinstance(config, DPSGDConfig):
        raise ParameterError("config must be a DPSGDConfig")
    batches = len(data_loader)
    if batches < 1:
        raise ParameterError("data_loader is empty; DP-SGD needs at least one example")
    problems = ModuleValidator.validate(model, strict=False)
    if problems:
        raise ParameterError(
            f"Opacus cannot train this model privately ({problems[0]}); fix it first, e.g. "
            "opacus.validators.ModuleValidator.fix(model). Nothing was charged"
        )
    sample_rate = 1.0 / batches
    sigma = noise_multiplier_for(config, sample_rate)
    charge = charge_training(
        ledger, request_id, dataset, unit, config.budget, what=f"{what}: σ={sigma:.4g}"
    )
    seeds = (rng if rng is not None else secure_rng()).integers(0, 2**63, size=2)
    sampling = torch.Generator().manual_seed(int(seeds[0]))
    noise = torch.Generator().manual_seed(int(seeds[1]))
    poisson = DPDataLoader.from_data_loader(data_loader, generator=sampling)
    with quiet_opacus():
        engine = PrivacyEngine(accountant=config.accountant)
    wrapped = engine.make_private(
        module=model,
        optimizer=optimizer,
        data_loader=poisson,
        noise_multiplier=sigma,
        max_grad_norm=float(config.max_grad_norm),
        poisson_sampling=False,  # already Poisson, with our generator
        noise_generator=noise,
    )
    private_model, private_optimizer, private_loader = wrapped[0], wrapped[1], wrapped[-1]
    # Opacus's floating-point mitigation; it only runs it under secure_mode, which needs
    # torchcsprng (see the module docstring).
    private_optimizer.secure_mode = True
    return PrivateTraining(
        model=private_model,
        optimizer=private_optimizer,
        data_loader=private_loader,
        engine=engine,
        config=config,
        noise_multiplier=sigma,
        sample_rate=sample_rate,
        charge=charge,
        unit=unit,
        window=window,
    )


def charge_training(
    ledger: Ledger, request_id: str, dataset: str, unit: str, cost: Budget, *, what: str
) -> Charge:
    """Charge a training run; a request id charged before is refused, not replayed.

    A query's retry gets its stored answer back; a model is not stored in the ledger, so
    training again under a paid request id would release a second, fresh model for one
    charge. Raises :class:`PrivacyError` then, and :class:`BudgetExceeded` on refusal.
    """
    charge = ledger.charge(request_id, dataset, unit, cost, what=what[:500])
    if charge.replayed:
        raise PrivacyError(
            f"request id {request_id!r} already paid for a trained model; load that model, "
            "or train again under a new request id (which is charged again)"
        )
    return charge


@contextmanager
def quiet_opacus() -> Iterator[None]:
    """Silence the Opacus warnings that say nothing about a correct run.

    "Secure RNG turned off": the noise source is documented in the module docstring.
    "Optimal order is the largest alpha": the RDP bound is then looser, never unsafe.
    "Full backward hook is firing ...": Opacus's per-example gradient hooks on a first
    layer, whose input needs no gradient; the hooks still see every example.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Secure RNG turned off", category=UserWarning)
        warnings.filterwarnings(
            "ignore", message="Optimal order is the largest", category=UserWarning
        )
        warnings.filterwarnings(
            "ignore", message="Full backward hook is firing", category=UserWarning
        )
        yield
