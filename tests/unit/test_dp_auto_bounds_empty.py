"""Automatic bounds over no people, or a handful: the bound stays small, the answer sane.

An analyst's WHERE can select almost nobody (or everyone's budget is spent). The DP
quantiles that choose the clipping bound then read nothing, and nothing may let them
land anywhere on the grid (up to 2^40): the noise, C/ε, would swamp the answer
(COUNT(DISTINCT unit) once answered 3 people as 4.8e3 and −3.8e9). COUNT(DISTINCT the
privacy unit) needs no search at all: each person counts 1, so C = 1.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pytest
from _people import PEOPLE_KEY
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shopveil._core.budgets import ApproxDP, PureDP
from shopveil._core.rng import InsecureRandomnessWarning, insecure_seeded_rng
from shopveil._core.units import PerCustomer
from shopveil.dp import AutoBounds, Ledger, QueryOptions, parse_query, run_query
from shopveil.dp._query._automatic import TOTAL_GRID, above, bounds_measurement, compile_auto
from shopveil.store import Store

UNIT = PerCustomer("customer")


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ledger]:
    path = tmp_path_factory.mktemp("ledger") / "ledger.db"
    store = Store.open(f"sqlite:///{path}")
    yield Ledger(store, people_key=PEOPLE_KEY, default_total=ApproxDP(1e9, 1e-2))
    store.close()


def _rng(seed: int) -> np.random.Generator:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InsecureRandomnessWarning)
        return insecure_seeded_rng(seed)


def _table(people: int, rows_each: int, amount: float) -> pa.Table:
    ids = [f"c{p}" for p in range(people) for _ in range(rows_each)]
    return pa.table(
        {"customer": pa.array(ids, pa.string()), "amount": [amount] * len(ids)},
    )


def _options(epsilon: float) -> QueryOptions:
    return QueryOptions(epsilon=PureDP(epsilon), unit=UNIT, automatic=AutoBounds())


# Each example is a whole query through DuckDB and the ledger: 30 of them.
@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    people=st.integers(0, 5),
    rows_each=st.integers(1, 4),
    epsilon=st.sampled_from([0.1, 0.6, 1.0, 4.0]),
    seed=st.integers(0, 2**32 - 1),
)
def test_count_distinct_people_has_bound_one_and_no_search(
    ledger: Ledger, people: int, rows_each: int, epsilon: float, seed: int
) -> None:
    table = _table(people, rows_each, 10.0)
    sql = "SELECT COUNT(DISTINCT customer) AS n FROM t"
    answer = run_query(sql, table, table="t", options=_options(epsilon), ledger=ledger,
                       rng=_rng(seed))  # fmt: skip
    cell = answer.rows[0]["n"]
    # Sensitivity 1 at the value's share of ε: the 95 % half-width of Laplace(1/ε_v) is
    # ln(20)/ε_v ≈ 3/ε_v; the value's share is at least 0.85 ε here (no bound to choose).
    assert abs(cell.value - people) < 40 / epsilon  # P(|Laplace| > 34 scales) ≈ 2e-15
    value_epsilon = dict(answer.split)["n"]
    half_width = (cell.high - cell.low) / 2
    assert half_width <= 3.1 / value_epsilon
    assert value_epsilon >= 0.85 * epsilon - 1e-9
    # Nothing is clipped: no bias, and the interval with bias is the noise's own.
    assert cell.bias == 0 and cell.bias_error == 0
    assert "bounds_selection" not in dict(answer.split)
    assert sum(dict(answer.split).values()) == pytest.approx(epsilon)


@settings(max_examples=50)
@given(
    people=st.integers(0, 3),
    amount=st.floats(0.0, 1e6),
    epsilon=st.sampled_from([0.05, 0.3, 1.0, 4.0]),
    sql=st.sampled_from(
        [
            "SELECT SUM(amount) AS s FROM t",
            "SELECT COUNT(*) AS n FROM t",
            "SELECT AVG(amount) AS a, SUM(amount) AS s, COUNT(*) AS n FROM t",
        ]
    ),
    seed=st.integers(0, 2**32 - 1),
)
def test_a_near_empty_population_never_chooses_a_large_bound(
    people: int, amount: float, epsilon: float, sql: str, seed: int
) -> None:
    """With at most 3 people the quantiles cannot read the data: the bound is at most
    16 (far below the grid's top, 2^40), whatever the values and ε."""
    plan = compile_auto(parse_query(sql), _options(epsilon))
    totals = [np.full(people, amount if c.kind == "sum" else 1.0) for c in plan.components]
    chosen = bounds_measurement(plan)((np.ones(people), totals), rng=_rng(seed))
    assert max(chosen.bounds) <= 16, chosen


def test_an_empty_population_chooses_small_bounds_at_every_rate() -> None:
    """Over 2,000 draws with nobody at ε = 0.1 (the quantiles' noise is widest): the
    bound is at most 16 every time and its median at most 1/8; halving the low
    quantile's preference for small candidates (an empty table then picks farther up
    the grid) fails it."""
    plan = compile_auto(parse_query("SELECT SUM(amount) AS s FROM t"), _options(0.1))
    measure = bounds_measurement(plan)
    rng = _rng(7)
    bounds = [measure((np.ones(0), [np.zeros(0)]), rng=rng).bounds[0] for _ in range(2000)]
    assert max(bounds) <= 16
    assert float(np.median(bounds)) <= 1 / 8
    assert min(bounds) >= TOTAL_GRID[0]


def test_a_where_that_selects_nobody_answers_near_zero(ledger: Ledger) -> None:
    table = _table(200, 3, 50.0)
    sql = (
        "SELECT COUNT(DISTINCT customer) AS people, COUNT(*) AS rows, SUM(amount) AS spent "
        "FROM t WHERE amount > 1000"
    )
    for seed in range(20):
        answer = run_query(sql, table, table="t", options=_options(0.6), ledger=ledger,
                           rng=_rng(seed))  # fmt: skip
        row = answer.rows[0]
        for name in ("people", "rows", "spent"):
            assert abs(row[name].value) < 200, (seed, name, row[name], answer.notes)
        assert any("too few to read the percentiles" in line for line in answer.explain)


def test_whole_number_totals_get_whole_number_candidates() -> None:
    """4 months is a candidate above a low quantile of 3: customers who buy in all 4
    months, many of them, are an atom that candidates between 4 and 5 would miss, and
    then every candidate above 4 would tie with the best."""
    assert 4.0 in above(3.0, whole=True)
    assert 4.0 not in above(3.0)
    assert np.all(above(0.3, whole=True) == np.ceil(above(0.3, whole=True)))
