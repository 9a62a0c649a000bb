"""Noise scales of MST synthesis, measured against a budget split computed here.

The test derives each step's σ from the release's (ε, δ) itself (a third of the zCDP
budget per step, split evenly over the step's measurements, sensitivity 1), then
measures the spread of the noise the measurement functions add to histograms whose
true counts it knows. Halving σ in the plan or in a measurement fails a test; so does a
plan that spends more ρ than the budget converts to.
"""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
from _noise import MIN_DRAWS, assert_noise, discrete_gaussian_sd, seeded

from shopveil._core.budgets import ApproxDP
from shopveil.dp.hazmat import DEFAULT_ORDERS, as_bits, max_zcdp_within, rdp_to_approx_dp
from shopveil.synth._domain import Categorical, Numeric
from shopveil.synth._linked import noisy_counts
from shopveil.synth._mst import (
    measure_edges,
    measure_one_way,
    noise_plan,
    pair_counts,
    split_budget,
)

BUDGET = ApproxDP(2.0, 1e-6)
COLUMNS = 4


def _table(rows: int = 500) -> tuple[pa.Table, list[Numeric | Categorical | str]]:
    data = np.random.default_rng(3)  # data only, never noise
    table = pa.table(
        {f"x{k}": pa.array(data.integers(0, 100, rows).astype(np.float64)) for k in range(COLUMNS)}
    )
    encoders: list[Numeric | Categorical | str] = [
        Numeric(f"x{k}", pa.float64(), 0.0, 100.0, 255) for k in range(COLUMNS)
    ]
    return table, encoders


def test_one_way_histograms_carry_the_noise_a_third_of_the_budget_buys() -> None:
    rho = max_zcdp_within(BUDGET).rho
    promised = math.sqrt((COLUMNS + 1) / (2 * rho / 3))  # d histograms and the row count
    table, encoders = _table()
    plan = noise_plan(max_zcdp_within(BUDGET).rho, COLUMNS)
    bits = as_bits(seeded(11))
    truth = [np.bincount(e.encode(table.column(e.name)), minlength=e.size) for e in encoders]  # type: ignore[union-attr]
    draws = []
    while sum(d.size for d in draws) < MIN_DRAWS:
        _, histograms, rows = measure_one_way(table, encoders, plan, bits)
        draws += [h - t for h, t in zip(histograms, truth, strict=True)]
        draws.append(np.array([rows - table.num_rows]))
    assert_noise(np.concatenate(draws), discrete_gaussian_sd(promised), "1-way marginals")


def test_tree_edges_carry_the_noise_a_third_of_the_budget_buys() -> None:
    rho = max_zcdp_within(BUDGET).rho
    promised = math.sqrt((COLUMNS - 1) / (2 * rho / 3))
    table, encoders = _table()
    codes = np.column_stack([e.encode(table.column(e.name)) for e in encoders])  # type: ignore[union-attr]
    sizes = [256] * COLUMNS
    edges = [(0, 1), (1, 2), (2, 3)]
    plan = noise_plan(max_zcdp_within(BUDGET).rho, COLUMNS)
    noisy = measure_edges(codes, sizes, edges, plan, as_bits(seeded(12)))
    draws = np.concatenate([noisy[e] - pair_counts(codes, *e, sizes) for e in edges])
    assert draws.size >= MIN_DRAWS
    assert_noise(draws, discrete_gaussian_sd(promised), "2-way marginals")


def test_the_plan_spends_the_budget_and_no_more() -> None:
    for columns, private in ((1, 0), (4, 0), (9, 9), (30, 2)):
        rho, delta_select = split_budget(BUDGET, private)
        plan = noise_plan(rho, columns, delta_select, sensitivity=1 + columns % 3)
        spent = plan.spent().rho
        assert spent <= plan.rho * (1 + 1e-9)
        assert spent >= plan.rho * 0.999, "the plan leaves budget unspent"
        delta_left = BUDGET.delta - private * plan.delta_select
        grid = np.asarray(DEFAULT_ORDERS)
        assert rdp_to_approx_dp(grid * spent, delta_left, grid).epsilon <= BUDGET.epsilon
        unit = noise_plan(rho, columns, delta_select)
        assert math.isclose(plan.sigma_one, plan.sensitivity * unit.sigma_one, rel_tol=1e-9)
        if columns > 1:
            assert math.isclose(plan.sigma_two, plan.sensitivity * unit.sigma_two, rel_tol=1e-9)
            assert math.isclose(
                plan.epsilon_select, math.sqrt(2 * plan.rho / 3 / (columns - 1)), rel_tol=1e-9
            )


def test_a_value_one_person_has_clears_the_threshold_with_probability_at_most_delta() -> None:
    rho, delta_select = split_budget(BUDGET, 3)
    plan = noise_plan(rho, 3, delta_select, sensitivity=2)
    sigma = plan.sigma_one
    support = np.arange(0, math.ceil(40 * sigma) + 8)
    weights = np.exp(-(support**2) / (2 * sigma**2))
    total = weights[0] + 2 * weights[1:].sum()
    # A value one person has counts at most 2 (the sensitivity): kept when 2 + Z > threshold.
    tail = weights[plan.threshold - 1 :].sum() / total
    assert tail <= plan.delta_select
    assert plan.delta_select * 3 <= BUDGET.delta / 2 * (1 + 1e-12)
    assert plan.threshold < 2 + 6 * sigma  # and not needlessly high


def test_rows_per_parent_carry_noise_for_the_rows_one_person_holds() -> None:
    rho, sensitivity = 0.05, 3  # a customer with up to 3 orders moves 3 counts
    promised = sensitivity / math.sqrt(2 * rho)
    counts = np.arange(MIN_DRAWS) % 50
    noisy = noisy_counts(counts, rho, sensitivity, as_bits(seeded(13)))
    assert_noise(noisy - counts, discrete_gaussian_sd(promised), "rows per parent")
