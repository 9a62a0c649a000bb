"""DP-SGD's budget: what a training run must guarantee, and the noise that meets it.

:class:`DPSGDConfig` names the target ``ApproxDP(ε, δ)``, the epochs, the clipping norm
and Opacus's accountant; :func:`noise_multiplier_for` finds the least noise multiplier
that meets the target at a sampling rate, alone or composed in RDP with the ρ-zCDP of
other releases of the same fit (:func:`training_epsilon`). How the run is wrapped and
checked is :mod:`shopveil.learn._dpsgd`.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from shopveil._core.budgets import ZCDP, ApproxDP
from shopveil._core.extras import from_extra
from shopveil.dp.hazmat import DEFAULT_ORDERS, rdp_of_zcdp, rdp_to_approx_dp
from shopveil.errors import ParameterError

__all__ = [
    "DPSGDAccountant",
    "DPSGDConfig",
    "noise_multiplier_for",
    "quiet_opacus",
    "training_epsilon",
]


class DPSGDAccountant(StrEnum):
    """Opacus's accountant that sizes DP-SGD's noise."""

    PRV = "prv"  # tighter
    RDP = "rdp"  # composes with other releases (``DPSGDConfig.composed_with``)


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
        ``DPSGDAccountant.PRV`` (tighter) or ``RDP``; their names ``"prv"`` and
        ``"rdp"`` are accepted too.
    composed_with
        ρ-zCDP already spent by other releases of the same fit, which ``budget`` also
        covers (composed in RDP; needs the RDP accountant). None: DP-SGD alone.
    sample_rate
        Poisson sampling rate, ``1 / k`` for an integer k (k steps an epoch), fixed in
        advance so that nothing stored depends on the number of examples. None: ``1 /
        len(data_loader)``, which treats the number of examples as public.
    """

    budget: ApproxDP
    epochs: int
    max_grad_norm: float = 1.0
    accountant: DPSGDAccountant = DPSGDAccountant.PRV
    composed_with: ZCDP | None = None
    sample_rate: float | None = None

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
        try:
            object.__setattr__(self, "accountant", DPSGDAccountant(self.accountant))
        except ValueError:
            raise ParameterError(
                f"accountant must be one of {', '.join(DPSGDAccountant)}, got {self.accountant!r}"
            ) from None
        rate = self.sample_rate
        if rate is not None and not (
            not isinstance(rate, bool)
            and isinstance(rate, int | float)
            and 0 < rate <= 1
            and abs(1 / rate - round(1 / rate)) < 1e-9 * round(1 / rate)
        ):
            raise ParameterError(
                f"sample_rate must be 1/k for an integer k >= 1 (k batches an epoch), got "
                f"{rate!r}; e.g. 0.05 or 1/6"
            )
        other = self.composed_with
        if other is not None:
            if not isinstance(other, ZCDP) or not other.rho > 0:
                raise ParameterError(f"composed_with must be ZCDP(rho > 0), got {other!r}")
            if self.accountant is not DPSGDAccountant.RDP:
                raise ParameterError(
                    f"composed_with needs accountant='rdp', got {self.accountant.value!r}"
                )
            alone = rdp_to_approx_dp(rdp_of_zcdp(other), self.budget.delta)
            if alone.epsilon >= self.budget.epsilon:
                raise ParameterError(
                    f"composed_with={other} alone spends the whole budget {self.budget}; "
                    "give DP-SGD a share (lower the other releases' ρ)"
                )


def noise_multiplier_for(config: DPSGDConfig, sample_rate: float) -> float:
    """The smallest noise multiplier for which ``config``'s training meets its budget."""
    with from_extra("ml"):
        from opacus.accountants.utils import get_noise_multiplier

    if not 0 < sample_rate <= 1:
        raise ParameterError(f"sample_rate must be in (0, 1], got {sample_rate}")
    if config.composed_with is not None:
        return _composed_noise_multiplier(config, sample_rate)
    try:
        with quiet_opacus():
            sigma = get_noise_multiplier(
                target_epsilon=config.budget.epsilon,
                target_delta=config.budget.delta,
                sample_rate=sample_rate,
                epochs=config.epochs,
                accountant=config.accountant.value,
                epsilon_tolerance=0.005,
            )
    except ValueError as exc:
        raise ParameterError(
            f"no noise multiplier reaches {config.budget} in {config.epochs} epochs at "
            f"sample rate {sample_rate:g}: {exc}; raise epsilon or lower the epochs"
        ) from None
    return float(sigma)


def training_epsilon(config: DPSGDConfig, history: list[tuple[float, float, int]]) -> float:
    """ε (at the budget's δ) of DP-SGD steps ``(σ, q, steps)`` plus ``config.composed_with``."""
    with from_extra("ml"):
        from opacus.accountants.analysis.rdp import compute_rdp

    assert config.composed_with is not None
    curve = rdp_of_zcdp(config.composed_with)
    for sigma, rate, steps in history:
        curve = curve + np.asarray(
            compute_rdp(q=rate, noise_multiplier=sigma, steps=steps, orders=list(DEFAULT_ORDERS))
        )
    return rdp_to_approx_dp(curve, config.budget.delta).epsilon


@functools.lru_cache(maxsize=32)  # a fit plans, then make_private asks again
def _composed_noise_multiplier(config: DPSGDConfig, sample_rate: float) -> float:
    """The least σ (to 0.5%) whose RDP plus ``composed_with`` fits the budget (bisection)."""
    steps = int(config.epochs / sample_rate)

    def fits(sigma: float) -> bool:
        return training_epsilon(config, [(sigma, sample_rate, steps)]) <= config.budget.epsilon

    low, high = 0.0, 1.0
    while not fits(high):
        low, high = high, 2 * high
        if high > 1e6:
            raise ParameterError(
                f"no noise multiplier reaches {config.budget} in {config.epochs} epochs at "
                f"sample rate {sample_rate:g}; raise epsilon or lower the epochs"
            )
    while high - low > 5e-3 * high:
        mid = (low + high) / 2
        low, high = (low, mid) if fits(mid) else (mid, high)
    return high


@contextmanager
def quiet_opacus() -> Iterator[None]:
    """Silence the Opacus warnings that say nothing about a correct run.

    "Secure RNG turned off": the noise source is documented in :mod:`shopveil.learn._dpsgd`.
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
