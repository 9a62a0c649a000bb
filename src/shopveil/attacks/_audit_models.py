"""Audit targets that fit private recommenders on neighbouring purchase tables.

Both tables hold 40 customers who each bought one of ten items; the second adds a canary
customer who alone bought an eleventh item. Every fit is real (it charges the audit's
scratch ledger, bounds the canary's contribution, and draws its noise from the exact
samplers); the statistic audited is the released count of the canary's item.

* ``dp-popularity``: :class:`~shopveil.learn.DPPopularity` (Laplace), audited in ε;
* ``dp-als`` (:class:`~shopveil.learn.DPALS`) at ``ZCDP(ρ)``, ρ = μ²/2, charged to a
  ledger kept in ρ, and ``dp-cobuy`` (:class:`~shopveil.learn.DPCoPurchase`) at the
  (ε, 10⁻⁶) whose zCDP budget is ρ (:func:`~shopveil.dp.hazmat.max_zcdp_within`, as its
  fit converts it): both audited as μ-GDP against the whole fit's claim μ = √(2ρ); 90 %
  of ρ goes to the released counts here (``count_share``, ``popularity_share``), so the
  audited release carries most of the claim.

``broken`` fits at four times the ρ (every noise scale halved) and keeps the claim of ρ:
what an audit must catch. :func:`dpsgd_draw` audits one DP-SGD step the same way.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from shopveil._core.budgets import ZCDP, ApproxDP, PureDP
from shopveil._core.extras import from_extra
from shopveil.dp import Ledger
from shopveil.dp.hazmat import max_zcdp_within

if TYPE_CHECKING:
    from shopveil.learn import Interactions

__all__ = ["SHARE", "canary_data", "dpsgd_draw", "recommender_draw"]

Draw = Callable[[int, int], np.ndarray]

SHARE = 0.9
"""Share of ρ the audited recommenders spend on the released counts."""
_CANARY_ITEM = 10
_DELTA = 1e-6


def canary_data() -> tuple[Interactions, Interactions]:
    """The two neighbouring purchase tables (without and with the canary customer)."""
    from shopveil.learn import Catalogue, from_table

    items = [f"i{k:02d}" for k in range(11)]
    catalogue = Catalogue.from_table(pa.table({"item": items}))
    users = [f"c{k:02d}" for k in range(40)]
    rows = {"user": users, "item": [items[k % 10] for k in range(40)]}
    with_canary = {"user": [*users, "canary"], "item": [*rows["item"], items[_CANARY_ITEM]]}
    out = []
    for table in (rows, with_canary):
        time = pa.array([0] * len(table["user"]), pa.timestamp("us"))
        out.append(
            from_table(
                pa.table({**table, "time": time}),
                user="user",
                item="item",
                time="time",
                catalogue=catalogue,
            )
        )
    return out[0], out[1]


def _approx_with_rho(rho: float) -> ApproxDP:
    """The (ε, 1e-6) budget whose largest zCDP ρ is ``rho`` (to 1e-9, from below)."""
    low, high = 1e-6, 1e4
    for _ in range(200):
        mid = math.sqrt(low * high)
        if max_zcdp_within(ApproxDP(mid, _DELTA)).rho <= rho:
            low = mid
        else:
            high = mid
        if high / low < 1 + 1e-12:
            break
    return ApproxDP(low, _DELTA)


def recommender_draw(kind: str, mu: float, broken: bool, ledger: Ledger) -> tuple[Draw, float]:
    """Draws of the canary item's released count, and the claimed μ (or ε for popularity)."""
    from shopveil.learn import DPALS, DPCoPurchase, DPPopularity, FitContext

    datasets = canary_data()
    model: DPPopularity | DPALS | DPCoPurchase
    if kind == "dp-popularity":
        claimed = mu
        model = DPPopularity(PureDP(mu), max_items_per_user=1)
    elif kind == "dp-als":  # charged in zCDP: the ledger must keep its accounts in ρ
        rho = mu**2 / 2
        claimed = math.sqrt(2 * rho)
        model = DPALS(ZCDP(rho * (4.0 if broken else 1.0)), rank=2, n_items_kept=11,
                      count_share=SHARE)  # fmt: skip
    else:
        budget = _approx_with_rho(mu**2 / 2)
        rho = max_zcdp_within(budget).rho
        claimed = math.sqrt(2 * rho)
        if broken:
            budget = _approx_with_rho(rho * 4.0)
        model = DPCoPurchase(budget, popularity_share=SHARE, top_items=11)

    def draw(which: int, n: int) -> np.ndarray:
        import warnings

        from shopveil.learn import NoSignalWarning

        out = np.empty(n)
        for i in range(n):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", NoSignalWarning)  # the counts are audited
                fitted = model.fit(datasets[which], FitContext(ledger=ledger, dataset="audit"))
            counts = getattr(fitted, "counts", None)
            if counts is None:
                counts = fitted.popularity  # type: ignore[union-attr]
            out[i] = float(counts[_CANARY_ITEM])
        return out

    return draw, claimed


_SGD_EXAMPLES = 20
_SGD_DELTA = 1e-5


def dpsgd_draw(epsilon: float, broken: bool) -> tuple[Draw, float]:
    """Draws of a one-weight model after one DP-SGD step, and the claimed μ.

    :func:`~shopveil.learn.make_private` at ``ApproxDP(ε, 10⁻⁵)``, one epoch of one
    Poisson batch at rate 1 (every example in it), clipping norm 1: the step is the
    Gaussian mechanism on the clipped gradient sum, so the noise multiplier σ the
    accountant picked claims exactly μ = 1/σ for it. The model is ``w·x`` with loss
    ``−w·x``: the 20 other examples have x = 0 (gradient 0); the canary's x = 10 is
    clipped to gradient norm 1. The statistic is w after the step. ``broken`` halves the
    optimizer's noise multiplier after the accountant chose it.
    """
    from shopveil._core.units import PerRow
    from shopveil.learn import DPSGDConfig, make_private

    with from_extra("ml"):
        import torch
        from torch.utils.data import DataLoader, TensorDataset

    config = DPSGDConfig(ApproxDP(epsilon, _SGD_DELTA), epochs=1, sample_rate=1.0)
    canary = torch.full((1, 1), 10.0)
    inputs = (torch.zeros(_SGD_EXAMPLES, 1), torch.cat([torch.zeros(_SGD_EXAMPLES, 1), canary]))
    wrapped: dict[int, Any] = {}

    def one(which: int) -> float:
        # One wrapping per input (the accountant's search runs once); each draw starts
        # the weight from zero again and takes one step with fresh noise.
        if which not in wrapped:
            model = torch.nn.Linear(1, 1, bias=False)
            optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
            loader = DataLoader(TensorDataset(inputs[which]), batch_size=_SGD_EXAMPLES)
            training = make_private(
                model, optimizer, loader, config=config, charge=None, unit=PerRow()
            )
            if broken:
                halved = training.noise_multiplier / 2
                training.optimizer.noise_multiplier = halved  # type: ignore[attr-defined]
            wrapped[which] = (model, training)
        model, training = wrapped[which]
        with torch.no_grad():
            model.weight.zero_()
        for (x,) in training.data_loader:
            training.optimizer.zero_grad()
            (-training.model(x).sum()).backward()
            training.optimizer.step()
        return float(model.weight.detach().reshape(-1)[0])

    def draw(which: int, n: int) -> np.ndarray:
        import warnings

        with warnings.catch_warnings():
            # Opacus's PRV accountant takes log(1 - q) at q = 1 (it handles the -inf), and
            # torch notes that the input needs no gradient: neither changes the step.
            warnings.filterwarnings("ignore", category=RuntimeWarning, module="opacus")
            warnings.filterwarnings("ignore", message="Full backward hook", category=UserWarning)
            return np.array([one(which) for _ in range(n)])

    draw(0, 1)  # the accountant's σ, for the claim
    return draw, 1.0 / wrapped[0][1].noise_multiplier
