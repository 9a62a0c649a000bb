"""MST: noisy 1-way marginals, a maximum spanning tree of 2-way marginals, tree sampling.

McKenna, Miklau & Sheldon (2021), "Winning the NIST Contest", with the budget in zCDP:

1. every column's histogram and the row count get discrete Gaussian noise (a third of ρ);
   a categorical column without a public domain keeps only the values whose noisy
   count clears a threshold (Gaussian thresholding: δ/2 is spent on the chance that a
   value only one person has is kept);
2. d − 1 times, the exponential mechanism (permute-and-flip) picks the column pair
   whose 2-way marginal the 1-way model gets most wrong (L1 error, sensitivity 1) among
   the pairs that join two parts of the tree (a third of ρ, each pick ε²/2-zCDP);
3. the 2-way histograms of the tree's edges get discrete Gaussian noise (the last third).

Everything after is post-processing: each noisy histogram is projected onto the
non-negative tables with the noisy row count as total, and rows are drawn from the
tree-shaped model (root from its 1-way marginal, each child from its conditional given
its parent).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from shopveil._core.budgets import ZCDP, ApproxDP, PureDP
from shopveil.dp import gaussian_for, half_width, make_exponential_mechanism, make_gaussian
from shopveil.dp.hazmat import RandomBits, max_zcdp_within
from shopveil.synth._domain import Categorical, Numeric, value_counts

__all__ = [
    "MAX_CELLS",
    "NoisePlan",
    "TreeModel",
    "fit_tree",
    "measure_edges",
    "measure_one_way",
    "noise_plan",
    "pair_counts",
    "project",
    "split_budget",
]

Encoder = Numeric | Categorical
MAX_CELLS = 1 << 22
"""Largest 2-way marginal tabulated (cells); larger pairs are never candidates."""


@dataclass(frozen=True)
class NoisePlan:
    """The noise of each MST step, chosen so that all of them fit the release's budget.

    Attributes
    ----------
    rho
        The zCDP budget the three steps share.
    sigma_one
        Discrete Gaussian σ of each 1-way histogram and of the row count.
    epsilon_select
        ε of each of the ``columns - 1`` exponential-mechanism picks.
    sigma_two
        σ of each 2-way histogram on the tree.
    delta_select
        δ spent per categorical column whose values are chosen privately.
    threshold
        A value with no public domain is kept when its noisy count exceeds this.
    sensitivity
        Rows one person may hold in this table: every count moves by at most this much.
    """

    columns: int
    rho: float
    sigma_one: float
    epsilon_select: float
    sigma_two: float
    delta_select: float
    threshold: int
    sensitivity: int = 1

    def spent(self) -> ZCDP:
        """The zCDP the steps spend at the plan's sensitivity (to check against ``rho``)."""
        d, shift = self.columns, self.sensitivity**2
        one = (d + 1) * shift / (2 * self.sigma_one**2)
        if d == 1:
            return ZCDP(one)
        select = (d - 1) * PureDP(self.epsilon_select).to_zcdp().rho
        return ZCDP(one + select + (d - 1) * shift / (2 * self.sigma_two**2))


def split_budget(budget: ApproxDP, private_domains: int) -> tuple[float, float]:
    """ρ for the Gaussian steps and δ for each of ``private_domains`` privately chosen
    domains: those share δ/2 (Gaussian thresholding), the zCDP conversion the rest."""
    delta_select = budget.delta / 2 if private_domains else 0.0
    rho = max_zcdp_within(ApproxDP(budget.epsilon, budget.delta - delta_select)).rho
    return rho, (delta_select / private_domains if private_domains else 0.0)


def noise_plan(
    rho: float, columns: int, delta_select: float = 0.0, *, sensitivity: int = 1
) -> NoisePlan:
    """Split ``rho`` over MST's steps for ``columns`` columns; ``delta_select`` > 0 sets
    the threshold of the columns whose values are chosen privately."""
    share = rho if columns == 1 else rho / 3
    one = gaussian_for(ZCDP(share / (columns + 1)), sensitivity)
    threshold = sensitivity + int(half_width(one, delta_select)) if delta_select > 0 else 0
    if columns == 1:
        return NoisePlan(columns, rho, one.scale, 0.0, 0.0, delta_select, threshold, sensitivity)
    two = gaussian_for(ZCDP(share / (columns - 1)), sensitivity)
    # ε²/2-zCDP per pick (pure DP to zCDP): exact for permute-and-flip, no bounded-range claim.
    epsilon = math.sqrt(2 * share / (columns - 1)) * (1 - 2**-40)
    return NoisePlan(
        columns, rho, one.scale, epsilon, two.scale, delta_select, threshold, sensitivity
    )


def measure_one_way(
    table: pa.Table,
    encoders: Sequence[Encoder | str],
    plan: NoisePlan,
    bits: RandomBits,
) -> tuple[list[Encoder], list[np.ndarray], float]:
    """Noisy histograms of every column and the noisy row count.

    ``encoders`` holds one encoder per column of ``table``, or the column's name where its
    values are to be chosen privately. Returns the final encoders, each column's noisy
    histogram over its codes, and the noisy row count.
    """
    noise = make_gaussian(plan.sigma_one)
    rows = float(max(1, int(noise(np.array([table.num_rows]), rng=bits)[0])))
    final: list[Encoder] = []
    histograms: list[np.ndarray] = []
    for index, encoder in enumerate(encoders):
        column = table.column(index)
        if isinstance(encoder, str):
            values, counts = value_counts(column)
            noisy = np.asarray(noise(counts, rng=bits), dtype=np.float64)
            keep = noisy > plan.threshold
            chosen = tuple(v for v, k in zip(values, keep, strict=True) if k)
            kept = Categorical(encoder, column.type, chosen)
            other = max(rows - float(noisy[keep].sum()), 0.0)
            final.append(kept)
            histograms.append(np.append(noisy[keep], other))
            continue
        counts = np.bincount(encoder.encode(column), minlength=encoder.size)
        final.append(encoder)
        histograms.append(np.asarray(noise(counts, rng=bits), dtype=np.float64))
    return final, histograms, rows


def project(values: np.ndarray, total: float) -> np.ndarray:
    """The closest non-negative array (Euclidean) to ``values`` that sums to ``total``."""
    flat = np.asarray(values, dtype=np.float64).ravel()
    ordered = np.sort(flat)[::-1]
    excess = np.cumsum(ordered) - total
    index = np.arange(1, len(flat) + 1)
    last = int(np.nonzero(ordered - excess / index > 0)[0][-1])
    shift = excess[last] / (last + 1)
    return np.maximum(flat - shift, 0.0).reshape(np.shape(values))


@dataclass(frozen=True)
class TreeModel:
    """A forest of columns: each root's marginal, each child's conditional on its parent."""

    sizes: tuple[int, ...]
    roots: tuple[tuple[int, np.ndarray], ...]
    # (parent, child, P(child | parent) as a parent-size x child-size array), in BFS order
    conditionals: tuple[tuple[int, int, np.ndarray], ...]

    def sample(self, rows: int, rng: np.random.Generator) -> np.ndarray:
        """``rows`` x columns codes drawn from the model."""
        codes = np.zeros((rows, len(self.sizes)), dtype=np.int64)
        for root, marginal in self.roots:
            codes[:, root] = _draw(marginal, rows, rng)
        for parent, child, table in self.conditionals:
            cdf = np.cumsum(table, axis=1)
            u = rng.random(rows)
            drawn = np.zeros(rows, dtype=np.int64)
            for value in range(table.shape[0]):
                where = np.nonzero(codes[:, parent] == value)[0]
                if where.size:
                    found = np.searchsorted(cdf[value], u[where] * cdf[value, -1], side="right")
                    drawn[where] = np.minimum(found, table.shape[1] - 1)
            codes[:, child] = drawn
        return codes


def _draw(p: np.ndarray, rows: int, rng: np.random.Generator) -> np.ndarray:
    cdf = np.cumsum(p)
    found = np.searchsorted(cdf, rng.random(rows) * cdf[-1], side="right")
    return np.minimum(found, len(p) - 1)


def pair_counts(codes: np.ndarray, i: int, j: int, sizes: Sequence[int]) -> np.ndarray:
    """The 2-way histogram of columns ``i`` and ``j``, flattened (``i`` major)."""
    flat = codes[:, i] * sizes[j] + codes[:, j]
    return np.bincount(flat, minlength=sizes[i] * sizes[j]).astype(np.float64)


def fit_tree(
    codes: np.ndarray,
    sizes: Sequence[int],
    histograms: Sequence[np.ndarray],
    rows: float,
    plan: NoisePlan,
    bits: RandomBits,
    *,
    on_edges: Callable[[], None] | None = None,
) -> tuple[TreeModel, list[tuple[int, int]]]:
    """Pick the tree with the exponential mechanism, measure its edges, build the model.

    ``on_edges`` is called once the tree is chosen, before its edges are measured.
    """
    d = len(sizes)
    marginals = [project(h, rows) for h in histograms]
    if d == 1:
        return _tree_model(sizes, marginals, {}), []
    probs = [m / max(m.sum(), 1e-12) for m in marginals]
    # Sizes are released values: leaving out the pairs too large to tabulate is public.
    pairs = [(i, j) for i in range(d) for j in range(i + 1, d) if sizes[i] * sizes[j] <= MAX_CELLS]
    errors = np.array(
        [
            np.abs(
                pair_counts(codes, i, j, sizes) - np.outer(probs[i], probs[j]).ravel() * rows
            ).sum()
            for i, j in pairs
        ]
    )
    # Utilities are L1 errors: one person moves each by at most the sensitivity.
    pick = make_exponential_mechanism(2.0 * plan.sensitivity / plan.epsilon_select)
    part = list(range(d))

    def find(x: int) -> int:
        while part[x] != x:
            part[x] = part[part[x]]
            x = part[x]
        return x

    edges: list[tuple[int, int]] = []
    for _ in range(d - 1):
        open_pairs = [k for k, (i, j) in enumerate(pairs) if find(i) != find(j)]
        if not open_pairs:  # the rest join only through pairs too large: a forest
            break
        chosen = pairs[open_pairs[pick(errors[open_pairs], rng=bits)]]
        part[find(chosen[0])] = find(chosen[1])
        edges.append(chosen)
    if on_edges is not None:
        on_edges()
    tables = {
        (i, j): project(noisy, rows).reshape(sizes[i], sizes[j])
        for (i, j), noisy in measure_edges(codes, sizes, edges, plan, bits).items()
    }
    return _tree_model(sizes, marginals, tables), edges


def measure_edges(
    codes: np.ndarray,
    sizes: Sequence[int],
    edges: Sequence[tuple[int, int]],
    plan: NoisePlan,
    bits: RandomBits,
) -> dict[tuple[int, int], np.ndarray]:
    """Each edge's 2-way histogram (flattened) with discrete Gaussian noise of ``sigma_two``."""
    measure = make_gaussian(plan.sigma_two)
    return {
        (i, j): np.asarray(
            measure(pair_counts(codes, i, j, sizes).astype(np.int64), rng=bits), dtype=np.float64
        )
        for i, j in edges
    }


def _tree_model(
    sizes: Sequence[int],
    marginals: Sequence[np.ndarray],
    tables: dict[tuple[int, int], np.ndarray],
) -> TreeModel:
    neighbours: dict[int, list[int]] = {i: [] for i in range(len(sizes))}
    for i, j in tables:
        neighbours[i].append(j)
        neighbours[j].append(i)
    seen: set[int] = set()
    roots, conditionals = [], []
    for root in sorted(neighbours, key=lambda n: -len(neighbours[n])):
        if root in seen:
            continue
        seen.add(root)
        roots.append((root, marginals[root]))
        conditionals += _branches(root, neighbours, seen, marginals, tables)
    return TreeModel(tuple(sizes), tuple(roots), tuple(conditionals))


def _branches(
    root: int,
    neighbours: dict[int, list[int]],
    seen: set[int],
    marginals: Sequence[np.ndarray],
    tables: dict[tuple[int, int], np.ndarray],
) -> list[tuple[int, int, np.ndarray]]:
    order, conditionals = [root], []
    while order:
        parent = order.pop(0)
        for child in neighbours[parent]:
            if child in seen:
                continue
            seen.add(child)
            order.append(child)
            joint = (
                tables[(parent, child)] if (parent, child) in tables else tables[(child, parent)].T
            )
            totals = joint.sum(axis=1, keepdims=True)
            fallback = marginals[child] / max(marginals[child].sum(), 1e-12)
            conditional = np.where(totals > 0, joint / np.maximum(totals, 1e-12), fallback)
            conditionals.append((parent, child, conditional))
    return conditionals
