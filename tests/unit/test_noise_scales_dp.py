"""Noise scales of the DP query engine and the top-k recipe, measured black-box.

Each query releases one noisy cell per public group (thousands of them) whose true
value the test knows; the spread of cell − truth must be what the privacy map promises
for the ε charged, given the sensitivity the unit implies (see ``_noise`` for the
margins). Halving a noise scale or a sensitivity in the source makes each test fail.
"""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest
from _noise import MIN_DRAWS, assert_noise, assert_scale, discrete_laplace_sd, seeded

from shopveil._core.budgets import ApproxDP, PureDP
from shopveil._core.units import PerCustomer, PerRow, PrivacyUnit
from shopveil.dp import Ledger, make_quantile, run_query, top_k
from shopveil.dp._query._answer import Answer
from shopveil.dp._query._plan import QueryOptions

GROUPS = MIN_DRAWS


def _grouped(groups: int, per_group: int, values: np.ndarray | float = 0.0) -> pa.Table:
    """``per_group`` rows in each group, one customer per row."""
    g = np.repeat(np.arange(groups), per_group)
    x = np.broadcast_to(np.asarray(values, dtype=np.float64), g.shape)
    return pa.table({"g": g, "cid": np.arange(len(g)), "x": x})


def _cells(answer: Answer, column: str) -> np.ndarray:
    return np.asarray([row[column].value for row in answer.rows], dtype=np.float64)


def _charged(ledger: Ledger, unit: PrivacyUnit) -> float:
    spent = ledger.show("t", unit).spent
    assert isinstance(spent, PureDP | ApproxDP)
    return spent.epsilon


def _run(
    ledger: Ledger, sql: str, data: pa.Table, seed: int, **options: object
) -> tuple[Answer, float]:
    opts = QueryOptions(**options)  # type: ignore[arg-type]
    assert opts.unit is not None
    answer = run_query(sql, data, table="t", options=opts, ledger=ledger, rng=seeded(seed))
    return answer, _charged(ledger, opts.unit)


def test_count_noise_is_n_over_epsilon(scratch_ledger: Ledger) -> None:
    # A customer owns at most N = 4 rows: each changes one count by 1, L1 sensitivity 4.
    unit = PerCustomer("cid", 4)
    answer, eps = _run(
        scratch_ledger, "SELECT g, COUNT(*) AS n FROM t GROUP BY g", _grouped(GROUPS, 1), 21,
        epsilon=PureDP(2.0), unit=unit, keys={"g": tuple(range(GROUPS))},
    )  # fmt: skip
    assert_noise(_cells(answer, "n") - 1, discrete_laplace_sd(4 / eps), "COUNT")


def test_histogram_noise_is_n_over_epsilon(scratch_ledger: Ledger) -> None:
    # 100 groups × 100 bins, one row in each cell: every true count is 1.
    bins = 100
    data = _grouped(bins, bins, np.tile(np.arange(bins) + 0.5, bins))
    unit = PerCustomer("cid", 2)
    answer, eps = _run(
        scratch_ledger, f"SELECT g, HISTOGRAM(x, 0, {bins}, {bins}) AS h FROM t GROUP BY g",
        data, 22, epsilon=PureDP(1.0), unit=unit, keys={"g": tuple(range(bins))},
    )  # fmt: skip
    assert_noise(_cells(answer, "h") - 1, discrete_laplace_sd(2 / eps), "HISTOGRAM")


def test_sum_noise_is_n_times_bound_over_epsilon(scratch_ledger: Ledger) -> None:
    # Values clamped to [-3, 2]: a customer with N = 2 rows moves a sum by up to 2·3.
    unit = PerCustomer("cid", 2)
    answer, eps = _run(
        scratch_ledger, "SELECT g, SUM(x) AS s FROM t GROUP BY g", _grouped(GROUPS, 1), 23,
        epsilon=PureDP(1.0), unit=unit, keys={"g": tuple(range(GROUPS))},
        bounds={"x": (-3.0, 2.0)},
    )  # fmt: skip
    assert_noise(_cells(answer, "s"), math.sqrt(2) * 6 / eps, "SUM")


def test_avg_noise_of_its_sum_and_its_count(scratch_ledger: Ledger) -> None:
    # AVG releases a sum and a count with ε/2 each. With c = 200 rows per group,
    # avg − v ≈ (Z_sum − v·Z_count) / c: groups at v = 0 show the sum's noise alone,
    # groups at v = 0.9 add 0.81 times the count's (bounds [-1, 1], N = 2).
    c, half = 200, GROUPS
    values = np.r_[np.zeros(half * c), np.full(half * c, 0.9)]
    unit = PerCustomer("cid", 2)
    answer, eps = _run(
        scratch_ledger, "SELECT g, AVG(x) AS a FROM t GROUP BY g",
        _grouped(2 * half, c, values), 24, epsilon=PureDP(8.0), unit=unit,
        keys={"g": tuple(range(2 * half))}, bounds={"x": (-1.0, 1.0)},
    )  # fmt: skip
    errors = (_cells(answer, "a") - np.r_[np.zeros(half), np.full(half, 0.9)]) * c
    sum_sd = math.sqrt(2) * 2 / (eps / 2)  # sensitivity N·1, continuous Laplace on a grid
    count_sd = discrete_laplace_sd(2 / (eps / 2))
    assert_noise(errors[:half], sum_sd, "AVG sum")
    # The difference of the two groups' mean squares is 0.81·Var(Z_count); with 10,000
    # groups each it is known to about 6%, so the count's σ to about 3%: 15% is 5 of those.
    count_var = (np.mean(errors[half:] ** 2) - np.mean(errors[:half] ** 2)) / 0.81
    assert_scale(math.sqrt(max(count_var, 0.0)), count_sd, "AVG count", 0.15)


def test_partition_selection_keeps_groups_as_its_threshold_and_scale_promise(
    scratch_ledger: Ledger,
) -> None:
    # COUNT with private keys: ε is split evenly between the count and the selection.
    # Each customer owns one row here, so the per-row unit is declared over the ids.
    # The map ApproxDP(N/s, N·q^(τ−1)/(1+q)) fixes the scale s = N/ε_sel and the least
    # threshold τ for δ; a group of τ − 1 units is then kept with probability q/(1+q).
    eps, delta, n = 2.0, 1e-8, 1
    scale = n / (eps / 2)
    q = math.exp(-1 / scale)
    tau = 1 + math.ceil(math.log(delta * (1 + q) / n) / math.log(q))
    groups = 20_000
    answer, charged = _run(
        scratch_ledger, "SELECT g, COUNT(*) AS n FROM t GROUP BY g", _grouped(groups, tau - 1),
        25, epsilon=PureDP(eps), delta=delta, unit=PerRow(), unit_declared=True,
    )  # fmt: skip
    assert charged == pytest.approx(eps)
    kept = len(answer.rows) / groups
    promised = q / (1 + q)
    # Binomial standard error 0.0031: 0.03 is 10 of them; a halved scale keeps them all.
    assert abs(kept - promised) <= 0.03, f"kept {kept:.4f} of the groups, promised {promised:.4f}"


def test_quantile_spread_is_the_exponential_mechanism_at_the_promised_scale(
    scratch_ledger: Ledger,
) -> None:
    # 200 values per group at i/200; the released median's distance to the true median,
    # in ranks, compared with permute-and-flip run at the scale whose map is the charge.
    groups, per = 1_500, 200
    values = np.tile(np.arange(per) / per, groups)
    unit = PerCustomer("cid", 2)
    answer, eps = _run(
        scratch_ledger, "SELECT g, MEDIAN(x) AS m FROM t GROUP BY g", _grouped(groups, per, values),
        26, epsilon=PureDP(1.0), unit=unit, keys={"g": tuple(range(groups))},
        bounds={"x": (0.0, 1.0)},
    )  # fmt: skip
    grid = np.linspace(0.0, 1.0, 1001)
    promised = make_quantile(0.5, grid.tolist(), 2 * 2 / eps)
    spent = promised.map(2)
    assert isinstance(spent, PureDP) and spent.epsilon == pytest.approx(eps)
    rng = seeded(27)
    reference = np.asarray([promised(values[:per], rng=rng) for _ in range(groups)])
    released = _cells(answer, "m")
    spread = float(np.mean(np.abs(released - 0.5)))
    expected = float(np.mean(np.abs(reference - 0.5)))
    assert_scale(spread, expected, "QUANTILE rank spread", 0.15)


def test_top_k_counts_noise_is_n_over_the_count_share(scratch_ledger: Ledger) -> None:
    # Public candidates: ε splits into the ranking and the counts, each ε/2. One row per
    # customer and item (N = 3): each released count has L1 sensitivity min(N, k) = 3.
    items, buyers, calls = 400, 5, 25
    data = pa.table(
        {
            "item": np.repeat(np.arange(items), buyers).astype(str),
            "cid": np.arange(items * buyers),
        }
    )
    unit = PerCustomer("cid", 3)
    rng = seeded(28)
    noise = []
    for call in range(calls):
        answer = top_k(
            data, "item", items, epsilon=PureDP(2.0), ledger=scratch_ledger, table="t",
            unit=unit, candidates=[str(i) for i in range(items)], request_id=f"top{call}",
            rng=rng,
        )  # fmt: skip
        noise.append(_cells(answer, "count") - buyers)
    eps = _charged(scratch_ledger, unit) / calls
    assert_noise(np.concatenate(noise), discrete_laplace_sd(3 / (eps / 2)), "top-k counts")
