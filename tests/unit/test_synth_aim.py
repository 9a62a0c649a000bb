"""AIM synthesis: its budget, its noise, and the 3-way structure a tree cannot hold.

The noise tests derive AIM's starting σ and ε from the release's (ε, δ) here (T = 16
rounds per column, α = 0.9 of each round on the measurement, the 1-way step's d + 1
measurements at σ₀), then measure the noise a measurement adds to counts whose truth
they know. Halving σ₀, a round's σ or the sensitivity fails a test; so does a run whose
rounds spend more ρ than the budget converts to.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pyarrow as pa
from _noise import MIN_DRAWS, assert_noise, discrete_gaussian_sd, seeded
from hypothesis import given, settings
from hypothesis import strategies as st

from shopveil._core.budgets import ApproxDP
from shopveil._core.units import PerRow
from shopveil.dp import Ledger
from shopveil.dp.hazmat import DEFAULT_ORDERS, as_bits, max_zcdp_within, rdp_to_approx_dp
from shopveil.synth import SynthOptions, synthesize
from shopveil.synth._aim import AimPlan, fit_aim, measure, selection_scale, workload
from shopveil.synth._mst import measure_one_way, split_budget

BUDGET = ApproxDP(1.0, 1e-6)


def _parity(rows: int, seed: int = 0) -> pa.Table:
    """c = a XOR b: every pair of columns is independent, the triple is not."""
    data = np.random.default_rng(seed)  # data only, never noise
    a, b = data.integers(0, 2, rows), data.integers(0, 2, rows)
    as_text = np.array(["no", "yes"])
    return pa.table(
        {
            "customer_id": pa.array([f"C{i:05d}" for i in range(rows)]),
            "a": pa.array(as_text[a]),
            "b": pa.array(as_text[b]),
            "c": pa.array(as_text[a ^ b]),
        }
    )


def _parity_share(table: pa.Table) -> float:
    out = table.to_pydict()
    return float(
        np.mean(
            [
                ((a == "yes") ^ (b == "yes")) == (c == "yes")
                for a, b, c in zip(out["a"], out["b"], out["c"], strict=True)
            ]
        )
    )


def test_aim_keeps_a_three_way_dependency_that_mst_loses_and_is_charged_once(
    scratch_ledger: Ledger,
) -> None:
    ledger = scratch_ledger
    domains = {c: ("no", "yes") for c in "abc"}
    shares = {}
    for method in ("mst", "aim"):
        options = SynthOptions(epsilon=4.0, delta=1e-6, method=method, domains=domains, rows=2000)
        result = synthesize(
            _parity(2000), options, ledger=ledger, dataset=method, rng=seeded(3), request_id=method
        )
        assert result.table.column_names == ["a", "b", "c"]
        assert "customer_id" in result.dropped
        assert [(h.request_id, h.cost) for h in ledger.history(method, PerRow())] == [
            (method, ApproxDP(4.0, 1e-6))
        ]
        shares[method] = _parity_share(result.table)
    assert shares["aim"] > 0.9  # the real table: 1.0
    assert shares["mst"] < 0.65  # a tree of pairs: about 0.5


def test_the_first_step_carries_the_noise_its_share_of_the_budget_buys() -> None:
    rho, _ = split_budget(BUDGET, 0)
    columns = 3
    rounds = 16 * columns
    promised = math.sqrt(rounds / (2 * 0.9 * rho))  # AIM's σ₀ at sensitivity 1
    plan = AimPlan(columns, rho)
    assert math.isclose(plan.sigma_start, promised, rel_tol=1e-9)
    assert math.isclose(AimPlan(columns, rho, sensitivity=2).sigma_start, 2 * promised)
    table = _parity(400).select(["a", "b", "c"])
    from shopveil.synth._domain import Categorical

    encoders: list = [Categorical(c, pa.string(), ("no", "yes")) for c in "abc"]
    truth = [np.bincount(e.encode(table.column(e.name)), minlength=e.size) for e in encoders]
    bits = as_bits(seeded(5))
    draws = []
    while sum(d.size for d in draws) < MIN_DRAWS:
        _, histograms, rows = measure_one_way(table, encoders, plan.one_way(), bits)
        draws += [h - t for h, t in zip(histograms, truth, strict=True)]
        draws.append(np.array([rows - table.num_rows]))
    assert_noise(np.concatenate(draws), discrete_gaussian_sd(promised), "AIM 1-way")


def test_a_round_measures_with_the_sigma_it_records() -> None:
    codes = np.random.default_rng(1).integers(0, 8, size=(300, 3))  # data only
    sigma = 7.5
    clique, sizes = (0, 2), [8, 8, 8]
    truth = np.bincount(codes[:, 0] * 8 + codes[:, 2], minlength=64)
    bits = as_bits(seeded(6))
    draws = np.concatenate(
        [measure(codes, clique, sizes, sigma, bits) - truth for _ in range(MIN_DRAWS // 64 + 1)]
    )
    assert_noise(draws, discrete_gaussian_sd(sigma), "AIM round")


@settings(max_examples=8, deadline=None)
@given(
    epsilon=st.floats(0.2, 8.0),
    sensitivity=st.integers(1, 3),
    seed=st.integers(0, 2**16),
)
def test_the_rounds_spend_the_budget_and_no_more(
    epsilon: float, sensitivity: int, seed: int
) -> None:
    budget = ApproxDP(epsilon, 1e-6)
    rho = max_zcdp_within(budget).rho
    data = np.random.default_rng(seed)  # data only
    sizes = [3, 4, 2]
    codes = np.column_stack([data.integers(0, s, 200) for s in sizes])
    plan = AimPlan(len(sizes), rho, sensitivity=sensitivity)
    bits = as_bits(seeded(seed))
    histograms = [measure(codes, (j,), sizes, plan.sigma_start, bits) for j in range(len(sizes))]
    _, rounds = fit_aim(
        codes, sizes, histograms, 200.0, plan, bits, seeded(seed + 1), candidates=2000
    )
    assert rounds, "AIM measured nothing beyond the 1-way marginals"
    # Each round's ρ at the sensitivity, recomputed here from what the round used.
    spent = (len(sizes) + 1) * sensitivity**2 / (2 * plan.sigma_start**2) + sum(
        sensitivity**2 / (2 * r.sigma**2) + r.epsilon**2 / 2 for r in rounds
    )
    assert spent <= rho * (1 + 1e-12)
    assert spent >= rho * 0.999, "the rounds leave budget unspent"
    grid = np.asarray(DEFAULT_ORDERS)
    assert rdp_to_approx_dp(grid * spent, budget.delta, grid).epsilon <= epsilon
    assert all(r.sigma >= sensitivity * math.sqrt(1 / (2 * 0.9 * rho)) for r in rounds)


def test_the_pick_scales_with_the_largest_weight_and_the_sensitivity() -> None:
    sizes = [2, 3, 4, 5]
    cliques, weights = workload(len(sizes), sizes)
    target = list(itertools.combinations(range(4), 3))
    assert set(cliques) == {
        s for t in target for k in (1, 2, 3) for s in itertools.combinations(t, k)
    }
    for clique, weight in zip(cliques, weights, strict=True):
        assert weight == sum(len(set(clique) & set(t)) for t in target)
    # One person moves each L1 error by the sensitivity, a weighted one by weight x that.
    assert selection_scale(weights, 0.5, 3) == 2 * 3 * max(weights) / 0.5
