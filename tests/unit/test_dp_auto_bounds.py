"""Automatic bounds: chosen privately within the query's ε, with bias estimates that cover."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from _noise import seeded
from _people import PEOPLE_KEY

from shopveil._core.budgets import ApproxDP, PureDP
from shopveil._core.units import PerCustomer, PerRow
from shopveil.dp import AutoBounds, Cell, Ledger, QueryOptions, parse_query, run_query
from shopveil.dp._query._auto_release import mechanisms, render_auto, value_grid
from shopveil.dp._query._automatic import (
    GROUP_GRID,
    Chosen,
    bounds_measurement,
    clip_bound,
    compile_auto,
    high_level,
    make_person_quantile,
)
from shopveil.dp._query._duckdb import UNFILTERED, open_data
from shopveil.dp._query._plan import PERSON, SOURCE
from shopveil.errors import ParameterError
from shopveil.store import Store

UNIT = PerCustomer("customer")
MONTHS = ("2011-01", "2011-02", "2011-03", "2011-04")


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    store = Store.open(f"sqlite:///{tmp_path / 'ledger.db'}")
    yield Ledger(store, people_key=PEOPLE_KEY, default_total=ApproxDP(1e6, 1e-2))
    store.close()


def _orders(seed: int = 3, customers: int = 400, whales: int = 30) -> pa.Table:
    """Heavy-tailed spending: most customers buy a little, a few buy a lot, every month
    (one in 97 spends ``whales`` times as much per order)."""
    rng = np.random.default_rng(seed)  # data generation only, never noise
    rows: dict[str, list[object]] = {"customer": [], "month": [], "amount": [], "country": []}
    for c in range(customers):
        orders = 1 + rng.poisson(4 if c % 50 else 40)
        scale = rng.lognormal(3.0, 1.2) * (whales if c % 97 == 0 else 1)
        country = "UK" if c % 4 else "FR"
        for _ in range(orders):
            rows["customer"].append(f"c{c}")
            rows["month"].append(MONTHS[rng.integers(0, len(MONTHS))])
            rows["amount"].append(float(np.round(rng.exponential(scale), 2)))
            rows["country"].append(country)
    return pa.table(rows)


def _truth(table: pa.Table) -> dict[str, float]:
    out: dict[str, float] = {}
    for m, a in zip(table["month"].to_pylist(), table["amount"].to_pylist(), strict=True):
        out[m] = out.get(m, 0.0) + a
    return out


def _options(epsilon: float, **kwargs: object) -> QueryOptions:
    return QueryOptions(
        epsilon=PureDP(epsilon),
        unit=UNIT,
        automatic=AutoBounds(),
        **kwargs,  # type: ignore[arg-type]
    )


def test_interval_with_bias_covers_the_truth_at_its_rate(ledger: Ledger) -> None:
    """25 runs × 4 months of generated heavy-tailed sums: the truth is in ≥ 95 % of the
    intervals that include the bias (within binomial error), while the noise-only
    intervals miss it far more often: clipping really is biased here."""
    table = _orders()
    truth = _truth(table)
    sql = "SELECT month, SUM(amount) AS spent FROM t GROUP BY month"
    covered = noise_only = cells = 0
    errors = []
    for run in range(25):
        options = _options(1.0, keys={"month": MONTHS})
        answer = run_query(sql, table, table="t", options=options, ledger=ledger, rng=seeded(run))
        assert {r["month"] for r in answer.rows} == set(MONTHS)
        for row in answer.rows:
            cell, true = row["spent"], truth[row["month"]]
            assert cell.low_with_bias is not None and cell.high_with_bias is not None
            covered += cell.low_with_bias <= true <= cell.high_with_bias
            noise_only += cell.low <= true <= cell.high
            cells += 1
            errors.append(abs(cell.value - true) / true)
    assert cells == 100
    assert covered >= 90  # 95 % claimed; 90 of 100 is 2.3 standard errors below it
    assert noise_only < 80  # clipping really is biased here: the noise alone misses it
    assert np.median(errors) < 1


def test_automatic_settings_are_accurate_on_generated_data(ledger: Ledger) -> None:
    table = _orders(seed=11, customers=2000, whales=1)
    truth = _truth(table)
    sql = "SELECT month, SUM(amount) AS spent, COUNT(DISTINCT customer) AS people FROM t GROUP BY month"  # noqa: E501
    people = {
        m: len({c for c, mm in zip(table["customer"].to_pylist(), table["month"].to_pylist(),
                                   strict=True) if mm == m})
        for m in MONTHS
    }  # fmt: skip
    answer = run_query(
        sql, table, table="t", options=_options(4.0, keys={"month": MONTHS}), ledger=ledger,
        rng=seeded(5),
    )  # fmt: skip
    for row in answer.rows:
        assert abs(row["spent"].value - truth[row["month"]]) < 0.25 * truth[row["month"]]
        assert abs(row["people"].value - people[row["month"]]) < 0.1 * people[row["month"]]
    assert dict(answer.split)["bounds_selection"] == pytest.approx(4.0 * AutoBounds().bounds_share)
    assert sum(dict(answer.split).values()) == pytest.approx(4.0)
    assert answer.cost == PureDP(4.0)
    assert any("clipped to" in note for note in answer.notes)
    assert answer.explain[0].startswith("ε = 4 for the whole query")


def test_private_keys_cost_delta_and_public_keys_drop_nothing(ledger: Ledger) -> None:
    table = _orders(customers=60)
    sql = "SELECT country, month, COUNT(*) AS orders FROM t GROUP BY country, month"
    private = run_query(sql, table, table="t", options=_options(1.0, delta=1e-6), ledger=ledger)
    assert private.cost == ApproxDP(1.0, 1e-6)
    assert dict(private.split)["partition_selection"] > 0
    keys = {"country": ("UK", "FR", "DE"), "month": MONTHS}
    public = run_query(sql, table, table="t", options=_options(1.0, keys=keys), ledger=ledger)
    assert public.cost == PureDP(1.0)
    assert len(public.rows) == 12  # every listed group, DE (no rows) included
    assert "partition_selection" not in dict(public.split)


def test_unsupported_aggregates_are_refused_before_the_charge(ledger: Ledger) -> None:
    table = _orders(customers=20)
    for sql in (
        "SELECT MEDIAN(amount) AS m FROM t",
        "SELECT COUNT(DISTINCT month) AS m FROM t",
        "SELECT HISTOGRAM(amount, 0, 100, 10) AS h FROM t",
    ):
        with pytest.raises(ParameterError, match="automatic bounds cover COUNT"):
            run_query(sql, table, table="t", options=_options(1.0), ledger=ledger)
    assert ledger.accounts() == []
    with pytest.raises(ParameterError, match="leave out bounds"):
        QueryOptions(epsilon=PureDP(1.0), bounds={"x": (0, 1)}, automatic=AutoBounds())


def test_per_row_unit_and_replay(ledger: Ledger) -> None:
    table = pa.table({"v": np.linspace(0.0, 100.0, 2001)})
    options = QueryOptions(
        epsilon=PureDP(8.0), unit=PerRow(), unit_declared=True, automatic=AutoBounds()
    )
    sql = "SELECT SUM(v) AS total, AVG(v) AS mean, COUNT(*) AS n FROM t"
    # A fixed seed: the checks below hold for most draws, not all (the clip bound is noisy).
    first = run_query(
        sql, table, table="t", options=options, ledger=ledger, request_id="r1", rng=seeded(7)
    )
    row = first.rows[0]
    assert abs(row["n"].value - 2001) < 20
    assert abs(row["mean"].value - 50.0) < 5
    assert row["total"].low_with_bias <= 100_050 <= row["total"].high_with_bias
    again = run_query(sql, table, table="t", options=options, ledger=ledger, request_id="r1")
    assert again.replayed
    assert again.rows[0]["total"] == row["total"]
    assert isinstance(again.rows[0]["total"], Cell) and again.explain == first.explain


def test_clip_bound_reads_a_pareto_tail() -> None:
    s = AutoBounds(clipped_per_epsilon=10.0, low_level=0.5, high_level=0.9, max_factor=1000)
    # P(X > x) = 0.5·(x/100)^-1 → 90th percentile 500; 10 people clipped of 10,000 → x = 50,000
    assert clip_bound(10_000, 100.0, 500.0, s, 1.0, 0.9) == pytest.approx(50_000)
    assert clip_bound(10_000, 100.0, 1000.0, s, 1.0, 0.95) == pytest.approx(50_000)
    assert clip_bound(10_000, 1.0, 1.0, s, 1.0, 0.9) == 1.0  # an atom: no tail to read
    assert clip_bound(50, 100.0, 500.0, s, 1.0, 0.9) == 500.0  # too few people above
    capped = AutoBounds(clipped_per_epsilon=10.0, max_factor=8.0)
    assert clip_bound(10_000, 100.0, 500.0, capped, 1.0, 0.9) == 800.0  # 8 × the low one
    # the high level: as high as the budget reads reliably, from 0.9 up to 0.999
    assert high_level(1_000, 40.0, s, 1.0) == 0.9
    assert high_level(1_000, 1.0, s, 0.1) == pytest.approx(0.9)  # aims at 10/0.1 people
    assert high_level(1_000, 50.0, AutoBounds(high_level=0.6), 1.0) == pytest.approx(0.629, 1e-3)
    assert high_level(10_000, 4.0, s, 1.0) == pytest.approx(1 - 2 * 4.0 * np.log(41) / 1e4)
    assert high_level(10**9, 4.0, s, 1.0) == 0.999


def _reference_spread(utilities: np.ndarray, scale: float, draws: int) -> float:
    """Permute-and-flip is report-noisy-max with exponential noise (McKenna & Sheldon 2020):
    the mean distance of its pick from the best index, by an independent simulation."""
    rng = np.random.default_rng(99)  # reference simulation only
    noisy = utilities + rng.exponential(scale, (draws, len(utilities)))
    picks = np.argmax(noisy, axis=1)
    return float(np.mean(np.abs(picks - np.argmax(utilities))))


def test_bounds_selection_noise_matches_its_privacy_map() -> None:
    """The quantile that picks a bound spreads as scale 2/ε promises (halved noise fails),
    and the whole selection's map charges exactly its share of ε."""
    epsilon = 0.5
    grid = GROUP_GRID[:32]  # 1 … 32
    values = np.repeat(np.arange(1.0, 33.0), 3)  # 3 people on each candidate
    m = make_person_quantile(0.5, grid, epsilon)
    assert m.map(1).epsilon == pytest.approx(epsilon)
    rng = seeded(17)
    picks = np.array([m(values, rng=rng) for _ in range(3000)])
    utilities = -np.maximum(
        0,
        np.maximum(
            np.searchsorted(values, grid, "left") - 48, 48 - np.searchsorted(values, grid, "right")
        ),
    )
    measured = float(np.mean(np.abs(picks - grid[np.argmax(utilities)])))
    promised = _reference_spread(utilities, m.scale, 200_000)
    assert abs(measured / promised - 1) < 0.12, (measured, promised)

    spec = parse_query("SELECT country, SUM(amount) AS s, AVG(amount) AS a FROM t GROUP BY country")
    plan = compile_auto(spec, _options(2.0, delta=1e-6))
    total = plan.bounds_epsilon
    assert total == pytest.approx(2.0 * plan.settings.bounds_share)
    assert bounds_measurement(plan).map(1).epsilon == pytest.approx(total)


def test_one_person_moves_the_clipped_sums_by_at_most_the_bound(ledger: Ledger) -> None:
    """The exact (pre-noise) step sums of neighbouring tables differ by at most C/γ in L1,
    and by nearly that much for a heavy person in every group: the noise is not too small."""
    base = _orders(customers=80)
    heavy = pa.table(
        {
            "customer": ["whale"] * 8,
            "month": [*MONTHS, *MONTHS],
            "amount": [5_000.0] * 8,
            "country": ["UK"] * 8,
        }
    )
    spec = parse_query("SELECT month, SUM(amount) AS spent FROM t GROUP BY month")
    plan = compile_auto(spec, _options(1.0, keys={"month": MONTHS}))
    bound = 2_000.0
    chosen = Chosen(80, 1, ((1.0, 1.0),), (0.9,), (bound,))
    sums = []
    for table in (base, pa.concat_tables([base, heavy])):
        con, _, _ = open_data(table, "t")
        try:
            # Each row's person, as the engine gives it (here the ids are canonical).
            con.register(SOURCE, con.sql(f"SELECT *, customer AS {PERSON} FROM {UNFILTERED}"))
            sql = render_auto(plan, seed=1).release_sql(plan, chosen)
            rows = {r[0]: r[1] for r in con.execute(sql).fetchall()}
        finally:
            con.close()
        sums.append(np.array([int(rows.get(m, 0)) for m in MONTHS]))
    moved = int(np.abs(sums[1] - sums[0]).sum())
    component = plan.components[0]
    assert moved >= 0.99 * bound / value_grid(component, bound)  # the whale is clipped to C
    value, _ = mechanisms(component, bound, plan.settings.bias_reach)
    assert value.map(moved).epsilon <= component.epsilon * (1 + 1e-9)


def test_no_rows_still_releases_the_one_group(ledger: Ledger) -> None:
    table = _orders(customers=30)
    options = _options(1.0)
    sql = "SELECT COUNT(*) AS n, SUM(amount) AS s FROM t WHERE amount < 0"
    # Seeded: a 95 % interval misses 0 one time in twenty.
    answer = run_query(sql, table, table="t", options=options, ledger=ledger, rng=seeded(2))
    assert len(answer.rows) == 1
    assert answer.rows[0]["n"].low <= 0 <= answer.rows[0]["n"].high
