"""DP-SGD with Opacus, paid for on the ledger before any training step runs.

:func:`make_private` takes the caller's model, optimizer and data loader, as Opacus's
``PrivacyEngine.make_private`` does, and gives back the same three, wrapped. Unlike
Opacus it takes a target ``ApproxDP(ε, δ)`` and an epoch count, and picks the smallest
noise multiplier that meets the target under Opacus's accountant (PRV by default, RDP
on request). The caller **charges the ledger first**, with every customer in the data
(:func:`shopveil.learn._charging.charge_customers`), builds the loader from the
customers who could afford it, and passes the charge in: a refused charge raises
:class:`~shopveil.errors.BudgetExceeded` before anything is wrapped, so nothing trains.
:meth:`PrivateTraining.finish` re-checks with the accountant that the steps actually
taken stayed within the charge, and returns the :class:`PrivacyMetadata` to save.

A fit that also releases Gaussian statistics from the same data (e.g. DP popularity
before training) names their cost in ``DPSGDConfig.composed_with`` (ρ-zCDP): the noise
multiplier is then the smallest for which DP-SGD's RDP curve plus ``ρα`` converts to
within the budget (RDP accountant only), and the budget charged covers both.

Privacy unit. The guarantee is per *example* under Poisson subsampling (add/remove one
example). It is a per-customer guarantee only when each customer is at most one example
(true for the customer models here: one row of features per customer); the caller
names the unit and is responsible for that.

Sampling rate. Opacus derives it from the data, ``1 / ⌈n / batch⌉``, so the charged ε,
the noise multiplier and the stored ``sample_rate`` reveal the number of examples n.
``DPSGDConfig.sample_rate`` fixes it instead (``1 / k``: k Poisson batches an epoch,
whatever n is), and the noisy gradient sum is averaged over the loader's declared batch
size rather than over ``n × rate``; every private trainer here sets it. Left None,
``make_private`` treats n as public, as Opacus does.

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

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from shopveil._core.extras import from_extra
from shopveil._core.rng import secure_rng
from shopveil._core.units import PrivacyUnit
from shopveil.dp import Charge
from shopveil.errors import ParameterError, PrivacyError
from shopveil.learn._dpsgd_budget import (
    DPSGDConfig,
    noise_multiplier_for,
    quiet_opacus,
    training_epsilon,
)
from shopveil.learn._model_file import PrivacyMetadata

if TYPE_CHECKING:
    import torch
    from opacus import PrivacyEngine
    from torch.utils.data import DataLoader

__all__ = ["PrivateTraining", "make_private"]


@dataclass(frozen=True, eq=False)
class PrivateTraining:
    """The wrapped model, optimizer and data loader, and what the run was charged.

    ``criterion`` is the wrapped loss under ghost clipping (call ``.backward()`` on what
    it returns), else None; ``charge`` is None when no ledger was given.
    """

    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    data_loader: DataLoader[Any]
    engine: PrivacyEngine
    config: DPSGDConfig
    noise_multiplier: float
    sample_rate: float
    charge: Charge | None
    unit: PrivacyUnit
    window: tuple[datetime | None, datetime | None]
    criterion: Any = None

    def spent(self) -> float:
        """ε spent so far (at the charged δ), by the accountant, over the steps taken
        (with ``config.composed_with``)."""
        if self.config.composed_with is not None:
            return training_epsilon(self.config, list(self.engine.accountant.history))
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
            unit=self.unit.key,
            window_start=self.window[0],
            window_end=self.window[1],
            dataset=None if self.charge is None else self.charge.dataset,
            params={
                "noise_multiplier": self.noise_multiplier,
                "max_grad_norm": float(self.config.max_grad_norm),
                "epochs": self.config.epochs,
                "sample_rate": self.sample_rate,
                "accountant": self.config.accountant.value,
                "epsilon_spent": spent,
                "request_id": None if self.charge is None else self.charge.request_id,
            },
        )


def make_private(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    data_loader: DataLoader[Any],
    *,
    config: DPSGDConfig,
    charge: Charge | None,
    unit: PrivacyUnit,
    window: tuple[datetime | None, datetime | None] = (None, None),
    rng: np.random.Generator | None = None,
    criterion: torch.nn.Module | None = None,
    grad_sample_mode: str = "hooks",
) -> PrivateTraining:
    """Wrap the three objects for DP-SGD under ``config.budget``, already charged.

    Parameters
    ----------
    model, optimizer, data_loader
        As for plain training; its batches become Poisson samples. With
        ``config.sample_rate`` the loader's batch size is the (public) size the noisy
        gradient sum is averaged over; without it the sample rate is
        ``1 / len(data_loader)``.
    config
        Target budget, epochs, clipping norm, accountant.
    charge, unit
        The charge that paid ``config.budget`` for everyone in the loader, and their
        unit; recorded in the metadata. None: nothing was charged (experiments, or a
        fit that charged its whole budget itself; the caller accounts for the run).
    window
        The training data window, recorded in the metadata.
    rng
        Seeds the noise and the sampling; the default is a CSPRNG.
    criterion, grad_sample_mode
        As for Opacus; ``"ghost"`` clipping (which needs the per-example loss
        ``criterion``) gets per-example gradient norms without materializing the
        per-example gradients: two backward passes, far less memory for wide layers.

    """
    with from_extra("ml"):
        import torch
        from opacus import PrivacyEngine
        from opacus.data_loader import DPDataLoader
        from opacus.validators import ModuleValidator

    if not isinstance(config, DPSGDConfig):
        raise ParameterError("config must be a DPSGDConfig")
    if grad_sample_mode not in ("hooks", "ghost") or (
        (grad_sample_mode == "ghost") != (criterion is not None)
    ):
        raise ParameterError(
            f"grad_sample_mode must be 'hooks' (no criterion) or 'ghost' (with a criterion), "
            f"got {grad_sample_mode!r} with criterion={criterion!r}"
        )
    if len(data_loader) < 1:
        raise ParameterError("data_loader is empty; DP-SGD needs at least one example")
    fixed = config.sample_rate is not None
    if fixed and not data_loader.batch_size:
        raise ParameterError(
            "with config.sample_rate the data_loader needs a batch_size (the size the noisy "
            "gradient sum is averaged over), e.g. DataLoader(data, batch_size=256)"
        )
    batches = round(1 / config.sample_rate) if config.sample_rate else len(data_loader)
    problems = ModuleValidator.validate(model, strict=False)
    if problems:
        raise ParameterError(
            f"Opacus cannot train this model privately ({problems[0]}); fix it first, e.g. "
            "opacus.validators.ModuleValidator.fix(model). Nothing was charged"
        )
    sample_rate = 1.0 / batches
    sigma = noise_multiplier_for(config, sample_rate)
    seeds = (rng if rng is not None else secure_rng()).integers(0, 2**63, size=2)
    sampling = torch.Generator().manual_seed(int(seeds[0]))
    noise = torch.Generator().manual_seed(int(seeds[1]))
    if fixed:
        poisson = DPDataLoader(
            data_loader.dataset, sample_rate=sample_rate, collate_fn=data_loader.collate_fn,
            generator=sampling,
        )  # fmt: skip
        # Opacus accounts 1 / len(loader); int(1 / (1 / k)) can be k - 1 in floating point.
        poisson.batch_sampler.steps = batches
    else:
        poisson = DPDataLoader.from_data_loader(data_loader, generator=sampling)
    with quiet_opacus():
        engine = PrivacyEngine(accountant=config.accountant.value)
    wrapped = engine.make_private(
        module=model,
        optimizer=optimizer,
        data_loader=poisson,
        noise_multiplier=sigma,
        max_grad_norm=float(config.max_grad_norm),
        poisson_sampling=False,  # already Poisson, with our generator
        noise_generator=noise,
        criterion=criterion if criterion is not None else torch.nn.CrossEntropyLoss(),
        grad_sample_mode=grad_sample_mode,
    )
    private_model, private_optimizer, private_loader = wrapped[0], wrapped[1], wrapped[-1]
    if fixed:
        # Opacus averages over len(dataset) × rate, a function of the data; the declared
        # batch size is not.
        private_optimizer.expected_batch_size = data_loader.batch_size
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
        criterion=wrapped[2] if grad_sample_mode == "ghost" else None,
    )
