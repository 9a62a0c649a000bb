"""AIM: an adaptive, iterative choice of the marginals a workload needs, in zCDP.

McKenna, Mullins, Sheldon & Miklau (2022), "AIM: An Adaptive and Iterative Mechanism
for Differentially Private Synthetic Data", with the workload of every 3-way marginal
(2-way where there are too many of those) and the budget ρ spent in rounds:

1. every column's histogram and the row count get discrete Gaussian noise of σ₀ =
   Δ·√(T / 2αρ), T = 16·columns, α = 0.9 (the same measurement, thresholding included,
   as MST's first step);
2. each round, permute-and-flip picks a marginal r among the workload's cliques and
   their subsets, scoring w_r·(‖model_r − data_r‖₁ − √(2/π)·σ·cells_r) (w_r: how much r
   overlaps the workload; sensitivity Δ·max w_r; ε per pick, charged ε²/2 zCDP, the
   pure-DP conversion, since permute-and-flip makes no bounded-range claim), measures it
   with discrete Gaussian noise of σ, and refits the model;
3. when a measurement barely moves the model (by less than its expected noise), σ is
   halved and ε doubled; the round that would leave less than two rounds' cost spends
   exactly what is left (α of it on the measurement).

The model (post-processing) is a distribution over a fixed set of candidate rows drawn
from the noisy 1-way marginals, fitted to every noisy measurement by entropic mirror
descent on Σ ‖N·M_c(p) − y_c‖² / σ_c², the objective Private-PGM minimizes, over that
restricted support instead of a graphical model. Rows are drawn from it.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from shopveil.dp import half_width, make_exponential_mechanism, make_gaussian
from shopveil.dp.hazmat import RandomBits
from shopveil.synth._mst import MAX_CELLS, NoisePlan, _draw, project

__all__ = ["ALPHA", "AimPlan", "Round", "SupportModel", "fit_aim", "measure", "selection_scale"]

ALPHA = 0.9
"""Share of each round's ρ spent on the measurement; the rest pays for the pick."""
ROUNDS_PER_COLUMN = 16
CANDIDATES = (10_000, 100_000)
"""Candidate rows the model puts its mass on: four per (noisy) input row, within these."""
MAX_WORKLOAD = 1000
"""More 3-way marginals than this and the workload is every 2-way marginal."""
_SAFE = 1 - 2**-40


@dataclass(frozen=True)
class AimPlan:
    """AIM's starting noise for ``columns`` columns under ``rho`` at L2 ``sensitivity``.

    ``delta_select`` > 0 sets the threshold of the columns whose values are chosen
    privately (as in MST).
    """

    columns: int
    rho: float
    delta_select: float = 0.0
    sensitivity: int = 1

    @property
    def rounds(self) -> int:
        """T: the rounds the starting noise would last without annealing."""
        return ROUNDS_PER_COLUMN * self.columns

    @property
    def sigma_start(self) -> float:
        """σ₀ of the 1-way histograms, the row count and the first rounds; with one column,
        the whole budget goes to its histogram and the row count."""
        if self.columns == 1:
            return self.sensitivity * math.sqrt(2 / (2 * self.rho * _SAFE))
        return self.sensitivity * math.sqrt(self.rounds / (2 * ALPHA * self.rho * _SAFE))

    @property
    def epsilon_start(self) -> float:
        """ε of the first rounds' picks."""
        return math.sqrt(2 * (1 - ALPHA) * self.rho / self.rounds) * _SAFE

    def one_way(self) -> NoisePlan:
        """The first step as MST's :func:`measure_one_way` takes it."""
        sigma = self.sigma_start
        threshold = 0
        if self.delta_select > 0:
            threshold = self.sensitivity + int(half_width(make_gaussian(sigma), self.delta_select))
        return NoisePlan(
            self.columns, self.rho, sigma, 0.0, 0.0, self.delta_select, threshold, self.sensitivity
        )

    def spent(self, rounds: Sequence[Round]) -> float:
        """The zCDP ρ that the first step and ``rounds`` spend at the plan's sensitivity."""
        shift = self.sensitivity**2
        first = (self.columns + 1) * shift / (2 * self.sigma_start**2)
        return first + sum(shift / (2 * r.sigma**2) + r.epsilon**2 / 2 for r in rounds)


@dataclass(frozen=True)
class Round:
    """One round: the marginal picked and the noise of its pick and measurement."""

    clique: tuple[int, ...]
    sigma: float
    epsilon: float


def selection_scale(weights: np.ndarray, epsilon: float, sensitivity: int) -> float:
    """Permute-and-flip's scale for an ε pick of weighted L1 errors: each error moves by
    at most ``sensitivity``, so a weighted one by ``sensitivity · max(weights)``."""
    return 2.0 * sensitivity * float(np.max(weights)) / epsilon


def measure(
    codes: np.ndarray, clique: Sequence[int], sizes: Sequence[int], sigma: float, bits: RandomBits
) -> np.ndarray:
    """The marginal of ``clique`` (flattened) with discrete Gaussian noise of ``sigma``."""
    counts = np.bincount(_cells(codes, clique, sizes), minlength=_size(clique, sizes))
    return np.asarray(make_gaussian(sigma)(counts.astype(np.int64), rng=bits), dtype=np.float64)


@dataclass(frozen=True)
class SupportModel:
    """A distribution over candidate rows (codes, one row each) with its weights."""

    candidates: np.ndarray
    weights: np.ndarray

    def marginal(self, clique: Sequence[int], sizes: Sequence[int]) -> np.ndarray:
        """The model's marginal of ``clique`` (probabilities, flattened)."""
        cells = _cells(self.candidates, clique, sizes)
        return np.bincount(cells, weights=self.weights, minlength=_size(clique, sizes))

    def sample(self, rows: int, rng: np.random.Generator) -> np.ndarray:
        """``rows`` x columns codes drawn from the model."""
        cdf = np.cumsum(self.weights)
        found = np.searchsorted(cdf, rng.random(rows) * cdf[-1], side="right")
        return self.candidates[np.minimum(found, len(self.weights) - 1)]


def workload(columns: int, sizes: Sequence[int]) -> tuple[list[tuple[int, ...]], np.ndarray]:
    """AIM's candidates (the workload's cliques and their subsets, small enough to
    tabulate) and each one's weight: its total overlap with the workload's cliques."""
    ways = 3 if math.comb(columns, 3) <= MAX_WORKLOAD else 2
    ways = min(ways, columns)
    target = list(itertools.combinations(range(columns), ways))
    closure = sorted(
        {
            sub
            for clique in target
            for k in range(1, ways + 1)
            for sub in itertools.combinations(clique, k)
        },
        key=lambda c: (len(c), c),
    )
    closure = [c for c in closure if _size(c, sizes) <= MAX_CELLS]
    counts = np.zeros(columns, dtype=np.float64)
    for clique in target:
        counts[list(clique)] += 1
    # Σ_s |r ∩ s| = Σ_{i ∈ r} (workload cliques holding i)
    weights = np.array([counts[list(c)].sum() for c in closure])
    return closure, weights


def fit_aim(
    codes: np.ndarray,
    sizes: Sequence[int],
    histograms: Sequence[np.ndarray],
    rows: float,
    plan: AimPlan,
    bits: RandomBits,
    draws: np.random.Generator,
    *,
    candidates: int | None = None,
    on_round: Callable[[int], None] | None = None,
) -> tuple[SupportModel, list[Round]]:
    """Run AIM's rounds after the 1-way step (``histograms``, noisy ``rows``).

    ``candidates`` rows are drawn with ``draws`` from the noisy 1-way marginals (None:
    four per noisy row, within :data:`CANDIDATES`); ``on_round`` is called with each
    round's index as it starts. Returns the model and the rounds, in order.
    """
    d = len(sizes)
    if candidates is None:
        low, high = CANDIDATES
        candidates = int(min(high, max(low, 4 * rows)))
    probs = [project(h, rows) for h in histograms]
    support = np.column_stack([_draw(p, candidates, draws) for p in probs]).astype(np.int32)
    fit = _Fit(support, rows)
    for j, histogram in enumerate(histograms):
        fit.add((j,), sizes, histogram, plan.sigma_start)
    fit.run(200)
    rounds: list[Round] = []
    if d == 1:
        return fit.model(), rounds
    cliques, weights = workload(d, sizes)
    truth = [np.bincount(_cells(codes, c, sizes), minlength=_size(c, sizes)) for c in cliques]
    cells = np.array([_size(c, sizes) for c in cliques], dtype=np.float64)
    sigma, epsilon = plan.sigma_start, plan.epsilon_start
    shift = plan.sensitivity**2
    left = plan.rho - plan.spent([])
    last = False
    while not last:
        if on_round is not None:
            on_round(len(rounds))
        step = shift / (2 * sigma**2) + epsilon**2 / 2
        if left <= 2 * step:  # the last round spends what is left
            last = True
            sigma = plan.sensitivity * math.sqrt(1 / (2 * ALPHA * left)) / _SAFE
            epsilon = math.sqrt(2 * (1 - ALPHA) * left) * _SAFE
            step = shift / (2 * sigma**2) + epsilon**2 / 2
        before = [rows * fit.marginal(c, sizes) for c in cliques]
        errors = np.array([np.abs(b - t).sum() for b, t in zip(before, truth, strict=True)])
        expected = math.sqrt(2 / math.pi) * sigma * cells
        pick = make_exponential_mechanism(selection_scale(weights, epsilon, plan.sensitivity))
        chosen = int(pick(weights * (errors - expected), rng=bits))
        clique = cliques[chosen]
        fit.add(clique, sizes, measure(codes, clique, sizes, sigma, bits), sigma)
        rounds.append(Round(clique, sigma, epsilon))
        left -= step
        fit.run(300 if last else 40)
        moved = np.abs(rows * fit.marginal(clique, sizes) - before[chosen]).sum()
        if moved <= expected[chosen]:
            sigma, epsilon = sigma / 2, epsilon * 2
    return fit.model(), rounds


class _Fit:
    """Entropic mirror descent of the candidates' weights on the noisy measurements."""

    def __init__(self, support: np.ndarray, rows: float) -> None:
        self.support = support
        self.rows = rows
        self.theta = np.zeros(len(support))
        self.weights = np.full(len(support), 1.0 / len(support))
        # Every measurement's cells, offset so that they share one vector of cells.
        self.cells = np.zeros((0, len(support)), dtype=np.int64)
        self.targets = np.zeros(0)
        self.precisions = np.zeros(0)
        self.sigmas: list[float] = []
        self.step = 0.0

    def add(
        self, clique: Sequence[int], sizes: Sequence[int], noisy: np.ndarray, sigma: float
    ) -> None:
        cells = _cells(self.support, clique, sizes) + len(self.targets)
        self.cells = np.vstack([self.cells, cells])
        self.targets = np.concatenate([self.targets, noisy])
        self.precisions = np.concatenate([self.precisions, np.full(len(noisy), sigma**-2.0)])
        self.sigmas.append(sigma)
        # 1 / the loss's smoothness in the L1 norm over the simplex: a safe step.
        self.step = 1.0 / (2 * self.rows**2 * sum(s**-2.0 for s in self.sigmas))

    def marginal(self, clique: Sequence[int], sizes: Sequence[int]) -> np.ndarray:
        return np.bincount(
            _cells(self.support, clique, sizes),
            weights=self.weights,
            minlength=_size(clique, sizes),
        )

    def model(self) -> SupportModel:
        return SupportModel(self.support, self.weights.copy())

    def _loss(self, weights: np.ndarray) -> tuple[float, np.ndarray]:
        measured = len(self.cells)
        fitted = self.rows * np.bincount(
            self.cells.ravel(), weights=np.tile(weights, measured), minlength=len(self.targets)
        )
        error = fitted - self.targets
        residual = error * self.precisions
        gradient = (2 * self.rows) * residual[self.cells].sum(axis=0)
        return float(residual @ error), gradient

    def run(self, iterations: int) -> None:
        safe = self.step
        step = safe
        loss, gradient = self._loss(self.weights)
        for _ in range(iterations):
            while True:
                theta = self.theta - step * gradient
                weights = np.exp(theta - theta.max())
                weights /= weights.sum()
                new_loss, new_gradient = self._loss(weights)
                if new_loss <= loss or step <= safe:
                    break
                step = max(step / 2, safe)
            self.theta, self.weights = theta - theta.max(), weights
            loss, gradient = new_loss, new_gradient
            step *= 1.5


def _size(clique: Sequence[int], sizes: Sequence[int]) -> int:
    return math.prod(sizes[j] for j in clique)


def _cells(codes: np.ndarray, clique: Sequence[int], sizes: Sequence[int]) -> np.ndarray:
    flat = np.zeros(len(codes), dtype=np.int64)
    for j in clique:
        flat = flat * sizes[j] + codes[:, j]
    return flat
