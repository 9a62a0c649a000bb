"""The mechanisms ``shopveil attack audit`` knows how to run on neighbouring inputs.

Each target draws outputs of a real ShopVeil release on two inputs that differ in one
person, and states the claim the release makes there:

* ``laplace``: :func:`~shopveil.dp.laplace_for` on a real value (grid), sensitivity 1;
* ``geometric``: the same on integers (discrete Laplace, the two-sided geometric);
* ``gaussian``: :func:`~shopveil.dp.gaussian_for` at ρ = ε²/2, sensitivity 1, audited
  as μ-GDP with the claimed μ = √(2ρ) from its privacy map;
* ``query``: ``SELECT COUNT(*)`` through the DP query engine (:func:`~shopveil.dp.run_query`),
  one row per person, on 10 rows and on 11;
* ``dp-popularity``, ``dp-als``, ``dp-cobuy``: private recommenders fitted with and
  without a canary customer who alone bought one item; the statistic is that item's
  released count (:mod:`shopveil.attacks._audit_models`). ``dp-als`` and ``dp-cobuy``
  are audited as μ-GDP (``epsilon`` is μ, ρ = μ²/2), like ``gaussian``.

* ``dp-sgd``: one full-batch step of :func:`~shopveil.learn.make_private` at
  ``ApproxDP(ε, 10⁻⁵)``, with and without a canary example; audited as μ-GDP against
  the μ = 1/σ its noise multiplier claims for that step.

``broken=True`` halves the noise of the three mechanisms, of ``dp-als``, ``dp-cobuy``
and ``dp-sgd`` while keeping their claim: what an audit must catch. Private fits and
queries charge a scratch ledger that lives as long as the audit; nothing is released
but the bound.
"""

from __future__ import annotations

import math
import secrets
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import numpy as np
import pyarrow as pa

from shopveil._core.budgets import ZCDP, ApproxDP, PureDP
from shopveil._core.units import PerRow
from shopveil.attacks._audit import AuditResult, Measure, audit_samples
from shopveil.attacks._audit_models import dpsgd_draw, recommender_draw
from shopveil.dp import (
    Ledger,
    Measurement,
    PeopleKey,
    QueryOptions,
    gaussian_for,
    laplace_for,
    make_gaussian,
    make_laplace,
    run_query,
)
from shopveil.errors import ParameterError
from shopveil.store import Store

__all__ = ["AuditConfig", "AuditTarget", "run_audit"]

Draw = Callable[[int, int], np.ndarray]


class AuditTarget(StrEnum):
    """What an audit runs."""

    LAPLACE = "laplace"
    GEOMETRIC = "geometric"
    GAUSSIAN = "gaussian"
    QUERY = "query"
    DP_POPULARITY = "dp-popularity"
    DP_ALS = "dp-als"
    DP_COBUY = "dp-cobuy"
    DP_SGD = "dp-sgd"


_MECHANISMS = (AuditTarget.LAPLACE, AuditTarget.GEOMETRIC, AuditTarget.GAUSSIAN)
_BREAKABLE = (*_MECHANISMS, AuditTarget.DP_ALS, AuditTarget.DP_COBUY, AuditTarget.DP_SGD)
_RECOMMENDERS = (AuditTarget.DP_POPULARITY, AuditTarget.DP_ALS, AuditTarget.DP_COBUY)


@dataclass(frozen=True)
class AuditConfig:
    """One audit.

    Parameters
    ----------
    target
        The mechanism to audit.
    epsilon
        Its ε (for ``gaussian``, ``dp-als`` and ``dp-cobuy``, μ: ρ = ε²/2; for ``dp-sgd``
        the ε of its (ε, 10⁻⁵) target).
    trials
        Draws on each of the two inputs.
    broken
        Halve the noise and keep the claim (``laplace``, ``geometric``, ``gaussian``,
        ``dp-als``, ``dp-cobuy``, ``dp-sgd``).
    alpha
        The bound holds with confidence 1 − alpha.
    """

    target: AuditTarget
    epsilon: float = 1.0
    trials: int = 20_000
    broken: bool = False
    alpha: float = 0.05

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "target", AuditTarget(self.target))
        except ValueError:
            names = ", ".join(t.value for t in AuditTarget)
            raise ParameterError(
                f"unknown audit target {self.target!r}; choose one of {names}"
            ) from None
        e = self.epsilon
        if isinstance(e, bool) or not isinstance(e, int | float) or not 0 < e < math.inf:
            raise ParameterError(f"epsilon must be a finite number > 0, got {e!r}; e.g. 1")
        if isinstance(self.trials, bool) or not isinstance(self.trials, int) or self.trials < 40:
            raise ParameterError(f"trials must be an int >= 40, got {self.trials!r}; e.g. 20000")
        if self.broken and self.target not in _BREAKABLE:
            names = ", ".join(t.value for t in _BREAKABLE)
            raise ParameterError(f"broken (halved noise) applies to {names}, not {self.target}")
        if not 0 < self.alpha < 1:
            raise ParameterError(f"alpha must be in (0, 1), got {self.alpha!r}; e.g. 0.05")


def _halved(m: Measurement) -> Measurement:
    make = make_laplace if m.name == "laplace" else make_gaussian
    return make(m.scale / 2, granularity=m.granularity)


def _mechanism(config: AuditConfig) -> tuple[Draw, Measure, float, float]:
    eps = config.epsilon
    if config.target is AuditTarget.GAUSSIAN:
        claim = gaussian_for(ZCDP(eps**2 / 2), 1.0, integer=False)
        rho = claim.map(1.0)
        assert isinstance(rho, ZCDP)
        claimed, measure, inputs = math.sqrt(2 * rho.rho), Measure.MU, (0.0, 1.0)
    else:
        integer = config.target is AuditTarget.GEOMETRIC
        claim = laplace_for(PureDP(eps), 1.0, integer=integer)
        spent = claim.map(1.0)
        assert isinstance(spent, PureDP)
        claimed, measure = spent.epsilon, Measure.EPSILON
        inputs = (0, 1) if integer else (0.0, 1.0)
    used = _halved(claim) if config.broken else claim

    def draw(which: int, n: int) -> np.ndarray:
        return np.asarray(used(np.full(n, inputs[which])), dtype=np.float64)

    return draw, measure, claimed, 0.0


@contextmanager
def _scratch_ledger(total: ApproxDP | ZCDP) -> Iterator[Ledger]:
    with tempfile.TemporaryDirectory(prefix="shopveil-audit-") as folder:
        store = Store.open(f"sqlite:///{Path(folder) / 'audit-ledger.db'}")
        try:
            yield Ledger(
                store,
                default_total=total,
                people_key=PeopleKey(secrets.token_bytes(32)),
            )
        finally:
            store.close()


def _query(config: AuditConfig, ledger: Ledger) -> Draw:
    options = QueryOptions(epsilon=PureDP(config.epsilon), unit=PerRow(), unit_declared=True)
    tables = (pa.table({"x": [1] * 10}), pa.table({"x": [1] * 11}))

    def draw(which: int, n: int) -> np.ndarray:
        out = np.empty(n)
        for i in range(n):
            answer = run_query(
                "SELECT COUNT(*) AS n FROM t",
                tables[which],
                table="t",
                options=options,
                ledger=ledger,
            )
            out[i] = answer.rows[0]["n"].value
        return out

    return draw


def run_audit(config: AuditConfig) -> AuditResult:
    """Draw ``config.trials`` outputs on each neighbouring input and lower-bound the loss."""
    if config.target in _MECHANISMS:
        draw, measure, claimed, delta = _mechanism(config)
        samples = draw(0, config.trials), draw(1, config.trials)
    elif config.target is AuditTarget.DP_SGD:
        draw, claimed = dpsgd_draw(config.epsilon, config.broken)
        measure, delta = Measure.MU, 0.0
        samples = draw(0, config.trials), draw(1, config.trials)
    else:
        measure, claimed, delta = Measure.EPSILON, float(config.epsilon), 0.0
        in_rho = config.target is AuditTarget.DP_ALS
        with _scratch_ledger(ZCDP(1e12) if in_rho else ApproxDP(1e12, 0.5)) as ledger:
            if config.target in _RECOMMENDERS:
                draw, claimed = recommender_draw(
                    config.target.value, config.epsilon, config.broken, ledger
                )
                if config.target is not AuditTarget.DP_POPULARITY:
                    measure = Measure.MU
            else:
                draw = _query(config, ledger)
            samples = draw(0, config.trials), draw(1, config.trials)
    name = f"{config.target}{' (noise halved)' if config.broken else ''}"
    return audit_samples(
        samples[0], samples[1], mechanism=name, measure=measure, claimed=claimed,
        delta=delta, alpha=config.alpha,
    )  # fmt: skip
